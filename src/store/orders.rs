//! Orders, their lines and their status history.

use jiff::Timestamp;
use rusqlite::{Connection, Transaction, params};
use serde::Serialize;
use vigie_connector::{Money, Order, OrderStatus};

use super::cancellations::{self, CancellationView};
use super::decisions::Outcome;
use super::state::{StoredState, read_list, read_time};
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

/// When the order must be accepted and shipped, as the marketplace announced them or as the
/// channel's configuration sets them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deadlines {
    pub acceptance: Option<Timestamp>,
    pub shipping: Option<Timestamp>,
}

/// Upserts `order` idempotently on (channel, order id), its lines, and a history row when
/// its normalized status changed. Runs inside the caller's transaction; returns the order's
/// row id and what changed.
pub fn ingest(
    tx: &Transaction<'_>,
    channel: &str,
    order: &Order,
    deadlines: Deadlines,
    now: &str,
) -> Result<(i64, Ingested)> {
    let payload = serde_json::to_string(order).map_err(|e| StoreError::Data(e.to_string()))?;
    let deadline = deadlines.acceptance.map(super::time_text);
    let shipping_deadline = deadlines.shipping.map(super::time_text);
    let previous = find(tx, channel, &order.id)?;
    let status = order.state.status.as_str();
    let (order_pk, outcome) = match previous {
        None => {
            tx.execute(
                "INSERT INTO orders (channel, order_id, reference, marketplace_state, status,
                    created_at, updated_at, first_seen_at, deadline_at, total_amount, currency, payload,
                    shipping_deadline_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
                    shipping_deadline,
                ],
            )?;
            (tx.last_insert_rowid(), Ingested::New)
        }
        Some(stored) if is_stale(order, &stored) => {
            return Ok((stored.pk, Ingested::Stale));
        }
        Some(StoredOrder {
            pk,
            status: old_status,
            ..
        }) => {
            tx.execute(
                "UPDATE orders SET reference = ?2, marketplace_state = ?3, status = ?4,
                    updated_at = ?5, deadline_at = COALESCE(?6, deadline_at),
                    total_amount = ?7, currency = ?8, payload = ?9,
                    shipping_deadline_at = COALESCE(?10, shipping_deadline_at)
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
                    shipping_deadline,
                ],
            )?;
            let outcome = if old_status == order.state.status {
                Ingested::Unchanged
            } else {
                Ingested::StatusChanged { from: old_status }
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
fn is_stale(order: &Order, stored: &StoredOrder) -> bool {
    let older = order.updated_at < stored.updated_at;
    let was_final = matches!(
        stored.status,
        OrderStatus::Refused | OrderStatus::Cancelled | OrderStatus::Closed | OrderStatus::Refunded
    );
    older || (was_final && stored.status != order.state.status)
}

/// The order as last ingested.
pub fn payload(conn: &Connection, order_pk: i64) -> Result<Order> {
    let text: String = conn.query_row(
        "SELECT payload FROM orders WHERE id = ?1",
        params![order_pk],
        |r| r.get(0),
    )?;
    read_payload(order_pk, &text)
}

fn read_payload(order_pk: i64, text: &str) -> Result<Order> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Data(format!("order {order_pk}: payload: {e}")))
}

/// How long ago vigie first saw the order.
pub fn seen_for(conn: &Connection, order_pk: i64) -> Result<std::time::Duration> {
    let seen: String = conn.query_row(
        "SELECT first_seen_at FROM orders WHERE id = ?1",
        params![order_pk],
        |r| r.get(0),
    )?;
    let seen = read_time(&seen, format!("order {order_pk}"))?;
    Ok(Timestamp::now().duration_since(seen).unsigned_abs())
}

/// An order's row as stored, without its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredOrder {
    pub pk: i64,
    pub channel: String,
    pub order_id: String,
    pub reference: String,
    pub marketplace_state: String,
    pub status: OrderStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub first_seen_at: Timestamp,
    pub deadline_at: Option<Timestamp>,
    pub total: Money,
    /// When the marketplace wants the parcel handed to the carrier, once it says.
    pub shipping_deadline_at: Option<Timestamp>,
}

const ORDER_COLUMNS: &str = "o.id, o.channel, o.order_id, o.reference, o.marketplace_state, \
     o.status, o.created_at, o.updated_at, o.first_seen_at, o.deadline_at, o.total_amount, \
     o.currency, o.shipping_deadline_at";

fn read_order(r: &rusqlite::Row<'_>) -> Result<StoredOrder> {
    let pk: i64 = r.get(0)?;
    let row = format!("order {pk}");
    let time = |i: usize| -> Result<Timestamp> { read_time(&r.get::<_, String>(i)?, &row) };
    let amount: String = r.get(10)?;
    Ok(StoredOrder {
        pk,
        channel: r.get(1)?,
        order_id: r.get(2)?,
        reference: r.get(3)?,
        marketplace_state: r.get(4)?,
        status: OrderStatus::read(&r.get::<_, String>(5)?, &row)?,
        created_at: time(6)?,
        updated_at: time(7)?,
        first_seen_at: time(8)?,
        deadline_at: (r.get::<_, Option<String>>(9)?)
            .map(|t| read_time(&t, &row))
            .transpose()?,
        total: Money::new(
            amount
                .parse()
                .map_err(|e| StoreError::Data(format!("{row}: total {amount:?}: {e}")))?,
            r.get::<_, String>(11)?,
        ),
        shipping_deadline_at: (r.get::<_, Option<String>>(12)?)
            .map(|t| read_time(&t, &row))
            .transpose()?,
    })
}

/// The order `channel` calls `order_id`, if vigie has seen it.
pub fn find(conn: &Connection, channel: &str, order_id: &str) -> Result<Option<StoredOrder>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o WHERE o.channel = ?1 AND o.order_id = ?2"
    ))?;
    let mut rows = stmt.query(params![channel, order_id])?;
    rows.next()?.map(read_order).transpose()
}

/// `channel`'s orders awaiting acceptance without a decision the marketplace confirmed
/// (undecided, held for review, or a decision it has not accepted yet), with their payloads.
pub fn awaiting_confirmation(
    conn: &Connection,
    channel: &str,
) -> Result<Vec<(StoredOrder, Order)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ORDER_COLUMNS}, o.payload FROM orders o
         WHERE o.channel = ?1 AND o.status = ?2
           AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.order_pk = o.id AND d.outcome = ?3)"
    ))?;
    let mut rows = stmt.query(params![
        channel,
        OrderStatus::AwaitingAcceptance.as_str(),
        Outcome::Confirmed.as_str()
    ])?;
    let mut waiting = Vec::new();
    while let Some(r) = rows.next()? {
        let stored = read_order(r)?;
        let order = read_payload(stored.pk, &r.get::<_, String>(13)?)?;
        waiting.push((stored, order));
    }
    Ok(waiting)
}

/// `channel`'s orders whose shipping deadline is watched: accepted (or being paid for) with a
/// deadline the marketplace announced, and those still under a `shipment_late` alert (to
/// resolve it once the parcel left or the order was cancelled).
pub fn awaiting_shipment(conn: &Connection, channel: &str) -> Result<Vec<StoredOrder>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o
         WHERE o.channel = ?1 AND o.shipping_deadline_at IS NOT NULL
           AND (o.status IN (?2, ?3)
                OR EXISTS (SELECT 1 FROM alerts a WHERE a.kind = 'shipment_late'
                           AND a.resolved_at IS NULL AND a.order_ref = o.channel || ':' || o.order_id))"
    ))?;
    let mut rows = stmt.query(params![
        channel,
        OrderStatus::Accepted.as_str(),
        OrderStatus::Pending.as_str()
    ])?;
    let mut watched = Vec::new();
    while let Some(r) = rows.next()? {
        watched.push(read_order(r)?);
    }
    Ok(watched)
}

/// Notes that the order passed its shipping deadline with units still owed; `true` the first
/// time only (the late parcel is counted and the customer told once).
pub fn mark_shipping_late(conn: &Connection, order_pk: i64, now: &str) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE orders SET shipping_late_at = ?2 WHERE id = ?1 AND shipping_late_at IS NULL",
        params![order_pk, now],
    )? == 1)
}

/// `channel`'s orders awaiting acceptance that were never judged (no decision, not flagged):
/// seen before any inventory was loaded. `?1` is the channel, `?2` the awaiting status.
const NEVER_JUDGED: &str = "FROM orders o
     WHERE o.channel = ?1 AND o.status = ?2
       AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.order_pk = o.id)
       AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.order_pk = o.id)";

/// The orders [`NEVER_JUDGED`] selects, oldest first (as they arrived), with their payloads.
pub fn never_judged(conn: &Connection, channel: &str) -> Result<Vec<(i64, Order)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT o.id, o.payload {NEVER_JUDGED} ORDER BY o.created_at, o.id"
    ))?;
    let mut rows = stmt.query(params![channel, OrderStatus::AwaitingAcceptance.as_str()])?;
    let mut waiting = Vec::new();
    while let Some(r) = rows.next()? {
        let pk = r.get(0)?;
        waiting.push((pk, read_payload(pk, &r.get::<_, String>(1)?)?));
    }
    Ok(waiting)
}

/// Whether an inventory is loaded and orders [`NEVER_JUDGED`] wait for it: one read, so
/// that nothing is written when none do.
pub fn judgeable_waiting(conn: &Connection, channel: &str) -> Result<bool> {
    Ok(conn.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM stock) AND EXISTS (SELECT 1 {NEVER_JUDGED})"),
        params![channel, OrderStatus::AwaitingAcceptance.as_str()],
        |r| r.get(0),
    )?)
}

/// One order line as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: u32,
    pub marketplace_state: String,
    pub status: OrderStatus,
}

/// The order's lines, in the marketplace's order.
pub fn lines(conn: &Connection, order_pk: i64) -> Result<Vec<StoredLine>> {
    let mut stmt = conn.prepare(
        "SELECT line_id, sku, quantity, marketplace_state, status FROM order_lines
         WHERE order_pk = ?1 ORDER BY rowid",
    )?;
    let mut rows = stmt.query(params![order_pk])?;
    let mut lines = Vec::new();
    while let Some(r) = rows.next()? {
        let line_id: String = r.get(0)?;
        let row = format!("line {line_id} of order {order_pk}");
        lines.push(StoredLine {
            sku: r.get(1)?,
            quantity: r.get(2)?,
            marketplace_state: r.get(3)?,
            status: OrderStatus::read(&r.get::<_, String>(4)?, &row)?,
            line_id,
        });
    }
    Ok(lines)
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
    /// The seller's parcels and where each stands with the marketplace.
    pub shipments: Vec<super::shipments::StoredParcel>,
    /// Units the marketplace cancelled or refunded, line by line.
    pub cancellations: Vec<CancellationView>,
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
    /// One order, with `channel`.
    pub order_id: Option<String>,
}

/// An order's status as `vigie orders` and `vigie status` show it: `flagged` while a human
/// must decide, `incident` while a claim is open, else the marketplace's normalized status.
/// Reads `orders o LEFT JOIN flags f`.
pub(super) const SHOWN_STATUS: &str =
    "CASE WHEN f.order_pk IS NOT NULL AND f.resolved_at IS NULL THEN 'flagged'
          WHEN o.incident_open THEN 'incident' ELSE o.status END";

/// Stores whether a claim is open on the order, and why; returns whether one was open before.
pub fn set_incident(conn: &Connection, order_pk: i64, open: Option<Option<&str>>) -> Result<bool> {
    let was_open: bool = conn.query_row(
        "SELECT incident_open FROM orders WHERE id = ?1",
        params![order_pk],
        |r| r.get(0),
    )?;
    conn.execute(
        "UPDATE orders SET incident_open = ?2, incident_reason = ?3 WHERE id = ?1",
        params![order_pk, open.is_some(), open.flatten()],
    )?;
    Ok(was_open)
}

/// Orders, newest first, with their decisions.
pub fn list(conn: &Connection, filter: &OrderFilter) -> Result<Vec<OrderView>> {
    let mut orders = conn.prepare(&format!(
        "SELECT o.id, o.channel, o.order_id, o.marketplace_state, {SHOWN_STATUS} AS shown_status,
                o.created_at, f.reasons, f.resolved_at IS NULL AND f.order_pk IS NOT NULL
         FROM orders o LEFT JOIN flags f ON f.order_pk = o.id
         WHERE (?1 IS NULL OR shown_status = ?1) AND (?2 IS NULL OR o.channel = ?2)
           AND (?3 IS NULL OR o.order_id = ?3)
         ORDER BY o.created_at DESC, o.id DESC"
    ))?;
    let mut lines = conn.prepare(
        "SELECT l.line_id, l.sku, l.quantity, d.accept, d.reasons, d.decided_at
         FROM order_lines l
         LEFT JOIN decisions d ON d.order_pk = l.order_pk AND d.line_id = l.line_id
         WHERE l.order_pk = ?1 ORDER BY l.rowid",
    )?;
    let rows = orders.query_map(
        params![filter.status, filter.channel, filter.order_id],
        |row| {
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
                    shipments: Vec::new(),
                    cancellations: Vec::new(),
                },
                row.get::<_, Option<String>>(6)?,
                row.get::<_, bool>(7)?,
            ))
        },
    )?;
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
            if let Some(text) = line_reasons {
                reasons.extend(read_list(&text, format!("decision of order {pk}"))?);
            }
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
        if let Some(text) = flag_reasons.filter(|_| flagged || decided.is_empty()) {
            reasons.extend(read_list(&text, format!("flag of order {pk}"))?);
        }
        reasons.sort();
        reasons.dedup();
        view.reasons = reasons;
        view.shipments = super::shipments::of_order(conn, pk)?;
        view.cancellations = cancellations::of_order(conn, pk)?;
        views.push(view);
    }
    Ok(views)
}
