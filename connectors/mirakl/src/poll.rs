//! OR11 `GET /api/orders`: one logical poll reads every page of the filtered order list,
//! paying the OR11 budget once.

use std::collections::HashSet;

use vigie_connector::{BodyLimit, ConnectorError, OrderBatch, Throttle};

use crate::client::{Api, Call};
use crate::orders::{OrderPage, parse_order};
use crate::pages::read_pages;
use crate::window::SentAt;

/// A guard against a server that never says it is done (100 000 orders).
const MAX_PAGES: u64 = 1000;

/// Runs one OR11 poll with `filters` (and `sent_at`, stamped when the first page is sent),
/// paying the OR11 budget once.
pub(crate) async fn poll(
    api: &Api,
    throttle: &Throttle,
    filters: &[(&str, String)],
    sent_at: Option<&SentAt>,
) -> Result<OrderBatch, ConnectorError> {
    let url = api.url(&["orders"]);
    let mut batch = OrderBatch::default();
    // Offset pages drift when orders change during the poll: keep each version once.
    let mut seen = HashSet::new();
    let first = Call::safe("OR11")
        .paying(throttle)
        .reading(BodyLimit::page("order page"));
    read_pages::<OrderPage>(api, first, &url, filters, sent_at, MAX_PAGES, |orders| {
        for value in &orders {
            match parse_order(value) {
                Ok(order) => {
                    if seen.insert((order.id.clone(), order.updated_at)) {
                        batch.orders.push(order);
                    }
                }
                Err(malformed) => batch.malformed.push(malformed),
            }
        }
    })
    .await?;
    Ok(batch)
}
