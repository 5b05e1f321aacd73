//! `vigie run`: the daemon, or one cycle of every channel with `--once`.

use std::path::Path;

use vigie::config::{self, Environment};
use vigie::daemon::{self, RunOptions};
use vigie::{delivery, logging};

use super::{Failure, runtime};

#[derive(clap::Args)]
pub struct Args {
    /// One full cycle of every channel, then exit.
    #[arg(long)]
    once: bool,
    /// Decide and log; never call a mutating marketplace endpoint, send a message or an alert.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(path: &Path, env: &Environment, args: Args) -> Result<(), Failure> {
    let config = config::load(path, env)?;
    // Broken templates are a configuration error (78: systemd does not restart in a loop).
    delivery::check(&config)?;
    vigie::domain::custom_rules::check(&config.rules, &config.file)?;
    let logs = logging::init(&config.daemon.log, env)?;
    let options = RunOptions {
        once: args.once,
        dry_run: args.dry_run,
    };
    runtime()?.block_on(daemon::run(config, path.to_path_buf(), options, logs))?;
    Ok(())
}
