//! `vigie ship CHANNEL:ORDER_ID --carrier NAME --tracking NUMBER`: records a parcel; the
//! running daemon confirms it to the marketplace at its next cycle.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use vigie::config::Environment;
use vigie::pipeline::parcel::{self, CarrierBook, ParcelRequest};
use vigie::store::{self, shipments::Recorded};
use vigie_connector::spec::Bounds;

use super::{Failure, open_store, order_name};

#[derive(clap::Args)]
pub struct Args {
    /// The order, as CHANNEL:ORDER_ID.
    order: String,
    /// The carrier, by the name the channel's `carriers` table or the marketplace knows.
    #[arg(long)]
    carrier: String,
    /// The parcel's tracking number.
    #[arg(long)]
    tracking: String,
    /// The tracking link, for a carrier the marketplace does not list.
    #[arg(long)]
    tracking_url: Option<String>,
    /// A line in the parcel, with its units (all units left when no =QTY); every unit left
    /// to ship when no --line.
    #[arg(long = "line", value_name = "LINE_ID[=QTY]", value_parser = line_units)]
    lines: Vec<(String, Option<u32>)>,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

/// `LINE_ID` or `LINE_ID=QTY`, QTY a positive number.
pub fn line_units(text: &str) -> Result<(String, Option<u32>), String> {
    match text.rsplit_once('=') {
        None => Ok((text.to_owned(), None)),
        Some((line, qty)) => match qty.trim().parse::<u32>() {
            Ok(qty) if qty > 0 && !line.is_empty() => Ok((line.to_owned(), Some(qty))),
            _ => Err(format!(
                "{text:?} is not LINE_ID[=QTY] with QTY a positive number"
            )),
        },
    }
}

pub fn run(path: &Path, env: &Environment, args: Args) -> Result<(), Failure> {
    let (channel_name, order_id) = order_name(&args.order)?;
    let (config, store) = open_store(path, env)?;
    let channel = config
        .channels
        .iter()
        .find(|c| c.name == channel_name)
        .ok_or_else(|| anyhow!("no channel {channel_name:?} in {}", config.file.display()))?;
    let bounds = Bounds {
        max_wait: config.daemon.max_retry_wait,
    };
    // Built to learn what the marketplace takes; nothing is called.
    let unlisted_ok = channel
        .settings
        .build(&channel.name, bounds)
        .with_context(|| format!("channel {channel_name}"))?
        .takes_unlisted_carriers();
    let request = ParcelRequest {
        order_id: order_id.to_owned(),
        carrier: args.carrier,
        tracking_number: args.tracking,
        tracking_url: args.tracking_url,
        lines: args.lines,
    };
    let recorded = store
        .with(|conn| {
            let book = CarrierBook::load(conn, channel, unlisted_ok)?;
            store::commit_if_ok(conn, |tx| {
                parcel::record(tx, &book, &request, "cli", &store::now_text())
            })
        })?
        .map_err(anyhow::Error::from)?;
    let new = recorded == Recorded::New;
    if args.json {
        let out = serde_json::json!({
            "channel": channel_name,
            "order_id": order_id,
            "carrier": request.carrier.trim(),
            "tracking_number": request.tracking_number.trim(),
            "recorded": new,
        });
        outln!("{out}")?;
    } else if new {
        outln!(
            "{}: parcel {} recorded; the daemon confirms it to the marketplace at its next cycle",
            args.order,
            request.tracking_number.trim()
        )?;
    } else {
        outln!(
            "{}: parcel {} was already recorded; nothing changed",
            args.order,
            request.tracking_number.trim()
        )?;
    }
    Ok(())
}
