//! What the wiremock tests share: an Amazon client pointed at the mock server (LWA included),
//! canned answers, and the requests the client sent.

use std::time::Duration;

use serde_json::{Value, json};
use vigie_amazon::{Amazon, AmazonSettings};
use vigie_connector::testing::retrying;
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const SELLER: &str = "A2SELLER";
pub const SECRET: &str = "SECRET-client-secret";
pub const REFRESH: &str = "Atzr|SECRET-refresh";
pub const TOKEN: &str = "Atza|access-1";

pub fn settings(server: &MockServer) -> AmazonSettings {
    let mut settings = AmazonSettings::new(
        SELLER,
        "amzn1.application-oa2-client.test",
        secrecy::SecretString::from(SECRET.to_owned()),
        secrecy::SecretString::from(REFRESH.to_owned()),
    );
    settings.base_url = server.uri().parse().unwrap();
    settings.token_url = format!("{}/auth/o2/token", server.uri()).parse().unwrap();
    settings.http = retrying(2, Duration::from_millis(10), Duration::from_millis(50));
    settings.feed_check_every = Duration::from_millis(10);
    // Amazon's plans, a thousand times faster: the tests check shapes, not pacing.
    settings.limits.scale = 1000.0;
    settings
}

/// A server whose LWA grants `TOKEN` for an hour.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth/o2/token"))
        .respond_with(json_reply(
            200,
            json!({
                "access_token": TOKEN, "token_type": "bearer", "expires_in": 3600,
            }),
        ))
        .mount(&server)
        .await;
    server
}

pub fn amazon(server: &MockServer) -> Amazon {
    Amazon::new("test-amazon", settings(server)).unwrap()
}

pub fn json_reply(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// Answers every `verb` to paths matching `regex` with `reply`.
pub async fn answer(server: &MockServer, verb: &str, regex: &str, reply: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path_regex(regex))
        .respond_with(reply)
        .mount(server)
        .await;
}

/// Answers the first such request with `reply`, ahead of the standing answers.
pub async fn answer_once(server: &MockServer, verb: &str, regex: &str, reply: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path_regex(regex))
        .respond_with(reply)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
}

/// Answers requests carrying `name=value` with `reply`, ahead of the standing answers.
pub async fn answer_with_param(
    server: &MockServer,
    regex: &str,
    (name, value): (&str, &str),
    reply: ResponseTemplate,
) {
    Mock::given(method("GET"))
        .and(path_regex(regex))
        .and(query_param(name, value))
        .respond_with(reply)
        .with_priority(1)
        .mount(server)
        .await;
}

/// Every request but LWA's and the document transfers, which are not the SP-API.
pub async fn api_requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            let p = r.url.path();
            p != "/auth/o2/token" && !p.starts_with("/upload") && !p.starts_with("/download")
        })
        .collect()
}

pub async fn requests_to(server: &MockServer, prefix: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with(prefix))
        .collect()
}

pub fn param(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Every SP-API call carries the access token.
#[track_caller]
pub fn assert_token(request: &Request) {
    let token = request
        .headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok());
    assert_eq!(token, Some(TOKEN), "{}", request.url);
}

/// A v2026-01-01 order, merchant-fulfilled, with one item.
pub fn order(id: &str, status: &str, sku: &str) -> Value {
    json!({
        "orderId": id,
        "createdTime": "2026-11-30T10:00:00Z",
        "lastUpdatedTime": "2026-11-30T10:05:00Z",
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "A13V1IB3VIYZZH"},
        "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": "MERCHANT",
                        "shipByWindow": {"latestDateTime": "2026-12-02T23:59:59Z"}},
        "proceeds": {"grandTotal": {"amount": "39.80", "currencyCode": "EUR"}},
        "orderItems": [{
            "orderItemId": "11111111111111", "quantityOrdered": 2,
            "product": {"sellerSku": sku, "title": "Lampe",
                        "price": {"unitPrice": {"amount": "19.90", "currencyCode": "EUR"}}},
        }],
    })
}
