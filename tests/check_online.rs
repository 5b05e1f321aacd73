//! `vigie check-config --online`: every channel, the SMTP server and each webhook host are
//! reached without changing or sending anything; a failure exits 1 naming the target.

mod common;

use std::process::{Command, Output};

use common::{Setup, mirakl_channel};
use serde_json::json;
use vigie_testkit::SmtpSink;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn check_online(setup: &Setup) -> Output {
    let config = setup.config.clone();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_vigie"))
            .arg("--config")
            .arg(&config)
            .args(["check-config", "--online"])
            .env_clear()
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// A Mirakl instance whose A01 answers `account` with `status`.
async fn mirakl(status: u16, account: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/api/version"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(path("/api/account"))
        .respond_with(ResponseTemplate::new(status).set_body_json(account))
        .mount(&server)
        .await;
    server
}

/// A port nothing listens on any more: connections to it are refused.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn smtp_section(port: u16) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nusername = \"shop\"\n\
         password = \"SMTP-SECRET\"\nfrom = \"shop@example.com\"\n"
    )
}

#[tokio::test]
async fn every_target_passes_and_nothing_is_sent() {
    let open = mirakl(200, json!({"shop_id": 1, "shop_state": "OPEN"})).await;
    let hooks = MockServer::start().await;
    let smtp = SmtpSink::start().await.unwrap();
    let setup = Setup::new(&format!(
        "{}{}[[alerts.webhook]]\nurl = \"{}/hook/HOOK-SECRET\"\nformat = \"slack\"\n",
        mirakl_channel("lm", &open.uri()),
        smtp_section(smtp.port),
        hooks.uri()
    ));
    let out = check_online(&setup).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("online: channel lm: ok, credentials accepted, shop OPEN"),
        "{stdout}"
    );
    assert!(stdout.contains("online: smtp: ok"), "{stdout}");
    assert!(stdout.contains("logged in, no mail sent"), "{stdout}");
    assert!(stdout.contains("online: alerts.webhook[0]: ok"), "{stdout}");
    assert_eq!(smtp.count(), 0, "no mail sent");
    assert!(
        hooks.received_requests().await.unwrap().is_empty(),
        "nothing posted"
    );
    for secret in ["test-key", "SMTP-SECRET", "HOOK-SECRET"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{stdout}{stderr}"
        );
    }
}

#[tokio::test]
async fn a_refused_key_a_closed_shop_and_a_refusing_webhook_host_exit_1_naming_each() {
    let refused = mirakl(401, json!({"message": "Unauthorized"})).await;
    let suspended = mirakl(200, json!({"shop_id": 2, "shop_state": "SUSPENDED"})).await;
    let smtp = SmtpSink::start().await.unwrap();
    let setup = Setup::new(&format!(
        "{}{}{}[[alerts.webhook]]\nurl = \"http://127.0.0.1:{}/hook\"\nformat = \"generic\"\n",
        mirakl_channel("badkey", &refused.uri()),
        mirakl_channel("closed", &suspended.uri()),
        smtp_section(smtp.port),
        closed_port()
    ));
    let out = check_online(&setup).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("online: channel badkey: FAILED, authentication refused"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("online: channel closed: FAILED, the marketplace says the shop is SUSPENDED"),
        "{stdout}"
    );
    assert!(stdout.contains("online: smtp: ok"), "{stdout}");
    assert!(
        stdout.contains("online: alerts.webhook[0]: FAILED, 127.0.0.1:"),
        "{stdout}"
    );
    assert!(stdout.contains("cannot connect"), "{stdout}");
    let causes: Vec<_> = stderr
        .lines()
        .filter(|l| !l.starts_with("vigie: warning:"))
        .collect();
    assert_eq!(causes.len(), 1, "{stderr}");
    for target in ["channel badkey", "channel closed", "alerts.webhook[0]"] {
        assert!(stderr.contains(target), "{stderr}");
    }
    assert!(!stderr.contains("smtp"), "{stderr}");
}

#[tokio::test]
async fn an_smtp_server_that_cannot_be_reached_fails_the_check() {
    let open = mirakl(200, json!({"shop_id": 1, "shop_state": "OPEN"})).await;
    let setup = Setup::new(&format!(
        "{}{}",
        mirakl_channel("lm", &open.uri()),
        smtp_section(closed_port())
    ));
    let out = check_online(&setup).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("online: smtp: FAILED, connect:"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("smtp"));
    assert!(
        open.received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.method == wiremock::http::Method::GET),
        "a check changes nothing"
    );
}
