//! Customer message templates: `<locale>/<event>.subject.txt`, `.body.txt` and an optional
//! `.body.html` (autoescaped), rendered with minijinja, strict about undefined variables.
//!
//! A templates directory overrides the built-in French and English sets one (locale, event)
//! at a time: if it holds any file for that pair, the whole set comes from it (so a custom
//! text body never travels with a stale built-in HTML one).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::config::{BUILT_IN_LOCALES, NotifyConfig};
use crate::domain::customer::CustomerFacts;
use crate::events::OrderEvent;

/// The three parts of one template set.
pub const PARTS: [&str; 3] = ["subject.txt", "body.txt", "body.html"];

/// A template that cannot be read, compiled or rendered, and where it lives.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {message}")]
pub struct TemplateError {
    /// A path in the templates directory, or `built-in:fr/received.body.txt`.
    pub file: String,
    pub message: String,
}

/// A rendered customer message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// The variables every template sees. Optional facts are `none` when the data does not say,
/// so templates test them with `{% if %}` instead of guessing.
#[derive(Debug, Clone, Serialize)]
pub struct MessageContext {
    pub event: &'static str,
    pub shop_name: String,
    pub channel: String,
    pub order_id: String,
    pub order_reference: String,
    pub customer_first_name: Option<String>,
    pub customer_last_name: Option<String>,
    pub lines: Vec<LineContext>,
    pub total: String,
    pub expected_dispatch: Option<String>,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
    pub tracking_link: Option<String>,
    pub deadline: Option<String>,
    /// A rule code (`insufficient_stock`...) when the order was refused by vigie.
    pub reason: Option<String>,
    pub compensation_code: Option<String>,
    pub alternative: Option<String>,
    pub first_order: bool,
    /// What vigie knows of the customer across channels (`customer.returning`,
    /// `customer.orders_last_year`...): README "Your own rules" lists the fields.
    pub customer: CustomerFacts,
    /// `delayed` only: the parcel is late (its shipping deadline passed), not the decision.
    pub shipping_late: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineContext {
    pub title: String,
    pub sku: String,
    pub quantity: u32,
    pub price: String,
    /// This line was refused (the others of the order may have been accepted).
    pub refused: bool,
    /// Units the marketplace cancelled (for `cancelled`) or refunded (for `refunded`).
    pub taken_back: u32,
    /// Why, in the marketplace's words.
    pub taken_back_reason: Option<String>,
}

/// Embeds one locale's default templates: `(name, text)` per event and part, so a fresh
/// install and `vigie demo` work without a templates directory.
macro_rules! built_in_locale {
    ($locale:literal: $($event:literal),*) => {
        [$(
            (
                concat!($locale, "/", $event, ".subject.txt"),
                include_str!(concat!("../../../config/templates/", $locale, "/", $event, ".subject.txt")),
            ),
            (
                concat!($locale, "/", $event, ".body.txt"),
                include_str!(concat!("../../../config/templates/", $locale, "/", $event, ".body.txt")),
            ),
            (
                concat!($locale, "/", $event, ".body.html"),
                include_str!(concat!("../../../config/templates/", $locale, "/", $event, ".body.html")),
            ),
        )*]
    };
}

const BUILT_IN_FR: [(&str, &str); 21] = built_in_locale!("fr":
    "received", "delayed", "accepted", "shipped", "refused", "cancelled", "refunded");
const BUILT_IN_EN: [(&str, &str); 21] = built_in_locale!("en":
    "received", "delayed", "accepted", "shipped", "refused", "cancelled", "refunded");

/// The compiled templates: built-ins plus the directory's overrides.
pub struct Templates {
    env: Environment<'static>,
    /// Template name (`fr/received.body.txt`) -> where it came from, for error messages.
    origins: BTreeMap<String, String>,
    locales: Vec<String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("locales", &self.locales)
            .finish()
    }
}

impl Templates {
    /// Reads the directory configured in `[notify]` (absent: built-ins only, unless it was set
    /// explicitly) and compiles every template.
    pub fn load(config: &NotifyConfig) -> Result<Self, TemplateError> {
        let dir = &config.templates_dir;
        let dir_error = |message: String| TemplateError {
            file: dir.display().to_string(),
            message,
        };
        let mut sources: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (name, text) in BUILT_IN_FR.iter().chain(&BUILT_IN_EN) {
            sources.insert(
                (*name).to_owned(),
                (format!("built-in:{name}"), (*text).to_owned()),
            );
        }
        if dir.is_dir() {
            for (locale, event, files) in read_dir_sets(dir).map_err(dir_error)? {
                for part in PARTS {
                    sources.remove(&format!("{locale}/{event}.{part}"));
                }
                for (part, path) in files {
                    let text = std::fs::read_to_string(&path).map_err(|e| TemplateError {
                        file: path.display().to_string(),
                        message: format!("cannot read: {e}"),
                    })?;
                    sources.insert(
                        format!("{locale}/{event}.{part}"),
                        (path.display().to_string(), text),
                    );
                }
            }
        } else if config.templates_dir_explicit {
            return Err(dir_error(
                "notify.templates_dir: not a readable directory".to_owned(),
            ));
        }

        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("default delimiters"),
        );
        let mut origins = BTreeMap::new();
        let mut locales: Vec<String> = Vec::new();
        for (name, (origin, text)) in sources {
            env.add_template_owned(name.clone(), text)
                .map_err(|e| TemplateError {
                    file: origin.clone(),
                    message: describe(&e),
                })?;
            let locale = name.split('/').next().unwrap_or_default().to_owned();
            if !locales.contains(&locale) {
                locales.push(locale);
            }
            origins.insert(name, origin);
        }
        Ok(Self {
            env,
            origins,
            locales,
        })
    }

    /// Locales with at least one template.
    pub fn locales(&self) -> &[String] {
        &self.locales
    }

    pub fn has_locale(&self, locale: &str) -> bool {
        self.locales.iter().any(|l| l == locale)
    }

    /// Where `locale/event.part` comes from, if it exists.
    pub fn origin(&self, locale: &str, event: OrderEvent, part: &str) -> Option<&str> {
        self.origins
            .get(&format!("{locale}/{}.{part}", event.as_str()))
            .map(String::as_str)
    }

    pub fn render(
        &self,
        locale: &str,
        event: OrderEvent,
        context: &MessageContext,
    ) -> Result<Rendered, TemplateError> {
        let ctx = minijinja::Value::from(Serde(context));
        let render = |part: &str| -> Result<Option<String>, TemplateError> {
            let name = format!("{locale}/{}.{part}", event.as_str());
            let Some(origin) = self.origins.get(&name) else {
                return Ok(None);
            };
            let template = self.env.get_template(&name).map_err(|e| TemplateError {
                file: origin.clone(),
                message: describe(&e),
            })?;
            template
                .render(ctx.clone())
                .map(Some)
                .map_err(|e| TemplateError {
                    file: origin.clone(),
                    message: describe(&e),
                })
        };
        let missing = |part: &str| TemplateError {
            file: format!("{locale}/{}.{part}", event.as_str()),
            message: format!(
                "missing (every locale needs a subject and a text body for {})",
                event.as_str()
            ),
        };
        let subject = render("subject.txt")?.ok_or_else(|| missing("subject.txt"))?;
        let text = render("body.txt")?.ok_or_else(|| missing("body.txt"))?;
        let html = render("body.html")?;
        // A subject is one line whatever the template's line breaks.
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        if subject.is_empty() {
            return Err(TemplateError {
                file: self.origins[&format!("{locale}/{}.subject.txt", event.as_str())].clone(),
                message: "renders an empty subject".to_owned(),
            });
        }
        Ok(Rendered {
            subject,
            text: format!("{}\n", text.trim_end()),
            html: html.map(|h| format!("{}\n", h.trim_end())),
        })
    }
}

/// `(locale, event, [(part, path)])` for every template set in `dir`; unknown files are errors
/// so a misspelt `acepted.body.txt` never silently falls back to the built-in.
type DirSet = (String, &'static str, Vec<(&'static str, PathBuf)>);

fn read_dir_sets(dir: &Path) -> Result<Vec<DirSet>, String> {
    let mut sets = Vec::new();
    let mut locales: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    locales.sort();
    for locale_dir in locales {
        let locale = locale_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let mut by_event: BTreeMap<&'static str, Vec<(&'static str, PathBuf)>> = BTreeMap::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&locale_dir)
            .map_err(|e| format!("{locale}: cannot read: {e}"))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for path in files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with('.') || name.ends_with('~') {
                continue; // editor leftovers
            }
            let known = OrderEvent::FOR_CUSTOMERS.iter().find_map(|event| {
                let rest = name.strip_prefix(event.as_str())?.strip_prefix('.')?;
                PARTS
                    .iter()
                    .find(|p| **p == rest)
                    .map(|part| (event.as_str(), *part))
            });
            let Some((event, part)) = known else {
                return Err(format!(
                    "{locale}/{name}: not a template name (expected <event>.subject.txt, .body.txt or .body.html, with event one of received, delayed, accepted, shipped, refused, cancelled, refunded)"
                ));
            };
            by_event.entry(event).or_default().push((part, path));
        }
        for (event, files) in by_event {
            sets.push((locale.clone(), event, files));
        }
    }
    Ok(sets)
}

/// minijinja's message plus the line, without its multi-line debug dump.
fn describe(e: &minijinja::Error) -> String {
    let mut message = e.to_string();
    if let Some(line) = e.line()
        && !message.contains("line")
    {
        message.push_str(&format!(" (line {line})"));
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        message.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    message
}

/// Whether `locale` is one vigie ships templates for.
pub fn is_built_in(locale: &str) -> bool {
    BUILT_IN_LOCALES.contains(&locale)
}
