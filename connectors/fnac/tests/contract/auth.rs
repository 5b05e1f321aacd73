//! `auth`: the session token, reused, renewed ahead of its validity, and renewed once when
//! refused.

use std::time::Duration;

use secrecy::SecretString;
use vigie_connector::{ConnectorError, Marketplace};
use vigie_fnac::{Fnac, FnacSettings};
use wiremock::{MockServer, ResponseTemplate};

use crate::support::{
    KEY, NS, PARTNER, SHOP, TOKEN, TOKEN2, answer, answer_once, answer_when, auth_ok, bodies,
    empty_orders, first_page, fnac, mount_auth, response, service, serving,
};

#[tokio::test]
async fn authenticates_with_child_elements_and_reuses_the_token() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    service("orders_query")
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
        first_page("orders_query", "<states><state>Created</state></states>")
    );
}

#[tokio::test(start_paused = true)]
async fn renews_the_token_before_its_validity() {
    let server = MockServer::start().await;
    // Valid 5 minutes; with the 60 s skew margin it is renewed after 4.
    answer(&server, "auth", auth_ok(TOKEN, Duration::from_secs(300))).await;
    answer(&server, "orders_query", empty_orders()).await;
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
    answer_once(&server, "auth", auth_ok(TOKEN, Duration::from_secs(3600))).await;
    mount_auth(&server, TOKEN2).await;
    let expired = response(
        "orders_query",
        "ERROR",
        r#"<error severity="ERROR" code="ERR_097">Authentication failed : token expired</error>"#,
    );
    let old_token = format!("token=\"{TOKEN}\"");
    answer_when(&server, "orders_query", &old_token, expired).await;
    let new_token = format!("token=\"{TOKEN2}\"");
    answer_when(&server, "orders_query", &new_token, empty_orders()).await;
    let batch = fnac(&server).orders_awaiting_acceptance().await.unwrap();
    assert!(batch.orders.is_empty());
    assert_eq!(bodies(&server, "auth").await.len(), 2);
    assert_eq!(bodies(&server, "orders_query").await.len(), 2);
}

#[tokio::test]
async fn gives_up_after_one_re_authentication() {
    let refused = ResponseTemplate::new(401).set_body_string("no");
    let server = serving("offers_query", refused).await;
    let error = fnac(&server).stock_levels().await.unwrap_err();
    assert!(matches!(error, ConnectorError::Auth(_)), "{error:?}");
    assert_eq!(bodies(&server, "auth").await.len(), 2);
    assert_eq!(bodies(&server, "offers_query").await.len(), 2);
}

#[tokio::test]
async fn refused_credentials_are_an_auth_error_without_the_key() {
    let server = MockServer::start().await;
    let refused = response(
        "auth",
        "ERROR",
        r#"<error severity="ERROR" code="ERR_001"><![CDATA[Authentication failed : one of the parameters (partner_id, key, shop_id) is invalid]]></error>"#,
    );
    answer(&server, "auth", refused).await;
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
