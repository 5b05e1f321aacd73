//! The review pages and the seller API over real HTTP, served by the real daemon against the
//! Mirakl sandbox: who may do what, CSRF, the API's answers, and exactly-once decisions.

mod common;

use common::shop::{PASSWORD, PASSWORD_HASH, Shop, TOKEN, csrf_of, session_cookie};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn on_loopback_the_pages_need_no_login_but_every_form_its_token() {
    let shop = Shop::start("127.0.0.1:0", "").await;
    let [first, second] = &shop.flagged;

    // A hostile page whose name resolves to vigie's address (DNS rebinding) gets nothing.
    let rebound = shop
        .http
        .get(shop.url("/review"))
        .header("host", "evil.example:9184")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::MISDIRECTED_REQUEST);

    let queue = shop.get("/review", None).await;
    assert_eq!(queue.status(), StatusCode::OK);
    let cookie = session_cookie(&queue);
    let page = queue.text().await.unwrap();
    assert!(page.contains(first) && page.contains(second), "{page}");
    assert!(page.contains("total_above"));

    let order = shop
        .get(&format!("/orders/lm/{first}"), Some(&cookie))
        .await;
    let page = order.text().await.unwrap();
    assert!(page.contains("value=\"accept\"") && page.contains("value=\"refuse\""));
    let csrf = csrf_of(&page);

    // Another site's page posting to a local vigie has no token, or not this session's.
    for form in [
        vec![("decision", "accept")],
        vec![("decision", "accept"), ("csrf", "forged")],
    ] {
        let refused = shop
            .http
            .post(shop.url(&format!("/orders/lm/{first}/review")))
            .header(COOKIE, &cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(refused.status().is_client_error(), "{}", refused.status());
    }
    assert_eq!(shop.decisions(), 0);

    let accepted = shop
        .http
        .post(shop.url(&format!("/orders/lm/{first}/review")))
        .header(COOKIE, &cookie)
        .form(&[
            ("decision", "accept"),
            ("csrf", &csrf),
            ("reason", "known customer"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let back = accepted.headers()[LOCATION].to_str().unwrap().to_owned();
    let page = shop.get(&back, Some(&cookie)).await.text().await.unwrap();
    assert!(page.contains("Accepted"), "{page}");
    assert!(
        page.contains("accept by loopback: known customer"),
        "{page}"
    );
    shop.wait_until(
        || shop.sandbox.order(first).unwrap().state != "WAITING_ACCEPTANCE",
        "accepted on the marketplace",
    );
    assert_eq!(shop.sandbox.order(first).unwrap().state, "SHIPPING");

    // Without a configured token, the API answers on loopback only; the JSON views too.
    let orders = shop.get("/orders?status=flagged", None).await;
    assert_eq!(orders.status(), StatusCode::OK);
    let (status, body) = shop
        .api_review(
            second,
            r#"{"decision": "refuse", "reason": "fraud"}"#,
            Some("k-1"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    shop.wait_until(
        || shop.sandbox.order(second).unwrap().state == "REFUSED",
        "refused on the marketplace",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_applies_a_request_once_and_names_what_is_wrong() {
    let web = format!("[web]\napi_token = \"{TOKEN}\"\n");
    let shop = Shop::start("127.0.0.1:0", &web).await;
    let [first, _] = &shop.flagged;

    let (status, body) = shop.api_review(first, "{not json", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = shop
        .api_review(first, r#"{"decision": "maybe"}"#, None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"].as_str().unwrap().starts_with("decision"),
        "{body}"
    );
    let (status, body) = shop.api_review(first, r#"{"reason": "x"}"#, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"].as_str().unwrap().contains("decision"),
        "{body}"
    );
    let (status, _) = shop
        .api_review("nope", r#"{"decision": "accept"}"#, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(shop.decisions(), 0);

    // A token is configured: a call without it is refused, on loopback too.
    let anonymous = shop
        .http
        .post(shop.url(&format!("/api/orders/lm/{first}/review")))
        .header("content-type", "application/json")
        .body(r#"{"decision": "accept"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // Another site's page can post text/plain without asking the browser first: refused.
    let plain = shop
        .http
        .post(shop.url(&format!("/api/orders/lm/{first}/review")))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body(r#"{"decision": "accept"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let body = r#"{"decision": "accept", "reason": "ERP says yes"}"#;
    let (status, first_answer) = shop.api_review(first, body, Some("erp-42")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first_answer}");
    let (status, again) = shop.api_review(first, body, Some("erp-42")).await;
    assert_eq!((status, &again), (StatusCode::ACCEPTED, &first_answer));
    let (status, reused) = shop
        .api_review(first, r#"{"decision": "refuse"}"#, Some("erp-42"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reused}");
    // Without a key, a second decision on a decided order is a conflict, not a second decision.
    let (status, conflict) = shop.api_review(first, body, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    assert_eq!(shop.decisions(), 1);
    assert_eq!(
        first_answer,
        json!({"channel": "lm", "order_id": first, "recorded": true})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn off_loopback_everything_but_the_probes_needs_a_login_or_the_token() {
    let web = format!("[web]\npassword_hash = \"{PASSWORD_HASH}\"\napi_token = \"{TOKEN}\"\n");
    let shop = Shop::start("0.0.0.0:0", &web).await;

    assert_eq!(shop.get("/healthz", None).await.status(), StatusCode::OK);
    let page = shop.get("/", None).await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()[LOCATION], "/login");
    assert_eq!(
        shop.get("/orders", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let with_token = shop
        .http
        .get(shop.url("/orders"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);

    let login = |password: &'static str| {
        shop.http
            .post(shop.url("/login"))
            .form(&[("name", "Camille"), ("password", password)])
            .send()
    };
    assert_eq!(
        login("wrong").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let logged_in = login(PASSWORD).await.unwrap();
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    let cookie = session_cookie(&logged_in);
    let dashboard = shop.get("/", Some(&cookie)).await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    let page = dashboard.text().await.unwrap();
    assert!(page.contains("Camille") && page.contains("<svg"), "{page}");
    assert!(!page.contains(PASSWORD_HASH) && !page.contains(TOKEN));
    assert_eq!(
        shop.get("/", Some("vigie_session=forged")).await.status(),
        StatusCode::SEE_OTHER
    );

    // Guessing is slowed down: after a handful of tries a minute, even the right password waits.
    let mut limited = false;
    for _ in 0..10 {
        if login("guess").await.unwrap().status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "login attempts were never limited");
    assert!(!shop.daemon.log().contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_records_a_parcel_once_and_names_the_bad_field() {
    let web = format!("[web]\napi_token = \"{TOKEN}\"\n");
    let shop = Shop::start("127.0.0.1:0", &web).await;
    let [first, second] = &shop.flagged;
    let (status, _) = shop
        .api_review(first, r#"{"decision": "accept"}"#, None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    shop.wait_until(
        || shop.sandbox.order(first).unwrap().state == "SHIPPING",
        "accepted on the marketplace",
    );

    let ship = |body: String, key: Option<&'static str>| {
        let mut request = shop
            .http
            .post(shop.url("/api/shipments"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let parcel = |order: &str, carrier: &str, line: &str| {
        format!(
            r#"{{"channel": "lm", "order_id": "{order}", "carrier": "{carrier}",
                "tracking_number": "6A77", "lines": [{{"line_id": "{line}"}}]}}"#
        )
    };
    let line = format!("{first}-1");
    for (body, status, field) in [
        (
            parcel("nope", "Colissimo", &line),
            StatusCode::NOT_FOUND,
            "order_id",
        ),
        (
            parcel(second, "Colissimo", &line),
            StatusCode::CONFLICT,
            "order_id",
        ),
        (
            parcel(first, "Colissimo", "no-such-line"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines",
        ),
        (
            parcel(first, " ", &line),
            StatusCode::UNPROCESSABLE_ENTITY,
            "carrier",
        ),
        (
            r#"{"channel": "lm"}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "order_id",
        ),
    ] {
        let (got, answer) = ship(body.clone(), None).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(field),
            "{body}: {answer}"
        );
    }

    let (status, answer) = ship(parcel(first, "Colissimo", &line), Some("wh-1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["recorded"], true);
    let (status, again) = ship(parcel(first, "Colissimo", &line), Some("wh-1")).await;
    assert_eq!((status, &again), (StatusCode::ACCEPTED, &answer));
    // The same parcel without a key: recorded once, answered as known.
    let (status, known) = ship(parcel(first, "Colissimo", &line), None).await;
    assert_eq!(
        (status, &known["recorded"]),
        (StatusCode::ACCEPTED, &json!(false))
    );
    shop.wait_until(
        || {
            shop.sandbox
                .order(first)
                .unwrap()
                .tracking
                .is_some_and(|t| t.tracking_number == "6A77")
        },
        "the parcel confirmed to the marketplace",
    );
    let parcels = shop
        .setup
        .database()
        .map_or(0, |db| common::count(&db, "SELECT COUNT(*) FROM shipments"));
    assert_eq!(parcels, 1);
}
