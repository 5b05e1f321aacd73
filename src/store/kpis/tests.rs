use jiff::{Timestamp, ToSpan};
use rusqlite::{Connection, params};

use super::*;
use crate::store::Store;

const T0: &str = "2026-11-02T08:00:00Z";

fn at(minutes: i64) -> Timestamp {
    T0.parse::<Timestamp>().unwrap() + minutes.minutes()
}

/// One stored order created `created` minutes after T0, with its deadline, the statuses vigie
/// saw (status, minutes), vigie's confirmed decision (accept, minutes) and whether it was
/// flagged. Written in SQL to set every time exactly.
struct Order {
    created: i64,
    deadline: Option<i64>,
    seen: &'static [(&'static str, i64)],
    vigie: Option<(bool, i64)>,
    flagged: bool,
}

impl Order {
    fn seen(created: i64, seen: &'static [(&'static str, i64)]) -> Self {
        Self {
            created,
            deadline: Some(created + 60),
            seen,
            vigie: None,
            flagged: false,
        }
    }

    /// Stores the order; returns its key.
    fn store(&self, conn: &Connection, id: &str) -> i64 {
        let status = self.seen.last().map_or("awaiting_acceptance", |s| s.0);
        conn.execute(
            "INSERT INTO orders (channel, order_id, reference, marketplace_state, status,
                                 created_at, updated_at, first_seen_at, deadline_at,
                                 total_amount, currency, payload)
             VALUES ('lm', ?1, ?1, 'RAW', ?2, ?3, ?3, ?3, ?4, '10', 'EUR', '{}')",
            params![
                id,
                status,
                time_text(at(self.created)),
                self.deadline.map(|d| time_text(at(d)))
            ],
        )
        .unwrap();
        let pk = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO order_lines (order_pk, line_id, sku, quantity, marketplace_state, status)
             VALUES (?1, 'l1', 'A', 1, 'RAW', ?2)",
            params![pk, status],
        )
        .unwrap();
        for (status, minutes) in self.seen {
            conn.execute(
                "INSERT INTO status_history (order_pk, marketplace_state, status, observed_at)
                 VALUES (?1, 'RAW', ?2, ?3)",
                params![pk, status, time_text(at(*minutes))],
            )
            .unwrap();
        }
        if let Some((accept, minutes)) = self.vigie {
            let when = time_text(at(minutes));
            conn.execute(
                "INSERT INTO decisions (order_pk, line_id, accept, source, decided_at, outcome,
                                        outcome_at)
                 VALUES (?1, 'l1', ?2, 'rules', ?3, 'confirmed', ?3)",
                params![pk, accept, when],
            )
            .unwrap();
        }
        if self.flagged {
            conn.execute(
                "INSERT INTO flags (order_pk, reasons, flagged_at) VALUES (?1, '[]', ?2)",
                params![pk, time_text(at(self.created))],
            )
            .unwrap();
        }
        pk
    }
}

/// A second line of order `pk` with vigie's decision on it: `outcome` at `minutes`.
fn decide_line(conn: &Connection, pk: i64, line: &str, accept: bool, outcome: &str, minutes: i64) {
    conn.execute(
        "INSERT INTO order_lines (order_pk, line_id, sku, quantity, marketplace_state, status)
         VALUES (?1, ?2, 'B', 1, 'RAW', 'awaiting_acceptance')",
        params![pk, line],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO decisions (order_pk, line_id, accept, source, decided_at, outcome, outcome_at)
         VALUES (?1, ?2, ?3, 'rules', ?4, ?5, ?4)",
        params![pk, line, accept, time_text(at(minutes)), outcome],
    )
    .unwrap();
}

fn kpis_of(orders: &[Order], window: Window) -> Kpis {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .with(|conn| {
            for (i, order) in orders.iter().enumerate() {
                order.store(conn, &format!("O{i}"));
            }
            of_channel(conn, "lm", window, at(10_000))
        })
        .unwrap()
}

/// received, accepted, refused, expired, cancelled by the customer, decided elsewhere, flagged.
fn endings(kpis: &Kpis) -> (i64, i64, i64, i64, i64, i64, i64) {
    (
        kpis.received,
        kpis.accepted,
        kpis.refused,
        kpis.expired,
        kpis.cancelled_by_customer,
        kpis.decided_elsewhere,
        kpis.flagged,
    )
}

/// Seconds as minutes to the thousandth.
fn to_minutes(seconds: Option<f64>) -> Option<f64> {
    seconds.map(|s| (s / 60.0 * 1000.0).round() / 1000.0)
}

fn day() -> Window {
    Window {
        since: at(0),
        until: at(24 * 60),
    }
}

#[test]
fn each_order_ends_one_way_and_the_rates_follow() {
    let kpis = kpis_of(
        &[
            // Accepted by vigie 2 minutes after creation, seen accepted later.
            Order {
                vigie: Some((true, 2)),
                ..Order::seen(0, &[("awaiting_acceptance", 1), ("accepted", 5)])
            },
            // Accepted in the back office: seen accepted 10 minutes after creation.
            Order::seen(0, &[("awaiting_acceptance", 1), ("accepted", 10)]),
            // Refused by vigie.
            Order {
                vigie: Some((false, 3)),
                ..Order::seen(0, &[("awaiting_acceptance", 1), ("refused", 4)])
            },
            // Nobody answered: refused by the marketplace at its deadline.
            Order::seen(0, &[("awaiting_acceptance", 1), ("refused", 61)]),
            // The customer cancelled before anyone answered.
            Order::seen(0, &[("awaiting_acceptance", 1), ("cancelled", 20)]),
            // Accepted by vigie, then cancelled by the customer: both.
            Order {
                vigie: Some((true, 4)),
                flagged: true,
                ..Order::seen(
                    0,
                    &[
                        ("awaiting_acceptance", 1),
                        ("accepted", 6),
                        ("cancelled", 90),
                    ],
                )
            },
            // First seen shipped: never the seller's to accept, and no deadline missed.
            Order {
                deadline: Some(1),
                ..Order::seen(0, &[("shipped", 30)])
            },
            // Created before the window: not counted.
            Order::seen(-10, &[("awaiting_acceptance", -9), ("accepted", -5)]),
        ],
        day(),
    );
    assert_eq!(endings(&kpis), (7, 3, 1, 1, 2, 1, 1), "{kpis:#?}");
    assert_eq!(kpis.acceptance_rate, Some(3.0 / 5.0));
    assert_eq!(kpis.cancellation_rate, Some(2.0 / 7.0));
    // Times to accept: 2, 4 (vigie's confirmations) and 10 minutes (seen accepted).
    let t = &kpis.time_to_accept_seconds;
    assert_eq!(to_minutes(t.mean), Some(5.333));
    assert_eq!(to_minutes(t.p50), Some(4.0));
    assert_eq!(to_minutes(t.p90), Some(10.0));
    assert_eq!(to_minutes(t.p99), Some(10.0));
    assert_eq!(kpis.deadline_missed, 0);
}

#[test]
fn orders_still_waiting_count_right_now_not_in_the_rates() {
    let kpis = kpis_of(
        &[
            // Past its deadline (60 minutes), undecided.
            Order::seen(0, &[("awaiting_acceptance", 1)]),
            // Waiting for a human.
            Order {
                flagged: true,
                deadline: None,
                ..Order::seen(0, &[("awaiting_acceptance", 1)])
            },
        ],
        day(),
    );
    assert_eq!((kpis.undecided, kpis.deadline_missed), (2, 1));
    assert_eq!((kpis.awaiting_review, kpis.flagged), (1, 1));
    assert_eq!(kpis.acceptance_rate, None);
    assert_eq!(kpis.time_to_accept_seconds, TimeToAccept::default());
}

#[test]
fn percentiles_are_nearest_ranks_among_the_orders_that_have_the_time() {
    // Accepted by vigie 1 to 100 minutes after creation, in shuffled order, among orders
    // with no time to accept (refused, still waiting) that must not shift the ranks.
    let mut orders: Vec<Order> = (0..100)
        .map(|i| (i * 37 % 100) + 1)
        .map(|minutes| Order {
            vigie: Some((true, minutes)),
            ..Order::seen(0, &[("awaiting_acceptance", 0)])
        })
        .collect();
    for _ in 0..30 {
        orders.push(Order {
            vigie: Some((false, 500)),
            ..Order::seen(0, &[("awaiting_acceptance", 0)])
        });
        orders.push(Order::seen(0, &[("awaiting_acceptance", 0)]));
    }
    let kpis = kpis_of(&orders, day());
    let minutes = |s: Option<f64>| s.map(|s| (s / 60.0).round() as i64);
    let t = &kpis.time_to_accept_seconds;
    assert_eq!(
        (minutes(t.p50), minutes(t.p90), minutes(t.p99)),
        (Some(50), Some(90), Some(99))
    );
    let mean = t.mean.unwrap();
    assert!(
        (mean - 50.5 * 60.0).abs() < 0.01,
        "mean of 1..=100 minutes: {mean} s"
    );
    // Decided: the 100 acceptances and the 30 refusals (at 500 minutes); rank 65 of 130.
    assert_eq!(kpis.decided, 130);
    assert_eq!(minutes(kpis.median_seconds_to_decision), Some(65));

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let days = store
        .with(|conn| {
            for (i, order) in orders.iter().enumerate() {
                order.store(conn, &format!("O{i}"));
            }
            daily(conn, "lm", at(24 * 60), 2)
        })
        .unwrap();
    let medians: Vec<Option<i64>> = days
        .iter()
        .map(|d| minutes(d.median_seconds_to_accept))
        .collect();
    assert_eq!(medians, [None, Some(50)]);
}

#[test]
fn the_distribution_counts_each_accepted_order_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let buckets = store
        .with(|conn| {
            Order::seen(0, &[("awaiting_acceptance", 0), ("accepted", 0)]).store(conn, "a");
            Order::seen(0, &[("awaiting_acceptance", 0), ("accepted", 3)]).store(conn, "b");
            Order::seen(0, &[("awaiting_acceptance", 0), ("accepted", 3 * 24 * 60)])
                .store(conn, "c");
            time_to_accept_distribution(conn, "lm", day())
        })
        .unwrap();
    let counts: Vec<(Option<u64>, i64)> = buckets
        .iter()
        .map(|b| (b.below_seconds, b.orders))
        .collect();
    assert_eq!(counts.len(), 9);
    assert_eq!(counts[0], (Some(60), 1));
    assert_eq!(counts[1], (Some(300), 1));
    assert_eq!(counts[8], (None, 1));
    assert_eq!(counts.iter().map(|c| c.1).sum::<i64>(), 3);
}

#[test]
fn the_previous_window_has_the_same_length_and_ends_where_this_one_starts() {
    let previous = day().previous();
    assert_eq!(previous.until, at(0));
    assert_eq!(previous.since, at(-24 * 60));
}

#[test]
fn the_words_in_the_sql_are_the_stored_words() {
    use vigie_connector::OrderStatus::*;
    for status in [
        AwaitingAcceptance,
        Accepted,
        Shipped,
        Received,
        Closed,
        Refused,
        Cancelled,
    ] {
        assert!(
            ENDINGS.contains(&format!("'{}'", status.as_str())),
            "{status} not in the SQL"
        );
    }
    assert!(ENDINGS.contains(&format!(
        "'{}'",
        crate::store::state::StoredState::as_str(crate::store::decisions::Outcome::Confirmed)
    )));
}

#[test]
fn an_order_seen_many_times_and_decided_line_by_line_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let kpis = store
        .with(|conn| {
            // Accepted by vigie at 5 on one line, refused at 6 on the other: accepted at 5.
            let a = Order {
                vigie: Some((true, 5)),
                flagged: true,
                ..Order::seen(
                    0,
                    &[
                        ("awaiting_acceptance", 1),
                        ("accepted", 8),
                        ("shipped", 30),
                        ("received", 100),
                    ],
                )
            }
            .store(conn, "a");
            decide_line(conn, a, "l2", false, "confirmed", 6);
            // Seen shipped at 12 before accepted at 20; vigie's acceptance failed: accepted
            // elsewhere at 12.
            let b = Order::seen(
                0,
                &[
                    ("awaiting_acceptance", 1),
                    ("shipped", 12),
                    ("accepted", 20),
                ],
            )
            .store(conn, "b");
            decide_line(conn, b, "l2", true, "failed", 3);
            // Refused on the marketplace at 30, before its deadline, then cancelled after it.
            Order::seen(
                0,
                &[
                    ("awaiting_acceptance", 1),
                    ("refused", 30),
                    ("cancelled", 70),
                ],
            )
            .store(conn, "c");
            // Cancelled at its deadline, refused later: expired.
            Order::seen(
                0,
                &[
                    ("awaiting_acceptance", 1),
                    ("cancelled", 65),
                    ("refused", 80),
                ],
            )
            .store(conn, "d");
            // vigie's refusal superseded by the customer's cancellation; flagged, resolved.
            let e = Order {
                flagged: true,
                ..Order::seen(0, &[("awaiting_acceptance", 1), ("cancelled", 15)])
            }
            .store(conn, "e");
            decide_line(conn, e, "l2", false, "superseded", 10);
            conn.execute(
                "UPDATE flags SET resolved_at = ?2 WHERE order_pk = ?1",
                params![e, time_text(at(12))],
            )
            .unwrap();
            // Never seen in any state yet, past its deadline.
            Order::seen(0, &[]).store(conn, "f");
            // Another channel's: not counted.
            let g = Order {
                vigie: Some((true, 1)),
                ..Order::seen(0, &[("awaiting_acceptance", 1), ("accepted", 2)])
            }
            .store(conn, "g");
            conn.execute("UPDATE orders SET channel = 'bq' WHERE id = ?1", [g])
                .unwrap();
            of_channel(conn, "lm", day(), at(10_000))
        })
        .unwrap();
    assert_eq!(endings(&kpis), (6, 2, 1, 1, 1, 2, 2), "{kpis:#?}");
    assert_eq!(kpis.acceptance_rate, Some(2.0 / 4.0));
    assert_eq!(kpis.cancellation_rate, Some(1.0 / 6.0));
    let t = &kpis.time_to_accept_seconds;
    assert_eq!(
        (
            to_minutes(t.mean),
            to_minutes(t.p50),
            to_minutes(t.p90),
            to_minutes(t.p99)
        ),
        (Some(8.5), Some(5.0), Some(12.0), Some(12.0))
    );
    assert_eq!(
        (kpis.decided, to_minutes(kpis.median_seconds_to_decision)),
        (1, Some(5.0))
    );
    assert_eq!(
        (kpis.undecided, kpis.awaiting_review, kpis.deadline_missed),
        (1, 1, 1)
    );
}

#[test]
fn each_day_has_the_median_of_its_own_orders() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let accepted_after = |created: i64, after: i64| Order {
        vigie: Some((true, created + after)),
        ..Order::seen(created, &[("awaiting_acceptance", 0)])
    };
    const DAY: i64 = 24 * 60;
    let days = store
        .with(|conn| {
            for (i, order) in [
                // The first day, ending at T0.
                accepted_after(-30, 3),
                // The second: 10 and 30 minutes.
                accepted_after(60, 10),
                accepted_after(DAY - 1, 30),
                // The third, from its first instant: 7 and 20 minutes.
                accepted_after(DAY, 20),
                accepted_after(DAY + 5, 7),
                // Created at the end of the last day: not in it.
                accepted_after(3 * DAY, 1),
            ]
            .iter()
            .enumerate()
            {
                order.store(conn, &format!("O{i}"));
            }
            let other = accepted_after(2 * DAY + 1, 2).store(conn, "other");
            conn.execute("UPDATE orders SET channel = 'bq' WHERE id = ?1", [other])
                .unwrap();
            daily(conn, "lm", at(3 * DAY), 4)
        })
        .unwrap();
    let shown: Vec<(String, Option<f64>)> = days
        .iter()
        .map(|d| {
            let minutes = d
                .median_seconds_to_accept
                .map(|s| (s / 60.0 * 1000.0).round() / 1000.0);
            (d.until.clone(), minutes)
        })
        .collect();
    assert_eq!(
        shown,
        [
            (time_text(at(0)), Some(3.0)),
            (time_text(at(DAY)), Some(10.0)),
            (time_text(at(2 * DAY)), Some(7.0)),
            (time_text(at(3 * DAY)), None),
        ]
    );
}
