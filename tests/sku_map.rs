//! A channel's `sku_map` with the real binary against the Mirakl sandbox: orders reserve the
//! ledger's SKU, pushes carry the marketplace's, a SKU the ledger does not list holds its
//! orders for review with one alert, a bad map is refused by check-config, and a map edited
//! while the daemon runs is followed (a bad version keeps the previous one and alerts).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, PATIENCE, Setup, count, vigie};
use rust_decimal::Decimal;
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};

const MAP: &str = "marketplace_sku,sku\nLM-DRILL,PERCEUSE-18V\n";

fn channel(sandbox: &MiraklSandbox) -> String {
    format!(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"{}\"\nshop_id = {}\n\
         poll_interval = \"1s\"\nsku_map = \"lm-skus.csv\"\n\
         limits = {{ orders_per_minute = 600, stock_imports_per_minute = 600 }}\n",
        sandbox.base_url(),
        sandbox.api_key(),
        sandbox.shop_id()
    )
}

async fn mirakl() -> MiraklSandbox {
    MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap()
}

fn write_map(setup: &Setup, text: &str) {
    std::fs::write(setup.dir.path().join("lm-skus.csv"), text).unwrap();
}

async fn json(config: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&vigie(config, args).await.stdout).unwrap()
}

/// Every (sku, quantity) the sandbox received in stock imports.
fn pushed(sandbox: &MiraklSandbox) -> Vec<(String, u32)> {
    sandbox
        .stock_imports()
        .iter()
        .flat_map(|i| i.lines.iter().map(|l| (l.sku.clone(), l.quantity)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_reserve_the_ledger_sku_and_pushes_carry_the_marketplace_sku() {
    let sandbox = mirakl().await;
    sandbox.set_quantity("LM-DRILL", 5);
    let drill = sandbox.add_order(OrderSpec::new().line("LM-DRILL", 2, Decimal::new(80, 0)));
    let ghosts =
        [1, 2].map(|_| sandbox.add_order(OrderSpec::new().line("GHOST-1", 1, Decimal::new(10, 0))));
    let setup = Setup::new(&channel(&sandbox));
    write_map(&setup, MAP);
    vigie(&setup.config, &["stock", "set", "PERCEUSE-18V", "5"]).await;

    vigie(&setup.config, &["run", "--once"]).await;

    // The mapped order holds the ledger's units and is accepted.
    assert_eq!(sandbox.order(&drill).unwrap().state, "SHIPPING");
    let stock = json(&setup.config, &["stock", "show", "--json"]).await;
    assert_eq!(stock[0]["sku"], "PERCEUSE-18V", "{stock:#}");
    assert_eq!(stock[0]["reserved"], 2, "{stock:#}");
    let orders = json(&setup.config, &["orders", "--json"]).await;
    let order = |id: &str| {
        orders
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["order_id"] == id)
            .unwrap()
    };
    assert_eq!(
        order(&drill)["lines"][0]["sku"],
        "PERCEUSE-18V",
        "{orders:#}"
    );

    // The push names the marketplace's SKU, never the ledger's.
    let pushed = pushed(&sandbox);
    assert!(pushed.contains(&("LM-DRILL".into(), 3)), "{pushed:?}");
    assert!(
        pushed.iter().all(|(sku, _)| sku != "PERCEUSE-18V"),
        "{pushed:?}"
    );

    // A SKU nobody listed holds both orders for review (never refused) with one alert.
    for ghost in &ghosts {
        assert_eq!(order(ghost)["decision"], "flag", "{orders:#}");
        assert_eq!(order(ghost)["reasons"], serde_json::json!(["unknown_sku"]));
        assert_eq!(sandbox.order(ghost).unwrap().state, "WAITING_ACCEPTANCE");
    }
    let db = setup.database().unwrap();
    let alerts = |kind: &str| {
        count(
            &db,
            &format!("SELECT COUNT(*) FROM alerts WHERE kind = '{kind}'"),
        )
    };
    assert_eq!((alerts("unknown_sku"), alerts("order_flagged")), (1, 0));
}

#[test]
fn check_config_names_the_bad_row_of_a_map() {
    let setup = Setup::new(
        &common::mirakl_channel("lm", "https://x.example")
            .replace("poll_interval", "sku_map = \"lm-skus.csv\"\npoll_interval"),
    );
    write_map(&setup, "marketplace_sku,sku\nLM-1,A\nLM-1,B\n");
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--config")
        .arg(&setup.config)
        .arg("check-config")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "channel[0].sku_map",
        "lm-skus.csv",
        r#"line 3: marketplace_sku "LM-1" already appears on line 2"#,
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
}

/// Polls `done` until it holds, failing with the daemon's log after [`PATIENCE`].
async fn wait_until(daemon: &mut Daemon, what: &str, mut done: impl FnMut() -> bool) {
    let began = Instant::now();
    while !done() {
        assert!(daemon.is_running(), "vigie exited:\n{}", daemon.log());
        assert!(
            began.elapsed() < PATIENCE,
            "{what} never happened; log:\n{}",
            common::tail(&daemon.log(), 40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_map_edited_while_running_is_followed_and_a_bad_version_alerts() {
    let sandbox = mirakl().await;
    let setup = Setup::new(&channel(&sandbox));
    write_map(&setup, MAP);
    vigie(&setup.config, &["stock", "set", "PERCEUSE-18V", "4"]).await;
    let mut daemon = Daemon::start(&setup.config, &["run"], &[]);
    wait_until(&mut daemon, "the first push", || {
        pushed(&sandbox).contains(&("LM-DRILL".into(), 4))
    })
    .await;

    let alert = |setup: &Setup| -> Option<(String, bool)> {
        let db = setup.database()?;
        db.query_row(
            "SELECT message, resolved_at IS NULL FROM alerts WHERE kind = 'sku_map_invalid'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()
    };
    write_map(&setup, "marketplace_sku,sku\nLM-DRILL,PERCEUSE-18V\n,X\n");
    wait_until(&mut daemon, "the sku_map_invalid alert", || {
        alert(&setup).is_some()
    })
    .await;
    let (message, open) = alert(&setup).unwrap();
    assert!(open);
    assert!(
        message.contains("lm-skus.csv") && message.contains("line 3: empty marketplace_sku"),
        "{message}"
    );

    // A good version replaces the map whole: the new marketplace SKU is pushed, and the alert
    // is resolved.
    write_map(
        &setup,
        "marketplace_sku,sku\nLM-DRILL,PERCEUSE-18V\nLM-DRILL-XL,PERCEUSE-18V\n",
    );
    wait_until(&mut daemon, "the push to the new marketplace SKU", || {
        pushed(&sandbox).contains(&("LM-DRILL-XL".into(), 4))
    })
    .await;
    wait_until(&mut daemon, "the alert resolved", || {
        alert(&setup).is_some_and(|(_, open)| !open)
    })
    .await;
}
