//! Lines the marketplace cancelled or refunded, whoever asked: each cancellation recorded
//! once, with who and why; its units released when they had not shipped (a return stays out
//! of stock until the seller's next snapshot counts it back); the customer and the seller's
//! systems told once per cancellation: a poll's new cancellations of one kind in one
//! message, a later one in another.

use jiff::Timestamp;
use rusqlite::Transaction;
use vigie_connector::{CancellationKind, Order, OrderStatus};

use super::settings::Settings;
use crate::delivery;
use crate::domain::cancellation::{self, Circumstances};
use crate::events::OrderEvent;
use crate::store::outbox::Subject;
use crate::store::reservations;
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
    // Per event, the subject of its message (the first new cancellation) and the order as
    // the customer is told: each line with only the cancellations new in this poll.
    let mut told: Vec<(OrderEvent, Subject, Order)> = Vec::new();
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
                // Units vigie never saw ship: they left the warehouse all the same. Only
                // these: the line's other units may still be on the shelf.
                reservations::consume_units(tx, order_pk, &line.id, taken.quantity, now)?
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
            let index = match told.iter().position(|(e, _, _)| *e == event) {
                Some(index) => index,
                None => {
                    let subject = Subject::Cancellation {
                        line_id: line.id.clone(),
                        key: taken.key(),
                    };
                    let mut only_new = order.clone();
                    for l in &mut only_new.lines {
                        l.cancellations.clear();
                    }
                    told.push((event, subject, only_new));
                    told.len() - 1
                }
            };
            if let Some(l) = told[index].2.lines.iter_mut().find(|l| l.id == line.id) {
                l.cancellations.push(taken.clone());
            }
        }
    }
    if !s.dry_run {
        for (event, subject, order) in told {
            let about = (event, subject);
            delivery::enqueue_about(tx, s.config, s.channel, order_pk, about, &order, now)?;
        }
    }
    Ok(done)
}
