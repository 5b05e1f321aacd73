//! `vigie check-config`: validate the configuration, its secrets and templates; print a
//! summary with secrets redacted.

use std::path::Path;

use vigie::config::{self, Environment};
use vigie::delivery;

use super::Failure;

pub fn run(path: &Path, env: &Environment) -> Result<(), Failure> {
    let config = config::load(path, env)?;
    delivery::check(&config)?;
    out!("{config}")?;
    outln!("templates: every event renders in every configured locale")?;
    for warning in &config.warnings {
        eprintln!("vigie: warning: {warning}");
    }
    Ok(())
}
