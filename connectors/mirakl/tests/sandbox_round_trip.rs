//! The `Mirakl` client against the stateful sandbox: the whole seller workflow over real HTTP
//! on 127.0.0.1, and the sandbox's own rules and faults.

use std::num::NonZeroU32;
use std::time::Duration;

use rust_decimal::Decimal;
use secrecy::SecretString;
use vigie_connector::{
    ConnectorError, CustomerMessage, HttpSettings, LineDecision, Marketplace, OrderStatus,
    PushStatus, SkuRejection, StockLevel, StockUpdate,
};
use vigie_mirakl::sandbox::{Faults, MiraklSandbox, OrderSpec, SandboxOptions, Tracking};
use vigie_mirakl::{Mirakl, MiraklLimits, MiraklSettings, PartialAcceptanceFallback};

fn settings_for(sandbox: &MiraklSandbox) -> MiraklSettings {
    assert_eq!(sandbox.base_url().host_str(), Some("127.0.0.1"));
    let mut settings = sandbox.client_settings();
    settings.http = HttpSettings {
        timeout: None,
        max_retries: 3,
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
    };
    settings
}

fn client(sandbox: &MiraklSandbox) -> Mirakl {
    Mirakl::new("sandbox", settings_for(sandbox)).unwrap()
}

fn decisions(order: &vigie_connector::Order, accept: bool) -> Vec<LineDecision> {
    order
        .lines
        .iter()
        .map(|l| LineDecision {
            line_id: l.id.clone(),
            accept,
        })
        .collect()
}

fn price(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

#[tokio::test(start_paused = true)]
async fn accept_refuse_push_read_back_message_and_ship() {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    sandbox.set_quantity("DRILL", 5);
    sandbox.set_quantity("HOSE", 0);
    let stocked = sandbox.add_order(OrderSpec::new().line("DRILL", 2, price(3990)));
    let short = sandbox.add_order(OrderSpec::new().line("HOSE", 1, price(2450)).country("BEL"));
    // Mirakl takes ordered units off the offer when the order is placed.
    assert_eq!(sandbox.quantity("DRILL"), Some(3));
    let mirakl = client(&sandbox);
    mirakl.health().await.unwrap();

    let batch = mirakl.orders_awaiting_acceptance().await.unwrap();
    assert!(batch.malformed.is_empty());
    let ids: Vec<_> = batch.orders.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, [stocked.as_str(), short.as_str()]);
    let first = &batch.orders[0];
    assert_eq!(first.state.status, OrderStatus::AwaitingAcceptance);
    assert_eq!(first.shipping_address, None, "hidden until accepted");
    assert_eq!(first.lines[0].sku, "DRILL");
    assert_eq!(first.lines[0].quantity, 2);
    assert_eq!(first.lines[0].price.amount, price(7980));
    assert_eq!(first.total.amount, price(7980));

    mirakl
        .decide(&stocked, &decisions(&batch.orders[0], true))
        .await
        .unwrap();
    mirakl
        .decide(&short, &decisions(&batch.orders[1], false))
        .await
        .unwrap();
    let accepted = sandbox.order(&stocked).unwrap();
    assert_eq!(accepted.state, "SHIPPING");
    assert!(accepted.accepted_at.is_some());
    assert_eq!(sandbox.order(&short).unwrap().state, "REFUSED");
    assert_eq!(sandbox.order(&short).unwrap().accepted_at, None);
    // deciding again is "already done"
    let again = mirakl
        .decide(&stocked, &decisions(&batch.orders[0], true))
        .await
        .unwrap_err();
    assert!(matches!(again, ConnectorError::AlreadyDone(_)), "{again:?}");

    // after acceptance the address shows, with the alpha-3 country read as alpha-2
    let reread = mirakl
        .orders_by_id(std::slice::from_ref(&stocked))
        .await
        .unwrap();
    let order = &reread.orders[0];
    assert_eq!(order.state.status, OrderStatus::Accepted);
    let country = order.shipping_address.as_ref().unwrap().country.clone();
    assert_eq!(country.unwrap().alpha2(), "FR");

    let ticket = mirakl
        .push_stock(&[
            StockUpdate {
                sku: "DRILL".into(),
                quantity: 3,
            },
            StockUpdate {
                sku: "HOSE".into(),
                quantity: 0,
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        mirakl.push_status(&ticket).await.unwrap(),
        PushStatus::Completed { rejected: vec![] }
    );
    let imports = sandbox.stock_imports();
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0].lines[0].sku, "DRILL");
    assert_eq!(imports[0].lines[0].quantity, 3);
    assert_eq!(
        mirakl.stock_levels().await.unwrap(),
        [
            StockLevel {
                sku: "DRILL".into(),
                quantity: 3
            },
            StockLevel {
                sku: "HOSE".into(),
                quantity: 0
            }
        ]
    );

    mirakl
        .message_customer(
            &stocked,
            &CustomerMessage {
                subject: "Commande acceptée".into(),
                body: "Bonjour, votre commande est acceptée.".into(),
            },
        )
        .await
        .unwrap();
    let messages = sandbox.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].order_id, stocked);
    assert_eq!(messages[0].to, ["CUSTOMER"]);
    assert_eq!(messages[0].topic_type, "FREE_TEXT");
    assert_eq!(messages[0].topic_value, "Commande acceptée");
    assert_eq!(messages[0].body, "Bonjour, votre commande est acceptée.");

    sandbox
        .ship(
            &stocked,
            Tracking {
                tracking_number: "6A999".into(),
                carrier_code: Some("COLISSIMO".into()),
                carrier_name: Some("Colissimo".into()),
                tracking_url: Some("https://tracking.example/6A999".into()),
            },
        )
        .unwrap();
    let shipped = mirakl
        .orders_by_id(std::slice::from_ref(&stocked))
        .await
        .unwrap();
    let order = &shipped.orders[0];
    assert_eq!(order.state.status, OrderStatus::Shipped);
    let shipment = order.shipment.as_ref().unwrap();
    assert_eq!(shipment.tracking_number.as_deref(), Some("6A999"));
    assert_eq!(shipment.carrier_name.as_deref(), Some("Colissimo"));

    let counts = sandbox.request_counts();
    assert_eq!(counts["OR11"], 3);
    assert_eq!(counts["OR21"], 3);
    assert_eq!(counts["STO01"], 1);
    assert_eq!(counts["STO02"], 1);
    assert_eq!(counts["OF21"], 1);
    assert_eq!(counts["OR43"], 1);
    assert_eq!(counts["V01"], 1);
}

#[tokio::test(start_paused = true)]
async fn refused_lines_give_back_only_what_they_took() {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    sandbox.set_quantity("A", 1);
    let id = sandbox.add_order(OrderSpec::new().line("A", 3, price(100)));
    assert_eq!(sandbox.quantity("A"), Some(0));
    let mirakl = client(&sandbox);
    let batch = mirakl.orders_awaiting_acceptance().await.unwrap();
    mirakl
        .decide(&id, &decisions(&batch.orders[0], false))
        .await
        .unwrap();
    assert_eq!(sandbox.quantity("A"), Some(1));
}

#[tokio::test(start_paused = true)]
async fn the_sandbox_enforces_every_line_decided_and_known() {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    let id = sandbox.add_order(
        OrderSpec::new()
            .line("A", 1, price(100))
            .line("B", 1, price(100)),
    );
    let mirakl = client(&sandbox);
    let partial = [LineDecision {
        line_id: format!("{id}-1"),
        accept: true,
    }];
    let error = mirakl.decide(&id, &partial).await.unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Permanent { code: Some(c), .. } if c == "ORDER_LINE_ACCEPTANCE_DECISION_MISSING"),
        "{error:?}"
    );
    let unknown = [
        LineDecision {
            line_id: format!("{id}-1"),
            accept: true,
        },
        LineDecision {
            line_id: "nope".into(),
            accept: true,
        },
    ];
    let error = mirakl.decide(&id, &unknown).await.unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Permanent { code: Some(c), .. } if c == "ORDER_LINE_NOT_FOUND"),
        "{error:?}"
    );
    let error = mirakl.decide("NO-SUCH-ORDER", &partial).await.unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Permanent { code: Some(c), .. } if c == "ORDER_NOT_FOUND"),
        "{error:?}"
    );
    assert_eq!(sandbox.order(&id).unwrap().state, "WAITING_ACCEPTANCE");
}

#[tokio::test(start_paused = true)]
async fn partial_acceptance_disabled_refuses_the_whole_order() {
    let options = SandboxOptions {
        partial_acceptance: false,
        ..SandboxOptions::default()
    };
    let sandbox = MiraklSandbox::start(options).await.unwrap();
    let id = sandbox.add_order(
        OrderSpec::new()
            .line("A", 1, price(100))
            .line("B", 1, price(100)),
    );
    let mirakl = client(&sandbox);
    let mixed = [
        LineDecision {
            line_id: format!("{id}-1"),
            accept: true,
        },
        LineDecision {
            line_id: format!("{id}-2"),
            accept: false,
        },
    ];
    mirakl.decide(&id, &mixed).await.unwrap();
    let order = sandbox.order(&id).unwrap();
    assert_eq!(order.state, "REFUSED");
    assert!(order.lines.iter().all(|l| l.state == "REFUSED"));
    assert!(!mirakl.capabilities().partial_acceptance);

    // a seller who prefers back-orders accepts the whole order instead
    let id = sandbox.add_order(
        OrderSpec::new()
            .line("A", 1, price(100))
            .line("B", 1, price(100)),
    );
    let mut settings = settings_for(&sandbox);
    settings.partial_acceptance_fallback = PartialAcceptanceFallback::AcceptOrder;
    let accepting = Mirakl::new("sandbox", settings).unwrap();
    let mixed = [
        LineDecision {
            line_id: format!("{id}-1"),
            accept: false,
        },
        LineDecision {
            line_id: format!("{id}-2"),
            accept: true,
        },
    ];
    accepting.decide(&id, &mixed).await.unwrap();
    assert_eq!(sandbox.order(&id).unwrap().state, "SHIPPING");
}

#[tokio::test(start_paused = true)]
async fn polls_page_through_hundreds_of_orders() {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    let ids = sandbox.add_random_orders(250, &["A", "B", "C"]);
    let batch = client(&sandbox).orders_awaiting_acceptance().await.unwrap();
    assert_eq!(batch.orders.len(), 250);
    let read: Vec<_> = batch.orders.iter().map(|o| o.id.clone()).collect();
    assert_eq!(read, ids);
    assert_eq!(sandbox.request_count("OR11"), 3);
}

#[tokio::test]
async fn the_sandbox_refuses_what_mirakl_refuses() {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let orders = sandbox.base_url().join("api/orders").unwrap();
    let status = |r: reqwest::Response| r.status().as_u16();
    // no key, a Bearer key, a page too large, someone else's shop
    let none = http.get(orders.clone()).send().await.unwrap();
    assert_eq!(status(none), 401);
    let bearer = http
        .get(orders.clone())
        .header("Authorization", format!("Bearer {}", sandbox.api_key()))
        .send()
        .await
        .unwrap();
    assert_eq!(status(bearer), 401);
    let too_many = http
        .get(orders.clone())
        .query(&[("max", "101")])
        .header("Authorization", sandbox.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(status(too_many), 400);
    let other_shop = http
        .get(orders.clone())
        .query(&[("shop_id", "9")])
        .header("Authorization", sandbox.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(status(other_shop), 403);
    // the default page is 10, with a Link to the next one
    sandbox.add_random_orders(12, &["A"]);
    let page = http
        .get(orders)
        .header("Authorization", sandbox.api_key())
        .send()
        .await
        .unwrap();
    let link = page.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.contains("offset=10") && link.contains("rel=\"next\""),
        "{link}"
    );
    let body: serde_json::Value = page.json().await.unwrap();
    assert_eq!(body["orders"].as_array().unwrap().len(), 10);
    assert_eq!(body["total_count"], 12);
    assert_eq!(sandbox.request_count("OR11"), 5);
}

#[tokio::test(start_paused = true)]
async fn stock_imports_report_unknown_offers_per_sku() {
    let options = SandboxOptions {
        import_polls_before_complete: 1,
        ..SandboxOptions::default()
    };
    let sandbox = MiraklSandbox::start(options).await.unwrap();
    sandbox.set_quantity("A", 1);
    let mirakl = client(&sandbox);
    let ticket = mirakl
        .push_stock(&[
            StockUpdate {
                sku: "A".into(),
                quantity: 9,
            },
            StockUpdate {
                sku: "GHOST".into(),
                quantity: 2,
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        mirakl.push_status(&ticket).await.unwrap(),
        PushStatus::Pending
    );
    assert_eq!(sandbox.quantity("A"), Some(1), "not applied while running");
    let start = tokio::time::Instant::now();
    assert_eq!(
        mirakl.push_status(&ticket).await.unwrap(),
        PushStatus::Completed {
            rejected: vec![SkuRejection {
                sku: "GHOST".into(),
                message: "The offer with sku GHOST does not exist".into()
            }]
        }
    );
    assert!(start.elapsed() >= Duration::from_secs(15), "STO02 budget");
    assert_eq!(sandbox.quantity("A"), Some(9));
    assert_eq!(sandbox.quantity("GHOST"), None);
    assert_eq!(sandbox.request_count("STO03"), 1);
}

#[tokio::test(start_paused = true)]
async fn odd_orders_are_quarantined_or_kept_raw() {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    let broken = sandbox.add_order(OrderSpec::new().line("A", 1, price(100)));
    let fine = sandbox.add_order(OrderSpec::new().line("A", 1, price(100)));
    let odd = sandbox.add_order(OrderSpec::new().line("A", 1, price(100)));
    sandbox.set_malformed(&broken, true).unwrap();
    sandbox.force_state(&odd, "WAITING_SOMETHING_NEW").unwrap();
    let mut settings = settings_for(&sandbox);
    settings.limits = MiraklLimits {
        orders_per_minute: NonZeroU32::new(10).unwrap(),
        ..MiraklLimits::default()
    };
    let mirakl = Mirakl::new("sandbox", settings).unwrap();
    let batch = mirakl
        .orders_by_id(&[broken.clone(), fine.clone(), odd.clone()])
        .await
        .unwrap();
    assert_eq!(batch.malformed.len(), 1);
    assert_eq!(
        batch.malformed[0].order_id.as_deref(),
        Some(broken.as_str())
    );
    assert_eq!(batch.orders.len(), 2);
    assert_eq!(batch.orders[1].id, odd);
    assert_eq!(batch.orders[1].state.raw, "WAITING_SOMETHING_NEW");
    assert_eq!(batch.orders[1].state.status, OrderStatus::Other);
}

#[tokio::test(start_paused = true)]
async fn faults_rate_limits_latency_errors_and_revoked_keys() {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    sandbox.set_quantity("A", 1);
    let mirakl = client(&sandbox);

    sandbox.set_faults(Faults {
        rate_limit_every: Some(2),
        retry_after_secs: 9,
        ..Faults::default()
    });
    let start = tokio::time::Instant::now();
    mirakl.stock_levels().await.unwrap();
    mirakl.stock_levels().await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(9),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(sandbox.request_count("OF21"), 3);

    sandbox.set_faults(Faults {
        latency: Duration::from_secs(2),
        ..Faults::default()
    });
    let start = tokio::time::Instant::now();
    mirakl.stock_levels().await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(2));

    sandbox.set_faults(Faults {
        server_error_rate: 1.0,
        ..Faults::default()
    });
    let error = mirakl.stock_levels().await.unwrap_err();
    assert!(matches!(error, ConnectorError::Transient(_)), "{error:?}");

    sandbox.set_faults(Faults {
        reject_auth: true,
        ..Faults::default()
    });
    let error = mirakl.stock_levels().await.unwrap_err();
    assert!(matches!(error, ConnectorError::Auth(_)), "{error:?}");
    assert!(!error.to_string().contains(sandbox.api_key()));

    sandbox.set_faults(Faults::default());
    mirakl.stock_levels().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_wrong_key_is_an_auth_error() {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    let mut settings = settings_for(&sandbox);
    settings.api_key = SecretString::from("not-the-key".to_owned());
    let error = Mirakl::new("sandbox", settings)
        .unwrap()
        .orders_awaiting_acceptance()
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::Auth(_)), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn orders_arrive_over_time_from_a_seeded_generator() {
    let sandbox = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    sandbox.start_generator(Duration::from_secs(10), &["A", "B"]);
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(sandbox.orders().len(), 3);

    // the same seed draws the same orders
    let specs = |sandbox: &MiraklSandbox| {
        sandbox.add_random_orders(5, &["A", "B", "C"]);
        sandbox
            .orders()
            .iter()
            .rev()
            .take(5)
            .map(|o| {
                o.lines
                    .iter()
                    .map(|l| (l.sku.clone(), l.quantity, l.unit_price))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let one = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    let two = MiraklSandbox::start(SandboxOptions::default())
        .await
        .unwrap();
    assert_eq!(specs(&one), specs(&two));
    let other = MiraklSandbox::start(SandboxOptions {
        seed: 99,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    assert_ne!(specs(&one), specs(&other));
}
