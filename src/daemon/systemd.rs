//! Talks to the service manager through `$NOTIFY_SOCKET` (sd_notify), and keeps its
//! watchdog fed while every loop is alive. Without systemd the socket is absent and every
//! call is a no-op.

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use super::heartbeat::Heartbeats;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify the service manager: {e}");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Starts a reload; systemd matches it with the next `READY=1`.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading configuration"),
        ]),
        Err(e) => tracing::warn!("cannot read the monotonic clock for RELOADING=1: {e}"),
    }
}

pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: finishing in-flight work"),
    ]);
}

/// Pings systemd's watchdog at half its period, but only while every loop is alive: a stuck
/// loop lets systemd restart the daemon.
pub async fn watchdog(heartbeats: Heartbeats, stop: CancellationToken) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let mut ticker = tokio::time::interval(period / 2);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let stale = heartbeats.stale();
        if stale.is_empty() {
            send(&[NotifyState::Watchdog]);
        } else {
            tracing::error!(
                "channel loops stuck, withholding the watchdog ping: {}",
                stale.join(", ")
            );
        }
    }
}
