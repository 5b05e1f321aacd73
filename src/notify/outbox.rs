//! The outbox table: one row per (order, event, destination), claimed and settled by the
//! worker. A row is committed 'sending' before its send starts, so a crash can never leave a
//! message that looks unsent but was sent.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::store::Result;

/// A claimed (or interrupted) row, with the order it belongs to.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub order_pk: i64,
    pub channel: String,
    pub order_id: String,
    pub event: String,
    pub destination: String,
    /// Including the one just claimed.
    pub attempts: u32,
    pub payload: String,
}

const ROW_COLUMNS: &str = "o.id, o.order_pk, d.channel, d.order_id, o.event, o.destination, \
                           o.attempts, o.payload";

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: row.get(0)?,
        order_pk: row.get(1)?,
        channel: row.get(2)?,
        order_id: row.get(3)?,
        event: row.get(4)?,
        destination: row.get(5)?,
        attempts: row.get(6)?,
        payload: row.get(7)?,
    })
}

/// Writes a pending row; `false` when the same (order, event, destination) already exists.
pub fn insert(
    tx: &Transaction<'_>,
    order_pk: i64,
    event: &str,
    destination: &str,
    payload: &str,
    now: &str,
) -> Result<bool> {
    let inserted = tx.execute(
        "INSERT INTO outbox (order_pk, event, destination, next_attempt_at, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?4)
         ON CONFLICT (order_pk, event, destination) DO NOTHING",
        params![order_pk, event, destination, now, payload],
    )?;
    Ok(inserted == 1)
}

/// Start-up: rows left 'sending' by a process that died mid-send become 'uncertain'. They are
/// returned so each can raise an alert in the same transaction (a crash in between would
/// leave an uncertain message nobody hears of); they are never sent again automatically.
pub fn mark_interrupted(tx: &Transaction<'_>) -> Result<Vec<Row>> {
    let rows = {
        let mut stmt = tx.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM outbox o JOIN orders d ON d.id = o.order_pk
             WHERE o.state = 'sending' ORDER BY o.id"
        ))?;
        stmt.query_map([], read_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    tx.execute(
        "UPDATE outbox SET state = 'uncertain',
            last_error = 'interrupted while sending: it may or may not have reached the customer',
            sent_at = NULL
         WHERE state = 'sending'",
        [],
    )?;
    Ok(rows)
}

/// Claims the next due row whose destination matches `glob` (SQLite GLOB), committing it as
/// 'sending' before returning it.
pub fn claim_next(conn: &mut Connection, glob: &str, now: &str) -> Result<Option<Row>> {
    let tx = conn.transaction()?;
    let id: Option<i64> = tx
        .query_row(
            "SELECT id FROM outbox
             WHERE state = 'pending' AND next_attempt_at <= ?2 AND destination GLOB ?1
             ORDER BY next_attempt_at, id LIMIT 1",
            params![glob, now],
            |row| row.get(0),
        )
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    tx.execute(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?1",
        [id],
    )?;
    let row = tx.query_row(
        &format!(
            "SELECT {ROW_COLUMNS} FROM outbox o JOIN orders d ON d.id = o.order_pk
             WHERE o.id = ?1"
        ),
        [id],
        read_row,
    )?;
    tx.commit()?;
    Ok(Some(row))
}

/// Whether some row matching `glob` is due now (used to keep draining).
pub fn has_due(conn: &Connection, glob: &str, now: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM outbox
             WHERE state = 'pending' AND next_attempt_at <= ?2 AND destination GLOB ?1 LIMIT 1",
            params![glob, now],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

// The outcomes below only move a row this process claimed ('sending'): a row another start
// already marked 'uncertain' stays for a human, never back to 'pending'.

pub fn mark_sent(conn: &Connection, id: i64, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET state = 'sent', sent_at = ?2, last_error = NULL
         WHERE id = ?1 AND state = 'sending'",
        params![id, now],
    )?;
    Ok(())
}

/// A transient failure: back to 'pending', due again at `next_attempt_at`.
pub fn retry_later(conn: &Connection, id: i64, next_attempt_at: &str, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, last_error = ?3
         WHERE id = ?1 AND state = 'sending'",
        params![id, next_attempt_at, error],
    )?;
    Ok(())
}

pub fn mark_failed(conn: &Connection, id: i64, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET state = 'failed', last_error = ?2 WHERE id = ?1 AND state = 'sending'",
        params![id, error],
    )?;
    Ok(())
}

/// Rows per state, for `vigie status` and tests.
pub fn counts(conn: &Connection) -> Result<std::collections::BTreeMap<String, i64>> {
    let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
    let counts = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(counts)
}
