//! Orders held for a human, with the rule codes that held them.

use rusqlite::{Connection, params};

use super::{Result, StoreError};

pub fn flag(conn: &Connection, order_pk: i64, reasons: &[&str], now: &str) -> Result<()> {
    let reasons = serde_json::to_string(reasons).map_err(|e| StoreError::Data(e.to_string()))?;
    conn.execute(
        "INSERT INTO flags (order_pk, reasons, flagged_at) VALUES (?1, ?2, ?3)",
        params![order_pk, reasons, now],
    )?;
    Ok(())
}

/// Whether the order was ever flagged (resolved or not): rules judge an order once.
pub fn was_flagged(conn: &Connection, order_pk: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM flags WHERE order_pk = ?1)",
        params![order_pk],
        |r| r.get(0),
    )?)
}

/// The order no longer waits for a human.
pub fn resolve(conn: &Connection, order_pk: i64, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE flags SET resolved_at = ?2 WHERE order_pk = ?1 AND resolved_at IS NULL",
        params![order_pk, now],
    )?;
    Ok(())
}
