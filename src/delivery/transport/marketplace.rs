//! A customer message through the marketplace's own messaging (the `Marketplace` trait).

use vigie_connector::{CustomerMessage, Marketplace};

use crate::delivery::outcome::{self, SendError};
use crate::delivery::render::Rendered;

/// Sends `message` to the customer of `order_id`, in `thread` when an earlier message of the
/// order opened one; the marketplace keeps its own copy. Returns the thread it went into.
pub async fn send(
    marketplace: &dyn Marketplace,
    order_id: &str,
    message: Rendered,
    thread: Option<String>,
) -> Result<Option<String>, SendError> {
    let message = CustomerMessage {
        subject: message.subject,
        body: message.text,
        thread,
    };
    outcome::marketplace(marketplace.message_customer(order_id, &message).await)
}
