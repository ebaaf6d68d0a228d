//! Property tests: hostile input never panics and always fails with a stable
//! `ERR_*` code; single-byte changes to valid tokens never verify; claim
//! checks agree with a simple oracle.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::sync::OnceLock;

use common::*;
use jwt_edge::ErrorKind;
use jwt_edge::{
    begin, inspect, install_revocations, verify, verify_revocation_list, Algorithm, Error, KeySet,
    Policy, RevocationList, MAX_NUMERIC_DATE,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(standard_keys)
}

/// Valid tokens: ES256, EdDSA, HS256 (index 0, 1, 2).
fn valid_tokens() -> &'static [String; 3] {
    static TOKENS: OnceLock<[String; 3]> = OnceLock::new();
    TOKENS.get_or_init(|| {
        // Distinct payloads, so that mixing segments of two tokens is a change.
        let claims = |jti: &str| claims_with("jti", Some(json!(jti)));
        let t = [
            token_kid(KID_EC, &claims("es"), &ec()),
            token_kid(KID_ED, &claims("ed"), &ed()),
            token_kid(KID_HS, &claims("hs"), &hs(Algorithm::HS256)),
        ];
        for tok in &t {
            assert_ok(verify(tok, keys(), &policy_all(), NOW));
        }
        t
    })
}

fn signed_list() -> &'static String {
    static LIST: OnceLock<String> = OnceLock::new();
    LIST.get_or_init(|| {
        let l = token(
            &json!({"alg": "ES256", "kid": KID_EC, "typ": "revocation-list+jwt"}),
            &json!({"iss": ISS, "epoch": 3, "generated_at": NOW,
                    "jti": [{"jti": "j", "exp": NOW}], "sub": [{"sub": "s", "before": NOW}],
                    "kid": ["k"]}),
            &ec(),
        );
        assert!(verify_revocation_list(&l, keys(), &policy_all()).is_ok());
        l
    })
}

#[track_caller]
fn assert_err_code<T>(r: &Result<T, Error>) {
    if let Err(e) = r {
        assert!(e.code().starts_with("ERR_"), "{e}");
        assert!(!e.message().is_empty());
    }
}

/// Runs every entry point on `input`; none may panic, every error has a
/// stable code, and nothing that is not a valid token verifies.
fn every_entry_point(input: &str) {
    if !valid_tokens().iter().any(|t| t == input) {
        let r = verify(input, keys(), &policy_all(), NOW);
        assert!(r.is_err(), "verified: {input:?}");
    }
    entry_points(input);
}

/// Runs every entry point on `input`: none may panic and every error has a
/// stable code.
fn entry_points(input: &str) {
    let policy = policy_all();
    let r = verify(input, keys(), &policy, NOW);
    assert_err_code(&r);
    if let Ok(p) = begin(input, keys(), &policy) {
        let _ = p.check_signature();
    } else {
        assert_err_code(&begin(input, keys(), &policy));
    }
    assert_err_code(&inspect(input, Some(NOW)));
    assert_err_code(&inspect(input, None));
    let r = verify_revocation_list(input, keys(), &policy);
    assert_err_code(&r);
    if input != signed_list() {
        assert!(r.is_err());
    }
    let mut p = policy_all();
    assert_err_code(&install_revocations(input, keys(), &mut p));
    assert_err_code(&RevocationList::from_json(input.as_bytes()));
    assert_err_code(&KeySet::from_jwks(input.as_bytes()));
    assert_err_code(&KeySet::from_secret_jwks(input.as_bytes()));
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

const NAMES: &[&str] = &[
    "alg",
    "kid",
    "typ",
    "cty",
    "crit",
    "b64",
    "jwk",
    "jku",
    "x5c",
    "exp",
    "nbf",
    "iat",
    "iss",
    "aud",
    "sub",
    "jti",
    "scope",
    "scp",
    "kty",
    "crv",
    "x",
    "y",
    "n",
    "e",
    "d",
    "k",
    "use",
    "key_ops",
    "keys",
    "epoch",
    "generated_at",
    "before",
];

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(NAMES).prop_map(String::from),
        1 => "[a-z]{1,4}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        (0u64..=300_000_000_000).prop_map(|n| json!(n)),
        "[A-Za-z0-9_+/= -]{0,16}".prop_map(Value::String),
        prop::sample::select(vec![
            "ES256",
            "EdDSA",
            "HS256",
            "RS256",
            "none",
            "ec-1",
            "hs-1",
            "EC",
            "OKP",
            "RSA",
            "oct",
            "P-256",
            "Ed25519",
            "sig",
            "verify",
            "api",
            "https://issuer.example",
            "at+jwt",
            "revocation-list+jwt",
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(arb_key(), arb_json(), 0..8).prop_map(|m| m.into_iter().collect())
}

/// A random JWK-shaped object: realistic members with random values.
fn arb_jwk() -> impl Strategy<Value = Value> {
    let b64_bytes =
        |max: usize| prop::collection::vec(any::<u8>(), 0..max).prop_map(|v| json!(b64(&v)));
    (
        prop::sample::select(vec!["EC", "RSA", "OKP", "oct", "foo"]),
        prop::option::of(prop::sample::select(vec![
            "P-256",
            "P-384",
            "P-521",
            "Ed25519",
            "X25519",
            "secp256k1",
        ])),
        prop::option::of(b64_bytes(70)),
        prop::option::of(b64_bytes(70)),
        prop::option::of(b64_bytes(300)),
        prop::option::of(prop_oneof![Just(json!("AQAB")), b64_bytes(6)]),
        prop::option::of(arb_json()),
        arb_object(),
    )
        .prop_map(|(kty, crv, x, y, n, e, kid, extra)| {
            let mut o = extra;
            o.insert("kty".into(), json!(kty));
            for (name, v) in [
                ("crv", crv.map(|c| json!(c))),
                ("x", x),
                ("y", y),
                ("n", n),
                ("e", e),
                ("kid", kid),
            ] {
                if let Some(v) = v {
                    o.insert(name.into(), v);
                }
            }
            Value::Object(o)
        })
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, char),
    Delete(usize),
}

fn apply(token: &str, m: &Mutation) -> Option<String> {
    let mut bytes = token.as_bytes().to_vec();
    match *m {
        Mutation::Replace(i, b) => {
            let i = i % bytes.len();
            bytes[i] = b;
        }
        Mutation::Insert(i, c) => {
            let i = i % (bytes.len() + 1);
            let mut buf = [0u8; 4];
            let enc = c.encode_utf8(&mut buf).as_bytes().to_vec();
            bytes.splice(i..i, enc);
        }
        Mutation::Delete(i) => {
            let i = i % bytes.len();
            bytes.remove(i);
        }
    }
    String::from_utf8(bytes).ok()
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => (any::<usize>(), 0u8..128).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => (any::<usize>(), any::<char>()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        1 => (any::<usize>(), prop::sample::select(vec!['A', 'a', '0', '-', '_', '.', '=', ' '])).prop_map(|(i, c)| Mutation::Insert(i, c)),
        1 => any::<usize>().prop_map(Mutation::Delete),
    ]
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 384,
        // Integration tests have no lib.rs to anchor regression files to;
        // failures print the minimal input instead.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        every_entry_point(&String::from_utf8_lossy(&bytes));
        // Raw bytes as JWKS and revocation list (not necessarily UTF-8).
        assert_err_code(&KeySet::from_jwks(&bytes));
        assert_err_code(&RevocationList::from_json(&bytes));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        every_entry_point(&s);
    }

    #[test]
    fn token_shaped_strings_never_panic(s in "[A-Za-z0-9_=+/ -]{0,80}(\\.[A-Za-z0-9_=+/ -]{0,80}){0,4}") {
        every_entry_point(&s);
    }

    #[test]
    fn random_header_and_payload_json_never_panic(
        header in arb_object(),
        payload in arb_json(),
        sig in prop::collection::vec(any::<u8>(), 0..80),
        alg in prop::sample::select(vec!["ES256", "EdDSA", "HS256", "RS256", "none"]),
        kid in prop::option::of(prop::sample::select(vec![KID_EC, KID_ED, KID_HS, KID_RSA, "x"])),
    ) {
        let mut h = header;
        h.insert("alg".into(), json!(alg));
        if let Some(kid) = kid {
            h.insert("kid".into(), json!(kid));
        }
        let t = format!("{}.{}.{}", b64_json(&Value::Object(h)), b64_json(&payload), b64(&sig));
        every_entry_point(&t);
    }

    /// Random claims with a *valid* HS256 signature: no panic, and success
    /// only when the claims really pass the policy.
    #[test]
    fn validly_signed_random_claims(
        extra_header in arb_object(),
        claims in arb_object(),
        with_exp in any::<bool>(),
    ) {
        let mut h = extra_header;
        h.insert("alg".into(), json!("HS256"));
        h.insert("kid".into(), json!(KID_HS));
        let mut c = claims;
        if with_exp {
            c.insert("exp".into(), json!(NOW + 10));
        }
        let t = token(&Value::Object(h.clone()), &Value::Object(c.clone()), &hs(Algorithm::HS256));
        let policy = policy_all().audience(AUD);
        let r = verify(&t, keys(), &policy, NOW);
        assert_err_code(&r);
        if let Ok(v) = &r {
            prop_assert_eq!(&v.claims, &c);
            prop_assert!(!h.contains_key("crit") && !h.contains_key("b64"));
            let exp = c["exp"].as_f64().unwrap();
            prop_assert!((NOW as f64) < exp && exp <= MAX_NUMERIC_DATE);
            let aud_ok = match &c["aud"] {
                Value::String(a) => a == AUD,
                Value::Array(items) => items.iter().all(Value::is_string) && items.iter().any(|a| a == AUD),
                _ => false,
            };
            prop_assert!(aud_ok);
        }
        entry_points(&t);
    }

    /// Any single-byte change to a valid ES256 / EdDSA / HS256 token makes
    /// it fail (unless the change is a no-op).
    #[test]
    fn single_byte_change_never_verifies(which in 0usize..3, m in arb_mutation()) {
        let good = &valid_tokens()[which];
        if let Some(t) = apply(good, &m) {
            let r = verify(&t, keys(), &policy_all(), NOW);
            assert_err_code(&r);
            if t != *good {
                prop_assert!(r.is_err(), "{:?} verified after {:?}", t, m);
            } else {
                prop_assert!(r.is_ok());
            }
            let _ = inspect(&t, Some(NOW));
        }
    }

    /// Several random changes: never panics, never verifies.
    #[test]
    fn multiple_changes_never_verify(which in 0usize..3, ms in prop::collection::vec(arb_mutation(), 1..8)) {
        let good = &valid_tokens()[which];
        let mut t = good.clone();
        for m in &ms {
            if let Some(next) = apply(&t, m) {
                if !next.is_empty() {
                    t = next;
                }
            }
        }
        every_entry_point(&t);
    }

    /// Swapping, duplicating or dropping segments never verifies.
    #[test]
    fn segment_shuffles_never_verify(which in 0usize..3, order in prop::collection::vec(0usize..3, 0..6)) {
        let good = &valid_tokens()[which];
        let segs = segments(good);
        let t = order.iter().map(|&i| segs[i].as_str()).collect::<Vec<_>>().join(".");
        if t != *good {
            every_entry_point(&t);
        }
        // Segments from different valid tokens.
        let other = segments(&valid_tokens()[(which + 1) % 3]);
        let mixed = [&segs[0], &other[1], &segs[2]].map(String::as_str).join(".");
        assert!(verify(&mixed, keys(), &policy_all(), NOW).is_err());
        let mixed = [&other[0], &segs[1], &segs[2]].map(String::as_str).join(".");
        assert!(verify(&mixed, keys(), &policy_all(), NOW).is_err());
    }

    #[test]
    fn random_jwks_never_panic(entries in prop::collection::vec(prop_oneof![3 => arb_jwk(), 1 => arb_json()], 0..6)) {
        let n = entries.len();
        let doc = jwks(&entries);
        match KeySet::from_jwks(&doc) {
            Ok(set) => {
                prop_assert_eq!(set.keys().len() + set.issues().len(), n);
                for t in valid_tokens() {
                    // None of these random keys is one of the signing keys.
                    let r = verify(t, &set, &policy_all(), NOW);
                    assert_err_code(&r);
                    prop_assert!(r.is_err());
                }
            }
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::JwksInvalid),
        }
        assert_err_code(&KeySet::from_secret_jwks(&doc));
    }

    /// Any text as a JWK `kid` (over-long ones are skipped and reported).
    #[test]
    fn jwks_kid_of_any_text_never_panics(kid in prop_oneof![
        any::<String>(),
        "[a€é😀]{80,140}",
    ]) {
        let doc = jwks(&[ec().jwk(&kid)]);
        let set = KeySet::from_jwks(&doc).unwrap();
        prop_assert_eq!(set.keys().len() + set.issues().len(), 1);
        prop_assert_eq!(set.keys().len() == 1, kid.len() <= 256);
    }

    #[test]
    fn mutated_jwks_never_panic(ms in prop::collection::vec(arb_mutation(), 1..6)) {
        let mut doc = String::from_utf8(standard_jwks()).unwrap();
        for m in &ms {
            if let Some(next) = apply(&doc, m) {
                doc = next;
            }
        }
        match KeySet::from_jwks(doc.as_bytes()) {
            Ok(set) => {
                for t in valid_tokens() {
                    assert_err_code(&verify(t, &set, &policy_all(), NOW));
                }
            }
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::JwksInvalid),
        }
    }

    #[test]
    fn random_revocation_lists_never_panic(list in arb_object(), iss in prop::option::of(Just(ISS))) {
        let mut l = list;
        if let Some(i) = iss {
            l.insert("iss".into(), json!(i));
        }
        let text = Value::Object(l.clone()).to_string();
        let mut policy = policy_all();
        match install_revocations(&text, keys(), &mut policy) {
            Ok(()) => {
                for t in valid_tokens() {
                    assert_err_code(&verify(t, keys(), &policy, NOW));
                }
            }
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::RevocationListInvalid),
        }
        // The same JSON as a signed list.
        let signed = token(
            &json!({"alg": "ES256", "kid": KID_EC, "typ": "revocation-list+jwt"}),
            &Value::Object(l),
            &ec(),
        );
        let r = verify_revocation_list(&signed, keys(), &policy_all());
        assert_err_code(&r);
        if let Err(e) = r {
            prop_assert_eq!(e.kind(), ErrorKind::RevocationListInvalid);
        }
    }

    #[test]
    fn mutated_signed_revocation_list_never_verifies(m in arb_mutation()) {
        let good = signed_list();
        if let Some(t) = apply(good, &m) {
            let r = verify_revocation_list(&t, keys(), &policy_all());
            assert_err_code(&r);
            // Whitespace around a revocation list (shipped as a file) is
            // trimmed; it is outside the signed bytes.
            if t.trim() != *good {
                prop_assert!(r.is_err(), "{:?} verified after {:?}", t, m);
            }
        }
    }

    /// `exp` oracle: accepted iff it is a NumericDate in range and now < exp.
    #[test]
    fn exp_oracle(
        exp in prop_oneof![
            any::<i64>().prop_map(|n| json!(n)),
            (0i64..=300_000_000_000).prop_map(|n| json!(n)),
            (-10.0f64..3.0e11).prop_map(|f| json!(f)),
            (NOW - 5..NOW + 5).prop_map(|n| json!(n)),
            (-5.0f64..5.0).prop_map(|d| json!(NOW as f64 + d)),
        ],
        now in prop_oneof![0u64..=300_000_000_000, Just(NOW)],
    ) {
        let t = token_kid(KID_HS, &claims_with("exp", Some(exp.clone())), &hs(Algorithm::HS256));
        let policy = policy_all().require_exp(true);
        // Keep nbf/iat out of the way.
        let mut c = claims_with("exp", Some(exp.clone()));
        c.as_object_mut().unwrap().remove("nbf");
        c.as_object_mut().unwrap().remove("iat");
        let t2 = token_kid(KID_HS, &c, &hs(Algorithm::HS256));
        let e = exp.as_f64().unwrap();
        let in_range = (0.0..=MAX_NUMERIC_DATE).contains(&e);
        let r = verify(&t2, keys(), &policy, now);
        prop_assert_eq!(r.is_ok(), in_range && (now as f64) < e, "exp {} now {}: {:?}", exp, now, r.as_ref().err());
        if let Err(err) = r {
            let expected = if in_range { "ERR_JWT_EXPIRED" } else { "ERR_JWT_CLAIM_VALIDATION_FAILED" };
            prop_assert_eq!(err.code(), expected);
            prop_assert_eq!(err.claim_name(), Some("exp"));
        }
        assert_err_code(&verify(&t, keys(), &policy, now));
    }

    /// `nbf` oracle: accepted iff in range and now >= nbf (exp far ahead).
    #[test]
    fn nbf_oracle(nbf in prop_oneof![
            any::<i64>().prop_map(|n| json!(n)),
            (NOW - 5..NOW + 5).prop_map(|n| json!(n)),
            (-5.0f64..5.0).prop_map(|d| json!(NOW as f64 + d)),
        ],
        leeway in 0u64..10,
    ) {
        let mut c = claims_with("nbf", Some(nbf.clone()));
        c.as_object_mut().unwrap().remove("iat");
        c["exp"] = json!(MAX_NUMERIC_DATE as u64);
        let t = token_kid(KID_HS, &c, &hs(Algorithm::HS256));
        let n = nbf.as_f64().unwrap();
        let in_range = (0.0..=MAX_NUMERIC_DATE).contains(&n);
        let r = verify(&t, keys(), &policy_all().leeway(leeway), NOW);
        prop_assert_eq!(r.is_ok(), in_range && NOW as f64 >= n - leeway as f64, "nbf {}: {:?}", nbf, r.as_ref().err());
        if let Err(err) = r {
            prop_assert_eq!(err.claim_name(), Some("nbf"));
        }
    }

    /// `aud` oracle: a string equal to the audience, or an array of strings
    /// containing it.
    #[test]
    fn aud_oracle(aud in prop_oneof![
        prop::sample::select(vec!["api", "API", "", "api ", "other"]).prop_map(|s| json!(s)),
        prop::collection::vec(prop_oneof![
            prop::sample::select(vec!["api", "Api", "x", ""]).prop_map(|s| json!(s)),
            Just(json!(1)),
            Just(json!(null)),
            Just(json!(["api"])),
        ], 0..4).prop_map(Value::Array),
        arb_json(),
    ]) {
        let t = token_kid(KID_HS, &claims_with("aud", Some(aud.clone())), &hs(Algorithm::HS256));
        let r = verify(&t, keys(), &policy_all().audience(AUD), NOW);
        let expected = match &aud {
            Value::String(a) => a == AUD,
            Value::Array(items) => items.iter().all(Value::is_string) && items.iter().any(|a| a == AUD),
            _ => false,
        };
        prop_assert_eq!(r.is_ok(), expected, "aud {}", aud);
        if let Err(e) = r {
            prop_assert_eq!(e.kind(), ErrorKind::ClaimValidationFailed);
            prop_assert_eq!(e.claim_name(), Some("aud"));
        }
    }

    /// `typ` comparison: case-insensitive, optional `application/` prefix,
    /// nothing else.
    #[test]
    fn typ_oracle(prefix in prop::sample::select(vec!["", "application/", "APPLICATION/", "Application/", "app/", "application/application/"]),
                  body in "[aAtT][tT]\\+[jJ][wW][tT]|[a-z+]{0,8}") {
        let typ = format!("{prefix}{body}");
        let t = token(&json!({"alg": "HS256", "kid": KID_HS, "typ": typ}), &good_claims(), &hs(Algorithm::HS256));
        let r = verify(&t, keys(), &policy_all().typ("at+jwt"), NOW);
        let lower = typ.to_ascii_lowercase();
        let expected = lower == "at+jwt" || lower == "application/at+jwt";
        prop_assert_eq!(r.is_ok(), expected, "typ {:?}", typ);
        // Never an access token when typed as a revocation list.
        let rl = token(&json!({"alg": "HS256", "kid": KID_HS, "typ": format!("{prefix}revocation-list+jwt")}), &good_claims(), &hs(Algorithm::HS256));
        let r = verify(&rl, keys(), &policy_all(), NOW);
        if prefix.is_empty() || prefix.eq_ignore_ascii_case("application/") {
            prop_assert_eq!(r.unwrap_err().kind(), ErrorKind::JwsInvalid);
        }
    }
}

#[test]
fn shared_key_set_is_sync() {
    // Sanity for the statics above: the shared key set is usable from threads.
    fn assert_sync<T: Sync + Send>() {}
    assert_sync::<KeySet>();
    assert_sync::<Policy>();
    assert_eq!(keys().keys().len(), 5);
}

/// Exhaustive complement to `single_byte_change_never_verifies`: at every
/// position of each valid token, substituting the next base64url character,
/// substituting a '.', deleting the byte, or inserting 'A' never verifies.
#[test]
fn every_position_substitution_deletion_insertion_fails() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let policy = policy_all();
    for good in valid_tokens() {
        for i in 0..good.len() {
            let b = good.as_bytes()[i];
            let next = match ALPHABET.iter().position(|&c| c == b) {
                Some(p) => ALPHABET[(p + 1) % ALPHABET.len()],
                None => b'A',
            };
            for m in [
                Mutation::Replace(i, next),
                Mutation::Replace(i, b'.'),
                Mutation::Delete(i),
                Mutation::Insert(i, 'A'),
            ] {
                let t = apply(good, &m).unwrap();
                if t == *good {
                    continue;
                }
                let r = verify(&t, keys(), &policy, NOW);
                assert!(r.is_err(), "{m:?} on {good}");
                assert_err_code(&r);
            }
        }
    }
}
