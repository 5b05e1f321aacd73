//! `orders_update accept_order`: every line in one call, and what each refusal means.

use vigie_connector::testing::decide_one;
use vigie_connector::testing::decision;
use vigie_connector::{ConnectorError, LineDecision};
use wiremock::MockServer;

use crate::support::{ORDER, first_body, fnac, request, response, serving};

/// Decides `lines` of [`ORDER`] against a server answering `status` around `order`: the
/// outcome, and the body sent.
async fn decide_with(
    status: &str,
    order: &str,
    lines: &[(&str, bool)],
) -> (Result<(), ConnectorError>, String) {
    let server = serving("orders_update", response("orders_update", status, order)).await;
    let lines: Vec<LineDecision> = lines
        .iter()
        .map(|(id, accept)| decision(id, *accept))
        .collect();
    let outcome = decide_one(&fnac(&server), ORDER, &lines).await;
    (outcome, first_body(&server, "orders_update").await)
}

#[tokio::test]
async fn accepts_every_line() {
    let reply = format!(
        "<order><status>OK</status><order_id>{ORDER}</order_id><state>Accepted</state><order_detail><order_detail_id>1</order_detail_id><status>OK</status><state>Accepted</state></order_detail></order>"
    );
    let (outcome, body) = decide_with("OK", &reply, &[("1", true)]).await;
    outcome.unwrap();
    assert_eq!(
        body,
        request(
            "orders_update",
            &format!(
                "><order order_id=\"{ORDER}\" action=\"accept_order\"><order_detail><order_detail_id>1</order_detail_id><action>Accepted</action></order_detail></order>"
            )
        )
    );
}

#[tokio::test]
async fn refuses_every_line() {
    let reply = format!(
        "<order><status>OK</status><order_id>{ORDER}</order_id><state>Refused</state></order>"
    );
    let (outcome, body) = decide_with("OK", &reply, &[("1", false), ("2", false)]).await;
    outcome.unwrap();
    assert!(body.ends_with(&format!(
        "<order order_id=\"{ORDER}\" action=\"accept_order\"><order_detail><order_detail_id>1</order_detail_id><action>Refused</action></order_detail><order_detail><order_detail_id>2</order_detail_id><action>Refused</action></order_detail></order></orders_update>"
    )), "{body}");
}

#[tokio::test]
async fn accepts_some_lines_and_refuses_others() {
    let reply = format!(
        "<order><order_id>{ORDER}</order_id><status>OK</status><order_detail><status>OK</status><order_detail_id>1</order_detail_id></order_detail><order_detail><order_detail_id>2</order_detail_id><status>OK</status></order_detail></order>"
    );
    let (outcome, body) = decide_with("OK", &reply, &[("1", true), ("2", false)]).await;
    outcome.unwrap();
    assert!(body.contains("<order_detail_id>1</order_detail_id><action>Accepted</action>"));
    assert!(body.contains("<order_detail_id>2</order_detail_id><action>Refused</action>"));
}

#[tokio::test]
async fn a_wrong_state_is_already_done() {
    let reply = format!(
        r#"<order><status>FATAL</status><order_id>{ORDER}</order_id><error severity="FATAL" code="ERR_003"><![CDATA[Order status is not valid for action accept_order]]></error></order>"#
    );
    let (outcome, _) = decide_with("ERROR", &reply, &[("1", true)]).await;
    let error = outcome.unwrap_err();
    assert!(
        matches!(error, ConnectorError::AlreadyDone(ref m) if m.contains("ERR_003")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_line_error_is_reported_with_its_code() {
    let reply = format!(
        r#"<order><status>ERROR</status><order_id>{ORDER}</order_id><order_detail><order_detail_id>1</order_detail_id><status>OK</status></order_detail><order_detail><order_detail_id>2</order_detail_id><status>ERROR</status><error severity="ERROR" code="ERR_050">Line cannot be refused</error></order_detail></order>"#
    );
    let (outcome, _) = decide_with("OK", &reply, &[("1", true), ("2", false)]).await;
    let error = outcome.unwrap_err();
    assert_eq!(
        error,
        ConnectorError::Permanent {
            code: Some("ERR_050".into()),
            message: format!("order {ORDER} line 2: Line cannot be refused")
        }
    );
}

#[tokio::test]
async fn a_line_in_the_wrong_state_is_already_done() {
    let reply = format!(
        r#"<order><status>ERROR</status><order_id>{ORDER}</order_id><order_detail><order_detail_id>1</order_detail_id><status>FATAL</status><error severity="FATAL" code="ERR_003">Order status is not valid for action accept_order</error></order_detail></order>"#
    );
    let (outcome, _) = decide_with("OK", &reply, &[("1", true)]).await;
    assert!(
        matches!(outcome, Err(ConnectorError::AlreadyDone(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn bad_decisions_are_refused_before_any_call() {
    let server = MockServer::start().await;
    let fnac = fnac(&server);
    let refused = async |order: &str, lines: &[LineDecision]| {
        matches!(
            decide_one(&fnac, order, lines).await,
            Err(ConnectorError::Permanent { .. })
        )
    };
    assert!(refused("SHORT", &[decision("1", true)]).await);
    assert!(refused(ORDER, &[decision("x", true)]).await);
    assert!(refused(ORDER, &[]).await);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_order_missing_from_the_answer_is_not_taken_as_applied() {
    let (outcome, _) = decide_with("OK", "", &[("1", true)]).await;
    let error = outcome.unwrap_err();
    assert!(
        matches!(error, ConnectorError::Transient(ref m) if m.contains("not in Fnac's answer")),
        "{error:?}"
    );
}
