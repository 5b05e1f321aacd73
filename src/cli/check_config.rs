//! `vigie check-config [--online]`: validate the configuration, its secrets and templates;
//! print a summary with secrets redacted. `--online` also reaches every channel, the SMTP
//! server and each webhook host, one line per target, changing nothing and sending nothing.

use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;
use futures_util::future::{BoxFuture, FutureExt as _, join_all};
use vigie::config::{self, Config, Environment};
use vigie::delivery::{self, probe};
use vigie::domain::custom_rules;
use vigie_connector::spec::Bounds;
use vigie_connector::{ConnectorError, ShopState};

use super::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Also log in to every channel, the SMTP server and the webhook hosts, without changing
    /// anything; exit 1 naming what failed and why.
    #[arg(long)]
    online: bool,
}

/// The longest a marketplace may make the online check wait (a `Retry-After`, a backoff):
/// someone is watching the terminal.
const ONLINE_MAX_WAIT: Duration = Duration::from_secs(30);

pub fn run(path: &Path, env: &Environment, args: Args) -> Result<(), Failure> {
    let config = config::load(path, env)?;
    delivery::check(&config)?;
    custom_rules::check(&config.rules, &config.file)?;
    out!("{config}")?;
    outln!("templates: every event renders in every configured locale")?;
    for warning in &config.warnings {
        eprintln!("vigie: warning: {warning}");
    }
    if args.online {
        online(&config)?;
    }
    Ok(())
}

/// One target of the online check: what it is, and whether it answered as it should.
struct Probe {
    target: String,
    outcome: Result<String, String>,
}

fn online(config: &Config) -> Result<(), Failure> {
    let probes = super::runtime()?.block_on(join_all(targets(config)));
    let mut failed = Vec::new();
    for probe in &probes {
        match &probe.outcome {
            Ok(proven) => outln!("online: {}: ok, {proven}", probe.target)?,
            Err(cause) => {
                outln!("online: {}: FAILED, {cause}", probe.target)?;
                failed.push(format!("{} ({cause})", probe.target));
            }
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(anyhow!("online check failed: {}", failed.join("; ")).into())
}

/// Every target the configuration names, in its order: channels, SMTP, webhooks.
fn targets(config: &Config) -> Vec<BoxFuture<'_, Probe>> {
    let bounds = Bounds {
        max_wait: config.daemon.max_retry_wait.min(ONLINE_MAX_WAIT),
    };
    let mut targets = Vec::new();
    for channel in &config.channels {
        let target = format!("channel {}", channel.name);
        let marketplace = channel.settings.build(&channel.name, bounds);
        targets.push(
            async move {
                let outcome = match marketplace {
                    Ok(marketplace) => shop(marketplace.health().await),
                    Err(e) => Err(e.to_string()),
                };
                Probe { target, outcome }
            }
            .boxed(),
        );
    }
    if let Some(smtp) = &config.smtp {
        targets.push(
            async move {
                Probe {
                    target: "smtp".to_owned(),
                    outcome: probe::smtp(smtp).await,
                }
            }
            .boxed(),
        );
    }
    let webhooks = config
        .notify
        .webhook
        .iter()
        .map(|w| ("notify.webhook".to_owned(), &w.url))
        .chain(
            config
                .events
                .webhook
                .iter()
                .map(|w| (format!("events.webhook {:?}", w.name), &w.url)),
        )
        .chain(
            config
                .alerts
                .webhook
                .iter()
                .enumerate()
                .map(|(i, w)| (format!("alerts.webhook[{i}]"), &w.url)),
        );
    for (target, url) in webhooks {
        targets.push(
            async move {
                Probe {
                    target,
                    outcome: probe::webhook_host(url).await,
                }
            }
            .boxed(),
        );
    }
    targets
}

/// What a channel's health check proves; a shop that takes no orders fails it.
fn shop(health: Result<ShopState, ConnectorError>) -> Result<String, String> {
    match health {
        Ok(ShopState::Closed(state)) => Err(format!(
            "the marketplace says the shop is {state}: it takes no orders"
        )),
        Ok(ShopState::Open(state)) => Ok(format!("credentials accepted, shop {state}")),
        Ok(ShopState::Unstated) => Ok("credentials accepted".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}
