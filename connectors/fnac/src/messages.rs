//! Customer messages through Fnac's messaging: `messages_update` to CLIENT about an order.
//!
//! Messages and orders share the shop's one request budget; messages take at most half of
//! it (the pace the caller waits for: see `Marketplace::message_pace`), so a backlog of them
//! never holds up the acceptances.

use std::num::NonZeroU32;

use serde::Deserialize;
use vigie_connector::{ConnectorError, CustomerMessage, Repeat, Throttle};

use crate::client::{Transport, describe_all, root_failure};
use crate::xml::read::failed_status;
use crate::xml::{Element, WireError};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireMessageResult {
    #[serde(rename = "@status")]
    status: Option<String>,
    error: Vec<WireError>,
}

/// How a message is created (see [`crate::FnacSettings::message_action`]), and its share of
/// the request budget.
#[derive(Debug)]
pub(crate) struct MessageSettings {
    pub action: String,
    pub subject: String,
    pub share: Throttle,
}

/// Half the shop's requests a minute (at least one) for messages.
pub(crate) fn share(requests_per_minute: NonZeroU32) -> Throttle {
    Throttle::per_minute(NonZeroU32::new(requests_per_minute.get() / 2).unwrap_or(NonZeroU32::MIN))
}

pub(crate) async fn send(
    t: &Transport,
    settings: &MessageSettings,
    order_id: &str,
    message: &CustomerMessage,
) -> Result<(), ConnectorError> {
    // Fnac's subject is a category; the template's subject leads the text instead.
    let description = match message.subject.trim() {
        "" => message.body.clone(),
        subject => format!("{subject}\n\n{}", message.body),
    };
    // A message sent twice reaches the customer twice: never repeat once it may have left.
    let doc = t
        .call("messages_update", Repeat::OnlyIfUnsent, |root| {
            root.child(
                Element::new("message")
                    .attr("action", &settings.action)
                    .attr("id", order_id)
                    .text("message_to", "CLIENT")
                    .text("message_subject", &settings.subject)
                    .text("message_description", &description)
                    .text("message_type", "ORDER"),
            )
        })
        .await?;
    if let Some(failure) = root_failure(&doc, "message") {
        return Err(failure);
    }
    for child in doc.all("message") {
        let result: WireMessageResult = child.parse().map_err(|e| {
            ConnectorError::permanent(format!("unreadable messages_update result: {e}"))
        })?;
        let failed = failed_status(result.status.as_deref());
        let errors: Vec<WireError> = result
            .error
            .into_iter()
            .filter(|e| e.is_failure() || failed)
            .collect();
        if let Some(first) = errors.first() {
            return Err(ConnectorError::Permanent {
                code: first.code().map(str::to_owned),
                message: format!("message about order {order_id}: {}", describe_all(&errors)),
            });
        }
        if failed {
            return Err(ConnectorError::permanent(format!(
                "message about order {order_id} refused without detail"
            )));
        }
    }
    Ok(())
}
