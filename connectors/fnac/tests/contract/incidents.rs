//! `incidents_query`: every order read is given its open claim; a poll also re-reads the
//! orders whose claims changed in its window.

use vigie_connector::{Marketplace, Timestamp};
use wiremock::MockServer;

use crate::orders::{lenient_order, orders_page};
use crate::support::{
    NS, ORDER, TOKEN, answer, bodies, first_page, fnac, mount_auth, service, xml,
};

fn incidents(status: &str, order_id: &str) -> wiremock::ResponseTemplate {
    xml(format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<incidents_query_response status="OK" xmlns="{NS}">
  <page>1</page><total_paging>1</total_paging><nb_total_per_page>100</nb_total_per_page><nb_total_result>1</nb_total_result>
  <incident id="7d0bd1ac-7b5e-4c1b-b4a4-3a2b1c0d9e8f">
    <header><status>{status}</status><waiting_for_seller_answer>TRUE</waiting_for_seller_answer>
      <message><![CDATA[Colis jamais reçu]]></message><opened_by>client</opened_by>
      <created_at>2026-11-02T10:00:00+01:00</created_at><updated_at>2026-11-02T10:00:00+01:00</updated_at>
      <order_id>{order_id}</order_id></header>
    <order_details_incident><order_detail_incident><order_detail_id>1</order_detail_id>
      <type>3</type><status>{status}</status><created_at>2026-11-02T10:00:00+01:00</created_at>
      <updated_at>2026-11-02T10:00:00+01:00</updated_at></order_detail_incident></order_details_incident>
  </incident>
</incidents_query_response>"#
    ))
}

/// A server whose claims answer is `claims`, ahead of the default "none".
async fn server_with(claims: wiremock::ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    service("incidents_query")
        .respond_with(claims)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_auth(&server, TOKEN).await;
    server
}

#[tokio::test]
async fn an_order_read_carries_its_open_claim() {
    let server = server_with(incidents("OPENED", ORDER)).await;
    answer(
        &server,
        "orders_query",
        orders_page(1, 1, &lenient_order(ORDER)),
    )
    .await;
    let batch = fnac(&server)
        .orders_by_id(&[ORDER.to_owned()])
        .await
        .unwrap();
    let reason = batch.orders[0]
        .incident
        .as_ref()
        .and_then(|i| i.reason.clone());
    assert_eq!(reason.as_deref(), Some("defective item"));
    // `IncidentsQueryService.xsd`: paging, then a choice of filters; `orders` holds at most
    // 50 `order` ids (checked with xmllint --schema).
    assert_eq!(
        bodies(&server, "incidents_query").await,
        [first_page(
            "incidents_query",
            &format!("<status>OPENED</status><orders><order>{ORDER}</order></orders>")
        )]
    );
}

#[tokio::test]
async fn a_closed_claim_is_no_claim_and_a_poll_rereads_the_orders_whose_claims_changed() {
    let other = "NOPQRSTUVWXYZ";
    let server = server_with(incidents("CLOSED", other)).await;
    answer(
        &server,
        "orders_query",
        orders_page(1, 1, &lenient_order(other)),
    )
    .await;
    let since: Timestamp = "2026-11-02T09:00:00Z".parse().unwrap();
    let until: Timestamp = "2026-11-02T10:00:00Z".parse().unwrap();
    let batch = fnac(&server).orders_updated(since, until).await.unwrap();
    assert!(batch.orders.iter().all(|o| o.incident.is_none()));
    let window = first_page(
        "incidents_query",
        "<date type=\"UpdatedAt\"><min>2026-11-02T09:00:00+00:00</min><max>2026-11-02T10:00:00+00:00</max></date>",
    );
    assert!(bodies(&server, "incidents_query").await.contains(&window));
}

#[tokio::test]
async fn polls_read_the_claims_that_changed_once_a_minute_reaching_back_to_the_last_read() {
    let server = server_with(crate::support::no_incidents()).await;
    answer(&server, "orders_query", crate::support::empty_orders()).await;
    let fnac = fnac(&server);
    let at = |time: &str| -> Timestamp { format!("2026-11-02T{time}Z").parse().unwrap() };
    let window = |from: &str, to: &str| {
        first_page(
            "incidents_query",
            &format!(
                "<date type=\"UpdatedAt\"><min>2026-11-02T{from}+00:00</min><max>2026-11-02T{to}+00:00</max></date>"
            ),
        )
    };

    fnac.orders_updated(at("10:00:00"), at("10:00:05"))
        .await
        .unwrap();
    // The next poll, 5 s on, reads the orders, not the claims.
    fnac.orders_updated(at("10:00:05"), at("10:00:10"))
        .await
        .unwrap();
    assert_eq!(
        bodies(&server, "incidents_query").await,
        [window("10:00:00", "10:00:05")]
    );

    // A minute on, the claims are read from where the last read ended.
    fnac.orders_updated(at("10:00:10"), at("10:01:05"))
        .await
        .unwrap();
    assert_eq!(
        bodies(&server, "incidents_query").await,
        [
            window("10:00:00", "10:00:05"),
            window("10:00:05", "10:01:05")
        ]
    );
    assert_eq!(bodies(&server, "orders_query").await.len(), 3);
}
