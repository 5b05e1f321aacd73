//! Logs through tracing: to the journal when systemd connected our output to it
//! (`$JOURNAL_STREAM`), readable text on standard error otherwise.

use std::io::IsTerminal;

use anyhow::Context;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::Environment;

/// Changes the log filter on reload, unless `RUST_LOG` pinned it.
pub struct LogHandle {
    filter: reload::Handle<EnvFilter, Registry>,
    pinned: bool,
}

impl LogHandle {
    pub fn set_filter(&self, filter: &str) {
        if self.pinned {
            return;
        }
        match EnvFilter::try_new(filter) {
            Ok(new) => {
                if let Err(e) = self.filter.reload(new) {
                    tracing::warn!("cannot change the log filter: {e}");
                }
            }
            Err(e) => tracing::warn!("ignoring log filter {filter:?}: {e}"),
        }
    }
}

pub fn init(config_filter: &str, env: &Environment) -> anyhow::Result<LogHandle> {
    let pinned = env.get("RUST_LOG").filter(|f| !f.is_empty());
    let filter = EnvFilter::try_new(pinned.unwrap_or(config_filter))
        .with_context(|| format!("RUST_LOG={:?} is not a log filter", pinned.unwrap_or("")))?;
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    if env.get("JOURNAL_STREAM").is_some() {
        let journald = tracing_journald::layer().context("cannot connect to the journal")?;
        registry.with(journald).try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colours only for a person at a terminal, not in files or pipes.
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init()
    }
    .context("cannot install the logger")?;
    Ok(LogHandle {
        filter: handle,
        pinned: pinned.is_some(),
    })
}
