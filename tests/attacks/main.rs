//! One or more tests per class of `docs/attack-catalog.md` (§1–§28).
//!
//! Each test first shows that a known-good token verifies, then mutates one
//! thing (the attack) and asserts the stable error code. Cases that have
//! external vectors (Wycheproof, RFC 7520) are run by `tests/vectors.rs`; the
//! tests here generate the shapes those vectors do not cover.
//!
//! One module per group of catalog sections, in catalog order:
//! `alg_confusion` (§1–§3), `key_selection` (§4–§7), `jwks_hygiene` (§8),
//! `ecdsa` (§9–§12), `rsa_keys_and_signatures` (§13–§15), `hmac_keys_and_tags`
//! (§16), `eddsa` (§17), `header_extensions` (§18–§19), `encoding_and_parsing`
//! (§20–§22), `resource_limits` (§23), `claims` (§24–§25), `typ_confusion`
//! (§26), `revocation` (not a catalog section), `api_misuse` (§27),
//! `jwks_refresh` (§28), `sender_constraining` (the third-wave section: DPoP),
//! `ml_dsa` (RFC 9964 `AKP` keys and ML-DSA signatures, issue #30).
//! The constants and helpers below are shared by several of them.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../common/mod.rs"]
mod common;

mod alg_confusion;
mod api_misuse;
mod claims;
mod ecdsa;
mod eddsa;
mod encoding_and_parsing;
mod header_extensions;
mod hmac_keys_and_tags;
mod jwks_hygiene;
mod jwks_refresh;
mod key_selection;
mod ml_dsa;
mod resource_limits;
mod revocation;
mod rsa_keys_and_signatures;
mod sender_constraining;
mod typ_confusion;

use common::*;
use jwt_edge::{verify, KeySet, Policy};
use serde_json::{json, Value};

const JWS_INVALID: &str = "ERR_JWS_INVALID";
const JWT_INVALID: &str = "ERR_JWT_INVALID";
const ALG_NOT_ALLOWED: &str = "ERR_JOSE_ALG_NOT_ALLOWED";
const NO_KEY: &str = "ERR_JWKS_NO_MATCHING_KEY";
const MULTIPLE: &str = "ERR_JWKS_MULTIPLE_MATCHING_KEYS";
const SIG_FAILED: &str = "ERR_JWS_SIGNATURE_VERIFICATION_FAILED";

/// Each `(name, signature)` put in place of `good`'s signature must fail
/// signature verification.
fn assert_signatures_fail<'a>(good: &str, cases: impl IntoIterator<Item = (&'a str, Vec<u8>)>) {
    for (name, bad) in cases {
        let r = verify_std(&with_signature(good, &bad));
        assert_eq!(
            r.as_ref().map_err(jwt_edge::Error::code).err(),
            Some(SIG_FAILED),
            "{name}: {r:?}"
        );
    }
}
const JWKS_INVALID: &str = "ERR_JWKS_INVALID";
const EXPIRED: &str = "ERR_JWT_EXPIRED";
const CLAIM: &str = "ERR_JWT_CLAIM_VALIDATION_FAILED";
const REVOCATION_INVALID: &str = "ERR_REVOCATION_LIST_INVALID";

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The good ES256 token (kid `ec-1`, [`good_claims`]).
fn good_es256() -> String {
    token_kid(KID_EC, &good_claims(), &ec())
}

/// The ES256 token with a given header, signed by the legitimate key.
fn es256_with_header(header: &Value) -> String {
    token(header, &good_claims(), &ec())
}

fn verify_with(
    token: &str,
    keys: &KeySet,
    policy: &Policy,
) -> jwt_edge::Result<jwt_edge::Verified> {
    verify(token, keys, policy, NOW)
}

/// Asserts that `jwk` alone in a JWKS is skipped with an issue, and that a
/// token naming its kid finds no key.
#[track_caller]
fn assert_skipped(jwk: Value, token: &str) {
    let keys = keys_from(&jwks(core::slice::from_ref(&jwk)));
    assert!(keys.is_empty(), "key was accepted: {jwk}");
    assert_eq!(keys.issues().len(), 1, "{jwk}");
    assert_eq!(keys.issues()[0].index, 0);
    assert_eq!(keys.issues()[0].kid.as_deref(), jwk["kid"].as_str());
    assert_code(verify_with(token, &keys, &policy_all()), NO_KEY);
}

fn with_claim(name: &str, v: Value) -> String {
    token_kid(KID_EC, &claims_with(name, Some(v)), &ec())
}

fn revocation_list_json(epoch: u64) -> Value {
    json!({
        "iss": ISS,
        "epoch": epoch,
        "generated_at": NOW,
        "revoked": {
            "jti": [{"jti": "tok-revoked", "exp": NOW + 3600}],
            "sub": [{"sub": "user-revoked", "before": NOW - 10}],
            "kid": ["rsa-1"],
        },
    })
}

fn signed_revocation_list(epoch: u64, typ: &str) -> String {
    token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": typ}),
        &revocation_list_json(epoch),
        &ec(),
    )
}
