//! `vigie demo` and `vigie bench`: the sandboxes and the daemon together, no credentials
//! needed.

use std::path::PathBuf;

use vigie::demo::{self, bench};

use super::{Failure, runtime};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Keep the temporary directory (configuration, log, database) afterwards.
    #[arg(long)]
    keep: bool,
}

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Which runs to make.
    #[arg(long, value_enum, default_value = "both")]
    scenario: bench::Which,
    /// Orders in the fastest run.
    #[arg(long, default_value_t = 10_000)]
    orders: u64,
    /// Orders placed per second in the fastest run.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Poll interval of both channels in the fastest run.
    #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration)]
    poll: std::time::Duration,
    /// Orders in the default-cadence run (each sandbox polled at its real-world interval).
    #[arg(long, default_value_t = 300)]
    cadence_orders: u64,
    /// Minutes over which the default-cadence run places its orders.
    #[arg(long, default_value_t = 10)]
    cadence_minutes: u64,
    /// Orders in the burst run, placed over one minute with 5 s polls.
    #[arg(long, default_value_t = 300)]
    burst_orders: u64,
    /// Also write the table to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Keep the temporary directories (configuration, log, database) afterwards.
    #[arg(long)]
    keep: bool,
}

pub fn demo(args: DemoArgs) -> Result<(), Failure> {
    runtime()?.block_on(demo::run(args.keep))?;
    Ok(())
}

pub fn bench(args: BenchArgs) -> Result<(), Failure> {
    let options = bench::Options {
        which: args.scenario,
        orders: args.orders,
        rate: args.rate,
        cadence_orders: args.cadence_orders,
        cadence_minutes: args.cadence_minutes,
        burst_orders: args.burst_orders,
        fast_poll: args.poll,
        out: args.out,
        keep: args.keep,
    };
    runtime()?.block_on(bench::run(options))?;
    Ok(())
}
