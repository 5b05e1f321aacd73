//! On-call notices as jobs of the one queue: one per target, uncertain after a cut send,
//! cancelled by a resolve, nothing lost at the upgrade.

use super::*;

/// `(alert, notice, destination, state)` of every on-call job, in id order.
fn alert_jobs(store: &Store) -> Vec<(String, String, String, String)> {
    store
        .with(|conn| {
            let mut stmt = conn.prepare(
                "SELECT a.dedup_key, j.event, j.destination, j.state
                 FROM outbox j JOIN alerts a ON a.id = j.alert_id ORDER BY j.id",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .unwrap()
}

fn job(alert: &str, notice: &str, to: &str, state: &str) -> (String, String, String, String) {
    (alert.into(), notice.into(), to.into(), state.into())
}

/// Two generic targets: `alerts:0` always answers 200, `alerts:1` answers `second` first
/// (429 in these tests: refused for now, so retried; a 5xx would leave it uncertain).
async fn two_targets(
    dir: &std::path::Path,
    second: ResponseTemplate,
    times: u64,
) -> (MockServer, MockServer, Arc<Config>) {
    let first = receiver().await;
    let other = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(second)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&other)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&other)
        .await;
    let config = Arc::new(config(
        dir,
        "http://127.0.0.1:9",
        &format!(
            "[[alerts.webhook]]\nurl = \"{}/a\"\n\n[[alerts.webhook]]\nurl = \"{}/b\"\n",
            first.uri(),
            other.uri()
        ),
    ));
    (first, other, config)
}

#[tokio::test]
async fn an_interrupted_notice_is_uncertain_alerted_and_never_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, config) = two_targets(dir.path(), ResponseTemplate::new(429), 1).await;
    let rig = Rig::start(&config);
    rig.raise(&unreachable());
    rig.drain().await;
    // One job per target: `alerts:1` failed once and waits for its retry.
    assert_eq!(
        alert_jobs(&rig.store),
        [
            job("channel_unreachable:shop", "trigger", "alerts:0", "sent"),
            job("channel_unreachable:shop", "trigger", "alerts:1", "pending"),
        ]
    );

    // The retry is claimed, then the process dies before the answer is recorded.
    rig.advance(SignedDuration::from_secs(16));
    let at = rig.stamp();
    let claimed = rig
        .store
        .with(|c| outbox::claim(c, &outbox::Lane::Alerts(1), &at, 1))
        .unwrap();
    assert_eq!(claimed.len(), 1);

    let rig = rig.restart(&config);
    rig.drain().await;
    rig.advance(SignedDuration::from_hours(1));
    rig.drain().await;

    let jobs = alert_jobs(&rig.store);
    assert_eq!(jobs[1].3, "uncertain", "{jobs:?}");
    let raised = notify_support::alerts(&rig.store);
    assert_eq!(raised.len(), 2, "{raised:?}");
    assert_eq!(raised[1].0, "notification_uncertain");
    assert!(
        raised[1]
            .2
            .contains("trigger notice of alert channel_unreachable:shop to alerts:1"),
        "{}",
        raised[1].2
    );
    // Each target heard of the doubt; the interrupted trigger was never sent again.
    for (target, at) in [(&a, "/a"), (&b, "/b")] {
        let kinds: Vec<Value> = bodies(target, at)
            .await
            .iter()
            .map(|b| b["kind"].clone())
            .collect();
        assert_eq!(
            kinds,
            ["channel_unreachable", "notification_uncertain"],
            "{at}"
        );
    }
}

#[tokio::test]
async fn notices_owed_by_the_previous_release_are_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, config) = two_targets(dir.path(), ResponseTemplate::new(200), 1).await;
    let rig = Rig::start(&config);
    let t = rig.stamp();
    // What the release before the one queue left in the alerts table: a trigger that reached
    // the first target only, a resolve owed to both, a reminder that reached the second only.
    rig.store
        .with(|c| {
            c.execute(
                "INSERT INTO alerts (dedup_key, kind, severity, channel, order_ref, message,
                                     opened_at, last_notified_at, resolved_at, notice, delivered)
                 VALUES ('decision_rejected:A', 'decision_rejected', 'critical', NULL, NULL, 'A was rejected',
                         ?1, NULL, NULL, 'trigger', '[0]'),
                        ('channel_unreachable:shop', 'channel_unreachable', 'critical', 'shop',
                         NULL, 'down', ?1, ?1, ?1, 'resolve', '[]'),
                        ('order_flagged:shop:1', 'order_flagged', 'warning', 'shop', 'shop:1',
                         'review', ?1, ?1, NULL, 'trigger', '[1]')",
                [&t],
            )?;
            Ok(())
        })
        .unwrap();
    rig.drain().await;
    rig.drain().await;

    let told = |bodies: Vec<Value>| -> Vec<(String, bool)> {
        bodies
            .iter()
            .map(|b| {
                (
                    b["dedup_key"].as_str().unwrap().to_owned(),
                    b["resolved"] == true,
                )
            })
            .collect()
    };
    let (unreachable, resolved) = ("channel_unreachable:shop".to_owned(), true);
    assert_eq!(
        told(bodies(&a, "/a").await),
        [
            (unreachable.clone(), resolved),
            ("order_flagged:shop:1".to_owned(), false)
        ]
    );
    assert_eq!(
        told(bodies(&b, "/b").await),
        [
            ("decision_rejected:A".to_owned(), false),
            (unreachable, resolved)
        ]
    );
    // The targets the old release had told are recorded as sent, so nothing is lost or sent
    // twice and a later resolve knows who heard of the alert.
    assert_eq!(
        alert_jobs(&rig.store),
        [
            job("decision_rejected:A", "trigger", "alerts:0", "sent"),
            job("decision_rejected:A", "trigger", "alerts:1", "sent"),
            job("channel_unreachable:shop", "resolve", "alerts:0", "sent"),
            job("channel_unreachable:shop", "resolve", "alerts:1", "sent"),
            job("order_flagged:shop:1", "reminder:1", "alerts:0", "sent"),
            job("order_flagged:shop:1", "reminder:1", "alerts:1", "sent"),
        ]
    );

    // Resolved now: the target the old release told hears it too, not only the new one.
    rig.advance(SignedDuration::from_secs(1));
    assert!(rig.resolve("decision_rejected:A"));
    rig.drain().await;
    let resolves = |bodies: Vec<Value>| {
        bodies
            .iter()
            .filter(|b| b["dedup_key"] == "decision_rejected:A" && b["resolved"] == true)
            .count()
    };
    assert_eq!(resolves(bodies(&a, "/a").await), 1);
    assert_eq!(resolves(bodies(&b, "/b").await), 1);
}

#[tokio::test]
async fn a_resolve_cancels_what_was_not_sent_and_tells_who_may_have_heard() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, config) = two_targets(dir.path(), ResponseTemplate::new(429), 100).await;
    let rig = Rig::start(&config);
    rig.raise(&unreachable());
    rig.drain().await;
    assert!(rig.resolve("channel_unreachable:shop"));
    // Raised and resolved before anyone was told: nothing to say.
    let flapping = Alert::new(
        AlertKind::DecisionRejected,
        "decision_rejected:B",
        "B rejected",
    );
    rig.raise(&flapping);
    assert!(rig.resolve("decision_rejected:B"));
    rig.advance(SignedDuration::from_secs(16));
    rig.drain().await;

    let told = |bodies: Vec<Value>| -> Vec<bool> {
        bodies.iter().map(|b| b["resolved"] == true).collect()
    };
    assert_eq!(told(bodies(&a, "/a").await), [false, true]);
    // The failing target's trigger retry is cancelled (a trigger after the resolve would
    // reopen the incident); it may have heard of the alert, so it is owed the resolve.
    assert_eq!(told(bodies(&b, "/b").await), [false, true]);
    assert_eq!(
        alert_jobs(&rig.store),
        [
            job("channel_unreachable:shop", "trigger", "alerts:0", "sent"),
            job(
                "channel_unreachable:shop",
                "trigger",
                "alerts:1",
                "cancelled"
            ),
            job("channel_unreachable:shop", "resolve", "alerts:0", "sent"),
            job("channel_unreachable:shop", "resolve", "alerts:1", "pending"),
        ]
    );
}

#[tokio::test]
async fn a_message_given_up_reaches_on_call_in_the_same_drain() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = MockServer::start().await;
    notify_support::answer(&hooks, "/crm", 404).await;
    notify_support::answer(&hooks, "/alerts", 202).await;
    let config = Arc::new(config(
        dir.path(),
        "http://127.0.0.1:9",
        &format!(
            r#"
[notify.channel.shop]
routes = ["webhook"]
events = ["accepted"]

[notify.webhook]
url = "{uri}/crm"

[[alerts.webhook]]
url = "{uri}/alerts"
"#,
            uri = hooks.uri()
        ),
    ));
    let rig = Rig::start(&config);
    let order = notify_support::order("F-1");
    let pk = notify_support::insert_order(&rig.store, "shop", &order);
    notify_support::enqueue(
        &rig.store,
        &config,
        pk,
        vigie::events::OrderEvent::Accepted,
        &order,
    );
    rig.drain().await;
    let told = bodies(&hooks, "/alerts").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["kind"], "notification_failed");
    assert_eq!(told[0]["order"], "shop:F-1");
}
