//! The fuzz harness bodies, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`,
//! nightly + libFuzzer) and the stable fallback (`tests/fuzz_fallback.rs`, random and
//! mutated inputs on a fixed seed). Each target is a few lines over the public API;
//! a panic anywhere (including a failed invariant below) is a finding.
//!
//! The seed corpus is generated, not committed: the RFC 7515/8037 compact examples,
//! every compact JWS of the Wycheproof `json_web_*` files and the RFC 7520 cookbook
//! (from `tests/vectors`), and hand-made attack-catalog inputs (see `seeds`).
#![allow(dead_code)]

use hmac::{Hmac, Mac};
use jwt_edge::{Algorithm, KeySet, Policy, RevocationList};
use sha2::Sha256;

/// The time every target verifies at (2023-11-14T22:13:20Z).
pub const NOW: u64 = 1_700_000_000;
/// Issuer and audience required by the `verify_signed` policy.
pub const ISS: &str = "https://issuer.example";
pub const AUD: &str = "api";
/// `kid` of the HMAC key that `verify_signed` signs with.
pub const SIGNED_KID: &str = "fz";
/// The HMAC secret of `verify_signed` (32 bytes, exactly the HS256 minimum).
pub const SIGNED_SECRET: &[u8; 32] = b"fuzz-harness-hmac-secret-32bytes";
/// Separates the header from the payload in a `verify_signed` input (never valid
/// in UTF-8, so never inside valid JSON text).
pub const SPLIT: u8 = 0xFF;
/// The names of the targets, in order.
pub const TARGETS: [&str; 6] = [
    "verify_token",
    "verify_signed",
    "jwks",
    "revocation",
    "inspect",
    "dpop_request",
];

/// RFC 7515 A.1 HMAC key (`k`, base64url).
pub const RFC_HS_K: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

/// The fixed public JWKS of `verify_token`: RFC 7515 A.2 (RSA), A.3 (P-256),
/// A.4 (P-521) and RFC 8037 A.2 (Ed25519), none with a `kid`, so every
/// algorithm fits exactly one key; the RFC examples verify against it.
pub const FIXED_JWKS: &str = r#"{"keys":[
{"kty":"RSA","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"},
{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
{"kty":"EC","crv":"P-521","x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk","y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"},
{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
]}"#;

/// The RFC 7515 A.1–A.4 and RFC 8037 A.4 compact examples (all verify against
/// [`FIXED_JWKS`] plus the A.1 HMAC key).
pub const RFC_TOKENS: [&str; 5] = [
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw",
    "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
    "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn",
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
];

/// A time before the RFC examples' `exp` (2011-03-22), so they verify fully.
pub const RFC_NOW: u64 = 1_300_000_000;

// ---------------------------------------------------------------------------
// fixtures
// ---------------------------------------------------------------------------

/// Lenient base64url decoding (test side only; the library's decoder is strict).
pub fn b64_decode_lenient(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// HMAC-SHA256.
pub fn hs256(secret: &[u8], msg: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return Vec::new();
    };
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// A compact HS256 JWS over raw header and payload bytes.
pub fn sign_hs256(secret: &[u8], header: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        jwt_edge::b64url_encode(header),
        jwt_edge::b64url_encode(payload)
    );
    let sig = hs256(secret, input.as_bytes());
    format!("{input}.{}", jwt_edge::b64url_encode(&sig))
}

/// The key set of `verify_token`: [`FIXED_JWKS`] plus the RFC 7515 A.1 HMAC key.
pub fn fixed_keys() -> KeySet {
    let mut keys = KeySet::from_jwks(FIXED_JWKS.as_bytes()).unwrap_or_default();
    let _ = keys.add_hmac_secret(&b64_decode_lenient(RFC_HS_K), None, None);
    keys
}

/// The policy of `verify_token`: every algorithm, `exp` optional, defaults otherwise.
pub fn fixed_policy() -> Policy {
    Policy::new().algorithms(Algorithm::ALL).require_exp(false)
}

/// The key set of `verify_signed` and `revocation`: one HMAC key with a `kid`.
pub fn signed_keys() -> KeySet {
    let mut keys = KeySet::new();
    let _ = keys.add_hmac_secret(SIGNED_SECRET, Some(SIGNED_KID), Some(Algorithm::HS256));
    keys
}

/// The revocation list installed in the `verify_signed` policy.
pub const SIGNED_REVOCATIONS: &str = r#"{"iss":"https://issuer.example","epoch":7,"generated_at":1700000000,"revoked":{"jti":[{"jti":"revoked-jti","exp":1800000000}],"sub":[{"sub":"revoked-sub","before":1700000000}],"kid":["retired-kid"]}}"#;

/// The policy of `verify_signed`: HS256 only, issuer, audience, typ, leeway,
/// maximum age, a scope, and a revocation list.
pub fn signed_policy() -> Policy {
    let mut p = Policy::new()
        .algorithms([Algorithm::HS256])
        .issuer(ISS)
        .audience(AUD)
        .leeway(5)
        .max_token_age(86_400)
        .scope("read");
    if let Ok(list) = RevocationList::from_json(SIGNED_REVOCATIONS.as_bytes()) {
        let _ = p.revocations_mut().insert(list);
    }
    p
}

/// The default header of a `verify_signed` input without [`SPLIT`].
pub const SIGNED_HEADER: &str = r#"{"alg":"HS256","kid":"fz"}"#;

/// A token that `verify_signed`'s key set and policy accept at [`NOW`].
pub fn good_signed_token() -> String {
    sign_hs256(
        SIGNED_SECRET,
        SIGNED_HEADER.as_bytes(),
        good_claims().as_bytes(),
    )
}

/// Claims that pass `signed_policy` at [`NOW`].
pub fn good_claims() -> String {
    format!(
        r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"user-1","jti":"j-1","iat":{},"exp":{},"scope":"read write"}}"#,
        NOW - 60,
        NOW + 600
    )
}

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

// ---------------------------------------------------------------------------
// the targets
// ---------------------------------------------------------------------------

/// Dispatches to a target by name (false if the name is unknown).
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "verify_token" => verify_token(data),
        "verify_signed" => verify_signed(data),
        "jwks" => jwks(data),
        "revocation" => revocation(data),
        "inspect" => inspect(data),
        "dpop_request" => dpop_request(data),
        _ => return false,
    }
    true
}

/// A whole request (DPoP, RFC 9449): `Authorization`, `DPoP`, method and URL
/// (the input's parts between 0xFF bytes; the last two default to `GET` and
/// a fixed URL) through `Validator::verify_request` with DPoP allowed and
/// nonces on. Every rule of the proof runs before its signature, so the
/// header parsing, the proof's JSON, the `jwk`, the `htu` normalisation and
/// the nonce check see the fuzzer's bytes; the answer must be a challenge,
/// never a panic, and a request is accepted only with a valid signature.
pub fn dpop_request(data: &[u8]) {
    let parts: Vec<String> = data
        .split(|&b| b == SPLIT)
        .map(|p| text(p).into_owned())
        .collect();
    let get = |i: usize, default: &str| parts.get(i).cloned().unwrap_or_else(|| default.into());
    let auth = get(0, "");
    let proof = get(1, "");
    let method = get(2, "GET");
    let url = get(3, "https://api.example/resource");
    let config = jwt_edge::DpopConfig::new()
        .nonce_secret(SIGNED_SECRET)
        .expect("a 32-byte secret");
    let asymmetric = Algorithm::ALL.into_iter().filter(|a| !a.is_symmetric());
    let policy = Policy::new().algorithms(asymmetric).require_exp(false);
    let mut v = jwt_edge::Validator::builder(policy)
        .keys(KeySet::from_jwks(FIXED_JWKS.as_bytes()).unwrap_or_default())
        .dpop(config)
        .build()
        .expect("the fixed validator builds");
    let authorization: Vec<&str> = if auth.is_empty() {
        vec![]
    } else {
        vec![auth.as_str()]
    };
    let dpop: Vec<&str> = if proof.is_empty() {
        vec![]
    } else {
        vec![proof.as_str()]
    };
    let parts = jwt_edge::RequestParts {
        authorization: &authorization,
        dpop: &dpop,
        method: &method,
        url: &url,
    };
    match v.verify_request(&parts, NOW) {
        Ok(_) => panic!("a request without any valid signature was accepted"),
        Err(r) => {
            assert!(matches!(r.challenge.status, 400 | 401 | 403 | 500 | 503));
            if let Some(w) = &r.challenge.www_authenticate {
                assert!(w.bytes().all(|b| (0x20..0x7f).contains(&b)), "{w:?}");
            }
        }
    }
    let _ = jwt_edge::dpop::normalize_htu(&url);
}

/// Untrusted token text against the fixed JWKS and policy, through `verify` and
/// through `begin`/`check_signature`/`finish`: both must give the same answer.
pub fn verify_token(data: &[u8]) {
    thread_local! {
        static FIXTURE: (KeySet, Policy) = (fixed_keys(), fixed_policy());
    }
    let token = text(data);
    FIXTURE.with(|(keys, policy)| {
        for now in [NOW, RFC_NOW] {
            let one = jwt_edge::verify(&token, keys, policy, now);
            let split = jwt_edge::begin(&token, keys, policy).and_then(|p| {
                let by = p.check_signature()?;
                jwt_edge::finish(p, by, now)
            });
            match (&one, &split) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "verify and begin/finish disagree"),
                (Err(a), Err(b)) => {
                    assert_eq!(a.code(), b.code(), "verify and begin/finish disagree")
                }
                _ => panic!("verify and begin/finish disagree: {one:?} vs {split:?}"),
            }
            if let Ok(v) = one {
                assert!(token.len() <= 16 * 1024, "accepted an over-long token");
                assert!(policy.allowed_algorithms().contains(&v.alg));
                assert_eq!(
                    v.header.get("alg").and_then(|a| a.as_str()),
                    Some(v.alg.name())
                );
            }
        }
        // A caller reporting an out-of-range key index must get an error, not a panic.
        if let Ok(p) = jwt_edge::begin(&token, keys, policy) {
            let n = p.keys().len();
            let _ = jwt_edge::finish(p, Some(n + data.len() % 3), NOW);
        }
    });
}

/// Header and claims bytes (split at 0xFF; without it, the bytes are the claims
/// under a fixed header), signed with the policy's HMAC key, so the fuzzer reaches
/// claim validation and revocation. Whatever is accepted must satisfy the policy.
pub fn verify_signed(data: &[u8]) {
    thread_local! {
        static FIXTURE: (KeySet, Policy) = (signed_keys(), signed_policy());
    }
    let (header, payload) = match data.iter().position(|&b| b == SPLIT) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (SIGNED_HEADER.as_bytes(), data),
    };
    let token = sign_hs256(SIGNED_SECRET, header, payload);
    FIXTURE.with(|(keys, policy)| {
        let Ok(v) = jwt_edge::verify(&token, keys, policy, NOW) else {
            return;
        };
        let c = &v.claims;
        assert_eq!(c.get("iss").and_then(|x| x.as_str()), Some(ISS));
        let aud_ok = match c.get("aud") {
            Some(serde_json::Value::String(s)) => s == AUD,
            Some(serde_json::Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(AUD)),
            _ => false,
        };
        assert!(aud_ok, "accepted without the audience: {c:?}");
        let exp = c
            .get("exp")
            .and_then(|x| x.as_f64())
            .expect("accepted without exp");
        assert!((NOW as f64) < exp + 5.0, "accepted an expired token");
        let iat = c
            .get("iat")
            .and_then(|x| x.as_f64())
            .expect("max age needs iat");
        assert!(iat <= NOW as f64 + 5.0 && NOW as f64 - iat <= 86_405.0);
        if let Some(nbf) = c.get("nbf") {
            assert!(nbf.as_f64().is_some_and(|n| n - 5.0 <= NOW as f64));
        }
        assert_ne!(c.get("jti").and_then(|x| x.as_str()), Some("revoked-jti"));
        if c.get("sub").and_then(|x| x.as_str()) == Some("revoked-sub") {
            assert!(iat >= NOW as f64, "accepted a revoked subject");
        }
        assert_eq!(v.alg, Algorithm::HS256);
        assert_eq!(v.kid.as_deref(), Some(SIGNED_KID));
        // The texts handed to JS are exactly the validated JSON.
        // serde_json reads floats exactly here (`float_roundtrip`), as
        // JavaScript's JSON.parse does.
        let h: serde_json::Value = serde_json::from_str(&v.header_json).expect("header_json");
        assert_eq!(h.as_object(), Some(&v.header));
        let c: serde_json::Value = serde_json::from_str(&v.claims_json).expect("claims_json");
        assert_eq!(c.as_object(), Some(&v.claims));
    });
}

/// A JWKS document: public parse, secret parse, then key selection for tokens
/// of every algorithm (with and without `kid`) and a verify of each RFC example.
pub fn jwks(data: &[u8]) {
    let policy = fixed_policy();
    if let Ok(keys) = KeySet::from_jwks(data) {
        assert!(keys.keys().len() <= 100, "more than 100 keys accepted");
        for issue in keys.issues() {
            assert!(issue.kid.as_ref().is_none_or(|k| k.len() <= 256));
        }
        for alg in Algorithm::ALL {
            let _ = keys.select(alg, None, 3);
            let _ = keys.select(alg, Some("1"), 1);
        }
        for t in RFC_TOKENS {
            let _ = jwt_edge::verify(t, &keys, &policy, RFC_NOW);
        }
        for k in keys.keys() {
            let _ = k.public_jwk();
            let _ = k.rsa_bits();
        }
    }
    if let Ok(keys) = KeySet::from_secret_jwks(data) {
        assert!(keys
            .keys()
            .iter()
            .all(|k| k.family() == jwt_edge::KeyFamily::Hmac));
        let _ = jwt_edge::verify(RFC_TOKENS[0], &keys, &policy, RFC_NOW);
    }
}

/// A revocation list: the JSON form, the signed form (the bytes as the payload of
/// a `revocation-list+jwt` signed by the trusted key), and `install_revocations`
/// with the raw text; afterwards the good token still verifies (unless revoked).
pub fn revocation(data: &[u8]) {
    let keys = signed_keys();
    let mut policy = signed_policy();
    if let Ok(list) = RevocationList::from_json(data) {
        let _ = (list.issuer(), list.epoch(), list.generated_at(), list.len());
        let _ = policy.revocations_mut().insert(list.clone());
        let _ = policy.revocations_mut().insert(list);
    }
    let header = br#"{"alg":"HS256","kid":"fz","typ":"revocation-list+jwt"}"#;
    let signed = sign_hs256(SIGNED_SECRET, header, data);
    let _ = jwt_edge::verify_revocation_list(&signed, &keys, &policy);
    let _ = jwt_edge::install_revocations(&signed, &keys, &mut policy);
    let _ = jwt_edge::install_revocations(&text(data), &keys, &mut policy);
    let good = good_signed_token();
    match jwt_edge::verify(&good, &keys, &policy, NOW) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.code(), "ERR_JWT_REVOKED", "good token refused: {e:?}"),
    }
}

/// `inspect` with and without a time.
pub fn inspect(data: &[u8]) {
    let token = text(data);
    for now in [Some(NOW), None, Some(u64::MAX)] {
        if let Ok(i) = jwt_edge::inspect(&token, now) {
            let _ = serde_json::from_str::<serde_json::Value>(&i.claims_json).expect("claims_json");
        }
    }
}

// ---------------------------------------------------------------------------
// seed corpus
// ---------------------------------------------------------------------------

fn b64(b: &[u8]) -> String {
    jwt_edge::b64url_encode(b)
}

fn compact(header: &str, payload: &str, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(payload.as_bytes()),
        b64(sig)
    )
}

/// Every compact JWS string found in the shared vectors (Wycheproof `json_web_*`
/// and the RFC 7520 cookbook's `output.compact`), and every JWK / JWKS in them.
fn vector_material(vectors: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let mut tokens = Vec::new();
    let mut keysets = Vec::new();
    let read = |p: std::path::PathBuf| -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(p).ok()?).ok()
    };
    for f in [
        "json_web_signature_test.json",
        "json_web_key_test.json",
        "json_web_crypto_test.json",
    ] {
        let Some(doc) = read(vectors.join("wycheproof").join(f)) else {
            continue;
        };
        for g in doc["testGroups"].as_array().into_iter().flatten() {
            for k in ["public", "private"] {
                if let Some(key) = g.get(k) {
                    let set = if key.get("keys").is_some() {
                        key.clone()
                    } else {
                        serde_json::json!({ "keys": [key] })
                    };
                    keysets.push(set.to_string());
                }
            }
            for t in g["tests"].as_array().into_iter().flatten() {
                match &t["jws"] {
                    serde_json::Value::String(s) => tokens.push(s.clone()),
                    other if !other.is_null() => tokens.push(other.to_string()),
                    _ => {}
                }
            }
        }
    }
    let dirs = [
        "rfc7520/jws",
        "rfc7520/curve25519",
        "rfc7520/rfc7797",
        "rfc7520/jwk",
    ];
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(vectors.join(d)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let Some(doc) = read(p) else { continue };
            if let Some(s) = doc["output"]["compact"].as_str() {
                tokens.push(s.to_string());
            }
            if doc.get("kty").is_some() {
                keysets.push(serde_json::json!({ "keys": [doc] }).to_string());
            }
            if let Some(k) = doc["input"].get("key") {
                let keys = if k.is_array() {
                    k.clone()
                } else {
                    serde_json::json!([k])
                };
                keysets.push(serde_json::json!({ "keys": keys }).to_string());
            }
        }
    }
    (tokens, keysets)
}

/// Hand-made attack-catalog tokens (sections 1–6, 18–24 of the catalog).
fn attack_tokens() -> Vec<String> {
    let claims = good_claims();
    let hs = b64_decode_lenient(RFC_HS_K);
    let rsa_n = FIXED_JWKS
        .split("\"n\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("");
    let mut v = Vec::new();
    // 1. alg none and its spellings, with and without a signature.
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let h = format!(r#"{{"alg":"{alg}"}}"#);
        v.push(format!("{}.{}.", b64(h.as_bytes()), b64(claims.as_bytes())));
        v.push(compact(&h, &claims, b"sig"));
    }
    // 2. HS256 MACed with a public key's bytes (JWK text, n, the x coordinate).
    for secret in [
        FIXED_JWKS.as_bytes().to_vec(),
        b64_decode_lenient(rsa_n),
        rsa_n.as_bytes().to_vec(),
    ] {
        v.push(sign_hs256(
            &secret,
            br#"{"alg":"HS256"}"#,
            claims.as_bytes(),
        ));
    }
    // 3.-6. header games: alg/key mismatch, embedded keys, kid injection and types.
    for h in [
        r#"{"alg":"ES256","kid":"../../../../dev/null"}"#,
        r#"{"alg":"RS256","jwk":{"kty":"oct","k":"AAAA"}}"#,
        r#"{"alg":"ES256","jku":"https://attacker.example/jwks"}"#,
        r#"{"alg":"ES256","x5u":"https://attacker.example/c","x5c":["AAAA"]}"#,
        r#"{"alg":"ES256","kid":1}"#,
        r#"{"alg":"ES256","kid":null}"#,
        r#"{"alg":"ES256","kid":["a"]}"#,
        r#"{"alg":"ES256","kid":"' OR 1=1 --"}"#,
        r#"{"alg":["ES256"]}"#,
        r#"{"alg":"es256"}"#,
        r#"{"alg":"ES256","crit":["exp"],"exp":1}"#,
        r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#,
        r#"{"alg":"HS256","b64":false}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"HS256","typ":"revocation-list+jwt"}"#,
        r#"{"alg":"HS256"}  "#,
        "[\"alg\",\"HS256\"]",
        "null",
    ] {
        v.push(sign_hs256(&hs, h.as_bytes(), claims.as_bytes()));
    }
    let long_kid = format!(r#"{{"alg":"HS256","kid":"{}"}}"#, "é".repeat(200));
    v.push(sign_hs256(&hs, long_kid.as_bytes(), claims.as_bytes()));
    // 20. duplicate members in the claims, polyglot payloads.
    for c in [
        r#"{"exp":1,"exp":9999999999}"#,
        r#"{"a":{"b":1,"b":2}}"#,
        r#"{"exp":1e999}"#,
        r#"{"exp":"9999999999"}"#,
        r#"{"exp":-1}"#,
        r#"{"exp":253402300800}"#,
        r#"{"exp":1.5e9,"nbf":true,"iat":null}"#,
        "\u{feff}{}",
        "[]",
        "",
    ] {
        v.push(sign_hs256(&hs, br#"{"alg":"HS256"}"#, c.as_bytes()));
    }
    // 21.-22. non-canonical base64url and structural malformation.
    let good = sign_hs256(&hs, br#"{"alg":"HS256"}"#, claims.as_bytes());
    v.push(format!("{good}="));
    v.push(good.replace('-', "+").replace('_', "/"));
    v.push(format!(" {good}"));
    v.push(format!("{good}."));
    v.push(format!("{good}.x.y"));
    v.push(good.replacen('.', "..", 1));
    v.push(format!("{}.{}", good, good));
    v.push(good.replacen('.', "\u{0}.", 1));
    v.push(".".repeat(5));
    v.push("a.b.c".to_string());
    v.push(String::new());
    // 23. resource exhaustion: nesting, many members, over-long.
    let deep = format!(
        r#"{{"alg":"HS256","x":{}1{}}}"#,
        "[".repeat(500),
        "]".repeat(500)
    );
    v.push(sign_hs256(&hs, deep.as_bytes(), claims.as_bytes()));
    let wide: String = (0..800).map(|i| format!(r#","m{i}":{i}"#)).collect();
    v.push(sign_hs256(
        &hs,
        format!(r#"{{"alg":"HS256"{wide}}}"#).as_bytes(),
        b"{}",
    ));
    v.push(format!("{}.{}.", "A".repeat(9000), "B".repeat(9000)));
    v
}

/// Seed payloads for `verify_signed` (header 0xFF claims), around the policy's edges.
fn signed_seeds() -> Vec<Vec<u8>> {
    let h = SIGNED_HEADER;
    let n = NOW;
    let mut claims = vec![good_claims()];
    for c in [
        format!(
            r#"{{"iss":"{ISS}","aud":["x","{AUD}"],"iat":{n},"exp":{},"scp":["read"]}}"#,
            n + 5
        ),
        format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","iat":{},"exp":{n},"scope":"read"}}"#,
            n - 86_405
        ),
        format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","iat":{n},"exp":{},"nbf":{},"scope":"read"}}"#,
            n - 4,
            n + 5
        ),
        format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","iat":{n}.5,"exp":{}.25,"scope":"read"}}"#,
            n + 1
        ),
        format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"revoked-sub","iat":{n},"exp":{},"scope":"read"}}"#,
            n + 9
        ),
        format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","jti":"revoked-jti","iat":{n},"exp":{},"scope":"read"}}"#,
            n + 9
        ),
        format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","iat":{n},"exp":{},"scope":"readwrite"}}"#,
            n + 9
        ),
        format!(
            r#"{{"iss":"{ISS} ","aud":"{AUD}","iat":{n},"exp":{},"scope":"read"}}"#,
            n + 9
        ),
        format!(
            r#"{{"iss":"{ISS}","iss":"{ISS}","aud":"{AUD}","iat":{n},"exp":{},"scope":"read"}}"#,
            n + 9
        ),
        format!(r#"{{"iss":"{ISS}","aud":"{AUD}","iat":{n},"exp":1e400,"scope":"read"}}"#),
        format!(
            r#"{{"iss":"{ISS}","aud":{{"{AUD}":1}},"iat":{n},"exp":{},"scope":["read"]}}"#,
            n + 9
        ),
    ] {
        claims.push(c);
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    for c in &claims {
        out.push(c.as_bytes().to_vec());
        let mut with_header = h.as_bytes().to_vec();
        with_header.push(SPLIT);
        with_header.extend_from_slice(c.as_bytes());
        out.push(with_header);
    }
    for hdr in [
        r#"{"alg":"HS256","kid":"fz","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","kid":"fz","typ":"revocation-list+JWT"}"#,
        r#"{"alg":"HS256","kid":"retired-kid"}"#,
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS384","kid":"fz"}"#,
        r#"{"alg":"HS256","kid":"fz","crit":["x"]}"#,
    ] {
        let mut d = hdr.as_bytes().to_vec();
        d.push(SPLIT);
        d.extend_from_slice(good_claims().as_bytes());
        out.push(d);
    }
    out
}

fn jwks_seeds() -> Vec<String> {
    let mut v = vec![FIXED_JWKS.to_string()];
    let ec = r#""kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0""#;
    for k in [
        format!(r#"{{{ec},"kid":"1","d":"AAAA"}}"#),
        format!(r#"{{{ec},"kid":"1","use":"enc"}}"#),
        format!(r#"{{{ec},"kid":"1","key_ops":["sign"]}}"#),
        format!(r#"{{{ec},"kid":"1","alg":"ES384"}}"#),
        format!(r#"{{{ec},"kid":"1","kid":"2"}}"#),
        format!(r#"{{{ec},"kid":1}}"#),
        r#"{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#.to_string(),
        r#"{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#.to_string(),
        r#"{"kty":"RSA","n":"AQAB","e":"AQ"}"#.to_string(),
        r#"{"kty":"RSA","n":"ofgWCuLjybRlzo0t","e":"AAAAAAAAAQAB"}"#.to_string(),
        r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#.to_string(),
        r#"{"kty":"oct","k":"c2hvcnQ","alg":"HS256"}"#.to_string(),
        "1".to_string(),
        "[]".to_string(),
    ] {
        v.push(format!(r#"{{"keys":[{k}]}}"#));
        v.push(k);
    }
    v.push(format!(
        r#"{{"keys":[{}]}}"#,
        vec![format!("{{{ec}}}"); 101].join(",")
    ));
    v.push(format!(
        r#"{{"keys":[{}]}}"#,
        vec![format!("{{{ec},\"kid\":\"d\"}}"); 3].join(",")
    ));
    v.push(r#"{"keys":{}}"#.to_string());
    v.push(r#"{"keys":[],"keys":[]}"#.to_string());
    v
}

fn revocation_seeds() -> Vec<String> {
    vec![
        SIGNED_REVOCATIONS.to_string(),
        r#"{"iss":"https://issuer.example","epoch":8,"generated_at":0,"jti":[{"jti":"j-1","exp":1800000000}]}"#.to_string(),
        r#"{"iss":"https://issuer.example","epoch":8,"generated_at":0,"sub":[{"sub":"user-1","before":1800000000}]}"#.to_string(),
        r#"{"iss":"https://issuer.example","epoch":8,"generated_at":0,"kid":["fz"]}"#.to_string(),
        r#"{"iss":"https://issuer.example","epoch":1,"generated_at":0}"#.to_string(),
        r#"{"iss":"https://issuer.example","epoch":-1,"generated_at":1.5}"#.to_string(),
        r#"{"iss":"x","epoch":18446744073709551615,"generated_at":0,"jti":[{"jti":"a","exp":1},{"jti":"a","exp":2}]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":0,"extra":true}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":0,"jti":[{"jti":"a","exp":1,"jti":"b"}]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":0,"sub":[[[[[[]]]]]]}"#.to_string(),
        r#"{"iss":"x","epoch":1e3,"generated_at":0}"#.to_string(),
        "eyJhbGciOiJIUzI1NiJ9.e30.AAAA".to_string(),
        String::new(),
    ]
}

/// The seed corpus of every target. `vectors` is `tests/vectors` (missing
/// files are skipped).
pub fn seeds(vectors: &std::path::Path) -> Vec<(&'static str, Vec<u8>)> {
    let (vector_tokens, vector_keysets) = vector_material(vectors);
    let mut tokens: Vec<String> = RFC_TOKENS.iter().map(|s| s.to_string()).collect();
    tokens.extend(vector_tokens);
    tokens.extend(attack_tokens());
    tokens.push(good_signed_token());
    let mut out = Vec::new();
    for t in &tokens {
        out.push(("verify_token", t.as_bytes().to_vec()));
        out.push(("inspect", t.as_bytes().to_vec()));
    }
    for s in signed_seeds() {
        out.push(("verify_signed", s));
    }
    for k in jwks_seeds().into_iter().chain(vector_keysets) {
        out.push(("jwks", k.into_bytes()));
    }
    for r in revocation_seeds() {
        out.push(("revocation", r.into_bytes()));
    }
    for d in dpop_seeds(&tokens) {
        out.push(("dpop_request", d));
    }
    out
}

/// Requests for `dpop_request`: well-formed proofs (unsigned-valid: the rules
/// before the signature pass) with the catalog's mutations, under both schemes.
fn dpop_seeds(tokens: &[String]) -> Vec<Vec<u8>> {
    let b64 = |s: &str| b64(s.as_bytes());
    let jwk = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    let proof = |header: &str, claims: &str| format!("{}.{}.AAAA", b64(header), b64(claims));
    let claims = r#"{"jti":"j1","htm":"GET","htu":"https://api.example/resource","iat":1700000000,"ath":"x","nonce":"AAAA"}"#;
    let header = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#);
    let mut out = Vec::new();
    for token in tokens.iter().take(3) {
        for (auth, p, method, url) in [
            (
                format!("DPoP {token}"),
                proof(&header, claims),
                "GET",
                "https://api.example/resource",
            ),
            (
                format!("dpop  {token}"),
                proof(&header, claims),
                "POST",
                "HTTPS://API.example:443/%72esource?x#y",
            ),
            (
                format!("Bearer {token}"),
                String::new(),
                "GET",
                "https://api.example/./a/../resource",
            ),
            (
                format!("DPoP {token}, DPoP {token}"),
                proof(&header, claims),
                "GET",
                "http://[::1]:8080/",
            ),
            (
                String::from("Basic dXNlcjpwdw=="),
                String::new(),
                "GET",
                "https://u:p@h/",
            ),
            (
                format!("DPoP {token}"),
                proof(r#"{"typ":"dpop+jwt","alg":"none"}"#, claims),
                "GET",
                "ftp://x",
            ),
            (
                format!("DPoP {token}"),
                proof(&header.replace("P-256", "P-384"), "{}"),
                "GET",
                "https://h/%zz",
            ),
        ] {
            let mut d = auth.into_bytes();
            for part in [p.as_str(), method, url] {
                d.push(SPLIT);
                d.extend_from_slice(part.as_bytes());
            }
            out.push(d);
        }
    }
    out
}
