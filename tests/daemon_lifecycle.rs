//! The daemon under a service manager: sd_notify messages over a real socket, signals sent
//! to the real binary, configuration reloads.

mod common;

use std::time::Duration;

use common::{Daemon, NotifySocket, Setup, mirakl_channel, unreachable_channel};
use nix::sys::signal::Signal;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[test]
fn tells_systemd_ready_status_watchdog_reloading_and_stopping() {
    let setup = Setup::new(&unreachable_channel("lm"));
    let mut notify = NotifySocket::bind(setup.dir.path());
    let socket = notify.path.to_str().unwrap().to_owned();
    let mut daemon = Daemon::start(
        &setup.config,
        &["run"],
        // 200 ms watchdog: vigie must ping every 100 ms
        &[("NOTIFY_SOCKET", &socket), ("WATCHDOG_USEC", "200000")],
    );

    let ready = notify.wait_for("READY=1");
    assert!(ready.contains("STATUS=watching 1 channel: lm"), "{ready}");
    notify.wait_for("WATCHDOG=1");
    notify.wait_for("WATCHDOG=1");

    daemon.signal(Signal::SIGHUP);
    let reloading = notify.wait_for("RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    notify.wait_for("READY=1");

    daemon.signal(Signal::SIGTERM);
    notify.wait_for("STOPPING=1");
    let status = daemon.wait();
    assert!(status.success(), "{status:?}\n{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_cycle_parks_it_and_exits_zero() {
    // A marketplace that takes far longer to answer than the 1 s grace period.
    let slow = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(600)))
        .mount(&slow)
        .await;
    let setup = Setup::new(&mirakl_channel("slow", &slow.uri()));
    let mut daemon = Daemon::start(&setup.config, &["run"], &[]);

    // wait until the cycle is in flight: the marketplace has the request
    polled(&slow, &daemon).await;
    daemon.signal(Signal::SIGTERM);
    let status = tokio::task::spawn_blocking(move || (daemon.wait(), daemon.log()))
        .await
        .unwrap();
    assert!(status.0.success(), "{:?}\n{}", status.0, status.1);
    assert!(
        status.1.contains("parking unfinished cycles"),
        "{}",
        status.1
    );
}

#[test]
fn sighup_with_an_invalid_file_keeps_the_old_config() {
    let setup = Setup::new(&unreachable_channel("lm"));
    let mut notify = NotifySocket::bind(setup.dir.path());
    let socket = notify.path.to_str().unwrap().to_owned();
    let mut daemon = Daemon::start(&setup.config, &["run"], &[("NOTIFY_SOCKET", &socket)]);
    notify.wait_for("READY=1");

    std::fs::write(&setup.config, "[daemon]\nshutdown_grace = \"whenever\"\n").unwrap();
    daemon.signal(Signal::SIGHUP);
    notify.wait_for("RELOADING=1");
    let ready = notify.wait_for("READY=1");
    assert!(ready.contains("STATUS=watching 1 channel: lm"), "{ready}");
    daemon.wait_for_log("configuration not reloaded");
    assert!(
        daemon.log().contains("daemon.shutdown_grace"),
        "{}",
        daemon.log()
    );
    assert!(daemon.is_running());

    daemon.signal(Signal::SIGTERM);
    assert!(daemon.wait().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_with_a_valid_change_applies_it() {
    let mirakl = quiet_marketplace().await;
    let setup = Setup::new(&unreachable_channel("lm"));
    let mut notify = NotifySocket::bind(setup.dir.path());
    let socket = notify.path.to_str().unwrap().to_owned();
    let daemon = Daemon::start(&setup.config, &["run"], &[("NOTIFY_SOCKET", &socket)]);
    let (mut notify, daemon) = tokio::task::spawn_blocking(move || {
        notify.wait_for("READY=1");
        (notify, daemon)
    })
    .await
    .unwrap();

    setup.write(&mirakl_channel("leroymerlin", &mirakl.uri()));
    daemon.signal(Signal::SIGHUP);
    let (ready, mut daemon) = tokio::task::spawn_blocking(move || {
        notify.wait_for("RELOADING=1");
        (notify.wait_for("READY=1"), daemon)
    })
    .await
    .unwrap();
    assert!(
        ready.contains("STATUS=watching 1 channel: leroymerlin"),
        "{ready}"
    );

    // the new channel really polls
    polled(&mirakl, &daemon).await;
    daemon.signal(Signal::SIGTERM);
    let status = tokio::task::spawn_blocking(move || daemon.wait())
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_server_answers_health_metrics_and_json() {
    let mirakl = quiet_marketplace().await;
    let setup = Setup::new(&mirakl_channel("leroymerlin", &mirakl.uri()));
    let daemon = Daemon::start(&setup.config, &["run"], &[]);
    let daemon = tokio::task::spawn_blocking(move || {
        daemon.wait_for_log("status server on http://");
        daemon.wait_for_log("cycle");
        daemon
    })
    .await
    .unwrap();
    let log = daemon.log();
    let base = log
        .split("status server on ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();

    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    // wait for one recorded poll, then read the Prometheus text
    let deadline = std::time::Instant::now() + common::PATIENCE;
    let metrics = loop {
        let text = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("vigie_polls_total") {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no poll counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        metrics.contains("vigie_orders_undecided{channel=\"leroymerlin\"} 0"),
        "{metrics}"
    );
    assert!(metrics.contains("vigie_api_calls_total"), "{metrics}");
    assert!(
        metrics.contains("vigie_kpi_orders{channel=\"leroymerlin\",ending=\"received\"} 0"),
        "{metrics}"
    );
    // every metric says what it counts
    for typed in metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = typed.split(' ').next().unwrap();
        assert!(
            metrics.contains(&format!("# HELP {name} ")),
            "no # HELP line for {name}:\n{metrics}"
        );
    }
    // and Prometheus's own linter finds nothing to say
    let lint = common::promtool(setup.dir.path(), &["check", "metrics"], &metrics);
    assert!(
        lint.status.success(),
        "promtool check metrics:\n{}{}\n{metrics}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    let status: serde_json::Value = reqwest::get(format!("{base}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["channels"][0]["name"], "leroymerlin");
    let orders: serde_json::Value = reqwest::get(format!("{base}/orders"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders, serde_json::json!([]));
    daemon.signal(Signal::SIGTERM);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_at_start_up_raise_the_auth_alert() {
    // The health check is refused; polls fail too, but only as a server error, so the
    // alert can only come from the check made before the first cycle.
    let marketplace = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/version"))
        .respond_with(ResponseTemplate::new(401).set_body_string("invalid api key"))
        .mount(&marketplace)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&marketplace)
        .await;
    let on_call = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&on_call)
        .await;
    let setup = Setup::new(&format!(
        "{}[[alerts.webhook]]\nurl = \"{}/alerts\"\n",
        mirakl_channel("leroymerlin", &marketplace.uri()),
        on_call.uri()
    ));
    let daemon = Daemon::start(&setup.config, &["run"], &[]);

    let deadline = std::time::Instant::now() + common::PATIENCE;
    let alert = loop {
        let posted = on_call.received_requests().await.unwrap();
        if let Some(request) = posted.first() {
            break serde_json::from_slice::<serde_json::Value>(&request.body).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no alert:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(alert["kind"], "channel_auth_failed", "{alert}");
    assert_eq!(
        alert["dedup_key"], "channel_auth_failed:leroymerlin",
        "{alert}"
    );
    assert_eq!(alert["channel"], "leroymerlin", "{alert}");
    // The health check runs beside the channel's loop (its daily watch starts with it), so it
    // is checked at start-up, not necessarily before the first poll.
    let requests = marketplace.received_requests().await.unwrap();
    assert!(
        requests.iter().any(|r| r.url.path() == "/api/version"),
        "health checked at start-up"
    );
    // logged inside the channel's span, which names it
    let log = daemon.log();
    assert!(
        log.lines()
            .any(|l| l.contains("channel{channel=leroymerlin}")
                && l.contains("refuses vigie's credentials")),
        "{log}"
    );
    daemon.signal(Signal::SIGTERM);
}

#[test]
fn a_second_run_on_the_same_state_directory_is_refused() {
    let setup = Setup::new(&unreachable_channel("lm"));
    let mut notify = NotifySocket::bind(setup.dir.path());
    let socket = notify.path.to_str().unwrap().to_owned();
    let mut daemon = Daemon::start(&setup.config, &["run"], &[("NOTIFY_SOCKET", &socket)]);
    notify.wait_for("READY=1");

    let second_run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
            .arg("--config")
            .arg(&setup.config)
            .args(["run", "--once"])
            .env_clear()
            .output()
            .unwrap()
    };
    let second = second_run();
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another vigie run is using"), "{stderr}");

    // Whatever a hand can delete in the state directory (not the database), the lock holds.
    for entry in std::fs::read_dir(setup.dir.path().join("state")).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().contains("vigie.db") {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let second = second_run();
    assert_eq!(second.status.code(), Some(1), "a second run got in");

    daemon.signal(Signal::SIGTERM);
    assert!(daemon.wait().success());
}

/// A marketplace whose order list is always empty.
async fn quiet_marketplace() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(r#"{"orders":[],"total_count":0}"#),
        )
        .mount(&server)
        .await;
    server
}

/// Waits until the daemon has asked `marketplace` for its orders (the start-up health check
/// reaches it first, and is not a poll).
async fn polled(marketplace: &MockServer, daemon: &Daemon) {
    let deadline = std::time::Instant::now() + common::PATIENCE;
    let polls = || async {
        let requests = marketplace.received_requests().await.unwrap();
        requests
            .iter()
            .filter(|r| r.url.path() == "/api/orders")
            .count()
    };
    while polls().await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no poll:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
