//! Per-channel bookkeeping: polling cursors, loop health, quarantined payloads.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use vigie_connector::Malformed;

use super::Result;

pub fn cursor(conn: &Connection, channel: &str, name: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT value FROM cursors WHERE channel = ?1 AND name = ?2",
            params![channel, name],
            |row| row.get(0),
        )
        .optional()?)
}

/// Moves a cursor; call it in the transaction that commits the batch it covers.
pub fn set_cursor(
    tx: &Transaction<'_>,
    channel: &str,
    name: &str,
    value: &str,
    now: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO cursors (channel, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (channel, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![channel, name, value, now],
    )?;
    Ok(())
}

/// Keeps an unreadable payload for a human; the same payload twice is kept once.
/// Returns whether it was new.
pub fn quarantine(
    tx: &Transaction<'_>,
    channel: &str,
    item: &Malformed,
    now: &str,
) -> Result<bool> {
    let inserted = tx.execute(
        "INSERT INTO quarantine (channel, order_id, error, payload, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (channel, payload) DO NOTHING",
        params![channel, item.order_id, item.error, item.payload, now],
    )?;
    Ok(inserted == 1)
}

/// Records the end of one poll; returns the channel's consecutive failures so far.
pub fn record_poll(
    conn: &Connection,
    channel: &str,
    now: &str,
    failure: Option<(&str, &str)>,
) -> Result<u32> {
    match failure {
        None => conn.execute(
            "INSERT INTO channel_status (channel, last_poll_at, last_success_at, consecutive_failures)
             VALUES (?1, ?2, ?2, 0)
             ON CONFLICT (channel) DO UPDATE SET last_poll_at = ?2, last_success_at = ?2,
                consecutive_failures = 0",
            params![channel, now],
        )?,
        Some((class, message)) => conn.execute(
            "INSERT INTO channel_status (channel, last_poll_at, last_error, last_error_class,
                consecutive_failures)
             VALUES (?1, ?2, ?3, ?4, 1)
             ON CONFLICT (channel) DO UPDATE SET last_poll_at = ?2, last_error = ?3,
                last_error_class = ?4, consecutive_failures = consecutive_failures + 1",
            params![channel, now, message, class],
        )?,
    };
    Ok(conn.query_row(
        "SELECT consecutive_failures FROM channel_status WHERE channel = ?1",
        params![channel],
        |r| r.get(0),
    )?)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChannelHealth {
    pub channel: String,
    pub last_poll_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_class: Option<String>,
    pub consecutive_failures: u32,
}

pub fn health(conn: &Connection) -> Result<Vec<ChannelHealth>> {
    let mut stmt = conn.prepare(
        "SELECT channel, last_poll_at, last_success_at, last_error, last_error_class,
                consecutive_failures
         FROM channel_status ORDER BY channel",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok(ChannelHealth {
            channel: row.get(0)?,
            last_poll_at: row.get(1)?,
            last_success_at: row.get(2)?,
            last_error: row.get(3)?,
            last_error_class: row.get(4)?,
            consecutive_failures: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
