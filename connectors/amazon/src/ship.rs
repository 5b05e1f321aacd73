//! Parcels through `confirmShipment` (Orders v0, not deprecated): one call per package, with
//! the carrier by Amazon's `CarrierCode` or as `Other` + its name, the tracking number, a
//! package reference and the items inside.

use reqwest::Method;
use serde::Serialize;
use vigie_connector::{Carrier, ConnectorError, Parcel, Timestamp};

use crate::client::{Api, Call};
use crate::limits::Throttles;
use crate::orders;

/// The code Amazon takes for a carrier it does not list, with `carrierName`.
pub const OTHER_CARRIER: &str = "Other";

/// Amazon's `CarrierCode` values for France's carriers (amzn-base.xsd, Seller Central G641).
/// Amazon matches them exactly, case included. Amazon publishes no API for the list.
pub(crate) const FRENCH_CARRIERS: [&str; 8] = [
    "Chronopost",
    "La Poste",
    "DPD",
    "GLS",
    "UPS",
    "DHL",
    "TNT",
    "FedEx",
];

/// `ConfirmShipmentRequest`.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Confirmation<'a> {
    pub marketplace_id: &'a str,
    pub package_detail: PackageDetail<'a>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PackageDetail<'a> {
    /// A string of digits, unique within the order (Amazon refuses a JSON number).
    pub package_reference_id: String,
    pub carrier_code: &'a str,
    /// Only for `Other`: a listed carrier is named by its code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<&'a str>,
    pub tracking_number: &'a str,
    pub ship_date: String,
    pub order_items: Vec<PackageItem<'a>>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PackageItem<'a> {
    pub order_item_id: &'a str,
    pub quantity: u32,
}

/// The request confirming `parcel`, shipped at `shipped_at`.
pub fn confirmation<'a>(
    marketplace_id: &'a str,
    parcel: &'a Parcel,
    shipped_at: Timestamp,
) -> Confirmation<'a> {
    let (carrier_code, carrier_name) = match parcel.carrier.code.as_deref() {
        Some(code) => (code, None),
        None => (OTHER_CARRIER, Some(parcel.carrier.name.as_str())),
    };
    Confirmation {
        marketplace_id,
        package_detail: PackageDetail {
            package_reference_id: package_reference(&parcel.tracking_number),
            carrier_code,
            carrier_name,
            tracking_number: &parcel.tracking_number,
            ship_date: shipped_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            order_items: parcel
                .lines
                .iter()
                .map(|l| PackageItem {
                    order_item_id: &l.line_id,
                    quantity: l.quantity,
                })
                .collect(),
        },
    }
}

/// The package's reference, from its tracking number: the same parcel sent again is the same
/// package to Amazon, which then answers it as already fulfilled.
fn package_reference(tracking_number: &str) -> String {
    let hash = tracking_number
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    // Positive, and short enough for any integer Amazon parses it into.
    (1 + hash % 999_999_999).to_string()
}

pub async fn confirm(
    api: &Api,
    throttles: &Throttles,
    parcel: &Parcel,
) -> Result<(), ConnectorError> {
    let url = api.url(&[
        "orders",
        "v0",
        "orders",
        &parcel.order_id,
        "shipmentConfirmation",
    ]);
    let body = confirmation(&api.marketplace_id, parcel, Timestamp::now());
    // The same package again is refused as fulfilled, never applied twice: safe to repeat.
    let sent = api
        .send_json(
            Call::safe("confirmShipment", &throttles.confirm_shipment),
            Method::POST,
            &url,
            &[],
            &body,
        )
        .await;
    match sent {
        Ok(_) => Ok(()),
        // Sent before (an answer lost to a crash or a cut): Amazon holds the package under
        // its reference, which the order's packages show even while other items wait.
        Err(ConnectorError::Permanent { message, .. }) if already_fulfilled(&message) => {
            let reference = package_reference(&parcel.tracking_number);
            let held =
                orders::package_references(api, &throttles.get_order, &parcel.order_id).await?;
            if held.contains(&reference) {
                Ok(())
            } else {
                Err(ConnectorError::AlreadyDone(message))
            }
        }
        Err(e) => Err(e),
    }
}

/// Amazon's words for a package or an order it has already taken.
fn already_fulfilled(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("already fulfilled") || message.contains("packagetoupdatenotfound")
}

/// Amazon's carriers for France, by code; any other goes as `Other` with its name.
pub fn carriers() -> Vec<Carrier> {
    FRENCH_CARRIERS
        .iter()
        .map(|code| Carrier {
            code: (*code).to_owned(),
            name: (*code).to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_connector::{ParcelCarrier, ParcelLine};

    fn parcel(code: Option<&str>) -> Parcel {
        Parcel {
            order_id: "407-1-1".into(),
            carrier: ParcelCarrier {
                name: "Colissimo".into(),
                code: code.map(str::to_owned),
            },
            tracking_number: "6A123".into(),
            tracking_url: None,
            lines: vec![ParcelLine {
                line_id: "111".into(),
                quantity: 2,
            }],
            completes_order: true,
        }
    }

    #[test]
    fn an_unlisted_carrier_goes_as_other_with_its_name() {
        let p = parcel(None);
        let body = confirmation("FR", &p, Timestamp::UNIX_EPOCH);
        assert_eq!(body.package_detail.carrier_code, "Other");
        assert_eq!(body.package_detail.carrier_name, Some("Colissimo"));
        let p = parcel(Some("La Poste"));
        let listed = confirmation("FR", &p, Timestamp::UNIX_EPOCH);
        assert_eq!(listed.package_detail.carrier_code, "La Poste");
        assert_eq!(listed.package_detail.carrier_name, None);
    }

    #[test]
    fn the_package_reference_is_digits_and_stable() {
        let a = package_reference("6A123");
        assert!(a.bytes().all(|b| b.is_ascii_digit()) && a != "0", "{a}");
        assert_eq!(a, package_reference("6A123"));
        assert_ne!(a, package_reference("6A124"));
    }
}
