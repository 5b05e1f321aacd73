//! Per-channel bookkeeping: polling cursors and loop health.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use super::Result;
use super::state::read_time;

/// The time a polling cursor stands at, if it was ever moved.
pub fn cursor(conn: &Connection, channel: &str, name: &str) -> Result<Option<Timestamp>> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM cursors WHERE channel = ?1 AND name = ?2",
            params![channel, name],
            |row| row.get(0),
        )
        .optional()?;
    value
        .map(|v| read_time(&v, format!("cursor {channel}/{name}")))
        .transpose()
}

/// Moves a cursor; call it in the transaction that commits the batch it covers.
pub fn set_cursor(
    tx: &Transaction<'_>,
    channel: &str,
    name: &str,
    at: Timestamp,
    now: &str,
) -> Result<()> {
    let value = super::time_text(at);
    tx.execute(
        "INSERT INTO cursors (channel, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (channel, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![channel, name, value, now],
    )?;
    Ok(())
}

/// Whether the channel's first import (every order still holding stock) is done; until it
/// is, nothing is decided on the channel and nothing pushed to it.
pub fn first_import_done(conn: &Connection, channel: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM first_imports WHERE channel = ?1)",
        params![channel],
        |r| r.get(0),
    )?)
}

/// Records the first import done with `orders` orders; call it in the transaction that
/// commits them.
pub fn record_first_import(
    tx: &Transaction<'_>,
    channel: &str,
    orders: usize,
    now: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO first_imports (channel, orders, done_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (channel) DO NOTHING",
        params![channel, orders as i64, now],
    )?;
    Ok(())
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
