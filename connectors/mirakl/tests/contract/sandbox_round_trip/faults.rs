//! Slow stock imports, injected faults, wrong keys, and the seeded order generator.

use std::time::Duration;

use secrecy::SecretString;
use vigie_connector::testing::{assert_waited, stock};
use vigie_connector::{ConnectorError, Marketplace, PushStatus, SkuRejection};
use vigie_mirakl::Mirakl;
use vigie_mirakl::sandbox::{Faults, MiraklSandbox, SandboxOptions};

use super::{client, settings_for, start_sandbox};

#[tokio::test(start_paused = true)]
async fn stock_imports_report_unknown_offers_per_sku() {
    let options = SandboxOptions {
        import_polls_before_complete: 1,
        ..SandboxOptions::default()
    };
    let sandbox = MiraklSandbox::start(options).await.unwrap();
    sandbox.set_quantity("A", 1);
    let mirakl = client(&sandbox);
    let updates = [stock("A", 9), stock("GHOST", 2)];
    let ticket = mirakl.push_stock(&updates).await.unwrap();
    // From before the first look: the paused clock may move on during its HTTP exchange.
    let start = tokio::time::Instant::now();
    assert_eq!(
        mirakl.push_status(&ticket).await.unwrap(),
        PushStatus::Pending
    );
    assert_eq!(sandbox.quantity("A"), Some(1), "not applied while running");
    assert_eq!(
        mirakl.push_status(&ticket).await.unwrap(),
        PushStatus::Completed {
            rejected: vec![SkuRejection {
                sku: "GHOST".into(),
                message: "The offer with sku GHOST does not exist".into()
            }]
        }
    );
    // the STO02 budget between the two looks
    assert_waited(start, Duration::from_secs(15));
    assert_eq!(sandbox.quantity("A"), Some(9));
    assert_eq!(sandbox.quantity("GHOST"), None);
    assert_eq!(sandbox.request_count("STO03"), 1);
}

#[tokio::test(start_paused = true)]
async fn faults_rate_limits_latency_errors_and_revoked_keys() {
    let sandbox = start_sandbox().await;
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
    assert_waited(start, Duration::from_secs(9));
    assert_eq!(sandbox.request_count("OF21"), 3);

    sandbox.set_faults(Faults {
        latency: Duration::from_secs(2),
        ..Faults::default()
    });
    let start = tokio::time::Instant::now();
    mirakl.stock_levels().await.unwrap();
    assert_waited(start, Duration::from_secs(2));

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
    let sandbox = start_sandbox().await;
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
    let sandbox = start_sandbox().await;
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
    let (one, two) = (start_sandbox().await, start_sandbox().await);
    assert_eq!(specs(&one), specs(&two));
    let other = MiraklSandbox::start(SandboxOptions {
        seed: 99,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    assert_ne!(specs(&one), specs(&other));
}
