//! Decisions per order line, and flags that hold an order for a human.

use rusqlite::{Connection, params};
use vigie_connector::LineDecision;

use super::{Result, StoreError};

/// Who decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Rules,
    Review,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Rules => "rules",
            Self::Review => "review",
        }
    }
}

/// A decision for one line, as recorded.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    pub accept: bool,
    /// Rule codes behind it (`insufficient_stock`...).
    pub reasons: &'a [&'a str],
    pub source: Source,
    /// A reviewer's words.
    pub note: Option<&'a str>,
}

/// Records the decision for one line. The primary key refuses a second decision, so a bug
/// that tried to decide twice fails loudly instead of sending a contradictory call.
pub fn record(
    conn: &Connection,
    order_pk: i64,
    line_id: &str,
    decision: Decision<'_>,
    now: &str,
) -> Result<()> {
    let reasons =
        serde_json::to_string(decision.reasons).map_err(|e| StoreError::Data(e.to_string()))?;
    conn.execute(
        "INSERT INTO decisions (order_pk, line_id, accept, reasons, source, note, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            order_pk,
            line_id,
            decision.accept,
            reasons,
            decision.source.as_str(),
            decision.note,
            now
        ],
    )?;
    Ok(())
}

pub fn is_decided(conn: &Connection, order_pk: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM decisions WHERE order_pk = ?1)",
        params![order_pk],
        |r| r.get(0),
    )?)
}

/// Marks the order's decisions still waiting for the marketplace with `outcome`.
pub fn settle_pending(
    conn: &Connection,
    order_pk: i64,
    outcome: &str,
    note: Option<&str>,
    now: &str,
) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE decisions SET outcome = ?2, outcome_at = ?3, outcome_note = ?4
         WHERE order_pk = ?1 AND outcome IS NULL",
        params![order_pk, outcome, now, note],
    )?)
}

/// Settles the order's pending decisions against the marketplace: `confirmed` for lines where
/// it did what vigie decided (`accepted` lists the lines it accepted), `superseded` where it
/// went the other way (the back office, an automatic refusal, a cancellation).
pub fn settle_pending_against(
    conn: &Connection,
    order_pk: i64,
    accepted: &[String],
    marketplace_state: &str,
    now: &str,
) -> Result<()> {
    let pending: Vec<(String, bool)> = {
        let mut stmt = conn.prepare(
            "SELECT line_id, accept FROM decisions WHERE order_pk = ?1 AND outcome IS NULL",
        )?;
        stmt.query_map(params![order_pk], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    for (line_id, accept) in pending {
        let agrees = accept == accepted.contains(&line_id);
        let (outcome, note) = if agrees {
            ("confirmed", None)
        } else {
            (
                "superseded",
                Some(format!(
                    "the marketplace made the order {marketplace_state} first"
                )),
            )
        };
        conn.execute(
            "UPDATE decisions SET outcome = ?3, outcome_at = ?4, outcome_note = ?5
             WHERE order_pk = ?1 AND line_id = ?2",
            params![order_pk, line_id, outcome, now, note],
        )?;
    }
    Ok(())
}

/// A decision committed but not yet confirmed by the marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub order_pk: i64,
    pub order_id: String,
    pub lines: Vec<LineDecision>,
}

/// Decisions of `channel` the marketplace has not confirmed, oldest first.
pub fn pending(conn: &Connection, channel: &str) -> Result<Vec<Pending>> {
    let mut stmt = conn.prepare(
        "SELECT o.id, o.order_id, d.line_id, d.accept FROM decisions d
         JOIN orders o ON o.id = d.order_pk
         WHERE o.channel = ?1 AND d.outcome IS NULL
         ORDER BY d.decided_at, o.id, d.rowid",
    )?;
    let rows = stmt.query_map(params![channel], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, bool>(3)?,
        ))
    })?;
    let mut pending: Vec<Pending> = Vec::new();
    for row in rows {
        let (order_pk, order_id, line_id, accept) = row?;
        let decision = LineDecision { line_id, accept };
        match pending.last_mut() {
            Some(last) if last.order_pk == order_pk => last.lines.push(decision),
            _ => pending.push(Pending {
                order_pk,
                order_id,
                lines: vec![decision],
            }),
        }
    }
    Ok(pending)
}

/// Lines of the order that were accepted.
pub fn accepted_lines(conn: &Connection, order_pk: i64) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT line_id FROM decisions WHERE order_pk = ?1 AND accept = 1")?;
    let rows = stmt.query_map(params![order_pk], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn flag(tx: &Connection, order_pk: i64, reasons: &[&str], now: &str) -> Result<()> {
    let reasons = serde_json::to_string(reasons).map_err(|e| StoreError::Data(e.to_string()))?;
    tx.execute(
        "INSERT INTO flags (order_pk, reasons, flagged_at) VALUES (?1, ?2, ?3)",
        params![order_pk, reasons, now],
    )?;
    Ok(())
}

/// Whether the order was ever flagged (resolved or not): rules judge an order once.
pub fn was_flagged(conn: &Connection, order_pk: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM flags WHERE order_pk = ?1)",
        params![order_pk],
        |r| r.get(0),
    )?)
}

pub fn resolve_flag(conn: &Connection, order_pk: i64, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE flags SET resolved_at = ?2 WHERE order_pk = ?1 AND resolved_at IS NULL",
        params![order_pk, now],
    )?;
    Ok(())
}
