//! Decisions per order line: one per line, committed before the marketplace hears of it, then
//! settled with what the marketplace did.

use jiff::Timestamp;
use rusqlite::{Connection, params};
use vigie_connector::LineDecision;

use super::state::{StoredState, read_list, read_time};
use super::{Result, StoreError};

/// Who decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Rules,
    Review,
}

impl StoredState for Source {
    const ALL: &'static [Self] = &[Self::Rules, Self::Review];
    const WHAT: &'static str = "decision source";

    fn as_str(self) -> &'static str {
        match self {
            Self::Rules => "rules",
            Self::Review => "review",
        }
    }
}

/// How a decision ended; none while it waits for the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The marketplace did what vigie decided.
    Confirmed,
    /// The order went the other way first (the back office, an automatic refusal, a
    /// cancellation).
    Superseded,
    /// The marketplace rejected the decision; a human decides in its back office.
    Failed,
}

impl StoredState for Outcome {
    const ALL: &'static [Self] = &[Self::Confirmed, Self::Superseded, Self::Failed];
    const WHAT: &'static str = "decision outcome";

    fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Superseded => "superseded",
            Self::Failed => "failed",
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

/// One line's decision as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDecision {
    pub line_id: String,
    pub accept: bool,
    pub reasons: Vec<String>,
    pub source: Source,
    pub note: Option<String>,
    pub decided_at: Timestamp,
    pub outcome: Option<Outcome>,
    pub outcome_at: Option<Timestamp>,
    pub outcome_note: Option<String>,
}

/// The order's decisions, in the order they were recorded.
pub fn of_order(conn: &Connection, order_pk: i64) -> Result<Vec<StoredDecision>> {
    let mut stmt = conn.prepare(
        "SELECT line_id, accept, reasons, source, note, decided_at, outcome, outcome_at,
                outcome_note
         FROM decisions WHERE order_pk = ?1 ORDER BY rowid",
    )?;
    let mut rows = stmt.query(params![order_pk])?;
    let mut decisions = Vec::new();
    while let Some(r) = rows.next()? {
        let line_id: String = r.get(0)?;
        let row = format!("decision of order {order_pk} line {line_id}");
        let reasons: String = r.get(2)?;
        decisions.push(StoredDecision {
            accept: r.get(1)?,
            reasons: read_list(&reasons, &row)?,
            source: Source::read(&r.get::<_, String>(3)?, &row)?,
            note: r.get(4)?,
            decided_at: read_time(&r.get::<_, String>(5)?, &row)?,
            outcome: (r.get::<_, Option<String>>(6)?)
                .map(|o| Outcome::read(&o, &row))
                .transpose()?,
            outcome_at: (r.get::<_, Option<String>>(7)?)
                .map(|t| read_time(&t, &row))
                .transpose()?,
            outcome_note: r.get(8)?,
            line_id,
        });
    }
    Ok(decisions)
}

pub fn is_decided(conn: &Connection, order_pk: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM decisions WHERE order_pk = ?1)",
        params![order_pk],
        |r| r.get(0),
    )?)
}

/// Settles every decision of the order still waiting for the marketplace with `outcome`.
pub fn settle_pending(
    conn: &Connection,
    order_pk: i64,
    outcome: Outcome,
    note: Option<&str>,
    now: &str,
) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE decisions SET outcome = ?2, outcome_at = ?3, outcome_note = ?4
         WHERE order_pk = ?1 AND outcome IS NULL",
        params![order_pk, outcome.as_str(), now, note],
    )?)
}

/// Settles one line's decision with `outcome`.
pub fn settle_line(
    conn: &Connection,
    order_pk: i64,
    line_id: &str,
    outcome: Outcome,
    note: Option<&str>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE decisions SET outcome = ?3, outcome_at = ?4, outcome_note = ?5
         WHERE order_pk = ?1 AND line_id = ?2",
        params![order_pk, line_id, outcome.as_str(), now, note],
    )?;
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
