//! Amazon lets a seller write to a buyer only through its own templates, and only those the
//! order allows now (`getMessagingActionsForOrder`). vigie's one message Amazon cannot tell
//! itself, a delay, goes as `unexpectedProblem`: 1 to 2000 characters, no HTML, no e-mail.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use vigie_connector::{ConnectorError, CustomerMessage};

use crate::client::{self, Api, Call};
use crate::limits::Throttles;

const ACTION: &str = "unexpectedProblem";
const MAX_CHARS: usize = 2000;

#[derive(Deserialize)]
struct Actions {
    #[serde(rename = "_links")]
    links: Links,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    actions: Vec<Link>,
}

#[derive(Deserialize)]
struct Link {
    name: Option<String>,
    href: String,
}

/// Why Amazon would refuse `text` as an `unexpectedProblem` message, if it would.
pub fn unfit(text: &str) -> Option<String> {
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_CHARS {
        return Some(format!(
            "Amazon takes 1 to {MAX_CHARS} characters, this has {chars}"
        ));
    }
    if text.contains('<') && text.contains('>') {
        return Some("Amazon refuses HTML in buyer messages".into());
    }
    let email = text.split_whitespace().any(|word| {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric());
        matches!(word.split_once('@'), Some((user, host)) if !user.is_empty() && host.contains('.'))
    });
    email.then(|| "Amazon refuses e-mail addresses in buyer messages".into())
}

pub async fn send(
    api: &Api,
    throttles: &Throttles,
    order_id: &str,
    message: &CustomerMessage,
) -> Result<Option<String>, ConnectorError> {
    if let Some(why) = unfit(&message.body) {
        return Err(ConnectorError::Permanent {
            code: Some("MessageNotAllowed".into()),
            message: why,
        });
    }
    let query = [api.marketplace()];
    let url = api.url(&["messaging", "v1", "orders", order_id]);
    let reply = api
        .get(
            Call::safe("getMessagingActionsForOrder", &throttles.messaging),
            &url,
            &query,
        )
        .await?;
    let actions: Actions = client::json("getMessagingActionsForOrder", &reply)?;
    let allowed = actions.links.actions.iter().any(|link| {
        link.name.as_deref() == Some(ACTION) || link.href.ends_with(&format!("/messages/{ACTION}"))
    });
    if !allowed {
        return Err(ConnectorError::Permanent {
            code: Some("MessageNotAllowed".into()),
            message: format!("Amazon allows no {ACTION} message for order {order_id} now"),
        });
    }
    let url = api.url(&["messaging", "v1", "orders", order_id, "messages", ACTION]);
    api.send_json(
        Call::once("createUnexpectedProblem", &throttles.messaging),
        Method::POST,
        &url,
        &query,
        &json!({ "text": message.body }),
    )
    .await?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_rules_for_message_text() {
        assert!(unfit("Votre colis partira lundi.").is_none());
        assert!(unfit("").is_some());
        assert!(unfit(&"x".repeat(2001)).is_some());
        assert!(unfit("écrivez à vendeur@boutique.fr").is_some());
        assert!(unfit("<b>retard</b>").is_some());
        assert!(unfit("a @ b").is_none());
    }
}
