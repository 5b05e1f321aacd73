//! What one attempt's outcome means: a [`Reply`] for the connector to read, or a failure
//! classed as a [`ConnectorError`], with whether the marketplace may have acted on it (which
//! decides whether a write may be sent again).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::{Repeat, Reply};
use crate::ConnectorError;

/// A failed attempt, and whether the marketplace may have acted on it.
pub(super) struct Failure {
    pub error: ConnectorError,
    pub processed: bool,
    /// The request reached the marketplace, which counts it against its budgets.
    pub reached: bool,
}

impl Failure {
    pub fn may_repeat(&self, repeat: Repeat) -> bool {
        self.error.is_retryable() && (repeat == Repeat::Safe || !self.processed)
    }

    /// What the caller is told: a write that may have been applied is [`ConnectorError::Uncertain`],
    /// so that nobody sends it again.
    pub fn into_error(self, repeat: Repeat) -> ConnectorError {
        match self.error {
            ConnectorError::Transient(message) if self.processed => repeat.unknown_outcome(message),
            error => error,
        }
    }

    /// No answer: only a refused connection surely never reached the marketplace.
    pub fn unsent(e: reqwest::Error) -> Self {
        Self {
            processed: !e.is_connect(),
            reached: !e.is_connect(),
            error: ConnectorError::Transient(e.without_url().to_string()),
        }
    }

    /// An answer whose body broke off: the request was processed.
    pub fn unread(e: reqwest::Error) -> Self {
        Self {
            processed: true,
            reached: true,
            error: ConnectorError::Transient(format!("reading the body: {}", e.without_url())),
        }
    }
}

impl Repeat {
    /// The error for a call whose effect is unknown (no answer, or one that cannot be read):
    /// a safe call is tried again; a write that must not be repeated is uncertain.
    pub fn unknown_outcome(self, message: String) -> ConnectorError {
        match self {
            Repeat::Safe => ConnectorError::Transient(message),
            Repeat::OnlyIfUnsent => ConnectorError::Uncertain(message),
        }
    }
}

/// 429, 401 and 403, 5xx and 408 are failures; any other answer is the connector's to read.
pub(super) fn classify(reply: Reply) -> Result<Reply, Failure> {
    let status = reply.status;
    let error = match status {
        StatusCode::TOO_MANY_REQUESTS => ConnectorError::RateLimited {
            retry_after: retry_after(&reply.headers),
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            ConnectorError::Auth(format!("HTTP {status}: {}", snippet(&reply.text())))
        }
        s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
            ConnectorError::Transient(format!("HTTP {status}: {}", snippet(&reply.text())))
        }
        _ => return Ok(reply),
    };
    // 429 and 408 say the request was not taken (too many, or not received in time).
    let refused = status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT;
    Err(Failure {
        processed: !refused,
        reached: true,
        error,
    })
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// The start of an error body, enough to recognise it in a log line.
pub fn snippet(text: &str) -> String {
    const MAX: usize = 300;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    fn failure(status: u16) -> Failure {
        let reply = Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Vec::new(),
        };
        classify(reply).err().unwrap()
    }

    #[test]
    fn a_write_that_may_have_been_applied_is_uncertain_and_one_refused_is_not() {
        let uncertain = |e: &ConnectorError| matches!(e, ConnectorError::Uncertain(_));
        // 5xx: the marketplace may have acted before failing.
        assert!(uncertain(&failure(500).into_error(Repeat::OnlyIfUnsent)));
        assert!(!uncertain(&failure(500).into_error(Repeat::Safe)));
        // 408 and 429: the request was not taken; a write may be sent again.
        for status in [408, 429] {
            assert!(failure(status).may_repeat(Repeat::OnlyIfUnsent), "{status}");
            assert!(!uncertain(
                &failure(status).into_error(Repeat::OnlyIfUnsent)
            ));
        }
        // A refusal of the credentials applied nothing.
        assert!(matches!(
            failure(401).into_error(Repeat::OnlyIfUnsent),
            ConnectorError::Auth(_)
        ));
    }

    #[test]
    fn snippets_are_cut_on_a_character_boundary() {
        let long = "é".repeat(400);
        assert_eq!(snippet(&long).chars().count(), 301);
    }
}
