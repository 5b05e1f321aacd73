//! Runs the real `vigie` binary as a child process, with its own environment, and watches
//! what it tells systemd through a real unix datagram socket.

#![allow(dead_code)] // each test file uses part of it

pub mod rig;
pub mod shop;

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Generous bound for a condition to become true; tests never depend on how fast it does.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct Daemon {
    child: Child,
    stderr_path: PathBuf,
}

impl Daemon {
    /// Starts `vigie --config CONFIG ARGS...` with `env` added to a clean environment.
    pub fn start(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let stderr_path = config.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        Self::spawn(config, args, env, stderr, stderr_path)
    }

    /// Like [`Daemon::start`], but appends stderr to `log`, so the logs of successive runs
    /// (restarts after a kill) stay together.
    pub fn start_appending(config: &Path, args: &[&str], env: &[(&str, &str)], log: &Path) -> Self {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        Self::spawn(config, args, env, stderr, log.to_owned())
    }

    /// Like [`Daemon::start`], under a descriptor limit (`RLIMIT_NOFILE`) of `descriptors`,
    /// as systemd's `LimitNOFILE=` sets it.
    pub fn start_with_descriptor_limit(config: &Path, args: &[&str], descriptors: u64) -> Self {
        let stderr_path = config.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={descriptors}:{descriptors}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_vigie"));
        Self::spawn_command(command, config, args, &[], stderr, stderr_path)
    }

    fn spawn(
        config: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        stderr: std::fs::File,
        stderr_path: PathBuf,
    ) -> Self {
        let command = Command::new(env!("CARGO_BIN_EXE_vigie"));
        Self::spawn_command(command, config, args, env, stderr, stderr_path)
    }

    /// `prlimit` execs vigie in place, so the child's id is vigie's.
    fn spawn_command(
        mut command: Command,
        config: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        stderr: std::fs::File,
        stderr_path: PathBuf,
    ) -> Self {
        let child = command
            .arg("--config")
            .arg(config)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start vigie");
        Self { child, stderr_path }
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("send signal");
    }

    /// Waits for the process to exit, failing the test if it does not within [`PATIENCE`].
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "vigie did not exit; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn log(&self) -> String {
        let mut text = String::new();
        std::fs::File::open(&self.stderr_path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .ok();
        text
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The service manager's end of `$NOTIFY_SOCKET`.
pub struct NotifySocket {
    socket: UnixDatagram,
    pub path: PathBuf,
    /// Every datagram received so far, in order.
    pub received: Vec<String>,
}

impl NotifySocket {
    pub fn bind(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Self {
            socket,
            path,
            received: Vec::new(),
        }
    }

    /// Reads datagrams until one contains a line equal to `line` (or starting with it when
    /// it ends with `=`), and returns that datagram.
    pub fn wait_for(&mut self, line: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut buf = vec![0u8; 4096];
        loop {
            assert!(
                Instant::now() < deadline,
                "no {line:?} from vigie; received {:?}",
                self.received
            );
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue;
            };
            let datagram = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.received.push(datagram.clone());
            let matches = datagram.lines().any(|l| {
                if line.ends_with('=') {
                    l.starts_with(line)
                } else {
                    l == line
                }
            });
            if matches {
                return datagram;
            }
        }
    }
}

/// A state directory and config file for one test.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Setup {
    /// `channels` is TOML appended after a `[daemon]` section using the temp dir.
    pub fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("vigie.toml");
        let setup = Self { dir, config };
        setup.write(extra);
        setup
    }

    /// Like [`Setup::new`], with `stock` (sku, units) imported into the inventory as a seller
    /// would (`vigie stock import`).
    pub async fn with_stock(extra: &str, stock: &[(&str, u32)]) -> Self {
        let setup = Self::new(extra);
        let csv = setup.dir.path().join("stock.csv");
        let text = vigie_testkit::stock_csv(stock.iter().map(|(sku, units)| (*sku, *units, "")));
        std::fs::write(&csv, text).unwrap();
        vigie(&setup.config, &["stock", "import", csv.to_str().unwrap()]).await;
        setup
    }

    /// The daemon's database, read-only, or `None` before the daemon created it.
    pub fn database(&self) -> Option<rusqlite::Connection> {
        let path = self.dir.path().join("state").join("vigie.db");
        if !path.exists() {
            return None;
        }
        let conn =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .ok()?;
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        Some(conn)
    }

    pub fn write(&self, extra: &str) {
        let text = format!(
            "[daemon]\nstate_dir = \"{}\"\nstatus_listen = \"127.0.0.1:0\"\nshutdown_grace = \"1s\"\n{extra}",
            self.dir.path().join("state").display()
        );
        std::fs::write(&self.config, text).unwrap();
    }
}

pub fn mirakl_channel(name: &str, base_url: &str) -> String {
    format!(
        "[[channel]]\nname = \"{name}\"\nkind = \"mirakl\"\nbase_url = \"{base_url}\"\napi_key = \"test-key\"\npoll_interval = \"1s\"\nlimits = {{ orders_per_minute = 600 }}\n"
    )
}

/// A channel whose marketplace refuses every connection at once: nothing listens on port 1
/// of 127.0.0.1 (binding it needs root). For tests whose subject is not the marketplace.
pub fn unreachable_channel(name: &str) -> String {
    mirakl_channel(name, "http://127.0.0.1:1")
}

/// Runs a one-shot command of the real binary (`orders --json`, `run --once`, `stock set`...)
/// and fails the test, showing its log, unless it succeeds.
pub async fn vigie(config: &Path, args: &[&str]) -> std::process::Output {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_clear()
        .env("RUST_LOG", "info")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "vigie {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The one number `sql` selects.
pub fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// "what: n, ..." for the conditions a test waits for that still count something, or `None`
/// once every count is down to zero.
pub fn still_open(counts: &[(&str, i64)]) -> Option<String> {
    let open: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{what}: {n}"))
        .collect();
    (!open.is_empty()).then(|| open.join(", "))
}

/// Polls `open` (what still keeps a run from settling, or `None`) every 500 ms until it
/// answers `None`, saying what it waits for every ten seconds. Fails if the daemon exits, or
/// once `limit` has passed.
pub async fn wait_until_settled(
    daemon: &mut Daemon,
    limit: Duration,
    mut open: impl FnMut() -> Option<String>,
) {
    let began = Instant::now();
    let mut last_report = began;
    while let Some(what) = open() {
        assert!(
            daemon.is_running(),
            "vigie exited on its own:\n{}",
            daemon.log()
        );
        assert!(
            began.elapsed() < limit,
            "not settled after {limit:?}: {what}; log tail:\n{}",
            tail(&daemon.log(), 40)
        );
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!("[{:>5.1}s] waiting: {what}", began.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs Prometheus's `promtool` in `dir` with `stdin` as its input (`.ci/run` installs it).
pub fn promtool(dir: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: install Debian's package prometheus (.ci/run does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
