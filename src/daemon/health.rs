//! A channel's health check, at start and then once a day: one cheap call proving the
//! marketplace answers and takes vigie's credentials, and what it says of the shop. Refused
//! credentials raise `channel_auth_failed` (as a refused poll does), a shop the marketplace
//! closed raises `shop_suspended`, and a check that passes resolves both. Any other failure is
//! logged and the channel goes on, since it may be passing.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vigie_connector::{ConnectorError, ShopState};

use crate::domain::alert_keys;
use crate::domain::alerts::{Alert, AlertKind};
use crate::pipeline::{self, Channel, Context};
use crate::store::{self, alerts};

/// How often the check runs after the one at start.
const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Checks now, then every day, until `stop`. A check is a read: `stop` cuts it short.
pub(super) async fn watch(channel: Channel, ctx: Context, stop: CancellationToken) {
    let mut daily = tokio::time::interval(EVERY);
    daily.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = async {
                daily.tick().await;
                check(&channel, &ctx).await;
            } => {}
        }
    }
}

/// One check: logged, and its alerts raised or resolved.
async fn check(channel: &Channel, ctx: &Context) {
    let outcome = channel.marketplace.health().await;
    match &outcome {
        Ok(ShopState::Closed(state)) => {
            tracing::error!("the marketplace says the shop is {state}: it takes no orders")
        }
        Ok(_) => tracing::info!("the marketplace answers and accepts vigie's credentials"),
        Err(ConnectorError::Auth(message)) => {
            tracing::error!("the marketplace refuses vigie's credentials: {message}")
        }
        Err(e) => return tracing::warn!("health check failed, polling all the same: {e}"),
    }
    if ctx.dry_run {
        return;
    }
    let name = channel.name().to_owned();
    let recorded = ctx
        .store
        .call(move |conn| {
            let now = store::now_text();
            let suspended_key = alert_keys::shop_suspended(&name);
            match outcome {
                Err(e) => {
                    let refused = pipeline::health::credentials_refused(&name, &e.to_string());
                    alerts::raise(conn, &refused, &now)?;
                }
                Ok(state) => {
                    alerts::resolve(conn, &alert_keys::channel_auth_failed(&name), &now)?;
                    match state {
                        ShopState::Closed(state) => {
                            let text = format!(
                                "{name}: the marketplace says the shop is {state}: it takes no \
                                 orders until the operator reopens it"
                            );
                            let alert = Alert::new(AlertKind::ShopSuspended, suspended_key, text)
                                .channel(&name);
                            alerts::raise(conn, &alert, &now)?;
                        }
                        ShopState::Open(_) | ShopState::Unstated => {
                            alerts::resolve(conn, &suspended_key, &now)?;
                        }
                    }
                }
            }
            Ok(())
        })
        .await;
    match recorded {
        Ok(()) => ctx.delivery.notify_one(),
        Err(e) => tracing::error!("cannot record the health check: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio::time::Instant;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::pipeline::health::tests::{channel_and_context, open_alerts};

    /// Waits (on tokio's paused clock, which jumps to the next daily check whenever nothing
    /// else is due) until the open alerts are `expected`.
    async fn until_open(ctx: &Context, expected: &[&str]) {
        while open_alerts(ctx).await != expected {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }

    fn account(state: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({ "shop_id": 1, "shop_state": state }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_shop_and_refused_credentials_are_alerted_until_a_daily_check_passes() {
        let server = MockServer::start().await;
        Mock::given(path("/api/version"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let suspended = Mock::given(method("GET"))
            .and(path("/api/account"))
            .respond_with(account("SUSPENDED"))
            .mount_as_scoped(&server)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let (channel, ctx) = channel_and_context(&server, dir.path());
        let stop = CancellationToken::new();
        let start = Instant::now();
        let watching = tokio::spawn(watch(channel, ctx.clone(), stop.clone()));

        until_open(&ctx, &["shop_suspended:lm"]).await;
        drop(suspended);
        let refused = Mock::given(path("/api/account"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "no"})))
            .mount_as_scoped(&server)
            .await;
        until_open(&ctx, &["shop_suspended:lm", "channel_auth_failed:lm"]).await;
        let refused_at = start.elapsed();
        assert!(refused_at >= EVERY, "checked again after {refused_at:?}");
        drop(refused);
        Mock::given(path("/api/account"))
            .respond_with(account("OPEN"))
            .mount(&server)
            .await;
        until_open(&ctx, &[]).await;
        // The checks keep their daily schedule from the start, whatever a check waited for.
        assert!(start.elapsed() >= EVERY * 2, "{:?}", start.elapsed());

        stop.cancel();
        watching.await.unwrap();
    }
}
