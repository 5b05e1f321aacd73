//! An on-call endpoint for `[[alerts.webhook]] format = "generic"`: keeps every body it
//! receives, for the tests to read and the demo to count.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::lock;

type Received = Arc<Mutex<Vec<Value>>>;

/// Listens on 127.0.0.1:0 and answers 200 to every POST on `/alerts`; stops when dropped.
pub struct WebhookSink {
    addr: SocketAddr,
    received: Received,
    task: JoinHandle<()>,
}

impl WebhookSink {
    pub async fn start() -> std::io::Result<Self> {
        let received = Received::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/alerts", post(receive))
            .with_state(received.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::debug!("webhook sink stopped: {e}");
            }
        });
        Ok(Self {
            addr,
            received,
            task,
        })
    }

    /// `http://127.0.0.1:PORT/alerts`, the `url` of the `[[alerts.webhook]]` block.
    pub fn url(&self) -> String {
        format!("http://{}/alerts", self.addr)
    }

    /// Every body received, in order; one that is not JSON reads `{"unreadable": true}`.
    pub fn received(&self) -> Vec<Value> {
        lock(&self.received).clone()
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

async fn receive(State(received): State<Received>, body: Bytes) -> &'static str {
    let value =
        serde_json::from_slice(&body).unwrap_or_else(|_| serde_json::json!({"unreadable": true}));
    lock(&received).push(value);
    "ok"
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
