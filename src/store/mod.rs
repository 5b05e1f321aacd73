//! The SQLite store: every fact vigie must not lose (orders, decisions, reservations, outbox,
//! cursors, alerts, quarantine) lives in one file under the state directory.
//!
//! WAL with `synchronous=FULL`: a committed transaction survives a power cut. One connection
//! behind a mutex serialises writers; async callers reach it through [`Store::call`], which
//! runs the work on tokio's blocking pool, never on an async worker thread. Views that only
//! read while the daemon writes (the status server) use [`Store::read`]: a second connection,
//! which WAL lets read the last commit while a long write (a big snapshot) is under way.

pub mod alerts;
pub mod api_requests;
mod backup;
pub mod cancellations;
pub mod channels;
pub mod customers;
pub mod decisions;
pub mod figures;
mod file;
pub mod flags;
pub mod history;
pub mod judgments;
pub mod kpis;
pub mod ledger_version;
mod migrations;
pub mod order_facts;
pub mod orders;
pub mod outbox;
pub mod pushes;
pub mod quarantine;
pub mod requested;
pub mod reservations;
pub mod seller_cancels;
pub mod shipments;
pub mod state;
pub mod status;
pub mod stock;
pub mod stock_low;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

pub use backup::Copied;
use migrations::{MigrationOutcome, Schema, migrate};

pub const DATABASE_FILE: &str = "vigie.db";

/// Why the store cannot be used; each is one line a seller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state directory {}: {message}", path.display())]
    StateDir { path: PathBuf, message: String },
    #[error("database {}: {message}", path.display())]
    Open { path: PathBuf, message: String },
    #[error("database {} was written by a newer vigie (schema {found}, this one knows {known}); upgrade vigie", path.display())]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database: {0}")]
    Data(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// SQLite could not grow the database: the disk (or the quota) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DiskFull)
    }
}

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// Never writes (`query_only`), so it never waits for the writer's mutex or lock.
    reader: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
    /// The last write failed for want of space; the next write that succeeds clears it.
    full: Arc<AtomicBool>,
}

impl Store {
    /// Opens (creating if needed) the database in `state_dir` and brings its schema up to date.
    pub fn open(state_dir: &Path) -> Result<Self> {
        let dir_error = |message: String| StoreError::StateDir {
            path: state_dir.to_path_buf(),
            message,
        };
        std::fs::create_dir_all(state_dir).map_err(|e| dir_error(e.to_string()))?;
        // SQLite needs to create files there (the WAL, the shared memory index).
        tempfile::tempfile_in(state_dir).map_err(|e| dir_error(format!("not writable: {e}")))?;

        let path = state_dir.join(DATABASE_FILE);
        let open_error = |e: rusqlite::Error| StoreError::Open {
            path: path.clone(),
            message: describe(&e),
        };
        let unusable = |message: String| StoreError::Open {
            path: path.clone(),
            message,
        };
        file::create_if_absent(&path, state_dir).map_err(unusable)?;
        let mut conn = file::open_checked(&path).map_err(unusable)?;
        enable_wal(&conn).map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_error)?;
        // Writers take the lock when they begin, so a transaction that read first never meets
        // SQLITE_BUSY_SNAPSHOT when the other process (daemon or CLI) committed meanwhile;
        // they wait under the busy timeout instead.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        match migrate(&mut conn).map_err(open_error)? {
            MigrationOutcome::Current { applied } if applied > 0 => {
                tracing::info!(path = %path.display(), applied, "database schema migrated");
            }
            MigrationOutcome::Current { .. } => {}
            MigrationOutcome::TooNew { found, known } => {
                return Err(StoreError::TooNew { path, found, known });
            }
        }
        let reader = file::open_reader(&path).map_err(open_error)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            reader: Arc::new(Mutex::new(reader)),
            path: Arc::new(path),
            full: Arc::default(),
        })
    }

    /// Opens the database for a command that only reads (`status`, `orders`...): one
    /// connection that cannot write, and no integrity check, which reads the whole file (the
    /// daemon runs it at each start, and nothing read here is written back). A database not
    /// created yet or whose schema this vigie would migrate is opened as [`Store::open`] does
    /// it: created or migrated, after the check.
    pub fn open_to_read(state_dir: &Path) -> Result<Self> {
        let path = state_dir.join(DATABASE_FILE);
        // An empty file is refused by `open`, with its remedy.
        if !std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
            return Self::open(state_dir);
        }
        let open_error = |e: rusqlite::Error| StoreError::Open {
            path: path.clone(),
            message: describe(&e),
        };
        let reader = file::open_reader(&path).map_err(open_error)?;
        match migrations::schema(&reader).map_err(open_error)? {
            Schema::Current => {}
            Schema::Behind { .. } => return Self::open(state_dir),
            Schema::TooNew { found, known } => {
                return Err(StoreError::TooNew { path, found, known });
            }
        }
        let reader = Arc::new(Mutex::new(reader));
        Ok(Self {
            conn: reader.clone(),
            reader,
            path: Arc::new(path),
            full: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the state directory is full: the last write failed for want of space.
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// Runs `work` on the connection from synchronous code (the CLI, the blocking pool).
    pub fn with<R>(&self, work: impl FnOnce(&mut Connection) -> Result<R>) -> Result<R> {
        // A panic while holding the lock leaves no half-done transaction (rusqlite rolls back
        // on drop), so the connection is still sound.
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let changes_before = conn.total_changes();
        let result = work(&mut conn);
        match &result {
            Err(e) if e.is_disk_full() => self.full.store(true, Ordering::Relaxed),
            Ok(_) if conn.total_changes() > changes_before => {
                self.full.store(false, Ordering::Relaxed);
            }
            _ => {}
        }
        result
    }

    /// Runs `work` on the blocking pool, off the async worker threads.
    pub async fn call<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let store = self.clone();
        blocking(move || store.with(work)).await
    }

    /// Runs read-only `work` on the reader connection, on the blocking pool: it sees the last
    /// committed state and is not held up by a write in progress.
    pub async fn read<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let reader = self.reader.clone();
        blocking(move || work(&reader.lock().unwrap_or_else(|p| p.into_inner()))).await
    }
}

async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Data(format!("database task failed: {e}")))?
}

/// Runs `work` in one transaction, committed only when `work` succeeds: a request refused
/// halfway (a later line short of stock) leaves nothing behind. The outer result is the
/// database's, the inner one `work`'s own verdict.
pub fn commit_if_ok<T, E>(
    conn: &mut Connection,
    work: impl FnOnce(&rusqlite::Transaction) -> std::result::Result<T, E>,
) -> Result<std::result::Result<T, E>> {
    let tx = conn.transaction()?;
    let outcome = work(&tx);
    if outcome.is_ok() {
        tx.commit()?;
    }
    Ok(outcome)
}

/// Switching a new database to WAL needs the file alone for a moment; when another process
/// opens it at that very moment SQLite answers "locked" at once instead of waiting, so wait
/// here (start-up only).
fn enable_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut tries = 0;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && tries < 200 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            outcome => return outcome,
        }
    }
}

/// SQLite says "file is not a database" for garbage; say what the seller should check.
fn describe(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            format!(
                "corrupt or not a vigie database ({e}); restore it from a backup or move it away"
            )
        }
        Some(rusqlite::ErrorCode::ReadOnly) | Some(rusqlite::ErrorCode::CannotOpen) => {
            format!("cannot be opened for writing ({e})")
        }
        _ => e.to_string(),
    }
}

/// Timestamps are stored as RFC 3339 UTC text with nine fractional digits: fixed width, so
/// text order is time order (SQL compares and sorts them as text).
pub fn time_text(at: jiff::Timestamp) -> String {
    format!("{at:.9}")
}

pub fn now_text() -> String {
    time_text(jiff::Timestamp::now())
}

#[cfg(test)]
mod tests;
