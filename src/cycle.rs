//! One channel's cycle: poll -> ingest and decide -> act; and its stock push, which the
//! daemon runs apart (whenever the ledger moves) and `run --once` after every cycle.
//!
//! Ingestion, reservations and decisions of a poll are committed in one transaction that also
//! moves the polling cursor, so a crash before the commit simply polls again, and a crash
//! after it resumes the committed decisions. Marketplace calls happen only after the commit.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{Notify, watch as signal};
use vigie_connector::{ConnectorError, Marketplace, OrderBatch};

use crate::config::{ChannelConfig, Config};
use crate::domain::alerts::{Alert, AlertKind};
use crate::engine::decide::Policy;
use crate::engine::push::{self, Offer};
use crate::engine::{Error, act, ingest, watch};
use crate::store::{self, Store, alerts, channels};

/// How often the marketplace's own quantities are compared with what vigie pushed.
const DRIFT_CHECK_EVERY: SignedDuration = SignedDuration::from_hours(1);

const UPDATED_CURSOR: &str = "updated_until";
const SWEEP_CURSOR: &str = "queue_swept_at";
const DRIFT_CURSOR: &str = "drift_checked_at";

/// A marketplace shop as the daemon drives it.
#[derive(Clone)]
pub struct Channel {
    pub config: ChannelConfig,
    pub marketplace: Arc<dyn Marketplace>,
}

impl Channel {
    pub fn name(&self) -> &str {
        &self.config.name
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

pub use crate::engine::ingest::Report as CycleReport;

/// Runs one full cycle and records its outcome for `vigie status`.
pub async fn run(channel: &Channel, ctx: &Context) -> Result<CycleReport, Error> {
    let outcome = full_cycle(channel, ctx).await;
    record(channel, ctx, outcome.as_ref().err()).await;
    outcome
}

/// Only pushes quantities: another channel's order moved the ledger.
pub async fn push_stock(channel: &Channel, ctx: &Context) -> Result<usize, Error> {
    let pushed = push::push(
        channel.name(),
        channel.marketplace.as_ref(),
        &ctx.store,
        offer(channel, ctx),
        ctx.dry_run,
    )
    .await?;
    Ok(pushed.submitted)
}

async fn full_cycle(channel: &Channel, ctx: &Context) -> Result<CycleReport, Error> {
    let name = channel.name();
    let market = channel.marketplace.as_ref();
    let now = Timestamp::now();
    // Overlapping windows and queue sweeps are the marketplace's policy (its connector's).
    let polling = channel.config.polling;
    let (since, sweep_due, drift_due) = {
        let name = name.to_owned();
        ctx.store
            .call(move |conn| {
                let at = |cursor| -> store::Result<Option<Timestamp>> {
                    Ok(channels::cursor(conn, &name, cursor)?.and_then(|t| t.parse().ok()))
                };
                let since = at(UPDATED_CURSOR)?
                    .map_or(now - polling.first_lookback, |t| t - polling.overlap);
                let due = |last: Option<Timestamp>, every| last.is_none_or(|t| now - every >= t);
                Ok((
                    since,
                    due(at(SWEEP_CURSOR)?, polling.queue_sweep_every),
                    due(at(DRIFT_CURSOR)?, DRIFT_CHECK_EVERY),
                ))
            })
            .await?
    };

    let mut batch = market.orders_updated(since, now).await?;
    if sweep_due {
        let queue = market.orders_awaiting_acceptance().await?;
        batch.orders.extend(queue.orders);
        batch.malformed.extend(queue.malformed);
    }
    let mut cursors = vec![(UPDATED_CURSOR, now)];
    if sweep_due {
        cursors.push((SWEEP_CURSOR, now));
    }
    let mut report = ingest(channel, ctx, batch, cursors).await?;
    // Acting may fail; the quantities are pushed all the same, then the failure is reported.
    let mut failure = None;
    if !ctx.dry_run {
        let (name, config) = (name.to_owned(), ctx.config.clone());
        ctx.store
            .call(move |conn| {
                let tx = conn.transaction()?;
                watch::waiting_orders(&tx, &config, &name, now)?;
                watch::stock_levels(&tx, &config, &store::time_text(now))?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        ctx.delivery.notify_one();
        match act(channel, ctx).await {
            Ok((confirmed, reread)) => {
                report.confirmed = confirmed;
                report.stock_moved |= reread;
            }
            Err(e) => failure = Some(e),
        }
    }
    if drift_due && !ctx.dry_run {
        push::correct_drift(name, market, &ctx.store).await?;
        let name = name.to_owned();
        ctx.store
            .call(move |conn| {
                let tx = conn.transaction()?;
                channels::set_cursor(
                    &tx,
                    &name,
                    DRIFT_CURSOR,
                    &store::time_text(now),
                    &store::now_text(),
                )?;
                tx.commit()?;
                Ok(())
            })
            .await?;
    }
    failure.map_or(Ok(report), Err)
}

/// Sends the committed decisions; re-reads what the marketplace says was already decided.
/// Returns how many were confirmed and whether the re-read moved stock.
async fn act(channel: &Channel, ctx: &Context) -> Result<(usize, bool), Error> {
    let (name, market) = (channel.name(), channel.marketplace.as_ref());
    let acted = act::execute(name, market, &ctx.store, &ctx.config).await?;
    for (order, why) in &acted.failed {
        tracing::error!(
            channel = name,
            order,
            "the marketplace rejected vigie's decision: {why}"
        );
    }
    if acted.reread.is_empty() {
        return Ok((acted.confirmed, false));
    }
    // Already decided on the marketplace (a previous run, the back office): take its word.
    let fresh = market.orders_by_id(&acted.reread).await?;
    let reread = ingest(channel, ctx, fresh, Vec::new()).await?;
    Ok((acted.confirmed, reread.stock_moved))
}

fn offer(channel: &Channel, ctx: &Context) -> Offer {
    Offer {
        safety_buffer: ctx.config.inventory.safety_buffer,
        channel_buffer: channel.config.stock_buffer,
        cap: channel.config.stock_cap,
    }
}

/// Stores the batch, judges what awaits a decision, and moves `cursors`, in one transaction.
async fn ingest(
    channel: &Channel,
    ctx: &Context,
    batch: OrderBatch,
    cursors: Vec<(&'static str, Timestamp)>,
) -> Result<CycleReport, Error> {
    let name = channel.name().to_owned();
    let config = ctx.config.clone();
    let partial =
        channel.config.partial_acceptance && channel.marketplace.capabilities().partial_acceptance;
    let (deadline, dry_run) = (channel.config.acceptance_deadline, ctx.dry_run);
    let mut report = ctx
        .store
        .call(move |conn| {
            let settings = ingest::Settings {
                channel: &name,
                config: &config,
                policy: Policy {
                    rules: &config.rules,
                    safety_buffer: config.inventory.safety_buffer,
                    partial_acceptance: partial,
                },
                deadline,
                dry_run,
            };
            ingest::commit(conn, &settings, &batch, &cursors)
        })
        .await?;
    if report.stock_moved {
        // Other channels push the new quantities now, not at their next tick.
        ctx.stock_moved.send_modify(|n| *n += 1);
    }
    for line in std::mem::take(&mut report.log) {
        tracing::info!(channel = %channel.name(), "{line}");
    }
    let name = channel.name().to_owned();
    for (decision, count) in [
        ("accept", report.accepted),
        ("refuse", report.refused),
        ("flag", report.flagged),
    ] {
        if count > 0 {
            metrics::counter!("vigie_orders_decided_total", "channel" => name.clone(), "decision" => decision)
                .increment(count as u64);
        }
    }
    if report.quarantined > 0 {
        metrics::counter!("vigie_quarantined_total", "channel" => name)
            .increment(report.quarantined as u64);
    }
    Ok(report)
}

/// Records the poll for `vigie status`, and raises or resolves the channel's health alerts.
async fn record(channel: &Channel, ctx: &Context, error: Option<&Error>) {
    let name = channel.name().to_owned();
    let failure = error.map(|e| (e.class(), e.to_string()));
    let auth_failed = matches!(error, Some(Error::Marketplace(ConnectorError::Auth(_))));
    metrics::counter!("vigie_polls_total", "channel" => name.clone(),
        "outcome" => failure.as_ref().map_or("ok", |(class, _)| *class))
    .increment(1);
    let unreachable_after = ctx.config.alerts.channel_unreachable_after;
    let alerting = !ctx.dry_run;
    let recorded = ctx
        .store
        .call(move |conn| {
            let now = store::now_text();
            let failure = failure.as_ref().map(|(c, m)| (*c, m.as_str()));
            let failures = channels::record_poll(conn, &name, &now, failure)?;
            if !alerting {
                return Ok(());
            }
            let auth_key = format!("channel_auth_failed:{name}");
            let unreachable_key = format!("channel_unreachable:{name}");
            match failure {
                None => {
                    alerts::resolve(conn, &auth_key, &now)?;
                    alerts::resolve(conn, &unreachable_key, &now)?;
                }
                Some((_, message)) if auth_failed => {
                    alerts::raise(conn, &credentials_refused(&name, message), &now)?;
                }
                Some((_, message)) if failures >= unreachable_after => {
                    let text = format!(
                        "{name}: {failures} polls in a row failed, the last with: {message}"
                    );
                    let alert = Alert::new(AlertKind::ChannelUnreachable, unreachable_key, text)
                        .channel(&name);
                    alerts::raise(conn, &alert, &now)?;
                }
                Some(_) => {}
            }
            Ok(())
        })
        .await;
    match recorded {
        Ok(()) => ctx.delivery.notify_one(),
        Err(e) => tracing::error!(channel = %channel.name(), "cannot record the poll: {e}"),
    }
}

/// The alert for credentials the marketplace refuses, raised by a poll or by the start-up
/// health check; a successful poll resolves it.
pub fn credentials_refused(channel: &str, message: &str) -> Alert {
    let text = format!("{channel}: the marketplace refuses vigie's credentials: {message}");
    let key = format!("channel_auth_failed:{channel}");
    Alert::new(AlertKind::ChannelAuthFailed, key, text).channel(channel)
}
