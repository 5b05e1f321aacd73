//! `vigie demo`: both sandbox marketplaces, a local SMTP server and a local on-call endpoint
//! on 127.0.0.1, the real daemon (this very binary, as a child process) run on
//! `config/demo.toml` in a temporary state directory, a minute of orders, and a summary.
//! No credentials, no network.

pub mod bench;
mod report;
mod rig;
mod scenario;

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;

use crate::config::{self, Environment};
use rig::{Daemon, Rig};

/// The demo's configuration, with @NAMES@ for the addresses only known at run time.
pub(crate) const DEMO_CONFIG: &str = include_str!("../../config/demo.toml");
/// Longest the demo waits for the daemon to catch up once every order is placed.
const SETTLE_LIMIT: Duration = Duration::from_secs(45);

pub async fn run(keep: bool) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("vigie-demo-").tempdir()?;
    let outcome = run_in(dir.path(), keep).await;
    if keep {
        let kept = dir.keep();
        println!(
            "kept {} (vigie.toml, vigie.log, state/vigie.db: try `vigie --config {}/vigie.toml orders`)",
            kept.display(),
            kept.display()
        );
    }
    outcome
}

/// With `keep`, the daemon and the sandboxes stay up after the summary, for the pages, until
/// Ctrl-C.
async fn run_in(dir: &Path, keep: bool) -> anyhow::Result<()> {
    let rig = Rig::start().await?;
    scenario::stock_marketplaces(&rig.markets);
    let stock = dir.join("stock.csv");
    std::fs::write(&stock, scenario::stock_csv())?;
    let config = write_config(dir, &rig, DEMO_CONFIG, &stock).context("the demo configuration")?;

    println!(
        "vigie demo: Mirakl sandbox at {}, Fnac sandbox at {}",
        rig.markets.mirakl.base_url(),
        rig.markets.fnac.base_url()
    );
    println!(
        "            SMTP on 127.0.0.1:{}, on-call webhook on {}, state in {}",
        rig.smtp.port,
        rig.alerts.url(),
        dir.display()
    );
    let mut daemon = Daemon::start(&config, &dir.join("state"), &dir.join("vigie.log")).await?;
    let started = Instant::now();
    let dashboard = daemon.dashboard_url().await?;
    println!("            dashboard at {dashboard}");
    place_orders_until_settled(&rig, &mut daemon, started).await?;

    let mut outside = report::Outside::gather(&rig.markets);
    outside.alerts = rig.alerts.tally();
    outside.emails = rig.smtp.count();
    outside.elapsed_secs = started.elapsed().as_secs_f64();
    let summary = daemon
        .store
        .call(move |conn| report::summary(conn, &outside))
        .await?;
    println!("{summary}");
    if keep {
        println!("the daemon keeps running: dashboard at {dashboard} (Ctrl-C to stop)");
        tokio::signal::ctrl_c().await?;
    }
    daemon.stop().await
}

/// Writes `template` with the rig's addresses to `dir/vigie.toml`, its state in `dir/state`,
/// and checks it as the daemon will.
pub(crate) fn write_config(
    dir: &Path,
    rig: &Rig,
    template: &str,
    stock: &Path,
) -> anyhow::Result<PathBuf> {
    let path = dir.join("vigie.toml");
    std::fs::write(&path, rig.config(template, &dir.join("state"), stock))?;
    config::load(&path, &Environment::default())?;
    Ok(path)
}

/// Places the scenario's orders at its pace and ships the accepted ones, printing progress,
/// until the daemon has caught up (or `SETTLE_LIMIT` after the last order).
async fn place_orders_until_settled(
    rig: &Rig,
    daemon: &mut Daemon,
    started: Instant,
) -> anyhow::Result<()> {
    let mut stream = scenario::Stream::new();
    let mut placed = 0;
    let mut next_order = Instant::now();
    let mut next_ship = Instant::now() + Duration::from_secs(6);
    let mut settle_deadline = None;
    let live = std::io::stdout().is_terminal();
    let mut last_print = Instant::now();
    loop {
        let now = Instant::now();
        if placed < scenario::ORDERS && now >= next_order {
            let kind = stream.place(&rig.markets);
            placed += 1 + u64::from(kind == scenario::Kind::LastUnitPair);
            next_order = now + scenario::EVERY;
        }
        if now >= next_ship {
            scenario::ship_accepted(&rig.markets);
            next_ship = now + Duration::from_secs(3);
        }
        let progress = daemon.store.call(|conn| report::progress(conn)).await?;
        if live || now.duration_since(last_print) >= Duration::from_secs(5) {
            let line = format!(
                "[{:>3}s] orders {:>3}/{} | accepted {:>3} | refused {:>2} | flagged {:>2} | shipped {:>3} | messages {:>3} | alerts {:>2}",
                started.elapsed().as_secs(),
                progress.seen,
                scenario::ORDERS,
                progress.accepted,
                progress.refused,
                progress.flagged,
                progress.shipped,
                progress.messages.sent,
                rig.alerts.received().len(),
            );
            if live {
                print!("\r{line}");
                std::io::stdout().flush()?;
            } else {
                println!("{line}");
            }
            last_print = now;
        }
        daemon.check_running()?;
        if placed >= scenario::ORDERS {
            let deadline = *settle_deadline.get_or_insert(now + SETTLE_LIMIT);
            let settled = progress.seen as u64 >= placed
                && progress.undecided == 0
                && progress.messages.queued == 0
                && progress.shipped + progress.flagged + progress.refused
                    >= progress.seen.saturating_sub(2);
            if settled || now >= deadline {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if live {
        println!();
    }
    Ok(())
}
