//! `check-config`'s template check and `vigie notify preview`.

use std::path::PathBuf;

use anyhow::Context;

use super::facts::{self, Facts, sample_facts};
use super::templates::{TemplateError, Templates};
use crate::config::{Config, ConfigError};
use crate::events::OrderEvent;
use crate::store::{Store, order_facts};

/// Renders every template of every locale against a sample order, once with every optional
/// fact present and once with none, and checks each configured locale has templates. The
/// error names the template file (or the configuration key).
pub fn check(config: &Config) -> Result<(), ConfigError> {
    let templates = Templates::load(&config.notify).map_err(template_error)?;
    let mut wanted = vec![("notify.locale".to_owned(), config.notify.locale.clone())];
    for (channel, c) in &config.notify.channels {
        wanted.push((format!("notify.channel.{channel}.locale"), c.locale.clone()));
    }
    for (key, locale) in wanted {
        if !templates.has_locale(&locale) {
            return Err(ConfigError {
                file: config.file.clone(),
                key,
                message: format!(
                    "no templates for locale {locale:?} (built-in: fr, en; others go in {}/{locale}/)",
                    config.notify.templates_dir.display()
                ),
            });
        }
    }
    // Both sides of `{% if shop_name %}`, too.
    let mut named = config.clone();
    if named.daemon.shop_name.is_empty() {
        named.daemon.shop_name = "Ma Boutique".to_owned();
    }
    let mut anonymous = config.clone();
    anonymous.daemon.shop_name = String::new();
    for locale in templates.locales() {
        for event in OrderEvent::FOR_CUSTOMERS {
            for (full, config) in [(true, &named), (false, &anonymous)] {
                let facts = sample_facts(event, locale, full);
                let context = facts::context(config, &facts, locale);
                templates
                    .render(locale, event, &context)
                    .map_err(template_error)?;
            }
        }
    }
    Ok(())
}

fn template_error(e: TemplateError) -> ConfigError {
    ConfigError {
        file: PathBuf::from(e.file),
        key: String::new(),
        message: e.message,
    }
}

/// The message `event` would send, rendered for `locale` (default: the order's, else the
/// configured one) from a stored order (`(channel, order_id)`) or a sample one.
pub fn preview(
    config: &Config,
    store: Option<&Store>,
    event: OrderEvent,
    locale: Option<&str>,
    order: Option<(&str, &str)>,
) -> anyhow::Result<String> {
    let templates = Templates::load(&config.notify)?;
    let facts = match order {
        None => {
            let locale = locale.unwrap_or(&config.notify.locale);
            let mut facts = sample_facts(event, locale, true);
            if let Some((name, _)) = config.notify.channels.iter().next() {
                facts.channel = name.clone();
            }
            facts
        }
        Some((channel, order_id)) => {
            let store = store.context("previewing a stored order needs the database")?;
            stored_facts(config, store, channel, order_id, event)?
        }
    };
    let locale = locale.unwrap_or(&facts.locale);
    anyhow::ensure!(
        templates.has_locale(locale),
        "no templates for locale {locale:?}"
    );
    let context = facts::context(config, &facts, locale);
    let rendered = templates.render(locale, event, &context)?;
    let mut out = format!("Subject: {}\n\n{}", rendered.subject, rendered.text);
    if let Some(html) = rendered.html {
        out.push_str("\n--- text/html ---\n");
        out.push_str(&html);
    }
    Ok(out)
}

fn stored_facts(
    config: &Config,
    store: &Store,
    channel: &str,
    order_id: &str,
    event: OrderEvent,
) -> anyhow::Result<Facts> {
    let found = store.with(|conn| {
        let Some((pk, order)) = order_facts::find(conn, channel, order_id)? else {
            return Ok(None);
        };
        let now = crate::store::now_text();
        facts::gather(conn, config, channel, pk, event, &order, &now).map(Some)
    })?;
    found.context("no such order in the database")
}
