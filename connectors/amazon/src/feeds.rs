//! Feeds API 2021-06-30: a document uploaded to the URL Amazon hands out, a feed made of it,
//! its processing followed, and its result document read back.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use vigie_connector::{BodyLimit, ConnectorError, Repeat, Throttle, snippet};

use crate::client::{self, Api, Call};
use crate::limits::{Budget, Throttles};

pub const LISTINGS_FEED: &str = "JSON_LISTINGS_FEED";
pub const JSON_CONTENT: &str = "application/json; charset=UTF-8";
pub const XML_CONTENT: &str = "text/xml; charset=UTF-8";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    feed_document_id: String,
    url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    feed_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Feed {
    processing_status: String,
    result_feed_document_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultDocument {
    url: String,
    compression_algorithm: Option<String>,
}

/// Where a feed stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    Running,
    /// Processed: the result document's text.
    Done(String),
    /// `FATAL` or `CANCELLED`: nothing was applied.
    Failed(String),
}

/// Uploads `content` and submits it as a `feed_type` feed; returns the feed id.
pub async fn submit(
    api: &Api,
    throttles: &Throttles,
    feed_type: &str,
    content_type: &'static str,
    content: Vec<u8>,
) -> Result<String, ConnectorError> {
    let url = api.url(&["feeds", "2021-06-30", "documents"]);
    let reply = api
        .send_json(
            Call::safe("createFeedDocument", &throttles.create_feed_document),
            Method::POST,
            &url,
            &[],
            &json!({ "contentType": content_type }),
        )
        .await?;
    let document: Document = client::json("createFeedDocument", &reply)?;
    let upload: url::Url = document.url.parse().map_err(|e| {
        ConnectorError::permanent(format!("createFeedDocument: unusable upload URL: {e}"))
    })?;
    // A presigned URL, not the SP-API: no access token goes there.
    let put = api
        .http
        .send(
            "uploadFeedDocument",
            Repeat::Safe,
            BodyLimit::single("upload answer"),
            |http| {
                http.put(upload.clone())
                    .header("content-type", content_type)
                    .body(content.clone())
            },
        )
        .await?;
    if !put.status.is_success() {
        return Err(ConnectorError::permanent(format!(
            "uploading the feed document: HTTP {}: {}",
            put.status,
            snippet(&put.text())
        )));
    }
    let url = api.url(&["feeds", "2021-06-30", "feeds"]);
    let body = json!({
        "feedType": feed_type,
        "marketplaceIds": [api.marketplace_id],
        "inputFeedDocumentId": document.feed_document_id,
    });
    // A feed sent twice is applied twice: only repeated when surely not received.
    let reply = api
        .send_json(
            Call::once("createFeed", &throttles.create_feed),
            Method::POST,
            &url,
            &[],
            &body,
        )
        .await?;
    Ok(client::json::<Created>("createFeed", &reply)?.feed_id)
}

/// One look at the feed; its result document once processed.
pub async fn progress(
    api: &Api,
    throttles: &Throttles,
    feed_id: &str,
) -> Result<Progress, ConnectorError> {
    let url = api.url(&["feeds", "2021-06-30", "feeds", feed_id]);
    let reply = api
        .get(Call::safe("getFeed", &throttles.get_feed), &url, &[])
        .await?;
    let feed: Feed = client::json("getFeed", &reply)?;
    match feed.processing_status.as_str() {
        "IN_QUEUE" | "IN_PROGRESS" => Ok(Progress::Running),
        "DONE" => {
            let Some(result) = feed.result_feed_document_id else {
                return Ok(Progress::Done(String::new()));
            };
            Ok(Progress::Done(
                result_document(api, &throttles.get_feed_document, &result).await?,
            ))
        }
        other => Ok(Progress::Failed(format!("feed {feed_id} ended {other}"))),
    }
}

/// Waits for the feed to be processed: asks at once, then every `every`. Each feed has its
/// own pace, so one feed slow to process delays no other.
pub async fn finished(
    api: &Api,
    throttles: &Throttles,
    every: std::time::Duration,
    feed_id: &str,
) -> Result<Result<String, String>, ConnectorError> {
    let checks = Throttle::every(every);
    loop {
        checks.ready(std::time::Duration::MAX).await;
        match progress(api, throttles, feed_id).await? {
            Progress::Running => continue,
            Progress::Done(report) => return Ok(Ok(report)),
            Progress::Failed(why) => return Ok(Err(why)),
        }
    }
}

async fn result_document(
    api: &Api,
    budget: &Budget,
    document_id: &str,
) -> Result<String, ConnectorError> {
    let url = api.url(&["feeds", "2021-06-30", "documents", document_id]);
    let reply = api
        .get(Call::safe("getFeedDocument", budget), &url, &[])
        .await?;
    let document: ResultDocument = client::json("getFeedDocument", &reply)?;
    if document.compression_algorithm.is_some() {
        return Err(ConnectorError::permanent(
            "getFeedDocument: compressed processing reports are not read yet",
        ));
    }
    let download: url::Url = document
        .url
        .parse()
        .map_err(|e| ConnectorError::permanent(format!("getFeedDocument: unusable URL: {e}")))?;
    let reply = api
        .http
        .send(
            "downloadFeedDocument",
            Repeat::Safe,
            BodyLimit::page("processing report"),
            |http| http.get(download.clone()),
        )
        .await?;
    Ok(reply.text().into_owned())
}
