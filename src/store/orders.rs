//! Orders, their lines and their status history.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use vigie_connector::{Order, OrderStatus};

use super::{Result, StoreError};

/// What ingesting one polled order changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// First sight of this order.
    New,
    /// Its normalized status changed (an event for notifications and alerts).
    StatusChanged { from: OrderStatus },
    /// Same status; details may have been refreshed.
    Unchanged,
    /// Older than what is stored (overlapping poll windows), or out of a final state: ignored.
    Stale,
}

/// Upserts `order` idempotently on (channel, order id), its lines, and a history row when
/// its normalized status changed. Runs inside the caller's transaction; returns the order's
/// row id and what changed.
pub fn ingest(
    tx: &Transaction<'_>,
    channel: &str,
    order: &Order,
    deadline: Option<&str>,
    now: &str,
) -> Result<(i64, Ingested)> {
    let payload = serde_json::to_string(order).map_err(|e| StoreError::Data(e.to_string()))?;
    let previous: Option<(i64, String, String)> = tx
        .query_row(
            "SELECT id, status, updated_at FROM orders WHERE channel = ?1 AND order_id = ?2",
            params![channel, order.id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let status = order.state.status.as_str();
    let (order_pk, outcome) = match previous {
        None => {
            tx.execute(
                "INSERT INTO orders (channel, order_id, reference, marketplace_state, status,
                    created_at, updated_at, first_seen_at, deadline_at, total_amount, currency, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    channel,
                    order.id,
                    order.reference,
                    order.state.raw,
                    status,
                    super::time_text(order.created_at),
                    super::time_text(order.updated_at),
                    now,
                    deadline,
                    order.total.amount.to_string(),
                    order.total.currency,
                    payload,
                ],
            )?;
            (tx.last_insert_rowid(), Ingested::New)
        }
        Some((pk, old_status, old_updated)) if is_stale(order, &old_status, &old_updated) => {
            return Ok((pk, Ingested::Stale));
        }
        Some((pk, old_status, _)) => {
            tx.execute(
                "UPDATE orders SET reference = ?2, marketplace_state = ?3, status = ?4,
                    updated_at = ?5, deadline_at = COALESCE(?6, deadline_at),
                    total_amount = ?7, currency = ?8, payload = ?9
                 WHERE id = ?1",
                params![
                    pk,
                    order.reference,
                    order.state.raw,
                    status,
                    super::time_text(order.updated_at),
                    deadline,
                    order.total.amount.to_string(),
                    order.total.currency,
                    payload,
                ],
            )?;
            let outcome = if old_status == status {
                Ingested::Unchanged
            } else {
                Ingested::StatusChanged {
                    from: parse_status(&old_status)?,
                }
            };
            (pk, outcome)
        }
    };
    if outcome != Ingested::Unchanged {
        tx.execute(
            "INSERT INTO status_history (order_pk, marketplace_state, status, observed_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![order_pk, order.state.raw, status, now],
        )?;
    }
    for line in &order.lines {
        tx.execute(
            "INSERT INTO order_lines (order_pk, line_id, sku, quantity, marketplace_state, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (order_pk, line_id) DO UPDATE SET
                marketplace_state = excluded.marketplace_state, status = excluded.status",
            params![
                order_pk,
                line.id,
                line.sku,
                line.quantity,
                line.state.raw,
                line.state.status.as_str()
            ],
        )?;
    }
    Ok((order_pk, outcome))
}

/// Overlapping poll windows can deliver an older picture of an order after a newer one:
/// never go back in time, and never out of a final state.
fn is_stale(order: &Order, stored_status: &str, stored_updated: &str) -> bool {
    let older = stored_updated
        .parse::<jiff::Timestamp>()
        .is_ok_and(|stored| order.updated_at < stored);
    let was_final = matches!(stored_status, "refused" | "cancelled" | "closed");
    older || (was_final && stored_status != order.state.status.as_str())
}

/// The order as last ingested.
pub fn payload(conn: &Connection, order_pk: i64) -> Result<Order> {
    let text: String = conn.query_row(
        "SELECT payload FROM orders WHERE id = ?1",
        params![order_pk],
        |r| r.get(0),
    )?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Data(format!("stored order {order_pk}: {e}")))
}

/// How long ago vigie first saw the order.
pub fn seen_for(conn: &Connection, order_pk: i64) -> Result<std::time::Duration> {
    let seen: String = conn.query_row(
        "SELECT first_seen_at FROM orders WHERE id = ?1",
        params![order_pk],
        |r| r.get(0),
    )?;
    let seen: jiff::Timestamp = seen
        .parse()
        .map_err(|e| StoreError::Data(format!("stored time {seen:?}: {e}")))?;
    Ok(jiff::Timestamp::now().duration_since(seen).unsigned_abs())
}

fn parse_status(text: &str) -> Result<OrderStatus> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| StoreError::Data(format!("unknown stored status {text:?}")))
}

/// One order as `vigie orders --json` prints it (DESIGN section 3).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrderView {
    pub channel: String,
    pub order_id: String,
    pub marketplace_state: String,
    /// The marketplace's normalized status, or `flagged` while a human must decide.
    pub status: String,
    pub decision: Option<&'static str>,
    pub reasons: Vec<String>,
    pub lines: Vec<LineView>,
    pub created_at: String,
    pub decided_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LineView {
    pub line_id: String,
    pub sku: String,
    pub quantity: u32,
    pub accepted: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<String>,
    pub channel: Option<String>,
}

/// Orders, newest first, with their decisions.
pub fn list(conn: &Connection, filter: &OrderFilter) -> Result<Vec<OrderView>> {
    let mut orders = conn.prepare(
        "SELECT o.id, o.channel, o.order_id, o.marketplace_state,
                CASE WHEN f.order_pk IS NOT NULL AND f.resolved_at IS NULL THEN 'flagged'
                     ELSE o.status END AS shown_status,
                o.created_at, f.reasons, f.resolved_at IS NULL AND f.order_pk IS NOT NULL
         FROM orders o LEFT JOIN flags f ON f.order_pk = o.id
         WHERE (?1 IS NULL OR shown_status = ?1) AND (?2 IS NULL OR o.channel = ?2)
         ORDER BY o.created_at DESC, o.id DESC",
    )?;
    let mut lines = conn.prepare(
        "SELECT l.line_id, l.sku, l.quantity, d.accept, d.reasons, d.decided_at
         FROM order_lines l
         LEFT JOIN decisions d ON d.order_pk = l.order_pk AND d.line_id = l.line_id
         WHERE l.order_pk = ?1 ORDER BY l.rowid",
    )?;
    let rows = orders.query_map(params![filter.status, filter.channel], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            OrderView {
                channel: row.get(1)?,
                order_id: row.get(2)?,
                marketplace_state: row.get(3)?,
                status: row.get(4)?,
                decision: None,
                reasons: Vec::new(),
                lines: Vec::new(),
                created_at: row.get(5)?,
                decided_at: None,
            },
            row.get::<_, Option<String>>(6)?,
            row.get::<_, bool>(7)?,
        ))
    })?;
    let mut views = Vec::new();
    for row in rows {
        let (pk, mut view, flag_reasons, flagged) = row?;
        let mut reasons: Vec<String> = Vec::new();
        let line_rows = lines.query_map(params![pk], |row| {
            Ok((
                LineView {
                    line_id: row.get(0)?,
                    sku: row.get(1)?,
                    quantity: row.get(2)?,
                    accepted: row.get(3)?,
                },
                row.get::<_, Option<String>>(4)?,
                row.get::<_, Option<String>>(5)?,
            ))
        })?;
        for line in line_rows {
            let (line, line_reasons, decided_at) = line?;
            reasons.extend(json_list(line_reasons.as_deref())?);
            view.decided_at = view.decided_at.max(decided_at);
            view.lines.push(line);
        }
        let decided: Vec<bool> = view.lines.iter().filter_map(|l| l.accepted).collect();
        view.decision = if decided.iter().any(|&a| a) {
            Some("accept")
        } else if !decided.is_empty() {
            Some("refuse")
        } else if flagged {
            Some("flag")
        } else {
            None
        };
        if flagged || decided.is_empty() {
            reasons.extend(json_list(flag_reasons.as_deref())?);
        }
        reasons.sort();
        reasons.dedup();
        view.reasons = reasons;
        views.push(view);
    }
    Ok(views)
}

fn json_list(text: Option<&str>) -> Result<Vec<String>> {
    text.map_or(Ok(Vec::new()), |t| {
        serde_json::from_str(t).map_err(|e| StoreError::Data(format!("stored reasons {t:?}: {e}")))
    })
}
