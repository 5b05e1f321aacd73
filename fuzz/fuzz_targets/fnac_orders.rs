//! Fnac's XML order reading, reached through the crate's only public path: a `Fnac` client
//! polling `orders_query` on a loopback server that answers with the fuzz input. The XML
//! readers themselves are private (`vigie_fnac::xml`); see README.md.
#![no_main]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use vigie_connector::Marketplace;
use vigie_fnac::{Fnac, FnacSettings};

const UUID: &str = "0b4ab1c4-0000-4000-8000-000000000001";
/// A session valid for decades: one `auth` for the whole run.
const AUTH: &str = r#"<?xml version="1.0" encoding="utf-8"?><auth_response status="OK" xmlns="http://www.fnac.com/schemas/mp-dialog.xsd"><token>fuzz</token><validity>2099-01-01T00:00:00+00:00</validity></auth_response>"#;

struct Harness {
    runtime: tokio::runtime::Runtime,
    fnac: Fnac,
    /// What the next `orders_query` answers.
    body: Arc<Mutex<Vec<u8>>>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}/api.php", listener.local_addr().unwrap());
        let body = Arc::new(Mutex::new(Vec::new()));
        let served = Arc::clone(&body);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let served = Arc::clone(&served);
                std::thread::spawn(move || serve(stream, &served));
            }
        });
        let mut settings =
            FnacSettings::new(base.parse().unwrap(), UUID, UUID, SecretString::from("key"));
        // No pacing and no retries: one request per page, as fast as the loopback allows.
        settings.requests_per_minute = NonZeroU32::MAX;
        settings.http.max_retries = 0;
        settings.http.timeout = Some(Duration::from_secs(10));
        Harness {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            fnac: Fnac::new("fuzz", settings).expect("valid settings"),
            body,
        }
    })
}

/// A minimal HTTP/1.1 server: `auth` gets a session, every other service the fuzz input.
fn serve(stream: TcpStream, body: &Mutex<Vec<u8>>) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let _ = stream.set_nodelay(true);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut request = vec![0; length];
        if reader.read_exact(&mut request).is_err() {
            return;
        }
        let reply = if request_line.contains("/auth ") {
            AUTH.as_bytes().to_vec()
        } else {
            body.lock().unwrap().clone()
        };
        // One write, and no Nagle: a split reply would wait for the client's delayed ACK.
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/xml; charset=utf-8\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        )
        .into_bytes();
        response.extend_from_slice(&reply);
        if writer.write_all(&response).is_err() {
            return;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let harness = harness();
    *harness.body.lock().unwrap() = data.to_vec();
    // Errors are fine (that is the quarantine path); panics and hangs are not.
    let _ = harness
        .runtime
        .block_on(harness.fnac.orders_awaiting_acceptance());
});
