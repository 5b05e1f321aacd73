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
    /// Accept or refuse an order held for review; the running daemon sends it next cycle.
    Review {
        #[arg(value_enum)]
        action: ReviewAction,
        /// The order, as CHANNEL:ORDER_ID (see `vigie orders --status flagged`).
        order: String,
        /// Why, kept with the decision.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Look at or change the stock ledger.
    #[command(subcommand)]
    Stock(StockCommand),
    /// Customer messages.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Both sandbox marketplaces and the daemon for a minute of orders; no credentials needed.
    Demo {
        /// Keep the temporary directory (configuration, log, database) afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Orders over both sandboxes at the default cadence and at the fastest allowed; prints
    /// a markdown table of throughput, latencies, API calls, memory and CPU.
    Bench {
        /// Which runs to make.
        #[arg(long, value_enum, default_value = "both")]
        scenario: vigie::demo::bench::Which,
        /// Orders in the fastest run.
        #[arg(long, default_value_t = 10_000)]
        orders: u64,
        /// Orders placed per second in the fastest run.
        #[arg(long, default_value_t = 100)]
        rate: u32,
        /// Poll interval of both channels in the fastest run.
        #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration)]
        poll: std::time::Duration,
        /// Orders in the default-cadence run (poll 1 min Mirakl, 5 min Fnac).
        #[arg(long, default_value_t = 300)]
        cadence_orders: u64,
        /// Minutes over which the default-cadence run places its orders.
        #[arg(long, default_value_t = 10)]
        cadence_minutes: u64,
        /// Also write the table to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Keep the temporary directories (configuration, log, database) afterwards.
        #[arg(long)]
        keep: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReviewAction {
    Accept,
    Refuse,
}

#[derive(Subcommand)]
enum NotifyCommand {
    /// Print the message an event sends, rendered from the templates.
    Preview {
        /// received, delayed, accepted, shipped, refused or cancelled.
        event: String,
        #[arg(long)]
        locale: Option<String>,
        /// Render for a stored order (CHANNEL:ORDER_ID) instead of a sample one.
        #[arg(long)]
        order: Option<String>,
    },
}

#[derive(Subcommand)]
enum StockCommand {
    /// On hand, reserved, available and pushed quantities.
    Show {
        sku: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Sets the units on hand of one SKU.
    Set { sku: String, quantity: u32 },
    /// Replaces the whole inventory with a CSV file (sku,quantity[,tags]); all or nothing.
    Import { file: PathBuf },
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
        Command::Demo { keep } => commands::demo(keep),
        Command::Bench {
            scenario,
            orders,
            rate,
            poll,
            cadence_orders,
            cadence_minutes,
            out,
            keep,
        } => commands::bench(vigie::demo::bench::Options {
            which: scenario,
            orders,
            rate,
            cadence_orders,
            cadence_minutes,
            fast_poll: poll,
            out,
            keep,
        }),
        Command::Run { once, dry_run } => commands::run(&path, &env, RunOptions { once, dry_run }),
        Command::CheckConfig => commands::check_config(&path, &env),
        Command::Orders {
            status,
            channel,
            json,
        } => commands::orders(&path, &env, status, channel, json),
        Command::Status { json } => commands::status(&path, &env, json),
        Command::Review {
            action,
            order,
            reason,
        } => commands::review(
            &path,
            &env,
            &order,
            matches!(action, ReviewAction::Accept),
            reason.as_deref(),
        ),
        Command::Stock(StockCommand::Show { sku, json }) => {
            commands::stock_show(&path, &env, sku.as_deref(), json)
        }
        Command::Stock(StockCommand::Import { file }) => commands::stock_import(&path, &env, &file),
        Command::Notify(NotifyCommand::Preview {
            event,
            locale,
            order,
        }) => commands::notify_preview(&path, &env, &event, locale.as_deref(), order.as_deref()),
        Command::Stock(StockCommand::Set { sku, quantity }) => {
            commands::stock_set(&path, &env, &sku, quantity)
        }
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
