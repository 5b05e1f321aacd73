//! What the demo prints at the end, read from the daemon's own database and from what the
//! sandboxes and sinks received.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use rusqlite::Connection;
use vigie_fnac::sandbox::FnacSandbox;
use vigie_mirakl::sandbox::MiraklSandbox;

use crate::store::orders::{self, OrderFilter};
use crate::store::{self, StoreError};

/// Fnac services, for counting the calls vigie made.
const FNAC_SERVICES: [&str; 7] = [
    "auth",
    "orders_query",
    "orders_update",
    "offers_update",
    "batch_status",
    "offers_query",
    "messages_update",
];

#[derive(Debug, Default)]
pub struct Progress {
    pub seen: usize,
    pub accepted: usize,
    pub refused: usize,
    pub flagged: usize,
    pub undecided: usize,
    pub shipped: usize,
    pub messages: i64,
    pub pending_messages: i64,
}

/// Counts for the live line, from the daemon's database.
pub fn progress(conn: &Connection) -> store::Result<Progress> {
    let mut p = Progress::default();
    for order in orders::list(conn, &OrderFilter::default())? {
        p.seen += 1;
        match order.decision {
            Some("accept") => p.accepted += 1,
            Some("refuse") => p.refused += 1,
            Some(_) => p.flagged += 1,
            None => p.undecided += usize::from(order.status == "awaiting_acceptance"),
        }
        p.shipped += usize::from(order.status == "shipped");
    }
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    // Order jobs only: the outbox also carries on-call notices.
    p.messages =
        count("SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND order_pk IS NOT NULL")?;
    p.pending_messages = count(
        "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending') AND order_pk IS NOT NULL",
    )?;
    Ok(p)
}

/// What the sandboxes and sinks saw, gathered before the database is read.
pub struct Outside {
    mirakl_pushes: usize,
    mirakl_imports: usize,
    fnac_pushes: usize,
    fnac_batches: usize,
    pub mirakl_calls: u64,
    pub fnac_calls: u64,
    pub alerts: BTreeMap<String, u64>,
    pub emails: u64,
    pub elapsed_secs: f64,
}

impl Outside {
    pub fn gather(mirakl: &MiraklSandbox, fnac: &FnacSandbox) -> Self {
        Self {
            mirakl_pushes: mirakl.stock_imports().iter().map(|i| i.lines.len()).sum(),
            mirakl_imports: mirakl.stock_imports().len(),
            fnac_pushes: fnac.offers_updates().iter().map(|u| u.offers.len()).sum(),
            fnac_batches: fnac.offers_updates().len(),
            mirakl_calls: mirakl.request_counts().values().sum(),
            fnac_calls: FNAC_SERVICES.iter().map(|svc| fnac.requests(svc)).sum(),
            alerts: BTreeMap::new(),
            emails: 0,
            elapsed_secs: 0.0,
        }
    }
}

pub fn summary(conn: &Connection, s: &Outside) -> Result<String, StoreError> {
    let mut out = String::new();
    let orders = orders::list(conn, &OrderFilter::default())?;
    let mut decisions: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut accepted_per_channel: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &orders {
        let decision = o.decision.unwrap_or("undecided");
        *decisions.entry(decision).or_default() += 1;
        if decision == "accept" {
            *accepted_per_channel.entry(o.channel.as_str()).or_default() += 1;
        }
        for r in &o.reasons {
            *reasons.entry(format!("{decision}: {r}")).or_default() += 1;
        }
    }
    let _ = writeln!(out, "\n{} orders in {:.0} s", orders.len(), s.elapsed_secs);
    for (decision, n) in &decisions {
        let _ = writeln!(out, "  {decision:<10} {n:>4}");
    }
    for (reason, n) in &reasons {
        let _ = writeln!(out, "    {reason:<34} {n:>4}");
    }

    let waits = accept_waits(conn)?;
    if !waits.is_empty() {
        let _ = writeln!(
            out,
            "time to accept (order placed -> marketplace confirms): median {:.1} s, p99 {:.1} s, over {} orders",
            percentile(&waits, 0.5),
            percentile(&waits, 0.99),
            waits.len()
        );
    }

    let _ = writeln!(
        out,
        "stock quantities pushed: leroymerlin {} in {} imports, fnac {} in {} batches",
        s.mirakl_pushes, s.mirakl_imports, s.fnac_pushes, s.fnac_batches
    );

    let mut stmt = conn.prepare(
        "SELECT event || ' via ' || destination, COUNT(*) FROM outbox
         WHERE state = 'sent' AND order_pk IS NOT NULL GROUP BY 1 ORDER BY 1",
    )?;
    let messages: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let _ = writeln!(
        out,
        "customer messages sent ({} e-mails reached the SMTP server):",
        s.emails
    );
    for (what, n) in messages {
        let _ = writeln!(out, "  {what:<26} {n:>4}");
    }
    let _ = writeln!(out, "alerts received by the on-call endpoint:");
    for (kind, n) in &s.alerts {
        let _ = writeln!(out, "  {kind:<34} {n:>4}");
    }

    let per_order = |calls: u64, channel: &str| {
        let accepted = accepted_per_channel.get(channel).copied().unwrap_or(0);
        if accepted == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}", calls as f64 / accepted as f64)
        }
    };
    let _ = writeln!(
        out,
        "API calls per accepted order: leroymerlin {} ({} calls), fnac {} ({} calls)",
        per_order(s.mirakl_calls, "leroymerlin"),
        s.mirakl_calls,
        per_order(s.fnac_calls, "fnac"),
        s.fnac_calls,
    );
    Ok(out)
}

/// Seconds from the order's creation on the marketplace to the marketplace confirming
/// vigie's acceptance, for every accepted order.
pub fn accept_waits(conn: &Connection) -> store::Result<Vec<f64>> {
    let mut stmt = conn.prepare(
        "SELECT o.created_at, MIN(d.outcome_at) FROM orders o
         JOIN decisions d ON d.order_pk = o.id
         WHERE d.accept = 1 AND d.outcome = 'confirmed' GROUP BY o.id",
    )?;
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut waits: Vec<f64> = rows
        .iter()
        .filter_map(|(created, confirmed)| {
            let created: Timestamp = created.parse().ok()?;
            let confirmed: Timestamp = confirmed.parse().ok()?;
            Some(confirmed.duration_since(created).as_secs_f64().max(0.0))
        })
        .collect();
    waits.sort_by(f64::total_cmp);
    Ok(waits)
}

/// The `q` quantile of sorted `values` (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
