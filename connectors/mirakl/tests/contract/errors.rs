//! Error classes, limits, health, base URLs and secrets: what every endpoint shares.

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::json;
use vigie_connector::testing::{assert_permanent_code, assert_waited};
use vigie_connector::{ConnectorError, Marketplace, ShopState};
use vigie_mirakl::{Mirakl, MiraklLimits};
use wiremock::{MockServer, ResponseTemplate};

use crate::support::{
    KEY, SHOP, answer, answer_once, assert_shop_call, empty_page, json_reply, mirakl, requests,
    serving, settings,
};

#[tokio::test(start_paused = true)]
async fn rate_limits_wait_for_retry_after() {
    let server = MockServer::start().await;
    let slow_down = ResponseTemplate::new(429).insert_header("Retry-After", "37");
    answer_once(&server, "GET", slow_down).await;
    answer(&server, "GET", empty_page()).await;
    let start = tokio::time::Instant::now();
    mirakl(&server).orders_awaiting_acceptance().await.unwrap();
    // no upper bound: paused time jumps ahead while real sockets wait
    assert_waited(start, Duration::from_secs(37));
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn persistent_rate_limits_are_reported_as_such() {
    let slow_down = ResponseTemplate::new(429).insert_header("Retry-After", "5");
    let server = serving("GET", slow_down).await;
    let error = mirakl(&server).stock_levels().await.unwrap_err();
    assert_eq!(
        error,
        ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(5))
        }
    );
}

/// What OF21 answering `status` with `body` becomes, and how many calls were made.
async fn error_for(status: u16, body: &str) -> (ConnectorError, usize) {
    let server = serving("GET", ResponseTemplate::new(status).set_body_string(body)).await;
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
    assert_permanent_code(&error, "NOT_FOUND");
}

#[tokio::test(start_paused = true)]
async fn health_is_the_version_endpoint_and_the_account_once_a_day() {
    let version = ResponseTemplate::new(200).set_body_string("3.210.0");
    let server = serving("GET /api/version", version).await;
    let account = json!({
        "shop_id": SHOP, "shop_name": "Atelier", "shop_state": "OPEN", "currency_iso_code": "EUR"
    });
    answer(&server, "GET /api/account", json_reply(200, account)).await;
    let mirakl = mirakl(&server);
    let open = ShopState::Open("OPEN".into());
    assert_eq!(mirakl.health().await.unwrap(), open);
    assert_eq!(
        mirakl.health().await.unwrap(),
        open,
        "read again from the first A01"
    );
    let sent = requests(&server).await;
    let paths: Vec<_> = sent.iter().map(|r| r.url.path()).collect();
    assert_eq!(paths, ["/api/version", "/api/account", "/api/version"]);
    for request in &sent {
        assert_shop_call(request);
    }
    tokio::time::advance(Duration::from_secs(24 * 60 * 60)).await;
    mirakl.health().await.unwrap();
    assert_eq!(requests(&server).await.len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_suspended_or_closed_shop_says_so() {
    for state in ["SUSPENDED", "CLOSE", "TERMINATED"] {
        let server = serving("GET /api/version", ResponseTemplate::new(200)).await;
        let account = json!({"shop_id": SHOP, "shop_state": state});
        answer(&server, "GET /api/account", json_reply(200, account)).await;
        let health = mirakl(&server).health().await.unwrap();
        assert_eq!(health, ShopState::Closed(state.into()));
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_key_is_an_auth_error_from_the_account_call() {
    let server = serving("GET /api/version", ResponseTemplate::new(200)).await;
    answer(
        &server,
        "GET /api/account",
        json_reply(401, json!({"message": "Unauthorized"})),
    )
    .await;
    let error = mirakl(&server).health().await.unwrap_err();
    assert!(matches!(error, ConnectorError::Auth(_)), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn a_base_url_with_a_path_keeps_it() {
    let server = serving("GET", empty_page()).await;
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
    let server = serving("GET", empty_page()).await;
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
    assert_waited(start, Duration::from_secs(30));
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_key_never_shows_in_debug_output_or_errors() {
    // a server that echoes what it was sent must not make us repeat the key
    let echo = ResponseTemplate::new(401).set_body_string(format!("bad key {KEY}"));
    let server = serving("GET", echo).await;
    let settings = settings(&server);
    assert!(!format!("{settings:?}").contains(KEY));
    let mirakl = Mirakl::new("t", settings).unwrap();
    assert!(!format!("{mirakl:?}").contains(KEY));
    let error = mirakl.orders_awaiting_acceptance().await.unwrap_err();
    assert!(matches!(error, ConnectorError::Auth(_)));
    assert!(!error.to_string().contains(KEY), "{error}");
    assert!(!format!("{error:?}").contains(KEY));
}
