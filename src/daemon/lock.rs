//! One `vigie run` per state directory: a second one would take the first one's sends in
//! flight for interrupted ones.

use std::fs::{File, TryLockError};
use std::path::Path;

use anyhow::Context as _;

/// Locks `dir` for as long as the returned file lives; the kernel releases the lock when the
/// process ends, however it ends.
pub(super) fn state_dir(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join("vigie.lock");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => {
            anyhow::bail!(
                "another vigie run is using {} (it holds {})",
                dir.display(),
                path.display()
            )
        }
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}
