//! What an ingested order means for the ledger, decided inside the transaction that ingests
//! it: reservations are taken the moment an order awaiting acceptance is seen, the verdict
//! is committed with them, and only then does anyone call the marketplace.

use rusqlite::Connection;
use vigie_connector::{Order, OrderStatus};

use super::rules::{self, LineStock, Reason, Verdict};
use crate::config::RulesConfig;
use crate::store::decisions::{self, Decision, Source};
use crate::store::{Result, stock};

/// The settings one channel's decisions depend on.
pub struct Policy<'a> {
    pub rules: &'a RulesConfig,
    pub safety_buffer: u32,
    pub partial_acceptance: bool,
}

/// What applying one order did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The verdict, when this order was judged now.
    pub verdict: Option<Verdict>,
    /// Reservations or units on hand changed: channels need new quantities.
    pub stock_moved: bool,
    /// The order awaits a decision but no inventory was ever loaded.
    pub waiting_for_inventory: bool,
}

pub fn apply(
    tx: &Connection,
    policy: &Policy<'_>,
    order_pk: i64,
    order: &Order,
    now: &str,
) -> Result<Applied> {
    let mut applied = Applied::default();
    match order.state.status {
        OrderStatus::AwaitingAcceptance => {
            if decisions::is_decided(tx, order_pk)? || decisions::was_flagged(tx, order_pk)? {
                return Ok(applied);
            }
            if !stock::has_inventory(tx)? {
                applied.waiting_for_inventory = true;
                return Ok(applied);
            }
            let verdict = judge(tx, policy, order_pk, order, now)?;
            applied.stock_moved = true;
            applied.verdict = Some(verdict);
        }
        OrderStatus::Accepted => {
            // Every line the marketplace keeps holds its units, whoever accepted the order
            // (vigie, the back office, the operator's automatic acceptance).
            for line in live_lines(order) {
                applied.stock_moved |=
                    stock::hold_confirmed(tx, order_pk, &line.id, &line.sku, line.quantity, now)?;
            }
            applied.stock_moved |= release_dead_lines(tx, order_pk, order, now)?;
            settle_decisions(tx, order_pk, order, true, now)?;
        }
        OrderStatus::Shipped | OrderStatus::Received | OrderStatus::Closed => {
            applied.stock_moved |= release_dead_lines(tx, order_pk, order, now)?;
            applied.stock_moved |= stock::settle(tx, order_pk, None, "consumed", now)? > 0;
            settle_decisions(tx, order_pk, order, true, now)?;
        }
        OrderStatus::Refused | OrderStatus::Cancelled => {
            applied.stock_moved = stock::settle(tx, order_pk, None, "released", now)? > 0;
            settle_decisions(tx, order_pk, order, false, now)?;
        }
        OrderStatus::Pending | OrderStatus::Other => {}
    }
    Ok(applied)
}

/// Reserves what it can for each line, judges the order, and records the verdict.
fn judge(
    tx: &Connection,
    policy: &Policy<'_>,
    order_pk: i64,
    order: &Order,
    now: &str,
) -> Result<Verdict> {
    let mut lines = Vec::with_capacity(order.lines.len());
    for line in &order.lines {
        // Each reservation lowers what the next line (same SKU or not) can take.
        let reserved =
            i64::from(line.quantity) <= stock::available(tx, &line.sku, policy.safety_buffer)?;
        if reserved {
            stock::reserve(
                tx,
                order_pk,
                &line.id,
                &line.sku,
                line.quantity,
                "held",
                now,
            )?;
        }
        lines.push(LineStock {
            line_id: line.id.clone(),
            reserved,
            tags: stock::tags(tx, &line.sku)?,
        });
    }
    let verdict = rules::judge(order, &lines, policy.rules, policy.partial_acceptance);
    let short = [Reason::InsufficientStock.code()];
    let by_rules = |accept, reasons| Decision {
        accept,
        reasons,
        source: Source::Rules,
        note: None,
    };
    match &verdict {
        Verdict::Accept => {
            for line in &order.lines {
                decisions::record(tx, order_pk, &line.id, by_rules(true, &[]), now)?;
            }
        }
        Verdict::Partial { refused } => {
            for line in &order.lines {
                let decision = if refused.contains(&line.id) {
                    by_rules(false, &short)
                } else {
                    by_rules(true, &[])
                };
                decisions::record(tx, order_pk, &line.id, decision, now)?;
            }
        }
        Verdict::Refuse(reasons) => {
            let codes: Vec<&str> = reasons.iter().map(|r| r.code()).collect();
            for line in &order.lines {
                decisions::record(tx, order_pk, &line.id, by_rules(false, &codes), now)?;
            }
            stock::settle(tx, order_pk, None, "released", now)?;
        }
        Verdict::Flag(reasons) => {
            let codes: Vec<&str> = reasons.iter().map(|r| r.code()).collect();
            decisions::flag(tx, order_pk, &codes, now)?;
        }
    }
    Ok(verdict)
}

/// Settles vigie's pending decisions against what the marketplace now shows (`live`: the
/// order goes on, its live lines accepted): each is confirmed where they agree, superseded
/// where the marketplace went the other way. The order no longer waits for a human.
fn settle_decisions(
    tx: &Connection,
    order_pk: i64,
    order: &Order,
    live: bool,
    now: &str,
) -> Result<()> {
    let accepted: Vec<String> = if live {
        live_lines(order).map(|l| l.id.clone()).collect()
    } else {
        Vec::new()
    };
    decisions::settle_pending_against(tx, order_pk, &accepted, &order.state.raw, now)?;
    decisions::resolve_flag(tx, order_pk, now)
}

fn is_dead(line: &vigie_connector::OrderLine) -> bool {
    matches!(
        line.state.status,
        OrderStatus::Refused | OrderStatus::Cancelled
    )
}

/// Lines the marketplace has not refused or cancelled.
fn live_lines(order: &Order) -> impl Iterator<Item = &vigie_connector::OrderLine> {
    order.lines.iter().filter(|l| !is_dead(l))
}

/// Releases units of lines the marketplace refused or cancelled inside a live order.
fn release_dead_lines(tx: &Connection, order_pk: i64, order: &Order, now: &str) -> Result<bool> {
    let dead: Vec<String> = order
        .lines
        .iter()
        .filter(|l| is_dead(l))
        .map(|l| l.id.clone())
        .collect();
    if dead.is_empty() {
        return Ok(false);
    }
    Ok(stock::settle(tx, order_pk, Some(&dead), "released", now)? > 0)
}
