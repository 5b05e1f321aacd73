//! `[daemon]`: where the state lives, where the status server listens, the seller's time
//! zone, logging, and how long a stop may take.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::bounds::{self, HOUR, MINUTE, SECOND};
use super::{Environment, HumanDuration, KeyError};

const DEFAULT_STATE_DIR: &str = "/var/lib/vigie";

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub state_dir: PathBuf,
    pub status_listen: SocketAddr,
    pub timezone: jiff::tz::TimeZone,
    pub shop_name: String,
    /// A tracing filter (`info`, `vigie=debug,info`); `RUST_LOG` wins when set.
    pub log: String,
    /// How long in-flight work may finish after SIGTERM before it is parked.
    pub shutdown_grace: Duration,
    /// The longest any one wait may last: a marketplace's `Retry-After`, a backoff, a call
    /// budget. Past it vigie carries on and alerts (`channel_rate_limited`).
    pub max_retry_wait: Duration,
    pub dry_run: bool,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    state_dir: Option<PathBuf>,
    status_listen: Option<SocketAddr>,
    timezone: Option<String>,
    shop_name: Option<String>,
    log: Option<String>,
    shutdown_grace: Option<HumanDuration>,
    max_retry_wait: Option<HumanDuration>,
    #[serde(default)]
    dry_run: bool,
}

impl RawDaemon {
    pub(super) fn validate(self, env: &Environment) -> Result<DaemonConfig, KeyError> {
        let state_dir = self
            .state_dir
            .or_else(|| env.get("STATE_DIRECTORY").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let tz_name = self.timezone.as_deref().unwrap_or("Europe/Paris");
        let timezone = jiff::tz::TimeZone::get(tz_name)
            .map_err(|e| KeyError::new("timezone", format!("unknown time zone: {e}")))?;
        let log = self.log.unwrap_or_else(|| "info".to_owned());
        tracing_subscriber::EnvFilter::try_new(&log)
            .map_err(|e| KeyError::new("log", format!("not a log filter: {e}")))?;
        let shutdown_grace = bounds::duration(
            "shutdown_grace",
            self.shutdown_grace,
            Duration::from_secs(20),
            SECOND..=10 * MINUTE,
        )?;
        let max_retry_wait = bounds::duration(
            "max_retry_wait",
            self.max_retry_wait,
            10 * MINUTE,
            10 * SECOND..=HOUR,
        )?;
        Ok(DaemonConfig {
            state_dir,
            status_listen: self
                .status_listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9184))),
            timezone,
            shop_name: self.shop_name.unwrap_or_default(),
            log,
            shutdown_grace,
            max_retry_wait,
            dry_run: self.dry_run,
        })
    }
}
