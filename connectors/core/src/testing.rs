//! Shorthands for connector crates' tests (feature `test-support`): the values every
//! connector test builds, and the assertions they all make, on the wire and on settings.

use std::time::Duration;

use tokio::time::Instant;

use serde_json::Value;

use crate::spec::{ChannelSettings, ChannelSpec, KeyError, read_inline};
use crate::{ConnectorError, CustomerMessage, HttpSettings, LineDecision, StockLevel, StockUpdate};

/// HTTP settings as tests want them: no timeout (they pause tokio's clock), `max_retries`
/// after the first try, backoff from `min_backoff` to `max_backoff`.
pub fn retrying(max_retries: usize, min_backoff: Duration, max_backoff: Duration) -> HttpSettings {
    HttpSettings {
        timeout: None,
        max_retries,
        min_backoff,
        max_backoff,
        ..HttpSettings::default()
    }
}

pub fn stock(sku: &str, quantity: u32) -> StockUpdate {
    StockUpdate {
        sku: sku.into(),
        quantity,
    }
}

pub fn level(sku: &str, quantity: u32) -> StockLevel {
    StockLevel {
        sku: sku.into(),
        quantity,
    }
}

pub fn decision(line_id: &str, accept: bool) -> LineDecision {
    LineDecision {
        line_id: line_id.into(),
        accept,
    }
}

/// The first message of an order: no thread yet.
pub fn message(subject: &str, body: &str) -> CustomerMessage {
    CustomerMessage {
        subject: subject.into(),
        body: body.into(),
        thread: None,
    }
}

/// At least `at_least` went by since `start`. Only a lower bound: paused tokio time also
/// jumps ahead while real sockets wait.
#[track_caller]
pub fn assert_waited(start: Instant, at_least: Duration) {
    let elapsed = start.elapsed();
    assert!(elapsed >= at_least, "{elapsed:?}");
}

/// `error` is a permanent refusal carrying the marketplace's `code`.
#[track_caller]
pub fn assert_permanent_code(error: &ConnectorError, code: &str) {
    assert!(
        matches!(error, ConnectorError::Permanent { code: Some(c), .. } if c == code),
        "{error:?}"
    );
}

/// How `S` refuses `table` with `key` set to `value`.
#[track_caller]
pub fn refused_with<S: ChannelSpec>(table: &Value, key: &str, value: Value) -> KeyError {
    let mut table = table.clone();
    table[key] = value;
    read_inline::<S>(table).unwrap_err()
}

/// The one-line summary says `expected` and hides the secret (test tables write it
/// `SECRET-…`), and the settings build a client.
#[track_caller]
pub fn assert_summary_and_build(settings: &dyn ChannelSettings, expected: &str) {
    let summary = settings.summary();
    assert!(summary.contains(expected), "{summary}");
    assert!(!summary.contains("SECRET"), "{summary}");
    let bounds = crate::spec::Bounds {
        max_wait: Duration::from_secs(600),
    };
    assert!(settings.build("test", bounds).is_ok());
}

/// One order's decision through the batched [`Marketplace::decide`]: its one answer.
pub async fn decide_one(
    market: &dyn crate::Marketplace,
    order_id: &str,
    lines: &[LineDecision],
) -> Result<(), ConnectorError> {
    let decision = crate::OrderDecision {
        order_id: order_id.into(),
        lines: lines.to_vec(),
    };
    let mut answers = market.decide(std::slice::from_ref(&decision)).await?;
    answers
        .pop()
        .unwrap_or_else(|| Err(ConnectorError::permanent("no answer for the order")))
}
