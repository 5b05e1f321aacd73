//! A shop behind the real daemon for the page and browser tests: the Mirakl sandbox with two
//! orders held for review, the daemon's status server on a chosen address, and an HTTP client
//! that shows redirects instead of following them.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use rust_decimal::Decimal;
use vigie_mirakl::sandbox::{MiraklSandbox, OrderSpec, SandboxOptions};

use super::{Daemon, PATIENCE, Setup};

/// A password and its argon2id hash, as `[web] password_hash` holds it.
pub const PASSWORD: &str = "night shift";
pub const PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Ft4xlSRNXNU7WE5NGKcFiA$QGwSYNI9uErGJH/bRaTgzBYKLUtZUv4GswmppVzGbL0";
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef";

pub struct Shop {
    pub sandbox: MiraklSandbox,
    pub setup: Setup,
    pub daemon: Daemon,
    pub base: String,
    pub http: reqwest::Client,
    /// Two orders above the review threshold, held for a person.
    pub flagged: [String; 2],
}

impl Shop {
    /// The daemon on `listen`, with `[web]` as given, and two flagged orders.
    pub async fn start(listen: &str, web: &str) -> Self {
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

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn flagged_count(&self) -> i64 {
        self.setup.database().map_or(0, |db| {
            super::count(&db, "SELECT COUNT(*) FROM flags WHERE resolved_at IS NULL")
        })
    }

    pub fn decisions(&self) -> i64 {
        self.setup
            .database()
            .map_or(0, |db| super::count(&db, "SELECT COUNT(*) FROM decisions"))
    }

    pub fn wait_until(&self, ready: impl Fn() -> bool, what: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "never {what}; log tail:\n{}",
                super::tail(&self.daemon.log(), 30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.unwrap()
    }

    pub async fn api_review(
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
pub fn session_cookie(response: &reqwest::Response) -> String {
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
pub fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + "name=\"csrf\" value=\"".len();
    page[at..].chars().take_while(|c| *c != '"').collect()
}
