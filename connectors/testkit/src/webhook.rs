//! An on-call endpoint for `[[alerts.webhook]] format = "generic"` (or any webhook): keeps
//! every body it receives, for the tests to read and the demo to count. It can misbehave
//! after keeping a body (answer 500, or late), as a receiver that acted and then failed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::{Rng, lock};

/// The header vigie sends each delivery's id in.
const DELIVERY_HEADER: &str = "x-vigie-delivery";

/// How the sink answers a body it kept, when the draw says to misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterTaking {
    /// HTTP 500: the sender cannot tell it was kept.
    Fail,
    /// 200 after this long (tokio time), past the sender's timeout.
    Stall(Duration),
}

#[derive(Default)]
struct Inner {
    /// Every body with its delivery id, in order.
    received: Vec<(Option<String>, Value)>,
    misbehave: Option<(f64, Rng, AfterTaking)>,
}

type Shared = Arc<Mutex<Inner>>;

/// Listens on 127.0.0.1:0 and answers 200 to every POST on `/alerts`; stops when dropped.
pub struct WebhookSink {
    addr: SocketAddr,
    shared: Shared,
    task: JoinHandle<()>,
}

impl WebhookSink {
    pub async fn start() -> std::io::Result<Self> {
        let shared = Shared::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/alerts", post(receive))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::debug!("webhook sink stopped: {e}");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// From now on, a share `rate` of the bodies (drawn from `seed`) is kept and then
    /// answered as `how` says.
    pub fn misbehave_after_taking(&self, rate: f64, seed: u64, how: AfterTaking) {
        lock(&self.shared).misbehave = Some((rate, Rng::new(seed), how));
    }

    /// `http://127.0.0.1:PORT/alerts`, the `url` of the `[[alerts.webhook]]` block.
    pub fn url(&self) -> String {
        format!("http://{}/alerts", self.addr)
    }

    /// Every body received, in order; one that is not JSON reads `{"unreadable": true}`.
    pub fn received(&self) -> Vec<Value> {
        lock(&self.shared)
            .received
            .iter()
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// How many copies of each delivery id arrived (bodies without one are not counted).
    pub fn copies_per_delivery(&self) -> BTreeMap<String, usize> {
        let mut copies = BTreeMap::new();
        for (id, _) in &lock(&self.shared).received {
            if let Some(id) = id {
                *copies.entry(id.clone()).or_default() += 1;
            }
        }
        copies
    }

    /// Trigger notices (not resolutions) of one kind.
    pub fn of_kind(&self, kind: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|a| a["kind"] == kind && a["resolved"] != true)
            .collect()
    }

    /// How many notices arrived of each kind; resolutions count apart, as "KIND (resolved)".
    pub fn tally(&self) -> BTreeMap<String, u64> {
        let mut tally = BTreeMap::new();
        for alert in self.received() {
            let kind = alert["kind"].as_str().unwrap_or("unknown");
            let key = if alert["resolved"] == true {
                format!("{kind} (resolved)")
            } else {
                kind.to_owned()
            };
            *tally.entry(key).or_default() += 1;
        }
        tally
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let value =
        serde_json::from_slice(&body).unwrap_or_else(|_| serde_json::json!({"unreadable": true}));
    let delivery = headers
        .get(DELIVERY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let after = {
        let mut inner = lock(&shared);
        inner.received.push((delivery, value));
        match &mut inner.misbehave {
            Some((rate, rng, how)) => rng.chance(*rate).then_some(*how),
            None => None,
        }
    };
    match after {
        None => (StatusCode::OK, "ok"),
        Some(AfterTaking::Fail) => (StatusCode::INTERNAL_SERVER_ERROR, "failed after acting"),
        Some(AfterTaking::Stall(stall)) => {
            tokio::time::sleep(stall).await;
            (StatusCode::OK, "ok")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WebhookSink;

    #[tokio::test]
    async fn keeps_and_tallies_notices() {
        let sink = WebhookSink::start().await.unwrap();
        let client = reqwest::Client::new();
        for body in [
            r#"{"kind": "stock_low"}"#,
            r#"{"kind": "stock_low", "resolved": true}"#,
            "not json",
        ] {
            let response = client.post(sink.url()).body(body).send().await.unwrap();
            assert!(response.status().is_success());
        }
        assert_eq!(sink.received().len(), 3);
        assert_eq!(sink.of_kind("stock_low").len(), 1);
        let tally: Vec<(String, u64)> = sink.tally().into_iter().collect();
        assert_eq!(
            tally,
            [
                ("stock_low".to_owned(), 1),
                ("stock_low (resolved)".to_owned(), 1),
                ("unknown".to_owned(), 1)
            ]
        );
    }
}
