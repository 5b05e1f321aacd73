//! The `Mirakl` client against the stateful sandbox: the whole seller workflow over real HTTP
//! on 127.0.0.1 (here), the sandbox's own rules (`rules`) and faults (`faults`).

mod faults;
mod lifecycle;
mod rules;

use std::time::Duration;

use rust_decimal::Decimal;
use vigie_connector::testing::{decide_one, decision, level, message, retrying, stock};
use vigie_connector::{ConnectorError, LineDecision, Marketplace, Order, OrderStatus, PushStatus};
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions, Tracking};
use vigie_mirakl::{Mirakl, MiraklSettings};

async fn start_sandbox() -> MiraklSandbox {
    MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap()
}

fn settings_for(sandbox: &MiraklSandbox) -> MiraklSettings {
    assert_eq!(sandbox.base_url().host_str(), Some("127.0.0.1"));
    let mut settings = sandbox.client_settings();
    settings.http = retrying(3, Duration::from_millis(100), Duration::from_secs(1));
    settings
}

fn client(sandbox: &MiraklSandbox) -> Mirakl {
    Mirakl::new("sandbox", settings_for(sandbox)).unwrap()
}

/// The same answer for every line of `order`.
fn decisions(order: &Order, accept: bool) -> Vec<LineDecision> {
    order
        .lines
        .iter()
        .map(|l| decision(&l.id, accept))
        .collect()
}

fn price(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// `id` as OR11 reads it now.
async fn reread(mirakl: &Mirakl, id: &str) -> Order {
    let batch = mirakl.orders_by_id(&[id.to_owned()]).await.unwrap();
    batch.orders.into_iter().next().unwrap()
}

/// An order of one unit of `A` and one of `B`.
fn two_line_order(sandbox: &MiraklSandbox) -> String {
    sandbox.add_order(
        OrderSpec::new()
            .line("A", 1, price(100))
            .line("B", 1, price(100)),
    )
}

#[tokio::test(start_paused = true)]
async fn accept_refuse_push_read_back_message_and_ship() {
    let sandbox = start_sandbox().await;
    sandbox.set_quantity("DRILL", 5);
    sandbox.set_quantity("HOSE", 0);
    let stocked = sandbox.add_order(OrderSpec::new().line("DRILL", 2, price(3990)));
    let short = sandbox.add_order(OrderSpec::new().line("HOSE", 1, price(2450)).country("BEL"));
    // Mirakl takes ordered units off the offer when the order is placed.
    assert_eq!(sandbox.quantity("DRILL"), Some(3));
    let mirakl = client(&sandbox);
    mirakl.health().await.unwrap();

    let batch = mirakl.orders_awaiting_acceptance().await.unwrap();
    assert!(batch.malformed.is_empty());
    let ids: Vec<_> = batch.orders.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, [stocked.as_str(), short.as_str()]);
    let first = &batch.orders[0];
    assert_eq!(first.state.status, OrderStatus::AwaitingAcceptance);
    assert_eq!(first.shipping_address, None, "hidden until accepted");
    assert_eq!(first.lines[0].sku, "DRILL");
    assert_eq!(first.lines[0].quantity, 2);
    assert_eq!(first.lines[0].price.amount, price(7980));
    assert_eq!(first.total.amount, price(7980));

    let accept = decisions(&batch.orders[0], true);
    decide_one(&mirakl, &stocked, &accept).await.unwrap();
    let refuse = decisions(&batch.orders[1], false);
    decide_one(&mirakl, &short, &refuse).await.unwrap();
    let accepted = sandbox.order(&stocked).unwrap();
    assert_eq!(accepted.state, "SHIPPING");
    assert!(accepted.accepted_at.is_some());
    assert_eq!(sandbox.order(&short).unwrap().state, "REFUSED");
    assert_eq!(sandbox.order(&short).unwrap().accepted_at, None);
    // deciding again is "already done"
    let again = decide_one(&mirakl, &stocked, &accept).await.unwrap_err();
    assert!(matches!(again, ConnectorError::AlreadyDone(_)), "{again:?}");

    // after acceptance the address shows, with the alpha-3 country read as alpha-2
    let order = reread(&mirakl, &stocked).await;
    assert_eq!(order.state.status, OrderStatus::Accepted);
    let country = order.shipping_address.as_ref().unwrap().country.clone();
    assert_eq!(country.unwrap().alpha2(), "FR");

    let ticket = mirakl
        .push_stock(&[stock("DRILL", 3), stock("HOSE", 0)])
        .await
        .unwrap();
    assert_eq!(
        mirakl.push_status(&ticket).await.unwrap(),
        PushStatus::Completed { rejected: vec![] }
    );
    let imports = sandbox.stock_imports();
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0].lines[0].sku, "DRILL");
    assert_eq!(imports[0].lines[0].quantity, 3);
    assert_eq!(
        mirakl.stock_levels().await.unwrap(),
        [level("DRILL", 3), level("HOSE", 0)]
    );

    let thanks = message("Commande acceptée", "Bonjour, votre commande est acceptée.");
    mirakl.message_customer(&stocked, &thanks).await.unwrap();
    let messages = sandbox.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].order_id, stocked);
    assert_eq!(messages[0].to, ["CUSTOMER"]);
    assert_eq!(messages[0].topic_type, "FREE_TEXT");
    assert_eq!(messages[0].topic_value, "Commande acceptée");
    assert_eq!(messages[0].body, "Bonjour, votre commande est acceptée.");

    let tracking = Tracking {
        tracking_number: "6A999".into(),
        carrier_code: Some("COLISSIMO".into()),
        carrier_name: Some("Colissimo".into()),
        tracking_url: Some("https://tracking.example/6A999".into()),
    };
    sandbox.ship(&stocked, tracking).unwrap();
    let order = reread(&mirakl, &stocked).await;
    assert_eq!(order.state.status, OrderStatus::Shipped);
    let shipment = order.shipment.as_ref().unwrap();
    assert_eq!(shipment.tracking_number.as_deref(), Some("6A999"));
    assert_eq!(shipment.carrier_name.as_deref(), Some("Colissimo"));

    let counts = sandbox.request_counts();
    assert_eq!(counts["OR11"], 3);
    assert_eq!(counts["OR21"], 3);
    assert_eq!(counts["STO01"], 1);
    assert_eq!(counts["STO02"], 1);
    assert_eq!(counts["OF21"], 1);
    assert_eq!(counts["OR43"], 1);
    assert_eq!(counts["V01"], 1);
}

#[tokio::test(start_paused = true)]
async fn refused_lines_give_back_only_what_they_took() {
    let sandbox = start_sandbox().await;
    sandbox.set_quantity("A", 1);
    let id = sandbox.add_order(OrderSpec::new().line("A", 3, price(100)));
    assert_eq!(sandbox.quantity("A"), Some(0));
    let mirakl = client(&sandbox);
    let batch = mirakl.orders_awaiting_acceptance().await.unwrap();
    decide_one(&mirakl, &id, &decisions(&batch.orders[0], false))
        .await
        .unwrap();
    assert_eq!(sandbox.quantity("A"), Some(1));
}

#[tokio::test(start_paused = true)]
async fn polls_page_through_hundreds_of_orders() {
    let sandbox = start_sandbox().await;
    let ids = sandbox.add_random_orders(250, &["A", "B", "C"]);
    let batch = client(&sandbox).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(batch.orders.len(), 250);
    let read: Vec<_> = batch.orders.iter().map(|o| o.id.clone()).collect();
    assert_eq!(read, ids);
    assert_eq!(sandbox.request_count("OR11"), 3);
}

#[tokio::test(start_paused = true)]
async fn every_order_holding_stock_whatever_its_age_over_several_pages() {
    let sandbox = start_sandbox().await;
    sandbox.set_quantity("A", 1000);
    let month = Duration::from_secs(30 * 24 * 3600);
    let one = || OrderSpec::new().line("A", 1, price(100));
    // 120 accepted orders placed a month ago (two OR11 pages), in each state holding stock;
    // and orders that hold nothing: waiting, shipped, to collect, cancelled.
    let states = ["WAITING_DEBIT", "WAITING_DEBIT_PAYMENT", "SHIPPING"];
    let mut holding = Vec::new();
    for i in 0..120 {
        let id = sandbox.add_order(one());
        sandbox.force_state(&id, states[i % states.len()]).unwrap();
        sandbox.backdate(&id, month).unwrap();
        holding.push(id);
    }
    sandbox.add_order(one());
    for state in ["SHIPPED", "TO_COLLECT", "CANCELED"] {
        let id = sandbox.add_order(one());
        sandbox.force_state(&id, state).unwrap();
    }

    let batch = client(&sandbox).orders_holding_stock().await.unwrap();
    let mut ids: Vec<String> = batch.orders.iter().map(|o| o.id.clone()).collect();
    ids.sort();
    holding.sort();
    assert_eq!(ids, holding);
    assert!(
        batch
            .orders
            .iter()
            .all(|o| o.state.status == OrderStatus::Accepted)
    );
    assert_eq!(sandbox.request_count("OR11"), 2, "two pages of 100");
}
