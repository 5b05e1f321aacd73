//! Messages to the customer, one thread per order: OR43 `POST /api/orders/{id}/threads` opens
//! it (with the channel's topic) for the order's first message, and M12
//! `POST /api/inbox/threads/{thread_id}/message` replies in it for the next ones; a free-text
//! thread takes each reply's subject as its new topic, a reason-code one keeps its code. Both
//! are multipart with one JSON part. Never repeated once it may have been received: a message
//! sent twice cannot be taken back.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde::{Deserialize, Serialize};
use vigie_connector::{ConnectorError, CustomerMessage};

use crate::client::{self, Api, Call};
use crate::settings::MessageTopic;

/// Bounds OR43 and M12 set on a message body.
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

/// M12's `message_input`; without a topic, the thread keeps its own.
#[derive(Debug, Serialize)]
pub struct MessageInput<'a> {
    pub body: &'a str,
    pub to: [Recipient; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<Topic<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Recipient {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The `thread_input` part of a new thread to the customer: a free-text topic is the
/// message's subject, a reason-code topic the channel's code.
pub fn thread_input(
    message: &CustomerMessage,
    topic: &MessageTopic,
) -> Result<String, ConnectorError> {
    let body = checked_body("OR43", message)?;
    let topic = match topic {
        MessageTopic::FreeText => subject_topic(message),
        MessageTopic::ReasonCode(code) => Topic {
            kind: "REASON_CODE",
            value: code,
        },
    };
    let input = ThreadInput {
        body,
        to: ["CUSTOMER"],
        topic,
    };
    Ok(serde_json::to_string(&input).expect("plain strings serialize"))
}

/// The `message_input` part of a reply to the customer in an existing thread: a free-text
/// thread's topic becomes the reply's subject (what the buyer sees in the list), a
/// reason-code thread keeps its code.
pub fn message_input(
    message: &CustomerMessage,
    topic: &MessageTopic,
) -> Result<String, ConnectorError> {
    let input = MessageInput {
        body: checked_body("M12", message)?,
        to: [Recipient { kind: "CUSTOMER" }],
        topic: match topic {
            MessageTopic::FreeText => Some(subject_topic(message)),
            MessageTopic::ReasonCode(_) => None,
        },
    };
    Ok(serde_json::to_string(&input).expect("plain strings serialize"))
}

/// A free-text topic: the message's subject.
fn subject_topic(message: &CustomerMessage) -> Topic<'_> {
    Topic {
        kind: "FREE_TEXT",
        value: match message.subject.trim() {
            "" => "Order",
            subject => subject,
        },
    }
}

fn checked_body<'a>(code: &str, message: &'a CustomerMessage) -> Result<&'a str, ConnectorError> {
    let chars = message.body.chars().count();
    if !BODY_CHARS.contains(&chars) {
        return Err(ConnectorError::permanent(format!(
            "{code}: a message body must have 3 to 50000 characters, this one has {chars}"
        )));
    }
    Ok(&message.body)
}

#[derive(Debug, Deserialize)]
struct Posted {
    thread_id: Option<String>,
}

/// Sends `message` in its thread, or opens the order's thread with it; returns the thread.
pub(crate) async fn send(
    api: &Api,
    topic: &MessageTopic,
    order_id: &str,
    message: &CustomerMessage,
) -> Result<Option<String>, ConnectorError> {
    let (code, url, part, input) = match &message.thread {
        Some(thread) => (
            "M12",
            api.url(&["inbox", "threads", thread, "message"]),
            "message_input",
            message_input(message, topic)?,
        ),
        None => (
            "OR43",
            api.url(&["orders", order_id, "threads"]),
            "thread_input",
            thread_input(message, topic)?,
        ),
    };
    let reply = api
        .send(Call::once(code), Method::POST, &url, &[], |r| {
            let json = Part::text(input.clone())
                .mime_str("application/json")
                .expect("a valid mime type");
            r.multipart(Form::new().part(part, json))
        })
        .await?;
    // The message is posted; an odd answer body must not make the caller send it again.
    let thread = match client::json::<Posted>(code, &reply) {
        Ok(posted) => posted.thread_id,
        Err(e) => {
            tracing::warn!(order_id, error = %e, "customer message posted, answer unreadable");
            None
        }
    };
    Ok(thread.or_else(|| message.thread.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_input_has_every_required_field() {
        let json = thread_input(
            &CustomerMessage {
                subject: "Votre commande".into(),
                body: "Bonjour, elle est partie.".into(),
                thread: None,
            },
            &MessageTopic::FreeText,
        )
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
            thread: None,
        };
        assert!(matches!(
            thread_input(&short, &MessageTopic::FreeText),
            Err(ConnectorError::Permanent { .. })
        ));
        let long = CustomerMessage {
            subject: "s".into(),
            body: "x".repeat(50_001),
            thread: Some("t".into()),
        };
        assert!(message_input(&long, &MessageTopic::FreeText).is_err());
    }
}
