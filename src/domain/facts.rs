//! The facts about one order that the seller's own rules read, that `vigie rules test` and
//! `rules replay` show, and whose `customer` part customer messages read. One shape for all:
//! sellers write expressions against these names, so a field renamed breaks their rules
//! (README "Your own rules" lists them; config/vigie.toml gives an example of each).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use vigie_connector::{Address, Country, Order};

use super::customer::CustomerFacts;
use super::rules::LineStock;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub order: OrderFacts,
    /// Every field none (and `given` false) while the marketplace hides the address.
    pub shipping: AddressFacts,
    /// Marketplaces give the billing country at most.
    pub billing: AddressFacts,
    pub customer: CustomerFacts,
    /// When the order was judged, in the seller's time zone.
    pub now: NowFacts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFacts {
    pub id: String,
    pub channel: String,
    /// What the customer pays, shipping included, in `currency`.
    pub total: f64,
    pub currency: String,
    pub lines: Vec<LineFacts>,
    /// The SKU tags of every line (`fragile`, `bulky`...), each once.
    pub tags: Vec<String>,
    /// Units over all lines.
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineFacts {
    pub sku: String,
    pub quantity: u32,
    pub unit_price: f64,
    /// The SKU's tags in the inventory.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddressFacts {
    pub given: bool,
    /// ISO 3166 alpha-2.
    pub country: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    /// The parcel goes to a pick-up point or a locker, not to the customer's door.
    pub relay_point: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NowFacts {
    /// 0 to 23.
    pub hour: i8,
    /// 1 (Monday) to 7 (Sunday).
    pub weekday: i8,
}

/// What marks a relay point or a locker in an address (the company or a street line), as
/// French and European carriers write them. Marketplaces send no flag for it.
const RELAY_MARKERS: [&str; 8] = [
    "relais",
    "relay",
    "pickup",
    "pick-up",
    "point retrait",
    "locker",
    "consigne",
    "packstation",
];

impl Facts {
    /// The facts of `order` on `channel`, judged at `at`, given what the ledger found for its
    /// lines and what vigie knows of its customer.
    pub fn of(
        channel: &str,
        order: &Order,
        stock: &[LineStock],
        customer: CustomerFacts,
        at: Timestamp,
        tz: &TimeZone,
    ) -> Self {
        let tags_of = |line_id: &str| {
            stock
                .iter()
                .find(|s| s.line_id == line_id)
                .map(|s| s.tags.clone())
                .unwrap_or_default()
        };
        let lines: Vec<LineFacts> = order
            .lines
            .iter()
            .map(|line| LineFacts {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price: number(line.price.amount / Decimal::from(line.quantity.max(1))),
                tags: tags_of(&line.id),
            })
            .collect();
        let mut tags: Vec<String> = lines.iter().flat_map(|l| l.tags.clone()).collect();
        tags.sort();
        tags.dedup();
        let zoned = at.to_zoned(tz.clone());
        Self {
            order: OrderFacts {
                id: order.id.clone(),
                channel: channel.to_owned(),
                total: number(order.total.amount),
                currency: order.total.currency.clone(),
                quantity: lines.iter().map(|l| l.quantity).sum(),
                lines,
                tags,
            },
            shipping: order
                .shipping_address
                .as_ref()
                .map(AddressFacts::of)
                .unwrap_or_default(),
            billing: AddressFacts::country_only(order.destination_hints.billing_country.as_ref()),
            customer,
            now: NowFacts {
                hour: zoned.hour(),
                weekday: zoned.weekday().to_monday_one_offset(),
            },
        }
    }

    /// What expressions evaluate against.
    pub fn value(&self) -> minijinja::Value {
        minijinja::Value::from(minijinja::value::Serde(self))
    }

    /// An order with every fact given, for checking the seller's rules before they run.
    pub fn sample() -> Self {
        let line = |sku: &str, quantity, unit_price, tags: &[&str]| LineFacts {
            sku: sku.to_owned(),
            quantity,
            unit_price,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        };
        let lines = vec![
            line("PERC-18V", 1, 129.9, &["bulky"]),
            line("FORET-6", 2, 9.9, &["fragile"]),
        ];
        Self {
            order: OrderFacts {
                id: "SAMPLE-1042-A".to_owned(),
                channel: "sample".to_owned(),
                total: 169.4,
                currency: "EUR".to_owned(),
                tags: vec!["bulky".to_owned(), "fragile".to_owned()],
                quantity: 3,
                lines,
            },
            shipping: AddressFacts {
                given: true,
                country: Some("FR".to_owned()),
                postal_code: Some("20000".to_owned()),
                city: Some("Ajaccio".to_owned()),
                relay_point: true,
            },
            billing: AddressFacts::country_only(Country::parse("FR").as_ref()),
            customer: CustomerFacts {
                known: true,
                first_order: false,
                returning: true,
                orders_last_hour: 2,
                orders_last_day: 3,
                orders_last_year: 7,
                past_refusals: 1,
                past_cancellations: 1,
            },
            now: NowFacts {
                hour: 14,
                weekday: 3,
            },
        }
    }
}

impl AddressFacts {
    fn of(address: &Address) -> Self {
        let given = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let text = address
            .company
            .iter()
            .chain(&address.street)
            .map(|s| s.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            given: true,
            country: address.country.as_ref().map(|c| c.alpha2().to_owned()),
            postal_code: given(&address.postal_code),
            city: given(&address.city),
            relay_point: RELAY_MARKERS.iter().any(|m| text.contains(m)),
        }
    }

    fn country_only(country: Option<&Country>) -> Self {
        Self {
            given: country.is_some(),
            country: country.map(|c| c.alpha2().to_owned()),
            ..Self::default()
        }
    }
}

/// Amounts are exact in the order; expressions compare them with plain numbers.
fn number(amount: Decimal) -> f64 {
    amount.to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_orders::{order, stocked};

    #[test]
    fn facts_read_the_order_its_lines_and_the_clock() {
        let mut o = order(&[("A", 2), ("B", 1)], 30, Some("FR"));
        o.lines[0].price.amount = Decimal::new(2000, 2);
        let mut stock = stocked(&[true, true]);
        stock[1].tags = vec!["fragile".into()];
        let at: Timestamp = "2026-11-20T22:30:00Z".parse().unwrap();
        let tz = TimeZone::get("Europe/Paris").unwrap();
        let facts = Facts::of("fnac", &o, &stock, CustomerFacts::default(), at, &tz);
        assert_eq!(facts.order.channel, "fnac");
        assert_eq!(facts.order.lines[0].unit_price, 10.0);
        assert_eq!(facts.order.tags, ["fragile"]);
        assert_eq!(facts.order.quantity, 3);
        assert_eq!(facts.shipping.country.as_deref(), Some("FR"));
        assert!(!facts.shipping.relay_point);
        assert!(!facts.billing.given);
        assert_eq!((facts.now.hour, facts.now.weekday), (23, 5));
    }

    #[test]
    fn a_relay_point_is_read_from_the_address() {
        let mut o = order(&[("A", 1)], 30, Some("FR"));
        let address = o.shipping_address.as_mut().unwrap();
        address.company = Some("Mondial Relay - Tabac du Centre".into());
        let facts = AddressFacts::of(address);
        assert!(facts.relay_point);
        address.company = None;
        address.street = vec!["Amazon Locker - Gare".into()];
        assert!(AddressFacts::of(address).relay_point);
        o.shipping_address = None;
        let hidden = Facts::of(
            "c",
            &o,
            &[],
            CustomerFacts::default(),
            Timestamp::UNIX_EPOCH,
            &TimeZone::UTC,
        );
        assert_eq!(hidden.shipping, AddressFacts::default());
    }
}
