//! The real binary against the Mirakl sandbox, after acceptance: a customer's cancellation
//! and a refund before shipping give their units back and say why, once; a refund after
//! shipping keeps the units out; a claim raises `incident_opened` until it closes.

mod common;

use common::{Setup, count, vigie};
use rust_decimal::Decimal;
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions, Tracking};

async fn sandbox() -> MiraklSandbox {
    MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap()
}

/// The channel, customers told of cancellations through the marketplace's messaging.
fn channel(sandbox: &MiraklSandbox) -> String {
    format!(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"{}\"\nshop_id = {}\n\
         limits = {{ orders_per_minute = 600, stock_imports_per_minute = 600 }}\n\
         [notify.channel.lm]\nevents = [\"cancelled\"]\n",
        sandbox.base_url(),
        sandbox.api_key(),
        sandbox.shop_id()
    )
}

/// (on_hand, reserved) of `sku`, as `stock show --json` prints them.
async fn ledger(setup: &Setup, sku: &str) -> (i64, i64) {
    let out = vigie(&setup.config, &["stock", "show", sku, "--json"]).await;
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &shown[0];
    (
        row["on_hand"].as_i64().unwrap(),
        row["reserved"].as_i64().unwrap(),
    )
}

async fn order_json(setup: &Setup, id: &str) -> serde_json::Value {
    let out = vigie(&setup.config, &["orders", "--json"]).await;
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    all.into_iter().find(|o| o["order_id"] == id).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_cancellation_releases_the_units_and_tells_the_customer_why_once() {
    let sandbox = sandbox().await;
    // Held for review (quantity above 1): the order still awaits acceptance when cancelled.
    let extra = format!("{}[rules]\nflag_quantity_above = 1\n", channel(&sandbox));
    let setup = Setup::with_stock(&extra, &[("SKU-A", 5)]).await;
    let id = sandbox.add_order(OrderSpec::new().line("SKU-A", 2, Decimal::new(20, 0)));
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(ledger(&setup, "SKU-A").await, (5, 2));

    sandbox
        .cancel(&id, &format!("{id}-1"), 2, "CUSTOMER_CHANGED_MIND")
        .unwrap();
    vigie(&setup.config, &["run", "--once"]).await;
    vigie(&setup.config, &["run", "--once"]).await;

    assert_eq!(ledger(&setup, "SKU-A").await, (5, 0));
    let order = order_json(&setup, &id).await;
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellations"][0]["by"], "customer");
    assert_eq!(order["cancellations"][0]["reason"], "CUSTOMER_CHANGED_MIND");
    let told: Vec<_> = sandbox
        .messages()
        .into_iter()
        .filter(|m| m.order_id == id)
        .collect();
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(
        told[0].body.contains("CUSTOMER_CHANGED_MIND"),
        "{}",
        told[0].body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refunds_release_before_shipping_and_keep_units_out_after() {
    let sandbox = sandbox().await;
    let setup = Setup::with_stock(&channel(&sandbox), &[("SKU-A", 10)]).await;
    let before = sandbox.add_order(OrderSpec::new().line("SKU-A", 2, Decimal::new(20, 0)));
    let after = sandbox.add_order(OrderSpec::new().line("SKU-A", 3, Decimal::new(20, 0)));
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(ledger(&setup, "SKU-A").await, (10, 5));

    sandbox
        .ship(
            &after,
            Tracking {
                tracking_number: "T1".into(),
                carrier_name: Some("Colissimo".into()),
                ..Tracking::default()
            },
        )
        .unwrap();
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(ledger(&setup, "SKU-A").await, (7, 2));

    sandbox
        .refund(&before, &format!("{before}-1"), "CUSTOMER_REQUEST")
        .unwrap();
    sandbox
        .refund(&after, &format!("{after}-1"), "RETURN")
        .unwrap();
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(
        ledger(&setup, "SKU-A").await,
        (7, 0),
        "the refund before shipping gives 2 back; the return stays out until a snapshot"
    );
    assert_eq!(
        order_json(&setup, &before).await["cancellations"][0]["by"],
        "operator"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claim_raises_incident_opened_then_resolves_it() {
    let sandbox = sandbox().await;
    let setup = Setup::with_stock(&channel(&sandbox), &[("SKU-A", 10)]).await;
    let id = sandbox.add_order(OrderSpec::new().line("SKU-A", 1, Decimal::new(20, 0)));
    vigie(&setup.config, &["run", "--once"]).await;
    let line = format!("{id}-1");
    sandbox
        .set_incident(&id, &line, Some("NOT_RECEIVED"))
        .unwrap();
    vigie(&setup.config, &["run", "--once"]).await;
    let open = "SELECT COUNT(*) FROM alerts WHERE kind = 'incident_opened' AND resolved_at IS NULL";
    assert_eq!(count(&setup.database().unwrap(), open), 1);
    let listed = vigie(&setup.config, &["orders", "--status", "incident", "--json"]).await;
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.len(), 1);

    sandbox.set_incident(&id, &line, None).unwrap();
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(count(&setup.database().unwrap(), open), 0);
}
