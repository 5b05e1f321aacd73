//! `offers_update` (a batch), `batch_status` to follow it, `offers_query` to read back.

use vigie_connector::testing::{level, stock};
use vigie_connector::{Marketplace, PushStatus, PushTicket, SkuRejection, StockUpdate};
use wiremock::MockServer;

use crate::support::{
    TOKEN, answer_when, first_body, first_page, fnac, mount_auth, request, response, serving,
};

const BATCH: &str = "0b4ab1c4-5555-4000-8000-000000000001";

#[tokio::test]
async fn pushes_seller_sku_quantities_and_returns_the_batch_id() {
    let created = response(
        "offers_update",
        "OK",
        &format!("<batch_id>{BATCH}</batch_id>"),
    );
    let server = serving("offers_update", created).await;
    let ticket = fnac(&server)
        .push_stock(&[stock("SKU-1", 3), stock("A&B", 0), stock("BIG", 25_000)])
        .await
        .unwrap();
    assert_eq!(ticket, PushTicket(BATCH.into()));
    assert_eq!(
        first_body(&server, "offers_update").await,
        request(
            "offers_update",
            "><offer><offer_reference type=\"SellerSku\">SKU-1</offer_reference><quantity>3</quantity></offer><offer><offer_reference type=\"SellerSku\">A&amp;B</offer_reference><quantity>0</quantity></offer><offer><offer_reference type=\"SellerSku\">BIG</offer_reference><quantity>9999</quantity></offer>"
        )
    );
}

#[tokio::test]
async fn refuses_pushes_fnac_would_refuse() {
    let server = MockServer::start().await;
    let fnac = fnac(&server);
    assert!(fnac.push_stock(&[]).await.is_err());
    let too_many: Vec<StockUpdate> = (0..10_001).map(|i| stock(&format!("S{i}"), 1)).collect();
    assert!(fnac.push_stock(&too_many).await.is_err());
    assert_eq!(fnac.capabilities().max_stock_batch, 10_000);
    assert_eq!(fnac.capabilities().max_quantity, 9_999);
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// [`BATCH`]'s status when `batch_status` answers `status` around `inner`, and the body sent.
async fn batch_status(status: &str, inner: &str) -> (PushStatus, String) {
    let server = serving("batch_status", response("batch_status", status, inner)).await;
    let status = fnac(&server)
        .push_status(&PushTicket(BATCH.into()))
        .await
        .unwrap();
    (status, first_body(&server, "batch_status").await)
}

#[tokio::test]
async fn follows_a_batch_through_active_and_running() {
    for state in ["ACTIVE", "RUNNING"] {
        let (status, body) = batch_status(state, &format!("<batch_id>{BATCH}</batch_id>")).await;
        assert_eq!(status, PushStatus::Pending);
        assert_eq!(
            body,
            request("batch_status", &format!("><batch_id>{BATCH}</batch_id>"))
        );
    }
}

#[tokio::test]
async fn an_ok_batch_can_hold_failed_offers() {
    let reply = format!(
        r#"
  <batch_id>{BATCH}</batch_id>
  <offer status="OK"><offer_seller_id>SKU-1</offer_seller_id><offer_fnac_id>x</offer_fnac_id></offer>
  <offer status="ERROR"><product_fnac_id/><offer_seller_id><![CDATA[SKU-2]]></offer_seller_id>
     <error severity="ERROR" code="ERR_026">Product not found</error></offer>
  <offer status="OK"><offer_seller_id>SKU-3</offer_seller_id><error severity="WARNING" code="ERR_900">ignored field</error></offer>
"#
    );
    let (status, _) = batch_status("OK", &reply).await;
    assert_eq!(
        status,
        PushStatus::Completed {
            rejected: vec![SkuRejection {
                sku: "SKU-2".into(),
                message: "ERR_026: Product not found".into()
            }]
        }
    );
}

#[tokio::test]
async fn a_fatal_batch_failed() {
    let reply = format!(
        r#"<batch_id>{BATCH}</batch_id><error severity="FATAL" code="ERR_096">XML Validation failed</error>"#
    );
    let (status, _) = batch_status("FATAL", &reply).await;
    assert_eq!(
        status,
        PushStatus::Failed {
            message: "ERR_096: XML Validation failed".into()
        }
    );
}

#[tokio::test]
async fn reads_offer_quantities_page_by_page() {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    let offer = |sku: &str, quantity: u32| {
        format!(
            "<offer><product_name><![CDATA[P]]></product_name><product_fnac_id>1</product_fnac_id><offer_fnac_id>o</offer_fnac_id><offer_seller_id><![CDATA[{sku}]]></offer_seller_id><price>10.00</price><fee_excluding_taxes>1</fee_excluding_taxes><fee_including_all_taxes>1.2</fee_including_all_taxes><product_state>11</product_state><quantity>{quantity}</quantity><description/><internal_comment/></offer>"
        )
    };
    for (page, sku, quantity) in [(1, "SKU-1", 4), (2, "SKU-2", 0)] {
        let reply = response(
            "offers_query",
            "OK",
            &format!(
                "<page>{page}</page><total_paging>2</total_paging><nb_total_per_page>1</nb_total_per_page><nb_total_result>2</nb_total_result>{}",
                offer(sku, quantity)
            ),
        );
        let paging = format!("<paging>{page}</paging>");
        answer_when(&server, "offers_query", &paging, reply).await;
    }
    let levels = fnac(&server).stock_levels().await.unwrap();
    assert_eq!(levels, [level("SKU-1", 4), level("SKU-2", 0)]);
    assert_eq!(
        first_body(&server, "offers_query").await,
        first_page("offers_query", "")
    );
}
