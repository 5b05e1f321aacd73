//! One poll's batch, committed in one transaction: each order stored (idempotent on channel
//! and order id), judged if it awaits a decision, its events queued and its alerts raised;
//! unreadable payloads quarantined; and the polling cursors moved, last.

use std::collections::BTreeSet;

use jiff::Timestamp;
use rusqlite::{Connection, Transaction};
use vigie_connector::{Malformed, Order, OrderBatch, OrderStatus};

use super::decide::{self, Policy};
use super::rules::{Reason, Verdict};
use super::{sla, watch};
use crate::config::{Config, Deadline};
use crate::delivery;
use crate::domain::alerts::{Alert, AlertKind};
use crate::events::OrderEvent;
use crate::store::{self, alerts, channels, orders};

/// What a channel's batch is judged with.
pub struct Settings<'a> {
    pub channel: &'a str,
    pub config: &'a Config,
    pub policy: Policy<'a>,
    /// The channel's acceptance deadline, for orders whose marketplace announces none.
    pub deadline: Deadline,
    /// Judge and log, then roll the whole batch back: a later real run sees every order as
    /// new and misses no message, alert or decision.
    pub dry_run: bool,
}

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
    if waiting_for_inventory > 0 {
        report.log.push(format!(
            "{waiting_for_inventory} order(s) wait for a decision: no inventory loaded yet \
             (vigie stock import FILE.csv, or [inventory] source)"
        ));
    }
    for item in &batch.malformed {
        quarantine(&tx, s, item, &now, &mut report)?;
    }
    for (cursor, at) in cursors {
        channels::set_cursor(&tx, s.channel, cursor, &store::time_text(*at), &now)?;
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
    let deadline = order
        .acceptance_deadline
        .unwrap_or_else(|| sla::deadline(order.created_at, s.deadline, &s.config.daemon.timezone));
    let deadline = store::time_text(deadline);
    let (order_pk, ingested) = orders::ingest(tx, channel, order, Some(&deadline), now)?;
    let label = format!("{channel}:{}", order.id);
    let status = order.state.status;
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
            OrderEvent::on_reaching(status)
        }
        orders::Ingested::Unchanged => None,
        // An older picture than the one stored: nothing in it is news.
        orders::Ingested::Stale => return Ok(false),
    };

    let applied = decide::apply(tx, &s.policy, order_pk, order, now)?;
    report.stock_moved |= applied.stock_moved;
    if !s.dry_run {
        if let Some(event) = event {
            delivery::enqueue(tx, s.config, channel, order_pk, event, order, now)?;
        }
        if status != OrderStatus::AwaitingAcceptance {
            watch::order_settled(tx, channel, &order.id, now)?;
        }
        raise_for_verdict(tx, channel, &order.id, applied.verdict.as_ref(), now)?;
    }
    if let Some(verdict) = applied.verdict {
        let (word, count) = match &verdict {
            Verdict::Accept | Verdict::Partial { .. } => ("accept", &mut report.accepted),
            Verdict::Refuse(_) => ("refuse", &mut report.refused),
            Verdict::Flag(_) => ("flag", &mut report.flagged),
        };
        *count += 1;
        let prefix = if s.dry_run { "dry run: would " } else { "" };
        report
            .log
            .push(format!("{prefix}{word} {label}: {verdict:?}"));
    }
    Ok(applied.waiting_for_inventory)
}

fn quarantine(
    tx: &Transaction<'_>,
    s: &Settings<'_>,
    item: &Malformed,
    now: &str,
    report: &mut Report,
) -> store::Result<()> {
    if !channels::quarantine(tx, s.channel, item, now)? {
        return Ok(()); // the same payload again
    }
    report.quarantined += 1;
    let which = item.order_id.as_deref().unwrap_or("unknown order");
    report
        .log
        .push(format!("payload quarantined ({which}): {}", item.error));
    if !s.dry_run {
        let channel = s.channel;
        let alert = Alert::new(
            AlertKind::PayloadQuarantined,
            format!(
                "payload_quarantined:{channel}:{which}:{}",
                tx.last_insert_rowid()
            ),
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

/// Tells on-call about orders a human must look at.
fn raise_for_verdict(
    conn: &Connection,
    channel: &str,
    order_id: &str,
    verdict: Option<&Verdict>,
    now: &str,
) -> store::Result<()> {
    let codes = |reasons: &BTreeSet<Reason>| {
        reasons
            .iter()
            .map(|r| r.code())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let alert = match verdict {
        Some(Verdict::Flag(reasons)) => Alert::new(
            AlertKind::OrderFlagged,
            watch::flag_key(channel, order_id),
            format!(
                "{channel}:{order_id} waits for review ({}): vigie review accept|refuse {channel}:{order_id}",
                codes(reasons)
            ),
        ),
        Some(Verdict::Refuse(reasons)) if reasons.contains(&Reason::InsufficientStock) => {
            Alert::new(
                AlertKind::OrderRefusedNoStock,
                format!("order_refused_no_stock:{channel}:{order_id}"),
                format!("{channel}:{order_id} was refused: not enough stock"),
            )
        }
        _ => return Ok(()),
    };
    alerts::raise(conn, &alert.order(channel, order_id), now)
}
