//! A human's decision on an order vigie held: recorded in the store like any other decision,
//! so the running daemon sends it on its next cycle.

use rusqlite::Transaction;
use vigie_connector::OrderStatus;

use crate::store::decisions::{self, Decision, Source};
use crate::store::reservations::{self, LineUnits, ReservationState};
use crate::store::stock::{self, Hold};
use crate::store::{self, StoreError, flags, history, orders};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no order {0} (see `vigie orders`)")]
    UnknownOrder(String),
    #[error("order {order} is {status}, not awaiting acceptance")]
    NotAwaiting { order: String, status: OrderStatus },
    #[error("order {0} was already decided")]
    AlreadyDecided(String),
    #[error(
        "not enough stock to accept {order}: {sku} needs {needed}, {available} available; refuse it or add stock"
    )]
    NotEnoughStock {
        order: String,
        sku: String,
        needed: u32,
        available: i64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ReviewError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

/// A person's verdict on one held order.
#[derive(Debug, Clone, Copy)]
pub struct Verdict<'a> {
    pub accept: bool,
    /// Why, kept with the decision.
    pub note: Option<&'a str>,
    /// Who decided, for the order's history (`command line`, a name given at login, `api`).
    pub actor: &'a str,
}

/// Accepts or refuses every line of `channel:order_id`, inside the caller's transaction (so
/// the seller API can record its answer in the same commit).
pub fn decide(
    tx: &Transaction<'_>,
    channel: &str,
    order_id: &str,
    verdict: Verdict<'_>,
    safety_buffer: u32,
) -> Result<(), ReviewError> {
    let Verdict {
        accept,
        note,
        actor,
    } = verdict;
    let label = format!("{channel}:{order_id}");
    let now = store::now_text();
    let order = orders::find(tx, channel, order_id)?
        .ok_or_else(|| ReviewError::UnknownOrder(label.clone()))?;
    if order.status != OrderStatus::AwaitingAcceptance {
        return Err(ReviewError::NotAwaiting {
            order: label,
            status: order.status,
        });
    }
    if decisions::is_decided(tx, order.pk)? {
        return Err(ReviewError::AlreadyDecided(label));
    }
    let held: Vec<String> = reservations::of_order(tx, order.pk)?
        .into_iter()
        .filter(|r| r.state == ReservationState::Held)
        .map(|r| r.line_id)
        .collect();
    for line in orders::lines(tx, order.pk)? {
        if accept && !held.contains(&line.line_id) {
            let units = LineUnits {
                order_pk: order.pk,
                line_id: &line.line_id,
                sku: &line.sku,
                quantity: line.quantity,
            };
            if let Hold::Short { available } =
                stock::hold_if_available(tx, units, safety_buffer, &now)?
            {
                return Err(ReviewError::NotEnoughStock {
                    order: label,
                    sku: line.sku,
                    needed: line.quantity,
                    available: available.max(0),
                });
            }
        }
        let decision = Decision {
            accept,
            reasons: &[],
            source: Source::Review,
            note,
        };
        decisions::record(tx, order.pk, &line.line_id, decision, &now)?;
    }
    if !accept {
        reservations::settle(tx, order.pk, None, ReservationState::Released, &now)?;
    }
    flags::resolve(tx, order.pk, &now)?;
    let action = if accept { "accept" } else { "refuse" };
    history::record_action(tx, order.pk, actor, action, note, &now)?;
    Ok(())
}
