//! After acceptance, as OR11 shows it: a customer's cancellation, the operator's partial
//! cancellation and refunds before and after shipping, a claim opened and closed.

use vigie_connector::testing::decide_one;
use vigie_connector::{CancellationKind, OrderStatus};
use vigie_mirakl::sandbox::Tracking;

use super::{client, decisions, reread, start_sandbox, two_line_order};

#[tokio::test(start_paused = true)]
async fn a_customer_cancellation_reads_with_its_reason() {
    let sandbox = start_sandbox().await;
    let mirakl = client(&sandbox);
    let id = two_line_order(&sandbox);
    for line in ["-1", "-2"] {
        sandbox
            .cancel(&id, &format!("{id}{line}"), 1, "CUSTOMER_REQUEST")
            .unwrap();
    }
    let order = reread(&mirakl, &id).await;
    assert_eq!(order.state.status, OrderStatus::Cancelled);
    let taken = &order.lines[0].cancellations;
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].kind, CancellationKind::Cancelled);
    assert_eq!(taken[0].reason.as_deref(), Some("CUSTOMER_REQUEST"));
    assert!(!taken[0].after_shipping);
}

#[tokio::test(start_paused = true)]
async fn refunds_before_and_after_shipping_and_a_partial_cancellation() {
    let sandbox = start_sandbox().await;
    let mirakl = client(&sandbox);
    let id = sandbox.add_order(
        vigie_mirakl::sandbox::OrderSpec::new()
            .line("A", 3, super::price(100))
            .line("B", 1, super::price(100)),
    );
    let order = reread(&mirakl, &id).await;
    decide_one(&mirakl, &id, &decisions(&order, true))
        .await
        .unwrap();
    let (a, b) = (format!("{id}-1"), format!("{id}-2"));
    sandbox.cancel(&id, &a, 1, "OUT_OF_STOCK").unwrap();
    sandbox.refund(&id, &b, "CUSTOMER_REQUEST").unwrap();
    let order = reread(&mirakl, &id).await;
    assert_eq!(order.lines[0].state.status, OrderStatus::Accepted);
    assert_eq!(order.lines[0].cancellations[0].quantity, 1);
    assert_eq!(order.lines[1].state.status, OrderStatus::Refunded);
    assert!(!order.lines[1].cancellations[0].after_shipping);

    sandbox
        .ship(
            &id,
            Tracking {
                tracking_number: "T1".into(),
                carrier_name: Some("Colissimo".into()),
                ..Tracking::default()
            },
        )
        .unwrap();
    sandbox.refund(&id, &a, "RETURN").unwrap();
    let order = reread(&mirakl, &id).await;
    let refund = order.lines[0]
        .cancellations
        .iter()
        .find(|c| c.kind == CancellationKind::Refunded)
        .unwrap();
    assert_eq!(refund.quantity, 2, "what the cancellation left");
    assert!(refund.after_shipping);
}

#[tokio::test(start_paused = true)]
async fn a_claim_opens_and_closes() {
    let sandbox = start_sandbox().await;
    let mirakl = client(&sandbox);
    let id = two_line_order(&sandbox);
    let order = reread(&mirakl, &id).await;
    decide_one(&mirakl, &id, &decisions(&order, true))
        .await
        .unwrap();
    let line = format!("{id}-1");
    sandbox
        .set_incident(&id, &line, Some("NOT_RECEIVED"))
        .unwrap();
    let order = reread(&mirakl, &id).await;
    assert_eq!(order.lines[0].state.status, OrderStatus::Incident);
    assert_eq!(
        order.incident.and_then(|i| i.reason).as_deref(),
        Some("NOT_RECEIVED")
    );
    sandbox.set_incident(&id, &line, None).unwrap();
    let order = reread(&mirakl, &id).await;
    assert_eq!(order.incident, None);
    assert_eq!(order.lines[0].state.status, OrderStatus::Accepted);
}
