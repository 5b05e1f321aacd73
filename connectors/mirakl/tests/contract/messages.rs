//! OR43: a customer thread, opened once and never repeated.

use serde_json::json;
use vigie_connector::testing::message;
use vigie_connector::{ConnectorError, Marketplace};
use wiremock::ResponseTemplate;

use crate::support::{assert_shop_call, json_reply, mirakl, only_part, requests, serving};

#[tokio::test(start_paused = true)]
async fn or43_opens_a_customer_thread_with_a_thread_input_part() {
    let created = json!({
        "thread_id": "1f33b4f0-0cf8-4869-b148-e8e18b179770",
        "message_id": "00617ff1-7449-4574-a3a1-6fc256bf4d9b"
    });
    let server = serving("POST /api/orders/O-1/threads", json_reply(201, created)).await;
    let shipped = message("Commande expédiée", "Votre colis est parti : 6A123.");
    mirakl(&server)
        .message_customer("O-1", &shipped)
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_shop_call(&sent[0]);
    let part = only_part(
        &sent[0],
        "form-data; name=\"thread_input\"",
        "application/json",
    );
    let input: serde_json::Value = serde_json::from_slice(&part.content).unwrap();
    // OR43 thread_input: body (3..50000 chars), to (enum values), topic {type, value} required
    assert_eq!(
        input,
        json!({
            "body": "Votre colis est parti : 6A123.",
            "to": ["CUSTOMER"],
            "topic": {"type": "FREE_TEXT", "value": "Commande expédiée"}
        })
    );
}

#[tokio::test(start_paused = true)]
async fn or43_is_not_repeated_after_a_server_error() {
    let server = serving("POST", ResponseTemplate::new(502)).await;
    let error = mirakl(&server)
        .message_customer("O-1", &message("s", "hello"))
        .await
        .unwrap_err();
    // It may have reached the customer: the caller must not send it again either.
    assert!(matches!(error, ConnectorError::Uncertain(_)), "{error:?}");
    assert_eq!(requests(&server).await.len(), 1);
}
