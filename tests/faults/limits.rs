//! The configured request limits, checked against the arrival times the recording proxies
//! stamped: no sandbox ever sees more requests than the limits allow.

use std::time::{Duration, Instant};

use vigie_testkit::Hit;
use vigie_testkit::recorder::{max_in_window, retries};

use crate::common::rig::Rig;
use crate::{
    FNAC_REQUESTS_PER_MINUTE, JITTER, MESSAGES_PER_MINUTE, MIRAKL_IMPORTS_PER_MINUTE,
    MIRAKL_ORDERS_PER_MINUTE, MIRAKL_STATUS_EVERY,
};

/// A client-side limit as governor enforces it (GCRA): `burst` calls at once, then one per
/// `period`. In any window of length W, a well-behaved client makes at most
/// `burst + ceil(W / period)` calls. governor's `Quota::per_minute(n)` has `burst = n` and
/// `period = 60 s / n`; `Quota::with_period(p)` (Mirakl's STO02 `stock_status_every`) has
/// `burst = 1`. The sandboxes only keep totals, so the proxy in front of each timestamps
/// every request and the windows are computed from those arrival times.
struct Quota {
    what: &'static str,
    burst: u32,
    period: Duration,
}

impl Quota {
    fn per_minute(what: &'static str, n: u32) -> Self {
        Self {
            what,
            burst: n,
            period: Duration::from_secs(60) / n,
        }
    }

    /// At most `burst` at once, then one per `period`: in a window of length W,
    /// `burst + floor(W / period)`.
    fn bound(&self, window: Duration) -> usize {
        self.burst as usize + window.as_secs_f64().div_euclid(self.period.as_secs_f64()) as usize
    }
}

/// Checks `times` against `quota` on windows from one second to the whole run, each
/// measured `JITTER` shorter. Returns a report line and the violations.
fn check_rate(quota: &Quota, times: &[Instant], run: Duration) -> (String, Vec<String>) {
    let mut violations = Vec::new();
    let mut worst = 0.0f64;
    let mut per_second = 0;
    for window in [1, 2, 5, 10, 30, 60]
        .map(Duration::from_secs)
        .into_iter()
        .chain([run + Duration::from_secs(1)])
    {
        let measured = window.saturating_sub(JITTER);
        let seen = max_in_window(times, measured);
        let bound = quota.bound(measured);
        if window == Duration::from_secs(1) {
            per_second = seen;
        }
        worst = worst.max(seen as f64 / bound as f64);
        if seen > bound {
            violations.push(format!(
                "{}: {seen} requests within {window:?}, the limit allows {bound}",
                quota.what
            ));
        }
    }
    (
        format!(
            "{}: {} requests, at most {per_second} in any second (limit burst {} + one per {:?}); \
             worst window at {:.0} % of its bound",
            quota.what,
            times.len(),
            quota.burst,
            quota.period,
            worst * 100.0
        ),
        violations,
    )
}

/// The requests of one run measured against every configured limit.
pub struct Rates {
    /// One report line per limit.
    pub lines: Vec<String>,
    pub violations: Vec<String>,
    /// Mirakl requests that repeat a failed one.
    pub mirakl_retries: usize,
}

impl Rates {
    /// Every attempt pays its endpoint's budget, retries included (they are calls the
    /// marketplace counts), so every request is checked.
    pub fn measure(rig: &Rig, run: Duration) -> Self {
        let lm_hits = rig.mirakl_proxy.hits();
        let fnac_hits = rig.fnac_proxy.hits();
        let times = |hits: &[Hit], pick: &dyn Fn(&Hit) -> bool| -> Vec<Instant> {
            hits.iter().filter(|h| pick(h)).map(|h| h.at).collect()
        };
        let messages: Vec<Instant> = times(&lm_hits, &|h| h.endpoint() == "OR43")
            .into_iter()
            .chain(times(&fnac_hits, &|h| h.endpoint() == "messages_update"))
            .collect();
        let checks = [
            (
                // One poll may page: only first pages (offset 0, retries included) count.
                Quota::per_minute("Mirakl OR11 polls", MIRAKL_ORDERS_PER_MINUTE),
                times(&lm_hits, &|h| {
                    h.endpoint() == "OR11" && h.param("offset").is_none_or(|o| o == "0")
                }),
            ),
            (
                Quota::per_minute("Mirakl STO01", MIRAKL_IMPORTS_PER_MINUTE),
                times(&lm_hits, &|h| h.endpoint() == "STO01"),
            ),
            (
                Quota {
                    what: "Mirakl STO02",
                    burst: 1,
                    period: MIRAKL_STATUS_EVERY,
                },
                times(&lm_hits, &|h| h.endpoint() == "STO02"),
            ),
            (
                Quota::per_minute("Fnac, every request", FNAC_REQUESTS_PER_MINUTE),
                times(&fnac_hits, &|_| true),
            ),
            (
                Quota::per_minute("customer messages, both marketplaces", MESSAGES_PER_MINUTE),
                messages,
            ),
        ];
        let mut lines = Vec::new();
        let mut violations = Vec::new();
        for (quota, times) in &checks {
            let (line, v) = check_rate(quota, times, run);
            lines.push(line);
            violations.extend(v);
        }
        Self {
            lines,
            violations,
            mirakl_retries: retries(&lm_hits).iter().filter(|r| **r).count(),
        }
    }

    pub fn assert_within_limits(&self) {
        assert!(
            self.violations.is_empty(),
            "configured limits exceeded:\n{}",
            self.violations.join("\n")
        );
    }
}
