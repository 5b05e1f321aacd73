//! `vigie backup FILE [--force]`: a consistent copy of the database, while the daemon runs.

use std::path::{Path, PathBuf};

use vigie::config::Environment;

use super::{Failure, open_store};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the copy (a single SQLite file).
    file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

pub fn run(path: &Path, env: &Environment, args: Args) -> Result<(), Failure> {
    let (_, store) = open_store(path, env)?;
    let copied = store.backup_to(&args.file, args.force)?;
    outln!(
        "backed up {} to {} ({:.1} MB)",
        store.path().display(),
        args.file.display(),
        copied.bytes as f64 / 1e6
    )?;
    if copied.undelivered > 0 {
        outln!(
            "{} customer message(s) or seller webhook(s) were not yet delivered: restored, they \
             are alerted as uncertain, never sent again",
            copied.undelivered
        )?;
    }
    Ok(())
}
