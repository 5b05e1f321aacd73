//! Amazon in the ledger (issue 15): over the three sandboxes and the real binary, the last
//! unit sold on Amazon is refused on Mirakl and pushed as 0 to Fnac; and the other way
//! round, the last unit sold on Mirakl makes vigie cancel the Amazon order that wanted it.

mod common;

use common::rig::Rig;
use common::{Setup, vigie};
use rust_decimal::Decimal;
use serde_json::Value;
use vigie_testkit::{Marketplace, NewOrder};

/// The Mirakl and Fnac channels of the rig, and an Amazon channel on its sandbox.
fn config(rig: &Rig) -> String {
    let amazon = &rig.markets.amazon;
    let o = amazon.options();
    format!(
        "{}\n[[channel]]\nname = \"amazon-fr\"\nkind = \"amazon\"\nseller_id = \"{}\"\n\
         client_id = \"{}\"\nclient_secret = \"{}\"\nrefresh_token = \"{}\"\nbase_url = \"{}\"\n\
         token_url = \"{}\"\npoll_interval = \"1s\"\nlimits = {{ scale = 100 }}\n",
        rig.channels(
            "1s",
            "{ orders_per_minute = 600, stock_imports_per_minute = 600 }",
            "{ requests_per_minute = 600 }",
        ),
        o.seller_id,
        o.client_id,
        o.client_secret,
        o.refresh_token,
        amazon.base_url(),
        amazon.token_url(),
    )
}

/// Two `run --once`: channels run side by side, so a channel may push before another's
/// order moved the ledger; the second run pushes what the first moved.
async fn cycles(setup: &Setup) {
    for _ in 0..2 {
        vigie(&setup.config, &["run", "--once"]).await;
    }
}

/// The quantity of `sku` in the last offers update Fnac received (Fnac applies a batch only
/// once asked about it).
fn last_pushed_to_fnac(rig: &Rig, sku: &str) -> Option<u32> {
    rig.markets
        .fnac
        .offers_updates()
        .iter()
        .flat_map(|update| &update.offers)
        .rfind(|offer| offer.sku == sku)
        .and_then(|offer| offer.quantity)
}

async fn orders(setup: &Setup) -> Vec<Value> {
    let out = vigie(&setup.config, &["orders", "--json"]).await;
    serde_json::from_slice(&out.stdout).unwrap()
}

fn decision_of(orders: &[Value], channel: &str, id: &str) -> Value {
    orders
        .iter()
        .find(|o| o["channel"] == channel && o["order_id"] == id)
        .unwrap_or_else(|| panic!("no order {channel}:{id} in {orders:#?}"))["decision"]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_unit_sold_on_amazon_is_refused_on_mirakl_and_pushed_as_zero_to_fnac() {
    let rig = Rig::start(15, &[("LAST", 1)]).await;
    let setup = Setup::with_stock(&config(&rig), &[("LAST", 1)]).await;
    vigie(&setup.config, &["run", "--once"]).await; // every channel's first import

    let order = NewOrder::new().line("LAST", 1, Decimal::TEN);
    let on_amazon = rig.markets.place(Marketplace::Amazon, &order);
    assert_eq!(
        rig.markets.amazon.quantity("LAST"),
        Some(0),
        "Amazon took it off itself"
    );
    cycles(&setup).await;
    assert_eq!(last_pushed_to_fnac(&rig, "LAST"), Some(0));
    assert_eq!(rig.markets.mirakl.quantity("LAST"), Some(0));

    let on_mirakl = rig.markets.place(Marketplace::Mirakl, &order);
    cycles(&setup).await;
    assert_eq!(
        rig.markets.mirakl.order(&on_mirakl).unwrap().state,
        "REFUSED"
    );
    let amazon_order = rig.markets.amazon.order(&on_amazon).unwrap();
    assert_ne!(
        amazon_order.status, "CANCELLED",
        "Amazon's order keeps its unit"
    );
    assert!(
        rig.markets.amazon.feeds().is_empty(),
        "accepting on Amazon sends nothing"
    );
    assert_eq!(
        rig.markets.amazon.quantity("LAST"),
        Some(0),
        "and never re-inflated"
    );

    let orders = orders(&setup).await;
    assert_eq!(decision_of(&orders, "amazon-fr", &on_amazon), "accept");
    assert_eq!(decision_of(&orders, "lm", &on_mirakl), "refuse");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_unit_sold_on_mirakl_cancels_the_amazon_order_and_zeroes_amazon() {
    let rig = Rig::start(16, &[("LAST", 1)]).await;
    let setup = Setup::with_stock(&config(&rig), &[("LAST", 1)]).await;
    vigie(&setup.config, &["run", "--once"]).await;

    let order = NewOrder::new().line("LAST", 1, Decimal::TEN);
    let on_mirakl = rig.markets.place(Marketplace::Mirakl, &order);
    cycles(&setup).await;
    assert_eq!(
        rig.markets.mirakl.order(&on_mirakl).unwrap().state,
        "SHIPPING"
    );
    assert_eq!(
        rig.markets.amazon.quantity("LAST"),
        Some(0),
        "pushed as 0 to Amazon"
    );
    assert_eq!(last_pushed_to_fnac(&rig, "LAST"), Some(0));

    // Amazon sold it all the same (its listing was not updated yet): vigie cancels.
    rig.markets.amazon.set_quantity("LAST", 1);
    let on_amazon = rig.markets.place(Marketplace::Amazon, &order);
    cycles(&setup).await;
    let cancelled = rig.markets.amazon.order(&on_amazon).unwrap();
    assert_eq!(cancelled.status, "CANCELLED");
    assert_eq!(
        cancelled.cancelled,
        Some(("MERCHANT".into(), "NoInventory".into()))
    );
    let feeds = rig.markets.amazon.feeds();
    assert_eq!(feeds.len(), 1);
    assert_eq!(feeds[0].feed_type, "POST_ORDER_ACKNOWLEDGEMENT_DATA");
    let orders = orders(&setup).await;
    assert_eq!(decision_of(&orders, "amazon-fr", &on_amazon), "refuse");
    assert_eq!(last_pushed_to_fnac(&rig, "LAST"), Some(0));
}
