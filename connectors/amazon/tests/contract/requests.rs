//! Each operation the connector calls, its requests checked against Amazon's models, and how
//! the answers are read.

use serde_json::{Value, json};
use vigie_connector::testing::{decide_one, decision, level, message, stock};
use vigie_connector::{ConnectorError, Marketplace, OrderStatus, PushStatus, Timestamp};
use wiremock::ResponseTemplate;

use crate::model::{self, Model};
use crate::support::*;

const SEARCH: &str = "^/orders/2026-01-01/orders$";

#[tokio::test]
async fn search_orders_pages_with_the_same_filters_and_reads_v2026_orders() {
    let server = server().await;
    let mut fba = order("407-0000000-0000003", "UNSHIPPED", "SKU-F");
    fba["fulfillment"]["fulfilledBy"] = json!("AMAZON");
    let mut broken = order("407-0000000-0000004", "UNSHIPPED", "SKU-B");
    broken["orderItems"][0]["quantityOrdered"] = json!("two");
    answer_with_param(
        &server,
        SEARCH,
        ("paginationToken", "page-2"),
        json_reply(
            200,
            json!({
                "orders": [order("407-0000000-0000002", "CANCELLED", "SKU-2"), fba, broken],
            }),
        ),
    )
    .await;
    answer(
        &server,
        "GET",
        SEARCH,
        json_reply(
            200,
            json!({
                "orders": [order("407-0000000-0000001", "PENDING", "SKU-1")],
                "pagination": {"nextToken": "page-2"},
            }),
        ),
    )
    .await;
    let since: Timestamp = "2026-11-30T09:00:00Z".parse().unwrap();
    let batch = amazon(&server)
        .orders_updated(since, Timestamp::now())
        .await
        .unwrap();

    let ids: Vec<&str> = batch.orders.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        ["407-0000000-0000001", "407-0000000-0000002"],
        "FBA orders are not ours"
    );
    assert_eq!(batch.malformed.len(), 1);
    assert_eq!(
        batch.malformed[0].order_id.as_deref(),
        Some("407-0000000-0000004")
    );
    let first = &batch.orders[0];
    // No acceptance on Amazon: a PENDING order already holds the units.
    assert_eq!(first.state.status, OrderStatus::AwaitingAcceptance);
    assert_eq!(first.state.raw, "PENDING");
    assert_eq!(first.lines[0].quantity, 2);
    assert_eq!(first.lines[0].price.amount.to_string(), "39.80");
    assert_eq!(
        first.acceptance_deadline,
        Some("2026-12-02T23:59:59Z".parse().unwrap())
    );
    assert!(
        first.shipping_address.is_none(),
        "no RECIPIENT without the restricted role"
    );
    assert_eq!(batch.orders[1].state.status, OrderStatus::Cancelled);

    let model = Model::open(model::ORDERS);
    let requests = api_requests(&server).await;
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(model.check(request), "searchOrders");
        assert_token(request);
        assert_eq!(param(request, "fulfilledBy").as_deref(), Some("MERCHANT"));
        assert_eq!(
            param(request, "marketplaceIds").as_deref(),
            Some("A13V1IB3VIYZZH")
        );
        assert!(param(request, "createdAfter").is_none());
        // Two minutes in the past at least, as Amazon requires.
        let before: Timestamp = param(request, "lastUpdatedBefore")
            .unwrap()
            .parse()
            .unwrap();
        assert!(before <= Timestamp::now() - jiff::SignedDuration::from_mins(2));
        // The window moved back by the lag, so consecutive polls still tile.
        let after: Timestamp = param(request, "lastUpdatedAfter").unwrap().parse().unwrap();
        assert_eq!(after, since - vigie_amazon::VISIBILITY_LAG);
    }
    let strip = |r: &wiremock::Request| {
        let mut q: Vec<(String, String)> = r
            .url
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != "paginationToken")
            .collect();
        q.sort();
        q
    };
    assert_eq!(
        strip(&requests[0]),
        strip(&requests[1]),
        "a page repeats every filter"
    );
    assert_eq!(
        param(&requests[1], "paginationToken").as_deref(),
        Some("page-2")
    );
    let logins = requests_to(&server, "/auth/o2/token").await;
    assert_eq!(logins.len(), 1, "one token serves every call");
}

#[tokio::test]
async fn orders_holding_stock_and_get_order_follow_the_model() {
    let server = server().await;
    answer(
        &server,
        "GET",
        SEARCH,
        json_reply(200, json!({"orders": []})),
    )
    .await;
    answer(
        &server,
        "GET",
        "^/orders/2026-01-01/orders/[^/]+$",
        json_reply(
            200,
            json!({"order": order("407-1-1", "UNSHIPPED", "SKU-1")}),
        ),
    )
    .await;
    let amazon = amazon(&server);
    amazon.orders_holding_stock().await.unwrap();
    let batch = amazon.orders_by_id(&["407-1-1".into()]).await.unwrap();
    assert_eq!(batch.orders.len(), 1);
    let model = Model::open(model::ORDERS);
    let requests = api_requests(&server).await;
    assert_eq!(model.check(&requests[0]), "searchOrders");
    assert_eq!(
        param(&requests[0], "fulfillmentStatuses").as_deref(),
        Some("PENDING_AVAILABILITY,PENDING,UNSHIPPED,PARTIALLY_SHIPPED")
    );
    assert_eq!(model.check(&requests[1]), "getOrder");
}

/// `getOrder` answering order 407-1-1, its items `asked` with a buyer's cancellation request.
async fn order_answering(server: &wiremock::MockServer, asked: &[&str]) {
    let mut order = order("407-1-1", "UNSHIPPED", "SKU-1");
    let item = order["orderItems"][0].clone();
    order["orderItems"] = ["111", "222"]
        .iter()
        .map(|id| {
            let mut item = item.clone();
            item["orderItemId"] = json!(id);
            if asked.contains(id) {
                item["cancellation"] = json!({"cancellationRequest": {"requester": "BUYER", "cancelReason": "NO_LONGER_NEEDED"}});
            }
            item
        })
        .collect();
    answer(
        server,
        "GET",
        "^/orders/2026-01-01/orders/407-1-1$",
        json_reply(200, json!({ "order": order })),
    )
    .await;
}

/// The order, none of its items asked to cancel, and a feed flow answered.
async fn feeds_answering(server: &wiremock::MockServer, report: ResponseTemplate) {
    order_answering(server, &[]).await;
    feed_flow(server, report).await;
}

/// A feed flow answered: document, upload, feed, one IN_PROGRESS then DONE, its report.
async fn feed_flow(server: &wiremock::MockServer, report: ResponseTemplate) {
    let uri = server.uri();
    answer(
        server,
        "POST",
        "^/feeds/2021-06-30/documents$",
        json_reply(
            200,
            json!({
                "feedDocumentId": "doc-1", "url": format!("{uri}/upload/doc-1"),
            }),
        ),
    )
    .await;
    answer(server, "PUT", "^/upload/doc-1$", ResponseTemplate::new(200)).await;
    answer(
        server,
        "POST",
        "^/feeds/2021-06-30/feeds$",
        json_reply(202, json!({"feedId": "F-1"})),
    )
    .await;
    answer_once(server, "GET", "^/feeds/2021-06-30/feeds/F-1$", json_reply(200, json!({
        "feedId": "F-1", "feedType": "X", "processingStatus": "IN_PROGRESS", "createdTime": "2026-11-30T10:00:00Z",
    }))).await;
    answer(server, "GET", "^/feeds/2021-06-30/feeds/F-1$", json_reply(200, json!({
        "feedId": "F-1", "feedType": "X", "processingStatus": "DONE", "createdTime": "2026-11-30T10:00:00Z",
        "resultFeedDocumentId": "doc-r",
    }))).await;
    answer(
        server,
        "GET",
        "^/feeds/2021-06-30/documents/doc-r$",
        json_reply(
            200,
            json!({
                "feedDocumentId": "doc-r", "url": format!("{uri}/download/doc-r"),
            }),
        ),
    )
    .await;
    answer(server, "GET", "^/download/doc-r$", report).await;
}

fn processing_report(errors: u32) -> ResponseTemplate {
    let result = if errors > 0 {
        "<Result><MessageID>1</MessageID><ResultCode>Error</ResultCode><ResultDescription>order already shipped</ResultDescription></Result>"
    } else {
        ""
    };
    ResponseTemplate::new(200).set_body_string(format!(
        "<?xml version=\"1.0\"?><AmazonEnvelope><Message><MessageID>1</MessageID><ProcessingReport><ProcessingSummary><MessagesProcessed>1</MessagesProcessed><MessagesWithError>{errors}</MessagesWithError></ProcessingSummary>{result}</ProcessingReport></Message></AmazonEnvelope>"
    ))
}

#[tokio::test]
async fn accepting_needs_no_call_and_refusing_cancels_through_the_acknowledgement_feed() {
    let server = server().await;
    feeds_answering(&server, processing_report(0)).await;
    let amazon = amazon(&server);
    decide_one(&amazon, "407-1-1", &[decision("111", true)])
        .await
        .unwrap();
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "accepting calls nothing"
    );

    decide_one(
        &amazon,
        "407-1-1",
        &[decision("111", true), decision("222", false)],
    )
    .await
    .unwrap();
    let read = &requests_to(&server, "/orders").await[0];
    assert_eq!(Model::open(model::ORDERS).check(read), "getOrder");
    let model = Model::open(model::FEEDS);
    let ids: Vec<String> = requests_to(&server, "/feeds")
        .await
        .iter()
        .map(|r| {
            assert_token(r);
            model.check(r)
        })
        .collect();
    assert_eq!(
        ids,
        [
            "createFeedDocument",
            "createFeed",
            "getFeed",
            "getFeed",
            "getFeedDocument"
        ]
    );
    let feed = &requests_to(&server, "/feeds").await[1];
    let body: Value = serde_json::from_slice(&feed.body).unwrap();
    assert_eq!(body["feedType"], "POST_ORDER_ACKNOWLEDGEMENT_DATA");
    assert_eq!(body["inputFeedDocumentId"], "doc-1");
    let upload = &requests_to(&server, "/upload").await[0];
    assert!(
        upload.headers.get("x-amz-access-token").is_none(),
        "no token to S3"
    );
    let xml = String::from_utf8(upload.body.clone()).unwrap();
    assert!(xml.contains("<AmazonOrderID>407-1-1</AmazonOrderID><StatusCode>Failure</StatusCode><Item><AmazonOrderItemCode>222</AmazonOrderItemCode><CancelReason>NoInventory</CancelReason></Item></OrderAcknowledgement>"), "{xml}");
    assert!(!xml.contains("111"), "accepted items stay");
}

#[tokio::test]
async fn a_cancellation_the_report_rejects_is_permanent_and_a_fatal_feed_transient() {
    let server = server().await;
    feeds_answering(&server, processing_report(1)).await;
    let e = decide_one(&amazon(&server), "407-1-1", &[decision("1", false)])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Permanent { message, .. } if message.contains("order already shipped")),
        "{e:?}"
    );

    let server = crate::support::server().await;
    order_answering(&server, &[]).await;
    answer(
        &server,
        "POST",
        "^/feeds/2021-06-30/documents$",
        json_reply(
            200,
            json!({
                "feedDocumentId": "doc-1", "url": format!("{}/upload/doc-1", server.uri()),
            }),
        ),
    )
    .await;
    answer(
        &server,
        "PUT",
        "^/upload/doc-1$",
        ResponseTemplate::new(200),
    )
    .await;
    answer(
        &server,
        "POST",
        "^/feeds/2021-06-30/feeds$",
        json_reply(202, json!({"feedId": "F-1"})),
    )
    .await;
    answer(&server, "GET", "^/feeds/2021-06-30/feeds/F-1$", json_reply(200, json!({
        "feedId": "F-1", "feedType": "X", "processingStatus": "FATAL", "createdTime": "2026-11-30T10:00:00Z",
    }))).await;
    let e = decide_one(&amazon(&server), "407-1-1", &[decision("1", false)])
        .await
        .unwrap_err();
    assert!(
        matches!(e, ConnectorError::Transient(_)),
        "nothing was applied: {e:?}"
    );
}

#[tokio::test]
async fn few_skus_are_patched_and_an_invalid_one_reported() {
    let server = server().await;
    let listing = "^/listings/2021-08-01/items/A2SELLER/[^/]+$";
    answer_once(
        &server,
        "PATCH",
        "^/listings/2021-08-01/items/A2SELLER/BAD$",
        json_reply(
            200,
            json!({
                "sku": "BAD", "status": "INVALID", "submissionId": "s2",
                "issues": [{"code": "8541", "message": "not listed", "severity": "ERROR"}],
            }),
        ),
    )
    .await;
    answer(
        &server,
        "PATCH",
        listing,
        json_reply(
            200,
            json!({"sku": "x", "status": "ACCEPTED", "submissionId": "s1"}),
        ),
    )
    .await;
    let amazon = amazon(&server);
    let ticket = amazon
        .push_stock(&[stock("SKU 1/A", 3), stock("BAD", 0)])
        .await
        .unwrap();
    let status = amazon.push_status(&ticket).await.unwrap();
    let PushStatus::Completed { rejected } = status else {
        panic!("{status:?}")
    };
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        (rejected[0].sku.as_str(), rejected[0].message.as_str()),
        ("BAD", "not listed")
    );

    let model = Model::open(model::LISTINGS);
    let requests = api_requests(&server).await;
    assert_eq!(
        requests[0].url.path(),
        "/listings/2021-08-01/items/A2SELLER/SKU%201%2FA"
    );
    for request in &requests {
        assert_eq!(model.check(request), "patchListingsItem");
    }
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "productType": "PRODUCT",
            "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                         "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3, "lead_time_to_ship_max_days": 2}]}],
        })
    );
}

#[tokio::test]
async fn many_skus_go_as_one_listings_feed_with_per_sku_errors() {
    let server = server().await;
    feeds_answering(&server, json_reply(200, json!({
        "header": {"sellerId": SELLER, "version": "2.0", "feedId": "F-1"},
        "issues": [{"messageId": 2, "sku": "SKU-1", "code": "8541", "severity": "ERROR", "message": "unknown SKU"}],
        "summary": {"errors": 1, "warnings": 0, "messagesProcessed": 30, "messagesAccepted": 29, "messagesInvalid": 1},
    }))).await;
    let amazon = amazon(&server);
    let updates: Vec<_> = (0..30).map(|i| stock(&format!("SKU-{i}"), i)).collect();
    let ticket = amazon.push_stock(&updates).await.unwrap();
    assert_eq!(ticket.0, "feed:F-1");
    assert_eq!(
        amazon.push_status(&ticket).await.unwrap(),
        PushStatus::Pending
    );
    let PushStatus::Completed { rejected } = amazon.push_status(&ticket).await.unwrap() else {
        panic!()
    };
    assert_eq!(rejected[0].sku, "SKU-1");

    let document: Value =
        serde_json::from_slice(&requests_to(&server, "/upload").await[0].body).unwrap();
    let feeds = Model::open(model::FEEDS);
    if let Some(schema) = model::load(model::LISTINGS_FEED_SCHEMA) {
        feeds.validate(&schema, &document, "JSON_LISTINGS_FEED");
    }
    assert_eq!(document["messages"].as_array().unwrap().len(), 30);
    assert_eq!(
        document["messages"][1]["patches"][0]["value"][0]["quantity"],
        1
    );
    for request in &api_requests(&server).await {
        feeds.check(request);
    }
}

#[tokio::test]
async fn stock_levels_read_every_page_of_listings() {
    let server = server().await;
    let search = "^/listings/2021-08-01/items/A2SELLER$";
    let item = |sku: &str, q: u32| {
        json!({"sku": sku, "fulfillmentAvailability": [
        {"fulfillmentChannelCode": "AMAZON_EU", "quantity": 99}, {"fulfillmentChannelCode": "DEFAULT", "quantity": q}]})
    };
    answer_with_param(
        &server,
        search,
        ("pageToken", "p2"),
        json_reply(200, json!({"numberOfResults": 2, "items": [item("B", 0)]})),
    )
    .await;
    answer(&server, "GET", search, json_reply(200, json!({"numberOfResults": 2, "items": [item("A", 4)], "pagination": {"nextToken": "p2"}}))).await;
    let levels = amazon(&server).stock_levels().await.unwrap();
    assert_eq!(levels, [level("A", 4), level("B", 0)]);
    let model = Model::open(model::LISTINGS);
    for request in &api_requests(&server).await {
        assert_eq!(model.check(request), "searchListingsItems");
    }
}

#[tokio::test]
async fn a_delay_goes_as_unexpected_problem_only_where_amazon_allows_it() {
    let server = server().await;
    let actions = |names: &[&str]| {
        json_reply(
            200,
            json!({
                "_links": {"self": {"href": "/messaging/v1/orders/407-1-1"},
                           "actions": names.iter().map(|n| json!({"href": format!("/messaging/v1/orders/407-1-1/messages/{n}"), "name": n})).collect::<Vec<_>>()},
            }),
        )
    };
    answer_once(
        &server,
        "GET",
        "^/messaging/v1/orders/407-1-1$",
        actions(&["confirmOrderDetails"]),
    )
    .await;
    answer(
        &server,
        "GET",
        "^/messaging/v1/orders/407-1-1$",
        actions(&["unexpectedProblem"]),
    )
    .await;
    answer(
        &server,
        "POST",
        "^/messaging/v1/orders/407-1-1/messages/unexpectedProblem$",
        ResponseTemplate::new(201),
    )
    .await;
    let amazon = amazon(&server);
    let text = message(
        "Retard",
        "Votre commande partira avec deux jours de retard.",
    );
    let e = amazon.message_customer("407-1-1", &text).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Permanent { code: Some(c), .. } if c == "MessageNotAllowed"),
        "{e:?}"
    );
    assert_eq!(
        amazon.message_customer("407-1-1", &text).await.unwrap(),
        None
    );
    let with_email = message("Retard", "Écrivez-nous à boutique@example.fr");
    assert!(
        amazon
            .message_customer("407-1-1", &with_email)
            .await
            .is_err()
    );

    let model = Model::open(model::MESSAGING);
    let ids: Vec<String> = api_requests(&server)
        .await
        .iter()
        .map(|r| model.check(r))
        .collect();
    assert_eq!(
        ids,
        [
            "getMessagingActionsForOrder",
            "getMessagingActionsForOrder",
            "createUnexpectedProblem"
        ]
    );
}

#[tokio::test]
async fn an_expired_token_logs_in_again_once() {
    let server = server().await;
    answer_once(&server, "GET", SEARCH, json_reply(403, json!({"errors": [{"code": "Unauthorized", "message": "The access token you provided has expired."}]}))).await;
    answer(
        &server,
        "GET",
        SEARCH,
        json_reply(200, json!({"orders": []})),
    )
    .await;
    amazon(&server).orders_holding_stock().await.unwrap();
    assert_eq!(requests_to(&server, "/auth/o2/token").await.len(), 2);
    let login = &requests_to(&server, "/auth/o2/token").await[0];
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&login.body)
        .into_owned()
        .collect();
    assert!(form.contains(&("grant_type".into(), "refresh_token".into())));
    assert!(form.contains(&("refresh_token".into(), REFRESH.into())));

    // Denied for another reason: no second login, an auth error.
    let server = crate::support::server().await;
    answer(&server, "GET", SEARCH, json_reply(403, json!({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}))).await;
    let e = amazon(&server).orders_holding_stock().await.unwrap_err();
    assert!(matches!(e, ConnectorError::Auth(_)), "{e:?}");
    assert_eq!(requests_to(&server, "/auth/o2/token").await.len(), 1);
}

#[tokio::test]
async fn a_refused_refresh_token_is_an_auth_error_that_names_no_secret() {
    let server = wiremock::MockServer::start().await;
    answer(&server, "POST", "^/auth/o2/token$", json_reply(400, json!({
        "error": "invalid_grant", "error_description": format!("bad token {REFRESH} / {SECRET}"),
    }))).await;
    let e = amazon(&server).health().await.unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, ConnectorError::Auth(_)) && text.contains("invalid_grant"),
        "{text}"
    );
    assert!(!text.contains("SECRET"), "{text}");
}

#[tokio::test]
async fn a_429_storm_ends_rate_limited() {
    let server = server().await;
    answer(&server, "GET", SEARCH, json_reply(429, json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}))).await;
    let e = amazon(&server).orders_holding_stock().await.unwrap_err();
    assert!(matches!(e, ConnectorError::RateLimited { .. }), "{e:?}");
    assert_eq!(
        api_requests(&server).await.len(),
        3,
        "the first try and two retries"
    );
}

#[tokio::test]
async fn a_refused_item_the_buyer_asked_to_cancel_goes_as_buyer_canceled() {
    let server = server().await;
    order_answering(&server, &["222"]).await;
    feed_flow(&server, processing_report(0)).await;
    decide_one(
        &amazon(&server),
        "407-1-1",
        &[decision("111", false), decision("222", false)],
    )
    .await
    .unwrap();
    let upload = &requests_to(&server, "/upload").await[0];
    let xml = String::from_utf8(upload.body.clone()).unwrap();
    assert!(
        xml.contains(
            "<AmazonOrderItemCode>111</AmazonOrderItemCode><CancelReason>NoInventory</CancelReason>"
        ),
        "{xml}"
    );
    assert!(xml.contains("<AmazonOrderItemCode>222</AmazonOrderItemCode><CancelReason>BuyerCanceled</CancelReason>"), "{xml}");
}

#[tokio::test]
async fn the_seller_cancels_with_one_of_amazons_reasons_only() {
    let server = server().await;
    feeds_answering(&server, processing_report(0)).await;
    let amazon = amazon(&server);
    let cancel = |reason: &str, quantity| vigie_connector::SellerCancel {
        order_id: "407-1-1".into(),
        reason: reason.into(),
        lines: vec![vigie_connector::CancelLine {
            line_id: "222".into(),
            quantity,
            amount: vigie_connector::Money::new(vigie_connector::Decimal::ONE, "EUR"),
        }],
        whole_order: false,
    };
    let e = amazon.cancel(&cancel("no_stock", 2)).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Permanent { message, .. } if message.contains("BuyerCanceled")),
        "{e:?}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    let e = amazon
        .cancel(&cancel("BuyerCanceled", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Permanent { message, .. } if message.contains("whole")),
        "one of the item's two units: {e:?}"
    );
    assert!(requests_to(&server, "/feeds").await.is_empty());
    amazon.cancel(&cancel("BuyerCanceled", 2)).await.unwrap();
    let upload = &requests_to(&server, "/upload").await[0];
    let xml = String::from_utf8(upload.body.clone()).unwrap();
    assert!(xml.contains("<AmazonOrderItemCode>222</AmazonOrderItemCode><CancelReason>BuyerCanceled</CancelReason>"), "{xml}");
}

#[tokio::test]
async fn a_parcel_is_confirmed_as_the_model_says_and_a_repeat_is_already_done() {
    let server = server().await;
    answer_once(
        &server,
        "POST",
        "^/orders/v0/orders/407-1-1/shipmentConfirmation$",
        ResponseTemplate::new(204),
    )
    .await;
    answer(
        &server,
        "POST",
        "^/orders/v0/orders/407-1-1/shipmentConfirmation$",
        json_reply(400, json!({"errors": [{"code": "InvalidInput", "message": "Failed to create package due to not finding a matching package or order already fulfilled"}]})),
    )
    .await;
    // Amazon holds no package of ours: the order was fulfilled otherwise.
    answer(
        &server,
        "GET",
        "^/orders/2026-01-01/orders/407-1-1$",
        json_reply(200, json!({"order": order("407-1-1", "SHIPPED", "SKU-1")})),
    )
    .await;
    let amazon = amazon(&server);
    let parcel = |code: Option<&str>| vigie_connector::Parcel {
        order_id: "407-1-1".into(),
        carrier: vigie_connector::ParcelCarrier {
            name: "Colissimo".into(),
            code: code.map(str::to_owned),
        },
        tracking_number: "6A12345678901".into(),
        tracking_url: None,
        lines: vec![vigie_connector::ParcelLine {
            line_id: "11111111111111".into(),
            quantity: 2,
        }],
        completes_order: true,
    };
    let answers = amazon
        .confirm_parcels(&[parcel(None), parcel(Some("La Poste"))])
        .await
        .unwrap();
    assert!(answers[0].is_ok(), "{answers:?}");
    assert!(
        matches!(answers[1], Err(ConnectorError::AlreadyDone(_))),
        "{answers:?}"
    );
    let model = Model::open(model::ORDERS_V0);
    let sent = requests_to(&server, "/orders/v0").await;
    for request in &sent {
        assert_token(request);
        assert_eq!(model.check(request), "confirmShipment");
    }
    let read = &requests_to(&server, "/orders/2026-01-01").await[0];
    assert_eq!(Model::open(model::ORDERS).check(read), "getOrder");
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    let detail = &body["packageDetail"];
    assert_eq!(body["marketplaceId"], "A13V1IB3VIYZZH");
    assert_eq!(
        (&detail["carrierCode"], &detail["carrierName"]),
        (&json!("Other"), &json!("Colissimo"))
    );
    assert!(
        detail["packageReferenceId"].is_string(),
        "Amazon wants a string"
    );
    assert_eq!(detail["trackingNumber"], "6A12345678901");
    assert_eq!(
        detail["orderItems"],
        json!([{"orderItemId": "11111111111111", "quantity": 2}])
    );
    let listed: Value = serde_json::from_slice(&sent[1].body).unwrap();
    assert_eq!(listed["packageDetail"]["carrierCode"], "La Poste");
    assert!(listed["packageDetail"].get("carrierName").is_none());
    assert!(amazon.parcel_terms().unlisted_carriers);
    assert!(
        amazon
            .carriers()
            .await
            .unwrap()
            .iter()
            .any(|c| c.code == "Chronopost")
    );
}

#[test]
fn a_buyer_cancellation_request_opens_an_incident_and_the_ship_by_window_is_the_deadline() {
    let mut payload = order("407-1-1", "UNSHIPPED", "SKU-1");
    payload["orderItems"][0]["cancellation"] =
        json!({"cancellationRequest": {"requester": "BUYER", "cancelReason": "NO_LONGER_NEEDED"}});
    let order = vigie_amazon::wire::parse_order(payload).unwrap().unwrap();
    let why = order.incident.unwrap().reason.unwrap();
    assert!(
        why.contains("BuyerCanceled") && why.contains("NO_LONGER_NEEDED"),
        "{why}"
    );
    let deadline: Timestamp = "2026-12-02T23:59:59Z".parse().unwrap();
    assert_eq!(order.shipping_deadline, Some(deadline));
}

#[tokio::test]
async fn a_parcel_sent_again_after_a_lost_answer_is_confirmed_by_its_package() {
    let server = server().await;
    answer(
        &server,
        "POST",
        "^/orders/v0/orders/407-1-1/shipmentConfirmation$",
        json_reply(400, json!({"errors": [{"code": "InvalidInput", "message": "Failed to create package due to not finding a matching package or order already fulfilled"}]})),
    )
    .await;
    let amazon = amazon(&server);
    let parcel = vigie_connector::Parcel {
        order_id: "407-1-1".into(),
        carrier: vigie_connector::ParcelCarrier {
            name: "Colissimo".into(),
            code: None,
        },
        tracking_number: "6A12345678901".into(),
        tracking_url: None,
        lines: vec![vigie_connector::ParcelLine {
            line_id: "11111111111111".into(),
            quantity: 1,
        }],
        completes_order: false,
    };
    let first = amazon.confirm_parcels(std::slice::from_ref(&parcel)).await;
    let sent = requests_to(&server, "/orders/v0").await;
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    let reference = body["packageDetail"]["packageReferenceId"].clone();
    // Partly shipped, and the package Amazon holds is this parcel's.
    let mut held = order("407-1-1", "PARTIALLY_SHIPPED", "SKU-1");
    held["packages"] =
        json!([{"packageReferenceId": reference, "trackingNumber": "6A12345678901"}]);
    answer(
        &server,
        "GET",
        "^/orders/2026-01-01/orders/407-1-1$",
        json_reply(200, json!({ "order": held })),
    )
    .await;
    assert!(
        first.is_err() || first.as_ref().unwrap()[0].is_err(),
        "no package read yet: {first:?}"
    );
    let answers = amazon.confirm_parcels(&[parcel]).await.unwrap();
    assert!(answers[0].is_ok(), "{answers:?}");
}
