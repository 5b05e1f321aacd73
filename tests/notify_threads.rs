//! Customer messages that fit each marketplace: one Mirakl thread per order (the second
//! message replies in the first one's thread), only what Mirakl does not tell the buyer
//! itself by default, an e-mail route without an address going through the marketplace, and
//! a send the marketplace answers "already done" recorded as failed, never as delivered.

mod notify_support;

use std::collections::HashMap;
use std::sync::Arc;

use notify_support::{alerts, config, enqueue, insert_order, open_store, outbox};
use serde_json::json;
use vigie::delivery::Worker;
use vigie::events::OrderEvent;
use vigie_connector::{Decimal, Marketplace};
use vigie_mirakl::Mirakl;
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};
use vigie_testkit::SmtpSink;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn sandbox() -> (MiraklSandbox, HashMap<String, Arc<dyn Marketplace>>) {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    let marketplace: Arc<dyn Marketplace> =
        Arc::new(Mirakl::new("shop", sandbox.client_settings()).unwrap());
    let marketplaces = HashMap::from([("shop".to_owned(), marketplace)]);
    (sandbox, marketplaces)
}

/// An order placed in the sandbox and read back through the connector.
async fn placed_order(
    sandbox: &MiraklSandbox,
    marketplaces: &HashMap<String, Arc<dyn Marketplace>>,
) -> vigie_connector::Order {
    let id = sandbox.add_order(OrderSpec::new().line("PERC-18V", 1, Decimal::new(12990, 2)));
    let batch = marketplaces["shop"]
        .orders_awaiting_acceptance()
        .await
        .unwrap();
    batch.orders.into_iter().find(|o| o.id == id).unwrap()
}

#[tokio::test]
async fn an_orders_second_message_replies_in_the_thread_its_first_one_opened() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, marketplaces) = sandbox().await;
    let config = Arc::new(config(dir.path(), sandbox.base_url().as_str(), ""));
    let store = open_store(&config);
    let order = placed_order(&sandbox, &marketplaces).await;
    let pk = insert_order(&store, "shop", &order);
    let worker = Worker::new(store.clone(), config.clone(), marketplaces, false).unwrap();

    assert_eq!(enqueue(&store, &config, pk, OrderEvent::Delayed, &order), 1);
    worker.drain_once().await;
    assert_eq!(enqueue(&store, &config, pk, OrderEvent::Refused, &order), 1);
    worker.drain_once().await;

    let sent = sandbox.messages();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].thread_id, sent[1].thread_id, "one thread per order");
    assert!(sent.iter().all(|m| m.order_id == order.id));
    assert_eq!(sandbox.request_count("OR43"), 1);
    assert_eq!(sandbox.request_count("M12"), 1);
    let sent_row = ("marketplace".to_owned(), "sent".to_owned(), 1);
    assert_eq!(outbox(&store), [sent_row.clone(), sent_row]);
}

#[tokio::test]
async fn by_default_mirakl_buyers_hear_only_what_mirakl_does_not_tell_them() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, marketplaces) = sandbox().await;
    let config = config(dir.path(), sandbox.base_url().as_str(), "");
    let store = open_store(&config);
    let order = placed_order(&sandbox, &marketplaces).await;
    let pk = insert_order(&store, "shop", &order);
    for (event, jobs) in [
        (OrderEvent::Received, 0),
        (OrderEvent::Accepted, 0),
        (OrderEvent::Shipped, 0),
        (OrderEvent::Cancelled, 0),
        (OrderEvent::Delayed, 1),
        (OrderEvent::Refused, 1),
    ] {
        assert_eq!(
            enqueue(&store, &config, pk, event, &order),
            jobs,
            "{event:?}"
        );
    }
    // The seller turns the others on per channel.
    let dir = tempfile::tempdir().unwrap();
    let extra = "[notify.channel.shop]\nevents = [\"accepted\", \"shipped\"]\n";
    let config = notify_support::config(dir.path(), sandbox.base_url().as_str(), extra);
    let store = open_store(&config);
    let pk = insert_order(&store, "shop", &order);
    assert_eq!(enqueue(&store, &config, pk, OrderEvent::Shipped, &order), 1);
}

#[tokio::test]
async fn an_email_route_without_an_address_goes_through_the_marketplace() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, marketplaces) = sandbox().await;
    let smtp = SmtpSink::start().await.unwrap();
    let extra = format!(
        "[notify.channel.shop]\nroutes = [\"email\"]\n\n[smtp]\nhost = \"127.0.0.1\"\n\
         port = {}\ntls = \"none\"\nfrom = \"shop@example.com\"\n",
        smtp.port
    );
    let config = Arc::new(config(dir.path(), sandbox.base_url().as_str(), &extra));
    let store = open_store(&config);
    let mut order = placed_order(&sandbox, &marketplaces).await;
    order.customer.email = None;
    let pk = insert_order(&store, "shop", &order);
    assert_eq!(enqueue(&store, &config, pk, OrderEvent::Refused, &order), 1);

    let worker = Worker::new(store.clone(), config.clone(), marketplaces, false).unwrap();
    worker.drain_once().await;
    assert_eq!(
        outbox(&store),
        [("marketplace".to_owned(), "sent".to_owned(), 1)]
    );
    assert_eq!(sandbox.messages().len(), 1);
    assert_eq!(smtp.count(), 0);
    assert!(alerts(&store).is_empty(), "{:?}", alerts(&store));
}

#[tokio::test]
async fn a_message_the_marketplace_answers_already_done_is_failed_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/orders/O-1/threads"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": 400,
            "message": "Order is not in the expected state for this operation",
            "errors": [{"code": "ORDER_INVALID_STATE", "message": "closed"}]
        })))
        .mount(&server)
        .await;
    let config = Arc::new(config(dir.path(), &server.uri(), ""));
    let store = open_store(&config);
    let order = notify_support::order("O-1");
    let pk = insert_order(&store, "shop", &order);
    assert_eq!(enqueue(&store, &config, pk, OrderEvent::Refused, &order), 1);
    let marketplace: Arc<dyn Marketplace> = Arc::new(
        Mirakl::new(
            "shop",
            vigie_mirakl::MiraklSettings::new(server.uri().parse().unwrap(), "k".into()),
        )
        .unwrap(),
    );
    let marketplaces = HashMap::from([("shop".to_owned(), marketplace)]);
    let worker = Worker::new(store.clone(), config.clone(), marketplaces, false).unwrap();
    worker.drain_once().await;

    assert_eq!(
        outbox(&store),
        [("marketplace".to_owned(), "failed".to_owned(), 1)]
    );
    let raised = alerts(&store);
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].0, "notification_failed");
    assert!(raised[0].2.contains("did not post it"), "{}", raised[0].2);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
