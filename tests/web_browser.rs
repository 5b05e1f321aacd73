//! The review pages in a real headless Chromium, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, which `.ci/run` installs): a person logs in, opens a flagged order,
//! clicks Accept, enters the parcel, refuses another with a reason, and the marketplace
//! sandbox receives all three.
//! A screenshot of each page is kept in `target/tmp/web-screenshots/` for a reviewer.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::PATIENCE;
use common::shop::{PASSWORD, PASSWORD_HASH, Shop};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// `chromedriver` on a free port of loopback, killed with the test.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        // chromedriver takes no port 0: take a free port from the system and hand it over.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; .ci/run installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url }
    }

    async fn browser(&self, profile: &std::path::Path) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=420,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits for the page (after a click, a form's redirect) to show `text`.
async fn wait_for_text(browser: &Client, text: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let page = browser.source().await.unwrap_or_default();
        if page.contains(text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {text:?} on the page:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click(browser: &Client, target: Locator<'_>) {
    browser.find(target).await.unwrap().click().await.unwrap();
}

/// Types `text` into the field whose id is `id`.
async fn type_into(browser: &Client, id: &str, text: &str) {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

async fn snap(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_on_call_decides_flagged_orders_from_a_phone() {
    let web = format!("[web]\npassword_hash = \"{PASSWORD_HASH}\"\n");
    let shop = Shop::start("0.0.0.0:0", &web).await;
    let [first, second] = shop.flagged.clone();
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.browser(profile.path()).await;

    browser.goto(&shop.url("/")).await.unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/login")
    );
    snap(&browser, "login").await;
    type_into(&browser, "name", "Camille").await;
    type_into(&browser, "password", "not it").await;
    click(&browser, Locator::Css("form.login button")).await;
    wait_for_text(&browser, "Wrong password").await;

    type_into(&browser, "name", "Camille").await;
    type_into(&browser, "password", PASSWORD).await;
    click(&browser, Locator::Css("form.login button")).await;
    wait_for_text(&browser, "Channels").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/");
    snap(&browser, "dashboard").await;

    click(&browser, Locator::LinkText("Review")).await;
    snap(&browser, "review").await;
    let link = format!("lm:{first}");
    click(&browser, Locator::LinkText(&link)).await;
    snap(&browser, "order").await;
    click(&browser, Locator::Css("button[value=accept]")).await;
    wait_for_text(&browser, "accept by Camille").await;
    snap(&browser, "order-accepted").await;
    shop.wait_until(
        || shop.sandbox.order(&first).unwrap().state == "SHIPPING",
        "the acceptance received by the marketplace",
    );

    // Accepted: the order's page now takes the parcel.
    browser.refresh().await.unwrap();
    wait_for_text(&browser, "Record the parcel").await;
    for (field, text) in [("carrier", "Colissimo"), ("tracking_number", "6A0042")] {
        type_into(&browser, field, text).await;
    }
    click(&browser, Locator::Css("form[action$='/ship'] button")).await;
    wait_for_text(&browser, "ship by Camille: Colissimo 6A0042").await;
    shop.wait_until(
        || {
            shop.sandbox
                .order(&first)
                .unwrap()
                .tracking
                .is_some_and(|t| t.tracking_number == "6A0042")
        },
        "the tracking number received by the marketplace",
    );
    snap(&browser, "order-shipped").await;

    browser
        .goto(&shop.url(&format!("/orders/lm/{second}")))
        .await
        .unwrap();
    type_into(&browser, "reason", "address looks forged").await;
    click(&browser, Locator::Css("button[value=refuse]")).await;
    shop.wait_until(
        || shop.sandbox.order(&second).unwrap().state == "REFUSED",
        "the refusal received by the marketplace",
    );
    shop.wait_until(
        || shop.sandbox.messages().iter().any(|m| m.order_id == second),
        "the customer told of the refusal",
    );
    wait_for_text(&browser, "refuse by Camille: address looks forged").await;
    snap(&browser, "order-refused").await;

    browser.goto(&shop.url("/stock?sku=VASE")).await.unwrap();
    // What was pushed of VASE is forgotten once its refusal is confirmed (the marketplace
    // gives the units back to its listing), until the next stock import Mirakl allows.
    wait_for_text(&browser, "Available").await;
    snap(&browser, "stock").await;
    browser.goto(&shop.url("/alerts")).await.unwrap();
    snap(&browser, "alerts").await;

    click(&browser, Locator::Css("form.logout button")).await;
    browser.goto(&shop.url("/review")).await.unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/login")
    );
    browser.close().await.unwrap();
}
