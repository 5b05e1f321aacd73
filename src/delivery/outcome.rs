//! How a send went, decided in one place for every transport: what is worth trying again and
//! what never will be.

use std::time::Duration;

use vigie_connector::ConnectorError;

/// Why one send did not go through, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    fn transient(message: String) -> Self {
        Self::Transient {
            message,
            retry_after: None,
        }
    }
}

/// An HTTP answer that is not 2xx: 408, 429 and 5xx are worth retrying (429's Retry-After is
/// honoured); any other status is permanent. `host` names the receiver, never its path
/// (which may hold a token).
pub fn http_status(
    host: &str,
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
) -> SendError {
    let message = format!("{host} answered {status}");
    if status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
    {
        SendError::Transient {
            message,
            retry_after,
        }
    } else {
        SendError::Permanent(message)
    }
}

/// A request that got no answer: always worth retrying.
pub fn http_failure(host: &str, e: &reqwest::Error) -> SendError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    SendError::transient(format!("{host} {what}"))
}

/// An SMTP server's refusal: 5xx refuses this message for good (unknown mailbox, policy).
pub fn smtp(e: &lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(format!("smtp: {e}"))
    } else {
        SendError::transient(format!("smtp: {e}"))
    }
}

/// The marketplace's answer to a customer message; "already done" is done.
pub fn marketplace(outcome: Result<(), ConnectorError>) -> Result<(), SendError> {
    match outcome {
        Ok(()) | Err(ConnectorError::AlreadyDone(_)) => Ok(()),
        Err(ConnectorError::RateLimited { retry_after }) => Err(SendError::Transient {
            message: "the marketplace asked to slow down".to_owned(),
            retry_after,
        }),
        // Credentials can be fixed without losing the message.
        Err(e @ (ConnectorError::Transient(_) | ConnectorError::Auth(_))) => {
            Err(SendError::transient(e.to_string()))
        }
        Err(e @ ConnectorError::Permanent { .. }) => Err(SendError::Permanent(e.to_string())),
    }
}
