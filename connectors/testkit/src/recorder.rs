//! A recording HTTP proxy put between the daemon and a sandbox, for the crash and fault
//! tests.
//!
//! The proxy timestamps every request when it arrives and when its answer leaves, keeps the
//! request bodies (so a test can read every decision and message the daemon sent, including
//! the ones the sandbox refused), can hold chosen answers back after the sandbox processed
//! the request (which widens the window in which a SIGKILL lands mid-send), and can answer
//! chosen requests with an error itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

use crate::lock;

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

    /// The Mirakl API this request calls (`OR11`, `OR21`, `OR23`, `OR43`, `STO01`...), or the Fnac
    /// service (`orders_query`, `orders_update`, `messages_update`...).
    pub fn endpoint(&self) -> String {
        let segments: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        match (self.method.as_str(), segments.as_slice()) {
            (_, ["api.php", service]) => (*service).to_owned(),
            ("GET", ["api", "version"]) => "V01".into(),
            ("GET", ["api", "account"]) => "A01".into(),
            ("GET", ["api", "orders"]) => "OR11".into(),
            ("PUT", ["api", "orders", _, "accept"]) => "OR21".into(),
            ("PUT", ["api", "orders", _, "tracking"]) => "OR23".into(),
            ("PUT", ["api", "orders", _, "ship"]) => "OR24".into(),
            ("PUT", ["api", "orders", _, "cancel"]) => "OR29".into(),
            ("PUT", ["api", "orders", "cancel"]) => "OR30".into(),
            ("GET", ["api", "shipping", "carriers"]) => "SH21".into(),
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

/// A recording reverse proxy on 127.0.0.1:0 in front of one sandbox; stops when dropped.
pub struct Recorder {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Recorder {
    /// Forwards everything to `upstream` (scheme, host and port; the path is kept as sent).
    pub async fn start(upstream: &url::Url) -> std::io::Result<Self> {
        let host = upstream.host_str().unwrap_or_default();
        let upstream = match upstream.port() {
            Some(port) => format!("{}://{host}:{port}", upstream.scheme()),
            None => format!("{}://{host}", upstream.scheme()),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            upstream,
            client,
            hits: Mutex::new(Vec::new()),
            slow: Mutex::new(Vec::new()),
            failing: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::debug!("recording proxy stopped: {e}");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT` followed by `path` (`/` for Mirakl, `/api.php` for Fnac).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Holds back answers of `endpoint` (see [`Hit::endpoint`]) by `delay`, after the
    /// sandbox has processed the request.
    pub fn slow_down(&self, endpoint: &str, delay: Duration) {
        lock(&self.shared.slow).push((endpoint.to_owned(), delay));
    }

    /// Answers the next `count` requests for `endpoint` with `status` (e.g. 503) without
    /// passing them on: a deterministic fault, unlike the sandboxes' seeded draws.
    pub fn fail_next(&self, endpoint: &str, status: u16, count: usize) {
        lock(&self.shared.failing).push((endpoint.to_owned(), status, count));
    }

    pub fn hits(&self) -> Vec<Hit> {
        lock(&self.shared.hits).clone()
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
    let hit = Hit {
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
        let mut hits = lock(&shared.hits);
        hits.push(hit);
        hits.len() - 1
    };
    let answered = |status: Option<u16>| {
        if let Some(hit) = lock(&shared.hits).get_mut(index) {
            hit.status = status;
            hit.done = Some(Instant::now());
        }
    };
    if let Some(status) = injected(&shared, &endpoint) {
        answered(Some(status));
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return (status, "injected by the test proxy").into_response();
    }
    let (status, response) = pass_on(&shared, method, &uri, &headers, body).await;
    let delay = lock(&shared.slow)
        .iter()
        .find(|(e, _)| *e == endpoint)
        .map(|(_, d)| *d);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    answered(status);
    response
}

/// The status to answer `endpoint` with instead of passing the request on, if one is due.
fn injected(shared: &Shared, endpoint: &str) -> Option<u16> {
    lock(&shared.failing)
        .iter_mut()
        .find(|(e, _, left)| e == endpoint && *left > 0)
        .map(|(_, status, left)| {
            *left -= 1;
            *status
        })
}

/// Sends the request to the sandbox; returns the sandbox's status (`None` if it could not be
/// reached) and the answer to give the daemon.
async fn pass_on(
    shared: &Shared,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> (Option<u16>, Response) {
    let target = match uri.query() {
        Some(q) => format!("{}{}?{q}", shared.upstream, uri.path()),
        None => format!("{}{}", shared.upstream, uri.path()),
    };
    let mut request = shared.client.request(method, target).body(body);
    for (name, value) in headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
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
            (
                Some(status.as_u16()),
                (status, out_headers, bytes).into_response(),
            )
        }
        Err(e) => (
            None,
            (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        ),
    }
}

/// For each hit, whether it repeats the request just before it with the same method, path,
/// query and body, and that one failed (5xx, 429 or no answer): a client-side retry.
pub fn retries(hits: &[Hit]) -> Vec<bool> {
    let mut last: HashMap<(&str, &str, &str, &[u8]), Option<u16>> = HashMap::new();
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

/// The largest number of `times` inside any window of `window` length.
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
