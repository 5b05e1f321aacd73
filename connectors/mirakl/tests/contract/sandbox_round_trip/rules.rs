//! The sandbox refuses what Mirakl refuses, and reads back what Mirakl would send.

use std::num::NonZeroU32;

use vigie_connector::testing::{assert_permanent_code, decide_one, decision};
use vigie_connector::{Marketplace, OrderStatus};
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};
use vigie_mirakl::{Mirakl, MiraklLimits, PartialAcceptanceFallback};

use super::{client, price, settings_for, start_sandbox, two_line_order};

#[tokio::test(start_paused = true)]
async fn the_sandbox_enforces_every_line_decided_and_known() {
    let sandbox = start_sandbox().await;
    let id = two_line_order(&sandbox);
    let mirakl = client(&sandbox);
    let partial = [decision(&format!("{id}-1"), true)];
    let error = decide_one(&mirakl, &id, &partial).await.unwrap_err();
    assert_permanent_code(&error, "ORDER_LINE_ACCEPTANCE_DECISION_MISSING");
    let unknown = [decision(&format!("{id}-1"), true), decision("nope", true)];
    let error = decide_one(&mirakl, &id, &unknown).await.unwrap_err();
    assert_permanent_code(&error, "ORDER_LINE_NOT_FOUND");
    let error = decide_one(&mirakl, "NO-SUCH-ORDER", &partial)
        .await
        .unwrap_err();
    assert_permanent_code(&error, "ORDER_NOT_FOUND");
    assert_eq!(sandbox.order(&id).unwrap().state, "WAITING_ACCEPTANCE");
}

#[tokio::test(start_paused = true)]
async fn partial_acceptance_disabled_refuses_the_whole_order() {
    let options = SandboxOptions {
        partial_acceptance: false,
        ..SandboxOptions::default()
    };
    let sandbox = MiraklSandbox::start(options).await.unwrap();
    let id = two_line_order(&sandbox);
    let mirakl = client(&sandbox);
    let mixed = [
        decision(&format!("{id}-1"), true),
        decision(&format!("{id}-2"), false),
    ];
    decide_one(&mirakl, &id, &mixed).await.unwrap();
    let order = sandbox.order(&id).unwrap();
    assert_eq!(order.state, "REFUSED");
    assert!(order.lines.iter().all(|l| l.state == "REFUSED"));
    assert!(!mirakl.capabilities().partial_acceptance);

    // a seller who prefers back-orders accepts the whole order instead
    let id = two_line_order(&sandbox);
    let mut settings = settings_for(&sandbox);
    settings.partial_acceptance_fallback = PartialAcceptanceFallback::AcceptOrder;
    let accepting = Mirakl::new("sandbox", settings).unwrap();
    let mixed = [
        decision(&format!("{id}-1"), false),
        decision(&format!("{id}-2"), true),
    ];
    decide_one(&accepting, &id, &mixed).await.unwrap();
    assert_eq!(sandbox.order(&id).unwrap().state, "SHIPPING");
}

#[tokio::test]
async fn the_sandbox_refuses_what_mirakl_refuses() {
    let sandbox = start_sandbox().await;
    let http = reqwest::Client::new();
    let orders = sandbox.base_url().join("api/orders").unwrap();
    let status =
        async |request: reqwest::RequestBuilder| request.send().await.unwrap().status().as_u16();
    let keyed = || {
        http.get(orders.clone())
            .header("Authorization", sandbox.api_key())
    };
    // no key, a Bearer key, a page too large, someone else's shop
    assert_eq!(status(http.get(orders.clone())).await, 401);
    let bearer = format!("Bearer {}", sandbox.api_key());
    let with_bearer = http.get(orders.clone()).header("Authorization", bearer);
    assert_eq!(status(with_bearer).await, 401);
    assert_eq!(status(keyed().query(&[("max", "101")])).await, 400);
    assert_eq!(status(keyed().query(&[("shop_id", "9")])).await, 403);
    // the default page is 10, with a Link to the next one
    sandbox.add_random_orders(12, &["A"]);
    let page = keyed().send().await.unwrap();
    let link = page.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.contains("offset=10") && link.contains("rel=\"next\""),
        "{link}"
    );
    let body: serde_json::Value = page.json().await.unwrap();
    assert_eq!(body["orders"].as_array().unwrap().len(), 10);
    assert_eq!(body["total_count"], 12);
    assert_eq!(sandbox.request_count("OR11"), 5);
}

#[tokio::test(start_paused = true)]
async fn odd_orders_are_quarantined_or_kept_raw() {
    let sandbox = start_sandbox().await;
    let one_unit = || sandbox.add_order(OrderSpec::new().line("A", 1, price(100)));
    let (broken, fine, odd) = (one_unit(), one_unit(), one_unit());
    sandbox.set_malformed(&broken, true).unwrap();
    sandbox.force_state(&odd, "WAITING_SOMETHING_NEW").unwrap();
    let mut settings = settings_for(&sandbox);
    settings.limits = MiraklLimits {
        orders_per_minute: NonZeroU32::new(10).unwrap(),
        ..MiraklLimits::default()
    };
    let mirakl = Mirakl::new("sandbox", settings).unwrap();
    let batch = mirakl
        .orders_by_id(&[broken.clone(), fine.clone(), odd.clone()])
        .await
        .unwrap();
    assert_eq!(batch.malformed.len(), 1);
    assert_eq!(
        batch.malformed[0].order_id.as_deref(),
        Some(broken.as_str())
    );
    assert_eq!(batch.orders.len(), 2);
    assert_eq!(batch.orders[1].id, odd);
    assert_eq!(batch.orders[1].state.raw, "WAITING_SOMETHING_NEW");
    assert_eq!(batch.orders[1].state.status, OrderStatus::Other);
}
