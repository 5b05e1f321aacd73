//! `cargo bench --bench rules_replay`: how long `vigie rules replay` takes over 10,000 judged
//! orders of 1,000 customers on two channels, with the reference configuration's own rules.
//! Prints the figures; asserts nothing about speed.

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use vigie::config::{self, Config, Environment};
use vigie::pipeline::decide::{self, Policy};
use vigie::store::{self, Store, orders, stock};
use vigie::trial;
use vigie_connector::{
    Address, Country, Customer, MarketplaceState, Money, Order, OrderLine, OrderStatus,
};

const ORDERS: usize = 10_000;
const CUSTOMERS: usize = 1_000;
const SKUS: [(&str, &[&str]); 3] = [("A", &[]), ("B", &["fragile"]), ("C", &["bulky"])];

fn config(dir: &std::path::Path, extra_rule: &str) -> Config {
    let text = format!(
        r#"[daemon]
state_dir = "{}"

[[channel]]
name = "lm"
kind = "mirakl"
base_url = "http://127.0.0.1:1"
api_key = "k"

[rules]
flag_total_above = 500

[[rules.custom]]
code = "first_order_above_300"
when = "customer.first_order and order.total > 300"
action = "flag"

[[rules.custom]]
code = "bulky_to_corsica"
when = "'bulky' in order.tags and shipping.postal_code is startingwith('20')"
action = "refuse"

[[rules.custom]]
code = "three_orders_within_an_hour"
when = "customer.orders_last_hour >= 3"
action = "flag"
{extra_rule}"#,
        dir.display()
    );
    config::parse(&text, &dir.join("vigie.toml"), &Environment::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn order(n: usize, created_at: Timestamp) -> Order {
    let state = MarketplaceState::new("WAITING_ACCEPTANCE", OrderStatus::AwaitingAcceptance);
    let customer = n * 7919 % CUSTOMERS;
    let sku = SKUS[n % SKUS.len()].0;
    Order {
        id: format!("o{n}"),
        reference: format!("o{n}"),
        state: state.clone(),
        created_at,
        updated_at: created_at,
        acceptance_deadline: None,
        shipping_deadline: None,
        customer: Customer {
            first_name: Some(format!("First{customer}")),
            last_name: Some(format!("Last{customer}")),
            email: None,
            locale: None,
        },
        destination_hints: Default::default(),
        shipping_address: Some(Address {
            street: vec!["1 rue de la Paix".into()],
            postal_code: Some(
                if n.is_multiple_of(10) {
                    "20000"
                } else {
                    "75002"
                }
                .into(),
            ),
            city: Some("Paris".into()),
            country: Country::parse("FR"),
            ..Address::default()
        }),
        lines: vec![OrderLine {
            id: "l0".into(),
            sku: sku.into(),
            title: None,
            quantity: 1,
            price: Money::new(Decimal::from(n % 600), "EUR"),
            state,
            cancellations: Vec::new(),
        }],
        total: Money::new(Decimal::from(n % 600), "EUR"),
        shipment: None,
        incident: None,
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let in_force = config(dir.path(), "");
    let store = Store::open(dir.path()).unwrap();
    let seeding = Instant::now();
    let start: Timestamp = "2026-11-01T08:00:00Z".parse().unwrap();
    store
        .with(|conn| {
            let tx = conn.transaction()?;
            for (sku, tags) in SKUS {
                let tags = tags.iter().map(|t| (*t).to_owned()).collect();
                let item = stock::StockItem {
                    sku: sku.into(),
                    quantity: 1_000_000,
                    tags,
                };
                stock::set(&tx, &item, &store::now_text())?;
            }
            for n in 0..ORDERS {
                let at = start + SignedDuration::from_secs(90 * n as i64);
                let channel = ["lm", "fnac"][n % 2];
                let policy = Policy {
                    channel,
                    rules: &in_force.rules,
                    safety_buffer: 0,
                    partial_acceptance: false,
                    timezone: &in_force.daemon.timezone,
                };
                let order = order(n, at);
                let now = store::time_text(at);
                let (pk, _) = orders::ingest(&tx, channel, &order, Default::default(), &now)?;
                decide::apply(&tx, &policy, pk, &order, &now)?;
            }
            tx.commit()?;
            Ok(())
        })
        .unwrap();
    println!("seeded {ORDERS} judged orders in {:.1?}", seeding.elapsed());

    let trial_rule = "\n[[rules.custom]]\ncode = \"over_250\"\nwhen = \"order.total > 250\"\naction = \"flag\"\n";
    for (what, rules) in [
        ("the rules in force", in_force.clone()),
        ("with one more rule", config(dir.path(), trial_rule)),
    ] {
        let began = Instant::now();
        let replay = store
            .with(|conn| trial::replay(conn, &rules, Timestamp::UNIX_EPOCH))
            .unwrap();
        let took = began.elapsed();
        println!(
            "rules replay, {what}: {} orders in {took:.1?} ({:.0} orders/s), {} would change",
            replay.report.orders,
            replay.report.orders as f64 / took.as_secs_f64(),
            replay.report.changed
        );
    }
}
