//! A real SMTP conversation: vigie's e-mail route against a server on 127.0.0.1 started by
//! the test, checking the envelope, the headers, the encoding of French text and the body.

mod notify_support;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use notify_support::{
    alerts, config, enqueue, insert_order, manual_clock, open_store, order, outbox,
};
use vigie::delivery::Worker;
use vigie::events::OrderEvent;
use vigie_testkit::SmtpSink;

fn smtp_config(dir: &std::path::Path, port: u16) -> vigie::config::Config {
    config(
        dir,
        "http://127.0.0.1:9",
        &format!(
            r#"
[notify.channel.shop]
routes = ["email"]
events = ["accepted", "refused"]

[smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
username = "boutique"
password = "s3cret-Passw0rd"
from = "Ma Boutique <boutique@example.com>"
reply_to = "service@example.com"
timeout = "10s"
"#
        ),
    )
}

#[tokio::test]
async fn the_email_route_speaks_smtp_with_encoded_french_text() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await.unwrap();
    let config = Arc::new(smtp_config(dir.path(), sink.port));
    let store = open_store(&config);
    let order = order("A-1");
    let pk = insert_order(&store, "shop", &order);
    assert_eq!(
        enqueue(&store, &config, pk, OrderEvent::Accepted, &order),
        1
    );

    let worker = Worker::new(store.clone(), config.clone(), HashMap::new(), false).unwrap();
    worker.drain_once().await;

    let received = sink.received();
    assert_eq!(received.len(), 1, "exactly one message");
    let mail = &received[0];
    // Envelope.
    assert!(
        mail.mail_from.starts_with("<boutique@example.com>"),
        "{}",
        mail.mail_from
    );
    assert_eq!(mail.rcpt_to, ["<notify+a-1@example.org>"]);
    let auth = base64::engine::general_purpose::STANDARD
        .decode(mail.auth.as_deref().expect("AUTH PLAIN"))
        .unwrap();
    assert_eq!(auth, b"\0boutique\0s3cret-Passw0rd");

    // Headers: 7-bit on the wire, French once decoded.
    let (head, body) = mail
        .data
        .split_once("\r\n\r\n")
        .expect("headers, blank line, body");
    assert!(head.is_ascii(), "headers must be encoded:\n{head}");
    let headers = unfold(head);
    assert_eq!(
        header(&headers, "From"),
        "\"Ma Boutique\" <boutique@example.com>"
    );
    assert_eq!(header(&headers, "To"), "notify+a-1@example.org");
    assert_eq!(header(&headers, "Reply-To"), "service@example.com");
    assert_eq!(
        decode_words(&header(&headers, "Subject")),
        "Votre commande A-1-REF est confirmée"
    );
    assert!(header(&headers, "Subject").contains("=?utf-8?"));
    assert_eq!(
        header(&headers, "Message-ID"),
        format!("<vigie-1@example.com>")
    );
    assert!(!header(&headers, "Date").is_empty());
    let content_type = header(&headers, "Content-Type");
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );

    // Body: a text part and an HTML part, both carrying the accented greeting.
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let parts: Vec<&str> = body
        .split(&format!("--{boundary}"))
        .filter(|p| p.starts_with("\r\n") && !p.trim().is_empty())
        .collect();
    assert_eq!(parts.len(), 2, "text and HTML");
    let text = decode_part(parts[0]);
    assert!(
        text.0.starts_with("text/plain; charset=utf-8"),
        "{}",
        text.0
    );
    assert!(text.1.starts_with("Bonjour Hélène,\n"), "{}", text.1);
    assert!(text.1.contains("nous avons accepté votre commande A-1-REF"));
    assert!(text.1.contains("1 × Perceuse-visseuse 18 V"));
    let html = decode_part(parts[1]);
    assert!(html.0.starts_with("text/html; charset=utf-8"), "{}", html.0);
    assert!(html.1.contains("<p>Bonjour Hélène,</p>"), "{}", html.1);

    assert_eq!(outbox(&store), [("email".to_owned(), "sent".to_owned(), 1)]);
    // The password never reaches the database.
    let db = std::fs::read(store.path()).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains("s3cret-Passw0rd"));
}

#[tokio::test]
async fn a_4xx_reply_is_retried_later_and_a_5xx_reply_fails_with_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await.unwrap();
    let config = Arc::new(smtp_config(dir.path(), sink.port));
    let store = open_store(&config);
    let (clock, now) = manual_clock();
    let worker = Worker::new(store.clone(), config.clone(), HashMap::new(), false)
        .unwrap()
        .with_clock(clock);

    let first = order("B-1");
    let pk = insert_order(&store, "shop", &first);
    enqueue(&store, &config, pk, OrderEvent::Accepted, &first);
    sink.refuse_next("451 4.3.0 try again later");
    worker.drain_once().await;
    assert_eq!(
        outbox(&store),
        [("email".to_owned(), "pending".to_owned(), 1)]
    );
    assert!(sink.received().is_empty());

    // Not due yet: nothing happens.
    worker.drain_once().await;
    assert_eq!(outbox(&store)[0].2, 1);
    // retry_min (30s) later it goes.
    *now.lock().unwrap() += jiff::SignedDuration::from_secs(31);
    worker.drain_once().await;
    assert_eq!(outbox(&store), [("email".to_owned(), "sent".to_owned(), 2)]);
    assert_eq!(sink.received().len(), 1);

    let second = order("B-2");
    let pk = insert_order(&store, "shop", &second);
    enqueue(&store, &config, pk, OrderEvent::Refused, &second);
    sink.refuse_next("550 5.1.1 no such mailbox");
    worker.drain_once().await;
    assert_eq!(
        outbox(&store)[1],
        ("email".to_owned(), "failed".to_owned(), 1)
    );
    let alerts = alerts(&store);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0, "notification_failed");
    assert!(alerts[0].2.contains("shop:B-2"), "{}", alerts[0].2);
    assert!(alerts[0].2.contains("550"), "{}", alerts[0].2);
    assert_eq!(sink.received().len(), 1, "nothing more was accepted");
}

#[tokio::test]
async fn a_lane_sends_its_messages_over_one_smtp_connection() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await.unwrap();
    let config = Arc::new(smtp_config(dir.path(), sink.port));
    let store = open_store(&config);
    for n in 1..=5 {
        let order = order(&format!("C-{n}"));
        let pk = insert_order(&store, "shop", &order);
        enqueue(&store, &config, pk, OrderEvent::Accepted, &order);
    }
    let worker = Worker::new(store.clone(), config.clone(), HashMap::new(), false).unwrap();
    worker.drain_once().await;
    assert_eq!(sink.received().len(), 5);
    assert_eq!(
        sink.connections(),
        1,
        "one SMTP conversation for the lane's messages"
    );
}

/// Header lines with continuation lines joined.
fn unfold(head: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("a continuation follows a header");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    headers
}

fn header(headers: &[(String, String)], name: &str) -> String {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

/// RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`); whitespace between two
/// encoded words is not part of the text.
fn decode_words(value: &str) -> String {
    let mut out = Vec::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let between = &rest[..start];
        if !(after_word && between.trim().is_empty()) {
            out.extend_from_slice(between.as_bytes());
        }
        let word = &rest[start + 2..];
        let mut pieces = word.splitn(3, '?');
        let _charset = pieces.next().unwrap();
        let encoding = pieces.next().unwrap().to_ascii_lowercase();
        let tail = pieces.next().unwrap();
        let end = tail.find("?=").unwrap();
        let text = &tail[..end];
        match encoding.as_str() {
            "b" => out.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .unwrap(),
            ),
            _ => out.extend(quoted_printable(&text.replace('_', " "))),
        }
        rest = &tail[end + 2..];
        after_word = true;
    }
    out.extend_from_slice(rest.as_bytes());
    String::from_utf8(out).unwrap()
}

/// A MIME part's content type and decoded body.
fn decode_part(part: &str) -> (String, String) {
    let (head, body) = part
        .trim_start_matches("\r\n")
        .split_once("\r\n\r\n")
        .unwrap();
    let headers = unfold(head);
    let encoding = header(&headers, "Content-Transfer-Encoding").to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .unwrap(),
        "quoted-printable" => quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    let text = String::from_utf8(bytes).unwrap().replace("\r\n", "\n");
    (header(&headers, "Content-Type"), text)
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3, // soft line break
            b'=' => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}
