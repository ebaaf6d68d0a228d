//! `jwt-edge verify --jwks-url` (and `--discover`) against a loopback HTTP server: the core's
//! freshness policy across CLI runs through `--jwks-cache` (fresh hits, kid-miss
//! refetch, stale-if-error, fail closed with ERR_JWKS_TIMEOUT).
#![cfg(all(feature = "cli", not(target_arch = "wasm32")))]

mod common;
mod support;

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
    let dir = support::temp_dir("cli-remote");
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

/// A loopback server answering `GET path` from a fixed map (404 otherwise);
/// records the paths asked for.
fn routes(make: impl FnOnce(&str) -> Vec<(String, Vec<u8>)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let table = make(&base);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let path = line.split(' ').nth(1).unwrap_or("").to_owned();
            let mut rest = String::new();
            while reader.read_line(&mut rest).is_ok_and(|n| n > 2) {
                rest.clear();
            }
            log.lock().unwrap().push(path.clone());
            let response = match table.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=300\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    (base, asked)
}

/// `verify --discover ISSUER`: RFC 8414 metadata, else OpenID's, then its
/// `jwks_uri`, as the npm package's `discover()`; a metadata document naming
/// another issuer is refused (RFC 8414 §3.3) and no JWKS is fetched.
#[test]
fn discover_reads_the_metadata_then_its_jwks_and_refuses_a_foreign_issuer() {
    let run = |issuer: &str, token: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_jwt-edge"))
            .args(["verify", "--discover", issuer, "--aud", AUD])
            .args(["--jwks-timeout", "2", "--now", &NOW.to_string(), token])
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // OpenID Connect Discovery only (RFC 8414's URL answers 404).
    let (base, asked) = routes(|base| {
        vec![
            (
                "/.well-known/openid-configuration".into(),
                json!({"issuer": base, "jwks_uri": format!("{base}/keys")})
                    .to_string()
                    .into_bytes(),
            ),
            ("/keys".into(), jwks(&[ec().jwk(KID_EC)])),
        ]
    });
    let token = token_kid(KID_EC, &claims_with("iss", Some(json!(base))), &ec());
    let (code, err) = run(&base, &token);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        *asked.lock().unwrap(),
        [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
            "/keys"
        ]
    );
    // The issuer is the required `iss`.
    let other = token_kid(KID_EC, &good_claims(), &ec());
    let (code, err) = run(&base, &other);
    assert_eq!(code, 1);
    assert!(err.starts_with("ERR_JWT_CLAIM_VALIDATION_FAILED"), "{err}");
    // Metadata naming another issuer.
    let (base, asked) = routes(|base| {
        vec![
            (
                "/.well-known/oauth-authorization-server".into(),
                json!({"issuer": "https://issuer.example", "jwks_uri": format!("{base}/keys")})
                    .to_string()
                    .into_bytes(),
            ),
            ("/keys".into(), jwks(&[ec().jwk(KID_EC)])),
        ]
    });
    let token = token_kid(KID_EC, &claims_with("iss", Some(json!(base))), &ec());
    let (code, err) = run(&base, &token);
    assert_eq!(code, 1);
    assert!(err.starts_with("ERR_JWKS_TIMEOUT"), "{err}");
    assert!(err.contains("must be identical"), "{err}");
    assert_eq!(
        *asked.lock().unwrap(),
        ["/.well-known/oauth-authorization-server"]
    );
}
