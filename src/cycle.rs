//! One channel's cycle: poll the marketplace, then ingest what it returned in one transaction
//! that also moves the polling cursor, so a crash before the commit simply polls again.
//!
//! Decisions, stock pushes and messages join the cycle as the engine grows (issues 5 and 6).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use vigie_connector::{ConnectorError, Marketplace, OrderBatch};

use crate::store::{self, Store, StoreError, channels, orders};

/// Changes are re-read this far before the cursor: marketplaces stamp updates late.
const OVERLAP: SignedDuration = SignedDuration::from_mins(5);
/// On the very first poll, look back this far for changes; orders awaiting acceptance are
/// read in full anyway.
const FIRST_LOOKBACK: SignedDuration = SignedDuration::from_hours(24);
const UPDATED_CURSOR: &str = "updated_until";

/// A marketplace shop as the daemon drives it.
#[derive(Clone)]
pub struct Channel {
    pub name: String,
    pub interval: Duration,
    pub marketplace: Arc<dyn Marketplace>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CycleReport {
    pub new_orders: usize,
    pub status_changes: usize,
    pub quarantined: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Marketplace(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CycleError {
    fn class(&self) -> &'static str {
        match self {
            Self::Marketplace(e) => e.class(),
            Self::Store(_) => "store",
        }
    }
}

/// Runs one cycle and records its outcome for `vigie status`.
pub async fn run(channel: &Channel, store: &Store) -> Result<CycleReport, CycleError> {
    let outcome = poll_and_ingest(channel, store).await;
    let name = channel.name.clone();
    let failure = outcome.as_ref().err().map(|e| (e.class(), e.to_string()));
    metrics::counter!("vigie_polls_total", "channel" => name.clone(),
        "outcome" => failure.as_ref().map_or("ok", |(class, _)| *class))
    .increment(1);
    let recorded = store
        .call(move |conn| {
            let failure = failure.as_ref().map(|(c, m)| (*c, m.as_str()));
            channels::record_poll(conn, &name, &store::now_text(), failure)
        })
        .await;
    if let Err(e) = recorded {
        tracing::error!(channel = %channel.name, "cannot record the poll: {e}");
    }
    outcome
}

async fn poll_and_ingest(channel: &Channel, store: &Store) -> Result<CycleReport, CycleError> {
    let name = channel.name.clone();
    let cursor = store
        .call(move |conn| channels::cursor(conn, &name, UPDATED_CURSOR))
        .await?;
    let until = Timestamp::now();
    let since = match cursor.as_deref().map(str::parse::<Timestamp>) {
        Some(Ok(at)) => at - OVERLAP,
        Some(Err(e)) => {
            tracing::warn!(channel = %channel.name, "unreadable cursor ({e}); reading the last day again");
            until - FIRST_LOOKBACK
        }
        None => until - FIRST_LOOKBACK,
    };
    let mut batch = channel.marketplace.orders_awaiting_acceptance().await?;
    let updated = channel.marketplace.orders_updated(since, until).await?;
    batch.orders.extend(updated.orders);
    batch.malformed.extend(updated.malformed);
    ingest(channel, store, batch, until).await
}

async fn ingest(
    channel: &Channel,
    store: &Store,
    batch: OrderBatch,
    until: Timestamp,
) -> Result<CycleReport, CycleError> {
    let name = channel.name.clone();
    let (report, events) = store
        .call(move |conn| {
            let now = store::now_text();
            let tx = conn.transaction()?;
            let mut report = CycleReport::default();
            let mut events = Vec::new();
            for order in &batch.orders {
                match orders::ingest(&tx, &name, order, &now)? {
                    orders::Ingested::New => {
                        report.new_orders += 1;
                        events.push(format!(
                            "order {name}:{} seen ({})",
                            order.id, order.state.status
                        ));
                    }
                    orders::Ingested::StatusChanged { from } => {
                        report.status_changes += 1;
                        events.push(format!(
                            "order {name}:{} {from} -> {}",
                            order.id, order.state.status
                        ));
                    }
                    orders::Ingested::Unchanged => {}
                }
            }
            for item in &batch.malformed {
                if channels::quarantine(&tx, &name, item, &now)? {
                    report.quarantined += 1;
                    events.push(format!(
                        "payload quarantined (order {}): {}",
                        item.order_id.as_deref().unwrap_or("unknown"),
                        item.error
                    ));
                }
            }
            channels::set_cursor(&tx, &name, UPDATED_CURSOR, &until.to_string(), &now)?;
            tx.commit()?;
            Ok((report, events))
        })
        .await?;
    for event in events {
        tracing::info!(channel = %channel.name, "{event}");
    }
    if report.quarantined > 0 {
        metrics::counter!("vigie_quarantined_total", "channel" => channel.name.clone())
            .increment(report.quarantined as u64);
    }
    Ok(report)
}
