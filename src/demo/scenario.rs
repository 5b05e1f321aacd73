//! The demo's shop: a shared catalogue on both sandboxes, the seller's stock file, and a
//! stream of orders like a real day compressed into half a minute: mostly ordinary, some
//! large, some abroad, some fragile, some for the last unit on both channels at once, some
//! for an article the seller no longer has.

use std::time::Duration;

use rust_decimal::Decimal;
use vigie_mirakl::sandbox as mirakl;
use vigie_testkit::{Marketplace, Marketplaces, NewOrder, Rng};

/// Seeds the order stream: the demo tells the same story every time, one where the
/// ordinary articles do not run out.
pub const SEED: u64 = 2026;

/// (sku, units in the warehouse, units offered on the marketplaces, price in euros, tags)
const CATALOGUE: &[(&str, u32, u32, i64, &str)] = &[
    ("LAMP-01", 40, 40, 39, ""),
    ("LAMP-02", 40, 40, 49, ""),
    ("LAMP-03", 30, 30, 59, ""),
    ("CHAIR-01", 25, 25, 89, ""),
    ("CHAIR-02", 25, 25, 119, ""),
    ("RUG-01", 20, 20, 75, ""),
    ("VASE-01", 10, 10, 45, "fragile"),
    ("MIRROR-01", 8, 8, 129, "fragile|bulky"),
    ("SOFA-01", 5, 5, 899, "bulky"),
    ("LAST-01", 1, 1, 249, ""),
    ("LAST-02", 1, 1, 199, ""),
    ("LAST-03", 1, 1, 159, ""),
    // Sold out in the warehouse, but the marketplaces still show an old quantity.
    ("GONE-01", 0, 5, 65, ""),
];

const ORDINARY: &[&str] = &[
    "LAMP-01", "LAMP-02", "LAMP-03", "CHAIR-01", "CHAIR-02", "RUG-01",
];
const CUSTOMERS: &[(&str, &str)] = &[
    ("Camille", "Martin"),
    ("Léa", "Bernard"),
    ("Hugo", "Dubois"),
    ("Chloé", "Thomas"),
    ("Louis", "Robert"),
    ("Inès", "Richard"),
    ("Gabriel", "Petit"),
    ("Manon", "Durand"),
];

/// The seller's stock file.
pub fn stock_csv() -> String {
    vigie_testkit::stock_csv(
        CATALOGUE
            .iter()
            .map(|(sku, on_hand, _, _, tags)| (*sku, *on_hand, *tags)),
    )
}

pub fn stock_marketplaces(markets: &Marketplaces) {
    markets.offer(
        CATALOGUE
            .iter()
            .map(|(sku, _, offered, _, _)| (*sku, *offered)),
    );
}

fn price(sku: &str) -> Decimal {
    let euros = CATALOGUE.iter().find(|c| c.0 == sku).map_or(50, |c| c.3);
    Decimal::new(euros, 0)
}

/// `quantity` of `sku` at the catalogue price, from a random customer, shipped to `country`.
pub fn order(rng: &mut Rng, sku: &str, quantity: u32, country: &str) -> NewOrder {
    let (first, last) = *rng.pick(CUSTOMERS);
    NewOrder::new()
        .line(sku, quantity, price(sku))
        .customer(first, last)
        .country(country)
        // Show the address so the destination rule can judge it (operators differ on this).
        .address_visible()
}

/// Any marketplace, each as likely.
pub fn marketplace(rng: &mut Rng) -> Marketplace {
    match rng.below(3) {
        0 => Marketplace::Mirakl,
        1 => Marketplace::Fnac,
        _ => Marketplace::Amazon,
    }
}

/// What kind of order the stream places next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ordinary,
    Large,
    Abroad,
    Fragile,
    OutOfStock,
    LastUnitPair,
}

pub struct Stream {
    rng: Rng,
    placed: u64,
    last_units: Vec<&'static str>,
}

impl Stream {
    pub fn new() -> Self {
        Self {
            rng: Rng::new(SEED),
            placed: 0,
            last_units: vec!["LAST-01", "LAST-02", "LAST-03"],
        }
    }

    fn kind(&mut self) -> Kind {
        self.placed += 1;
        if self.placed % 40 == 20 && !self.last_units.is_empty() {
            return Kind::LastUnitPair;
        }
        match self.rng.below(100) {
            0..=71 => Kind::Ordinary,
            72..=79 => Kind::Large,
            80..=86 => Kind::Abroad,
            87..=94 => Kind::Fragile,
            _ => Kind::OutOfStock,
        }
    }

    /// Places the next order (two for a last-unit pair); returns its kind.
    pub fn place(&mut self, markets: &Marketplaces) -> Kind {
        let kind = self.kind();
        let rng = &mut self.rng;
        let on = marketplace(rng);
        let order = match kind {
            Kind::Ordinary => {
                let sku = *rng.pick(ORDINARY);
                let quantity = 1 + rng.below(2) as u32;
                order(rng, sku, quantity, "FRA")
            }
            Kind::Large => order(rng, "SOFA-01", 1, "FRA"),
            Kind::Abroad => {
                let sku = *rng.pick(ORDINARY);
                order(rng, sku, 1, "DEU")
            }
            Kind::Fragile => {
                let sku = *rng.pick(&["VASE-01", "MIRROR-01"]);
                order(rng, sku, 1, "FRA")
            }
            Kind::OutOfStock => order(rng, "GONE-01", 1, "FRA"),
            Kind::LastUnitPair => {
                let sku = self.last_units.remove(0);
                let order = order(rng, sku, 1, "FRA");
                markets.place(Marketplace::Mirakl, &order);
                markets.place(Marketplace::Fnac, &order);
                return kind;
            }
        };
        markets.place(on, &order);
        kind
    }
}

/// Ships the accepted orders, as the warehouse would, with a tracking number.
pub fn ship_accepted(markets: &Marketplaces) {
    let Marketplaces { mirakl, fnac, .. } = markets;
    for order in mirakl.orders() {
        if order.state == "SHIPPING" {
            let number = format!("6A{}", order.id.replace('-', ""));
            let tracking = mirakl::Tracking {
                tracking_url: Some(format!(
                    "https://www.laposte.fr/outils/suivre-vos-envois?code={number}"
                )),
                tracking_number: number,
                carrier_code: Some("COLISSIMO".into()),
                carrier_name: Some("Colissimo".into()),
            };
            // An order cancelled meanwhile no longer ships; the next round skips it.
            let _ = mirakl.ship(&order.id, tracking);
        }
    }
    for order in fnac.orders() {
        if order.state == "Accepted" {
            fnac.debit(&order.id);
        }
        if order.state == "ToShip" || order.state == "Accepted" {
            fnac.ship(&order.id, &format!("XY{}FR", order.id), "Chronopost");
        }
    }
}

/// Pace of the stream: one order every `EVERY` for `ORDERS` orders.
pub const ORDERS: u64 = 120;
pub const EVERY: Duration = Duration::from_millis(250);
