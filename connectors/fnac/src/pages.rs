//! The paged `*_query` services (`orders_query`, `offers_query`): the same paging, whatever
//! they list.

use vigie_connector::{ConnectorError, Repeat};

use crate::client::{Transport, root_failure};
use crate::xml::{Child, Element};

/// Items per page; Fnac's default `results_count`.
const PAGE_SIZE: u32 = 100;

/// Reads every page of `service`, whose request holds the paging then what `filter` adds,
/// and hands each `item` child to `read`. Stops at `total_paging`, at an empty page, or after
/// `max_pages`: a runaway `total_paging` must not loop forever.
pub(crate) async fn read_pages<F>(
    t: &Transport,
    service: &'static str,
    item: &str,
    max_pages: u32,
    filter: F,
    mut read: impl FnMut(&Child),
) -> Result<(), ConnectorError>
where
    F: Fn(Element) -> Element,
{
    let mut page = 1;
    loop {
        let doc = t
            .call(service, Repeat::Safe, |root| {
                filter(
                    root.attr("results_count", &PAGE_SIZE.to_string())
                        .text("paging", &page.to_string()),
                )
            })
            .await?;
        if let Some(failure) = root_failure(&doc, item) {
            return Err(failure);
        }
        let mut on_page = 0;
        for child in doc.all(item) {
            on_page += 1;
            read(child);
        }
        let total = doc.number("total_paging").unwrap_or(0);
        if u64::from(page) >= total || on_page == 0 || page >= max_pages {
            return Ok(());
        }
        page += 1;
    }
}
