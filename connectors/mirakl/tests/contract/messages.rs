//! OR43 and M12: one customer thread per order, opened once (with the channel's topic),
//! replied in afterwards, and no message ever repeated.

use serde_json::json;
use vigie_connector::testing::message;
use vigie_connector::{ConnectorError, Marketplace};
use wiremock::ResponseTemplate;

use vigie_connector::CustomerMessage;
use vigie_mirakl::{MessageTopic, Mirakl};

use crate::support::{
    assert_shop_call, json_reply, mirakl, only_part, requests, serving, settings,
};

const THREAD: &str = "1f33b4f0-0cf8-4869-b148-e8e18b179770";

#[tokio::test(start_paused = true)]
async fn or43_opens_a_customer_thread_with_a_thread_input_part() {
    let created = json!({
        "thread_id": "1f33b4f0-0cf8-4869-b148-e8e18b179770",
        "message_id": "00617ff1-7449-4574-a3a1-6fc256bf4d9b"
    });
    let server = serving("POST /api/orders/O-1/threads", json_reply(201, created)).await;
    let shipped = message("Commande expédiée", "Votre colis est parti : 6A123.");
    let thread = mirakl(&server)
        .message_customer("O-1", &shipped)
        .await
        .unwrap();
    assert_eq!(
        thread.as_deref(),
        Some(THREAD),
        "the thread to reply in next"
    );
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

#[tokio::test(start_paused = true)]
async fn the_next_message_of_an_order_replies_in_its_thread_with_m12() {
    let server = serving(
        &format!("POST /api/inbox/threads/{THREAD}/message"),
        json_reply(201, json!({"thread_id": THREAD, "message_id": "m-2"})),
    )
    .await;
    let refused = CustomerMessage {
        thread: Some(THREAD.to_owned()),
        ..message("Commande refusée", "Nous n'avons plus cet article.")
    };
    let thread = mirakl(&server)
        .message_customer("O-1", &refused)
        .await
        .unwrap();
    assert_eq!(thread.as_deref(), Some(THREAD));
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1, "no second OR43 thread");
    assert_shop_call(&sent[0]);
    let part = only_part(
        &sent[0],
        "form-data; name=\"message_input\"",
        "application/json",
    );
    let input: serde_json::Value = serde_json::from_slice(&part.content).unwrap();
    // M12 message_input: body (3..50000 chars) and to [{type}] required; the free-text
    // thread's topic becomes the reply's subject.
    assert_eq!(
        input,
        json!({
            "body": "Nous n'avons plus cet article.",
            "to": [{"type": "CUSTOMER"}],
            "topic": {"type": "FREE_TEXT", "value": "Commande refusée"}
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_reason_code_topic_opens_the_thread_with_the_configured_code() {
    let server = serving(
        "POST /api/orders/O-1/threads",
        json_reply(201, json!({"thread_id": THREAD, "message_id": "m-1"})),
    )
    .await;
    let mut settings = settings(&server);
    settings.message_topic = MessageTopic::ReasonCode("ORDER_STATUS".into());
    Mirakl::new("t", settings)
        .unwrap()
        .message_customer("O-1", &message("Retard", "Votre commande a du retard."))
        .await
        .unwrap();
    let sent = requests(&server).await;
    let part = only_part(
        &sent[0],
        "form-data; name=\"thread_input\"",
        "application/json",
    );
    let input: serde_json::Value = serde_json::from_slice(&part.content).unwrap();
    assert_eq!(
        input["topic"],
        json!({"type": "REASON_CODE", "value": "ORDER_STATUS"})
    );
}
