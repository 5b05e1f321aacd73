//! The stock ledger's tables: units on hand per SKU, reservations per order line, and what
//! each channel was last told.
//!
//! available = on hand − units reserved (held or confirmed) − safety buffers. A reservation is
//! `held` from the moment an order awaiting acceptance is seen, `confirmed` once the
//! marketplace has the acceptance, `released` when the line is refused or cancelled, and
//! `consumed` when the order ships: the units then leave `on_hand` too.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Result, StoreError};

/// One SKU as an inventory snapshot states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockItem {
    pub sku: String,
    pub quantity: u32,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Replaces the whole inventory with `items`: SKUs absent from the snapshot have none left.
pub fn replace_all(tx: &Connection, items: &[StockItem], now: &str) -> Result<()> {
    tx.execute(
        "UPDATE stock SET on_hand = 0, updated_at = ?1",
        params![now],
    )?;
    for item in items {
        set(tx, item, now)?;
    }
    Ok(())
}

/// Sets one SKU's units on hand and tags.
pub fn set(conn: &Connection, item: &StockItem, now: &str) -> Result<()> {
    let tags = serde_json::to_string(&item.tags).map_err(|e| StoreError::Data(e.to_string()))?;
    conn.execute(
        "INSERT INTO stock (sku, on_hand, tags, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand, tags = excluded.tags,
            updated_at = excluded.updated_at",
        params![item.sku, item.quantity, tags, now],
    )?;
    Ok(())
}

/// Whether any inventory was ever loaded; without one vigie decides nothing.
pub fn has_inventory(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM stock)", [], |r| r.get(0))?)
}

/// available = on hand − live reservations − the global and per-SKU buffers: the one
/// formula for deciding orders and for what channels are offered. `?1` is the global buffer.
const AVAILABLE: &str =
    "SELECT s.sku, s.on_hand - COALESCE(SUM(r.quantity), 0) - ?1 - COALESCE(s.safety_buffer, 0)
     FROM stock s
     LEFT JOIN reservations r ON r.sku = s.sku AND r.state IN ('held', 'confirmed')";

/// Units of `sku` that can still be promised (0 for a SKU the inventory does not list).
pub fn available(conn: &Connection, sku: &str, global_buffer: u32) -> Result<i64> {
    let sql = format!("{AVAILABLE} WHERE s.sku = ?2 GROUP BY s.sku");
    let available = conn
        .query_row(&sql, params![global_buffer, sku], |r| r.get(1))
        .optional()?;
    Ok(available.unwrap_or(0))
}

pub fn reserved(conn: &Connection, sku: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(quantity), 0) FROM reservations
         WHERE sku = ?1 AND state IN ('held', 'confirmed')",
        params![sku],
        |r| r.get(0),
    )?)
}

pub fn tags(conn: &Connection, sku: &str) -> Result<Vec<String>> {
    let text: Option<String> = conn
        .query_row("SELECT tags FROM stock WHERE sku = ?1", params![sku], |r| {
            r.get(0)
        })
        .optional()?;
    text.map_or(Ok(Vec::new()), |t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Data(format!("tags of {sku}: {e}")))
    })
}

/// Holds units for one order line (`state` is `held`, or `confirmed` for an order the
/// marketplace accepted on its own).
pub fn reserve(
    tx: &Connection,
    order_pk: i64,
    line_id: &str,
    sku: &str,
    quantity: u32,
    state: &str,
    now: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO reservations (order_pk, line_id, sku, quantity, state, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![order_pk, line_id, sku, quantity, state, now],
    )?;
    Ok(())
}

/// Makes sure an accepted line holds its units as `confirmed`: reserves it if it had no
/// reservation, takes a released one back (the marketplace accepted what vigie refused).
/// Returns whether availability changed.
pub fn hold_confirmed(
    conn: &Connection,
    order_pk: i64,
    line_id: &str,
    sku: &str,
    quantity: u32,
    now: &str,
) -> Result<bool> {
    let state: Option<String> = conn
        .query_row(
            "SELECT state FROM reservations WHERE order_pk = ?1 AND line_id = ?2",
            params![order_pk, line_id],
            |r| r.get(0),
        )
        .optional()?;
    let (moved, sql) = match state.as_deref() {
        None => {
            reserve(conn, order_pk, line_id, sku, quantity, "confirmed", now)?;
            return Ok(true);
        }
        Some("released") => (
            true,
            "UPDATE reservations SET state = 'confirmed', updated_at = ?3 WHERE order_pk = ?1 AND line_id = ?2",
        ),
        Some("held") => (
            false,
            "UPDATE reservations SET state = 'confirmed', updated_at = ?3 WHERE order_pk = ?1 AND line_id = ?2",
        ),
        _ => return Ok(false), // confirmed already, or consumed
    };
    conn.execute(sql, params![order_pk, line_id, now])?;
    Ok(moved)
}

/// Moves the order's live reservations (optionally only `lines`) to `state`; returns the
/// number of units moved.
pub fn settle(
    tx: &Connection,
    order_pk: i64,
    lines: Option<&[String]>,
    state: &str,
    now: &str,
) -> Result<i64> {
    let from = if state == "confirmed" {
        "('held')"
    } else {
        "('held', 'confirmed')"
    };
    let mut moved = 0;
    let mut stmt = tx.prepare(&format!(
        "SELECT line_id, sku, quantity FROM reservations WHERE order_pk = ?1 AND state IN {from}"
    ))?;
    let rows: Vec<(String, String, i64)> = stmt
        .query_map(params![order_pk], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (line_id, sku, quantity) in rows {
        if lines.is_some_and(|only| !only.contains(&line_id)) {
            continue;
        }
        tx.execute(
            "UPDATE reservations SET state = ?3, updated_at = ?4 WHERE order_pk = ?1 AND line_id = ?2",
            params![order_pk, line_id, state, now],
        )?;
        if state == "consumed" {
            // The units left the warehouse: the snapshot no longer counts them.
            tx.execute(
                "UPDATE stock SET on_hand = MAX(on_hand - ?2, 0), updated_at = ?3 WHERE sku = ?1",
                params![sku, quantity, now],
            )?;
        }
        moved += quantity;
    }
    Ok(moved)
}

/// One SKU as `vigie stock show` prints it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StockView {
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub pushed: BTreeMap<String, i64>,
}

pub fn show(conn: &Connection, sku: Option<&str>, global_buffer: u32) -> Result<Vec<StockView>> {
    let mut stmt =
        conn.prepare("SELECT sku, on_hand FROM stock WHERE (?1 IS NULL OR sku = ?1) ORDER BY sku")?;
    let rows: Vec<(String, i64)> = stmt
        .query_map(params![sku], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut pushed_stmt =
        conn.prepare("SELECT channel, quantity FROM stock_pushed WHERE sku = ?1")?;
    rows.into_iter()
        .map(|(sku, on_hand)| {
            let pushed = pushed_stmt
                .query_map(params![sku], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(StockView {
                reserved: reserved(conn, &sku)?,
                available: available(conn, &sku, global_buffer)?.max(0),
                on_hand,
                pushed,
                sku,
            })
        })
        .collect()
}

/// Every SKU with its availability, for computing what each channel should offer.
pub fn all_available(conn: &Connection, global_buffer: u32) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare(&format!("{AVAILABLE} GROUP BY s.sku ORDER BY s.sku"))?;
    let rows = stmt.query_map(params![global_buffer], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn pushed(conn: &Connection, channel: &str) -> Result<BTreeMap<String, i64>> {
    let mut stmt = conn.prepare("SELECT sku, quantity FROM stock_pushed WHERE channel = ?1")?;
    let rows = stmt.query_map(params![channel], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records quantities sent to `channel` with the marketplace's ticket for the batch.
pub fn record_push(
    tx: &Connection,
    channel: &str,
    ticket: &str,
    items: &[(String, u32)],
    now: &str,
) -> Result<()> {
    for (sku, quantity) in items {
        tx.execute(
            "INSERT INTO stock_pushed (channel, sku, quantity, pushed_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (channel, sku) DO UPDATE SET quantity = excluded.quantity,
                pushed_at = excluded.pushed_at",
            params![channel, sku, quantity, now],
        )?;
    }
    let items = serde_json::to_string(items).map_err(|e| StoreError::Data(e.to_string()))?;
    tx.execute(
        "INSERT OR REPLACE INTO stock_push_tickets (channel, ticket, items, submitted_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![channel, ticket, items, now],
    )?;
    Ok(())
}

/// Forgets what `channel` was told for `skus`, so the next push sends them again.
pub fn forget_pushed(conn: &Connection, channel: &str, skus: &[String]) -> Result<()> {
    for sku in skus {
        conn.execute(
            "DELETE FROM stock_pushed WHERE channel = ?1 AND sku = ?2",
            params![channel, sku],
        )?;
    }
    Ok(())
}

/// Batches still being applied by `channel`, with the SKUs each carries.
pub fn open_tickets(conn: &Connection, channel: &str) -> Result<Vec<(String, Vec<String>)>> {
    let mut stmt = conn.prepare(
        "SELECT ticket, items FROM stock_push_tickets WHERE channel = ?1 ORDER BY submitted_at",
    )?;
    let rows: Vec<(String, String)> = stmt
        .query_map(params![channel], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(ticket, items)| {
            let items: Vec<(String, u32)> =
                serde_json::from_str(&items).map_err(|e| StoreError::Data(e.to_string()))?;
            Ok((ticket, items.into_iter().map(|(sku, _)| sku).collect()))
        })
        .collect()
}

pub fn close_ticket(conn: &Connection, channel: &str, ticket: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM stock_push_tickets WHERE channel = ?1 AND ticket = ?2",
        params![channel, ticket],
    )?;
    Ok(())
}
