//! A human's decision on an order vigie held: recorded in the store like any other decision,
//! so the running daemon sends it on its next cycle.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::decisions::{self, Decision, Source};
use crate::store::{self, StoreError, stock};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no order {0} (see `vigie orders`)")]
    UnknownOrder(String),
    #[error("order {order} is {status}, not awaiting acceptance")]
    NotAwaiting { order: String, status: String },
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
    let (order_pk, status): (i64, String) = tx
        .query_row(
            "SELECT id, status FROM orders WHERE channel = ?1 AND order_id = ?2",
            params![channel, order_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| ReviewError::UnknownOrder(label.clone()))?;
    if status != "awaiting_acceptance" {
        return Err(ReviewError::NotAwaiting {
            order: label,
            status,
        });
    }
    if decisions::is_decided(&tx, order_pk)? {
        return Err(ReviewError::AlreadyDecided(label));
    }
    let lines: Vec<(String, String, u32)> = {
        let mut stmt = tx.prepare(
            "SELECT line_id, sku, quantity FROM order_lines WHERE order_pk = ?1 ORDER BY rowid",
        )?;
        stmt.query_map(params![order_pk], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let held: Vec<String> = {
        let mut stmt =
            tx.prepare("SELECT line_id FROM reservations WHERE order_pk = ?1 AND state = 'held'")?;
        stmt.query_map(params![order_pk], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    for (line_id, sku, quantity) in &lines {
        if accept && !held.contains(line_id) {
            let available = stock::available(&tx, sku, safety_buffer)?;
            if i64::from(*quantity) > available {
                return Err(ReviewError::NotEnoughStock {
                    order: label,
                    sku: sku.clone(),
                    needed: *quantity,
                    available: available.max(0),
                });
            }
            stock::reserve(&tx, order_pk, line_id, sku, *quantity, "held", &now)?;
        }
        let decision = Decision {
            accept,
            reasons: &[],
            source: Source::Review,
            note,
        };
        decisions::record(&tx, order_pk, line_id, decision, &now)?;
    }
    if !accept {
        stock::settle(&tx, order_pk, None, "released", &now)?;
    }
    decisions::resolve_flag(&tx, order_pk, &now)?;
    tx.commit()?;
    Ok(())
}
