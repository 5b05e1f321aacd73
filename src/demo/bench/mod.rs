//! `vigie bench`: the demo's machinery (both sandboxes, the sinks, the daemon as a child
//! process on a variant of `config/demo.toml`) under a stream of ordinary orders, run at the
//! marketplaces' default cadence and at the fastest the configuration allows. Prints figures
//! as a markdown table; it asserts nothing.
//!
//! One file per job: `scenarios` (the runs' shapes), `run` (one run, from start to stop),
//! `measure` (the figures of a run), `table` (the markdown); `idle` (ten channels, no order).

mod idle;
mod measure;
mod run;
mod scenarios;
mod table;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use scenarios::Scenario;

/// Which runs `vigie bench` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// `cadence` and `fast`.
    Both,
    /// `cadence`, `burst` and `fast`.
    All,
    /// The published limits and default poll intervals (1 min Mirakl, 5 min Fnac).
    Cadence,
    /// Limits raised, poll intervals short.
    Fast,
    /// A few hundred orders in one minute, 5 s polls, the published limits.
    Burst,
    /// Ten channels at their default cadence, no order: the daemon's idle CPU.
    Idle,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub which: Which,
    /// Orders in the fastest run.
    pub orders: u64,
    /// Orders placed per second in the fastest run.
    pub rate: u32,
    /// Orders in the default-cadence run, placed evenly over `cadence_minutes`.
    pub cadence_orders: u64,
    pub cadence_minutes: u64,
    /// Orders in the burst run, placed over one minute.
    pub burst_orders: u64,
    /// Poll interval of both channels in the fastest run.
    pub fast_poll: Duration,
    pub out: Option<PathBuf>,
    pub keep: bool,
}

#[cfg(test)]
impl Options {
    /// A few orders in each run, for tests of what the runs are made of.
    fn small(which: Which) -> Self {
        Self {
            which,
            orders: 10,
            rate: 5,
            cadence_orders: 4,
            cadence_minutes: 1,
            burst_orders: 6,
            fast_poll: Duration::from_millis(250),
            out: None,
            keep: false,
        }
    }
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let machine = table::Machine::probe().await;
    if options.which == Which::Idle {
        let what = idle::what();
        println!("vigie bench: idle: {what}");
        let dir = tempfile::Builder::new().prefix("vigie-bench-").tempdir()?;
        let rows = idle::run_in(dir.path()).await;
        if options.keep {
            println!("  kept {}", dir.keep().display());
        }
        return print_table(&table::targets(&machine, &what, &rows?), &options);
    }
    let mut runs = Vec::new();
    if matches!(options.which, Which::Both | Which::All | Which::Cadence) {
        runs.push(Scenario::cadence(&options)?);
    }
    if matches!(options.which, Which::All | Which::Burst) {
        runs.push(Scenario::burst(&options)?);
    }
    if matches!(options.which, Which::Both | Which::All | Which::Fast) {
        runs.push(Scenario::fast(&options)?);
    }
    let mut results = Vec::new();
    for scenario in runs {
        println!("vigie bench: {}: {}", scenario.title, scenario.what);
        let dir = tempfile::Builder::new().prefix("vigie-bench-").tempdir()?;
        let figures = run::run_in(dir.path(), &scenario).await;
        if options.keep {
            println!("  kept {}", dir.keep().display());
        }
        results.push((scenario, figures?));
    }
    print_table(&table::render(&machine, &results), &options)
}

/// Prints the table, and writes it to `--out`.
fn print_table(table: &str, options: &Options) -> anyhow::Result<()> {
    println!("\n{table}");
    if let Some(out) = &options.out {
        std::fs::write(out, table).with_context(|| format!("cannot write {}", out.display()))?;
        println!("written to {}", out.display());
    }
    Ok(())
}
