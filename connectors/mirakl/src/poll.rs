//! OR11 `GET /api/orders`: one logical poll pages with `max=100` and `offset` until
//! `total_count` (or, without it, the `Link` header or a short page) says the list is done.

use std::collections::HashSet;

use reqwest::Method;
use reqwest::header::LINK;
use vigie_connector::{ConnectorError, OrderBatch, Reply, Throttle};

use crate::client::{self, Api, Call};
use crate::orders::{OrderPage, parse_order};

/// Mirakl's largest page.
pub const PAGE_SIZE: u64 = 100;
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
    let mut offset = 0;
    for _ in 0..MAX_PAGES {
        // The budget pays for the poll: its first page, retries included; the other pages
        // belong to the same poll.
        let call = match offset {
            0 => Call::safe("OR11").paying(throttle),
            _ => Call::safe("OR11"),
        };
        let mut query = filters.to_vec();
        query.push(("max", PAGE_SIZE.to_string()));
        query.push(("offset", offset.to_string()));
        let reply = api.send(call, Method::GET, &url, &query, |r| r).await?;
        let page: OrderPage = client::json("OR11", &reply)?;
        let received = page.orders.len() as u64;
        for value in &page.orders {
            match parse_order(value) {
                Ok(order) => {
                    if seen.insert((order.id.clone(), order.updated_at)) {
                        batch.orders.push(order);
                    }
                }
                Err(malformed) => batch.malformed.push(malformed),
            }
        }
        offset += received;
        let more = match page.total_count {
            Some(total) => offset < total,
            None => has_next_link(&reply) || received == PAGE_SIZE,
        };
        if !more || received == 0 {
            return Ok(batch);
        }
    }
    Err(ConnectorError::Transient(format!(
        "OR11: still paging after {MAX_PAGES} pages"
    )))
}

fn has_next_link(reply: &Reply) -> bool {
    reply
        .headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|link| link.contains("rel=\"next\"")))
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
