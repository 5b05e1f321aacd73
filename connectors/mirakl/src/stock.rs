//! Stock-only imports (STO01 → STO02 → STO03) and the offer list (OF21) read for
//! reconciliation. OF24 is never used for stock: it resets every field it is not sent.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use vigie_connector::{
    BodyLimit, ConnectorError, PushStatus, PushTicket, SkuRejection, StockLevel, StockUpdate,
    Throttle,
};

use crate::client::{self, Api, Call};
use crate::lenient::Id;
use crate::pages::{Page, read_pages};

/// The STO01 file: one global quantity per offer (no warehouse), `update` mode.
pub fn stock_csv(updates: &[StockUpdate]) -> String {
    let mut csv = String::from("\"offer-sku\";\"quantity\";\"warehouse-code\";\"update-delete\"\n");
    for update in updates {
        csv.push_str(&format!(
            "{};\"{}\";\"\";\"update\"\n",
            quote(&update.sku),
            update.quantity
        ));
    }
    csv
}

fn quote(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

/// Splits one `;`-separated CSV record, honouring quotes and doubled quotes.
pub fn split_record(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (';', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[derive(Debug, Deserialize)]
struct ImportCreated {
    import_id: Id,
}

pub(crate) async fn push(
    api: &Api,
    throttle: &Throttle,
    updates: &[StockUpdate],
) -> Result<PushTicket, ConnectorError> {
    if updates.is_empty() {
        return Err(ConnectorError::permanent("STO01: no stock update to send"));
    }
    let csv = stock_csv(updates);
    let url = api.url(&["offers", "stock", "imports"]);
    // Absolute quantities: sending the same file twice sets the same stock.
    let reply = api
        .send(
            Call::safe("STO01").paying(throttle),
            Method::POST,
            &url,
            &[],
            |r| {
                let part = Part::bytes(csv.clone().into_bytes())
                    .file_name("stock.csv")
                    .mime_str("text/csv")
                    .expect("a valid mime type");
                r.multipart(Form::new().part("file", part))
            },
        )
        .await?;
    let created: ImportCreated = client::json("STO01", &reply)?;
    Ok(PushTicket(created.import_id.0))
}

#[derive(Debug, Deserialize)]
struct ImportStatus {
    status: String,
    #[serde(default)]
    has_error_report: bool,
    lines_in_error: Option<u64>,
}

pub(crate) async fn status(
    api: &Api,
    status_throttle: &Throttle,
    report_throttle: &Throttle,
    ticket: &PushTicket,
) -> Result<PushStatus, ConnectorError> {
    let url = api.url(&["offers", "stock", "imports", &ticket.0, "status"]);
    let reply = api
        .get(Call::safe("STO02").paying(status_throttle), &url, &[])
        .await?;
    let status: ImportStatus = client::json("STO02", &reply)?;
    match status.status.as_str() {
        "COMPLETE" if status.has_error_report => {
            let rejected = error_report(api, report_throttle, ticket).await?;
            Ok(PushStatus::Completed { rejected })
        }
        "COMPLETE" => Ok(PushStatus::Completed { rejected: vec![] }),
        "FAILED" => {
            let mut message = format!("stock import {} failed", ticket.0);
            if status.has_error_report {
                let rejected = error_report(api, report_throttle, ticket).await?;
                for r in rejected.iter().take(5) {
                    message.push_str(&format!("; {}: {}", r.sku, r.message));
                }
            } else if let Some(n) = status.lines_in_error {
                message.push_str(&format!(" ({n} lines in error)"));
            }
            Ok(PushStatus::Failed { message })
        }
        // WAITING, RUNNING, and whatever Mirakl adds later: ask again.
        other => {
            if other != "WAITING" && other != "RUNNING" {
                tracing::warn!(ticket = %ticket.0, status = other, "unknown STO02 status, treated as pending");
            }
            Ok(PushStatus::Pending)
        }
    }
}

async fn error_report(
    api: &Api,
    throttle: &Throttle,
    ticket: &PushTicket,
) -> Result<Vec<SkuRejection>, ConnectorError> {
    let url = api.url(&["offers", "stock", "imports", &ticket.0, "error_report"]);
    let reply = api
        .get(
            Call::safe("STO03")
                .paying(throttle)
                .reading(BodyLimit::page("stock error report")),
            &url,
            &[],
        )
        .await?;
    Ok(parse_error_report(&reply.text()))
}

/// STO03's CSV: line number, error reason, then the submitted columns. The SKU comes from the
/// `offer-sku` column; without one, the line number is all we can name.
pub fn parse_error_report(csv: &str) -> Vec<SkuRejection> {
    let mut lines = csv
        .trim_start_matches('\u{feff}')
        .lines()
        .filter(|l| !l.trim().is_empty());
    let Some(first) = lines.next() else {
        return vec![];
    };
    let first = split_record(first);
    let is_header = first
        .first()
        .is_none_or(|f| f.trim().parse::<u64>().is_err());
    // Without a header, the submitted columns follow the two report columns: offer-sku first.
    let sku_column = is_header
        .then(|| first.iter().position(|h| h.trim() == "offer-sku"))
        .flatten()
        .unwrap_or(2);
    let records: Vec<Vec<String>> = if is_header {
        lines.map(split_record).collect()
    } else {
        std::iter::once(first)
            .chain(lines.map(split_record))
            .collect()
    };
    records
        .into_iter()
        .map(|record| {
            let line = record
                .first()
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            let message = record
                .get(1)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            let sku = record
                .get(sku_column)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| format!("line {line}"));
            SkuRejection { sku, message }
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct OfferPage {
    offers: Vec<WireOffer>,
    total_count: Option<u64>,
}

impl Page for OfferPage {
    type Item = WireOffer;
    fn into_parts(self) -> (Vec<Self::Item>, Option<u64>) {
        (self.offers, self.total_count)
    }
}

#[derive(Debug, Deserialize)]
struct WireOffer {
    shop_sku: String,
    quantity: Option<i64>,
}

/// A guard against a server that never says it is done (a million offers).
const MAX_OFFER_PAGES: u64 = 10_000;

/// Every offer's current quantity.
pub(crate) async fn levels(api: &Api) -> Result<Vec<StockLevel>, ConnectorError> {
    let url = api.url(&["offers"]);
    let mut levels = Vec::new();
    let first = Call::safe("OF21").reading(BodyLimit::page("offer page"));
    read_pages::<OfferPage>(api, first, &url, &[], None, MAX_OFFER_PAGES, |offers| {
        levels.extend(offers.into_iter().map(|o| StockLevel {
            sku: o.shop_sku,
            quantity: o.quantity.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
        }));
    })
    .await?;
    Ok(levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stock_file_quotes_skus() {
        let csv = stock_csv(&[
            StockUpdate {
                sku: "S-1".into(),
                quantity: 5,
            },
            StockUpdate {
                sku: "odd;\"sku\"".into(),
                quantity: 0,
            },
        ]);
        assert_eq!(
            csv,
            "\"offer-sku\";\"quantity\";\"warehouse-code\";\"update-delete\"\n\
             \"S-1\";\"5\";\"\";\"update\"\n\
             \"odd;\"\"sku\"\"\";\"0\";\"\";\"update\"\n"
        );
        let back = split_record(csv.lines().nth(2).unwrap());
        assert_eq!(back, vec!["odd;\"sku\"", "0", "", "update"]);
    }

    #[test]
    fn error_reports_name_skus_from_the_offer_sku_column() {
        let report = "\"line\";\"error\";\"offer-sku\";\"quantity\";\"warehouse-code\";\"update-delete\"\n\
                      \"2\";\"The offer does not exist\";\"GHOST\";\"3\";\"\";\"update\"\n";
        assert_eq!(
            parse_error_report(report),
            vec![SkuRejection {
                sku: "GHOST".into(),
                message: "The offer does not exist".into()
            }]
        );
    }

    #[test]
    fn error_reports_without_header_name_the_line() {
        let report = "3;Quantity is invalid\n4;Unknown offer;\"S-9\";\"1\"\n";
        assert_eq!(
            parse_error_report(report),
            vec![
                SkuRejection {
                    sku: "line 3".into(),
                    message: "Quantity is invalid".into()
                },
                SkuRejection {
                    sku: "S-9".into(),
                    message: "Unknown offer".into()
                }
            ]
        );
        assert!(parse_error_report("").is_empty());
    }
}
