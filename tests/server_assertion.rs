//! `private_key_jwt` client authentication (RFC 7523) at `jwt-edge serve`:
//! clients registered by their public keys (inline JWKS, or a `jwks_uri`
//! served by the test), tokens obtained with signed assertions at `/token`
//! and used at `/revoke`, `/introspect`; every attack of the issue refused
//! as `401 invalid_client` with its reason in the audit row and the
//! metrics; a jti replayed against two replicas (one PostgreSQL database
//! in the PostgreSQL run); the jwks_uri address rules, a slow and an
//! oversized jwks_uri, one fetch for a burst of requests; a key the client
//! adds at its jwks_uri works without an issuer-side step.

#![cfg(not(target_arch = "wasm32"))]
#![cfg(all(
    feature = "cli",
    feature = "server",
    feature = "postgres",
    feature = "pkcs11"
))]

mod common;
mod server_util;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{b64_json, token as sign_token, EdKey, Es256Key, Sign};
use jwt_edge::issuer::store::ClientKeys;
use jwt_edge::issuer::ErrorKind as IssuerErrorKind;
use serde_json::{json, Value};
use server_util::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ASSERTION_TYPE: &str = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

fn jti() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("a-{}-{}", unix_now(), N.fetch_add(1, Ordering::Relaxed))
}

/// An assertion of `client` signed by `key` (kid `kid`), `edit` applied.
fn assertion_with(
    client: &str,
    key: &dyn Sign,
    kid: &str,
    edit: impl FnOnce(&mut Value, &mut Value),
) -> String {
    let now = unix_now();
    let mut header = json!({"alg": key.alg(), "kid": kid, "typ": "JWT"});
    let mut claims = json!({
        "iss": client, "sub": client, "aud": ISS, "jti": jti(),
        "iat": now, "exp": now + 60,
    });
    edit(&mut header, &mut claims);
    sign_token(&header, &claims, key)
}

fn form(assertion: &str) -> String {
    format!(
        "grant_type=client_credentials&scope=read&client_assertion_type={ASSERTION_TYPE}&client_assertion={assertion}"
    )
}

fn key_client(db: &Path, name: &str, keys: ClientKeys) -> String {
    issuer(db)
        .create_key_client(
            name,
            "read write",
            None,
            None,
            None,
            &[AUD.to_owned()],
            &["introspect".to_owned()],
            keys,
            unix_now(),
        )
        .unwrap()
        .id
}

/// The server's configuration for these tests: the throttle (which counts
/// failed assertions as it counts wrong secrets) lets the attack list through.
fn cfg(db: &Path) -> jwt_edge::server::Config {
    let mut c = config(db);
    c.limits.per_client = 100;
    c.limits.per_peer = 200;
    c
}

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

fn ec() -> Es256Key {
    Es256Key::from_seed(0x71)
}

fn ed() -> EdKey {
    EdKey::from_seed(0x72)
}

fn audit_has(db: &Path, needle: &str) -> bool {
    issuer(db)
        .audit(0)
        .unwrap()
        .iter()
        .any(|a| a.detail.as_deref().is_some_and(|d| d.contains(needle)))
}

/// The newest audit row's detail.
fn last_audit(db: &Path) -> String {
    let rows = issuer(db).audit(0).unwrap();
    let last = rows.iter().max_by_key(|a| a.id).unwrap();
    format!(
        "{} {}",
        last.action.as_str(),
        last.detail.clone().unwrap_or_default()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_clients_obtain_tokens_and_every_attack_is_refused() {
    let dir = temp_dir("server-assertion");
    let db = init_store(&dir, &settings());
    let (k, e) = (ec(), ed());
    let id = key_client(
        &db,
        "svc",
        ClientKeys::Jwks(jwks(&[k.jwk("ec-1"), e.jwk("ed-1")])),
    );
    let other = key_client(
        &db,
        "other",
        ClientKeys::Jwks(jwks(&[Es256Key::from_seed(0x73).jwk("o-1")])),
    );
    let (secret_id, secret_full) = provision(&db, "secret-client");
    let server = start(cfg(&db)).await;
    let mut c = Client::new(server.addr);

    let meta = c
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert!(meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
    assert_eq!(
        meta["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256", "ES384", "PS256", "EdDSA", "Ed25519"])
    );

    // ES256 and EdDSA assertions obtain tokens; the audit row names the method.
    for (key, kid) in [(&k as &dyn Sign, "ec-1"), (&e as &dyn Sign, "ed-1")] {
        let r = c
            .token(&form(&assertion_with(&id, key, kid, |_, _| {})), &[])
            .await;
        assert_eq!(r.status, 200, "{kid}: {}", r.text());
        let token = r.json()["access_token"].as_str().unwrap().to_owned();
        let claims = jwt_edge::inspect(&token, None).unwrap().claims;
        assert_eq!(claims["client_id"], id.as_str());
    }
    assert!(audit_has(&db, "auth=private_key_jwt"));
    // RFC 9864's name for EdDSA with Ed25519 (oauth4webapi's and
    // openid-client's choice) is accepted for client assertions.
    let r = c
        .token(
            &form(&assertion_with(&id, &e, "ed-1", |h, _| {
                h["alg"] = json!("Ed25519")
            })),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // typ client-authentication+jwt and no typ are accepted too; so is
    // the client_id parameter naming the same client.
    for a in [
        assertion_with(&id, &k, "ec-1", |h, _| {
            h["typ"] = json!("client-authentication+jwt")
        }),
        assertion_with(&id, &k, "ec-1", |h, _| {
            h.as_object_mut().unwrap().remove("typ");
        }),
    ] {
        let r = c.token(&format!("{}&client_id={id}", form(&a)), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }

    // Every attack: 401 invalid_client, the reason in the audit row.
    let hs_with_public_key = {
        let x = k.jwk("ec-1")["x"].as_str().unwrap().to_owned();
        let key = common::HsKey {
            alg: jwt_edge::Algorithm::HS256,
            secret: x.into_bytes(),
        };
        assertion_with(&id, &key, "ec-1", |_, _| {})
    };
    let none = {
        let now = unix_now();
        let h = b64_json(&json!({"alg": "none", "kid": "ec-1"}));
        let cl = b64_json(
            &json!({"iss": id, "sub": id, "aud": ISS, "jti": jti(), "iat": now, "exp": now + 60}),
        );
        format!("{h}.{cl}.")
    };
    let other_key = Es256Key::from_seed(0x73);
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", none, "ERR_JWS_INVALID"),
        (
            "HS256 with the public key as secret",
            hs_with_public_key,
            "ERR_JOSE_ALG_NOT_ALLOWED",
        ),
        (
            "a key of another client's set",
            assertion_with(&id, &other_key, "o-1", |_, _| {}),
            "ERR_JWKS_NO_MATCHING_KEY",
        ),
        (
            "kid not in the set",
            assertion_with(&id, &k, "nope", |_, _| {}),
            "ERR_JWKS_NO_MATCHING_KEY",
        ),
        (
            "aud = the token endpoint without the flag",
            assertion_with(&id, &k, "ec-1", |_, c| {
                c["aud"] = json!(format!("{ISS}/token"))
            }),
            "aud",
        ),
        (
            "aud array with an extra value",
            assertion_with(&id, &k, "ec-1", |_, c| {
                c["aud"] = json!([ISS, "https://evil.test"])
            }),
            "aud",
        ),
        (
            "iss differs from sub",
            assertion_with(&id, &k, "ec-1", |_, c| c["iss"] = json!(other.as_str())),
            "iss",
        ),
        (
            "expired",
            assertion_with(&id, &k, "ec-1", |_, c| {
                c["iat"] = json!(unix_now() - 600);
                c["exp"] = json!(unix_now() - 300);
            }),
            "ERR_JWT_EXPIRED",
        ),
        (
            "lifetime over the cap",
            assertion_with(&id, &k, "ec-1", |_, c| c["exp"] = json!(unix_now() + 3600)),
            "lifetime",
        ),
        (
            "no jti",
            assertion_with(&id, &k, "ec-1", |_, c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "jti",
        ),
        (
            "no exp",
            assertion_with(&id, &k, "ec-1", |_, c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "exp",
        ),
        (
            "typ at+jwt (an access token)",
            assertion_with(&id, &k, "ec-1", |h, _| h["typ"] = json!("at+jwt")),
            "typ",
        ),
        (
            "typ dpop+jwt (a DPoP proof)",
            assertion_with(&id, &k, "ec-1", |h, _| h["typ"] = json!("dpop+jwt")),
            "typ",
        ),
        (
            "a sub that is no client id (nothing of it reaches the audit row)",
            assertion_with("<evil>", &k, "ec-1", |_, _| {}),
            "no well-formed client id",
        ),
        (
            "an assertion for a client with a secret",
            assertion_with(&secret_id, &k, "ec-1", |_, _| {}),
            "a client assertion from a client registered with a secret",
        ),
    ];
    for (name, a, reason) in &cases {
        let r = c.token(&form(a), &[]).await;
        assert_eq!(r.status, 401, "{name}: {}", r.text());
        assert_eq!(r.json()["error"], "invalid_client", "{name}");
        assert!(
            !r.text().contains("ERR_"),
            "{name}: the reason is not the client's: {}",
            r.text()
        );
        let row = last_audit(&db);
        assert!(
            row.contains(reason),
            "{name}: the audit row {row:?} lacks {reason:?}"
        );
        println!("{name}: {row}");
    }

    // A replayed jti.
    let a = assertion_with(&id, &k, "ec-1", |_, _| {});
    assert_eq!(c.token(&form(&a), &[]).await.status, 200);
    let r = c.token(&form(&a), &[]).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(audit_has(&db, "a replayed client assertion"));

    // A secret for a key client; an assertion and a secret together.
    let r = c
        .token(
            &format!(
                "grant_type=client_credentials&client_id={id}&client_secret={}",
                enc(&secret_full.replace(&secret_id, &id))
            ),
            &[],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(audit_has(&db, "a secret from a private_key_jwt client"));
    let a = assertion_with(&id, &k, "ec-1", |_, _| {});
    let r = c.token(&format!("{}&client_secret=x", form(&a)), &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_request");
    let r = c
        .token(
            &form(&a),
            &[("authorization", &basic(&secret_id, &secret_full))],
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_request", "{}", r.text());

    // Revocation and introspection with an assertion.
    let r = c
        .token(&form(&assertion_with(&id, &k, "ec-1", |_, _| {})), &[])
        .await;
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    let introspect = |a: String| {
        format!("token={token}&client_assertion_type={ASSERTION_TYPE}&client_assertion={a}")
    };
    let r = c
        .send(
            "POST",
            "/introspect",
            &[FORM_CT],
            introspect(assertion_with(&id, &k, "ec-1", |_, _| {})).as_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["active"], true);
    let r = c
        .send(
            "POST",
            "/revoke",
            &[FORM_CT],
            introspect(assertion_with(&id, &e, "ed-1", |_, _| {})).as_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A key client has no secret to rotate.
    let r = c
        .send(
            "POST",
            "/client/rotate",
            &[FORM_CT],
            format!(
                "client_assertion_type={ASSERTION_TYPE}&client_assertion={}",
                assertion_with(&id, &k, "ec-1", |_, _| {})
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());

    // /metrics: the method of successful authentications, refusal reasons.
    let m = c.get("/metrics").await.text();
    assert!(
        m.contains("jwt_edge_client_authentications_total{method=\"private_key_jwt\"}"),
        "{m}"
    );
    assert!(m.contains("reason=\"invalid_assertion\""), "{m}");
    assert!(m.contains("reason=\"replayed_assertion\""), "{m}");
    assert!(m.contains("reason=\"wrong_auth_method\""), "{m}");
    server.stop().await;

    // With --accept-token-endpoint-audience the token endpoint's URL is a
    // sole audience; an array with it and anything else still is not.
    let mut conf = cfg(&db);
    conf.accept_token_endpoint_audience = true;
    let server = start(conf).await;
    let mut c = Client::new(server.addr);
    let te = format!("{ISS}/token");
    let r = c
        .token(
            &form(&assertion_with(&id, &k, "ec-1", |_, cl| {
                cl["aud"] = json!(te)
            })),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c
        .token(
            &form(&assertion_with(&id, &k, "ec-1", |_, cl| {
                cl["aud"] = json!([te, ISS])
            })),
            &[],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    server.stop().await;

    // RS256 only when configured (FAPI 2.0's list has PS256, not RS256).
    let rs_key = common::rsa(jwt_edge::Algorithm::RS256);
    let rs_client = key_client(
        &db,
        "rs",
        ClientKeys::Jwks(jwks(&[common::rsa_jwk("rs-1")])),
    );
    let server = start(cfg(&db)).await;
    let mut c = Client::new(server.addr);
    let r = c
        .token(
            &form(&assertion_with(&rs_client, &rs_key, "rs-1", |_, _| {})),
            &[],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(last_audit(&db).contains("ERR_JOSE_ALG_NOT_ALLOWED"));
    server.stop().await;
    let mut conf = cfg(&db);
    conf.assertions.allow_rs256 = true;
    let server = start(conf).await;
    let mut c = Client::new(server.addr);
    let r = c
        .token(
            &form(&assertion_with(&rs_client, &rs_key, "rs-1", |_, _| {})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let meta = c
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert!(meta["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("RS256")));
    server.stop().await;
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn registration_refuses_unusable_keys() {
    let dir = temp_dir("server-assertion-reg");
    let db = init_store(&dir, &settings());
    let try_keys = |keys: ClientKeys| {
        issuer(&db)
            .create_key_client("x", "read", None, None, None, &[], &[], keys, unix_now())
            .unwrap_err()
    };
    let oct = jwks(&[json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"})]);
    let e = try_keys(ClientKeys::Jwks(oct));
    assert_eq!(e.kind(), IssuerErrorKind::Usage);
    assert!(e.message().contains("symmetric"), "{e}");
    let private = jwks(&[ec().private_jwk("p")]);
    let e = try_keys(ClientKeys::Jwks(private));
    assert!(e.message().contains("private"), "{e}");
    let e = try_keys(ClientKeys::JwksUri("ftp://keys.test/jwks".into()));
    assert!(e.message().contains("https://"), "{e}");
    // A key client cannot rotate a secret it does not have.
    let id = key_client(&db, "k", ClientKeys::Jwks(jwks(&[ec().jwk("a")])));
    let e = issuer(&db)
        .rotate_provisioning_key(&id, 60, None, unix_now())
        .unwrap_err();
    assert!(e.message().contains("private_key_jwt"), "{e}");
    // `provision keys` replaces the set (audited); a secret client has none.
    issuer(&db)
        .set_client_keys(&id, ClientKeys::Jwks(jwks(&[ed().jwk("b")])), unix_now())
        .unwrap();
    assert!(audit_has(&db, "keys replaced"));
    let (sid, _) = provision(&db, "s");
    assert!(issuer(&db)
        .set_client_keys(&sid, ClientKeys::Jwks(jwks(&[ed().jwk("b")])), unix_now())
        .is_err());
    std::fs::remove_dir_all(dir).ok();
}

/// A minimal HTTP server for a client's jwks_uri: the body to serve is
/// swapped by the test; `delay` holds each answer back; every request is
/// counted.
struct JwksServer {
    addr: SocketAddr,
    body: Arc<Mutex<String>>,
    delay: Arc<Mutex<Duration>>,
    hits: Arc<Mutex<u32>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start(ip: [u8; 4], body: String) -> Self {
        let l = tokio::net::TcpListener::bind((std::net::Ipv4Addr::from(ip), 0))
            .await
            .unwrap();
        let addr = l.local_addr().unwrap();
        let body = Arc::new(Mutex::new(body));
        let delay = Arc::new(Mutex::new(Duration::ZERO));
        let hits = Arc::new(Mutex::new(0));
        let (b, d, h) = (Arc::clone(&body), Arc::clone(&delay), Arc::clone(&hits));
        let task = tokio::spawn(async move {
            // Bounded: a test makes a handful of fetches.
            for _ in 0..200 {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                let (b, d, h) = (Arc::clone(&b), Arc::clone(&d), Arc::clone(&h));
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
                    *h.lock().unwrap() += 1;
                    let wait = *d.lock().unwrap();
                    tokio::time::sleep(wait).await;
                    let body = b.lock().unwrap().clone();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=300\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(head.as_bytes()).await;
                    let _ = s.write_all(body.as_bytes()).await;
                });
            }
        });
        Self {
            addr,
            body,
            delay,
            hits,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_uri_clients_rotate_their_keys_and_the_address_rules_hold() {
    let dir = temp_dir("server-assertion-uri");
    let db = init_store(&dir, &settings());
    let k = ec();
    let keys = JwksServer::start([127, 0, 0, 1], jwks(&[k.jwk("k1")])).await;
    let id = key_client(&db, "uri-client", ClientKeys::JwksUri(keys.url()));

    // Without --allow-private-jwks-uri: a loopback jwks_uri is refused,
    // and the audit row names the rule.
    let server = start(cfg(&db)).await;
    let mut c = Client::new(server.addr);
    let r = c
        .token(&form(&assertion_with(&id, &k, "k1", |_, _| {})), &[])
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(audit_has(&db, "http://"), "the refusal names the rule");
    assert_eq!(*keys.hits.lock().unwrap(), 0, "nothing was fetched");
    server.stop().await;

    // https jwks_uris at loopback, the cloud metadata address and a private
    // address: refused after resolution, before any connection, the audit
    // row naming the rule.
    let server = start(cfg(&db)).await;
    let mut c = Client::new(server.addr);
    for (host, rule) in [
        (
            format!("127.0.0.1:{}", keys.addr.port()),
            "a loopback address",
        ),
        ("169.254.169.254".to_owned(), "the cloud metadata address"),
        ("10.0.0.1".to_owned(), "a private address"),
        ("localhost".to_owned(), "a loopback address"),
    ] {
        let cid = key_client(
            &db,
            &format!("at-{host}"),
            ClientKeys::JwksUri(format!("https://{host}/jwks.json")),
        );
        let r = c
            .token(&form(&assertion_with(&cid, &k, "k1", |_, _| {})), &[])
            .await;
        assert_eq!(r.status, 401, "{host}: {}", r.text());
        let row = last_audit(&db);
        assert!(row.contains(rule), "{host}: {row}");
        assert!(row.contains("--allow-private-jwks-uri"), "{host}: {row}");
    }
    assert_eq!(*keys.hits.lock().unwrap(), 0, "nothing was fetched");
    server.stop().await;

    let mut conf = cfg(&db);
    conf.allow_private_jwks_uri = true;
    let server = start(conf).await;
    let mut c = Client::new(server.addr);
    let r = c
        .token(&form(&assertion_with(&id, &k, "k1", |_, _| {})), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(*keys.hits.lock().unwrap(), 1);
    // Cached (max-age=300): no second fetch.
    let r = c
        .token(&form(&assertion_with(&id, &k, "k1", |_, _| {})), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(*keys.hits.lock().unwrap(), 1);

    // The client rotates: it adds a new key at its jwks_uri; an assertion
    // with the new kid makes the issuer refetch (kid miss), no issuer step.
    let k2 = Es256Key::from_seed(0x74);
    *keys.body.lock().unwrap() = jwks(&[k.jwk("k1"), k2.jwk("k2")]);
    let r = c
        .token(&form(&assertion_with(&id, &k2, "k2", |_, _| {})), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(*keys.hits.lock().unwrap(), 2);
    // Another unknown kid within the cooldown: refused without a fetch.
    let r = c
        .token(&form(&assertion_with(&id, &k2, "k3", |_, _| {})), &[])
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(*keys.hits.lock().unwrap(), 2);
    server.stop().await;

    // A slow jwks_uri: bounded by the fetch timeout (1 s here).
    let slow = JwksServer::start([127, 0, 0, 1], jwks(&[k.jwk("k1")])).await;
    *slow.delay.lock().unwrap() = Duration::from_secs(10);
    let slow_id = key_client(&db, "slow", ClientKeys::JwksUri(slow.url()));
    // An oversized one: bounded by the core's JWKS cap.
    let big = JwksServer::start(
        [127, 0, 0, 1],
        format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(600 * 1024)),
    )
    .await;
    let big_id = key_client(&db, "big", ClientKeys::JwksUri(big.url()));
    let mut conf = cfg(&db);
    conf.allow_private_jwks_uri = true;
    conf.assertions.remote.timeout = 1;
    let server = start(conf).await;
    let mut c = Client::new(server.addr);
    let started = std::time::Instant::now();
    let r = c
        .token(&form(&assertion_with(&slow_id, &k, "k1", |_, _| {})), &[])
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let r = c
        .token(&form(&assertion_with(&big_id, &k, "k1", |_, _| {})), &[])
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(audit_has(&db, "jwks_uri") || audit_has(&db, "ERR_JWKS"));
    server.stop().await;
    // `status` reports the clients whose jwks_uri gives nothing usable.
    let (findings, _) = issuer(&db).status(unix_now(), 86_400, 86_400 * 30).unwrap();
    for client in [&slow_id, &big_id] {
        assert!(
            findings
                .iter()
                .any(|f| f.kind == "client_jwks_uri_failing" && f.subject == *client),
            "{findings:?}"
        );
    }
    assert!(!findings.iter().any(|f| f.subject == id), "{findings:?}");
    for s in [keys, slow, big] {
        s.task.abort();
    }
    std::fs::remove_dir_all(dir).ok();
}

/// A burst of requests from a jwks_uri client whose keys are not held yet:
/// one GET of its jwks_uri, whose response every request shares (and one
/// fetch counted in /metrics); all of them get tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_requests_fetches_a_jwks_uri_once() {
    let dir = temp_dir("server-assertion-burst");
    let db = init_store(&dir, &settings());
    let k = ec();
    let keys = JwksServer::start([127, 0, 0, 1], jwks(&[k.jwk("k1")])).await;
    // The fetch takes long enough for every request to be waiting on it.
    *keys.delay.lock().unwrap() = Duration::from_millis(1500);
    let id = key_client(&db, "bursty", ClientKeys::JwksUri(keys.url()));
    let mut conf = cfg(&db);
    conf.allow_private_jwks_uri = true;
    let server = start(conf).await;
    let burst: Vec<_> = (0..8)
        .map(|_| {
            let f = form(&assertion_with(&id, &k, "k1", |_, _| {}));
            let addr = server.addr;
            tokio::spawn(async move { Client::new(addr).token(&f, &[]).await })
        })
        .collect();
    for r in burst {
        let r = r.await.unwrap();
        assert_eq!(r.status, 200, "{} {}", r.text(), last_audit(&db));
    }
    assert_eq!(*keys.hits.lock().unwrap(), 1, "one GET for the burst");
    let m = Client::new(server.addr).get("/metrics").await.text();
    assert!(
        m.contains("jwt_edge_jwks_uri_fetches_total{outcome=\"ok\"} 1\n"),
        "{m}"
    );
    server.stop().await;
    keys.task.abort();
    std::fs::remove_dir_all(dir).ok();
}

/// Two replicas on one store: the same assertion, sent to both at once, is
/// accepted at most once (its jti is remembered in the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_accept_an_assertion_at_most_once() {
    let dir = temp_dir("server-assertion-replicas");
    let db = init_store(&dir, &settings());
    let k = ec();
    let id = key_client(&db, "replicated", ClientKeys::Jwks(jwks(&[k.jwk("k1")])));
    let (a, b) = (start(cfg(&db)).await, start(cfg(&db)).await);
    for round in 0..5 {
        let f = form(&assertion_with(&id, &k, "k1", |_, _| {}));
        let (mut ca, mut cb) = (Client::new(a.addr), Client::new(b.addr));
        let (ra, rb) = tokio::join!(ca.token(&f, &[]), cb.token(&f, &[]));
        let ok = [&ra, &rb].iter().filter(|r| r.status == 200).count();
        assert_eq!(ok, 1, "round {round}: {} / {}", ra.text(), rb.text());
    }
    a.stop().await;
    b.stop().await;
    std::fs::remove_dir_all(dir).ok();
}
