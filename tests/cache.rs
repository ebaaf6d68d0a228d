//! The verified-token cache: hits re-check time claims, revocation changes and
//! key removal invalidate entries, only successes are cached, LRU eviction.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use jwt_edge::cache::{Inserted, Lookup};
use jwt_edge::ErrorKind;
use jwt_edge::{install_revocations, verify_cached, KeySet, TokenCache};
use serde_json::json;

fn ec_token(jti: &str, exp: u64) -> String {
    token_kid(
        KID_EC,
        &json!({"iss": ISS, "sub": "user-1", "aud": AUD, "iat": NOW - 60, "exp": exp, "jti": jti}),
        &ec(),
    )
}

#[test]
fn a_hit_returns_the_same_result_and_counts() {
    let (keys, policy) = (standard_keys(), policy_all());
    let mut cache = TokenCache::new(10);
    let t = ec_token("a", NOW + 3600);
    let first = verify_cached(&mut cache, &t, &keys, &policy, NOW).unwrap();
    let second = verify_cached(&mut cache, &t, &keys, &policy, NOW + 1).unwrap();
    assert_eq!(first, second);
    assert_eq!(cache.stats(), (1, 1));
    assert!(matches!(cache.get(&t, &policy, NOW + 2), Lookup::Hit(..)));
}

#[test]
fn a_hit_rechecks_expiry_and_max_age_against_now() {
    let keys = standard_keys();
    let policy = policy_all().max_token_age(600);
    let mut cache = TokenCache::new(10);
    let t = ec_token("b", NOW + 100);
    verify_cached(&mut cache, &t, &keys, &policy, NOW).unwrap();
    let err = verify_cached(&mut cache, &t, &keys, &policy, NOW + 100).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Expired);
    assert_eq!(err.claim_name(), Some("exp"));
    assert!(
        cache.is_empty(),
        "an entry that fails a time check is dropped"
    );
    // Maximum age: iat = NOW - 60, max 600 s.
    let long = ec_token("c", NOW + 100_000);
    verify_cached(&mut cache, &long, &keys, &policy, NOW).unwrap();
    let err = verify_cached(&mut cache, &long, &keys, &policy, NOW + 541).unwrap_err();
    assert_eq!(
        (err.code(), err.claim_name()),
        ("ERR_JWT_EXPIRED", Some("iat"))
    );
}

#[test]
fn a_revocation_list_change_invalidates_entries() {
    let keys = standard_keys();
    let mut policy = policy_all();
    let mut cache = TokenCache::new(10);
    let t = ec_token("revoke-me", NOW + 3600);
    verify_cached(&mut cache, &t, &keys, &policy, NOW).unwrap();
    let list = json!({"iss": ISS, "epoch": 1, "generated_at": NOW, "jti": [{"jti": "revoke-me", "exp": NOW + 3600}]});
    install_revocations(&list.to_string(), &keys, &mut policy).unwrap();
    let err = verify_cached(&mut cache, &t, &keys, &policy, NOW + 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Revoked);
}

#[test]
fn removing_the_signing_key_invalidates_its_entries_only() {
    let keys = standard_keys();
    let policy = policy_all();
    let mut cache = TokenCache::new(10);
    let ec_tok = ec_token("ec", NOW + 3600);
    let ed_tok = token_kid(KID_ED, &good_claims(), &ed());
    verify_cached(&mut cache, &ec_tok, &keys, &policy, NOW).unwrap();
    verify_cached(&mut cache, &ed_tok, &keys, &policy, NOW).unwrap();
    // A new JWKS without the EC key.
    let rotated = KeySet::from_jwks(&jwks(&[ed().jwk(KID_ED)])).unwrap();
    cache.retain_keys(&rotated);
    assert_eq!(cache.len(), 1);
    assert_eq!(
        verify_cached(&mut cache, &ec_tok, &rotated, &policy, NOW)
            .unwrap_err()
            .code(),
        "ERR_JWKS_NO_MATCHING_KEY"
    );
    assert!(matches!(cache.get(&ed_tok, &policy, NOW), Lookup::Hit(..)));
}

#[test]
fn only_successes_are_cached_and_capacity_is_bounded() {
    let (keys, policy) = (standard_keys(), policy_all());
    let mut cache = TokenCache::new(2);
    let bad = with_signature(&ec_token("x", NOW + 3600), &[0u8; 64]);
    assert!(verify_cached(&mut cache, &bad, &keys, &policy, NOW).is_err());
    assert!(cache.is_empty());
    let (a, b, c) = (
        ec_token("1", NOW + 3600),
        ec_token("2", NOW + 3600),
        ec_token("3", NOW + 3600),
    );
    verify_cached(&mut cache, &a, &keys, &policy, NOW).unwrap();
    verify_cached(&mut cache, &b, &keys, &policy, NOW).unwrap();
    verify_cached(&mut cache, &a, &keys, &policy, NOW).unwrap(); // a is now the most recent
    verify_cached(&mut cache, &c, &keys, &policy, NOW).unwrap(); // evicts b
    assert_eq!(cache.len(), 2);
    assert!(matches!(cache.get(&a, &policy, NOW), Lookup::Hit(..)));
    assert!(matches!(cache.get(&b, &policy, NOW), Lookup::Miss));
    // Capacity 0 disables the cache.
    let mut off = TokenCache::new(0);
    verify_cached(&mut off, &a, &keys, &policy, NOW).unwrap();
    assert!(off.is_empty());
}

#[test]
fn keyed_by_the_exact_token_string() {
    // A different token string with the same claims (another valid ECDSA
    // signature) is a different entry and is verified in full.
    let (keys, policy) = (standard_keys(), policy_all());
    let mut cache = TokenCache::new(10);
    let t = ec_token("same", NOW + 3600);
    verify_cached(&mut cache, &t, &keys, &policy, NOW).unwrap();
    let forged = format!("{}x", t);
    assert!(verify_cached(&mut cache, &forged, &keys, &policy, NOW).is_err());
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_secret_configured_without_kid_verifies_hmac_tokens_that_carry_one() {
    // Explicit configuration of one secret: the token's kid is only a hint.
    let mut keys = KeySet::new();
    keys.add_hmac_secret(&hs_secret(), None, None).unwrap();
    let policy = policy_all();
    let t = token_kid("any-kid", &good_claims(), &hs(jwt_edge::Algorithm::HS256));
    assert!(jwt_edge::verify(&t, &keys, &policy, NOW).is_ok());
    // A secret configured with a kid still requires that kid.
    let mut named = KeySet::new();
    named
        .add_hmac_secret(&hs_secret(), Some("hs-a"), None)
        .unwrap();
    assert_eq!(
        jwt_edge::verify(&t, &named, &policy, NOW)
            .unwrap_err()
            .code(),
        "ERR_JWKS_NO_MATCHING_KEY"
    );
    // Public keys without a kid never answer to a token's kid (jose's rule).
    let pub_no_kid = KeySet::from_jwks(&jwks(&[
        json!({"kty":"EC","crv":"P-256","x": ec().jwk("x")["x"], "y": ec().jwk("x")["y"]}),
    ]))
    .unwrap();
    let ect = token_kid("some-kid", &good_claims(), &ec());
    assert_eq!(
        jwt_edge::verify(&ect, &pub_no_kid, &policy, NOW)
            .unwrap_err()
            .code(),
        "ERR_JWKS_NO_MATCHING_KEY"
    );
}

#[test]
fn eviction_follows_recency_through_many_hits() {
    // Enough hits to make the recency queue compact itself several times.
    let (keys, policy) = (standard_keys(), policy_all());
    let mut cache = TokenCache::new(3);
    let t: Vec<String> = (0..5)
        .map(|i| ec_token(&format!("r{i}"), NOW + 3600))
        .collect();
    for token in &t[..3] {
        verify_cached(&mut cache, token, &keys, &policy, NOW).unwrap();
    }
    for _ in 0..100 {
        assert!(matches!(cache.get(&t[0], &policy, NOW), Lookup::Hit(..)));
    }
    verify_cached(&mut cache, &t[3], &keys, &policy, NOW).unwrap(); // evicts t1
    assert!(matches!(cache.get(&t[2], &policy, NOW), Lookup::Hit(..)));
    verify_cached(&mut cache, &t[4], &keys, &policy, NOW).unwrap(); // evicts t0
    assert_eq!(cache.len(), 3);
    let present: Vec<bool> = t
        .iter()
        .map(|x| matches!(cache.get(x, &policy, NOW), Lookup::Hit(..)))
        .collect();
    assert_eq!(present, [false, false, true, true, true]);
    // Serials are unique per insertion and reported by insert and get alike.
    let mut other = TokenCache::new(2);
    let v = jwt_edge::verify(&t[0], &keys, &policy, NOW).unwrap();
    let serial = match other.insert(&t[0], v, &policy) {
        Inserted::Cached(_, s) => s,
        _ => panic!("capacity 2 must cache"),
    };
    assert!(matches!(other.get(&t[0], &policy, NOW), Lookup::Hit(_, s) if s == serial));
}
