//! Quantities on Amazon: a few SKUs are patched one by one (`patchListingsItem`, which
//! validates at once), many go as one `JSON_LISTINGS_FEED` followed to its processing report.
//! Either way `fulfillment_availability` is replaced whole, handling time included (Amazon
//! drops what a replace omits), for the merchant's own channel (`DEFAULT`).

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_connector::{
    BodyLimit, ConnectorError, PushStatus, PushTicket, SkuRejection, StockLevel, StockUpdate,
};

use crate::client::{self, Api, Call};
use crate::feeds::{self, JSON_CONTENT, LISTINGS_FEED, Progress};
use crate::limits::Throttles;

/// A ticket for patches, answered at once: the rejections travel in it.
const PATCHED: &str = "patched:";
/// A ticket for a feed: its id.
const FEED: &str = "feed:";
const SEARCH_PAGE: &str = "20";
const MAX_PAGES: usize = 10_000;

/// The patch replacing a listing's merchant-fulfilled quantity.
pub fn availability_patch(quantity: u32, handling_days: u32) -> Value {
    json!([{
        "op": "replace",
        "path": "/attributes/fulfillment_availability",
        "value": [{
            "fulfillment_channel_code": "DEFAULT",
            "quantity": quantity,
            "lead_time_to_ship_max_days": handling_days,
        }],
    }])
}

/// A `JSON_LISTINGS_FEED` document setting each update's quantity.
pub fn listings_feed(seller_id: &str, updates: &[StockUpdate], handling_days: u32) -> Value {
    let messages: Vec<Value> = updates
        .iter()
        .enumerate()
        .map(|(i, u)| {
            json!({
                "messageId": i + 1,
                "sku": u.sku,
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": availability_patch(u.quantity, handling_days),
            })
        })
        .collect();
    json!({
        "header": { "sellerId": seller_id, "version": "2.0", "issueLocale": "fr_FR" },
        "messages": messages,
    })
}

#[derive(Deserialize)]
struct Submission {
    status: String,
    #[serde(default)]
    issues: Vec<Issue>,
}

#[derive(Deserialize)]
struct Issue {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    message: String,
    severity: String,
}

#[derive(Deserialize)]
struct FeedReport {
    #[serde(default)]
    issues: Vec<Issue>,
}

pub async fn push(
    api: &Api,
    throttles: &Throttles,
    patch_at_most: usize,
    handling_days: u32,
    updates: &[StockUpdate],
) -> Result<PushTicket, ConnectorError> {
    if updates.len() > patch_at_most {
        let document = listings_feed(&api.seller_id, updates, handling_days).to_string();
        let feed_id = feeds::submit(
            api,
            throttles,
            LISTINGS_FEED,
            JSON_CONTENT,
            document.into_bytes(),
        )
        .await?;
        return Ok(PushTicket(format!("{FEED}{feed_id}")));
    }
    let mut rejected = Vec::new();
    for update in updates {
        let url = api.url(&[
            "listings",
            "2021-08-01",
            "items",
            &api.seller_id,
            &update.sku,
        ]);
        let query = [api.marketplace(), ("issueLocale", "fr_FR".to_owned())];
        let body = json!({
            "productType": "PRODUCT",
            "patches": availability_patch(update.quantity, handling_days),
        });
        let reply = api
            .send_json(
                Call::safe("patchListingsItem", &throttles.patch_listings_item),
                Method::PATCH,
                &url,
                &query,
                &body,
            )
            .await?;
        let submission: Submission = client::json("patchListingsItem", &reply)?;
        if submission.status == "INVALID" {
            rejected.push(SkuRejection {
                sku: update.sku.clone(),
                message: errors(&submission.issues),
            });
        }
    }
    let rejected: Vec<(String, String)> =
        rejected.into_iter().map(|r| (r.sku, r.message)).collect();
    Ok(PushTicket(format!("{PATCHED}{}", json!(rejected))))
}

fn errors(issues: &[Issue]) -> String {
    let errors: Vec<&str> = issues
        .iter()
        .filter(|i| i.severity == "ERROR")
        .map(|i| i.message.as_str())
        .collect();
    errors.join("; ")
}

pub async fn status(
    api: &Api,
    throttles: &Throttles,
    ticket: &PushTicket,
) -> Result<PushStatus, ConnectorError> {
    if let Some(rejected) = ticket.0.strip_prefix(PATCHED) {
        let rejected: Vec<(String, String)> = serde_json::from_str(rejected)
            .map_err(|e| ConnectorError::permanent(format!("unreadable push ticket: {e}")))?;
        let rejected = rejected
            .into_iter()
            .map(|(sku, message)| SkuRejection { sku, message })
            .collect();
        return Ok(PushStatus::Completed { rejected });
    }
    let Some(feed_id) = ticket.0.strip_prefix(FEED) else {
        return Err(ConnectorError::permanent(format!(
            "not an Amazon push ticket: {}",
            ticket.0
        )));
    };
    match feeds::progress(api, throttles, feed_id).await? {
        Progress::Running => Ok(PushStatus::Pending),
        Progress::Failed(message) => Ok(PushStatus::Failed { message }),
        Progress::Done(report) => {
            let report: FeedReport = serde_json::from_str(&report).map_err(|e| {
                ConnectorError::permanent(format!(
                    "listings feed {feed_id}: unreadable report: {e}"
                ))
            })?;
            let rejected = report
                .issues
                .iter()
                .filter(|i| i.severity == "ERROR")
                .map(|i| SkuRejection {
                    sku: i.sku.clone().unwrap_or_default(),
                    message: i.message.clone(),
                })
                .collect();
            Ok(PushStatus::Completed { rejected })
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListingsPage {
    #[serde(default)]
    items: Vec<Listing>,
    pagination: Option<ListingsPagination>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListingsPagination {
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    sku: String,
    #[serde(default)]
    fulfillment_availability: Vec<Availability>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Availability {
    fulfillment_channel_code: String,
    quantity: Option<u32>,
}

/// Every listing's effective merchant-fulfilled quantity (`searchListingsItems`).
pub async fn levels(api: &Api, throttles: &Throttles) -> Result<Vec<StockLevel>, ConnectorError> {
    let url = api.url(&["listings", "2021-08-01", "items", &api.seller_id]);
    let mut query = vec![
        api.marketplace(),
        ("includedData", "fulfillmentAvailability".to_owned()),
        ("pageSize", SEARCH_PAGE.to_owned()),
    ];
    let call = Call::safe("searchListingsItems", &throttles.search_listings_items)
        .reading(BodyLimit::page("listings page"));
    let mut levels = Vec::new();
    for _ in 0..MAX_PAGES {
        let reply = api.get(call, &url, &query).await?;
        let page: ListingsPage = client::json("searchListingsItems", &reply)?;
        levels.extend(page.items.into_iter().filter_map(|item| {
            let quantity = item
                .fulfillment_availability
                .iter()
                .find(|a| a.fulfillment_channel_code == "DEFAULT")?
                .quantity?;
            Some(StockLevel {
                sku: item.sku,
                quantity,
            })
        }));
        match page.pagination.and_then(|p| p.next_token) {
            Some(token) => {
                query.retain(|(k, _)| *k != "pageToken");
                query.push(("pageToken", token));
            }
            None => return Ok(levels),
        }
    }
    Err(ConnectorError::permanent(format!(
        "searchListingsItems: more than {MAX_PAGES} pages"
    )))
}
