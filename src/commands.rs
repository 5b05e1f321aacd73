//! The CLI commands: each loads what it needs, does its job, and reports a [`Failure`] that
//! `main` turns into the documented exit code (78 for configuration, 1 otherwise).

use std::path::Path;

use anyhow::Context;

use crate::config::{self, Config, ConfigError, Environment};
use crate::daemon::{self, RunOptions};
use crate::engine::review;
use crate::events::OrderEvent;
use crate::store::{self, Store, orders, status, stock};
use crate::{delivery, inventory};

pub enum Failure {
    Config(ConfigError),
    Other(anyhow::Error),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Other(e.into())
    }
}

pub fn check_config(path: &Path, env: &Environment) -> Result<(), Failure> {
    let config = config::load(path, env)?;
    delivery::check(&config)?;
    print!("{config}");
    println!("templates: every event renders in every configured locale");
    Ok(())
}

pub fn run(path: &Path, env: &Environment, options: RunOptions) -> Result<(), Failure> {
    let config = config::load(path, env)?;
    // Broken templates are a configuration error (78: systemd does not restart in a loop).
    delivery::check(&config)?;
    let logs = crate::logging::init(&config.daemon.log, env)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigie")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(daemon::run(config, path.to_path_buf(), options, logs))?;
    Ok(())
}

fn open_store(path: &Path, env: &Environment) -> Result<(Config, Store), Failure> {
    let config = config::load(path, env)?;
    let store = Store::open(&config.daemon.state_dir)?;
    Ok((config, store))
}

pub fn orders(
    path: &Path,
    env: &Environment,
    status: Option<String>,
    channel: Option<String>,
    json: bool,
) -> Result<(), Failure> {
    let (_, store) = open_store(path, env)?;
    let filter = orders::OrderFilter { status, channel };
    let list = store.with(|conn| orders::list(conn, &filter))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&list).context("encoding orders")?
        );
        return Ok(());
    }
    if list.is_empty() {
        println!("no orders");
        return Ok(());
    }
    println!(
        "{:<32} {:<20} {:<8} {:<28} {:>5}  CREATED",
        "ORDER", "STATUS", "DECISION", "REASONS", "UNITS"
    );
    for o in &list {
        let units: u32 = o.lines.iter().map(|l| l.quantity).sum();
        println!(
            "{:<32} {:<20} {:<8} {:<28} {:>5}  {}",
            format!("{}:{}", o.channel, o.order_id),
            o.status,
            o.decision.unwrap_or("-"),
            if o.reasons.is_empty() {
                "-".to_owned()
            } else {
                o.reasons.join(",")
            },
            units,
            o.created_at,
        );
    }
    Ok(())
}

pub fn status(path: &Path, env: &Environment, json: bool) -> Result<(), Failure> {
    let (config, store) = open_store(path, env)?;
    let report = store.with(|conn| status::report(conn, &config))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("encoding status")?
        );
    } else {
        print!("{report}");
    }
    Ok(())
}

pub fn review(
    path: &Path,
    env: &Environment,
    order: &str,
    accept: bool,
    reason: Option<&str>,
) -> Result<(), Failure> {
    let (channel, order_id) = order
        .split_once(':')
        .with_context(|| format!("{order:?} is not CHANNEL:ORDER_ID"))?;
    let (config, store) = open_store(path, env)?;
    let buffer = config.inventory.safety_buffer;
    store
        .with(|conn| {
            Ok(review::decide(
                conn, channel, order_id, accept, reason, buffer,
            ))
        })?
        .map_err(anyhow::Error::from)?;
    let verb = if accept { "accepted" } else { "refused" };
    println!("{order} {verb}; the daemon sends the decision at its next cycle");
    Ok(())
}

pub fn stock_show(
    path: &Path,
    env: &Environment,
    sku: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let (config, store) = open_store(path, env)?;
    let rows = store.with(|conn| stock::show(conn, sku, config.inventory.safety_buffer))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).context("encoding stock")?
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "{}",
            if sku.is_some() {
                "unknown SKU"
            } else {
                "no stock loaded"
            }
        );
        return Ok(());
    }
    println!(
        "{:<24} {:>8} {:>8} {:>9}  PUSHED",
        "SKU", "ON HAND", "RESERVED", "AVAILABLE"
    );
    for row in rows {
        let pushed: Vec<String> = row.pushed.iter().map(|(c, q)| format!("{c}={q}")).collect();
        println!(
            "{:<24} {:>8} {:>8} {:>9}  {}",
            row.sku,
            row.on_hand,
            row.reserved,
            row.available,
            pushed.join(" ")
        );
    }
    Ok(())
}

pub fn stock_import(path: &Path, env: &Environment, file: &Path) -> Result<(), Failure> {
    let (_, store) = open_store(path, env)?;
    let skus = inventory::import_file(&store, file)?;
    println!("{skus} SKUs imported; the daemon pushes the new quantities at its next cycle");
    Ok(())
}

pub fn notify_preview(
    path: &Path,
    env: &Environment,
    event: &str,
    locale: Option<&str>,
    order: Option<&str>,
) -> Result<(), Failure> {
    let config = config::load(path, env)?;
    let event = OrderEvent::ALL
        .into_iter()
        .find(|e| e.as_str() == event)
        .with_context(|| format!("unknown event {event:?}: received, delayed, accepted, shipped, refused or cancelled"))?;
    let order = order
        .map(|o| {
            o.split_once(':')
                .with_context(|| format!("{o:?} is not CHANNEL:ORDER_ID"))
        })
        .transpose()?;
    let store = order
        .map(|_| Store::open(&config.daemon.state_dir))
        .transpose()?;
    print!(
        "{}",
        delivery::preview(&config, store.as_ref(), event, locale, order)?
    );
    Ok(())
}

pub fn stock_set(path: &Path, env: &Environment, sku: &str, quantity: u32) -> Result<(), Failure> {
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
    println!("{sku}: {quantity} on hand; the daemon pushes the new quantities at its next cycle");
    Ok(())
}

pub fn demo(keep: bool) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::demo::run(keep))?;
    Ok(())
}

pub fn bench(options: crate::demo::bench::Options) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::demo::bench::run(options))?;
    Ok(())
}
