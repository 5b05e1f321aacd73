//! What an ingested order means for the ledger, carried out inside the transaction that
//! ingests it: reservations are taken the moment an order awaiting acceptance is seen, the
//! verdict is committed with them, and only then does anyone call the marketplace.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use rusqlite::Connection;
use vigie_connector::{Order, OrderStatus};

use crate::config::RulesConfig;
use crate::domain::alerts::{Alert, AlertKind};
use crate::domain::custom_rules::RuleOutcome;
use crate::domain::customer::Judging;
use crate::domain::judgment::{self, Case, Inputs, Ruled};
use crate::domain::rules::{LineStock, Verdict};
use crate::domain::{alert_keys, decision};
use crate::store::decisions::{self, Decision, Outcome, Source};
use crate::store::reservations::{self, LineUnits, ReservationState};
use crate::store::state::read_time;
use crate::store::stock::{self, Hold};
use crate::store::{Result, alerts, customers, flags, judgments};

/// The settings one channel's decisions depend on.
pub struct Policy<'a> {
    pub channel: &'a str,
    pub rules: &'a RulesConfig,
    pub safety_buffer: u32,
    pub partial_acceptance: bool,
    /// The seller's, for the facts' `now.hour`.
    pub timezone: &'a TimeZone,
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
    /// The SKUs of the lines judged now, and whether the ledger lists each.
    pub skus_listed: BTreeMap<String, bool>,
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
            if decisions::is_decided(tx, order_pk)? || flags::was_flagged(tx, order_pk)? {
                return Ok(applied);
            }
            if !stock::has_inventory(tx)? {
                applied.waiting_for_inventory = true;
                return Ok(applied);
            }
            let (verdict, lines) = judge(tx, policy, order_pk, order, now)?;
            applied.stock_moved = true;
            applied.verdict = Some(verdict);
            applied.skus_listed = order
                .lines
                .iter()
                .zip(lines)
                .map(|(line, stock)| (line.sku.clone(), stock.known))
                .collect();
        }
        OrderStatus::Accepted => {
            // Every line the marketplace keeps holds its units, whoever accepted the order
            // (vigie, the back office, the operator's automatic acceptance).
            for line in decision::live_lines(order) {
                let units = LineUnits::of(order_pk, line);
                applied.stock_moved |= reservations::hold_confirmed(tx, units, now)?;
            }
            applied.stock_moved |= release_dead_lines(tx, order_pk, order, now)?;
            settle_decisions(tx, order_pk, order, true, now)?;
        }
        OrderStatus::Shipped | OrderStatus::Received | OrderStatus::Closed => {
            applied.stock_moved |= release_dead_lines(tx, order_pk, order, now)?;
            let consumed =
                reservations::settle(tx, order_pk, None, ReservationState::Consumed, now)?;
            applied.stock_moved |= consumed > 0;
            settle_decisions(tx, order_pk, order, true, now)?;
        }
        OrderStatus::Refused | OrderStatus::Cancelled => {
            let released =
                reservations::settle(tx, order_pk, None, ReservationState::Released, now)?;
            applied.stock_moved = released > 0;
            settle_decisions(tx, order_pk, order, false, now)?;
        }
        // Paid back whole: its cancellations moved the units (released before shipping,
        // out of stock after); the order was the marketplace's to accept.
        OrderStatus::Refunded => {
            applied.stock_moved |= release_dead_lines(tx, order_pk, order, now)?;
            settle_decisions(tx, order_pk, order, true, now)?;
        }
        OrderStatus::Pending | OrderStatus::Incident | OrderStatus::Other => {}
    }
    Ok(applied)
}

/// Reserves what it can for each line, judges the order (built-in rules, then the seller's
/// over its facts), and records the verdict with what it was judged from; returns it with
/// what the ledger found for each line.
fn judge(
    tx: &Connection,
    policy: &Policy<'_>,
    order_pk: i64,
    order: &Order,
    now: &str,
) -> Result<(Verdict, Vec<LineStock>)> {
    let mut lines = Vec::with_capacity(order.lines.len());
    for line in &order.lines {
        let units = LineUnits::of(order_pk, line);
        let hold = stock::hold_if_available(tx, units, policy.safety_buffer, now)?;
        let listed = stock::listed(tx, &line.sku)?;
        lines.push(LineStock {
            line_id: line.id.clone(),
            reserved: hold == Hold::Held,
            known: listed.is_some(),
            tags: listed.unwrap_or_default(),
        });
    }
    let judged_at = read_time(now, "the time of judgement")?;
    let this = Judging {
        order_pk,
        created_at: order.created_at,
        judged_at,
    };
    let (customer_key, customer) = customers::facts(tx, this)?;
    let case = Case {
        channel: policy.channel,
        order,
        lines: &lines,
        partial_allowed: policy.partial_acceptance,
        customer: &customer,
        judged_at,
    };
    let judged = judgment::judge(policy.rules, case, policy.timezone);
    raise_for_rule_errors(tx, policy.channel, order, &judged.custom, now)?;
    let verdict = judged.verdict;
    let inputs = Inputs {
        order: order.clone(),
        lines: lines.clone(),
        partial_allowed: policy.partial_acceptance,
        decided: Ruled::from(&verdict),
    };
    judgments::record(tx, order_pk, customer_key.as_deref(), &inputs, now)?;
    if let Verdict::Flag(reasons) = &verdict {
        flags::flag(tx, order_pk, &decision::codes(reasons), now)?;
        return Ok((verdict, lines));
    }
    for ruling in decision::rulings(order, &verdict) {
        let decision = Decision {
            accept: ruling.accept,
            reasons: &ruling.reasons,
            source: Source::Rules,
            note: None,
        };
        decisions::record(tx, order_pk, ruling.line_id, decision, now)?;
    }
    if let Verdict::Refuse(_) = verdict {
        reservations::settle(tx, order_pk, None, ReservationState::Released, now)?;
    }
    Ok((verdict, lines))
}

/// A seller's rule that cannot be evaluated holds the order (`rule_error`) and tells on-call
/// once per rule as written: the next orders it fails on are held without a new alert.
fn raise_for_rule_errors(
    tx: &Connection,
    channel: &str,
    order: &Order,
    outcomes: &[RuleOutcome],
    now: &str,
) -> Result<()> {
    for outcome in outcomes {
        let Some(error) = &outcome.error else {
            continue;
        };
        let alert = Alert::new(
            AlertKind::RuleError,
            alert_keys::rule_error(outcome.code, &outcome.when),
            format!(
                "rule {} failed on {channel}:{}: {error}; orders it fails on wait for review \
                 (vigie rules test {channel}:{} shows the facts it read)",
                outcome.code, order.id, order.id
            ),
        )
        .order(channel, &order.id);
        alerts::raise(tx, &alert, now)?;
    }
    Ok(())
}

/// Settles vigie's pending decisions against what the marketplace now shows (`live`: the
/// order goes on, its live lines accepted): each is confirmed where they agree, superseded
/// where the marketplace went the other way (the back office, an automatic refusal, a
/// cancellation). The order no longer waits for a human.
fn settle_decisions(
    tx: &Connection,
    order_pk: i64,
    order: &Order,
    live: bool,
    now: &str,
) -> Result<()> {
    let accepted: Vec<&str> = if live {
        decision::live_lines(order).map(|l| l.id.as_str()).collect()
    } else {
        Vec::new()
    };
    for pending in decisions::of_order(tx, order_pk)?
        .into_iter()
        .filter(|d| d.outcome.is_none())
    {
        let agrees = pending.accept == accepted.contains(&pending.line_id.as_str());
        let (outcome, note) = if agrees {
            (Outcome::Confirmed, None)
        } else {
            let note = format!("the marketplace made the order {} first", order.state.raw);
            (Outcome::Superseded, Some(note))
        };
        decisions::settle_line(
            tx,
            order_pk,
            &pending.line_id,
            outcome,
            note.as_deref(),
            now,
        )?;
    }
    flags::resolve(tx, order_pk, now)
}

/// Releases units of lines the marketplace refused, cancelled or refunded inside a live
/// order; units that shipped stay out of stock.
fn release_dead_lines(tx: &Connection, order_pk: i64, order: &Order, now: &str) -> Result<bool> {
    let dead = decision::dead_line_ids(order);
    if dead.is_empty() {
        return Ok(false);
    }
    let released =
        reservations::settle(tx, order_pk, Some(&dead), ReservationState::Released, now)?;
    Ok(released > 0)
}
