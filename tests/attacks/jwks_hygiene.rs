//! Attack catalog §8: JWKS hygiene — private members, `use` / `key_ops`, symmetric keys,
//! invalid keys.

use super::*;

use jwt_edge::Algorithm;

// ===========================================================================
// §8 JWKS hygiene
// ===========================================================================

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
