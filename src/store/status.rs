//! What `vigie status`, `GET /status` and the gauges of `GET /metrics` report: each
//! channel's loop and KPIs, the backlog, the outbox, open alerts.

use std::collections::BTreeMap;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use vigie_connector::OrderStatus;

use super::Result;
use super::channels::{self, ChannelHealth};
use super::kpis::{self, Kpis, Window};
use super::orders::SHOWN_STATUS;
use super::quarantine;
use super::time_text;
use crate::config::Config;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// The channels' KPIs count the orders created on the marketplace since then.
    pub kpis_since: String,
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
    pub kpis: Kpis,
    /// Its first import (every order still holding stock) is not done: nothing is decided
    /// on it nor pushed to it yet.
    pub importing: bool,
}

#[derive(Debug, Serialize)]
pub struct Undecided {
    pub order: String,
    pub created_at: String,
    pub deadline_at: Option<String>,
}

/// How far back the KPIs of `status` look; `vigie report` takes any window.
pub const KPI_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);

/// The report as of `now` (the KPIs' window ends there).
pub fn report(conn: &Connection, config: &Config, now: Timestamp) -> Result<StatusReport> {
    let mut health: BTreeMap<String, ChannelHealth> = channels::health(conn)?
        .into_iter()
        .map(|h| (h.channel.clone(), h))
        .collect();
    let window = Window {
        since: now.checked_sub(KPI_WINDOW).unwrap_or(Timestamp::MIN),
        until: now,
    };
    let channels = config
        .channels
        .iter()
        .map(|c| {
            Ok(ChannelStatus {
                name: c.name.clone(),
                kind: c.kind,
                poll_interval_seconds: c.poll_interval.as_secs(),
                health: health.remove(&c.name),
                kpis: kpis::of_channel(conn, &c.name, window, now)?,
                importing: !channels::first_import_done(conn, &c.name)?,
            })
        })
        .collect::<Result<_>>()?;
    let oldest_undecided = conn
        .query_row(
            "SELECT o.channel || ':' || o.order_id, o.created_at, o.deadline_at FROM orders o
             WHERE o.status = ?1
               AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.order_pk = o.id)
             ORDER BY o.created_at LIMIT 1",
            [OrderStatus::AwaitingAcceptance.as_str()],
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
        kpis_since: time_text(window.since),
        channels,
        orders_by_status: grouped(
            conn,
            &format!(
                "SELECT {SHOWN_STATUS} AS shown, COUNT(*)
                 FROM orders o LEFT JOIN flags f ON f.order_pk = o.id GROUP BY shown"
            ),
        )?,
        oldest_undecided,
        outbox: super::outbox::message_counts(conn)?,
        open_alerts: count("SELECT COUNT(*) FROM alerts WHERE resolved_at IS NULL")?,
        quarantined_payloads: quarantine::count(conn)?,
    })
}

fn grouped(conn: &Connection, sql: &str) -> Result<BTreeMap<String, i64>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
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
            if c.importing {
                writeln!(
                    f,
                    "  importing the orders that hold stock: nothing decided nor pushed until done"
                )?;
            }
            let k = &c.kpis;
            writeln!(f, "  {}", k.summary())?;
            writeln!(
                f,
                "  now: undecided {}, awaiting review {}, deadlines missed {}",
                k.undecided, k.awaiting_review, k.deadline_missed
            )?;
        }
        writeln!(
            f,
            "(KPIs over the orders created since {})",
            self.kpis_since
        )?;
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
