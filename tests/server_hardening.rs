//! Issue #15: the issuer server under attack. One test per finding:
//! 1. a stranger's failures never lock a client out (several loopback
//!    source addresses; a trusted proxy's X-Forwarded-For);
//! 2. slow-header and idle connections are closed, connection caps refuse
//!    cleanly, and a normal request still succeeds quickly with 1,000 idle
//!    connections open; file descriptors return to baseline;
//! 3. no token carries a kid the server's JWKS does not serve (CLI-side key
//!    changes raced against a token loop; no refresh timer to help);
//! 4. RFC 8707 `resource` and `audience`: exactly the requested set;
//! 5. RFC 7009 / RFC 7662 (own rules; the client libraries are in
//!    tests/server_clients.rs) and the revocation document's claims;
//! 6. JSON error bodies, the Basic challenge, strict scope syntax, CORS
//!    preflight, and a log line per key state change.

#![cfg(not(target_arch = "wasm32"))]
// The issuer suites run against every store and key custody (JWT_EDGE_TEST_STORE,
// JWT_EDGE_TEST_KEY_STORE), so they need every native feature (pkg-scripts/test: $ALL).
#![cfg(all(
    feature = "cli",
    feature = "server",
    feature = "postgres",
    feature = "pkcs11"
))]

mod server_util;

use jwt_edge::issuer::rules::provisioning::Permission;
use jwt_edge::issuer::store::{AuditAction, Outcome};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use server_util::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FORM_CT: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn wrong_form(id: &str) -> String {
    format!(
        "grant_type=client_credentials&client_id={id}&client_secret=jep_{id}_{}",
        "A".repeat(43)
    )
}

fn claims_of(token: &str) -> Value {
    Value::Object(server_util::claims_of(token))
}

async fn served_kids(c: &mut Client) -> Vec<String> {
    c.get("/.well-known/jwks.json").await.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Finding 1: 100 failures from an attacker's address (and from behind a
/// trusted proxy) never refuse the real client's right secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_lock_a_client_out() {
    let dir = temp_dir("hardening-lockout");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "victim");
    let mut cfg = config(&db);
    cfg.trusted_proxies = vec![[127, 0, 0, 9].into()];
    let server = start(cfg).await;
    let mut attacker = Client::from_ip(server.addr, [127, 0, 0, 2]);
    let mut victim = Client::from_ip(server.addr, [127, 0, 0, 3]);
    let ok = format!("grant_type=client_credentials&{}", form_creds(&id, &full));

    let mut throttled = 0;
    for _ in 0..100 {
        match attacker.token(&wrong_form(&id), &[]).await.status {
            401 => {}
            429 => throttled += 1,
            s => panic!("attacker got {s}"),
        }
    }
    assert!(
        throttled >= 80,
        "the attacker is slowed: {throttled} of 100 throttled"
    );
    // The attacker's own right guess is refused too (throttled source) ...
    assert_eq!(attacker.token(&ok, &[]).await.status, 429);
    // ... but the client, from its own address, is never refused.
    for _ in 0..5 {
        let r = victim.token(&ok, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }

    // Behind a trusted proxy (127.0.0.9): the forwarded address is the source.
    let mut proxy = Client::from_ip(server.addr, [127, 0, 0, 9]);
    let evil = ("x-forwarded-for", "10.6.6.6");
    let good = ("x-forwarded-for", "10.1.1.1");
    for _ in 0..60 {
        proxy.token(&wrong_form(&id), &[evil]).await;
    }
    assert_eq!(proxy.token(&ok, &[evil]).await.status, 429);
    let r = proxy.token(&ok, &[good]).await;
    assert_eq!(
        r.status,
        200,
        "another client behind the proxy: {}",
        r.text()
    );
    // An untrusted peer's X-Forwarded-For is ignored: it cannot pick a
    // fresh address for itself.
    let r = attacker
        .token(&ok, &[("x-forwarded-for", "10.9.9.9")])
        .await;
    assert_eq!(r.status, 429);
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Open file descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Finding 2: header-read and idle timeouts, connection caps with a clean
/// refusal, 1,000 idle connections, file descriptors back to baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_bounded() {
    let dir = temp_dir("hardening-conns");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "conn");
    let (mut child, addr) = spawn_serve(
        &db,
        &[
            "--header-timeout",
            "2s",
            "--max-connections",
            "1100",
            "--max-connections-per-peer",
            "70",
        ],
    );
    let pid = child.id();
    let ok = format!("grant_type=client_credentials&{}", form_creds(&id, &full));
    let mut c = Client::new(addr);
    assert_eq!(c.token(&ok, &[FORM_CT]).await.status, 200);
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = open_fds(pid);

    // A client sending one header byte every 200 ms is cut off.
    let start = Instant::now();
    let mut slow = connect_from(addr, None).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed_after = None;
    for b in request.iter() {
        if slow.write_all(&[*b]).await.is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if start.elapsed() > Duration::from_secs(8) {
            break;
        }
    }
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    let elapsed = closed_after.unwrap_or_else(|| start.elapsed());
    assert!(
        read.is_ok() || closed_after.is_some(),
        "the slow-header connection was closed by the server"
    );
    assert!(
        !String::from_utf8_lossy(&buf).contains("200 OK"),
        "a trickled request is never served"
    );
    assert!(elapsed < Duration::from_secs(8), "closed after {elapsed:?}");
    eprintln!("slow-header connection closed after {elapsed:?} (header timeout 2 s)");

    // 1,000 idle connections from 16 loopback addresses (63 each, under
    // the per-peer cap of 70), all accepted and held.
    let mut idle = Vec::new();
    for i in 0..1000u32 {
        let ip = [127, 0, 1, 10 + u8::try_from(i % 16).unwrap()];
        idle.push(connect_from(addr, Some(ip.into())).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A normal request still gets through, quickly.
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let mut c = Client::new(addr);
        let t = Instant::now();
        let r = c.get("/.well-known/jwks.json").await;
        assert_eq!(r.status, 200);
        best = best.min(t.elapsed());
    }
    eprintln!("with 1,000 idle connections open: a JWKS request took {best:?}");
    assert!(best < Duration::from_millis(100), "{best:?}");
    // One address over its cap: a clean 503 with a JSON body, then closed.
    let mut hog = Vec::new();
    for _ in 0..80 {
        hog.push(
            connect_from(addr, Some([127, 0, 2, 1].into()))
                .await
                .unwrap(),
        );
    }
    let mut refused = Vec::new();
    for s in &mut hog {
        let mut b = Vec::new();
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(30), s.read_to_end(&mut b)).await
        {
            if n > 0 {
                refused.push(String::from_utf8_lossy(&b).into_owned());
            }
        }
    }
    assert_eq!(refused.len(), 10, "80 connections from one address, cap 70");
    for r in &refused {
        assert!(r.starts_with("HTTP/1.1 503"), "{r}");
        assert!(r.contains("\"error\":\"temporarily_unavailable\""), "{r}");
    }
    drop(hog);

    // The server closes the idle connections by itself (header timeout):
    // every client socket reads end-of-file.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut eof = 0;
    for s in &mut idle {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut b = [0u8; 64];
        if let Ok(Ok(0)) = tokio::time::timeout(left, s.read(&mut b)).await {
            eof += 1;
        }
    }
    assert_eq!(eof, 1000, "idle connections closed by the server");
    drop(idle);
    let mut fds = open_fds(pid);
    for _ in 0..50 {
        if fds <= baseline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        fds = open_fds(pid);
    }
    eprintln!("file descriptors: {baseline} before, {fds} after");
    assert!(fds <= baseline, "fds {fds} > baseline {baseline}");
    let mut c = Client::new(addr);
    assert_eq!(c.token(&ok, &[FORM_CT]).await.status, 200);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 3: key changes made by another process on the same store (here
/// another connection, as the CLI would) race a token loop; every token's
/// kid is in the JWKS fetched right after it, and no token requested after
/// `keys revoke` returned carries the revoked kid. The refresh timer is set
/// to an hour so that only the publish-before-answer rule can be at work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_signed_by_an_unpublished_key() {
    let dir = temp_dir("hardening-publish");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "racer");
    let mut cfg = config(&db);
    cfg.refresh_interval = Duration::from_secs(3600);
    cfg.rotate_interval = Duration::from_secs(3600);
    let server = start(cfg).await;
    let addr = server.addr;
    let ok = format!("grant_type=client_credentials&{}", form_creds(&id, &full));

    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let revoked: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
    let revoked_w = std::sync::Arc::clone(&revoked);
    let db2 = db.clone();
    // The "CLI": emergency revocations of the active key and new pending
    // keys, on its own connection.
    let cli = tokio::task::spawn_blocking(move || {
        let mut i = issuer(&db2);
        for round in 0..6 {
            std::thread::sleep(Duration::from_millis(150));
            if round % 2 == 0 {
                i.generate_key(None, unix_now()).unwrap();
            }
            let active = i
                .keys()
                .unwrap()
                .into_iter()
                .find(|k| k.state() == jwt_edge::issuer::rules::lifecycle::KeyState::Active)
                .unwrap()
                .kid;
            i.revoke_key(&active, Some("test"), unix_now()).unwrap();
            revoked_w.lock().unwrap().push(active);
            i.rotate(unix_now()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(150));
        let _ = done_tx.send(true);
    });
    let mut c = Client::new(addr);
    let mut checked = 0;
    let mut kids_seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !*done_rx.borrow_and_update() && Instant::now() < deadline {
        let revoked_before: Vec<String> = revoked.lock().unwrap().clone();
        let r = c.token(&ok, &[FORM_CT]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let token = r.json()["access_token"].as_str().unwrap().to_owned();
        let kid = kid_of(&token);
        assert!(
            !revoked_before.contains(&kid),
            "a token requested after `keys revoke {kid}` returned carries that kid"
        );
        let served = served_kids(&mut c).await;
        let revoked_now = revoked.lock().unwrap().clone();
        assert!(
            served.contains(&kid) || revoked_now.contains(&kid),
            "token kid {kid} is not in the JWKS fetched right after: {served:?}"
        );
        for k in &revoked_before {
            assert!(!served.contains(k), "revoked kid {k} still served");
        }
        kids_seen.insert(kid);
        checked += 1;
    }
    cli.await.unwrap();
    eprintln!(
        "{checked} tokens checked across {} signing keys",
        kids_seen.len()
    );
    assert!(kids_seen.len() >= 4, "the race covered several key changes");
    // Signing in SoftHSM2 (the PKCS#11 run) is slower: fewer tokens fit.
    assert!(checked >= if pkcs11() { 20 } else { 50 });
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 4: `resource` (RFC 8707) and `audience` name exactly the
/// token's `aud`; anything not allowed is `invalid_target`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_and_audience_are_exact() {
    let dir = temp_dir("hardening-resource");
    let db = init_store(&dir, &settings());
    let (a, b) = ("https://a.example", "https://b.example");
    let (id, full) = provision_with(&db, "two", &[a, b], &[]);
    let (id_none, full_none) = provision_with(&db, "none", &[], &[]);
    let server = start(config(&db)).await;
    let mut c = Client::new(server.addr);
    let creds = form_creds(&id, &full);
    let ask = |extra: &str| format!("grant_type=client_credentials&{creds}{extra}");
    let aud = |r: &Resp| claims_of(r.json()["access_token"].as_str().unwrap())["aud"].clone();

    let r = c
        .token(&ask(&format!("&resource={}", enc(a))), &[FORM_CT])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(aud(&r), json!(a), "only the requested resource");
    let r = c
        .token(
            &ask(&format!(
                "&resource={}&audience={}&resource={}",
                enc(a),
                enc(b),
                enc(a)
            )),
            &[FORM_CT],
        )
        .await;
    assert_eq!(aud(&r), json!([a, b]), "the requested set, deduplicated");
    let r = c
        .token(
            &ask(&format!("&audience={}&audience={}", enc(b), enc(b))),
            &[FORM_CT],
        )
        .await;
    assert_eq!(aud(&r), json!(b));
    let r = c.token(&ask(""), &[FORM_CT]).await;
    assert_eq!(aud(&r), json!([a, b]), "none requested: the key's default");
    for bad in [
        format!("&resource={}", enc("https://other.example")),
        format!(
            "&resource={}&resource={}",
            enc(a),
            enc("https://other.example")
        ),
        "&resource=relative/path".to_owned(),
        format!("&resource={}", enc("https://a.example#frag")),
    ] {
        let r = c.token(&ask(&bad), &[FORM_CT]).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.json()["error"], "invalid_target", "{bad}");
    }
    // A key without a default audience: one must be requested, and the
    // message speaks HTTP, not CLI flags.
    let r = c
        .token(
            &format!(
                "grant_type=client_credentials&{}",
                form_creds(&id_none, &full_none)
            ),
            &[FORM_CT],
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_target");
    assert!(!r.text().contains("--"), "{}", r.text());
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn issue(c: &mut Client, id: &str, full: &str) -> String {
    let form = format!("grant_type=client_credentials&{}", form_creds(id, full));
    c.token(&form, &[FORM_CT]).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// POST `token=…&token_type_hint=access_token&<creds>` to `path`.
async fn call(c: &mut Client, path: &str, token: String, creds: String) -> Resp {
    let body = format!("token={}&token_type_hint=access_token&{creds}", enc(&token));
    c.send("POST", path, &[FORM_CT], body.as_bytes()).await
}

/// Finding 5: RFC 7009 revocation by the owning client only, RFC 7662
/// introspection only with the `introspect` permission, both in the
/// metadata; the signed revocation list has no registered claim holding an
/// array.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_and_introspection_endpoints() {
    let dir = temp_dir("hardening-7009");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "owner");
    let (other, other_full) = provision(&db, "other");
    let (rs, rs_full) = provision_with(&db, "resource-server", &[AUD], &["introspect"]);
    let server = start(config(&db)).await;
    let mut c = Client::new(server.addr);
    let meta = c
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    let base = ISS; // the public URL defaults to the issuer
    assert_eq!(meta["revocation_endpoint"], format!("{base}/revoke"));
    assert_eq!(meta["introspection_endpoint"], format!("{base}/introspect"));
    assert_eq!(
        meta["introspection_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );

    let t1 = issue(&mut c, &id, &full).await;
    let r = call(&mut c, "/introspect", t1.clone(), form_creds(&rs, &rs_full)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["active"], true);
    assert_eq!(j["client_id"], id.as_str());
    assert_eq!(j["scope"], "read write");
    assert_eq!(j["token_type"], "Bearer");
    // Without the permission: 403; with a wrong secret: 401.
    let r = call(&mut c, "/introspect", t1.clone(), form_creds(&id, &full)).await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (403, json!("unauthorized_client"))
    );
    let r = call(
        &mut c,
        "/introspect",
        t1.clone(),
        wrong_form(&rs).replace("grant_type=client_credentials&", ""),
    )
    .await;
    assert_eq!(r.status, 401);
    for junk in ["", "a.b.c", "not a token"] {
        let r = call(
            &mut c,
            "/introspect",
            junk.into(),
            form_creds(&rs, &rs_full),
        )
        .await;
        assert_eq!(r.json(), json!({"active": false}), "{junk:?}");
    }

    // Another client cannot revoke it (200, as RFC 7009 answers every
    // token, but nothing changes); the owner can.
    let r = call(
        &mut c,
        "/revoke",
        t1.clone(),
        form_creds(&other, &other_full),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(&mut c, "/introspect", t1.clone(), form_creds(&rs, &rs_full)).await;
    assert_eq!(
        r.json()["active"],
        true,
        "a stranger's revocation changes nothing"
    );
    let r = call(&mut c, "/revoke", t1.clone(), form_creds(&id, &full)).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let r = call(&mut c, "/introspect", t1.clone(), form_creds(&rs, &rs_full)).await;
    assert_eq!(r.json(), json!({"active": false}), "revoked");
    let r = call(&mut c, "/revoke", "garbage".into(), form_creds(&id, &full)).await;
    assert_eq!(r.status, 200, "unknown tokens: 200 too");
    let r = call(
        &mut c,
        "/revoke",
        t1.clone(),
        wrong_form(&id).replace("grant_type=client_credentials&", ""),
    )
    .await;
    assert_eq!(r.status, 401);
    let audit = issuer(&db).audit(0).unwrap();
    let revokes: Vec<_> = audit
        .iter()
        .filter(|a| a.action == AuditAction::TokenRevoke)
        .map(|a| a.outcome.clone())
        .collect();
    assert_eq!(
        revokes,
        [
            Outcome::Unchanged,
            Outcome::Ok,
            Outcome::Unchanged,
            Outcome::Refused
        ],
        "every revocation request audited"
    );
    let authorize: Vec<_> = audit
        .iter()
        .filter(|a| a.action == AuditAction::Authorize(Permission::Introspect))
        .map(|a| a.outcome.clone())
        .collect();
    assert_eq!(
        authorize.iter().filter(|o| **o == Outcome::Refused).count(),
        2,
        "the 403 and the 401 are audited"
    );
    assert!(!format!("{audit:?}").contains(&full[21..]));

    // The signed list: entries under "revoked"; no registered claim holds an array.
    let list = c.get("/revocations").await.text();
    let payload = claims_of(&list);
    assert_eq!(payload["revoked"]["jti"][0]["jti"], claims_of(&t1)["jti"]);
    for registered in ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"] {
        assert!(
            !payload
                .get(registered)
                .is_some_and(|v| v.is_array() || v.is_object()),
            "{registered}"
        );
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 6: JSON bodies for 404/405/413/429, `WWW-Authenticate: Basic`
/// only where it applies, scopes split on single spaces, CORS preflight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_and_protocol_details() {
    let dir = temp_dir("hardening-errors");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "details");
    let server = start(config(&db)).await;
    let mut c = Client::new(server.addr);
    let is_json_error = |r: &Resp| {
        r.header("content-type") == Some("application/json") && r.json()["error"].is_string()
    };
    let r = c.get("/nope").await;
    assert_eq!(r.status, 404);
    assert!(is_json_error(&r), "{}", r.text());
    let r = c.get("/token").await;
    assert_eq!(r.status, 405);
    assert!(is_json_error(&r), "{}", r.text());
    assert!(r.header("allow").is_some_and(|a| a.contains("POST")));
    let r = c
        .send("POST", "/token", &[FORM_CT], &vec![b'a'; 64 * 1024])
        .await;
    assert_eq!(r.status, 413);
    assert!(is_json_error(&r), "{}", r.text());

    // client_secret_post with a wrong secret: 401 without a Basic challenge;
    // Basic with a wrong secret and no credentials at all: with it.
    let r = c.token(&wrong_form(&id), &[FORM_CT]).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_none());
    let wrong_basic = basic(&id, &format!("jep_{id}_{}", "B".repeat(43)));
    let r = c
        .token(
            "grant_type=client_credentials",
            &[FORM_CT, ("authorization", &wrong_basic)],
        )
        .await;
    assert!(r
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Basic")));
    let r = c.token("grant_type=client_credentials", &[FORM_CT]).await;
    assert!(r
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Basic")));

    // Scopes: single spaces only (RFC 6749 §3.3).
    let creds = form_creds(&id, &full);
    for bad in ["read%20%20write", "%20read", "read%20"] {
        let r = c
            .token(
                &format!("grant_type=client_credentials&scope={bad}&{creds}"),
                &[FORM_CT],
            )
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["error"], "invalid_scope", "{bad}");
    }
    let r = c
        .token(
            &format!("grant_type=client_credentials&scope=read%20write&{creds}"),
            &[FORM_CT],
        )
        .await;
    assert_eq!(r.status, 200);

    // 429 is JSON too (the same address keeps failing).
    let mut last = None;
    for _ in 0..60 {
        let r = c.token(&wrong_form(&id), &[FORM_CT]).await;
        if r.status == 429 {
            last = Some(r);
            break;
        }
    }
    let r = last.expect("throttled");
    assert!(is_json_error(&r));
    assert!(r.header("retry-after").is_some());

    // CORS preflight for the public documents.
    for path in [
        "/.well-known/jwks.json",
        "/revocations",
        "/.well-known/oauth-authorization-server",
    ] {
        let r = c
            .send(
                "OPTIONS",
                path,
                &[
                    ("origin", "https://app.example"),
                    ("access-control-request-method", "GET"),
                    ("access-control-request-headers", "if-none-match"),
                ],
                b"",
            )
            .await;
        assert!(r.status == 200 || r.status == 204, "{path}: {}", r.status);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
        assert!(r
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("GET")));
        assert!(r
            .header("access-control-allow-headers")
            .is_some_and(|h| h.contains("if-none-match")));
        let r = c
            .send("GET", path, &[("origin", "https://app.example")], b"")
            .await;
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 6 (logs): `jwt-edge serve` logs one info line for every key
/// state change it observes, including changes made by the CLI.
#[test]
fn serve_logs_every_key_state_change() {
    let bin = env!("CARGO_BIN_EXE_jwt-edge");
    let dir = temp_dir("hardening-log");
    let db = init_store(&dir, &settings());
    let log = dir.join("serve.log");
    let mut child = std::process::Command::new(bin)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--refresh-interval",
            "1s",
            "--log-format",
            "json",
            "--db",
        ])
        .arg(&db)
        .env("JWT_EDGE_PASSPHRASE", PASS)
        .env("JWT_EDGE_PKCS11_PIN", PIN)
        .env("JWT_EDGE_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    listening_addr(&mut child); // it has started
    let mut i = issuer(Path::new(&db));
    let pending = i.generate_key(None, unix_now()).unwrap().kid;
    // The server sees the new pending key (within its refresh interval)
    // before it is activated.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(&format!(
                "\"kid\":\"{pending}\",\"from\":\"-\",\"to\":\"pending\""
            ))
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let active = i
        .keys()
        .unwrap()
        .into_iter()
        .find(|k| k.state() == jwt_edge::issuer::rules::lifecycle::KeyState::Active)
        .unwrap()
        .kid;
    i.revoke_key(&active, None, unix_now()).unwrap();
    let wanted = [
        (&pending, "pending"),
        (&pending, "active"),
        (&active, "revoked"),
    ];
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        let found = |kid: &str, to: &str| {
            text.lines().any(|l| {
                let v: Value = serde_json::from_str(l).unwrap_or(Value::Null);
                v["fields"]["message"] == "signing key state"
                    && v["fields"]["kid"] == kid
                    && v["fields"]["to"] == to
            })
        };
        if wanted.iter().all(|(k, to)| found(k, to)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    for (kid, to) in wanted {
        assert!(
            text.contains(&format!("\"kid\":\"{kid}\""))
                && text.contains(&format!("\"to\":\"{to}\"")),
            "no log line for {kid} -> {to}:\n{text}"
        );
    }
    assert!(!text.contains(PASS), "the passphrase is never logged");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue #18 (part): `/healthz` reports what will break soon (a provisioning
/// key expiring within 7 days) while serving stays healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_carries_what_breaks_soon() {
    let dir = temp_dir("hardening-healthz");
    let db = init_store(&dir, &settings());
    let (rec, _) = issuer(&db)
        .create_provisioning_key(
            "short-lived",
            "read",
            Some(2 * 86_400),
            None,
            None,
            &[AUD.to_owned()],
            &[],
            unix_now(),
        )
        .unwrap();
    let server = start(config(&db)).await;
    let mut c = Client::new(server.addr);
    let r = c.get("/healthz").await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["status"], "ok");
    let attention = j["attention"].as_array().unwrap();
    assert!(
        attention
            .iter()
            .any(|f| f["kind"] == "provisioning_key_expiring" && f["subject"] == rec.id.as_str()),
        "{j}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
