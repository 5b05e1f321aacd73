//! The connection loop on a real socket of 127.0.0.1, with short limits so that a timeout is
//! seen within the test; the daemon's own figures are checked in `tests/status_server.rs`.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::{Limits, connections_within, serve};

/// Generous bound for what must happen; tests never depend on how fast it does.
const PATIENCE: Duration = Duration::from_secs(30);

struct Server {
    address: std::net::SocketAddr,
    stop: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn start(limits: Limits) -> Server {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/echo", post(|body: String| async move { body }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, app, limits, stop.clone()));
    Server { address, stop }
}

/// Sends `request` whole and reads the answer until the server closes the connection.
async fn exchange(server: &Server, request: &str) -> String {
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    read_until_closed(&mut stream).await
}

async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("the server still holds the connection")
        .ok(); // a reset ends it too
    String::from_utf8_lossy(&answer).into_owned()
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n";

#[tokio::test]
async fn clients_that_stop_halfway_through_their_headers_are_dropped() {
    let server = start(Limits {
        connections: 64,
        header_read: Duration::from_secs(1),
        body_read: PATIENCE,
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: te")
            .await
            .unwrap();
        slow.push(stream);
    }

    let answer = exchange(&server, HEALTHZ).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for stream in &mut slow {
        read_until_closed(stream).await;
    }
}

#[tokio::test]
async fn a_client_that_stops_sending_its_body_is_answered_and_dropped() {
    let server = start(Limits {
        connections: 64,
        header_read: PATIENCE,
        body_read: Duration::from_secs(1),
    })
    .await;
    let answer = exchange(
        &server,
        "POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 100\r\n\r\nonly ten b",
    )
    .await;
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    // a body sent whole is echoed, so the timeout above was the cause
    let answer = exchange(
        &server,
        "POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 5\r\nconnection: close\r\n\r\nwhole",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("whole"), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_at_once() {
    let server = start(Limits {
        connections: 4,
        header_read: PATIENCE * 4,
        body_read: PATIENCE,
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(server.address).await.unwrap());
    }
    for _ in 0..20 {
        let mut excess = TcpStream::connect(server.address).await.unwrap();
        let answer = read_until_closed(&mut excess).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    }

    // the idle clients go away: their slots serve again
    drop(idle);
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let answer = exchange(&server, HEALTHZ).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn the_cap_leaves_the_reserve_and_half_the_rest_to_the_daemon() {
    assert_eq!(connections_within(0), 8);
    assert_eq!(connections_within(512), 128);
    assert_eq!(connections_within(1024), 256);
    assert_eq!(connections_within(u64::MAX), 256);
}
