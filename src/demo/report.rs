//! What the demo prints at the end, read from the daemon's own database and from what the
//! sandboxes and sinks received.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use rusqlite::Connection;
use vigie_testkit::Marketplaces;
use vigie_testkit::stats::percentile;

use crate::store::figures;
use crate::store::orders::{self, OrderFilter};
use crate::store::{self, StoreError};

/// Fnac services, for counting the calls vigie made.
/// Every Fnac service vigie calls, as the sandbox counts them.
pub const FNAC_SERVICES: [&str; 9] = [
    "auth",
    "orders_query",
    "incidents_query",
    "orders_update",
    "carriers_query",
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
    pub messages: figures::OutboxCounts,
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
    p.messages = figures::outbox_counts(conn)?;
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
    pub emails: usize,
    pub elapsed_secs: f64,
}

impl Outside {
    pub fn gather(markets: &Marketplaces) -> Self {
        let Marketplaces { mirakl, fnac, .. } = markets;
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

    let mut waits: Vec<f64> = figures::acceptances(conn)?
        .iter()
        .map(|a| seconds(a.placed_at, a.confirmed_at))
        .collect();
    waits.sort_by(f64::total_cmp);
    if let (Some(median), Some(p99)) = (percentile(&waits, 0.5), percentile(&waits, 0.99)) {
        let _ = writeln!(
            out,
            "time to accept (order placed -> marketplace confirms): median {median:.1} s, p99 {p99:.1} s, over {} orders",
            waits.len()
        );
    }

    let _ = writeln!(
        out,
        "stock quantities pushed: leroymerlin {} in {} imports, fnac {} in {} batches",
        s.mirakl_pushes, s.mirakl_imports, s.fnac_pushes, s.fnac_batches
    );

    let _ = writeln!(
        out,
        "customer messages sent ({} e-mails reached the SMTP server):",
        s.emails
    );
    for sent in figures::sent_messages(conn)? {
        let what = format!("{} via {}", sent.event, sent.destination);
        let _ = writeln!(out, "  {what:<26} {:>4}", sent.count);
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

/// Seconds from `from` to `to`, never negative (the two times come from different processes).
pub fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64().max(0.0)
}
