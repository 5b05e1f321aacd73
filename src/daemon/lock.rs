//! One `vigie run` per state directory: a second one would take the first one's sends in
//! flight for interrupted ones.

use std::fs::{File, TryLockError};
use std::path::Path;

use anyhow::Context as _;

/// Locks `dir` itself for as long as the returned handle lives: a lock file could be deleted
/// under a running daemon and let a second one in; a directory holding the database cannot
/// be. The kernel releases the lock when the process ends, however it ends.
pub(super) fn state_dir(dir: &Path) -> anyhow::Result<File> {
    let handle = File::open(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    match handle.try_lock() {
        Ok(()) => Ok(handle),
        Err(TryLockError::WouldBlock) => {
            anyhow::bail!(
                "another vigie run is using {} (it holds a lock on that directory)",
                dir.display()
            )
        }
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", dir.display()))
        }
    }
}
