//! External test vectors, through the public API only:
//! - Wycheproof `json_web_signature`, `json_web_key` and the JWS half of
//!   `json_web_crypto`: every case agrees with its label, except the cases in
//!   [`DISAGREEMENTS`], each with its reason;
//! - Wycheproof primitive files (ECDSA P1363 P-256/384/521, RSA PKCS#1 v1.5 and
//!   PSS, Ed25519, HMAC) through each algorithm backend, with JWS-level key
//!   policy applied (HMAC keys shorter than the hash, truncated tags);
//! - the DER ECDSA file: every signature must be refused as an ES256 JWS signature;
//! - RFC 7520 cookbook, RFC 7515 A.1–A.4, RFC 8037 A.4, RFC 7797 (as negatives);
//! - Wycheproof's ML-DSA verify files and RFC 9964's examples (the issuer's
//!   seed-form key reproduces the examples' public keys and kids);
//! - bit flips: every flipped signature bit of every valid token is rejected.
//!
//! The vectors live in `tests/vectors` (copied from upstream; provenance and
//! licences in `tests/vectors/README.md`).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::path::PathBuf;

use jwt_edge::ErrorKind;
use jwt_edge::{Algorithm, Error, Key, KeySet, Policy};
use serde_json::{json, Value};

fn vectors_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    assert!(
        dir.join("wycheproof").is_dir(),
        "test vectors not found at {}",
        dir.display()
    );
    dir
}

fn load(rel: &str) -> Value {
    let path = vectors_dir().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Policy for JWS-level vectors: every algorithm allowed (the harness is the
/// caller that configured the keys), no claim requirements beyond the defaults.
fn jws_policy() -> Policy {
    Policy::new().algorithms(Algorithm::ALL)
}

/// What the library did with a JWS: accepted means parse + key selection +
/// signature all succeeded through `begin` and `Pending::check_signature`.
#[derive(Debug)]
enum Outcome {
    Accepted,
    Rejected(#[allow(dead_code)] String),
}

fn run_jws(jws: &str, keys: &KeySet, policy: &Policy) -> Outcome {
    let pending = match jwt_edge::begin(jws, keys, policy) {
        Ok(p) => p,
        Err(e) => return Outcome::Rejected(e.to_string()),
    };
    match pending.check_signature() {
        Ok(Some(i)) => {
            // The full pipeline continues to the claims stage: Wycheproof
            // payloads are opaque bytes ("foo"), so it must stop with
            // ERR_JWT_INVALID there, never earlier with a signature error.
            let err = jwt_edge::finish(pending, Some(i), 0).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::JwtInvalid, "{jws}: {err}");
            Outcome::Accepted
        }
        Ok(None) => Outcome::Rejected("signature did not verify".into()),
        Err(e) => Outcome::Rejected(e.to_string()),
    }
}

/// A key set from a Wycheproof JWK or JWKS, the way a caller would configure
/// it: asymmetric keys through the public JWKS path, `oct` keys through the
/// explicit-secret path (which refuses mixed sets).
fn keyset_from(value: &Value) -> Result<KeySet, Error> {
    let set = match value.get("keys") {
        Some(_) => value.clone(),
        None => json!({ "keys": [value] }),
    };
    let has_oct = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kty"] == "oct");
    let bytes = serde_json::to_vec(&set).unwrap();
    if has_oct {
        KeySet::from_secret_jwks(&bytes)
    } else {
        KeySet::from_jwks(&bytes)
    }
}

/// Cases where jwt-edge deliberately disagrees with the Wycheproof label.
/// (file, tcId, what jwt-edge does, why)
const DISAGREEMENTS: &[(&str, u64, &str, &str)] = &[
    ("json_web_signature_test.json", 367, "accept",
     "byte-identical to tcId 357 (valid): the padding the case was meant to carry was lost upstream (C2SP/wycheproof#236)"),
    ("json_web_signature_test.json", 370, "accept",
     "byte-identical to tcId 357 (valid), same upstream data bug as 367"),
    ("json_web_signature_test.json", 372, "reject",
     "labelled valid, but '?' inside the header segment is not base64url and the MAC only matches with it deleted; RFC 7515 MACs the raw input"),
    ("json_web_signature_test.json", 373, "reject",
     "labelled valid, but '?' inside the payload segment is not base64url (same as 372)"),
    ("json_web_signature_test.json", 346, "reject",
     "RFC 7520 PS384 token verified with a JWK whose alg is PS256: we enforce the JWK's alg"),
    ("json_web_signature_test.json", 347, "reject",
     "same as 346 (PS384 token, JWK alg PS256)"),
    ("json_web_signature_test.json", 350, "reject",
     "RFC 7520 ES512 token with a JWK whose alg is \"ES521\", not a registered JWA name: the key is refused"),
    ("json_web_signature_test.json", 351, "reject",
     "same as 350 (JWK alg \"ES521\")"),
    ("json_web_key_test.json", 7, "accept",
     "2049-bit RSA key with the ROCA fingerprint (CVE-2017-15361): the signature is valid and jwt-edge does no ROCA test"),
    ("json_web_crypto_test.json", 46, "accept",
     "same ROCA key as json_web_key_test tcId 7"),
];

fn disagreement(file: &str, tc: u64) -> Option<&'static str> {
    DISAGREEMENTS
        .iter()
        .find(|(f, t, _, _)| *f == file && *t == tc)
        .map(|(_, _, what, _)| *what)
}

/// Runs every JWS case of a json_web_* file and returns the number checked.
fn run_json_web_file(file: &str) -> usize {
    let doc = load(&format!("wycheproof/{file}"));
    let policy = jws_policy();
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut used_disagreements = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let comment = group["comment"].as_str().unwrap_or_default();
        if comment.starts_with("jwe") {
            continue; // JWE cases (json_web_crypto tcId 50-83) are out of scope.
        }
        let key_src = group.get("public").unwrap_or(&group["private"]);
        let keys = keyset_from(key_src);
        for test in group["tests"].as_array().unwrap() {
            let tc = test["tcId"].as_u64().unwrap();
            let result = test["result"].as_str().unwrap();
            // A JSON-serialization object given to the compact API (tcId 17 of
            // json_web_crypto) must be refused like any other bad string.
            let jws = match &test["jws"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let outcome = match &keys {
                Ok(keys) => run_jws(&jws, keys, &policy),
                Err(e) => Outcome::Rejected(format!("key set refused: {e}")),
            };
            let accepted = matches!(outcome, Outcome::Accepted);
            let expected = match disagreement(file, tc) {
                Some(what) => {
                    used_disagreements += 1;
                    what == "accept"
                }
                None => result == "valid",
            };
            if accepted != expected {
                failures.push(format!(
                    "{file} tcId {tc} ({result}, {}): {outcome:?}",
                    test["comment"]
                ));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let listed = DISAGREEMENTS.iter().filter(|(f, ..)| *f == file).count();
    assert_eq!(
        used_disagreements, listed,
        "every listed disagreement must be exercised"
    );
    checked
}

#[test]
fn wycheproof_json_web_signature() {
    assert_eq!(run_json_web_file("json_web_signature_test.json"), 401);
}

#[test]
fn wycheproof_json_web_key() {
    assert_eq!(run_json_web_file("json_web_key_test.json"), 26);
}

#[test]
fn wycheproof_json_web_crypto_jws_cases() {
    assert_eq!(run_json_web_file("json_web_crypto_test.json"), 49);
}

/// A usable key from a primitive-file group's JWK (or `None` if refused).
fn primitive_key(jwk: &Value) -> Option<Key> {
    let set = KeySet::from_jwks(&serde_json::to_vec(&json!({ "keys": [jwk] })).unwrap()).unwrap();
    let mut keys = set.into_keys();
    assert!(keys.len() <= 1);
    keys.pop()
}

struct Tally {
    name: String,
    checked: usize,
    failures: Vec<String>,
}

impl Tally {
    fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            checked: 0,
            failures: Vec::new(),
        }
    }
    fn check(&mut self, tc: u64, label: &str, expected: Option<bool>, got: bool, note: &str) {
        self.checked += 1;
        if let Some(want) = expected {
            if want != got {
                self.failures.push(format!(
                    "{} tcId {tc} ({label}) {note}: expected {want}, got {got}",
                    self.name
                ));
            }
        }
    }
    fn finish(self, min_checked: usize) {
        assert!(self.failures.is_empty(), "{}", self.failures.join("\n"));
        assert!(
            self.checked >= min_checked,
            "{}: only {} cases checked",
            self.name,
            self.checked
        );
    }
}

/// Expected outcome for a primitive-file label: `acceptable` may go either way.
fn label(result: &str) -> Option<bool> {
    match result {
        "valid" => Some(true),
        "invalid" => Some(false),
        _ => None,
    }
}

fn run_signature_file(file: &str, alg: Algorithm, jwk_member: &str, min: usize) {
    let doc = load(&format!("wycheproof/{file}"));
    let mut tally = Tally::new(file);
    for group in doc["testGroups"].as_array().unwrap() {
        let jwk = match group.get(jwk_member) {
            Some(j) => j.clone(),
            None => ec_jwk_from_coordinates(group),
        };
        let key = primitive_key(&jwk);
        for t in group["tests"].as_array().unwrap() {
            let tc = t["tcId"].as_u64().unwrap();
            let result = t["result"].as_str().unwrap();
            let (msg, sig) = (
                hex(t["msg"].as_str().unwrap()),
                hex(t["sig"].as_str().unwrap()),
            );
            let got = match &key {
                Some(k) => k.verify_signature(alg, &msg, &sig).unwrap(),
                None => false,
            };
            tally.check(
                tc,
                result,
                label(result),
                got,
                t["comment"].as_str().unwrap_or_default(),
            );
        }
    }
    tally.finish(min);
}

/// Builds a JWK from `publicKey.wx/wy` (hex, two's complement) for the few
/// ECDSA groups without `publicKeyJwk`.
fn ec_jwk_from_coordinates(group: &Value) -> Value {
    let pk = &group["publicKey"];
    let (crv, len) = match pk["curve"].as_str().unwrap() {
        "secp256r1" => ("P-256", 32),
        "secp384r1" => ("P-384", 48),
        "secp521r1" => ("P-521", 66),
        other => panic!("unexpected curve {other}"),
    };
    let coord = |name: &str| {
        let mut bytes = hex(pk[name].as_str().unwrap());
        while bytes.len() > len && bytes[0] == 0 {
            bytes.remove(0);
        }
        let mut padded = vec![0u8; len.saturating_sub(bytes.len())];
        padded.extend(bytes);
        jwt_edge::b64url_encode(&padded)
    };
    json!({ "kty": "EC", "crv": crv, "x": coord("wx"), "y": coord("wy") })
}

#[test]
fn wycheproof_ecdsa_p256_p1363() {
    run_signature_file(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        Algorithm::ES256,
        "publicKeyJwk",
        262,
    );
}

#[test]
fn wycheproof_ecdsa_p384_p1363() {
    run_signature_file(
        "ecdsa_secp384r1_sha384_p1363_test.json",
        Algorithm::ES384,
        "publicKeyJwk",
        280,
    );
}

#[test]
fn wycheproof_ecdsa_p521_p1363() {
    run_signature_file(
        "ecdsa_secp521r1_sha512_p1363_test.json",
        Algorithm::ES512,
        "publicKeyJwk",
        318,
    );
}

#[test]
fn wycheproof_rsa_pkcs1() {
    for (file, alg) in [
        ("rsa_signature_2048_sha256_test.json", Algorithm::RS256),
        ("rsa_signature_3072_sha256_test.json", Algorithm::RS256),
        ("rsa_signature_4096_sha256_test.json", Algorithm::RS256),
        ("rsa_signature_2048_sha384_test.json", Algorithm::RS384),
        ("rsa_signature_2048_sha512_test.json", Algorithm::RS512),
    ] {
        run_signature_file(file, alg, "keyJwk", 258);
    }
}

#[test]
fn wycheproof_rsa_pss() {
    for (file, alg, min) in [
        (
            "rsa_pss_2048_sha256_mgf1_32_test.json",
            Algorithm::PS256,
            108,
        ),
        (
            "rsa_pss_3072_sha256_mgf1_32_test.json",
            Algorithm::PS256,
            108,
        ),
        (
            "rsa_pss_4096_sha256_mgf1_32_test.json",
            Algorithm::PS256,
            108,
        ),
        (
            "rsa_pss_2048_sha384_mgf1_48_test.json",
            Algorithm::PS384,
            141,
        ),
        (
            "rsa_pss_4096_sha512_mgf1_64_test.json",
            Algorithm::PS512,
            179,
        ),
    ] {
        run_signature_file(file, alg, "publicKeyJwk", min);
    }
}

#[test]
fn wycheproof_ed25519() {
    run_signature_file("ed25519_test.json", Algorithm::EdDSA, "publicKeyJwk", 151);
}

/// HMAC through the HS* backends with JWS key policy: keys shorter than the
/// hash output are refused at configuration time (RFC 7518 §3.2) and tags are
/// never truncated in JWS, so "valid" truncated-tag cases must be rejected.
#[test]
fn wycheproof_hmac() {
    for (file, alg) in [
        ("hmac_sha256_test.json", Algorithm::HS256),
        ("hmac_sha384_test.json", Algorithm::HS384),
        ("hmac_sha512_test.json", Algorithm::HS512),
    ] {
        let doc = load(&format!("wycheproof/{file}"));
        let mut tally = Tally::new(file);
        let hash_bits = alg.hash_len() * 8;
        let (mut refused_keys, mut truncated) = (0, 0);
        for group in doc["testGroups"].as_array().unwrap() {
            let key_bits: usize = group["keySize"].as_str().map_or_else(
                || group["keySize"].as_u64().unwrap() as usize,
                |s| s.parse().unwrap(),
            );
            let tag_bits: usize = group["tagSize"].as_str().map_or_else(
                || group["tagSize"].as_u64().unwrap() as usize,
                |s| s.parse().unwrap(),
            );
            for t in group["tests"].as_array().unwrap() {
                let tc = t["tcId"].as_u64().unwrap();
                let result = t["result"].as_str().unwrap();
                let key_bytes = hex(t["key"].as_str().unwrap());
                let (msg, tag) = (
                    hex(t["msg"].as_str().unwrap()),
                    hex(t["tag"].as_str().unwrap()),
                );
                match Key::hmac_secret(&key_bytes, None, Some(alg)) {
                    Err(e) => {
                        assert!(key_bits < hash_bits, "{file} tcId {tc}: key refused: {e}");
                        assert_eq!(e.kind(), ErrorKind::JwksInvalid);
                        refused_keys += 1;
                    }
                    Ok(key) => {
                        assert!(key_bits >= hash_bits);
                        let got = key.verify_signature(alg, &msg, &tag).unwrap();
                        let expected = if tag_bits < hash_bits {
                            truncated += 1;
                            Some(false)
                        } else {
                            label(result)
                        };
                        tally.check(
                            tc,
                            result,
                            expected,
                            got,
                            t["comment"].as_str().unwrap_or_default(),
                        );
                    }
                }
            }
        }
        assert!(
            refused_keys > 0 && truncated > 0,
            "{file}: both policy paths must be exercised"
        );
        tally.finish(80);
    }
}

/// The DER-encoded ECDSA file: no DER signature is a valid P1363 JWS
/// signature, so every case — valid or not as DER — must be refused.
#[test]
fn wycheproof_ecdsa_der_all_refused_as_jws() {
    let doc = load("wycheproof/ecdsa_secp256r1_sha256_test.json");
    let mut n = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let Some(key) = primitive_key(&ec_jwk_from_coordinates(group)) else {
            continue;
        };
        for t in group["tests"].as_array().unwrap() {
            let (msg, sig) = (
                hex(t["msg"].as_str().unwrap()),
                hex(t["sig"].as_str().unwrap()),
            );
            assert!(
                !key.verify_signature(Algorithm::ES256, &msg, &sig).unwrap(),
                "tcId {} accepted",
                t["tcId"]
            );
            n += 1;
        }
    }
    assert!(n >= 480, "only {n} DER cases checked");
}

/// A public JWK from a cookbook key (drop private members, as a publisher does).
fn public_part(jwk: &Value) -> Value {
    let mut m = jwk.as_object().unwrap().clone();
    for p in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        m.remove(p);
    }
    Value::Object(m)
}

fn cookbook_keys(jwk: &Value) -> KeySet {
    if jwk["kty"] == "oct" {
        let mut set = KeySet::new();
        set.push(Key::from_secret_jwk(jwk.as_object().unwrap()).unwrap());
        set
    } else {
        KeySet::from_jwks(&serde_json::to_vec(&json!({ "keys": [public_part(jwk)] })).unwrap())
            .unwrap()
    }
}

#[test]
fn rfc7520_cookbook_compact_tokens_verify() {
    let policy = jws_policy();
    for file in [
        "rfc7520/jws/4_1.rsa_v15_signature.json",
        "rfc7520/jws/4_2.rsa-pss_signature.json",
        "rfc7520/jws/4_3.ecdsa_signature.json",
        "rfc7520/jws/4_4.hmac-sha2_integrity_protection.json",
        "rfc7520/curve25519/jws.json",
    ] {
        let doc = load(file);
        let keys = cookbook_keys(&doc["input"]["key"]);
        assert!(keys.issues().is_empty(), "{file}: {:?}", keys.issues());
        let compact = doc["output"]["compact"].as_str().unwrap();
        let outcome = run_jws(compact, &keys, &policy);
        assert!(matches!(outcome, Outcome::Accepted), "{file}: {outcome:?}");
        assert_bit_flips_rejected(compact, &keys, &policy);
        // The JSON serializations are not compact JWS and must be refused.
        for form in ["json", "json_flat"] {
            let text = doc["output"][form].to_string();
            assert_eq!(
                jwt_edge::begin(&text, &keys, &policy).unwrap_err().code(),
                "ERR_JWS_INVALID"
            );
        }
    }
}

#[test]
fn rfc7520_cookbook_detached_and_json_only_examples_are_refused() {
    let policy = jws_policy();
    // 4.5: detached content (`header..signature`) is not supported by the compact API.
    let doc = load("rfc7520/jws/4_5.signature_with_detached_content.json");
    let keys = cookbook_keys(&doc["input"]["key"]);
    // Read as compact, `header..signature` has an empty payload, which the
    // signature (made over the real payload) does not cover.
    let compact = doc["output"]["compact"].as_str().unwrap();
    assert!(compact.contains(".."));
    let pending = jwt_edge::begin(compact, &keys, &policy).unwrap();
    assert_eq!(pending.check_signature().unwrap(), None);
    let err = jwt_edge::verify(compact, &keys, &policy, 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SignatureVerificationFailed);
    // 4.6-4.8 exist only as JSON serializations.
    for file in [
        "rfc7520/jws/4_6.protecting_specific_header_fields.json",
        "rfc7520/jws/4_7.protecting_content_only.json",
        "rfc7520/jws/4_8.multiple_signatures.json",
    ] {
        let doc = load(file);
        assert!(doc["output"].get("compact").is_none(), "{file}");
        let text = doc["output"]["json"].to_string();
        assert_eq!(
            jwt_edge::begin(&text, &KeySet::new(), &policy)
                .unwrap_err()
                .code(),
            "ERR_JWS_INVALID"
        );
    }
}

#[test]
fn rfc7797_unencoded_payloads_are_refused() {
    let policy = jws_policy();
    // The RFC 7515 A.1 key (the RFC 7797 examples use it).
    let key = json!({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"});
    let keys = cookbook_keys(&key);
    // Self-consistent upstream example with crit:["b64"]: refused because we implement no extension.
    let doc = load("rfc7520/rfc7797/hmac-sha2_b64_false.json");
    let err =
        jwt_edge::begin(doc["output"]["compact"].as_str().unwrap(), &keys, &policy).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JwsInvalid, "{err}");
    // Draft form {"alg":"HS256","b64":false} without crit (JSON only upstream): build its
    // compact form from the file's own protected header and signature.
    let doc = load("rfc7520/rfc7797/4.2.hmac-sha2_b64_false.json");
    let flat = &doc["output"]["json_flat"];
    let compact = format!(
        "{}.{}.{}",
        flat["protected"].as_str().unwrap(),
        jwt_edge::b64url_encode(flat["payload"].as_str().unwrap().as_bytes()),
        flat["signature"].as_str().unwrap()
    );
    assert_eq!(
        jwt_edge::begin(&compact, &keys, &policy)
            .unwrap_err()
            .code(),
        "ERR_JWS_INVALID"
    );
    // RFC 7797 §4.2 final example (signature recomputed in tests/vectors/README.md).
    let final_example = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..A5dxf2s96_n5FLueVuW1Z_vh161FwXZC4YLPff6dmDY";
    assert_eq!(
        jwt_edge::begin(final_example, &keys, &policy)
            .unwrap_err()
            .code(),
        "ERR_JWS_INVALID"
    );
}

const RFC7515_PAYLOAD: &str =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

/// RFC 7515 Appendix A and RFC 8037 A.4, transcribed in tests/vectors/README.md §5.
fn rfc_appendix_tokens() -> Vec<(&'static str, Value, String)> {
    vec![
        (
            "RFC 7515 A.1 HS256",
            json!({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}),
            format!("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.{RFC7515_PAYLOAD}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        ),
        (
            "RFC 7515 A.2 RS256",
            json!({"kty":"RSA","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"}),
            format!("eyJhbGciOiJSUzI1NiJ9.{RFC7515_PAYLOAD}.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"),
        ),
        (
            "RFC 7515 A.3 ES256",
            json!({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}),
            format!("eyJhbGciOiJFUzI1NiJ9.{RFC7515_PAYLOAD}.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"),
        ),
        (
            "RFC 7515 A.4 ES512",
            json!({"kty":"EC","crv":"P-521","x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk","y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"}),
            "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn".into(),
        ),
        (
            "RFC 8037 A.4 EdDSA",
            json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
            "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg".into(),
        ),
    ]
}

#[test]
fn rfc7515_appendix_and_rfc8037_tokens() {
    let policy = jws_policy();
    for (name, jwk, token) in rfc_appendix_tokens() {
        let keys = cookbook_keys(&jwk);
        let pending =
            jwt_edge::begin(&token, &keys, &policy).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(pending.check_signature().unwrap(), Some(0), "{name}");
        if name.starts_with("RFC 7515 A.4") || name.starts_with("RFC 8037") {
            // Payloads "Payload" / "Example of Ed25519 signing" are not claims sets.
            let err = jwt_edge::verify(&token, &keys, &policy, 0).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::JwtInvalid, "{name}");
        } else {
            // A.1-A.3 carry exp = 1300819380 (2011).
            let ok = jwt_edge::verify(&token, &keys, &policy, 1_300_819_379)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(ok.claims["iss"], "joe");
            assert_eq!(ok.claims["http://example.com/is_root"], true);
            let err = jwt_edge::verify(&token, &keys, &policy, 1_300_819_380).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Expired, "{name}");
            assert_eq!(err.claim_name(), Some("exp"));
        }
        assert_bit_flips_rejected(&token, &keys, &policy);
    }
}

/// Flips every bit of the signature (re-encoding canonically) and checks that
/// no flipped signature verifies.
fn assert_bit_flips_rejected(token: &str, keys: &KeySet, policy: &Policy) {
    let (input, sig_b64) = token.rsplit_once('.').unwrap();
    let sig = {
        let p = jwt_edge::begin(token, keys, policy).unwrap();
        p.signature().to_vec()
    };
    assert_eq!(jwt_edge::b64url_encode(&sig), sig_b64);
    let mut outcomes = BTreeMap::new();
    for bit in 0..sig.len() * 8 {
        let mut flipped = sig.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let t = format!("{input}.{}", jwt_edge::b64url_encode(&flipped));
        match jwt_edge::begin(&t, keys, policy).and_then(|p| p.check_signature()) {
            Ok(Some(_)) => panic!("{token}: flipping bit {bit} still verifies"),
            Ok(None) => *outcomes.entry("signature failed").or_insert(0) += 1,
            Err(e) => *outcomes.entry(e.code()).or_insert(0) += 1,
        }
    }
    assert_eq!(outcomes.values().sum::<usize>(), sig.len() * 8);
}

/// Wycheproof's ML-DSA verification files (C2SP, all three parameter sets)
/// through the public API: each group's public key as an RFC 9964 `AKP`
/// JWK (`alg` bound), each signature through `Key::verify_signature`. A
/// key the group marks invalid (wrong length, …) must not parse, and then
/// none of its signatures verifies. JWS signs with an empty context (RFC
/// 9964 §3): a case with a context verifies here only if its label is
/// valid AND its context is empty, so a valid signature under a non-empty
/// context must be refused (counted separately).
#[test]
fn wycheproof_ml_dsa_verify() {
    for (file, alg, expected_tests) in [
        ("mldsa_44_verify_test.json", Algorithm::MlDsa44, 180),
        ("mldsa_65_verify_test.json", Algorithm::MlDsa65, 210),
        ("mldsa_87_verify_test.json", Algorithm::MlDsa87, 241),
    ] {
        let doc = load(&format!("wycheproof/{file}"));
        let (mut run, mut valid, mut with_context, mut bad_keys) = (0, 0, 0, 0);
        for group in doc["testGroups"].as_array().unwrap() {
            let jwk = json!({
                "kty": "AKP",
                "alg": alg.name(),
                "pub": jwt_edge::b64url_encode(&hex(group["publicKey"].as_str().unwrap())),
            });
            let set = KeySet::from_jwks(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap();
            let key = set.keys().first();
            if key.is_none() {
                bad_keys += 1;
                assert_eq!(set.issues().len(), 1, "{file}: a refused key is reported");
            }
            for t in group["tests"].as_array().unwrap() {
                run += 1;
                let id = t["tcId"].as_u64().unwrap();
                let ctx = t.get("ctx").and_then(Value::as_str).unwrap_or("");
                let label_valid = t["result"] == "valid";
                if !ctx.is_empty() {
                    with_context += 1;
                }
                let expect = label_valid && ctx.is_empty();
                let got = key.is_some_and(|k| {
                    k.verify_signature(
                        alg,
                        &hex(t["msg"].as_str().unwrap()),
                        &hex(t["sig"].as_str().unwrap()),
                    )
                    .unwrap()
                });
                if key.is_none() {
                    assert!(
                        !label_valid,
                        "{file} #{id}: a valid case with a refused key"
                    );
                }
                assert_eq!(
                    got, expect,
                    "{file} #{id} ({}): {:?}",
                    t["comment"], t["flags"]
                );
                valid += usize::from(got);
            }
        }
        assert_eq!(run, expected_tests, "{file}: every test ran");
        assert!(
            valid > 50 && with_context > 0 && bad_keys > 0,
            "{file}: {valid} valid, {with_context} with a context, {bad_keys} bad keys"
        );
    }
}

/// The ML-DSA examples of RFC 9964's appendix (its JOSE example files, copied
/// from the draft's repository: `tests/vectors/README.md`), one per parameter
/// set, from the all-zero seed:
/// - the JWK as printed carries `priv`: in a trust set it is refused, and its
///   public part (`kty`, `alg`, `pub`) is one key whose RFC 7638 thumbprint
///   is the example's `kid`;
/// - the example's raw public key, signing input and signature are the JWK's
///   and the JWS's bytes;
/// - the compact JWS verifies through the pipeline up to the claims stage
///   (its payload is text, not a JWT claims set: `ERR_JWT_INVALID` there);
///   flipped signature bits, and the other two sets' keys, are refused.
#[test]
fn rfc9964_examples() {
    let policy = jws_policy();
    let sets = [
        ("ML_DSA_44", Algorithm::MlDsa44),
        ("ML_DSA_65", Algorithm::MlDsa65),
        ("ML_DSA_87", Algorithm::MlDsa87),
    ];
    let docs: Vec<Value> = sets
        .iter()
        .map(|(name, _)| load(&format!("rfc9964/{name}.jose.json")))
        .collect();
    let public = |doc: &Value| {
        let mut jwk = doc["jwk"].as_object().unwrap().clone();
        jwk.remove("priv");
        jwk
    };
    for ((name, alg), doc) in sets.iter().zip(&docs) {
        let jwk = &doc["jwk"];
        assert_eq!(jwk["alg"], alg.name(), "{name}");
        // As printed (with `priv`): refused, reported.
        let with_priv = keyset_from(jwk).unwrap();
        assert!(
            with_priv.keys().is_empty(),
            "{name}: a private AKP key was trusted"
        );
        assert_eq!(with_priv.issues().len(), 1, "{name}");
        // The public part: one key, its thumbprint the example's kid.
        let mut members = public(doc);
        let kid = members.remove("kid").unwrap();
        assert_eq!(
            jwt_edge::jwk::thumbprint(&members).as_deref(),
            kid.as_str(),
            "{name}: RFC 7638 thumbprint"
        );
        let keys = keyset_from(&Value::Object(public(doc))).unwrap();
        assert!(keys.issues().is_empty(), "{name}: {:?}", keys.issues());
        assert_eq!(
            jwt_edge::b64url_encode(&hex(doc["raw_public_key"].as_str().unwrap())),
            jwk["pub"].as_str().unwrap(),
            "{name}: raw public key"
        );
        let jws = doc["jws"].as_str().unwrap();
        let (input, sig) = jws.rsplit_once('.').unwrap();
        assert_eq!(
            hex(doc["raw_to_be_signed"].as_str().unwrap()),
            input.as_bytes(),
            "{name}: signing input"
        );
        let raw_sig = hex(doc["raw_signature"].as_str().unwrap());
        assert_eq!(jwt_edge::b64url_encode(&raw_sig), sig, "{name}: signature");
        let key = keys.keys().first().unwrap();
        assert!(key
            .verify_signature(*alg, input.as_bytes(), &raw_sig)
            .unwrap());
        let pending = jwt_edge::begin(jws, &keys, &policy).unwrap();
        let header = pending.header();
        assert_eq!((&header["alg"], &header["kid"]), (&json!(alg.name()), &kid));
        assert_eq!(
            (pending.alg(), pending.signing_input()),
            (*alg, input.as_bytes())
        );
        let outcome = run_jws(jws, &keys, &policy);
        assert!(matches!(outcome, Outcome::Accepted), "{name}: {outcome:?}");
        // A flipped bit in every 13th byte (every byte of a 4,627-byte
        // signature would take minutes in a debug build).
        for byte in (0..raw_sig.len()).step_by(13) {
            let mut flipped = raw_sig.clone();
            flipped[byte] ^= 1 << (byte % 8);
            let t = format!("{input}.{}", jwt_edge::b64url_encode(&flipped));
            let r = jwt_edge::begin(&t, &keys, &policy).and_then(|p| p.check_signature());
            assert!(
                !matches!(r, Ok(Some(_))),
                "{name}: byte {byte} flipped still verifies"
            );
        }
        // Another parameter set's key under this example's kid: never used.
        for (other, other_doc) in sets.iter().zip(&docs) {
            if other.1 == *alg {
                continue;
            }
            let mut m = public(other_doc);
            m.insert("kid".into(), kid.clone());
            let keys = keyset_from(&Value::Object(m)).unwrap();
            let r = jwt_edge::begin(jws, &keys, &policy).and_then(|p| p.check_signature());
            assert!(
                matches!(&r, Err(e) if e.code() == "ERR_JWKS_NO_MATCHING_KEY"),
                "{name} with the {} key: {r:?}",
                other.0
            );
        }
    }
}

/// The issuer side of RFC 9964's examples: the all-zero seed, read as an
/// RFC 9881 seed-form PKCS#8 key, gives the example's public key and `kid`,
/// and a signature the issuer makes with it verifies under the example's JWK.
#[cfg(feature = "issuer")]
#[test]
fn rfc9964_example_keys_from_their_seed() {
    use jwt_edge::issuer::custody::local::SigningKey;
    for (name, alg, oid_last) in [
        ("ML_DSA_44", Algorithm::MlDsa44, 0x11u8),
        ("ML_DSA_65", Algorithm::MlDsa65, 0x12),
        ("ML_DSA_87", Algorithm::MlDsa87, 0x13),
    ] {
        let doc = load(&format!("rfc9964/{name}.jose.json"));
        assert_eq!(doc["priv"], "0".repeat(64), "{name}: the seed, hex");
        assert_eq!(
            doc["jwk"]["priv"],
            "A".repeat(43),
            "{name}: the seed, base64url"
        );
        // OneAsymmetricKey { version 0, { id-ml-dsa-* }, OCTET STRING { seed [0] } }
        let mut der = vec![
            0x30, 0x34, 0x02, 0x01, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
            0x03, 0x04, 0x03, oid_last, 0x04, 0x22, 0x80, 0x20,
        ];
        der.extend([0u8; 32]);
        let key = SigningKey::from_pkcs8_der(alg, &der).unwrap();
        let kid = key.thumbprint().unwrap();
        assert_eq!(kid, doc["jwk"]["kid"].as_str().unwrap(), "{name}");
        let jwk = key.public_jwk(&kid);
        assert_eq!(jwk["pub"], doc["jwk"]["pub"], "{name}");
        let (input, _) = doc["jws"].as_str().unwrap().rsplit_once('.').unwrap();
        let sig = key.sign(input.as_bytes()).unwrap();
        let mut public = doc["jwk"].as_object().unwrap().clone();
        public.remove("priv");
        let keys = keyset_from(&Value::Object(public)).unwrap();
        assert!(
            keys.keys()[0]
                .verify_signature(alg, input.as_bytes(), &sig)
                .unwrap(),
            "{name}"
        );
    }
}
