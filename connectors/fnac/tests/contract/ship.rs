//! `orders_update confirm_to_send` (parcels, batched by 25 orders) and `carriers_query`.

use vigie_connector::{ConnectorError, Marketplace, Parcel, ParcelCarrier, ParcelLine};

use crate::support::{ORDER, bodies, first_body, fnac, request, response, serving};

fn parcel(order: &str, code: Option<&str>, lines: &[&str]) -> Parcel {
    Parcel {
        order_id: order.to_owned(),
        carrier: ParcelCarrier {
            name: "Colissimo".into(),
            code: code.map(str::to_owned),
        },
        tracking_number: "6A123".into(),
        tracking_url: None,
        lines: lines
            .iter()
            .map(|id| ParcelLine {
                line_id: (*id).to_owned(),
                quantity: 1,
            })
            .collect(),
        completes_order: true,
    }
}

fn shipped(order: &str) -> String {
    format!(
        "<order><status>OK</status><order_id>{order}</order_id><state>Shipped</state><order_detail><order_detail_id>1</order_detail_id><status>OK</status><state>Shipped</state></order_detail></order>"
    )
}

#[tokio::test]
async fn confirm_to_send_ships_each_line_with_the_tracking() {
    let server = serving(
        "orders_update",
        response("orders_update", "OK", &shipped(ORDER)),
    )
    .await;
    let answers = fnac(&server)
        .confirm_parcels(&[parcel(ORDER, Some("SOCOLISSIMO"), &["1", "2"])])
        .await
        .unwrap();
    assert_eq!(answers, [Ok(())]);
    // Checked with `xmllint --schema OrdersUpdateService.xsd` during development.
    assert_eq!(
        first_body(&server, "orders_update").await,
        request(
            "orders_update",
            &format!(
                "><order order_id=\"{ORDER}\" action=\"confirm_to_send\"><order_detail><order_detail_id>1</order_detail_id><action>Shipped</action><tracking_number>6A123</tracking_number><tracking_company>SOCOLISSIMO</tracking_company></order_detail><order_detail><order_detail_id>2</order_detail_id><action>Shipped</action><tracking_number>6A123</tracking_number><tracking_company>SOCOLISSIMO</tracking_company></order_detail></order>"
            )
        )
    );
}

#[tokio::test]
async fn at_most_25_orders_per_call_and_one_answer_per_parcel() {
    let ids: Vec<String> = (0..30).map(|i| format!("57F6450{i:06}")).collect();
    let orders: String = ids.iter().map(|id| shipped(id)).collect();
    let server = serving("orders_update", response("orders_update", "OK", &orders)).await;
    let parcels: Vec<Parcel> = ids
        .iter()
        .map(|id| parcel(id, Some("UPS"), &["1"]))
        .collect();
    let answers = fnac(&server).confirm_parcels(&parcels).await.unwrap();
    assert_eq!(answers.len(), 30);
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let sent = bodies(&server, "orders_update").await;
    let per_call: Vec<usize> = sent.iter().map(|b| b.matches("<order ").count()).collect();
    assert_eq!(per_call, [25, 5]);
}

#[tokio::test]
async fn a_wrong_state_is_already_done_and_another_refusal_is_permanent() {
    let refused = format!(
        "<order><status>ERROR</status><order_id>{ORDER}</order_id><state>Accepted</state><order_detail><order_detail_id>1</order_detail_id><status>ERROR</status><error severity=\"ERROR\" code=\"ERR_003\">Order status is not valid for action confirm_to_send</error></order_detail></order>"
    );
    let server = serving(
        "orders_update",
        response("orders_update", "ERROR", &refused),
    )
    .await;
    let answers = fnac(&server)
        .confirm_parcels(&[parcel(ORDER, Some("UPS"), &["1"])])
        .await
        .unwrap();
    assert!(
        matches!(answers[0], Err(ConnectorError::AlreadyDone(_))),
        "{answers:?}"
    );

    let unknown = format!(
        "<order><status>ERROR</status><order_id>{ORDER}</order_id><order_detail><order_detail_id>1</order_detail_id><status>ERROR</status><error severity=\"ERROR\" code=\"ERR_008\">Unknown tracking company</error></order_detail></order>"
    );
    let server = serving(
        "orders_update",
        response("orders_update", "ERROR", &unknown),
    )
    .await;
    let answers = fnac(&server)
        .confirm_parcels(&[parcel(ORDER, Some("NOPE"), &["1"])])
        .await
        .unwrap();
    assert!(
        matches!(&answers[0], Err(ConnectorError::Permanent { message, .. }) if message.contains("Unknown tracking company")),
        "{answers:?}"
    );
}

#[tokio::test]
async fn a_carrier_without_a_fnac_code_is_refused_without_a_call() {
    let server = serving("orders_update", response("orders_update", "OK", "")).await;
    let answers = fnac(&server)
        .confirm_parcels(&[parcel(ORDER, None, &["1"])])
        .await
        .unwrap();
    assert!(
        matches!(answers[0], Err(ConnectorError::Permanent { .. })),
        "{answers:?}"
    );
    assert!(bodies(&server, "orders_update").await.is_empty());
}

#[tokio::test]
async fn carriers_query_lists_codes_and_names() {
    let carriers = "<carrier code=\"UPS\" global=\"1\"><name><![CDATA[UPS]]></name></carrier><carrier global=\"1\" code=\"SOCOLISSIMO\"><name>Colissimo</name></carrier>";
    let server = serving("carriers_query", response("carriers_query", "OK", carriers)).await;
    let listed = fnac(&server).carriers().await.unwrap();
    let pairs: Vec<(&str, &str)> = listed
        .iter()
        .map(|c| (c.code.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(pairs, [("UPS", "UPS"), ("SOCOLISSIMO", "Colissimo")]);
    assert_eq!(
        first_body(&server, "carriers_query").await,
        request("carriers_query", "><query>all</query>")
    );
}
