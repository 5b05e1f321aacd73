//! On-call alerts against local receivers (wiremock): each format, the generic signature,
//! dedup per condition, reminders, resolve, retries that spare the targets already served;
//! as jobs of the one queue: one per target, uncertain (alerted, never re-sent) when a crash
//! cut the send, cancelled when the alert resolves first, and nothing lost at the upgrade.

mod notify_support;

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

#[tokio::test]
async fn each_format_is_triggered_reminded_and_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = receiver().await;
    let config = Arc::new(config(
        dir.path(),
        "http://127.0.0.1:9",
        &format!(
            r#"
[[alerts.webhook]]
url = "{uri}/generic"
format = "generic"
secret = "alert-key"

[[alerts.webhook]]
url = "{uri}/slack/T000/B000/XXXX"
format = "slack"

[[alerts.webhook]]
url = "{uri}/pagerduty"
format = "pagerduty"
routing_key = "pd-routing-key"

[alerts]
renotify_after = "1h"
"#,
            uri = hooks.uri()
        ),
    ));
    let rig = Rig::start(&config);

    // Raised twice: one condition, one notice.
    rig.raise(&unreachable());
    rig.raise(&unreachable());
    rig.drain().await;
    rig.drain().await;

    let generic = bodies(&hooks, "/generic").await;
    assert_eq!(generic.len(), 1);
    assert_eq!(generic[0]["kind"], "channel_unreachable");
    assert_eq!(generic[0]["severity"], "critical");
    assert_eq!(generic[0]["channel"], "shop");
    assert_eq!(generic[0]["order"], Value::Null);
    assert_eq!(
        generic[0]["message"],
        "3 polls failed in a row: connection refused"
    );
    assert_eq!(generic[0]["resolved"], false);
    assert!(generic[0]["occurred_at"].as_str().unwrap().ends_with('Z'));
    let request = hooks.received_requests().await.unwrap();
    let signed = request.iter().find(|r| r.url.path() == "/generic").unwrap();
    let signature = signed
        .headers
        .get("x-vigie-signature")
        .unwrap()
        .to_str()
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"alert-key").unwrap();
    mac.update(&signed.body);
    mac.verify_slice(&hex::decode(signature).unwrap()).unwrap();
    let slack_request = request
        .iter()
        .find(|r| r.url.path().starts_with("/slack"))
        .unwrap();
    assert!(slack_request.headers.get("x-vigie-signature").is_none());

    let slack = bodies(&hooks, "/slack/T000/B000/XXXX").await;
    assert_eq!(slack.len(), 1);
    let text = slack[0]["text"].as_str().unwrap();
    assert!(text.contains("*channel_unreachable*"), "{text}");
    assert!(
        text.contains("`shop`") && text.contains("connection refused"),
        "{text}"
    );

    let pd = bodies(&hooks, "/pagerduty").await;
    assert_eq!(pd.len(), 1);
    assert_eq!(pd[0]["routing_key"], "pd-routing-key");
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["dedup_key"], "vigie:channel_unreachable:shop");
    assert_eq!(pd[0]["payload"]["severity"], "critical");
    assert_eq!(pd[0]["payload"]["source"], "vigie");
    assert!(
        pd[0]["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("channel_unreachable")
    );

    // Still open an hour later: reminded once, same PagerDuty incident.
    rig.advance(SignedDuration::from_mins(61));
    rig.drain().await;
    rig.drain().await;
    assert_eq!(bodies(&hooks, "/generic").await.len(), 2);
    let pd = bodies(&hooks, "/pagerduty").await;
    assert_eq!(pd.len(), 2);
    assert_eq!(pd[1]["dedup_key"], "vigie:channel_unreachable:shop");
    let slack = bodies(&hooks, "/slack/T000/B000/XXXX").await;
    assert!(slack[1]["text"].as_str().unwrap().contains("still open"));

    // Resolved: each target hears it once.
    assert!(rig.resolve("channel_unreachable:shop"));
    assert!(!rig.resolve("channel_unreachable:shop"));
    rig.drain().await;
    rig.drain().await;
    let generic = bodies(&hooks, "/generic").await;
    assert_eq!(generic.len(), 3);
    assert_eq!(generic[2]["resolved"], true);
    let pd = bodies(&hooks, "/pagerduty").await;
    assert_eq!(pd.len(), 3);
    assert_eq!(pd[2]["event_action"], "resolve");
    assert_eq!(pd[2]["dedup_key"], "vigie:channel_unreachable:shop");
    let slack = bodies(&hooks, "/slack/T000/B000/XXXX").await;
    assert!(
        slack[2]["text"]
            .as_str()
            .unwrap()
            .contains(":white_check_mark:")
    );

    // Resolved conditions are not reminded; the condition may open again later.
    rig.advance(SignedDuration::from_hours(5));
    rig.drain().await;
    assert_eq!(bodies(&hooks, "/generic").await.len(), 3);
    rig.raise(&unreachable());
    rig.drain().await;
    assert_eq!(bodies(&hooks, "/generic").await.len(), 4);
}

#[tokio::test]
async fn a_failing_target_is_retried_alone_and_others_are_not_sent_twice() {
    let dir = tempfile::tempdir().unwrap();
    let good = receiver().await;
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&flaky)
        .await;
    let config = Arc::new(config(
        dir.path(),
        "http://127.0.0.1:9",
        &format!(
            "[[alerts.webhook]]\nurl = \"{}/hook\"\n\n[[alerts.webhook]]\nurl = \"{}/hook\"\n",
            good.uri(),
            flaky.uri()
        ),
    ));
    let rig = Rig::start(&config);
    let alert = Alert::new(
        AlertKind::NotificationUncertain,
        "notification_uncertain:7",
        "the shipped message for shop:A-1 may not have been sent",
    )
    .order("shop", "A-1");
    rig.raise(&alert);
    // An occurrence is told once: raising it again changes nothing.
    rig.raise(&alert);

    rig.drain().await;
    assert_eq!(good.received_requests().await.unwrap().len(), 1);
    assert_eq!(flaky.received_requests().await.unwrap().len(), 1);
    // Not due again before the first retry delay (15s).
    rig.drain().await;
    assert_eq!(flaky.received_requests().await.unwrap().len(), 1);
    rig.advance(SignedDuration::from_secs(16));
    rig.drain().await;
    assert_eq!(flaky.received_requests().await.unwrap().len(), 2);
    // The delay doubles: 30s more.
    rig.advance(SignedDuration::from_secs(16));
    rig.drain().await;
    assert_eq!(flaky.received_requests().await.unwrap().len(), 2);
    rig.advance(SignedDuration::from_secs(15));
    rig.drain().await;
    assert_eq!(flaky.received_requests().await.unwrap().len(), 3);
    assert_eq!(
        good.received_requests().await.unwrap().len(),
        1,
        "never twice"
    );
    let body: Value =
        serde_json::from_slice(&flaky.received_requests().await.unwrap()[2].body).unwrap();
    assert_eq!(body["kind"], "notification_uncertain");
    assert_eq!(body["order"], "shop:A-1");

    // Occurrences are never reminded.
    rig.advance(SignedDuration::from_hours(24));
    rig.drain().await;
    assert_eq!(good.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn dry_run_delivers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = receiver().await;
    let config = Arc::new(config(
        dir.path(),
        "http://127.0.0.1:9",
        &format!("[[alerts.webhook]]\nurl = \"{}/x\"\n", hooks.uri()),
    ));
    let store = open_store(&config);
    store
        .with(|c| alerts::raise(c, &unreachable(), &vigie::store::now_text()))
        .unwrap();
    Worker::new(store.clone(), config.clone(), HashMap::new(), true)
        .unwrap()
        .drain_once()
        .await;
    assert!(hooks.received_requests().await.unwrap().is_empty());
    assert_eq!(store.with(|c| alerts::open(c)).unwrap().len(), 1);
}

/// `(alert, notice, destination, state)` of every on-call job, in id order.
fn alert_jobs(store: &Store) -> Vec<(String, String, String, String)> {
    store
        .with(|conn| {
            let mut stmt = conn.prepare(
                "SELECT a.dedup_key, j.event, j.destination, j.state
                 FROM outbox j JOIN alerts a ON a.id = j.alert_id ORDER BY j.id",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .unwrap()
}

fn job(alert: &str, notice: &str, to: &str, state: &str) -> (String, String, String, String) {
    (alert.into(), notice.into(), to.into(), state.into())
}

/// Two generic targets: `alerts:0` always answers 200, `alerts:1` answers `second` first.
async fn two_targets(
    dir: &std::path::Path,
    second: ResponseTemplate,
    times: u64,
) -> (MockServer, MockServer, Arc<Config>) {
    let first = receiver().await;
    let other = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(second)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&other)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&other)
        .await;
    let config = Arc::new(config(
        dir,
        "http://127.0.0.1:9",
        &format!(
            "[[alerts.webhook]]\nurl = \"{}/a\"\n\n[[alerts.webhook]]\nurl = \"{}/b\"\n",
            first.uri(),
            other.uri()
        ),
    ));
    (first, other, config)
}

#[tokio::test]
async fn an_interrupted_notice_is_uncertain_alerted_and_never_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, config) = two_targets(dir.path(), ResponseTemplate::new(503), 1).await;
    let rig = Rig::start(&config);
    rig.raise(&unreachable());
    rig.drain().await;
    // One job per target: `alerts:1` failed once and waits for its retry.
    assert_eq!(
        alert_jobs(&rig.store),
        [
            job("channel_unreachable:shop", "trigger", "alerts:0", "sent"),
            job("channel_unreachable:shop", "trigger", "alerts:1", "pending"),
        ]
    );

    // The retry is claimed, then the process dies before the answer is recorded.
    rig.advance(SignedDuration::from_secs(16));
    let at = rig.stamp();
    let claimed = rig
        .store
        .with(|c| outbox::claim_next(c, outbox::Lane::Alerts(1), &at))
        .unwrap();
    assert!(claimed.is_some());

    let rig = rig.restart(&config);
    rig.drain().await;
    rig.advance(SignedDuration::from_hours(1));
    rig.drain().await;

    let jobs = alert_jobs(&rig.store);
    assert_eq!(jobs[1].3, "uncertain", "{jobs:?}");
    let raised = notify_support::alerts(&rig.store);
    assert_eq!(raised.len(), 2, "{raised:?}");
    assert_eq!(raised[1].0, "notification_uncertain");
    assert!(
        raised[1]
            .2
            .contains("trigger notice of alert channel_unreachable:shop to alerts:1"),
        "{}",
        raised[1].2
    );
    // Each target heard of the doubt; the interrupted trigger was never sent again.
    for (target, at) in [(&a, "/a"), (&b, "/b")] {
        let kinds: Vec<Value> = bodies(target, at)
            .await
            .iter()
            .map(|b| b["kind"].clone())
            .collect();
        assert_eq!(
            kinds,
            ["channel_unreachable", "notification_uncertain"],
            "{at}"
        );
    }
}

#[tokio::test]
async fn notices_owed_by_the_previous_release_are_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, config) = two_targets(dir.path(), ResponseTemplate::new(200), 1).await;
    let rig = Rig::start(&config);
    let t = rig.stamp();
    // What the release before the one queue left in the alerts table: a trigger that reached
    // the first target only, a resolve owed to both, a reminder that reached the second only.
    rig.store
        .with(|c| {
            c.execute(
                "INSERT INTO alerts (dedup_key, kind, severity, channel, order_ref, message,
                                     opened_at, last_notified_at, resolved_at, notice, delivered)
                 VALUES ('stock_low:A', 'stock_low', 'warning', NULL, NULL, 'A is low',
                         ?1, NULL, NULL, 'trigger', '[0]'),
                        ('channel_unreachable:shop', 'channel_unreachable', 'critical', 'shop',
                         NULL, 'down', ?1, ?1, ?1, 'resolve', '[]'),
                        ('order_flagged:shop:1', 'order_flagged', 'warning', 'shop', 'shop:1',
                         'review', ?1, ?1, NULL, 'trigger', '[1]')",
                [&t],
            )?;
            Ok(())
        })
        .unwrap();
    rig.drain().await;
    rig.drain().await;

    let told = |bodies: Vec<Value>| -> Vec<(String, bool)> {
        bodies
            .iter()
            .map(|b| {
                (
                    b["dedup_key"].as_str().unwrap().to_owned(),
                    b["resolved"] == true,
                )
            })
            .collect()
    };
    let (unreachable, resolved) = ("channel_unreachable:shop".to_owned(), true);
    assert_eq!(
        told(bodies(&a, "/a").await),
        [
            (unreachable.clone(), resolved),
            ("order_flagged:shop:1".to_owned(), false)
        ]
    );
    assert_eq!(
        told(bodies(&b, "/b").await),
        [("stock_low:A".to_owned(), false), (unreachable, resolved)]
    );
    // The targets the old release had told are recorded as sent, so nothing is lost or sent
    // twice and a later resolve knows who heard of the alert.
    assert_eq!(
        alert_jobs(&rig.store),
        [
            job("stock_low:A", "trigger", "alerts:0", "sent"),
            job("stock_low:A", "trigger", "alerts:1", "sent"),
            job("channel_unreachable:shop", "resolve", "alerts:0", "sent"),
            job("channel_unreachable:shop", "resolve", "alerts:1", "sent"),
            job("order_flagged:shop:1", "reminder:1", "alerts:0", "sent"),
            job("order_flagged:shop:1", "reminder:1", "alerts:1", "sent"),
        ]
    );
}

#[tokio::test]
async fn a_resolve_cancels_what_was_not_sent_and_tells_who_may_have_heard() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, config) = two_targets(dir.path(), ResponseTemplate::new(503), 100).await;
    let rig = Rig::start(&config);
    rig.raise(&unreachable());
    rig.drain().await;
    assert!(rig.resolve("channel_unreachable:shop"));
    // Raised and resolved before anyone was told: nothing to say.
    let flapping = Alert::new(AlertKind::StockLow, "stock_low:B", "B is low");
    rig.raise(&flapping);
    assert!(rig.resolve("stock_low:B"));
    rig.advance(SignedDuration::from_secs(16));
    rig.drain().await;

    let told = |bodies: Vec<Value>| -> Vec<bool> {
        bodies.iter().map(|b| b["resolved"] == true).collect()
    };
    assert_eq!(told(bodies(&a, "/a").await), [false, true]);
    // The failing target's trigger retry is cancelled (a trigger after the resolve would
    // reopen the incident); it may have heard of the alert, so it is owed the resolve.
    assert_eq!(told(bodies(&b, "/b").await), [false, true]);
    assert_eq!(
        alert_jobs(&rig.store),
        [
            job("channel_unreachable:shop", "trigger", "alerts:0", "sent"),
            job(
                "channel_unreachable:shop",
                "trigger",
                "alerts:1",
                "cancelled"
            ),
            job("channel_unreachable:shop", "resolve", "alerts:0", "sent"),
            job("channel_unreachable:shop", "resolve", "alerts:1", "pending"),
        ]
    );
}

#[tokio::test]
async fn a_message_given_up_reaches_on_call_in_the_same_drain() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = MockServer::start().await;
    notify_support::answer(&hooks, "/crm", 404).await;
    notify_support::answer(&hooks, "/alerts", 202).await;
    let config = Arc::new(config(
        dir.path(),
        "http://127.0.0.1:9",
        &format!(
            r#"
[notify.channel.shop]
routes = ["webhook"]
events = ["accepted"]

[notify.webhook]
url = "{uri}/crm"

[[alerts.webhook]]
url = "{uri}/alerts"
"#,
            uri = hooks.uri()
        ),
    ));
    let rig = Rig::start(&config);
    let order = notify_support::order("F-1");
    let pk = notify_support::insert_order(&rig.store, "shop", &order);
    notify_support::enqueue(
        &rig.store,
        &config,
        pk,
        vigie::events::OrderEvent::Accepted,
        &order,
    );
    rig.drain().await;
    let told = bodies(&hooks, "/alerts").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["kind"], "notification_failed");
    assert_eq!(told[0]["order"], "shop:F-1");
}
