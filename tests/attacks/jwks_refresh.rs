//! Attack catalog §28: JWKS fetching / refresh abuse.

use super::*;

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
