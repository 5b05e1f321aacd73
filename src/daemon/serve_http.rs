//! Serves the status server's routes so that its clients cannot starve it nor the daemon: a
//! client must send its request headers, and then each part of its body, within a bounded
//! time; connections beyond a cap are answered 503 and closed at once; the cap is sized so
//! that the process keeps the file descriptors its own work needs.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use nix::sys::resource::{Resource, getrlimit};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// Descriptors kept for the daemon's own work, whatever the status server's clients do: the
/// database (its file, WAL and shared memory, for each connection of the store), the pooled
/// connections of the marketplace, webhook and SMTP clients, the inventory watcher, and the
/// runtime's own (epoll, signals, the journal).
const RESERVED_DESCRIPTORS: u64 = 256;
/// Prometheus, probes and a few people at once never need more.
const MOST_CONNECTIONS: usize = 256;
/// Even under a tiny descriptor limit, room for a probe and a scrape.
const FEWEST_CONNECTIONS: usize = 8;
/// A probe or a scrape sends its whole request at once; 10 s is lenient on a loaded machine.
const HEADER_READ: Duration = Duration::from_secs(10);
const BODY_READ: Duration = Duration::from_secs(10);

/// What one client may hold.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Connections served at once; more are refused.
    pub connections: usize,
    /// From a connection's first byte (or its last answer) to the end of the request headers.
    pub header_read: Duration,
    /// Between two parts of a request body.
    pub body_read: Duration,
}

impl Limits {
    /// Sized from this process's descriptor limit (the soft `RLIMIT_NOFILE`, `LimitNOFILE=`
    /// under systemd): at most half of what [`RESERVED_DESCRIPTORS`] leaves, so that bursts
    /// of the daemon's own work (a reload opens its new clients before the old ones close)
    /// still find room.
    pub fn for_this_process() -> Self {
        let descriptors = match getrlimit(Resource::RLIMIT_NOFILE) {
            Ok((soft, _hard)) => soft,
            Err(e) => {
                tracing::warn!("cannot read the descriptor limit (RLIMIT_NOFILE): {e}");
                0
            }
        };
        Self {
            connections: connections_within(descriptors),
            header_read: HEADER_READ,
            body_read: BODY_READ,
        }
    }
}

fn connections_within(descriptors: u64) -> usize {
    let spare = descriptors.saturating_sub(RESERVED_DESCRIPTORS) / 2;
    usize::try_from(spare)
        .unwrap_or(usize::MAX)
        .clamp(FEWEST_CONNECTIONS, MOST_CONNECTIONS)
}

/// What a connection beyond the cap reads before it is closed.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: 21\r\n\r\ntoo many connections\n";

/// Serves `app` on `listener` until `stop`.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: CancellationToken,
) {
    let app = app.layer(RequestBodyTimeoutLayer::new(limits.body_read));
    let slots = Arc::new(Semaphore::new(limits.connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: the connections being served end within
                // their timeouts and give theirs back.
                tracing::warn!("status server: cannot accept a connection: {e}");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse(stream);
            continue;
        };
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
        });
    }
}

/// Answers 503 without reading anything and closes: the descriptor is back at once.
fn refuse(stream: TcpStream) {
    metrics::counter!("vigie_status_connections_refused_total").increment(1);
    // A fresh socket's send buffer is empty, so this never waits; a short write only
    // shortens the answer.
    let _ = stream.try_write(REFUSED);
}

#[cfg(test)]
mod tests;
