//! `jwt-edge verify --jwks-url` against a loopback HTTP server: the core's
//! freshness policy across CLI runs through `--jwks-cache` (fresh hits, kid-miss
//! refetch, stale-if-error, fail closed with ERR_JWKS_TIMEOUT).
#![cfg(all(feature = "cli", not(target_arch = "wasm32")))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;

/// A one-route HTTP server: answers every request with `body` (max-age 300)
/// or 503 when `down`; counts requests.
struct Origin {
    url: String,
    body: Arc<Mutex<Vec<u8>>>,
    down: Arc<Mutex<bool>>,
    hits: Arc<AtomicUsize>,
}

fn origin(body: Vec<u8>) -> Origin {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    let (body, down, hits) = (
        Arc::new(Mutex::new(body)),
        Arc::new(Mutex::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (b, d, h) = (body.clone(), down.clone(), hits.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            h.fetch_add(1, Ordering::SeqCst);
            let response = if *d.lock().unwrap() {
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
            } else {
                let body = b.lock().unwrap().clone();
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=300\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend(body);
                r
            };
            let _ = stream.write_all(&response);
        }
    });
    Origin {
        url,
        body,
        down,
        hits,
    }
}

fn verify(url: &str, cache: &std::path::Path, token: &str, now: u64) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jwt-edge"))
        .args(["verify", "--jwks-url", url, "--jwks-cache"])
        .arg(cache)
        .args(["--jwks-timeout", "2", "--now", &now.to_string(), token])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn jwks_url_follows_the_freshness_policy_across_runs() {
    let dir = std::env::temp_dir().join(format!("jwt-edge-cli-remote-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cache = dir.join("jwks-cache.json");
    let o = origin(jwks(&[ec().jwk(KID_EC)]));
    let t = token_kid(KID_EC, &good_claims(), &ec());

    assert_eq!(verify(&o.url, &cache, &t, NOW).0, 0);
    assert_eq!(o.hits.load(Ordering::SeqCst), 1);
    // Fresh (max-age 300): no fetch.
    assert_eq!(verify(&o.url, &cache, &t, NOW + 100).0, 0);
    assert_eq!(o.hits.load(Ordering::SeqCst), 1, "served from --jwks-cache");
    // A key rotated in: a token with its kid makes one refetch.
    *o.body.lock().unwrap() = jwks(&[ec().jwk(KID_EC), ed().jwk(KID_ED)]);
    let t2 = token_kid(KID_ED, &good_claims(), &ed());
    assert_eq!(verify(&o.url, &cache, &t2, NOW + 110).0, 0);
    assert_eq!(o.hits.load(Ordering::SeqCst), 2);
    // Unknown kids within the cooldown do not refetch.
    let rogue = token_kid("rogue", &good_claims(), &ed());
    let (code, err) = verify(&o.url, &cache, &rogue, NOW + 115);
    assert_eq!(code, 1);
    assert!(err.starts_with("ERR_JWKS_NO_MATCHING_KEY"), "{err}");
    assert_eq!(o.hits.load(Ordering::SeqCst), 2, "cooldown");
    // The origin goes down: stale-if-error up to 24 h past freshness...
    *o.down.lock().unwrap() = true;
    let long = token_kid(
        KID_EC,
        &claims_with("exp", Some(json!(NOW + 200_000))),
        &ec(),
    );
    assert_eq!(verify(&o.url, &cache, &long, NOW + 110 + 300 + 3600).0, 0);
    assert!(
        o.hits.load(Ordering::SeqCst) > 2,
        "a refresh was attempted and failed"
    );
    // ...then fail closed.
    let late = NOW + 110 + 300 + 86_400;
    let late_token = token_kid(KID_EC, &claims_with("exp", Some(json!(late + 3600))), &ec());
    let (code, err) = verify(&o.url, &cache, &late_token, late);
    assert_eq!(code, 1);
    assert!(err.starts_with("ERR_JWKS_TIMEOUT"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
