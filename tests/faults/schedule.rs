//! The faults the sandboxes inject, and when.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_fnac::sandbox as fnac;
use vigie_mirakl::sandbox as mirakl;
use vigie_testkit::Marketplaces;

use crate::messages::FAILED_AFTER_TAKING;
use crate::{BURST_FOR, ERROR_RATE, RETRY_AFTER_SECS, SPIKE, SPIKE_FOR};

pub fn mirakl_faults(burst: bool, latency: Duration) -> mirakl::Faults {
    mirakl::Faults {
        server_error_rate: ERROR_RATE,
        rate_limit_every: burst.then_some(1),
        retry_after_secs: RETRY_AFTER_SECS,
        latency,
        reject_auth: false,
        message_applied_then_fail_rate: FAILED_AFTER_TAKING,
        ..mirakl::Faults::default()
    }
}

pub fn fnac_faults(latency: Duration) -> fnac::Faults {
    fnac::Faults {
        error_rate: ERROR_RATE,
        latency,
        fail_auth: false,
        message_applied_then_fail_rate: FAILED_AFTER_TAKING,
        ..fnac::Faults::default()
    }
}

/// The fault schedule, seconds after the start: 429 bursts at 8 s and 26 s, a latency spike
/// at 14 s, every Fnac token expired at 20 s; 10 % of 5xx throughout.
pub async fn misbehave(markets: Arc<Marketplaces>) {
    let at = Instant::now();
    let until = |secs: u64| at + Duration::from_secs(secs);
    let sleep_until = |t: Instant| tokio::time::sleep_until(t.into());
    sleep_until(until(8)).await;
    rate_limit_burst(&markets).await;
    sleep_until(until(14)).await;
    markets.mirakl.set_faults(mirakl_faults(false, SPIKE));
    markets.fnac.set_faults(fnac_faults(SPIKE));
    tokio::time::sleep(SPIKE_FOR).await;
    markets
        .mirakl
        .set_faults(mirakl_faults(false, Duration::ZERO));
    markets.fnac.set_faults(fnac_faults(Duration::ZERO));
    sleep_until(until(20)).await;
    markets.fnac.expire_tokens();
    sleep_until(until(26)).await;
    rate_limit_burst(&markets).await;
}

/// Every Mirakl request answers 429 for `BURST_FOR`.
async fn rate_limit_burst(markets: &Marketplaces) {
    markets
        .mirakl
        .set_faults(mirakl_faults(true, Duration::ZERO));
    tokio::time::sleep(BURST_FOR).await;
    markets
        .mirakl
        .set_faults(mirakl_faults(false, Duration::ZERO));
}
