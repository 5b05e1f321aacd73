//! `vigie stock show|set|import`: the stock ledger, seen and changed by hand.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use vigie::config::Environment;
use vigie::inventory;
use vigie::store::{self, stock};

use super::{Failure, open_store, open_store_to_read};

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

/// Rows are written as they are read: a million SKUs neither wait for the last one nor sit
/// in memory together.
fn show(path: &Path, env: &Environment, sku: Option<&str>, json: bool) -> Result<(), Failure> {
    let (config, store) = open_store_to_read(path, env)?;
    let buffer = config.inventory.safety_buffer;
    let mut shown = 0;
    let written = store.with(|conn| {
        Ok(stock::show(conn, sku, buffer, |row| {
            if json {
                json_element(&row, shown)?;
            } else {
                table_row(&row, shown)?;
            }
            shown += 1;
            Ok::<_, Failure>(())
        }))
    })?;
    written?;
    match (json, shown) {
        (true, 0) => outln!("[]"),
        (true, _) => outln!("\n]"),
        (false, 0) if sku.is_some() => outln!("unknown SKU"),
        (false, 0) => outln!("no stock loaded"),
        (false, _) => Ok(()),
    }
}

/// One line of the table, after its header.
fn table_row(row: &stock::StockView, index: usize) -> Result<(), Failure> {
    if index == 0 {
        outln!(
            "{:<24} {:>8} {:>8} {:>9}  PUSHED",
            "SKU",
            "ON HAND",
            "RESERVED",
            "AVAILABLE"
        )?;
    }
    let pushed: Vec<String> = row.pushed.iter().map(|(c, q)| format!("{c}={q}")).collect();
    outln!(
        "{:<24} {:>8} {:>8} {:>9}  {}",
        row.sku,
        row.on_hand,
        row.reserved,
        row.available,
        pushed.join(" ")
    )
}

/// One element of the array `serde_json::to_string_pretty` would print for every row: the
/// same bytes, one row at a time (a JSON string holds no raw newline, so indenting each line
/// of the element indents the element).
fn json_element(row: &stock::StockView, index: usize) -> Result<(), Failure> {
    let element = serde_json::to_string_pretty(row).context("encoding stock")?;
    let indented: Vec<String> = element.lines().map(|line| format!("  {line}")).collect();
    let opening = if index == 0 { "[\n" } else { ",\n" };
    out!("{opening}{}", indented.join("\n"))
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
