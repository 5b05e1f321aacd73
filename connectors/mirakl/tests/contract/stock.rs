//! STO01 (CSV upload), STO02 (import status), STO03 (error report), OF21 (offer quantities).

use std::time::Duration;

use serde_json::{Value, json};
use vigie_connector::testing::{assert_waited, level, stock};
use vigie_connector::{Marketplace, PushStatus, PushTicket, SkuRejection};
use wiremock::{MockServer, ResponseTemplate};

use crate::support::{
    SHOP, answer, answer_once, assert_mirakl_headers, assert_shop_call, first_page, json_reply,
    mirakl, only_part, query, requests, serving,
};

const STATUS: &str = "GET /api/offers/stock/imports/imp-42/status";

fn status_reply(status: &str, has_error_report: bool) -> ResponseTemplate {
    json_reply(
        200,
        json!({
            "import_id": "imp-42", "shop_id": SHOP, "status": status,
            "date_created": "2024-05-02T08:00:00Z", "has_error_report": has_error_report,
            "lines_in_success": 1, "lines_in_error": if has_error_report { 1 } else { 0 }
        }),
    )
}

fn ticket() -> PushTicket {
    PushTicket("imp-42".into())
}

#[tokio::test(start_paused = true)]
async fn sto01_uploads_a_stock_only_csv_as_the_file_part() {
    let created = ResponseTemplate::new(201)
        .insert_header("Location", "/api/offers/stock/imports/imp-42/status")
        .set_body_json(json!({"import_id": "imp-42"}));
    let server = serving("POST /api/offers/stock/imports", created).await;
    let pushed = mirakl(&server)
        .push_stock(&[stock("DRILL-18V", 7), stock("HOSE-25M", 0)])
        .await
        .unwrap();
    assert_eq!(pushed, ticket());
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method.as_str(), "POST");
    assert_shop_call(&sent[0]);
    // STO01 request: multipart with the required `file` part, and nothing else
    let part = only_part(
        &sent[0],
        "form-data; name=\"file\"; filename=\"stock.csv\"",
        "text/csv",
    );
    assert_eq!(
        String::from_utf8(part.content).unwrap(),
        "\"offer-sku\";\"quantity\";\"warehouse-code\";\"update-delete\"\n\
         \"DRILL-18V\";\"7\";\"\";\"update\"\n\
         \"HOSE-25M\";\"0\";\"\";\"update\"\n"
    );
}

#[tokio::test(start_paused = true)]
async fn sto01_accepts_a_numeric_import_id_and_paces_imports() {
    let server = serving("POST", json_reply(201, json!({"import_id": 2044}))).await;
    let mirakl = mirakl(&server);
    let one = [stock("A", 1)];
    let start = tokio::time::Instant::now();
    assert_eq!(mirakl.push_stock(&one).await.unwrap().0, "2044");
    mirakl.push_stock(&one).await.unwrap();
    assert_waited(start, Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn sto02_reads_the_import_status_every_fifteen_seconds_at_most() {
    let server = MockServer::start().await;
    answer_once(&server, STATUS, status_reply("RUNNING", false)).await;
    answer(&server, STATUS, status_reply("COMPLETE", false)).await;
    let mirakl = mirakl(&server);
    let start = tokio::time::Instant::now();
    assert_eq!(
        mirakl.push_status(&ticket()).await.unwrap(),
        PushStatus::Pending
    );
    assert_eq!(
        mirakl.push_status(&ticket()).await.unwrap(),
        PushStatus::Completed { rejected: vec![] }
    );
    assert_waited(start, Duration::from_secs(15));
    let sent = requests(&server).await;
    assert_eq!(sent[0].method.as_str(), "GET");
    assert_shop_call(&sent[0]);
}

#[tokio::test(start_paused = true)]
async fn sto03_error_report_becomes_per_sku_rejections() {
    let server = serving(STATUS, status_reply("COMPLETE", true)).await;
    let report = ResponseTemplate::new(200).set_body_raw(
        "\"line-number\";\"error-message\";\"offer-sku\";\"quantity\";\"warehouse-code\";\"update-delete\"\n\
         \"3\";\"Offer not found\";\"GHOST-1\";\"4\";\"\";\"update\"\n",
        "text/csv",
    );
    answer(
        &server,
        "GET /api/offers/stock/imports/imp-42/error_report",
        report,
    )
    .await;
    let status = mirakl(&server).push_status(&ticket()).await.unwrap();
    assert_eq!(
        status,
        PushStatus::Completed {
            rejected: vec![SkuRejection {
                sku: "GHOST-1".into(),
                message: "Offer not found".into()
            }]
        }
    );
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_shop_call(&sent[1]);
}

#[tokio::test(start_paused = true)]
async fn sto02_failed_imports_fail_the_push() {
    let server = serving("GET", status_reply("FAILED", false)).await;
    let status = mirakl(&server).push_status(&ticket()).await.unwrap();
    assert!(matches!(status, PushStatus::Failed { .. }), "{status:?}");
}

#[tokio::test(start_paused = true)]
async fn of21_reads_every_offer_quantity() {
    let offers: Value = json!({
        "offers": [
            {"offer_id": 1, "shop_sku": "A", "quantity": 4, "active": true, "price": 10.5, "unknown": null},
            {"offer_id": 2, "shop_sku": "B", "quantity": 0, "active": false, "inactivity_reasons": ["ZERO_QUANTITY"]}
        ],
        "total_count": 2
    });
    let server = serving("GET /api/offers", json_reply(200, offers)).await;
    let levels = mirakl(&server).stock_levels().await.unwrap();
    assert_eq!(levels, [level("A", 4), level("B", 0)]);
    let sent = requests(&server).await;
    assert_eq!(query(&sent[0]), first_page(&[]));
    assert_mirakl_headers(&sent[0]);
}
