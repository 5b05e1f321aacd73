//! Building request documents. Requests follow the XSDs strictly (element order included):
//! lenience is for reading only.

use quick_xml::escape::escape;

pub const NAMESPACE: &str = "http://www.fnac.com/schemas/mp-dialog.xsd";

/// An element under construction: start tag with attributes, then content.
#[derive(Debug, Clone)]
pub struct Element {
    name: &'static str,
    attributes: String,
    content: String,
}

impl Element {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            attributes: String::new(),
            content: String::new(),
        }
    }

    /// A request root: the service name in Fnac's namespace.
    pub fn root(service: &'static str) -> Self {
        Self::new(service).attr("xmlns", NAMESPACE)
    }

    pub fn attr(mut self, name: &str, value: &str) -> Self {
        self.attributes
            .push_str(&format!(" {name}=\"{}\"", escape(value)));
        self
    }

    /// Text content (for elements that also carry attributes).
    pub fn content(mut self, value: &str) -> Self {
        self.content.push_str(&escape(value));
        self
    }

    /// A child holding only text.
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.content
            .push_str(&format!("<{name}>{}</{name}>", escape(value)));
        self
    }

    pub fn child(mut self, child: Element) -> Self {
        self.content.push_str(&child.finish());
        self
    }

    pub fn finish(self) -> String {
        let Self {
            name,
            attributes,
            content,
        } = self;
        if content.is_empty() {
            format!("<{name}{attributes}/>")
        } else {
            format!("<{name}{attributes}>{content}</{name}>")
        }
    }

    /// The whole document, with its declaration.
    pub fn document(self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}",
            self.finish()
        )
    }
}

/// An xs:dateTime in UTC, to the second.
pub fn date_time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        let xml = Element::root("x")
            .attr("id", "a\"b")
            .text("m", "<&>")
            .child(Element::new("e"))
            .finish();
        assert_eq!(
            xml,
            format!("<x xmlns=\"{NAMESPACE}\" id=\"a&quot;b\"><m>&lt;&amp;&gt;</m><e/></x>")
        );
    }

    #[test]
    fn formats_dates_as_xsd_date_times() {
        let at: jiff::Timestamp = "2026-11-02T10:20:30.5Z".parse().unwrap();
        assert_eq!(date_time(at), "2026-11-02T10:20:30+00:00");
    }
}
