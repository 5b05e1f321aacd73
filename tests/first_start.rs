//! A channel's first start, with the real binary against both sandboxes: the seller's
//! snapshot counts units promised to orders accepted long ago and not shipped yet; vigie must
//! find those orders, whatever their age, and reserve their units before deciding anything,
//! or it sells the same units again.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Setup, vigie};
use rust_decimal::Decimal;
use serde_json::Value;
use vigie_fnac::sandbox::{self as fnac, FnacSandbox};
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn price(euros: i64) -> Decimal {
    Decimal::new(euros, 0)
}

fn mirakl_channel(sandbox: &MiraklSandbox) -> String {
    format!(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"{}\"\nshop_id = {}\n\
         limits = {{ orders_per_minute = 600, stock_imports_per_minute = 600 }}\n",
        sandbox.base_url(),
        sandbox.api_key(),
        sandbox.shop_id()
    )
}

fn fnac_channel(sandbox: &FnacSandbox) -> String {
    format!(
        "[[channel]]\nname = \"fnac\"\nkind = \"fnac\"\nbase_url = \"{}\"\npartner_id = \"{}\"\nshop_id = \"{}\"\n\
         key = \"{}\"\nlimits = {{ requests_per_minute = 6000 }}\n",
        sandbox.base_url(),
        sandbox.partner_id(),
        sandbox.shop_id(),
        sandbox.key()
    )
}

/// A Mirakl order of `quantity` units of `sku`, put in `state` `age` ago.
fn old_mirakl_order(
    sandbox: &MiraklSandbox,
    sku: &str,
    quantity: u32,
    state: &str,
    age: Duration,
) -> String {
    let id = sandbox.add_order(OrderSpec::new().line(sku, quantity, price(20)));
    sandbox.force_state(&id, state).unwrap();
    sandbox.backdate(&id, age).unwrap();
    id
}

async fn json(config: &Path, args: &[&str]) -> Value {
    serde_json::from_slice(&vigie(config, args).await.stdout).unwrap()
}

fn order<'a>(orders: &'a Value, id: &str) -> &'a Value {
    orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == id)
        .unwrap_or_else(|| panic!("no order {id} in {orders:#}"))
}

fn sku<'a>(stock: &'a Value, sku: &str) -> &'a Value {
    stock
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sku"] == sku)
        .unwrap_or_else(|| panic!("no SKU {sku} in {stock:#}"))
}

/// `importing` of each channel, as `status --json` says it.
async fn importing(config: &Path) -> Vec<(String, bool)> {
    let status = json(config, &["status", "--json"]).await;
    status["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let flag = c["importing"]
                .as_bool()
                .unwrap_or_else(|| panic!("{status:#}"));
            (c["name"].as_str().unwrap().to_owned(), flag)
        })
        .collect()
}

/// The last quantity of `sku` the Mirakl sandbox was sent.
fn mirakl_pushed(sandbox: &MiraklSandbox, sku: &str) -> Option<u32> {
    sandbox
        .stock_imports()
        .iter()
        .flat_map(|i| i.lines.iter())
        .filter(|l| l.sku == sku)
        .map(|l| l.quantity)
        .next_back()
}

fn fnac_pushed(sandbox: &FnacSandbox, sku: &str) -> Option<u32> {
    sandbox
        .offers_updates()
        .iter()
        .flat_map(|u| u.offers.iter())
        .filter(|o| o.sku == sku)
        .filter_map(|o| o.quantity)
        .next_back()
}

#[tokio::test(flavor = "multi_thread")]
async fn old_accepted_orders_hold_their_units_from_the_first_cycle_and_on_a_channel_added_later() {
    // The seller holds 5 A and 4 B, and says so: 4 A and the 4 B are promised to Mirakl orders
    // accepted days or weeks ago, not shipped yet, which no 24-hour look-back reaches.
    let lm = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    lm.set_quantity("A", 1);
    lm.set_quantity("B", 0);
    let shipping = old_mirakl_order(&lm, "A", 3, "SHIPPING", DAY * 3);
    let debit = old_mirakl_order(&lm, "A", 1, "WAITING_DEBIT", DAY * 40);
    let payment = old_mirakl_order(&lm, "B", 4, "WAITING_DEBIT_PAYMENT", DAY * 2);
    let shipped = old_mirakl_order(&lm, "A", 2, "SHIPPED", DAY * 3);
    // A new order wants 2 A: one is left.
    let wants_two = lm.add_order(OrderSpec::new().line("A", 2, price(20)));

    let setup = Setup::new(&mirakl_channel(&lm));
    vigie(&setup.config, &["stock", "set", "A", "5"]).await;
    vigie(&setup.config, &["stock", "set", "B", "4"]).await;
    assert_eq!(importing(&setup.config).await, [("lm".to_owned(), true)]);

    vigie(&setup.config, &["run", "--once"]).await;

    assert_eq!(importing(&setup.config).await, [("lm".to_owned(), false)]);
    let orders = json(&setup.config, &["orders", "--json"]).await;
    for id in [&shipping, &debit, &payment] {
        let old = order(&orders, id);
        assert_eq!(old["status"], "accepted", "{old:#}");
        assert_eq!(
            old["decision"],
            Value::Null,
            "already accepted: never decided"
        );
    }
    let refused = order(&orders, &wants_two);
    assert_eq!(refused["decision"], "refuse", "{refused:#}");
    assert_eq!(
        refused["reasons"],
        serde_json::json!(["insufficient_stock"])
    );
    assert_eq!(lm.order(&wants_two).unwrap().state, "REFUSED");
    assert!(
        orders
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["order_id"] != shipped.as_str()),
        "a shipped order holds nothing and is not imported"
    );
    let stock = json(&setup.config, &["stock", "show", "--json"]).await;
    assert_eq!(sku(&stock, "A")["reserved"], 4, "{stock:#}");
    assert_eq!(sku(&stock, "A")["available"], 1, "{stock:#}");
    assert_eq!(sku(&stock, "B")["reserved"], 4, "{stock:#}");
    assert_eq!(mirakl_pushed(&lm, "A"), Some(1));
    assert_eq!(mirakl_pushed(&lm, "B"), Some(0));

    // A Fnac shop joins, where the seller accepted one A in the back office a week ago; a
    // new Fnac order then wants the last A.
    let fnac = FnacSandbox::start(fnac::SandboxOptions::default())
        .await
        .unwrap();
    fnac.set_quantity("A", 1);
    let one_a = || fnac::OrderSpec::new(vec![fnac::LineSpec::new("A", 1, price(20))]);
    let to_ship = fnac.add_order(one_a());
    assert!(fnac.accept_elsewhere(&to_ship) && fnac.debit(&to_ship));
    assert!(fnac.backdate(&to_ship, DAY * 7));
    let wants_last = fnac.add_order(one_a());
    setup.write(&format!("{}{}", mirakl_channel(&lm), fnac_channel(&fnac)));
    assert_eq!(
        importing(&setup.config).await,
        [("lm".to_owned(), false), ("fnac".to_owned(), true)]
    );

    vigie(&setup.config, &["run", "--once"]).await;

    assert_eq!(
        importing(&setup.config).await,
        [("lm".to_owned(), false), ("fnac".to_owned(), false)]
    );
    let orders = json(&setup.config, &["orders", "--json"]).await;
    assert_eq!(order(&orders, &to_ship)["status"], "accepted");
    assert_eq!(order(&orders, &to_ship)["decision"], Value::Null);
    assert_eq!(order(&orders, &wants_last)["decision"], "refuse");
    let stock = json(&setup.config, &["stock", "show", "--json"]).await;
    assert_eq!(sku(&stock, "A")["reserved"], 5, "{stock:#}");
    assert_eq!(sku(&stock, "A")["available"], 0, "{stock:#}");
    assert_eq!(mirakl_pushed(&lm, "A"), Some(0));
    assert_eq!(fnac_pushed(&fnac, "A"), Some(0));
}
