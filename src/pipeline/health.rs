//! The end of every poll: recorded for `vigie status` and the poll metric, and the channel's
//! health alerts raised or resolved (credentials refused, unreachable for too long, a pause
//! asked for beyond `max_retry_wait`, the state directory full); the start-up health check
//! raises the same credentials alert.

use std::time::Duration;

use vigie_connector::ConnectorError;

use super::{Channel, Context, Error};
use crate::domain::alert_keys;
use crate::domain::alerts::{Alert, AlertKind};
use crate::store::{self, alerts, channels};

/// Records the poll's outcome; failing to record it is logged, not fatal.
pub(super) async fn record(channel: &Channel, ctx: &Context, error: Option<&Error>) {
    let name = channel.name().to_owned();
    let failure = error.map(|e| (e.class(), e.to_string()));
    let auth_failed = matches!(error, Some(Error::Marketplace(ConnectorError::Auth(_))));
    metrics::counter!("vigie_polls_total", "channel" => name.clone(),
        "outcome" => failure.as_ref().map_or("ok", |(class, _)| *class))
    .increment(1);
    if let Some(Error::Store(e)) = error
        && e.is_disk_full()
    {
        // Not the channel's fault: the store cannot grow.
        return raise_state_dir_full(ctx, e.to_string()).await;
    }
    let unreachable_after = ctx.config.alerts.channel_unreachable_after;
    let max_wait = ctx.config.daemon.max_retry_wait;
    let paused_for = match error {
        Some(Error::Marketplace(ConnectorError::RateLimited {
            retry_after: Some(asked),
        })) if *asked > max_wait => Some(*asked),
        _ => None,
    };
    let alerting = !ctx.dry_run;
    let recorded = ctx
        .store
        .call(move |conn| {
            let now = store::now_text();
            let failure = failure.as_ref().map(|(c, m)| (*c, m.as_str()));
            let failures = channels::record_poll(conn, &name, &now, failure)?;
            if !alerting {
                return Ok(());
            }
            let unreachable_key = alert_keys::channel_unreachable(&name);
            if let Some(asked) = paused_for {
                alerts::raise(conn, &rate_limited(&name, asked, max_wait), &now)?;
            }
            match failure {
                None => {
                    alerts::resolve(conn, &alert_keys::channel_auth_failed(&name), &now)?;
                    alerts::resolve(conn, &unreachable_key, &now)?;
                    alerts::resolve(conn, alert_keys::STATE_DIR_FULL, &now)?;
                    alerts::resolve(conn, &alert_keys::channel_rate_limited(&name), &now)?;
                }
                Some((_, message)) if auth_failed => {
                    alerts::raise(conn, &credentials_refused(&name, message), &now)?;
                }
                Some((_, message)) if failures >= unreachable_after => {
                    let text = format!(
                        "{name}: {failures} polls in a row failed, the last with: {message}"
                    );
                    let alert = Alert::new(AlertKind::ChannelUnreachable, unreachable_key, text)
                        .channel(&name);
                    alerts::raise(conn, &alert, &now)?;
                }
                Some(_) => {}
            }
            Ok(())
        })
        .await;
    match recorded {
        Ok(()) => ctx.delivery.notify_one(),
        Err(e) => tracing::error!("cannot record the poll: {e}"),
    }
}

/// Best effort: with no room left, the alert is recorded only if a row still fits, so
/// `/healthz` (which reads [`crate::store::Store::is_full`]) is the signal to watch.
async fn raise_state_dir_full(ctx: &Context, cause: String) {
    let database = ctx.store.path().display().to_string();
    tracing::error!("the state directory is full, {database} cannot grow: {cause}");
    if ctx.dry_run {
        return;
    }
    let text = format!("{database} cannot grow, the disk is full: free space there");
    ctx.raise_alert(Alert::new(
        AlertKind::StateDirFull,
        alert_keys::STATE_DIR_FULL,
        text,
    ))
    .await;
}

/// The marketplace asked for a pause longer than vigie waits: it waited `max_wait` and
/// polls again, and a successful poll resolves this.
fn rate_limited(channel: &str, asked: Duration, max_wait: Duration) -> Alert {
    let text = format!(
        "{channel}: the marketplace asks vigie to pause for {}; vigie waits at most {} \
         (daemon.max_retry_wait) and tries again",
        humantime::format_duration(asked),
        humantime::format_duration(max_wait)
    );
    let key = alert_keys::channel_rate_limited(channel);
    Alert::new(AlertKind::ChannelRateLimited, key, text).channel(channel)
}

/// The alert for credentials the marketplace refuses, raised by a poll or by the start-up
/// health check; a successful poll resolves it.
pub fn credentials_refused(channel: &str, message: &str) -> Alert {
    let text = format!("{channel}: the marketplace refuses vigie's credentials: {message}");
    let key = alert_keys::channel_auth_failed(channel);
    Alert::new(AlertKind::ChannelAuthFailed, key, text).channel(channel)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use secrecy::SecretString;
    use tokio::time::Instant;
    use vigie_connector::spec::{Bounds, ChannelSettings as _};
    use vigie_mirakl::MiraklSettings;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::config::{self, Environment};
    use crate::store::Store;

    /// A Mirakl channel `lm` on `server`, its state in `dir`, waiting at most 10 minutes.
    pub(crate) fn channel_and_context(server: &MockServer, dir: &Path) -> (Channel, Context) {
        channel_and_context_at(&server.uri(), dir)
    }

    /// The same, on the Mirakl at `base_url` (whose key must be `k`).
    pub(crate) fn channel_and_context_at(base_url: &str, dir: &Path) -> (Channel, Context) {
        let text = format!(
            "[daemon]\nstate_dir = {:?}\nmax_retry_wait = \"10m\"\n\n[[channel]]\nname = \"lm\"\n\
             kind = \"mirakl\"\nbase_url = {:?}\napi_key = \"k\"\n",
            dir.display().to_string(),
            base_url
        );
        let config = config::parse(&text, Path::new("vigie.toml"), &Environment::default())
            .expect("a valid configuration");
        // No whole-request timeout: it would fire while tokio's paused clock jumps ahead.
        let mut settings = MiraklSettings::new(base_url.parse().unwrap(), SecretString::from("k"));
        settings.http.timeout = None;
        let bounds = Bounds {
            max_wait: config.daemon.max_retry_wait,
        };
        let channel = Channel {
            config: config.channels[0].clone(),
            marketplace: settings.build("lm", bounds).unwrap(),
            nothing_to_push: Arc::default(),
        };
        let ctx = Context {
            store: Store::open(dir).unwrap(),
            config: Arc::new(config),
            dry_run: false,
            delivery: Default::default(),
            stock_moved: tokio::sync::watch::channel(0).0,
        };
        (channel, ctx)
    }

    pub(crate) async fn open_alerts(ctx: &Context) -> Vec<String> {
        let open = ctx.store.call(|conn| alerts::open(conn)).await.unwrap();
        open.into_iter().map(|(key, _, _)| key).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_beyond_the_cap_is_waited_only_the_cap_and_alerted_until_a_poll_succeeds() {
        let server = MockServer::start().await;
        let day_off = Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "86400"))
            .mount_as_scoped(&server)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let (channel, ctx) = channel_and_context(&server, dir.path());

        let start = Instant::now();
        let error = super::super::run(&channel, &ctx).await.unwrap_err();
        let waited = start.elapsed();
        assert!(matches!(
            error,
            Error::Marketplace(ConnectorError::RateLimited { .. })
        ));
        assert!(waited >= Duration::from_secs(600), "waited only {waited:?}");
        assert!(waited < Duration::from_secs(86_400), "waited {waited:?}");
        assert_eq!(open_alerts(&ctx).await, ["channel_rate_limited:lm"]);

        drop(day_off);
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    serde_json::json!({ "orders": [], "offers": [], "total_count": 0 }),
                ),
            )
            .mount(&server)
            .await;
        super::super::run(&channel, &ctx).await.unwrap();
        assert!(open_alerts(&ctx).await.is_empty());
    }
}
