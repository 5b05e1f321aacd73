//! Catching up (issue 11, item 8): after a burst, a poll reads what changed since the last
//! one instead of paging the whole burst again; orders seen before any inventory are decided
//! as soon as the first snapshot lands, not at the next sweep of the queue.

mod common;

use std::time::{Duration, Instant};

use common::rig::Rig;
use common::{Daemon, PATIENCE, Setup, vigie};
use rust_decimal::Decimal;
use vigie_fnac::sandbox as fnac;
use vigie_mirakl::sandbox::OrderSpec;

const BURST: usize = 3_000;

/// Order-list pages each marketplace served so far: Mirakl's OR11, Fnac's orders_query.
fn pages(rig: &Rig) -> (u64, u64) {
    (
        rig.markets.mirakl.request_count("OR11"),
        rig.markets.fnac.requests("orders_query"),
    )
}

fn place_on_both(rig: &Rig, sku: &str) {
    rig.markets
        .mirakl
        .add_order(OrderSpec::new().line(sku, 1, Decimal::TEN));
    rig.markets
        .fnac
        .add_order(fnac::OrderSpec::new(vec![fnac::LineSpec::new(
            sku,
            1,
            Decimal::TEN,
        )]));
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_burst_a_poll_reads_one_page_not_the_burst_again() {
    let rig = Rig::start(11, &[]).await;
    let setup = Setup::new(&rig.channels(
        "1m",
        "{ orders_per_minute = 6000, stock_imports_per_minute = 6000 }",
        "{ requests_per_minute = 6000 }",
    ));
    for _ in 0..BURST {
        place_on_both(&rig, "BURST");
    }
    // The burst is read (and, without an inventory, left undecided: nothing changes it on
    // the marketplace), then the overlap behind it is read once more.
    for _ in 0..2 {
        vigie(&setup.config, &["run", "--once"]).await;
    }

    let mut per_poll = Vec::new();
    for _ in 0..3 {
        place_on_both(&rig, "NEW");
        let before = pages(&rig);
        vigie(&setup.config, &["run", "--once"]).await;
        let after = pages(&rig);
        per_poll.push((after.0 - before.0, after.1 - before.1));
    }
    println!(
        "pages a poll after a burst of {BURST} orders on each marketplace (Mirakl, Fnac): {per_poll:?}"
    );
    assert!(
        per_poll.iter().all(|&pages| pages == (1, 1)),
        "a poll re-paged the burst: {per_poll:?}"
    );
    let out = vigie(&setup.config, &["orders", "--json"]).await;
    let orders: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(orders.len(), 2 * (BURST + 3), "every order was read");
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_seen_before_any_inventory_are_decided_when_the_snapshot_lands() {
    let sandbox = vigie_mirakl::sandbox::MiraklSandbox::start(Default::default())
        .await
        .unwrap();
    let orders: Vec<String> = (0..3)
        .map(|_| sandbox.add_order(OrderSpec::new().line("LAMP", 1, Decimal::TEN)))
        .collect();
    let csv = tempfile::tempdir().unwrap();
    let stock = csv.path().join("stock.csv");
    // Polled once an hour: only the snapshot can bring the decisions within the test.
    let setup = Setup::new(&format!(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"{}\"\n\
         poll_interval = \"1h\"\nlimits = {{ orders_per_minute = 600 }}\n[inventory]\nsource = \"csv\"\npath = \"{}\"\n",
        sandbox.base_url(),
        sandbox.api_key(),
        stock.display()
    ));
    let daemon = Daemon::start(&setup.config, &["run"], &[]);
    daemon.wait_for_log("wait for a decision: no inventory loaded yet");
    let polls = sandbox.request_count("OR11");

    let aside = csv.path().join("stock.csv.new");
    std::fs::write(&aside, "sku,quantity\nLAMP,10\n").unwrap();
    std::fs::rename(&aside, &stock).unwrap();
    let landed = Instant::now();
    let deadline = landed + PATIENCE;
    while !orders
        .iter()
        .all(|id| sandbox.order(id).is_some_and(|o| o.state == "SHIPPING"))
    {
        assert!(
            Instant::now() < deadline,
            "orders still undecided after the snapshot:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "3 waiting orders accepted {:?} after the snapshot was written (the CSV watcher looks every 2 s)",
        landed.elapsed()
    );
    assert_eq!(
        sandbox.request_count("OR11"),
        polls,
        "decided from the store, without reading the marketplace again"
    );
}

/// Issue 14 item 2: a cycle whose queue sweep is due reads the queue instead of the changes,
/// never both, so a marketplace allowing one order read a minute (Mirakl's OR11) does not
/// hold the cycle a minute; the next cycle reads the changes.
#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_reads_the_queue_instead_of_the_changes() {
    let sandbox = vigie_mirakl::sandbox::MiraklSandbox::start(Default::default())
        .await
        .unwrap();
    let order = sandbox.add_order(OrderSpec::new().line("LAMP", 1, Decimal::TEN));
    let csv = tempfile::tempdir().unwrap();
    let stock = csv.path().join("stock.csv");
    std::fs::write(&stock, "sku,quantity\nLAMP,10\n").unwrap();
    let setup = Setup::new(&format!(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"{}\"\n\
         limits = {{ orders_per_minute = 600 }}\n[inventory]\nsource = \"csv\"\npath = \"{}\"\n",
        sandbox.base_url(),
        sandbox.api_key(),
        stock.display()
    ));
    let mut reads = Vec::new();
    for _ in 0..2 {
        let before = sandbox.request_count("OR11");
        vigie(&setup.config, &["run", "--once"]).await;
        reads.push(sandbox.request_count("OR11") - before);
    }
    assert_eq!(sandbox.order(&order).unwrap().state, "SHIPPING", "accepted");
    // The first cycle: the orders holding stock (first import), then the queue (the sweep);
    // the second: the changes alone.
    assert_eq!(reads, [2, 1], "OR11 reads per cycle");
}
