//! Which stretch of changes a poll asks the marketplace for.
//!
//! A marketplace may show a change some time after the time it stamps on it (its own
//! latency, its clock against ours): the channel's `overlap` bounds that delay. Re-reading
//! the overlap at every poll, as vigie once did, re-pages every order changed in the last
//! minutes at every poll: after a burst of 8,000 orders, 131 pages a poll. Instead:
//!
//! - a poll reads from where the previous one ended (`fresh`): one page when little changed;
//! - once every `overlap`, a poll reads from `settled` instead, `overlap` before the previous
//!   such re-read. Every change is then read by a poll at least `overlap` after its stamp:
//!   take the first re-read at or after `stamp + overlap`; the one before it came earlier,
//!   so this one starts before `stamp`, and it ends at its own time, after `stamp`.
//!
//! A change is thus read at most three times (fresh, then by one or two re-reads) instead of
//! at every poll for `overlap`; ingestion ignores a picture it already holds or an older one.

use jiff::Timestamp;
use vigie_connector::spec::PollingPolicy;

/// Where a channel's polling stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursors {
    /// The end of the last window read.
    pub fresh: Option<Timestamp>,
    /// Every change stamped before it was read by a poll at least `overlap` after its stamp.
    pub settled: Option<Timestamp>,
}

/// What one poll reads, and where the cursors stand once it is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: Timestamp,
    /// The new `settled` cursor, when this poll re-reads the overlap.
    pub settles: Option<Timestamp>,
}

pub fn choose(cursors: Cursors, policy: &PollingPolicy, now: Timestamp) -> Window {
    let overlap = policy.overlap;
    let rereading = |since| Window {
        since,
        settles: Some(now - overlap),
    };
    match (cursors.fresh, cursors.settled) {
        (None, _) => rereading(now - policy.first_lookback),
        // A database from before the settled cursor: settle from where it was.
        (Some(fresh), None) => rereading(fresh - overlap),
        (Some(_), Some(settled)) if now.duration_since(settled) >= overlap * 2 => {
            rereading(settled)
        }
        (Some(fresh), Some(_)) => Window {
            since: fresh,
            settles: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use proptest::prelude::*;

    use super::*;

    const OVERLAP: SignedDuration = SignedDuration::from_mins(5);

    fn policy() -> PollingPolicy {
        PollingPolicy {
            overlap: OVERLAP,
            first_lookback: SignedDuration::from_hours(24),
            queue_sweep_every: SignedDuration::from_mins(15),
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    /// Polls at `times`, each window committed before the next; returns the windows read.
    fn poll_at(times: &[Timestamp]) -> Vec<(Timestamp, Timestamp)> {
        let mut cursors = Cursors {
            fresh: None,
            settled: None,
        };
        let mut read = Vec::new();
        for &now in times {
            let window = choose(cursors, &policy(), now);
            read.push((window.since, now));
            cursors.fresh = Some(now);
            cursors.settled = window.settles.or(cursors.settled);
        }
        read
    }

    #[test]
    fn polls_read_from_where_the_last_ended_and_the_overlap_once_per_overlap() {
        let times: Vec<Timestamp> = (0..=400).map(|i| at(i * 2)).collect();
        let read = poll_at(&times);
        assert_eq!(read[0].0, at(0) - SignedDuration::from_hours(24));
        assert_eq!(
            read[1],
            (at(0), at(2)),
            "a poll starts where the last ended"
        );
        let rereads: Vec<usize> = (1..read.len())
            .filter(|&i| read[i].0 < read[i - 1].1)
            .collect();
        // 800 s of polls every 2 s: a re-read every 300 s, back to 300 s before the last.
        assert_eq!(rereads, [150, 300]);
        assert_eq!(read[150], (at(0) - OVERLAP, at(300)));
        assert_eq!(read[300], (at(300) - OVERLAP, at(600)));
    }

    #[test]
    fn a_database_without_the_settled_cursor_re_reads_the_overlap_once() {
        let now = at(100);
        let cursors = Cursors {
            fresh: Some(at(98)),
            settled: None,
        };
        let window = choose(cursors, &policy(), now);
        assert_eq!(window.since, at(98) - OVERLAP);
        assert_eq!(window.settles, Some(now - OVERLAP));
    }

    /// The window of a poll that waited for its budget (Mirakl's OR11: once a minute) ends
    /// when the read is sent: an order placed during the wait is read by that poll, not by
    /// the next one a minute later (the bench's Mirakl orders were seen one poll late).
    #[tokio::test(start_paused = true)]
    async fn an_order_placed_while_the_poll_waits_for_its_budget_is_read_by_that_poll() {
        use std::sync::{Arc, Mutex};

        use rust_decimal::Decimal;
        use vigie_connector::{WaitObserver, observe_waits};
        use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};

        use crate::pipeline::health::tests::channel_and_context_at;
        use crate::pipeline::{UPDATED_CURSOR, run};
        use crate::store::{self, channels, stock};

        let options = SandboxOptions {
            api_key: "k".into(),
            ..SandboxOptions::default()
        };
        let sandbox = MiraklSandbox::start(options).await.unwrap();
        sandbox.set_quantity("SKU-1", 5);
        let dir = tempfile::tempdir().unwrap();
        let (channel, ctx) = channel_and_context_at(sandbox.base_url().as_str(), dir.path());
        let item = stock::StockItem {
            sku: "SKU-1".into(),
            quantity: 5,
            tags: vec![],
        };
        ctx.store
            .call(move |c| stock::set(c, &item, &store::now_text()))
            .await
            .unwrap();
        // The first cycle spends the OR11 budget (first import, then a sweep of the queue).
        run(&channel, &ctx).await.unwrap();

        // The next cycle waits for the budget, and an order comes in as it starts waiting.
        // While real HTTP is under way the paused clock moves on to the next timer, so the
        // budget may have refilled before that cycle: cycle until one waits.
        let sandbox = Arc::new(sandbox);
        let mut placed = None;
        for _ in 0..10 {
            let during_wait = Arc::new(Mutex::new(None));
            let (record, shop) = (during_wait.clone(), sandbox.clone());
            let observer: WaitObserver = Arc::new(move |_| {
                let mut placed = record.lock().unwrap();
                if placed.is_none() {
                    let id = shop.add_order(OrderSpec::new().line("SKU-1", 1, Decimal::TEN));
                    *placed = Some((Timestamp::now(), id));
                }
            });
            observe_waits(observer, run(&channel, &ctx)).await.unwrap();
            placed = during_wait.lock().unwrap().take();
            if placed.is_some() {
                break;
            }
        }
        let (placed, id) = placed.expect("a poll waited for its budget");

        let read_until = ctx
            .store
            .read(|c| channels::cursor(c, "lm", UPDATED_CURSOR))
            .await
            .unwrap()
            .unwrap();
        assert!(
            read_until >= placed,
            "the window ended at {read_until}, before the order placed at {placed}"
        );
        let order = sandbox.order(&id).unwrap();
        assert_eq!(order.state, "SHIPPING", "accepted by the poll after it");
    }

    proptest! {
        /// Whatever the poll times, a change shown up to `overlap` after its stamp is read
        /// by a poll that happens once it shows.
        #[test]
        fn every_change_shown_within_the_overlap_is_read(
            gaps in prop::collection::vec(1i64..200, 1..300),
            stamp in 0i64..20_000,
            delay in 0i64..=300,
        ) {
            let mut times = vec![at(0)];
            for gap in gaps {
                times.push(*times.last().unwrap() + SignedDuration::from_secs(gap));
            }
            let (stamp, shows) = (at(stamp), at(stamp + delay));
            // Only polls after the change shows can read it; the run must last that long.
            prop_assume!(*times.last().unwrap() >= shows + OVERLAP * 2 + SignedDuration::from_secs(200));
            let read = poll_at(&times);
            prop_assert!(
                read.iter().any(|&(since, until)| until >= shows && since <= stamp && stamp <= until),
                "a change stamped {stamp} and shown at {shows} was never read",
            );
        }
    }
}
