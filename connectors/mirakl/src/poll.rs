//! OR11 `GET /api/orders`: one logical poll reads every page of the filtered order list,
//! paying the OR11 budget once.

use std::collections::HashSet;

use vigie_connector::{BodyLimit, ConnectorError, OrderBatch, Throttle};

use crate::client::{Api, Call};
use crate::orders::{OrderPage, parse_order};
use crate::pages::read_pages;

/// A guard against a server that never says it is done (100 000 orders).
const MAX_PAGES: u64 = 1000;

/// Runs one OR11 poll with `filters`, paying the OR11 budget once.
pub(crate) async fn poll(
    api: &Api,
    throttle: &Throttle,
    filters: &[(&str, String)],
) -> Result<OrderBatch, ConnectorError> {
    let url = api.url(&["orders"]);
    let mut batch = OrderBatch::default();
    // Offset pages drift when orders change during the poll: keep each version once.
    let mut seen = HashSet::new();
    let first = Call::safe("OR11")
        .paying(throttle)
        .reading(BodyLimit::page("order page"));
    read_pages::<OrderPage>(api, first, &url, filters, MAX_PAGES, |orders| {
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

/// A timestamp in the form Mirakl documents for query strings, to the second.
pub(crate) fn query_date(ts: jiff::Timestamp, round_up: bool) -> String {
    let mut second = ts.as_second();
    if round_up && ts.subsec_nanosecond() > 0 {
        second += 1;
    }
    jiff::Timestamp::from_second(second)
        .unwrap_or(ts)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_dates_widen_the_window_to_whole_seconds() {
        let ts: jiff::Timestamp = "2024-05-02T08:00:00.250Z".parse().unwrap();
        assert_eq!(query_date(ts, false), "2024-05-02T08:00:00Z");
        assert_eq!(query_date(ts, true), "2024-05-02T08:00:01Z");
        let whole: jiff::Timestamp = "2024-05-02T08:00:00Z".parse().unwrap();
        assert_eq!(query_date(whole, true), "2024-05-02T08:00:00Z");
    }
}
