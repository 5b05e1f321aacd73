//! Contract tests: the exact requests the connector sends, and how it reads Fnac's answers,
//! against wiremock on 127.0.0.1. Fixtures are written from the documented shapes (XSDs and
//! recorded-response quirks: CDATA, empty elements, shuffled order, unknown elements).
//!
//! The exact-body assertions encode the XSD constraints the requests were checked against
//! with `xmllint --schema` during development: root = service name in Fnac's namespace,
//! `partner_id`/`shop_id`/`token` root attributes, element order where the XSD has a sequence.

use std::time::Duration;

use secrecy::SecretString;
use vigie_connector::{
    ConnectorError, CustomerMessage, HttpSettings, LineDecision, Marketplace, OrderStatus,
    PushStatus, PushTicket, SkuRejection, StockLevel, StockUpdate, Timestamp,
};
use vigie_fnac::{Fnac, FnacSettings};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const NS: &str = "http://www.fnac.com/schemas/mp-dialog.xsd";
const PARTNER: &str = "11111111-2222-3333-4444-555555555555";
const SHOP: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const KEY: &str = "99999999-8888-7777-6666-555555555555";
const TOKEN: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const TOKEN2: &str = "16fd2706-8baf-433b-82eb-8c7fada847da";
const ORDER: &str = "57F645053CDFC";

fn settings(server: &MockServer) -> FnacSettings {
    let base = format!("{}/api.php", server.uri()).parse().unwrap();
    let mut settings = FnacSettings::new(base, PARTNER, SHOP, SecretString::from(KEY));
    settings.http = HttpSettings {
        timeout: None,
        max_retries: 2,
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    };
    settings.requests_per_minute = 10_000.try_into().unwrap();
    settings
}

fn fnac(server: &MockServer) -> Fnac {
    Fnac::new("fnac-test", settings(server)).unwrap()
}

fn xml(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/xml; charset=utf-8")
        .set_body_string(body)
}

fn auth_ok(token: &str, valid_for: Duration) -> ResponseTemplate {
    let validity = Timestamp::now()
        .checked_add(jiff::SignedDuration::try_from(valid_for).unwrap())
        .unwrap();
    xml(format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<auth_response status="OK" xmlns="{NS}">
  <token>{token}</token>
  <validity>{}</validity>
  <version>2.6.0</version>
</auth_response>"#,
        validity.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    ))
}

async fn mount_auth(server: &MockServer, token: &str) {
    Mock::given(method("POST"))
        .and(path("/api.php/auth"))
        .respond_with(auth_ok(token, Duration::from_secs(3600)))
        .mount(server)
        .await;
}

fn service_path(service: &str) -> wiremock::matchers::PathExactMatcher {
    path(format!("/api.php/{service}"))
}

async fn bodies(server: &MockServer, service: &str) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == format!("/api.php/{service}"))
        .map(|r: &Request| String::from_utf8(r.body.clone()).unwrap())
        .collect()
}

/// What every authenticated request starts with.
fn header(service: &str, token: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<{service} xmlns=\"{NS}\" partner_id=\"{PARTNER}\" shop_id=\"{SHOP}\" token=\"{token}\""
    )
}

fn empty_orders() -> ResponseTemplate {
    xml(format!(
        r#"<orders_query_response status="OK" xmlns="{NS}"><page>1</page><total_paging>0</total_paging><nb_total_per_page>100</nb_total_per_page><nb_total_result>0</nb_total_result></orders_query_response>"#
    ))
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn authenticates_with_child_elements_and_reuses_the_token() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .respond_with(empty_orders())
        .expect(2)
        .mount(&server)
        .await;
    let fnac = fnac(&server);
    fnac.orders_awaiting_acceptance().await.unwrap();
    fnac.orders_awaiting_acceptance().await.unwrap();

    let auths = bodies(&server, "auth").await;
    assert_eq!(auths.len(), 1, "the token is reused");
    assert_eq!(
        auths[0],
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<auth xmlns=\"{NS}\"><partner_id>{PARTNER}</partner_id><shop_id>{SHOP}</shop_id><key>{KEY}</key></auth>"
        )
    );
    let queries = bodies(&server, "orders_query").await;
    assert_eq!(
        queries[0],
        format!(
            "{} results_count=\"100\"><paging>1</paging><states><state>Created</state></states></orders_query>",
            header("orders_query", TOKEN)
        )
    );
}

#[tokio::test(start_paused = true)]
async fn renews_the_token_before_its_validity() {
    let server = MockServer::start().await;
    // Valid 5 minutes; with the 60 s skew margin it is renewed after 4.
    Mock::given(method("POST"))
        .and(path("/api.php/auth"))
        .respond_with(auth_ok(TOKEN, Duration::from_secs(300)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .respond_with(empty_orders())
        .mount(&server)
        .await;
    let fnac = fnac(&server);
    fnac.orders_awaiting_acceptance().await.unwrap();
    // Paused time also jumps while sockets wait, so only "at least 241 s later" is certain
    // (reuse within validity is covered by the test above).
    tokio::time::advance(Duration::from_secs(241)).await;
    fnac.orders_awaiting_acceptance().await.unwrap();
    assert_eq!(
        bodies(&server, "auth").await.len(),
        2,
        "renewed within the skew margin"
    );
    assert_eq!(
        bodies(&server, "orders_query").await.len(),
        2,
        "no call was refused"
    );
}

#[tokio::test]
async fn re_authenticates_once_when_the_token_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api.php/auth"))
        .respond_with(auth_ok(TOKEN, Duration::from_secs(3600)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_auth(&server, TOKEN2).await;
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .and(body_string_contains(format!("token=\"{TOKEN}\"")))
        .respond_with(xml(format!(
            r#"<orders_query_response status="ERROR" xmlns="{NS}"><error severity="ERROR" code="ERR_097">Authentication failed : token expired</error></orders_query_response>"#
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .and(body_string_contains(format!("token=\"{TOKEN2}\"")))
        .respond_with(empty_orders())
        .mount(&server)
        .await;
    let batch = fnac(&server).orders_awaiting_acceptance().await.unwrap();
    assert!(batch.orders.is_empty());
    assert_eq!(bodies(&server, "auth").await.len(), 2);
    assert_eq!(bodies(&server, "orders_query").await.len(), 2);
}

#[tokio::test]
async fn gives_up_after_one_re_authentication() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("offers_query"))
        .respond_with(ResponseTemplate::new(401).set_body_string("no"))
        .mount(&server)
        .await;
    let error = fnac(&server).stock_levels().await.unwrap_err();
    assert!(matches!(error, ConnectorError::Auth(_)), "{error:?}");
    assert_eq!(bodies(&server, "auth").await.len(), 2);
    assert_eq!(bodies(&server, "offers_query").await.len(), 2);
}

#[tokio::test]
async fn refused_credentials_are_an_auth_error_without_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api.php/auth"))
        .respond_with(xml(format!(
            r#"<auth_response status="ERROR" xmlns="{NS}"><error severity="ERROR" code="ERR_001"><![CDATA[Authentication failed : one of the parameters (partner_id, key, shop_id) is invalid]]></error></auth_response>"#
        )))
        .mount(&server)
        .await;
    let fnac = fnac(&server);
    let error = fnac.health().await.unwrap_err();
    let ConnectorError::Auth(message) = &error else {
        panic!("{error:?}")
    };
    assert!(message.contains("Authentication failed"), "{message}");
    assert!(!format!("{error:?}{error}").contains(KEY));
    assert!(!format!("{fnac:?}").contains(KEY));
    // nothing else was attempted with no session
    assert!(bodies(&server, "orders_query").await.is_empty());
}

#[test]
fn settings_need_fnac_uuids() {
    let base = "http://127.0.0.1:1/api.php".parse().unwrap();
    let settings = FnacSettings::new(base, "partner", SHOP, SecretString::from(KEY));
    let error = Fnac::new("x", settings).unwrap_err();
    assert!(error.to_string().contains("partner_id"), "{error}");
}

// ---------------------------------------------------------------- orders_query

/// A realistic order: CDATA strings, empty dates, shuffled elements, an unknown element,
/// irregular whitespace, an alpha-3 country.
fn lenient_order(id: &str) -> String {
    format!(
        r#"
  <order>
    <client_firstname><![CDATA[Ana]]></client_firstname>
    <shop_id>{SHOP}</shop_id>
    <order_detail>
      <product_name><![CDATA[Casque   audio]]></product_name>
      <order_detail_id>1</order_detail_id>
      <state>ToAccept</state>
      <product_fnac_id>123</product_fnac_id>
      <offer_fnac_id>0b4ab1c4-0000-4000-8000-000000000001</offer_fnac_id>
      <offer_seller_id><![CDATA[SKU-1]]></offer_seller_id>
      <price>19.90</price><fees>2.00</fees><product_state>11</product_state>
      <quantity>
        2
      </quantity>
      <received_at></received_at>
      <tracking_number><![CDATA[]]></tracking_number>
      <a_field_fnac_added_later>whatever</a_field_fnac_added_later>
    </order_detail>
    <order_id><![CDATA[{id}]]></order_id>
    <client_lastname><![CDATA[Martin]]></client_lastname>
    <state>Created</state>
    <created_at>2026-11-02T10:00:00+01:00</created_at>
    <client_id>0b4ab1c4-0000-4000-8000-00000000000c</client_id>
    <shipping_address>
      <firstname>Ana</firstname><lastname>Martin</lastname>
      <address1><![CDATA[1 rue de Rivoli]]></address1><address2></address2>
      <zipcode>75001</zipcode><city>Paris</city><country>FRA</country>
    </shipping_address>
  </order>"#
    )
}

fn orders_page(page: u32, total_paging: u32, orders: &str) -> ResponseTemplate {
    xml(format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<orders_query_response status="OK" xmlns="{NS}">
  <page>{page}</page>
  <total_paging>{total_paging}</total_paging>
  <nb_total_per_page>100</nb_total_per_page>
  <nb_total_result>3</nb_total_result>{orders}
</orders_query_response>"#
    ))
}

#[tokio::test]
async fn pages_until_total_paging_and_reads_leniently() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .and(body_string_contains("<paging>1</paging>"))
        .respond_with(orders_page(1, 2, &lenient_order("AAAAAAAAAAAA1")))
        .mount(&server)
        .await;
    let broken = format!(
        "<order><order_id>BBBBBBBBBBBB2</order_id><state>Created</state><created_at>2026-11-02T10:00:00Z</created_at><order_detail><order_detail_id>1</order_detail_id><state>ToAccept</state><offer_seller_id>X</offer_seller_id><quantity>lots</quantity><price>1</price></order_detail></order>{}",
        lenient_order("CCCCCCCCCCCC3")
    );
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .and(body_string_contains("<paging>2</paging>"))
        .respond_with(orders_page(2, 2, &broken))
        .mount(&server)
        .await;

    let batch = fnac(&server).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(bodies(&server, "orders_query").await.len(), 2);
    let ids: Vec<_> = batch.orders.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["AAAAAAAAAAAA1", "CCCCCCCCCCCC3"]);
    assert_eq!(batch.malformed.len(), 1);
    let malformed = &batch.malformed[0];
    assert_eq!(malformed.order_id.as_deref(), Some("BBBBBBBBBBBB2"));
    assert!(malformed.error.contains("quantity"), "{}", malformed.error);
    assert!(malformed.payload.contains("<quantity>lots</quantity>"));

    let order = &batch.orders[0];
    assert_eq!(order.state.raw, "Created");
    assert_eq!(order.state.status, OrderStatus::AwaitingAcceptance);
    assert_eq!(order.customer.first_name.as_deref(), Some("Ana"));
    let line = &order.lines[0];
    assert_eq!(
        (line.id.as_str(), line.sku.as_str(), line.quantity),
        ("1", "SKU-1", 2)
    );
    assert_eq!(line.title.as_deref(), Some("Casque   audio"));
    assert_eq!(line.state.raw, "ToAccept");
    assert_eq!(line.price.amount.to_string(), "39.80");
    assert_eq!(line.price.currency, "EUR");
    let address = order.shipping_address.as_ref().unwrap();
    assert_eq!(address.country.as_ref().unwrap().alpha2(), "FR");
    assert_eq!(address.street, ["1 rue de Rivoli"]);
    assert_eq!(
        order.shipment, None,
        "an empty tracking number is no shipment"
    );
}

#[tokio::test]
async fn queries_changes_with_an_overlapping_updated_at_window() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .respond_with(empty_orders())
        .mount(&server)
        .await;
    let since: Timestamp = "2026-11-02T10:00:00Z".parse().unwrap();
    let until: Timestamp = "2026-11-02T10:05:00Z".parse().unwrap();
    fnac(&server).orders_updated(since, until).await.unwrap();
    assert_eq!(
        bodies(&server, "orders_query").await[0],
        format!(
            "{} results_count=\"100\"><paging>1</paging><date type=\"UpdatedAt\"><min>2026-11-02T09:50:00+00:00</min><max>2026-11-02T10:15:00+00:00</max></date></orders_query>",
            header("orders_query", TOKEN)
        )
    );
}

#[tokio::test]
async fn re_reads_orders_by_id_and_carries_shipping_data() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    let shipped = lenient_order(ORDER)
        .replace("<state>Created</state>", "<state>Shipped</state>")
        .replace("<state>ToAccept</state>", "<state>Shipped</state>")
        .replace(
            "<tracking_number><![CDATA[]]></tracking_number>",
            "<tracking_number><![CDATA[6A12345678901]]></tracking_number><tracking_company>LAPOSTE</tracking_company>",
        );
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .respond_with(orders_page(1, 1, &shipped))
        .mount(&server)
        .await;
    let batch = fnac(&server)
        .orders_by_id(&[ORDER.to_owned(), "not-an-id".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        bodies(&server, "orders_query").await[0],
        format!(
            "{} results_count=\"100\"><paging>1</paging><orders_fnac_id><order_fnac_id>{ORDER}</order_fnac_id></orders_fnac_id></orders_query>",
            header("orders_query", TOKEN)
        )
    );
    let order = &batch.orders[0];
    assert_eq!(order.state.status, OrderStatus::Shipped);
    let shipment = order.shipment.as_ref().unwrap();
    assert_eq!(shipment.tracking_number.as_deref(), Some("6A12345678901"));
    assert_eq!(shipment.carrier_code.as_deref(), Some("LAPOSTE"));
}

#[tokio::test]
async fn a_root_error_fails_the_query() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .respond_with(xml(format!(
            r#"<orders_query_response status="FATAL" xmlns="{NS}"><error severity="FATAL" code="ERR_096">XML Validation failed</error></orders_query_response>"#
        )))
        .mount(&server)
        .await;
    let error = fnac(&server)
        .orders_awaiting_acceptance()
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ConnectorError::Permanent {
            code: Some("ERR_096".into()),
            message: "XML Validation failed".into()
        }
    );
}

// ---------------------------------------------------------------- orders_update

fn update_reply(order: &str) -> ResponseTemplate {
    xml(format!(
        r#"<orders_update_response status="OK" xmlns="{NS}">{order}</orders_update_response>"#
    ))
}

async fn decide_with(
    reply: ResponseTemplate,
    lines: &[(&str, bool)],
) -> (Result<(), ConnectorError>, String) {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("orders_update"))
        .respond_with(reply)
        .mount(&server)
        .await;
    let lines: Vec<LineDecision> = lines
        .iter()
        .map(|(id, accept)| LineDecision {
            line_id: (*id).into(),
            accept: *accept,
        })
        .collect();
    let outcome = fnac(&server).decide(ORDER, &lines).await;
    let body = bodies(&server, "orders_update").await.remove(0);
    (outcome, body)
}

#[tokio::test]
async fn accepts_every_line() {
    let (outcome, body) = decide_with(
        update_reply(&format!(
            "<order><status>OK</status><order_id>{ORDER}</order_id><state>Accepted</state><order_detail><order_detail_id>1</order_detail_id><status>OK</status><state>Accepted</state></order_detail></order>"
        )),
        &[("1", true)],
    )
    .await;
    outcome.unwrap();
    assert_eq!(
        body,
        format!(
            "{}><order order_id=\"{ORDER}\" action=\"accept_order\"><order_detail><order_detail_id>1</order_detail_id><action>Accepted</action></order_detail></order></orders_update>",
            header("orders_update", TOKEN)
        )
    );
}

#[tokio::test]
async fn refuses_every_line() {
    let (outcome, body) = decide_with(
        update_reply(&format!(
            "<order><status>OK</status><order_id>{ORDER}</order_id><state>Refused</state></order>"
        )),
        &[("1", false), ("2", false)],
    )
    .await;
    outcome.unwrap();
    assert!(body.ends_with(&format!(
        "<order order_id=\"{ORDER}\" action=\"accept_order\"><order_detail><order_detail_id>1</order_detail_id><action>Refused</action></order_detail><order_detail><order_detail_id>2</order_detail_id><action>Refused</action></order_detail></order></orders_update>"
    )), "{body}");
}

#[tokio::test]
async fn accepts_some_lines_and_refuses_others() {
    let (outcome, body) = decide_with(
        update_reply(&format!(
            "<order><order_id>{ORDER}</order_id><status>OK</status><order_detail><status>OK</status><order_detail_id>1</order_detail_id></order_detail><order_detail><order_detail_id>2</order_detail_id><status>OK</status></order_detail></order>"
        )),
        &[("1", true), ("2", false)],
    )
    .await;
    outcome.unwrap();
    assert!(body.contains("<order_detail_id>1</order_detail_id><action>Accepted</action>"));
    assert!(body.contains("<order_detail_id>2</order_detail_id><action>Refused</action>"));
}

#[tokio::test]
async fn a_wrong_state_is_already_done() {
    let (outcome, _) = decide_with(
        xml(format!(
            r#"<orders_update_response status="ERROR" xmlns="{NS}"><order><status>FATAL</status><order_id>{ORDER}</order_id><error severity="FATAL" code="ERR_003"><![CDATA[Order status is not valid for action accept_order]]></error></order></orders_update_response>"#
        )),
        &[("1", true)],
    )
    .await;
    let error = outcome.unwrap_err();
    assert!(
        matches!(error, ConnectorError::AlreadyDone(ref m) if m.contains("ERR_003")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_line_error_is_reported_with_its_code() {
    let (outcome, _) = decide_with(
        update_reply(&format!(
            r#"<order><status>ERROR</status><order_id>{ORDER}</order_id><order_detail><order_detail_id>1</order_detail_id><status>OK</status></order_detail><order_detail><order_detail_id>2</order_detail_id><status>ERROR</status><error severity="ERROR" code="ERR_050">Line cannot be refused</error></order_detail></order>"#
        )),
        &[("1", true), ("2", false)],
    )
    .await;
    let error = outcome.unwrap_err();
    assert_eq!(
        error,
        ConnectorError::Permanent {
            code: Some("ERR_050".into()),
            message: format!("order {ORDER} line 2: Line cannot be refused")
        }
    );
}

#[tokio::test]
async fn a_line_in_the_wrong_state_is_already_done() {
    let (outcome, _) = decide_with(
        update_reply(&format!(
            r#"<order><status>ERROR</status><order_id>{ORDER}</order_id><order_detail><order_detail_id>1</order_detail_id><status>FATAL</status><error severity="FATAL" code="ERR_003">Order status is not valid for action accept_order</error></order_detail></order>"#
        )),
        &[("1", true)],
    )
    .await;
    assert!(
        matches!(outcome, Err(ConnectorError::AlreadyDone(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn bad_decisions_are_refused_before_any_call() {
    let server = MockServer::start().await;
    let fnac = fnac(&server);
    let line = |id: &str| LineDecision {
        line_id: id.into(),
        accept: true,
    };
    assert!(matches!(
        fnac.decide("SHORT", &[line("1")]).await,
        Err(ConnectorError::Permanent { .. })
    ));
    assert!(matches!(
        fnac.decide(ORDER, &[line("x")]).await,
        Err(ConnectorError::Permanent { .. })
    ));
    assert!(matches!(
        fnac.decide(ORDER, &[]).await,
        Err(ConnectorError::Permanent { .. })
    ));
    assert!(server.received_requests().await.unwrap().is_empty());
}

// ---------------------------------------------------------------- offers and batches

const BATCH: &str = "0b4ab1c4-5555-4000-8000-000000000001";

#[tokio::test]
async fn pushes_seller_sku_quantities_and_returns_the_batch_id() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("offers_update"))
        .respond_with(xml(format!(
            r#"<offers_update_response status="OK" xmlns="{NS}"><batch_id>{BATCH}</batch_id></offers_update_response>"#
        )))
        .mount(&server)
        .await;
    let ticket = fnac(&server)
        .push_stock(&[
            StockUpdate {
                sku: "SKU-1".into(),
                quantity: 3,
            },
            StockUpdate {
                sku: "A&B".into(),
                quantity: 0,
            },
            StockUpdate {
                sku: "BIG".into(),
                quantity: 25_000,
            },
        ])
        .await
        .unwrap();
    assert_eq!(ticket, PushTicket(BATCH.into()));
    assert_eq!(
        bodies(&server, "offers_update").await[0],
        format!(
            "{}><offer><offer_reference type=\"SellerSku\">SKU-1</offer_reference><quantity>3</quantity></offer><offer><offer_reference type=\"SellerSku\">A&amp;B</offer_reference><quantity>0</quantity></offer><offer><offer_reference type=\"SellerSku\">BIG</offer_reference><quantity>9999</quantity></offer></offers_update>",
            header("offers_update", TOKEN)
        )
    );
}

#[tokio::test]
async fn refuses_pushes_fnac_would_refuse() {
    let server = MockServer::start().await;
    let fnac = fnac(&server);
    assert!(fnac.push_stock(&[]).await.is_err());
    let too_many: Vec<_> = (0..10_001)
        .map(|i| StockUpdate {
            sku: format!("S{i}"),
            quantity: 1,
        })
        .collect();
    assert!(fnac.push_stock(&too_many).await.is_err());
    assert_eq!(fnac.capabilities().max_stock_batch, 10_000);
    assert_eq!(fnac.capabilities().max_quantity, 9_999);
    assert!(server.received_requests().await.unwrap().is_empty());
}

async fn batch_status(reply: String) -> (PushStatus, String) {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("batch_status"))
        .respond_with(xml(reply))
        .mount(&server)
        .await;
    let status = fnac(&server)
        .push_status(&PushTicket(BATCH.into()))
        .await
        .unwrap();
    (status, bodies(&server, "batch_status").await.remove(0))
}

#[tokio::test]
async fn follows_a_batch_through_active_and_running() {
    for state in ["ACTIVE", "RUNNING"] {
        let (status, body) = batch_status(format!(
            r#"<batch_status_response status="{state}" xmlns="{NS}"><batch_id>{BATCH}</batch_id></batch_status_response>"#
        ))
        .await;
        assert_eq!(status, PushStatus::Pending);
        assert_eq!(
            body,
            format!(
                "{}><batch_id>{BATCH}</batch_id></batch_status>",
                header("batch_status", TOKEN)
            )
        );
    }
}

#[tokio::test]
async fn an_ok_batch_can_hold_failed_offers() {
    let (status, _) = batch_status(format!(
        r#"<batch_status_response status="OK" xmlns="{NS}">
  <batch_id>{BATCH}</batch_id>
  <offer status="OK"><offer_seller_id>SKU-1</offer_seller_id><offer_fnac_id>x</offer_fnac_id></offer>
  <offer status="ERROR"><product_fnac_id/><offer_seller_id><![CDATA[SKU-2]]></offer_seller_id>
     <error severity="ERROR" code="ERR_026">Product not found</error></offer>
  <offer status="OK"><offer_seller_id>SKU-3</offer_seller_id><error severity="WARNING" code="ERR_900">ignored field</error></offer>
</batch_status_response>"#
    ))
    .await;
    assert_eq!(
        status,
        PushStatus::Completed {
            rejected: vec![SkuRejection {
                sku: "SKU-2".into(),
                message: "ERR_026: Product not found".into()
            }]
        }
    );
}

#[tokio::test]
async fn a_fatal_batch_failed() {
    let (status, _) = batch_status(format!(
        r#"<batch_status_response status="FATAL" xmlns="{NS}"><batch_id>{BATCH}</batch_id><error severity="FATAL" code="ERR_096">XML Validation failed</error></batch_status_response>"#
    ))
    .await;
    assert_eq!(
        status,
        PushStatus::Failed {
            message: "ERR_096: XML Validation failed".into()
        }
    );
}

#[tokio::test]
async fn reads_offer_quantities_page_by_page() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    let offer = |sku: &str, quantity: u32| {
        format!(
            "<offer><product_name><![CDATA[P]]></product_name><product_fnac_id>1</product_fnac_id><offer_fnac_id>o</offer_fnac_id><offer_seller_id><![CDATA[{sku}]]></offer_seller_id><price>10.00</price><fee_excluding_taxes>1</fee_excluding_taxes><fee_including_all_taxes>1.2</fee_including_all_taxes><product_state>11</product_state><quantity>{quantity}</quantity><description/><internal_comment/></offer>"
        )
    };
    for (page, sku, quantity) in [(1, "SKU-1", 4), (2, "SKU-2", 0)] {
        Mock::given(method("POST"))
            .and(service_path("offers_query"))
            .and(body_string_contains(format!("<paging>{page}</paging>")))
            .respond_with(xml(format!(
                r#"<offers_query_response status="OK" xmlns="{NS}"><page>{page}</page><total_paging>2</total_paging><nb_total_per_page>1</nb_total_per_page><nb_total_result>2</nb_total_result>{}</offers_query_response>"#,
                offer(sku, quantity)
            )))
            .mount(&server)
            .await;
    }
    let levels = fnac(&server).stock_levels().await.unwrap();
    assert_eq!(
        levels,
        [
            StockLevel {
                sku: "SKU-1".into(),
                quantity: 4
            },
            StockLevel {
                sku: "SKU-2".into(),
                quantity: 0
            }
        ]
    );
    assert_eq!(
        bodies(&server, "offers_query").await[0],
        format!(
            "{} results_count=\"100\"><paging>1</paging></offers_query>",
            header("offers_query", TOKEN)
        )
    );
}

// ---------------------------------------------------------------- messages_update

fn message() -> CustomerMessage {
    CustomerMessage {
        subject: "Votre commande est partie".into(),
        body: "Suivi : 6A123 <La Poste>".into(),
    }
}

#[tokio::test]
async fn writes_to_the_client_about_the_order() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("messages_update"))
        .respond_with(xml(format!(
            r#"<messages_update_response status="OK" xmlns="{NS}"><message status="OK" id="{ORDER}"/></messages_update_response>"#
        )))
        .mount(&server)
        .await;
    fnac(&server)
        .message_customer(ORDER, &message())
        .await
        .unwrap();
    assert_eq!(
        bodies(&server, "messages_update").await[0],
        format!(
            "{}><message action=\"create\" id=\"{ORDER}\"><message_to>CLIENT</message_to><message_subject>order_information</message_subject><message_description>Votre commande est partie\n\nSuivi : 6A123 &lt;La Poste&gt;</message_description><message_type>ORDER</message_type></message></messages_update>",
            header("messages_update", TOKEN)
        )
    );
}

#[tokio::test]
async fn a_refused_message_is_permanent() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("messages_update"))
        .respond_with(xml(format!(
            r#"<messages_update_response status="ERROR" xmlns="{NS}"><message status="ERROR" id="{ORDER}"><error severity="ERROR" code="ERR_140">Message not allowed</error></message></messages_update_response>"#
        )))
        .mount(&server)
        .await;
    let error = fnac(&server)
        .message_customer(ORDER, &message())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Permanent { code: Some(c), .. } if c == "ERR_140"),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_message_that_may_have_left_is_not_sent_again() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("messages_update"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let error = fnac(&server)
        .message_customer(ORDER, &message())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::Transient(_)), "{error:?}");
    assert_eq!(bodies(&server, "messages_update").await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn reads_are_retried_on_server_errors() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(service_path("orders_query"))
        .respond_with(empty_orders())
        .mount(&server)
        .await;
    fnac(&server).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(bodies(&server, "orders_query").await.len(), 2);
}
