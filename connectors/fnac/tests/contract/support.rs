//! What the wiremock tests share: a client pointed at the mock server, Fnac's answers, and
//! the request bodies the client sent.

use std::time::Duration;

use secrecy::SecretString;
use vigie_connector::Timestamp;
use vigie_connector::testing::retrying;
use vigie_fnac::{Fnac, FnacSettings};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

pub const NS: &str = "http://www.fnac.com/schemas/mp-dialog.xsd";
pub const PARTNER: &str = "11111111-2222-3333-4444-555555555555";
pub const SHOP: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
pub const KEY: &str = "99999999-8888-7777-6666-555555555555";
pub const TOKEN: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
pub const TOKEN2: &str = "16fd2706-8baf-433b-82eb-8c7fada847da";
pub const ORDER: &str = "57F645053CDFC";

pub fn settings(server: &MockServer) -> FnacSettings {
    let base = format!("{}/api.php", server.uri()).parse().unwrap();
    let mut settings = FnacSettings::new(base, PARTNER, SHOP, SecretString::from(KEY));
    settings.http = retrying(2, Duration::from_millis(10), Duration::from_millis(50));
    settings.requests_per_minute = 10_000.try_into().unwrap();
    settings
}

pub fn fnac(server: &MockServer) -> Fnac {
    Fnac::new("fnac-test", settings(server)).unwrap()
}

// ------------------------------------------------------------------------------ answers

pub fn xml(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/xml; charset=utf-8")
        .set_body_string(body)
}

/// `<{service}_response status="{status}">` around `inner`.
pub fn response(service: &str, status: &str, inner: &str) -> ResponseTemplate {
    xml(format!(
        r#"<{service}_response status="{status}" xmlns="{NS}">{inner}</{service}_response>"#
    ))
}

pub fn auth_ok(token: &str, valid_for: Duration) -> ResponseTemplate {
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

pub fn empty_orders() -> ResponseTemplate {
    empty_page("orders_query")
}

/// A `*_query` answer listing nothing.
fn empty_page(service: &str) -> ResponseTemplate {
    response(
        service,
        "OK",
        "<page>1</page><total_paging>0</total_paging><nb_total_per_page>100</nb_total_per_page><nb_total_result>0</nb_total_result>",
    )
}

/// The calls to the service `name`.
pub fn service(name: &str) -> MockBuilder {
    Mock::given(method("POST")).and(path(format!("/api.php/{name}")))
}

/// Answers every call to `name` with `reply`.
pub async fn answer(server: &MockServer, name: &str, reply: ResponseTemplate) {
    service(name).respond_with(reply).mount(server).await;
}

/// Answers the calls to `name` whose body holds `holding` with `reply`.
pub async fn answer_when(server: &MockServer, name: &str, holding: &str, reply: ResponseTemplate) {
    service(name)
        .and(body_string_contains(holding))
        .respond_with(reply)
        .mount(server)
        .await;
}

/// Answers the first call to `name` with `reply`, ahead of the standing answers.
pub async fn answer_once(server: &MockServer, name: &str, reply: ResponseTemplate) {
    service(name)
        .respond_with(reply)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
}

/// Sessions answered with `token`, valid for an hour.
pub async fn mount_auth(server: &MockServer, token: &str) {
    answer(server, "auth", auth_ok(token, Duration::from_secs(3600))).await;
    // Every order read asks for its claims: none, unless a test says otherwise first.
    answer(server, "incidents_query", no_incidents()).await;
}

/// An `incidents_query` answer listing no claim.
pub fn no_incidents() -> ResponseTemplate {
    empty_page("incidents_query")
}

/// A server opening sessions with [`TOKEN`] and answering every call to `name` with `reply`.
pub async fn serving(name: &str, reply: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    answer(&server, name, reply).await;
    server
}

// ----------------------------------------------------------------------------- requests

/// The bodies of the calls to `service`, in order.
pub async fn bodies(server: &MockServer, service: &str) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == format!("/api.php/{service}"))
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect()
}

pub async fn first_body(server: &MockServer, service: &str) -> String {
    bodies(server, service).await.remove(0)
}

/// What every authenticated request starts with.
fn header(service: &str, token: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<{service} xmlns=\"{NS}\" partner_id=\"{PARTNER}\" shop_id=\"{SHOP}\" token=\"{token}\""
    )
}

/// The whole request to `service` in the [`TOKEN`] session: its header, then `rest`.
pub fn request(service: &str, rest: &str) -> String {
    format!("{}{rest}</{service}>", header(service, TOKEN))
}

/// The first page of a `*_query` service, `filter` after the paging.
pub fn first_page(service: &str, filter: &str) -> String {
    request(
        service,
        &format!(" results_count=\"100\"><paging>1</paging>{filter}"),
    )
}
