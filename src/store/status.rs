//! What `vigie status`, `GET /status` and the gauges of `GET /metrics` report: each
//! channel's loop and KPIs, the backlog, the outbox, open alerts.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
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
    /// Customer messages and seller webhooks by outbox state (`pending`, `sent`, `uncertain`...).
    pub outbox: BTreeMap<String, i64>,
    pub open_alerts: i64,
    pub quarantined_payloads: i64,
}

#[derive(Debug, Serialize)]
pub struct ChannelStatus {
    pub name: String,
    pub kind: &'static str,
    pub poll_interval_seconds: u64,
    #[serde(flatten)]
    pub health: Option<ChannelHealth>,
    pub kpis: ChannelKpis,
}

/// How well a channel's orders are served.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct ChannelKpis {
    /// Orders with a decision the marketplace confirmed.
    pub decided: i64,
    pub accepted: i64,
    pub refused: i64,
    /// accepted / decided (what marketplaces rank sellers by), `None` before any decision.
    pub acceptance_rate: Option<f64>,
    /// Orders held for a human right now.
    pub flagged: i64,
    /// Orders still undecided right now.
    pub undecided: i64,
    /// Orders whose acceptance deadline passed without a decision from vigie.
    pub deadline_missed: i64,
    /// Median time from first sight to the marketplace confirming the decision.
    pub median_seconds_to_decision: Option<f64>,
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
    let now = super::now_text();
    let channels = config
        .channels
        .iter()
        .map(|c| {
            Ok(ChannelStatus {
                name: c.name.clone(),
                kind: c.kind,
                poll_interval_seconds: c.poll_interval.as_secs(),
                health: health.remove(&c.name),
                kpis: kpis(conn, &c.name, &now)?,
            })
        })
        .collect::<Result<_>>()?;
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
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    Ok(StatusReport {
        channels,
        orders_by_status: grouped(
            conn,
            "SELECT CASE WHEN f.order_pk IS NOT NULL AND f.resolved_at IS NULL THEN 'flagged'
                         ELSE o.status END AS shown, COUNT(*)
             FROM orders o LEFT JOIN flags f ON f.order_pk = o.id GROUP BY shown",
        )?,
        oldest_undecided,
        outbox: super::outbox::message_counts(conn)?,
        open_alerts: count("SELECT COUNT(*) FROM alerts WHERE resolved_at IS NULL")?,
        quarantined_payloads: count("SELECT COUNT(*) FROM quarantine")?,
    })
}

fn grouped(conn: &Connection, sql: &str) -> Result<BTreeMap<String, i64>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn kpis(conn: &Connection, channel: &str, now: &str) -> Result<ChannelKpis> {
    // One row per confirmed order: whether any line was accepted, and how long it took.
    let mut stmt = conn.prepare(
        "SELECT MAX(d.accept), MAX(d.outcome_at), o.first_seen_at FROM orders o
         JOIN decisions d ON d.order_pk = o.id
         WHERE o.channel = ?1 AND d.outcome = 'confirmed' GROUP BY o.id",
    )?;
    let decided: Vec<(bool, String, String)> = stmt
        .query_map(params![channel], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let accepted = decided.iter().filter(|(a, _, _)| *a).count() as i64;
    let mut seconds: Vec<f64> = decided
        .iter()
        .filter_map(|(_, at, seen)| {
            let (at, seen) = (
                at.parse::<Timestamp>().ok()?,
                seen.parse::<Timestamp>().ok()?,
            );
            Some(at.duration_since(seen).as_secs_f64().max(0.0))
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    let count = |sql: &str, args: &[&dyn rusqlite::ToSql]| {
        conn.query_row(sql, args, |r| r.get::<_, i64>(0))
    };
    let undecided_where =
        "o.channel = ?1 AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.order_pk = o.id)";
    Ok(ChannelKpis {
        decided: decided.len() as i64,
        accepted,
        refused: decided.len() as i64 - accepted,
        acceptance_rate: (!decided.is_empty()).then(|| accepted as f64 / decided.len() as f64),
        flagged: count(
            "SELECT COUNT(*) FROM flags f JOIN orders o ON o.id = f.order_pk
             WHERE o.channel = ?1 AND f.resolved_at IS NULL",
            &[&channel],
        )?,
        undecided: count(
            &format!(
                "SELECT COUNT(*) FROM orders o WHERE {undecided_where} AND o.status = 'awaiting_acceptance'"
            ),
            &[&channel],
        )?,
        deadline_missed: count(
            &format!(
                "SELECT COUNT(*) FROM orders o WHERE {undecided_where} AND o.deadline_at < ?2"
            ),
            &[&channel, &now],
        )?,
        median_seconds_to_decision: seconds.get(seconds.len() / 2).copied(),
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
            let k = &c.kpis;
            write!(
                f,
                "  decided {} (accepted {}, refused {})",
                k.decided, k.accepted, k.refused
            )?;
            if let Some(rate) = k.acceptance_rate {
                write!(f, ", acceptance rate {:.1} %", rate * 100.0)?;
            }
            if let Some(median) = k.median_seconds_to_decision {
                write!(f, ", median {median:.1}s to decide")?;
            }
            writeln!(
                f,
                "; undecided {}, flagged {}, deadlines missed {}",
                k.undecided, k.flagged, k.deadline_missed
            )?;
        }
        let counts = |map: &BTreeMap<String, i64>| {
            let parts: Vec<String> = map.iter().map(|(s, n)| format!("{s} {n}")).collect();
            if parts.is_empty() {
                "none".to_owned()
            } else {
                parts.join(", ")
            }
        };
        writeln!(f, "orders: {}", counts(&self.orders_by_status))?;
        if let Some(u) = &self.oldest_undecided {
            write!(f, "oldest undecided: {} (created {}", u.order, u.created_at)?;
            if let Some(deadline) = &u.deadline_at {
                write!(f, ", deadline {deadline}")?;
            }
            writeln!(f, ")")?;
        }
        writeln!(f, "messages: {}", counts(&self.outbox))?;
        writeln!(f, "open alerts: {}", self.open_alerts)?;
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
