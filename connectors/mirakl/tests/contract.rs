//! Contract tests: the exact requests the connector sends to a Mirakl instance, and how it
//! reads the answers, against a wiremock server on 127.0.0.1.
//!
//! Request bodies are also checked against the shapes the MMP seller OpenAPI declares
//! (OR21_Request, STO01's `file` part, OR43's `thread_input`), encoded here as assertions.

use std::num::NonZeroU32;
use std::time::Duration;

use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{Value, json};
use vigie_connector::{
    ConnectorError, CustomerMessage, HttpSettings, LineDecision, Marketplace, OrderStatus,
    PushStatus, PushTicket, SkuRejection, StockLevel, StockUpdate, Timestamp,
};
use vigie_mirakl::{Mirakl, MiraklLimits, MiraklSettings, PartialAcceptanceFallback};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "4f1c-shop-key-7e2a";
const SHOP: u64 = 2001;

fn settings(server: &MockServer) -> MiraklSettings {
    let mut settings = MiraklSettings::new(
        server.uri().parse().unwrap(),
        SecretString::from(KEY.to_owned()),
    );
    settings.shop_id = Some(SHOP);
    settings.http = HttpSettings {
        timeout: None,
        max_retries: 2,
        min_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
    };
    settings
}

fn mirakl(server: &MockServer) -> Mirakl {
    Mirakl::new("test-mirakl", settings(server)).unwrap()
}

fn empty_page() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"orders": [], "total_count": 0}))
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

/// The query as sorted pairs, so a stray or missing parameter fails the test.
fn query(request: &Request) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = request.url.query_pairs().into_owned().collect();
    pairs.sort();
    pairs
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every Mirakl call: the raw key (no `Bearer`), JSON accepted.
fn assert_mirakl_headers(request: &Request) {
    assert_eq!(header(request, "authorization"), Some(KEY));
    assert_eq!(header(request, "accept"), Some("application/json"));
}

/// One part of a multipart body: its headers (lower-cased names) and content.
#[derive(Debug)]
struct FormPart {
    headers: Vec<(String, String)>,
    content: Vec<u8>,
}

impl FormPart {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn multipart(request: &Request) -> Vec<FormPart> {
    let content_type = header(request, "content-type").expect("a content type");
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("not multipart: {content_type}"));
    let body = String::from_utf8(request.body.clone()).unwrap();
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in body.split(&delimiter).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix("\r\n").unwrap();
        let (head, content) = chunk.split_once("\r\n\r\n").unwrap();
        let headers = head
            .split("\r\n")
            .map(|h| {
                let (n, v) = h.split_once(':').unwrap();
                (n.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        let content = content.strip_suffix("\r\n").unwrap().as_bytes().to_vec();
        parts.push(FormPart { headers, content });
    }
    parts
}

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

// ---------------------------------------------------------------------------------------------
// OR11
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn or11_asks_for_the_acceptance_queue_with_the_documented_query() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "orders": [order_json("O-1", "WAITING_ACCEPTANCE")], "total_count": 1
        })))
        .mount(&server)
        .await;
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
        pairs(&[
            ("order_state_codes", "WAITING_ACCEPTANCE"),
            ("max", "100"),
            ("offset", "0"),
            ("shop_id", "2001"),
        ])
    );
    assert_mirakl_headers(&sent[0]);
    assert!(sent[0].body.is_empty());
}

#[tokio::test(start_paused = true)]
async fn or11_update_window_is_sent_in_utc_seconds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(empty_page())
        .mount(&server)
        .await;
    let since: Timestamp = "2024-05-02T08:00:00.700Z".parse().unwrap();
    let until: Timestamp = "2024-05-02T10:00:00.100+02:00".parse().unwrap();
    mirakl(&server).orders_updated(since, until).await.unwrap();
    let sent = requests(&server).await;
    assert_eq!(
        query(&sent[0]),
        pairs(&[
            ("start_update_date", "2024-05-02T08:00:00Z"),
            ("end_update_date", "2024-05-02T08:00:01Z"),
            ("max", "100"),
            ("offset", "0"),
            ("shop_id", "2001"),
        ])
    );
    // the offset's sign and colons are percent-encoded in the raw query
    assert!(
        sent[0]
            .url
            .query()
            .unwrap()
            .contains("2024-05-02T08%3A00%3A00Z")
    );
}

#[tokio::test(start_paused = true)]
async fn or11_reads_orders_by_id_in_one_comma_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(empty_page())
        .mount(&server)
        .await;
    mirakl(&server)
        .orders_by_id(&["O-1".into(), "O-2".into()])
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(
        query(&sent[0]),
        pairs(&[
            ("order_ids", "O-1,O-2"),
            ("max", "100"),
            ("offset", "0"),
            ("shop_id", "2001"),
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn or11_pages_through_three_pages_in_one_poll_then_waits_for_the_next() {
    let server = MockServer::start().await;
    for (offset, count) in [(0, 100), (100, 100), (200, 37)] {
        let orders: Vec<Value> = (0..count)
            .map(|i| order_json(&format!("O-{}", offset + i), "WAITING_ACCEPTANCE"))
            .collect();
        Mock::given(method("GET"))
            .and(path("/api/orders"))
            .and(wiremock::matchers::query_param(
                "offset",
                offset.to_string(),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"orders": orders, "total_count": 237})),
            )
            .mount(&server)
            .await;
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
    assert!(
        start.elapsed() >= Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 6);
}

#[tokio::test(start_paused = true)]
async fn or11_follows_the_link_header_when_total_count_is_missing() {
    let server = MockServer::start().await;
    let full: Vec<Value> = (0..100)
        .map(|i| order_json(&format!("P-{i}"), "SHIPPING"))
        .collect();
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param("offset", "0"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "Link",
                    "<https://x/api/orders?max=100&offset=100>; rel=\"next\"",
                )
                .set_body_json(json!({"orders": full})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param("offset", "100"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"orders": [order_json("P-100", "SHIPPING")]})),
        )
        .mount(&server)
        .await;
    let batch = mirakl(&server).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(batch.orders.len(), 101);
    assert_eq!(batch.orders[0].state.status, OrderStatus::Accepted);
}

#[tokio::test(start_paused = true)]
async fn or11_keeps_one_copy_of_an_order_seen_twice_while_paging() {
    let server = MockServer::start().await;
    let mut first: Vec<Value> = (0..100)
        .map(|i| order_json(&format!("D-{i}"), "WAITING_ACCEPTANCE"))
        .collect();
    first[99] = order_json("D-dup", "WAITING_ACCEPTANCE");
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param("offset", "0"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"orders": first, "total_count": 101})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param("offset", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"orders": [order_json("D-dup", "WAITING_ACCEPTANCE")], "total_count": 101}),
        ))
        .mount(&server)
        .await;
    let batch = mirakl(&server).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(batch.orders.len(), 100);
    assert_eq!(batch.orders.iter().filter(|o| o.id == "D-dup").count(), 1);
}

#[tokio::test(start_paused = true)]
async fn or11_payload_from_the_openapi_shapes_with_taxes_null_addresses_and_unknowns() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            include_str!("fixtures/or11_taxes_and_null_addresses.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
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
    assert_eq!(shipped.lines[1].state.status, OrderStatus::Other);
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
    let server = MockServer::start().await;
    let mut broken = order_json("BAD-1", "WAITING_ACCEPTANCE");
    broken["created_date"] = json!("the day before yesterday");
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "orders": [order_json("OK-1", "WAITING_ACCEPTANCE"), broken, {"no": "id"}, order_json("OK-2", "WAITING_ACCEPTANCE")],
            "total_count": 4
        })))
        .mount(&server)
        .await;
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
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    let error = mirakl(&server)
        .orders_awaiting_acceptance()
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::Permanent { .. }),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// OR21
// ---------------------------------------------------------------------------------------------

fn decisions(accepts: &[bool]) -> Vec<LineDecision> {
    accepts
        .iter()
        .enumerate()
        .map(|(i, accept)| LineDecision {
            line_id: format!("O/7 A-{}", i + 1),
            accept: *accept,
        })
        .collect()
}

/// OR21_Request: `order_lines` required; each item exactly `{accepted: bool, id: string}`.
fn assert_or21_schema(body: &Value) {
    let object = body.as_object().expect("an object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["order_lines"]);
    for line in body["order_lines"].as_array().expect("an array") {
        let line = line.as_object().unwrap();
        let mut keys: Vec<_> = line.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["accepted", "id"]);
        assert!(line["accepted"].is_boolean());
        assert!(line["id"].is_string());
    }
}

#[tokio::test(start_paused = true)]
async fn or21_sends_every_line_in_one_put() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    mirakl(&server)
        .decide("O/7 A", &decisions(&[true, false]))
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method.as_str(), "PUT");
    // the id is one path segment, percent-encoded
    assert_eq!(sent[0].url.path(), "/api/orders/O%2F7%20A/accept");
    assert_eq!(query(&sent[0]), pairs(&[("shop_id", "2001")]));
    assert_mirakl_headers(&sent[0]);
    assert_eq!(header(&sent[0], "content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_or21_schema(&body);
    assert_eq!(
        body,
        json!({"order_lines": [
            {"accepted": true, "id": "O/7 A-1"},
            {"accepted": false, "id": "O/7 A-2"}
        ]})
    );
}

#[tokio::test(start_paused = true)]
async fn or21_invalid_state_means_already_done() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": 400, "code": "ORDER_INVALID_STATE",
            "message": "Order is not in the expected state for this operation"
        })))
        .mount(&server)
        .await;
    let error = mirakl(&server)
        .decide("O-1", &decisions(&[true]))
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::AlreadyDone(_)), "{error:?}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn or21_partial_acceptance_disabled_falls_back_to_refusing_the_order() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{"code": "ORDER_PARTIAL_ACCEPTANCE_DISABLED",
                        "message": "Partial acceptance is disabled for this shop"}]
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let mirakl = mirakl(&server);
    assert!(mirakl.capabilities().partial_acceptance);
    mirakl
        .decide("O-1", &decisions(&[true, false]))
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    let retry: Value = serde_json::from_slice(&sent[1].body).unwrap();
    assert_eq!(
        retry,
        json!({"order_lines": [
            {"accepted": false, "id": "O/7 A-1"},
            {"accepted": false, "id": "O/7 A-2"}
        ]})
    );
    // learned: the engine is told, and the next mixed decision goes straight to the fallback
    assert!(!mirakl.capabilities().partial_acceptance);
    mirakl
        .decide("O-2", &decisions(&[false, true]))
        .await
        .unwrap();
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn or21_partial_acceptance_disabled_can_be_left_to_a_human() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": "ORDER_PARTIAL_ACCEPTANCE_DISABLED", "message": "Partial acceptance is disabled for this shop"
        })))
        .mount(&server)
        .await;
    let mut settings = settings(&server);
    settings.partial_acceptance_fallback = PartialAcceptanceFallback::Report;
    let mirakl = Mirakl::new("test", settings).unwrap();
    let error = mirakl
        .decide("O-1", &decisions(&[true, false]))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Permanent { code: Some(c), .. } if c == "ORDER_PARTIAL_ACCEPTANCE_DISABLED"),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn or21_other_refusals_are_permanent_with_their_code() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{"code": "ORDER_LINE_ACCEPTANCE_DECISION_MISSING",
                        "message": "Some order lines are missing from the acceptance decision"}]
        })))
        .mount(&server)
        .await;
    let error = mirakl(&server)
        .decide("O-1", &decisions(&[true]))
        .await
        .unwrap_err();
    match error {
        ConnectorError::Permanent { code, message } => {
            assert_eq!(
                code.as_deref(),
                Some("ORDER_LINE_ACCEPTANCE_DECISION_MISSING")
            );
            assert!(message.contains("missing from the acceptance decision"));
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// STO01, STO02, STO03, OF21
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn sto01_uploads_a_stock_only_csv_as_the_file_part() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/offers/stock/imports"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("Location", "/api/offers/stock/imports/imp-42/status")
                .set_body_json(json!({"import_id": "imp-42"})),
        )
        .mount(&server)
        .await;
    let ticket = mirakl(&server)
        .push_stock(&[
            StockUpdate {
                sku: "DRILL-18V".into(),
                quantity: 7,
            },
            StockUpdate {
                sku: "HOSE-25M".into(),
                quantity: 0,
            },
        ])
        .await
        .unwrap();
    assert_eq!(ticket, PushTicket("imp-42".into()));
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method.as_str(), "POST");
    assert_eq!(query(&sent[0]), pairs(&[("shop_id", "2001")]));
    assert_mirakl_headers(&sent[0]);
    // STO01 request: multipart with the required `file` part, and nothing else
    let parts = multipart(&sent[0]);
    assert_eq!(parts.len(), 1);
    assert_eq!(
        parts[0].header("content-disposition"),
        Some("form-data; name=\"file\"; filename=\"stock.csv\"")
    );
    assert_eq!(parts[0].header("content-type"), Some("text/csv"));
    assert_eq!(
        String::from_utf8(parts[0].content.clone()).unwrap(),
        "\"offer-sku\";\"quantity\";\"warehouse-code\";\"update-delete\"\n\
         \"DRILL-18V\";\"7\";\"\";\"update\"\n\
         \"HOSE-25M\";\"0\";\"\";\"update\"\n"
    );
}

#[tokio::test(start_paused = true)]
async fn sto01_accepts_a_numeric_import_id_and_paces_imports() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"import_id": 2044})))
        .mount(&server)
        .await;
    let mirakl = mirakl(&server);
    let one = [StockUpdate {
        sku: "A".into(),
        quantity: 1,
    }];
    let start = tokio::time::Instant::now();
    assert_eq!(mirakl.push_stock(&one).await.unwrap().0, "2044");
    mirakl.push_stock(&one).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}

fn status_body(status: &str, has_error_report: bool) -> Value {
    json!({
        "import_id": "imp-42", "shop_id": SHOP, "status": status,
        "date_created": "2024-05-02T08:00:00Z", "has_error_report": has_error_report,
        "lines_in_success": 1, "lines_in_error": if has_error_report { 1 } else { 0 }
    })
}

#[tokio::test(start_paused = true)]
async fn sto02_reads_the_import_status_every_fifteen_seconds_at_most() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/offers/stock/imports/imp-42/status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(status_body("RUNNING", false)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/offers/stock/imports/imp-42/status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(status_body("COMPLETE", false)))
        .mount(&server)
        .await;
    let mirakl = mirakl(&server);
    let ticket = PushTicket("imp-42".into());
    let start = tokio::time::Instant::now();
    assert_eq!(
        mirakl.push_status(&ticket).await.unwrap(),
        PushStatus::Pending
    );
    assert_eq!(
        mirakl.push_status(&ticket).await.unwrap(),
        PushStatus::Completed { rejected: vec![] }
    );
    assert!(
        start.elapsed() >= Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    let sent = requests(&server).await;
    assert_eq!(sent[0].method.as_str(), "GET");
    assert_eq!(query(&sent[0]), pairs(&[("shop_id", "2001")]));
    assert_mirakl_headers(&sent[0]);
}

#[tokio::test(start_paused = true)]
async fn sto03_error_report_becomes_per_sku_rejections() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/offers/stock/imports/imp-42/status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(status_body("COMPLETE", true)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/offers/stock/imports/imp-42/error_report"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "\"line-number\";\"error-message\";\"offer-sku\";\"quantity\";\"warehouse-code\";\"update-delete\"\n\
             \"3\";\"Offer not found\";\"GHOST-1\";\"4\";\"\";\"update\"\n",
            "text/csv",
        ))
        .mount(&server)
        .await;
    let status = mirakl(&server)
        .push_status(&PushTicket("imp-42".into()))
        .await
        .unwrap();
    assert_eq!(
        status,
        PushStatus::Completed {
            rejected: vec![SkuRejection {
                sku: "GHOST-1".into(),
                message: "Offer not found".into()
            }]
        }
    );
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(query(&sent[1]), pairs(&[("shop_id", "2001")]));
}

#[tokio::test(start_paused = true)]
async fn sto02_failed_imports_fail_the_push() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(status_body("FAILED", false)))
        .mount(&server)
        .await;
    let status = mirakl(&server)
        .push_status(&PushTicket("imp-42".into()))
        .await
        .unwrap();
    assert!(matches!(status, PushStatus::Failed { .. }), "{status:?}");
}

#[tokio::test(start_paused = true)]
async fn of21_reads_every_offer_quantity() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/offers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "offers": [
                {"offer_id": 1, "shop_sku": "A", "quantity": 4, "active": true, "price": 10.5, "unknown": null},
                {"offer_id": 2, "shop_sku": "B", "quantity": 0, "active": false, "inactivity_reasons": ["ZERO_QUANTITY"]}
            ],
            "total_count": 2
        })))
        .mount(&server)
        .await;
    let levels = mirakl(&server).stock_levels().await.unwrap();
    assert_eq!(
        levels,
        [
            StockLevel {
                sku: "A".into(),
                quantity: 4
            },
            StockLevel {
                sku: "B".into(),
                quantity: 0
            }
        ]
    );
    let sent = requests(&server).await;
    assert_eq!(
        query(&sent[0]),
        pairs(&[("max", "100"), ("offset", "0"), ("shop_id", "2001")])
    );
    assert_mirakl_headers(&sent[0]);
}

// ---------------------------------------------------------------------------------------------
// OR43
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn or43_opens_a_customer_thread_with_a_thread_input_part() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/orders/O-1/threads"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "thread_id": "1f33b4f0-0cf8-4869-b148-e8e18b179770",
            "message_id": "00617ff1-7449-4574-a3a1-6fc256bf4d9b"
        })))
        .mount(&server)
        .await;
    mirakl(&server)
        .message_customer(
            "O-1",
            &CustomerMessage {
                subject: "Commande expédiée".into(),
                body: "Votre colis est parti : 6A123.".into(),
            },
        )
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(query(&sent[0]), pairs(&[("shop_id", "2001")]));
    assert_mirakl_headers(&sent[0]);
    let parts = multipart(&sent[0]);
    assert_eq!(parts.len(), 1);
    assert_eq!(
        parts[0].header("content-disposition"),
        Some("form-data; name=\"thread_input\"")
    );
    assert_eq!(parts[0].header("content-type"), Some("application/json"));
    let input: Value = serde_json::from_slice(&parts[0].content).unwrap();
    // OR43 thread_input: body (3..50000 chars), to (enum values), topic {type, value} required
    assert_eq!(
        input,
        json!({
            "body": "Votre colis est parti : 6A123.",
            "to": ["CUSTOMER"],
            "topic": {"type": "FREE_TEXT", "value": "Commande expédiée"}
        })
    );
}

#[tokio::test(start_paused = true)]
async fn or43_is_not_repeated_after_a_server_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let error = mirakl(&server)
        .message_customer(
            "O-1",
            &CustomerMessage {
                subject: "s".into(),
                body: "hello".into(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::Transient(_)), "{error:?}");
    assert_eq!(requests(&server).await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Error classes, limits, health, secrets
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn rate_limits_wait_for_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "37"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(empty_page())
        .mount(&server)
        .await;
    let start = tokio::time::Instant::now();
    mirakl(&server).orders_awaiting_acceptance().await.unwrap();
    // no upper bound: paused time jumps ahead while real sockets wait
    assert!(
        start.elapsed() >= Duration::from_secs(37),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn persistent_rate_limits_are_reported_as_such() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "5"))
        .mount(&server)
        .await;
    let error = mirakl(&server).stock_levels().await.unwrap_err();
    assert_eq!(
        error,
        ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(5))
        }
    );
}

async fn error_for(status: u16, body: &str) -> (ConnectorError, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    let error = mirakl(&server).stock_levels().await.unwrap_err();
    (error, requests(&server).await.len())
}

#[tokio::test(start_paused = true)]
async fn each_http_failure_has_its_class() {
    let (error, calls) = error_for(401, "").await;
    assert!(matches!(error, ConnectorError::Auth(_)), "{error:?}");
    assert_eq!(calls, 1);
    let (error, calls) = error_for(403, "{\"message\":\"Forbidden\"}").await;
    assert!(matches!(error, ConnectorError::Auth(_)), "{error:?}");
    assert_eq!(calls, 1);
    let (error, calls) = error_for(500, "oops").await;
    assert!(matches!(error, ConnectorError::Transient(_)), "{error:?}");
    assert_eq!(calls, 3, "first try and two retries");
    let (error, calls) = error_for(
        400,
        "{\"message\":\"The limit of 100 is exceeded for the parameter : max\",\"status\":400}",
    )
    .await;
    assert_eq!(
        error,
        ConnectorError::Permanent {
            code: None,
            message: "OF21 HTTP 400: The limit of 100 is exceeded for the parameter : max".into()
        }
    );
    assert_eq!(calls, 1);
    let (error, _) = error_for(404, "<html>Not Found</html>").await;
    assert!(
        matches!(&error, ConnectorError::Permanent { code: Some(c), .. } if c == "NOT_FOUND"),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn health_is_the_version_endpoint_and_the_account_once_a_day() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/version"))
        .respond_with(ResponseTemplate::new(200).set_body_string("3.210.0"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "shop_id": SHOP, "shop_name": "Atelier", "shop_state": "OPEN", "currency_iso_code": "EUR"
        })))
        .mount(&server)
        .await;
    let mirakl = mirakl(&server);
    mirakl.health().await.unwrap();
    mirakl.health().await.unwrap();
    let sent = requests(&server).await;
    let paths: Vec<_> = sent.iter().map(|r| r.url.path()).collect();
    assert_eq!(paths, ["/api/version", "/api/account", "/api/version"]);
    for request in &sent {
        assert_mirakl_headers(request);
        assert_eq!(query(request), pairs(&[("shop_id", "2001")]));
    }
    tokio::time::advance(Duration::from_secs(24 * 60 * 60)).await;
    mirakl.health().await.unwrap();
    assert_eq!(requests(&server).await.len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_suspended_shop_is_unhealthy() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/version"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/account"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"shop_id": SHOP, "shop_state": "SUSPENDED"})),
        )
        .mount(&server)
        .await;
    let error = mirakl(&server).health().await.unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Permanent { code: Some(c), .. } if c == "SHOP_SUSPENDED"),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_base_url_with_a_path_keeps_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(empty_page())
        .mount(&server)
        .await;
    let mut settings = settings(&server);
    settings.base_url = format!("{}/operator/", server.uri()).parse().unwrap();
    settings.shop_id = None;
    Mirakl::new("t", settings)
        .unwrap()
        .orders_awaiting_acceptance()
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent[0].url.path(), "/operator/api/orders");
    // without a shop id, none is sent
    assert!(sent[0].url.query_pairs().all(|(k, _)| k != "shop_id"));
}

#[tokio::test(start_paused = true)]
async fn limits_are_overridable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(empty_page())
        .mount(&server)
        .await;
    let mut settings = settings(&server);
    settings.limits = MiraklLimits {
        orders_per_minute: NonZeroU32::new(2).unwrap(),
        ..MiraklLimits::default()
    };
    let mirakl = Mirakl::new("t", settings).unwrap();
    let start = tokio::time::Instant::now();
    // two polls at once (governor's burst is the per-minute count), the third 30 s later
    for _ in 0..3 {
        mirakl.orders_awaiting_acceptance().await.unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_key_never_shows_in_debug_output_or_errors() {
    let server = MockServer::start().await;
    // a server that echoes what it was sent must not make us repeat the key
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!("bad key {KEY}")))
        .mount(&server)
        .await;
    let settings = settings(&server);
    assert!(!format!("{settings:?}").contains(KEY));
    let mirakl = Mirakl::new("t", settings).unwrap();
    assert!(!format!("{mirakl:?}").contains(KEY));
    let error = mirakl.orders_awaiting_acceptance().await.unwrap_err();
    assert!(matches!(error, ConnectorError::Auth(_)));
    assert!(!error.to_string().contains(KEY), "{error}");
    assert!(!format!("{error:?}").contains(KEY));
}
