#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vigie::commands::{self, Failure};
use vigie::config::Environment;
use vigie::daemon::RunOptions;

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
    Run {
        /// One full cycle of every channel, then exit.
        #[arg(long)]
        once: bool,
        /// Decide and log; never call a mutating marketplace endpoint, send a message or an alert.
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate the configuration and its secrets; print a summary with secrets redacted.
    CheckConfig,
    /// List orders.
    Orders {
        /// Only orders in this status (e.g. awaiting_acceptance, flagged, shipped).
        #[arg(long)]
        status: Option<String>,
        /// Only orders of this channel.
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Channels, last poll, errors, backlog, deadlines.
    Status {
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Environment::from_process();
    let path = env.config_path(cli.config.as_deref());
    let outcome = match cli.command {
        Command::Run { once, dry_run } => commands::run(&path, &env, RunOptions { once, dry_run }),
        Command::CheckConfig => commands::check_config(&path, &env),
        Command::Orders {
            status,
            channel,
            json,
        } => commands::orders(&path, &env, status, channel, json),
        Command::Status { json } => commands::status(&path, &env, json),
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
