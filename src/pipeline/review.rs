//! A human's decision on an order vigie held: recorded in the store like any other decision,
//! so the running daemon sends it on its next cycle.

use rusqlite::Connection;
use vigie_connector::OrderStatus;

use crate::store::decisions::{self, Decision, Source};
use crate::store::reservations::{self, LineUnits, ReservationState};
use crate::store::stock::{self, Hold};
use crate::store::{self, StoreError, flags, orders};

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

/// Accepts or refuses every line of `channel:order_id`.
pub fn decide(
    conn: &mut Connection,
    channel: &str,
    order_id: &str,
    accept: bool,
    note: Option<&str>,
    safety_buffer: u32,
) -> Result<(), ReviewError> {
    let label = format!("{channel}:{order_id}");
    let now = store::now_text();
    let tx = conn.transaction()?;
    let order = orders::find(&tx, channel, order_id)?
        .ok_or_else(|| ReviewError::UnknownOrder(label.clone()))?;
    if order.status != OrderStatus::AwaitingAcceptance {
        return Err(ReviewError::NotAwaiting {
            order: label,
            status: order.status,
        });
    }
    if decisions::is_decided(&tx, order.pk)? {
        return Err(ReviewError::AlreadyDecided(label));
    }
    let held: Vec<String> = reservations::of_order(&tx, order.pk)?
        .into_iter()
        .filter(|r| r.state == ReservationState::Held)
        .map(|r| r.line_id)
        .collect();
    for line in orders::lines(&tx, order.pk)? {
        if accept && !held.contains(&line.line_id) {
            let units = LineUnits {
                order_pk: order.pk,
                line_id: &line.line_id,
                sku: &line.sku,
                quantity: line.quantity,
            };
            if let Hold::Short { available } =
                stock::hold_if_available(&tx, units, safety_buffer, &now)?
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
        decisions::record(&tx, order.pk, &line.line_id, decision, &now)?;
    }
    if !accept {
        reservations::settle(&tx, order.pk, None, ReservationState::Released, &now)?;
    }
    flags::resolve(&tx, order.pk, &now)?;
    tx.commit()?;
    Ok(())
}
