//! Every kind of send against a receiver that takes about 30 % of what it is sent and then
//! answers 500, answers too late or drops the connection: the customer message through each
//! marketplace, the e-mail, the seller webhook and the on-call notice. Each send arrives once,
//! or is 'uncertain' (with a `notification_uncertain` alert when it was a message); never
//! twice. Copies are counted at the receiver (issue 11, item 1).
//!
//! The outbox runs in the test (a real SQLite file, real HTTP and SMTP on 127.0.0.1) on a
//! clock the test moves past every retry delay.

mod notify_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use notify_support::{alerts, config, insert_order, manual_clock, open_store, order};
use vigie::config::Config;
use vigie::delivery::Worker;
use vigie::domain::alerts::{Alert, AlertKind};
use vigie::events::OrderEvent;
use vigie::store::Store;
use vigie_connector::{Decimal, Marketplace};
use vigie_testkit::{AfterTaking, SmtpSink, WebhookSink};

const ORDERS: usize = 20;
/// The share of sends taken and then answered badly.
const RATE: f64 = 0.3;
const SEED: u64 = 0x5E7D_0221;
/// The client's timeout where the receiver stalls: far below the stall, so the draw alone
/// decides which sends time out.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(500);
const STALL: Duration = Duration::from_secs(30);

/// Faster lanes than the defaults, so twenty sends take no minutes.
const LIMITS: &str = r#"
[notify]
limits = { marketplace_per_minute = 6000, email_per_minute = 6000, webhook_per_minute = 6000 }
"#;

/// One outbox row: its id (the delivery id), the order it is about, and its state.
struct Row {
    id: i64,
    order_id: Option<String>,
    state: String,
}

fn rows(store: &Store) -> Vec<Row> {
    store
        .with(|conn| {
            let mut stmt = conn.prepare(
                "SELECT o.id, d.order_id, o.state FROM outbox o
                 LEFT JOIN orders d ON d.id = o.order_pk ORDER BY o.id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(Row {
                        id: r.get(0)?,
                        order_id: r.get(1)?,
                        state: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .unwrap()
}

/// Stores `count` orders with these ids and queues `event` for each on `channel`.
fn queue(store: &Store, config: &Config, channel: &str, ids: &[String], event: OrderEvent) {
    for id in ids {
        let order = order(id);
        let pk = insert_order(store, channel, &order);
        let now = vigie::store::now_text();
        let queued = store
            .with(|conn| {
                let tx = conn.transaction()?;
                let n = vigie::delivery::enqueue(&tx, config, channel, pk, event, &order, &now)?;
                tx.commit()?;
                Ok(n)
            })
            .unwrap();
        assert_eq!(queued, 1, "one job for order {id}");
    }
}

/// Sends everything, moving the clock past every retry delay between drains, until no job
/// waits any more.
async fn send_everything(store: &Store, config: &Arc<Config>, marketplaces: Markets) {
    let (clock, now) = manual_clock();
    let worker = Worker::new(store.clone(), config.clone(), marketplaces, false)
        .unwrap()
        .with_clock(clock);
    for _ in 0..20 {
        worker.drain_once().await;
        if rows(store).iter().all(|r| r.state != "pending") {
            return;
        }
        *now.lock().unwrap() += jiff::SignedDuration::from_hours(2);
    }
    panic!("jobs still pending after 20 drains");
}

type Markets = HashMap<String, Arc<dyn Marketplace>>;

/// The rule, row by row: 'sent' arrived exactly once; 'uncertain' at most once, and a
/// message's uncertainty is alerted; no other end. Returns (sent, uncertain); both must have
/// happened for the run to prove anything.
fn once_or_uncertain(store: &Store, copies: impl Fn(&Row) -> usize) -> (usize, usize) {
    let alerted: Vec<String> = alerts(store)
        .into_iter()
        .filter(|(kind, ..)| kind == "notification_uncertain")
        .map(|(_, key, _)| key)
        .collect();
    let (mut sent, mut uncertain) = (0, 0);
    for row in rows(store) {
        let copies = copies(&row);
        let what = format!("outbox row {} ({:?})", row.id, row.order_id);
        match row.state.as_str() {
            "sent" => {
                assert_eq!(copies, 1, "{what} is sent: it arrived exactly once");
                sent += 1;
            }
            "uncertain" => {
                assert!(
                    copies <= 1,
                    "{what} is uncertain, yet arrived {copies} times"
                );
                if row.order_id.is_some() {
                    let key = format!("notification_uncertain:{}", row.id);
                    assert!(alerted.contains(&key), "{what} is uncertain, not alerted");
                }
                uncertain += 1;
            }
            other => panic!("{what} ended {other}, arrived {copies} times"),
        }
    }
    assert!(
        sent > 0 && uncertain > 0,
        "sent {sent}, uncertain {uncertain}"
    );
    (sent, uncertain)
}

mod mirakl {
    use vigie_mirakl::Mirakl;
    use vigie_mirakl::sandbox::{Faults, MiraklSandbox, OrderSpec, SandboxOptions};

    use super::*;

    async fn run(faults: Faults, timeout: Option<Duration>) {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = MiraklSandbox::start(SandboxOptions {
            seed: SEED,
            ..SandboxOptions::default()
        })
        .await
        .unwrap();
        let config = Arc::new(config(dir.path(), sandbox.base_url().as_str(), LIMITS));
        let store = open_store(&config);
        let ids: Vec<String> = (0..ORDERS)
            .map(|_| {
                sandbox.add_order(OrderSpec::new().line("PERC-18V", 1, Decimal::new(12990, 2)))
            })
            .collect();
        queue(&store, &config, "shop", &ids, OrderEvent::Refused);
        sandbox.set_faults(faults);
        let mut settings = sandbox.client_settings();
        settings.http.timeout = timeout;
        let mirakl: Arc<dyn Marketplace> = Arc::new(Mirakl::new("shop", settings).unwrap());
        send_everything(
            &store,
            &config,
            HashMap::from([("shop".to_owned(), mirakl)]),
        )
        .await;

        let messages = sandbox.messages();
        let (sent, uncertain) = once_or_uncertain(&store, |row| {
            let order = row.order_id.as_deref();
            messages
                .iter()
                .filter(|m| Some(m.order_id.as_str()) == order)
                .count()
        });
        eprintln!(
            "Mirakl: {sent} sent, {uncertain} uncertain, {} received",
            messages.len()
        );
    }

    #[tokio::test]
    async fn a_message_taken_then_answered_500_is_uncertain_never_sent_twice() {
        let faults = Faults {
            message_applied_then_fail_rate: RATE,
            ..Faults::default()
        };
        run(faults, None).await;
    }

    #[tokio::test]
    async fn a_message_taken_then_answered_too_late_is_uncertain_never_sent_twice() {
        let faults = Faults {
            message_applied_then_fail_rate: RATE,
            message_applied_then_stall: Some(STALL),
            ..Faults::default()
        };
        run(faults, Some(CLIENT_TIMEOUT)).await;
    }
}

mod fnac {
    use vigie_fnac::Fnac;
    use vigie_fnac::sandbox::{Faults, FnacSandbox, LineSpec, OrderSpec, SandboxOptions};

    use super::*;

    #[tokio::test]
    async fn a_message_taken_then_answered_500_is_uncertain_never_sent_twice() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = FnacSandbox::start(SandboxOptions {
            seed: SEED,
            ..SandboxOptions::default()
        })
        .await
        .unwrap();
        let channel = format!(
            r#"
[[channel]]
name = "fnac"
kind = "fnac"
base_url = "{}"
partner_id = "{}"
shop_id = "{}"
key = "{}"

[notify.channel.fnac]
events = ["accepted"]
{LIMITS}"#,
            sandbox.base_url(),
            sandbox.partner_id(),
            sandbox.shop_id(),
            sandbox.key()
        );
        let config = Arc::new(config(dir.path(), "http://127.0.0.1:9", &channel));
        let store = open_store(&config);
        let ids: Vec<String> = (0..ORDERS)
            .map(|_| {
                let line = LineSpec::new("PERC-18V", 1, Decimal::new(12990, 2));
                sandbox.add_order(OrderSpec::new(vec![line]))
            })
            .collect();
        queue(&store, &config, "fnac", &ids, OrderEvent::Accepted);
        sandbox.set_faults(Faults {
            message_applied_then_fail_rate: RATE,
            ..Faults::default()
        });
        let mut settings = sandbox.settings();
        settings.requests_per_minute = std::num::NonZeroU32::new(6000).unwrap();
        let fnac: Arc<dyn Marketplace> = Arc::new(Fnac::new("fnac", settings).unwrap());
        send_everything(&store, &config, HashMap::from([("fnac".to_owned(), fnac)])).await;

        let messages = sandbox.messages();
        let (sent, uncertain) = once_or_uncertain(&store, |row| {
            let order = row.order_id.as_deref();
            messages
                .iter()
                .filter(|m| Some(m.order_id.as_str()) == order)
                .count()
        });
        eprintln!(
            "Fnac: {sent} sent, {uncertain} uncertain, {} received",
            messages.len()
        );
    }
}

fn order_ids(prefix: &str) -> Vec<String> {
    (1..=ORDERS).map(|n| format!("{prefix}-{n}")).collect()
}

#[tokio::test]
async fn an_email_taken_then_cut_off_is_uncertain_never_sent_twice() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await.unwrap();
    let smtp = format!(
        r#"
[notify.channel.shop]
routes = ["email"]
events = ["accepted"]

[smtp]
host = "127.0.0.1"
port = {}
tls = "none"
from = "Ma Boutique <boutique@example.com>"
{LIMITS}"#,
        sink.port
    );
    let config = Arc::new(config(dir.path(), "http://127.0.0.1:9", &smtp));
    let store = open_store(&config);
    queue(
        &store,
        &config,
        "shop",
        &order_ids("M"),
        OrderEvent::Accepted,
    );
    sink.drop_after_data(RATE, SEED);
    send_everything(&store, &config, HashMap::new()).await;

    let received = sink.received();
    let (sent, uncertain) = once_or_uncertain(&store, |row| {
        let to = order(row.order_id.as_deref().unwrap())
            .customer
            .email
            .unwrap();
        let to = format!("<{to}>");
        received.iter().filter(|m| m.rcpt_to.contains(&to)).count()
    });
    eprintln!(
        "e-mail: {sent} sent, {uncertain} uncertain, {} received",
        received.len()
    );
}

/// A seller webhook `erp` at `sink`, for every `accepted`, and no customer message.
fn seller_webhook(dir: &std::path::Path, sink: &WebhookSink) -> Config {
    let events = format!(
        r#"
[notify.channel.shop]
events = []

[[events.webhook]]
name = "erp"
url = "{}"
events = ["accepted"]
{LIMITS}"#,
        sink.url()
    );
    config(dir, "http://127.0.0.1:9", &events)
}

#[tokio::test]
async fn a_seller_webhook_taken_then_answered_500_is_uncertain_never_sent_twice() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await.unwrap();
    let config = Arc::new(seller_webhook(dir.path(), &sink));
    let store = open_store(&config);
    queue(
        &store,
        &config,
        "shop",
        &order_ids("W"),
        OrderEvent::Accepted,
    );
    sink.misbehave_after_taking(RATE, SEED, AfterTaking::Fail);
    send_everything(&store, &config, HashMap::new()).await;

    let received = sink.received();
    let copies = sink.copies_per_delivery();
    let (sent, uncertain) = once_or_uncertain(&store, |row| {
        let by_order = received
            .iter()
            .filter(|b| b["order_id"].as_str() == row.order_id.as_deref())
            .count();
        assert_eq!(
            copies.get(&row.id.to_string()).copied().unwrap_or(0),
            by_order
        );
        by_order
    });
    eprintln!(
        "webhook: {sent} sent, {uncertain} uncertain, {} received",
        received.len()
    );
}

#[tokio::test]
async fn an_alert_notice_taken_then_answered_500_is_uncertain_never_sent_twice() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await.unwrap();
    let on_call = format!(
        "[[alerts.webhook]]\nurl = \"{}\"\nformat = \"generic\"\n",
        sink.url()
    );
    let config = Arc::new(config(dir.path(), "http://127.0.0.1:9", &on_call));
    let store = open_store(&config);
    let now = vigie::store::now_text();
    for n in 1..=ORDERS {
        let alert = Alert::new(
            AlertKind::PayloadQuarantined,
            format!("payload_quarantined:shop:Q-{n}"),
            format!("order Q-{n} cannot be read"),
        );
        store
            .with(|conn| vigie::store::alerts::raise(conn, &alert, &now))
            .unwrap();
    }
    sink.misbehave_after_taking(RATE, SEED, AfterTaking::Fail);
    send_everything(&store, &config, HashMap::new()).await;

    let copies = sink.copies_per_delivery();
    let (sent, uncertain) = once_or_uncertain(&store, |row| {
        copies.get(&row.id.to_string()).copied().unwrap_or(0)
    });
    // An uncertain notice is counted and logged, never alerted: that alert could loop.
    assert!(
        alerts(&store)
            .iter()
            .all(|(kind, ..)| kind == "payload_quarantined"),
        "{:?}",
        alerts(&store)
    );
    eprintln!(
        "alerts: {sent} sent, {uncertain} uncertain, {} received",
        sink.received().len()
    );
}

mod webhook_transport {
    use std::net::TcpListener;

    use vigie::delivery::SendError;
    use vigie::delivery::transport::webhook::post_json;

    use super::*;

    async fn post(url: &str) -> Result<(), SendError> {
        let client = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .build()
            .unwrap();
        let body = serde_json::json!({"event": "accepted"});
        post_json(&client, &url.parse().unwrap(), &body, None, "1").await
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", closed.local_addr().unwrap());
        drop(closed);
        let outcome = post(&url).await;
        assert!(
            matches!(outcome, Err(SendError::Transient { .. })),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn no_answer_once_the_request_left_is_uncertain() {
        let sink = WebhookSink::start().await.unwrap();
        sink.misbehave_after_taking(1.0, SEED, AfterTaking::Stall(STALL));
        let outcome = post(&sink.url()).await;
        assert!(
            matches!(outcome, Err(SendError::Uncertain(_))),
            "{outcome:?}"
        );
        assert_eq!(sink.received().len(), 1, "it did arrive");
    }
}

#[tokio::test]
async fn an_smtp_server_that_refuses_the_connection_is_tried_again_later() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let smtp = format!(
        r#"
[notify.channel.shop]
routes = ["email"]
events = ["accepted"]

[smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
from = "Ma Boutique <boutique@example.com>"
"#
    );
    let config = Arc::new(config(dir.path(), "http://127.0.0.1:9", &smtp));
    let store = open_store(&config);
    queue(
        &store,
        &config,
        "shop",
        &order_ids("R")[..1],
        OrderEvent::Accepted,
    );
    let worker = Worker::new(store.clone(), config.clone(), HashMap::new(), false).unwrap();
    worker.drain_once().await;
    let states: Vec<String> = rows(&store).into_iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        ["pending"],
        "nothing was taken: it waits for a retry"
    );
    assert!(alerts(&store).is_empty(), "{:?}", alerts(&store));
}
