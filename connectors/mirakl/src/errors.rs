//! Mirakl's error answers, read leniently: the legacy APIs document no error body, so we take
//! `message`, else `errors[0].message`, else the raw text; `code` wherever it appears.

use reqwest::StatusCode;
use serde_json::Value;
use vigie_connector::{ConnectorError, Reply};

/// OR21 on an order that is no longer waiting for acceptance.
pub const ORDER_INVALID_STATE: &str = "ORDER_INVALID_STATE";
/// OR21 with accepted and refused lines on a shop that allows only whole-order decisions.
pub const ORDER_PARTIAL_ACCEPTANCE_DISABLED: &str = "ORDER_PARTIAL_ACCEPTANCE_DISABLED";

/// Symbolic codes a body may carry without a `code` field (inside the message text).
const KNOWN_CODES: &[&str] = &[
    ORDER_INVALID_STATE,
    ORDER_PARTIAL_ACCEPTANCE_DISABLED,
    "ORDER_LINE_ACCEPTANCE_DECISION_MISSING",
    "ORDER_FULFILLED_UNAUTHORIZED",
    "ORDER_LINE_DUPLICATE_ID",
    "ORDER_LINE_NOT_FOUND",
    "ORDER_LINE_NULL_ELEMENT",
    "ORDER_NOT_FOUND",
    "VALIDATION_ERROR",
];

/// What an error body says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: Option<String>,
    pub message: String,
}

impl ErrorBody {
    pub fn parse(reply: &Reply) -> Self {
        let text = reply.text();
        let json: Option<Value> = serde_json::from_str(&text).ok();
        let first_error = json
            .as_ref()
            .and_then(|j| j.get("errors"))
            .and_then(|e| e.get(0));
        let message = json
            .as_ref()
            .and_then(|j| j.get("message"))
            .and_then(Value::as_str)
            .or_else(|| {
                first_error
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
            })
            .map(str::to_owned)
            .unwrap_or_else(|| text.trim().to_owned());
        let code = json
            .as_ref()
            .and_then(|j| j.get("code"))
            .or_else(|| first_error.and_then(|e| e.get("code")))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                KNOWN_CODES
                    .iter()
                    .find(|code| text.contains(*code))
                    .map(|code| (*code).to_owned())
            });
        let message = if message.is_empty() {
            format!("HTTP {}", reply.status)
        } else {
            vigie_connector::snippet(&message)
        };
        Self { code, message }
    }
}

/// Classifies a 4xx that the shared client left to us.
pub fn classify(endpoint: &str, reply: &Reply) -> ConnectorError {
    let body = ErrorBody::parse(reply);
    if body.code.as_deref() == Some(ORDER_INVALID_STATE) {
        return ConnectorError::AlreadyDone(format!("{endpoint}: {}", body.message));
    }
    let code = body.code.or_else(|| match reply.status {
        StatusCode::NOT_FOUND => Some("NOT_FOUND".to_owned()),
        _ => None,
    });
    ConnectorError::Permanent {
        code,
        message: format!(
            "{endpoint} HTTP {}: {}",
            reply.status.as_u16(),
            body.message
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn reads_message_and_code_at_the_top() {
        let body = ErrorBody::parse(&reply(
            400,
            r#"{"status":400,"message":"Order is not in the expected state","code":"ORDER_INVALID_STATE"}"#,
        ));
        assert_eq!(body.code.as_deref(), Some(ORDER_INVALID_STATE));
        assert_eq!(body.message, "Order is not in the expected state");
    }

    #[test]
    fn reads_the_first_nested_error() {
        let body = ErrorBody::parse(&reply(
            400,
            r#"{"errors":[{"code":"ORDER_LINE_NOT_FOUND","message":"no such line"},{"message":"x"}]}"#,
        ));
        assert_eq!(body.code.as_deref(), Some("ORDER_LINE_NOT_FOUND"));
        assert_eq!(body.message, "no such line");
    }

    #[test]
    fn falls_back_to_raw_text_and_finds_known_codes_in_it() {
        let body = ErrorBody::parse(&reply(400, "  ORDER_INVALID_STATE: too late \n"));
        assert_eq!(body.code.as_deref(), Some(ORDER_INVALID_STATE));
        assert_eq!(body.message, "ORDER_INVALID_STATE: too late");
        let body = ErrorBody::parse(&reply(404, ""));
        assert_eq!(body.code, None);
        assert_eq!(body.message, "HTTP 404 Not Found");
    }

    #[test]
    fn invalid_state_is_already_done_and_the_rest_permanent() {
        let done = classify("OR21", &reply(400, r#"{"code":"ORDER_INVALID_STATE"}"#));
        assert!(matches!(done, ConnectorError::AlreadyDone(_)), "{done:?}");
        let other = classify("OR21", &reply(400, r#"{"message":"bad"}"#));
        assert_eq!(
            other,
            ConnectorError::Permanent {
                code: None,
                message: "OR21 HTTP 400: bad".into()
            }
        );
        let missing = classify("OR21", &reply(404, "{}"));
        assert!(
            matches!(&missing, ConnectorError::Permanent { code: Some(c), .. } if c == "NOT_FOUND")
        );
    }
}
