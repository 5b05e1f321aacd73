//! Lines the seller cancels (`vigie cancel`): committed before the marketplace hears of them,
//! then settled with its answer, like parcels. The same lines of an order given twice are
//! stored once. The ledger moves when the marketplace reports the lines cancelled.

use rusqlite::{Connection, params};

use super::Result;
use super::requested::{Confirmation, Units, from_json, to_json};
use super::state::StoredState;

/// What [`record`] did: `true` when new.
pub fn record(
    conn: &Connection,
    order_pk: i64,
    reason: &str,
    lines: &[Units],
    now: &str,
) -> Result<bool> {
    let inserted = conn.execute(
        "INSERT INTO seller_cancels (order_pk, reason, lines, recorded_at)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (order_pk, lines) DO NOTHING",
        params![order_pk, reason, to_json(lines)?, now],
    )?;
    Ok(inserted == 1)
}

/// A cancellation waiting for the marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCancel {
    pub id: i64,
    pub order_pk: i64,
    pub order_id: String,
    pub reason: String,
    pub lines: Vec<Units>,
    /// Sent before without an answer (a cut connection, a crash): it may have been applied.
    pub sent_before: bool,
}

/// Cancellations of `channel` the marketplace has not confirmed, oldest first.
pub fn pending(conn: &Connection, channel: &str) -> Result<Vec<PendingCancel>> {
    let mut stmt = conn.prepare(
        "SELECT c.id, c.order_pk, o.order_id, c.reason, c.lines, c.sent_at IS NOT NULL
         FROM seller_cancels c
         JOIN orders o ON o.id = c.order_pk
         WHERE o.channel = ?1 AND c.state = 'pending' ORDER BY c.id",
    )?;
    let mut rows = stmt.query(params![channel])?;
    let mut pending = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        pending.push(PendingCancel {
            id,
            order_pk: r.get(1)?,
            order_id: r.get(2)?,
            reason: r.get(3)?,
            lines: from_json(&r.get::<_, String>(4)?, &format!("seller cancel {id}"))?,
            sent_before: r.get(5)?,
        });
    }
    Ok(pending)
}

/// Units per line the seller asked to cancel and the marketplace has not refused.
pub fn cancelled_units(conn: &Connection, order_pk: i64) -> Result<Vec<Units>> {
    let mut stmt = conn
        .prepare("SELECT lines FROM seller_cancels WHERE order_pk = ?1 AND state != 'rejected'")?;
    let mut units = Vec::new();
    for text in stmt.query_map(params![order_pk], |r| r.get::<_, String>(0))? {
        units.extend(from_json(
            &text?,
            &format!("seller cancels of order {order_pk}"),
        )?);
    }
    Ok(units)
}

/// Notes, before the call, that cancellation `id` is being sent.
pub fn mark_sent(conn: &Connection, id: i64, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE seller_cancels SET sent_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub fn settle(
    conn: &Connection,
    id: i64,
    state: Confirmation,
    note: Option<&str>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE seller_cancels SET state = ?2, note = ?3, settled_at = ?4 WHERE id = ?1",
        params![id, state.as_str(), note, now],
    )?;
    Ok(())
}
