//! OR21: one PUT with every line, and what each refusal means.

use serde_json::{Value, json};
use vigie_connector::testing::{assert_permanent_code, decide_one, decision};
use vigie_connector::{ConnectorError, LineDecision, Marketplace};
use vigie_mirakl::{Mirakl, PartialAcceptanceFallback};
use wiremock::{MockServer, ResponseTemplate};

use crate::support::{
    answer, answer_once, assert_shop_call, header, json_body, json_reply, mirakl, requests,
    serving, settings,
};

/// Lines `O/7 A-1`, `O/7 A-2`... decided as `accepts` says.
fn decisions(accepts: &[bool]) -> Vec<LineDecision> {
    accepts
        .iter()
        .enumerate()
        .map(|(i, accept)| decision(&format!("O/7 A-{}", i + 1), *accept))
        .collect()
}

/// OR21_Request: `order_lines` required; each item exactly `{accepted: bool, id: string}`.
fn assert_or21_schema(body: &Value) {
    let object = body.as_object().expect("an object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["order_lines"]);
    for line in body["order_lines"].as_array().expect("an array") {
        let line = line.as_object().unwrap();
        let mut keys: Vec<_> = line.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["accepted", "id"]);
        assert!(line["accepted"].is_boolean());
        assert!(line["id"].is_string());
    }
}

#[tokio::test(start_paused = true)]
async fn or21_sends_every_line_in_one_put() {
    let server = serving("PUT", ResponseTemplate::new(204)).await;
    decide_one(&mirakl(&server), "O/7 A", &decisions(&[true, false]))
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method.as_str(), "PUT");
    // the id is one path segment, percent-encoded
    assert_eq!(sent[0].url.path(), "/api/orders/O%2F7%20A/accept");
    assert_shop_call(&sent[0]);
    assert_eq!(header(&sent[0], "content-type"), Some("application/json"));
    let body = json_body(&sent[0]);
    assert_or21_schema(&body);
    assert_eq!(
        body,
        json!({"order_lines": [
            {"accepted": true, "id": "O/7 A-1"},
            {"accepted": false, "id": "O/7 A-2"}
        ]})
    );
}

#[tokio::test(start_paused = true)]
async fn or21_invalid_state_means_already_done() {
    let refusal = json!({
        "status": 400, "code": "ORDER_INVALID_STATE",
        "message": "Order is not in the expected state for this operation"
    });
    let server = serving("PUT", json_reply(400, refusal)).await;
    let error = decide_one(&mirakl(&server), "O-1", &decisions(&[true]))
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::AlreadyDone(_)), "{error:?}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn or21_partial_acceptance_disabled_falls_back_to_refusing_the_order() {
    let server = MockServer::start().await;
    let refusal = json_reply(
        400,
        json!({
            "errors": [{"code": "ORDER_PARTIAL_ACCEPTANCE_DISABLED",
                        "message": "Partial acceptance is disabled for this shop"}]
        }),
    );
    answer_once(&server, "PUT", refusal).await;
    answer(&server, "PUT", ResponseTemplate::new(204)).await;
    let mirakl = mirakl(&server);
    assert!(mirakl.capabilities().partial_acceptance);
    decide_one(&mirakl, "O-1", &decisions(&[true, false]))
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        json_body(&sent[1]),
        json!({"order_lines": [
            {"accepted": false, "id": "O/7 A-1"},
            {"accepted": false, "id": "O/7 A-2"}
        ]})
    );
    // learned: the engine is told, and the next mixed decision goes straight to the fallback
    assert!(!mirakl.capabilities().partial_acceptance);
    decide_one(&mirakl, "O-2", &decisions(&[false, true]))
        .await
        .unwrap();
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn or21_partial_acceptance_disabled_can_be_left_to_a_human() {
    let refusal = json_reply(
        400,
        json!({
            "code": "ORDER_PARTIAL_ACCEPTANCE_DISABLED", "message": "Partial acceptance is disabled for this shop"
        }),
    );
    let server = serving("PUT", refusal).await;
    let mut settings = settings(&server);
    settings.partial_acceptance_fallback = PartialAcceptanceFallback::Report;
    let mirakl = Mirakl::new("test", settings).unwrap();
    let error = decide_one(&mirakl, "O-1", &decisions(&[true, false]))
        .await
        .unwrap_err();
    assert_permanent_code(&error, "ORDER_PARTIAL_ACCEPTANCE_DISABLED");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn or21_other_refusals_are_permanent_with_their_code() {
    let refusal = json!({
        "errors": [{"code": "ORDER_LINE_ACCEPTANCE_DECISION_MISSING",
                    "message": "Some order lines are missing from the acceptance decision"}]
    });
    let server = serving("PUT", json_reply(400, refusal)).await;
    let error = decide_one(&mirakl(&server), "O-1", &decisions(&[true]))
        .await
        .unwrap_err();
    match error {
        ConnectorError::Permanent { code, message } => {
            assert_eq!(
                code.as_deref(),
                Some("ORDER_LINE_ACCEPTANCE_DECISION_MISSING")
            );
            assert!(message.contains("missing from the acceptance decision"));
        }
        other => panic!("{other:?}"),
    }
}
