//! Faults on an Amazon channel: the real daemon against the three sandboxes while Amazon
//! misbehaves. Every cancellation feed ends `FATAL` at first, then a 429 storm answers every
//! SP-API call, then every access token expires. Asserted once the run settles: each order
//! is decided and its decision confirmed, each refused one cancelled exactly once with
//! `NoInventory`, none of the accepted ones cancelled, and vigie logged in again.

mod common;

use std::time::{Duration, Instant};

use common::rig::Rig;
use common::{Daemon, Setup, count, still_open, wait_until_settled};
use nix::sys::signal::Signal;
use rust_decimal::Decimal;
use vigie_amazon::sandbox::Faults;
use vigie_testkit::{Marketplace, NewOrder};

const SEED: u64 = 0xA3A2_0F17;
const STOCK: u32 = 5;
const ORDERS: usize = 8;
const SETTLE: Duration = Duration::from_secs(120);

/// Polls `done` every 20 ms until it holds; panics after a minute.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_feeds_429_storms_and_expired_tokens_lose_and_repeat_nothing_on_amazon() {
    let rig = Rig::start(SEED, &[("LAMP", STOCK)]).await;
    let config = format!(
        "{}{}\n[inventory]\nsource = \"manual\"\n\n[rules]\non_insufficient_stock = \"refuse\"\n",
        rig.channels(
            "1s",
            "{ orders_per_minute = 600, stock_imports_per_minute = 600 }",
            "{ requests_per_minute = 600 }",
        ),
        rig.amazon_channel("1s"),
    );
    let setup = Setup::with_stock(&config, &[("LAMP", STOCK)]).await;
    let amazon = &rig.markets.amazon;
    amazon.set_faults(Faults {
        fatal_feeds: true,
        ..Faults::default()
    });
    let log = setup.dir.path().join("daemon.log");
    let mut daemon = Daemon::start_appending(&setup.config, &["run"], &[], &log);

    let placed: Vec<String> = (0..ORDERS)
        .map(|_| {
            rig.markets.place(
                Marketplace::Amazon,
                &NewOrder::new().line("LAMP", 1, Decimal::new(1990, 2)),
            )
        })
        .collect();
    wait_until("a cancellation feed ends FATAL", || {
        amazon.feeds().iter().any(|f| f.status == "FATAL")
    })
    .await;
    amazon.set_faults(Faults {
        throttle_all: true,
        ..Faults::default()
    });
    let throttled_from = amazon.request_count("searchOrders");
    wait_until("the storm answered a few polls", || {
        amazon.request_count("searchOrders") >= throttled_from + 3
    })
    .await;
    let logins_before = amazon.request_count("token");
    amazon.set_faults(Faults {
        expire_tokens: true,
        ..Faults::default()
    });

    wait_until_settled(&mut daemon, SETTLE, || {
        let Some(conn) = setup.database() else {
            return Some("no database yet".into());
        };
        let cancelled = placed
            .iter()
            .filter(|id| amazon.order(id).is_some_and(|o| o.status == "CANCELLED"))
            .count();
        still_open(&[
            (
                "Amazon orders undecided",
                ORDERS as i64
                    - count(
                        &conn,
                        "SELECT COUNT(*) FROM decisions d JOIN orders o ON o.id = d.order_pk
                         WHERE o.channel = 'amazon-fr'",
                    ),
            ),
            (
                "decisions not confirmed",
                count(
                    &conn,
                    "SELECT COUNT(*) FROM decisions WHERE outcome IS NULL",
                ),
            ),
            (
                "refused orders not cancelled on Amazon",
                (ORDERS - STOCK as usize - cancelled) as i64,
            ),
        ])
    })
    .await;
    daemon.signal(Signal::SIGTERM);
    assert!(daemon.wait().success());

    let orders: Vec<_> = placed.iter().map(|id| amazon.order(id).unwrap()).collect();
    let cancelled: Vec<_> = orders.iter().filter(|o| o.status == "CANCELLED").collect();
    assert_eq!(cancelled.len(), ORDERS - STOCK as usize, "{orders:#?}");
    for order in &cancelled {
        assert_eq!(
            order.cancelled,
            Some(("MERCHANT".to_owned(), "NoInventory".to_owned()))
        );
        let applied = amazon
            .feeds()
            .iter()
            .filter(|f| f.status == "DONE" && f.content.contains(&order.id))
            .count();
        assert_eq!(applied, 1, "{} cancelled once", order.id);
    }
    assert!(
        amazon.request_count("token") > logins_before,
        "logged in again once the tokens expired"
    );
    let fatal = amazon
        .feeds()
        .iter()
        .filter(|f| f.status == "FATAL")
        .count();
    println!(
        "amazon fault figures: {ORDERS} orders, {} refused; {fatal} feeds ended FATAL then were sent again; \
         requests by operation {:?}",
        cancelled.len(),
        amazon.request_counts()
    );
}
