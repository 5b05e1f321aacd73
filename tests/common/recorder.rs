//! Test-side instruments for the crash and fault tests: a recording HTTP proxy put between
//! the daemon and a sandbox, an on-call webhook receiver, and a small seeded generator.
//!
//! The proxy timestamps every request when it arrives and when its answer leaves, keeps the
//! request bodies (so a test can read every decision and message the daemon sent, including
//! the ones the sandbox refused), and can hold chosen answers back after the sandbox processed
//! the request, which widens the window in which a SIGKILL lands mid-send.
//!
//! Included with `#[path = "common/recorder.rs"] mod recorder;` by the tests that need it, so
//! the other test binaries do not compile it.

#![allow(dead_code)] // each test file uses part of it

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// One request seen by a [`Recorder`].
#[derive(Debug, Clone)]
pub struct Hit {
    /// When the request reached the proxy.
    pub at: Instant,
    /// When its answer left the proxy; `None` while it is still being answered.
    pub done: Option<Instant>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    /// The sandbox's status code; `None` if the sandbox could not be reached.
    pub status: Option<u16>,
}

impl Hit {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The Mirakl API this request calls (`OR11`, `OR21`, `OR43`, `STO01`...), or the Fnac
    /// service (`orders_query`, `orders_update`, `messages_update`...).
    pub fn endpoint(&self) -> String {
        let segments: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        match (self.method.as_str(), segments.as_slice()) {
            (_, ["api.php", service]) => (*service).to_owned(),
            ("GET", ["api", "version"]) => "V01".into(),
            ("GET", ["api", "account"]) => "A01".into(),
            ("GET", ["api", "orders"]) => "OR11".into(),
            ("PUT", ["api", "orders", _, "accept"]) => "OR21".into(),
            ("POST", ["api", "orders", _, "threads"]) => "OR43".into(),
            ("GET", ["api", "offers"]) => "OF21".into(),
            ("POST", ["api", "offers", "stock", "imports"]) => "STO01".into(),
            ("GET", ["api", "offers", "stock", "imports", _, "status"]) => "STO02".into(),
            ("GET", ["api", "offers", "stock", "imports", _, "error_report"]) => "STO03".into(),
            _ => format!("{} {}", self.method, self.path),
        }
    }

    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    hits: Mutex<Vec<Hit>>,
    /// Answers to requests for these endpoints are held back this long after the sandbox
    /// answered.
    slow: Mutex<Vec<(String, Duration)>>,
    /// The next requests for these endpoints are answered with this status by the proxy
    /// itself, without reaching the sandbox: (endpoint, status, how many left).
    failing: Mutex<Vec<(String, u16, usize)>>,
}

/// A recording reverse proxy on 127.0.0.1:0 in front of one sandbox.
pub struct Recorder {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Forwards everything to `upstream` (scheme, host and port; the path is kept as sent).
    pub async fn start(upstream: &url::Url) -> Self {
        let upstream = format!(
            "{}://{}",
            upstream.scheme(),
            upstream.host_str().zip(upstream.port()).map_or_else(
                || upstream.host_str().unwrap_or_default().to_owned(),
                |(h, p)| format!("{h}:{p}")
            )
        );
        let shared = Arc::new(Shared {
            upstream,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            hits: Mutex::new(Vec::new()),
            slow: Mutex::new(Vec::new()),
            failing: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT` followed by `path` (`/` for Mirakl, `/api.php` for Fnac).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Holds back answers of `endpoint` (see [`Hit::endpoint`]) by `delay`, after the
    /// sandbox has processed the request.
    pub fn slow_down(&self, endpoint: &str, delay: Duration) {
        self.shared
            .slow
            .lock()
            .unwrap()
            .push((endpoint.to_owned(), delay));
    }

    /// Answers the next `count` requests for `endpoint` with `status` (e.g. 503) without
    /// passing them on: a deterministic fault, unlike the sandboxes' seeded draws.
    pub fn fail_next(&self, endpoint: &str, status: u16, count: usize) {
        self.shared
            .failing
            .lock()
            .unwrap()
            .push((endpoint.to_owned(), status, count));
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Requests to `endpoint` so far.
    pub fn hits_to(&self, endpoint: &str) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.endpoint() == endpoint)
            .collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut hit = Hit {
        at: Instant::now(),
        done: None,
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        body: body.to_vec(),
        status: None,
    };
    let endpoint = hit.endpoint();
    let index = {
        let mut hits = shared.hits.lock().unwrap();
        hits.push(hit.clone());
        hits.len() - 1
    };
    let injected = {
        let mut failing = shared.failing.lock().unwrap();
        failing
            .iter_mut()
            .find(|(e, _, left)| *e == endpoint && *left > 0)
            .map(|(_, status, left)| {
                *left -= 1;
                *status
            })
    };
    if let Some(status) = injected {
        let mut hits = shared.hits.lock().unwrap();
        hits[index].status = Some(status);
        hits[index].done = Some(Instant::now());
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return (status, "injected by the test proxy").into_response();
    }
    let target = match uri.query() {
        Some(q) => format!("{}{}?{q}", shared.upstream, uri.path()),
        None => format!("{}{}", shared.upstream, uri.path()),
    };
    let mut request = shared.client.request(method, target).body(body);
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            request = request.header(name, value);
        }
    }
    let response = match request.send().await {
        Ok(upstream) => {
            let status = upstream.status();
            let mut out_headers = HeaderMap::new();
            for (name, value) in upstream.headers() {
                if !matches!(
                    name.as_str(),
                    "content-length" | "connection" | "transfer-encoding"
                ) {
                    out_headers.append(name, value.clone());
                }
            }
            let bytes = upstream.bytes().await.unwrap_or_default();
            hit.status = Some(status.as_u16());
            (status, out_headers, bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let delay = shared
        .slow
        .lock()
        .unwrap()
        .iter()
        .find(|(e, _)| *e == endpoint)
        .map(|(_, d)| *d);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut hits = shared.hits.lock().unwrap();
    hits[index].status = hit.status;
    hits[index].done = Some(Instant::now());
    response
}

/// An on-call endpoint for `[[alerts.webhook]] format = "generic"`: keeps every body.
pub struct AlertSink {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<serde_json::Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl AlertSink {
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app =
            Router::new()
                .route(
                    "/alerts",
                    post(
                        |State(received): State<Arc<Mutex<Vec<serde_json::Value>>>>,
                         body: Bytes| async move {
                            let value = serde_json::from_slice(&body)
                                .unwrap_or_else(|_| serde_json::json!({"unreadable": true}));
                            received.lock().unwrap().push(value);
                            "ok"
                        },
                    ),
                )
                .with_state(received.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            received,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/alerts", self.addr)
    }

    pub fn received(&self) -> Vec<serde_json::Value> {
        self.received.lock().unwrap().clone()
    }

    /// Trigger notices (not resolutions) of one kind.
    pub fn of_kind(&self, kind: &str) -> Vec<serde_json::Value> {
        self.received()
            .into_iter()
            .filter(|a| a["kind"] == kind && a["resolved"] != true)
            .collect()
    }
}

impl Drop for AlertSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// SplitMix64: small, seeded, good enough to pick orders and delays.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// For each hit, whether it repeats the request just before it with the same method, path,
/// query and body, and that one failed (5xx, 429 or no answer): a client-side retry.
pub fn retries(hits: &[Hit]) -> Vec<bool> {
    let mut last: std::collections::HashMap<(&str, &str, &str, &[u8]), Option<u16>> =
        std::collections::HashMap::new();
    hits.iter()
        .map(|h| {
            let key = (
                h.method.as_str(),
                h.path.as_str(),
                h.query.as_str(),
                h.body.as_slice(),
            );
            let retry = last
                .get(&key)
                .is_some_and(|s| s.is_none_or(|s| s >= 500 || s == 429));
            last.insert(key, h.status);
            retry
        })
        .collect()
}

/// The largest number of `hits` inside any window of `window` length.
pub fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..sorted.len() {
        while sorted[end].duration_since(sorted[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}
