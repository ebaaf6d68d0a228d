//! Issue #19: IETF Token Status Lists from the issuer to the validator, and
//! revocation epochs that never go backwards.
//! - the issuer gives every token an index; `revoke` sets its bit; the
//!   signed list verifies in `jwt_edge::Validator` (status 1: revoked);
//! - `jwt-edge serve` publishes `/statuslists/N` with ETag/304 and `ttl`,
//!   and a client's RFC 7009 revocation shows in it before the answer;
//! - lists that lie about their URI, are older than the copy held, or
//!   inflate beyond the bound are refused;
//! - a store restored from an older backup still publishes a higher epoch.

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

use jwt_edge::issuer::IssueRequest;
use jwt_edge::ErrorKind;
use jwt_edge::{KeySet, Policy, RevocationReason, Validator};
use serde_json::Value;
use server_util::*;

fn request(full: &str) -> IssueRequest {
    IssueRequest {
        credential: zeroize::Zeroizing::new(full.to_owned()).into(),
        ..IssueRequest::default()
    }
}

use server_util::claims_of as claims;

fn validator(jwks: &Value, check: bool) -> Validator {
    let keys = KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
    Validator::builder(
        Policy::new()
            .issuer(ISS)
            .audience(AUD)
            .check_status_lists(check),
    )
    .keys(keys)
    .build()
    .unwrap()
}

#[test]
fn issuer_lists_verify_and_revoke() {
    let dir = temp_dir("status-issuer");
    let db = init_store(&dir, &settings());
    let (_, full) = provision(&db, "svc");
    let mut i = issuer(&db);
    let now = unix_now();
    let tokens: Vec<String> = (0..3)
        .map(|_| i.issue(&request(&full), now).unwrap().token)
        .collect();
    let uri = format!("{ISS}/statuslists/1");
    for (n, t) in tokens.iter().enumerate() {
        let c = claims(t);
        assert_eq!(c["status"]["status_list"]["uri"], uri.as_str());
        assert_eq!(c["status"]["status_list"]["idx"], n);
    }
    let jwks = i.jwks().unwrap().to_json();
    let list = i.status_list_token(1, now).unwrap();
    let header = jwt_edge::inspect(&list, None).unwrap().header;
    assert_eq!(header["typ"], "statuslist+jwt");

    // Checking on: no list held yet -> unavailable (fail closed), then ok.
    let mut v = validator(&jwks, true);
    let e = v.verify(&tokens[0], now).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StatusListUnavailable);
    v.install_status_list(&uri, &list, now).unwrap();
    for t in &tokens {
        v.verify(t, now).unwrap();
    }
    // Revoke the second token: its bit is set in the next list.
    let jti = claims(&tokens[1])["jti"].as_str().unwrap().to_owned();
    i.revoke_jti(&jti, now).unwrap();
    let newer = i.status_list_token(1, now + 1).unwrap();
    v.install_status_list(&uri, &newer, now + 1).unwrap();
    let e = v.verify(&tokens[1], now + 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Revoked);
    assert_eq!(e.revocation_reason(), Some(RevocationReason::StatusList));
    v.verify(&tokens[0], now + 1).unwrap();
    v.verify(&tokens[2], now + 1).unwrap();
    // A replay of the older list (lower iat) cannot un-revoke it.
    let e = v.install_status_list(&uri, &list, now + 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StatusListInvalid);
    assert_eq!(
        v.verify(&tokens[1], now + 1).unwrap_err().code(),
        "ERR_JWT_REVOKED"
    );
    // A list whose `sub` is not the URI it came from.
    let e = v
        .install_status_list(&format!("{ISS}/statuslists/2"), &newer, now + 1)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StatusListInvalid);
    assert!(e.message().contains("sub"), "{}", e.message());
    // An expired list (exp = iat + 1 day) no longer answers.
    let e = v.verify(&tokens[0], now + 86_402).unwrap_err();
    assert!(
        ["ERR_STATUS_LIST_UNAVAILABLE", "ERR_JWT_EXPIRED"].contains(&e.code()),
        "{}",
        e.code()
    );
    // A status list is never accepted as an access token.
    assert_eq!(
        v.verify(&newer, now + 1).unwrap_err().code(),
        "ERR_JWS_INVALID"
    );

    // Checking off (the default): the claim is not looked at.
    let mut off = validator(&jwks, false);
    off.verify(&tokens[1], now + 1).unwrap();
    // requireStatus: a token without the claim is refused.
    let keys = KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
    let mut strict = Validator::builder(Policy::new().issuer(ISS).require_status(true))
        .keys(keys)
        .build()
        .unwrap();
    strict.install_status_list(&uri, &newer, now + 1).unwrap();
    strict.verify(&tokens[0], now + 1).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bomb_lists_are_refused_without_growing_memory() {
    let dir = temp_dir("status-bomb");
    let db = init_store(&dir, &settings());
    let (_, full) = provision(&db, "svc");
    let mut i = issuer(&db);
    let now = unix_now();
    let token = i.issue(&request(&full), now).unwrap().token;
    let list = i.status_list_token(1, now).unwrap();
    let jwks = i.jwks().unwrap().to_json();
    // The issuer's own list is 128 KiB inflated: over a 64 KiB bound it is
    // refused as a bomb, and the token stays unverifiable (fail closed).
    let keys = KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
    let mut v = Validator::builder(
        Policy::new()
            .issuer(ISS)
            .check_status_lists(true)
            .max_status_list_bytes(64 * 1024),
    )
    .keys(keys)
    .build()
    .unwrap();
    let uri = format!("{ISS}/statuslists/1");
    let e = v.install_status_list(&uri, &list, now).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StatusListInvalid);
    assert!(
        e.message().contains("decompression bomb"),
        "{}",
        e.message()
    );
    assert_eq!(
        v.verify(&token, now).unwrap_err().code(),
        "ERR_STATUS_LIST_UNAVAILABLE"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_publishes_status_lists() {
    let dir = temp_dir("status-serve");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "svc");
    let server = start(config(&db)).await;
    let mut c = Client::new(server.addr);
    let form = format!("grant_type=client_credentials&{}", form_creds(&id, &full));
    let ct = ("content-type", "application/x-www-form-urlencoded");
    let token = c.token(&form, &[ct]).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let meta = c
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(meta["status_list_endpoint"], format!("{ISS}/statuslists"));
    // Published before the token was answered.
    let r = c.get("/statuslists/1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/statuslist+jwt"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    let etag = r.header("etag").unwrap().to_owned();
    let r2 = c
        .send("GET", "/statuslists/1", &[("if-none-match", &etag)], b"")
        .await;
    assert_eq!(r2.status, 304);
    let jwks = c.get("/.well-known/jwks.json").await.json();
    let mut v = validator(&jwks, true);
    let uri = format!("{ISS}/statuslists/1");
    v.install_status_list(&uri, &r.text(), unix_now()).unwrap();
    v.verify(&token, unix_now()).unwrap();
    assert_eq!(c.get("/statuslists/2").await.status, 404);
    assert_eq!(c.get("/statuslists/x").await.status, 404);

    // The client revokes it (RFC 7009): the served list says so at once.
    let body = format!("token={}&{}", enc(&token), form_creds(&id, &full));
    assert_eq!(
        c.send("POST", "/revoke", &[ct], body.as_bytes())
            .await
            .status,
        200
    );
    let r = c.get("/statuslists/1").await;
    assert_ne!(r.header("etag"), Some(etag.as_str()));
    // Signed at a later second than the first copy, or the same: install
    // needs iat >= the held one, which holds either way.
    v.install_status_list(&uri, &r.text(), unix_now()).unwrap();
    let e = v.verify(&token, unix_now()).unwrap_err();
    assert_eq!(e.revocation_reason(), Some(RevocationReason::StatusList));
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// An issuer restored from an older backup publishes a higher epoch than
/// anything it published before the restore: edges holding the newer epoch
/// keep accepting its lists.
#[test]
fn epochs_survive_a_restore_from_backup() {
    let dir = temp_dir("status-epoch");
    let db = init_store(&dir, &settings());
    let (_, full) = provision(&db, "svc");
    let now = unix_now();
    let mut i = issuer(&db);
    let t1 = i.issue(&request(&full), now).unwrap().token;
    // An online backup, as docs/server.md says (VACUUM INTO; pg_dump).
    let backup = dir.join("backup.db");
    server_util::pg::backup_store(&db, &backup);
    // After the backup: three more revocations (epochs move on).
    let mut held = 0;
    for _ in 0..3 {
        let t = i.issue(&request(&full), now).unwrap().token;
        i.revoke_jti(claims(&t)["jti"].as_str().unwrap(), now)
            .unwrap();
        held = i.revocation_list(now).unwrap().epoch;
    }
    let jwks = i.jwks().unwrap().to_json();
    let mut v = validator(&jwks, false);
    v.install_revocations(&i.signed_revocation_list(now).unwrap())
        .unwrap();
    drop(i);
    // Restore the older copy; a change a second later bumps its epoch.
    server_util::pg::restore_store(&db, &backup);
    let mut restored = issuer(&db);
    assert!(restored.revocation_list(now).unwrap().epoch < held);
    restored
        .revoke_jti(claims(&t1)["jti"].as_str().unwrap(), now + 1)
        .unwrap();
    let epoch = restored.revocation_list(now + 1).unwrap().epoch;
    assert!(epoch > held, "restored epoch {epoch} > held {held}");
    v.install_revocations(&restored.signed_revocation_list(now + 1).unwrap())
        .unwrap();
    let e = v.verify(&t1, now + 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Revoked);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Remote status lists: the validator asks for the list the token names
/// (with its URL), only under the allowed prefix; a revoked token is refused
/// once the next fetch brings the new list; the freshness policy applies.
#[test]
fn remote_status_lists_are_fetched_from_allowed_uris_only() {
    use jwt_edge::{FetchOutcome, RemoteConfig};
    let dir = temp_dir("status-remote");
    let db = init_store(&dir, &settings());
    let (_, full) = provision(&db, "svc");
    let mut i = issuer(&db);
    let now = unix_now();
    let token = i.issue(&request(&full), now).unwrap().token;
    let jwks = i.jwks().unwrap().to_json();
    let keys = || KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
    let uri = format!("{ISS}/statuslists/1");
    let config = RemoteConfig {
        min_ttl: 1,
        ..RemoteConfig::default()
    };
    let mut v = Validator::builder(Policy::new().issuer(ISS))
        .keys(keys())
        .remote_status_lists(config, vec![])
        .build()
        .unwrap();
    let mut asked = Vec::new();
    let list = i.status_list_token(1, now).unwrap();
    let serve = |body: &str| FetchOutcome::Response {
        status: 200,
        cache_control: Some("max-age=60".into()),
        age: None,
        etag: None,
        body: body.as_bytes().to_vec(),
    };
    v.verify_fetching(&token, now, |r| {
        asked.push(r.url.clone());
        serve(&list)
    })
    .unwrap();
    assert_eq!(
        asked,
        [Some(uri.clone())],
        "one fetch, of the URI the token names"
    );
    // Fresh: no fetch.
    v.verify_fetching(&token, now + 10, |_| panic!("no fetch while fresh"))
        .unwrap();
    // Revoked at the issuer; after max-age the next verification refetches
    // (stale-while-revalidate serves the held copy once, then the new one).
    i.revoke_jti(claims(&token)["jti"].as_str().unwrap(), now)
        .unwrap();
    let newer = i.status_list_token(1, now + 61).unwrap();
    let mut fetched = 0;
    let mut last = None;
    for k in 0..3 {
        last = Some(v.verify_fetching(&token, now + 61 + k, |_| {
            fetched += 1;
            serve(&newer)
        }));
    }
    assert_eq!(fetched, 1);
    let e = last.unwrap().unwrap_err();
    assert_eq!(e.revocation_reason(), Some(RevocationReason::StatusList));

    // Lists are fetched only under the allowed prefixes (default: the
    // issuer's origin): a validator that allows only a CDN path refuses the
    // token without fetching anything.
    let mut other = Validator::builder(Policy::new().issuer(ISS))
        .keys(keys())
        .remote_status_lists(config, vec![])
        .build()
        .unwrap();
    let e = Validator::builder(Policy::new().issuer(ISS))
        .keys(keys())
        .remote_status_lists(config, vec!["https://issuer.test".into()])
        .build()
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::InvalidOptions,
        "a prefix must end in /"
    );
    let mut only_cdn = Validator::builder(Policy::new().issuer(ISS))
        .keys(keys())
        .remote_status_lists(config, vec!["https://cdn.example/lists/".into()])
        .build()
        .unwrap();
    let e = only_cdn
        .verify_fetching(&token, now, |_| panic!("never fetched"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StatusListInvalid);
    assert!(e.message().contains("allowed prefix"), "{}", e.message());
    // A fetch failure with nothing held: fail closed, retryable code.
    let e = other
        .verify_fetching(&token, now, |_| FetchOutcome::Failed)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StatusListUnavailable);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Lists have a fixed capacity and roll over to the next number.
#[test]
fn status_lists_roll_over_at_capacity() {
    use jwt_edge::issuer::store::Store;
    let dir = temp_dir("status-rollover");
    let db = init_store(&dir, &settings());
    let mut store = open_store(&db, false);
    let now = unix_now();
    let slots: Vec<(u64, u64)> = (0..20)
        .map(|_| {
            let s = store.transaction(|tx| tx.allocate_status(8, now)).unwrap();
            (s.list, s.idx)
        })
        .collect();
    let want: Vec<(u64, u64)> = (0..20).map(|i| (1 + i / 8, i % 8)).collect();
    assert_eq!(slots, want);
    let lists = store.transaction(|tx| tx.status_lists()).unwrap();
    assert_eq!(lists.len(), 3);
    assert_eq!(lists[2].next_idx, 4);
    let _ = std::fs::remove_dir_all(&dir);
}
