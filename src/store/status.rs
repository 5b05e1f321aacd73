//! What `vigie status` and `GET /status` report: each channel's loop, the backlog, KPIs.

use std::collections::BTreeMap;
use std::fmt;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::Result;
use super::channels::{self, ChannelHealth};
use crate::config::Config;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub channels: Vec<ChannelStatus>,
    /// Orders by shown status (`awaiting_acceptance`, `flagged`, `shipped`...).
    pub orders_by_status: BTreeMap<String, i64>,
    /// The order that has waited longest for a decision.
    pub oldest_undecided: Option<Undecided>,
    pub quarantined_payloads: i64,
}

#[derive(Debug, Serialize)]
pub struct ChannelStatus {
    pub name: String,
    pub kind: &'static str,
    pub poll_interval_seconds: u64,
    #[serde(flatten)]
    pub health: Option<ChannelHealth>,
}

#[derive(Debug, Serialize)]
pub struct Undecided {
    pub order: String,
    pub created_at: String,
    pub deadline_at: Option<String>,
}

pub fn report(conn: &Connection, config: &Config) -> Result<StatusReport> {
    let mut health: BTreeMap<String, ChannelHealth> = channels::health(conn)?
        .into_iter()
        .map(|h| (h.channel.clone(), h))
        .collect();
    let channels = config
        .channels
        .iter()
        .map(|c| ChannelStatus {
            name: c.name.clone(),
            kind: c.marketplace.kind(),
            poll_interval_seconds: c.poll_interval.as_secs(),
            health: health.remove(&c.name),
        })
        .collect();
    let mut stmt = conn.prepare(
        "SELECT CASE WHEN f.order_pk IS NOT NULL AND f.resolved_at IS NULL THEN 'flagged'
                     ELSE o.status END AS shown, COUNT(*)
         FROM orders o LEFT JOIN flags f ON f.order_pk = o.id GROUP BY shown",
    )?;
    let orders_by_status = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let oldest_undecided = conn
        .query_row(
            "SELECT o.channel || ':' || o.order_id, o.created_at, o.deadline_at FROM orders o
             WHERE o.status = 'awaiting_acceptance'
               AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.order_pk = o.id)
             ORDER BY o.created_at LIMIT 1",
            [],
            |row| {
                Ok(Undecided {
                    order: row.get(0)?,
                    created_at: row.get(1)?,
                    deadline_at: row.get(2)?,
                })
            },
        )
        .optional()?;
    let quarantined_payloads =
        conn.query_row("SELECT COUNT(*) FROM quarantine", [], |r| r.get(0))?;
    Ok(StatusReport {
        channels,
        orders_by_status,
        oldest_undecided,
        quarantined_payloads,
    })
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.channels {
            write!(
                f,
                "channel {} ({}, every {}s): ",
                c.name, c.kind, c.poll_interval_seconds
            )?;
            match &c.health {
                None => writeln!(f, "not polled yet")?,
                Some(h) => {
                    write!(
                        f,
                        "last poll {}",
                        h.last_poll_at.as_deref().unwrap_or("never")
                    )?;
                    if h.consecutive_failures > 0 {
                        write!(
                            f,
                            ", FAILING ({} in a row, {}: {})",
                            h.consecutive_failures,
                            h.last_error_class.as_deref().unwrap_or("error"),
                            h.last_error.as_deref().unwrap_or("")
                        )?;
                    }
                    writeln!(f)?;
                }
            }
        }
        let counts: Vec<String> = self
            .orders_by_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        writeln!(
            f,
            "orders: {}",
            if counts.is_empty() {
                "none".to_owned()
            } else {
                counts.join(", ")
            }
        )?;
        if let Some(u) = &self.oldest_undecided {
            write!(f, "oldest undecided: {} (created {}", u.order, u.created_at)?;
            if let Some(deadline) = &u.deadline_at {
                write!(f, ", deadline {deadline}")?;
            }
            writeln!(f, ")")?;
        }
        if self.quarantined_payloads > 0 {
            writeln!(
                f,
                "quarantined payloads: {} (see the quarantine table)",
                self.quarantined_payloads
            )?;
        }
        Ok(())
    }
}
