//! OR11: the acceptance queue, update windows, reads by id, paging, and lenient reading.

use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use vigie_connector::testing::assert_waited;
use vigie_connector::{ConnectorError, Marketplace, OrderStatus, Timestamp};
use wiremock::{MockServer, ResponseTemplate};

use crate::support::{
    answer_page, assert_mirakl_headers, empty_page, first_page, json_reply, mirakl, query,
    requests, serving,
};

fn order_json(id: &str, state: &str) -> Value {
    json!({
        "order_id": id,
        "commercial_id": id,
        "order_state": state,
        "created_date": "2024-05-02T08:00:00Z",
        "last_updated_date": "2024-05-02T08:00:00Z",
        "currency_iso_code": "EUR",
        "order_tax_mode": "TAX_INCLUDED",
        "price": 10, "shipping_price": 0, "total_price": 10,
        "customer": {"firstname": "A", "lastname": "B", "billing_address": null, "shipping_address": null},
        "order_lines": [{
            "order_line_id": format!("{id}-1"), "order_line_state": state,
            "offer_sku": "SKU-1", "quantity": 1, "price": 10, "price_unit": 10
        }]
    })
}

/// `count` orders named `{prefix}{first}`, `{prefix}{first + 1}`...
fn orders(prefix: &str, first: usize, count: usize, state: &str) -> Vec<Value> {
    (first..first + count)
        .map(|i| order_json(&format!("{prefix}{i}"), state))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn or11_asks_for_the_acceptance_queue_with_the_documented_query() {
    let reply = json!({"orders": [order_json("O-1", "WAITING_ACCEPTANCE")], "total_count": 1});
    let server = serving("GET /api/orders", json_reply(200, reply)).await;
    let batch = mirakl(&server).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(batch.orders.len(), 1);
    assert_eq!(
        batch.orders[0].state.status,
        OrderStatus::AwaitingAcceptance
    );
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method.as_str(), "GET");
    assert_eq!(sent[0].url.path(), "/api/orders");
    assert_eq!(
        query(&sent[0]),
        first_page(&[("order_state_codes", "WAITING_ACCEPTANCE")])
    );
    assert_mirakl_headers(&sent[0]);
    assert!(sent[0].body.is_empty());
}

#[tokio::test(start_paused = true)]
async fn or11_asks_for_every_order_holding_stock_with_the_documented_states() {
    let reply = json!({"orders": [order_json("O-1", "SHIPPING")], "total_count": 1});
    let server = serving("GET /api/orders", json_reply(200, reply)).await;
    let batch = mirakl(&server).orders_holding_stock().await.unwrap();
    assert_eq!(batch.orders[0].state.status, OrderStatus::Accepted);
    let sent = requests(&server).await;
    // Values of OR11's `order_state_codes` enum, comma-separated as the spec documents.
    assert_eq!(
        query(&sent[0]),
        first_page(&[(
            "order_state_codes",
            "WAITING_DEBIT,WAITING_DEBIT_PAYMENT,SHIPPING"
        )])
    );
    assert_mirakl_headers(&sent[0]);
}

#[tokio::test(start_paused = true)]
async fn or11_update_window_is_sent_in_utc_seconds_and_ends_when_sent() {
    let server = MockServer::start().await;
    for (offset, count) in [(0, 100), (100, 1)] {
        let orders = orders("U-", offset, count, "WAITING_ACCEPTANCE");
        let reply = json!({"orders": orders, "total_count": 101});
        answer_page(&server, offset, json_reply(200, reply)).await;
    }
    let since: Timestamp = "2024-05-02T08:00:00.700Z".parse().unwrap();
    let until: Timestamp = "2024-05-02T10:00:00.100+02:00".parse().unwrap();
    let mirakl = mirakl(&server);
    // The OR11 budget is spent: the next read waits for it, and its window ends after.
    mirakl.orders_awaiting_acceptance().await.unwrap();
    let before = Timestamp::now();
    let batch = mirakl.orders_updated(since, until).await.unwrap();
    let read_until = batch.read_until.expect("the end of the window read");
    assert!(read_until >= before, "{read_until} < {before}");
    let sent = requests(&server).await;
    // Whole seconds in UTC: the start rounded down, the end up; every page asks the same end.
    let rounded_up = read_until.as_second() + i64::from(read_until.subsec_nanosecond() > 0);
    let end = Timestamp::from_second(rounded_up)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let window = [
        ("start_update_date", "2024-05-02T08:00:00Z"),
        ("end_update_date", end.as_str()),
    ];
    assert_eq!(query(&sent[2]), first_page(&window));
    let mut second = first_page(&window);
    second.retain(|(k, _)| k != "offset");
    second.push(("offset".into(), "100".into()));
    second.sort();
    assert_eq!(query(&sent[3]), second);
    // the colons are percent-encoded in the raw query
    assert!(
        sent[2]
            .url
            .query()
            .unwrap()
            .contains("2024-05-02T08%3A00%3A00Z")
    );
}

#[tokio::test(start_paused = true)]
async fn or11_reads_orders_by_id_in_one_comma_list() {
    let server = serving("GET", empty_page()).await;
    mirakl(&server)
        .orders_by_id(&["O-1".into(), "O-2".into()])
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(query(&sent[0]), first_page(&[("order_ids", "O-1,O-2")]));
}

#[tokio::test(start_paused = true)]
async fn or11_pages_through_three_pages_in_one_poll_then_waits_for_the_next() {
    let server = MockServer::start().await;
    for (offset, count) in [(0, 100), (100, 100), (200, 37)] {
        let orders = orders("O-", offset, count, "WAITING_ACCEPTANCE");
        let reply = json!({"orders": orders, "total_count": 237});
        answer_page(&server, offset, json_reply(200, reply)).await;
    }
    let mirakl = mirakl(&server);
    let start = tokio::time::Instant::now();
    let batch = mirakl.orders_awaiting_acceptance().await.unwrap();
    assert_eq!(batch.orders.len(), 237);
    assert_eq!(batch.orders[236].id, "O-236");
    let offsets: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "offset")
                .unwrap()
                .1
                .into_owned()
        })
        .collect();
    assert_eq!(offsets, ["0", "100", "200"]);
    // A second poll pays the OR11 budget (once a minute by default).
    mirakl.orders_awaiting_acceptance().await.unwrap();
    assert_waited(start, Duration::from_secs(60));
    assert_eq!(requests(&server).await.len(), 6);
}

#[tokio::test(start_paused = true)]
async fn or11_follows_the_link_header_when_total_count_is_missing() {
    let server = MockServer::start().await;
    let full = json_reply(200, json!({"orders": orders("P-", 0, 100, "SHIPPING")})).insert_header(
        "Link",
        "<https://x/api/orders?max=100&offset=100>; rel=\"next\"",
    );
    answer_page(&server, 0, full).await;
    let last = json!({"orders": [order_json("P-100", "SHIPPING")]});
    answer_page(&server, 100, json_reply(200, last)).await;
    let batch = mirakl(&server).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(batch.orders.len(), 101);
    assert_eq!(batch.orders[0].state.status, OrderStatus::Accepted);
}

#[tokio::test(start_paused = true)]
async fn or11_keeps_one_copy_of_an_order_seen_twice_while_paging() {
    let server = MockServer::start().await;
    let mut first = orders("D-", 0, 100, "WAITING_ACCEPTANCE");
    first[99] = order_json("D-dup", "WAITING_ACCEPTANCE");
    let again = json!({"orders": [first[99].clone()], "total_count": 101});
    answer_page(
        &server,
        0,
        json_reply(200, json!({"orders": first, "total_count": 101})),
    )
    .await;
    answer_page(&server, 100, json_reply(200, again)).await;
    let batch = mirakl(&server).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(batch.orders.len(), 100);
    assert_eq!(batch.orders.iter().filter(|o| o.id == "D-dup").count(), 1);
}

#[tokio::test(start_paused = true)]
async fn or11_payload_from_the_openapi_shapes_with_taxes_null_addresses_and_unknowns() {
    let fixture = include_str!("../fixtures/or11_taxes_and_null_addresses.json");
    let reply = ResponseTemplate::new(200).set_body_raw(fixture, "application/json");
    let server = serving("GET", reply).await;
    let batch = mirakl(&server).orders_awaiting_acceptance().await.unwrap();
    assert!(batch.malformed.is_empty(), "{:?}", batch.malformed);
    assert_eq!(batch.orders.len(), 3);

    let shipped = &batch.orders[0];
    assert_eq!(shipped.id, "CMD-7731-A");
    assert_eq!(shipped.reference, "CMD-7731");
    assert_eq!(shipped.state.raw, "SHIPPED");
    assert_eq!(shipped.state.status, OrderStatus::Shipped);
    assert_eq!(shipped.updated_at.to_string(), "2024-03-05T15:20:00.5Z");
    // TAX_EXCLUDED: total_price 90.69 plus line and shipping taxes 15.96 + 1.18 + 1.00
    assert_eq!(shipped.total.amount, Decimal::new(10883, 2));
    assert_eq!(shipped.total.currency, "EUR");
    assert_eq!(shipped.lines[0].price.amount, Decimal::new(798, 1));
    assert_eq!(shipped.lines[0].quantity, 2);
    assert_eq!(shipped.lines[0].sku, "DRILL-18V");
    assert_eq!(shipped.lines[1].state.raw, "INCIDENT_OPEN");
    assert_eq!(shipped.lines[1].state.status, OrderStatus::Incident);
    let address = shipped.shipping_address.as_ref().unwrap();
    assert_eq!(address.country.as_ref().unwrap().alpha2(), "FR");
    assert_eq!(address.street, ["4 rue des Arts", "Bâtiment B"]);
    assert_eq!(address.postal_code.as_deref(), Some("59000"));
    assert_eq!(address.company.as_deref(), Some("Atelier Morel"));
    assert_eq!(
        shipped.customer.email.as_deref(),
        Some("notify+cmd7731@notification.example.net")
    );
    assert_eq!(shipped.customer.locale.as_deref(), Some("fr_FR"));
    let shipment = shipped.shipment.as_ref().unwrap();
    assert_eq!(shipment.tracking_number.as_deref(), Some("6A12345678901"));
    assert_eq!(shipment.carrier_code.as_deref(), Some("COLISSIMO"));
    assert_eq!(shipment.carrier_name.as_deref(), Some("Colissimo"));
    assert_eq!(
        shipment.tracking_url.as_deref(),
        Some("https://tracking.example/6A12345678901")
    );

    let waiting = &batch.orders[1];
    assert_eq!(waiting.state.status, OrderStatus::AwaitingAcceptance);
    assert_eq!(waiting.shipping_address, None);
    assert_eq!(waiting.customer.email, None);
    assert_eq!(waiting.created_at.subsec_millisecond(), 250);
    assert_eq!(waiting.total.amount, Decimal::new(245, 1));
    assert_eq!(waiting.shipment, None);

    let unknown = &batch.orders[2];
    assert_eq!(unknown.state.raw, "AWAITING_SOMETHING_NEW");
    assert_eq!(unknown.state.status, OrderStatus::Other);
    assert_eq!(unknown.lines[0].state.status, OrderStatus::Other);
}

#[tokio::test(start_paused = true)]
async fn or11_quarantines_one_malformed_order_and_reads_the_rest() {
    let mut broken = order_json("BAD-1", "WAITING_ACCEPTANCE");
    broken["created_date"] = json!("the day before yesterday");
    let reply = json!({
        "orders": [order_json("OK-1", "WAITING_ACCEPTANCE"), broken, {"no": "id"}, order_json("OK-2", "WAITING_ACCEPTANCE")],
        "total_count": 4
    });
    let server = serving("GET", json_reply(200, reply)).await;
    let batch = mirakl(&server).orders_awaiting_acceptance().await.unwrap();
    let ids: Vec<_> = batch.orders.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["OK-1", "OK-2"]);
    assert_eq!(batch.malformed.len(), 2);
    assert_eq!(batch.malformed[0].order_id.as_deref(), Some("BAD-1"));
    assert!(batch.malformed[0].error.contains("created_date"));
    assert!(
        batch.malformed[0]
            .payload
            .contains("the day before yesterday")
    );
    assert_eq!(batch.malformed[1].order_id, None);
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_page_is_permanent() {
    let reply = ResponseTemplate::new(200).set_body_string("<html>maintenance</html>");
    let server = serving("GET", reply).await;
    let error = mirakl(&server)
        .orders_awaiting_acceptance()
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::Permanent { .. }),
        "{error:?}"
    );
}
