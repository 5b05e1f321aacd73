//! Customer notifications and the seller's order webhooks, exactly once, through the outbox.
//!
//! The engine calls [`enqueue`] in the transaction that records a status change: one outbox
//! row per destination, holding the *facts* of that moment (the order as seen, whether it is
//! the customer's first, the refusal reasons). The [`Worker`] renders the message from those
//! facts when it sends, so a template fixed while messages wait applies to them, while the
//! data stays what was true at the event.

pub mod email;
mod facts;
pub mod outbox;
mod preview;
pub mod templates;
pub mod webhook;
mod worker;

use std::time::Duration;

use rusqlite::Transaction;
use vigie_connector::Order;

use crate::config::{Config, Route};
use crate::events::OrderEvent;
use crate::store;

pub use facts::{Facts, context, sample_facts};
pub use preview::{check, preview};
pub use templates::{Rendered, TemplateError, Templates};
pub use worker::{Clock, Worker, system_clock, tokio_clock};

/// Why one send did not go through, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{0}")]
    Permanent(String),
}

/// The outbox destination of a seller webhook.
pub fn events_destination(name: &str) -> String {
    format!("events:{name}")
}

/// Writes one outbox row per destination configured for `event` on `channel` (customer
/// routes, then every `[[events.webhook]]` that wants it), inside the caller's transaction.
/// A row that already exists for (order, event, destination) is left alone. Returns how many
/// rows were written.
pub fn enqueue(
    tx: &Transaction<'_>,
    config: &Config,
    channel: &str,
    order_pk: i64,
    event: OrderEvent,
    order: &Order,
    now: &str,
) -> store::Result<usize> {
    let routes: &[Route] = match config.notify.channel(channel) {
        Some(c) if c.events.contains(&event) => &c.routes,
        _ => &[],
    };
    let hooks: Vec<&str> = config
        .events
        .webhook
        .iter()
        .filter(|w| w.events.contains(&event))
        .map(|w| w.name.as_str())
        .collect();
    if routes.is_empty() && hooks.is_empty() {
        return Ok(0);
    }
    let facts = facts::gather(tx, config, channel, order_pk, event, order, now)?;
    let payload =
        serde_json::to_string(&facts).map_err(|e| store::StoreError::Data(e.to_string()))?;
    let mut written = 0;
    for route in routes {
        if outbox::insert(tx, order_pk, event.as_str(), route.as_str(), &payload, now)? {
            written += 1;
        }
    }
    for name in hooks {
        let destination = events_destination(name);
        if outbox::insert(tx, order_pk, event.as_str(), &destination, &payload, now)? {
            written += 1;
        }
    }
    Ok(written)
}
