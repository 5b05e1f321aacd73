//! `vigie orders`: the stored orders, as a table or as JSON.

use std::path::Path;

use anyhow::Context as _;
use vigie::config::Environment;
use vigie::store::orders;

use super::{Failure, open_store_to_read};

#[derive(clap::Args)]
pub struct Args {
    /// Only orders in this status (e.g. awaiting_acceptance, flagged, shipped).
    #[arg(long)]
    status: Option<String>,
    /// Only orders of this channel.
    #[arg(long)]
    channel: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn run(path: &Path, env: &Environment, args: Args) -> Result<(), Failure> {
    let (_, store) = open_store_to_read(path, env)?;
    let filter = orders::OrderFilter {
        status: args.status,
        channel: args.channel,
        order_id: None,
    };
    let list = store.with(|conn| orders::list(conn, &filter))?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&list).context("encoding orders")?
        )?;
        return Ok(());
    }
    if list.is_empty() {
        outln!("no orders")?;
        return Ok(());
    }
    outln!(
        "{:<32} {:<20} {:<8} {:<28} {:>5}  CREATED",
        "ORDER",
        "STATUS",
        "DECISION",
        "REASONS",
        "UNITS"
    )?;
    for o in &list {
        let units: u32 = o.lines.iter().map(|l| l.quantity).sum();
        outln!(
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
        )?;
    }
    Ok(())
}
