//! An SMTP server on 127.0.0.1:0 that records every message it accepts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::{Rng, lock};

/// One message as the SMTP server received it.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub auth: Option<String>,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: String,
}

/// A minimal SMTP server: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT. It answers
/// the replies given to [`SmtpSink::refuse_next`] (e.g. "451 4.3.0 try later") instead of
/// 250 for the next messages, and can drop the connection after taking a message
/// ([`SmtpSink::drop_after_data`]).
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    /// Connections opened to it so far.
    connections: Arc<AtomicUsize>,
    refusals: Arc<Mutex<Vec<String>>>,
    /// Share of messages taken and then left without the final reply, and its draws.
    drops: Arc<Mutex<Option<(f64, Rng)>>>,
}

impl SmtpSink {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let sink = Self {
            port,
            received: Arc::default(),
            connections: Arc::default(),
            refusals: Arc::default(),
            drops: Arc::default(),
        };
        let server = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                server.connections.fetch_add(1, Ordering::Relaxed);
                let server = server.clone();
                tokio::spawn(async move {
                    if let Err(e) = server.session(socket).await {
                        tracing::debug!("SMTP sink session ended: {e}");
                    }
                });
            }
        });
        Ok(sink)
    }

    /// Answers `reply` to the end of DATA for the next messages, one per call.
    pub fn refuse_next(&self, reply: &str) {
        lock(&self.refusals).push(reply.to_owned());
    }

    /// From now on, a share `rate` of the messages (drawn from `seed`) is kept, and the
    /// connection closed before the reply to DATA: the sender cannot tell it was taken.
    pub fn drop_after_data(&self, rate: f64, seed: u64) {
        *lock(&self.drops) = Some((rate, Rng::new(seed)));
    }

    /// Every message accepted so far, in order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.received).clone()
    }

    /// How many messages were accepted so far.
    pub fn count(&self) -> usize {
        lock(&self.received).len()
    }

    /// How many connections were opened to it so far (a sender keeping one open for several
    /// messages opens fewer than it sends).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    fn draw_drop(&self) -> bool {
        match &mut *lock(&self.drops) {
            Some((rate, rng)) => rng.chance(*rate),
            None => false,
        }
    }

    async fn session(&self, socket: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink.test ESMTP\r\n").await?;
        let mut current = Received::default();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_owned();
            let upper = command.to_ascii_uppercase();
            let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                "250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN".to_owned()
            } else if let Some(plain) = command.strip_prefix("AUTH PLAIN ") {
                current.auth = Some(plain.to_owned());
                "235 2.7.0 accepted".to_owned()
            } else if let Some(from) = after_verb(&command, &upper, "MAIL FROM:") {
                from.clone_into(&mut current.mail_from);
                "250 2.1.0 ok".to_owned()
            } else if let Some(to) = after_verb(&command, &upper, "RCPT TO:") {
                current.rcpt_to.push(to.to_owned());
                "250 2.1.5 ok".to_owned()
            } else if upper == "DATA" {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    // Dot-stuffing (RFC 5321 4.5.2).
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                current.data = data;
                let refusal = {
                    let mut refusals = lock(&self.refusals);
                    (!refusals.is_empty()).then(|| refusals.remove(0))
                };
                // AUTH holds for the whole session; the envelope is per message.
                let auth = current.auth.clone();
                let message = std::mem::take(&mut current);
                current.auth = auth;
                match refusal {
                    Some(reply) => reply,
                    None => {
                        lock(&self.received).push(message);
                        if self.draw_drop() {
                            return Ok(()); // taken, and the connection closed unanswered
                        }
                        "250 2.0.0 queued".to_owned()
                    }
                }
            } else if upper == "RSET" || upper == "NOOP" {
                "250 2.0.0 ok".to_owned()
            } else if upper == "QUIT" {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            } else {
                "502 5.5.2 not implemented".to_owned()
            };
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }
}

/// What follows `verb` (compared without case) in `command`, trimmed.
fn after_verb<'a>(command: &'a str, upper: &str, verb: &str) -> Option<&'a str> {
    upper
        .starts_with(verb)
        .then(|| command.get(verb.len()..))
        .flatten()
        .map(str::trim)
}
