//! `vigie review accept|refuse CHANNEL:ORDER_ID`: a person decides an order held for review;
//! the running daemon sends the decision at its next cycle.

use std::path::Path;

use vigie::config::Environment;
use vigie::pipeline::review;
use vigie::store;

use super::{Failure, open_store, order_name};

#[derive(clap::Args)]
pub struct Args {
    #[arg(value_enum)]
    action: Action,
    /// The order, as CHANNEL:ORDER_ID (see `vigie orders --status flagged`).
    order: String,
    /// Why, kept with the decision.
    #[arg(long)]
    reason: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Action {
    Accept,
    Refuse,
}

pub fn run(path: &Path, env: &Environment, args: Args) -> Result<(), Failure> {
    let (channel, order_id) = order_name(&args.order)?;
    let accept = matches!(args.action, Action::Accept);
    let (config, store) = open_store(path, env)?;
    let buffer = config.inventory.safety_buffer;
    let reason = args.reason.as_deref();
    let verdict = review::Verdict {
        accept,
        note: reason,
        actor: "command line",
    };
    store
        .with(|conn| {
            store::commit_if_ok(conn, |tx| {
                review::decide(tx, channel, order_id, verdict, buffer)
            })
        })?
        .map_err(anyhow::Error::from)?;
    let verb = if accept { "accepted" } else { "refused" };
    outln!(
        "{} {verb}; the daemon sends the decision at its next cycle",
        args.order
    )?;
    Ok(())
}
