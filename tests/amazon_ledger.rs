//! Amazon in the ledger (issue 15): over the three sandboxes and the real binary, the last
//! unit sold on Amazon is refused on Mirakl and pushed as 0 to Fnac; and the other way
//! round, the last unit sold on Mirakl makes vigie cancel the Amazon order that wanted it;
//! and an Amazon order vigie has not read yet is not overwritten by a push another channel's
//! order triggers.

mod common;

use std::time::{Duration, Instant};

use common::rig::Rig;
use common::{Daemon, Setup, vigie};
use nix::sys::signal::Signal;
use rust_decimal::Decimal;
use serde_json::Value;
use vigie_testkit::{Marketplace, NewOrder};

/// The Mirakl and Fnac channels of the rig, and an Amazon channel on its sandbox.
fn config(rig: &Rig) -> String {
    config_polling_amazon(rig, "1s")
}

/// [`config`], the Amazon channel polled every `amazon_poll`.
fn config_polling_amazon(rig: &Rig, amazon_poll: &str) -> String {
    format!(
        "{}{}",
        rig.channels(
            "1s",
            "{ orders_per_minute = 600, stock_imports_per_minute = 600 }",
            "{ requests_per_minute = 600 }",
        ),
        rig.amazon_channel(amazon_poll)
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

    // Cancelling put the unit back on Amazon's listing: vigie takes it off again.
    cycles(&setup).await;
    assert_eq!(
        rig.markets.amazon.quantity("LAST"),
        Some(0),
        "the unit Amazon gave back on cancelling is offered nowhere"
    );
}

/// Polls `done` every 20 ms until it holds; panics after a minute.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_amazon_order_not_read_yet_is_not_overwritten_by_a_push_another_channel_triggers() {
    let rig = Rig::start(17, &[("R", 3)]).await;
    // Amazon is read once an hour: its first cycle at start, then never during the test.
    let setup = Setup::with_stock(&config_polling_amazon(&rig, "1h"), &[("R", 3)]).await;
    cycles(&setup).await;
    let amazon = &rig.markets.amazon;
    assert_eq!(amazon.quantity("R"), Some(3));

    // An order on Amazon that vigie has not read: Amazon took its unit off at once.
    amazon.set_faults(vigie_amazon::sandbox::Faults {
        hide_orders: true,
        ..Default::default()
    });
    let unread = rig.markets.place(
        Marketplace::Amazon,
        &NewOrder::new().line("R", 1, Decimal::TEN),
    );
    assert_eq!(amazon.quantity("R"), Some(2));
    let pushes_to_amazon =
        || amazon.request_count("patchListingsItem") + amazon.request_count("createFeed");
    let pushed_before = pushes_to_amazon();

    let mut daemon = Daemon::start(&setup.config, &["run"], &[("RUST_LOG", "vigie=debug,info")]);
    let amazon_read = || {
        daemon
            .log()
            .lines()
            .any(|l| l.contains("channel=amazon-fr") && l.contains("cycle done"))
    };
    wait_until("Amazon's first cycle is done", amazon_read);

    // Another channel's order moves the ledger: 3 - 2 = 1 is what vigie would compute.
    rig.markets.place(
        Marketplace::Mirakl,
        &NewOrder::new().line("R", 2, Decimal::TEN),
    );
    wait_until("Fnac is pushed 1", || {
        last_pushed_to_fnac(&rig, "R") == Some(1)
    });
    wait_until("Amazon's push is held or made", || {
        pushes_to_amazon() != pushed_before
            || daemon
                .log()
                .lines()
                .any(|l| l.contains("channel=amazon-fr") && l.contains("quantities held"))
    });
    assert_eq!(
        pushes_to_amazon(),
        pushed_before,
        "nothing computed without the Amazon order went to Amazon"
    );
    assert_eq!(amazon.quantity("R"), Some(2), "Amazon's own count stands");
    daemon.signal(Signal::SIGTERM);
    daemon.wait();

    // Once vigie reads the Amazon order (paid meanwhile, so changed after vigie's last read),
    // every channel offers what is really left.
    amazon.set_faults(vigie_amazon::sandbox::Faults::default());
    amazon.mark_paid(&unread);
    cycles(&setup).await;
    assert_eq!(amazon.quantity("R"), Some(0));
    assert_eq!(last_pushed_to_fnac(&rig, "R"), Some(0));
}
