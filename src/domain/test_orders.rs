//! Orders for unit tests: awaiting acceptance, one line per `(sku, quantity)` with ids `l0`,
//! `l1`..., shipped to `country` when given; and what the ledger found for such lines.

use super::rules::LineStock;
use rust_decimal::Decimal;
use vigie_connector::{
    Address, Country, Customer, MarketplaceState, Money, Order, OrderLine, OrderStatus, Timestamp,
};

pub(crate) fn order(lines: &[(&str, u32)], total: i64, country: Option<&str>) -> Order {
    let state = MarketplaceState::new("WAITING_ACCEPTANCE", OrderStatus::AwaitingAcceptance);
    Order {
        id: "o1".into(),
        reference: "o1".into(),
        state: state.clone(),
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
        acceptance_deadline: None,
        shipping_deadline: None,
        customer: Customer::default(),
        destination_hints: Default::default(),
        shipping_address: country.map(|c| Address {
            street: vec!["1 rue de la Paix".into()],
            postal_code: Some("75002".into()),
            city: Some("Paris".into()),
            country: Country::parse(c),
            ..Address::default()
        }),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, (sku, quantity))| OrderLine {
                id: format!("l{i}"),
                sku: (*sku).into(),
                title: None,
                quantity: *quantity,
                price: Money::new(Decimal::ONE, "EUR"),
                state: state.clone(),
                cancellations: Vec::new(),
            })
            .collect(),
        total: Money::new(Decimal::new(total, 0), "EUR"),
        shipment: None,
        incident: None,
    }
}

/// Lines `l0`, `l1`... of listed SKUs without tags, reserved or not.
pub(crate) fn stocked(reserved: &[bool]) -> Vec<LineStock> {
    reserved
        .iter()
        .enumerate()
        .map(|(i, r)| LineStock {
            line_id: format!("l{i}"),
            reserved: *r,
            known: true,
            tags: vec![],
        })
        .collect()
}
