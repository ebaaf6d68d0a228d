//! Attack catalog §13–§15: RSA — PKCS#1 v1.5 signature shapes, RSA-PSS parameters, weak or
//! abusive RSA keys.

use super::*;

use std::time::{Duration, Instant};

use jwt_edge::Algorithm;

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
