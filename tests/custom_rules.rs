//! The seller's own rules (`[[rules.custom]]`) with the real binary against both sandboxes:
//! they judge orders on their facts (the customer's history across channels included), a
//! mistake is refused at load naming the rule and the column, a rule that fails on an order
//! holds it and alerts once, and `rules test` / `rules replay` explain and try them.

mod common;

use std::process::Command;

use common::rig::Rig;
use common::{Setup, vigie};
use rust_decimal::Decimal;
use vigie_testkit::{Marketplace, NewOrder};

const STOCK: [(&str, u32); 2] = [("PERC-18V", 50), ("FORET-6", 50)];

const OWN_RULES: &str = r#"
[[rules.custom]]
code = "first_order_above_300"
when = "customer.first_order and order.total > 300"
action = "flag"

[[rules.custom]]
code = "three_within_an_hour"
when = "customer.orders_last_hour >= 3"
action = "flag"
"#;

async fn rig_and_setup(seed: u64, extra: &str) -> (Rig, Setup) {
    let rig = Rig::start(seed, &STOCK).await;
    let channels = rig.channels(
        "1m",
        "{ orders_per_minute = 6000, stock_imports_per_minute = 6000 }",
        "{ requests_per_minute = 6000 }",
    );
    let setup = Setup::with_stock(&format!("{channels}{extra}"), &STOCK).await;
    (rig, setup)
}

fn order(first: &str, last: &str, sku: &str, euros: i64) -> NewOrder {
    NewOrder::new()
        .customer(first, last)
        .line(sku, 1, Decimal::new(euros, 0))
}

async fn json(setup: &Setup, args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&vigie(&setup.config, args).await.stdout).unwrap()
}

fn find<'a>(orders: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == id)
        .unwrap_or_else(|| panic!("no order {id} in {orders:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn own_rules_judge_sandbox_orders_and_rules_test_and_replay_explain_them() {
    let (rig, setup) = rig_and_setup(17, OWN_RULES).await;
    let markets = &rig.markets;
    let ana_first = markets.place(Marketplace::Mirakl, &order("Ana", "Roux", "PERC-18V", 400));
    vigie(&setup.config, &["run", "--once"]).await;
    // The same customer on the other channel: not her first order any more.
    let ana_second = markets.place(Marketplace::Fnac, &order("ana", "ROUX ", "PERC-18V", 400));
    let bo: Vec<String> = (0..3)
        .map(|_| markets.place(Marketplace::Fnac, &order("Bo", "Lin", "FORET-6", 20)))
        .collect();
    vigie(&setup.config, &["run", "--once"]).await;

    let orders = json(&setup, &["orders", "--json"]).await;
    let first = find(&orders, &ana_first);
    assert_eq!(first["decision"], "flag", "{first:#}");
    assert_eq!(
        first["reasons"],
        serde_json::json!(["first_order_above_300"])
    );
    let second = find(&orders, &ana_second);
    assert_eq!(second["decision"], "accept", "{second:#}");
    let bursts: Vec<&serde_json::Value> = bo
        .iter()
        .map(|id| find(&orders, id))
        .filter(|o| o["decision"] == "flag")
        .collect();
    assert_eq!(bursts.len(), 1, "the third of Bo's orders only: {orders:#}");
    assert_eq!(
        bursts[0]["reasons"],
        serde_json::json!(["three_within_an_hour"])
    );

    let tested = json(
        &setup,
        &["rules", "test", &format!("lm:{ana_first}"), "--json"],
    )
    .await;
    assert_eq!(tested["from_judgement"], true);
    assert_eq!(tested["then"]["action"], "flag");
    assert_eq!(tested["now"], tested["then"]);
    let rule = &tested["rules"][0];
    assert_eq!(rule["code"], "first_order_above_300");
    assert_eq!(rule["matched"], true);
    assert_eq!(rule["read"]["customer.first_order"], true);
    assert_eq!(rule["read"]["order.total"], 400.0);
    assert_eq!(tested["facts"]["order"]["channel"], "lm");
    let text = vigie(
        &setup.config,
        &["rules", "test", &format!("fnac:{ana_second}")],
    )
    .await;
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("rule first_order_above_300 (flag): no match"),
        "{text}"
    );
    assert!(text.contains("customer.first_order = false"), "{text}");

    let replay = json(&setup, &["rules", "replay", "--json"]).await;
    assert_eq!(replay["orders"], 5, "{replay:#}");
    assert_eq!(
        replay["changed"], 0,
        "the rules in force decide as they did: {replay:#}"
    );

    // A rule tried before it goes live: what it would change, and nothing written.
    setup.write(&format!(
        "{}{OWN_RULES}\n[[rules.custom]]\ncode = \"over_350\"\nwhen = \"order.total > 350\"\naction = \"refuse\"\n",
        rig.channels(
            "1m",
            "{ orders_per_minute = 6000, stock_imports_per_minute = 6000 }",
            "{ requests_per_minute = 6000 }",
        )
    ));
    let replay = json(&setup, &["rules", "replay", "--since", "1d", "--json"]).await;
    assert_eq!(replay["changed"], 2, "{replay:#}");
    let changes = replay["changes"].as_array().unwrap();
    let pairs: Vec<(&str, &str, u64)> = changes
        .iter()
        .map(|c| {
            (
                c["from"].as_str().unwrap(),
                c["to"].as_str().unwrap(),
                c["orders"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(pairs.contains(&("accept", "refuse", 1)), "{pairs:?}");
    assert!(pairs.contains(&("flag", "refuse", 1)), "{pairs:?}");
    assert_eq!(
        replay["by_reason"],
        serde_json::json!([
            {"code": "first_order_above_300", "gained": 0, "lost": 1},
            {"code": "over_350", "gained": 2, "lost": 0},
        ])
    );
    let text = vigie(&setup.config, &["rules", "replay"]).await;
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("5 orders judged again, 3 unchanged, 2 would change"),
        "{text}"
    );
    assert_eq!(
        json(&setup, &["orders", "--json"]).await,
        orders,
        "replay writes nothing"
    );
}

fn check_config(setup: &Setup) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--config")
        .arg(&setup.config)
        .arg("check-config")
        .env_clear()
        .output()
        .unwrap()
}

/// One valid rule before the one under test, so the key must name the second.
const VALID: &str =
    "\n[[rules.custom]]\ncode = \"big\"\nwhen = \"order.total > 300\"\naction = \"flag\"\n";

#[test]
fn a_bad_rule_is_refused_at_load_naming_the_rule_and_the_column() {
    let channel = common::unreachable_channel("lm");
    for (when, key, needles) in [
        (
            "customer.first_order and",
            "rules.custom[1].when",
            &["column", "unexpected end of input"][..],
        ),
        (
            "customer.first_order and order.totl > 300",
            "rules.custom[1].when",
            &["\"typo\"", "column 26", "order.totl"][..],
        ),
        (
            "order.total + 1",
            "rules.custom[1].when",
            &["\"typo\"", "not true or false"][..],
        ),
    ] {
        let setup = Setup::new(&format!(
            "{channel}{VALID}\n[[rules.custom]]\ncode = \"typo\"\nwhen = \"{when}\"\naction = \"flag\"\n"
        ));
        let out = check_config(&setup);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{when}: {stderr}");
        assert!(stderr.contains(key), "{when}: {stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{when}: {needle}: {stderr}");
        }
    }
    let setup = Setup::new(&format!(
        "{channel}\n[[rules.custom]]\ncode = \"Big Order\"\nwhen = \"true\"\naction = \"flag\"\n"
    ));
    let out = check_config(&setup);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rules.custom[0].code"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_that_fails_on_an_order_holds_it_and_alerts_once() {
    let rig = Rig::start(23, &STOCK).await;
    let failing = "\n[[rules.custom]]\ncode = \"second_line_drill\"\nwhen = \"order.lines[1].sku == 'PERC-18V'\"\naction = \"refuse\"\n";
    let channels = rig.channels(
        "1m",
        "{ orders_per_minute = 6000, stock_imports_per_minute = 6000 }",
        "{ requests_per_minute = 6000 }",
    );
    let setup = Setup::with_stock(
        &format!("{channels}{failing}{}", rig.alerts_webhook()),
        &STOCK,
    )
    .await;
    let ids: Vec<String> = [Marketplace::Mirakl, Marketplace::Fnac]
        .into_iter()
        .map(|on| rig.markets.place(on, &order("Cy", "Vale", "FORET-6", 20)))
        .collect();
    let two_lines = NewOrder::new()
        .customer("Di", "Moss")
        .line("FORET-6", 1, Decimal::TEN)
        .line("PERC-18V", 1, Decimal::TEN);
    let refused = rig.markets.place(Marketplace::Mirakl, &two_lines);
    vigie(&setup.config, &["run", "--once"]).await;

    let orders = json(&setup, &["orders", "--json"]).await;
    for id in &ids {
        let held = find(&orders, id);
        assert_eq!(held["decision"], "flag", "{held:#}");
        assert_eq!(held["reasons"], serde_json::json!(["rule_error"]));
    }
    assert_eq!(find(&orders, &refused)["decision"], "refuse");
    assert_eq!(
        find(&orders, &refused)["reasons"],
        serde_json::json!(["second_line_drill"])
    );

    // `run --once` drains the queue before it exits; a later order the rule fails on is
    // held without a second alert.
    rig.markets
        .place(Marketplace::Fnac, &order("Ed", "Hart", "FORET-6", 20));
    vigie(&setup.config, &["run", "--once"]).await;
    let rule_errors = rig.alerts.of_kind("rule_error");
    assert_eq!(
        rule_errors.len(),
        1,
        "one alert for the rule: {rule_errors:#?}"
    );
    let message = rule_errors[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("second_line_drill"), "{message}");
    assert!(message.contains("vigie rules test"), "{message}");
    assert_eq!(rig.alerts.of_kind("order_flagged").len(), 3);
}
