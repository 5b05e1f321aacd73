//! `messages_update` to the client about an order, never sent twice.

use vigie_connector::testing::{assert_permanent_code, message};
use vigie_connector::{ConnectorError, CustomerMessage, Marketplace};
use wiremock::ResponseTemplate;

use vigie_fnac::Fnac;

use crate::support::{ORDER, bodies, first_body, fnac, request, response, serving, settings};

fn shipped() -> CustomerMessage {
    message("Votre commande est partie", "Suivi : 6A123 <La Poste>")
}

#[tokio::test]
async fn writes_to_the_client_about_the_order() {
    let sent = response(
        "messages_update",
        "OK",
        &format!(r#"<message status="OK" id="{ORDER}"/>"#),
    );
    let server = serving("messages_update", sent).await;
    fnac(&server)
        .message_customer(ORDER, &shipped())
        .await
        .unwrap();
    assert_eq!(
        first_body(&server, "messages_update").await,
        request(
            "messages_update",
            &format!(
                "><message action=\"create\" id=\"{ORDER}\"><message_to>CLIENT</message_to><message_subject>order_information</message_subject><message_description>Votre commande est partie\n\nSuivi : 6A123 &lt;La Poste&gt;</message_description><message_type>ORDER</message_type></message>"
            )
        )
    );
}

#[tokio::test]
async fn a_refused_message_is_permanent() {
    let refused = response(
        "messages_update",
        "ERROR",
        &format!(
            r#"<message status="ERROR" id="{ORDER}"><error severity="ERROR" code="ERR_140">Message not allowed</error></message>"#
        ),
    );
    let server = serving("messages_update", refused).await;
    let error = fnac(&server)
        .message_customer(ORDER, &shipped())
        .await
        .unwrap_err();
    assert_permanent_code(&error, "ERR_140");
}

#[tokio::test(start_paused = true)]
async fn a_message_that_may_have_left_is_not_sent_again() {
    let server = serving("messages_update", ResponseTemplate::new(502)).await;
    let error = fnac(&server)
        .message_customer(ORDER, &shipped())
        .await
        .unwrap_err();
    // It may have reached the customer: the caller must not send it again either.
    assert!(matches!(error, ConnectorError::Uncertain(_)), "{error:?}");
    assert_eq!(bodies(&server, "messages_update").await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_message_answered_with_an_unreadable_body_is_uncertain() {
    let server = serving(
        "messages_update",
        ResponseTemplate::new(200).set_body_string("<html>proxy error</html"),
    )
    .await;
    let error = fnac(&server)
        .message_customer(ORDER, &shipped())
        .await
        .unwrap_err();
    // Fnac answered 200: the message may well be with the customer.
    assert!(matches!(error, ConnectorError::Uncertain(_)), "{error:?}");
    assert_eq!(bodies(&server, "messages_update").await.len(), 1);
}

/// Orders and messages share the shop's request budget: messages take at most half of it,
/// so a backlog of them leaves the acceptances room (issue 14 item 4). The caller waits for
/// that pace (`message_pace`) before it sends; the send itself does not wait for it.
#[tokio::test(start_paused = true)]
async fn messages_take_at_most_half_the_request_budget() {
    let sent = response(
        "messages_update",
        "OK",
        &format!(r#"<message status="OK" id="{ORDER}"/>"#),
    );
    let server = serving("messages_update", sent).await;
    let mut settings = settings(&server);
    settings.requests_per_minute = 4.try_into().unwrap();
    let fnac = Fnac::new("fnac-test", settings).unwrap();
    let start = tokio::time::Instant::now();
    let pace = fnac.message_pace();
    for _ in 0..3 {
        pace.ready(std::time::Duration::MAX).await;
        fnac.message_customer(ORDER, &shipped()).await.unwrap();
    }
    // auth and three messages fit the shop's 4 a minute; messages alone get 2 a minute, so
    // the third waits for its share (on tokio's paused clock).
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(25),
        "{:?}",
        start.elapsed()
    );
}
