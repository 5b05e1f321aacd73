//! The shop's calls take turns, the orders' first: a stock push or a message that comes
//! while an order call waits or runs goes after it, unless the push stops a SKU selling.

use std::time::Duration;

use vigie_connector::testing::stock;
use vigie_connector::{Marketplace, StockUpdate};
use wiremock::MockServer;

use crate::support::{ORDER, TOKEN, answer, empty_orders, fnac, mount_auth, response};

#[tokio::test]
async fn an_order_call_goes_ahead_of_a_stock_push_that_came_first() {
    assert_eq!(
        calls_around_a_push(stock("A", 1)).await,
        ["auth", "orders_query", "orders_query", "offers_update"]
    );
}

#[tokio::test]
async fn a_push_that_stops_a_sku_selling_keeps_its_place_among_the_order_calls() {
    assert_eq!(
        calls_around_a_push(stock("A", 0)).await,
        ["auth", "orders_query", "offers_update", "orders_query"]
    );
}

/// The services called when a push of `update`, then a read of orders, come while an
/// order read runs.
async fn calls_around_a_push(update: StockUpdate) -> Vec<String> {
    let server = MockServer::start().await;
    mount_auth(&server, TOKEN).await;
    // Slow enough for the other calls to queue behind the first read.
    let slow = empty_orders().set_delay(Duration::from_millis(300));
    answer(&server, "orders_query", slow).await;
    let batch = "<batch_id>c0a5e1f2-0000-4000-8000-000000000001</batch_id>";
    answer(
        &server,
        "offers_update",
        response("offers_update", "OK", batch),
    )
    .await;
    let fnac = fnac(&server);
    let ids = [ORDER.to_owned()];
    let updates = [update];

    let read_first = fnac.orders_by_id(&ids);
    let then_the_rest = async {
        let started = tokio::time::Instant::now();
        while !services(&server).await.contains(&"orders_query".to_owned()) {
            assert!(started.elapsed() < Duration::from_secs(10), "no first read");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The push asks for its turn before the second read does.
        tokio::join!(fnac.push_stock(&updates), fnac.orders_by_id(&ids))
    };
    let (first, (pushed, second)) = tokio::join!(read_first, then_the_rest);
    first.unwrap();
    pushed.unwrap();
    second.unwrap();
    services(&server).await
}

/// The services called, in order.
async fn services(server: &MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter_map(|r| r.url.path().rsplit('/').next().map(str::to_owned))
        .collect()
}
