//! Attack catalog §16: HMAC keys and comparison (short secrets, tag shapes).

use super::*;

use jwt_edge::{Algorithm, Key};

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
