//! `vigie stock show|set|import`: the stock ledger, seen and changed by hand.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use vigie::config::Environment;
use vigie::inventory;
use vigie::store::{self, stock};

use super::{Failure, open_store};

#[derive(clap::Subcommand)]
pub enum Command {
    /// On hand, reserved, available and pushed quantities.
    Show {
        sku: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Sets the units on hand of one SKU.
    Set { sku: String, quantity: u32 },
    /// Replaces the whole inventory with a CSV file (sku,quantity[,tags]); all or nothing.
    Import { file: PathBuf },
}

pub fn run(path: &Path, env: &Environment, command: Command) -> Result<(), Failure> {
    match command {
        Command::Show { sku, json } => show(path, env, sku.as_deref(), json),
        Command::Set { sku, quantity } => set(path, env, &sku, quantity),
        Command::Import { file } => import(path, env, &file),
    }
}

fn show(path: &Path, env: &Environment, sku: Option<&str>, json: bool) -> Result<(), Failure> {
    let (config, store) = open_store(path, env)?;
    let rows = store.with(|conn| stock::show(conn, sku, config.inventory.safety_buffer))?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&rows).context("encoding stock")?
        )?;
        return Ok(());
    }
    if rows.is_empty() {
        outln!(
            "{}",
            if sku.is_some() {
                "unknown SKU"
            } else {
                "no stock loaded"
            }
        )?;
        return Ok(());
    }
    outln!(
        "{:<24} {:>8} {:>8} {:>9}  PUSHED",
        "SKU",
        "ON HAND",
        "RESERVED",
        "AVAILABLE"
    )?;
    for row in rows {
        let pushed: Vec<String> = row.pushed.iter().map(|(c, q)| format!("{c}={q}")).collect();
        outln!(
            "{:<24} {:>8} {:>8} {:>9}  {}",
            row.sku,
            row.on_hand,
            row.reserved,
            row.available,
            pushed.join(" ")
        )?;
    }
    Ok(())
}

fn set(path: &Path, env: &Environment, sku: &str, quantity: u32) -> Result<(), Failure> {
    let (_, store) = open_store(path, env)?;
    store.with(|conn| {
        let tags = stock::tags(conn, sku)?;
        let item = stock::StockItem {
            sku: sku.to_owned(),
            quantity,
            tags,
        };
        stock::set(conn, &item, &store::now_text())
    })?;
    outln!("{sku}: {quantity} on hand; the daemon pushes the new quantities at its next cycle")?;
    Ok(())
}

fn import(path: &Path, env: &Environment, file: &Path) -> Result<(), Failure> {
    let (_, store) = open_store(path, env)?;
    let skus = inventory::import_file(&store, file)?;
    outln!("{skus} SKUs imported; the daemon pushes the new quantities at its next cycle")?;
    Ok(())
}
