//! `jwt_edge::server` on loopback: tokens from `/token` (Basic and form)
//! verify against `/.well-known/jwks.json`; RFC 6749 errors; rate limiting;
//! ETag/304; revocation through `/revocations`; metadata and health.

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

use jwt_edge::issuer::store::{AuditAction, Outcome};
use std::time::Duration;

use jwt_edge::{KeySet, Policy};
use server_util::*;

fn policy() -> Policy {
    Policy::new()
        .issuer(ISS)
        .audience(AUD)
        .typ("at+jwt")
        .scope("read")
}

async fn keyset(c: &mut Client) -> KeySet {
    let r = c.get("/.well-known/jwks.json").await;
    assert_eq!(r.status, 200);
    let set = KeySet::from_jwks(&r.body).unwrap();
    assert!(set.issues().is_empty());
    set
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_errors_cache_headers_and_revocation() {
    let dir = temp_dir("server-http");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "svc");
    let mut cfg = config(&db);
    cfg.limits.per_client = 3;
    let server = start(cfg).await;
    let mut c = Client::new(server.addr);

    // HTTP Basic (id : secret part).
    let auth = basic(&id, &full);
    let r = c
        .token(
            "grant_type=client_credentials&scope=read",
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let j = r.json();
    assert_eq!(j["token_type"], "Bearer");
    assert_eq!(j["scope"], "read");
    assert_eq!(j["expires_in"], 900);
    let basic_token = j["access_token"].as_str().unwrap().to_owned();

    // Form fields (client_secret: the whole provisioning key), two audiences refused
    // beyond the allowed one, default scope.
    let r = c
        .token(
            &format!(
                "grant_type=client_credentials&{}&audience={}",
                form_creds(&id, &full),
                enc(AUD)
            ),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["scope"], "read write");
    let form_token = r.json()["access_token"].as_str().unwrap().to_owned();

    let set = keyset(&mut c).await;
    let now = unix_now();
    for t in [&basic_token, &form_token] {
        let v = jwt_edge::verify(t, &set, &policy(), now).unwrap();
        assert_eq!(v.claims["client_id"], id.as_str());
    }

    // Errors (RFC 6749 §5.2).
    type Case<'a> = (String, Vec<(&'a str, String)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "grant_type=client_credentials".into(),
            vec![],
            401,
            "invalid_client",
        ),
        (
            format!("grant_type=client_credentials&{}", form_creds(&id, &full))
                .replace("client_secret=jep", "client_secret=xep"),
            vec![],
            401,
            "invalid_client",
        ),
        (
            format!(
                "grant_type=client_credentials&scope=admin&{}",
                form_creds(&id, &full)
            ),
            vec![],
            400,
            "invalid_scope",
        ),
        (
            format!(
                "grant_type=client_credentials&audience=https%3A%2F%2Fevil&{}",
                form_creds(&id, &full)
            ),
            vec![],
            400,
            "invalid_target",
        ),
        (
            format!("grant_type=password&{}", form_creds(&id, &full)),
            vec![],
            400,
            "unsupported_grant_type",
        ),
        (form_creds(&id, &full), vec![], 400, "invalid_request"),
        (
            format!(
                "grant_type=client_credentials&scope=a&scope=b&{}",
                form_creds(&id, &full)
            ),
            vec![],
            400,
            "invalid_request",
        ),
        (
            format!("grant_type=client_credentials&{}", form_creds(&id, &full)),
            vec![("authorization", auth.clone())],
            400,
            "invalid_request",
        ),
    ];
    for (form, headers, status, error) in &cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = c.token(form, &h).await;
        assert_eq!(r.status, *status, "{form}: {}", r.text());
        assert_eq!(r.json()["error"], *error, "{form}");
        assert!(!r.text().contains(&full[21..]), "no secret in responses");
        if *status == 401 {
            // The Basic challenge only where Basic was used or nothing was
            // sent; a client_secret_post client gets a plain JSON error.
            let post = form.contains("client_secret=");
            assert_eq!(
                r.header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Basic")),
                !post,
                "{form}"
            );
        }
    }
    // Wrong content type, oversized body.
    let r = c
        .send(
            "POST",
            "/token",
            &[("content-type", "application/json")],
            b"{}",
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_request");
    let big = vec![b'a'; 64 * 1024];
    let r = c.send("POST", "/token", &[FORM_CT], &big).await;
    assert_eq!(r.status, 413);

    // Refusals are audited (the service's rule), with no secret.
    let audit = issuer(&db).audit(0).unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == AuditAction::TokenIssue && a.outcome == Outcome::Refused));
    assert!(!format!("{audit:?}").contains(&full[21..]));

    // Rate limit: two more wrong secrets make three failures for this client id;
    // the next attempt, even with the right secret, is 429 without reaching the store.
    let wrong = format!(
        "grant_type=client_credentials&client_id={id}&client_secret=jep_{id}_{}",
        "A".repeat(43)
    );
    for _ in 0..2 {
        assert_eq!(c.token(&wrong, &[]).await.status, 401);
    }
    let rows_before = issuer(&db).audit(0).unwrap().len();
    let r = c
        .token("grant_type=client_credentials", &[("authorization", &auth)])
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    assert_eq!(issuer(&db).audit(0).unwrap().len(), rows_before);
    // Another client on the same address is not affected.
    let (id2, full2) = provision(&db, "other");
    let r = c
        .token(
            "grant_type=client_credentials",
            &[("authorization", &basic(&id2, &full2))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // JWKS cache headers and 304.
    let r = c.get("/.well-known/jwks.json").await;
    let etag = r.header("etag").unwrap().to_owned();
    // min(jwks-max-age 1h, pre-publish 1d / 2)
    assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    // Public documents: readable cross-origin (the browser inspector fetches them).
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r304 = c
        .send(
            "GET",
            "/.well-known/jwks.json",
            &[("if-none-match", &etag)],
            b"",
        )
        .await;
    assert_eq!(r304.status, 304);
    assert!(r304.body.is_empty());
    assert_eq!(r304.header("etag"), Some(etag.as_str()));
    let r = c
        .send(
            "GET",
            "/.well-known/jwks.json",
            &[("if-none-match", "\"other\"")],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);

    // Metadata and health.
    let m = c
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(m["issuer"], ISS);
    assert_eq!(m["token_endpoint"], format!("{ISS}/token"));
    assert_eq!(m["jwks_uri"], format!("{ISS}/.well-known/jwks.json"));
    assert_eq!(m["grant_types_supported"][0], "client_credentials");
    assert_eq!(c.get("/healthz").await.status, 200);
    assert_eq!(c.get("/nope").await.status, 404);

    // Revocation through /revocations: revoke with the library (another
    // connection to the same store, as the CLI would), wait for the refresh.
    let r = c.get("/revocations").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    let rev_etag = r.header("etag").unwrap().to_owned();
    let r304 = c
        .send("GET", "/revocations", &[("if-none-match", &rev_etag)], b"")
        .await;
    assert_eq!(
        r304.status, 304,
        "the list is not re-signed while unchanged"
    );
    let jti = jwt_edge::inspect(&basic_token, None).unwrap().claims["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(issuer(&db).revoke_jti(&jti, unix_now()).unwrap());
    let mut list = None;
    for _ in 0..100 {
        let r = c
            .send("GET", "/revocations", &[("if-none-match", &rev_etag)], b"")
            .await;
        if r.status == 200 {
            list = Some(r.text());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = list.expect("the revocation list changes");
    let mut p = policy();
    jwt_edge::install_revocations(&list, &set, &mut p).unwrap();
    let err = jwt_edge::verify(&basic_token, &set, &p, unix_now()).unwrap_err();
    assert!(err.code().contains("REVOKED"), "{}", err.code());
    jwt_edge::verify(&form_token, &set, &p, unix_now()).unwrap();

    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
