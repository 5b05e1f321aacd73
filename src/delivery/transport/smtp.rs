//! E-mail over SMTP (lettre, tokio, rustls): STARTTLS, implicit TLS, or plain on loopback.

use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{SmtpConfig, SmtpTls};
use crate::delivery::outcome::{self, SendError};
use crate::delivery::render::Rendered;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    pub fn new(config: &SmtpConfig) -> Result<Self, String> {
        let builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| format!("smtp: {e}"))?,
            SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| format!("smtp: {e}"))?,
        };
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        let from = config.from.parse().map_err(|e| format!("smtp.from: {e}"))?;
        let reply_to = config
            .reply_to
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| format!("smtp.reply_to: {e}"))?;
        Ok(Self {
            transport: builder.build(),
            from,
            reply_to,
        })
    }

    /// Sends `message` to `to`. `delivery` makes the Message-ID stable across retries, so a
    /// mail system that saw the first attempt can recognise the second.
    pub async fn send(&self, to: &str, message: &Rendered, delivery: i64) -> Result<(), SendError> {
        let to: Mailbox = to.trim().parse().map_err(|e| {
            SendError::Permanent(format!("the customer address is not usable: {e}"))
        })?;
        let domain = self.from.email.domain().to_owned();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<vigie-{delivery}@{domain}>")));
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let email = match &message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                html.clone(),
            )),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(message.text.clone()),
        }
        .map_err(|e| SendError::Permanent(format!("cannot build the e-mail: {e}")))?;
        self.transport
            .send(email)
            .await
            .map(drop)
            .map_err(|e| outcome::smtp(&e))
    }
}
