//! A channel's first cycle (a new database, or a channel added to the configuration) starts
//! by importing every order that still holds stock, whatever its age. The seller's snapshot
//! counts the units promised to accepted, unshipped orders, which vigie subtracts itself; a
//! first poll reaching back only the connector's `first_lookback`, and a sweep reading only
//! the acceptance queue, would never see the older ones, and vigie would sell their units
//! again. Until the import is done nothing is decided on the channel nor pushed to it.

use super::{Channel, Context, CycleReport, Error, ingest};
use crate::store::{self, channels};

/// Whether the channel's first import is done.
pub(super) async fn is_done(channel: &Channel, ctx: &Context) -> Result<bool, Error> {
    let name = channel.name().to_owned();
    Ok(ctx
        .store
        .read(move |conn| channels::first_import_done(conn, &name))
        .await?)
}

/// Imports every order still holding stock, if not done yet: they are stored and their
/// units reserved (already accepted, they are never decided), then the import is recorded.
/// A crash in between imports them again at the next start, which changes nothing more.
pub(super) async fn run_if_due(channel: &Channel, ctx: &Context) -> Result<(), Error> {
    if is_done(channel, ctx).await? {
        return Ok(());
    }
    tracing::info!(
        "first cycle on this channel: importing every order that still holds stock; \
         nothing is decided nor pushed before it is done"
    );
    let batch = channel.marketplace.orders_holding_stock().await?;
    let orders = batch.orders.len();
    let report: CycleReport = ingest::run(channel, ctx, batch, Vec::new()).await?;
    if ctx.dry_run {
        return Ok(()); // rolled back: the next run imports them for good
    }
    let name = channel.name().to_owned();
    ctx.store
        .call(move |conn| {
            let tx = conn.transaction()?;
            channels::record_first_import(&tx, &name, orders, &store::now_text())?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    tracing::info!(
        orders,
        new = report.new_orders,
        "first import done: the units of accepted, unshipped orders are reserved"
    );
    Ok(())
}
