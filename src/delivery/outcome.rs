//! How a send went, decided in one place for every transport: what is worth trying again,
//! what never will be, and what may have arrived already.
//!
//! The rule: only an answer that proves nothing was applied may be retried (a refused
//! connection, 408, 429, an SMTP 4xx refusal). A send that may have been applied (5xx, a
//! timeout, a connection dropped once the request left) is [`SendError::Uncertain`]: sent
//! again it could reach its receiver twice, so it is alerted instead, as after a crash.

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
    /// It may have arrived: never sent again.
    #[error("{0}")]
    Uncertain(String),
}

impl SendError {
    fn transient(message: String) -> Self {
        Self::Transient {
            message,
            retry_after: None,
        }
    }
}

/// An HTTP answer that is not 2xx: 408 and 429 say the request was not taken, and are retried
/// (429's Retry-After is honoured); a 5xx may come after the receiver acted, so it is
/// uncertain; any other status is permanent. `host` names the receiver, never its path
/// (which may hold a token).
pub fn http_status(
    host: &str,
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
) -> SendError {
    let message = format!("{host} answered {status}");
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
    {
        SendError::Transient {
            message,
            retry_after,
        }
    } else if status.is_server_error() {
        SendError::Uncertain(message)
    } else {
        SendError::Permanent(message)
    }
}

/// A request that got no answer: retried only when the connection was never made; once the
/// request may have left, uncertain.
pub fn http_failure(host: &str, e: &reqwest::Error) -> SendError {
    if e.is_connect() {
        return SendError::transient(format!("{host} connection failed"));
    }
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    SendError::Uncertain(format!("{host} {what}"))
}

/// An SMTP server's answer: a 5xx reply refuses this message for good (unknown mailbox,
/// policy); a 4xx reply, or no connection at all, took nothing and is retried; a connection
/// lost in the middle of the session (perhaps after the message data) is uncertain.
pub fn smtp(e: &lettre::transport::smtp::Error) -> SendError {
    let message = format!("smtp: {e}");
    if e.is_permanent() {
        SendError::Permanent(message)
    } else if e.is_transient() || e.is_tls() || e.is_client() || never_connected(e) {
        SendError::transient(message)
    } else {
        SendError::Uncertain(message)
    }
}

/// Whether the SMTP server could not be reached at all: lettre reports a failed connect with
/// the socket's own error (its async transport has no read timeout, so a timeout is the
/// connect's).
fn never_connected(e: &lettre::transport::smtp::Error) -> bool {
    use std::io::ErrorKind;
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::TimedOut
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::AddrNotAvailable
            );
        }
        source = cause.source();
    }
    false
}

/// The marketplace's answer to a customer message, and the thread it went into. "Already
/// done" (the order is no longer in a state that takes a message) means it was not posted:
/// failed, never taken for delivered.
pub fn marketplace<T>(outcome: Result<T, ConnectorError>) -> Result<T, SendError> {
    match outcome {
        Ok(sent) => Ok(sent),
        Err(ConnectorError::AlreadyDone(message)) => Err(SendError::Permanent(format!(
            "the marketplace did not post it: {message}"
        ))),
        Err(ConnectorError::RateLimited { retry_after }) => Err(SendError::Transient {
            message: "the marketplace asked to slow down".to_owned(),
            retry_after,
        }),
        // Credentials can be fixed without losing the message.
        Err(e @ (ConnectorError::Transient(_) | ConnectorError::Auth(_))) => {
            Err(SendError::transient(e.to_string()))
        }
        Err(e @ ConnectorError::Permanent { .. }) => Err(SendError::Permanent(e.to_string())),
        Err(e @ ConnectorError::Uncertain(_)) => Err(SendError::Uncertain(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;

    use super::*;

    #[test]
    fn only_an_answer_that_proves_nothing_was_taken_is_retried() {
        let of = |status: u16| http_status("erp.test", StatusCode::from_u16(status).unwrap(), None);
        for status in [408, 429] {
            assert!(
                matches!(of(status), SendError::Transient { .. }),
                "{status}"
            );
        }
        for status in [500, 502, 503, 504] {
            assert!(matches!(of(status), SendError::Uncertain(_)), "{status}");
        }
        for status in [400, 404, 410, 422] {
            assert!(matches!(of(status), SendError::Permanent(_)), "{status}");
        }
        let taken = ConnectorError::Uncertain("HTTP 500".to_owned());
        assert!(matches!(
            marketplace::<()>(Err(taken)),
            Err(SendError::Uncertain(_))
        ));
        // An order past messaging: the message was not posted.
        let closed = ConnectorError::AlreadyDone("OR43: ORDER_INVALID_STATE".to_owned());
        assert!(matches!(
            marketplace::<()>(Err(closed)),
            Err(SendError::Permanent(m)) if m.contains("did not post it")
        ));
    }
}
