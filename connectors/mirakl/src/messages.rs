//! OR43 `POST /api/orders/{id}/threads`: a new thread to the customer, as a multipart
//! `thread_input` JSON part. Never repeated once it may have been received: a message sent
//! twice cannot be taken back.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde::{Deserialize, Serialize};
use vigie_connector::{ConnectorError, CustomerMessage};

use crate::client::{self, Api, Call};

/// Bounds OR43 sets on a message body.
const BODY_CHARS: std::ops::RangeInclusive<usize> = 3..=50_000;

#[derive(Debug, Serialize)]
pub struct ThreadInput<'a> {
    pub body: &'a str,
    pub to: [&'static str; 1],
    pub topic: Topic<'a>,
}

#[derive(Debug, Serialize)]
pub struct Topic<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: &'a str,
}

/// The `thread_input` part for a free-text thread to the customer.
pub fn thread_input(message: &CustomerMessage) -> Result<String, ConnectorError> {
    let chars = message.body.chars().count();
    if !BODY_CHARS.contains(&chars) {
        return Err(ConnectorError::permanent(format!(
            "OR43: a message body must have 3 to 50000 characters, this one has {chars}"
        )));
    }
    let subject = message.subject.trim();
    let input = ThreadInput {
        body: &message.body,
        to: ["CUSTOMER"],
        topic: Topic {
            kind: "FREE_TEXT",
            value: if subject.is_empty() { "Order" } else { subject },
        },
    };
    Ok(serde_json::to_string(&input).expect("plain strings serialize"))
}

#[derive(Debug, Deserialize)]
struct ThreadCreated {
    thread_id: Option<String>,
}

pub(crate) async fn send(
    api: &Api,
    order_id: &str,
    message: &CustomerMessage,
) -> Result<(), ConnectorError> {
    let input = thread_input(message)?;
    let url = api.url(&["orders", order_id, "threads"]);
    let reply = api
        .send(Call::once("OR43"), Method::POST, &url, &[], |r| {
            let part = Part::text(input.clone())
                .mime_str("application/json")
                .expect("a valid mime type");
            r.multipart(Form::new().part("thread_input", part))
        })
        .await?;
    // The message is posted; an odd answer body must not make the caller send it again.
    match client::json::<ThreadCreated>("OR43", &reply) {
        Ok(created) => {
            tracing::debug!(order_id, thread_id = ?created.thread_id, "customer thread created")
        }
        Err(e) => {
            tracing::warn!(order_id, error = %e, "customer thread created, answer unreadable")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_input_has_every_required_field() {
        let json = thread_input(&CustomerMessage {
            subject: "Votre commande".into(),
            body: "Bonjour, elle est partie.".into(),
        })
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "body": "Bonjour, elle est partie.",
                "to": ["CUSTOMER"],
                "topic": {"type": "FREE_TEXT", "value": "Votre commande"}
            })
        );
    }

    #[test]
    fn bodies_outside_the_documented_length_are_refused_before_sending() {
        let short = CustomerMessage {
            subject: "s".into(),
            body: "ok".into(),
        };
        assert!(matches!(
            thread_input(&short),
            Err(ConnectorError::Permanent { .. })
        ));
        let long = CustomerMessage {
            subject: "s".into(),
            body: "x".repeat(50_001),
        };
        assert!(thread_input(&long).is_err());
    }
}
