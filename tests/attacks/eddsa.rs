//! Attack catalog §17: Ed25519 / EdDSA (signature shapes, weak and wrong keys).

use super::*;

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

/// RFC 9864's fully-specified `Ed25519` is EdDSA only where a policy asks
/// for it (client assertions); then it still needs an Ed25519 key and
/// EdDSA on the allowlist, and no other spelling is accepted.
#[test]
fn ed25519_name_only_when_asked() {
    let t = token_kid(KID_ED, &good_claims(), &ed());
    let renamed = |alg: &str| {
        let h = b64_json(&json!({"alg": alg, "kid": KID_ED}));
        token_from_segments(&h, &segments(&t)[1], &ed())
    };
    let asked = policy_all().accept_ed25519_name(true);
    assert_ok(verify(&renamed("Ed25519"), &standard_keys(), &asked, NOW));
    for alg in ["ED25519", "ed25519", "Ed448"] {
        assert_code(
            verify(&renamed(alg), &standard_keys(), &asked, NOW),
            ALG_NOT_ALLOWED,
        );
    }
    let no_eddsa = Policy::new()
        .algorithms([jwt_edge::Algorithm::ES256])
        .accept_ed25519_name(true);
    assert_code(
        verify(&renamed("Ed25519"), &standard_keys(), &no_eddsa, NOW),
        ALG_NOT_ALLOWED,
    );
    // An EC key named by kid is not an Ed25519 key.
    let h = b64_json(&json!({"alg": "Ed25519", "kid": KID_EC}));
    let wrong_key = token_from_segments(&h, &segments(&t)[1], &ed());
    assert!(verify(&wrong_key, &standard_keys(), &asked, NOW).is_err());
}
