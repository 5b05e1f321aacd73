//! One poll's batch, committed in one transaction: each order stored (idempotent on channel
//! and order id), judged if it awaits a decision, its events queued and its alerts raised;
//! orders stored before any inventory was loaded judged once one is; unreadable payloads
//! quarantined; and the polling cursors moved, last.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rusqlite::{Connection, Transaction};
use vigie_connector::{Malformed, Order, OrderBatch, OrderStatus};

use super::decide::{self, Applied, Policy};
pub use super::settings::Settings;
use super::{Channel, Context, Error, cancellations, incidents, watch};
use crate::delivery;
use crate::domain::alert_keys;
use crate::domain::alerts::{Alert, AlertKind};
use crate::domain::deadlines;
use crate::domain::rules::{self, Reason, Verdict};
use crate::events::OrderEvent;
use crate::store::{self, alerts, channels, orders, quarantine, shipments, stock};

/// What a cycle did, for logs, metrics and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub new_orders: usize,
    pub status_changes: usize,
    pub quarantined: usize,
    pub accepted: usize,
    pub refused: usize,
    pub flagged: usize,
    /// Decisions the marketplace confirmed this cycle.
    pub confirmed: usize,
    /// Reservations or units on hand moved: other channels need new quantities.
    pub stock_moved: bool,
    /// What happened, one line each, for the log.
    pub log: Vec<String>,
}

/// Stores the batch, judges what awaits a decision, and moves `cursors`, in one transaction;
/// then tells the other channels if the ledger moved, and logs and counts what happened.
pub(super) async fn run(
    channel: &Channel,
    ctx: &Context,
    batch: OrderBatch,
    cursors: Vec<(&'static str, Timestamp)>,
) -> Result<Report, Error> {
    let name = channel.name().to_owned();
    let config = ctx.config.clone();
    let partial = channel.partial_acceptance();
    let (deadline, dry_run) = (channel.config.acceptance_deadline, ctx.dry_run);
    let shipping_deadline = channel.config.shipping_deadline;
    let sku_map = channel.config.current_sku_map();
    let mut report = ctx
        .store
        .call(move |conn| {
            let settings = Settings {
                channel: &name,
                config: &config,
                policy: Policy {
                    channel: &name,
                    timezone: &config.daemon.timezone,
                    rules: &config.rules,
                    safety_buffer: config.inventory.safety_buffer,
                    partial_acceptance: partial,
                },
                deadline,
                shipping_deadline,
                sku_map: &sku_map,
                dry_run,
            };
            commit(conn, &settings, &batch, &cursors)
        })
        .await?;
    if report.stock_moved {
        // Other channels push the new quantities now, not at their next tick.
        ctx.stock_moved.send_modify(|n| *n += 1);
    }
    for line in std::mem::take(&mut report.log) {
        tracing::info!("{line}");
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

/// Commits `batch` and moves `cursors` in one transaction.
pub fn commit(
    conn: &mut Connection,
    s: &Settings<'_>,
    batch: &OrderBatch,
    cursors: &[(&str, Timestamp)],
) -> store::Result<Report> {
    let now = store::now_text();
    let tx = conn.transaction()?;
    let mut report = Report::default();
    let mut waiting_for_inventory = 0;
    for order in &batch.orders {
        waiting_for_inventory += usize::from(one_order(&tx, s, order, &now, &mut report)?);
    }
    if stock::has_inventory(&tx)? {
        judge_stored(&tx, s, &now, &mut report)?;
    } else if waiting_for_inventory > 0 {
        report.log.push(format!(
            "{waiting_for_inventory} order(s) wait for a decision: no inventory loaded yet \
             (vigie stock import FILE.csv, or [inventory] source)"
        ));
    }
    for item in &batch.malformed {
        keep_unreadable(&tx, s, item, &now, &mut report)?;
    }
    for (cursor, at) in cursors {
        channels::set_cursor(&tx, s.channel, cursor, *at, &now)?;
    }
    if s.dry_run {
        report.stock_moved = false;
        return Ok(report); // dropping the transaction rolls it back
    }
    tx.commit()?;
    Ok(report)
}

/// Stores and judges one order; returns whether it waits for an inventory to be loaded.
fn one_order(
    tx: &Transaction<'_>,
    s: &Settings<'_>,
    order: &Order,
    now: &str,
    report: &mut Report,
) -> store::Result<bool> {
    let channel = s.channel;
    // Stored, reserved, judged and told with the ledger's SKUs from here on.
    let order = &*s.sku_map.to_ledger(order);
    let timezone = &s.config.daemon.timezone;
    let deadline = order
        .acceptance_deadline
        .unwrap_or_else(|| deadlines::deadline(order.created_at, s.deadline, timezone));
    let shipping_deadline = order.shipping_deadline.or_else(|| {
        s.shipping_deadline
            .map(|rule| deadlines::deadline(order.created_at, rule, timezone))
    });
    let deadlines = orders::Deadlines {
        acceptance: Some(deadline),
        shipping: shipping_deadline,
    };
    let (order_pk, ingested) = orders::ingest(tx, channel, order, deadlines, now)?;
    let label = format!("{channel}:{}", order.id);
    let status = order.state.status;
    let before = match ingested {
        orders::Ingested::New => None,
        orders::Ingested::StatusChanged { from } => Some(from),
        orders::Ingested::Unchanged => Some(status),
        // An older picture than the one stored: nothing in it is news.
        orders::Ingested::Stale => return Ok(false),
    };
    let event = match ingested {
        orders::Ingested::New => {
            report.new_orders += 1;
            report.log.push(format!("order {label} seen ({status})"));
            // First seen in any other state: history, not news for the customer.
            (status == OrderStatus::AwaitingAcceptance).then_some(OrderEvent::Received)
        }
        orders::Ingested::StatusChanged { from } => {
            report.status_changes += 1;
            report.log.push(format!("order {label} {from} -> {status}"));
            match OrderEvent::on_reaching(status) {
                // Parcels recorded in vigie each tell their own `shipped`, with their tracking.
                Some(OrderEvent::Shipped) if shipments::any_parcel(tx, order_pk)? => None,
                event => event,
            }
        }
        orders::Ingested::Unchanged | orders::Ingested::Stale => None,
    };
    // Before the order's status moves the ledger: units cancelled before shipping are
    // released, not consumed with the rest of a shipped order.
    let taken_back = cancellations::follow(tx, s, order_pk, order, before, deadline, now)?;
    report.stock_moved |= taken_back.stock_moved;
    report.log.extend(taken_back.log);
    report
        .log
        .extend(incidents::follow(tx, s, order_pk, order, now)?);

    let applied = decide::apply(tx, &s.policy, order_pk, order, now)?;
    if !s.dry_run {
        if let Some(event) = event {
            delivery::enqueue(tx, s.config, channel, order_pk, event, order, now)?;
        }
        if status != OrderStatus::AwaitingAcceptance {
            watch::order_settled(tx, channel, &order.id, now)?;
        }
    }
    record_applied(tx, s, order, applied, now, report)
}

/// Judges the orders seen before any inventory was loaded, now that one is: a poll's window
/// no longer holds them, and they must not wait for the next sweep of the whole queue.
fn judge_stored(
    tx: &Transaction<'_>,
    s: &Settings<'_>,
    now: &str,
    report: &mut Report,
) -> store::Result<()> {
    for (order_pk, order) in orders::never_judged(tx, s.channel)? {
        let applied = decide::apply(tx, &s.policy, order_pk, &order, now)?;
        record_applied(tx, s, &order, applied, now, report)?;
    }
    Ok(())
}

/// Counts and logs what applying an order did, and tells on-call about a verdict a human must
/// see; returns whether the order waits for an inventory to be loaded.
fn record_applied(
    tx: &Transaction<'_>,
    s: &Settings<'_>,
    order: &Order,
    applied: Applied,
    now: &str,
    report: &mut Report,
) -> store::Result<bool> {
    let order_id = &order.id;
    report.stock_moved |= applied.stock_moved;
    if !s.dry_run {
        raise_for_verdict(tx, s.channel, order, applied.verdict.as_ref(), now)?;
        raise_for_skus(tx, s.channel, &applied.skus_listed, now)?;
    }
    if let Some(verdict) = applied.verdict {
        let (word, count) = match &verdict {
            Verdict::Accept | Verdict::Partial { .. } => ("accept", &mut report.accepted),
            Verdict::Refuse(_) => ("refuse", &mut report.refused),
            Verdict::Flag(_) => ("flag", &mut report.flagged),
        };
        *count += 1;
        let prefix = if s.dry_run { "dry run: would " } else { "" };
        report.log.push(format!(
            "{prefix}{word} {}:{order_id}: {verdict:?}",
            s.channel
        ));
    }
    Ok(applied.waiting_for_inventory)
}

/// Quarantines a payload that could not be read, and tells on-call (once per payload).
fn keep_unreadable(
    tx: &Transaction<'_>,
    s: &Settings<'_>,
    item: &Malformed,
    now: &str,
    report: &mut Report,
) -> store::Result<()> {
    let Some(quarantine_id) = quarantine::keep(tx, s.channel, item, now)? else {
        return Ok(()); // the same payload again
    };
    report.quarantined += 1;
    let which = item.order_id.as_deref().unwrap_or("unknown order");
    report
        .log
        .push(format!("payload quarantined ({which}): {}", item.error));
    if !s.dry_run {
        let channel = s.channel;
        let alert = Alert::new(
            AlertKind::PayloadQuarantined,
            alert_keys::payload_quarantined(channel, which, quarantine_id),
            format!(
                "{channel}: an order payload ({which}) could not be read and was quarantined: {}",
                item.error
            ),
        )
        .channel(channel);
        alerts::raise(tx, &alert, now)?;
    }
    Ok(())
}

/// Tells on-call about orders a human must look at. An order held only for SKUs the ledger
/// does not list is told by those SKUs' alerts ([`raise_for_skus`]), not one per order.
fn raise_for_verdict(
    conn: &Connection,
    channel: &str,
    order: &Order,
    verdict: Option<&Verdict>,
    now: &str,
) -> store::Result<()> {
    let order_id = &order.id;
    let alert = match verdict {
        Some(Verdict::Flag(reasons)) if reasons.iter().any(|r| *r != Reason::UnknownSku) => {
            Alert::new(
                AlertKind::OrderFlagged,
                alert_keys::order_flagged(channel, order_id),
                format!(
                    "{channel}:{order_id} waits for review ({}): vigie review accept|refuse {channel}:{order_id}",
                    rules::explain(reasons, order)
                ),
            )
        }
        Some(Verdict::Refuse(reasons)) if reasons.contains(&Reason::InsufficientStock) => {
            Alert::new(
                AlertKind::OrderRefusedNoStock,
                alert_keys::order_refused_no_stock(channel, order_id),
                format!("{channel}:{order_id} was refused: not enough stock"),
            )
        }
        _ => return Ok(()),
    };
    alerts::raise(conn, &alert.order(channel, order_id), now)
}

/// One open alert per SKU the ledger does not list, however many orders name it; resolved
/// by the next order that finds it listed, or by the cycle's watch once the ledger lists it.
fn raise_for_skus(
    conn: &Connection,
    channel: &str,
    skus_listed: &BTreeMap<String, bool>,
    now: &str,
) -> store::Result<()> {
    for (sku, &listed) in skus_listed {
        let key = alert_keys::unknown_sku(channel, sku);
        if listed {
            alerts::resolve(conn, &key, now)?;
            continue;
        }
        let alert = Alert::new(
            AlertKind::UnknownSku,
            key,
            format!(
                "{channel}: orders name SKU {sku:?}, which the inventory does not list; they wait \
                 for review (vigie orders --status flagged --channel {channel}). Add it to the \
                 inventory, or map it in the channel's sku_map"
            ),
        )
        .channel(channel);
        alerts::raise(conn, &alert, now)?;
    }
    Ok(())
}
