//! OR11 orders on the wire, and their translation into vigie's normalized [`Order`].
//!
//! Only the fields vigie uses are declared; everything else is ignored, so new fields never
//! break parsing. States stay strings: unknown values map to [`OrderStatus::Other`].

use rust_decimal::Decimal;
use serde::Deserialize;
use vigie_connector::{
    Address, Cancellation, CancellationKind, Country, Customer, DestinationHints, Incident,
    Malformed, MarketplaceState, Money, Order, OrderLine, OrderStatus, Shipment,
};

use crate::lenient::{Amount, Date};
use crate::pages::Page;

/// One OR11 page: orders are kept as raw JSON so each one parses on its own.
#[derive(Debug, Deserialize)]
pub(crate) struct OrderPage {
    orders: Vec<serde_json::Value>,
    total_count: Option<u64>,
}

impl Page for OrderPage {
    type Item = serde_json::Value;
    fn into_parts(self) -> (Vec<Self::Item>, Option<u64>) {
        (self.orders, self.total_count)
    }
}

#[derive(Debug, Deserialize)]
struct WireOrder {
    order_id: String,
    commercial_id: Option<String>,
    order_state: String,
    order_state_reason_code: Option<String>,
    order_state_reason_label: Option<String>,
    #[serde(default)]
    has_incident: bool,
    created_date: Date,
    last_updated_date: Option<Date>,
    /// When the parcel must be handed to the carrier (set once the order is accepted).
    shipping_deadline: Option<Date>,
    currency_iso_code: String,
    order_tax_mode: Option<String>,
    total_price: Option<Amount>,
    price: Option<Amount>,
    shipping_price: Option<Amount>,
    customer: Option<WireCustomer>,
    customer_notification_email: Option<String>,
    #[serde(default)]
    order_lines: Vec<WireLine>,
    shipping_tracking: Option<String>,
    shipping_carrier_code: Option<String>,
    shipping_company: Option<String>,
    shipping_tracking_url: Option<String>,
    shipping_zone_code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireCustomer {
    firstname: Option<String>,
    lastname: Option<String>,
    locale: Option<String>,
    // Null before acceptance (or shipping), depending on the operator.
    shipping_address: Option<WireAddress>,
    billing_address: Option<WireAddress>,
}

#[derive(Debug, Deserialize)]
struct WireAddress {
    firstname: Option<String>,
    lastname: Option<String>,
    company: Option<String>,
    street_1: Option<String>,
    street_2: Option<String>,
    zip_code: Option<String>,
    city: Option<String>,
    country_iso_code: Option<String>,
    country: Option<String>,
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireLine {
    order_line_id: String,
    order_line_state: String,
    order_line_state_reason_code: Option<String>,
    order_line_state_reason_label: Option<String>,
    offer_sku: String,
    product_title: Option<String>,
    quantity: u32,
    price: Option<Amount>,
    price_unit: Option<Amount>,
    #[serde(default)]
    taxes: Option<Vec<WireTax>>,
    #[serde(default)]
    shipping_taxes: Option<Vec<WireTax>>,
    #[serde(default)]
    cancelations: Option<Vec<WireTakenBack>>,
    #[serde(default)]
    refunds: Option<Vec<WireTakenBack>>,
    shipped_date: Option<Date>,
}

/// One of a line's `cancelations[]` or `refunds[]`: the same fields vigie reads in both.
#[derive(Debug, Deserialize)]
struct WireTakenBack {
    id: String,
    /// "Informative only", says the spec; absent means the whole line.
    quantity: Option<u32>,
    reason_code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireTax {
    amount: Option<Amount>,
}

/// Mirakl's order and line states, normalized. The line-only `REFUNDED` and `INCIDENT_OPEN`
/// have their own; deprecated values (`WAITING_REFUND`...), `INCIDENT_CLOSED` (the line goes
/// on) and anything new are `Other`.
pub fn status_of(raw: &str) -> OrderStatus {
    match raw {
        "STAGING" => OrderStatus::Pending,
        "WAITING_ACCEPTANCE" => OrderStatus::AwaitingAcceptance,
        "WAITING_DEBIT" | "WAITING_DEBIT_PAYMENT" | "SHIPPING" => OrderStatus::Accepted,
        "SHIPPED" | "TO_COLLECT" => OrderStatus::Shipped,
        "RECEIVED" => OrderStatus::Received,
        "CLOSED" => OrderStatus::Closed,
        "REFUSED" => OrderStatus::Refused,
        "CANCELED" => OrderStatus::Cancelled,
        "REFUNDED" => OrderStatus::Refunded,
        "INCIDENT_OPEN" => OrderStatus::Incident,
        _ => OrderStatus::Other,
    }
}

/// The order states whose units are promised and still on the seller's shelf: accepted,
/// waiting for the customer's debit or for shipping. `TO_COLLECT` is not one: the protocol
/// notes make it the pickup variant of `SHIPPED`, so its units already left the stock.
pub(crate) const HOLDING_STOCK: [&str; 3] = ["WAITING_DEBIT", "WAITING_DEBIT_PAYMENT", "SHIPPING"];

fn state(raw: String) -> MarketplaceState {
    let status = status_of(&raw);
    MarketplaceState::new(raw, status)
}

/// Reads one OR11 order element; a failure names the field and keeps the payload.
pub fn parse_order(value: &serde_json::Value) -> Result<Order, Malformed> {
    let malformed = |error: String| Malformed {
        order_id: value
            .get("order_id")
            .and_then(|id| id.as_str())
            .map(str::to_owned),
        error,
        payload: value.to_string(),
    };
    let wire: WireOrder = serde_path_to_error::deserialize(value)
        .map_err(|e| malformed(format!("at {}: {}", e.path(), e.inner())))?;
    if wire.order_lines.is_empty() {
        return Err(malformed("the order has no lines".into()));
    }
    Ok(wire.into_order())
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

impl WireOrder {
    fn into_order(self) -> Order {
        let currency = self.currency_iso_code;
        let money = |amount: Decimal| Money::new(amount, currency.clone());
        let tax_excluded = self.order_tax_mode.as_deref() == Some("TAX_EXCLUDED");
        let mut taxes = Decimal::ZERO;
        let order_reason = reason(self.order_state_reason_label, self.order_state_reason_code);
        let mut incident_reason = None;
        let lines: Vec<OrderLine> = self
            .order_lines
            .into_iter()
            .map(|line| {
                let line_taxes = line
                    .taxes
                    .iter()
                    .chain(line.shipping_taxes.iter())
                    .flatten()
                    .filter_map(|t| t.amount.map(|a| a.0))
                    .sum::<Decimal>();
                taxes += line_taxes;
                let price = line
                    .price
                    .map(|p| p.0)
                    .or_else(|| line.price_unit.map(|u| u.0 * Decimal::from(line.quantity)))
                    .unwrap_or_default();
                let state = state(line.order_line_state);
                let line_reason = reason(
                    line.order_line_state_reason_label,
                    line.order_line_state_reason_code,
                )
                .or_else(|| order_reason.clone());
                if state.status == OrderStatus::Incident && incident_reason.is_none() {
                    incident_reason = line_reason.clone();
                }
                let after_shipping = line.shipped_date.is_some();
                let mut cancellations = Vec::new();
                for (kind, listed) in [
                    (CancellationKind::Cancelled, line.cancelations),
                    (CancellationKind::Refunded, line.refunds),
                ] {
                    cancellations.extend(listed.into_iter().flatten().map(|c| Cancellation {
                        id: Some(c.id),
                        kind,
                        quantity: c.quantity.unwrap_or(line.quantity),
                        reason: non_empty(c.reason_code).or_else(|| line_reason.clone()),
                        after_shipping: after_shipping && kind == CancellationKind::Refunded,
                    }));
                }
                // A line cancelled or refunded whole, with no list to tell it (refused,
                // expired, or an operator without the list).
                if let Some(kind) = CancellationKind::of_status(state.status)
                    && !cancellations.iter().any(|c| c.kind == kind)
                {
                    cancellations.push(Cancellation {
                        id: None,
                        kind,
                        quantity: line.quantity,
                        reason: line_reason,
                        after_shipping,
                    });
                }
                OrderLine {
                    id: line.order_line_id,
                    sku: line.offer_sku,
                    title: non_empty(line.product_title),
                    quantity: line.quantity,
                    price: money(price),
                    state,
                    cancellations,
                }
            })
            .collect();
        // total_price is price + shipping (+ fees); in TAX_EXCLUDED mode the customer also pays
        // the taxes, which Mirakl lists per line.
        let mut total = self
            .total_price
            .map(|t| t.0)
            .or_else(|| {
                self.price
                    .map(|p| p.0 + self.shipping_price.map(|s| s.0).unwrap_or_default())
            })
            .unwrap_or_else(|| lines.iter().map(|l| l.price.amount).sum());
        if tax_excluded {
            total += taxes;
        }
        let (customer, shipping_address, billing_address) = match self.customer {
            Some(c) => (
                Customer {
                    first_name: non_empty(c.firstname),
                    last_name: non_empty(c.lastname),
                    email: non_empty(self.customer_notification_email),
                    locale: non_empty(c.locale),
                },
                c.shipping_address.map(WireAddress::into_address),
                c.billing_address.map(WireAddress::into_address),
            ),
            None => (
                Customer {
                    email: non_empty(self.customer_notification_email),
                    ..Customer::default()
                },
                None,
                None,
            ),
        };
        let destination_hints = DestinationHints {
            shipping_zone: self.shipping_zone_code.as_deref().and_then(Country::parse),
            billing_country: billing_address.and_then(|a| a.country),
        };
        let shipment = Shipment {
            tracking_number: non_empty(self.shipping_tracking),
            carrier_code: non_empty(self.shipping_carrier_code),
            carrier_name: non_empty(self.shipping_company),
            tracking_url: non_empty(self.shipping_tracking_url),
        };
        let has_shipment = shipment != Shipment::default();
        let created_at = self.created_date.0;
        Order {
            reference: non_empty(self.commercial_id).unwrap_or_else(|| self.order_id.clone()),
            id: self.order_id,
            state: state(self.order_state),
            created_at,
            updated_at: self.last_updated_date.map_or(created_at, |d| d.0),
            // Mirakl publishes no acceptance deadline; it is operator configuration.
            acceptance_deadline: None,
            shipping_deadline: self.shipping_deadline.map(|d| d.0),
            customer,
            shipping_address,
            destination_hints,
            lines,
            total: money(total),
            shipment: has_shipment.then_some(shipment),
            incident: self.has_incident.then_some(Incident {
                reason: incident_reason,
            }),
        }
    }
}

/// A reason as a person reads it: the label, else the code.
fn reason(label: Option<String>, code: Option<String>) -> Option<String> {
    non_empty(label).or_else(|| non_empty(code))
}

impl WireAddress {
    fn into_address(self) -> Address {
        let country = self
            .country_iso_code
            .as_deref()
            .and_then(Country::parse)
            .or_else(|| self.country.as_deref().and_then(Country::parse));
        Address {
            first_name: non_empty(self.firstname),
            last_name: non_empty(self.lastname),
            company: non_empty(self.company),
            street: [self.street_1, self.street_2]
                .into_iter()
                .filter_map(non_empty)
                .collect(),
            postal_code: non_empty(self.zip_code),
            city: non_empty(self.city),
            country,
            phone: non_empty(self.phone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> serde_json::Value {
        json!({
            "order_id": "A-1",
            "order_state": "WAITING_ACCEPTANCE",
            "created_date": "2024-05-02T08:00:00Z",
            "currency_iso_code": "EUR",
            "total_price": 21.5,
            "customer": {"firstname": "Ana", "lastname": "Lima", "billing_address": null, "shipping_address": null},
            "order_lines": [{
                "order_line_id": "A-1-1", "order_line_state": "WAITING_ACCEPTANCE",
                "offer_sku": "SKU-1", "quantity": 2, "price_unit": 9.75
            }]
        })
    }

    #[test]
    fn every_documented_state_has_a_status() {
        use OrderStatus::*;
        for (raw, status) in [
            ("STAGING", Pending),
            ("WAITING_ACCEPTANCE", AwaitingAcceptance),
            ("WAITING_DEBIT", Accepted),
            ("WAITING_DEBIT_PAYMENT", Accepted),
            ("SHIPPING", Accepted),
            ("SHIPPED", Shipped),
            ("TO_COLLECT", Shipped),
            ("RECEIVED", Received),
            ("CLOSED", Closed),
            ("REFUSED", Refused),
            ("CANCELED", Cancelled),
            ("INCIDENT_OPEN", Incident),
            ("REFUNDED", Refunded),
            ("INCIDENT_CLOSED", Other),
            ("WAITING_REFUND", Other),
        ] {
            assert_eq!(status_of(raw), status, "{raw}");
        }
    }

    #[test]
    fn the_states_holding_stock_are_the_accepted_ones() {
        for raw in HOLDING_STOCK {
            assert_eq!(status_of(raw), OrderStatus::Accepted, "{raw}");
        }
    }

    #[test]
    fn the_shipping_deadline_is_read_when_mirakl_gives_it() {
        let mut value = minimal();
        assert_eq!(parse_order(&value).unwrap().shipping_deadline, None);
        value["shipping_deadline"] = json!("2019-09-01T23:59:59.999Z");
        let deadline = parse_order(&value).unwrap().shipping_deadline.unwrap();
        assert_eq!(deadline.to_string(), "2019-09-01T23:59:59.999Z");
    }

    #[test]
    fn cancellations_refunds_and_incidents_are_read_line_by_line() {
        let mut value = minimal();
        value["has_incident"] = json!(true);
        value["order_state"] = json!("SHIPPED");
        value["order_lines"] = json!([
            {"order_line_id": "A-1-1", "order_line_state": "SHIPPING", "offer_sku": "SKU-1",
             "quantity": 3, "price_unit": 5,
             "cancelations": [{"id": "C1", "quantity": 1, "reason_code": "CUSTOMER_REQUEST",
                               "created_date": "2024-05-03T08:00:00Z"}]},
            {"order_line_id": "A-1-2", "order_line_state": "REFUNDED", "offer_sku": "SKU-2",
             "quantity": 1, "price_unit": 5, "shipped_date": "2024-05-04T08:00:00Z",
             "refunds": [{"id": "R1", "quantity": 1, "reason_code": "RETURN"}]},
            {"order_line_id": "A-1-3", "order_line_state": "CANCELED", "offer_sku": "SKU-3",
             "quantity": 2, "price_unit": 5, "order_line_state_reason_label": "Client absent"},
            {"order_line_id": "A-1-4", "order_line_state": "INCIDENT_OPEN", "offer_sku": "SKU-4",
             "quantity": 1, "price_unit": 5, "order_line_state_reason_code": "NOT_RECEIVED"}
        ]);
        let order = parse_order(&value).unwrap();
        let taken: Vec<_> = order
            .lines
            .iter()
            .map(|l| {
                l.cancellations
                    .iter()
                    .map(|c| (c.key(), c.quantity, c.reason.clone(), c.after_shipping))
                    .collect::<Vec<_>>()
            })
            .collect();
        let text = |s: &str| Some(s.to_owned());
        assert_eq!(
            taken,
            [
                vec![(
                    "cancelled:C1".to_owned(),
                    1,
                    text("CUSTOMER_REQUEST"),
                    false
                )],
                vec![("refunded:R1".to_owned(), 1, text("RETURN"), true)],
                vec![("cancelled".to_owned(), 2, text("Client absent"), false)],
                vec![],
            ]
        );
        assert_eq!(order.lines[1].state.status, OrderStatus::Refunded);
        assert_eq!(order.lines[3].state.status, OrderStatus::Incident);
        assert_eq!(
            order.incident,
            Some(Incident {
                reason: text("NOT_RECEIVED")
            })
        );
    }

    #[test]
    fn a_minimal_order_with_null_addresses() {
        let order = parse_order(&minimal()).unwrap();
        assert_eq!(order.reference, "A-1");
        assert_eq!(order.updated_at, order.created_at);
        assert_eq!(order.shipping_address, None);
        assert_eq!(order.customer.first_name.as_deref(), Some("Ana"));
        // price computed from the unit price when `price` is absent
        assert_eq!(order.lines[0].price.amount, Decimal::new(1950, 2));
        assert_eq!(order.total.amount, Decimal::new(215, 1));
        assert_eq!(order.shipment, None);
    }

    #[test]
    fn a_broken_order_is_malformed_with_its_id_and_payload() {
        let mut value = minimal();
        value["order_lines"][0]["quantity"] = json!("two");
        let malformed = parse_order(&value).unwrap_err();
        assert_eq!(malformed.order_id.as_deref(), Some("A-1"));
        assert!(
            malformed.error.contains("order_lines[0].quantity"),
            "{}",
            malformed.error
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&malformed.payload).unwrap(),
            value
        );
        let mut no_lines = minimal();
        no_lines["order_lines"] = json!([]);
        assert!(parse_order(&no_lines).is_err());
    }
}
