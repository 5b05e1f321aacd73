//! Every default template in both locales, as snapshots (insta): once with every optional
//! fact, once with none, and HTML escaping of what customers and marketplaces write.

mod notify_support;

use std::path::Path;

use vigie::delivery::{Templates, check, context, preview, sample_facts};
use vigie::events::OrderEvent;

fn reference_config(dir: &Path) -> vigie::config::Config {
    notify_support::config(dir, "http://127.0.0.1:9", "")
}

fn show(rendered: &vigie::delivery::Rendered) -> String {
    format!(
        "Subject: {}\n\n{}--- text/html ---\n{}",
        rendered.subject,
        rendered.text,
        rendered.html.as_deref().unwrap_or("(none)\n")
    )
}

#[test]
fn every_default_template_renders_as_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let config = reference_config(dir.path());
    let templates = Templates::load(&config.notify).unwrap();
    let mut anonymous = config.clone();
    anonymous.daemon.shop_name = String::new();
    for locale in ["fr", "en"] {
        for event in OrderEvent::FOR_CUSTOMERS {
            for (full, config) in [(true, &config), (false, &anonymous)] {
                let facts = sample_facts(event, locale, full);
                let rendered = templates
                    .render(locale, event, &context(config, &facts, locale))
                    .unwrap();
                let name = format!(
                    "{locale}_{}_{}",
                    event.as_str(),
                    if full { "full" } else { "sparse" }
                );
                insta::assert_snapshot!(name, show(&rendered));
            }
        }
    }
}

#[test]
fn html_escapes_what_customers_and_marketplaces_write() {
    let dir = tempfile::tempdir().unwrap();
    let config = reference_config(dir.path());
    let templates = Templates::load(&config.notify).unwrap();
    for locale in ["fr", "en"] {
        let mut facts = sample_facts(OrderEvent::Shipped, locale, true);
        facts.order.customer.first_name = Some("<script>alert(\"x\")</script> & Cie".to_owned());
        facts.order.shipment.as_mut().unwrap().tracking_url =
            Some("https://t.example/?a=1&b=\"2\"".to_owned());
        facts.order.shipment.as_mut().unwrap().carrier_name = Some("Colis <Privé>".to_owned());
        let rendered = templates
            .render(
                locale,
                OrderEvent::Shipped,
                &context(&config, &facts, locale),
            )
            .unwrap();
        let html = rendered.html.as_deref().unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2f;script&gt; &amp; Cie"),
            "{html}"
        );
        assert!(
            html.contains("href=\"https:&#x2f;&#x2f;t.example&#x2f;?a=1&amp;b=&quot;2&quot;\""),
            "{html}"
        );
        // The text body is not HTML: it keeps the characters as written.
        assert!(
            rendered
                .text
                .contains("<script>alert(\"x\")</script> & Cie")
        );
        insta::assert_snapshot!(format!("{locale}_shipped_escaped"), show(&rendered));
    }
}

#[test]
fn a_javascript_tracking_link_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let config = reference_config(dir.path());
    let mut facts = sample_facts(OrderEvent::Shipped, "fr", true);
    facts.order.shipment.as_mut().unwrap().tracking_url = Some("javascript:alert(1)".to_owned());
    assert_eq!(context(&config, &facts, "fr").tracking_link, None);
}

#[test]
fn check_accepts_the_defaults_and_names_a_broken_template_file() {
    let dir = tempfile::tempdir().unwrap();
    check(&reference_config(dir.path())).unwrap();

    // An override with a misspelt variable: strict undefined catches it, naming the file.
    let fr = dir.path().join("templates/fr");
    std::fs::create_dir_all(&fr).unwrap();
    std::fs::write(
        fr.join("shipped.subject.txt"),
        "Colis {{ order_referense }}\n",
    )
    .unwrap();
    std::fs::write(fr.join("shipped.body.txt"), "Bonjour\n").unwrap();
    let e = check(&reference_config(dir.path())).unwrap_err();
    assert!(e.file.ends_with("templates/fr/shipped.subject.txt"), "{e}");
    assert!(e.message.contains("undefined"), "{e}");

    // A set without its text body is incomplete.
    std::fs::write(
        fr.join("shipped.subject.txt"),
        "Colis {{ order_reference }}\n",
    )
    .unwrap();
    std::fs::remove_file(fr.join("shipped.body.txt")).unwrap();
    let e = check(&reference_config(dir.path())).unwrap_err();
    assert!(e.to_string().contains("fr/shipped.body.txt"), "{e}");

    // A file name that is no template is an error, not a silent fallback.
    std::fs::write(fr.join("shipped.body.txt"), "Bonjour\n").unwrap();
    std::fs::write(fr.join("shiped.body.txt"), "Bonjour\n").unwrap();
    let e = check(&reference_config(dir.path())).unwrap_err();
    assert!(e.to_string().contains("shiped.body.txt"), "{e}");
    std::fs::remove_file(fr.join("shiped.body.txt")).unwrap();
    check(&reference_config(dir.path())).unwrap();

    // A locale nobody wrote templates for.
    let config = notify_support::config(
        dir.path(),
        "http://127.0.0.1:9",
        "[notify]\nlocale = \"de\"",
    );
    let e = check(&config).unwrap_err();
    assert_eq!(e.key, "notify.locale");
}

#[test]
fn preview_renders_the_sample_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = reference_config(dir.path());
    let text = preview(&config, None, OrderEvent::Refused, Some("en"), None).unwrap();
    assert!(
        text.starts_with("Subject: We could not accept your order SAMPLE-1042\n"),
        "{text}"
    );
    assert!(text.contains("--- text/html ---"));
    let text = preview(&config, None, OrderEvent::Accepted, None, None).unwrap();
    assert!(
        text.starts_with("Subject: Votre commande SAMPLE-1042 est confirmée\n"),
        "{text}"
    );
}
