//! The commands of `vigie`, one file each: each loads what it needs, calls the library, and
//! reports a [`Failure`] that `main` turns into the documented exit code (78 for the
//! configuration, 1 otherwise).

/// Writes to standard output like `print!`, as a `Result`: a reader that went away
/// (`vigie orders | head -1`) ends the output quietly instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_out(format_args!($($arg)*)) };
}

/// [`out!`] with a newline, like `println!`.
macro_rules! outln {
    () => { $crate::cli::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

pub mod backup;
pub mod cancel;
pub mod check_config;
pub mod demo;
pub mod docs;
pub mod notify;
pub mod orders;
pub mod report;
pub mod review;
pub mod rules;
pub mod run;
pub mod ship;
pub mod status;
pub mod stock;

use std::path::Path;

use anyhow::Context as _;
use vigie::config::{self, Config, ConfigError, Environment};
use vigie::store::{Store, StoreError};

pub enum Failure {
    Config(ConfigError),
    Other(anyhow::Error),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Other(e.into())
    }
}

fn write_out(text: std::fmt::Arguments<'_>) -> Result<(), Failure> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_fmt(text) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(e)
            .context("cannot write to standard output")
            .into()),
        _ => Ok(()),
    }
}

/// The configuration and the store, for the commands that change the state.
fn open_store(path: &Path, env: &Environment) -> Result<(Config, Store), Failure> {
    let config = config::load(path, env)?;
    let store = Store::open(&config.daemon.state_dir)?;
    Ok((config, store))
}

/// The configuration and the store, for the commands that only read it: quick on a big
/// database ([`Store::open_to_read`]), and unable to write.
fn open_store_to_read(path: &Path, env: &Environment) -> Result<(Config, Store), Failure> {
    let config = config::load(path, env)?;
    let store = Store::open_to_read(&config.daemon.state_dir)?;
    Ok((config, store))
}

/// The async runtime the daemon, the demo and the benchmark run on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigie")
        .build()
        .context("cannot start the async runtime")
}

/// `CHANNEL:ORDER_ID`, as orders are named on the command line.
fn order_name(order: &str) -> anyhow::Result<(&str, &str)> {
    order
        .split_once(':')
        .with_context(|| format!("{order:?} is not CHANNEL:ORDER_ID"))
}
