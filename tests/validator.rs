//! The `Validator` object: single- and multi-issuer forms, per-issuer policy,
//! builder errors, HMAC secrets, the `now` range, the verified-token cache and
//! its invalidation, the begin/finish split for host crypto, remote JWKS and
//! cache snapshots.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use jwt_edge::{
    Algorithm, ClaimReason, Error, FetchOutcome, FetchRequest, IssuerOptions, KeySet, Mode, Policy,
    RemoteConfig, RevocationReason, SignatureCheck, Source, Step, Validator, Verified,
    MAX_CACHE_CAPACITY,
};
use serde_json::{json, Value};

const ISS_A: &str = "https://a.example";
const ISS_B: &str = "https://b.example";
/// The kid of issuer B's key ([`ec2`]).
const KID_B: &str = "b-1";
/// The largest `now` accepted (9999-12-31T23:59:59Z).
const MAX_NOW: u64 = 253_402_300_799;

const INVALID_OPTIONS: &str = "ERR_INVALID_OPTIONS";
const NO_KEY: &str = "ERR_JWKS_NO_MATCHING_KEY";
const SIG_FAILED: &str = "ERR_JWS_SIGNATURE_VERIFICATION_FAILED";
const CLAIM: &str = "ERR_JWT_CLAIM_VALIDATION_FAILED";
const ALG_NOT_ALLOWED: &str = "ERR_JOSE_ALG_NOT_ALLOWED";
const REVOKED: &str = "ERR_JWT_REVOKED";
const LIST_INVALID: &str = "ERR_REVOCATION_LIST_INVALID";
const JWKS_TIMEOUT: &str = "ERR_JWKS_TIMEOUT";

/// Signatures checked by the caller, nothing fetched.
const HOST: Mode = Mode {
    rust_signatures: false,
    fetch: false,
    binding: jwt_edge::Binding::Unbound,
};
/// Signatures in Rust, the caller fetches.
const FETCH: Mode = Mode {
    rust_signatures: true,
    fetch: true,
    binding: jwt_edge::Binding::Unbound,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// [`good_claims`] for issuer `iss` with token id `jti`.
fn claims_of(iss: &str, jti: &str) -> Value {
    let mut c = good_claims();
    c["iss"] = json!(iss);
    c["jti"] = json!(jti);
    c
}

/// The P-256 key [`ec`] alone, under [`KID_EC`].
fn ec_keys() -> KeySet {
    keys_from(&jwks(&[ec().jwk(KID_EC)]))
}

/// Issuer B's key [`ec2`] alone, under [`KID_B`].
fn b_keys() -> KeySet {
    keys_from(&jwks(&[ec2().jwk(KID_B)]))
}

/// The standard public keys (no HMAC secret).
fn public_keys() -> KeySet {
    keys_from(&standard_jwks())
}

/// A single-issuer validator.
fn single(policy: Policy, keys: KeySet) -> Validator {
    Validator::builder(policy).keys(keys).build().unwrap()
}

/// Issuer A trusts [`ec`] (kid [`KID_EC`]), issuer B trusts [`ec2`] (kid [`KID_B`]).
fn two_issuers() -> Validator {
    Validator::builder(Policy::new())
        .issuer(IssuerOptions::new(ISS_A).keys(ec_keys()))
        .issuer(IssuerOptions::new(ISS_B).keys(b_keys()))
        .build()
        .unwrap()
}

/// A token of issuer A (signed by [`ec`]).
fn a_token(jti: &str) -> String {
    token_kid(KID_EC, &claims_of(ISS_A, jti), &ec())
}

/// A token of issuer B (signed by [`ec2`]).
fn b_token(jti: &str) -> String {
    token_kid(KID_B, &claims_of(ISS_B, jti), &ec2())
}

/// A `200` with `max-age=300`.
fn ok_response(body: Vec<u8>) -> FetchOutcome {
    FetchOutcome::Response {
        status: 200,
        cache_control: Some("max-age=300".into()),
        age: None,
        etag: None,
        body,
    }
}

/// A single-issuer validator whose JWKS is remote.
fn remote_single() -> Validator {
    Validator::builder(Policy::new())
        .remote_jwks(RemoteConfig::default())
        .build()
        .unwrap()
}

#[track_caller]
fn expect_fetch(step: Result<Step<'_>, Error>) -> FetchRequest {
    match step {
        Ok(Step::Fetch(req)) => req,
        Ok(other) => panic!("expected Step::Fetch, got {other:?}"),
        Err(e) => panic!("expected Step::Fetch, got {}: {}", e.code(), e.message()),
    }
}

#[track_caller]
fn expect_signature(step: Result<Step<'_>, Error>) -> SignatureCheck {
    match step {
        Ok(Step::Signature(check)) => check,
        Ok(other) => panic!("expected Step::Signature, got {other:?}"),
        Err(e) => panic!(
            "expected Step::Signature, got {}: {}",
            e.code(),
            e.message()
        ),
    }
}

/// The result of a `Step::Verified` and whether it was a cache hit.
#[track_caller]
fn expect_verified(step: Result<Step<'_>, Error>) -> (Verified, bool, u64) {
    match step {
        Ok(Step::Verified(done)) => (done.verified.into_owned(), done.hit, done.serial),
        Ok(other) => panic!("expected Step::Verified, got {other:?}"),
        Err(e) => panic!("expected Step::Verified, got {}: {}", e.code(), e.message()),
    }
}

/// Asserts that two failures are the same to a caller: code, claim, reasons, message.
#[track_caller]
fn assert_same_error<A: core::fmt::Debug, B: core::fmt::Debug>(
    got: Result<A, Error>,
    want: Result<B, Error>,
    code: &str,
) {
    let want = assert_code(want, code);
    let got = assert_code(got, code);
    assert_eq!(got.claim_name(), want.claim_name(), "{}", got.message());
    assert_eq!(got.claim_reason(), want.claim_reason(), "{}", got.message());
    assert_eq!(got.revocation_reason(), want.revocation_reason());
    assert_eq!(got.message(), want.message());
}

/// A JSON revocation list for `iss` at `epoch` listing `jtis`.
fn list_json(iss: &str, epoch: u64, jtis: &[&str]) -> Value {
    let jti: Vec<Value> = jtis
        .iter()
        .map(|j| json!({"jti": j, "exp": NOW + 7200}))
        .collect();
    json!({"iss": iss, "epoch": epoch, "generated_at": NOW, "jti": jti})
}

/// `list` signed as a `revocation-list+jwt` with `key` under `kid`.
fn signed_list(list: &Value, kid: &str, key: &dyn Sign) -> String {
    token(
        &json!({"alg": key.alg(), "kid": kid, "typ": "revocation-list+jwt"}),
        list,
        key,
    )
}

/// A key set holding only the standard HMAC secret, under [`KID_HS`].
fn hmac_secrets() -> KeySet {
    let mut s = KeySet::new();
    s.add_hmac_secret(&hs_secret(), Some(KID_HS), None).unwrap();
    s
}

// ---------------------------------------------------------------------------
// 1. Single-issuer shorthand ≡ the free function
// ---------------------------------------------------------------------------

#[test]
fn single_issuer_accepts_what_the_free_function_accepts() {
    let policy = Policy::new().issuer(ISS).audience(AUD);
    let keys = public_keys();
    let mut v = single(policy.clone(), public_keys());
    let tokens = [
        token_kid(KID_EC, &good_claims(), &ec()),
        token_kid(KID_EC384, &good_claims(), &ec384()),
        token_kid(KID_ED, &good_claims(), &ed()),
        token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256)),
        token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::PS256)),
    ];
    for t in &tokens {
        let want = assert_ok(jwt_edge::verify(t, &keys, &policy, NOW));
        let got = assert_ok(v.verify(t, NOW));
        assert_eq!(got, want);
        assert_eq!(got.claims["iss"], ISS);
    }
    assert!(!v.is_multi_issuer());
    assert_eq!(v.key_sets().count(), 1);
    assert_eq!(v.key_sets().next().unwrap().0, None);
}

#[test]
fn single_issuer_rejects_like_the_free_function() {
    let policy = Policy::new().issuer(ISS).audience(AUD);
    let keys = public_keys();
    let good = token_kid(KID_EC, &good_claims(), &ec());
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            token_kid(KID_EC, &claims_with("exp", Some(json!(NOW - 1))), &ec()),
            "ERR_JWT_EXPIRED",
        ),
        (
            "not yet valid",
            token_kid(KID_EC, &claims_with("nbf", Some(json!(NOW + 60))), &ec()),
            CLAIM,
        ),
        (
            "signed by an attacker's key under a trusted kid",
            token_kid(KID_EC, &good_claims(), &attacker_ec()),
            SIG_FAILED,
        ),
        (
            "a signature of the wrong length",
            with_signature(&good, &signature_of(&good)[..63]),
            SIG_FAILED,
        ),
        (
            "HS256 is not allowed by default",
            token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256)),
            ALG_NOT_ALLOWED,
        ),
        (
            "alg none (with a signature segment, so that it parses)",
            token(
                &json!({"alg": "none", "kid": KID_EC}),
                &good_claims(),
                &Fixed("none", vec![1, 2, 3]),
            ),
            ALG_NOT_ALLOWED,
        ),
        (
            "an unknown kid",
            token_kid("nobody", &good_claims(), &ec()),
            NO_KEY,
        ),
        (
            "a wrong issuer",
            token_kid(
                KID_EC,
                &claims_with("iss", Some(json!("https://evil"))),
                &ec(),
            ),
            CLAIM,
        ),
        (
            // Single-issuer form: iss is checked after key selection.
            "a wrong issuer and an unknown kid",
            token_kid(
                "nobody",
                &claims_with("iss", Some(json!("https://evil"))),
                &ec(),
            ),
            NO_KEY,
        ),
        (
            "a wrong audience",
            token_kid(KID_EC, &claims_with("aud", Some(json!("other"))), &ec()),
            CLAIM,
        ),
        (
            "no exp",
            token_kid(KID_EC, &claims_with("exp", None), &ec()),
            CLAIM,
        ),
    ];
    let mut v = single(policy.clone(), public_keys());
    for (what, t, code) in &cases {
        eprintln!("case: {what}");
        assert_same_error(
            v.verify(t, NOW),
            jwt_edge::verify(t, &keys, &policy, NOW),
            code,
        );
        // Failures are not cached: the same answer again.
        assert_code(v.verify(t, NOW), code);
    }
    assert_eq!(v.cache_stats().2, 0, "only successes are cached");
    // Restricting the algorithms works the same way too.
    let es_only = Policy::new().algorithms([Algorithm::ES256]);
    let mut v = single(es_only.clone(), public_keys());
    let ed_tok = token_kid(KID_ED, &good_claims(), &ed());
    assert_same_error(
        v.verify(&ed_tok, NOW),
        jwt_edge::verify(&ed_tok, &keys, &es_only, NOW),
        ALG_NOT_ALLOWED,
    );
    assert_ok(v.verify(&good, NOW));
}

// ---------------------------------------------------------------------------
// 2. Multi-issuer: iss selects the issuer before any key
// ---------------------------------------------------------------------------

#[test]
fn multi_issuer_verifies_each_issuers_tokens_with_its_own_keys() {
    let mut v = two_issuers();
    assert!(v.is_multi_issuer());
    let sets: Vec<Option<&str>> = v.key_sets().map(|(iss, _)| iss).collect();
    assert_eq!(sets, [Some(ISS_A), Some(ISS_B)]);
    let a = assert_ok(v.verify(&a_token("a1"), NOW));
    assert_eq!(
        (a.claims["iss"].as_str(), a.kid.as_deref()),
        (Some(ISS_A), Some(KID_EC))
    );
    let b = assert_ok(v.verify(&b_token("b1"), NOW));
    assert_eq!(
        (b.claims["iss"].as_str(), b.kid.as_deref()),
        (Some(ISS_B), Some(KID_B))
    );
}

#[test]
fn multi_issuer_refuses_cross_issuer_key_confusion() {
    let mut v = two_issuers();
    // iss A, signed by B's key under B's kid: A's keys do not have that kid.
    let forged = token_kid(KID_B, &claims_of(ISS_A, "x"), &ec2());
    assert_code(v.verify(&forged, NOW), NO_KEY);
    // iss B, signed by A's key under A's kid.
    let forged = token_kid(KID_EC, &claims_of(ISS_B, "y"), &ec());
    assert_code(v.verify(&forged, NOW), NO_KEY);
    // Both issuers use the same kid: the kid resolves within A's set, to A's
    // key, and B's signature does not verify with it.
    let mut same_kid = Validator::builder(Policy::new())
        .issuer(IssuerOptions::new(ISS_A).keys(ec_keys()))
        .issuer(IssuerOptions::new(ISS_B).keys(keys_from(&jwks(&[ec2().jwk(KID_EC)]))))
        .build()
        .unwrap();
    let forged = token_kid(KID_EC, &claims_of(ISS_A, "z"), &ec2());
    assert_code(same_kid.verify(&forged, NOW), SIG_FAILED);
    let forged = token_kid(KID_EC, &claims_of(ISS_B, "w"), &ec());
    assert_code(same_kid.verify(&forged, NOW), SIG_FAILED);
    // The genuine tokens with that shared kid verify.
    assert_ok(same_kid.verify(&token_kid(KID_EC, &claims_of(ISS_A, "z"), &ec()), NOW));
    assert_ok(same_kid.verify(&token_kid(KID_EC, &claims_of(ISS_B, "w"), &ec2()), NOW));
    // Kidless: B's key is not a candidate for an A token.
    let kidless = token(&json!({"alg": "ES256"}), &claims_of(ISS_A, "k"), &ec2());
    assert_code(v.verify(&kidless, NOW), SIG_FAILED);
    let kidless = token(&json!({"alg": "ES256"}), &claims_of(ISS_A, "k"), &ec());
    assert_ok(v.verify(&kidless, NOW));
}

#[test]
fn multi_issuer_unknown_issuer_is_refused_before_key_selection() {
    let mut v = two_issuers();
    let evil = "https://evil.example";
    let cases = [
        // A kid no key has: still the iss error, not NO_MATCHING_KEY.
        token_kid("nobody", &claims_of(evil, "1"), &ec()),
        // A trusted key and kid.
        token_kid(KID_EC, &claims_of(evil, "2"), &ec()),
        // An algorithm no issuer allows.
        token_kid(KID_HS, &claims_of(evil, "3"), &hs(Algorithm::HS256)),
        // A broken signature.
        with_signature(&token_kid(KID_EC, &claims_of(evil, "4"), &ec()), &[1u8; 64]),
    ];
    for t in &cases {
        let e = assert_claim(v.verify(t, NOW), CLAIM, "iss", ClaimReason::CheckFailed);
        assert!(e.message().contains(evil), "{}", e.message());
    }
    // A close but different issuer (exact comparison).
    let t = token_kid(KID_EC, &claims_of("https://a.example/", "5"), &ec());
    assert_claim(v.verify(&t, NOW), CLAIM, "iss", ClaimReason::CheckFailed);
    // Also before any fetch in a remote multi-issuer validator.
    let mut remote = Validator::builder(Policy::new())
        .issuer(IssuerOptions::new(ISS_A).remote_jwks(RemoteConfig::default()))
        .build()
        .unwrap();
    assert_claim(
        remote.begin(&cases[0], NOW, FETCH).map(|_| ()),
        CLAIM,
        "iss",
        ClaimReason::CheckFailed,
    );
}

#[test]
fn multi_issuer_token_without_iss_or_with_a_non_string_iss() {
    let mut v = two_issuers();
    let no_iss = token_kid(KID_EC, &claims_with("iss", None), &ec());
    assert_claim(v.verify(&no_iss, NOW), CLAIM, "iss", ClaimReason::Missing);
    // Even with a kid no key has.
    let no_iss = token_kid("nobody", &claims_with("iss", None), &ec());
    assert_claim(v.verify(&no_iss, NOW), CLAIM, "iss", ClaimReason::Missing);
    let numeric = token_kid(KID_EC, &claims_with("iss", Some(json!(7))), &ec());
    assert_claim(v.verify(&numeric, NOW), CLAIM, "iss", ClaimReason::Invalid);
    // The single-issuer shorthand without an issuer policy does not need iss.
    let mut plain = single(Policy::new(), ec_keys());
    assert_ok(plain.verify(&token_kid(KID_EC, &claims_with("iss", None), &ec()), NOW));
}

// ---------------------------------------------------------------------------
// 3. Per-issuer policy
// ---------------------------------------------------------------------------

#[test]
fn per_issuer_policy_overrides_the_shared_one() {
    let shared = Policy::new().audience(AUD).require_exp(false);
    let mut v = Validator::builder(shared)
        .issuer(
            IssuerOptions::new(ISS_A)
                .keys(ec_keys())
                .policy(Policy::new().audience("a")),
        )
        .issuer(IssuerOptions::new(ISS_B).keys(b_keys()))
        .build()
        .unwrap();
    let a_with = |aud: &str, jti: &str| {
        let mut c = claims_of(ISS_A, jti);
        c["aud"] = json!(aud);
        token_kid(KID_EC, &c, &ec())
    };
    let b_with = |aud: &str, jti: &str| {
        let mut c = claims_of(ISS_B, jti);
        c["aud"] = json!(aud);
        token_kid(KID_B, &c, &ec2())
    };
    assert_ok(v.verify(&a_with("a", "1"), NOW));
    assert_claim(
        v.verify(&a_with(AUD, "2"), NOW),
        CLAIM,
        "aud",
        ClaimReason::CheckFailed,
    );
    assert_ok(v.verify(&b_with(AUD, "3"), NOW));
    assert_claim(
        v.verify(&b_with("a", "4"), NOW),
        CLAIM,
        "aud",
        ClaimReason::CheckFailed,
    );
    // A's own policy is a whole policy (exp required by default), not a patch
    // over the shared one (which does not require exp).
    let mut c = claims_of(ISS_A, "5");
    c["aud"] = json!("a");
    c.as_object_mut().unwrap().remove("exp");
    assert_claim(
        v.verify(&token_kid(KID_EC, &c, &ec()), NOW),
        CLAIM,
        "exp",
        ClaimReason::Missing,
    );
    let mut c = claims_of(ISS_B, "6");
    c.as_object_mut().unwrap().remove("exp");
    assert_ok(v.verify(&token_kid(KID_B, &c, &ec2()), NOW));
}

#[test]
fn per_issuer_policy_issuer_list_is_replaced_by_the_issuer() {
    // A per-issuer policy that names some other issuer: the entry's issuer wins.
    let mut v = Validator::builder(Policy::new())
        .issuer(
            IssuerOptions::new(ISS_A)
                .keys(ec_keys())
                .policy(Policy::new().issuer("https://elsewhere")),
        )
        .build()
        .unwrap();
    assert_ok(v.verify(&a_token("1"), NOW));
    // Per-issuer algorithm lists: A allows only EdDSA, so its ES256 token is refused.
    let mut v = Validator::builder(Policy::new())
        .issuer(
            IssuerOptions::new(ISS_A)
                .keys(ec_keys())
                .policy(Policy::new().algorithms([Algorithm::EdDSA])),
        )
        .issuer(IssuerOptions::new(ISS_B).keys(b_keys()))
        .build()
        .unwrap();
    assert_code(v.verify(&a_token("2"), NOW), ALG_NOT_ALLOWED);
    assert_ok(v.verify(&b_token("3"), NOW));
}

/// The limits that apply before the issuer is known (token length, JSON
/// depth) are taken from issuer 0's policy, not from the shared policy nor
/// from the token's issuer's policy, and they are never re-checked once the
/// issuer is known.
#[test]
fn per_issuer_token_length_limit_applies_to_that_issuers_tokens() {
    let mut c = claims_of(ISS_B, "long");
    c["pad"] = json!("x".repeat(1000));
    let long_b = token_kid(KID_B, &c, &ec2());
    assert!(long_b.len() > 1000);
    // B (shared policy) allows at most 600 bytes; A has its own default policy.
    let strict = Policy::new().max_token_len(600);
    // Control: a single-issuer validator with B's policy refuses the token.
    let mut b_alone = single(strict.clone().issuer(ISS_B), b_keys());
    assert_code(b_alone.verify(&long_b, NOW), "ERR_JWS_INVALID");
    let mut v = Validator::builder(strict)
        .issuer(
            IssuerOptions::new(ISS_A)
                .keys(ec_keys())
                .policy(Policy::new()),
        )
        .issuer(IssuerOptions::new(ISS_B).keys(b_keys()))
        .build()
        .unwrap();
    // Fails: the token is parsed under A's 16 KiB limit and B's 600 bytes are
    // never checked, so it verifies.
    assert_code(v.verify(&long_b, NOW), "ERR_JWS_INVALID");
}

// ---------------------------------------------------------------------------
// 4. Builder errors
// ---------------------------------------------------------------------------

#[track_caller]
fn build_error(b: jwt_edge::ValidatorBuilder, needle: &str) -> Error {
    let e = assert_code(b.build().map(|_| ()), INVALID_OPTIONS);
    assert!(
        e.message().contains(needle),
        "{needle:?} not in {:?}",
        e.message()
    );
    e
}

#[test]
fn builder_errors_name_the_option() {
    // No keys at all.
    build_error(Validator::builder(Policy::new()), "jwks");
    // kidlessCandidates out of range (the policy clamps it; the builder refuses).
    for n in [0, 4, 100] {
        build_error(
            Validator::builder(Policy::new().kidless_candidates(n)).keys(ec_keys()),
            "kidlessCandidates",
        );
    }
    for n in 1..=3 {
        Validator::builder(Policy::new().kidless_candidates(n))
            .keys(ec_keys())
            .build()
            .unwrap();
    }
    // Inside an issuer entry, the message names the entry.
    build_error(
        Validator::builder(Policy::new()).issuer(
            IssuerOptions::new(ISS_A)
                .keys(ec_keys())
                .policy(Policy::new().kidless_candidates(0)),
        ),
        "issuers[0].kidlessCandidates",
    );
    // HMAC listed explicitly without a secret.
    build_error(
        Validator::builder(Policy::new().algorithms([Algorithm::HS256])).keys(ec_keys()),
        "algorithms",
    );
    build_error(
        Validator::builder(policy_all()).keys(standard_keys()),
        "algorithms",
    );
    // ... and with one it builds.
    Validator::builder(Policy::new().algorithms([Algorithm::HS256]))
        .secrets(hmac_secrets())
        .build()
        .unwrap();
    // Issuers: duplicate, empty, combined with top-level keys or issuer.
    build_error(
        Validator::builder(Policy::new())
            .issuer(IssuerOptions::new(ISS_A).keys(ec_keys()))
            .issuer(IssuerOptions::new(ISS_A).keys(b_keys())),
        "listed twice",
    );
    build_error(
        Validator::builder(Policy::new())
            .issuer(IssuerOptions::new(ISS_A).keys(ec_keys()))
            .issuer(IssuerOptions::new("").keys(b_keys())),
        "issuers[1].issuer",
    );
    build_error(
        Validator::builder(Policy::new())
            .keys(ec_keys())
            .issuer(IssuerOptions::new(ISS_A).keys(ec_keys())),
        "issuers",
    );
    build_error(
        Validator::builder(Policy::new())
            .secrets(hmac_secrets())
            .issuer(IssuerOptions::new(ISS_A).keys(ec_keys())),
        "issuers",
    );
    build_error(
        Validator::builder(Policy::new().issuer(ISS))
            .issuer(IssuerOptions::new(ISS_A).keys(ec_keys())),
        "issuers",
    );
    build_error(
        Validator::builder(Policy::new()).issuer(IssuerOptions::new(ISS_A)),
        "issuers[0]",
    );
    build_error(
        Validator::builder(Policy::new()).issuer(
            IssuerOptions::new(ISS_A)
                .keys(ec_keys())
                .remote_jwks(RemoteConfig::default()),
        ),
        "issuers[0].jwks",
    );
    build_error(
        Validator::builder(Policy::new())
            .keys(ec_keys())
            .remote_jwks(RemoteConfig::default()),
        "jwks",
    );
    // Too many issuers.
    let mut many = Validator::builder(Policy::new());
    for i in 0..=jwt_edge::MAX_ISSUERS {
        many = many.issuer(IssuerOptions::new(format!("https://i{i}")).keys(ec_keys()));
    }
    build_error(many, "issuers");
    // Cache above the maximum; the maximum itself is fine.
    build_error(
        Validator::builder(Policy::new())
            .keys(ec_keys())
            .cache(MAX_CACHE_CAPACITY + 1),
        "cache",
    );
    Validator::builder(Policy::new())
        .keys(ec_keys())
        .cache(MAX_CACHE_CAPACITY)
        .build()
        .unwrap();
}

// ---------------------------------------------------------------------------
// 5. HMAC needs a configured secret, and is then allowed
// ---------------------------------------------------------------------------

#[test]
fn hmac_is_allowed_by_a_configured_secret_only() {
    let hs256 = token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256));
    let hs512 = token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS512));
    let mut with = Validator::builder(Policy::new())
        .secrets(hmac_secrets())
        .build()
        .unwrap();
    let got = assert_ok(with.verify(&hs256, NOW));
    assert_eq!(
        (got.alg, got.kid.as_deref()),
        (Algorithm::HS256, Some(KID_HS))
    );
    assert_ok(with.verify(&hs512, NOW));
    // A wrong secret.
    let wrong = token_kid(
        KID_HS,
        &good_claims(),
        &HsKey {
            alg: Algorithm::HS256,
            secret: b"not the secret at all, but long enough".to_vec(),
        },
    );
    assert_code(with.verify(&wrong, NOW), SIG_FAILED);
    // Without secrets, HS256 is refused at the allowlist.
    let mut without = single(Policy::new(), public_keys());
    assert_code(without.verify(&hs256, NOW), ALG_NOT_ALLOWED);
    // A secret smuggled into the public key set does not enable HMAC.
    let mut smuggled = single(Policy::new(), standard_keys());
    assert_code(smuggled.verify(&hs256, NOW), ALG_NOT_ALLOWED);
    // Keys and secrets together: both kinds verify.
    let mut both = Validator::builder(Policy::new())
        .keys(public_keys())
        .secrets(hmac_secrets())
        .build()
        .unwrap();
    assert_ok(both.verify(&hs256, NOW));
    assert_ok(both.verify(&token_kid(KID_ED, &good_claims(), &ed()), NOW));
    // An explicit algorithm list is not widened by the secret.
    let mut explicit = Validator::builder(Policy::new().algorithms([Algorithm::ES256]))
        .keys(ec_keys())
        .secrets(hmac_secrets())
        .build()
        .unwrap();
    assert_code(explicit.verify(&hs256, NOW), ALG_NOT_ALLOWED);
    assert_ok(explicit.verify(&token_kid(KID_EC, &good_claims(), &ec()), NOW));
    // Per issuer: only the issuer with the secret accepts HMAC.
    let mut multi = Validator::builder(Policy::new())
        .issuer(IssuerOptions::new(ISS_A).secrets(hmac_secrets()))
        .issuer(IssuerOptions::new(ISS_B).keys(b_keys()))
        .build()
        .unwrap();
    assert_ok(multi.verify(
        &token_kid(KID_HS, &claims_of(ISS_A, "h"), &hs(Algorithm::HS256)),
        NOW,
    ));
    assert_code(
        multi.verify(
            &token_kid(KID_HS, &claims_of(ISS_B, "h"), &hs(Algorithm::HS256)),
            NOW,
        ),
        ALG_NOT_ALLOWED,
    );
}

#[test]
fn hmac_is_checked_in_rust_even_in_host_mode() {
    let mut v = Validator::builder(Policy::new())
        .secrets(hmac_secrets())
        .build()
        .unwrap();
    let t = token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256));
    let (got, hit, _) = expect_verified(v.begin(&t, NOW, HOST));
    assert!(!hit);
    assert_eq!(got.alg, Algorithm::HS256);
    let forged = with_signature(&t, &[0u8; 32]);
    assert_code(v.begin(&forged, NOW, HOST).map(|_| ()), SIG_FAILED);
}

// ---------------------------------------------------------------------------
// 6. The range of now
// ---------------------------------------------------------------------------

#[test]
fn now_past_year_9999_is_refused_by_every_entry_point() {
    let mut v = single(Policy::new(), ec_keys());
    let t = token_kid(KID_EC, &good_claims(), &ec());
    for bad in [MAX_NOW + 1, u64::MAX] {
        assert_code(v.verify(&t, bad), INVALID_OPTIONS);
        assert_code(v.begin(&t, bad, HOST).map(|_| ()), INVALID_OPTIONS);
        let check = expect_signature(v.begin(&t, NOW, HOST));
        assert_code(v.finish(check, Some(0), bad).map(|_| ()), INVALID_OPTIONS);
    }
    // Also for a cached token.
    assert_ok(v.verify(&t, NOW));
    assert_code(v.verify(&t, MAX_NOW + 1), INVALID_OPTIONS);
    // And on_fetch.
    let mut r = remote_single();
    let req = expect_fetch(r.begin(&t, NOW, FETCH));
    assert_code(
        r.on_fetch(req.source, MAX_NOW + 1, ok_response(standard_jwks())),
        INVALID_OPTIONS,
    );
}

#[test]
fn now_at_year_9999_is_accepted() {
    let policy = Policy::new().require_exp(false);
    let mut v = single(policy, ec_keys());
    let t = token_kid(KID_EC, &claims_with("exp", None), &ec());
    assert_ok(v.verify(&t, MAX_NOW));
    let (got, _, _) = expect_verified(v.begin(&t, MAX_NOW, FETCH));
    assert_eq!(got.claims["jti"], "tok-1");
    let mut fresh = single(Policy::new().require_exp(false), ec_keys());
    let check = expect_signature(fresh.begin(&t, MAX_NOW, HOST));
    assert!(fresh.check_candidate(&check, 0).unwrap());
    assert_ok(
        fresh
            .finish(check, Some(0), MAX_NOW)
            .map(|f| f.verified.into_owned()),
    );
    // A token expiring at the very end is expired then.
    let mut v = single(Policy::new(), ec_keys());
    let t = token_kid(KID_EC, &claims_with("exp", Some(json!(MAX_NOW))), &ec());
    assert_ok(v.verify(&t, MAX_NOW - 1));
    assert_code(v.verify(&t, MAX_NOW), "ERR_JWT_EXPIRED");
}

// ---------------------------------------------------------------------------
// 7. Cache and its invalidation
// ---------------------------------------------------------------------------

#[test]
fn a_second_verify_is_a_cache_hit() {
    let mut v = single(Policy::new(), ec_keys());
    let t = token_kid(KID_EC, &good_claims(), &ec());
    let first = assert_ok(v.verify(&t, NOW));
    assert_eq!(v.cache_stats().0, 0);
    assert_eq!(v.cache_stats().2, 1);
    let second = assert_ok(v.verify(&t, NOW + 1));
    assert_eq!(first, second);
    assert_eq!(v.cache_stats().0, 1);
    // begin reports the hit with the entry's serial, and cached() agrees.
    let (_, hit, serial) = expect_verified(v.begin(&t, NOW + 2, HOST));
    assert!(hit);
    assert_ne!(serial, 0);
    let (cached, s) = v.cached(&t, NOW + 2).unwrap();
    assert_eq!((cached, s), (&first, serial));
    // A hit re-checks time.
    assert_code(v.verify(&t, NOW + 3600), "ERR_JWT_EXPIRED");
    assert_eq!(v.cache_stats().2, 0);
    // Cache 0 disables it.
    let mut off = Validator::builder(Policy::new())
        .keys(ec_keys())
        .cache(0)
        .build()
        .unwrap();
    assert_ok(off.verify(&t, NOW));
    assert_ok(off.verify(&t, NOW));
    assert_eq!((off.cache_stats().0, off.cache_stats().2), (0, 0));
}

/// `cache_stats` documents `(hits, misses, entries)`; a first verification of
/// a token that is not cached is a miss (as `TokenCache::stats` and the old
/// wasm `cacheStats` counted it).
#[test]
fn an_uncached_token_counts_as_a_miss() {
    let mut v = single(Policy::new(), ec_keys());
    let t = token_kid(KID_EC, &good_claims(), &ec());
    assert_ok(v.verify(&t, NOW));
    assert_ok(v.verify(&t, NOW));
    assert_eq!(v.cache_stats(), (1, 1, 1));
}

#[test]
fn an_equal_epoch_json_list_replacement_revokes_a_cached_token() {
    let mut v = single(Policy::new().issuer(ISS), ec_keys());
    let t = token_kid(KID_EC, &claims_with("jti", Some(json!("revoke-me"))), &ec());
    let other = token_kid(KID_EC, &claims_with("jti", Some(json!("keep-me"))), &ec());
    assert_ok(v.verify(&t, NOW));
    assert_ok(v.verify(&other, NOW));
    // Epoch 1, not listing the token: it stays valid (and is cached again).
    let generation = v.generation();
    v.install_revocations(&list_json(ISS, 1, &["someone-else"]).to_string())
        .unwrap();
    assert_ne!(v.generation(), generation);
    assert_ok(v.verify(&t, NOW + 1));
    let hits = v.cache_stats().0;
    assert_ok(v.verify(&t, NOW + 2));
    assert_eq!(v.cache_stats().0, hits + 1, "served from the cache");
    // The same epoch again, now listing the token: no longer served.
    v.install_revocations(&list_json(ISS, 1, &["revoke-me"]).to_string())
        .unwrap();
    let e = assert_code(v.verify(&t, NOW + 3), REVOKED);
    assert_eq!(e.revocation_reason(), Some(RevocationReason::Jti));
    assert_code(v.verify(&t, NOW + 4), REVOKED);
    assert_ok(v.verify(&other, NOW + 3));
    // A lower epoch is refused and does not un-revoke.
    assert_code(
        v.install_revocations(&list_json(ISS, 0, &[]).to_string()),
        LIST_INVALID,
    );
    assert_code(v.verify(&t, NOW + 5), REVOKED);
    // A higher epoch without the token un-revokes it.
    v.install_revocations(&list_json(ISS, 2, &[]).to_string())
        .unwrap();
    assert_ok(v.verify(&t, NOW + 6));
}

#[test]
fn an_equal_epoch_signed_list_replacement_revokes_a_cached_token() {
    let mut v = single(Policy::new(), ec_keys());
    let t = token_kid(KID_EC, &claims_with("jti", Some(json!("revoke-me"))), &ec());
    assert_ok(v.verify(&t, NOW));
    v.install_revocations(&signed_list(&list_json(ISS, 1, &["nobody"]), KID_EC, &ec()))
        .unwrap();
    assert_ok(v.verify(&t, NOW + 1));
    let hits = v.cache_stats().0;
    assert_ok(v.verify(&t, NOW + 2));
    assert_eq!(v.cache_stats().0, hits + 1, "served from the cache");
    // A forged list (attacker's key under the trusted kid) is refused and changes nothing.
    let forged = signed_list(&list_json(ISS, 1, &["revoke-me"]), KID_EC, &attacker_ec());
    assert_code(v.install_revocations(&forged), SIG_FAILED);
    assert_ok(v.verify(&t, NOW + 3));
    // A list with the wrong typ is refused.
    let untyped = token(
        &json!({"alg": "ES256", "kid": KID_EC}),
        &list_json(ISS, 1, &["revoke-me"]),
        &ec(),
    );
    assert_code(v.install_revocations(&untyped), "ERR_JWS_INVALID");
    assert_ok(v.verify(&t, NOW + 3));
    // The genuine replacement at the same epoch revokes it.
    v.install_revocations(&signed_list(
        &list_json(ISS, 1, &["revoke-me"]),
        KID_EC,
        &ec(),
    ))
    .unwrap();
    let e = assert_code(v.verify(&t, NOW + 4), REVOKED);
    assert_eq!(e.revocation_reason(), Some(RevocationReason::Jti));
}

#[test]
fn multi_issuer_revocation_lists_belong_to_their_issuer() {
    let mut v = two_issuers();
    let (a, b) = (a_token("same-jti"), b_token("same-jti"));
    assert_ok(v.verify(&a, NOW));
    assert_ok(v.verify(&b, NOW));
    // B's list (signed by B) revokes B's token only; A's stays a cache hit.
    v.install_revocations(&signed_list(
        &list_json(ISS_B, 1, &["same-jti"]),
        KID_B,
        &ec2(),
    ))
    .unwrap();
    assert_code(v.verify(&b, NOW + 1), REVOKED);
    let hits = v.cache_stats().0;
    assert_ok(v.verify(&a, NOW + 1));
    assert_eq!(v.cache_stats().0, hits + 1);
    // A list for A signed with B's key is refused.
    let cross = signed_list(&list_json(ISS_A, 1, &["same-jti"]), KID_B, &ec2());
    assert_code(v.install_revocations(&cross), LIST_INVALID);
    assert_ok(v.verify(&a, NOW + 2));
    // A list for an issuer that is not trusted is refused.
    assert_code(
        v.install_revocations(&list_json("https://evil", 1, &[]).to_string()),
        LIST_INVALID,
    );
    // A's own JSON list at the same epoch as B's works independently.
    v.install_revocations(&list_json(ISS_A, 1, &["same-jti"]).to_string())
        .unwrap();
    assert_code(v.verify(&a, NOW + 3), REVOKED);
}

#[test]
fn set_keys_drops_the_entries_of_the_removed_key_only() {
    let mut v = two_issuers();
    let (a, b) = (a_token("1"), b_token("2"));
    assert_ok(v.verify(&a, NOW));
    assert_ok(v.verify(&b, NOW));
    assert_eq!(v.cache_stats().2, 2);
    // Issuer A rotates to ec2 under a new kid: A's token loses its key.
    v.set_keys(0, keys_from(&jwks(&[ec2().jwk("a-2")])))
        .unwrap();
    assert_eq!(v.cache_stats().2, 1);
    assert_code(v.verify(&a, NOW), NO_KEY);
    let hits = v.cache_stats().0;
    assert_ok(v.verify(&b, NOW));
    assert_eq!(v.cache_stats().0, hits + 1, "B's entry is untouched");
    assert_ok(v.verify(&token_kid("a-2", &claims_of(ISS_A, "3"), &ec2()), NOW));
    assert_code(v.set_keys(2, ec_keys()), INVALID_OPTIONS);
    // Secrets survive set_keys.
    let mut h = Validator::builder(Policy::new())
        .keys(ec_keys())
        .secrets(hmac_secrets())
        .build()
        .unwrap();
    h.set_keys(0, KeySet::new()).unwrap();
    assert_ok(h.verify(
        &token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256)),
        NOW,
    ));
    assert_code(
        h.verify(&token_kid(KID_EC, &good_claims(), &ec()), NOW),
        NO_KEY,
    );
}

// ---------------------------------------------------------------------------
// 8. begin / finish with the host's crypto
// ---------------------------------------------------------------------------

#[test]
fn begin_hands_out_the_signature_and_finish_completes_it() {
    use p256::ecdsa::signature::Verifier;
    let mut v = single(Policy::new(), ec_keys());
    let t = token_kid(KID_EC, &good_claims(), &ec());
    let check = expect_signature(v.begin(&t, NOW, HOST));
    assert_eq!(check.alg(), Algorithm::ES256);
    assert_eq!(check.candidates(), 1);
    assert!(check.key_serial(0).is_some_and(|s| s != 0) && check.key_serial(1).is_none());
    assert!(check.has_rust_backend());
    assert_eq!(check.signing_input(), signing_input_of(&t).as_bytes());
    assert_eq!(check.signature(), &signature_of(&t)[..]);
    // The host's check (here: p256 directly).
    let sig = p256::ecdsa::Signature::from_slice(check.signature()).unwrap();
    assert!(ec()
        .0
        .verifying_key()
        .verify(check.signing_input(), &sig)
        .is_ok());
    assert!(v.check_candidate(&check, 0).unwrap());
    assert!(!v.check_candidate(&check, 1).unwrap());
    assert_eq!(v.check_in_rust(&check).unwrap(), Some(0));
    assert_eq!(v.candidate_key(&check, 0).unwrap().kid(), Some(KID_EC));
    let done = v.finish(check, Some(0), NOW).unwrap();
    assert!(!done.hit);
    let got = done.verified.into_owned();
    assert_eq!(
        got,
        assert_ok(jwt_edge::verify(&t, &ec_keys(), &Policy::new(), NOW))
    );
    // Now cached: begin answers with the hit.
    let (again, hit, _) = expect_verified(v.begin(&t, NOW, HOST));
    assert!(hit);
    assert_eq!(again, got);
}

#[test]
fn finish_without_a_verifying_candidate_fails() {
    let mut v = single(Policy::new(), ec_keys());
    let t = token_kid(KID_EC, &claims_of(ISS, "n"), &ec());
    let check = expect_signature(v.begin(&t, NOW, HOST));
    assert_code(v.finish(check, None, NOW).map(|_| ()), SIG_FAILED);
    let check = expect_signature(v.begin(&t, NOW, HOST));
    assert_code(v.finish(check, Some(1), NOW).map(|_| ()), SIG_FAILED);
    assert_eq!(v.cache_stats().2, 0);
    // A forgery: the host finds no candidate that verifies.
    let forged = token_kid(KID_EC, &claims_of(ISS, "f"), &attacker_ec());
    let check = expect_signature(v.begin(&forged, NOW, HOST));
    assert!(!v.check_candidate(&check, 0).unwrap());
    assert_eq!(v.check_in_rust(&check).unwrap(), None);
    assert_code(v.finish(check, None, NOW).map(|_| ()), SIG_FAILED);
    // A signature of the wrong length never reaches the host: begin refuses
    // it, naming both lengths (as the free function does).
    let short = with_signature(&t, &signature_of(&t)[..40]);
    let e = assert_code(v.begin(&short, NOW, HOST).map(|_| ()), SIG_FAILED);
    assert!(e.message().contains("40 bytes"), "{}", e.message());
    assert_eq!(
        e.message(),
        jwt_edge::verify(&short, &ec_keys(), &Policy::new(), NOW)
            .unwrap_err()
            .message()
    );
    // Errors before the signature come from begin.
    assert_code(
        v.begin(&token_kid("nobody", &good_claims(), &ec()), NOW, HOST)
            .map(|_| ()),
        NO_KEY,
    );
    // Claims are checked by finish, at finish's now.
    let check = expect_signature(v.begin(&t, NOW, HOST));
    assert_code(
        v.finish(check, Some(0), NOW + 3600).map(|_| ()),
        "ERR_JWT_EXPIRED",
    );
}

#[test]
fn finish_after_the_key_left_the_set_is_no_matching_key() {
    let mut v = single(Policy::new(), ec_keys());
    let t = token_kid(KID_EC, &good_claims(), &ec());
    let check = expect_signature(v.begin(&t, NOW, HOST));
    assert!(v.check_candidate(&check, 0).unwrap());
    v.set_keys(0, keys_from(&jwks(&[ec2().jwk("ec-2")])))
        .unwrap();
    assert!(v.candidate_key(&check, 0).is_none());
    let e = assert_code(v.finish(check, Some(0), NOW).map(|_| ()), NO_KEY);
    assert!(e.retryable(), "a key removed meanwhile is retryable");
    assert_eq!(v.cache_stats().2, 0);
}

#[test]
fn finish_after_a_rotation_that_keeps_the_key_succeeds() {
    let mut v = single(Policy::new(), ec_keys());
    let t = token_kid(KID_EC, &good_claims(), &ec());
    let want = assert_ok(jwt_edge::verify(&t, &ec_keys(), &Policy::new(), NOW));
    let check = expect_signature(v.begin(&t, NOW, HOST));
    assert!(v.check_candidate(&check, 0).unwrap());
    // The new set lists another key first: the key moved from index 0 to 1.
    v.set_keys(0, keys_from(&jwks(&[ec2().jwk("ec-2"), ec().jwk(KID_EC)])))
        .unwrap();
    assert_eq!(v.candidate_key(&check, 0).unwrap().kid(), Some(KID_EC));
    let done = v.finish(check, Some(0), NOW).unwrap();
    let got = done.verified.into_owned();
    assert_eq!(got.kid.as_deref(), Some(KID_EC));
    assert_eq!(got.key_fingerprint, want.key_fingerprint);
    assert_eq!(got, want);
}

#[test]
fn finish_applies_the_revocation_data_in_force_at_finish() {
    let mut v = single(Policy::new(), ec_keys());
    let t = token_kid(KID_EC, &claims_with("jti", Some(json!("late"))), &ec());
    let check = expect_signature(v.begin(&t, NOW, HOST));
    v.install_revocations(&list_json(ISS, 1, &["late"]).to_string())
        .unwrap();
    assert_code(v.finish(check, Some(0), NOW).map(|_| ()), REVOKED);
}

#[test]
fn multi_issuer_begin_finish_uses_the_issuers_keys() {
    let mut v = two_issuers();
    let t = b_token("b");
    let check = expect_signature(v.begin(&t, NOW, HOST));
    assert_eq!(v.candidate_key(&check, 0).unwrap().kid(), Some(KID_B));
    assert!(v.check_candidate(&check, 0).unwrap());
    // Rotating issuer A does not touch B's pending check.
    v.set_keys(0, b_keys()).unwrap();
    let got = v.finish(check, Some(0), NOW).unwrap().verified.into_owned();
    assert_eq!(got.claims["iss"], ISS_B);
    // Rotating B away does.
    let t = b_token("b2");
    let check = expect_signature(v.begin(&t, NOW, HOST));
    v.set_keys(1, ec_keys()).unwrap();
    assert_code(v.finish(check, Some(0), NOW).map(|_| ()), NO_KEY);
}

// ---------------------------------------------------------------------------
// 9. Remote JWKS
// ---------------------------------------------------------------------------

#[test]
fn a_remote_jwks_is_fetched_first_then_used() {
    let mut v = remote_single();
    let t = token_kid(KID_EC, &good_claims(), &ec());
    assert_eq!(v.sources(), [(Source::Jwks(0), String::from("jwks"))]);
    assert_eq!(v.source("jwks"), Some(Source::Jwks(0)));
    assert_eq!(v.source("jwks:0"), None);
    let req = expect_fetch(v.begin(&t, NOW, FETCH));
    assert!(req.blocking);
    assert_eq!(req.name, "jwks");
    assert_eq!(req.source, Source::Jwks(0));
    assert_eq!(req.if_none_match, None);
    assert_eq!(req.timeout, RemoteConfig::default().timeout);
    // Single flight: a second caller waits; verify (no fetching) fails closed.
    match v.begin(&t, NOW, FETCH) {
        Ok(Step::Wait { source, .. }) => assert_eq!(source, Source::Jwks(0)),
        other => panic!("expected Step::Wait, got {other:?}"),
    }
    assert_code(v.verify(&t, NOW), JWKS_TIMEOUT);
    // A body that is not a JWKS is a failed fetch, retried after a backoff
    // (1 s after the first failure), not by the very next request.
    assert!(!v
        .on_fetch(req.source, NOW, ok_response(b"<html>".to_vec()))
        .unwrap());
    assert_code(v.begin(&t, NOW, FETCH).map(|_| ()), JWKS_TIMEOUT);
    let req = expect_fetch(v.begin(&t, NOW + 1, FETCH));
    assert!(v
        .on_fetch(req.source, NOW + 1, ok_response(standard_jwks()))
        .unwrap());
    let (got, hit, _) = expect_verified(v.begin(&t, NOW, FETCH));
    assert!(!hit);
    assert_eq!(got.kid.as_deref(), Some(KID_EC));
    // Usable without fetching from now on.
    assert_ok(v.verify(&token_kid(KID_ED, &good_claims(), &ed()), NOW + 1));
    // Past max-age (fetched at NOW + 1): a background (non-blocking) revalidation.
    let req = expect_fetch(v.begin(
        &token_kid(KID_ED, &claims_of(ISS, "z"), &ed()),
        NOW + 301,
        FETCH,
    ));
    assert!(!req.blocking);
}

#[test]
fn verify_on_a_fresh_remote_validator_fails_closed() {
    let mut v = remote_single();
    let t = token_kid(KID_EC, &good_claims(), &ec());
    let e = assert_code(v.verify(&t, NOW), JWKS_TIMEOUT);
    assert!(e.retryable());
    assert_eq!(v.unavailable(Source::Jwks(0)).code(), JWKS_TIMEOUT);
}

#[test]
fn an_unknown_kid_triggers_one_refetch_per_cooldown() {
    let mut v = remote_single();
    let first = expect_fetch(v.begin(&token_kid(KID_EC, &good_claims(), &ec()), NOW, FETCH));
    v.on_fetch(first.source, NOW, ok_response(standard_jwks()))
        .unwrap();
    let new_kid = token_kid("new-key", &good_claims(), &ec2());
    let req = expect_fetch(v.begin(&new_kid, NOW + 1, FETCH));
    assert!(req.blocking);
    assert_eq!((req.name.as_str(), req.source), ("jwks", Source::Jwks(0)));
    assert_eq!(req.if_none_match, None);
    // The refetched JWKS still lacks the kid.
    assert!(v
        .on_fetch(req.source, NOW + 1, ok_response(standard_jwks()))
        .unwrap());
    assert_code(v.begin(&new_kid, NOW + 2, FETCH).map(|_| ()), NO_KEY);
    // A flood of unknown kids within the cooldown: no fetch.
    for i in 0..10 {
        let t = token_kid(&format!("k{i}"), &good_claims(), &ec2());
        assert_code(v.begin(&t, NOW + 3, FETCH).map(|_| ()), NO_KEY);
    }
    // Known kids keep verifying meanwhile.
    assert_ok(v.verify(&token_kid(KID_EC, &good_claims(), &ec()), NOW + 3));
    // After the cooldown (30 s): one more refetch, which brings the key.
    let req = expect_fetch(v.begin(&new_kid, NOW + 31, FETCH));
    let rotated = jwks(&[ec().jwk(KID_EC), ec2().jwk("new-key")]);
    v.on_fetch(req.source, NOW + 31, ok_response(rotated))
        .unwrap();
    let (got, _, _) = expect_verified(v.begin(&new_kid, NOW + 31, FETCH));
    assert_eq!(got.kid.as_deref(), Some("new-key"));
}

#[test]
fn verify_fetching_fetches_and_verifies_in_one_call() {
    let mut v = remote_single();
    let t = token_kid(KID_EC, &good_claims(), &ec());
    let mut asked = Vec::new();
    let got = v
        .verify_fetching(&t, NOW, |req| {
            asked.push(req.name.clone());
            ok_response(standard_jwks())
        })
        .unwrap();
    assert_eq!(got.kid.as_deref(), Some(KID_EC));
    assert_eq!(asked, ["jwks"]);
    // Held now: no fetch.
    let got = v
        .verify_fetching(&token_kid(KID_ED, &good_claims(), &ed()), NOW, |_| {
            panic!("no fetch expected")
        })
        .unwrap();
    assert_eq!(got.kid.as_deref(), Some(KID_ED));
    // A failing source fails closed.
    let mut down = remote_single();
    assert_code(
        down.verify_fetching(&t, NOW, |_| FetchOutcome::Failed),
        JWKS_TIMEOUT,
    );
    // An unknown kid: one kid-miss refetch, then no matching key.
    let mut calls = 0;
    assert_code(
        v.verify_fetching(&token_kid("nobody", &good_claims(), &ec2()), NOW, |_| {
            calls += 1;
            ok_response(standard_jwks())
        }),
        NO_KEY,
    );
    assert_eq!(calls, 1);
}

#[test]
fn multi_issuer_remote_sources_are_named_by_position() {
    let mut v = Validator::builder(Policy::new())
        .issuer(IssuerOptions::new(ISS_A).remote_jwks(RemoteConfig::default()))
        .issuer(IssuerOptions::new(ISS_B).remote_jwks(RemoteConfig::default()))
        .build()
        .unwrap();
    assert_eq!(
        v.sources(),
        [
            (Source::Jwks(0), String::from("jwks:0")),
            (Source::Jwks(1), String::from("jwks:1"))
        ]
    );
    let (a, b) = (a_token("a"), b_token("b"));
    let req_b = expect_fetch(v.begin(&b, NOW, FETCH));
    assert_eq!(
        (req_b.name.as_str(), req_b.source),
        ("jwks:1", Source::Jwks(1))
    );
    let req_a = expect_fetch(v.begin(&a, NOW, FETCH));
    assert_eq!(
        (req_a.name.as_str(), req_a.source),
        ("jwks:0", Source::Jwks(0))
    );
    // Each issuer's JWKS goes to that issuer only.
    v.on_fetch(req_a.source, NOW, ok_response(jwks(&[ec().jwk(KID_EC)])))
        .unwrap();
    assert_ok(v.verify(&a, NOW));
    assert_code(v.verify(&b, NOW), JWKS_TIMEOUT);
    // B's JWKS served with A's key does not make A's key valid for B.
    v.on_fetch(req_b.source, NOW, ok_response(jwks(&[ec().jwk(KID_EC)])))
        .unwrap();
    assert_code(v.verify(&b, NOW), NO_KEY);
    assert_code(
        v.verify(&token_kid(KID_EC, &claims_of(ISS_B, "x"), &ec2()), NOW),
        SIG_FAILED,
    );
    // A kid miss for B names B's source.
    let req = expect_fetch(v.begin(&b, NOW + 1, FETCH));
    assert_eq!(req.name, "jwks:1");
    v.on_fetch(req.source, NOW + 1, ok_response(jwks(&[ec2().jwk(KID_B)])))
        .unwrap();
    assert_ok(v.verify(&b, NOW + 1));
    // A source that is not configured.
    let mut single_static = single(Policy::new(), ec_keys());
    assert_code(
        single_static.on_fetch(Source::Jwks(0), NOW, ok_response(standard_jwks())),
        INVALID_OPTIONS,
    );
}

// ---------------------------------------------------------------------------
// 10. export_cache / import_cache
// ---------------------------------------------------------------------------

#[test]
fn a_cache_snapshot_restores_the_remote_jwks() {
    let mut v = remote_single();
    let t = token_kid(KID_EC, &good_claims(), &ec());
    v.verify_fetching(&t, NOW, |_| ok_response(standard_jwks()))
        .unwrap();
    let snapshot = v.export_cache();
    let doc: Value = serde_json::from_str(&snapshot).unwrap();
    assert!(doc["jwks"]["body"].is_string(), "{snapshot}");
    assert_eq!(doc["revocations"], Value::Null);
    // A fresh validator has nothing...
    let mut fresh = remote_single();
    assert_code(fresh.verify(&t, NOW + 10), JWKS_TIMEOUT);
    // ...until it imports the snapshot.
    fresh.import_cache(&snapshot).unwrap();
    let got = assert_ok(fresh.verify(&t, NOW + 10));
    assert_eq!(got.kid.as_deref(), Some(KID_EC));
    // Still fresh: begin asks for no fetch.
    let (_, hit, _) = expect_verified(fresh.begin(&t, NOW + 11, FETCH));
    assert!(hit);
    // A malformed snapshot is refused.
    assert_code(remote_single().import_cache("not json"), "ERR_JWKS_INVALID");
    // A snapshot whose body is not a JWKS is refused.
    let bad = r#"{"jwks":{"body":"<html>","fetched_at":1,"fresh_until":2}}"#;
    assert!(remote_single().import_cache(bad).is_err());
}

#[test]
fn a_cache_snapshot_keeps_the_kid_miss_cooldown() {
    let mut v = remote_single();
    v.verify_fetching(&token_kid(KID_EC, &good_claims(), &ec()), NOW, |_| {
        ok_response(standard_jwks())
    })
    .unwrap();
    let unknown = token_kid("nobody", &good_claims(), &ec2());
    let req = expect_fetch(v.begin(&unknown, NOW, FETCH));
    v.on_fetch(req.source, NOW, ok_response(standard_jwks()))
        .unwrap();
    let mut fresh = remote_single();
    fresh.import_cache(&v.export_cache()).unwrap();
    assert_code(fresh.begin(&unknown, NOW + 1, FETCH).map(|_| ()), NO_KEY);
}

#[test]
fn a_multi_issuer_snapshot_round_trips() {
    let build = || {
        Validator::builder(Policy::new())
            .issuer(IssuerOptions::new(ISS_A).keys(ec_keys()))
            .issuer(IssuerOptions::new(ISS_B).remote_jwks(RemoteConfig::default()))
            .build()
            .unwrap()
    };
    let mut v = build();
    let b = b_token("b");
    let mut names = Vec::new();
    v.verify_fetching(&b, NOW, |req| {
        names.push(req.name.clone());
        ok_response(jwks(&[ec2().jwk(KID_B)]))
    })
    .unwrap();
    assert_eq!(names, ["jwks:1"]);
    let snapshot = v.export_cache();
    let doc: Value = serde_json::from_str(&snapshot).unwrap();
    assert!(doc["jwks:1"]["body"].is_string(), "{snapshot}");
    assert!(doc.get("jwks:0").is_none(), "{snapshot}");
    let mut fresh = build();
    assert_code(fresh.verify(&b, NOW), JWKS_TIMEOUT);
    fresh.import_cache(&snapshot).unwrap();
    assert_ok(fresh.verify(&b, NOW));
    assert_ok(fresh.verify(&a_token("a"), NOW));
}

/// A source whose fetch fails is fetched once per `verify_fetching` call and
/// then fails closed ("each source is fetched at most once for its freshness
/// and once for a kid miss", as the loop's comment says).
#[test]
fn verify_fetching_fetches_a_failing_source_once() {
    let mut down = remote_single();
    let t = token_kid(KID_EC, &good_claims(), &ec());
    let mut calls = 0;
    let e = assert_code(
        down.verify_fetching(&t, NOW, |_| {
            calls += 1;
            FetchOutcome::Failed
        }),
        JWKS_TIMEOUT,
    );
    assert_eq!(calls, 1, "{}", e.message());
}

// ---------------------------------------------------------------------------
// Remote revocation lists
// ---------------------------------------------------------------------------

/// A single-issuer validator with static keys and a remote revocation list.
fn remote_revocations() -> Validator {
    Validator::builder(Policy::new())
        .keys(ec_keys())
        .remote_revocations(RemoteConfig::default())
        .build()
        .unwrap()
}

#[test]
fn remote_revocations_are_fetched_verified_and_applied() {
    let mut v = remote_revocations();
    let t = token_kid(KID_EC, &claims_with("jti", Some(json!("r1"))), &ec());
    assert_eq!(
        v.sources(),
        [(Source::Revocations, String::from("revocations"))]
    );
    let req = expect_fetch(v.begin(&t, NOW, FETCH));
    assert_eq!(
        (req.name.as_str(), req.source),
        ("revocations", Source::Revocations)
    );
    assert!(req.blocking);
    // Nothing held: fail closed.
    assert_code(v.verify(&t, NOW), "ERR_REVOCATIONS_UNAVAILABLE");
    // A list signed by an attacker's key is a failed fetch.
    let forged = signed_list(&list_json(ISS, 1, &[]), KID_EC, &attacker_ec());
    assert!(!v
        .on_fetch(req.source, NOW, ok_response(forged.into_bytes()))
        .unwrap());
    assert_code(v.verify(&t, NOW), "ERR_REVOCATIONS_UNAVAILABLE");
    // Retried after the failed fetch's backoff (1 s), not at once.
    assert_code(
        v.begin(&t, NOW, FETCH).map(|_| ()),
        "ERR_REVOCATIONS_UNAVAILABLE",
    );
    let req = expect_fetch(v.begin(&t, NOW + 1, FETCH));
    let good = signed_list(&list_json(ISS, 1, &["someone-else"]), KID_EC, &ec());
    assert!(v
        .on_fetch(req.source, NOW + 1, ok_response(good.into_bytes()))
        .unwrap());
    assert_ok(v.verify(&t, NOW));
    // Stale (fetched at NOW + 1): even a cached token drives the (background) refresh...
    let req = expect_fetch(v.begin(&t, NOW + 301, FETCH));
    assert!(!req.blocking);
    // ...whose list (same epoch) revokes it.
    let revoking = signed_list(&list_json(ISS, 1, &["r1"]), KID_EC, &ec());
    assert!(v
        .on_fetch(req.source, NOW + 301, ok_response(revoking.into_bytes()))
        .unwrap());
    assert_code(v.verify(&t, NOW + 302), REVOKED);
    // The snapshot restores the list, and it is verified again.
    let mut fresh = remote_revocations();
    fresh.import_cache(&v.export_cache()).unwrap();
    assert_code(fresh.verify(&t, NOW + 303), REVOKED);
}

/// Remote lists must be signed (README: "remote lists must be a JWS with
/// `typ: revocation-list+jwt`"; the previous wasm adapter used
/// `verify_revocation_list` for fetched bodies). An unsigned JSON body must
/// count as a failed fetch; otherwise whoever controls the response can, for
/// example, install a huge epoch and lock out every later genuine list.
#[test]
fn remote_revocations_refuse_an_unsigned_list() {
    let mut v = remote_revocations();
    let t = token_kid(KID_EC, &claims_with("jti", Some(json!("r1"))), &ec());
    let req = expect_fetch(v.begin(&t, NOW, FETCH));
    let unsigned = serde_json::to_vec(&list_json(ISS, u64::from(u32::MAX), &[])).unwrap();
    let installed = v.on_fetch(req.source, NOW, ok_response(unsigned));
    // Impact: the genuine signed list (epoch 2) listing r1 is then refused.
    let genuine = signed_list(&list_json(ISS, 2, &["r1"]), KID_EC, &ec());
    let later = v.on_fetch(
        Source::Revocations,
        NOW + 300,
        ok_response(genuine.into_bytes()),
    );
    assert!(
        matches!(installed, Ok(false)),
        "unsigned list installed: {installed:?}; then the genuine list: {later:?}"
    );
}

// ---------------------------------------------------------------------------
// Discovery (RFC 8414, OpenID Connect Discovery)
// ---------------------------------------------------------------------------

/// A fetcher that answers from a map of URL → body (404 for anything else)
/// and records the URLs asked for.
struct Server {
    docs: Vec<(String, Vec<u8>)>,
    asked: Vec<String>,
}

impl Server {
    fn new(docs: &[(&str, String)]) -> Self {
        Self {
            docs: docs
                .iter()
                .map(|(u, b)| ((*u).to_owned(), b.clone().into_bytes()))
                .collect(),
            asked: Vec::new(),
        }
    }

    fn fetch(&mut self, r: &FetchRequest) -> FetchOutcome {
        let url = r.url.clone().expect("discovery fetches carry their URL");
        self.asked.push(url.clone());
        match self.docs.iter().find(|(u, _)| *u == url) {
            Some((_, body)) => ok_response(body.clone()),
            None => FetchOutcome::Response {
                status: 404,
                cache_control: None,
                age: None,
                etag: None,
                body: Vec::new(),
            },
        }
    }
}

fn metadata(issuer: &str, jwks_uri: &str) -> String {
    json!({"issuer": issuer, "jwks_uri": jwks_uri, "token_endpoint": format!("{issuer}/token")})
        .to_string()
}

fn discovering(issuer: &str) -> Validator {
    Validator::builder(Policy::new())
        .discover(issuer, RemoteConfig::default())
        .build()
        .unwrap()
}

#[test]
fn discovery_reads_rfc8414_metadata_then_the_jwks_it_names() {
    let mut v = discovering(ISS_A);
    let mut srv = Server::new(&[
        (
            "https://a.example/.well-known/oauth-authorization-server",
            metadata(ISS_A, "https://keys.a.example/jwks.json"),
        ),
        (
            "https://keys.a.example/jwks.json",
            String::from_utf8(jwks(&[ec().jwk(KID_EC)])).unwrap(),
        ),
    ]);
    let now = NOW;
    let ok = v
        .verify_fetching(&a_token("d1"), now, |r| srv.fetch(r))
        .unwrap();
    assert_eq!(ok.claims["iss"], ISS_A);
    assert_eq!(
        srv.asked,
        [
            "https://a.example/.well-known/oauth-authorization-server",
            "https://keys.a.example/jwks.json"
        ]
    );
    // The configured issuer is the required `iss`.
    let other = token_kid(KID_EC, &claims_of(ISS_B, "d2"), &ec());
    let e = v
        .verify_fetching(&other, now, |r| srv.fetch(r))
        .unwrap_err();
    assert_eq!((e.code(), e.claim_name()), (CLAIM, Some("iss")));
    // A snapshot restores both documents: nothing is fetched again.
    let snapshot = v.export_cache();
    let mut w = discovering(ISS_A);
    w.import_cache(&snapshot).unwrap();
    let before = srv.asked.len();
    w.verify_fetching(&a_token("d3"), now, |r| srv.fetch(r))
        .unwrap();
    assert_eq!(srv.asked.len(), before, "{:?}", srv.asked);
}

#[test]
fn discovery_falls_back_to_openid_configuration_and_keeps_the_issuer_path() {
    let iss = "https://login.example/tenant/v2";
    let mut v = discovering(iss);
    let mut srv = Server::new(&[
        (
            "https://login.example/tenant/v2/.well-known/openid-configuration",
            metadata(iss, "https://login.example/tenant/keys"),
        ),
        (
            "https://login.example/tenant/keys",
            String::from_utf8(jwks(&[ec().jwk(KID_EC)])).unwrap(),
        ),
    ]);
    let token = token_kid(KID_EC, &claims_of(iss, "o1"), &ec());
    v.verify_fetching(&token, NOW, |r| srv.fetch(r)).unwrap();
    assert_eq!(
        srv.asked,
        [
            // RFC 8414 §3.1: the well-known segment goes before the path.
            "https://login.example/.well-known/oauth-authorization-server/tenant/v2",
            "https://login.example/tenant/v2/.well-known/openid-configuration",
            "https://login.example/tenant/keys"
        ]
    );
}

#[test]
fn discovery_with_a_mismatching_issuer_is_refused_and_nothing_else_is_fetched() {
    let mut v = discovering(ISS_A);
    // The metadata at A's address names another issuer (RFC 8414 §3.3).
    let mut srv = Server::new(&[
        (
            "https://a.example/.well-known/oauth-authorization-server",
            metadata("https://a.example/", "https://a.example/jwks.json"),
        ),
        (
            "https://a.example/jwks.json",
            String::from_utf8(jwks(&[ec().jwk(KID_EC)])).unwrap(),
        ),
    ]);
    let e = v
        .verify_fetching(&a_token("m1"), NOW, |r| srv.fetch(r))
        .unwrap_err();
    assert_eq!(e.code(), JWKS_TIMEOUT, "{}", e.message());
    assert!(e.message().contains("must be identical"), "{}", e.message());
    assert_eq!(e.remote().unwrap().source, "metadata");
    assert_eq!(srv.asked.len(), 1, "no JWKS fetched: {:?}", srv.asked);
    // A jwks_uri that is not https is refused the same way.
    let mut v = discovering(ISS_A);
    let mut srv = Server::new(&[(
        "https://a.example/.well-known/oauth-authorization-server",
        metadata(ISS_A, "http://a.example/jwks.json"),
    )]);
    let e = v
        .verify_fetching(&a_token("m2"), NOW, |r| srv.fetch(r))
        .unwrap_err();
    assert!(
        e.message().contains("not an https:// URL"),
        "{}",
        e.message()
    );
}

#[test]
fn discovery_in_the_multi_issuer_form_keeps_keys_per_issuer() {
    let mut v = Validator::builder(Policy::new())
        .issuer(IssuerOptions::new(ISS_A).discover_from(ISS_A, RemoteConfig::default()))
        .issuer(IssuerOptions::new(ISS_B).keys(b_keys()))
        .build()
        .unwrap();
    let mut srv = Server::new(&[
        (
            "https://a.example/.well-known/oauth-authorization-server",
            metadata(ISS_A, "https://a.example/jwks.json"),
        ),
        // A's published set also holds B's key: it still cannot verify B's tokens.
        (
            "https://a.example/jwks.json",
            String::from_utf8(jwks(&[ec().jwk(KID_EC), ec2().jwk(KID_B)])).unwrap(),
        ),
    ]);
    let now = NOW;
    v.verify_fetching(&a_token("x1"), now, |r| srv.fetch(r))
        .unwrap();
    v.verify_fetching(&b_token("x2"), now, |r| srv.fetch(r))
        .unwrap();
    // B's key under A's iss: A's keys are A's; B never sees A's documents.
    let forged = token_kid(KID_EC, &claims_of(ISS_B, "x3"), &ec());
    let e = v
        .verify_fetching(&forged, now, |r| srv.fetch(r))
        .unwrap_err();
    assert_eq!(e.code(), NO_KEY);
    assert!(v.source("metadata:0").is_some() && v.source("jwks:0").is_some());
    assert!(v.source("metadata:1").is_none());
    // Options that contradict each other are refused with their name.
    let e = Validator::builder(Policy::new())
        .issuer(IssuerOptions::new(ISS_A).discover_from(ISS_B, RemoteConfig::default()))
        .build()
        .unwrap_err();
    assert!(e.message().contains("issuers[0].jwks"), "{}", e.message());
    let e = Validator::builder(Policy::new().issuer(ISS_B))
        .discover(ISS_A, RemoteConfig::default())
        .build()
        .unwrap_err();
    assert_eq!(e.code(), INVALID_OPTIONS);
    let e = Validator::builder(Policy::new())
        .discover("not a url", RemoteConfig::default())
        .build()
        .unwrap_err();
    assert!(e.message().contains("https:// URL"), "{}", e.message());
}

#[test]
fn a_source_logs_one_line_when_it_starts_failing_and_one_when_it_is_back() {
    let mut v = remote_single();
    let t = token_kid(KID_EC, &good_claims(), &ec());
    let jwks = br#"{"keys":[]}"#.to_vec();
    assert_eq!(v.take_notice(), None);
    // Three failures in a row (each after its backoff): one line, the first.
    for (n, at) in [NOW, NOW + 1, NOW + 3].into_iter().enumerate() {
        let req = expect_fetch(v.begin(&t, at, FETCH));
        v.on_fetch(
            req.source,
            at,
            FetchOutcome::Unreachable("connection refused".into()),
        )
        .unwrap();
        let notice = v.take_notice();
        if n == 0 {
            assert_eq!(
                notice.as_deref(),
                Some("jwt-edge: remote source jwks could not be fetched (connection refused); retrying with backoff; verifications that need it fail closed meanwhile")
            );
        } else {
            assert_eq!(notice, None, "attempt {n}");
        }
    }
    // Back: one line, naming how many attempts failed; then nothing more.
    let req = expect_fetch(v.begin(&t, NOW + 7, FETCH));
    v.on_fetch(req.source, NOW + 7, ok_response(jwks)).unwrap();
    assert_eq!(
        v.take_notice().as_deref(),
        Some("jwt-edge: remote source jwks fetched again after 3 failed attempts")
    );
    assert_eq!(v.take_notice(), None);
}
