//! One or more tests per class of `shared/docs/attack-catalog.md` (§1–§28).
//!
//! Each test first shows that a known-good token verifies, then mutates one
//! thing (the attack) and asserts the stable error code. Cases that have
//! external vectors (Wycheproof, RFC 7520) are run by `tests/vectors.rs`; the
//! tests here generate the shapes those vectors do not cover.
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use jwt_edge::{
    begin, begin_revocation_list, finish, finish_revocation_list, inspect, install_revocations,
    verify, verify_revocation_list, Algorithm, ClaimReason, Key, KeyFamily, KeySet, Policy,
    RevocationList, RevocationReason,
};
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
const REVOKED: &str = "ERR_JWT_REVOKED";
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

// ===========================================================================
// §1 alg:none and its spellings
// ===========================================================================

#[test]
fn a01_alg_none_variants() {
    assert_ok(verify_std(&good_es256()));
    let sig = signature_of(&good_es256());
    for alg in [
        "none",
        "None",
        "NONE",
        "nOnE",
        "none ",
        "none\u{0}",
        " none",
    ] {
        // With a real signature, a garbage signature, and with a kid.
        for header in [json!({"alg": alg}), json!({"alg": alg, "kid": KID_EC})] {
            let real = token(&header, &good_claims(), &Fixed("none", sig.clone()));
            assert_code(verify_std(&real), ALG_NOT_ALLOWED);
            let garbage = token(&header, &good_claims(), &Fixed("none", b"garbage".to_vec()));
            assert_code(verify_std(&garbage), ALG_NOT_ALLOWED);
        }
    }
    // `none` is not an algorithm: it cannot be named in a policy.
    assert!(Algorithm::from_name("none").is_none());
    assert!("none".parse::<Algorithm>().is_err());
}

#[test]
fn a01_alg_none_with_empty_or_missing_signature() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let [_, payload, _] = segments(&good);
    // eyJhbGciOiJub25lIn0 = {"alg":"none"} (catalog).
    for header in [
        "eyJhbGciOiJub25lIn0",
        "eyJhbGciOiJOb25lIn0",
        "eyJhbGciOiJOT05FIn0",
        "eyJhbGciOiJuT25FIn0",
    ] {
        // Empty signature segment.
        assert_code(verify_std(&format!("{header}.{payload}.")), JWS_INVALID);
        // Two segments.
        assert_code(verify_std(&format!("{header}.{payload}")), JWS_INVALID);
    }
}

#[test]
fn a01_alg_missing_or_not_a_string() {
    assert_ok(verify_std(&good_es256()));
    for header in [
        json!({"typ": "JWT", "kid": KID_EC}),
        json!({"alg": null, "kid": KID_EC}),
        json!({"alg": ["ES256"], "kid": KID_EC}),
        json!({"alg": 256, "kid": KID_EC}),
        json!({"alg": true, "kid": KID_EC}),
        json!({"alg": {"name": "ES256"}, "kid": KID_EC}),
    ] {
        assert_code(verify_std(&es256_with_header(&header)), JWS_INVALID);
    }
    // The catalog's literal headers, with the good payload and signature.
    let [_, p, s] = segments(&good_es256());
    for h in [
        "eyJ0eXAiOiJKV1QifQ",
        "eyJhbGciOm51bGx9",
        "eyJhbGciOlsiUlMyNTYiXX0",
    ] {
        assert_code(verify_std(&format!("{h}.{p}.{s}")), JWS_INVALID);
    }
}

#[test]
fn a01_alg_case_and_unknown_names_not_allowed() {
    assert_ok(verify_std(&good_es256()));
    for alg in [
        "es256",
        "Es256",
        "ES256 ",
        " ES256",
        "ES256\u{0}",
        "ES521",
        "ES224",
        "HS1",
    ] {
        let t = es256_with_header(&json!({"alg": alg, "kid": KID_EC}));
        assert_code(verify_std(&t), ALG_NOT_ALLOWED);
    }
}

// ===========================================================================
// §2 HS* with an asymmetric public key as the HMAC secret
// ===========================================================================

/// Encodings of a public key an attacker may try as an HMAC secret.
fn public_key_encodings(kid: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    match kid {
        KID_EC => {
            let key = ec();
            let (x, y) = key.xy();
            let jwk = key.jwk(KID_EC);
            let mut sec1 = vec![0x04];
            sec1.extend(&x);
            sec1.extend(&y);
            let mut xy = x.clone();
            xy.extend(&y);
            let mut compressed = vec![0x02 | (y[31] & 1)];
            compressed.extend(&x);
            let mut spki = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
            spki.extend(&sec1);
            let pem_text = pem("PUBLIC KEY", &spki);
            out.push(("jwk json".into(), serde_json::to_vec(&jwk).unwrap()));
            out.push((
                "jwk json pretty".into(),
                serde_json::to_vec_pretty(&jwk).unwrap(),
            ));
            out.push(("sec1 uncompressed".into(), sec1));
            out.push(("x||y".into(), xy));
            out.push(("sec1 compressed".into(), compressed));
            out.push(("spki der".into(), spki));
            out.push(("x b64url text".into(), b64(&x).into_bytes()));
            out.push(("pem".into(), pem_text.clone().into_bytes()));
            out.push((
                "pem no newline".into(),
                pem_text.trim_end().as_bytes().to_vec(),
            ));
            out.push((
                "pem leading space".into(),
                format!(" {pem_text}").into_bytes(),
            ));
            out.push(("pem bom".into(), format!("\u{feff}{pem_text}").into_bytes()));
        }
        KID_RSA => {
            let n = rsa_n();
            let e = vec![1, 0, 1];
            let pkcs1 = der(0x30, &[der_uint(&n), der_uint(&e)].concat());
            let mut bitstring = vec![0];
            bitstring.extend(&pkcs1);
            let spki = der(
                0x30,
                &[hex("300d06092a864886f70d0101010500"), der(0x03, &bitstring)].concat(),
            );
            out.push((
                "jwk json".into(),
                serde_json::to_vec(&rsa_jwk(KID_RSA)).unwrap(),
            ));
            out.push(("n raw".into(), n.clone()));
            out.push(("n b64url text".into(), rfc7520_rsa::N.as_bytes().to_vec()));
            out.push(("pkcs1 der".into(), pkcs1.clone()));
            out.push((
                "pkcs1 pem".into(),
                pem("RSA PUBLIC KEY", &pkcs1).into_bytes(),
            ));
            out.push(("spki der".into(), spki.clone()));
            out.push(("spki pem".into(), pem("PUBLIC KEY", &spki).into_bytes()));
        }
        KID_ED => {
            let key = ed();
            let x = key.public();
            let mut spki = hex("302a300506032b6570032100");
            spki.extend(x);
            out.push((
                "jwk json".into(),
                serde_json::to_vec(&key.jwk(KID_ED)).unwrap(),
            ));
            out.push(("raw x".into(), x.to_vec()));
            out.push(("spki der".into(), spki.clone()));
            out.push(("pem".into(), pem("PUBLIC KEY", &spki).into_bytes()));
        }
        other => panic!("no encodings listed for {other:?}"),
    }
    out
}

#[test]
fn a02_hs256_with_public_key_as_secret() {
    let keys = standard_keys();
    let policy = policy_all();
    // Known-good: an HS256 token for the configured secret verifies.
    assert_ok(verify_with(
        &token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256)),
        &keys,
        &policy,
    ));
    for kid in [KID_EC, KID_RSA, KID_ED] {
        // The kid is known: it is the key type that does not fit.
        assert!(keys.contains_kid(kid));
        for (name, secret) in public_key_encodings(kid) {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let forged = token_kid(
                    kid,
                    &good_claims(),
                    &HsKey {
                        alg,
                        secret: secret.clone(),
                    },
                );
                let r = verify_with(&forged, &keys, &policy);
                assert_eq!(
                    r.as_ref().map_err(jwt_edge::Error::code).err(),
                    Some(NO_KEY),
                    "{kid} / {name} / {alg}"
                );
            }
        }
    }
}

#[test]
fn a02_kidless_hs256_never_reaches_public_keys() {
    let policy = policy_all();
    // Only public keys: no key at all fits HS*.
    let public_only = keys_from(&standard_jwks());
    assert_ok(verify_with(&good_es256(), &public_only, &policy));
    for kid in [KID_EC, KID_RSA, KID_ED] {
        for (_, secret) in public_key_encodings(kid) {
            let forged = token(
                &json!({"alg": "HS256"}),
                &good_claims(),
                &HsKey {
                    alg: Algorithm::HS256,
                    secret: secret.clone(),
                },
            );
            assert_code(verify_with(&forged, &public_only, &policy), NO_KEY);
            // With a configured secret present, the only candidate is that
            // secret, and the forged MAC does not verify with it.
            assert_code(verify_with(&forged, &standard_keys(), &policy), SIG_FAILED);
        }
    }
}

#[test]
fn a02_hs_not_allowed_by_default_and_no_oct_from_jwks() {
    let good_hs = token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256));
    assert_ok(verify_with(&good_hs, &standard_keys(), &policy_all()));
    // The default policy lists no HS* algorithm.
    assert_code(
        verify_with(&good_hs, &standard_keys(), &Policy::new()),
        ALG_NOT_ALLOWED,
    );
    // A public key re-published as an `oct` key in a JWKS is skipped.
    let ec_jwk_text = serde_json::to_vec(&ec().jwk(KID_EC)).unwrap();
    let doc = jwks(&[json!({"kty": "oct", "kid": "pub-as-oct", "k": b64(&ec_jwk_text)})]);
    let keys = keys_from(&doc);
    assert!(keys.is_empty());
    assert_eq!(keys.issues().len(), 1);
    let forged = token_kid(
        "pub-as-oct",
        &good_claims(),
        &HsKey {
            alg: Algorithm::HS256,
            secret: ec_jwk_text,
        },
    );
    assert_code(verify_with(&forged, &keys, &policy_all()), NO_KEY);
    // WP-JWK 1 shape: a secret key set mixing oct and EC is refused whole.
    let mixed = jwks(&[
        json!({"kty": "oct", "kid": "s", "k": b64(&hs_secret())}),
        ec().jwk(KID_EC),
    ]);
    assert_code(KeySet::from_secret_jwks(&mixed), JWKS_INVALID);
    // HMAC secrets cannot be declared for an asymmetric algorithm.
    assert_code(
        Key::hmac_secret(&hs_secret(), None, Some(Algorithm::ES256)),
        JWKS_INVALID,
    );
}

// ===========================================================================
// §3 Algorithm / key metadata mismatch
// ===========================================================================

#[test]
fn a03_jwk_alg_mismatch() {
    let policy = policy_all();
    let mut jwk = rsa_jwk(KID_RSA);
    jwk["alg"] = json!("RS256");
    let rs256 = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256));
    assert_ok(verify_with(
        &rs256,
        &keys_from(&jwks(core::slice::from_ref(&jwk))),
        &policy,
    ));
    // The key says PS256: the RS256 token must not be verified with it.
    for other in ["PS256", "RS384", "PS512", "RS512"] {
        let mut k = jwk.clone();
        k["alg"] = json!(other);
        let keys = keys_from(&jwks(&[k]));
        assert_eq!(keys.keys().len(), 1);
        assert_code(verify_with(&rs256, &keys, &policy), NO_KEY);
    }
    // Header switched to PS256 with the RS256 (PKCS#1) signature:
    // with the key's alg RS256 no key fits; without alg the signature fails.
    let switched = with_segment(
        &rs256,
        0,
        &b64_json(&json!({"alg": "PS256", "kid": KID_RSA})),
    );
    assert_code(
        verify_with(&switched, &keys_from(&jwks(&[jwk])), &policy),
        NO_KEY,
    );
    let resigned_header = token_from_segments(
        &b64_json(&json!({"alg": "PS256", "kid": KID_RSA})),
        &segments(&rs256)[1],
        &rsa(Algorithm::RS256),
    );
    assert_code(verify_std(&resigned_header), SIG_FAILED);
    // EC keys with an alg of another curve or an unregistered name are skipped
    // at ingest (WP-JWK 19, 20).
    for alg in [
        "ES384", "ES512", "ES521", "ES224", "EdDSA", "HS256", "RS256",
    ] {
        let mut k = ec().jwk(KID_EC);
        k["alg"] = json!(alg);
        let keys = keys_from(&jwks(&[k]));
        assert!(keys.is_empty(), "{alg}");
        assert_eq!(keys.issues().len(), 1, "{alg}");
        assert_code(verify_with(&good_es256(), &keys, &policy), NO_KEY);
    }
    let mut k = ec().jwk(KID_EC);
    k["alg"] = json!("ES256");
    assert_ok(verify_with(&good_es256(), &keys_from(&jwks(&[k])), &policy));
}

#[test]
fn a03_curve_mismatch() {
    let policy = policy_all();
    assert_ok(verify_std(&good_es256()));
    // ES256 token pointing at the P-384 key.
    let t = token_kid(KID_EC384, &good_claims(), &ec());
    assert_code(verify_std(&t), NO_KEY);
    // ES384 token pointing at the P-256 key.
    let t = token_kid(KID_EC, &good_claims(), &ec384());
    assert_code(verify_std(&t), NO_KEY);
    // ES384 token is fine with its own key (control).
    assert_ok(verify_std(&token_kid(KID_EC384, &good_claims(), &ec384())));
    // EdDSA header with the kid of an EC key; ES256 with the kid of Ed25519/RSA.
    assert_code(
        verify_std(&token_kid(KID_EC, &good_claims(), &ed())),
        NO_KEY,
    );
    assert_code(
        verify_std(&token_kid(KID_ED, &good_claims(), &ec())),
        NO_KEY,
    );
    assert_code(
        verify_std(&token_kid(KID_RSA, &good_claims(), &ec())),
        NO_KEY,
    );
    // RS256 with the kid of an EC key.
    assert_code(
        verify_std(&token_kid(KID_EC, &good_claims(), &rsa(Algorithm::RS256))),
        NO_KEY,
    );
    // Malformed key metadata is skipped at ingest (WP-JWK 23, 24).
    let (x, y) = ec().xy();
    for bad in [
        json!({"kty": "EC", "crv": "P-384", "kid": KID_EC, "x": b64(&x), "y": b64(&y)}),
        json!({"kty": "RSA", "crv": "P-256", "kid": KID_EC, "x": b64(&x), "y": b64(&y)}),
        json!({"kty": "OKP", "crv": "Ed448", "kid": KID_ED, "x": b64(&[7u8; 57])}),
        json!({"kty": "OKP", "crv": "X25519", "kid": KID_ED, "x": b64(&ed().public())}),
    ] {
        let keys = keys_from(&jwks(core::slice::from_ref(&bad)));
        assert!(keys.is_empty(), "{bad}");
        assert_eq!(keys.issues().len(), 1, "{bad}");
    }
    let x25519 = keys_from(&jwks(&[
        json!({"kty": "OKP", "crv": "X25519", "kid": KID_ED, "x": b64(&ed().public())}),
    ]));
    assert_code(
        verify_with(&token_kid(KID_ED, &good_claims(), &ed()), &x25519, &policy),
        NO_KEY,
    );
}

#[test]
fn a03_alg_not_on_allowlist() {
    let keys = standard_keys();
    let only_es256 = Policy::new().algorithms([Algorithm::ES256]);
    assert_ok(verify_with(&good_es256(), &keys, &only_es256));
    for t in [
        token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256)),
        token_kid(KID_ED, &good_claims(), &ed()),
        token_kid(KID_EC384, &good_claims(), &ec384()),
        token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256)),
    ] {
        assert_code(verify_with(&t, &keys, &only_es256), ALG_NOT_ALLOWED);
    }
}

#[test]
fn a03_rs_ps_swap() {
    // RS256 signature presented as PS256 and vice versa (keys without alg).
    let rs = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256));
    let ps = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::PS256));
    assert_ok(verify_std(&rs));
    assert_ok(verify_std(&ps));
    let rs_as_ps = token_from_segments(
        &b64_json(&json!({"alg": "PS256", "kid": KID_RSA})),
        &segments(&rs)[1],
        &rsa(Algorithm::RS256),
    );
    let ps_as_rs = token_from_segments(
        &b64_json(&json!({"alg": "RS256", "kid": KID_RSA})),
        &segments(&ps)[1],
        &rsa(Algorithm::PS256),
    );
    assert_code(verify_std(&rs_as_ps), SIG_FAILED);
    assert_code(verify_std(&ps_as_rs), SIG_FAILED);
}

// ===========================================================================
// §4 Embedded `jwk` header
// ===========================================================================

#[test]
fn a04_embedded_jwk_ignored() {
    assert_ok(verify_std(&good_es256()));
    let attacker = attacker_ec();
    // Legit kid + attacker jwk, signed by the attacker (WP-JWS 32 shape).
    for jwk in [
        attacker.jwk(KID_EC),
        attacker.jwk("attacker"),
        attacker.private_jwk(KID_EC),
    ] {
        let with_kid = token(
            &json!({"alg": "ES256", "kid": KID_EC, "jwk": jwk}),
            &good_claims(),
            &attacker,
        );
        assert_code(verify_std(&with_kid), SIG_FAILED);
        // Without kid the only fitting trusted key is ec-1, and it fails too.
        let kidless = token(
            &json!({"alg": "ES256", "jwk": jwk}),
            &good_claims(),
            &attacker,
        );
        assert_code(verify_std(&kidless), SIG_FAILED);
    }
    // EdDSA variant.
    let a_ed = attacker_ed();
    let t = token(
        &json!({"alg": "EdDSA", "kid": KID_ED, "jwk": a_ed.jwk(KID_ED)}),
        &good_claims(),
        &a_ed,
    );
    assert_code(verify_std(&t), SIG_FAILED);
    // Symmetric jwk: the attacker's own secret, with and without a kid.
    let secret = vec![0x42u8; 64];
    let oct = json!({"kty": "oct", "k": b64(&secret)});
    let a_hs = HsKey {
        alg: Algorithm::HS256,
        secret,
    };
    let t = token(&json!({"alg": "HS256", "jwk": oct}), &good_claims(), &a_hs);
    assert_code(verify_std(&t), SIG_FAILED);
    assert_code(
        verify_with(&t, &keys_from(&standard_jwks()), &policy_all()),
        NO_KEY,
    );
    let t = token(
        &json!({"alg": "HS256", "kid": KID_EC, "jwk": oct}),
        &good_claims(),
        &a_hs,
    );
    assert_code(verify_std(&t), NO_KEY);
    // The inspector flags it.
    let t = token(
        &json!({"alg": "ES256", "kid": KID_EC, "jwk": attacker.jwk(KID_EC)}),
        &good_claims(),
        &attacker,
    );
    let ins = inspect(&t, Some(NOW)).unwrap();
    assert!(ins
        .warnings
        .iter()
        .any(|w| w.code == "EMBEDDED_KEY_REFERENCE"));
}

// ===========================================================================
// §5 jku / x5u / x5c
// ===========================================================================

#[test]
fn a05_jku_x5u_x5c_never_dereferenced() {
    assert_ok(verify_std(&good_es256()));
    let attacker = attacker_ec();
    let urls = [
        "https://attacker.example/jwks.json",
        "http://169.254.169.254/latest/meta-data/",
        "https://trusted.example@evil.example/",
        "https://trusted.example.evil.example/",
        "file:///etc/passwd",
        "data:application/json,{\"keys\":[]}",
    ];
    let mut headers = Vec::new();
    for u in urls {
        headers.push(json!({"jku": u}));
        headers.push(json!({"x5u": u}));
    }
    headers.push(json!({"x5c": [b64_std(b"not a certificate")]}));
    headers.push(json!({"x5t": b64(&[1u8; 20])}));
    headers.push(json!({"x5t#S256": b64(&[1u8; 32])}));
    for extra in headers {
        for kid in [Some(KID_EC), None] {
            let mut h = extra.clone();
            h["alg"] = json!("ES256");
            if let Some(kid) = kid {
                h["kid"] = json!(kid);
            }
            // Signed by the attacker's key that the referenced document would hold.
            let t = token(&h, &good_claims(), &attacker);
            assert_code(verify_std(&t), SIG_FAILED);
            let ins = inspect(&t, None).unwrap();
            if !h.as_object().unwrap().contains_key("x5t") {
                assert!(
                    ins.warnings
                        .iter()
                        .any(|w| w.code == "EMBEDDED_KEY_REFERENCE"),
                    "{h}"
                );
            }
        }
        // Unknown attacker kid: no trusted key.
        let mut h = extra.clone();
        h["alg"] = json!("ES256");
        h["kid"] = json!("attacker-key");
        assert_code(verify_std(&token(&h, &good_claims(), &attacker)), NO_KEY);
    }
    // The catalog's literal jku header (RS256 to the metadata service).
    let [_, p, s] = segments(&good_es256());
    let h =
        "eyJhbGciOiJSUzI1NiIsImprdSI6Imh0dHA6Ly8xNjkuMjU0LjE2OS4yNTQvbGF0ZXN0L21ldGEtZGF0YS8ifQ";
    assert_code(verify_std(&format!("{h}.{p}.{s}")), SIG_FAILED);
}

// ===========================================================================
// §6 kid injection and type confusion
// ===========================================================================

#[test]
fn a06_kid_not_a_string() {
    assert_ok(verify_std(&good_es256()));
    for kid in [
        json!(1),
        json!({"$ne": null}),
        json!(["a", "b"]),
        json!([KID_EC]),
        json!(null),
        json!(true),
        json!(1.5),
    ] {
        let t = es256_with_header(&json!({"alg": "ES256", "kid": kid}));
        assert_code(verify_std(&t), JWS_INVALID);
    }
    // The catalog's literal {"alg":"ES256","kid":1}.
    let [_, p, s] = segments(&good_es256());
    assert_code(
        verify_std(&format!("eyJhbGciOiJFUzI1NiIsImtpZCI6MX0.{p}.{s}")),
        JWS_INVALID,
    );
}

#[test]
fn a06_kid_too_long() {
    let kid256 = "k".repeat(256);
    let kid257 = "k".repeat(257);
    let keys = keys_from(&jwks(&[ec().jwk(&kid256)]));
    assert_eq!(keys.keys().len(), 1);
    let policy = policy_all();
    assert_ok(verify_with(
        &token_kid(&kid256, &good_claims(), &ec()),
        &keys,
        &policy,
    ));
    assert_code(
        verify_with(&token_kid(&kid257, &good_claims(), &ec()), &keys, &policy),
        JWS_INVALID,
    );
    // Multi-byte characters: 129 × 2 bytes = 258 bytes.
    let wide = "é".repeat(129);
    assert_code(
        verify_std(&token_kid(&wide, &good_claims(), &ec())),
        JWS_INVALID,
    );
    // A JWKS key with an over-long kid is skipped.
    let keys = keys_from(&jwks(&[ec().jwk(&kid257)]));
    assert!(keys.is_empty());
    assert_eq!(keys.issues().len(), 1);
    // A 1 MB kid does not even fit in a token.
    let huge = "k".repeat(1 << 20);
    assert_code(
        verify_std(&token_kid(&huge, &good_claims(), &ec())),
        JWS_INVALID,
    );
}

#[test]
fn a06_kid_too_long_multibyte_in_jwks_does_not_panic() {
    // 100 × "€" = 300 bytes: too long, so the key is skipped and its kid is
    // reported in `issues()` (cut to 256 bytes). Byte 256 falls inside a
    // character. Expected: the key is skipped like any other over-long kid.
    let kid = "€".repeat(100);
    let doc = jwks(&[ec().jwk(&kid), ec().jwk(KID_EC)]);
    let keys = KeySet::from_jwks(&doc).expect("a bad key is skipped, not an error");
    assert_eq!(keys.keys().len(), 1);
    assert_eq!(keys.issues().len(), 1);
    let reported = keys.issues()[0].kid.as_deref().unwrap();
    assert!(reported.len() <= 256 && kid.starts_with(reported));
    assert_ok(verify_with(&good_es256(), &keys, &policy_all()));
    // The same through add_jwks.
    let mut set = KeySet::new();
    set.add_jwks(&doc).unwrap();
    assert_eq!(set.issues().len(), 1);
}

#[test]
fn a06_kid_injection_strings_just_do_not_match() {
    assert_ok(verify_std(&good_es256()));
    let kids = [
        "../../../../../../dev/null",
        "/dev/null",
        "x' UNION SELECT 'AA'-- ",
        "ec-1' OR '1'='1",
        "|id",
        "$(id)",
        "__proto__",
        "constructor",
        "ec-1\u{0}",
        "ec-1 ",
        " ec-1",
        "EC-1",
        "ec-",
        "ec-1/../ec-1",
        "*",
        "",
        "\u{0435}c-1", // Cyrillic "е"
        "ec\u{2011}1", // non-breaking hyphen
        "%s%s%n",
    ];
    for kid in kids {
        // Signed by the legitimate key: only selection can fail.
        let t = token_kid(kid, &good_claims(), &ec());
        let e = assert_code(verify_std(&t), NO_KEY);
        assert!(e.retryable());
    }
    // Path traversal to /dev/null with an empty HMAC key (catalog header).
    let header = "eyJhbGciOiJIUzI1NiIsImtpZCI6Ii4uLy4uLy4uLy4uLy4uLy4uL2Rldi9udWxsIn0";
    let t = token_from_segments(
        header,
        &b64_json(&good_claims()),
        &HsKey {
            alg: Algorithm::HS256,
            secret: Vec::new(),
        },
    );
    assert_code(verify_std(&t), NO_KEY);
}

// ===========================================================================
// §7 kid collisions and key-selection fallbacks
// ===========================================================================

#[test]
fn a07_duplicate_kid_is_ambiguous() {
    let policy = policy_all();
    let unique = keys_from(&jwks(&[ec().jwk("dup"), ec2().jwk("other")]));
    let t = token_kid("dup", &good_claims(), &ec());
    assert_ok(verify_with(&t, &unique, &policy));
    // Two P-256 keys share the kid.
    let dup = keys_from(&jwks(&[ec().jwk("dup"), ec2().jwk("dup")]));
    assert_code(verify_with(&t, &dup, &policy), MULTIPLE);
    // The very same key listed twice.
    let twice = keys_from(&jwks(&[ec().jwk("dup"), ec().jwk("dup")]));
    assert_code(verify_with(&t, &twice, &policy), MULTIPLE);
    // Two configured HMAC secrets with the same kid (WP-JWK 4 shape).
    let mut hs_dup = KeySet::new();
    hs_dup
        .add_hmac_secret(&hs_secret(), Some("dup"), None)
        .unwrap();
    hs_dup
        .add_hmac_secret(&[9u8; 64], Some("dup"), None)
        .unwrap();
    let t = token_kid("dup", &good_claims(), &hs(Algorithm::HS256));
    assert_code(verify_with(&t, &hs_dup, &policy), MULTIPLE);
}

#[test]
fn a07_same_kid_different_kty_never_crosses_families() {
    let policy = policy_all();
    let keys = keys_from(&jwks(&[ec().jwk("dup"), ed().jwk("dup")]));
    // An ES256 signature under an EdDSA header: only the Ed25519 key is a
    // candidate, and the EC signature does not verify with it.
    let es = token_kid("dup", &good_claims(), &ec());
    let as_eddsa = token_from_segments(
        &b64_json(&json!({"alg": "EdDSA", "kid": "dup"})),
        &segments(&es)[1],
        &ec(),
    );
    let pending = begin(&as_eddsa, &keys, &policy).unwrap();
    assert_eq!(pending.keys().len(), 1);
    assert_eq!(pending.keys()[0].family(), KeyFamily::Ed25519);
    assert_code(verify_with(&as_eddsa, &keys, &policy), SIG_FAILED);
}

#[test]
fn a07_kidless_token_needs_exactly_one_fitting_key() {
    let policy = policy_all();
    let keys = keys_from(&jwks(&[ec().jwk("a"), ec2().jwk("b")]));
    // Signed by the second key, no kid.
    let t = token(&json!({"alg": "ES256"}), &good_claims(), &ec2());
    let with_kid = token_kid("b", &good_claims(), &ec2());
    assert_ok(verify_with(&with_kid, &keys, &policy));
    assert_code(verify_with(&t, &keys, &policy), MULTIPLE);
    // Opting in lets it try both; the right one verifies.
    let opt_in = policy_all().kidless_candidates(3);
    let v = assert_ok(verify_with(&t, &keys, &opt_in));
    assert_eq!(v.kid.as_deref(), Some("b"));
    let pending = begin(&t, &keys, &opt_in).unwrap();
    assert_eq!(pending.keys().len(), 2);
    assert_eq!(pending.check_signature().unwrap(), Some(1));
    // A token signed by neither fails after trying both.
    let stranger = token(&json!({"alg": "ES256"}), &good_claims(), &attacker_ec());
    assert_code(verify_with(&stranger, &keys, &opt_in), SIG_FAILED);
    // More fitting keys than the cap (3, even if more is asked for).
    let four = keys_from(&jwks(&[
        ec().jwk("a"),
        ec2().jwk("b"),
        Es256Key::from_seed(0x77).jwk("c"),
        Es256Key::from_seed(0x78).jwk("d"),
    ]));
    assert_code(verify_with(&t, &four, &opt_in), MULTIPLE);
    assert_code(
        verify_with(&t, &four, &policy_all().kidless_candidates(100)),
        MULTIPLE,
    );
    // Keys of other families are not candidates: one EC key among others fits.
    let mixed = standard_keys();
    let kidless_ec = token(&json!({"alg": "ES256"}), &good_claims(), &ec());
    assert_ok(verify_with(&kidless_ec, &mixed, &policy));
}

#[test]
fn a07_kid_of_enc_key_or_unknown_kid() {
    let policy = policy_all();
    let mut enc = ec().jwk("enc-key");
    enc["use"] = json!("enc");
    let keys = keys_from(&jwks(&[enc, ec2().jwk("sig-key")]));
    assert_eq!(keys.keys().len(), 1);
    assert_ok(verify_with(
        &token_kid("sig-key", &good_claims(), &ec2()),
        &keys,
        &policy,
    ));
    // The enc key was skipped; the sig key is never used as a fallback.
    assert_code(
        verify_with(&token_kid("enc-key", &good_claims(), &ec()), &keys, &policy),
        NO_KEY,
    );
    assert_code(
        verify_with(
            &token_kid("enc-key", &good_claims(), &ec2()),
            &keys,
            &policy,
        ),
        NO_KEY,
    );
    let e = assert_code(
        verify_with(
            &token_kid("unknown", &good_claims(), &ec2()),
            &keys,
            &policy,
        ),
        NO_KEY,
    );
    assert!(e.retryable());
}

// ===========================================================================
// §8 JWKS hygiene
// ===========================================================================

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

#[test]
fn a08_jwks_private_members_skipped() {
    let t = good_es256();
    assert_ok(verify_with(
        &t,
        &keys_from(&jwks(&[ec().jwk(KID_EC)])),
        &policy_all(),
    ));
    assert_skipped(ec().private_jwk(KID_EC), &t);
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let mut k = ec().jwk(KID_EC);
        k[member] = json!("AQAB");
        assert_skipped(k, &t);
    }
    // The complete RFC 7520 §3.4 private RSA key.
    let rs = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256));
    assert_ok(verify_with(
        &rs,
        &keys_from(&jwks(&[rsa_jwk(KID_RSA)])),
        &policy_all(),
    ));
    let mut private = rsa_jwk(KID_RSA);
    private["d"] = json!(rfc7520_rsa::D);
    private["p"] = json!(rfc7520_rsa::P);
    private["q"] = json!(rfc7520_rsa::Q);
    assert_skipped(private, &rs);
}

#[test]
fn a08_jwks_use_and_key_ops() {
    let t = good_es256();
    let with = |member: &str, v: Value| {
        let mut k = ec().jwk(KID_EC);
        k[member] = v;
        k
    };
    for ok in [
        with("use", json!("sig")),
        with("key_ops", json!(["verify"])),
        with("key_ops", json!(["sign", "verify"])),
    ] {
        assert_ok(verify_with(&t, &keys_from(&jwks(&[ok])), &policy_all()));
    }
    for bad in [
        with("use", json!("enc")),
        with("use", json!("SIG")),
        with("use", json!(1)),
        with("key_ops", json!(["encrypt"])),
        with("key_ops", json!(["sign"])),
        with("key_ops", json!([])),
        with("key_ops", json!("verify")),
        with("key_ops", json!(["verify", 1])),
    ] {
        assert_skipped(bad, &t);
    }
}

#[test]
fn a08_jwks_oct_keys_skipped_and_never_used() {
    let policy = policy_all();
    // RFC 7520 §3.5 (oct, use sig, alg HS256) and §3.6 (oct, use enc, A256GCM).
    let k35 = json!({"kty": "oct", "kid": "018c0ae5-4d9b-471b-bfd6-eef314bc7037", "use": "sig",
                     "alg": "HS256", "k": "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"});
    let k36 = json!({"kty": "oct", "kid": "1e571774-2e08-40da-8308-e8d68773842d", "use": "enc",
                     "alg": "A256GCM", "k": "AAPapAv4LbFbiVawEjagUBluYqN5rhna-8nuldDvOx8"});
    // Known-good: the same secret configured explicitly verifies.
    let secret35 = b64_decode("hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg");
    let t = token_kid(
        "018c0ae5-4d9b-471b-bfd6-eef314bc7037",
        &good_claims(),
        &HsKey {
            alg: Algorithm::HS256,
            secret: secret35,
        },
    );
    let explicit = KeySet::from_secret_jwks(&jwks(core::slice::from_ref(&k35))).unwrap();
    assert_ok(verify_with(&t, &explicit, &policy));
    // From a (public) JWKS: skipped, listed, and not used.
    let keys = keys_from(&jwks(&[k35, k36, ec().jwk(KID_EC)]));
    assert_eq!(keys.keys().len(), 1);
    assert_eq!(keys.issues().len(), 2);
    assert_eq!(keys.issues()[0].index, 0);
    assert_eq!(keys.issues()[1].index, 1);
    assert_code(verify_with(&t, &keys, &policy), NO_KEY);
    let kidless = token(
        &json!({"alg": "HS256"}),
        &good_claims(),
        &HsKey {
            alg: Algorithm::HS256,
            secret: b64_decode("hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"),
        },
    );
    assert_code(verify_with(&kidless, &keys, &policy), NO_KEY);
}

#[test]
fn a08_jwks_unsupported_or_malformed_keys_skipped() {
    let t = good_es256();
    let (x, y) = ec().xy();
    let with = |member: &str, v: Value| {
        let mut k = ec().jwk(KID_EC);
        k[member] = v;
        k
    };
    let mut no_kty = ec().jwk(KID_EC);
    no_kty.as_object_mut().unwrap().remove("kty");
    let mut no_y = ec().jwk(KID_EC);
    no_y.as_object_mut().unwrap().remove("y");
    for bad in [
        with("alg", json!("RSA-OAEP")),
        with("alg", json!("A256GCM")),
        with("alg", json!("A256KW")),
        with("alg", json!("none")),
        with("alg", json!(7)),
        with("crv", json!("secp256k1")),
        with("crv", json!("p-256")),
        with("kty", json!("ec")),
        with("kty", json!("foo")),
        with("kty", json!(1)),
        with("x", json!(b64(&x[1..]))),
        with("y", json!(b64(&[y.clone(), vec![0]].concat()))),
        with("x", json!(format!("{}=", b64(&x)))),
        with("x", json!(1)),
        no_kty,
        no_y,
    ] {
        assert_skipped(bad, &t);
    }
    // A non-object entry is an issue, not an error; the other keys still work.
    let keys = keys_from(
        &serde_json::to_vec(&json!({"keys": [42, "x", null, ec().jwk(KID_EC)]})).unwrap(),
    );
    assert_eq!(keys.issues().len(), 3);
    assert_ok(verify_with(&t, &keys, &policy_all()));
    // The document itself must be a {"keys":[...]} object.
    for doc in [
        &b"[]"[..],
        b"{}",
        b"{\"keys\":{}}",
        b"{\"keys\":null}",
        b"not json",
        b"",
        b"{\"keys\":[],\"keys\":[]}",
        b"{\"keys\":[]} trailing",
    ] {
        assert_code(KeySet::from_jwks(doc), JWKS_INVALID);
    }
}

// ===========================================================================
// §9 ECDSA r/s = 0 or ≥ n
// ===========================================================================

const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const P256_N_MINUS_1: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550";
const P256_N_PLUS_1: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632552";
const P256_P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";

#[test]
fn a09_ecdsa_r_s_zero_or_out_of_range() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let sig = signature_of(&good);
    let (r, s) = (sig[..32].to_vec(), sig[32..].to_vec());
    let zero = vec![0u8; 32];
    let mut one = vec![0u8; 32];
    one[31] = 1;
    let n = hex(P256_N);
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("r=s=0", zero.clone(), zero.clone()),
        ("r=0", zero.clone(), s.clone()),
        ("s=0", r.clone(), zero.clone()),
        ("r=0,s=1", zero.clone(), one.clone()),
        ("r=1,s=0", one.clone(), zero.clone()),
        ("r=s=n", n.clone(), n.clone()),
        ("r=n", n.clone(), s.clone()),
        ("s=n", r.clone(), n.clone()),
        ("r=s=n-1", hex(P256_N_MINUS_1), hex(P256_N_MINUS_1)),
        ("r=s=n+1", hex(P256_N_PLUS_1), hex(P256_N_PLUS_1)),
        ("r=s=p", hex(P256_P), hex(P256_P)),
        ("r=p", hex(P256_P), s.clone()),
        ("all ff", vec![0xff; 32], vec![0xff; 32]),
        ("r=s=1", one.clone(), one.clone()),
    ];
    for (name, r, s) in cases {
        let t = with_signature(&good, &[r, s].concat());
        let r = verify_std(&t);
        assert_eq!(
            r.as_ref().map_err(jwt_edge::Error::code).err(),
            Some(SIG_FAILED),
            "{name}"
        );
    }
    // The catalog's literal all-zero signature (86 × 'A').
    let t = with_segment(&good, 2, &"A".repeat(86));
    assert_code(verify_std(&t), SIG_FAILED);
}

// ===========================================================================
// §10 ECDSA encoding: length, DER
// ===========================================================================

#[test]
fn a10_ecdsa_wrong_length_and_der() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let sig = signature_of(&good);
    let (r, s) = (&sig[..32], &sig[32..]);
    let mut padded = vec![0u8];
    padded.extend(r);
    padded.push(0);
    padded.extend(s);
    let der_sig = der(0x30, &[der_uint(r), der_uint(s)].concat());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("63 bytes", sig[..63].to_vec()),
        ("65 bytes", [sig.clone(), vec![0]].concat()),
        ("65 bytes leading zero", [vec![0], sig.clone()].concat()),
        ("66 bytes, r and s 00-padded", padded),
        (
            "66 bytes trailing zeros",
            [sig.clone(), vec![0, 0]].concat(),
        ),
        ("128 bytes", [sig.clone(), sig.clone()].concat()),
        ("32 bytes", sig[..32].to_vec()),
        ("1 byte", vec![0]),
        ("514 bytes", vec![0x41; 514]),
        ("DER", der_sig),
    ];
    assert_signatures_fail(&good, cases);
}

// ===========================================================================
// §11 ECDSA high-S must be accepted
// ===========================================================================

#[test]
fn a11_ecdsa_high_s_accepted() {
    let header = b64_json(&json!({"alg": "ES256", "kid": KID_EC}));
    let payload = b64_json(&good_claims());
    let input = format!("{header}.{payload}");
    let sig = ec().sign_raw(input.as_bytes());
    let low = sig.normalize_s().unwrap_or(sig);
    let high = p256::ecdsa::Signature::from_scalars(low.r(), -low.s()).unwrap();
    // `high` really is the high-S form and differs from the low-S one.
    assert!(low.normalize_s().is_none());
    assert!(high.normalize_s().is_some());
    assert_ne!(low.to_bytes(), high.to_bytes());
    let t_low = format!("{input}.{}", b64(&low.to_bytes()));
    let t_high = format!("{input}.{}", b64(&high.to_bytes()));
    assert_ok(verify_std(&t_low));
    assert_ok(verify_std(&t_high));
}

// ===========================================================================
// §12 Off-curve / wrong-curve EC public keys
// ===========================================================================

#[test]
fn a12_off_curve_points_skipped() {
    let t = good_es256();
    let (x, y) = ec().xy();
    assert_ok(verify_with(
        &t,
        &keys_from(&jwks(&[ec().jwk(KID_EC)])),
        &policy_all(),
    ));
    let mut y1 = y.clone();
    y1[31] ^= 1;
    let mut x1 = x.clone();
    x1[0] ^= 0x80;
    let jwk = |x: &[u8], y: &[u8]| json!({"kty": "EC", "crv": "P-256", "kid": KID_EC, "x": b64(x), "y": b64(y)});
    for bad in [
        jwk(&x, &y1),
        jwk(&x1, &y),
        jwk(&y, &x),
        jwk(&[0; 32], &[0; 32]),
        jwk(&hex(P256_P), &y),
        jwk(&[0xff; 32], &[0xff; 32]),
    ] {
        assert_skipped(bad, &t);
    }
    // P-384 coordinates labelled P-256 and vice versa.
    let p384 = ec384().jwk(KID_EC);
    let mut mislabelled = p384.clone();
    mislabelled["crv"] = json!("P-256");
    assert_skipped(mislabelled, &t);
}

// ===========================================================================
// §13 RSA PKCS#1 v1.5 signature shapes
// ===========================================================================

#[test]
fn a13_rsa_pkcs1_signature_shapes() {
    let good = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256));
    assert_ok(verify_std(&good));
    let sig = signature_of(&good);
    assert_eq!(sig.len(), 256);
    let n = rsa_n();
    let mut n_minus_1 = n.clone();
    n_minus_1[255] -= 1; // n is odd
    let mut one = vec![0u8; 256];
    one[255] = 1;
    let mut flipped = sig.clone();
    flipped[100] ^= 0x01;
    let rs384 = rsa(Algorithm::RS384).sign(signing_input_of(&good).as_bytes());
    let rs512 = rsa(Algorithm::RS512).sign(signing_input_of(&good).as_bytes());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("prepended 00 (k+1)", [vec![0], sig.clone()].concat()),
        ("appended 00 (k+1)", [sig.clone(), vec![0]].concat()),
        ("first byte dropped (k-1)", sig[1..].to_vec()),
        ("last byte dropped (k-1)", sig[..255].to_vec()),
        ("s = 0", vec![0; 256]),
        ("s = 1", one),
        ("s = n-1", n_minus_1),
        ("s = n", n.clone()),
        ("s = 2^2048-1", vec![0xff; 256]),
        ("bit flipped", flipped),
        ("RS384 signature", rs384),
        ("RS512 signature", rs512),
        ("doubled", [sig.clone(), sig.clone()].concat()),
    ];
    assert_signatures_fail(&good, cases);
}

// ===========================================================================
// §14 RSA-PSS parameters
// ===========================================================================

#[test]
fn a14_rsa_pss_salt_and_primitive_confusion() {
    let good = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::PS256));
    assert_ok(verify_std(&good));
    let input = signing_input_of(&good);
    let salted = |len: usize| {
        RsaKey {
            alg: Algorithm::PS256,
            pss_salt: Some(len),
        }
        .sign(input.as_bytes())
    };
    // The same salt length re-signed explicitly verifies (control).
    assert_ok(verify_std(&with_signature(&good, &salted(32))));
    let sig = signature_of(&good);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("salt 0", salted(0)),
        ("salt 20", salted(20)),
        ("salt 64", salted(64)),
        ("PKCS#1 v1.5", rsa(Algorithm::RS256).sign(input.as_bytes())),
        ("PS384", rsa(Algorithm::PS384).sign(input.as_bytes())),
        ("PS512", rsa(Algorithm::PS512).sign(input.as_bytes())),
        ("prepended 00", [vec![0], sig.clone()].concat()),
        ("appended 00", [sig.clone(), vec![0]].concat()),
        ("truncated", sig[..255].to_vec()),
        ("zero", vec![0; 256]),
        ("n", rsa_n()),
    ];
    assert_signatures_fail(&good, cases);
}

// ===========================================================================
// §15 Weak or abusive RSA keys
// ===========================================================================

#[test]
fn a15_weak_rsa_keys_skipped() {
    let t = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256));
    assert_ok(verify_with(
        &t,
        &keys_from(&jwks(&[rsa_jwk(KID_RSA)])),
        &policy_all(),
    ));
    let n = rsa_n();
    let with_ne =
        |n: &[u8], e: &[u8]| json!({"kty": "RSA", "kid": KID_RSA, "n": b64(n), "e": b64(e)});
    let e = [1u8, 0, 1];
    // 2040 bits (top byte removed), 1024 bits.
    let mut small1024 = n[..128].to_vec();
    small1024[127] |= 1;
    let mut even_n = n.clone();
    even_n[255] &= 0xfe;
    for bad in [
        with_ne(&n[1..], &e),
        with_ne(&small1024, &e),
        with_ne(&n, &[1]),
        with_ne(&n, &[0, 1]),
        with_ne(&n, &[2]),
        with_ne(&n, &[1, 0, 0]),
        with_ne(&n, &[]),
        with_ne(&n, &[0]),
        with_ne(&n, &[1, 0, 0, 0, 1]), // 33 bits
        with_ne(&even_n, &e),
        with_ne(&[], &e),
    ] {
        assert_skipped(bad, &t);
    }
    // Leading zero bytes never make a short modulus look long: a 2040-bit n
    // zero-padded to 256 bytes is still too short; a zero-prefixed 2048-bit
    // n (if accepted) counts as 2048 bits.
    assert_skipped(with_ne(&[vec![0], n[1..].to_vec()].concat(), &e), &t);
    let keys = keys_from(&jwks(&[with_ne(&[vec![0], n.clone()].concat(), &e)]));
    for k in keys.keys() {
        assert_eq!(k.rsa_bits(), 2048);
    }
}

#[test]
fn a15_oversized_rsa_key_skipped_quickly() {
    let t = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256));
    let mut n = vec![0xa5u8; 2048]; // 16384 bits
    n[0] = 0xff;
    n[2047] |= 1;
    let start = Instant::now();
    let jwk = json!({"kty": "RSA", "kid": KID_RSA, "n": b64(&n), "e": "AQAB"});
    assert_skipped(jwk, &t);
    // 8193 bits.
    let mut n8193 = vec![0xa5u8; 1025];
    n8193[0] = 1;
    n8193[1024] |= 1;
    assert_skipped(
        json!({"kty": "RSA", "kid": KID_RSA, "n": b64(&n8193), "e": "AQAB"}),
        &t,
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

// ===========================================================================
// §16 HMAC keys and tags
// ===========================================================================

#[test]
fn a16_short_hmac_secret_refused_at_configuration() {
    assert!(Key::hmac_secret(&[7u8; 32], None, None).is_ok());
    assert!(Key::hmac_secret(&[7u8; 48], None, Some(Algorithm::HS384)).is_ok());
    assert!(Key::hmac_secret(&[7u8; 64], None, Some(Algorithm::HS512)).is_ok());
    for (len, alg) in [
        (0, None),
        (1, None),
        (31, None),
        (31, Some(Algorithm::HS256)),
        (32, Some(Algorithm::HS384)),
        (47, Some(Algorithm::HS384)),
        (63, Some(Algorithm::HS512)),
        (64, Some(Algorithm::RS256)),
        (64, Some(Algorithm::EdDSA)),
    ] {
        assert_code(Key::hmac_secret(&vec![7u8; len], None, alg), JWKS_INVALID);
        let mut set = KeySet::new();
        assert_code(
            set.add_hmac_secret(&vec![7u8; len], None, alg),
            JWKS_INVALID,
        );
        assert!(set.is_empty());
    }
    assert_code(
        Key::hmac_secret(&[7u8; 32], Some(&"k".repeat(257)), None),
        JWKS_INVALID,
    );
    // Secret JWKS: all or nothing.
    let oct = |k: &[u8], extra: Value| {
        let mut j = json!({"kty": "oct", "kid": "s", "k": b64(k)});
        for (name, v) in extra.as_object().unwrap() {
            j[name] = v.clone();
        }
        j
    };
    assert!(KeySet::from_secret_jwks(&jwks(&[oct(&[7; 32], json!({}))])).is_ok());
    for bad in [
        oct(&[], json!({})),
        oct(&[7; 31], json!({})),
        oct(&[7; 32], json!({"alg": "HS512"})),
        oct(&[7; 32], json!({"alg": "A256GCM"})),
        oct(&[7; 32], json!({"use": "enc"})),
        oct(&[7; 32], json!({"key_ops": ["encrypt"]})),
    ] {
        assert_code(KeySet::from_secret_jwks(&jwks(&[bad])), JWKS_INVALID);
    }
    let good_then_bad = jwks(&[oct(&[7; 32], json!({})), oct(&[7; 8], json!({}))]);
    assert_code(KeySet::from_secret_jwks(&good_then_bad), JWKS_INVALID);
}

#[test]
fn a16_hmac_secret_shorter_than_hash_does_not_fit() {
    let mut keys = KeySet::new();
    keys.add_hmac_secret(&[7u8; 32], Some("s"), None).unwrap();
    let k = |alg| HsKey {
        alg,
        secret: vec![7u8; 32],
    };
    assert_ok(verify_with(
        &token_kid("s", &good_claims(), &k(Algorithm::HS256)),
        &keys,
        &policy_all(),
    ));
    assert_code(
        verify_with(
            &token_kid("s", &good_claims(), &k(Algorithm::HS384)),
            &keys,
            &policy_all(),
        ),
        NO_KEY,
    );
    assert_code(
        verify_with(
            &token_kid("s", &good_claims(), &k(Algorithm::HS512)),
            &keys,
            &policy_all(),
        ),
        NO_KEY,
    );
}

#[test]
fn a16_hmac_tag_shapes() {
    let good = token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256));
    assert_ok(verify_std(&good));
    let input = signing_input_of(&good);
    let tag = signature_of(&good);
    let mut flipped = tag.clone();
    flipped[31] ^= 0x80;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("16-byte prefix", tag[..16].to_vec()),
        ("31-byte prefix", tag[..31].to_vec()),
        ("1 byte", tag[..1].to_vec()),
        ("33 bytes", [tag.clone(), vec![0]].concat()),
        (
            "HS512 tag",
            hmac(Algorithm::HS512, &hs_secret(), input.as_bytes()),
        ),
        (
            "HS384 tag",
            hmac(Algorithm::HS384, &hs_secret(), input.as_bytes()),
        ),
        ("zero tag", vec![0; 32]),
        ("bit flipped", flipped),
        ("empty key", hmac(Algorithm::HS256, b"", input.as_bytes())),
        (
            "32-byte key prefix",
            hmac(Algorithm::HS256, &hs_secret()[..32], input.as_bytes()),
        ),
    ];
    assert_signatures_fail(&good, cases);
    // Empty signature segment: invalid structure.
    assert_code(verify_std(&with_segment(&good, 2, "")), JWS_INVALID);
    // An HS256 tag under an HS512 header.
    let hs512 = token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS512));
    assert_ok(verify_std(&hs512));
    let hs512_input = signing_input_of(&hs512);
    let t = with_signature(
        &hs512,
        &hmac(Algorithm::HS256, &hs_secret(), hs512_input.as_bytes()),
    );
    assert_code(verify_std(&t), SIG_FAILED);
}

// ===========================================================================
// §17 Ed25519
// ===========================================================================

/// ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn add_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    out
}

#[test]
fn a17_ed25519_signature_shapes() {
    let good = token_kid(KID_ED, &good_claims(), &ed());
    assert_ok(verify_std(&good));
    let sig = signature_of(&good);
    let (r, s) = (&sig[..32], &sig[32..]);
    let s_plus_l = add_le(s, &ED25519_L);
    let s_plus_2l = add_le(&s_plus_l, &ED25519_L);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("63 bytes", sig[..63].to_vec()),
        ("65 bytes", [sig.clone(), vec![0]].concat()),
        ("32 bytes", sig[..32].to_vec()),
        ("s + L", [r.to_vec(), s_plus_l].concat()),
        ("s + 2L", [r.to_vec(), s_plus_2l].concat()),
        ("s = L", [r.to_vec(), ED25519_L.to_vec()].concat()),
        ("all zero", vec![0; 64]),
        (
            "R = identity, s = 0",
            [
                {
                    let mut id = vec![0u8; 32];
                    id[0] = 1;
                    id
                },
                vec![0; 32],
            ]
            .concat(),
        ),
    ];
    assert_signatures_fail(&good, cases);
}

#[test]
fn a17_ed25519_weak_and_wrong_keys_skipped() {
    let t = token_kid(KID_ED, &good_claims(), &ed());
    assert_ok(verify_with(
        &t,
        &keys_from(&jwks(&[ed().jwk(KID_ED)])),
        &policy_all(),
    ));
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut order2 = [0xffu8; 32];
    order2[0] = 0xec;
    order2[31] = 0x7f;
    let mut order4b = [0u8; 32];
    order4b[31] = 0x80;
    let small_order: Vec<Vec<u8>> = vec![
        identity.to_vec(),
        order2.to_vec(),
        vec![0u8; 32],
        order4b.to_vec(),
        hex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
        hex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    ];
    for x in small_order {
        assert_skipped(
            json!({"kty": "OKP", "crv": "Ed25519", "kid": KID_ED, "x": b64(&x)}),
            &t,
        );
    }
    let pk = ed().public();
    for bad in [
        json!({"kty": "OKP", "crv": "Ed25519", "kid": KID_ED, "x": b64(&pk[..31])}),
        json!({"kty": "OKP", "crv": "Ed25519", "kid": KID_ED, "x": b64(&[pk.to_vec(), vec![0]].concat())}),
        json!({"kty": "OKP", "crv": "Ed448", "kid": KID_ED, "x": b64(&pk)}),
        json!({"kty": "OKP", "crv": "X25519", "kid": KID_ED, "x": b64(&pk)}),
        json!({"kty": "OKP", "crv": "ed25519", "kid": KID_ED, "x": b64(&pk)}),
        json!({"kty": "OKP", "kid": KID_ED, "x": b64(&pk)}),
    ] {
        assert_skipped(bad, &t);
    }
    // Only "EdDSA" names the algorithm (the fully-specified "Ed25519" name is
    // not accepted; a deliberate decision of the core).
    for alg in ["Ed25519", "ED25519", "eddsa", "EDDSA", "Ed448"] {
        let h = b64_json(&json!({"alg": alg, "kid": KID_ED}));
        let t2 = token_from_segments(&h, &segments(&t)[1], &ed());
        assert_code(verify_std(&t2), ALG_NOT_ALLOWED);
    }
}

// ===========================================================================
// §18 crit
// ===========================================================================

#[test]
fn a18_crit_always_rejected() {
    let base = json!({"alg": "ES256", "kid": KID_EC});
    assert_ok(verify_std(&es256_with_header(&base)));
    let extras = [
        json!({"crit": ["exp"], "exp": 1}),
        json!({"crit": ["x-policy"], "x-policy": "p"}),
        json!({"crit": ["x-policy"]}),
        json!({"crit": []}),
        json!({"crit": "b64"}),
        json!({"crit": ["alg"]}),
        json!({"crit": ["kid"]}),
        json!({"crit": ["b64"]}),
        json!({"crit": ["b64"], "b64": true}),
        json!({"crit": null}),
        json!({"crit": {}}),
        json!({"crit": [1]}),
    ];
    for extra in extras {
        let mut h = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        assert_code(verify_std(&es256_with_header(&h)), JWS_INVALID);
    }
    // The catalog's literal headers with the good payload and signature.
    let [_, p, s] = segments(&good_es256());
    for h in [
        "eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiZXhwIl0sImV4cCI6MX0",
        "eyJhbGciOiJSUzI1NiIsImNyaXQiOltdfQ",
    ] {
        assert_code(verify_std(&format!("{h}.{p}.{s}")), JWS_INVALID);
    }
}

// ===========================================================================
// §19 b64 (RFC 7797)
// ===========================================================================

#[test]
fn a19_b64_rejected() {
    let hs_key = hs(Algorithm::HS256);
    let base = json!({"alg": "HS256", "kid": KID_HS});
    assert_ok(verify_std(&token(&base, &good_claims(), &hs_key)));
    for extra in [
        json!({"b64": false}),
        json!({"b64": false, "crit": ["b64"]}),
        json!({"b64": "false"}),
        json!({"b64": true}),
        json!({"b64": true, "crit": ["b64"]}),
        json!({"b64": null}),
    ] {
        let mut h = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        assert_code(verify_std(&token(&h, &good_claims(), &hs_key)), JWS_INVALID);
    }
    // RFC 7797 §4.2 with the RFC 7515 A.1 key: raw payload "$.02" (the dot
    // makes four segments), and the same with a detached payload.
    let a1 = b64_decode(
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
    );
    let mut keys = KeySet::new();
    keys.add_hmac_secret(&a1, None, None).unwrap();
    let h = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19";
    let sig = "A5dxf2s96_n5FLueVuW1Z_vh161FwXZC4YLPff6dmDY";
    assert_eq!(
        b64(&hmac(Algorithm::HS256, &a1, format!("{h}.$.02").as_bytes())),
        sig
    );
    for t in [format!("{h}.$.02.{sig}"), format!("{h}..{sig}")] {
        assert_code(verify_with(&t, &keys, &policy_all()), JWS_INVALID);
    }
    // Draft form without crit (rfc7520/rfc7797/4.2.hmac-sha2_b64_false.json),
    // here with a base64url payload and a correct MAC over it.
    let t = token_from_segments(
        "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2V9",
        &b64_json(&good_claims()),
        &HsKey {
            alg: Algorithm::HS256,
            secret: a1.clone(),
        },
    );
    assert_code(verify_with(&t, &keys, &policy_all()), JWS_INVALID);
}

// ===========================================================================
// §20 Duplicate member names, parser differentials
// ===========================================================================

#[test]
fn a20_duplicate_members_in_header() {
    let key = ec();
    let payload = serde_json::to_string(&good_claims()).unwrap();
    assert_ok(verify_std(&token_raw(
        r#"{"alg":"ES256","kid":"ec-1"}"#,
        &payload,
        &key,
    )));
    for header in [
        r#"{"alg":"ES256","kid":"ec-1","alg":"none"}"#,
        r#"{"alg":"none","alg":"ES256","kid":"ec-1"}"#,
        r#"{"alg":"ES256","kid":"ec-1","alg":"ES256"}"#,
        r#"{"alg":"ES256","kid":"ec-1","\u0061lg":"HS256"}"#,
        r#"{"alg":"ES256","kid":"ec-1","kid":"ec-1"}"#,
        r#"{"alg":"ES256","kid":"ec-1","k\u0069d":"other"}"#,
        r#"{"alg":"ES256","kid":"ec-1","typ":"JWT","typ":"at+jwt"}"#,
        r#"{"alg":"ES256","kid":"ec-1","x":{"a":1,"a":2}}"#,
        r#"{"alg":"ES256","kid":"ec-1",}"#,
        r#"{"alg":"ES256","kid":"ec-1"}x"#,
        r#"{"alg":"ES256","kid":"ec-1"} {}"#,
        "\u{feff}{\"alg\":\"ES256\",\"kid\":\"ec-1\"}",
        r#"{"alg":"ES256","kid":"ec-1"/*c*/}"#,
        r#"{"alg":"ES256","kid":"ec-1","n":NaN}"#,
        r#"{"alg":"ES256","kid":"ec-1","s":"\ud800"}"#,
        r#"{'alg':'ES256','kid':'ec-1'}"#,
    ] {
        assert_code(verify_std(&token_raw(header, &payload, &key)), JWS_INVALID);
    }
    // Invalid UTF-8 inside a string.
    let mut bad = br#"{"alg":"ES256","kid":"ec-1","x":""#.to_vec();
    bad.extend([0xff, 0xfe]);
    bad.extend(br#""}"#);
    let t = token_from_segments(&b64(&bad), &b64(payload.as_bytes()), &key);
    assert_code(verify_std(&t), JWS_INVALID);
}

#[test]
fn a20_duplicate_members_in_payload() {
    let key = ec();
    let header = r#"{"alg":"ES256","kid":"ec-1"}"#;
    let body = format!(
        r#""iss":"{ISS}","aud":"{AUD}","exp":{},"jti":"tok-1""#,
        NOW + 3600
    );
    assert_ok(verify_std(&token_raw(
        header,
        &format!(r#"{{"sub":"a",{body}}}"#),
        &key,
    )));
    for payload in [
        format!(r#"{{"sub":"a","sub":"admin",{body}}}"#),
        format!(r#"{{"sub":"a","s\u0075b":"admin",{body}}}"#),
        format!(r#"{{"sub":"a","role":"user","role":"admin",{body}}}"#),
        format!(r#"{{"sub":"a","aud":"x",{body}}}"#),
        format!(r#"{{"sub":"a","exp":1,{body}}}"#),
        format!(r#"{{"sub":"a","cnf":{{"jkt":"a","jkt":"b"}},{body}}}"#),
        format!(r#"{{"sub":"a","l":[{{"x":1,"x":2}}],{body}}}"#),
        format!(r#"{{"sub":"a",{body},}}"#),
        format!(r#"{{"sub":"a",{body}}}xyz"#),
        format!("\u{feff}{{\"sub\":\"a\",{body}}}"),
        format!(r#"{{"sub":"a",{body}}}/*c*/"#),
        format!(r#"{{"sub":"a","n":NaN,{body}}}"#),
        format!(r#"{{"sub":"\ud800",{body}}}"#),
        format!(r#"{{"sub":"a",{body}}}{{"sub":"admin"}}"#),
    ] {
        let t = token_raw(header, &payload, &key);
        assert_code(verify_std(&t), JWT_INVALID);
    }
    // Invalid UTF-8.
    let mut bad = format!(r#"{{"sub":"a",{body},"x":""#).into_bytes();
    bad.extend([0xc3, 0x28]);
    bad.extend(br#""}"#);
    let t = token_from_segments(&b64(header.as_bytes()), &b64(&bad), &key);
    assert_code(verify_std(&t), JWT_INVALID);
}

#[test]
fn a20_json_serialization_is_not_compact() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let [h, p, s] = segments(&good);
    for doc in [
        json!({"payload": p, "protected": h, "signature": s}),
        json!({"payload": p, "signatures": [{"protected": h, "signature": s}]}),
    ] {
        let text = serde_json::to_string(&doc).unwrap();
        assert_code(verify_std(&text), JWS_INVALID);
        let pretty = serde_json::to_string_pretty(&doc).unwrap();
        assert_code(verify_std(&pretty), JWS_INVALID);
    }
}

// ===========================================================================
// §21 Non-canonical base64url
// ===========================================================================

const B64_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The segment with its unused trailing bits set (same decoded bytes for a
/// lenient decoder), or `None` if the length leaves no unused bits.
fn nonzero_trailing_bits(seg: &str) -> Option<String> {
    if seg.len() % 4 != 2 && seg.len() % 4 != 3 {
        return None;
    }
    let last = *seg.as_bytes().last().unwrap();
    let v = B64_ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(v & 1, 0, "trailing bits already set");
    let mut out = seg[..seg.len() - 1].to_string();
    out.push(B64_ALPHABET[v | 1] as char);
    Some(out)
}

/// A good ES256 token each of whose segments contains `-` and `_` and has a
/// length ≢ 0 (mod 4), so every non-canonical variant applies to every segment.
fn rich_es256_token() -> String {
    // '?', '~' and '>' at shifting alignments produce the 6-bit groups 62
    // ('-') and 63 ('_').
    let pad = |i: usize| format!("?~>{}?~>{}", "a".repeat(1 + i % 3), "a".repeat(i / 3 % 4));
    let ok = |seg: &str| seg.contains('-') && seg.contains('_') && seg.len() % 4 >= 2;
    let header = (0..64)
        .map(|i| json!({"alg": "ES256", "kid": KID_EC, "pad": pad(i)}))
        .find(|h| ok(&b64_json(h)))
        .expect("no suitable header");
    for i in 0..2000 {
        let mut claims = good_claims();
        claims["pad"] = json!(pad(i % 12));
        claims["n"] = json!(i);
        if !ok(&b64_json(&claims)) {
            continue;
        }
        let t = token(&header, &claims, &ec());
        if ok(&segments(&t)[2]) {
            return t;
        }
    }
    panic!("no suitable token");
}

#[test]
fn a21_non_canonical_base64url_in_every_segment() {
    let good = rich_es256_token();
    assert_ok(verify_std(&good));
    let segs = segments(&good);
    for (i, seg) in segs.iter().enumerate() {
        let mid = seg.len() / 2;
        let mut variants: Vec<(String, String)> = vec![
            ("padding =".into(), format!("{seg}=")),
            ("padding ==".into(), format!("{seg}==")),
            ("+ for -".into(), seg.replacen('-', "+", 1)),
            ("/ for _".into(), seg.replacen('_', "/", 1)),
            ("leading space".into(), format!(" {seg}")),
            ("trailing space".into(), format!("{seg} ")),
            ("trailing newline".into(), format!("{seg}\n")),
        ];
        for junk in [
            " ", "\t", "\n", "\r\n", "=", "+", "/", "?", "#", "\\", "!", "%", "$", "@", "é",
            "\u{0}", "~", "*",
        ] {
            variants.push((
                format!("{junk:?} inserted"),
                format!("{}{junk}{}", &seg[..mid], &seg[mid..]),
            ));
        }
        variants.push((
            "non-zero trailing bits".into(),
            nonzero_trailing_bits(seg).expect("segment has unused bits"),
        ));
        let mut short = seg.clone();
        while short.len() % 4 != 1 {
            short.pop();
        }
        variants.push(("length = 1 mod 4".into(), short));
        for (name, v) in variants {
            assert_ne!(&v, seg);
            let t = with_segment(&good, i, &v);
            let r = verify_std(&t);
            assert_eq!(
                r.as_ref().map_err(jwt_edge::Error::code).err(),
                Some(JWS_INVALID),
                "segment {i}, {name}: {r:?}"
            );
        }
    }
    // Whitespace around the whole token.
    for t in [
        format!(" {good}"),
        format!("{good} "),
        format!("{good}\n"),
        format!("\t{good}"),
        format!("{good}\r\n"),
    ] {
        assert_code(verify_std(&t), JWS_INVALID);
    }
}

#[test]
fn a21_hs256_tag_with_trailing_bits() {
    // 32-byte tag → 43 characters → 2 unused bits (catalog: "…8" vs canonical).
    let good = token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256));
    assert_ok(verify_std(&good));
    let sig = &segments(&good)[2];
    assert_eq!(sig.len(), 43);
    for bits in 1..4 {
        let last = *sig.as_bytes().last().unwrap();
        let v = B64_ALPHABET.iter().position(|&c| c == last).unwrap();
        let mut s = sig[..42].to_string();
        s.push(B64_ALPHABET[v | bits] as char);
        assert_code(verify_std(&with_segment(&good, 2, &s)), JWS_INVALID);
    }
}

// ===========================================================================
// §22 Structural malformation
// ===========================================================================

#[test]
fn a22_segment_count_and_empty_segments() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let [h, p, s] = segments(&good);
    for t in [
        String::new(),
        h.clone(),
        format!("{h}.{p}"),
        format!("{good}.{s}"),
        format!("{good}."),
        format!("{h}.{p}.{s}.{s}.{s}"),
        format!(".{p}.{s}"),
        format!("{h}.{p}."),
        ".".into(),
        "..".into(),
        "...".into(),
        "....".into(),
        format!(".{good}"),
    ] {
        assert_code(verify_std(&t), JWS_INVALID);
    }
    // An empty payload segment is a well-formed JWS but never a JWT: with the
    // signature of the original payload it fails the signature check, and
    // signed over the empty payload it fails as a claims set.
    assert_code(verify_std(&format!("{h}..{s}")), SIG_FAILED);
    let empty = token_from_segments(&h, "", &ec());
    assert_code(verify_std(&empty), JWT_INVALID);
}

#[test]
fn a22_header_not_an_object() {
    let key = ec();
    let payload = serde_json::to_string(&good_claims()).unwrap();
    assert_ok(verify_std(&token_raw(
        r#"{"alg":"ES256","kid":"ec-1"}"#,
        &payload,
        &key,
    )));
    for header in [
        "[]",
        "\"x\"",
        "\"ES256\"",
        "null",
        "123",
        "true",
        "{}",
        "",
        " ",
        "[{\"alg\":\"ES256\",\"kid\":\"ec-1\"}]",
    ] {
        assert_code(verify_std(&token_raw(header, &payload, &key)), JWS_INVALID);
    }
    let [_, p, s] = segments(&good_es256());
    for h in ["W10", "IlJTMjU2Ig"] {
        assert_code(verify_std(&format!("{h}.{p}.{s}")), JWS_INVALID);
    }
}

#[test]
fn a22_payload_not_an_object_after_valid_signature() {
    let key = ec();
    let header = r#"{"alg":"ES256","kid":"ec-1"}"#;
    let good = serde_json::to_string(&good_claims()).unwrap();
    assert_ok(verify_std(&token_raw(header, &good, &key)));
    let inner = good_es256();
    for payload in [
        "[]",
        "\"x\"",
        "null",
        "123",
        "true",
        "hello",
        " ",
        "[{\"sub\":\"a\"}]",
        inner.as_str(),
    ] {
        let t = token_raw(header, payload, &key);
        assert_code(verify_std(&t), JWT_INVALID);
        // With a bad signature the claims are never looked at.
        let mut sig = signature_of(&t);
        sig[10] ^= 1;
        assert_code(verify_std(&with_signature(&t, &sig)), SIG_FAILED);
    }
    // A nested JWT (cty: JWT) is not unwrapped.
    let t = token_raw(r#"{"alg":"ES256","kid":"ec-1","cty":"JWT"}"#, &inner, &key);
    assert_code(verify_std(&t), JWT_INVALID);
}

#[test]
fn a22_jwe_and_detached_payload() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let [h, _, s] = segments(&good);
    // A JWE-shaped token (5 segments).
    let jwe_header = b64_json(&json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": KID_RSA}));
    let jwe = format!(
        "{jwe_header}.{}.{}.{}.{}",
        b64(&[1; 256]),
        b64(&[2; 12]),
        b64(b"ct"),
        b64(&[3; 16])
    );
    assert_code(verify_std(&jwe), JWS_INVALID);
    // Detached payload (RFC 7520 4.5 shape): the signature covers the real
    // payload, which is not supplied; the empty payload never verifies.
    assert_code(verify_std(&format!("{h}..{s}")), SIG_FAILED);
}

// ===========================================================================
// §23 Resource exhaustion
// ===========================================================================

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn a23_giant_tokens_rejected_fast() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let start = Instant::now();
    // 17 KiB token: padded payload.
    let mut claims = good_claims();
    claims["pad"] = json!("a".repeat(13 * 1024));
    let big = token_kid(KID_EC, &claims, &ec());
    assert!(
        big.len() > 16 * 1024 && big.len() < 18 * 1024,
        "{}",
        big.len()
    );
    assert_code(verify_std(&big), JWS_INVALID);
    // ... but accepted when the caller raises the limit (only the size mattered).
    assert_ok(verify_with(
        &big,
        &standard_keys(),
        &policy_all().max_token_len(32 * 1024),
    ));
    // 10 MB token.
    let huge = format!("{good}{}", "A".repeat(10 << 20));
    assert_code(verify_std(&huge), JWS_INVALID);
    // One million dots, with the default limit and with no limit at all.
    let dots = format!("Bearer {}", ".".repeat(1_000_000));
    assert_code(verify_std(&dots), JWS_INVALID);
    let unlimited = policy_all().max_token_len(usize::MAX);
    assert_code(
        verify_with(&dots, &standard_keys(), &unlimited),
        JWS_INVALID,
    );
    assert_code(
        verify_with(&".".repeat(1_000_000), &standard_keys(), &unlimited),
        JWS_INVALID,
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a23_deep_nesting_errors_without_stack_overflow() {
    let key = ec();
    let header_ok = r#"{"alg":"ES256","kid":"ec-1"}"#;
    let payload_ok = serde_json::to_string(&good_claims()).unwrap();
    let big = policy_all().max_token_len(1 << 20);
    assert_ok(verify_with(
        &token_raw(header_ok, &payload_ok, &key),
        &standard_keys(),
        &big,
    ));
    let deep = nested(100_000);
    let header_deep = format!(r#"{{"alg":"ES256","kid":"ec-1","a":{deep}}}"#);
    let payload_deep = format!(r#"{{"exp":{},"a":{deep}}}"#, NOW + 3600);
    let t_header = token_raw(&header_deep, &payload_ok, &key);
    let t_payload = token_raw(header_ok, &payload_deep, &key);
    // Default limits: too long.
    assert_code(verify_std(&t_header), JWS_INVALID);
    assert_code(verify_std(&t_payload), JWS_INVALID);
    // Length limit raised, default depth, and even an absurd depth limit.
    for policy in [big.clone(), big.clone().max_depth(1_000_000)] {
        assert_code(
            verify_with(&t_header, &standard_keys(), &policy),
            JWS_INVALID,
        );
        assert_code(
            verify_with(&t_payload, &standard_keys(), &policy),
            JWT_INVALID,
        );
    }
    // Objects too: {"a":{"a":...}}.
    let deep_obj = format!("{}1{}", r#"{"a":"#.repeat(50_000), "}".repeat(50_000));
    let t = token_raw(header_ok, &deep_obj, &key);
    assert_code(verify_with(&t, &standard_keys(), &big), JWT_INVALID);
    // And through inspect.
    assert!(inspect(&token_raw(header_ok, &payload_deep[..2000], &key), None).is_err());
}

#[test]
fn a23_default_depth_limit_boundary() {
    let key = ec();
    let header = r#"{"alg":"ES256","kid":"ec-1"}"#;
    // Claims object (1) + 19 arrays = depth 20: accepted.
    let ok = format!(r#"{{"exp":{},"a":{}}}"#, NOW + 3600, nested(19));
    assert_ok(verify_std(&token_raw(header, &ok, &key)));
    let too_deep = format!(r#"{{"exp":{},"a":{}}}"#, NOW + 3600, nested(20));
    assert_code(verify_std(&token_raw(header, &too_deep, &key)), JWT_INVALID);
    // Same in the header.
    let payload = serde_json::to_string(&good_claims()).unwrap();
    let h_ok = format!(r#"{{"alg":"ES256","kid":"ec-1","a":{}}}"#, nested(19));
    let h_deep = format!(r#"{{"alg":"ES256","kid":"ec-1","a":{}}}"#, nested(20));
    assert_ok(verify_std(&token_raw(&h_ok, &payload, &key)));
    assert_code(verify_std(&token_raw(&h_deep, &payload, &key)), JWS_INVALID);
}

#[test]
fn a23_huge_numbers() {
    let key = ec();
    let header = r#"{"alg":"ES256","kid":"ec-1"}"#;
    // Finite but far beyond any NumericDate: a claim error.
    let p = format!(r#"{{"sub":"a","exp":{}}}"#, "9".repeat(300));
    assert_claim(
        verify_std(&token_raw(header, &p, &key)),
        CLAIM,
        "exp",
        ClaimReason::Invalid,
    );
    let p = format!(r#"{{"sub":"a","exp":0.{}1}}"#, "0".repeat(5000));
    assert_code(verify_std(&token_raw(header, &p, &key)), EXPIRED);
    for exp in [
        "9".repeat(5000),
        "1e999999".into(),
        "1e400".into(),
        "-1e400".into(),
    ] {
        let payload = format!(r#"{{"sub":"a","exp":{exp}}}"#);
        let t = token_raw(header, &payload, &key);
        // Not a finite JSON number: the claims set itself does not parse.
        assert_code(verify_std(&t), JWT_INVALID);
    }
}

#[test]
fn a23_jwks_limits() {
    let t = good_es256();
    let keys_n = |n: usize| -> Vec<Value> { (0..n).map(|i| ec().jwk(&format!("k{i}"))).collect() };
    let mut hundred = keys_n(99);
    hundred.push(ec().jwk(KID_EC));
    let set = keys_from(&jwks(&hundred));
    assert_eq!(set.keys().len(), 100);
    assert_ok(verify_with(&t, &set, &policy_all()));
    let mut hundred_one = hundred.clone();
    hundred_one.push(ec().jwk("k-extra"));
    assert_code(KeySet::from_jwks(&jwks(&hundred_one)), JWKS_INVALID);
    // Larger than 256 KiB.
    let big = jwks(&[json!({"kty": "EC", "kid": "x".repeat(300 * 1024)})]);
    assert_code(KeySet::from_jwks(&big), JWKS_INVALID);
    // 100 KiB kid: skipped.
    let set = keys_from(&jwks(&[ec().jwk(&"k".repeat(100 * 1024))]));
    assert!(set.is_empty());
    // Deep nesting.
    let deep = format!(r#"{{"keys":[{{"kty":"EC","x":{}}}]}}"#, nested(100_000));
    assert_code(KeySet::from_jwks(deep.as_bytes()), JWKS_INVALID);
    // Huge e.
    let set = keys_from(&jwks(&[
        json!({"kty": "RSA", "kid": KID_RSA, "n": rfc7520_rsa::N, "e": b64(&[0xff; 4096])}),
    ]));
    assert!(set.is_empty());
}

#[test]
fn a23_revocation_list_limits() {
    let start = Instant::now();
    let mut big = vec![b' '; 9 << 20];
    big[0] = b'{';
    *big.last_mut().unwrap() = b'}';
    assert_code(RevocationList::from_json(&big), REVOCATION_INVALID);
    let deep = format!(
        r#"{{"iss":"x","epoch":1,"generated_at":1,"kid":{}}}"#,
        nested(100_000)
    );
    assert_code(
        RevocationList::from_json(deep.as_bytes()),
        REVOCATION_INVALID,
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

// ===========================================================================
// §24 exp / nbf / iat
// ===========================================================================

fn with_claim(name: &str, v: Value) -> String {
    token_kid(KID_EC, &claims_with(name, Some(v)), &ec())
}

fn verify_at(token: &str, policy: &Policy, now: u64) -> jwt_edge::Result<jwt_edge::Verified> {
    verify(token, &standard_keys(), policy, now)
}

#[test]
fn a24_numeric_date_types() {
    assert_ok(verify_std(&good_es256()));
    for name in ["exp", "nbf", "iat"] {
        for bad in [
            json!("1700003600"),
            json!(null),
            json!(true),
            json!([]),
            json!([NOW + 3600]),
            json!({}),
            json!(-1),
            json!(-0.5),
            json!(18_446_744_073_709_551_615u64),
            json!(9_223_372_036_854_775_807i64),
            json!(253_402_300_800u64),
            json!(1e300),
        ] {
            let t = with_claim(name, bad.clone());
            assert_claim(verify_std(&t), CLAIM, name, ClaimReason::Invalid);
        }
    }
    // Literal out-of-range integers (beyond u64 / i64).
    let header = r#"{"alg":"ES256","kid":"ec-1"}"#;
    for lit in [
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775809",
        "253402300800",
    ] {
        let p = format!(r#"{{"sub":"a","exp":{lit}}}"#);
        assert_claim(
            verify_std(&token_raw(header, &p, &ec())),
            CLAIM,
            "exp",
            ClaimReason::Invalid,
        );
    }
    // 1e400 is not a finite JSON number: the claims set does not parse.
    let p = r#"{"sub":"a","exp":1e400}"#;
    assert_code(verify_std(&token_raw(header, p, &ec())), JWT_INVALID);
    // The largest accepted NumericDate.
    assert_ok(verify_std(&with_claim("exp", json!(253_402_300_799u64))));
    assert_eq!(jwt_edge::MAX_NUMERIC_DATE, 253_402_300_799.0);
}

#[test]
fn a24_exp_boundary_and_fractions() {
    let policy = policy_all();
    let exp = NOW + 100;
    let t = with_claim("exp", json!(exp));
    assert_ok(verify_at(&t, &policy, exp - 1));
    assert_claim(
        verify_at(&t, &policy, exp),
        EXPIRED,
        "exp",
        ClaimReason::CheckFailed,
    );
    assert_code(verify_at(&t, &policy, exp + 1), EXPIRED);
    assert_code(verify_at(&t, &policy, u64::MAX), EXPIRED);
    // Float with a fraction: valid until the fraction has passed.
    let t = with_claim("exp", json!(exp as f64 + 0.5));
    assert_ok(verify_at(&t, &policy, exp));
    assert_code(verify_at(&t, &policy, exp + 1), EXPIRED);
    // Float without a fraction behaves like the integer.
    let t = with_claim("exp", json!(exp as f64));
    assert_ok(verify_at(&t, &policy, exp - 1));
    assert_code(verify_at(&t, &policy, exp), EXPIRED);
    // 1.7e9 == NOW: expired at NOW.
    let t = with_claim("exp", json!(1.7e9));
    assert_code(verify_at(&t, &policy, NOW), EXPIRED);
    // Leeway.
    let t = with_claim("exp", json!(exp));
    let lenient = policy_all().leeway(60);
    assert_ok(verify_at(&t, &lenient, exp + 59));
    assert_code(verify_at(&t, &lenient, exp + 60), EXPIRED);
}

#[test]
fn a24_exp_required_by_default() {
    let t = token_kid(KID_EC, &claims_with("exp", None), &ec());
    assert_claim(verify_std(&t), CLAIM, "exp", ClaimReason::Missing);
    assert_ok(verify_with(
        &t,
        &standard_keys(),
        &policy_all().require_exp(false),
    ));
}

#[test]
fn a24_nbf_and_iat() {
    let policy = policy_all();
    let nbf = NOW + 100;
    let t = with_claim("nbf", json!(nbf));
    assert_ok(verify_at(&t, &policy, nbf));
    assert_claim(
        verify_at(&t, &policy, nbf - 1),
        CLAIM,
        "nbf",
        ClaimReason::CheckFailed,
    );
    assert_ok(verify_at(&t, &policy_all().leeway(10), nbf - 10));
    assert_code(verify_at(&t, &policy_all().leeway(10), nbf - 11), CLAIM);
    // Far-future nbf.
    let t = with_claim("nbf", json!(253_402_300_799u64));
    assert_claim(verify_std(&t), CLAIM, "nbf", ClaimReason::CheckFailed);
    // nbf after exp: never valid.
    let mut c = good_claims();
    c["nbf"] = json!(NOW + 10);
    c["exp"] = json!(NOW + 5);
    let t = token_kid(KID_EC, &c, &ec());
    for now in [NOW, NOW + 5, NOW + 7, NOW + 10] {
        assert!(verify_at(&t, &policy, now).is_err());
    }
    // iat in the future.
    let iat = NOW + 100;
    let t = with_claim("iat", json!(iat));
    assert_ok(verify_at(&t, &policy, iat));
    assert_claim(
        verify_at(&t, &policy, iat - 1),
        CLAIM,
        "iat",
        ClaimReason::CheckFailed,
    );
    assert_ok(verify_at(&t, &policy_all().leeway(5), iat - 5));
    // Maximum age.
    let aged = policy_all().max_token_age(300);
    let t = with_claim("iat", json!(NOW - 300));
    assert_ok(verify_at(&t, &aged, NOW));
    assert_claim(
        verify_at(&t, &aged, NOW + 1),
        EXPIRED,
        "iat",
        ClaimReason::CheckFailed,
    );
    let t = token_kid(KID_EC, &claims_with("iat", None), &ec());
    assert_claim(
        verify_at(&t, &aged, NOW),
        CLAIM,
        "iat",
        ClaimReason::Missing,
    );
}

// ===========================================================================
// §25 aud / iss
// ===========================================================================

#[test]
fn a25_audience() {
    let policy = policy_all().audience(AUD);
    let check = |aud: Option<Value>| {
        verify_with(
            &token_kid(KID_EC, &claims_with("aud", aud), &ec()),
            &standard_keys(),
            &policy,
        )
    };
    assert_ok(check(Some(json!(AUD))));
    assert_ok(check(Some(json!([AUD]))));
    assert_ok(check(Some(json!(["other", AUD]))));
    for (aud, reason) in [
        (json!([]), ClaimReason::CheckFailed),
        (json!(""), ClaimReason::CheckFailed),
        (json!("API"), ClaimReason::CheckFailed),
        (json!("api "), ClaimReason::CheckFailed),
        (json!("https://api"), ClaimReason::CheckFailed),
        (json!(["other"]), ClaimReason::CheckFailed),
        (json!(["API", "Api"]), ClaimReason::CheckFailed),
        (json!([123]), ClaimReason::Invalid),
        (json!([["api"]]), ClaimReason::Invalid),
        (json!([AUD, 123]), ClaimReason::Invalid),
        (json!([AUD, null]), ClaimReason::Invalid),
        (json!(null), ClaimReason::Invalid),
        (json!(123), ClaimReason::Invalid),
        (json!({"api": true}), ClaimReason::Invalid),
        (json!(true), ClaimReason::Invalid),
    ] {
        assert_claim(check(Some(aud.clone())), CLAIM, "aud", reason);
    }
    assert_claim(check(None), CLAIM, "aud", ClaimReason::Missing);
    // Several accepted audiences.
    let two = policy_all().audience("a").audience("b");
    let t = token_kid(KID_EC, &claims_with("aud", Some(json!(["x", "b"]))), &ec());
    assert_ok(verify_with(&t, &standard_keys(), &two));
}

#[test]
fn a25_issuer_exact() {
    let policy = policy_all().issuer(ISS);
    let check = |iss: Option<Value>| {
        verify_with(
            &token_kid(KID_EC, &claims_with("iss", iss), &ec()),
            &standard_keys(),
            &policy,
        )
    };
    assert_ok(check(Some(json!(ISS))));
    for iss in [
        "https://issuer.example/",
        "http://issuer.example",
        "HTTPS://ISSUER.EXAMPLE",
        "https://issuer.example.evil",
        "https://issuer.example ",
        "",
    ] {
        assert_claim(
            check(Some(json!(iss))),
            CLAIM,
            "iss",
            ClaimReason::CheckFailed,
        );
    }
    for bad in [json!(123), json!([ISS]), json!(null)] {
        assert_claim(check(Some(bad)), CLAIM, "iss", ClaimReason::Invalid);
    }
    assert_claim(check(None), CLAIM, "iss", ClaimReason::Missing);
}

#[test]
fn a25_subject_exact() {
    let policy = policy_all().subject("user-1");
    let check = |sub: Option<Value>| {
        verify_with(
            &token_kid(KID_EC, &claims_with("sub", sub), &ec()),
            &standard_keys(),
            &policy,
        )
    };
    assert_ok(check(Some(json!("user-1"))));
    assert_claim(
        check(Some(json!("user-2"))),
        CLAIM,
        "sub",
        ClaimReason::CheckFailed,
    );
    assert_claim(
        check(Some(json!("USER-1"))),
        CLAIM,
        "sub",
        ClaimReason::CheckFailed,
    );
    assert_claim(check(Some(json!(1))), CLAIM, "sub", ClaimReason::Invalid);
    assert_claim(check(None), CLAIM, "sub", ClaimReason::Missing);
}

// ===========================================================================
// §26 typ / cross-JWT confusion
// ===========================================================================

#[test]
fn a26_typ_explicit_typing() {
    let policy = policy_all().typ("at+jwt");
    let with_typ = |typ: Option<Value>| {
        let mut h = json!({"alg": "ES256", "kid": KID_EC});
        if let Some(t) = typ {
            h["typ"] = t;
        }
        verify_with(&es256_with_header(&h), &standard_keys(), &policy)
    };
    for ok in [
        "at+jwt",
        "AT+JWT",
        "At+Jwt",
        "application/at+jwt",
        "application/AT+JWT",
        "APPLICATION/at+jwt",
    ] {
        assert_ok(with_typ(Some(json!(ok))));
    }
    for bad in [
        "JWT",
        "jwt",
        "at+jwt ",
        " at+jwt",
        "logout+jwt",
        "id_token+jwt",
        "application/jwt",
        "application/application/at+jwt",
        "text/at+jwt",
        "at+jwt/x",
        "",
    ] {
        assert_claim(
            with_typ(Some(json!(bad))),
            CLAIM,
            "typ",
            ClaimReason::CheckFailed,
        );
    }
    assert_claim(with_typ(None), CLAIM, "typ", ClaimReason::Missing);
    // typ must be a string at all.
    assert_code(with_typ(Some(json!(1))), JWS_INVALID);
    assert_code(with_typ(Some(json!(["at+jwt"]))), JWS_INVALID);
    // The policy's own value is normalised the same way.
    let p2 = policy_all().typ("application/AT+JWT");
    let t = es256_with_header(&json!({"alg": "ES256", "kid": KID_EC, "typ": "at+jwt"}));
    assert_ok(verify_with(&t, &standard_keys(), &p2));
}

#[test]
fn a26_id_token_presented_as_access_token() {
    let policy = policy_all().typ("at+jwt").audience(AUD);
    let access = es256_with_header(&json!({"alg": "ES256", "kid": KID_EC, "typ": "at+jwt"}));
    assert_ok(verify_with(&access, &standard_keys(), &policy));
    // An OIDC ID token: typ JWT, aud = client id, nonce. Same key.
    let mut id_claims = good_claims();
    id_claims["aud"] = json!("client-123");
    id_claims["nonce"] = json!("n-0S6_WzA2Mj");
    let id_token = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "JWT"}),
        &id_claims,
        &ec(),
    );
    assert_claim(
        verify_with(&id_token, &standard_keys(), &policy),
        CLAIM,
        "typ",
        ClaimReason::CheckFailed,
    );
    // Even if it claimed at+jwt, the audience does not match.
    let relabelled = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "at+jwt"}),
        &id_claims,
        &ec(),
    );
    assert_claim(
        verify_with(&relabelled, &standard_keys(), &policy),
        CLAIM,
        "aud",
        ClaimReason::CheckFailed,
    );
    // A logout token (events, no exp requirement in some profiles).
    let logout = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "logout+jwt"}),
        &json!({"iss": ISS, "aud": AUD, "iat": NOW, "exp": NOW + 60, "jti": "l-1",
                "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
        &ec(),
    );
    assert_claim(
        verify_with(&logout, &standard_keys(), &policy),
        CLAIM,
        "typ",
        ClaimReason::CheckFailed,
    );
}

fn revocation_list_json(epoch: u64) -> Value {
    json!({
        "iss": ISS,
        "epoch": epoch,
        "generated_at": NOW,
        "jti": [{"jti": "tok-revoked", "exp": NOW + 3600}],
        "sub": [{"sub": "user-revoked", "before": NOW - 10}],
        "kid": ["rsa-1"],
    })
}

fn signed_revocation_list(epoch: u64, typ: &str) -> String {
    token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": typ}),
        &revocation_list_json(epoch),
        &ec(),
    )
}

#[test]
fn a26_revocation_list_presented_as_access_token_refused() {
    let keys = standard_keys();
    let policy = policy_all();
    let list = signed_revocation_list(1, "revocation-list+jwt");
    // It is a valid signed revocation list...
    assert!(verify_revocation_list(&list, &keys, &policy).is_ok());
    // ...and never an access token, whatever its payload.
    assert_code(verify_with(&list, &keys, &policy), JWS_INVALID);
    for typ in [
        "revocation-list+jwt",
        "application/revocation-list+jwt",
        "REVOCATION-LIST+JWT",
    ] {
        let t = es256_with_header(&json!({"alg": "ES256", "kid": KID_EC, "typ": typ}));
        assert_code(verify_with(&t, &keys, &policy), JWS_INVALID);
        assert_code(verify_with(&t, &keys, &policy_all().typ(typ)), JWS_INVALID);
    }
    // Conversely an access token is not a revocation list.
    let access = es256_with_header(&json!({"alg": "ES256", "kid": KID_EC, "typ": "at+jwt"}));
    assert_code(verify_revocation_list(&access, &keys, &policy), JWS_INVALID);
    assert_code(
        verify_revocation_list(&good_es256(), &keys, &policy),
        JWS_INVALID,
    );
}

// ===========================================================================
// Revocation (jti, sub, kid, signed lists, epochs)
// ===========================================================================

fn policy_with_list(list: &Value) -> Policy {
    let mut policy = policy_all();
    install_revocations(&list.to_string(), &standard_keys(), &mut policy).unwrap();
    policy
}

#[test]
fn revocation_by_jti() {
    let policy = policy_with_list(&revocation_list_json(1));
    assert_ok(verify_with(&good_es256(), &standard_keys(), &policy));
    let t = with_claim("jti", json!("tok-revoked"));
    let e = assert_code(verify_with(&t, &standard_keys(), &policy), REVOKED);
    assert_eq!(e.revocation_reason(), Some(RevocationReason::Jti));
    // The same jti from another issuer is not revoked (lists are per issuer).
    let mut c = claims_with("jti", Some(json!("tok-revoked")));
    c["iss"] = json!("https://other.example");
    assert_ok(verify_with(
        &token_kid(KID_EC, &c, &ec()),
        &standard_keys(),
        &policy,
    ));
    // A non-string jti is invalid, not "not revoked".
    assert_claim(
        verify_with(&with_claim("jti", json!(1)), &standard_keys(), &policy),
        CLAIM,
        "jti",
        ClaimReason::Invalid,
    );
}

#[test]
fn revocation_by_sub_before_iat() {
    let policy = policy_with_list(&revocation_list_json(1));
    let before = NOW - 10;
    let mut c = claims_with("sub", Some(json!("user-revoked")));
    c["iat"] = json!(before);
    assert_ok(verify_with(
        &token_kid(KID_EC, &c, &ec()),
        &standard_keys(),
        &policy,
    ));
    c["iat"] = json!(before - 1);
    let e = assert_code(
        verify_with(&token_kid(KID_EC, &c, &ec()), &standard_keys(), &policy),
        REVOKED,
    );
    assert_eq!(e.revocation_reason(), Some(RevocationReason::Sub));
    // No iat counts as 0: revoked.
    c.as_object_mut().unwrap().remove("iat");
    let e = assert_code(
        verify_with(&token_kid(KID_EC, &c, &ec()), &standard_keys(), &policy),
        REVOKED,
    );
    assert_eq!(e.revocation_reason(), Some(RevocationReason::Sub));
    // Fractional iat just below the cut-off.
    c["iat"] = json!(before as f64 - 0.5);
    assert_code(
        verify_with(&token_kid(KID_EC, &c, &ec()), &standard_keys(), &policy),
        REVOKED,
    );
}

#[test]
fn revocation_by_kid() {
    let policy = policy_with_list(&revocation_list_json(1));
    assert_ok(verify_with(&good_es256(), &standard_keys(), &policy));
    let t = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256));
    let e = assert_code(verify_with(&t, &standard_keys(), &policy), REVOKED);
    assert_eq!(e.revocation_reason(), Some(RevocationReason::Kid));
    // The kid revocation holds whatever the token's issuer.
    let mut c = good_claims();
    c["iss"] = json!("https://other.example");
    let t = token_kid(KID_RSA, &c, &rsa(Algorithm::RS256));
    assert_code(verify_with(&t, &standard_keys(), &policy), REVOKED);
    // A kidless token verified by the revoked key is revoked too.
    let keys = keys_from(&jwks(&[rsa_jwk(KID_RSA)]));
    let t = token(
        &json!({"alg": "RS256"}),
        &good_claims(),
        &rsa(Algorithm::RS256),
    );
    assert_code(verify_with(&t, &keys, &policy), REVOKED);
}

#[test]
fn revocation_signed_list_verified_against_keyset() {
    let keys = standard_keys();
    let mut policy = policy_all();
    let signed = signed_revocation_list(1, "revocation-list+jwt");
    let list = verify_revocation_list(&signed, &keys, &policy).unwrap();
    assert_eq!(list.issuer(), ISS);
    assert_eq!(list.epoch(), 1);
    install_revocations(&signed, &keys, &mut policy).unwrap();
    assert_code(
        verify_with(&with_claim("jti", json!("tok-revoked")), &keys, &policy),
        REVOKED,
    );
    // Tampered signature, attacker key, unknown kid, wrong typ.
    let mut sig = signature_of(&signed);
    sig[5] ^= 1;
    let tampered = with_signature(&signed, &sig);
    assert_code(
        verify_revocation_list(&tampered, &keys, &policy),
        SIG_FAILED,
    );
    let forged = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "revocation-list+jwt"}),
        &revocation_list_json(2),
        &attacker_ec(),
    );
    assert_code(verify_revocation_list(&forged, &keys, &policy), SIG_FAILED);
    let mut p2 = policy_all();
    assert_code(install_revocations(&forged, &keys, &mut p2), SIG_FAILED);
    let unknown = token(
        &json!({"alg": "ES256", "kid": "attacker", "typ": "revocation-list+jwt"}),
        &revocation_list_json(2),
        &attacker_ec(),
    );
    assert_code(verify_revocation_list(&unknown, &keys, &policy), NO_KEY);
    assert_code(
        verify_revocation_list(&signed_revocation_list(1, "JWT"), &keys, &policy),
        JWS_INVALID,
    );
    // The pending/finish split keeps the two purposes apart.
    let pending = begin_revocation_list(&signed, &keys, &policy).unwrap();
    assert_code(finish(pending, Some(0), NOW), JWS_INVALID);
    let access = good_es256();
    let pending = begin(&access, &keys, &policy).unwrap();
    assert_code(finish_revocation_list(pending, Some(0)), JWS_INVALID);
    let pending = begin_revocation_list(&signed, &keys, &policy).unwrap();
    assert_code(finish_revocation_list(pending, None), SIG_FAILED);
    // Payload not matching the schema.
    let bad = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "revocation-list+jwt"}),
        &json!({"iss": ISS, "epoch": 1, "generated_at": NOW, "extra": 1}),
        &ec(),
    );
    assert_code(
        verify_revocation_list(&bad, &keys, &policy),
        REVOCATION_INVALID,
    );
}

#[test]
fn revocation_lower_epoch_refused() {
    let keys = standard_keys();
    let mut policy = policy_all();
    install_revocations(
        &signed_revocation_list(5, "revocation-list+jwt"),
        &keys,
        &mut policy,
    )
    .unwrap();
    let revoked = with_claim("jti", json!("tok-revoked"));
    assert_code(verify_with(&revoked, &keys, &policy), REVOKED);
    // A replayed older list (signed or not) that would un-revoke everything.
    let mut empty_old = revocation_list_json(4);
    empty_old["jti"] = json!([]);
    let old_signed = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "revocation-list+jwt"}),
        &empty_old,
        &ec(),
    );
    assert_code(
        install_revocations(&old_signed, &keys, &mut policy),
        REVOCATION_INVALID,
    );
    assert_code(
        install_revocations(&empty_old.to_string(), &keys, &mut policy),
        REVOCATION_INVALID,
    );
    assert_code(verify_with(&revoked, &keys, &policy), REVOKED);
    // The same or a newer epoch replaces the list.
    let mut empty_new = revocation_list_json(5);
    empty_new["jti"] = json!([]);
    install_revocations(&empty_new.to_string(), &keys, &mut policy).unwrap();
    assert_ok(verify_with(&revoked, &keys, &policy));
    assert_eq!(policy.revocations().get(ISS).unwrap().epoch(), 5);
}

#[test]
fn revocation_list_json_is_strict() {
    let list = revocation_list_json(1);
    let compact = RevocationList::from_json(list.to_string().as_bytes()).unwrap();
    assert!(!compact.is_empty());
    let pretty = serde_json::to_string_pretty(&list).unwrap();
    assert_eq!(
        RevocationList::from_json(format!(" \n{pretty}\t\r\n").as_bytes()).unwrap(),
        compact
    );
    for bad in [
        r#"{"iss":"x","epoch":1}"#.to_string(),
        r#"{"iss":"x","epoch":-1,"generated_at":1}"#.to_string(),
        r#"{"iss":"x","epoch":"1","generated_at":1}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"unknown":1}"#.to_string(),
        r#"{"iss":"x","iss":"y","epoch":1,"generated_at":1}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"jti":[{"jti":"a"}]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"kid":[1]}"#.to_string(),
        r#"{"iss":"x","epoch":1.5,"generated_at":1}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"jti":[{"jti":"a","jti":"b","exp":1}]}"#
            .to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"jti":[],"jti":[]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"kid":[],"kid":[]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"sub":[{"sub":"a","before":1,"x":2}]}"#
            .to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"jti":[{"jti":"a","exp":1},]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"jti":{"jti":"a","exp":1}}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"sub":["a"]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"kid":["a"]"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1} {}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"kid":["a" "b"]}"#.to_string(),
        r#"[]"#.to_string(),
        String::new(),
    ] {
        assert_code(
            RevocationList::from_json(bad.as_bytes()),
            REVOCATION_INVALID,
        );
    }
}

// ===========================================================================
// §27 API misuse: claims only come out of verify / finish
// ===========================================================================

// `Pending` has no accessor for the claims (only the untrusted header, the
// algorithm, the candidate keys, the signing input and the signature): that
// is enforced by the type, not testable at run time. `inspect` is the only
// unverified decoder and is documented as never to be used for decisions.

#[test]
fn a27_finish_without_a_verified_key_never_yields_claims() {
    let keys = standard_keys();
    let policy = policy_all();
    let good = good_es256();
    let pending = begin(&good, &keys, &policy).unwrap();
    assert_eq!(pending.alg(), Algorithm::ES256);
    assert_eq!(pending.signing_input(), signing_input_of(&good).as_bytes());
    assert_eq!(pending.signature(), &signature_of(&good)[..]);
    assert_eq!(pending.check_signature().unwrap(), Some(0));
    // Before finish, only the (untrusted) header is decoded.
    assert!(!pending.header().contains_key("sub"));
    assert_eq!(pending.header().len(), 2);
    // The same valid token, but the caller reports no verifying key.
    assert_code(finish(pending, None, NOW), SIG_FAILED);
    // An index that is not a candidate.
    for i in [1, 2, usize::MAX] {
        let pending = begin(&good, &keys, &policy).unwrap();
        assert_code(finish(pending, Some(i), NOW), SIG_FAILED);
    }
    // A tampered token: the backends find no key, and finish refuses.
    let mut sig = signature_of(&good);
    sig[0] ^= 1;
    let tampered = with_signature(&good, &sig);
    let pending = begin(&tampered, &keys, &policy).unwrap();
    let verified_by = pending.check_signature().unwrap();
    assert_eq!(verified_by, None);
    assert_code(finish(pending, verified_by, NOW), SIG_FAILED);
    // Control: the honest path yields the claims.
    let pending = begin(&good, &keys, &policy).unwrap();
    let v = assert_ok(finish(pending, Some(0), NOW));
    assert_eq!(v.claims["sub"], json!("user-1"));
    assert_eq!(v.kid.as_deref(), Some(KID_EC));
}

#[test]
fn a27_claims_are_checked_before_they_are_returned() {
    // Even with the signature reported valid, finish validates the claims.
    let keys = standard_keys();
    let policy = policy_all();
    let expired = with_claim("exp", json!(NOW - 1));
    let pending = begin(&expired, &keys, &policy).unwrap();
    assert_eq!(pending.check_signature().unwrap(), Some(0));
    assert_code(finish(pending, Some(0), NOW), EXPIRED);
}

// ===========================================================================
// §28 JWKS fetch / refresh abuse
// ===========================================================================

// Fetching, caching and refresh rate limits belong to the remote-JWKS layer
// (not in this crate yet). At this layer: only an unknown kid is "retryable"
// (the one error a refresh could fix), verification never mutates the key
// set, and a failed JWKS update leaves the held keys untouched.

#[test]
fn a28_only_unknown_kid_is_retryable() {
    let keys = standard_keys();
    let policy = policy_all();
    let unknown = token_kid("rotated-key", &good_claims(), &ec());
    assert!(assert_code(verify_with(&unknown, &keys, &policy), NO_KEY).retryable());
    let mut sig = signature_of(&good_es256());
    sig[3] ^= 1;
    let not_retryable = [
        with_signature(&good_es256(), &sig),
        with_claim("exp", json!(NOW - 1)),
        es256_with_header(&json!({"alg": "none"})),
        "garbage".to_string(),
    ];
    for t in not_retryable {
        let e = verify_with(&t, &keys, &policy).unwrap_err();
        assert!(!e.retryable(), "{e}");
    }
    // Many random kids: each is just NO_MATCHING_KEY; the set is unchanged.
    for i in 0..200 {
        let t = token_kid(&format!("random-{i}"), &good_claims(), &ec());
        assert_code(verify_with(&t, &keys, &policy), NO_KEY);
    }
    assert_eq!(keys.keys().len(), 5);
    assert_ok(verify_with(&good_es256(), &keys, &policy));
}

#[test]
fn a28_failed_jwks_update_keeps_held_keys() {
    let mut keys = keys_from(&jwks(&[ec().jwk(KID_EC)]));
    let policy = policy_all();
    assert_ok(verify_with(&good_es256(), &keys, &policy));
    let too_many: Vec<Value> = (0..101)
        .map(|i| attacker_ec().jwk(&format!("a{i}")))
        .collect();
    for bad in [
        b"not json".to_vec(),
        b"{}".to_vec(),
        jwks(&too_many),
        vec![b' '; 300 * 1024],
    ] {
        assert_code(keys.add_jwks(&bad), JWKS_INVALID);
        assert_eq!(keys.keys().len(), 1);
        assert!(keys.issues().is_empty());
        assert_ok(verify_with(&good_es256(), &keys, &policy));
    }
    // An update that publishes the attacker's key under the same kid makes
    // the kid ambiguous; it never silently replaces the held key.
    keys.add_jwks(&jwks(&[attacker_ec().jwk(KID_EC)])).unwrap();
    let forged = token_kid(KID_EC, &good_claims(), &attacker_ec());
    assert_code(verify_with(&forged, &keys, &policy), MULTIPLE);
    assert_code(verify_with(&good_es256(), &keys, &policy), MULTIPLE);
}
