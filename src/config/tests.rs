use std::time::Duration;

use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use vigie_fnac::FnacSettings;
use vigie_mirakl::MiraklSettings;

use super::*;

const VALID: &str = r#"
[daemon]
state_dir = "/tmp/vigie-test"
shop_name = "Ma Boutique"

[[channel]]
name = "leroymerlin"
kind = "mirakl"
base_url = "https://adeo-marketplace.mirakl.net"
api_key = "mirakl-SECRET-key"
shop_id = 2001
poll_interval = "1m"
acceptance_deadline = "5d"
limits = { orders_per_minute = 1, stock_imports_per_minute = 1 }

[[channel]]
name = "fnac"
kind = "fnac"
base_url = "https://vendeur.fnac.com/api.php"
partner_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
shop_id = "1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
key = "fnac-SECRET-key"
poll_interval = "5m"
acceptance_deadline = "2 working days"
shipping_deadline = "3 working days"

[inventory]
source = "csv"
path = "/var/lib/vigie/stock.csv"
safety_buffer = 1

[rules]
on_insufficient_stock = "flag"
flag_total_above = 500.0
flag_quantity_above = 10
allowed_countries = ["FR", "BEL"]
flag_sku_tags = ["fragile"]

[[alerts.webhook]]
url = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"
format = "slack"
"#;

/// The least a valid configuration holds.
const ONE_CHANNEL: &str = "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\n";

/// The connector's settings of `channel`, as its crate's type.
fn settings<T: 'static>(channel: &ChannelConfig) -> &T {
    let any: &dyn std::any::Any = &*channel.settings;
    any.downcast_ref().unwrap_or_else(|| {
        panic!(
            "{} has other settings: {:?}",
            channel.name, channel.settings
        )
    })
}

fn no_env() -> Environment {
    Environment::default()
}

fn parse_text(text: &str, env: &Environment) -> Result<Config, ConfigError> {
    parse(text, Path::new("/etc/vigie/vigie.toml"), env)
}

#[test]
fn the_documented_example_is_valid() {
    let config = parse_text(VALID, &no_env()).unwrap();
    assert_eq!(config.channels.len(), 2);
    let fnac = &config.channels[1];
    assert_eq!(fnac.acceptance_deadline, Deadline::WorkingDays(2));
    assert_eq!(fnac.shipping_deadline, Some(Deadline::WorkingDays(3)));
    assert_eq!(config.channels[0].shipping_deadline, None);
    assert_eq!(fnac.poll_interval, Duration::from_secs(300));
    let mirakl: &MiraklSettings = settings(&config.channels[0]);
    assert_eq!(mirakl.api_key.expose_secret(), "mirakl-SECRET-key");
    assert_eq!(mirakl.shop_id, Some(2001));
    let countries = config.rules.allowed_countries.as_ref().unwrap();
    assert_eq!(countries[1].alpha2(), "BE");
    assert_eq!(config.rules.flag_total_above, Some(Decimal::new(500, 0)));
    assert_eq!(config.daemon.status_listen.to_string(), "127.0.0.1:9184");
    // Each marketplace's own limit paces its messages, unless the seller caps them all.
    assert_eq!(config.notify.limits.marketplace_per_minute, None);
}

#[test]
fn the_shipped_reference_config_is_valid() {
    // config/vigie.toml documents every key; it must stay loadable (secrets by value there
    // would be a bad example, so give it the credentials directory it points at).
    let text = include_str!("../../config/vigie.toml");
    let dir = tempfile::tempdir().unwrap();
    for (id, secret) in [
        ("leroymerlin.key", "k"),
        ("fnac.key", "k"),
        ("amazon.secret", "k"),
        ("amazon.refresh", "k"),
        (
            "vigie.web",
            "$argon2id$v=19$m=19456,t=2,p=1$Ft4xlSRNXNU7WE5NGKcFiA$QGwSYNI9uErGJH/bRaTgzBYKLUtZUv4GswmppVzGbL0",
        ),
        ("vigie.api", "0123456789abcdef0123456789abcdef"),
    ] {
        std::fs::write(dir.path().join(id), format!("{secret}\n")).unwrap();
    }
    let env = Environment::from_pairs([("CREDENTIALS_DIRECTORY", dir.path().to_str().unwrap())]);
    parse_text(text, &env).unwrap();
}

/// Each broken config, the key path its error must name, and a word of the message.
const BROKEN: &[(&str, &str, &str, &str)] = &[
    (
        "unknown top-level key",
        "[deamon]\nstate_dir = \"/x\"",
        "deamon",
        "unknown key",
    ),
    (
        "unknown daemon key",
        "[daemon]\nstatus = \"x\"",
        "daemon.status",
        "unknown key",
    ),
    (
        "bad listen address",
        "[daemon]\nstatus_listen = \"localhost\"",
        "daemon.status_listen",
        "address",
    ),
    (
        "pages off loopback without a login",
        "[daemon]\nstatus_listen = \"0.0.0.0:9184\"",
        "web",
        "not loopback",
    ),
    (
        "a password that is not an argon2 hash",
        "[web]\npassword_hash = \"hunter2\"",
        "web.password_hash",
        "argon2",
    ),
    (
        "a short API token",
        "[web]\napi_token = \"abc\"",
        "web.api_token",
        "16 characters",
    ),
    (
        "unknown time zone",
        "[daemon]\ntimezone = \"Europe/Pariss\"",
        "daemon.timezone",
        "time zone",
    ),
    (
        "bad log filter",
        "[daemon]\nlog = \"vigie=loud\"",
        "daemon.log",
        "filter",
    ),
    (
        "bad grace",
        "[daemon]\nshutdown_grace = \"soon\"",
        "daemon.shutdown_grace",
        "duration",
    ),
    (
        "wrong type",
        "[daemon]\ndry_run = \"maybe\"",
        "daemon.dry_run",
        "",
    ),
    ("bad url", CHANNEL_BAD_URL, "channel[1].base_url", ""),
    (
        "plain http to a real host",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"http://example.com\"\napi_key = \"k\"",
        "channel[0].base_url",
        "https",
    ),
    (
        "unknown kind",
        "[[channel]]\nname = \"a\"\nkind = \"cdiscount\"\nbase_url = \"https://x.example\"",
        "channel[0].kind",
        "cdiscount",
    ),
    (
        "bad poll interval",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\npoll_interval = \"often\"",
        "channel[0].poll_interval",
        "duration",
    ),
    (
        "zero poll interval",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\npoll_interval = \"0s\"",
        "channel[0].poll_interval",
        "must be between 100ms and 1h",
    ),
    (
        "bad deadline",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\nacceptance_deadline = \"2 business days\"",
        "channel[0].acceptance_deadline",
        "deadline",
    ),
    (
        "unknown channel key",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\npoll = \"1m\"",
        "channel[0].poll",
        "unknown key",
    ),
    (
        "unknown limit",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\nlimits = { orders_per_hour = 3 }",
        "channel[0].limits.orders_per_hour",
        "unknown key",
    ),
    (
        "zero limit",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\nlimits = { orders_per_minute = 0 }",
        "channel[0].limits.orders_per_minute",
        "",
    ),
    (
        "duplicate names",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\n[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://y.example\"\napi_key = \"k\"",
        "channel[1].name",
        "duplicate",
    ),
    (
        "name with a colon",
        "[[channel]]\nname = \"lm:fr\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"",
        "channel[0].name",
        "lowercase",
    ),
    (
        "no channel",
        "[daemon]\nshop_name = \"Ma Boutique\"",
        "channel",
        "no channel configured",
    ),
    (
        "missing secret",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"",
        "channel[0].api_key",
        "required",
    ),
    (
        "two secrets",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\napi_key_file = \"/k\"",
        "channel[0].api_key",
        "only one",
    ),
    (
        "missing secret file",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key_file = \"/nonexistent/vigie/key\"",
        "channel[0].api_key_file",
        "cannot read",
    ),
    (
        "credential without systemd",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key_credential = \"a.key\"",
        "channel[0].api_key_credential",
        "CREDENTIALS_DIRECTORY",
    ),
    (
        "text mirakl shop id",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\nshop_id = \"abc\"",
        "channel[0].shop_id",
        "number",
    ),
    (
        "fnac key on mirakl",
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\npartner_id = \"p\"",
        "channel[0].partner_id",
        "not a key of a mirakl",
    ),
    (
        "fnac without partner",
        "[[channel]]\nname = \"f\"\nkind = \"fnac\"\nbase_url = \"https://x.example\"\nshop_id = \"s\"\nkey = \"k\"",
        "channel[0].partner_id",
        "required",
    ),
    (
        "fnac without shop",
        "[[channel]]\nname = \"f\"\nkind = \"fnac\"\nbase_url = \"https://x.example\"\npartner_id = \"p\"\nkey = \"k\"",
        "channel[0].shop_id",
        "required",
    ),
    (
        "mirakl key on fnac",
        "[[channel]]\nname = \"f\"\nkind = \"fnac\"\nbase_url = \"https://x.example\"\npartner_id = \"p\"\nshop_id = \"s\"\napi_key = \"k\"",
        "channel[0].api_key",
        "not a key of a fnac",
    ),
    (
        "csv without path",
        "[inventory]\nsource = \"csv\"",
        "inventory.path",
        "required",
    ),
    (
        "unknown source",
        "[inventory]\nsource = \"ftp\"",
        "inventory.source",
        "ftp",
    ),
    (
        "negative buffer",
        "[inventory]\nsafety_buffer = -1",
        "inventory.safety_buffer",
        "",
    ),
    (
        "bad country",
        "[rules]\nallowed_countries = [\"FR\", \"XX\"]",
        "rules.allowed_countries[1]",
        "XX",
    ),
    (
        "bad stock policy",
        "[rules]\non_insufficient_stock = \"ignore\"",
        "rules.on_insufficient_stock",
        "ignore",
    ),
    (
        "deadline share above the window",
        "[rules]\non_deadline = { at = 1.5, action = \"refuse\" }",
        "rules.on_deadline.at",
        "1.5",
    ),
    (
        "deadline share at the deadline itself",
        "[rules]\non_deadline = { at = 1.0, action = \"accept\" }",
        "rules.on_deadline.at",
        "below 1",
    ),
    (
        "bad deadline action",
        "[rules]\non_deadline = { action = \"escalate\" }",
        "rules.on_deadline.action",
        "escalate",
    ),
    (
        "bad webhook format",
        "[[alerts.webhook]]\nurl = \"https://h.example\"\nformat = \"teams\"",
        "alerts.webhook[0].format",
        "teams",
    ),
    ("not toml", "[daemon\nstate_dir = 1", "", "TOML"),
];

const CHANNEL_BAD_URL: &str = r#"
[[channel]]
name = "a"
kind = "mirakl"
base_url = "https://x.example"
api_key = "k"

[[channel]]
name = "b"
kind = "mirakl"
base_url = "not a url"
api_key = "k"
"#;

#[test]
fn broken_configs_name_their_key() {
    let mut failures = Vec::new();
    for (what, text, key, word) in BROKEN {
        match parse_text(text, &no_env()) {
            Ok(_) => failures.push(format!("{what}: accepted")),
            Err(e) => {
                let shown = e.to_string();
                if e.key != *key
                    || !shown.contains(word)
                    || !shown.starts_with("/etc/vigie/vigie.toml: ")
                {
                    failures.push(format!(
                        "{what}: key {:?} (wanted {key:?}), message {shown:?}",
                        e.key
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_duration_key_has_bounds() {
    const MIRAKL: &str = "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\n";
    let cases = [
        (
            "[daemon]\nshutdown_grace = \"99999999999999d\"",
            "daemon.shutdown_grace",
        ),
        ("[daemon]\nshutdown_grace = \"0s\"", "daemon.shutdown_grace"),
        ("[daemon]\nmax_retry_wait = \"1d\"", "daemon.max_retry_wait"),
        ("[daemon]\nmax_retry_wait = \"1s\"", "daemon.max_retry_wait"),
        (
            &format!("{MIRAKL}poll_interval = \"2h\""),
            "channel[0].poll_interval",
        ),
        (
            &format!("{MIRAKL}acceptance_deadline = \"1m\""),
            "channel[0].acceptance_deadline",
        ),
        (
            &format!("{MIRAKL}acceptance_deadline = \"365d\""),
            "channel[0].acceptance_deadline",
        ),
        (
            &format!("{MIRAKL}shipping_deadline = \"1m\""),
            "channel[0].shipping_deadline",
        ),
        (
            &format!("{MIRAKL}limits = {{ stock_status_every = \"1d\" }}"),
            "channel[0].limits.stock_status_every",
        ),
        (
            "[inventory]\nsource = \"http\"\nurl = \"https://x.example\"\ninterval = \"0s\"",
            "inventory.interval",
        ),
        ("[alerts]\nrenotify_after = \"1s\"", "alerts.renotify_after"),
        (
            "[notify]\ndelayed_after = \"99999d\"",
            "notify.delayed_after",
        ),
        (
            "[notify]\ndispatch_within = \"1y\"",
            "notify.dispatch_within",
        ),
        ("[notify]\nretry_min = \"0s\"", "notify.retry_min"),
        ("[notify]\nretry_max = \"30d\"", "notify.retry_max"),
        (
            "[smtp]\nhost = \"smtp.example\"\nfrom = \"a@example.com\"\ntimeout = \"1d\"",
            "smtp.timeout",
        ),
    ];
    let mut failures = Vec::new();
    for (text, key) in cases {
        match parse_text(text, &no_env()) {
            Ok(_) => failures.push(format!("{key}: accepted")),
            Err(e) if e.key == key && e.message.contains("must be") => {}
            Err(e) => failures.push(format!("{key}: {e}")),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // working days too
    let error = parse_text(
        &format!("{MIRAKL}acceptance_deadline = \"99 working days\""),
        &no_env(),
    )
    .unwrap_err();
    assert_eq!(error.key, "channel[0].acceptance_deadline");
    let config = parse_text(VALID, &no_env()).unwrap();
    assert_eq!(config.daemon.max_retry_wait, Duration::from_secs(600));
}

#[test]
fn environment_overrides_scalars_and_is_validated_too() {
    let env = Environment::from_pairs([
        ("VIGIE__DAEMON__SHOP_NAME", "Autre Boutique"),
        ("VIGIE__RULES__FLAG_QUANTITY_ABOVE", "3"),
    ]);
    let config = parse_text(VALID, &env).unwrap();
    assert_eq!(config.daemon.shop_name, "Autre Boutique");
    assert_eq!(config.rules.flag_quantity_above, Some(3));

    let env = Environment::from_pairs([("VIGIE__DAEMON__SHUTDOWN_GRACE", "forever")]);
    let error = parse_text(VALID, &env).unwrap_err();
    assert_eq!(error.key, "daemon.shutdown_grace");

    let env = Environment::from_pairs([("VIGIE__DAEMON__COLOUR", "blue")]);
    assert_eq!(parse_text(VALID, &env).unwrap_err().key, "daemon.colour");
}

#[test]
fn state_dir_follows_systemd_unless_configured() {
    let env = Environment::from_pairs([("STATE_DIRECTORY", "/var/lib/vigie-unit")]);
    let config = parse_text(ONE_CHANNEL, &env).unwrap();
    assert_eq!(config.daemon.state_dir, Path::new("/var/lib/vigie-unit"));
    assert_eq!(
        parse_text(ONE_CHANNEL, &no_env()).unwrap().daemon.state_dir,
        Path::new("/var/lib/vigie")
    );
    assert_eq!(
        parse_text(VALID, &env).unwrap().daemon.state_dir,
        Path::new("/tmp/vigie-test")
    );
}

#[test]
fn secrets_come_from_files_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lm.key"), "from-file\n").unwrap();
    std::fs::write(dir.path().join("fnac.key"), "from-credential").unwrap();
    let text = r#"
        [[channel]]
        name = "lm"
        kind = "mirakl"
        base_url = "https://x.example"
        api_key_file = "lm.key"
        [[channel]]
        name = "fnac"
        kind = "fnac"
        base_url = "https://y.example"
        partner_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        shop_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        key_credential = "fnac.key"
    "#;
    let env = Environment::from_pairs([("CREDENTIALS_DIRECTORY", dir.path().to_str().unwrap())]);
    // relative `*_file` paths are read next to the configuration file
    let config = parse(text, &dir.path().join("vigie.toml"), &env).unwrap();
    let mirakl: &MiraklSettings = settings(&config.channels[0]);
    let fnac: &FnacSettings = settings(&config.channels[1]);
    assert_eq!(
        [mirakl.api_key.expose_secret(), fnac.key.expose_secret()],
        ["from-file", "from-credential"]
    );
}

#[test]
fn secrets_never_show_in_summary_or_debug() {
    let config = parse_text(VALID, &no_env()).unwrap();
    let summary = config.to_string();
    let debug = format!("{config:?}");
    for shown in [&summary, &debug] {
        assert!(!shown.contains("mirakl-SECRET-key"), "{shown}");
        assert!(!shown.contains("fnac-SECRET-key"), "{shown}");
    }
    assert!(!summary.contains("SECRETTOKEN"), "{summary}");
    assert!(summary.contains("api_key [redacted]"), "{summary}");
    assert!(summary.contains("https://hooks.slack.com/…"), "{summary}");
}

mod sections;

#[test]
fn the_pages_answer_only_under_their_own_names() {
    let env = Environment::default();
    let text = "[web]\npublic_url = \"https://vigie.example.com\"\n[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"http://127.0.0.1:1\"\napi_key = \"k\"\n";
    let web = parse_text(text, &env).unwrap().web;
    for own in [
        "127.0.0.1:9184",
        "[::1]:9184",
        "localhost:9184",
        "vigie.example.com",
        "10.0.0.5",
    ] {
        assert!(web.is_own_host(own), "{own}");
    }
    for other in ["evil.example:9184", "", "vigie.example.com.evil.example"] {
        assert!(!web.is_own_host(other), "{other}");
    }
}
