//! Recording a parcel: the one entry point of `vigie ship`, the watched CSV drop and the
//! HTTP API. A parcel is checked against the stored order (its lines, the units still to
//! ship) and the channel's carriers, then committed; the daemon confirms it to the
//! marketplace at its next cycle ([`super::ship`]).

use std::collections::HashMap;

use rusqlite::Transaction;
use vigie_connector::{Carrier, OrderStatus, ParcelTerms};

use crate::config::ChannelConfig;
use crate::store::shipments::{self, Confirmation, NewParcel, Recorded, Units};
use crate::store::{StoreError, orders};

/// A parcel as the seller describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelRequest {
    pub order_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
    /// Lines, each with its units (all the units still to ship when `None`); none at all:
    /// every unit of the order still to ship.
    pub lines: Vec<(String, Option<u32>)>,
}

/// The carriers a channel knows: the seller's `carriers` table, then the marketplace's own
/// list (read once a day), then, where the marketplace takes any carrier by name, any; and
/// what else its parcels must respect.
pub struct CarrierBook<'a> {
    pub channel: &'a ChannelConfig,
    pub listed: Vec<Carrier>,
    pub terms: ParcelTerms,
}

impl<'a> CarrierBook<'a> {
    /// The book of `channel`, with the marketplace's list as last read.
    pub fn load(
        conn: &rusqlite::Connection,
        channel: &'a ChannelConfig,
        terms: ParcelTerms,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            listed: shipments::carriers(conn, &channel.name)?,
            channel,
            terms,
        })
    }

    /// The marketplace's code for `name` (`None`: sent by name).
    fn resolve(&self, name: &str) -> Result<Option<String>, ParcelError> {
        if let Some(code) = self.channel.carrier_code(name) {
            return Ok(Some(code.to_owned()));
        }
        let name = name.trim();
        if let Some(listed) = self
            .listed
            .iter()
            .find(|c| c.code.eq_ignore_ascii_case(name) || c.name.trim().eq_ignore_ascii_case(name))
        {
            return Ok(Some(listed.code.clone()));
        }
        if self.terms.unlisted_carriers {
            return Ok(None);
        }
        let mut known: Vec<&str> = self.channel.carriers.keys().map(String::as_str).collect();
        known.extend(self.listed.iter().map(|c| c.code.as_str()));
        Err(ParcelError::UnknownCarrier {
            carrier: name.to_owned(),
            channel: self.channel.name.clone(),
            known: if known.is_empty() {
                "none yet: the daemon reads the marketplace's list at its next cycle, or add the carrier to the channel's `carriers`".to_owned()
            } else {
                known.join(", ")
            },
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParcelError {
    #[error("no order {0} (see `vigie orders`)")]
    UnknownOrder(String),
    #[error(
        "order {order} is {status}: only an accepted order ships or is cancelled by the seller"
    )]
    NotShippable { order: String, status: OrderStatus },
    #[error("order {order} has no line {line} to ship")]
    UnknownLine { order: String, line: String },
    #[error("order {order} line {line}: {asked} units asked, {left} left to ship")]
    TooMany {
        order: String,
        line: String,
        asked: u32,
        left: u32,
    },
    #[error(
        "order {order} line {line}: channel {channel} ships whole lines only: {asked} of its {left} unit(s) asked"
    )]
    WholeLinesOnly {
        order: String,
        line: String,
        channel: String,
        asked: u32,
        left: u32,
    },
    #[error("order {0} has nothing left to ship or cancel")]
    NothingToShip(String),
    #[error("unknown carrier {carrier:?} on channel {channel}; known: {known}")]
    UnknownCarrier {
        carrier: String,
        channel: String,
        known: String,
    },
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ParcelError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Checks and records one parcel inside the caller's transaction (a CSV file is applied
/// whole or not at all). The same order, carrier and tracking number again: nothing changes.
pub fn record(
    tx: &Transaction<'_>,
    carriers: &CarrierBook<'_>,
    request: &ParcelRequest,
    source: &'static str,
    now: &str,
) -> Result<Recorded, ParcelError> {
    let channel = carriers.channel.name.as_str();
    let label = format!("{channel}:{}", request.order_id);
    let carrier = request.carrier.trim();
    let tracking_number = request.tracking_number.trim();
    if carrier.is_empty() {
        return Err(ParcelError::Empty("the carrier"));
    }
    if tracking_number.is_empty() {
        return Err(ParcelError::Empty("the tracking number"));
    }
    let order = orders::find(tx, channel, &request.order_id)?
        .ok_or_else(|| ParcelError::UnknownOrder(label.clone()))?;
    let already = shipments::of_order(tx, order.pk)?.into_iter().any(|p| {
        p.state != Confirmation::Rejected
            && p.carrier == carrier
            && p.tracking_number == tracking_number
    });
    if already {
        return Ok(Recorded::Already);
    }
    check_accepted(tx, &order, &label)?;
    let left = units_left(tx, order.pk)?;
    let lines = chosen_lines(&label, &request.lines, &left)?;
    if carriers.terms.whole_lines_only {
        whole_lines(tx, order.pk, &label, channel, &lines)?;
    }
    let parcel = NewParcel {
        carrier: carrier.to_owned(),
        carrier_code: carriers.resolve(carrier)?,
        tracking_number: tracking_number.to_owned(),
        tracking_url: request
            .tracking_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned),
        lines,
        source,
    };
    Ok(shipments::record(tx, order.pk, &parcel, now)?)
}

/// Each line of the parcel whole: all its units owed, none in an earlier parcel.
fn whole_lines(
    tx: &Transaction<'_>,
    order_pk: i64,
    label: &str,
    channel: &str,
    lines: &[Units],
) -> Result<(), ParcelError> {
    let owed = shipments::units_to_ship(tx, order_pk)?;
    for units in lines {
        let whole = owed.get(&units.line_id).copied().unwrap_or(0);
        if units.quantity != whole {
            return Err(ParcelError::WholeLinesOnly {
                order: label.to_owned(),
                line: units.line_id.clone(),
                channel: channel.to_owned(),
                asked: units.quantity,
                left: whole,
            });
        }
    }
    Ok(())
}

/// Only an accepted order ships or is cancelled by the seller; one vigie accepted is, even
/// before the next poll shows it so.
pub(crate) fn check_accepted(
    tx: &Transaction<'_>,
    order: &orders::StoredOrder,
    label: &str,
) -> Result<(), ParcelError> {
    let accepted = matches!(order.status, OrderStatus::Accepted | OrderStatus::Shipped)
        || (order.status == OrderStatus::AwaitingAcceptance
            && shipments::accepted_by_vigie(tx, order.pk)?);
    if accepted {
        Ok(())
    } else {
        Err(ParcelError::NotShippable {
            order: label.to_owned(),
            status: order.status,
        })
    }
}

/// Units per line the seller owes and has put in no parcel yet.
pub(crate) fn units_left(
    tx: &Transaction<'_>,
    order_pk: i64,
) -> Result<HashMap<String, u32>, ParcelError> {
    Ok(shipments::units_left(tx, order_pk)?)
}

/// The lines asked (each with its units, all that is left when `None`), each within what is
/// left; no line asked: everything left.
pub(crate) fn chosen_lines(
    label: &str,
    asked: &[(String, Option<u32>)],
    left: &HashMap<String, u32>,
) -> Result<Vec<Units>, ParcelError> {
    let mut lines: Vec<Units> = Vec::new();
    if asked.is_empty() {
        let mut all: Vec<Units> = left
            .iter()
            .filter(|(_, units)| **units > 0)
            .map(|(line, units)| Units {
                line_id: line.clone(),
                quantity: *units,
            })
            .collect();
        all.sort_by(|a, b| a.line_id.cmp(&b.line_id));
        lines = all;
    }
    for (line, asked) in asked {
        let line = line.trim();
        let Some(&available) = left.get(line) else {
            return Err(ParcelError::UnknownLine {
                order: label.to_owned(),
                line: line.to_owned(),
            });
        };
        let already: u32 = lines
            .iter()
            .filter(|u| u.line_id == line)
            .map(|u| u.quantity)
            .sum();
        let available = available.saturating_sub(already);
        let quantity = asked.unwrap_or(available);
        if quantity == 0 || quantity > available {
            return Err(ParcelError::TooMany {
                order: label.to_owned(),
                line: line.to_owned(),
                asked: quantity,
                left: available,
            });
        }
        lines.push(Units {
            line_id: line.to_owned(),
            quantity,
        });
    }
    if lines.is_empty() {
        return Err(ParcelError::NothingToShip(label.to_owned()));
    }
    Ok(lines)
}
