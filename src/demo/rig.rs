//! What the daemon talks to in a demo or a benchmark (the three sandbox marketplaces, an SMTP
//! server and an on-call endpoint, all on 127.0.0.1), and the daemon itself: this very
//! binary, as a child process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::{Child, Command};
use vigie_testkit::{Marketplaces, SmtpSink, WebhookSink};

use crate::store::Store;

/// Seeds the sandboxes' own draws (ids, credentials); the demo and the bench inject no faults.
const SANDBOX_SEED: u64 = 7;

pub(crate) struct Rig {
    pub markets: Marketplaces,
    pub smtp: SmtpSink,
    pub alerts: WebhookSink,
}

impl Rig {
    pub async fn start() -> anyhow::Result<Self> {
        Ok(Self {
            markets: Marketplaces::start(SANDBOX_SEED).await?,
            smtp: SmtpSink::start().await?,
            alerts: WebhookSink::start().await?,
        })
    }

    /// `template` (config/demo.toml or a variant) with the run-time addresses filled in.
    pub fn config(&self, template: &str, state: &Path, stock: &Path) -> String {
        let Marketplaces {
            mirakl,
            fnac,
            amazon,
        } = &self.markets;
        let login = amazon.options();
        template
            .replace("@STATE_DIR@", &state.display().to_string())
            .replace("@MIRAKL_URL@", mirakl.base_url().as_str())
            .replace("@MIRAKL_KEY@", mirakl.api_key())
            .replace("@MIRAKL_SHOP@", &mirakl.shop_id().to_string())
            .replace("@FNAC_URL@", fnac.base_url().as_str())
            .replace("@FNAC_PARTNER@", fnac.partner_id())
            .replace("@FNAC_SHOP@", fnac.shop_id())
            .replace("@FNAC_KEY@", fnac.key())
            .replace("@AMAZON_URL@", amazon.base_url().as_str())
            .replace("@AMAZON_TOKEN_URL@", amazon.token_url().as_str())
            .replace("@AMAZON_SELLER@", &login.seller_id)
            .replace("@AMAZON_CLIENT@", &login.client_id)
            .replace("@AMAZON_SECRET@", &login.client_secret)
            .replace("@AMAZON_REFRESH@", &login.refresh_token)
            .replace("@STOCK_CSV@", &stock.display().to_string())
            .replace("@SMTP_PORT@", &self.smtp.port.to_string())
            .replace("@ALERTS_URL@", &self.alerts.url())
    }
}

/// The daemon, run on a configuration file, and its database.
pub(crate) struct Daemon {
    child: Child,
    log: PathBuf,
    pub store: Store,
}

impl Daemon {
    /// Runs `vigie --config CONFIG run` with its log in `log`, and waits for the database it
    /// creates in `state`.
    pub async fn start(config: &Path, state: &Path, log: &Path) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the vigie binary")?;
        let mut child = Command::new(exe)
            .arg("--config")
            .arg(config)
            .arg("run")
            // This run is not the service: never talk to a service manager or the journal.
            .env_remove("NOTIFY_SOCKET")
            .env_remove("JOURNAL_STREAM")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the daemon")?;
        loop {
            if let Ok(store) = Store::open(state) {
                return Ok(Self {
                    child,
                    log: log.to_owned(),
                    store,
                });
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!(
                    "the daemon exited at start ({status}); see {}",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The dashboard's address, as the daemon's log tells where its status server listens.
    pub async fn dashboard_url(&mut self) -> anyhow::Result<String> {
        const TOLD: &str = "status server on ";
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(at) = log.find(TOLD) {
                let url: String = log[at + TOLD.len()..]
                    .chars()
                    .take_while(|c| *c != ';')
                    .collect();
                return Ok(format!("{url}/"));
            }
            self.check_running()?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fails if the daemon stopped on its own.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => {
                anyhow::bail!("the daemon stopped ({status}); see {}", self.log.display())
            }
            None => Ok(()),
        }
    }

    /// SIGTERM, as systemd would, and wait for the graceful exit.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        }
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .context("the daemon did not stop within 30 s")??;
        anyhow::ensure!(status.success(), "the daemon exited with {status}");
        Ok(())
    }
}
