//! Attack catalog §4–§7: key selection — embedded `jwk` header, `jku` / `x5u` / `x5c`,
//! `kid` injection and type confusion, `kid` collisions and key-selection fallbacks.

use super::*;

use jwt_edge::{begin, inspect, Algorithm, KeyFamily};

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
