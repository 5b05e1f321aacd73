//! Lenient reading of Fnac responses: split the document into its root's children, each kept
//! verbatim, so one broken `<order>` is quarantined while the others are read; then
//! deserialize each child on its own. Real responses wrap strings in CDATA, leave elements
//! empty, vary whitespace and element order, and grow new elements: none of that is an error.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A response document: the root's name and `status`, and its children in order.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub root: String,
    pub status: Option<String>,
    pub children: Vec<Child>,
}

#[derive(Debug, Clone)]
pub struct Child {
    /// Local name (any namespace prefix dropped).
    pub name: String,
    /// The element exactly as sent, start tag to end tag.
    pub raw: String,
}

/// `<error severity="…" code="…">message</error>`, wherever it appears.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct WireError {
    #[serde(rename = "@severity", default)]
    pub severity: Option<String>,
    #[serde(rename = "@code", default)]
    pub code: Option<String>,
    #[serde(rename = "$text", default)]
    pub message: String,
}

impl WireError {
    pub fn code(&self) -> Option<&str> {
        self.code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }

    pub fn message(&self) -> String {
        collapse(&self.message)
    }

    /// WARNING means "data ignored, processing continued": not a failure.
    pub fn is_failure(&self) -> bool {
        !self
            .severity
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("WARNING"))
    }

    /// Fnac reports a refused or stale token in the body, usually with HTTP 200; its code is
    /// not published (ERR_097 is reported by third parties), so the wording counts too.
    pub fn is_auth(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        self.code() == Some("ERR_097")
            || message.contains("authentication")
            || message.contains("authentification")
            || (message.contains("token")
                && (message.contains("invalid")
                    || message.contains("expired")
                    || message.contains("not valid")))
    }

    /// ERR_003: the order is not in a state that allows the action, i.e. already decided.
    pub fn is_wrong_state(&self) -> bool {
        self.code() == Some("ERR_003")
    }

    pub fn describe(&self) -> String {
        match self.code() {
            Some(code) => format!("{code}: {}", self.message()),
            None => self.message(),
        }
    }
}

impl Envelope {
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let text = String::from_utf8_lossy(body);
        // A BOM, or a declaration claiming UTF-16 over UTF-8 bytes, is seen in the wild.
        let text = text.trim_start_matches('\u{feff}');
        let mut reader = Reader::from_str(text);
        let mut root: Option<(String, Option<String>)> = None;
        let mut children = Vec::new();
        loop {
            let before = position(&reader);
            let event = reader.read_event().map_err(|e| {
                format!(
                    "not well-formed XML at byte {}: {e}",
                    reader.error_position()
                )
            })?;
            match event {
                Event::Start(start) | Event::Empty(start) if root.is_none() => {
                    let name = local(start.name().into_inner());
                    let status = attribute(&start, "status");
                    root = Some((name, status));
                }
                Event::Start(start) => {
                    let name = local(start.name().into_inner());
                    reader
                        .read_to_end(start.name())
                        .map_err(|e| format!("not well-formed XML in <{name}>: {e}"))?;
                    let after = position(&reader);
                    children.push(Child {
                        name,
                        raw: text[before..after].to_owned(),
                    });
                }
                Event::Empty(start) => {
                    let name = local(start.name().into_inner());
                    let after = position(&reader);
                    children.push(Child {
                        name,
                        raw: text[before..after].to_owned(),
                    });
                }
                Event::End(_) | Event::Eof => break,
                _ => {}
            }
        }
        let (root, status) = root.ok_or("empty response body")?;
        Ok(Self {
            root,
            status: status.map(|s| s.trim().to_ascii_uppercase()),
            children,
        })
    }

    /// Children with this local name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Child> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child with this name, `None` when absent or empty.
    pub fn text(&self, name: &str) -> Option<String> {
        self.all(name)
            .next()
            .and_then(|c| c.parse::<TextOnly>().ok())
            .and_then(|t| non_empty(t.value))
    }

    pub fn number(&self, name: &str) -> Option<u64> {
        self.text(name).and_then(|t| t.parse().ok())
    }

    /// The root-level errors; unreadable ones are kept as their raw text.
    pub fn errors(&self) -> Vec<WireError> {
        self.all("error")
            .map(|c| {
                c.parse().unwrap_or_else(|_| WireError {
                    message: c.raw.clone(),
                    ..WireError::default()
                })
            })
            .collect()
    }
}

impl Child {
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, String> {
        quick_xml::de::from_str(&self.raw).map_err(|e| e.to_string())
    }
}

#[derive(Deserialize)]
struct TextOnly {
    #[serde(rename = "$text", default)]
    value: String,
}

fn position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, local)) => local.to_owned(),
        None => name.to_owned(),
    }
}

fn attribute(start: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|a| local(a.key.into_inner()) == name)
        .map(|a| {
            let raw = a.value.to_string();
            quick_xml::escape::unescape(&raw)
                .map(|v| v.into_owned())
                .unwrap_or(raw)
        })
}

/// Whitespace trimmed; empty means absent (`<received_at></received_at>`, empty CDATA).
/// An item's `status` saying it failed: ERROR or FATAL, whatever the case and spacing.
pub fn failed_status(status: Option<&str>) -> bool {
    status.is_some_and(|s| matches!(s.trim().to_ascii_uppercase().as_str(), "ERROR" | "FATAL"))
}

pub fn non_empty(value: impl AsRef<str>) -> Option<String> {
    let value = value.as_ref().trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Irregular whitespace inside a message collapsed to single spaces.
pub fn collapse(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_children_verbatim_and_reads_the_status() {
        let body = br#"<?xml version="1.0" encoding="utf-16"?>
<orders_query_response status="ok" xmlns="http://www.fnac.com/schemas/mp-dialog.xsd">
  <page>1</page><total_paging> 2 </total_paging>
  <order><order_id><![CDATA[ABC]]></order_id></order>
  <error severity="ERROR" code="ERR_1">  bad
     thing </error>
  <empty/>
</orders_query_response>"#;
        let doc = Envelope::parse(body).unwrap();
        assert_eq!(doc.root, "orders_query_response");
        assert_eq!(doc.status.as_deref(), Some("OK"));
        assert_eq!(doc.number("total_paging"), Some(2));
        assert_eq!(
            doc.all("order").next().unwrap().raw,
            "<order><order_id><![CDATA[ABC]]></order_id></order>"
        );
        let errors = doc.errors();
        assert_eq!(errors[0].describe(), "ERR_1: bad thing");
        assert!(errors[0].is_failure());
        assert_eq!(doc.all("empty").count(), 1);
    }

    #[test]
    fn rejects_what_is_not_xml() {
        assert!(Envelope::parse(b"").is_err());
        assert!(Envelope::parse(b"<a><b></a>").is_err());
    }
}
