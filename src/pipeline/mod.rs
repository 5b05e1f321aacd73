//! One channel's work, in order: poll (here) -> [`ingest`] (store, reserve, judge, queue
//! events; [`decide`] says what each order means for the ledger) -> [`watch`] the clock
//! (deadlines, delayed orders, low stock) -> [`act`] (send the committed decisions, re-read
//! what the marketplace says was already done) -> [`health`] of the poll; and [`push`] of
//! the quantities, which the daemon runs apart (whenever the ledger moves) and `run --once`
//! after every cycle. A human's decision ([`review`]) enters the same ledger. Orders seen
//! before any inventory was loaded are judged from the store once one is
//! ([`decide_waiting`], woken when the ledger moves).
//!
//! A channel's first cycle begins with the [`first_import`] of every order still holding
//! stock; nothing is decided on the channel nor pushed to it before.
//!
//! Ingestion, reservations and decisions of a poll are committed in one transaction that also
//! moves the polling cursor, so a crash before the commit simply polls again, and a crash
//! after it resumes the committed decisions. Marketplace calls happen only after the commit.

pub mod act;
mod cancellations;
mod deadline;
pub mod decide;
mod first_import;
pub mod health;
mod incidents;
pub mod ingest;
pub mod parcel;
pub mod push;
pub mod review;
pub mod seller_cancel;
mod settings;
pub mod ship;
pub mod shipping_late;
pub mod watch;
mod window;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{Notify, watch as signal};
use vigie_connector::{ConnectorError, Marketplace, OrderBatch};

use crate::config::{ChannelConfig, Config};
use crate::store::{self, Store, StoreError, channels, orders};
use push::{Offer, When};

/// How often the marketplace's own quantities are compared with what vigie pushed.
const DRIFT_CHECK_EVERY: SignedDuration = SignedDuration::from_hours(1);

const UPDATED_CURSOR: &str = "updated_until";
const SETTLED_CURSOR: &str = "updated_settled_until";
const SWEEP_CURSOR: &str = "queue_swept_at";
const DRIFT_CURSOR: &str = "drift_checked_at";

/// A marketplace shop as the daemon drives it.
#[derive(Clone)]
pub struct Channel {
    pub config: ChannelConfig,
    pub marketplace: Arc<dyn Marketplace>,
    /// Its last push that found nothing to send, so an idle tick need not compute again.
    pub nothing_to_push: Arc<push::NothingToSend>,
}

impl Channel {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Some lines may be refused and the others accepted: the seller allows it and so does
    /// the marketplace.
    pub fn partial_acceptance(&self) -> bool {
        self.config.partial_acceptance && self.marketplace.capabilities().partial_acceptance
    }
}

/// What every cycle needs besides its channel.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub config: Arc<Config>,
    /// Decide and log; never act on a marketplace, send a message or raise an alert.
    pub dry_run: bool,
    /// Woken after messages are queued or alerts raised, so they leave without waiting for
    /// the next poll.
    pub delivery: Arc<Notify>,
    /// Bumped whenever the ledger moves; every channel loop pushes its quantities then.
    pub stock_moved: signal::Sender<u64>,
}

impl Context {
    /// Raises `alert` on its own (outside a cycle's transaction) and wakes the delivery queue;
    /// a store failure is logged, as nothing else can be done with it.
    pub async fn raise_alert(&self, alert: crate::domain::alerts::Alert) {
        let raised = self
            .store
            .call(move |conn| store::alerts::raise(conn, &alert, &store::now_text()))
            .await;
        match raised {
            Ok(()) => self.delivery.notify_one(),
            Err(e) => tracing::error!("cannot raise the alert: {e}"),
        }
    }
}

/// A step of a channel's cycle failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Marketplace(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// Short label for metrics and `vigie status`.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Marketplace(e) => e.class(),
            Self::Store(_) => "store",
        }
    }
}

pub use ingest::Report as CycleReport;

/// Runs one full cycle and records its outcome for `vigie status`.
pub async fn run(channel: &Channel, ctx: &Context) -> Result<CycleReport, Error> {
    let outcome = full_cycle(channel, ctx).await;
    health::record(channel, ctx, outcome.as_ref().err()).await;
    outcome
}

/// The ledger moved (a snapshot landed, most often): judges from the store the orders that
/// waited for an inventory, and sends those decisions, without polling the marketplace.
pub async fn decide_waiting(channel: &Channel, ctx: &Context) -> Result<CycleReport, Error> {
    if !first_import::is_done(channel, ctx).await? {
        return Ok(CycleReport::default()); // the channel's next cycle imports, then decides
    }
    let name = channel.name().to_owned();
    let waiting = ctx
        .store
        .read(move |conn| orders::judgeable_waiting(conn, &name))
        .await?;
    if !waiting {
        return Ok(CycleReport::default());
    }
    let mut report = ingest::run(channel, ctx, OrderBatch::default(), Vec::new()).await?;
    if !ctx.dry_run {
        (report.confirmed, _) = act::run(channel, ctx).await?;
    }
    Ok(report)
}

/// Only pushes quantities: another channel's order moved the ledger. Nothing before the
/// channel's first import: quantities would still count the units its old orders hold.
pub async fn push_stock(channel: &Channel, ctx: &Context) -> Result<push::Pushed, Error> {
    if !first_import::is_done(channel, ctx).await? {
        return Ok(push::Pushed::default());
    }
    push::push(
        channel.name(),
        channel.marketplace.as_ref(),
        &ctx.store,
        offer(channel, ctx),
        ctx.dry_run,
        When::Anytime,
        &channel.nothing_to_push,
        Timestamp::now(),
    )
    .await
}

/// A channel that shows its orders late is pushed its quantities right after its orders are
/// read (see [`push`]); the others are pushed by [`push_stock`] whenever the ledger moves.
async fn push_after_poll(channel: &Channel, ctx: &Context) -> Result<(), Error> {
    let market = channel.marketplace.as_ref();
    if market.capabilities().visibility_lag.is_zero() {
        return Ok(());
    }
    push::push(
        channel.name(),
        market,
        &ctx.store,
        offer(channel, ctx),
        ctx.dry_run,
        When::AfterPoll,
        &channel.nothing_to_push,
        Timestamp::now(),
    )
    .await?;
    Ok(())
}

async fn full_cycle(channel: &Channel, ctx: &Context) -> Result<CycleReport, Error> {
    first_import::run_if_due(channel, ctx).await?;
    let name = channel.name();
    let market = channel.marketplace.as_ref();
    let now = Timestamp::now();
    // How far back changes are read, and how often the whole queue, is the marketplace's
    // policy (its connector's); see `window` for why a poll rarely re-reads the overlap.
    let polling = channel.config.polling;
    let (window, sweep_due, drift_due) = {
        let name = name.to_owned();
        ctx.store
            .call(move |conn| {
                let at = |cursor| channels::cursor(conn, &name, cursor);
                let cursors = window::Cursors {
                    fresh: at(UPDATED_CURSOR)?,
                    settled: at(SETTLED_CURSOR)?,
                };
                let due = |last: Option<Timestamp>, every| last.is_none_or(|t| now - every >= t);
                let last_sweep = at(SWEEP_CURSOR)?;
                // Never two sweeps in a row: with a poll as slow as the sweep (or `run --once`
                // from cron) every cycle would sweep, and the changes (cancellations, refunds,
                // shipments) would never be read.
                let last_was_sweep = last_sweep
                    .is_some_and(|sweep| cursors.fresh.is_none_or(|fresh| sweep >= fresh));
                Ok((
                    window::choose(cursors, &polling, now),
                    !last_was_sweep && due(last_sweep, polling.queue_sweep_every),
                    due(at(DRIFT_CURSOR)?, DRIFT_CHECK_EVERY),
                ))
            })
            .await?
    };

    // A sweep reads the queue instead of the changes, never both: one read per cycle, so a
    // marketplace that allows one a minute (Mirakl's OR11) does not hold the cycle a minute.
    // Every new order is in the queue; the other changes wait for the next cycle (never a
    // sweep again), whose window starts where the last one ended.
    let (batch, cursors) = if sweep_due {
        let queue = market.orders_awaiting_acceptance().await?;
        (queue, vec![(SWEEP_CURSOR, now)])
    } else {
        let changes = market.orders_updated(window.since, now).await?;
        // Read on to when the read was sent (after a wait for its budget, maybe): the next
        // window starts there, not at `now`, or it would read that wait's orders again.
        let read_until = changes.read_until.unwrap_or(now);
        let mut cursors = vec![(UPDATED_CURSOR, read_until)];
        if let Some(settled) = window.settles {
            cursors.push((SETTLED_CURSOR, settled));
        }
        (changes, cursors)
    };
    let mut report = ingest::run(channel, ctx, batch, cursors).await?;
    // Acting may fail; the quantities are pushed all the same, then the failure is reported.
    let mut failure = push_after_poll(channel, ctx).await.err();
    if !ctx.dry_run {
        report.stock_moved |= watch::run(channel, ctx, now).await?;
        match act::run(channel, ctx).await {
            Ok((confirmed, reread)) => {
                report.confirmed = confirmed;
                report.stock_moved |= reread;
            }
            Err(e) => failure = Some(e),
        }
        // The seller's cancellations, then parcels, after decisions: an order accepted this
        // cycle may ship in it too, and a parcel knows which units are no longer owed.
        match seller_cancel::run(channel, ctx).await {
            Ok(reread) => report.stock_moved |= reread,
            Err(e) => failure = failure.or(Some(e)),
        }
        match ship::run(channel, ctx).await {
            Ok((_, reread)) => report.stock_moved |= reread,
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    if drift_due && !ctx.dry_run {
        push::correct_drift(name, market, &ctx.store).await?;
        let name = name.to_owned();
        ctx.store
            .call(move |conn| {
                let tx = conn.transaction()?;
                channels::set_cursor(&tx, &name, DRIFT_CURSOR, now, &store::now_text())?;
                tx.commit()?;
                Ok(())
            })
            .await?;
    }
    failure.map_or(Ok(report), Err)
}

fn offer(channel: &Channel, ctx: &Context) -> Offer {
    Offer {
        safety_buffer: ctx.config.inventory.safety_buffer,
        channel_buffer: channel.config.stock_buffer,
        cap: channel.config.stock_cap,
        sku_map: channel.config.current_sku_map(),
    }
}
