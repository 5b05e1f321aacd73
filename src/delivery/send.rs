//! One job out the door: what it says (rendered from its payload) and which transport takes
//! it, by destination.

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;
use vigie_connector::Marketplace;

use super::outcome::SendError;
use super::render::{Facts, Notice, Rendered, Templates, alert_formats, context};
use super::transport::smtp::Mailer;
use super::transport::{marketplace, webhook};
use crate::config::{AlertFormat, Config};
use crate::store::outbox::{Destination, Job, Work};

/// Everything a send needs, built once per configuration.
pub(super) struct Sender {
    pub(super) config: Arc<Config>,
    marketplaces: HashMap<String, Arc<dyn Marketplace>>,
    templates: Templates,
    mailer: Option<Mailer>,
    http: reqwest::Client,
}

impl Sender {
    /// Fails on a template or SMTP setting that `check-config` would also reject.
    pub(super) fn new(
        config: Arc<Config>,
        marketplaces: HashMap<String, Arc<dyn Marketplace>>,
    ) -> anyhow::Result<Self> {
        let templates = Templates::load(&config.notify)?;
        let mailer = config
            .smtp
            .as_ref()
            .map(Mailer::new)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            config,
            marketplaces,
            templates,
            mailer,
            http: webhook::client()?,
        })
    }

    /// Sends `job`; a customer message through the marketplace returns the thread it went into.
    pub(super) async fn send(&self, job: &Job) -> Result<Option<String>, SendError> {
        let unreadable =
            |e: serde_json::Error| SendError::Permanent(format!("unreadable outbox payload: {e}"));
        match (&job.work, &job.destination) {
            (Work::Order { .. }, Destination::Events(name)) => {
                let facts = serde_json::from_str(&job.payload).map_err(unreadable)?;
                self.seller_event(job.id, name, &facts).await.map(|()| None)
            }
            (
                Work::Order {
                    channel, order_id, ..
                },
                route,
            ) => {
                let facts = serde_json::from_str(&job.payload).map_err(unreadable)?;
                self.customer_message(job, channel, order_id, route, &facts)
                    .await
            }
            (Work::Alert { .. }, Destination::Alerts(target)) => {
                let notice = serde_json::from_str(&job.payload).map_err(unreadable)?;
                self.alert_notice(job.id, *target, &notice)
                    .await
                    .map(|()| None)
            }
            (Work::Alert { .. }, other) => Err(SendError::Permanent(format!(
                "an alert notice cannot go to {}",
                other.to_text()
            ))),
        }
    }

    async fn customer_message(
        &self,
        job: &Job,
        channel: &str,
        order_id: &str,
        route: &Destination,
        facts: &Facts,
    ) -> Result<Option<String>, SendError> {
        let id = job.id;
        match route {
            Destination::Marketplace => {
                let message = self.render(facts)?;
                let to = self.marketplaces.get(channel).ok_or_else(|| {
                    SendError::Permanent(format!("channel {channel} is not configured"))
                })?;
                marketplace::send(to.as_ref(), order_id, message, job.thread.clone()).await
            }
            Destination::Email => {
                let mailer = self.mailer.as_ref().ok_or_else(|| {
                    SendError::Permanent("e-mail needs an [smtp] section".to_owned())
                })?;
                let to = facts
                    .order
                    .customer
                    .email
                    .as_deref()
                    .filter(|e| !e.trim().is_empty())
                    .ok_or_else(|| {
                        SendError::Permanent(
                            "the marketplace gave no e-mail address for this order".to_owned(),
                        )
                    })?;
                let message = self.render(facts)?;
                mailer.send(to, &message, id).await.map(|()| None)
            }
            Destination::Webhook => {
                let target = self.config.notify.webhook.as_ref().ok_or_else(|| {
                    SendError::Permanent("no [notify.webhook] is configured".to_owned())
                })?;
                let message = self.render(facts)?;
                let body = json!({
                    "delivery_id": id,
                    "event": facts.event,
                    "channel": facts.channel,
                    "order_id": facts.order.id,
                    "order_reference": facts.order.reference,
                    "locale": facts.locale,
                    "to": facts.order.customer.email,
                    "subject": message.subject,
                    "text": message.text,
                    "html": message.html,
                    "order": facts.order,
                });
                self.post_delivery(id, &target.url, target.secret.as_ref(), &body)
                    .await
                    .map(|()| None)
            }
            Destination::Events(_) | Destination::Alerts(_) => Err(SendError::Permanent(format!(
                "a customer message cannot go to {}",
                route.to_text()
            ))),
        }
    }

    async fn seller_event(&self, id: i64, name: &str, facts: &Facts) -> Result<(), SendError> {
        let target = self
            .config
            .events
            .webhook
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| SendError::Permanent(format!("no [[events.webhook]] named {name:?}")))?;
        let body = json!({
            "delivery_id": id,
            "event": facts.event,
            "channel": facts.channel,
            "order_id": facts.order.id,
            "occurred_at": facts.occurred_at,
            "order": facts.order,
        });
        self.post_delivery(id, &target.url, target.secret.as_ref(), &body)
            .await
    }

    /// Every receiver gets the job id as `X-Vigie-Delivery`, the same on every retry, to drop
    /// a repeat by.
    async fn post_delivery(
        &self,
        id: i64,
        url: &Url,
        secret: Option<&SecretString>,
        body: &Value,
    ) -> Result<(), SendError> {
        webhook::post_json(&self.http, url, body, secret, &id.to_string()).await
    }

    async fn alert_notice(&self, id: i64, target: usize, notice: &Notice) -> Result<(), SendError> {
        let target = self.config.alerts.webhook.get(target).ok_or_else(|| {
            SendError::Permanent(format!("alerts.webhook[{target}] is no longer configured"))
        })?;
        // The order's page, when the pages have a public address.
        let link = notice
            .alert
            .order
            .as_deref()
            .and_then(|order| order.split_once(':'))
            .and_then(|(channel, order_id)| self.config.web.order_url(channel, order_id));
        let link = link.as_ref();
        let body: Value = match target.format {
            AlertFormat::Generic => alert_formats::generic(notice, link),
            AlertFormat::Slack => alert_formats::slack(notice, link),
            AlertFormat::Pagerduty => {
                let key = target
                    .routing_key
                    .as_ref()
                    .map(|k| k.expose_secret().to_owned())
                    .unwrap_or_default();
                alert_formats::pagerduty(notice, &key, link)
            }
        };
        let signed = match target.format {
            AlertFormat::Generic => target.secret.as_ref(),
            AlertFormat::Slack | AlertFormat::Pagerduty => None,
        };
        self.post_delivery(id, &target.url, signed, &body).await
    }

    /// Renders in the locale chosen at the event, or the configured one if its templates are
    /// gone since.
    fn render(&self, facts: &Facts) -> Result<Rendered, SendError> {
        let locale = if self.templates.has_locale(&facts.locale) {
            facts.locale.as_str()
        } else {
            self.config.notify.locale.as_str()
        };
        let context = context(&self.config, facts, locale);
        self.templates
            .render(locale, facts.event, &context)
            .map_err(|e| SendError::Permanent(format!("template {e}")))
    }
}
