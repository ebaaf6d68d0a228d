//! Attack catalog §9–§12: ECDSA — r/s = 0 or ≥ n ("psychic signatures"), signature encoding
//! (length, DER), high-S (must be accepted), off-curve / wrong-curve public keys.

use super::*;

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
