//! The CLI commands: each loads what it needs, does its job, and reports a [`Failure`] that
//! `main` turns into the documented exit code (78 for configuration, 1 otherwise).

use std::path::Path;

use anyhow::Context;

use crate::config::{self, Config, ConfigError, Environment};
use crate::daemon::{self, RunOptions};
use crate::store::{Store, orders, status};

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
    print!("{config}");
    Ok(())
}

pub fn run(path: &Path, env: &Environment, options: RunOptions) -> Result<(), Failure> {
    let config = config::load(path, env)?;
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
