//! On-call alerts against local receivers (wiremock): each format, the generic signature,
//! dedup per condition, reminders, resolve, retries that spare the targets already served;
//! as jobs of the one queue: one per target, uncertain (alerted, never re-sent) when a crash
//! cut the send, cancelled when the alert resolves first, and nothing lost at the upgrade.
//!
//! One test binary: `formats` (what each target hears) and `queue` (the queue's rules).

#[path = "../notify_support/mod.rs"]
mod notify_support;

mod formats;
mod queue;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use notify_support::{config, manual_clock, open_store};
use serde_json::Value;
use vigie::config::Config;
use vigie::delivery::{Clock, Worker};
use vigie::domain::alerts::{Alert, AlertKind};
use vigie::store::{Store, alerts, outbox};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One start of vigie: the database, and a worker reading a clock the test moves by hand.
struct Rig {
    store: Store,
    worker: Worker,
    clock: (Clock, Arc<Mutex<Timestamp>>),
}

impl Rig {
    fn start(config: &Arc<Config>) -> Self {
        Self::on(open_store(config), config, manual_clock())
    }

    /// Starts again on the same database and clock, as after a crash.
    fn restart(self, config: &Arc<Config>) -> Self {
        Self::on(self.store, config, self.clock)
    }

    fn on(store: Store, config: &Arc<Config>, clock: (Clock, Arc<Mutex<Timestamp>>)) -> Self {
        let worker = Worker::new(store.clone(), config.clone(), HashMap::new(), false)
            .unwrap()
            .with_clock(clock.0.clone());
        Self {
            store,
            worker,
            clock,
        }
    }

    fn stamp(&self) -> String {
        vigie::store::time_text((self.clock.0)())
    }

    fn advance(&self, by: SignedDuration) {
        *self.clock.1.lock().unwrap() += by;
    }

    fn raise(&self, alert: &Alert) {
        let at = self.stamp();
        self.store.with(|c| alerts::raise(c, alert, &at)).unwrap();
    }

    fn resolve(&self, key: &str) -> bool {
        let at = self.stamp();
        self.store.with(|c| alerts::resolve(c, key, &at)).unwrap()
    }

    async fn drain(&self) {
        self.worker.drain_once().await;
    }
}

async fn receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    server
}

async fn bodies(server: &MockServer, at: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == at)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn unreachable() -> Alert {
    Alert::new(
        AlertKind::ChannelUnreachable,
        "channel_unreachable:shop",
        "3 polls failed in a row: connection refused",
    )
    .channel("shop")
}
