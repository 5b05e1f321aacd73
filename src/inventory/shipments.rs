//! The shipments drop (`[shipments] path`) followed by [`super::file`]: each settled version
//! of the CSV `channel,order_id,carrier,tracking_number[,tracking_url,line_id,quantity]` is
//! recorded in one transaction, whole or not at all. Rows with the same channel, order,
//! carrier and tracking number are one parcel with several lines. A parcel already recorded
//! is left alone, so a file read again (or extended) applies nothing twice. A bad row rejects
//! the version, naming its line; the file is kept and a `shipments_file_invalid` alert says why.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use vigie_connector::ParcelTerms;

use super::file::{Outcome, Rejected, Target};
use crate::config::ChannelConfig;
use crate::csv_rows::Rows;
use crate::domain::alert_keys;
use crate::domain::alerts::{Alert, AlertKind};
use crate::pipeline::Context;
use crate::pipeline::parcel::{self, CarrierBook, ParcelError, ParcelRequest};
use crate::store::{self, alerts};

const HEADER: [&str; 7] = [
    "channel",
    "order_id",
    "carrier",
    "tracking_number",
    "tracking_url",
    "line_id",
    "quantity",
];
/// The first four columns are required.
const REQUIRED: usize = 4;

/// One parcel of the file, with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileParcel {
    pub line: u64,
    pub channel: String,
    pub request: ParcelRequest,
    /// The file line of each of the request's lines, to name the bad one.
    pub rows: Vec<u64>,
}

impl FileParcel {
    /// The file line an error is about: the row of the order line it names, else the first.
    fn line_of(&self, error: &ParcelError) -> u64 {
        let named = match error {
            ParcelError::UnknownLine { line, .. }
            | ParcelError::TooMany { line, .. }
            | ParcelError::WholeLinesOnly { line, .. } => Some(line.as_str()),
            _ => None,
        };
        named
            .and_then(|id| {
                let at = self
                    .request
                    .lines
                    .iter()
                    .position(|(l, _)| l.trim() == id)?;
                self.rows.get(at).copied()
            })
            .unwrap_or(self.line)
    }
}

/// Reads the file into parcels; an error names its line.
pub fn parse(text: &str) -> Result<Vec<FileParcel>, String> {
    let mut rows = Rows::new(text);
    let header = match rows.next() {
        None => return Ok(Vec::new()),
        Some(Err((line, e))) => return Err(format!("line {line}: {e}")),
        Some(Ok((_, header))) => header,
    };
    let names: Vec<&str> = header.iter().collect();
    if names.len() < REQUIRED || names.len() > HEADER.len() || names != HEADER[..names.len()] {
        return Err(format!(
            "line 1: the header must be {} (the last three optional), not {}",
            HEADER.join(","),
            names.join(",")
        ));
    }
    let mut parcels: Vec<FileParcel> = Vec::new();
    let mut index: HashMap<(String, String, String, String), usize> = HashMap::new();
    for row in rows {
        let (line, record) = row.map_err(|(line, e)| format!("line {line}: {e}"))?;
        if record.len() > names.len() {
            return Err(format!(
                "line {line}: {} fields, the header has {}",
                record.len(),
                names.len()
            ));
        }
        let field = |i: usize| record.get(i).unwrap_or_default().to_owned();
        for (i, name) in HEADER.iter().enumerate().take(REQUIRED) {
            if field(i).is_empty() {
                return Err(format!("line {line}: {name} is empty"));
            }
        }
        let quantity = match field(6).as_str() {
            "" => None,
            text => Some(text.parse::<u32>().ok().filter(|q| *q > 0).ok_or_else(|| {
                format!("line {line}: quantity {text:?} is not a positive number")
            })?),
        };
        if quantity.is_some() && field(5).is_empty() {
            return Err(format!("line {line}: a quantity needs its line_id"));
        }
        let key = (field(0), field(1), field(2), field(3));
        let at = *index.entry(key).or_insert_with(|| {
            parcels.push(FileParcel {
                line,
                channel: field(0),
                request: ParcelRequest {
                    order_id: field(1),
                    carrier: field(2),
                    tracking_number: field(3),
                    tracking_url: Some(field(4)).filter(|u| !u.is_empty()),
                    lines: Vec::new(),
                },
                rows: Vec::new(),
            });
            parcels.len() - 1
        });
        if !field(5).is_empty() {
            parcels[at].request.lines.push((field(5), quantity));
            parcels[at].rows.push(line);
        }
    }
    Ok(parcels)
}

/// The drop: every version is recorded through [`parcel::record`], the one entry point.
pub struct ShipmentsDrop {
    path: PathBuf,
    ctx: Context,
    /// Each channel, and what its marketplace takes in a parcel.
    channels: Arc<Vec<(ChannelConfig, ParcelTerms)>>,
}

impl ShipmentsDrop {
    pub fn new(path: PathBuf, ctx: Context, channels: Vec<(ChannelConfig, ParcelTerms)>) -> Self {
        Self {
            path,
            ctx,
            channels: Arc::new(channels),
        }
    }
}

impl Target for ShipmentsDrop {
    fn what(&self) -> &'static str {
        "shipments file"
    }

    async fn apply(&mut self, text: String) -> Result<usize, Rejected> {
        let parcels = parse(&text).map_err(Rejected::Content)?;
        let channels = self.channels.clone();
        let recorded = self
            .ctx
            .store
            .call(move |conn| {
                let now = store::now_text();
                let mut books = Vec::new();
                for (channel, terms) in channels.iter() {
                    books.push(CarrierBook::load(conn, channel, *terms)?);
                }
                let tx = conn.transaction()?;
                for parcel in &parcels {
                    let Some(book) = books.iter().find(|b| b.channel.name == parcel.channel) else {
                        return Ok(Err(format!(
                            "line {}: no channel {:?}",
                            parcel.line, parcel.channel
                        )));
                    };
                    if let Err(e) = parcel::record(&tx, book, &parcel.request, "csv", &now) {
                        return Ok(Err(format!("line {}: {e}", parcel.line_of(&e))));
                    }
                }
                tx.commit()?;
                Ok(Ok(parcels.len()))
            })
            .await
            .map_err(|e| Rejected::Retry(e.to_string()))?;
        recorded.map_err(Rejected::Content)
    }

    async fn settled(&mut self, outcome: &Outcome) {
        let Outcome::Rejected(why) = outcome else {
            return;
        };
        let mut digest = DefaultHasher::new();
        why.hash(&mut digest);
        let key = alert_keys::shipments_file_invalid(&format!("{:x}", digest.finish()));
        let text = format!(
            "shipments file {}: {why}; nothing in it was applied (the file is kept): fix it and save it again",
            self.path.display()
        );
        let alert = Alert::new(AlertKind::ShipmentsFileInvalid, key, text);
        let raised = self
            .ctx
            .store
            .call(move |conn| alerts::raise(conn, &alert, &store::now_text()))
            .await;
        match raised {
            Ok(()) => self.ctx.delivery.notify_one(),
            Err(e) => tracing::error!("cannot raise the alert: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_one_parcel_are_one_parcel_with_their_lines() {
        let text = "channel,order_id,carrier,tracking_number,tracking_url,line_id,quantity\n\
                    lm,O-1,UPS,1Z,,O-1-1,2\n\
                    \n\
                    lm,O-1,UPS,1Z,,O-1-2,\n\
                    fnac,F-1,Colissimo,6A\n";
        let parcels = parse(text).unwrap();
        assert_eq!(parcels.len(), 2);
        assert_eq!(parcels[0].line, 2);
        assert_eq!(
            parcels[0].request.lines,
            [("O-1-1".to_owned(), Some(2)), ("O-1-2".to_owned(), None)]
        );
        assert_eq!(parcels[1].line, 5);
        assert!(parcels[1].request.lines.is_empty());
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let header = "channel,order_id,carrier,tracking_number,tracking_url,line_id,quantity\n";
        for (row, says) in [
            ("lm,O-1,,1Z", "line 2: carrier is empty"),
            ("lm,O-1,UPS,1Z,,L,zero", "line 2: quantity \"zero\""),
            ("lm,O-1,UPS,1Z,,,2", "line 2: a quantity needs its line_id"),
            ("lm,O-1,UPS,1Z,,L,1,extra", "line 2: 8 fields"),
        ] {
            let error = parse(&format!("{header}{row}\n")).unwrap_err();
            assert!(error.starts_with(says), "{row}: {error}");
        }
        let error = parse("order_id,channel,carrier,tracking_number\n").unwrap_err();
        assert!(error.starts_with("line 1: the header must be"), "{error}");
    }
}
