//! OR23 (tracking), OR24 (ship) and SH21 (carriers).

use serde_json::{Value, json};
use vigie_connector::{ConnectorError, Marketplace, Parcel, ParcelCarrier, ParcelLine};
use wiremock::{MockServer, ResponseTemplate};

use crate::support::{answer, assert_shop_call, header, json_body, json_reply, mirakl, requests};

fn parcel(code: Option<&str>, completes_order: bool) -> Parcel {
    Parcel {
        order_id: "O-1".into(),
        carrier: ParcelCarrier {
            name: "Coursier Dupont".into(),
            code: code.map(str::to_owned),
        },
        tracking_number: "CD-9".into(),
        tracking_url: Some("https://dupont.example/CD-9".into()),
        lines: vec![ParcelLine {
            line_id: "O-1-1".into(),
            quantity: 1,
        }],
        completes_order,
    }
}

/// OR23_Request (MMP OpenAPI): an object whose properties are all optional strings among
/// `carrier_code`, `carrier_name`, `carrier_standard_code`, `carrier_url`, `tracking_number`.
fn assert_or23_schema(body: &Value) {
    const PROPERTIES: [&str; 5] = [
        "carrier_code",
        "carrier_name",
        "carrier_standard_code",
        "carrier_url",
        "tracking_number",
    ];
    for (key, value) in body.as_object().expect("an object") {
        assert!(
            PROPERTIES.contains(&key.as_str()),
            "{key} is not in OR23_Request"
        );
        assert!(value.is_string(), "{key} must be a string");
    }
}

async fn shipping_server() -> MockServer {
    let server = MockServer::start().await;
    answer(&server, "PUT", ResponseTemplate::new(204)).await;
    server
}

#[tokio::test(start_paused = true)]
async fn a_listed_carrier_goes_by_code_and_the_last_parcel_validates_the_shipment() {
    let server = shipping_server().await;
    let answers = mirakl(&server)
        .confirm_parcels(&[parcel(Some("UPS"), true)])
        .await
        .unwrap();
    assert_eq!(answers, [Ok(())]);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].url.path(), "/api/orders/O-1/tracking");
    assert_shop_call(&sent[0]);
    let body = json_body(&sent[0]);
    assert_or23_schema(&body);
    // Mirakl computes a listed carrier's link itself.
    assert_eq!(
        body,
        json!({"carrier_code": "UPS", "tracking_number": "CD-9"})
    );
    assert_eq!(sent[1].method.as_str(), "PUT");
    assert_eq!(sent[1].url.path(), "/api/orders/O-1/ship");
    assert_shop_call(&sent[1]);
    assert!(sent[1].body.is_empty());
    assert_eq!(header(&sent[1], "content-length"), Some("0"));
}

#[tokio::test(start_paused = true)]
async fn an_unlisted_carrier_goes_by_name_and_link_and_an_early_parcel_does_not_ship_the_order() {
    let server = shipping_server().await;
    mirakl(&server)
        .confirm_parcels(&[parcel(None, false)])
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1, "no OR24 while units are left");
    let body = json_body(&sent[0]);
    assert_or23_schema(&body);
    assert_eq!(
        body,
        json!({
            "carrier_name": "Coursier Dupont",
            "carrier_url": "https://dupont.example/CD-9",
            "tracking_number": "CD-9"
        })
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_state_means_reread_and_another_refusal_is_permanent() {
    let server = MockServer::start().await;
    let invalid = json!({"status": 400, "code": "ORDER_INVALID_STATE", "message": "Order is not in the expected state"});
    answer(&server, "PUT", json_reply(400, invalid)).await;
    let answers = mirakl(&server)
        .confirm_parcels(&[parcel(Some("UPS"), true)])
        .await
        .unwrap();
    assert!(
        matches!(answers[0], Err(ConnectorError::AlreadyDone(_))),
        "{answers:?}"
    );

    let server = MockServer::start().await;
    let unknown = json!({"status": 400, "message": "The carrier NOPE does not exist"});
    answer(&server, "PUT", json_reply(400, unknown)).await;
    let answers = mirakl(&server)
        .confirm_parcels(&[parcel(Some("NOPE"), true)])
        .await
        .unwrap();
    assert!(
        matches!(&answers[0], Err(ConnectorError::Permanent { message, .. }) if message.contains("NOPE does not exist")),
        "{answers:?}"
    );
    assert_eq!(
        requests(&server).await.len(),
        1,
        "no OR24 after a refused OR23"
    );
}

#[tokio::test(start_paused = true)]
async fn sh21_lists_codes_with_labels() {
    let server = MockServer::start().await;
    let listed = json!({"carriers": [
        {"code": "FED", "label": "Fed Ex", "standard_code": "FED", "tracking_url": "http://x/{trackingId}"},
        {"code": "UPS", "label": "UPS", "standard_code": "UPS", "tracking_url": "http://y/{trackingId}", "unknown": 1}
    ]});
    answer(
        &server,
        "GET /api/shipping/carriers",
        json_reply(200, listed),
    )
    .await;
    let carriers = mirakl(&server).carriers().await.unwrap();
    let pairs: Vec<(&str, &str)> = carriers
        .iter()
        .map(|c| (c.code.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(pairs, [("FED", "Fed Ex"), ("UPS", "UPS")]);
    assert_shop_call(&requests(&server).await[0]);
}
