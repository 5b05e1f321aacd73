//! An order's whole story for the person on call: when it was seen, each state the
//! marketplace gave it, the units held, the decision and how it ended, each message, each
//! alert, and what people did, oldest first.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub at: String,
    /// `seen`, `state`, `decided`, `settled`, `parcel`, `cancelled`, `message`, `alert`,
    /// `action`.
    pub kind: &'static str,
    pub text: String,
}

/// Every entry of order `order_pk` (of `channel`:`order_id`), oldest first.
pub fn of_order(
    conn: &Connection,
    order_pk: i64,
    channel: &str,
    order_id: &str,
) -> Result<Vec<Entry>> {
    // One read of each table, merged by time; the text is made here so the page only shows.
    let mut stmt = conn.prepare(
        "SELECT first_seen_at, 'seen', 'seen by vigie' FROM orders WHERE id = ?1
         UNION ALL
         SELECT observed_at, 'state', marketplace_state || ' (' || status || ')'
           FROM status_history WHERE order_pk = ?1
         UNION ALL
         SELECT decided_at, 'decided',
                CASE accept WHEN 1 THEN 'accept ' ELSE 'refuse ' END || 'line ' || line_id
                || ' by ' || source
                || CASE WHEN reasons <> '[]' THEN ' ' || reasons ELSE '' END
                || COALESCE(': ' || note, '')
           FROM decisions WHERE order_pk = ?1
         UNION ALL
         SELECT outcome_at, 'settled', 'line ' || line_id || ' ' || outcome
                || COALESCE(': ' || outcome_note, '')
           FROM decisions WHERE order_pk = ?1 AND outcome IS NOT NULL
         UNION ALL
         SELECT COALESCE(sent_at, created_at), 'message',
                event || ' to ' || destination || ': ' || state
                || COALESCE(' (' || last_error || ')', '')
           FROM outbox WHERE order_pk = ?1
         UNION ALL
         SELECT opened_at, 'alert', kind || ': ' || message
                || CASE WHEN resolved_at IS NULL THEN '' ELSE ' (resolved ' || resolved_at || ')' END
           FROM alerts WHERE order_ref = ?2
         UNION ALL
         SELECT recorded_at, 'parcel', carrier || ' ' || tracking_number || ' recorded (' || source || ')'
           FROM shipments WHERE order_pk = ?1
         UNION ALL
         SELECT settled_at, 'parcel', carrier || ' ' || tracking_number || ' ' || state
                || COALESCE(': ' || note, '')
           FROM shipments WHERE order_pk = ?1 AND settled_at IS NOT NULL
         UNION ALL
         SELECT recorded_at, 'cancelled', 'line ' || line_id || ' ' || quantity || ' unit(s) '
                || kind || ' by ' || by || COALESCE(': ' || reason, '')
           FROM cancellations WHERE order_pk = ?1
         UNION ALL
         SELECT at, 'action', action || ' by ' || actor || COALESCE(': ' || detail, '')
           FROM order_actions WHERE order_pk = ?1
         ORDER BY 1, 2",
    )?;
    let entries = stmt
        .query_map(params![order_pk, format!("{channel}:{order_id}")], |row| {
            let kind: String = row.get(1)?;
            Ok(Entry {
                at: row.get(0)?,
                kind: kind_word(&kind),
                text: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(entries)
}

fn kind_word(kind: &str) -> &'static str {
    const KINDS: [&str; 9] = [
        "seen",
        "state",
        "decided",
        "settled",
        "parcel",
        "cancelled",
        "message",
        "alert",
        "action",
    ];
    KINDS.into_iter().find(|k| *k == kind).unwrap_or("other")
}

/// Records what a person did to an order, with who did it.
pub fn record_action(
    conn: &Connection,
    order_pk: i64,
    actor: &str,
    action: &str,
    detail: Option<&str>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO order_actions (order_pk, at, actor, action, detail)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![order_pk, now, actor, action, detail],
    )?;
    Ok(())
}
