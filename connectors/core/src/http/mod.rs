//! The HTTP client every connector sends through: one per channel, paced by a [`Throttle`],
//! retrying with exponential backoff and jitter what is safe to repeat, honouring
//! `Retry-After` up to `max_wait`, reading at most a [`BodyLimit`] of each answer. What each
//! answer means is [`classify`]'s job.
//!
//! Connectors never put a credential in a URL: reqwest's errors quote the URL.

mod body;
mod classify;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::{ConnectorError, Throttle};

pub use self::body::{BodyError, BodyLimit, read_capped};
pub use self::classify::snippet;
use self::classify::{Failure, classify};

/// Whether a request may be sent again after it might have reached the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, and writes whose repetition is harmless (absolute stock quantities, decisions
    /// the marketplace refuses twice): retried on any transient failure.
    Safe,
    /// Writes that would be applied twice (a customer message): retried only when the
    /// marketplace surely did not process the first attempt (connection refused, 429).
    OnlyIfUnsent,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Whole-request timeout; `None` only in tests that pause tokio's clock.
    pub timeout: Option<Duration>,
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest any one wait may last: a budget, a backoff, a `Retry-After`. The
    /// application sets it (`[daemon] max_retry_wait`) when it builds the channel.
    pub max_wait: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Some(Duration::from_secs(30)),
            max_retries: 4,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_wait: Duration::from_secs(600),
        }
    }
}

/// A marketplace's answer that is not a transport failure, 429, 5xx, 401 or 403: the
/// connector reads 2xx bodies and interprets the remaining 4xx in its protocol's terms.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// One channel's HTTP client; clones share the connection pool and the pace.
#[derive(Debug, Clone)]
pub struct ChannelClient {
    http: reqwest::Client,
    channel: Arc<str>,
    pace: Throttle,
    settings: HttpSettings,
}

impl ChannelClient {
    /// `pace` applies to every request of the channel; connectors add their own per-operation
    /// throttles on top where the marketplace publishes per-endpoint limits.
    pub fn new(
        channel: &str,
        pace: Throttle,
        settings: HttpSettings,
    ) -> Result<Self, ConnectorError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10));
        if let Some(timeout) = settings.timeout {
            builder = builder.timeout(timeout);
        }
        let http = builder
            .build()
            .map_err(|e| ConnectorError::permanent(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            channel: channel.into(),
            pace,
            settings,
        })
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Sends the request `build` makes, as many times as `repeat` and the settings allow.
    /// `endpoint` names the operation in metrics and logs (e.g. `OR11`, `orders_query`);
    /// an answer larger than `limit` fails the call for good.
    pub async fn send<F>(
        &self,
        endpoint: &'static str,
        repeat: Repeat,
        limit: BodyLimit,
        build: F,
    ) -> Result<Reply, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        self.send_paced(endpoint, repeat, None, limit, build).await
    }

    /// Like [`send`](Self::send), and every attempt, retries included, also waits for
    /// `endpoint_pace`: a retry is a call the marketplace counts against the endpoint's budget.
    ///
    /// A `Retry-After` longer than `max_wait` is not obeyed: the call waits `max_wait` and
    /// gives up as [`ConnectorError::RateLimited`] with the wait the marketplace asked for, so
    /// the caller can tell on-call.
    pub async fn send_paced<F>(
        &self,
        endpoint: &'static str,
        repeat: Repeat,
        endpoint_pace: Option<&Throttle>,
        limit: BodyLimit,
        build: F,
    ) -> Result<Reply, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let max_wait = self.settings.max_wait;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.min_backoff.min(max_wait))
            .with_max_delay(self.settings.max_backoff.min(max_wait))
            .with_max_times(self.settings.max_retries)
            .with_jitter();
        // A refused connection never reached the marketplace: its retry takes the place in
        // the endpoint's budget the refused attempt paid for, instead of waiting for another
        // (an unreachable Mirakl would otherwise take a minute of OR11 budget per retry).
        let place_unused = AtomicBool::new(false);
        let attempt = || async {
            if let Some(pace) = endpoint_pace
                && !place_unused.load(Ordering::Relaxed)
            {
                pace.ready(max_wait).await;
            }
            self.pace.ready(max_wait).await;
            let outcome = self.attempt(build(&self.http), limit).await;
            place_unused.store(
                matches!(&outcome, Err(failure) if !failure.reached),
                Ordering::Relaxed,
            );
            let label = match &outcome {
                Ok(reply) if reply.status.is_success() => "ok",
                Ok(_) => "client_error",
                Err(failure) => failure.error.class(),
            };
            metrics::counter!("vigie_api_calls_total",
                "channel" => self.channel.to_string(), "endpoint" => endpoint, "outcome" => label)
            .increment(1);
            outcome
        };
        let asks_too_long = |failure: &Failure| {
            matches!(failure.error,
                ConnectorError::RateLimited { retry_after: Some(wait) } if wait > max_wait)
        };
        let outcome = attempt
            .retry(backoff)
            .sleep(crate::wait::wait)
            .when(|failure: &Failure| failure.may_repeat(repeat))
            .adjust(|failure, delay| {
                // Retry-After replaces our own delay, but only while retries remain; one
                // longer than the cap ends the retries (waited below).
                match failure.error {
                    _ if asks_too_long(failure) => None,
                    ConnectorError::RateLimited {
                        retry_after: Some(wait),
                    } => delay.map(|_| wait),
                    _ => delay,
                }
            })
            .notify(|failure, delay| {
                tracing::warn!(channel = %self.channel, endpoint, error = %failure.error,
                    "retrying in {:.1}s", delay.as_secs_f64());
            })
            .await;
        match outcome {
            Ok(reply) => Ok(reply),
            Err(failure) if asks_too_long(&failure) => {
                tracing::warn!(channel = %self.channel, endpoint, error = %failure.error,
                    "the marketplace asks for a longer pause than max_retry_wait: waiting {}s",
                    max_wait.as_secs());
                crate::wait::wait(max_wait).await;
                Err(failure.into_error(repeat))
            }
            Err(failure) => Err(failure.into_error(repeat)),
        }
    }

    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
        limit: BodyLimit,
    ) -> Result<Reply, Failure> {
        let response = request.send().await.map_err(Failure::unsent)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response, limit).await.map_err(|e| match e {
            BodyError::Broken(e) => Failure::unread(e),
            BodyError::TooLarge(limit) => Failure {
                processed: true,
                reached: true,
                error: ConnectorError::permanent(format!(
                    "{} from {} larger than {limit}",
                    limit.what, self.channel
                )),
            },
        })?;
        classify(Reply {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const PAGE: BodyLimit = BodyLimit::page("order page");

    fn client() -> ChannelClient {
        let settings = HttpSettings {
            timeout: None,
            ..HttpSettings::default()
        };
        ChannelClient::new("test", Throttle::unlimited(), settings).unwrap()
    }

    async fn server_answering(statuses: &[ResponseTemplate]) -> MockServer {
        let server = MockServer::start().await;
        for template in statuses {
            Mock::given(method("GET"))
                .respond_with(template.clone())
                .up_to_n_times(1)
                .with_priority(1)
                .mount(&server)
                .await;
        }
        server
    }

    async fn get(
        client: &ChannelClient,
        server: &MockServer,
        repeat: Repeat,
    ) -> Result<Reply, ConnectorError> {
        let url = server.uri();
        client
            .send("test", repeat, PAGE, |http| http.get(&url))
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn retries_server_errors_until_success() {
        let server = server_answering(&[
            ResponseTemplate::new(503),
            ResponseTemplate::new(502),
            ResponseTemplate::new(200).set_body_string("fine"),
        ])
        .await;
        let reply = get(&client(), &server, Repeat::Safe).await.unwrap();
        assert_eq!(reply.text(), "fine");
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_as_transient_after_the_last_retry() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
            .mount(&server)
            .await;
        let error = get(&client(), &server, Repeat::Safe).await.unwrap_err();
        assert_eq!(
            error,
            ConnectorError::Transient("HTTP 500 Internal Server Error: boom".into())
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_repeat_a_write_the_server_may_have_applied() {
        let server =
            server_answering(&[ResponseTemplate::new(503), ResponseTemplate::new(200)]).await;
        let error = get(&client(), &server, Repeat::OnlyIfUnsent)
            .await
            .unwrap_err();
        assert!(matches!(error, ConnectorError::Uncertain(_)), "{error:?}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_even_for_writes() {
        let server = server_answering(&[
            ResponseTemplate::new(429).insert_header("Retry-After", "42"),
            ResponseTemplate::new(204),
        ])
        .await;
        let start = tokio::time::Instant::now();
        let reply = get(&client(), &server, Repeat::OnlyIfUnsent).await.unwrap();
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        // Our own first delay would be about a second; only Retry-After explains 42 s.
        // (No upper bound: while real sockets wait, paused time jumps to the next timer.)
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(42), "waited only {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_connection_does_not_spend_the_endpoint_budget() {
        // A port nothing listens on any more: every connection is refused.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let hourly = Throttle::every(Duration::from_secs(3600));
        let start = tokio::time::Instant::now();
        let error = client()
            .send_paced("test", Repeat::Safe, Some(&hourly), PAGE, |http| {
                http.get(&url)
            })
            .await
            .unwrap_err();
        assert!(matches!(error, ConnectorError::Transient(_)), "{error:?}");
        // Four retries on the backoff alone: not even one wait for the budget, which the
        // client caps at `max_wait`.
        let waited = start.elapsed();
        let max_wait = HttpSettings::default().max_wait;
        assert!(waited < max_wait, "waited {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn auth_failures_are_not_retried() {
        let server =
            server_answering(&[ResponseTemplate::new(401), ResponseTemplate::new(200)]).await;
        let error = get(&client(), &server, Repeat::Safe).await.unwrap_err();
        assert!(matches!(error, ConnectorError::Auth(_)), "{error:?}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn other_client_errors_are_left_to_the_connector() {
        let server =
            server_answering(&[ResponseTemplate::new(400).set_body_string("{\"message\":\"no\"}")])
                .await;
        let reply = get(&client(), &server, Repeat::Safe).await.unwrap();
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.text(), "{\"message\":\"no\"}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_connection_is_retried_even_for_writes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let client = client();
        let start = tokio::time::Instant::now();
        let error = client
            .send("test", Repeat::OnlyIfUnsent, PAGE, |http| http.post(&url))
            .await
            .unwrap_err();
        assert!(matches!(error, ConnectorError::Transient(_)));
        // four backoff sleeps happened: the attempts were repeated
        assert!(
            start.elapsed() >= Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retries_wait_for_the_endpoint_budget_too() {
        let server =
            server_answering(&[ResponseTemplate::new(503), ResponseTemplate::new(200)]).await;
        let url = server.uri();
        let budget = Throttle::every(Duration::from_secs(15));
        let start = tokio::time::Instant::now();
        let reply = client()
            .send_paced("test", Repeat::Safe, Some(&budget), PAGE, |http| {
                http.get(&url)
            })
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        // the retry waited for the endpoint's next slot, not only for the backoff
        assert!(
            start.elapsed() >= Duration::from_secs(15),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_beyond_the_cap_waits_the_cap_and_gives_up() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "86400"))
            .mount(&server)
            .await;
        let start = tokio::time::Instant::now();
        let error = get(&client(), &server, Repeat::Safe).await.unwrap_err();
        let waited = start.elapsed();
        assert_eq!(
            error,
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(86_400))
            }
        );
        // the cap (10 min by default), not the day asked for; and no retry sooner than asked
        assert!(waited >= Duration::from_secs(600), "waited only {waited:?}");
        assert!(waited < Duration::from_secs(86_400), "waited {waited:?}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    /// A server answering 200 with a body of `total` bytes sent lazily in chunks (declared
    /// up front when `declared`); returns its URL and how many bytes it managed to write
    /// before the client hung up.
    async fn endless_body_server(
        total: u64,
        declared: bool,
    ) -> (String, tokio::task::JoinHandle<u64>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            let head = if declared {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n")
            } else {
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned()
            };
            if socket.write_all(head.as_bytes()).await.is_err() {
                return 0;
            }
            let chunk = vec![b'x'; 64 * 1024];
            let mut written = 0;
            while written < total {
                let sent = if declared {
                    socket.write_all(&chunk).await
                } else {
                    let framed =
                        [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                    socket.write_all(&framed).await
                };
                if sent.is_err() {
                    break;
                }
                written += chunk.len() as u64;
            }
            written
        });
        (url, served)
    }

    #[tokio::test]
    async fn reading_stops_at_the_cap_and_fails_for_good() {
        const MIB: u64 = 1024 * 1024;
        let total = 100 * MIB;
        let cap = BodyLimit::new("order page", MIB);
        for declared in [false, true] {
            let (url, served) = endless_body_server(total, declared).await;
            let error = client()
                .send("test", Repeat::Safe, cap, |http| http.get(&url))
                .await
                .unwrap_err();
            assert_eq!(
                error,
                ConnectorError::permanent("order page from test larger than 1 MiB")
            );
            let written = served.await.unwrap();
            println!("content-length declared: {declared}; the server wrote {written} bytes");
            // The client hung up at the cap: what the server wrote beyond it sits in the
            // sockets' buffers, never in the client's memory.
            assert!(written < total / 4, "the server wrote {written} bytes");
        }
    }
}
