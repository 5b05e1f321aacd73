//! `[notify]`, `[smtp]`, `[[events.webhook]]` and `[alerts]`: defaults, broken sections, secrets.

use std::path::Path;

use crate::config::{Environment, Route, parse};

const CHANNEL: &str = "[[channel]]\nname = \"shop\"\nkind = \"mirakl\"\nbase_url = \"https://m.example\"\napi_key = \"k\"\n";

fn key_of(extra: &str) -> (String, String) {
    let text = format!("{CHANNEL}\n{extra}");
    let e = parse(
        &text,
        Path::new("/etc/vigie/vigie.toml"),
        &Environment::default(),
    )
    .expect_err(extra);
    (e.key, e.message)
}

#[test]
fn defaults_follow_the_marketplace() {
    let config = parse(
        CHANNEL,
        Path::new("/etc/vigie/vigie.toml"),
        &Environment::default(),
    )
    .unwrap();
    let shop = config.notify.channel("shop").unwrap();
    assert_eq!(shop.routes, [Route::Marketplace]);
    assert_eq!(shop.locale, "fr");
    // Only what Mirakl does not tell the buyer itself.
    use crate::events::OrderEvent::{Delayed, Refused};
    assert_eq!(shop.events, [Delayed, Refused]);
    assert_eq!(
        config.notify.templates_dir,
        Path::new("/etc/vigie/templates")
    );
    assert_eq!(config.alerts.channel_unreachable_after, 3);
    assert!(config.smtp.is_none());
}

#[test]
fn broken_sections_name_their_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("[notify]\ncolour = 1", "notify.colour", "unknown key"),
        (
            "[notify.channel.nope]\nroutes = []",
            "notify.channel.nope",
            "names no",
        ),
        (
            "[notify.channel.shop]\nroutes = [\"email\"]",
            "notify.channel.shop.routes",
            "[smtp]",
        ),
        (
            "[notify.channel.shop]\nroutes = [\"fax\"]",
            "notify.channel.shop.routes[0]",
            "fax",
        ),
        (
            "[notify.channel.shop]\nevents = [\"paid\"]",
            "notify.channel.shop.events[0]",
            "paid",
        ),
        (
            "[smtp]\nhost = \"smtp.example.com\"\ntls = \"none\"\nfrom = \"a@b.example\"",
            "smtp.tls",
            "loopback",
        ),
        (
            "[smtp]\nhost = \"h.example\"\nfrom = \"not an address\"",
            "smtp.from",
            "e-mail",
        ),
        (
            "[smtp]\nhost = \"h.example\"\nfrom = \"a@b.example\"\nusername = \"u\"",
            "smtp.password",
            "together",
        ),
        (
            "[[alerts.webhook]]\nurl = \"https://events.pagerduty.com/v2/enqueue\"\nformat = \"pagerduty\"",
            "alerts.webhook[0].routing_key",
            "required",
        ),
        (
            "[[alerts.webhook]]\nurl = \"https://hooks.slack.com/x\"\nformat = \"slack\"\nsecret = \"s\"",
            "alerts.webhook[0].secret",
            "generic",
        ),
        (
            "[[alerts.webhook]]\nurl = \"http://hooks.example/x\"",
            "alerts.webhook[0].url",
            "https",
        ),
        (
            "[alerts]\nchannel_unreachable_after = 0",
            "alerts.channel_unreachable_after",
            "at least",
        ),
        (
            "[[events.webhook]]\nname = \"erp\"\nurl = \"https://e.example\"\n[[events.webhook]]\nname = \"erp\"\nurl = \"https://f.example\"",
            "events.webhook[1].name",
            "duplicate",
        ),
        (
            "[[events.webhook]]\nname = \"erp\"\nurl = \"https://e.example\"\nsecret_file = \"/nonexistent/k\"",
            "events.webhook[0].secret_file",
            "cannot read",
        ),
    ];
    for (extra, key, word) in cases {
        let (got_key, message) = key_of(extra);
        assert_eq!(&got_key, key, "{extra}: {message}");
        assert!(message.contains(word), "{extra}: {message}");
    }
}

#[test]
fn secrets_stay_out_of_debug() {
    let text = format!(
        "{CHANNEL}\n[smtp]\nhost = \"h.example\"\nfrom = \"a@b.example\"\nusername = \"u\"\npassword = \"hunter2-smtp\"\n[[alerts.webhook]]\nurl = \"https://e.example\"\nformat = \"pagerduty\"\nrouting_key = \"pd-secret-key\""
    );
    let config = parse(&text, Path::new("/x/vigie.toml"), &Environment::default()).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2-smtp"));
    assert!(!debug.contains("pd-secret-key"));
}
