//! Replaying the rules that were in force changes nothing, whatever the orders, customers,
//! cancellations and stock: `rules replay` judges each order from what its judgement kept,
//! and its customer's history as it stood then.

use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use rust_decimal::Decimal;
use vigie::config::{self, Config, Environment};
use vigie::pipeline::decide::{self, Policy};
use vigie::store::{self, Store, orders, stock};
use vigie::trial;
use vigie_connector::{
    Address, Country, Customer, MarketplaceState, Money, Order, OrderLine, OrderStatus,
};

const CHANNELS: [&str; 2] = ["lm", "fnac"];
/// SKU, tags.
const SKUS: [(&str, &str); 3] = [("A", "[]"), ("B", "[\"fragile\"]"), ("C", "[\"bulky\"]")];
const NAMES: [Option<(&str, &str)>; 4] = [
    Some(("Ana", "Roux")),
    Some(("Bo", "Lin")),
    Some(("  ana ", "ROUX")),
    None,
];

/// The seller's own rules a run may have in force.
const RULES: [(&str, &str, &str); 8] = [
    (
        "first_big",
        "customer.first_order and order.total > 300",
        "flag",
    ),
    ("burst", "customer.orders_last_hour >= 3", "flag"),
    (
        "cancelled_before",
        "customer.orders_last_day >= 2 and customer.past_cancellations > 0",
        "refuse",
    ),
    (
        "fragile_abroad",
        "'fragile' in order.tags and shipping.country != 'FR'",
        "refuse",
    ),
    ("night", "now.hour < 8 or now.weekday == 7", "flag"),
    ("anonymous", "not customer.known", "flag"),
    (
        "refused_before",
        "customer.past_refusals > 0 and order.quantity > 2",
        "flag",
    ),
    ("second_line", "order.lines[1].sku == 'A'", "flag"),
];

#[derive(Debug, Clone)]
enum Step {
    Order {
        channel: usize,
        customer: usize,
        lines: Vec<(usize, u32)>,
        total: i64,
        abroad: bool,
        hidden: bool,
        /// Minutes between the order's creation and now.
        age: i64,
    },
    /// An earlier order is cancelled.
    Cancel(usize),
    /// Time passes.
    Wait(i64),
}

fn step() -> impl Strategy<Value = Step> {
    let order = (
        0..CHANNELS.len(),
        0..NAMES.len(),
        prop::collection::vec((0..SKUS.len(), 1..4u32), 1..3),
        20..600i64,
        any::<bool>(),
        any::<bool>(),
        0..30i64,
    )
        .prop_map(
            |(channel, customer, lines, total, abroad, hidden, age)| Step::Order {
                channel,
                customer,
                lines,
                total,
                abroad,
                hidden,
                age,
            },
        );
    prop_oneof![
        6 => order,
        1 => any::<usize>().prop_map(Step::Cancel),
        2 => (1..600i64).prop_map(Step::Wait),
    ]
}

fn config_with(dir: &Path, rules: &[bool], flag_total: bool) -> Config {
    let mut text = format!(
        "[daemon]\nstate_dir = \"{}\"\n\n[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\n\
         base_url = \"http://127.0.0.1:1\"\napi_key = \"k\"\n\n[rules]\n\
         allowed_countries = [\"FR\", \"BE\"]\n",
        dir.display()
    );
    if flag_total {
        text.push_str("flag_total_above = 450\n");
    }
    for ((code, when, action), _) in RULES.iter().zip(rules).filter(|(_, on)| **on) {
        text.push_str(&format!(
            "\n[[rules.custom]]\ncode = \"{code}\"\nwhen = \"{when}\"\naction = \"{action}\"\n"
        ));
    }
    config::parse(&text, &dir.join("vigie.toml"), &Environment::default()).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn order(
    id: usize,
    customer: usize,
    lines: &[(usize, u32)],
    total: i64,
    abroad: bool,
    hidden: bool,
    created_at: Timestamp,
    status: OrderStatus,
) -> Order {
    let state = MarketplaceState::new(status.as_str().to_uppercase(), status);
    let name = NAMES[customer];
    Order {
        id: format!("o{id}"),
        reference: format!("o{id}"),
        state: state.clone(),
        created_at,
        updated_at: created_at,
        acceptance_deadline: None,
        shipping_deadline: None,
        customer: Customer {
            first_name: name.map(|(first, _)| first.to_owned()),
            last_name: name.map(|(_, last)| last.to_owned()),
            email: Some(format!("relay-{id}@example.org")),
            locale: None,
        },
        destination_hints: Default::default(),
        shipping_address: (!hidden).then(|| Address {
            street: vec!["1 rue de la Paix".into()],
            postal_code: Some("75002".into()),
            city: Some("Paris".into()),
            country: Country::parse(if abroad { "DE" } else { "FR" }),
            ..Address::default()
        }),
        lines: lines
            .iter()
            .enumerate()
            .map(|(n, (sku, quantity))| OrderLine {
                id: format!("l{n}"),
                sku: SKUS[*sku].0.to_owned(),
                title: None,
                quantity: *quantity,
                price: Money::new(Decimal::TEN, "EUR"),
                state: state.clone(),
                cancellations: Vec::new(),
            })
            .collect(),
        total: Money::new(Decimal::new(total, 0), "EUR"),
        shipment: None,
        incident: None,
    }
}

fn apply(store: &Store, config: &Config, channel: &str, order: &Order, now: Timestamp) {
    let policy = Policy {
        channel,
        rules: &config.rules,
        safety_buffer: 0,
        partial_acceptance: channel == "lm",
        timezone: &config.daemon.timezone,
    };
    store
        .with(|conn| {
            let now = store::time_text(now);
            let tx = conn.transaction()?;
            let (pk, _) = orders::ingest(&tx, channel, order, Default::default(), &now)?;
            decide::apply(&tx, &policy, pk, order, &now)?;
            tx.commit()?;
            Ok(())
        })
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn replaying_the_rules_in_force_changes_nothing(
        rules in prop::collection::vec(any::<bool>(), RULES.len()),
        flag_total in any::<bool>(),
        snapshot in prop::collection::vec(0..6u32, SKUS.len()),
        steps in prop::collection::vec(step(), 1..30),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = config_with(dir.path(), &rules, flag_total);
        let store = Store::open(dir.path()).unwrap();
        store.with(|c| {
            for ((sku, tags), quantity) in SKUS.iter().zip(&snapshot) {
                let tags: Vec<String> = serde_json::from_str(tags).unwrap();
                let item = stock::StockItem { sku: (*sku).to_owned(), quantity: *quantity, tags };
                stock::set(c, &item, &store::now_text())?;
            }
            Ok(())
        }).unwrap();

        let mut now: Timestamp = "2026-11-20T05:00:00Z".parse().unwrap();
        let mut placed: Vec<(usize, Order)> = Vec::new();
        for step in steps {
            now = now.checked_add(SignedDuration::from_secs(1)).unwrap();
            match step {
                Step::Order { channel, customer, lines, total, abroad, hidden, age } => {
                    let created = now.checked_sub(SignedDuration::from_mins(age)).unwrap();
                    let new = order(placed.len(), customer, &lines, total, abroad, hidden, created,
                                    OrderStatus::AwaitingAcceptance);
                    apply(&store, &config, CHANNELS[channel], &new, now);
                    placed.push((channel, new));
                }
                Step::Cancel(n) if !placed.is_empty() => {
                    let (channel, placed_order) = &placed[n % placed.len()];
                    let mut cancelled = placed_order.clone();
                    cancelled.state = MarketplaceState::new("CANCELED", OrderStatus::Cancelled);
                    cancelled.updated_at = now;
                    apply(&store, &config, CHANNELS[*channel], &cancelled, now);
                }
                Step::Cancel(_) => {}
                Step::Wait(minutes) => {
                    now = now.checked_add(SignedDuration::from_mins(minutes)).unwrap();
                }
            }
        }

        let replay = store
            .with(|c| trial::replay(c, &config, Timestamp::UNIX_EPOCH))
            .unwrap();
        prop_assert_eq!(replay.report.orders, placed.len());
        prop_assert_eq!(replay.report.changed, 0, "{:#?}", replay.report.changes);
        prop_assert_eq!(replay.not_replayable, 0);
    }
}
