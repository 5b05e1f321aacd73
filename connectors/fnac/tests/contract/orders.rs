//! `orders_query`: paging, lenient reading, update windows, reads by id, errors and retries.

use vigie_connector::{ConnectorError, Marketplace, OrderStatus, Timestamp};
use wiremock::{MockServer, ResponseTemplate};

use crate::support::{
    NS, ORDER, SHOP, TOKEN, answer, answer_once, answer_when, bodies, empty_orders, first_body,
    first_page, fnac, mount_auth, response, serving, xml,
};

/// A realistic order: CDATA strings, empty dates, shuffled elements, an unknown element,
/// irregular whitespace, an alpha-3 country.
pub(crate) fn lenient_order(id: &str) -> String {
    format!(
        r#"
  <order>
    <client_firstname><![CDATA[Ana]]></client_firstname>
    <shop_id>{SHOP}</shop_id>
    <order_detail>
      <product_name><![CDATA[Casque   audio]]></product_name>
      <order_detail_id>1</order_detail_id>
      <state>ToAccept</state>
      <product_fnac_id>123</product_fnac_id>
      <offer_fnac_id>0b4ab1c4-0000-4000-8000-000000000001</offer_fnac_id>
      <offer_seller_id><![CDATA[SKU-1]]></offer_seller_id>
      <price>19.90</price><fees>2.00</fees><product_state>11</product_state>
      <quantity>
        2
      </quantity>
      <received_at></received_at>
      <tracking_number><![CDATA[]]></tracking_number>
      <a_field_fnac_added_later>whatever</a_field_fnac_added_later>
    </order_detail>
    <order_id><![CDATA[{id}]]></order_id>
    <client_lastname><![CDATA[Martin]]></client_lastname>
    <state>Created</state>
    <created_at>2026-11-02T10:00:00+01:00</created_at>
    <client_id>0b4ab1c4-0000-4000-8000-00000000000c</client_id>
    <shipping_address>
      <firstname>Ana</firstname><lastname>Martin</lastname>
      <address1><![CDATA[1 rue de Rivoli]]></address1><address2></address2>
      <zipcode>75001</zipcode><city>Paris</city><country>FRA</country>
    </shipping_address>
  </order>"#
    )
}

pub(crate) fn orders_page(page: u32, total_paging: u32, orders: &str) -> ResponseTemplate {
    xml(format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<orders_query_response status="OK" xmlns="{NS}">
  <page>{page}</page>
  <total_paging>{total_paging}</total_paging>
  <nb_total_per_page>100</nb_total_per_page>
  <nb_total_result>3</nb_total_result>{orders}
</orders_query_response>"#
    ))
}

#[tokio::test]
async fn pages_until_total_paging_and_reads_leniently() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    let first = orders_page(1, 2, &lenient_order("AAAAAAAAAAAA1"));
    answer_when(&server, "orders_query", "<paging>1</paging>", first).await;
    let broken = format!(
        "<order><order_id>BBBBBBBBBBBB2</order_id><state>Created</state><created_at>2026-11-02T10:00:00Z</created_at><order_detail><order_detail_id>1</order_detail_id><state>ToAccept</state><offer_seller_id>X</offer_seller_id><quantity>lots</quantity><price>1</price></order_detail></order>{}",
        lenient_order("CCCCCCCCCCCC3")
    );
    let second = orders_page(2, 2, &broken);
    answer_when(&server, "orders_query", "<paging>2</paging>", second).await;

    let batch = fnac(&server).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(bodies(&server, "orders_query").await.len(), 2);
    let ids: Vec<_> = batch.orders.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["AAAAAAAAAAAA1", "CCCCCCCCCCCC3"]);
    assert_eq!(batch.malformed.len(), 1);
    let malformed = &batch.malformed[0];
    assert_eq!(malformed.order_id.as_deref(), Some("BBBBBBBBBBBB2"));
    assert!(malformed.error.contains("quantity"), "{}", malformed.error);
    assert!(malformed.payload.contains("<quantity>lots</quantity>"));

    let order = &batch.orders[0];
    assert_eq!(order.state.raw, "Created");
    assert_eq!(order.state.status, OrderStatus::AwaitingAcceptance);
    assert_eq!(order.customer.first_name.as_deref(), Some("Ana"));
    let line = &order.lines[0];
    assert_eq!(
        (line.id.as_str(), line.sku.as_str(), line.quantity),
        ("1", "SKU-1", 2)
    );
    assert_eq!(line.title.as_deref(), Some("Casque   audio"));
    assert_eq!(line.state.raw, "ToAccept");
    assert_eq!(line.price.amount.to_string(), "39.80");
    assert_eq!(line.price.currency, "EUR");
    let address = order.shipping_address.as_ref().unwrap();
    assert_eq!(address.country.as_ref().unwrap().alpha2(), "FR");
    assert_eq!(address.street, ["1 rue de Rivoli"]);
    assert_eq!(
        order.shipment, None,
        "an empty tracking number is no shipment"
    );
}

#[tokio::test]
async fn queries_changes_in_the_updated_at_window_it_is_given() {
    let server = serving("orders_query", empty_orders()).await;
    let since: Timestamp = "2026-11-02T10:00:00Z".parse().unwrap();
    let until: Timestamp = "2026-11-02T10:05:00Z".parse().unwrap();
    fnac(&server).orders_updated(since, until).await.unwrap();
    assert_eq!(
        first_body(&server, "orders_query").await,
        first_page(
            "orders_query",
            "<date type=\"UpdatedAt\"><min>2026-11-02T10:00:00+00:00</min><max>2026-11-02T10:05:00+00:00</max></date>"
        )
    );
}

#[tokio::test]
async fn asks_for_every_order_holding_stock_by_state() {
    let server = serving("orders_query", empty_orders()).await;
    fnac(&server).orders_holding_stock().await.unwrap();
    // `order_states` (OrdersQueryService.xsd): any number of `order_state` values.
    assert_eq!(
        first_body(&server, "orders_query").await,
        first_page(
            "orders_query",
            "<states><state>Accepted</state><state>ToShip</state></states>"
        )
    );
}

#[tokio::test]
async fn re_reads_orders_by_id_and_carries_shipping_data() {
    let shipped = lenient_order(ORDER)
        .replace("<state>Created</state>", "<state>Shipped</state>")
        .replace("<state>ToAccept</state>", "<state>Shipped</state>")
        .replace(
            "<tracking_number><![CDATA[]]></tracking_number>",
            "<tracking_number><![CDATA[6A12345678901]]></tracking_number><tracking_company>LAPOSTE</tracking_company>",
        );
    let server = serving("orders_query", orders_page(1, 1, &shipped)).await;
    let batch = fnac(&server)
        .orders_by_id(&[ORDER.to_owned(), "not-an-id".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        first_body(&server, "orders_query").await,
        first_page(
            "orders_query",
            &format!("<orders_fnac_id><order_fnac_id>{ORDER}</order_fnac_id></orders_fnac_id>")
        )
    );
    let order = &batch.orders[0];
    assert_eq!(order.state.status, OrderStatus::Shipped);
    let shipment = order.shipment.as_ref().unwrap();
    assert_eq!(shipment.tracking_number.as_deref(), Some("6A12345678901"));
    assert_eq!(shipment.carrier_code.as_deref(), Some("LAPOSTE"));
}

#[tokio::test]
async fn a_root_error_fails_the_query() {
    let fatal = response(
        "orders_query",
        "FATAL",
        r#"<error severity="FATAL" code="ERR_096">XML Validation failed</error>"#,
    );
    let server = serving("orders_query", fatal).await;
    let error = fnac(&server)
        .orders_awaiting_acceptance()
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ConnectorError::Permanent {
            code: Some("ERR_096".into()),
            message: "XML Validation failed".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn reads_are_retried_on_server_errors() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    answer_once(&server, "orders_query", ResponseTemplate::new(503)).await;
    answer(&server, "orders_query", empty_orders()).await;
    fnac(&server).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(bodies(&server, "orders_query").await.len(), 2);
}
