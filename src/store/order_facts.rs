//! What a customer message states about an order beyond its payload: the lines refused and
//! why, the stored deadline.

use rusqlite::{Connection, OptionalExtension};
use vigie_connector::Order;

use super::{Result, StoreError};

/// The lines the seller refused, each with its rule codes (`insufficient_stock`...).
pub fn refused_lines(conn: &Connection, order_pk: i64) -> Result<Vec<(String, Vec<String>)>> {
    let mut stmt =
        conn.prepare("SELECT line_id, reasons FROM decisions WHERE order_pk = ?1 AND accept = 0")?;
    let rows = stmt
        .query_map([order_pk], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(line_id, codes)| {
            let codes = serde_json::from_str(&codes).map_err(|e| {
                StoreError::Data(format!(
                    "decision for order {order_pk} line {line_id}: unreadable reasons {codes:?}: {e}"
                ))
            })?;
            Ok((line_id, codes))
        })
        .collect()
}

/// The acceptance deadline vigie computed for the order, if any.
pub fn deadline(conn: &Connection, order_pk: i64) -> Result<Option<jiff::Timestamp>> {
    let text: Option<String> = conn
        .query_row(
            "SELECT deadline_at FROM orders WHERE id = ?1",
            [order_pk],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    text.map(|t| {
        t.parse().map_err(|e| {
            StoreError::Data(format!("order {order_pk}: unreadable deadline {t:?}: {e}"))
        })
    })
    .transpose()
}

/// A stored order by its marketplace id: its row id and its payload.
pub fn find(conn: &Connection, channel: &str, order_id: &str) -> Result<Option<(i64, Order)>> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, payload FROM orders WHERE channel = ?1 AND order_id = ?2",
            [channel, order_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    row.map(|(pk, payload)| {
        let order = serde_json::from_str(&payload)
            .map_err(|e| StoreError::Data(format!("stored order {pk}: {e}")))?;
        Ok((pk, order))
    })
    .transpose()
}
