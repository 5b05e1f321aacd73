//! The queue's lanes against real components (a SQLite file, the Mirakl and Fnac sandboxes
//! over HTTP, a CRM webhook on 127.0.0.1): each marketplace channel's messages go at that
//! marketplace's own pace, a message waiting for its budget is never 'sending', and a claim
//! takes every job that may leave at once, each 'sending' only while it is sent.

mod notify_support;

use std::collections::HashMap;
use std::sync::Arc;

use axum::routing::post;
use notify_support::{alerts, config, eventually, insert_order, open_store, order, outbox};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use vigie::config::Config;
use vigie::delivery::Worker;
use vigie::events::OrderEvent;
use vigie::store::Store;
use vigie_connector::{Decimal, Marketplace, observe_waits};
use vigie_fnac::Fnac;
use vigie_fnac::sandbox::{FnacSandbox, LineSpec, OrderSpec as FnacOrder, SandboxOptions};
use vigie_mirakl::Mirakl;
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions as MiraklOptions};

/// A Fnac shop allowed 2 requests a minute: its messages get one a minute, so the second
/// waits about a minute for its turn.
async fn slow_fnac() -> (FnacSandbox, Arc<dyn Marketplace>) {
    let sandbox = FnacSandbox::start(SandboxOptions::default()).await.unwrap();
    let marketplace = fnac_client(&sandbox);
    (sandbox, marketplace)
}

/// A fresh client (a restarted process): its budgets start full.
fn fnac_client(sandbox: &FnacSandbox) -> Arc<dyn Marketplace> {
    let mut settings = sandbox.settings();
    settings.requests_per_minute = 2.try_into().unwrap();
    Arc::new(Fnac::new("fnac", settings).unwrap())
}

fn fnac_order(sandbox: &FnacSandbox) -> vigie_connector::Order {
    let line = LineSpec::new("PERC-18V", 1, Decimal::new(12990, 2));
    order(&sandbox.add_order(FnacOrder::new(vec![line])))
}

/// The Mirakl channel `shop` of the test configuration, and a Fnac channel `fnac`; both tell
/// customers of refusals through their marketplace.
fn two_channels(dir: &std::path::Path, mirakl: &str, fnac: &FnacSandbox) -> Config {
    let extra = format!(
        r#"
[[channel]]
name = "fnac"
kind = "fnac"
base_url = "{}"
partner_id = "{}"
shop_id = "{}"
key = "{}"

[notify.channel.shop]
events = ["refused"]
routes = ["marketplace"]

[notify.channel.fnac]
events = ["refused"]
routes = ["marketplace"]
"#,
        fnac.base_url(),
        fnac.partner_id(),
        fnac.shop_id(),
        fnac.key()
    );
    config(dir, mirakl, &extra)
}

/// Stores `order` on `channel` and queues its `refused` message.
fn refused(store: &Store, config: &Config, channel: &str, order: &vigie_connector::Order) {
    let pk = insert_order(store, channel, order);
    store
        .with(|conn| {
            let tx = conn.transaction()?;
            let now = vigie::store::now_text();
            let queued = vigie::delivery::enqueue(
                &tx,
                config,
                channel,
                pk,
                OrderEvent::Refused,
                order,
                &now,
            )?;
            assert_eq!(queued, 1);
            tx.commit()?;
            Ok(())
        })
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_channel_waiting_for_its_message_budget_holds_no_other_channel_back() {
    let dir = tempfile::tempdir().unwrap();
    let (fnac, fnac_market) = slow_fnac().await;
    let mirakl = MiraklSandbox::start(MiraklOptions::default())
        .await
        .unwrap();
    let mirakl_market: Arc<dyn Marketplace> =
        Arc::new(Mirakl::new("shop", mirakl.client_settings()).unwrap());
    let config = Arc::new(two_channels(dir.path(), mirakl.base_url().as_str(), &fnac));
    let store = open_store(&config);
    // Two Fnac messages queued first, then a Mirakl one.
    for _ in 0..2 {
        refused(&store, &config, "fnac", &fnac_order(&fnac));
    }
    let on_mirakl = mirakl.add_order(OrderSpec::new().line("PERC-18V", 1, Decimal::TEN));
    refused(&store, &config, "shop", &order(&on_mirakl));

    let marketplaces = HashMap::from([
        ("fnac".to_owned(), fnac_market),
        ("shop".to_owned(), mirakl_market),
    ]);
    let worker = Worker::new(store.clone(), config.clone(), marketplaces, false).unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    // The Mirakl message leaves while the second Fnac one waits for Fnac's budget, unclaimed.
    let states = || -> Vec<String> { outbox(&store).into_iter().map(|(_, s, _)| s).collect() };
    eventually("the first Fnac message and the Mirakl one", || {
        states() == ["sent", "pending", "sent"]
    })
    .await;
    assert_eq!((fnac.messages().len(), mirakl.messages().len()), (1, 1));

    // Waiting for a budget is no send in flight: a stop ends it at once.
    stop.cancel();
    running.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_while_a_message_waits_for_its_budget_leaves_it_to_send_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (fnac, marketplace) = slow_fnac().await;
    let config = Arc::new(two_channels(dir.path(), "http://127.0.0.1:9", &fnac));
    let store = open_store(&config);
    for _ in 0..2 {
        refused(&store, &config, "fnac", &fnac_order(&fnac));
    }
    {
        let marketplaces = HashMap::from([("fnac".to_owned(), marketplace)]);
        let worker = Worker::new(store.clone(), config.clone(), marketplaces, false).unwrap();
        // The process dies the moment the second message starts waiting for Fnac's budget:
        // its future is dropped there, as a kill would leave it.
        let waiting = Arc::new(Notify::new());
        let told = waiting.clone();
        let observer = Arc::new(move |wait: std::time::Duration| {
            if wait >= std::time::Duration::from_secs(1) {
                told.notify_one();
            }
        });
        tokio::select! {
            () = observe_waits(observer, worker.drain_once()) => panic!("sent both at once"),
            () = waiting.notified() => {}
        }
    }
    assert_eq!(fnac.messages().len(), 1);
    let rows = outbox(&store);
    assert_eq!(rows[1].1, "pending", "{rows:?}");
    assert_eq!(rows[1].2, 0, "never claimed: {rows:?}");

    // Restart on the same file: nothing is in doubt, the message simply goes.
    let marketplaces = HashMap::from([("fnac".to_owned(), fnac_client(&fnac))]);
    let worker = Worker::new(store.clone(), config.clone(), marketplaces, false).unwrap();
    worker.drain_once().await;
    let states: Vec<String> = outbox(&store).into_iter().map(|(_, s, _)| s).collect();
    assert_eq!(states, ["sent", "sent"]);
    assert_eq!(fnac.messages().len(), 2);
    let uncertain: Vec<_> = alerts(&store)
        .into_iter()
        .filter(|(kind, _, _)| kind == "notification_uncertain")
        .collect();
    assert!(uncertain.is_empty(), "{uncertain:?}");
}

/// A CRM endpoint that tells of each request as it arrives and answers `status` only once
/// let go.
async fn held_crm(status: u16) -> (String, mpsc::UnboundedReceiver<()>, Arc<Notify>) {
    let (arrived, arrivals) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let status = axum::http::StatusCode::from_u16(status).unwrap();
    let app = axum::Router::new().route(
        "/",
        post(move || {
            let (arrived, gate) = (arrived.clone(), gate.clone());
            async move {
                let _ = arrived.send(());
                gate.notified().await;
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, arrivals, release)
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_message_in_flight_is_sending_and_a_stop_leaves_the_others_queued() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mut arrivals, release) = held_crm(200).await;
    let (config, store) = three_for_the_crm(dir.path(), &url);
    let worker = Worker::new(store.clone(), config.clone(), HashMap::new(), false).unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    arrivals.recv().await.unwrap();
    // The CRM takes 120 a minute: all three were claimed together, but only the one in flight
    // is 'sending' (a crash now leaves one uncertain, not three).
    let states: Vec<String> = outbox(&store).into_iter().map(|(_, s, _)| s).collect();
    assert_eq!(states, ["sending", "pending", "pending"]);

    // A stop while the first is in flight: it finishes, the two others never leave.
    stop.cancel();
    release.notify_one();
    running.await.unwrap();
    let rows = outbox(&store);
    let after: Vec<(&str, i64)> = rows.iter().map(|(_, s, n)| (s.as_str(), *n)).collect();
    assert_eq!(after, [("sent", 1), ("pending", 0), ("pending", 0)]);
    assert!(arrivals.try_recv().is_err(), "only the first was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_of_a_channel_no_longer_configured_fail_with_an_alert_instead_of_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let events = "[notify.channel.shop]\nevents = [\"refused\"]\nroutes = [\"marketplace\"]\n";
    let config = Arc::new(config(dir.path(), "http://127.0.0.1:9", events));
    let store = open_store(&config);
    refused(&store, &config, "shop", &order("O-1"));
    // No lane drains `shop`'s messages any more.
    let worker = Worker::new(store.clone(), config.clone(), HashMap::new(), false).unwrap();
    worker.drain_once().await;
    assert_eq!(outbox(&store)[0].1, "failed");
    let failed: Vec<_> = alerts(&store)
        .into_iter()
        .filter(|(kind, _, _)| kind == "notification_failed")
        .collect();
    assert!(
        failed.len() == 1 && failed[0].2.contains("no longer configured"),
        "{failed:?}"
    );
}

/// Three `refused` messages for the CRM at `url`.
fn three_for_the_crm(dir: &std::path::Path, url: &str) -> (Arc<Config>, Store) {
    let extra = format!(
        "[notify.webhook]\nurl = \"{url}\"\n\n[notify.channel.shop]\nevents = [\"refused\"]\n\
         routes = [\"webhook\"]\n"
    );
    let config = Arc::new(config(dir, "http://127.0.0.1:9", &extra));
    let store = open_store(&config);
    for id in ["O-1", "O-2", "O-3"] {
        refused(&store, &config, "shop", &order(id));
    }
    (config, store)
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_send_that_does_not_go_through_the_others_wait_for_the_next_claim() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mut arrivals, release) = held_crm(429).await;
    let (config, store) = three_for_the_crm(dir.path(), &url);
    let worker = Worker::new(store.clone(), config.clone(), HashMap::new(), false).unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    arrivals.recv().await.unwrap();
    release.notify_one(); // 429: nothing taken, tried again later
    arrivals.recv().await.unwrap();
    // The first waits for its retry; the second is in flight alone.
    let rows = outbox(&store);
    let states: Vec<(&str, i64)> = rows.iter().map(|(_, s, n)| (s.as_str(), *n)).collect();
    assert_eq!(states, [("pending", 1), ("sending", 1), ("pending", 0)]);
    stop.cancel();
    release.notify_one();
    running.await.unwrap();
}
