//! How well a channel's orders were served over a window of time: what `status`, `report` and
//! `/metrics` show. Every figure is one SQL aggregate over the orders created in the window;
//! nothing reads the orders into memory.
//!
//! An order counts for acceptance only if vigie saw it awaiting acceptance: one first seen
//! already shipped was never the seller's to accept. Once it left that state it ended one way:
//! - accepted: the marketplace showed it accepted (or later), or confirmed vigie's acceptance;
//! - refused: vigie's refusal confirmed, or refused on the marketplace before its deadline;
//! - expired: refused or cancelled without an answer from vigie at or after its deadline (what
//!   marketplaces do to an order nobody answered);
//! - cancelled before anyone answered and before its deadline: the customer's doing.

use jiff::Timestamp;
use rusqlite::Connection;
use serde::Serialize;
use vigie_connector::OrderStatus;

use super::{Result, time_text};

/// `[since, until)`, compared with the orders' creation on the marketplace.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: Timestamp,
    pub until: Timestamp,
}

impl Window {
    /// The window of the same length just before this one.
    pub fn previous(&self) -> Self {
        let length = self.until.duration_since(self.since);
        Self {
            since: self.since.checked_sub(length).unwrap_or(Timestamp::MIN),
            until: self.since,
        }
    }
}

/// DESIGN section 3's `kpis` object, plus what is waiting right now.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Kpis {
    /// Orders created on the marketplace within the window.
    pub received: i64,
    pub accepted: i64,
    pub refused: i64,
    /// Orders of the window vigie held for a human at some point.
    pub flagged: i64,
    /// Accepted or refused on the marketplace (its back office) without vigie's decision.
    pub decided_elsewhere: i64,
    /// Ended by the marketplace at their deadline for want of an answer.
    pub expired: i64,
    /// Cancelled before any answer and before their deadline, or after their acceptance.
    pub cancelled_by_customer: i64,
    /// accepted / (accepted + refused + expired); `None` before any order left acceptance.
    pub acceptance_rate: Option<f64>,
    /// cancelled_by_customer / received; `None` for an empty window.
    pub cancellation_rate: Option<f64>,
    pub time_to_accept_seconds: TimeToAccept,
    /// Right now, whatever the window: orders awaiting acceptance without a decision.
    pub undecided: i64,
    /// Right now: orders held for a human.
    pub awaiting_review: i64,
    /// Right now: orders still awaiting acceptance past their deadline without a decision.
    pub deadline_missed: i64,
    /// Orders of the window whose decision by vigie the marketplace confirmed (as printed
    /// before the `kpis` object of DESIGN section 3; scripts may read it).
    pub decided: i64,
    /// Median from vigie's first sight of an order to the marketplace confirming its decision.
    pub median_seconds_to_decision: Option<f64>,
}

impl Kpis {
    /// One line: what was received and how it ended.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "received {}: accepted {}, refused {}, expired {}, cancelled by the customer {}; \
             decided elsewhere {}, flagged {}",
            self.received,
            self.accepted,
            self.refused,
            self.expired,
            self.cancelled_by_customer,
            self.decided_elsewhere,
            self.flagged
        );
        if let Some(rate) = self.acceptance_rate {
            line += &format!("; acceptance rate {:.1} %", rate * 100.0);
        }
        let t = &self.time_to_accept_seconds;
        if let (Some(p50), Some(p99)) = (t.p50, t.p99) {
            line += &format!(
                "; time to accept p50 {} p99 {}",
                shown_duration(p50),
                shown_duration(p99)
            );
        }
        line
    }
}

/// A duration for a person: `42s`, `7m12s`, `3h05m`, `2d04h`.
pub fn shown_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m{:02}s", s / 60, s % 60),
        3_600..86_400 => format!("{}h{:02}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3_600),
    }
}

/// From the order's creation on the marketplace to its acceptance being known (confirmed to
/// vigie, or seen accepted on the marketplace); nearest-rank percentiles.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct TimeToAccept {
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

/// One count of the time-to-accept distribution: orders accepted in less than `below_seconds`
/// (`None`: the rest).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Bucket {
    pub below_seconds: Option<u64>,
    pub orders: i64,
}

/// The upper bounds of the distribution's buckets, in seconds.
const BUCKETS: [u64; 8] = [
    60,
    300,
    900,
    3_600,
    4 * 3_600,
    12 * 3_600,
    86_400,
    2 * 86_400,
];

/// The windows the figures are read over, as the SQL table `windows (window_index, since, until)`:
/// its text and its arguments, after the channel (`?1`). `windows` is not empty.
fn windows_table(windows: &[Window]) -> (String, Vec<String>) {
    let rows: Vec<String> = (0..windows.len())
        .map(|n| format!("({n}, ?{}, ?{})", 2 * n + 2, 2 * n + 3))
        .collect();
    let args = windows
        .iter()
        .flat_map(|w| [time_text(w.since), time_text(w.until)])
        .collect();
    (
        format!(
            "windows (window_index, since, until) AS (VALUES {})",
            rows.join(", ")
        ),
        args,
    )
}

/// One row per order of channel `?1` created in a window of the table `windows`, with how its
/// acceptance ended; `seconds` is its time to accept when it was accepted. What was seen of
/// each order and what vigie decided are grouped once per order, not looked up per row. The
/// quoted words are the stored words of `OrderStatus` and `Outcome`.
const ENDINGS: &str = "
facts AS (
    SELECT w.window_index, o.id, o.status, o.created_at, o.deadline_at, o.first_seen_at,
           COALESCE(MAX(h.status = 'awaiting_acceptance'), 0) AS awaited,
           MIN(h.observed_at) FILTER (
               WHERE h.status IN ('accepted', 'shipped', 'received', 'closed')
           ) AS seen_accepted_at,
           MIN(h.observed_at) FILTER (WHERE h.status IN ('refused', 'cancelled')) AS ended_at,
           COALESCE(MAX(h.status = 'refused'), 0) AS shown_refused,
           MIN(d.outcome_at) FILTER (WHERE d.accept = 1) AS vigie_accepted_at,
           COALESCE(MAX(d.accept = 0), 0) AS vigie_refused,
           MIN(d.outcome_at) AS vigie_decided_at,
           MAX(f.order_pk IS NOT NULL) AS flagged
    FROM windows w
    JOIN orders o ON o.channel = ?1 AND o.created_at >= w.since AND o.created_at < w.until
    LEFT JOIN status_history h ON h.order_pk = o.id
    LEFT JOIN decisions d ON d.order_pk = o.id AND d.outcome = 'confirmed'
    LEFT JOIN flags f ON f.order_pk = o.id
    GROUP BY w.window_index, o.id
),
endings AS (
    SELECT *,
           CASE
               WHEN NOT awaited THEN NULL
               WHEN seen_accepted_at IS NOT NULL OR vigie_accepted_at IS NOT NULL THEN 'accepted'
               WHEN vigie_refused THEN 'refused'
               WHEN ended_at IS NULL THEN NULL
               WHEN deadline_at IS NOT NULL AND ended_at >= deadline_at THEN 'expired'
               WHEN shown_refused THEN 'refused'
               ELSE 'cancelled'
           END AS ending
    FROM facts
)
SELECT window_index, status, ending, vigie_decided_at, flagged,
       CASE WHEN ending = 'accepted' THEN
           (julianday(COALESCE(vigie_accepted_at, seen_accepted_at)) - julianday(created_at))
           * 86400.0
       END AS seconds,
       (julianday(vigie_decided_at) - julianday(first_seen_at)) * 86400.0 AS decision_seconds
FROM endings";

/// [`ENDINGS`] over `windows`: the query's text and its arguments.
fn endings(channel: &str, windows: &[Window]) -> (String, Vec<String>) {
    let (table, mut args) = windows_table(windows);
    args.insert(0, channel.to_owned());
    (format!("WITH {table}, {ENDINGS}"), args)
}

/// A window's counts and times, read with every other window's in one pass over
/// [`ENDINGS`].
#[derive(Default)]
struct Figures {
    received: i64,
    accepted: i64,
    refused: i64,
    expired: i64,
    cancelled: i64,
    elsewhere: i64,
    flagged: i64,
    decided: i64,
    time_to_accept: TimeToAccept,
    median_seconds_to_decision: Option<f64>,
}

/// The nearest-rank quantile `q` of `column` (of the rows where it is not null), ranked by
/// `RANKED`: the smallest value with at least q of the values at or below it, which is the
/// value at rank ceil(q × count), 1 at least.
fn nearest_rank(column: &str, q: f64) -> String {
    format!(
        "MIN({column}) FILTER (WHERE {column} IS NOT NULL AND {column}_rank >= {q:?} * {column}_count)"
    )
}

/// Each row of [`ENDINGS`] with its rank among its window's times to accept and times to
/// decide, and how many of each its window has.
const RANKED: &str = "
    SELECT *,
           ROW_NUMBER() OVER (PARTITION BY window_index, seconds IS NULL ORDER BY seconds)
               AS seconds_rank,
           COUNT(seconds) OVER (PARTITION BY window_index) AS seconds_count,
           ROW_NUMBER() OVER (
               PARTITION BY window_index, decision_seconds IS NULL ORDER BY decision_seconds
           ) AS decision_seconds_rank,
           COUNT(decision_seconds) OVER (PARTITION BY window_index) AS decision_seconds_count";

/// The figures of each of `windows`, in their order.
fn figures(conn: &Connection, channel: &str, windows: &[Window]) -> Result<Vec<Figures>> {
    if windows.is_empty() {
        // No table of no rows in SQL.
        return Ok(Vec::new());
    }
    let (endings, args) = endings(channel, windows);
    let sql = format!(
        "SELECT window_index,
                COUNT(*),
                COUNT(*) FILTER (WHERE ending = 'accepted'),
                COUNT(*) FILTER (WHERE ending = 'refused'),
                COUNT(*) FILTER (WHERE ending = 'expired'),
                COUNT(*) FILTER (WHERE ending = 'cancelled'
                                    OR (ending = 'accepted' AND status = 'cancelled')),
                COUNT(*) FILTER (WHERE ending IN ('accepted', 'refused')
                                    AND vigie_decided_at IS NULL),
                COUNT(*) FILTER (WHERE flagged),
                COUNT(decision_seconds),
                AVG(seconds), {}, {}, {}, {}
         FROM ({RANKED} FROM ({endings}))
         GROUP BY window_index",
        nearest_rank("seconds", 0.5),
        nearest_rank("seconds", 0.9),
        nearest_rank("seconds", 0.99),
        nearest_rank("decision_seconds", 0.5),
    );
    // A window without orders has no row: its figures are all zero.
    let mut all: Vec<Figures> = windows.iter().map(|_| Figures::default()).collect();
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
    while let Some(r) = rows.next()? {
        let figures = Figures {
            received: r.get(1)?,
            accepted: r.get(2)?,
            refused: r.get(3)?,
            expired: r.get(4)?,
            cancelled: r.get(5)?,
            elsewhere: r.get(6)?,
            flagged: r.get(7)?,
            decided: r.get(8)?,
            time_to_accept: TimeToAccept {
                mean: r.get(9)?,
                p50: r.get(10)?,
                p90: r.get(11)?,
                p99: r.get(12)?,
            },
            median_seconds_to_decision: r.get(13)?,
        };
        let index = usize::try_from(r.get::<_, i64>(0)?).ok();
        if let Some(slot) = index.and_then(|n| all.get_mut(n)) {
            *slot = figures;
        }
    }
    Ok(all)
}

/// The KPIs of `channel` over `window`; the "right now" counts at `now`.
pub fn of_channel(
    conn: &Connection,
    channel: &str,
    window: Window,
    now: Timestamp,
) -> Result<Kpis> {
    let f = figures(conn, channel, &[window])?.pop().unwrap_or_default();
    let left = f.accepted + f.refused + f.expired;
    let now = time_text(now);
    let awaiting = OrderStatus::AwaitingAcceptance.as_str();
    let count = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<i64> {
        Ok(conn.query_row(sql, args, |r| r.get(0))?)
    };
    let undecided = "SELECT COUNT(*) FROM orders o WHERE o.channel = ?1 AND o.status = ?2
                     AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.order_pk = o.id)";
    Ok(Kpis {
        received: f.received,
        accepted: f.accepted,
        refused: f.refused,
        flagged: f.flagged,
        decided_elsewhere: f.elsewhere,
        expired: f.expired,
        cancelled_by_customer: f.cancelled,
        acceptance_rate: (left > 0).then(|| f.accepted as f64 / left as f64),
        cancellation_rate: (f.received > 0).then(|| f.cancelled as f64 / f.received as f64),
        time_to_accept_seconds: f.time_to_accept,
        decided: f.decided,
        median_seconds_to_decision: f.median_seconds_to_decision,
        undecided: count(undecided, &[&channel, &awaiting])?,
        awaiting_review: count(
            "SELECT COUNT(*) FROM flags f JOIN orders o ON o.id = f.order_pk
             WHERE o.channel = ?1 AND f.resolved_at IS NULL",
            &[&channel],
        )?,
        deadline_missed: count(
            &format!("{undecided} AND o.deadline_at < ?3"),
            &[&channel, &awaiting, &now],
        )?,
    })
}

/// How long the accepted orders of `channel` created in `window` took, in [`BUCKETS`].
pub fn time_to_accept_distribution(
    conn: &Connection,
    channel: &str,
    window: Window,
) -> Result<Vec<Bucket>> {
    let bucket_of: String = BUCKETS
        .iter()
        .map(|b| format!("WHEN seconds < {b} THEN {b} "))
        .collect();
    let (endings, args) = endings(channel, &[window]);
    let mut stmt = conn.prepare(&format!(
        "SELECT CASE {bucket_of} END AS bucket, COUNT(*) FROM ({endings})
         WHERE seconds IS NOT NULL GROUP BY bucket"
    ))?;
    let counted: Vec<(Option<i64>, i64)> = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(BUCKETS
        .iter()
        .map(|b| Some(*b))
        .chain([None])
        .map(|below| Bucket {
            below_seconds: below,
            orders: counted
                .iter()
                .find(|(b, _)| b.and_then(|b| u64::try_from(b).ok()) == below)
                .map_or(0, |(_, n)| *n),
        })
        .collect())
}

#[cfg(test)]
mod tests;

/// One day (24 hours ending at `until`) of a channel, for the dashboard's charts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Day {
    pub until: String,
    pub median_seconds_to_accept: Option<f64>,
}

/// The last `days` days of `channel`, oldest first, each 24 hours long, the last ending `now`;
/// all of them read in one pass.
pub fn daily(conn: &Connection, channel: &str, now: Timestamp, days: i64) -> Result<Vec<Day>> {
    let windows: Vec<Window> = (0..days)
        .rev()
        .map(|ago| {
            let until = now - jiff::SignedDuration::from_hours(24 * ago);
            Window {
                since: until - jiff::SignedDuration::from_hours(24),
                until,
            }
        })
        .collect();
    Ok(windows
        .iter()
        .zip(figures(conn, channel, &windows)?)
        .map(|(window, figures)| Day {
            until: time_text(window.until),
            median_seconds_to_accept: figures.time_to_accept.p50,
        })
        .collect())
}

/// Orders waiting for a decision at `at`, every channel: seen awaiting acceptance by then,
/// neither decided by vigie nor moved on by the marketplace before it.
pub fn backlog_at(conn: &Connection, at: Timestamp) -> Result<i64> {
    let at = time_text(at);
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM orders o
         WHERE o.first_seen_at < ?1
           AND EXISTS (SELECT 1 FROM status_history h WHERE h.order_pk = o.id
                       AND h.status = 'awaiting_acceptance' AND h.observed_at < ?1)
           AND NOT EXISTS (SELECT 1 FROM status_history h WHERE h.order_pk = o.id
                           AND h.status NOT IN ('pending', 'awaiting_acceptance')
                           AND h.observed_at < ?1)
           AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.order_pk = o.id
                           AND d.decided_at < ?1)",
        [&at],
        |r| r.get(0),
    )?)
}
