//! Offset paging, as OR11 and OF21 share it: `max=100` and `offset` until `total_count` (or,
//! without it, the `Link` header or a short page) says the list is done.

use reqwest::Method;
use reqwest::header::LINK;
use serde::de::DeserializeOwned;
use vigie_connector::{ConnectorError, Reply};

use crate::client::{self, Api, Call};
use crate::window::SentAt;

/// Mirakl's largest page.
pub const PAGE_SIZE: u64 = 100;

/// One page of a list: its items, and the whole list's size when Mirakl says it.
pub(crate) trait Page: DeserializeOwned {
    type Item;
    fn into_parts(self) -> (Vec<Self::Item>, Option<u64>);
}

/// Reads every page of the list at `url` filtered by `filters`, handing each page's items to
/// `read`. The budget of `first` pays for the list's first page only (retries included): the
/// other pages belong to the same read. `sent_at`, when given, is stamped by every attempt at
/// the first page, after its wait for the budget, and repeated by the others. After
/// `max_pages`, a server that never says it is done is an error.
pub(crate) async fn read_pages<P: Page>(
    api: &Api,
    first: Call<'_>,
    url: &url::Url,
    filters: &[(&str, String)],
    sent_at: Option<&SentAt>,
    max_pages: u64,
    mut read: impl FnMut(Vec<P::Item>),
) -> Result<(), ConnectorError> {
    let mut offset = 0;
    for _ in 0..max_pages {
        let call = match offset {
            0 => first,
            _ => Call {
                budget: None,
                ..first
            },
        };
        let mut query = filters.to_vec();
        query.push(("max", PAGE_SIZE.to_string()));
        query.push(("offset", offset.to_string()));
        let reply = match (offset, sent_at) {
            (0, Some(stamp)) => {
                api.send(call, Method::GET, url, &query, |r| {
                    r.query(&[stamp.stamp()])
                })
                .await?
            }
            (_, stamp) => {
                query.extend(stamp.and_then(SentAt::pair));
                api.get(call, url, &query).await?
            }
        };
        let (items, total_count) = client::json::<P>(call.code, &reply)?.into_parts();
        let received = items.len() as u64;
        read(items);
        offset += received;
        let more = match total_count {
            Some(total) => offset < total,
            None => has_next_link(&reply) || received == PAGE_SIZE,
        };
        if !more || received == 0 {
            return Ok(());
        }
    }
    Err(ConnectorError::Transient(format!(
        "{}: still paging after {max_pages} pages",
        first.code
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
