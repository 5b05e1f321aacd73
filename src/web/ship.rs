//! A parcel given from a page or the API: recorded through the same function as `vigie ship`
//! and the CSV drop, and kept in the order's history with who gave it.

use rusqlite::Transaction;

use super::WebState;
use crate::pipeline::parcel::{self, CarrierBook, ParcelError, ParcelRequest};
use crate::store::shipments::Recorded;
use crate::store::{self, history, orders};

/// Records `request` on `channel` inside `tx`; `source` is `web` or `api`.
pub(super) fn record(
    state: &WebState,
    tx: &Transaction<'_>,
    channel: &str,
    request: &ParcelRequest,
    actor: &str,
    source: &'static str,
) -> Result<Recorded, ShipError> {
    let config = state.config();
    let Some(channel) = config.channels.iter().find(|c| c.name == channel) else {
        return Err(ShipError::UnknownChannel(channel.to_owned()));
    };
    let terms = state
        .parcel_terms
        .get(&channel.name)
        .copied()
        .unwrap_or_default();
    let book = CarrierBook::load(tx, channel, terms).map_err(ParcelError::from)?;
    let now = store::now_text();
    let recorded = parcel::record(tx, &book, request, source, &now)?;
    if recorded == Recorded::New
        && let Some(order) =
            orders::find(tx, &channel.name, &request.order_id).map_err(ParcelError::from)?
    {
        let detail = format!(
            "{} {}",
            request.carrier.trim(),
            request.tracking_number.trim()
        );
        history::record_action(tx, order.pk, actor, "ship", Some(&detail), &now)
            .map_err(ParcelError::from)?;
    }
    Ok(recorded)
}

#[derive(Debug, thiserror::Error)]
pub(super) enum ShipError {
    #[error("no channel {0:?}")]
    UnknownChannel(String),
    #[error(transparent)]
    Parcel(#[from] ParcelError),
}

impl ShipError {
    /// The request's field the refusal is about, for the API's `{error}`.
    pub(super) fn field(&self) -> Option<&'static str> {
        match self {
            Self::UnknownChannel(_) => Some("channel"),
            Self::Parcel(e) => match e {
                ParcelError::UnknownOrder(_)
                | ParcelError::NotShippable { .. }
                | ParcelError::NothingToShip(_) => Some("order_id"),
                ParcelError::UnknownLine { .. }
                | ParcelError::TooMany { .. }
                | ParcelError::WholeLinesOnly { .. } => Some("lines"),
                ParcelError::UnknownCarrier { .. } => Some("carrier"),
                ParcelError::Empty(what) if what.contains("carrier") => Some("carrier"),
                ParcelError::Empty(_) => Some("tracking_number"),
                ParcelError::Store(_) => None,
            },
        }
    }
}
