//! The start-up check of a channel: one cheap call proving the marketplace answers and takes
//! vigie's credentials. Refused credentials raise the same alert a refused poll does; any
//! outcome is logged and the channel's loop goes on, since the failure may be passing.

use vigie_connector::ConnectorError;

use crate::pipeline::{self, Channel, Context};

pub(super) async fn check(channel: &Channel, ctx: &Context) {
    match channel.marketplace.health().await {
        Ok(()) => tracing::info!("the marketplace answers and accepts vigie's credentials"),
        Err(ConnectorError::Auth(message)) => {
            tracing::error!("the marketplace refuses vigie's credentials: {message}");
            if !ctx.dry_run {
                raise_credentials_refused(channel, ctx, message).await;
            }
        }
        Err(e) => tracing::warn!("health check failed, polling all the same: {e}"),
    }
}

async fn raise_credentials_refused(channel: &Channel, ctx: &Context, message: String) {
    ctx.raise_alert(pipeline::health::credentials_refused(
        channel.name(),
        &message,
    ))
    .await;
}
