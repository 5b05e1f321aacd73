use std::time::Duration;

/// What went wrong with a marketplace call, classified by what the caller should do next.
///
/// Messages carry the marketplace's own words (trimmed), never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// 5xx, timeouts, connection failures: back off and try again.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// A write that must not be repeated (a customer message) may have been applied: the
    /// marketplace answered 5xx, timed out or dropped the connection after the request left.
    /// Never retried: sent again, it could reach the customer twice.
    #[error("may have been applied: {0}")]
    Uncertain(String),
    /// The marketplace asked us to slow down (HTTP 429); wait at least `retry_after` when given.
    #[error("rate limited{}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// Credentials refused (401/403 or the marketplace's own auth error): alert, stop hammering.
    #[error("authentication refused: {0}")]
    Auth(String),
    /// The action was already applied (e.g. the order is no longer awaiting acceptance):
    /// re-read the order and reconcile, do not fail.
    #[error("already done: {0}")]
    AlreadyDone(String),
    /// The request itself is wrong or the payload cannot be understood: quarantine that item,
    /// alert, carry on. `code` is the marketplace's symbolic code when it sent one.
    #[error("rejected{}: {message}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Permanent {
        code: Option<String>,
        message: String,
    },
}

impl ConnectorError {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            code: None,
            message: message.into(),
        }
    }

    /// Short, stable label for metrics and logs.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Transient(_) => "transient",
            Self::Uncertain(_) => "uncertain",
            Self::RateLimited { .. } => "rate_limited",
            Self::Auth(_) => "auth",
            Self::AlreadyDone(_) => "already_done",
            Self::Permanent { .. } => "permanent",
        }
    }

    /// Whether trying the same call again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient(_) | Self::RateLimited { .. })
    }
}
