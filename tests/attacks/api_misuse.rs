//! Attack catalog §27: API misuse — using claims without (or before) verification.

use super::*;

use jwt_edge::{begin, finish, Algorithm};

// ===========================================================================
// §27 API misuse: claims only come out of verify / finish
// ===========================================================================

// `Pending` has no accessor for the claims (only the untrusted header, the
// algorithm, the candidate keys, the signing input and the signature): that
// is enforced by the type, not testable at run time. `inspect` is the only
// unverified decoder and is documented as never to be used for decisions.

#[test]
fn a27_finish_without_a_verified_key_never_yields_claims() {
    let keys = standard_keys();
    let policy = policy_all();
    let good = good_es256();
    let pending = begin(&good, &keys, &policy).unwrap();
    assert_eq!(pending.alg(), Algorithm::ES256);
    assert_eq!(pending.signing_input(), signing_input_of(&good).as_bytes());
    assert_eq!(pending.signature(), &signature_of(&good)[..]);
    assert_eq!(pending.check_signature().unwrap(), Some(0));
    // Before finish, only the (untrusted) header is decoded.
    assert!(!pending.header().contains_key("sub"));
    assert_eq!(pending.header().len(), 2);
    // The same valid token, but the caller reports no verifying key.
    assert_code(finish(pending, None, NOW), SIG_FAILED);
    // An index that is not a candidate.
    for i in [1, 2, usize::MAX] {
        let pending = begin(&good, &keys, &policy).unwrap();
        assert_code(finish(pending, Some(i), NOW), SIG_FAILED);
    }
    // A tampered token: the backends find no key, and finish refuses.
    let mut sig = signature_of(&good);
    sig[0] ^= 1;
    let tampered = with_signature(&good, &sig);
    let pending = begin(&tampered, &keys, &policy).unwrap();
    let verified_by = pending.check_signature().unwrap();
    assert_eq!(verified_by, None);
    assert_code(finish(pending, verified_by, NOW), SIG_FAILED);
    // Control: the honest path yields the claims.
    let pending = begin(&good, &keys, &policy).unwrap();
    let v = assert_ok(finish(pending, Some(0), NOW));
    assert_eq!(v.claims["sub"], json!("user-1"));
    assert_eq!(v.kid.as_deref(), Some(KID_EC));
}

#[test]
fn a27_claims_are_checked_before_they_are_returned() {
    // Even with the signature reported valid, finish validates the claims.
    let keys = standard_keys();
    let policy = policy_all();
    let expired = with_claim("exp", json!(NOW - 1));
    let pending = begin(&expired, &keys, &policy).unwrap();
    assert_eq!(pending.check_signature().unwrap(), Some(0));
    assert_code(finish(pending, Some(0), NOW), EXPIRED);
}
