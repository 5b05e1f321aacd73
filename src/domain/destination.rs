//! Where an order goes, for the country rule: the shipping address's country when the
//! marketplace gives it, otherwise what the payload tells in its place (some operators hide
//! the address until the order is accepted).

use vigie_connector::{Country, Order};

/// Where the destination country was read, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountrySource {
    ShippingAddress,
    /// The marketplace's shipping zone, when it is a country.
    ShippingZone,
    BillingAddress,
    /// The region of the customer's locale (`fr_BE` -> BE).
    CustomerLocale,
}

impl CountrySource {
    pub fn describe(self) -> &'static str {
        match self {
            Self::ShippingAddress => "the shipping address",
            Self::ShippingZone => "the shipping zone",
            Self::BillingAddress => "the billing address",
            Self::CustomerLocale => "the customer's locale",
        }
    }
}

/// The destination's country and where it was read; `None` when the payload gives none.
pub fn destination(order: &Order) -> Option<(Country, CountrySource)> {
    let hints = &order.destination_hints;
    let from_address = order
        .shipping_address
        .as_ref()
        .and_then(|a| a.country.clone());
    [
        (from_address, CountrySource::ShippingAddress),
        (hints.shipping_zone.clone(), CountrySource::ShippingZone),
        (hints.billing_country.clone(), CountrySource::BillingAddress),
        (
            order.customer.locale.as_deref().and_then(locale_region),
            CountrySource::CustomerLocale,
        ),
    ]
    .into_iter()
    .find_map(|(country, source)| Some((country?, source)))
}

/// What the country rule saw, for a person reading why an order waits:
/// "DE, from the shipping zone", or "no country in the order".
pub fn describe(order: &Order) -> String {
    match destination(order) {
        Some((country, source)) => format!("{country}, from {}", source.describe()),
        None => "no country in the order".to_owned(),
    }
}

/// `fr_BE`, `fr-BE`, `de_DE.UTF-8` -> the region; a bare language (`fr`) names no country.
fn locale_region(locale: &str) -> Option<Country> {
    let (_, rest) = locale.split_once(['_', '-'])?;
    let end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    // Numeric regions ("es_419", Latin America) are not countries.
    (end == 2).then(|| Country::parse(&rest[..end])).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_orders::order;

    fn hidden() -> Order {
        order(&[("A", 1)], 20, None)
    }

    fn read(order: &Order) -> Option<(String, CountrySource)> {
        destination(order).map(|(c, s)| (c.alpha2().to_owned(), s))
    }

    #[test]
    fn the_address_comes_first_then_zone_billing_and_locale() {
        let mut o = order(&[("A", 1)], 20, Some("FR"));
        o.destination_hints.shipping_zone = Country::parse("DE");
        o.destination_hints.billing_country = Country::parse("ES");
        o.customer.locale = Some("it_IT".into());
        assert_eq!(
            read(&o),
            Some(("FR".into(), CountrySource::ShippingAddress))
        );
        o.shipping_address = None;
        assert_eq!(read(&o), Some(("DE".into(), CountrySource::ShippingZone)));
        o.destination_hints.shipping_zone = None;
        assert_eq!(read(&o), Some(("ES".into(), CountrySource::BillingAddress)));
        o.destination_hints.billing_country = None;
        assert_eq!(read(&o), Some(("IT".into(), CountrySource::CustomerLocale)));
        assert_eq!(describe(&o), "IT, from the customer's locale");
    }

    #[test]
    fn a_locale_names_a_country_only_with_its_region() {
        let mut o = hidden();
        for (locale, want) in [
            ("fr_BE", Some("BE")),
            ("fr-FR", Some("FR")),
            ("de_DE.UTF-8", Some("DE")),
            ("fr", None),
            ("en_XX", None),
            ("es_419", None),
            ("", None),
        ] {
            o.customer.locale = Some(locale.into());
            assert_eq!(read(&o).map(|(c, _)| c).as_deref(), want, "{locale}");
        }
        o.customer.locale = None;
        assert_eq!(read(&o), None);
        assert_eq!(describe(&o), "no country in the order");
    }
}
