//! `vigie cancel CHANNEL:ORDER_ID --reason CODE [--line LINE_ID[=QTY]]...`: the seller
//! cancels accepted units; the running daemon tells the marketplace at its next cycle.

use std::path::Path;

use vigie::config::Environment;
use vigie::pipeline::seller_cancel;
use vigie::store;

use super::ship::line_units;
use super::{Failure, open_store, order_name};

#[derive(clap::Args)]
pub struct Args {
    /// The order, as CHANNEL:ORDER_ID.
    order: String,
    /// The marketplace's reason code (Mirakl: a CANCELATION reason of RE01; Fnac: a
    /// refund_reason such as no_stock).
    #[arg(long)]
    reason: String,
    /// A line to cancel, with its units (all units left when no =QTY); every unit left when
    /// no --line.
    #[arg(long = "line", value_name = "LINE_ID[=QTY]", value_parser = line_units)]
    lines: Vec<(String, Option<u32>)>,
}

pub fn run(path: &Path, env: &Environment, args: Args) -> Result<(), Failure> {
    let (channel, order_id) = order_name(&args.order)?;
    let (_, store) = open_store(path, env)?;
    let new = store
        .with(|conn| {
            store::commit_if_ok(conn, |tx| {
                seller_cancel::record(
                    tx,
                    channel,
                    order_id,
                    &args.reason,
                    &args.lines,
                    &store::now_text(),
                )
            })
        })?
        .map_err(anyhow::Error::from)?;
    if new {
        outln!(
            "{}: cancellation recorded; the daemon tells the marketplace at its next cycle",
            args.order
        )?;
    } else {
        outln!(
            "{}: this cancellation was already recorded; nothing changed",
            args.order
        )?;
    }
    Ok(())
}
