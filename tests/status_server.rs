//! The status server of the real daemon against clients that would starve it: clients that
//! stop halfway through their request, and more connections than it serves at once.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Daemon, PATIENCE, Setup, mirakl_channel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// 512 descriptors (`LimitNOFILE=512`): 256 stay for the daemon's own work and the status
/// server serves at most half of the rest.
const DESCRIPTORS: u64 = 512;

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_dropped_and_healthz_answers_meanwhile() {
    let (_marketplace, _setup, daemon) = start().await;
    let address = address(&daemon.log());

    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: te")
            .await
            .unwrap();
        slow.push(stream);
    }
    let answer = healthz(address).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for stream in &mut slow {
        read_until_closed(stream).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_the_cap_are_refused_and_healthz_answers_once_idle_ones_are_dropped() {
    let (marketplace, _setup, daemon) = start().await;
    let log = daemon.log();
    let address = address(&log);
    let cap: usize = log
        .split("status server: at most ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no connection cap in the log:\n{log}"));
    assert_eq!(cap, 128);

    // Kept idle: never a byte of a request. The listener accepts in order, so the first
    // `cap` are the ones served.
    let mut idle = Vec::new();
    for _ in 0..cap + 40 {
        idle.push(TcpStream::connect(address).await.unwrap());
    }
    let polls_before = polls(&marketplace).await;
    for stream in &mut idle[cap..] {
        let answer = read_until_closed(stream).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    }
    // the daemon's own work goes on meanwhile
    let deadline = Instant::now() + PATIENCE;
    while polls(&marketplace).await == polls_before {
        assert!(Instant::now() < deadline, "no poll:\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // the idle ones are dropped by the header timeout; then a probe is served again
    for stream in &mut idle[..cap] {
        read_until_closed(stream).await;
    }
    let answer = healthz(address).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

async fn start() -> (MockServer, Setup, Daemon) {
    let marketplace = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(r#"{"orders":[],"total_count":0}"#),
        )
        .mount(&marketplace)
        .await;
    let setup = Setup::new(&mirakl_channel("lm", &marketplace.uri()));
    let daemon = Daemon::start_with_descriptor_limit(&setup.config, &["run"], DESCRIPTORS);
    let daemon = tokio::task::spawn_blocking(move || {
        daemon.wait_for_log("status server on http://");
        daemon
    })
    .await
    .unwrap();
    (marketplace, setup, daemon)
}

fn address(log: &str) -> SocketAddr {
    log.split("status server on http://")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|address| address.parse().ok())
        .unwrap_or_else(|| panic!("no status address in the log:\n{log}"))
}

async fn polls(marketplace: &MockServer) -> usize {
    let requests = marketplace.received_requests().await.unwrap();
    requests
        .iter()
        .filter(|r| r.url.path() == "/api/orders")
        .count()
}

async fn healthz(address: SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    read_until_closed(&mut stream).await
}

/// Reads until the daemon closes the connection, failing the test if it holds it longer
/// than [`PATIENCE`].
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("the daemon still holds the connection")
        .ok(); // a reset ends it too
    String::from_utf8_lossy(&answer).into_owned()
}
