//! Marketplace payloads that could not be read, kept verbatim for a human.

use rusqlite::{Connection, params};
use vigie_connector::Malformed;

use super::Result;

/// Keeps an unreadable payload; the same payload twice is kept once. Returns the new row's
/// id, or `None` when it was already kept.
pub fn keep(conn: &Connection, channel: &str, item: &Malformed, now: &str) -> Result<Option<i64>> {
    let inserted = conn.execute(
        "INSERT INTO quarantine (channel, order_id, error, payload, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (channel, payload) DO NOTHING",
        params![channel, item.order_id, item.error, item.payload, now],
    )?;
    Ok((inserted == 1).then(|| conn.last_insert_rowid()))
}

pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM quarantine", [], |r| r.get(0))?)
}
