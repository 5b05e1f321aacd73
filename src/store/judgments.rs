//! What the rules judged for each order, and from what, so that `vigie rules test` and
//! `rules replay` judge it again from the same inputs.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::state::read_time;
use super::{Result, StoreError};
use crate::domain::judgment::Inputs;

/// One stored judgement.
#[derive(Debug, Clone)]
pub struct Judgment {
    pub order_pk: i64,
    pub channel: String,
    pub judged_at: jiff::Timestamp,
    /// The customer as recognised then.
    pub customer_key: Option<String>,
    pub inputs: Inputs,
}

/// Keeps the first judgement of an order (an order is judged once).
pub fn record(
    conn: &Connection,
    order_pk: i64,
    customer_key: Option<&str>,
    inputs: &Inputs,
    judged_at: &str,
) -> Result<()> {
    let inputs = serde_json::to_string(inputs).map_err(|e| StoreError::Data(e.to_string()))?;
    conn.execute(
        "INSERT INTO judgments (order_pk, judged_at, customer_key, inputs) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (order_pk) DO NOTHING",
        params![order_pk, judged_at, customer_key, inputs],
    )?;
    Ok(())
}

const JUDGMENT: &str = "SELECT j.order_pk, o.channel, j.judged_at, j.customer_key, j.inputs
     FROM judgments j JOIN orders o ON o.id = j.order_pk";

/// The judgement of one order, if the rules judged it.
pub fn of_order(conn: &Connection, order_pk: i64) -> Result<Option<Judgment>> {
    conn.query_row(
        &format!("{JUDGMENT} WHERE j.order_pk = ?1"),
        [order_pk],
        |row| Ok(read(row)),
    )
    .optional()?
    .transpose()
}

/// The judgements made at or after `since`, oldest first.
pub fn since(conn: &Connection, since: jiff::Timestamp) -> Result<Vec<Judgment>> {
    let mut stmt = conn.prepare(&format!(
        "{JUDGMENT} WHERE j.judged_at >= ?1 ORDER BY j.judged_at, j.order_pk"
    ))?;
    let rows = stmt.query_map([super::time_text(since)], |row| Ok(read(row)))?;
    rows.map(|row| row?).collect()
}

/// How many orders the rules decided at or after `since` before vigie kept judgements.
pub fn unrecorded_since(conn: &Connection, since: jiff::Timestamp) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM orders o
         WHERE o.first_seen_at >= ?1
           AND NOT EXISTS (SELECT 1 FROM judgments j WHERE j.order_pk = o.id)
           AND (EXISTS (SELECT 1 FROM flags f WHERE f.order_pk = o.id)
                OR EXISTS (SELECT 1 FROM decisions d
                           WHERE d.order_pk = o.id AND d.source = 'rules'))",
        [super::time_text(since)],
        |row| row.get(0),
    )?)
}

fn read(row: &Row<'_>) -> Result<Judgment> {
    let order_pk: i64 = row.get(0)?;
    let what = format!("judgment of order {order_pk}");
    let inputs: String = row.get(4)?;
    Ok(Judgment {
        order_pk,
        channel: row.get(1)?,
        judged_at: read_time(&row.get::<_, String>(2)?, &what)?,
        customer_key: row.get(3)?,
        inputs: serde_json::from_str(&inputs)
            .map_err(|e| StoreError::Data(format!("{what}: {e}")))?,
    })
}
