//! What the demo stands in for on the seller's side: an SMTP server that accepts every
//! message and an on-call endpoint that records every alert. Both listen on 127.0.0.1:0.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Counts of what arrived, by kind.
#[derive(Clone, Default)]
pub struct Tally(Arc<Mutex<BTreeMap<String, u64>>>);

impl Tally {
    fn add(&self, kind: &str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind.to_owned())
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

/// An SMTP server speaking just enough of RFC 5321 to receive mail; tallies messages by
/// subject line.
pub async fn smtp_sink() -> std::io::Result<(SocketAddr, Tally)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let tally = Tally::default();
    let received = tally.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let received = received.clone();
            tokio::spawn(async move {
                if let Err(e) = smtp_session(socket, &received).await {
                    tracing::debug!("demo SMTP session ended: {e}");
                }
            });
        }
    });
    Ok((addr, tally))
}

async fn smtp_session(socket: tokio::net::TcpStream, received: &Tally) -> std::io::Result<()> {
    let (reader, mut writer) = socket.into_split();
    let mut lines = BufReader::new(reader).lines();
    writer.write_all(b"220 vigie-demo ESMTP\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 vigie-demo\r\n",
            "DATA" => {
                writer.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut subject = String::from("(no subject)");
                while let Some(data) = lines.next_line().await? {
                    if data == "." {
                        break;
                    }
                    if let Some(s) = data.strip_prefix("Subject: ") {
                        subject = s.to_owned();
                    }
                }
                received.add(&subject);
                b"250 queued\r\n"
            }
            "QUIT" => {
                writer.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        writer.write_all(reply).await?;
    }
    Ok(())
}

/// An HTTP endpoint for `format = "generic"` alerts; tallies them by kind (resolves apart).
pub async fn alert_receiver() -> std::io::Result<(SocketAddr, Tally)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let tally = Tally::default();
    let app = Router::new()
        .route("/alerts", post(receive_alert))
        .with_state(tally.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, tally))
}

async fn receive_alert(State(tally): State<Tally>, body: axum::body::Bytes) -> &'static str {
    let alert: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let kind = alert["kind"].as_str().unwrap_or("unknown");
    if alert["resolved"].as_bool() == Some(true) {
        tally.add(&format!("{kind} (resolved)"));
    } else {
        tally.add(kind);
    }
    "ok"
}
