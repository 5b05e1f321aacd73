//! `vigie status`: channels, last poll, errors, backlog, deadlines and KPIs.

use std::path::Path;

use anyhow::Context as _;
use vigie::config::Environment;
use vigie::store::status;

use super::{Failure, open_store_to_read};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    json: bool,
}

pub fn run(path: &Path, env: &Environment, args: Args) -> Result<(), Failure> {
    let (config, store) = open_store_to_read(path, env)?;
    let report = store.with(|conn| status::report(conn, &config, jiff::Timestamp::now()))?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).context("encoding status")?
        )?;
    } else {
        out!("{report}")?;
    }
    Ok(())
}
