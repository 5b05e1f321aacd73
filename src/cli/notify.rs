//! `vigie notify preview EVENT`: the message an event sends, rendered from the templates.

use std::path::Path;

use anyhow::Context as _;
use vigie::config::{self, Environment};
use vigie::delivery;
use vigie::events::OrderEvent;
use vigie::store::Store;

use super::{Failure, order_name};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the message an event sends, rendered from the templates.
    Preview {
        /// received, delayed, accepted, shipped, refused, cancelled or refunded.
        event: String,
        #[arg(long)]
        locale: Option<String>,
        /// Render for a stored order (CHANNEL:ORDER_ID) instead of a sample one.
        #[arg(long)]
        order: Option<String>,
    },
}

pub fn run(path: &Path, env: &Environment, command: Command) -> Result<(), Failure> {
    let Command::Preview {
        event,
        locale,
        order,
    } = command;
    let config = config::load(path, env)?;
    let event = OrderEvent::FOR_CUSTOMERS
        .into_iter()
        .find(|e| e.as_str() == event)
        .with_context(|| format!("unknown event {event:?}: received, delayed, accepted, shipped, refused, cancelled or refunded"))?;
    let order = order.as_deref().map(order_name).transpose()?;
    let store = order
        .map(|_| Store::open(&config.daemon.state_dir))
        .transpose()?;
    out!(
        "{}",
        delivery::preview(&config, store.as_ref(), event, locale.as_deref(), order)?
    )?;
    Ok(())
}
