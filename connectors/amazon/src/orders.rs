//! Orders API v2026-01-01: `searchOrders` (paged by `paginationToken`, merchant-fulfilled
//! orders of one marketplace) and `getOrder`, read into vigie's [`Order`].
//!
//! Amazon has no acceptance step: an order holds the seller's units from `PENDING` until it
//! ships or is cancelled. Until then it reads as awaiting acceptance, so the engine reserves
//! and judges it the moment it appears. Orders Amazon fulfils are never vigie's: dropped.

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::Deserialize;
use vigie_connector::{
    Address, Cancellation, CancellationKind, ConnectorError, Country, Customer, DestinationHints,
    Incident, Malformed, MarketplaceState, Money, Order, OrderBatch, OrderLine, OrderStatus,
};

use crate::client::{self, Api, Call};
use crate::limits::Budget;
use vigie_connector::BodyLimit;

/// The datasets vigie reads. `RECIPIENT` comes back empty without the restricted
/// Direct-to-Consumer Delivery role: the destination rules then work on what is given.
pub const INCLUDED_DATA: &str = "RECIPIENT,FULFILLMENT,PROCEEDS,CANCELLATION";
const PAGE_SIZE: &str = "100";
/// More pages than this in one read means something loops (a token that never ends).
const MAX_PAGES: usize = 1000;

/// The statuses in which an order still holds the seller's units.
pub const HOLDING_STOCK: &str = "PENDING_AVAILABILITY,PENDING,UNSHIPPED,PARTIALLY_SHIPPED";

/// What each `fulfillmentStatus` means for vigie.
pub fn status_of(raw: &str) -> OrderStatus {
    match raw {
        "PENDING_AVAILABILITY" | "PENDING" | "UNSHIPPED" | "PARTIALLY_SHIPPED" => {
            OrderStatus::AwaitingAcceptance
        }
        "SHIPPED" => OrderStatus::Shipped,
        "CANCELLED" => OrderStatus::Cancelled,
        _ => OrderStatus::Other,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchPage {
    orders: Vec<serde_json::Value>,
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pagination {
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct OneOrder {
    order: serde_json::Value,
}

/// An order as v2026-01-01 writes it; only what vigie reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireOrder {
    pub order_id: String,
    pub created_time: Timestamp,
    pub last_updated_time: Timestamp,
    pub fulfillment: Option<Fulfillment>,
    pub recipient: Option<Recipient>,
    pub proceeds: Option<Proceeds>,
    pub order_items: Vec<WireItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    pub fulfillment_status: String,
    pub fulfilled_by: Option<String>,
    pub ship_by_window: Option<Window>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    pub latest_date_time: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub delivery_address: Option<WireAddress>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireAddress {
    pub name: Option<String>,
    pub company_name: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proceeds {
    pub grand_total: Option<WireMoney>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireMoney {
    pub amount: Decimal,
    pub currency_code: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireItem {
    pub order_item_id: String,
    pub quantity_ordered: u32,
    pub product: Product,
    pub cancellation: Option<ItemCancellation>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub seller_sku: Option<String>,
    pub title: Option<String>,
    pub price: Option<ItemPrice>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPrice {
    pub unit_price: Option<WireMoney>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemCancellation {
    pub cancellation_request: Option<CancellationRequest>,
    pub cancellation_execution: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancellationRequest {
    pub cancel_reason: Option<String>,
}

impl WireItem {
    /// The buyer asked to cancel this item and nobody has cancelled it yet.
    fn buyer_asked_to_cancel(&self) -> Option<&CancellationRequest> {
        let c = self.cancellation.as_ref()?;
        c.cancellation_execution
            .is_none()
            .then_some(c.cancellation_request.as_ref())
            .flatten()
    }
}

/// One order payload: vigie's order, `None` for an order Amazon fulfils, or why it is unreadable.
pub fn parse_order(payload: serde_json::Value) -> Result<Option<Order>, Malformed> {
    let unreadable = |payload: &serde_json::Value, error: String| Malformed {
        order_id: payload
            .get("orderId")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        error,
        payload: payload.to_string(),
    };
    let wire: WireOrder = serde_path_to_error::deserialize(&payload)
        .map_err(|e| unreadable(&payload, format!("at {}: {}", e.path(), e.inner())))?;
    let Some(fulfillment) = &wire.fulfillment else {
        return Err(unreadable(&payload, "no fulfillment status".into()));
    };
    if fulfillment.fulfilled_by.as_deref() == Some("AMAZON") {
        return Ok(None);
    }
    let ship_by = fulfillment
        .ship_by_window
        .as_ref()
        .and_then(|w| w.latest_date_time);
    let order_state = MarketplaceState::new(
        fulfillment.fulfillment_status.clone(),
        status_of(&fulfillment.fulfillment_status),
    );
    let mut lines = Vec::with_capacity(wire.order_items.len());
    for item in &wire.order_items {
        let sku = item.product.seller_sku.clone().ok_or_else(|| {
            unreadable(
                &payload,
                format!("item {} has no sellerSku", item.order_item_id),
            )
        })?;
        let unit = item
            .product
            .price
            .as_ref()
            .and_then(|p| p.unit_price.as_ref());
        let price = match unit {
            Some(m) => Money::new(
                m.amount * Decimal::from(item.quantity_ordered),
                &m.currency_code,
            ),
            // Amazon may hide prices while an order is PENDING.
            None => Money::new(Decimal::ZERO, currency_of(&wire)),
        };
        let cancelled = item
            .cancellation
            .as_ref()
            .is_some_and(|c| c.cancellation_execution.is_some());
        let state = if cancelled {
            MarketplaceState::new("CANCELLED", OrderStatus::Cancelled)
        } else {
            order_state.clone()
        };
        // Amazon cancels an item whole, before it ships; it gives no reason vigie reads yet.
        let cancellations = cancelled
            .then_some(Cancellation {
                id: None,
                kind: CancellationKind::Cancelled,
                quantity: item.quantity_ordered,
                reason: None,
                after_shipping: false,
            })
            .into_iter()
            .collect();
        lines.push(OrderLine {
            id: item.order_item_id.clone(),
            sku,
            title: item.product.title.clone(),
            quantity: item.quantity_ordered,
            price,
            state,
            cancellations,
        });
    }
    let total = match wire.proceeds.as_ref().and_then(|p| p.grand_total.as_ref()) {
        Some(m) => Money::new(m.amount, &m.currency_code),
        None => Money::new(
            lines.iter().map(|l| l.price.amount).sum(),
            currency_of(&wire),
        ),
    };
    let incident = buyer_request(&wire);
    let address = wire
        .recipient
        .as_ref()
        .and_then(|r| r.delivery_address.as_ref())
        .map(address);
    Ok(Some(Order {
        reference: wire.order_id.clone(),
        id: wire.order_id,
        state: order_state,
        created_at: wire.created_time,
        updated_at: wire.last_updated_time,
        // No acceptance, but an order vigie flagged must be decided before it has to ship:
        // the same end of the ship-by window bounds both.
        acceptance_deadline: ship_by,
        shipping_deadline: ship_by,
        customer: Customer::default(),
        shipping_address: address,
        destination_hints: DestinationHints::default(),
        lines,
        total,
        shipment: None,
        // Amazon's A-to-z claims are not read yet.
        incident,
    }))
}

/// A buyer's cancellation request, open on some item, for the seller: the order is theirs
/// to cancel (reason `BuyerCanceled`, no defect on their rate) or to ship.
fn buyer_request(wire: &WireOrder) -> Option<Incident> {
    let (item, request) = wire
        .order_items
        .iter()
        .find_map(|i| Some((i, i.buyer_asked_to_cancel()?)))?;
    let why = request
        .cancel_reason
        .as_deref()
        .unwrap_or("no reason given");
    Some(Incident {
        reason: Some(format!(
            "the buyer asked to cancel item {} ({why}): cancel it with reason BuyerCanceled, or ship",
            item.order_item_id
        )),
    })
}

fn currency_of(wire: &WireOrder) -> String {
    wire.order_items
        .iter()
        .find_map(|i| i.product.price.as_ref()?.unit_price.as_ref())
        .map_or_else(|| "EUR".to_owned(), |m| m.currency_code.clone())
}

fn address(a: &WireAddress) -> Address {
    Address {
        first_name: None,
        last_name: a.name.clone(),
        company: a.company_name.clone(),
        street: [&a.address_line1, &a.address_line2, &a.address_line3]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        postal_code: a.postal_code.clone(),
        city: a.city.clone(),
        country: a.country_code.as_deref().and_then(Country::parse),
        phone: a.phone.clone(),
    }
}

fn read_into(batch: &mut OrderBatch, payload: serde_json::Value) {
    match parse_order(payload) {
        Ok(Some(order)) => batch.orders.push(order),
        Ok(None) => {}
        Err(malformed) => batch.malformed.push(malformed),
    }
}

/// `searchOrders` with `filters`, every page (each page repeats the filters, as Amazon requires).
pub async fn search(
    api: &Api,
    budget: &Budget,
    filters: &[(&'static str, String)],
) -> Result<OrderBatch, ConnectorError> {
    let url = api.url(&["orders", "2026-01-01", "orders"]);
    let mut query: Vec<(&str, String)> = filters.to_vec();
    query.extend([
        api.marketplace(),
        ("fulfilledBy", "MERCHANT".to_owned()),
        ("maxResultsPerPage", PAGE_SIZE.to_owned()),
        ("includedData", INCLUDED_DATA.to_owned()),
    ]);
    let mut batch = OrderBatch::default();
    let call = Call::safe("searchOrders", budget).reading(BodyLimit::page("order page"));
    for _ in 0..MAX_PAGES {
        let reply = api.get(call, &url, &query).await?;
        let page: SearchPage = client::json("searchOrders", &reply)?;
        for payload in page.orders {
            read_into(&mut batch, payload);
        }
        match page.pagination.and_then(|p| p.next_token) {
            Some(token) => {
                query.retain(|(k, _)| *k != "paginationToken");
                query.push(("paginationToken", token));
            }
            None => return Ok(batch),
        }
    }
    Err(ConnectorError::permanent(format!(
        "searchOrders: more than {MAX_PAGES} pages"
    )))
}

/// `getOrder` for each id; an id Amazon does not know is skipped with a warning.
pub async fn by_id(
    api: &Api,
    budget: &Budget,
    ids: &[String],
) -> Result<OrderBatch, ConnectorError> {
    let mut batch = OrderBatch::default();
    for id in ids {
        let url = api.url(&["orders", "2026-01-01", "orders", id]);
        let query = [("includedData", INCLUDED_DATA.to_owned())];
        match api.get(Call::safe("getOrder", budget), &url, &query).await {
            Ok(reply) => {
                let one: OneOrder = client::json("getOrder", &reply)?;
                read_into(&mut batch, one.order);
            }
            Err(ConnectorError::Permanent {
                code: Some(code), ..
            }) if code == "NotFound" => {
                tracing::warn!(order = %id, "Amazon knows no such order");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(batch)
}

/// `getOrder` with only the `included` data, as Amazon has the order now.
async fn order_now<T: serde::de::DeserializeOwned>(
    api: &Api,
    budget: &Budget,
    order_id: &str,
    included: &str,
) -> Result<T, ConnectorError> {
    let url = api.url(&["orders", "2026-01-01", "orders", order_id]);
    let query = [("includedData", included.to_owned())];
    let reply = api
        .get(Call::safe("getOrder", budget), &url, &query)
        .await?;
    let one: OneOrder = client::json("getOrder", &reply)?;
    serde_json::from_value(one.order).map_err(|e| {
        ConnectorError::permanent(format!("getOrder: unexpected order {order_id}: {e}"))
    })
}

/// The order's items and their cancellations, as Amazon has them now.
async fn items_now(
    api: &Api,
    budget: &Budget,
    order_id: &str,
) -> Result<Vec<WireItem>, ConnectorError> {
    let wire: WireOrder = order_now(api, budget, order_id, "CANCELLATION").await?;
    Ok(wire.order_items)
}

/// The `packageReferenceId` of each package Amazon holds for `order_id`.
pub async fn package_references(
    api: &Api,
    budget: &Budget,
    order_id: &str,
) -> Result<Vec<String>, ConnectorError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Package {
        package_reference_id: String,
    }
    #[derive(Deserialize)]
    struct WithPackages {
        #[serde(default)]
        packages: Vec<Package>,
    }
    let order: WithPackages = order_now(api, budget, order_id, "PACKAGES").await?;
    Ok(order
        .packages
        .into_iter()
        .map(|p| p.package_reference_id)
        .collect())
}

/// The items of `order_id` whose buyer asked to cancel them.
pub async fn buyer_cancel_requests(
    api: &Api,
    budget: &Budget,
    order_id: &str,
) -> Result<Vec<String>, ConnectorError> {
    Ok(items_now(api, budget, order_id)
        .await?
        .into_iter()
        .filter(|i| i.buyer_asked_to_cancel().is_some())
        .map(|i| i.order_item_id)
        .collect())
}

/// Each item of `order_id` with the units ordered.
pub async fn item_quantities(
    api: &Api,
    budget: &Budget,
    order_id: &str,
) -> Result<Vec<(String, u32)>, ConnectorError> {
    Ok(items_now(api, budget, order_id)
        .await?
        .into_iter()
        .map(|i| (i.order_item_id, i.quantity_ordered))
        .collect())
}

/// Amazon's time format for query parameters: ISO 8601 to the millisecond, cut down.
pub fn query_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The end of a window, to the millisecond, rounded up: a change stamped in the last
/// fraction of a millisecond is in this window, not lost between two.
pub fn query_end(at: Timestamp) -> String {
    query_time(at + jiff::SignedDuration::from_nanos(999_999))
}
