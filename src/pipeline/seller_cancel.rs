//! The seller cancels accepted units (`vigie cancel`, stock turned out missing): recorded
//! like a parcel (checked against what is left to ship, committed first), then confirmed to
//! the marketplace at the next cycle. The ledger is not moved here: the units are released
//! when the marketplace reports the lines cancelled, like any cancellation.

use rusqlite::Transaction;
use rust_decimal::Decimal;
use std::collections::HashMap;

use vigie_connector::{CancelLine, ConnectorError, Money, Order, OrderStatus, SellerCancel};

use super::parcel::{ParcelError, check_accepted, chosen_lines, units_left};
use super::{Channel, Context, Error, ingest};
use crate::domain::alert_keys;
use crate::domain::alerts::{Alert, AlertKind};
use crate::store::seller_cancels::{self, PendingCancel};
use crate::store::shipments::{self, Confirmation, Units};
use crate::store::{self, alerts, cancellations, orders};

/// Checks and records the cancellation of `lines` (every unit left when none) of
/// `channel:order_id`. `true` when new; the same lines again change nothing.
pub fn record(
    tx: &Transaction<'_>,
    channel: &str,
    order_id: &str,
    reason: &str,
    lines: &[(String, Option<u32>)],
    now: &str,
) -> Result<bool, ParcelError> {
    let label = format!("{channel}:{order_id}");
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ParcelError::Empty("the reason"));
    }
    let order = orders::find(tx, channel, order_id)?
        .ok_or_else(|| ParcelError::UnknownOrder(label.clone()))?;
    check_accepted(tx, &order, &label)?;
    let left = units_left(tx, order.pk)?;
    let lines = chosen_lines(&label, lines, &left)?;
    Ok(seller_cancels::record(tx, order.pk, reason, &lines, now)?)
}

/// Sends every pending cancellation of the channel. One sent before without an answer (a
/// cut connection, a crash) is first checked against the order re-read: Mirakl's OR30 sent
/// twice would cancel twice, so it goes again only when the marketplace shows none of it.
pub async fn run(channel: &Channel, ctx: &Context) -> Result<bool, Error> {
    let name = channel.name().to_owned();
    let pending = ctx
        .store
        .call(move |conn| {
            let mut ready = Vec::new();
            for cancel in seller_cancels::pending(conn, &name)? {
                let request = request(conn, &cancel)?;
                ready.push((cancel, request));
            }
            Ok(ready)
        })
        .await?;
    let (unsure, mut to_send): (Vec<_>, Vec<_>) =
        pending.into_iter().partition(|(c, _)| c.sent_before);
    let mut stock_moved = false;
    if !unsure.is_empty() {
        let cancels: Vec<_> = unsure.iter().map(|(c, _)| c.clone()).collect();
        stock_moved |= reread(channel, ctx, &cancels).await?;
        for (cancel, request) in unsure {
            match applied(ctx, &cancel).await? {
                true => settle(channel, ctx, &cancel, Confirmation::Confirmed, None).await?,
                false => to_send.push((cancel, request)),
            }
        }
    }
    let mut already = Vec::new();
    for (cancel, request) in to_send {
        let id = cancel.id;
        ctx.store
            .call(move |conn| seller_cancels::mark_sent(conn, id, &store::now_text()))
            .await?;
        match channel.marketplace.cancel(&request).await {
            Ok(()) => settle(channel, ctx, &cancel, Confirmation::Confirmed, None).await?,
            Err(ConnectorError::AlreadyDone(_)) => already.push(cancel),
            Err(ConnectorError::Permanent { code, message }) => {
                let words = code.map_or(message.clone(), |c| format!("{c}: {message}"));
                settle(channel, ctx, &cancel, Confirmation::Rejected, Some(words)).await?;
            }
            Err(e @ ConnectorError::Auth(_)) => return Err(Error::Marketplace(e)),
            // Uncertain (it may have been applied) or not sent: the next cycle re-reads the
            // order before sending it again.
            Err(e) => {
                tracing::warn!(order = %cancel.order_id, "cancellation not confirmed yet: {e}")
            }
        }
    }
    if already.is_empty() {
        return Ok(stock_moved);
    }
    stock_moved |= reread(channel, ctx, &already).await?;
    for cancel in already {
        if applied(ctx, &cancel).await? {
            settle(channel, ctx, &cancel, Confirmation::Confirmed, None).await?;
        } else {
            let words = "the marketplace refused it: the order shows the lines not cancelled";
            settle(
                channel,
                ctx,
                &cancel,
                Confirmation::Rejected,
                Some(words.to_owned()),
            )
            .await?;
        }
    }
    Ok(stock_moved)
}

/// Re-reads the orders of `cancels` and takes in what the marketplace shows; returns whether
/// that moved stock.
async fn reread(
    channel: &Channel,
    ctx: &Context,
    cancels: &[PendingCancel],
) -> Result<bool, Error> {
    let ids: Vec<String> = cancels.iter().map(|c| c.order_id.clone()).collect();
    let fresh = channel.marketplace.orders_by_id(&ids).await?;
    Ok(ingest::run(channel, ctx, fresh, Vec::new())
        .await?
        .stock_moved)
}

/// Whether the order as last read shows `cancel` applied.
async fn applied(ctx: &Context, cancel: &PendingCancel) -> Result<bool, Error> {
    let cancel = cancel.clone();
    let applied = ctx
        .store
        .call(move |conn| {
            let order = orders::payload(conn, cancel.order_pk)?;
            let reported = cancellations::seller_units_by_line(conn, cancel.order_pk)?;
            let asked = seller_cancels::cancelled_units(conn, cancel.order_pk)?;
            Ok(shows_applied(&order, &reported, &asked, &cancel.lines))
        })
        .await?;
    Ok(applied)
}

/// Judged on the cancellation's own lines (a Fnac `refund_order` of some lines leaves the
/// order itself as it was): each line cancelled or refunded, or the units the marketplace
/// `reported` taken back for the seller covering every unit the seller `asked` on it.
fn shows_applied(
    order: &Order,
    reported: &HashMap<String, u32>,
    asked: &[Units],
    lines: &[Units],
) -> bool {
    lines.iter().all(|units| {
        let status = order
            .lines
            .iter()
            .find(|l| l.id == units.line_id)
            .map_or(order.state.status, |l| l.state.status);
        let asked: u32 = asked
            .iter()
            .filter(|u| u.line_id == units.line_id)
            .map(|u| u.quantity)
            .sum();
        let reported = reported.get(&units.line_id).copied().unwrap_or(0);
        matches!(status, OrderStatus::Cancelled | OrderStatus::Refunded) || reported >= asked
    })
}

/// The request for the marketplace: each line's amount from its price, and whether every
/// unit of the order left goes (nothing shipped, the rest cancelled already).
fn request(conn: &rusqlite::Connection, cancel: &PendingCancel) -> store::Result<SellerCancel> {
    let order = orders::payload(conn, cancel.order_pk)?;
    let owed = shipments::units_to_ship(conn, cancel.order_pk)?;
    let shipped = shipments::shipped_units(conn, cancel.order_pk)?;
    let lines = cancel
        .lines
        .iter()
        .map(|units| {
            let line = order.lines.iter().find(|l| l.id == units.line_id);
            let amount = line.map_or(Decimal::ZERO, |l| {
                l.price.amount / Decimal::from(l.quantity.max(1)) * Decimal::from(units.quantity)
            });
            CancelLine {
                line_id: units.line_id.clone(),
                quantity: units.quantity,
                amount: Money::new(amount.round_dp(2), order.total.currency.clone()),
            }
        })
        .collect();
    // This cancellation and the seller's earlier ones together take every unit owed.
    let cancelled = seller_cancels::cancelled_units(conn, cancel.order_pk)?;
    let whole_order = shipped.is_empty()
        && owed.iter().all(|(line, quantity)| {
            let gone: u32 = cancelled
                .iter()
                .filter(|u| &u.line_id == line)
                .map(|u| u.quantity)
                .sum();
            gone >= *quantity
        });
    Ok(SellerCancel {
        order_id: cancel.order_id.clone(),
        reason: cancel.reason.clone(),
        lines,
        whole_order,
    })
}

async fn settle(
    channel: &Channel,
    ctx: &Context,
    cancel: &PendingCancel,
    outcome: Confirmation,
    words: Option<String>,
) -> Result<(), Error> {
    let (name, cancel) = (channel.name().to_owned(), cancel.clone());
    ctx.store
        .call(move |conn| {
            let now = store::now_text();
            let tx = conn.transaction()?;
            seller_cancels::settle(&tx, cancel.id, outcome, words.as_deref(), &now)?;
            if outcome == Confirmation::Rejected {
                let text = format!(
                    "{name}:{}: the marketplace did not take the seller's cancellation ({}): {}",
                    cancel.order_id,
                    cancel.reason,
                    words.as_deref().unwrap_or_default()
                );
                let key = alert_keys::seller_cancel_rejected(&name, &cancel.order_id, cancel.id);
                let alert = Alert::new(AlertKind::SellerCancelRejected, key, text)
                    .order(&name, &cancel.order_id);
                alerts::raise(&tx, &alert, &now)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await?;
    ctx.delivery.notify_one();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_orders;

    fn units(line: &str, quantity: u32) -> Units {
        Units {
            line_id: line.into(),
            quantity,
        }
    }

    #[test]
    fn a_cancellation_is_judged_on_its_own_lines() {
        // Two lines, the order itself still accepted (Fnac after a `refund_order` of one).
        let mut order = test_orders::order(&[("A", 1), ("B", 2)], 50, None);
        let refunded = vigie_connector::MarketplaceState::new("Refunded", OrderStatus::Refunded);
        order.lines[1].state = refunded;
        let none = HashMap::new();
        assert!(shows_applied(
            &order,
            &none,
            &[units("l1", 2)],
            &[units("l1", 2)]
        ));
        assert!(!shows_applied(
            &order,
            &none,
            &[units("l0", 1)],
            &[units("l0", 1)]
        ));
        // Part of a line (Mirakl OR30): the units reported cover every unit asked, this
        // cancellation's and the seller's earlier ones.
        let reported = HashMap::from([("l0".to_owned(), 1)]);
        let asked = [units("l0", 1)];
        assert!(shows_applied(&order, &reported, &asked, &asked));
        let asked_twice = [units("l0", 1), units("l0", 1)];
        assert!(!shows_applied(&order, &reported, &asked_twice, &asked));
    }
}
