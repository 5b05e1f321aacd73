//! What each channel was last told about each SKU, and the stock batches the marketplace is
//! still applying, with when to ask about each next.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::state::read_time;
use super::{Result, StoreError, time_text};

/// The quantities last pushed to `channel`, by SKU.
pub fn told(conn: &Connection, channel: &str) -> Result<BTreeMap<String, i64>> {
    let mut stmt = conn.prepare("SELECT sku, quantity FROM stock_pushed WHERE channel = ?1")?;
    let rows = stmt.query_map(params![channel], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records quantities sent to `channel` with the marketplace's ticket for the batch, to be
/// asked about at `first_look`.
pub fn record(
    tx: &Connection,
    channel: &str,
    ticket: &str,
    items: &[(String, u32)],
    now: &str,
    first_look: Timestamp,
) -> Result<()> {
    // One statement for the batch: a first push to a big catalogue is 100,000 rows.
    let mut told = tx.prepare_cached(
        "INSERT INTO stock_pushed (channel, sku, quantity, pushed_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (channel, sku) DO UPDATE SET quantity = excluded.quantity,
            pushed_at = excluded.pushed_at",
    )?;
    for (sku, quantity) in items {
        told.execute(params![channel, sku, quantity, now])?;
    }
    let items = serde_json::to_string(items).map_err(|e| StoreError::Data(e.to_string()))?;
    tx.execute(
        "INSERT OR REPLACE INTO stock_push_tickets (channel, ticket, items, submitted_at,
            looks, next_look_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        params![channel, ticket, items, now, time_text(first_look)],
    )?;
    Ok(())
}

/// Forgets what `channel` was told for `skus`, so the next push sends them again.
pub fn forget(conn: &Connection, channel: &str, skus: &[String]) -> Result<()> {
    let mut forget =
        conn.prepare_cached("DELETE FROM stock_pushed WHERE channel = ?1 AND sku = ?2")?;
    for sku in skus {
        forget.execute(params![channel, sku])?;
    }
    Ok(())
}

/// A batch the marketplace is still applying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTicket {
    pub ticket: String,
    /// The SKUs it carries.
    pub skus: Vec<String>,
    /// How many times the marketplace was asked about it and said it was still pending.
    pub looks: u32,
    /// When to ask next; `None`: at once (a batch recorded before looks were paced).
    pub next_look_at: Option<Timestamp>,
}

/// Batches still being applied by `channel`, oldest first.
pub fn open_tickets(conn: &Connection, channel: &str) -> Result<Vec<OpenTicket>> {
    let mut stmt = conn.prepare(
        "SELECT ticket, items, looks, next_look_at FROM stock_push_tickets WHERE channel = ?1
         ORDER BY submitted_at",
    )?;
    let rows: Vec<(String, String, u32, Option<String>)> = stmt
        .query_map(params![channel], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(ticket, items, looks, next_look_at)| {
            let row = format!("stock batch {channel}/{ticket}");
            let items: Vec<(String, u32)> = serde_json::from_str(&items)
                .map_err(|e| StoreError::Data(format!("{row}: items: {e}")))?;
            Ok(OpenTicket {
                next_look_at: next_look_at.map(|t| read_time(&t, &row)).transpose()?,
                ticket,
                skus: items.into_iter().map(|(sku, _)| sku).collect(),
                looks,
            })
        })
        .collect()
}

/// The marketplace said the batch is still being applied: ask again at `next_look_at`.
pub fn looked(
    conn: &Connection,
    channel: &str,
    ticket: &str,
    next_look_at: Timestamp,
) -> Result<()> {
    conn.execute(
        "UPDATE stock_push_tickets SET looks = looks + 1, next_look_at = ?3
         WHERE channel = ?1 AND ticket = ?2",
        params![channel, ticket, time_text(next_look_at)],
    )?;
    Ok(())
}

pub fn close_ticket(conn: &Connection, channel: &str, ticket: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM stock_push_tickets WHERE channel = ?1 AND ticket = ?2",
        params![channel, ticket],
    )?;
    Ok(())
}
