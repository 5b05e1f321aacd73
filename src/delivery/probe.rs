//! Reaching each receiver without telling it anything, for `vigie check-config --online`: the
//! SMTP server is logged in to and left (no mail), a webhook host is connected to and its TLS
//! certificate checked (no HTTP request, so nothing can be posted). Each answers one line
//! saying what was proven, or why it failed; neither ever shows a secret or a URL's path.

use std::sync::Arc;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use rustls_platform_verifier::BuilderVerifierExt as _;
use secrecy::ExposeSecret;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, pki_types::ServerName};
use url::Url;

use super::transport::webhook::host;
use crate::config::{SmtpConfig, SmtpTls};

/// How long a webhook host has to accept the connection and finish the TLS handshake.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects, says EHLO, upgrades the session as configured (STARTTLS, or TLS from the first
/// byte), logs in when credentials are set, and says QUIT: what a send does, without the mail.
pub async fn smtp(config: &SmtpConfig) -> Result<String, String> {
    let failed = |step: &str, e: lettre::transport::smtp::Error| format!("{step}: {e}");
    let tls = || TlsParameters::new(config.host.clone()).map_err(|e| failed("TLS settings", e));
    let implicit = match config.tls {
        SmtpTls::Implicit => Some(tls()?),
        SmtpTls::Starttls | SmtpTls::None => None,
    };
    let hello = ClientId::default();
    let mut session = AsyncSmtpConnection::connect_tokio1(
        (config.host.as_str(), config.port),
        Some(config.timeout),
        &hello,
        implicit,
        None,
    )
    .await
    .map_err(|e| failed("connect", e))?;
    let mut proven = vec!["connected"];
    match config.tls {
        SmtpTls::Starttls => {
            session
                .starttls(tls()?, &hello)
                .await
                .map_err(|e| failed("STARTTLS", e))?;
            proven.push("STARTTLS");
        }
        SmtpTls::Implicit => proven.push("TLS"),
        SmtpTls::None => {}
    }
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        let credentials = Credentials::new(user.clone(), password.expose_secret().to_owned());
        session
            .auth(DEFAULT_MECHANISMS, &credentials)
            .await
            .map_err(|e| failed("AUTH", e))?;
        proven.push("logged in");
    }
    session.quit().await.map_err(|e| failed("QUIT", e))?;
    Ok(format!(
        "{}:{}: {}, no mail sent",
        config.host,
        config.port,
        proven.join(", ")
    ))
}

/// Connects to `url`'s host and, for https, completes the TLS handshake with its certificate
/// checked as a send checks it; then closes. No HTTP request is sent.
pub async fn webhook_host(url: &Url) -> Result<String, String> {
    let shown = host(url);
    let name = url
        .host_str()
        .ok_or_else(|| format!("{shown}: the URL has no host"))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("{shown}: no port for scheme {}", url.scheme()))?;
    let reach = async {
        // An IPv6 host is written in brackets in the URL, not in a socket address.
        let address = name.trim_start_matches('[').trim_end_matches(']');
        let stream = TcpStream::connect((address, port))
            .await
            .map_err(|e| format!("{shown}: cannot connect: {e}"))?;
        if url.scheme() != "https" {
            return Ok(format!("{shown}: connected (plain http), nothing sent"));
        }
        let server = ServerName::try_from(address.to_owned())
            .map_err(|e| format!("{shown}: not a TLS server name: {e}"))?;
        TlsConnector::from(Arc::new(tls_config()?))
            .connect(server, stream)
            .await
            .map_err(|e| format!("{shown}: TLS handshake failed: {e}"))?;
        Ok(format!(
            "{shown}: connected, TLS certificate valid, nothing sent"
        ))
    };
    tokio::time::timeout(WEBHOOK_TIMEOUT, reach)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "{shown}: no answer within {}s",
                WEBHOOK_TIMEOUT.as_secs()
            ))
        })
}

/// The system's trust store, as the webhook client (reqwest with rustls) uses it.
fn tls_config() -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map(|builder| builder.with_no_client_auth())
        .map_err(|e| format!("cannot set up TLS: {e}"))
}
