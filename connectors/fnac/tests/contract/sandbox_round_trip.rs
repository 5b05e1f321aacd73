//! The `Fnac` client against the stateful sandbox, over real HTTP on 127.0.0.1: the whole
//! seller cycle, and the sandbox's rules (ERR_003, ERR_026, batches, token expiry).

use std::time::Duration;

use vigie_connector::testing::{decide_one, decision, level, message, retrying, stock};
use vigie_connector::{
    ConnectorError, Decimal, Marketplace, OrderDecision, OrderStatus, PushStatus, SkuRejection,
    Timestamp,
};
use vigie_fnac::sandbox::{Faults, FnacSandbox, LineSpec, OrderSpec, SandboxOptions};
use vigie_fnac::{Fnac, FnacSettings};

fn settings(sandbox: &FnacSandbox) -> FnacSettings {
    let mut settings = sandbox.settings();
    settings.http = retrying(1, Duration::from_millis(10), Duration::from_millis(20));
    settings
}

fn euros(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

#[tokio::test]
async fn a_whole_seller_cycle() {
    let sandbox = FnacSandbox::start(SandboxOptions {
        batch_run_time: Duration::ZERO,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    sandbox.set_quantity("SKU-1", 10);
    sandbox.set_quantity("SKU-2", 5);
    let first = sandbox.add_order(OrderSpec::new(vec![
        LineSpec::new("SKU-1", 2, euros(1990)),
        LineSpec::new("SKU-2", 1, euros(500)),
    ]));
    let second = sandbox.add_order(OrderSpec::new(vec![LineSpec::new("SKU-2", 1, euros(500))]));
    let broken =
        sandbox.add_malformed_order(OrderSpec::new(vec![LineSpec::new("SKU-1", 1, euros(100))]));
    assert_eq!(
        sandbox.quantity("SKU-1"),
        Some(7),
        "placed orders take units"
    );
    let start = Timestamp::now();
    let fnac = Fnac::new("fnac", settings(&sandbox)).unwrap();

    // The queue: two readable orders, one quarantined.
    let queue = fnac.orders_awaiting_acceptance().await.unwrap();
    let ids: Vec<_> = queue.orders.iter().map(|o| o.id.clone()).collect();
    assert_eq!(ids, [first.clone(), second.clone()]);
    assert_eq!(queue.malformed.len(), 1);
    assert_eq!(
        queue.malformed[0].order_id.as_deref(),
        Some(broken.as_str())
    );
    let order = &queue.orders[0];
    assert_eq!(order.total.amount, euros(4480));
    assert_eq!(order.lines[1].sku, "SKU-2");
    assert_eq!(
        order
            .shipping_address
            .as_ref()
            .unwrap()
            .country
            .as_ref()
            .unwrap()
            .alpha2(),
        "FR"
    );

    // Partial acceptance, then the same decision again: ERR_003.
    decide_one(&fnac, &first, &[decision("1", true), decision("2", false)])
        .await
        .unwrap();
    let view = sandbox.order(&first).unwrap();
    assert_eq!(view.state, "Accepted");
    assert_eq!(view.lines[0].state, "Accepted");
    assert_eq!(view.lines[1].state, "Refused");
    let again = decide_one(&fnac, &first, &[decision("1", true)]).await;
    assert!(
        matches!(again, Err(ConnectorError::AlreadyDone(_))),
        "{again:?}"
    );
    decide_one(&fnac, &second, &[decision("1", false)])
        .await
        .unwrap();
    assert_eq!(sandbox.order(&second).unwrap().state, "Refused");
    let queue = fnac.orders_awaiting_acceptance().await.unwrap();
    assert!(queue.orders.is_empty());

    // Stock: the batch is pending while the shop's import queue holds it, then OK with the
    // unknown SKU rejected.
    sandbox.set_faults(Faults {
        stalled_batches: true,
        ..Faults::default()
    });
    let updates = [stock("SKU-1", 6), stock("NOPE", 3)];
    let ticket = fnac.push_stock(&updates).await.unwrap();
    assert_eq!(
        fnac.push_status(&ticket).await.unwrap(),
        PushStatus::Pending
    );
    assert_eq!(
        sandbox.quantity("SKU-1"),
        Some(7),
        "not applied before it runs"
    );
    sandbox.set_faults(Faults::default());
    assert_eq!(
        fnac.push_status(&ticket).await.unwrap(),
        PushStatus::Completed {
            rejected: vec![SkuRejection {
                sku: "NOPE".into(),
                message: "ERR_026: Product not found".into()
            }]
        }
    );
    assert_eq!(sandbox.offers_updates()[0].offers.len(), 2);
    let levels = fnac.stock_levels().await.unwrap();
    assert!(levels.contains(&level("SKU-1", 6)), "{levels:?}");
    assert!(
        levels.contains(&level("SKU-2", 5)),
        "refused units are back: {levels:?}"
    );

    // The customer hears about it through Fnac's messaging.
    let thanks = message("Commande acceptée", "Merci !");
    fnac.message_customer(&first, &thanks).await.unwrap();
    let sent = sandbox.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].order_id.as_str(), sent[0].to.as_str()),
        (first.as_str(), "CLIENT")
    );
    assert_eq!(sent[0].description, "Commande acceptée\n\nMerci !");

    // Shipping shows up on the domain order, and in the changes window.
    assert!(sandbox.debit(&first));
    assert!(sandbox.ship(&first, "6A12345678901", "LAPOSTE"));
    let changed = fnac.orders_updated(start, Timestamp::now()).await.unwrap();
    let shipped = changed.orders.iter().find(|o| o.id == first).unwrap();
    assert_eq!(shipped.state.status, OrderStatus::Shipped);
    let read = fnac
        .orders_by_id(std::slice::from_ref(&first))
        .await
        .unwrap();
    assert_eq!(
        read.orders[0]
            .shipment
            .as_ref()
            .unwrap()
            .tracking_number
            .as_deref(),
        Some("6A12345678901")
    );

    // A session the server forgets is renewed once, transparently.
    let auths = sandbox.requests("auth");
    sandbox.expire_tokens();
    fnac.stock_levels().await.unwrap();
    assert_eq!(sandbox.requests("auth"), auths + 1);
}

#[tokio::test(start_paused = true)]
async fn token_expiry_is_handled_on_both_clocks() {
    let options = SandboxOptions {
        token_ttl: Duration::from_secs(600),
        ..SandboxOptions::default()
    };
    let sandbox = FnacSandbox::start(options).await.unwrap();
    // Renewed ahead of validity (skew margin). Paused time also jumps while sockets wait,
    // so only lower bounds are certain.
    let fnac = Fnac::new("fnac", settings(&sandbox)).unwrap();
    fnac.stock_levels().await.unwrap();
    tokio::time::advance(Duration::from_secs(545)).await;
    fnac.stock_levels().await.unwrap();
    assert!(sandbox.requests("auth") >= 2);

    // A token the server drops while the client still trusts it: one refusal, one re-auth.
    let auths = sandbox.requests("auth");
    let queries = sandbox.requests("offers_query");
    sandbox.expire_tokens();
    fnac.stock_levels().await.unwrap();
    assert_eq!(sandbox.requests("auth"), auths + 1);
    assert_eq!(sandbox.requests("offers_query"), queries + 2);

    // Long after validity, the session is simply renewed.
    tokio::time::advance(Duration::from_secs(3600)).await;
    fnac.stock_levels().await.unwrap();
    assert!(sandbox.requests("auth") > auths + 1);
}

#[tokio::test]
async fn faults_surface_as_error_classes() {
    let sandbox = FnacSandbox::start(SandboxOptions::default()).await.unwrap();
    let fnac = Fnac::new("fnac", settings(&sandbox)).unwrap();
    sandbox.set_faults(Faults {
        fail_auth: true,
        ..Faults::default()
    });
    assert!(matches!(fnac.health().await, Err(ConnectorError::Auth(_))));
    sandbox.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    assert!(matches!(
        fnac.health().await,
        Err(ConnectorError::Transient(_))
    ));
    assert_eq!(
        sandbox.requests("auth"),
        3,
        "one try, then one retry of the 500"
    );
    sandbox.set_faults(Faults::default());
    fnac.health().await.unwrap();
}

#[tokio::test]
async fn the_same_seed_gives_the_same_ids() {
    let a = FnacSandbox::start(SandboxOptions::default()).await.unwrap();
    let b = FnacSandbox::start(SandboxOptions::default()).await.unwrap();
    assert_eq!(a.partner_id(), b.partner_id());
    assert_eq!(a.key(), b.key());
    let spec = OrderSpec::new(vec![LineSpec::new("S", 1, euros(100))]);
    let id = a.add_order(spec.clone());
    assert_eq!(id, b.add_order(spec));
    assert_eq!(id.len(), 13);
}

#[tokio::test]
async fn every_order_holding_stock_whatever_its_age_over_several_pages() {
    let sandbox = FnacSandbox::start(SandboxOptions::default()).await.unwrap();
    sandbox.set_quantity("SKU-1", 1000);
    let one = || OrderSpec::new(vec![LineSpec::new("SKU-1", 1, euros(100))]);
    let month = Duration::from_secs(30 * 24 * 3600);
    // 150 accepted long ago (two pages), half of them debited since; and orders that hold
    // nothing: waiting, shipped, cancelled.
    let mut holding = Vec::new();
    for i in 0..150 {
        let id = sandbox.add_order(one());
        assert!(sandbox.accept_elsewhere(&id));
        if i % 2 == 0 {
            assert!(sandbox.debit(&id));
        }
        assert!(sandbox.backdate(&id, month));
        holding.push(id);
    }
    sandbox.add_order(one());
    let shipped = sandbox.add_order(one());
    sandbox.accept_elsewhere(&shipped);
    sandbox.ship(&shipped, "TRACK-1", "LAPOSTE");
    let cancelled = sandbox.add_order(one());
    sandbox.cancel(&cancelled);

    let fnac = Fnac::new("fnac", settings(&sandbox)).unwrap();
    let batch = fnac.orders_holding_stock().await.unwrap();
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
    assert_eq!(sandbox.requests("orders_query"), 2, "two pages of 100");
}

#[tokio::test]
async fn refunds_tell_whether_the_units_shipped_and_claims_open_and_close() {
    let sandbox = FnacSandbox::start(SandboxOptions::default()).await.unwrap();
    sandbox.set_quantity("SKU-1", 10);
    let before = sandbox.add_order(OrderSpec::new(vec![LineSpec::new("SKU-1", 1, euros(500))]));
    let after = sandbox.add_order(OrderSpec::new(vec![LineSpec::new("SKU-1", 2, euros(500))]));
    let fnac = Fnac::new("fnac", settings(&sandbox)).unwrap();
    for id in [&before, &after] {
        decide_one(&fnac, id, &[decision("1", true)]).await.unwrap();
        assert!(sandbox.debit(id));
    }
    assert!(sandbox.ship(&after, "6A123", "LAPOSTE"));
    assert!(sandbox.refund(&before));
    assert!(sandbox.refund(&after));
    assert!(sandbox.open_incident(&after, "1", "Colis jamais reçu"));

    let read = fnac
        .orders_by_id(&[before.clone(), after.clone()])
        .await
        .unwrap()
        .orders;
    let (before_read, after_read) = (&read[0], &read[1]);
    assert_eq!(before_read.state.status, OrderStatus::Refunded);
    assert!(!before_read.lines[0].cancellations[0].after_shipping);
    assert_eq!(before_read.incident, None);
    assert!(after_read.lines[0].cancellations[0].after_shipping);
    assert_eq!(
        after_read
            .incident
            .as_ref()
            .and_then(|i| i.reason.as_deref()),
        Some("item not received")
    );

    // A claim closing changes no order: the poll's window still brings it back.
    let since = Timestamp::now();
    assert!(sandbox.close_incidents(&after));
    let polled = fnac
        .orders_updated(since, Timestamp::now())
        .await
        .unwrap()
        .orders;
    let claimed = polled.iter().find(|o| o.id == after).unwrap();
    assert_eq!(claimed.incident, None);
}

#[tokio::test]
async fn decisions_go_25_orders_to_an_orders_update_with_one_answer_each() {
    let sandbox = FnacSandbox::start(SandboxOptions::default()).await.unwrap();
    sandbox.set_quantity("SKU-1", 100);
    let ids: Vec<String> = (0..30)
        .map(|_| sandbox.add_order(OrderSpec::new(vec![LineSpec::new("SKU-1", 1, euros(500))])))
        .collect();
    let fnac = Fnac::new("fnac", settings(&sandbox)).unwrap();
    decide_one(&fnac, &ids[0], &[decision("1", true)])
        .await
        .unwrap();
    let before = sandbox.requests("orders_update");

    // The first order was decided already: its answer alone says so.
    let decisions: Vec<OrderDecision> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| OrderDecision {
            order_id: id.clone(),
            lines: vec![decision("1", i % 2 == 0)],
        })
        .collect();
    let answers = fnac.decide(&decisions).await.unwrap();

    assert_eq!(
        sandbox.requests("orders_update") - before,
        2,
        "25 + 5 orders"
    );
    assert_eq!(answers.len(), 30);
    assert!(
        matches!(answers[0], Err(ConnectorError::AlreadyDone(_))),
        "{:?}",
        answers[0]
    );
    assert!(answers[1..].iter().all(Result::is_ok), "{answers:?}");
    for (i, id) in ids.iter().enumerate().skip(1) {
        let wanted = if i % 2 == 0 { "Accepted" } else { "Refused" };
        assert_eq!(sandbox.order(id).unwrap().state, wanted, "order {i}");
    }
}
