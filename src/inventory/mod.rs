//! Inventory sources: where the units on hand come from (`[inventory]`).
//!
//! Every source delivers a full snapshot: each listed SKU has exactly that many units on hand,
//! and SKUs absent from it have none. A snapshot is applied in one transaction, and only if
//! every row of it is valid; otherwise the error is logged and the previous snapshot stays in
//! force. Reservations are not part of a snapshot: the ledger subtracts them from it.
//!
//! - `csv`: a file, watched ([`file`]); `vigie stock import FILE.csv` uses the same parser.
//! - `http`: a JSON endpoint polled every `interval` ([`http`]).
//! - `manual`: only the CLI (`vigie stock set`, `vigie stock import`) changes stock.
//!
//! The same file follower reads the seller's shipments drop ([`shipments`]).

pub mod csv;
pub mod file;
pub mod http;
pub mod shipments;
mod snapshot;

use std::convert::Infallible;
use std::path::Path;

use anyhow::Context as _;
use rusqlite::Connection;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{InventoryConfig, InventorySource};
use crate::store::stock::{self, StockItem};
use crate::store::{self, Store, now_text};

/// Reads the configured source once and applies it: the number of SKUs in the snapshot, or
/// `None` for `manual`. Fails, changing nothing, if the source cannot be read or a row is bad.
pub async fn load_once(config: &InventoryConfig, store: &Store) -> anyhow::Result<Option<usize>> {
    match config.source {
        InventorySource::Manual => Ok(None),
        InventorySource::Csv => {
            let path = config
                .path
                .as_deref()
                .context("inventory.path is not set")?;
            let context = || format!("inventory file {}", path.display());
            let text = tokio::fs::read_to_string(path)
                .await
                .with_context(context)?;
            let applied = store.call(move |conn| replace_with_csv(conn, &text));
            Ok(Some(applied.await?.with_context(context)?))
        }
        InventorySource::Http => {
            let url = config.url.as_ref().context("inventory.url is not set")?;
            let items = http::fetch(&http::client(Some(http::TIMEOUT))?, url).await?;
            apply(store, items).await.map(Some)
        }
    }
}

/// Starts the watcher (`csv`) or poller (`http`) until `stop`; it applies the source at once,
/// then every change, and bumps `changed` after each applied snapshot. For `manual` the task
/// only waits for `stop`.
pub fn spawn(
    config: InventoryConfig,
    store: Store,
    changed: watch::Sender<u64>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        match (config.source, config.path, config.url) {
            (InventorySource::Csv, Some(path), _) => {
                file::run(path, snapshot::Snapshot::new(store, Some(changed)), stop).await
            }
            (InventorySource::Http, _, Some(url)) => {
                let every = config.interval.map_or(http::DEFAULT_INTERVAL, |i| i.0);
                match http::client(Some(http::TIMEOUT)) {
                    Ok(client) => http::run(client, url, every, store, changed, stop).await,
                    Err(e) => tracing::error!("inventory endpoint: {e:#}"),
                }
            }
            (InventorySource::Manual, _, _) => stop.cancelled().await,
            // Validation rejects these configurations; say so rather than spin.
            (source, _, _) => {
                tracing::error!(?source, "inventory source is missing its path or url");
                stop.cancelled().await;
            }
        }
    })
}

/// `vigie stock import FILE.csv`: replaces the whole inventory with the file, or nothing if
/// any row is bad. Returns the number of SKUs.
pub fn import_file(store: &Store, path: &Path) -> anyhow::Result<usize> {
    let context = || format!("{}", path.display());
    let text = std::fs::read_to_string(path).with_context(context)?;
    store
        .with(|conn| replace_with_csv(conn, &text))
        .with_context(context)?
        .with_context(context)
}

/// Replaces the whole inventory with a CSV text, in one transaction, each row written as it is
/// read: the number of SKUs, or the first bad row with nothing changed.
pub fn replace_with_csv(
    conn: &mut Connection,
    text: &str,
) -> store::Result<Result<usize, csv::CsvError>> {
    stock::replace_all(conn, csv::items(text), &now_text())
}

/// Commits `items` as the whole inventory, in one transaction.
pub(crate) async fn apply(store: &Store, items: Vec<StockItem>) -> anyhow::Result<usize> {
    let Ok(count) = store
        .call(move |conn| {
            stock::replace_all(
                conn,
                items.into_iter().map(Ok::<_, Infallible>),
                &now_text(),
            )
        })
        .await?;
    Ok(count)
}

#[cfg(test)]
mod tests;
