//! The demo's shop: a shared catalogue on both sandboxes, the seller's stock file, and a
//! stream of orders like a real day compressed into half a minute: mostly ordinary, some
//! large, some abroad, some fragile, some for the last unit on both channels at once, some
//! for an article the seller no longer has.

use std::time::Duration;

use rust_decimal::Decimal;
use vigie_fnac::sandbox::{self as fnac, FnacSandbox};
use vigie_mirakl::sandbox::{self as mirakl, MiraklSandbox};

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
pub const CUSTOMERS: &[(&str, &str)] = &[
    ("Camille", "Martin"),
    ("Léa", "Bernard"),
    ("Hugo", "Dubois"),
    ("Chloé", "Thomas"),
    ("Louis", "Robert"),
    ("Inès", "Richard"),
    ("Gabriel", "Petit"),
    ("Manon", "Durand"),
];

/// The seller's stock file: `sku,quantity,tags`.
pub fn stock_csv() -> String {
    stock_csv_of(
        CATALOGUE
            .iter()
            .map(|(sku, on_hand, _, _, tags)| (*sku, *on_hand, *tags)),
    )
}

/// A stock file of `(sku, units on hand, tags)`.
pub fn stock_csv_of<'a>(items: impl IntoIterator<Item = (&'a str, u32, &'a str)>) -> String {
    let mut csv = String::from("sku,quantity,tags\n");
    for (sku, on_hand, tags) in items {
        csv.push_str(&format!("{sku},{on_hand},{tags}\n"));
    }
    csv
}

pub fn stock_marketplaces(mirakl: &MiraklSandbox, fnac: &FnacSandbox) {
    offer_on_marketplaces(
        mirakl,
        fnac,
        CATALOGUE
            .iter()
            .map(|(sku, _, offered, _, _)| (*sku, *offered)),
    );
}

/// Offers `(sku, units)` on both marketplaces.
pub fn offer_on_marketplaces<'a>(
    mirakl: &MiraklSandbox,
    fnac: &FnacSandbox,
    offers: impl IntoIterator<Item = (&'a str, u32)>,
) {
    for (sku, offered) in offers {
        mirakl.set_quantity(sku, offered);
        fnac.set_quantity(sku, offered);
    }
}

fn price(sku: &str) -> Decimal {
    let euros = CATALOGUE.iter().find(|c| c.0 == sku).map_or(50, |c| c.3);
    Decimal::new(euros, 0)
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

/// A small deterministic generator (the demo tells the same story every time).
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Self {
        Self(0x9E37_79B9_7F4A_7C15)
    }

    /// A number in `0..below`.
    pub fn next(&mut self, below: u64) -> u64 {
        // xorshift64*: plenty for picking articles
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % below
    }
}

pub struct Stream {
    rng: Rng,
    placed: u64,
    last_units: Vec<&'static str>,
}

impl Stream {
    pub fn new() -> Self {
        Self {
            rng: Rng::new(),
            placed: 0,
            last_units: vec!["LAST-01", "LAST-02", "LAST-03"],
        }
    }

    fn next(&mut self, below: u64) -> u64 {
        self.rng.next(below)
    }

    fn kind(&mut self) -> Kind {
        self.placed += 1;
        if self.placed % 40 == 20 && !self.last_units.is_empty() {
            return Kind::LastUnitPair;
        }
        match self.next(100) {
            0..=71 => Kind::Ordinary,
            72..=79 => Kind::Large,
            80..=86 => Kind::Abroad,
            87..=94 => Kind::Fragile,
            _ => Kind::OutOfStock,
        }
    }

    /// Places the next order (two for a last-unit pair); returns its kind.
    pub fn place(&mut self, mirakl: &MiraklSandbox, fnac: &FnacSandbox) -> Kind {
        let kind = self.kind();
        let (first, last) = CUSTOMERS[self.next(CUSTOMERS.len() as u64) as usize];
        let on_mirakl = self.next(2) == 0;
        let (sku, quantity, country) = match kind {
            Kind::Ordinary => (
                ORDINARY[self.next(ORDINARY.len() as u64) as usize],
                1 + self.next(2) as u32,
                "FRA",
            ),
            Kind::Large => ("SOFA-01", 1, "FRA"),
            Kind::Abroad => (
                ORDINARY[self.next(ORDINARY.len() as u64) as usize],
                1,
                "DEU",
            ),
            Kind::Fragile => (
                if self.next(2) == 0 {
                    "VASE-01"
                } else {
                    "MIRROR-01"
                },
                1,
                "FRA",
            ),
            Kind::OutOfStock => ("GONE-01", 1, "FRA"),
            Kind::LastUnitPair => {
                let sku = self.last_units.remove(0);
                mirakl.add_order(mirakl_spec(sku, 1, first, last, "FRA"));
                fnac.add_order(fnac_spec(sku, 1, first, last, "FRA"));
                return kind;
            }
        };
        if on_mirakl {
            mirakl.add_order(mirakl_spec(sku, quantity, first, last, country));
        } else {
            fnac.add_order(fnac_spec(sku, quantity, first, last, country));
        }
        kind
    }
}

pub fn mirakl_spec(
    sku: &str,
    quantity: u32,
    first: &str,
    last: &str,
    country: &str,
) -> mirakl::OrderSpec {
    // Show the address so the destination rule can judge it (operators differ on this).
    mirakl::OrderSpec::new()
        .line(sku, quantity, price(sku))
        .customer(first, last)
        .country(country)
        .address_visible()
}

pub fn fnac_spec(
    sku: &str,
    quantity: u32,
    first: &str,
    last: &str,
    country: &str,
) -> fnac::OrderSpec {
    let mut spec = fnac::OrderSpec::new(vec![fnac::LineSpec::new(sku, quantity, price(sku))]);
    spec.first_name = first.to_owned();
    spec.last_name = last.to_owned();
    spec.shipping_country = country.to_owned();
    spec
}

/// Ships the accepted orders, as the warehouse would, with a tracking number.
pub fn ship_accepted(mirakl: &MiraklSandbox, fnac: &FnacSandbox) -> usize {
    let mut shipped = 0;
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
            shipped += usize::from(mirakl.ship(&order.id, tracking).is_ok());
        }
    }
    for order in fnac.orders() {
        if order.state == "Accepted" {
            fnac.debit(&order.id);
        }
        if order.state == "ToShip" || order.state == "Accepted" {
            shipped +=
                usize::from(fnac.ship(&order.id, &format!("XY{}FR", order.id), "Chronopost"));
        }
    }
    shipped
}

/// Pace of the stream: one order every `EVERY` for `ORDERS` orders.
pub const ORDERS: u64 = 120;
pub const EVERY: Duration = Duration::from_millis(250);
