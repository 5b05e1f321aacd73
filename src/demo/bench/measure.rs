//! The figures of one run, from what the driver saw, what the sandboxes recorded and what
//! the daemon stored.

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;
use vigie_fnac::sandbox::RecordedOffersUpdate;
use vigie_testkit::Marketplaces;

use crate::demo::report::{self, seconds};
use crate::demo::rig::Rig;
use crate::store::{Store, figures};

/// What only the driver saw during a run; the rest is in the database and the sandboxes.
pub(super) struct Driven {
    pub placed: u64,
    pub drained: Option<Drained>,
    pub wall_secs: f64,
    pub usage: Usage,
}

/// How the wait for the queued messages ended, after the last acceptance and the tail.
#[derive(Debug, Clone, Copy)]
pub(super) struct Drained {
    pub secs: f64,
    /// `false` when the drain limit stopped it with messages still queued.
    pub emptied: bool,
}

/// Figures from one run.
#[derive(Debug, Default)]
pub(super) struct Figures {
    pub placed: u64,
    pub accepted: usize,
    pub decided: u64,
    /// From the first order placed to the last one accepted.
    pub span_secs: f64,
    pub wall_secs: f64,
    /// Time to accept, by the order's marketplace; on Amazon, which has no acceptance step,
    /// time to the reservation.
    pub accept_waits: Samples,
    /// Time for the stock to reach the other channel (from Amazon, both others), by the
    /// order's marketplace.
    pub propagation: Samples,
    /// The same from when vigie read the order: the part vigie's pushes take, the rest being
    /// the wait for the marketplace's poll.
    pub propagation_after_read: Samples,
    /// From vigie's read of a Mirakl or Amazon order to Fnac receiving the new quantity:
    /// the wait behind Fnac batches until the last was applied, and the rest (the looks
    /// that see it applied, the push).
    pub to_fnac_behind_batch: Samples,
    pub to_fnac_after_batch: Samples,
    /// Accepted order lines whose SKU never reached the other channel after the order.
    pub unpropagated: usize,
    /// Per marketplace: (all calls, of which customer messages, accepted orders).
    pub calls: BTreeMap<&'static str, (u64, u64, usize)>,
    /// Per marketplace: its calls by operation, e.g. "OR11 17, OR21 150".
    pub operations: BTreeMap<&'static str, String>,
    pub messages: figures::OutboxCounts,
    /// Per outbox lane, by name.
    pub lanes: Vec<figures::LaneCounts>,
    pub drained: Option<Drained>,
    pub usage: Usage,
}

/// Times in seconds, sorted: all of them, and by marketplace ("Mirakl", "Fnac", "Amazon").
#[derive(Debug, Default)]
pub(super) struct Samples {
    pub all: Vec<f64>,
    by: BTreeMap<&'static str, Vec<f64>>,
}

impl Samples {
    fn add(&mut self, market: &'static str, seconds: f64) {
        self.all.push(seconds);
        self.by.entry(market).or_default().push(seconds);
    }

    fn sort(&mut self) {
        for values in std::iter::once(&mut self.all).chain(self.by.values_mut()) {
            values.sort_by(f64::total_cmp);
        }
    }

    pub fn of(&self, market: &str) -> &[f64] {
        self.by.get(market).map_or(&[], Vec::as_slice)
    }
}

/// Stock pushes per SKU, in time order.
type Pushes = HashMap<String, Vec<Timestamp>>;

pub(super) async fn figures(rig: &Rig, store: &Store, driven: Driven) -> anyhow::Result<Figures> {
    let Marketplaces {
        mirakl,
        fnac,
        amazon,
    } = &rig.markets;
    let outside = report::Outside::gather(&rig.markets);
    let mut created: HashMap<String, Timestamp> = HashMap::new();
    // When Mirakl received the OR21 that accepted the order; vigie records the confirmation
    // only at its next OR11 poll.
    let mut mirakl_accepted: HashMap<String, Timestamp> = HashMap::new();
    for o in mirakl.orders() {
        if let Some(at) = o.accepted_at {
            mirakl_accepted.insert(o.id.clone(), at);
        }
        created.insert(o.id, o.created_at);
    }
    for o in fnac.orders() {
        created.insert(o.id, o.created_at);
    }
    // The sandbox stamps Amazon's orders in the past so that they show at once.
    let amazon_lag = amazon.options().stamp_behind;
    for o in amazon.orders() {
        created.insert(o.id, o.created + amazon_lag);
    }
    let mirakl_pushes = received(mirakl.stock_imports().into_iter().flat_map(|import| {
        let at = import.created_at;
        import.lines.into_iter().map(move |line| (line.sku, at))
    }));
    let fnac_updates = fnac.offers_updates();
    let fnac_pushes = received(fnac_updates.iter().flat_map(|update| {
        let at = update.received_at;
        update
            .offers
            .iter()
            .map(move |offer| (offer.sku.clone(), at))
    }));
    let rows = store.call(|conn| figures::accepted_lines(conn)).await?;

    let mut figures = Figures {
        placed: driven.placed,
        decided: store
            .call(|conn| figures::order_counts(conn))
            .await?
            .settled,
        wall_secs: driven.wall_secs,
        messages: store.call(|conn| figures::outbox_counts(conn)).await?,
        lanes: store.call(|conn| figures::lane_counts(conn)).await?,
        drained: driven.drained,
        usage: driven.usage,
        ..Figures::default()
    };
    let mut accepted_per_channel: BTreeMap<String, usize> = BTreeMap::new();
    let mut first_created: Option<Timestamp> = None;
    let mut last_accepted: Option<Timestamp> = None;
    let mut waited: HashSet<&str> = HashSet::new();
    for row in &rows {
        let Some(&placed_at) = created.get(&row.order_id) else {
            continue;
        };
        let market = match row.channel.as_str() {
            "fnac" => "Fnac",
            "amazon-fr" => "Amazon",
            _ => "Mirakl",
        };
        if waited.insert(&row.order_id) {
            *accepted_per_channel.entry(row.channel.clone()).or_default() += 1;
            // Fnac answers orders_update with the outcome, so vigie's confirmation is the
            // marketplace's acceptance there; Amazon has none, its units are held when seen.
            let accepted_at = match market {
                "Amazon" => row.seen_at,
                _ => mirakl_accepted
                    .get(&row.order_id)
                    .copied()
                    .unwrap_or(row.confirmed_at),
            };
            figures
                .accept_waits
                .add(market, seconds(placed_at, accepted_at));
            first_created = Some(first_created.map_or(placed_at, |t| t.min(placed_at)));
            last_accepted =
                Some(last_accepted.map_or(row.confirmed_at, |t| t.max(row.confirmed_at)));
        }
        let others: &[&Pushes] = match market {
            "Fnac" => &[&mirakl_pushes],
            "Amazon" => &[&mirakl_pushes, &fnac_pushes],
            _ => &[&fnac_pushes],
        };
        match reached_all(others, &row.sku, row.seen_at) {
            Some(at) => {
                figures.propagation.add(market, seconds(placed_at, at));
                figures
                    .propagation_after_read
                    .add(market, seconds(row.seen_at, at));
            }
            None => figures.unpropagated += 1,
        }
        if market != "Fnac" {
            let pushed = first_at_or_after(fnac_pushes.get(&row.sku), row.seen_at);
            if let Some(received) = pushed {
                let (behind, after) = split_wait(&fnac_updates, row.seen_at, received);
                figures.to_fnac_behind_batch.add(market, behind);
                figures.to_fnac_after_batch.add(market, after);
            }
        }
    }
    figures.accepted = waited.len();
    if let (Some(first), Some(last)) = (first_created, last_accepted) {
        figures.span_secs = seconds(first, last);
    }
    figures.accept_waits.sort();
    figures.propagation.sort();
    figures.propagation_after_read.sort();
    figures.to_fnac_behind_batch.sort();
    figures.to_fnac_after_batch.sort();
    for (label, channel, calls, messages) in [
        (
            "Mirakl",
            "leroymerlin",
            outside.mirakl_calls,
            // A new thread (OR43), or a reply in the order's thread (M12).
            mirakl.request_count("OR43") + mirakl.request_count("M12"),
        ),
        (
            "Fnac",
            "fnac",
            outside.fnac_calls,
            fnac.requests("messages_update"),
        ),
    ] {
        let accepted = accepted_per_channel.get(channel).copied().unwrap_or(0);
        figures.calls.insert(label, (calls, messages, accepted));
    }
    let by_operation = |counts: Vec<(String, u64)>| {
        let counts: Vec<String> = counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        counts.join(", ")
    };
    figures.operations.insert(
        "Mirakl",
        by_operation(mirakl.request_counts().into_iter().collect()),
    );
    figures.operations.insert(
        "Fnac",
        by_operation(
            report::FNAC_SERVICES
                .iter()
                .map(|s| ((*s).to_owned(), fnac.requests(s)))
                .collect(),
        ),
    );
    Ok(figures)
}

/// Each SKU's pushes, in time order, from when the marketplace received each of them.
fn received(pushes: impl Iterator<Item = (String, Timestamp)>) -> Pushes {
    let mut by_sku = Pushes::new();
    for (sku, at) in pushes {
        by_sku.entry(sku).or_default().push(at);
    }
    for times in by_sku.values_mut() {
        times.sort();
    }
    by_sku
}

/// Splits the wait from vigie's `read` of an order to Fnac `received` the quantity: until
/// the batches received before it were all applied (what gathering behind an open batch
/// costs), and from then, or from the read, on (the looks that see a batch applied, then the
/// push).
fn split_wait(
    updates: &[RecordedOffersUpdate],
    read: Timestamp,
    received: Timestamp,
) -> (f64, f64) {
    let released = updates
        .iter()
        .filter(|u| u.received_at < received)
        .filter_map(|u| u.applied_at)
        .max();
    let from = released.map_or(read, |at| at.max(read)).min(received);
    (seconds(read, from), seconds(from, received))
}

/// When every one of the `others` channels had received `sku` at or after `at`: the latest
/// of their first pushes, or `None` if one never received it.
fn reached_all(others: &[&Pushes], sku: &str, at: Timestamp) -> Option<Timestamp> {
    others
        .iter()
        .map(|pushes| first_at_or_after(pushes.get(sku), at))
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .max()
}

/// The first of the `sorted` times at or after `at`.
fn first_at_or_after(sorted: Option<&Vec<Timestamp>>, at: Timestamp) -> Option<Timestamp> {
    let sorted = sorted?;
    let i = sorted.partition_point(|t| *t < at);
    sorted.get(i).copied()
}

/// The daemon's memory and CPU, read from /proc while it still runs.
#[derive(Debug, Default)]
pub(super) struct Usage {
    pub peak_rss_kib: Option<u64>,
    pub cpu_secs: Option<f64>,
}

impl Usage {
    pub async fn of(pid: Option<u32>) -> Self {
        let Some(pid) = pid else {
            return Self::default();
        };
        Self {
            peak_rss_kib: peak_rss_kib(pid),
            cpu_secs: cpu_secs(pid).await,
        }
    }
}

/// VmHWM of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User and system CPU time of a live process (all its threads), in seconds.
async fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are space-separated.
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12th and 13th after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks().await)
}

async fn clock_ticks() -> f64 {
    let out = tokio::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .await;
    out.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        // USER_HZ is 100 on every Linux architecture vigie targets.
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_after_the_reservation() {
        let t = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        let pushes = vec![t(1), t(5), t(9)];
        assert_eq!(first_at_or_after(Some(&pushes), t(5)), Some(t(5)));
        assert_eq!(first_at_or_after(Some(&pushes), t(6)), Some(t(9)));
        assert_eq!(first_at_or_after(Some(&pushes), t(10)), None);
        assert_eq!(first_at_or_after(None, t(0)), None);
    }

    #[test]
    fn the_wait_to_reach_fnac_splits_at_the_last_earlier_batchs_application() {
        let t = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        let update = |received: i64, applied: Option<i64>| RecordedOffersUpdate {
            batch_id: String::new(),
            offers: Vec::new(),
            received_at: t(received),
            applied_at: applied.map(t),
        };
        let updates = [update(0, Some(10)), update(15, None)];
        assert_eq!(split_wait(&updates, t(3), t(15)), (7.0, 5.0));
        assert_eq!(
            split_wait(&updates, t(12), t(15)),
            (0.0, 3.0),
            "read once it was applied"
        );
        assert_eq!(
            split_wait(&updates, t(-2), t(0)),
            (0.0, 2.0),
            "no batch open"
        );
    }

    #[test]
    fn an_amazon_order_has_propagated_once_both_other_channels_received_it() {
        let t = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        let mirakl = Pushes::from([("A".to_owned(), vec![t(3), t(8)])]);
        let fnac = Pushes::from([("A".to_owned(), vec![t(5)]), ("B".to_owned(), vec![t(1)])]);
        assert_eq!(reached_all(&[&mirakl, &fnac], "A", t(2)), Some(t(5)));
        assert_eq!(reached_all(&[&mirakl, &fnac], "A", t(4)), Some(t(8)));
        assert_eq!(
            reached_all(&[&mirakl, &fnac], "A", t(6)),
            None,
            "Fnac never did"
        );
        assert_eq!(
            reached_all(&[&mirakl, &fnac], "B", t(0)),
            None,
            "Mirakl never did"
        );
        assert_eq!(reached_all(&[&fnac], "B", t(0)), Some(t(1)));
    }
}
