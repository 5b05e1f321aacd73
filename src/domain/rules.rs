//! The seller's rules, as a pure function from an order and what the ledger could reserve for
//! it to a verdict with reason codes.

use std::collections::BTreeSet;

use vigie_connector::Order;

use serde::{Deserialize, Serialize};

use super::destination;
use crate::config::{InsufficientStock, RuleCode, RulesConfig};

/// Why an order was refused or held, as scripts see it (`orders --json` `reasons`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    InsufficientStock,
    TotalAbove,
    QuantityAbove,
    CountryNotAllowed,
    /// The order names no country (address hidden, no hint) and the seller asked to see it.
    CountryUnknown,
    SkuTag,
    AddressIncomplete,
    /// A line's SKU is not in the ledger (after the channel's `sku_map`).
    UnknownSku,
    /// Decided by `[rules] on_deadline`, late in the acceptance window.
    Deadline,
    /// One of the seller's `[[rules.custom]]` could not be evaluated on the order.
    RuleError,
    /// One of the seller's `[[rules.custom]]`, by its code.
    Custom(RuleCode),
}

impl Reason {
    /// vigie's own reasons, whose codes a seller's rule may not take.
    pub const BUILT_IN: [Reason; 10] = [
        Self::InsufficientStock,
        Self::TotalAbove,
        Self::QuantityAbove,
        Self::CountryNotAllowed,
        Self::CountryUnknown,
        Self::SkuTag,
        Self::AddressIncomplete,
        Self::UnknownSku,
        Self::Deadline,
        Self::RuleError,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::InsufficientStock => "insufficient_stock",
            Self::TotalAbove => "total_above",
            Self::QuantityAbove => "quantity_above",
            Self::CountryNotAllowed => "country_not_allowed",
            Self::CountryUnknown => "country_unknown",
            Self::SkuTag => "sku_tag",
            Self::AddressIncomplete => "address_incomplete",
            Self::UnknownSku => "unknown_sku",
            Self::Deadline => "deadline",
            Self::RuleError => "rule_error",
            Self::Custom(code) => code.as_str(),
        }
    }
}

/// The reason codes for a person, the country rule's with what it read:
/// "country_not_allowed (DE, from the shipping zone), total_above".
pub fn explain(reasons: &BTreeSet<Reason>, order: &Order) -> String {
    let explained: Vec<String> = reasons
        .iter()
        .map(|reason| match reason {
            Reason::CountryNotAllowed | Reason::CountryUnknown => {
                format!("{} ({})", reason.code(), destination::describe(order))
            }
            other => other.code().to_owned(),
        })
        .collect();
    explained.join(", ")
}

/// What the ledger found for one order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineStock {
    pub line_id: String,
    /// Enough units were available and are now reserved for this line.
    pub reserved: bool,
    /// The ledger lists the line's SKU.
    pub known: bool,
    /// The SKU's inventory tags (fragile, bulky...).
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accept every line.
    Accept,
    /// Accept the reserved lines, refuse the others (partial acceptance).
    Partial { refused: Vec<String> },
    /// Refuse every line.
    Refuse(BTreeSet<Reason>),
    /// Hold the order for a human.
    Flag(BTreeSet<Reason>),
}

/// Judges `order` given what could be reserved for its lines.
pub fn judge(
    order: &Order,
    stock: &[LineStock],
    rules: &RulesConfig,
    partial_allowed: bool,
) -> Verdict {
    let mut flags = BTreeSet::new();
    if rules
        .flag_total_above
        .is_some_and(|limit| order.total.amount > limit)
    {
        flags.insert(Reason::TotalAbove);
    }
    if let Some(limit) = rules.flag_quantity_above
        && order.lines.iter().any(|l| l.quantity > limit)
    {
        flags.insert(Reason::QuantityAbove);
    }
    // Marketplaces often hide the address until acceptance; judge it only when given.
    if let Some(address) = &order.shipping_address {
        let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        let no_street = address.street.iter().all(|s| s.trim().is_empty());
        if no_street
            || blank(&address.postal_code)
            || blank(&address.city)
            || address.country.is_none()
        {
            flags.insert(Reason::AddressIncomplete);
        }
    }
    if let Some(allowed) = &rules.allowed_countries {
        match destination::destination(order) {
            Some((country, _)) if !allowed.contains(&country) => {
                flags.insert(Reason::CountryNotAllowed);
            }
            None if rules.flag_country_unknown => {
                flags.insert(Reason::CountryUnknown);
            }
            _ => {}
        }
    }
    if stock
        .iter()
        .any(|l| l.tags.iter().any(|t| rules.flag_sku_tags.contains(t)))
    {
        flags.insert(Reason::SkuTag);
    }
    // A SKU the ledger has never heard of is a gap in the snapshot or the sku_map, not
    // missing stock: a human decides, whatever `on_insufficient_stock` says.
    if stock.iter().any(|l| !l.known) {
        flags.insert(Reason::UnknownSku);
        if stock.iter().any(|l| l.known && !l.reserved) {
            flags.insert(Reason::InsufficientStock);
        }
        return Verdict::Flag(flags);
    }

    let refused: Vec<String> = stock
        .iter()
        .filter(|l| !l.reserved)
        .map(|l| l.line_id.clone())
        .collect();
    if refused.is_empty() {
        return if flags.is_empty() {
            Verdict::Accept
        } else {
            Verdict::Flag(flags)
        };
    }
    match rules.on_insufficient_stock {
        InsufficientStock::Flag => {
            flags.insert(Reason::InsufficientStock);
            Verdict::Flag(flags)
        }
        InsufficientStock::Refuse
            if partial_allowed && refused.len() < stock.len() && flags.is_empty() =>
        {
            Verdict::Partial { refused }
        }
        // An order vigie cannot fill is refused whatever else a human might have looked at.
        InsufficientStock::Refuse => Verdict::Refuse(BTreeSet::from([Reason::InsufficientStock])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_orders::{order, stocked};
    use rust_decimal::Decimal;
    use vigie_connector::Country;

    fn rules() -> RulesConfig {
        RulesConfig {
            on_insufficient_stock: InsufficientStock::Refuse,
            flag_total_above: Some(Decimal::new(500, 0)),
            flag_quantity_above: Some(10),
            allowed_countries: Some(vec![
                Country::parse("FR").unwrap(),
                Country::parse("BE").unwrap(),
            ]),
            flag_sku_tags: vec!["fragile".into()],
            ..RulesConfig::default()
        }
    }

    fn flagged(reasons: &[Reason]) -> Verdict {
        Verdict::Flag(reasons.iter().copied().collect())
    }

    #[test]
    fn an_ordinary_stocked_order_is_accepted() {
        let o = order(&[("A", 1)], 20, Some("FR"));
        assert_eq!(
            judge(&o, &stocked(&[true]), &rules(), false),
            Verdict::Accept
        );
    }

    #[test]
    fn each_flag_rule_has_its_reason_code() {
        let r = rules();
        let big = order(&[("A", 1)], 501, Some("FR"));
        assert_eq!(
            judge(&big, &stocked(&[true]), &r, false),
            flagged(&[Reason::TotalAbove])
        );
        let many = order(&[("A", 11)], 20, Some("FR"));
        assert_eq!(
            judge(&many, &stocked(&[true]), &r, false),
            flagged(&[Reason::QuantityAbove])
        );
        let abroad = order(&[("A", 1)], 20, Some("DEU"));
        assert_eq!(
            judge(&abroad, &stocked(&[true]), &r, false),
            flagged(&[Reason::CountryNotAllowed])
        );
        let mut fragile = stocked(&[true]);
        fragile[0].tags = vec!["bulky".into(), "fragile".into()];
        let o = order(&[("A", 1)], 20, Some("FR"));
        assert_eq!(judge(&o, &fragile, &r, false), flagged(&[Reason::SkuTag]));
        let mut no_city = order(&[("A", 1)], 20, Some("FR"));
        no_city.shipping_address.as_mut().unwrap().city = Some("  ".into());
        assert_eq!(
            judge(&no_city, &stocked(&[true]), &r, false),
            flagged(&[Reason::AddressIncomplete])
        );
    }

    #[test]
    fn alpha3_and_alpha2_destinations_are_the_same_country() {
        let r = rules();
        for code in ["FR", "FRA", "be", "BEL"] {
            let o = order(&[("A", 1)], 20, Some(code));
            assert_eq!(
                judge(&o, &stocked(&[true]), &r, false),
                Verdict::Accept,
                "{code}"
            );
        }
    }

    #[test]
    fn an_unknown_sku_is_flagged_never_refused() {
        let o = order(&[("A", 1), ("GHOST", 1), ("C", 1)], 20, Some("FR"));
        let mut lines = stocked(&[true, false, true]);
        lines[1].known = false;
        assert_eq!(
            judge(&o, &lines, &rules(), true),
            flagged(&[Reason::UnknownSku])
        );
        lines[2].reserved = false;
        assert_eq!(
            judge(&o, &lines, &rules(), true),
            flagged(&[Reason::InsufficientStock, Reason::UnknownSku])
        );
        let abroad = order(&[("GHOST", 1)], 20, Some("DEU"));
        let mut ghost = stocked(&[false]);
        ghost[0].known = false;
        assert_eq!(
            judge(&abroad, &ghost, &rules(), false),
            flagged(&[Reason::CountryNotAllowed, Reason::UnknownSku])
        );
    }

    #[test]
    fn a_hidden_address_is_judged_by_what_the_order_gives() {
        let mut o = order(&[("A", 1)], 20, None);
        o.destination_hints.shipping_zone = Country::parse("DE");
        let stock = stocked(&[true]);
        assert_eq!(
            judge(&o, &stock, &rules(), false),
            flagged(&[Reason::CountryNotAllowed])
        );
        o.destination_hints.shipping_zone = Country::parse("BE");
        assert_eq!(judge(&o, &stock, &rules(), false), Verdict::Accept);
        o.destination_hints.shipping_zone = None;
        o.customer.locale = Some("de_AT".into());
        assert_eq!(
            judge(&o, &stock, &rules(), false),
            flagged(&[Reason::CountryNotAllowed])
        );
    }

    #[test]
    fn the_country_reasons_say_what_they_read() {
        let mut o = order(&[("A", 1)], 20, None);
        o.destination_hints.shipping_zone = Country::parse("DEU");
        let reasons = BTreeSet::from([Reason::TotalAbove, Reason::CountryNotAllowed]);
        assert_eq!(
            explain(&reasons, &o),
            "total_above, country_not_allowed (DE, from the shipping zone)"
        );
        o.destination_hints.shipping_zone = None;
        let unknown = BTreeSet::from([Reason::CountryUnknown]);
        assert_eq!(
            explain(&unknown, &o),
            "country_unknown (no country in the order)"
        );
    }

    #[test]
    fn no_country_at_all_is_flagged_only_when_asked() {
        let o = order(&[("A", 1)], 20, None);
        let stock = stocked(&[true]);
        assert_eq!(judge(&o, &stock, &rules(), false), Verdict::Accept);
        let asked = RulesConfig {
            flag_country_unknown: true,
            ..rules()
        };
        assert_eq!(
            judge(&o, &stock, &asked, false),
            flagged(&[Reason::CountryUnknown])
        );
        let anywhere = RulesConfig {
            allowed_countries: None,
            ..asked
        };
        assert_eq!(judge(&o, &stock, &anywhere, false), Verdict::Accept);
    }

    #[test]
    fn a_hidden_address_is_not_judged() {
        let o = order(&[("A", 1)], 20, None);
        assert_eq!(
            judge(&o, &stocked(&[true]), &rules(), false),
            Verdict::Accept
        );
    }

    #[test]
    fn missing_stock_refuses_or_flags_as_configured() {
        let o = order(&[("A", 1), ("B", 1)], 20, Some("FR"));
        let short = stocked(&[true, false]);
        let refuse = Verdict::Refuse(BTreeSet::from([Reason::InsufficientStock]));
        assert_eq!(judge(&o, &short, &rules(), false), refuse);
        assert_eq!(
            judge(&o, &short, &rules(), true),
            Verdict::Partial {
                refused: vec!["l1".into()]
            }
        );
        assert_eq!(judge(&o, &stocked(&[false, false]), &rules(), true), refuse);
        let flag = RulesConfig {
            on_insufficient_stock: InsufficientStock::Flag,
            ..rules()
        };
        assert_eq!(
            judge(&o, &short, &flag, true),
            flagged(&[Reason::InsufficientStock])
        );
    }

    #[test]
    fn a_short_order_is_refused_even_when_it_would_be_flagged() {
        let o = order(&[("A", 1)], 900, Some("DEU"));
        assert_eq!(
            judge(&o, &stocked(&[false]), &rules(), true),
            Verdict::Refuse(BTreeSet::from([Reason::InsufficientStock]))
        );
    }
}
