#![forbid(unsafe_code)]

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use cli::Failure;
use vigie::config::Environment;

/// Watches marketplace shops, decides orders by rules, keeps one stock across channels.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file [default: $VIGIE_CONFIG, else /etc/vigie/vigie.toml]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Run(cli::run::Args),
    /// Validate the configuration and its secrets; print a summary with secrets redacted.
    CheckConfig(cli::check_config::Args),
    /// List orders.
    Orders(cli::orders::Args),
    /// Channels, last poll, errors, backlog, deadlines.
    Status(cli::status::Args),
    /// KPIs over a window (default the last 7 days), against the window before it.
    Report(cli::report::Args),
    /// Accept or refuse an order held for review; the running daemon sends it next cycle.
    Review(cli::review::Args),
    /// Record a parcel (all lines left to ship when no --line); the daemon confirms it to
    /// the marketplace.
    Ship(cli::ship::Args),
    /// Cancel accepted lines (no stock after all); the daemon tells the marketplace.
    Cancel(cli::cancel::Args),
    /// Try today's rules on stored orders: one (`test`), or a window (`replay`).
    #[command(subcommand)]
    Rules(cli::rules::Command),
    /// Look at or change the stock ledger.
    #[command(subcommand)]
    Stock(cli::stock::Command),
    /// Customer messages.
    #[command(subcommand)]
    Notify(cli::notify::Command),
    /// A consistent copy of the database, taken while the daemon runs.
    Backup(cli::backup::Args),
    /// Shell completions, to source or install (bash, zsh, fish...).
    Completions(cli::docs::CompletionsArgs),
    /// The manual page (roff), or every page into a directory.
    Man(cli::docs::ManArgs),
    /// Both sandbox marketplaces and the daemon for a minute of orders; no credentials needed.
    Demo(cli::demo::DemoArgs),
    /// Orders over both sandboxes at the default cadence and at the fastest allowed; prints
    /// a markdown table of throughput, latencies, API calls, memory and CPU.
    Bench(cli::demo::BenchArgs),
}

fn main() -> ExitCode {
    // Usage errors exit 1, like every failure that is not the configuration's (clap says 2).
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let env = Environment::from_process();
    let path = env.config_path(cli.config.as_deref());
    let outcome = match cli.command {
        Command::Run(args) => cli::run::run(&path, &env, args),
        Command::CheckConfig(args) => cli::check_config::run(&path, &env, args),
        Command::Orders(args) => cli::orders::run(&path, &env, args),
        Command::Status(args) => cli::status::run(&path, &env, args),
        Command::Report(args) => cli::report::run(&path, &env, args),
        Command::Review(args) => cli::review::run(&path, &env, args),
        Command::Cancel(args) => cli::cancel::run(&path, &env, args),
        Command::Ship(args) => cli::ship::run(&path, &env, args),
        Command::Stock(command) => cli::stock::run(&path, &env, command),
        Command::Rules(command) => cli::rules::run(&path, &env, command),
        Command::Notify(command) => cli::notify::run(&path, &env, command),
        Command::Backup(args) => cli::backup::run(&path, &env, args),
        Command::Completions(args) => cli::docs::completions(Cli::command(), args),
        Command::Man(args) => cli::docs::man(Cli::command(), args),
        Command::Demo(args) => cli::demo::demo(args),
        Command::Bench(args) => cli::demo::bench(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(e)) => {
            eprintln!("vigie: invalid configuration: {e}");
            ExitCode::from(78)
        }
        Err(Failure::Other(e)) => {
            eprintln!("vigie: {e:#}");
            ExitCode::FAILURE
        }
    }
}
