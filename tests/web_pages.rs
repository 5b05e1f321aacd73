//! The review pages and the seller API over real HTTP, served by the real daemon against the
//! Mirakl sandbox: who may do what, CSRF, the API's answers, and exactly-once decisions.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, PATIENCE, Setup};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use rust_decimal::Decimal;
use serde_json::json;
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};

/// A password and its argon2id hash, as `[web] password_hash` holds it.
const PASSWORD: &str = "night shift";
const PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Ft4xlSRNXNU7WE5NGKcFiA$QGwSYNI9uErGJH/bRaTgzBYKLUtZUv4GswmppVzGbL0";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct Shop {
    sandbox: MiraklSandbox,
    setup: Setup,
    daemon: Daemon,
    base: String,
    http: reqwest::Client,
    /// Two orders above the review threshold, held for a person.
    flagged: [String; 2],
}

impl Shop {
    /// The daemon on `listen`, with `[web]` as given, and two flagged orders.
    async fn start(listen: &str, web: &str) -> Self {
        let sandbox = MiraklSandbox::start(SandboxOptions::default())
            .await
            .unwrap();
        sandbox.set_quantity("VASE", 5);
        let flagged = [
            sandbox.add_order(OrderSpec::new().line("VASE", 1, Decimal::new(800, 0))),
            sandbox.add_order(OrderSpec::new().line("VASE", 1, Decimal::new(900, 0))),
        ];
        let channel = format!(
            "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"{}\"\napi_key = \"{}\"\n\
             shop_id = {}\npoll_interval = \"1s\"\n\
             limits = {{ orders_per_minute = 600, stock_imports_per_minute = 600 }}\n",
            sandbox.base_url(),
            sandbox.api_key(),
            sandbox.shop_id()
        );
        let setup = Setup::with_stock(
            &format!("{channel}[rules]\nflag_total_above = 500\n{web}"),
            &[("VASE", 5)],
        )
        .await;
        let text = std::fs::read_to_string(&setup.config).unwrap().replace(
            "status_listen = \"127.0.0.1:0\"",
            &format!("status_listen = \"{listen}\""),
        );
        std::fs::write(&setup.config, text).unwrap();
        let daemon = Daemon::start(&setup.config, &["run"], &[]);
        let port = status_port(&daemon);
        let shop = Self {
            sandbox,
            setup,
            daemon,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            flagged,
        };
        shop.wait_until(|| shop.flagged_count() == 2, "both orders flagged");
        shop
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn flagged_count(&self) -> i64 {
        self.setup.database().map_or(0, |db| {
            common::count(&db, "SELECT COUNT(*) FROM flags WHERE resolved_at IS NULL")
        })
    }

    fn decisions(&self) -> i64 {
        self.setup
            .database()
            .map_or(0, |db| common::count(&db, "SELECT COUNT(*) FROM decisions"))
    }

    fn wait_until(&self, ready: impl Fn() -> bool, what: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "never {what}; log tail:\n{}",
                common::tail(&self.daemon.log(), 30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.unwrap()
    }

    async fn api_review(
        &self,
        order: &str,
        body: &str,
        key: Option<&str>,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = self
            .http
            .post(self.url(&format!("/api/orders/lm/{order}/review")))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.bearer_auth(TOKEN).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }
}

fn status_port(daemon: &Daemon) -> u16 {
    daemon.wait_for_log("status server on http://");
    let log = daemon.log();
    let at = log.find("status server on http://").unwrap() + "status server on http://".len();
    let address: String = log[at..].chars().take_while(|c| *c != ';').collect();
    address.rsplit(':').next().unwrap().parse().unwrap()
}

/// `name=value` of the response's session cookie.
fn session_cookie(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get(SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + "name=\"csrf\" value=\"".len();
    page[at..].chars().take_while(|c| *c != '"').collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn on_loopback_the_pages_need_no_login_but_every_form_its_token() {
    let shop = Shop::start("127.0.0.1:0", "").await;
    let [first, second] = &shop.flagged;

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
