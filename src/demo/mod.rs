//! `vigie demo`: both sandbox marketplaces, a local SMTP server and a local on-call endpoint
//! on 127.0.0.1, the real daemon (this very binary, as a child process) run on
//! `config/demo.toml` in a temporary state directory, a minute of orders, and a summary.
//! No credentials, no network.

pub mod bench;
mod report;
mod scenario;
mod sinks;

use std::io::{IsTerminal, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use vigie_fnac::sandbox::{self as fnac, FnacSandbox};
use vigie_mirakl::sandbox::{self as mirakl, MiraklSandbox};

use crate::config::{self, Environment};
use crate::store::Store;

/// The demo's configuration, with @NAMES@ for the addresses only known at run time.
pub(crate) const DEMO_CONFIG: &str = include_str!("../../config/demo.toml");
/// Longest the demo waits for the daemon to catch up once every order is placed.
const SETTLE_LIMIT: Duration = Duration::from_secs(45);

pub async fn run(keep: bool) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("vigie-demo-").tempdir()?;
    let outcome = run_in(dir.path()).await;
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

async fn run_in(dir: &Path) -> anyhow::Result<()> {
    let rig = Rig::start().await?;
    scenario::stock_marketplaces(&rig.mirakl, &rig.fnac);
    let stock = dir.join("stock.csv");
    std::fs::write(&stock, scenario::stock_csv())?;

    let state = dir.join("state");
    let config_path = dir.join("vigie.toml");
    std::fs::write(&config_path, rig.config(DEMO_CONFIG, &state, &stock))?;
    config::load(&config_path, &Environment::default()).context("the demo configuration")?;
    let Rig {
        mirakl,
        fnac,
        smtp,
        emails,
        alert_addr,
        alerts,
    } = rig;

    println!(
        "vigie demo: Mirakl sandbox at {}, Fnac sandbox at {}",
        mirakl.base_url(),
        fnac.base_url()
    );
    println!(
        "            SMTP on {smtp}, on-call webhook on http://{alert_addr}/alerts, state in {}",
        dir.display()
    );
    let log = dir.join("vigie.log");
    let mut daemon = start_daemon(&config_path, &log)?;
    let started = Instant::now();
    let store = open_store(&mut daemon, &state, &log).await?;

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
            let kind = stream.place(&mirakl, &fnac);
            placed += 1 + u64::from(kind == scenario::Kind::LastUnitPair);
            next_order = now + scenario::EVERY;
        }
        if now >= next_ship {
            scenario::ship_accepted(&mirakl, &fnac);
            next_ship = now + Duration::from_secs(3);
        }
        let progress = store.call(|conn| report::progress(conn)).await?;
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
                progress.messages,
                alerts.total(),
            );
            if live {
                print!("\r{line}");
                std::io::stdout().flush()?;
            } else {
                println!("{line}");
            }
            last_print = now;
        }
        if let Some(status) = daemon.try_wait()? {
            anyhow::bail!("the daemon stopped ({status}); see {}", log.display());
        }
        if placed >= scenario::ORDERS {
            let deadline = *settle_deadline.get_or_insert(now + SETTLE_LIMIT);
            let settled = progress.seen as u64 >= placed
                && progress.undecided == 0
                && progress.pending_messages == 0
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
    stop_daemon(&mut daemon).await?;

    let mut outside = report::Outside::gather(&mirakl, &fnac);
    outside.alerts = alerts.snapshot();
    outside.emails = emails.total();
    outside.elapsed_secs = started.elapsed().as_secs_f64();
    let summary = store
        .call(move |conn| report::summary(conn, &outside))
        .await?;
    println!("{summary}");
    Ok(())
}

/// What the daemon talks to in a demo or a benchmark: both sandbox marketplaces, an SMTP
/// server and an on-call endpoint, all on 127.0.0.1.
pub(crate) struct Rig {
    pub mirakl: MiraklSandbox,
    pub fnac: FnacSandbox,
    pub smtp: SocketAddr,
    pub emails: sinks::Tally,
    pub alert_addr: SocketAddr,
    pub alerts: sinks::Tally,
}

impl Rig {
    pub async fn start() -> anyhow::Result<Self> {
        let mirakl = MiraklSandbox::start(mirakl::SandboxOptions::default()).await?;
        let fnac = FnacSandbox::start(fnac::SandboxOptions::default()).await?;
        let (smtp, emails) = sinks::smtp_sink().await?;
        let (alert_addr, alerts) = sinks::alert_receiver().await?;
        Ok(Self {
            mirakl,
            fnac,
            smtp,
            emails,
            alert_addr,
            alerts,
        })
    }

    /// `template` (config/demo.toml or a variant) with the run-time addresses filled in.
    pub fn config(&self, template: &str, state: &Path, stock: &Path) -> String {
        template
            .replace("@STATE_DIR@", &state.display().to_string())
            .replace("@MIRAKL_URL@", self.mirakl.base_url().as_str())
            .replace("@MIRAKL_KEY@", self.mirakl.api_key())
            .replace("@MIRAKL_SHOP@", &self.mirakl.shop_id().to_string())
            .replace("@FNAC_URL@", self.fnac.base_url().as_str())
            .replace("@FNAC_PARTNER@", self.fnac.partner_id())
            .replace("@FNAC_SHOP@", self.fnac.shop_id())
            .replace("@FNAC_KEY@", self.fnac.key())
            .replace("@STOCK_CSV@", &stock.display().to_string())
            .replace("@SMTP_PORT@", &self.smtp.port().to_string())
            .replace(
                "@ALERTS_URL@",
                &format!("http://{}/alerts", self.alert_addr),
            )
    }
}

/// The daemon creates the database; waits for it (or for the daemon's early exit).
pub(crate) async fn open_store(
    daemon: &mut Child,
    state: &Path,
    log: &Path,
) -> anyhow::Result<Store> {
    loop {
        if let Ok(store) = Store::open(state) {
            return Ok(store);
        }
        if let Some(status) = daemon.try_wait()? {
            anyhow::bail!(
                "the daemon exited at start ({status}); see {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn start_daemon(config: &Path, log: &Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find the vigie binary")?;
    let log = std::fs::File::create(log)?;
    Command::new(exe)
        .arg("--config")
        .arg(config)
        .arg("run")
        // This run is not the service: never talk to a service manager or the journal.
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the daemon")
}

/// SIGTERM, as systemd would, and wait for the graceful exit.
pub(crate) async fn stop_daemon(daemon: &mut Child) -> anyhow::Result<()> {
    if let Some(pid) = daemon.id() {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
    }
    let status = tokio::time::timeout(Duration::from_secs(30), daemon.wait())
        .await
        .context("the daemon did not stop within 30 s")??;
    anyhow::ensure!(status.success(), "the daemon exited with {status}");
    Ok(())
}
