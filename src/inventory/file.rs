//! Watches a file and applies each new version: the inventory CSV (`source = "csv"`, as a
//! snapshot of the ledger: [`super::snapshot`]) and each channel's `sku_map` ([`Target`] says
//! what a version is applied to).
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

use tokio_util::sync::CancellationToken;

/// What a watched file's versions are applied to.
pub trait Target: Send {
    /// What the file is, for the log ("inventory file").
    fn what(&self) -> &'static str;
    /// Applies a new version's text, handed over rather than copied (a big snapshot is held
    /// once); returns how many entries it holds.
    fn apply(&mut self, text: String) -> impl Future<Output = Result<usize, Rejected>> + Send;
    /// Told of each version applied or rejected, once.
    fn settled(&mut self, outcome: &Outcome) -> impl Future<Output = ()> + Send;
}

/// Why a version was not applied.
pub enum Rejected {
    /// The content is unusable (a bad row): the next version may be better.
    Content(String),
    /// Not the file's fault (the database was busy): the same content is tried again.
    Retry(String),
}

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
pub struct Watcher<T> {
    path: PathBuf,
    target: T,
    /// (mtime, size) at the last look.
    metadata: Option<(SystemTime, u64)>,
    /// Hash of the content at the last look, and whether that content was dealt with.
    seen: Option<(u64, bool)>,
    ticks: u32,
}

impl<T: Target> Watcher<T> {
    pub fn new(path: PathBuf, target: T) -> Self {
        Self {
            path,
            target,
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
                self.apply(content).await
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
                self.apply(content).await
            }
            _ => Outcome::Settling,
        }
    }

    async fn apply(&mut self, content: Vec<u8>) -> Outcome {
        let text = match String::from_utf8(content) {
            Ok(text) => text,
            Err(e) => return self.reject(format!("not UTF-8 text ({e})")),
        };
        match self.target.apply(text).await {
            Ok(count) => {
                tracing::info!(path = %self.path.display(), entries = count, "{} applied", self.target.what());
                Outcome::Applied(count)
            }
            Err(Rejected::Content(message)) => self.reject(message),
            Err(Rejected::Retry(message)) => {
                self.seen = self.seen.map(|(hash, _)| (hash, false));
                self.reject(message)
            }
        }
    }

    fn reject(&self, message: String) -> Outcome {
        tracing::error!(
            path = %self.path.display(),
            "{} {}: {message}; the previous version stays in force",
            self.target.what(),
            self.path.display()
        );
        Outcome::Rejected(message)
    }
}

/// Watches `path` until `stop`: applies it at once, then every settled change, telling
/// `target` of each.
pub async fn run<T: Target>(path: PathBuf, target: T, stop: CancellationToken) {
    let mut watcher = Watcher::new(path, target);
    let outcome = watcher.load_now().await;
    watcher.target.settled(&outcome).await;
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let outcome = watcher.check().await;
        if matches!(outcome, Outcome::Applied(_) | Outcome::Rejected(_)) {
            watcher.target.settled(&outcome).await;
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
