//! The whole seller cycle against the stateful sandbox: orders seen while `PENDING`, a refusal
//! that cancels through a feed and gives the units back, stock patched and fed, a delay told
//! to the buyer, and the faults the daemon must live through.

use std::time::Duration;

use rust_decimal::Decimal;
use vigie_amazon::sandbox::{AmazonSandbox, Faults, OrderSpec, SandboxOptions};
use vigie_amazon::{Amazon, VISIBILITY_LAG};
use vigie_connector::testing::{decide_one, decision, level, message, retrying, stock};
use vigie_connector::{
    ConnectorError, Marketplace, OrderStatus, Parcel, ParcelCarrier, ParcelLine, PushStatus,
    Timestamp,
};

async fn sandbox() -> (AmazonSandbox, Amazon) {
    let sandbox = AmazonSandbox::start(SandboxOptions {
        stamp_behind: Duration::try_from(VISIBILITY_LAG).unwrap(),
        rate_scale: 100.0,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let mut settings = sandbox.client_settings();
    settings.http = retrying(1, Duration::from_millis(10), Duration::from_millis(20));
    let amazon = Amazon::new("amazon-sandbox", settings).unwrap();
    (sandbox, amazon)
}

fn price() -> Decimal {
    Decimal::new(1990, 2)
}

#[tokio::test]
async fn an_order_is_seen_pending_refused_through_a_feed_and_its_units_given_back() {
    let (sandbox, amazon) = sandbox().await;
    sandbox.set_quantity("SKU-1", 3);
    let since = Timestamp::now();
    let id = sandbox.add_order(OrderSpec::new().item("SKU-1", 2, price()));
    sandbox.add_order(OrderSpec::new().item("SKU-1", 1, price()).by_amazon());
    assert_eq!(
        sandbox.quantity("SKU-1"),
        Some(1),
        "Amazon took the units at once"
    );

    let batch = amazon
        .orders_updated(since, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(
        batch.orders.len(),
        1,
        "the FBA order is not ours: {batch:?}"
    );
    let order = &batch.orders[0];
    assert_eq!(
        (order.id.as_str(), order.state.raw.as_str()),
        (id.as_str(), "PENDING")
    );
    assert_eq!(order.state.status, OrderStatus::AwaitingAcceptance);
    assert!(order.shipping_address.is_none(), "no address while PENDING");

    let line = order.lines[0].id.clone();
    decide_one(&amazon, &id, &[decision(&line, false)])
        .await
        .unwrap();
    assert_eq!(sandbox.order(&id).unwrap().status, "CANCELLED");
    assert_eq!(sandbox.quantity("SKU-1"), Some(3));
    let reread = amazon
        .orders_by_id(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(reread.orders[0].state.status, OrderStatus::Cancelled);
    // Cancelling again: the processing report says why not, for a human.
    let again = decide_one(&amazon, &id, &[decision(&line, false)])
        .await
        .unwrap_err();
    assert!(
        matches!(again, ConnectorError::Permanent { .. }),
        "{again:?}"
    );
}

#[tokio::test]
async fn stock_is_patched_or_fed_and_read_back() {
    let (sandbox, amazon) = sandbox().await;
    for i in 0..25 {
        sandbox.set_quantity(&format!("SKU-{i}"), 1);
    }
    let ticket = amazon
        .push_stock(&[stock("SKU-0", 7), stock("NOPE", 1)])
        .await
        .unwrap();
    let PushStatus::Completed { rejected } = amazon.push_status(&ticket).await.unwrap() else {
        panic!()
    };
    assert_eq!(rejected.len(), 1);
    assert_eq!(sandbox.quantity("SKU-0"), Some(7));

    let updates: Vec<_> = (0..25).map(|i| stock(&format!("SKU-{i}"), 5)).collect();
    let ticket = amazon.push_stock(&updates).await.unwrap();
    let mut status = amazon.push_status(&ticket).await.unwrap();
    while status == PushStatus::Pending {
        status = amazon.push_status(&ticket).await.unwrap();
    }
    assert_eq!(status, PushStatus::Completed { rejected: vec![] });
    let levels = amazon.stock_levels().await.unwrap();
    assert_eq!(levels.len(), 25);
    assert!(levels.contains(&level("SKU-24", 5)));
}

#[tokio::test]
async fn a_delay_reaches_the_buyer_as_unexpected_problem() {
    let (sandbox, amazon) = sandbox().await;
    let id = sandbox.add_order(OrderSpec::new().item("SKU-1", 1, price()));
    amazon
        .message_customer(&id, &message("Retard", "Votre colis partira lundi."))
        .await
        .unwrap();
    assert_eq!(
        sandbox.messages(),
        [(id, "Votre colis partira lundi.".to_owned())]
    );
}

#[tokio::test]
async fn expired_tokens_429_storms_and_fatal_feeds() {
    let (sandbox, amazon) = sandbox().await;
    amazon.orders_holding_stock().await.unwrap();
    sandbox.set_faults(Faults {
        expire_tokens: true,
        ..Faults::default()
    });
    amazon.orders_holding_stock().await.unwrap();
    assert_eq!(sandbox.request_count("token"), 2, "logged in again once");

    sandbox.set_faults(Faults {
        throttle_all: true,
        ..Faults::default()
    });
    let e = amazon.orders_holding_stock().await.unwrap_err();
    assert!(matches!(e, ConnectorError::RateLimited { .. }), "{e:?}");

    sandbox.set_faults(Faults {
        fatal_feeds: true,
        ..Faults::default()
    });
    let id = sandbox.add_order(OrderSpec::new().item("SKU-1", 1, price()));
    let line = sandbox.order(&id).unwrap().items[0].id.clone();
    let e = decide_one(&amazon, &id, &[decision(&line, false)])
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Transient(_)), "{e:?}");
    assert_eq!(sandbox.order(&id).unwrap().status, "PENDING");
}

#[tokio::test]
async fn parcels_ship_an_order_in_two_packages_as_the_sandbox_validates_them() {
    let (sandbox, amazon) = sandbox().await;
    let id = sandbox.add_order(OrderSpec::new().item("SKU-1", 2, price()));
    let line = sandbox.order(&id).unwrap().items[0].id.clone();
    let parcel = |tracking: &str, code: Option<&str>, quantity: u32| Parcel {
        order_id: id.clone(),
        carrier: ParcelCarrier {
            name: "Colissimo".into(),
            code: code.map(str::to_owned),
        },
        tracking_number: tracking.into(),
        tracking_url: None,
        lines: vec![ParcelLine {
            line_id: line.clone(),
            quantity,
        }],
        completes_order: false,
    };
    // Still PENDING: Amazon says not to ship it.
    let answers = amazon
        .confirm_parcels(&[parcel("T1", None, 1)])
        .await
        .unwrap();
    assert!(
        matches!(answers[0], Err(ConnectorError::Permanent { .. })),
        "{answers:?}"
    );

    sandbox.mark_paid(&id);
    let answers = amazon
        .confirm_parcels(&[
            parcel("T1", None, 1),
            parcel("T2", Some("Colissimo"), 1),
            parcel("T2", Some("La Poste"), 1),
            parcel("T1", None, 1),
        ])
        .await
        .unwrap();
    assert!(answers[0].is_ok(), "{answers:?}");
    assert!(
        matches!(&answers[1], Err(ConnectorError::Permanent { message, .. }) if message.contains("carrierCode")),
        "a code Amazon does not list is refused: {answers:?}"
    );
    assert!(answers[2].is_ok(), "{answers:?}");
    assert!(
        answers[3].is_ok(),
        "the same package again: Amazon holds it, so it is confirmed: {answers:?}"
    );
    let order = sandbox.order(&id).unwrap();
    assert_eq!(order.status, "SHIPPED");
    assert_eq!(order.packages.len(), 2);
    assert_eq!(order.packages[0].2.as_deref(), Some("Colissimo"));
}

#[tokio::test]
async fn a_buyer_cancel_request_is_flagged_and_cancelled_as_buyer_canceled() {
    let (sandbox, amazon) = sandbox().await;
    let since = Timestamp::now();
    let id = sandbox.add_order(OrderSpec::new().item("SKU-1", 1, price()));
    let line = sandbox.order(&id).unwrap().items[0].id.clone();
    sandbox.request_cancellation(&id, &line).unwrap();
    let batch = amazon
        .orders_updated(since, Timestamp::now())
        .await
        .unwrap();
    assert!(batch.orders[0].incident.is_some(), "{batch:?}");
    decide_one(&amazon, &id, &[decision(&line, false)])
        .await
        .unwrap();
    let order = sandbox.order(&id).unwrap();
    assert_eq!(
        order.cancelled,
        Some(("MERCHANT".to_owned(), "BuyerCanceled".to_owned()))
    );
}
