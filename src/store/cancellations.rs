//! Units of order lines the marketplace cancelled or refunded: one row per cancellation the
//! marketplace reports, however often it reports it, with who asked and why.

use std::collections::HashMap;

use rusqlite::{Connection, params};
use serde::Serialize;
use vigie_connector::{Cancellation, CancellationKind};

use super::Result;
use super::state::StoredState;
use crate::domain::cancellation::CancelledBy;

/// Records `cancellation` of line `line_id`; returns whether it is new (an already recorded
/// one is left as it was).
pub fn record(
    conn: &Connection,
    order_pk: i64,
    line_id: &str,
    cancellation: &Cancellation,
    by: CancelledBy,
    now: &str,
) -> Result<bool> {
    let written = conn.execute(
        "INSERT INTO cancellations (order_pk, line_id, key, kind, quantity, by, reason, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (order_pk, line_id, key) DO NOTHING",
        params![
            order_pk,
            line_id,
            cancellation.key(),
            cancellation.kind.as_str(),
            cancellation.quantity,
            by.as_str(),
            cancellation.reason,
            now
        ],
    )?;
    Ok(written == 1)
}

/// Units per line the marketplace reported cancelled or refunded at the seller's request:
/// the customer's own cancellations do not answer the seller's.
pub fn seller_units_by_line(conn: &Connection, order_pk: i64) -> Result<HashMap<String, u32>> {
    let mut stmt = conn.prepare(
        "SELECT line_id, SUM(quantity) FROM cancellations WHERE order_pk = ?1 AND by = ?2
         GROUP BY line_id",
    )?;
    let units = stmt
        .query_map(params![order_pk, CancelledBy::Seller.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(units)
}

/// One cancellation as `vigie orders --json` prints it (DESIGN section 3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CancellationView {
    pub line_id: String,
    pub quantity: u32,
    pub by: CancelledBy,
    pub reason: Option<String>,
    /// `cancelled` or `refunded`.
    pub kind: CancellationKind,
}

/// The order's cancellations, in the order they were recorded.
pub fn of_order(conn: &Connection, order_pk: i64) -> Result<Vec<CancellationView>> {
    let mut stmt = conn.prepare(
        "SELECT line_id, quantity, by, reason, kind FROM cancellations
         WHERE order_pk = ?1 ORDER BY rowid",
    )?;
    let mut rows = stmt.query(params![order_pk])?;
    let mut views = Vec::new();
    while let Some(r) = rows.next()? {
        let line_id: String = r.get(0)?;
        let row = format!("cancellation of order {order_pk} line {line_id}");
        views.push(CancellationView {
            quantity: r.get(1)?,
            by: CancelledBy::read(&r.get::<_, String>(2)?, &row)?,
            reason: r.get(3)?,
            kind: CancellationKind::read(&r.get::<_, String>(4)?, &row)?,
            line_id,
        });
    }
    Ok(views)
}
