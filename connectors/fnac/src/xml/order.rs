//! The `<order>` of an `orders_query_response`, read leniently and turned into a domain
//! [`Order`]. Every field is optional text on the wire; what the engine cannot do without
//! (ids, state, dates, quantities, prices) is checked here, so a broken order becomes a
//! [`Malformed`] entry instead of failing the whole page.

use std::str::FromStr;

use serde::Deserialize;
use vigie_connector::{
    Address, Cancellation, CancellationKind, Country, Customer, Decimal, DestinationHints,
    Malformed, MarketplaceState, Money, Order, OrderLine, OrderStatus, Shipment, Timestamp,
};

use super::read::{Child, non_empty};

/// Fnac sells in euros on every market it serves (FR, BE, ES, PT).
const CURRENCY: &str = "EUR";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireOrder {
    order_id: Option<String>,
    state: Option<String>,
    created_at: Option<String>,
    /// Not in the 2017 XSD; read when a newer API sends it.
    updated_at: Option<String>,
    client_firstname: Option<String>,
    client_lastname: Option<String>,
    client_email: Option<String>,
    client_culture: Option<String>,
    shipping_address: Option<WireAddress>,
    billing_address: Option<WireAddress>,
    order_detail: Vec<WireLine>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireAddress {
    firstname: Option<String>,
    lastname: Option<String>,
    company: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    address3: Option<String>,
    zipcode: Option<String>,
    city: Option<String>,
    country: Option<String>,
    phone: Option<String>,
    mobile: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireLine {
    order_detail_id: Option<String>,
    state: Option<String>,
    product_name: Option<String>,
    offer_seller_id: Option<String>,
    price: Option<String>,
    quantity: Option<String>,
    shipping_price: Option<String>,
    created_at: Option<String>,
    debited_at: Option<String>,
    received_at: Option<String>,
    refused_at: Option<String>,
    tracking_number: Option<String>,
    /// Sent in `orders_update`; read back when a newer API returns it.
    tracking_company: Option<String>,
    tracking_url: Option<String>,
}

/// Reads one `<order>` element; a failure names the order when its id was readable.
pub fn read_order(child: &Child) -> Result<Order, Malformed> {
    let malformed = |order_id: Option<String>, error: String| Malformed {
        order_id,
        error,
        payload: child.raw.clone(),
    };
    let wire: WireOrder = child
        .parse()
        .map_err(|e| malformed(id_by_hand(&child.raw), format!("unreadable order XML: {e}")))?;
    let id = wire.order_id.as_deref().and_then(non_empty);
    convert(wire).map_err(|error| malformed(id, error))
}

fn convert(wire: WireOrder) -> Result<Order, String> {
    let id = required(wire.order_id.as_deref(), "order_id")?;
    let raw_state = required(wire.state.as_deref(), "state")?;
    let created_at = time(&required(wire.created_at.as_deref(), "created_at")?)
        .ok_or("created_at is not a date")?;
    let mut updated_at = created_at;
    if let Some(at) = wire.updated_at.as_deref().and_then(non_empty) {
        updated_at = updated_at.max(time(&at).ok_or("updated_at is not a date")?);
    }
    let mut lines = Vec::with_capacity(wire.order_detail.len());
    let mut total = Decimal::ZERO;
    let mut shipment = Shipment::default();
    for line in wire.order_detail {
        for at in [
            &line.created_at,
            &line.debited_at,
            &line.received_at,
            &line.refused_at,
        ] {
            // Empty dates are normal (`<received_at></received_at>`); a garbled one is noise.
            if let Some(at) = at.as_deref().and_then(non_empty).and_then(|t| time(&t)) {
                updated_at = updated_at.max(at);
            }
        }
        let line_id = required(line.order_detail_id.as_deref(), "order_detail_id")?;
        let quantity: u32 = required(line.quantity.as_deref(), "quantity")?
            .parse()
            .map_err(|_| format!("line {line_id}: quantity is not a whole number"))?;
        let unit = decimal(&required(line.price.as_deref(), "price")?)
            .ok_or_else(|| format!("line {line_id}: price is not a number"))?;
        let price = unit * Decimal::from(quantity);
        total += price;
        if let Some(shipping) = line.shipping_price.as_deref().and_then(non_empty) {
            total += decimal(&shipping)
                .ok_or_else(|| format!("line {line_id}: shipping_price is not a number"))?;
        }
        if shipment.tracking_number.is_none() {
            shipment.tracking_number = line.tracking_number.as_deref().and_then(non_empty);
            shipment.carrier_code = line.tracking_company.as_deref().and_then(non_empty);
            shipment.carrier_name = shipment.carrier_code.clone();
            shipment.tracking_url = line.tracking_url.as_deref().and_then(non_empty);
        }
        let raw_line_state = required(line.state.as_deref(), "order_detail state")?;
        let state = line_state(&raw_line_state);
        // Fnac reports a line cancelled or refunded whole, with no reason in the order; a
        // line with a tracking number had left the warehouse.
        let cancellations = CancellationKind::of_status(state.status)
            .map(|kind| Cancellation {
                id: None,
                kind,
                quantity,
                reason: None,
                after_shipping: line
                    .tracking_number
                    .as_deref()
                    .and_then(non_empty)
                    .is_some(),
            })
            .into_iter()
            .collect();
        lines.push(OrderLine {
            sku: required(line.offer_seller_id.as_deref(), "offer_seller_id")?,
            title: line.product_name.as_deref().and_then(non_empty),
            quantity,
            price: Money::new(price, CURRENCY),
            state,
            cancellations,
            id: line_id,
        });
    }
    Ok(Order {
        reference: id.clone(),
        id,
        state: order_state(&raw_state),
        created_at,
        updated_at,
        acceptance_deadline: None,
        // The protocol notes name no dispatch window: `orders_query` carries no shipping
        // deadline (only `time_to_ship`, days per offer, in `offers_query`), and the terms they
        // quote bound only acceptance (2 working days) and reception (21 days after debit).
        shipping_deadline: None,
        customer: Customer {
            first_name: wire.client_firstname.as_deref().and_then(non_empty),
            last_name: wire.client_lastname.as_deref().and_then(non_empty),
            email: wire.client_email.as_deref().and_then(non_empty),
            locale: wire.client_culture.as_deref().and_then(non_empty),
        },
        shipping_address: wire.shipping_address.map(address),
        destination_hints: DestinationHints {
            shipping_zone: None,
            billing_country: wire.billing_address.and_then(|a| address(a).country),
        },
        lines,
        total: Money::new(total, CURRENCY),
        shipment: shipment.tracking_number.is_some().then_some(shipment),
        // Fnac tells incidents through `incidents_query`; the client adds them.
        incident: None,
    })
}

fn address(wire: WireAddress) -> Address {
    let text = |v: &Option<String>| v.as_deref().and_then(non_empty);
    Address {
        first_name: text(&wire.firstname),
        last_name: text(&wire.lastname),
        company: text(&wire.company),
        street: [&wire.address1, &wire.address2, &wire.address3]
            .into_iter()
            .filter_map(text)
            .collect(),
        postal_code: text(&wire.zipcode),
        city: text(&wire.city),
        // Fnac sends ISO alpha-3 ("FRA"); Country reads both forms.
        country: text(&wire.country).and_then(|c| Country::parse(&c)),
        phone: text(&wire.phone).or_else(|| text(&wire.mobile)),
    }
}

/// Order states (`order_state` in the XSD); the order takes its earliest line's stage.
pub fn order_state(raw: &str) -> MarketplaceState {
    let status = match raw {
        "Created" => OrderStatus::AwaitingAcceptance,
        // Accepted waits for Fnac to debit the customer; ToShip waits for the seller.
        "Accepted" | "ToShip" => OrderStatus::Accepted,
        // NotReceived: the customer disputes delivery; customer service handles it.
        "Shipped" | "NotReceived" => OrderStatus::Shipped,
        "Received" => OrderStatus::Received,
        "Refused" => OrderStatus::Refused,
        "Cancelled" => OrderStatus::Cancelled,
        // Paid back, before or after shipping: the ledger tells which from the line.
        "Refunded" => OrderStatus::Refunded,
        _ => OrderStatus::Other,
    };
    MarketplaceState::new(raw, status)
}

/// Line states (`order_detail_state`): `ToAccept` where the order says `Created`.
pub fn line_state(raw: &str) -> MarketplaceState {
    match raw {
        "ToAccept" => MarketplaceState::new(raw, OrderStatus::AwaitingAcceptance),
        "Created" => MarketplaceState::new(raw, OrderStatus::Other),
        _ => order_state(raw),
    }
}

fn required(value: Option<&str>, name: &str) -> Result<String, String> {
    value
        .and_then(non_empty)
        .ok_or_else(|| format!("missing {name}"))
}

/// An xs:dateTime; one without an offset is taken as Paris time, where Fnac runs.
pub fn time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(at) = Timestamp::from_str(text) {
        return Some(at);
    }
    let civil = jiff::civil::DateTime::from_str(text).ok()?;
    let zone = jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC);
    civil.to_zoned(zone).ok().map(|z| z.timestamp())
}

fn decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str(&text.trim().replace(',', ".")).ok()
}

/// The order id of an order whose XML does not deserialize, if a plain search finds it.
fn id_by_hand(raw: &str) -> Option<String> {
    let start = raw.find("<order_id>")? + "<order_id>".len();
    let end = start + raw[start..].find("</order_id>")?;
    let id = raw[start..end].trim();
    let id = id
        .strip_prefix("<![CDATA[")
        .and_then(|s| s.strip_suffix("]]>"))
        .unwrap_or(id);
    non_empty(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Envelope;

    fn orders(xml: &str) -> Vec<Result<Order, Malformed>> {
        let doc = Envelope::parse(xml.as_bytes()).unwrap();
        doc.all("order").map(read_order).collect()
    }

    #[test]
    fn reads_a_lenient_order() {
        let xml = r#"<orders_query_response status="OK">
 <order>
   <unknown_new_field>x</unknown_new_field>
   <order_detail>
     <product_name><![CDATA[ Casque  ]]></product_name>
     <state>ToAccept</state><quantity>2</quantity><price>10.50</price>
     <offer_seller_id><![CDATA[SKU-1]]></offer_seller_id><order_detail_id>1</order_detail_id>
     <shipping_price>3.00</shipping_price>
     <received_at></received_at><tracking_number><![CDATA[]]></tracking_number>
   </order_detail>
   <state>Created</state>
   <order_id>  ABCDEFGHIJKLM </order_id>
   <created_at>2026-11-02T10:00:00+01:00</created_at>
   <shipping_address><country>FRA</country><city><![CDATA[Paris]]></city>
     <address1>1 rue</address1><address2></address2></shipping_address>
   <order_detail><order_detail_id>2</order_detail_id><state>ToAccept</state>
     <offer_seller_id>SKU-2</offer_seller_id><quantity>1</quantity><price>5</price></order_detail>
   <client_firstname>Ana</client_firstname>
 </order>
</orders_query_response>"#;
        let order = orders(xml).remove(0).unwrap();
        assert_eq!(order.id, "ABCDEFGHIJKLM");
        assert_eq!(order.state.status, OrderStatus::AwaitingAcceptance);
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.lines[0].title.as_deref(), Some("Casque"));
        assert_eq!(order.lines[0].price.amount, Decimal::new(2100, 2));
        assert_eq!(order.total.amount, Decimal::new(2900, 2));
        let address = order.shipping_address.unwrap();
        assert_eq!(address.country.unwrap().alpha2(), "FR");
        assert_eq!(address.street, vec!["1 rue"]);
        assert_eq!(order.shipment, None);
        assert_eq!(
            order.created_at,
            "2026-11-02T09:00:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn the_billing_country_is_kept_for_the_country_rule() {
        let xml = r#"<r status="OK"><order><order_id>ABCDEFGHIJKLM</order_id><state>Created</state>
            <created_at>2026-11-02T10:00:00+01:00</created_at>
            <billing_address><country>BEL</country><city>Liège</city></billing_address>
            <order_detail><order_detail_id>1</order_detail_id><state>ToAccept</state>
              <offer_seller_id>SKU-1</offer_seller_id><quantity>1</quantity><price>5</price>
            </order_detail></order></r>"#;
        let order = orders(xml).remove(0).unwrap();
        assert_eq!(order.shipping_address, None);
        assert_eq!(
            order.destination_hints.billing_country,
            Country::parse("BE")
        );
    }

    #[test]
    fn a_broken_order_is_malformed_with_its_id() {
        let xml = r#"<r status="OK"><order><order_id>ABCDEFGHIJKLM</order_id><state>Created</state>
            <created_at>yesterday</created_at></order></r>"#;
        let error = orders(xml).remove(0).unwrap_err();
        assert_eq!(error.order_id.as_deref(), Some("ABCDEFGHIJKLM"));
        assert!(error.error.contains("created_at"), "{}", error.error);
        assert!(error.payload.starts_with("<order>"));
    }

    #[test]
    fn maps_states() {
        assert_eq!(order_state("ToShip").status, OrderStatus::Accepted);
        // Not Closed: a refund before shipping must release units, not consume them.
        assert_eq!(order_state("Refunded").status, OrderStatus::Refunded);
        assert_eq!(line_state("Refunded").status, OrderStatus::Refunded);
        assert_eq!(
            line_state("ToAccept").status,
            OrderStatus::AwaitingAcceptance
        );
        let unknown = order_state("Teleported");
        assert_eq!(
            (unknown.raw.as_str(), unknown.status),
            ("Teleported", OrderStatus::Other)
        );
    }
}
