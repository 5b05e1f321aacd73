//! The end of every poll: recorded for `vigie status` and the poll metric, and the channel's
//! health alerts raised or resolved (credentials refused, unreachable for too long, the state
//! directory full); the start-up health check raises the same credentials alert.

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
            match failure {
                None => {
                    alerts::resolve(conn, &alert_keys::channel_auth_failed(&name), &now)?;
                    alerts::resolve(conn, &unreachable_key, &now)?;
                    alerts::resolve(conn, alert_keys::STATE_DIR_FULL, &now)?;
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
    let alert = Alert::new(AlertKind::StateDirFull, alert_keys::STATE_DIR_FULL, text);
    let raised = ctx
        .store
        .call(move |conn| alerts::raise(conn, &alert, &store::now_text()))
        .await;
    match raised {
        Ok(_) => ctx.delivery.notify_one(),
        Err(e) => tracing::error!("cannot raise the alert: {e}"),
    }
}

/// The alert for credentials the marketplace refuses, raised by a poll or by the start-up
/// health check; a successful poll resolves it.
pub fn credentials_refused(channel: &str, message: &str) -> Alert {
    let text = format!("{channel}: the marketplace refuses vigie's credentials: {message}");
    let key = alert_keys::channel_auth_failed(channel);
    Alert::new(AlertKind::ChannelAuthFailed, key, text).channel(channel)
}
