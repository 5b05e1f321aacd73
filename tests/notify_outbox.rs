//! The outbox against real components: a SQLite file, the Mirakl sandbox over HTTP, a
//! wiremock receiver. One message per (order, event, destination); a send interrupted by a
//! crash is marked uncertain with an alert and never sent again.

mod notify_support;

use std::collections::HashMap;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use notify_support::{alerts, config, enqueue, insert_order, open_store, outbox};
use vigie::delivery::Worker;
use vigie::events::OrderEvent;
use vigie::store::outbox::{self as rows, Lane, Work};
use vigie_connector::{Decimal, Marketplace};
use vigie_mirakl::Mirakl;
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};
use wiremock::MockServer;

struct Shop {
    sandbox: MiraklSandbox,
    marketplace: Arc<dyn Marketplace>,
}

async fn shop() -> Shop {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    let marketplace: Arc<dyn Marketplace> =
        Arc::new(Mirakl::new("shop", sandbox.client_settings()).unwrap());
    Shop {
        sandbox,
        marketplace,
    }
}

impl Shop {
    /// Places orders in the sandbox and reads them back through the connector, in one poll
    /// (Mirakl allows one order list a minute).
    async fn orders(&self, count: usize) -> Vec<vigie_connector::Order> {
        let ids: Vec<String> = (0..count)
            .map(|_| {
                self.sandbox
                    .add_order(OrderSpec::new().line("PERC-18V", 1, Decimal::new(12990, 2)))
            })
            .collect();
        let batch = self.marketplace.orders_awaiting_acceptance().await.unwrap();
        ids.iter()
            .map(|id| batch.orders.iter().find(|o| &o.id == id).unwrap().clone())
            .collect()
    }

    async fn order(&self) -> vigie_connector::Order {
        self.orders(1).await.remove(0)
    }

    fn marketplaces(&self) -> HashMap<String, Arc<dyn Marketplace>> {
        HashMap::from([("shop".to_owned(), self.marketplace.clone())])
    }
}

#[tokio::test]
async fn each_event_is_sent_once_through_the_marketplace() {
    let dir = tempfile::tempdir().unwrap();
    let shop = shop().await;
    let events = "[notify.channel.shop]\nevents = [\"accepted\"]\n";
    let config = Arc::new(config(dir.path(), shop.sandbox.base_url().as_str(), events));
    let store = open_store(&config);
    let order = shop.order().await;
    let pk = insert_order(&store, "shop", &order);

    // The events the channel sends: not `received`, but `accepted`.
    assert_eq!(
        enqueue(&store, &config, pk, OrderEvent::Received, &order),
        0
    );
    assert_eq!(
        enqueue(&store, &config, pk, OrderEvent::Accepted, &order),
        1
    );
    // The same event again (a re-poll, a replayed transaction) writes nothing.
    assert_eq!(
        enqueue(&store, &config, pk, OrderEvent::Accepted, &order),
        0
    );

    let worker = Worker::new(store.clone(), config.clone(), shop.marketplaces(), false).unwrap();
    worker.drain_once().await;
    worker.drain_once().await;
    let sent = shop.sandbox.messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].order_id, order.id);
    assert!(sent[0].body.contains("Bonne nouvelle"), "{}", sent[0].body);
    assert_eq!(
        outbox(&store),
        [("marketplace".to_owned(), "sent".to_owned(), 1)]
    );
}

#[tokio::test]
async fn a_send_interrupted_by_a_crash_becomes_uncertain_and_is_never_resent() {
    let dir = tempfile::tempdir().unwrap();
    let shop = shop().await;
    let config = Arc::new(config(dir.path(), shop.sandbox.base_url().as_str(), ""));
    let (crashed, waiting) = {
        let store = open_store(&config);
        let mut orders = shop.orders(2).await;
        let second = orders.pop().unwrap();
        let first = orders.pop().unwrap();
        let first_pk = insert_order(&store, "shop", &first);
        let second_pk = insert_order(&store, "shop", &second);
        enqueue(&store, &config, first_pk, OrderEvent::Refused, &first);
        enqueue(&store, &config, second_pk, OrderEvent::Refused, &second);
        // The worker's first step, then the process dies: the claim is committed, the send
        // never reported back.
        let now = vigie::store::now_text();
        let lane = Lane::Marketplace("shop".to_owned());
        let claimed = store
            .with(|conn| rows::claim(conn, &lane, &now, 1))
            .unwrap()
            .remove(0)
            .1
            .unwrap();
        assert!(
            matches!(&claimed.work, Work::Order { order_id, .. } if *order_id == first.id),
            "{claimed:?}"
        );
        (first, second)
    }; // the store (and its connection) goes away with the "process"

    // Restart on the same database file.
    let store = open_store(&config);
    assert_eq!(outbox(&store)[0].1, "sending");
    let worker = Worker::new(store.clone(), config.clone(), shop.marketplaces(), false).unwrap();
    worker.drain_once().await;
    worker.drain_once().await;

    let states: Vec<String> = outbox(&store).into_iter().map(|r| r.1).collect();
    assert_eq!(states, ["uncertain", "sent"]);
    let sent = shop.sandbox.messages();
    assert_eq!(sent.len(), 1, "only the message that was waiting: {sent:?}");
    assert_eq!(sent[0].order_id, waiting.id);
    let alerts = alerts(&store);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0, "notification_uncertain");
    assert!(
        alerts[0].2.contains(&format!("shop:{}", crashed.id)),
        "{}",
        alerts[0].2
    );

    // Another restart finds nothing new to recover and sends nothing more.
    let worker = Worker::new(store.clone(), config.clone(), shop.marketplaces(), false).unwrap();
    worker.drain_once().await;
    assert_eq!(shop.sandbox.messages().len(), 1);
    assert_eq!(notify_support::alerts(&store).len(), 1);
}

#[tokio::test]
async fn dry_run_sends_nothing_and_keeps_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let shop = shop().await;
    let config = Arc::new(config(dir.path(), shop.sandbox.base_url().as_str(), ""));
    let store = open_store(&config);
    let order = shop.order().await;
    let pk = insert_order(&store, "shop", &order);
    enqueue(&store, &config, pk, OrderEvent::Refused, &order);
    let worker = Worker::new(store.clone(), config.clone(), shop.marketplaces(), true).unwrap();
    worker.drain_once().await;
    assert!(shop.sandbox.messages().is_empty());
    assert_eq!(
        outbox(&store),
        [("marketplace".to_owned(), "pending".to_owned(), 0)]
    );
}

#[tokio::test]
async fn seller_webhooks_get_the_whole_order_signed_and_first_orders_are_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let erp = MockServer::start().await;
    notify_support::answer(&erp, "/orders", 204).await;
    let config = Arc::new(config(
        dir.path(),
        "http://127.0.0.1:9",
        &format!(
            r#"
[notify.channel.shop]
events = []

[[events.webhook]]
name = "erp"
url = "{}/orders"
secret = "erp-signing-key"
events = ["received", "accepted"]
"#,
            erp.uri()
        ),
    ));
    let store = open_store(&config);
    let first = notify_support::order("E-1");
    let mut second = notify_support::order("E-2");
    second.customer.email = Some("another-relay@example.org".to_owned());
    let first_pk = insert_order(&store, "shop", &first);
    let second_pk = insert_order(&store, "shop", &second);
    assert_eq!(
        enqueue(&store, &config, first_pk, OrderEvent::Received, &first),
        1
    );
    assert_eq!(
        enqueue(&store, &config, second_pk, OrderEvent::Received, &second),
        1
    );
    assert_eq!(
        enqueue(&store, &config, second_pk, OrderEvent::Shipped, &second),
        0
    );

    let worker = Worker::new(store.clone(), config.clone(), HashMap::new(), false).unwrap();
    worker.drain_once().await;

    let requests = erp.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for (request, order) in requests.iter().zip([&first, &second]) {
        let signature = request
            .headers
            .get("x-vigie-signature")
            .unwrap()
            .to_str()
            .unwrap();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"erp-signing-key").unwrap();
        mac.update(&request.body);
        mac.verify_slice(&hex::decode(signature).unwrap())
            .expect("the signature is the HMAC-SHA256 of the body");
        assert!(request.headers.get("x-vigie-delivery").is_some());
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["event"], "received");
        assert_eq!(body["channel"], "shop");
        assert_eq!(body["order"]["id"], order.id.as_str());
        assert_eq!(body["order"]["lines"][0]["sku"], "PERC-18V");
    }
    // Same name, different relay address: the second order is not the customer's first.
    let payloads: Vec<vigie::delivery::Facts> = store
        .with(|conn| {
            let mut stmt = conn.prepare("SELECT payload FROM outbox ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .unwrap()
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert!(payloads[0].first_order);
    assert!(!payloads[1].first_order);
    let states: Vec<String> = outbox(&store).into_iter().map(|r| r.1).collect();
    assert_eq!(states, ["sent", "sent"]);
}

#[tokio::test]
async fn a_row_that_cannot_be_read_is_set_aside_alerted_and_the_rest_still_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let shop = shop().await;
    let config = Arc::new(config(dir.path(), shop.sandbox.base_url().as_str(), ""));
    let store = open_store(&config);
    let mut orders = shop.orders(2).await;
    let (second, first) = (orders.pop().unwrap(), orders.pop().unwrap());
    let first_pk = insert_order(&store, "shop", &first);
    let second_pk = insert_order(&store, "shop", &second);
    enqueue(&store, &config, first_pk, OrderEvent::Refused, &first);
    enqueue(&store, &config, second_pk, OrderEvent::Refused, &second);
    // A row no release of vigie writes (a hand edit, a bad restore).
    store
        .with(|conn| {
            conn.execute(
                "UPDATE outbox SET event = 'bogus' WHERE order_pk = ?1",
                [first_pk],
            )?;
            Ok(())
        })
        .unwrap();

    let worker = Worker::new(store.clone(), config.clone(), shop.marketplaces(), false).unwrap();
    worker.drain_once().await;

    assert_eq!(
        shop.sandbox.messages().len(),
        1,
        "the second message still left"
    );
    let states: Vec<String> = outbox(&store).into_iter().map(|r| r.1).collect();
    assert_eq!(states, ["failed", "sent"]);
    let failed: Vec<_> = alerts(&store)
        .into_iter()
        .filter(|(kind, _, _)| kind == "notification_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].2.contains("bogus"), "{failed:?}");
}
