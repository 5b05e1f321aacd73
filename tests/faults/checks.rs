//! What the fault test checks once the daemon stopped, each in its own function: decision
//! times, quarantined payloads, the refused key's alert; and the answers by status it prints.

use std::collections::BTreeMap;
use std::time::Instant;

use jiff::Timestamp;
use vigie_testkit::stats::percentile;
use vigie_testkit::{Hit, Marketplaces, WebhookSink};

use crate::common::count;
use crate::{Malformed, POLL};

/// The polls that answered 2xx, per channel: when each was sent, on the marketplace's clock.
pub struct Polls(BTreeMap<&'static str, Vec<Timestamp>>);

impl Polls {
    /// `hits` per channel, as the recording proxies saw them; `origin` pairs one instant with
    /// the wall clock, to read the proxies' instants as timestamps.
    pub fn answered(origin: (Instant, Timestamp), hits: [(&'static str, Vec<Hit>); 2]) -> Self {
        let at = |i: Instant| {
            let since = i.saturating_duration_since(origin.0);
            origin.1.checked_add(since).unwrap()
        };
        Self(
            hits.into_iter()
                .map(|(channel, hits)| {
                    let polls = hits
                        .iter()
                        .filter(|h| h.status.is_some_and(|s| (200..300).contains(&s)))
                        .map(|h| at(h.at))
                        .collect();
                    (channel, polls)
                })
                .collect(),
        )
    }

    /// When the fourth poll sent after `created` on `channel` left, if there was a fourth: a
    /// channel's cycle is serial, so what the first three polls read was decided by then.
    fn fourth_after(&self, channel: &str, created: Timestamp) -> Option<Timestamp> {
        self.0
            .get(channel)?
            .iter()
            .filter(|sent| **sent > created)
            .nth(3)
            .copied()
    }
}

/// Seconds from each order's creation on the marketplace to its decision (or flag) in the
/// store, and to the marketplace's confirmation; every order but the malformed ones.
pub struct DecisionTimes {
    pub to_decide: Vec<f64>,
    pub to_confirm: Vec<f64>,
    pub beyond_three_intervals: usize,
    /// Orders still undecided when the fourth poll sent after their creation left.
    pub late: Vec<String>,
}

impl DecisionTimes {
    /// Fails if an order was lost (never stored).
    pub fn measure(
        conn: &rusqlite::Connection,
        markets: &Marketplaces,
        malformed: &Malformed,
        polls: &Polls,
    ) -> Self {
        let created: BTreeMap<(String, String), Timestamp> = markets
            .mirakl
            .orders()
            .into_iter()
            .map(|o| (("lm".to_owned(), o.id), o.created_at))
            .chain(
                markets
                    .fnac
                    .orders()
                    .into_iter()
                    .map(|o| (("fnac".to_owned(), o.id), o.created_at)),
            )
            .collect();
        // (channel, order) -> (decided or flagged at, confirmed by the marketplace at)
        let decided: BTreeMap<(String, String), (String, Option<String>)> = {
            let mut stmt = conn
                .prepare(
                    "SELECT o.channel, o.order_id,
                            COALESCE(MIN(d.decided_at), f.flagged_at), MAX(d.outcome_at)
                     FROM orders o
                     LEFT JOIN decisions d ON d.order_pk = o.id
                     LEFT JOIN flags f ON f.order_pk = o.id
                     GROUP BY o.id",
                )
                .unwrap();
            stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?))))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let mut times = Self {
            to_decide: Vec::new(),
            to_confirm: Vec::new(),
            beyond_three_intervals: 0,
            late: Vec::new(),
        };
        for (key, at) in &created {
            if key.1 == malformed.mirakl || key.1 == malformed.fnac {
                continue;
            }
            let (decided_at, confirmed_at) = decided
                .get(key)
                .unwrap_or_else(|| panic!("order {key:?} lost"));
            let seconds = |text: &str| {
                let t: Timestamp = text.parse().unwrap();
                t.duration_since(*at).as_secs_f64()
            };
            let decision = seconds(decided_at);
            if decision > 3.0 * POLL.as_secs_f64() {
                times.beyond_three_intervals += 1;
            }
            let decided: Timestamp = decided_at.parse().unwrap();
            if let Some(fourth) = polls.fourth_after(&key.0, *at)
                && decided > fourth
            {
                times.late.push(format!(
                    "{key:?} decided at {decided}, after the fourth poll since its creation \
                     ({at}) was sent ({fourth})"
                ));
            }
            times.to_decide.push(decision);
            if let Some(confirmed) = confirmed_at {
                times.to_confirm.push(seconds(confirmed));
            }
        }
        times.to_decide.sort_by(f64::total_cmp);
        times.to_confirm.sort_by(f64::total_cmp);
        times
    }

    /// p50, p99 and max of sorted `seconds`, also in poll intervals.
    pub fn summary(seconds: &[f64]) -> String {
        let poll = POLL.as_secs_f64();
        let at = |q: f64| percentile(seconds, q).unwrap_or(f64::NAN);
        format!(
            "p50 {:.2}s ({:.2} polls), p99 {:.2}s, max {:.2}s ({:.2} polls), over {}",
            at(0.5),
            at(0.5) / poll,
            at(0.99),
            at(1.0),
            at(1.0) / poll,
            seconds.len()
        )
    }

    pub fn assert_within_three_polls(&self) {
        assert!(
            self.late.is_empty(),
            "orders still undecided when a fourth poll left:\n{}",
            self.late.join("\n")
        );
    }
}

/// Each malformed order is quarantined and never ingested, with a `payload_quarantined`
/// alert delivered for its channel.
pub fn malformed_orders_quarantined(
    conn: &rusqlite::Connection,
    alerts: &WebhookSink,
    malformed: &Malformed,
) {
    let quarantined: Vec<(String, Option<String>)> = {
        let mut stmt = conn
            .prepare("SELECT channel, order_id FROM quarantine ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(quarantined.len(), 2, "{quarantined:?}");
    for (channel, id) in [("lm", &malformed.mirakl), ("fnac", &malformed.fnac)] {
        assert!(
            quarantined
                .iter()
                .any(|(c, o)| c == channel && o.as_deref() == Some(id.as_str())),
            "{channel}:{id} not quarantined: {quarantined:?}"
        );
        assert_eq!(
            count(
                conn,
                &format!("SELECT COUNT(*) FROM orders WHERE order_id = '{id}'")
            ),
            0,
            "the malformed {channel}:{id} was ingested"
        );
        assert!(
            alerts
                .of_kind("payload_quarantined")
                .iter()
                .any(|a| a["channel"] == channel),
            "no payload_quarantined alert for {channel}"
        );
    }
}

/// The refused key raises `channel_auth_failed`, for that channel only.
pub fn revoked_key_alerted(alerts: &WebhookSink) {
    let auth = alerts.of_kind("channel_auth_failed");
    assert!(
        auth.iter().all(|a| a["channel"] == "revoked") && !auth.is_empty(),
        "{auth:#?}"
    );
}

/// Answers by status code.
pub fn statuses(hits: &[Hit]) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::<String, usize>::new();
    for h in hits {
        *by.entry(h.status.map_or("none".into(), |s| s.to_string()))
            .or_default() += 1;
    }
    by
}
