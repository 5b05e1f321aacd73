//! `systemctl stop` must not hang: SIGTERM while the daemon only waits (for a call budget, a
//! marketplace's `Retry-After`, a stock import it follows) ends the process at once, exit 0,
//! and the next start takes up where it stopped. The grace period is set far longer than
//! the test waits for the exit, so only a daemon that does not wait for it passes.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, Setup, vigie};
use nix::sys::signal::Signal;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Far longer than [`EXIT_PATIENCE`]: a daemon that waits for it fails the test.
const GRACE: &str = "120s";
/// Generous for a slow machine, well under the grace period.
const EXIT_PATIENCE: Duration = Duration::from_secs(60);
/// Asked for by the marketplace; vigie waits `max_retry_wait` (10 minutes by default).
const LONG_PAUSE: &str = "3600";
const IMPORT: &str = "imp-1";
const IMPORT_STATUS: &str = "/api/offers/stock/imports/imp-1/status";

/// A Mirakl instance that answers the health check, and lists no order and no offer.
async fn mirakl() -> MockServer {
    let server = MockServer::start().await;
    for (at, body) in [
        ("/api/version", json!({"version": "3.0"})),
        ("/api/account", json!({"shop_state": "OPEN"})),
        ("/api/orders", json!({"orders": [], "total_count": 0})),
        ("/api/offers", json!({"offers": [], "total_count": 0})),
    ] {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/api/offers/stock/imports"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"import_id": IMPORT})))
        .mount(&server)
        .await;
    server
}

/// Answers `route` with a 429 asking for an hour's pause, ahead of the standing answers
/// (and behind an answer mounted later with priority 1).
async fn asks_for_a_long_pause(server: &MockServer, route: &str) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", LONG_PAUSE))
        .with_priority(2)
        .mount(server)
        .await;
}

/// A configuration with a long grace period and one channel on `server`; the inventory holds
/// one SKU, so there is a quantity to push.
async fn setup(server: &MockServer) -> Setup {
    let setup = Setup::new("");
    let text = format!(
        "[daemon]\nstate_dir = \"{}\"\nstatus_listen = \"127.0.0.1:0\"\nshutdown_grace = \"{GRACE}\"\n\
         [[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"test-key\"\n\
         poll_interval = \"1s\"\nlimits = {{ orders_per_minute = 600, stock_imports_per_minute = 600 }}\n",
        setup.dir.path().join("state").display(),
        server.uri()
    );
    std::fs::write(&setup.config, text).unwrap();
    vigie(&setup.config, &["stock", "set", "A", "5"]).await;
    setup
}

/// Sends SIGTERM once the daemon logs that it waits for the marketplace's pause, and
/// returns how the process ended, failing if it is still running after [`EXIT_PATIENCE`].
async fn stop_while_waiting(mut daemon: Daemon) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || {
        daemon.wait_for_log("asks for a longer pause than max_retry_wait");
        daemon.signal(Signal::SIGTERM);
        let sent = Instant::now();
        while daemon.is_running() {
            assert!(
                sent.elapsed() < EXIT_PATIENCE,
                "still running {EXIT_PATIENCE:?} after SIGTERM (grace {GRACE}):\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let status = daemon.wait();
        assert!(status.success(), "{status:?}\n{}", daemon.log());
        status
    })
    .await
    .unwrap()
}

fn requests_to(received: &[wiremock::Request], route: &str) -> usize {
    received.iter().filter(|r| r.url.path() == route).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_a_cycle_waits_for_the_marketplace_exits_at_once() {
    let server = mirakl().await;
    asks_for_a_long_pause(&server, "/api/orders").await;
    let setup = setup(&server).await;
    let daemon = Daemon::start(&setup.config, &["run"], &[]);

    stop_while_waiting(daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_following_a_stock_import_exits_at_once_and_the_next_start_follows_it() {
    let server = mirakl().await;
    asks_for_a_long_pause(&server, IMPORT_STATUS).await;
    let setup = setup(&server).await;
    let daemon = Daemon::start(&setup.config, &["run"], &[]);

    stop_while_waiting(daemon).await;
    let received = server.received_requests().await.unwrap();
    let asked_before = requests_to(&received, IMPORT_STATUS);
    assert_eq!(
        requests_to(&received, "/api/offers/stock/imports"),
        1,
        "one import submitted"
    );

    // The import is done meanwhile; the next start asks about it, and pushes nothing again.
    Mock::given(method("GET"))
        .and(path(IMPORT_STATUS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "import_id": IMPORT, "status": "COMPLETE", "has_error_report": false,
            "lines_in_success": 1, "lines_in_error": 0
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    let mut daemon = Daemon::start(&setup.config, &["run"], &[]);
    let deadline = Instant::now() + common::PATIENCE;
    loop {
        let received = server.received_requests().await.unwrap();
        if requests_to(&received, IMPORT_STATUS) > asked_before {
            assert_eq!(requests_to(&received, "/api/offers/stock/imports"), 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the import was not followed after the restart:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.signal(Signal::SIGTERM);
    let status = tokio::task::spawn_blocking(move || daemon.wait())
        .await
        .unwrap();
    assert!(status.success());
}
