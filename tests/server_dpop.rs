//! DPoP (RFC 9449) at `jwt-edge serve`'s token endpoint: a proof binds the
//! token (`cnf.jkt`, `token_type: DPoP`), every rule of a proof negated is
//! `400 invalid_dpop_proof`, a replay is refused (also across two replicas
//! on one PostgreSQL database), clients that must use DPoP, server nonces,
//! introspection and the metadata. The bound token then goes through the
//! Validator's request-level check.

#![cfg(not(target_arch = "wasm32"))]
#![cfg(all(
    feature = "cli",
    feature = "server",
    feature = "postgres",
    feature = "pkcs11"
))]

mod common;
mod server_util;

use common::{b64_json, token as sign_token, Es256Key, Sign};
use jwt_edge::dpop::ath;
use jwt_edge::{DpopConfig, ErrorKind, KeySet, Policy, RequestParts, Validator};
use serde_json::{json, Value};
use server_util::*;

const TOKEN_URL: &str = "https://issuer.test/token";

fn client_key() -> Es256Key {
    Es256Key::from_seed(0x61)
}

fn public_jwk(k: &Es256Key) -> Value {
    let mut j = k.jwk("x");
    j.as_object_mut().unwrap().remove("kid");
    j
}

fn jti() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}-{}", unix_now(), N.fetch_add(1, Ordering::Relaxed))
}

/// A token-endpoint proof, with `edit` applied to header and claims.
fn proof_with(key: &dyn Sign, jwk: &Value, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
    let mut header = json!({"typ": "dpop+jwt", "alg": key.alg(), "jwk": jwk});
    let mut claims = json!({"jti": jti(), "htm": "POST", "htu": TOKEN_URL, "iat": unix_now()});
    edit(&mut header, &mut claims);
    sign_token(&header, &claims, key)
}

fn proof() -> String {
    let k = client_key();
    proof_with(&k, &public_jwk(&k), |_, _| {})
}

fn form(id: &str, full: &str) -> String {
    format!(
        "grant_type=client_credentials&{}&scope=read",
        form_creds(id, full)
    )
}

fn thumbprint(jwk: &Value) -> String {
    jwt_edge::jwk::thumbprint(jwk.as_object().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_binds_tokens_to_dpop_proofs() {
    let dir = temp_dir("server-dpop");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "dpop-client");
    let (rs, rs_full) = provision_with(&db, "resource-server", &[AUD], &["introspect"]);
    let server = start(config(&db)).await;
    let mut c = Client::new(server.addr);

    let meta = c
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    let algs = meta["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    for a in ["ES256", "EdDSA", "PS256"] {
        assert!(algs.contains(&json!(a)), "{a} in {algs:?}");
    }
    assert!(!algs.contains(&json!("HS256")));

    // A proof binds the token.
    let jwk = public_jwk(&client_key());
    let p = proof();
    let r = c.token(&form(&id, &full), &[("dpop", &p)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let claims = jwt_edge::inspect(&token, None).unwrap().claims;
    assert_eq!(claims["cnf"], json!({"jkt": thumbprint(&jwk)}));
    // Without a proof: a Bearer token, as before.
    let r = c.token(&form(&id, &full), &[]).await;
    assert_eq!(r.json()["token_type"], "Bearer");

    // The same proof again: a replay.
    let r = c.token(&form(&id, &full), &[("dpop", &p)]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_dpop_proof", "{}", r.text());

    // Every rule of a proof, negated.
    let k = client_key();
    let other = Es256Key::from_seed(0x62);
    let none = {
        let h = b64_json(&json!({"typ": "dpop+jwt", "alg": "none", "jwk": jwk}));
        let cl =
            b64_json(&json!({"jti": jti(), "htm": "POST", "htu": TOKEN_URL, "iat": unix_now()}));
        format!("{h}.{cl}.")
    };
    let hs = common::hs(jwt_edge::Algorithm::HS256);
    let cases: Vec<(&str, String)> = vec![
        (
            "htm GET",
            proof_with(&k, &jwk, |_, c| c["htm"] = json!("GET")),
        ),
        (
            "htu of another endpoint",
            proof_with(&k, &jwk, |_, c| {
                c["htu"] = json!("https://issuer.test/introspect")
            }),
        ),
        (
            "htu of another host",
            proof_with(&k, &jwk, |_, c| c["htu"] = json!("https://evil.test/token")),
        ),
        (
            "htu with http",
            proof_with(&k, &jwk, |_, c| {
                c["htu"] = json!("http://issuer.test/token")
            }),
        ),
        (
            "typ JWT",
            proof_with(&k, &jwk, |h, _| h["typ"] = json!("JWT")),
        ),
        (
            "typ missing",
            proof_with(&k, &jwk, |h, _| {
                h.as_object_mut().unwrap().remove("typ");
            }),
        ),
        (
            "private jwk",
            proof_with(&k, &k.private_jwk("x"), |_, _| {}),
        ),
        ("signed by another key", proof_with(&other, &jwk, |_, _| {})),
        (
            "iat too old",
            proof_with(&k, &jwk, |_, c| c["iat"] = json!(unix_now() - 600)),
        ),
        (
            "iat in the future",
            proof_with(&k, &jwk, |_, c| c["iat"] = json!(unix_now() + 600)),
        ),
        ("alg none", none),
        ("alg HS256", proof_with(&hs, &jwk, |_, _| {})),
        (
            "oversized",
            proof_with(&k, &jwk, |_, c| c["pad"] = json!("a".repeat(9000))),
        ),
    ];
    for (name, p) in &cases {
        let r = c.token(&form(&id, &full), &[("dpop", p)]).await;
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        assert_eq!(
            r.json()["error"],
            "invalid_dpop_proof",
            "{name}: {}",
            r.text()
        );
    }
    // The normalisations that must pass.
    for htu in [
        "https://ISSUER.test:443/token",
        "HTTPS://issuer.test/%74oken?x=1",
    ] {
        let p = proof_with(&k, &jwk, |_, c| c["htu"] = json!(htu));
        let r = c.token(&form(&id, &full), &[("dpop", &p)]).await;
        assert_eq!(r.status, 200, "{htu}: {}", r.text());
    }
    // Two DPoP headers.
    let (p1, p2) = (proof(), proof());
    let r = c
        .token(&form(&id, &full), &[("dpop", &p1), ("dpop", &p2)])
        .await;
    assert_eq!(r.json()["error"], "invalid_dpop_proof", "{}", r.text());

    // A client that must use DPoP.
    issuer(&db).set_require_dpop(&id, true, unix_now()).unwrap();
    let r = c.token(&form(&id, &full), &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_dpop_proof", "{}", r.text());
    let r = c.token(&form(&id, &full), &[("dpop", &proof())]).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Introspection reports the binding.
    let r = c
        .send(
            "POST",
            "/introspect",
            &[FORM_CT],
            format!("token={}&{}", enc(&token), form_creds(&rs, &rs_full)).as_bytes(),
        )
        .await;
    let j = r.json();
    assert_eq!(j["active"], true, "{j}");
    assert_eq!(j["token_type"], "DPoP");
    assert_eq!(j["cnf"]["jkt"], thumbprint(&jwk));

    // /metrics counts the DPoP refusals by reason.
    let m = c.get("/metrics").await.text();
    assert!(m.contains("reason=\"dpop_invalid\""), "{m}");
    assert!(m.contains("reason=\"dpop\""), "{m}");

    // The audit row of the bound issuance carries the jkt.
    let rows = issuer(&db).audit(0).unwrap();
    assert!(rows.iter().any(|a| a
        .detail
        .as_deref()
        .is_some_and(|d| d.contains(&format!("jkt={}", thumbprint(&jwk))))));

    // A resource server's Validator: the bound token needs its proof.
    let jwks = c.get("/.well-known/jwks.json").await.body;
    let mut v = Validator::builder(Policy::new().issuer(ISS).audience(AUD))
        .keys(KeySet::from_jwks(&jwks).unwrap())
        .dpop(DpopConfig::new())
        .build()
        .unwrap();
    let now = unix_now();
    assert_eq!(
        v.verify(&token, now).unwrap_err().kind(),
        ErrorKind::DpopBindingMismatch
    );
    let url = "https://api.test/things";
    let rs_proof = proof_with(&k, &jwk, |_, c| {
        c["htm"] = json!("GET");
        c["htu"] = json!(url);
        c["ath"] = json!(ath(&token));
    });
    let auth = format!("DPoP {token}");
    let ok = v
        .verify_request(
            &RequestParts {
                authorization: &[&auth],
                dpop: &[&rs_proof],
                method: "GET",
                url,
            },
            now,
        )
        .unwrap();
    assert_eq!(ok.claims["client_id"], id.as_str());

    server.stop().await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_server_nonces() {
    let dir = temp_dir("server-dpop-nonce");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "nonce-client");
    let mut cfg = config(&db);
    cfg.dpop = DpopConfig::new().nonce_secret(&[5u8; 32]).unwrap();
    let server = start(cfg).await;
    let mut c = Client::new(server.addr);
    let r = c.token(&form(&id, &full), &[("dpop", &proof())]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "use_dpop_nonce", "{}", r.text());
    let nonce = r
        .header("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_owned();
    let k = client_key();
    let p = proof_with(&k, &public_jwk(&k), |_, c| c["nonce"] = json!(nonce));
    let r = c.token(&form(&id, &full), &[("dpop", &p)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["token_type"], "DPoP");
    server.stop().await;
    std::fs::remove_dir_all(dir).ok();
}

/// Two replicas on one store (a PostgreSQL database in the PostgreSQL run,
/// `JWT_EDGE_TEST_STORE=postgres`; one SQLite file otherwise): the same
/// proof, sent to both at once, is accepted at most once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_accept_a_proof_at_most_once() {
    let dir = temp_dir("server-dpop-replicas");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "replicated-client");
    let (a, b) = (start(config(&db)).await, start(config(&db)).await);
    for round in 0..5 {
        let p = proof();
        let (mut ca, mut cb) = (Client::new(a.addr), Client::new(b.addr));
        let f = form(&id, &full);
        let h = [("dpop", p.as_str())];
        let (ra, rb) = tokio::join!(ca.token(&f, &h), cb.token(&f, &h));
        let ok = [&ra, &rb].iter().filter(|r| r.status == 200).count();
        assert_eq!(ok, 1, "round {round}: {} / {}", ra.text(), rb.text());
        let refused = if ra.status == 200 { &rb } else { &ra };
        assert_eq!(
            refused.json()["error"],
            "invalid_dpop_proof",
            "{}",
            refused.text()
        );
    }
    a.stop().await;
    b.stop().await;
    std::fs::remove_dir_all(dir).ok();
}

/// A Python client (proofs by joserfc, HTTP by requests; tests/interop/
/// dpop_client.py) against the token endpoint with AS nonces, and its
/// resource proof through the Validator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_joserfc_client() {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    if !python.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the Python venv target/pyenv is missing: run pkg-scripts/setup"
        );
        eprintln!("skipped: target/pyenv missing (run pkg-scripts/setup)");
        return;
    }
    let dir = temp_dir("server-dpop-python");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "python-client");
    issuer(&db).set_require_dpop(&id, true, unix_now()).unwrap();
    let mut cfg = config(&db);
    cfg.dpop = DpopConfig::new().nonce_secret(&[3u8; 32]).unwrap();
    let server = start(cfg).await;
    let post = format!("http://{}/token", server.addr);
    let resource = "https://api.test/things";
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg("tests/interop/dpop_client.py")
            .args([TOKEN_URL, post.as_str(), full.as_str(), resource])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(line["ok"], true, "{line}");
    let token = line["token"].as_str().unwrap();
    let claims = jwt_edge::inspect(token, None).unwrap().claims;
    assert_eq!(
        claims["cnf"]["jkt"], line["jkt"],
        "bound to the client's key"
    );
    // Its resource proof, through the Validator.
    let mut c = Client::new(server.addr);
    let jwks = c.get("/.well-known/jwks.json").await.body;
    let mut v = Validator::builder(Policy::new().issuer(ISS).audience(AUD))
        .keys(KeySet::from_jwks(&jwks).unwrap())
        .dpop(DpopConfig::new())
        .build()
        .unwrap();
    let auth = format!("DPoP {token}");
    let p = line["resource_proof"].as_str().unwrap();
    v.verify_request(
        &RequestParts {
            authorization: &[&auth],
            dpop: &[p],
            method: "GET",
            url: resource,
        },
        unix_now(),
    )
    .unwrap();
    server.stop().await;
    std::fs::remove_dir_all(dir).ok();
}
