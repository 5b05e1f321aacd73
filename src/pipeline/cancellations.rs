//! Lines the marketplace cancelled or refunded, whoever asked: each cancellation recorded
//! once, with who and why; its units released when they had not shipped (a return stays out
//! of stock until the seller's next snapshot counts it back); the customer and the seller's
//! systems told, once per order and event.

use jiff::Timestamp;
use rusqlite::Transaction;
use vigie_connector::{CancellationKind, Order, OrderStatus};

use super::settings::Settings;
use crate::delivery;
use crate::domain::cancellation::{self, Circumstances};
use crate::events::OrderEvent;
use crate::store::reservations::{self, ReservationState};
use crate::store::{self, cancellations, seller_cancels};

/// What the order's cancellations did this time.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct TakenBack {
    pub stock_moved: bool,
    /// One line per new cancellation, for the log.
    pub log: Vec<String>,
}

/// Records the order's new cancellations and carries them out. `before`: the order's status
/// as stored before this poll, `None` on first sight (history: recorded, nobody told, and no
/// units were held for it). `deadline`: the order's acceptance deadline.
pub(super) fn follow(
    tx: &Transaction<'_>,
    s: &Settings<'_>,
    order_pk: i64,
    order: &Order,
    before: Option<OrderStatus>,
    deadline: Timestamp,
    now: &str,
) -> store::Result<TakenBack> {
    let mut done = TakenBack::default();
    let mut events = Vec::new();
    let awaiting_acceptance = matches!(
        before,
        None | Some(OrderStatus::AwaitingAcceptance | OrderStatus::Pending)
    );
    // Lines the seller asked to cancel (`vigie cancel`) and the marketplace did not refuse.
    let seller_asked = seller_cancels::cancelled_units(tx, order_pk)?;
    for line in &order.lines {
        let by = cancellation::cancelled_by(Circumstances {
            seller_asked: seller_asked.iter().any(|u| u.line_id == line.id),
            awaiting_acceptance,
            past_deadline: order.updated_at >= deadline,
        });
        for taken in &line.cancellations {
            if !cancellations::record(tx, order_pk, &line.id, taken, by, now)? || before.is_none() {
                continue;
            }
            let units = if taken.after_shipping {
                // Units vigie never saw ship: they left the warehouse all the same.
                let only = [line.id.clone()];
                reservations::settle(tx, order_pk, Some(&only), ReservationState::Consumed, now)?
                    as u32
            } else {
                reservations::release_units(tx, order_pk, &line.id, taken.quantity, now)?
            };
            done.stock_moved |= units > 0;
            done.log.push(format!(
                "{}:{} line {} {} {} unit(s) by {} ({}): {units} unit(s) {}",
                s.channel,
                order.id,
                line.id,
                taken.kind.as_str(),
                taken.quantity,
                by.as_str(),
                taken.reason.as_deref().unwrap_or("no reason given"),
                if taken.after_shipping {
                    "left stock"
                } else {
                    "released"
                },
            ));
            let event = match taken.kind {
                CancellationKind::Cancelled => OrderEvent::Cancelled,
                CancellationKind::Refunded => OrderEvent::Refunded,
            };
            if !events.contains(&event) {
                events.push(event);
            }
        }
    }
    if !s.dry_run {
        for event in events {
            delivery::enqueue(tx, s.config, s.channel, order_pk, event, order, now)?;
        }
    }
    Ok(done)
}
