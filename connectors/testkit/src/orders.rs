//! Orders as a customer places them, on either sandbox marketplace, and the seller's stock
//! file that goes with them.

use rust_decimal::Decimal;
use vigie_amazon::sandbox as amazon;
use vigie_fnac::sandbox as fnac;
use vigie_mirakl::sandbox as mirakl;

/// Which sandbox an order goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marketplace {
    Mirakl,
    Fnac,
    Amazon,
}

/// One order line: SKU, units, unit price in euros.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLine {
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Decimal,
}

/// An order to place; each sandbox fills in what is left unset with its own defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    pub lines: Vec<NewLine>,
    /// First and last name; the sandbox's default customer when `None`.
    pub customer: Option<(String, String)>,
    /// ISO alpha-3, as both marketplaces write it (`FRA`, `DEU`).
    pub country: String,
    /// Mirakl only: show the shipping address before acceptance (operators differ on this;
    /// the sandbox hides it by default).
    pub address_visible: bool,
}

impl Default for NewOrder {
    fn default() -> Self {
        Self::new()
    }
}

impl NewOrder {
    /// An order shipped to France, without lines yet.
    pub fn new() -> Self {
        Self {
            lines: Vec::new(),
            customer: None,
            country: "FRA".into(),
            address_visible: false,
        }
    }

    pub fn line(mut self, sku: &str, quantity: u32, unit_price: Decimal) -> Self {
        self.lines.push(NewLine {
            sku: sku.to_owned(),
            quantity,
            unit_price,
        });
        self
    }

    pub fn country(mut self, alpha3: &str) -> Self {
        alpha3.clone_into(&mut self.country);
        self
    }

    pub fn customer(mut self, first_name: &str, last_name: &str) -> Self {
        self.customer = Some((first_name.to_owned(), last_name.to_owned()));
        self
    }

    pub fn address_visible(mut self) -> Self {
        self.address_visible = true;
        self
    }

    pub fn mirakl_spec(&self) -> mirakl::OrderSpec {
        let mut spec = mirakl::OrderSpec::new().country(self.country.as_str());
        for line in &self.lines {
            spec = spec.line(line.sku.as_str(), line.quantity, line.unit_price);
        }
        if let Some((first, last)) = &self.customer {
            spec = spec.customer(first.as_str(), last.as_str());
        }
        if self.address_visible {
            spec = spec.address_visible();
        }
        spec
    }

    pub fn fnac_spec(&self) -> fnac::OrderSpec {
        let mut spec = fnac::OrderSpec::new(
            self.lines
                .iter()
                .map(|l| fnac::LineSpec::new(&l.sku, l.quantity, l.unit_price))
                .collect(),
        );
        if let Some((first, last)) = &self.customer {
            first.clone_into(&mut spec.first_name);
            last.clone_into(&mut spec.last_name);
        }
        self.country.clone_into(&mut spec.shipping_country);
        spec
    }

    /// Amazon writes countries in alpha-2; Amazon names no customer before shipping.
    pub fn amazon_spec(&self) -> amazon::OrderSpec {
        let alpha2 = match self.country.as_str() {
            "DEU" => "DE",
            "BEL" => "BE",
            "ESP" => "ES",
            "ITA" => "IT",
            _ => "FR",
        };
        let mut spec = amazon::OrderSpec::new().country(alpha2);
        for line in &self.lines {
            spec = spec.item(line.sku.as_str(), line.quantity, line.unit_price);
        }
        spec
    }
}

/// The seller's stock file (`sku,quantity,tags`) of `(sku, units on hand, tags)`, tags
/// separated by `|`.
pub fn stock_csv<'a>(items: impl IntoIterator<Item = (&'a str, u32, &'a str)>) -> String {
    let mut csv = String::from("sku,quantity,tags\n");
    for (sku, on_hand, tags) in items {
        csv.push_str(&format!("{sku},{on_hand},{tags}\n"));
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_fields_keep_each_sandbox_default() {
        let order = NewOrder::new().line("A-1", 2, Decimal::new(1990, 2));
        let plain_mirakl = mirakl::OrderSpec::new().line("A-1", 2, Decimal::new(1990, 2));
        let spec = order.mirakl_spec();
        assert_eq!(
            (
                &spec.first_name,
                &spec.shipping_country,
                spec.hide_address_until_accepted
            ),
            (
                &plain_mirakl.first_name,
                &plain_mirakl.shipping_country,
                plain_mirakl.hide_address_until_accepted
            )
        );
        let spec = order.fnac_spec();
        let plain_fnac = fnac::OrderSpec::new(vec![]);
        assert_eq!(spec.last_name, plain_fnac.last_name);
        assert_eq!(spec.shipping_country, "FRA");
        assert_eq!(spec.lines.len(), 1);
    }

    #[test]
    fn set_fields_reach_both_specs() {
        let order = NewOrder::new()
            .line("A-1", 1, Decimal::ONE)
            .customer("Léa", "Bernard")
            .country("DEU")
            .address_visible();
        let spec = order.mirakl_spec();
        assert_eq!(
            (spec.first_name.as_str(), spec.last_name.as_str()),
            ("Léa", "Bernard")
        );
        assert_eq!(spec.shipping_country, "DEU");
        assert!(!spec.hide_address_until_accepted);
        let spec = order.fnac_spec();
        assert_eq!(
            (spec.first_name.as_str(), spec.last_name.as_str()),
            ("Léa", "Bernard")
        );
        assert_eq!(spec.shipping_country, "DEU");
    }

    #[test]
    fn stock_file() {
        assert_eq!(
            stock_csv([("A", 3, "fragile"), ("B", 0, "")]),
            "sku,quantity,tags\nA,3,fragile\nB,0,\n"
        );
    }
}
