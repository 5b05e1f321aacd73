//! The real binary against both sandboxes: orders are decided by the rules, decisions reach
//! the marketplace, quantities are pushed, and the last unit is never sold twice.

mod common;

use std::path::Path;

use common::{Setup, vigie};
use rust_decimal::Decimal;
use vigie_fnac::sandbox::{self as fnac, FnacSandbox};
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};

async fn orders(config: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["orders", "--json"];
    all.extend_from_slice(args);
    serde_json::from_slice(&vigie(config, &all).await.stdout).unwrap()
}

fn price(euros: i64) -> Decimal {
    Decimal::new(euros, 0)
}

async fn mirakl() -> MiraklSandbox {
    MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap()
}

fn mirakl_channel(name: &str, sandbox: &MiraklSandbox) -> String {
    format!(
        "[[channel]]\nname = \"{name}\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"{}\"\nshop_id = {}\n\
         limits = {{ orders_per_minute = 600, stock_imports_per_minute = 600 }}\n",
        sandbox.base_url(),
        sandbox.api_key(),
        sandbox.shop_id()
    )
}

fn fnac_channel(name: &str, sandbox: &FnacSandbox) -> String {
    format!(
        "[[channel]]\nname = \"{name}\"\nkind = \"fnac\"\nbase_url = \"{}\"\npartner_id = \"{}\"\nshop_id = \"{}\"\n\
         key = \"{}\"\nlimits = {{ requests_per_minute = 6000 }}\n",
        sandbox.base_url(),
        sandbox.partner_id(),
        sandbox.shop_id(),
        sandbox.key()
    )
}

fn decision_of<'a>(orders: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    let order = orders
        .iter()
        .find(|o| o["order_id"] == id)
        .unwrap_or_else(|| panic!("no order {id} in {orders:#?}"));
    &order["decision"]
}

#[tokio::test(flavor = "multi_thread")]
async fn mirakl_round_trip_accepts_refuses_and_pushes() {
    let sandbox = mirakl().await;
    for (sku, qty) in [("SKU-A", 5), ("SKU-B", 1), ("SKU-Z", 0)] {
        sandbox.set_quantity(sku, qty);
    }
    let stocked = sandbox.add_order(OrderSpec::new().line("SKU-A", 2, price(20)));
    let unstocked = sandbox.add_order(OrderSpec::new().line("SKU-Z", 1, price(15)));
    let setup = Setup::new(&mirakl_channel("lm", &sandbox));
    vigie(&setup.config, &["stock", "set", "SKU-A", "5"]).await;
    vigie(&setup.config, &["stock", "set", "SKU-B", "1"]).await;
    // Listed with none left: refused for want of stock (a SKU never listed is held instead).
    vigie(&setup.config, &["stock", "set", "SKU-Z", "0"]).await;

    vigie(&setup.config, &["run", "--once"]).await;

    assert_eq!(sandbox.order(&stocked).unwrap().state, "SHIPPING");
    assert_eq!(sandbox.order(&unstocked).unwrap().state, "REFUSED");
    let listed = orders(&setup.config, &[]).await;
    assert_eq!(decision_of(&listed, &stocked), "accept");
    assert_eq!(decision_of(&listed, &unstocked), "refuse");
    let refused = listed.iter().find(|o| o["order_id"] == unstocked).unwrap();
    assert_eq!(
        refused["reasons"],
        serde_json::json!(["insufficient_stock"])
    );
    assert_eq!(refused["lines"][0]["accepted"], false);

    let pushed: Vec<(String, u32)> = sandbox
        .stock_imports()
        .iter()
        .flat_map(|i| i.lines.iter().map(|l| (l.sku.clone(), l.quantity)))
        .collect();
    assert!(pushed.contains(&("SKU-A".into(), 3)), "{pushed:?}");
    assert!(pushed.contains(&("SKU-B".into(), 1)), "{pushed:?}");

    let status: serde_json::Value =
        serde_json::from_slice(&vigie(&setup.config, &["status", "--json"]).await.stdout).unwrap();
    let kpis = &status["channels"][0]["kpis"];
    assert_eq!(
        (kpis["decided"].as_i64(), kpis["accepted"].as_i64()),
        (Some(2), Some(1)),
        "{status:#}"
    );
    assert_eq!(kpis["acceptance_rate"], 0.5);

    // The report counts the same orders over its window, and none in the window before.
    let report: serde_json::Value = serde_json::from_slice(
        &vigie(&setup.config, &["report", "--since", "1d", "--json"])
            .await
            .stdout,
    )
    .unwrap();
    let channel = &report["channels"][0];
    assert_eq!(
        (
            channel["kpis"]["received"].as_i64(),
            channel["kpis"]["accepted"].as_i64(),
            channel["kpis"]["refused"].as_i64(),
            channel["previous"]["received"].as_i64()
        ),
        (Some(2), Some(1), Some(1), Some(0)),
        "{report:#}"
    );
    let accepted: i64 = channel["time_to_accept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["orders"].as_i64().unwrap())
        .sum();
    assert_eq!(accepted, 1, "{report:#}");
    let text = vigie(&setup.config, &["report"]).await;
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("acceptance rate"),
        "{text:?}"
    );

    // A second run decides nothing twice and pushes nothing new.
    let imports = sandbox.stock_imports().len();
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.stock_imports().len(), imports);
    assert_eq!(
        sandbox.request_count("OR21"),
        2,
        "{:?}",
        sandbox.request_counts()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_unit_is_sold_once_across_two_channels() {
    let mirakl = mirakl().await;
    let fnac = FnacSandbox::start(fnac::SandboxOptions::default())
        .await
        .unwrap();
    mirakl.set_quantity("LAST", 1);
    fnac.set_quantity("LAST", 1);
    let on_mirakl = mirakl.add_order(OrderSpec::new().line("LAST", 1, price(99)));
    let on_fnac = fnac.add_order(fnac::OrderSpec::new(vec![fnac::LineSpec::new(
        "LAST",
        1,
        price(99),
    )]));
    let setup = Setup::new(&(mirakl_channel("lm", &mirakl) + &fnac_channel("fnac", &fnac)));
    vigie(&setup.config, &["stock", "set", "LAST", "1"]).await;

    vigie(&setup.config, &["run", "--once"]).await;

    let listed = orders(&setup.config, &[]).await;
    let decisions = [
        decision_of(&listed, &on_mirakl),
        decision_of(&listed, &on_fnac),
    ];
    assert_eq!(
        decisions.iter().filter(|d| **d == "accept").count(),
        1,
        "{listed:#?}"
    );
    assert_eq!(
        decisions.iter().filter(|d| **d == "refuse").count(),
        1,
        "{listed:#?}"
    );
    let mirakl_pushed = mirakl
        .stock_imports()
        .iter()
        .flat_map(|i| i.lines.clone())
        .rfind(|l| l.sku == "LAST");
    assert_eq!(mirakl_pushed.map(|l| l.quantity), Some(0));
    let fnac_pushed = fnac
        .offers_updates()
        .iter()
        .flat_map(|u| u.offers.clone())
        .rfind(|o| o.sku == "LAST");
    assert_eq!(fnac_pushed.and_then(|o| o.quantity), Some(0));

    let stock: serde_json::Value = serde_json::from_slice(
        &vigie(&setup.config, &["stock", "show", "LAST", "--json"])
            .await
            .stdout,
    )
    .unwrap();
    assert_eq!(stock[0]["available"], 0);
    assert_eq!(stock[0]["reserved"], 1);
    assert_eq!(stock[0]["pushed"], serde_json::json!({"fnac": 0, "lm": 0}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flagged_order_waits_for_review_then_is_accepted() {
    let sandbox = mirakl().await;
    sandbox.set_quantity("VASE", 3);
    let big = sandbox.add_order(OrderSpec::new().line("VASE", 1, price(800)));
    let setup = Setup::new(&(mirakl_channel("lm", &sandbox) + "[rules]\nflag_total_above = 500\n"));
    vigie(&setup.config, &["stock", "set", "VASE", "3"]).await;

    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.order(&big).unwrap().state, "WAITING_ACCEPTANCE");
    let flagged = orders(&setup.config, &["--status", "flagged"]).await;
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
    assert_eq!(flagged[0]["decision"], "flag");
    assert_eq!(flagged[0]["reasons"], serde_json::json!(["total_above"]));

    let order = format!("lm:{big}");
    vigie(
        &setup.config,
        &["review", "accept", &order, "--reason", "known customer"],
    )
    .await;
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.order(&big).unwrap().state, "SHIPPING");
    assert!(
        orders(&setup.config, &["--status", "flagged"])
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_changes_nothing_on_the_marketplace() {
    let sandbox = mirakl().await;
    sandbox.set_quantity("SKU-A", 5);
    let order = sandbox.add_order(OrderSpec::new().line("SKU-A", 1, price(20)));
    let setup = Setup::new(&mirakl_channel("lm", &sandbox));
    vigie(&setup.config, &["stock", "set", "SKU-A", "5"]).await;

    let out = vigie(&setup.config, &["run", "--once", "--dry-run"]).await;
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("dry run: would accept"), "{log}");
    assert_eq!(sandbox.order(&order).unwrap().state, "WAITING_ACCEPTANCE");
    assert!(sandbox.stock_imports().is_empty());
    assert_eq!(sandbox.request_count("OR21"), 0);
    // nothing was stored either: a real run sees the order as new and decides afresh
    assert!(orders(&setup.config, &[]).await.is_empty());
    vigie(&setup.config, &["run", "--once"]).await;
    assert_eq!(sandbox.order(&order).unwrap().state, "SHIPPING");
}

#[tokio::test(flavor = "multi_thread")]
async fn review_through_the_cli_while_the_daemon_runs() {
    let sandbox = mirakl().await;
    sandbox.set_quantity("VASE", 3);
    let setup = Setup::new(
        &(mirakl_channel("lm", &sandbox).replace("limits", "poll_interval = \"200ms\"\nlimits")
            + "[rules]\nflag_sku_tags = [\"fragile\"]\n"),
    );
    let csv = setup.dir.path().join("stock.csv");
    std::fs::write(&csv, "sku,quantity,tags\nVASE,3,fragile\n").unwrap();
    vigie(&setup.config, &["stock", "import", csv.to_str().unwrap()]).await;
    let mut daemon = common::Daemon::start(&setup.config, &["run"], &[]);
    let fragile = sandbox.add_order(OrderSpec::new().line("VASE", 1, price(45)));

    let deadline = std::time::Instant::now() + common::PATIENCE;
    while orders(&setup.config, &["--status", "flagged"])
        .await
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "never flagged:\n{}",
            daemon.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sandbox.order(&fragile).unwrap().state, "WAITING_ACCEPTANCE");
    vigie(
        &setup.config,
        &[
            "review",
            "refuse",
            &format!("lm:{fragile}"),
            "--reason",
            "cannot ship glass",
        ],
    )
    .await;
    while sandbox.order(&fragile).unwrap().state != "REFUSED" {
        assert!(
            std::time::Instant::now() < deadline,
            "review not sent:\n{}",
            daemon.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stock: serde_json::Value = serde_json::from_slice(
        &vigie(&setup.config, &["stock", "show", "VASE", "--json"])
            .await
            .stdout,
    )
    .unwrap();
    assert_eq!(
        stock[0]["reserved"], 0,
        "the refused order's unit is released"
    );
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        tokio::task::spawn_blocking(move || daemon.wait())
            .await
            .unwrap()
            .success()
    );
}
