//! What the wiremock tests share: a client pointed at the mock server, canned answers, and
//! readers for the requests the client sent.

use std::time::Duration;

use serde_json::{Value, json};
use vigie_connector::testing::retrying;
use vigie_mirakl::{Mirakl, MiraklSettings};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

pub const KEY: &str = "4f1c-shop-key-7e2a";
pub const SHOP: u64 = 2001;

pub fn settings(server: &MockServer) -> MiraklSettings {
    let mut settings = MiraklSettings::new(
        server.uri().parse().unwrap(),
        secrecy::SecretString::from(KEY.to_owned()),
    );
    settings.shop_id = Some(SHOP);
    settings.http = retrying(2, Duration::from_millis(200), Duration::from_secs(2));
    settings
}

pub fn mirakl(server: &MockServer) -> Mirakl {
    Mirakl::new("test-mirakl", settings(server)).unwrap()
}

// ------------------------------------------------------------------------------ answers

/// `"GET"` matches every GET; `"GET /api/orders"` only those to that path.
fn route(call: &str) -> MockBuilder {
    match call.split_once(' ') {
        Some((verb, at)) => Mock::given(method(verb)).and(path(at)),
        None => Mock::given(method(call)),
    }
}

/// Answers every `call` with `reply`.
pub async fn answer(server: &MockServer, call: &str, reply: ResponseTemplate) {
    route(call).respond_with(reply).mount(server).await;
}

/// Answers the first `call` with `reply`, ahead of the standing answers.
pub async fn answer_once(server: &MockServer, call: &str, reply: ResponseTemplate) {
    route(call)
        .respond_with(reply)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
}

/// Answers the OR11 page that starts at `offset`.
pub async fn answer_page(server: &MockServer, offset: usize, reply: ResponseTemplate) {
    route("GET /api/orders")
        .and(query_param("offset", offset.to_string()))
        .respond_with(reply)
        .mount(server)
        .await;
}

/// A server answering every `call` with `reply`.
pub async fn serving(call: &str, reply: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    answer(&server, call, reply).await;
    server
}

pub fn json_reply(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

pub fn empty_page() -> ResponseTemplate {
    json_reply(200, json!({"orders": [], "total_count": 0}))
}

// ----------------------------------------------------------------------------- requests

pub async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

/// The query as sorted pairs, so a stray or missing parameter fails the test.
pub fn query(request: &Request) -> Vec<(String, String)> {
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

/// The query of a paged read's first page: `filter`, then paging and the shop id.
pub fn first_page(filter: &[(&str, &str)]) -> Vec<(String, String)> {
    let paging = [("max", "100"), ("offset", "0"), ("shop_id", "2001")];
    pairs(&[filter, &paging].concat())
}

pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn json_body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// Every Mirakl call: the raw key (no `Bearer`), JSON accepted.
#[track_caller]
pub fn assert_mirakl_headers(request: &Request) {
    assert_eq!(header(request, "authorization"), Some(KEY));
    assert_eq!(header(request, "accept"), Some("application/json"));
}

/// A call about one shop's object: Mirakl's headers, and the shop id as the only parameter.
#[track_caller]
pub fn assert_shop_call(request: &Request) {
    assert_eq!(query(request), pairs(&[("shop_id", "2001")]));
    assert_mirakl_headers(request);
}

/// One part of a multipart body: its headers (lower-cased names) and content.
#[derive(Debug)]
pub struct FormPart {
    headers: Vec<(String, String)>,
    pub content: Vec<u8>,
}

impl FormPart {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The only part of a multipart request, once its disposition and content type are checked.
#[track_caller]
pub fn only_part(request: &Request, disposition: &str, content_type: &str) -> FormPart {
    let mut parts = multipart(request);
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].header("content-disposition"), Some(disposition));
    assert_eq!(parts[0].header("content-type"), Some(content_type));
    parts.remove(0)
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
