//! What each format tells its target: triggers, reminders, resolves, retries, dry runs.

use super::*;

#[tokio::test]
async fn each_format_is_triggered_reminded_and_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = receiver().await;
    let config = Arc::new(config(
        dir.path(),
        "http://127.0.0.1:9",
        &format!(
            r#"
[[alerts.webhook]]
url = "{uri}/generic"
format = "generic"
secret = "alert-key"

[[alerts.webhook]]
url = "{uri}/slack/T000/B000/XXXX"
format = "slack"

[[alerts.webhook]]
url = "{uri}/pagerduty"
format = "pagerduty"
routing_key = "pd-routing-key"

[alerts]
renotify_after = "1h"
"#,
            uri = hooks.uri()
        ),
    ));
    let rig = Rig::start(&config);

    // Raised twice: one condition, one notice.
    rig.raise(&unreachable());
    rig.raise(&unreachable());
    rig.drain().await;
    rig.drain().await;

    let generic = bodies(&hooks, "/generic").await;
    assert_eq!(generic.len(), 1);
    assert_eq!(generic[0]["kind"], "channel_unreachable");
    assert_eq!(generic[0]["severity"], "critical");
    assert_eq!(generic[0]["channel"], "shop");
    assert_eq!(generic[0]["order"], Value::Null);
    assert_eq!(
        generic[0]["message"],
        "3 polls failed in a row: connection refused"
    );
    assert_eq!(generic[0]["resolved"], false);
    assert!(generic[0]["occurred_at"].as_str().unwrap().ends_with('Z'));
    let request = hooks.received_requests().await.unwrap();
    let signed = request.iter().find(|r| r.url.path() == "/generic").unwrap();
    let signature = signed
        .headers
        .get("x-vigie-signature")
        .unwrap()
        .to_str()
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"alert-key").unwrap();
    mac.update(&signed.body);
    mac.verify_slice(&hex::decode(signature).unwrap()).unwrap();
    let slack_request = request
        .iter()
        .find(|r| r.url.path().starts_with("/slack"))
        .unwrap();
    assert!(slack_request.headers.get("x-vigie-signature").is_none());

    let slack = bodies(&hooks, "/slack/T000/B000/XXXX").await;
    assert_eq!(slack.len(), 1);
    let text = slack[0]["text"].as_str().unwrap();
    assert!(text.contains("*channel_unreachable*"), "{text}");
    assert!(
        text.contains("`shop`") && text.contains("connection refused"),
        "{text}"
    );

    let pd = bodies(&hooks, "/pagerduty").await;
    assert_eq!(pd.len(), 1);
    assert_eq!(pd[0]["routing_key"], "pd-routing-key");
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["dedup_key"], "vigie:channel_unreachable:shop");
    assert_eq!(pd[0]["payload"]["severity"], "critical");
    assert_eq!(pd[0]["payload"]["source"], "vigie");
    assert!(
        pd[0]["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("channel_unreachable")
    );

    // Still open an hour later: reminded once, same PagerDuty incident.
    rig.advance(SignedDuration::from_mins(61));
    rig.drain().await;
    rig.drain().await;
    assert_eq!(bodies(&hooks, "/generic").await.len(), 2);
    let pd = bodies(&hooks, "/pagerduty").await;
    assert_eq!(pd.len(), 2);
    assert_eq!(pd[1]["dedup_key"], "vigie:channel_unreachable:shop");
    let slack = bodies(&hooks, "/slack/T000/B000/XXXX").await;
    assert!(slack[1]["text"].as_str().unwrap().contains("still open"));

    // Resolved: each target hears it once.
    assert!(rig.resolve("channel_unreachable:shop"));
    assert!(!rig.resolve("channel_unreachable:shop"));
    rig.drain().await;
    rig.drain().await;
    let generic = bodies(&hooks, "/generic").await;
    assert_eq!(generic.len(), 3);
    assert_eq!(generic[2]["resolved"], true);
    let pd = bodies(&hooks, "/pagerduty").await;
    assert_eq!(pd.len(), 3);
    assert_eq!(pd[2]["event_action"], "resolve");
    assert_eq!(pd[2]["dedup_key"], "vigie:channel_unreachable:shop");
    let slack = bodies(&hooks, "/slack/T000/B000/XXXX").await;
    assert!(
        slack[2]["text"]
            .as_str()
            .unwrap()
            .contains(":white_check_mark:")
    );

    // Resolved conditions are not reminded; the condition may open again later.
    rig.advance(SignedDuration::from_hours(5));
    rig.drain().await;
    assert_eq!(bodies(&hooks, "/generic").await.len(), 3);
    rig.raise(&unreachable());
    rig.drain().await;
    assert_eq!(bodies(&hooks, "/generic").await.len(), 4);
}

#[tokio::test]
async fn a_failing_target_is_retried_alone_and_others_are_not_sent_twice() {
    let dir = tempfile::tempdir().unwrap();
    let good = receiver().await;
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&flaky)
        .await;
    let config = Arc::new(config(
        dir.path(),
        "http://127.0.0.1:9",
        &format!(
            "[[alerts.webhook]]\nurl = \"{}/hook\"\n\n[[alerts.webhook]]\nurl = \"{}/hook\"\n",
            good.uri(),
            flaky.uri()
        ),
    ));
    let rig = Rig::start(&config);
    let alert = Alert::new(
        AlertKind::NotificationUncertain,
        "notification_uncertain:7",
        "the shipped message for shop:A-1 may not have been sent",
    )
    .order("shop", "A-1");
    rig.raise(&alert);
    // An occurrence is told once: raising it again changes nothing.
    rig.raise(&alert);

    rig.drain().await;
    assert_eq!(good.received_requests().await.unwrap().len(), 1);
    assert_eq!(flaky.received_requests().await.unwrap().len(), 1);
    // Not due again before the first retry delay (15s).
    rig.drain().await;
    assert_eq!(flaky.received_requests().await.unwrap().len(), 1);
    rig.advance(SignedDuration::from_secs(16));
    rig.drain().await;
    assert_eq!(flaky.received_requests().await.unwrap().len(), 2);
    // The delay doubles: 30s more.
    rig.advance(SignedDuration::from_secs(16));
    rig.drain().await;
    assert_eq!(flaky.received_requests().await.unwrap().len(), 2);
    rig.advance(SignedDuration::from_secs(15));
    rig.drain().await;
    assert_eq!(flaky.received_requests().await.unwrap().len(), 3);
    assert_eq!(
        good.received_requests().await.unwrap().len(),
        1,
        "never twice"
    );
    let body: Value =
        serde_json::from_slice(&flaky.received_requests().await.unwrap()[2].body).unwrap();
    assert_eq!(body["kind"], "notification_uncertain");
    assert_eq!(body["order"], "shop:A-1");

    // Occurrences are never reminded.
    rig.advance(SignedDuration::from_hours(24));
    rig.drain().await;
    assert_eq!(good.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn dry_run_delivers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = receiver().await;
    let config = Arc::new(config(
        dir.path(),
        "http://127.0.0.1:9",
        &format!("[[alerts.webhook]]\nurl = \"{}/x\"\n", hooks.uri()),
    ));
    let store = open_store(&config);
    store
        .with(|c| alerts::raise(c, &unreachable(), &vigie::store::now_text()))
        .unwrap();
    Worker::new(store.clone(), config.clone(), HashMap::new(), true)
        .unwrap()
        .drain_once()
        .await;
    assert!(hooks.received_requests().await.unwrap().is_empty());
    assert_eq!(store.with(|c| alerts::open(c)).unwrap().len(), 1);
}
