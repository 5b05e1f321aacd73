//! Follows a channel's `sku_map` file while the daemon runs, the way the inventory CSV is
//! followed ([`crate::inventory::file`]): each settled new version replaces the map whole;
//! a bad one leaves the previous map in force and raises `sku_map_invalid` naming the file
//! and the line, resolved by the next good version.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::domain::alert_keys;
use crate::domain::alerts::{Alert, AlertKind};
use crate::inventory::file::{self, Outcome, Rejected, Target};
use crate::pipeline::Context;
use crate::skumap::{LiveSkuMap, SkuMap, parse};
use crate::store::{self, alerts};

/// Follows `live`'s file until `stop`.
pub(super) fn spawn(
    channel: String,
    live: LiveSkuMap,
    ctx: Context,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let path = live.path().to_owned();
        file::run(path, Follow { channel, live, ctx }, stop).await;
    })
}

struct Follow {
    channel: String,
    live: LiveSkuMap,
    ctx: Context,
}

impl Target for Follow {
    fn what(&self) -> &'static str {
        "sku_map"
    }

    async fn apply(&mut self, text: String) -> Result<usize, Rejected> {
        let pairs = parse::parse(&text).map_err(|e| Rejected::Content(e.to_string()))?;
        let map = SkuMap::new(pairs);
        let count = map.len();
        self.live.replace(map);
        Ok(count)
    }

    async fn settled(&mut self, outcome: &Outcome) {
        let key = alert_keys::sku_map_invalid(&self.channel);
        match outcome {
            Outcome::Applied(_) => {
                // New SKUs to tell the marketplace: every channel pushes now.
                self.ctx.stock_moved.send_modify(|n| *n += 1);
                if self.ctx.dry_run {
                    return;
                }
                let resolved = self
                    .ctx
                    .store
                    .call(move |conn| alerts::resolve(conn, &key, &store::now_text()))
                    .await;
                match resolved {
                    Ok(true) => self.ctx.delivery.notify_one(),
                    Ok(false) => {}
                    Err(e) => tracing::error!("cannot resolve the alert: {e}"),
                }
            }
            Outcome::Rejected(message) if !self.ctx.dry_run => {
                let channel = &self.channel;
                let alert = Alert::new(
                    AlertKind::SkuMapInvalid,
                    key,
                    format!(
                        "{channel}: sku_map {}: {message}; the previous map stays in force",
                        self.live.path().display()
                    ),
                )
                .channel(channel);
                self.ctx.raise_alert(alert).await;
            }
            _ => {}
        }
    }
}
