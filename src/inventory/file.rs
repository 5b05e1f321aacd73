//! Watches the inventory CSV (`source = "csv"`) and applies each new version as a snapshot.
//!
//! The file is polled on tokio's clock: its modification time and size every tick, and its
//! content hash whenever those change or every [`REHASH_EVERY`] ticks (a rewrite within the
//! same second with the same size keeps both). A new version is applied only once it has stayed
//! the same for one whole tick, so a file caught half-written is not taken for a snapshot; a
//! writer should still write a temporary file and rename it. Polling rather than inotify keeps
//! this deterministic under paused-time tests and works on network file systems.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// How often the file's metadata is checked.
pub const POLL: Duration = Duration::from_secs(2);
/// Every this many ticks the content is hashed even if the metadata looks unchanged.
pub const REHASH_EVERY: u32 = 15;

/// What one look at the file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing new since the last look.
    Unchanged,
    /// A new version was seen; it is applied if it is still the same on the next look.
    Settling,
    /// A snapshot of this many SKUs was committed.
    Applied(usize),
    /// The version on disk is unusable (unreadable, or a bad row); the previous snapshot stays.
    Rejected(String),
}

/// The state of one watched file between ticks.
pub struct Watcher {
    path: PathBuf,
    store: Store,
    /// (mtime, size) at the last look.
    metadata: Option<(SystemTime, u64)>,
    /// Hash of the content at the last look, and whether that content was dealt with.
    seen: Option<(u64, bool)>,
    ticks: u32,
}

impl Watcher {
    pub fn new(path: PathBuf, store: Store) -> Self {
        Self {
            path,
            store,
            metadata: None,
            seen: None,
            ticks: 0,
        }
    }

    /// Reads and applies the file now, whatever its state was (start-up).
    pub async fn load_now(&mut self) -> Outcome {
        match read(&self.path).await {
            Ok((metadata, content)) => {
                self.metadata = Some(metadata);
                let hash = hash(&content);
                self.seen = Some((hash, true));
                self.apply(&content).await
            }
            Err(message) => {
                // Said once; `check` stays quiet until the file appears.
                self.seen = Some((0, true));
                self.reject(message)
            }
        }
    }

    /// One tick: notices a change, waits for it to settle, applies it.
    pub async fn check(&mut self) -> Outcome {
        self.ticks = self.ticks.wrapping_add(1);
        let metadata = match tokio::fs::metadata(&self.path).await {
            Ok(m) => (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()),
            Err(e) => {
                // Report a vanished file once, not every tick.
                return if self.metadata.take().is_some() || self.seen.is_none() {
                    self.seen = Some((0, true));
                    self.reject(format!("cannot read: {e}"))
                } else {
                    Outcome::Unchanged
                };
            }
        };
        let pending = self.seen.is_some_and(|(_, done)| !done);
        if self.metadata == Some(metadata) && !pending && !self.ticks.is_multiple_of(REHASH_EVERY) {
            return Outcome::Unchanged;
        }
        let (metadata, content) = match read(&self.path).await {
            Ok(read) => read,
            Err(message) => return self.reject(message),
        };
        let hash = hash(&content);
        let previous = self.seen.replace((hash, false));
        self.metadata = Some(metadata);
        match previous {
            Some((old, true)) if old == hash => {
                self.seen = Some((hash, true));
                Outcome::Unchanged
            }
            Some((old, false)) if old == hash => {
                self.seen = Some((hash, true));
                self.apply(&content).await
            }
            _ => Outcome::Settling,
        }
    }

    async fn apply(&mut self, content: &[u8]) -> Outcome {
        let text = match std::str::from_utf8(content) {
            Ok(text) => text,
            Err(e) => return self.reject(format!("not UTF-8 text ({e})")),
        };
        let items = match super::csv::parse(text) {
            Ok(items) => items,
            Err(e) => return self.reject(e.to_string()),
        };
        match super::apply(&self.store, items).await {
            Ok(count) => {
                tracing::info!(path = %self.path.display(), skus = count, "inventory snapshot applied");
                Outcome::Applied(count)
            }
            Err(e) => {
                // Not the file's fault: the next tick applies the same content again.
                self.seen = self.seen.map(|(hash, _)| (hash, false));
                self.reject(format!("{e:#}"))
            }
        }
    }

    fn reject(&self, message: String) -> Outcome {
        tracing::error!(
            path = %self.path.display(),
            "inventory file {}: {message}; the previous snapshot stays in force",
            self.path.display()
        );
        Outcome::Rejected(message)
    }
}

/// Watches `path` until `stop`: applies it at once, then every settled change.
pub async fn run(
    path: PathBuf,
    store: Store,
    changed: watch::Sender<u64>,
    stop: CancellationToken,
) {
    let mut watcher = Watcher::new(path, store);
    if let Outcome::Applied(_) = watcher.load_now().await {
        changed.send_modify(|n| *n += 1);
    }
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Outcome::Applied(_) = watcher.check().await {
            changed.send_modify(|n| *n += 1);
        }
    }
}

async fn read(path: &Path) -> Result<((SystemTime, u64), Vec<u8>), String> {
    let content = tokio::fs::read(path)
        .await
        .map_err(|e| format!("cannot read: {e}"))?;
    let m = tokio::fs::metadata(path)
        .await
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok((
        (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()),
        content,
    ))
}

fn hash(content: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    content.hash(&mut hasher);
    hasher.finish()
}
