//! The start-up check of a channel: one cheap call proving the marketplace answers and takes
//! vigie's credentials. Refused credentials raise the same alert a refused poll does; any
//! outcome is logged and the channel's loop goes on, since the failure may be passing.

use vigie_connector::ConnectorError;

use crate::cycle::{self, Channel, Context};
use crate::store::{self, alerts};

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
    let alert = cycle::credentials_refused(channel.name(), &message);
    let raised = ctx
        .store
        .call(move |conn| alerts::raise(conn, &alert, &store::now_text()))
        .await;
    match raised {
        Ok(_) => ctx.delivery.notify_one(),
        Err(e) => tracing::error!("cannot raise the alert: {e}"),
    }
}
