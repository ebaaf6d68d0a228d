//! Revocation (jti, sub, kid, signed lists, epochs): no numbered section of the attack
//! catalog; the list-vs-token confusion is §26 (`typ_confusion`), list size limits §23.

use super::*;

use jwt_edge::{
    begin, begin_revocation_list, finish, finish_revocation_list, install_revocations,
    verify_revocation_list, Algorithm, ClaimReason, RevocationList, RevocationReason,
};

const REVOKED: &str = "ERR_JWT_REVOKED";

// ===========================================================================
// Revocation (jti, sub, kid, signed lists, epochs)
// ===========================================================================

fn policy_with_list(list: &Value) -> Policy {
    let mut policy = policy_all();
    install_revocations(&list.to_string(), &standard_keys(), &mut policy).unwrap();
    policy
}

#[test]
fn revocation_by_jti() {
    let policy = policy_with_list(&revocation_list_json(1));
    assert_ok(verify_with(&good_es256(), &standard_keys(), &policy));
    let t = with_claim("jti", json!("tok-revoked"));
    let e = assert_code(verify_with(&t, &standard_keys(), &policy), REVOKED);
    assert_eq!(e.revocation_reason(), Some(RevocationReason::Jti));
    // The same jti from another issuer is not revoked (lists are per issuer).
    let mut c = claims_with("jti", Some(json!("tok-revoked")));
    c["iss"] = json!("https://other.example");
    assert_ok(verify_with(
        &token_kid(KID_EC, &c, &ec()),
        &standard_keys(),
        &policy,
    ));
    // A non-string jti is invalid, not "not revoked".
    assert_claim(
        verify_with(&with_claim("jti", json!(1)), &standard_keys(), &policy),
        CLAIM,
        "jti",
        ClaimReason::Invalid,
    );
}

#[test]
fn revocation_by_sub_before_iat() {
    let policy = policy_with_list(&revocation_list_json(1));
    let before = NOW - 10;
    let mut c = claims_with("sub", Some(json!("user-revoked")));
    c["iat"] = json!(before);
    assert_ok(verify_with(
        &token_kid(KID_EC, &c, &ec()),
        &standard_keys(),
        &policy,
    ));
    c["iat"] = json!(before - 1);
    let e = assert_code(
        verify_with(&token_kid(KID_EC, &c, &ec()), &standard_keys(), &policy),
        REVOKED,
    );
    assert_eq!(e.revocation_reason(), Some(RevocationReason::Sub));
    // No iat counts as 0: revoked.
    c.as_object_mut().unwrap().remove("iat");
    let e = assert_code(
        verify_with(&token_kid(KID_EC, &c, &ec()), &standard_keys(), &policy),
        REVOKED,
    );
    assert_eq!(e.revocation_reason(), Some(RevocationReason::Sub));
    // Fractional iat just below the cut-off.
    c["iat"] = json!(before as f64 - 0.5);
    assert_code(
        verify_with(&token_kid(KID_EC, &c, &ec()), &standard_keys(), &policy),
        REVOKED,
    );
}

#[test]
fn revocation_by_kid() {
    let policy = policy_with_list(&revocation_list_json(1));
    assert_ok(verify_with(&good_es256(), &standard_keys(), &policy));
    let t = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256));
    let e = assert_code(verify_with(&t, &standard_keys(), &policy), REVOKED);
    assert_eq!(e.revocation_reason(), Some(RevocationReason::Kid));
    // The kid revocation holds whatever the token's issuer.
    let mut c = good_claims();
    c["iss"] = json!("https://other.example");
    let t = token_kid(KID_RSA, &c, &rsa(Algorithm::RS256));
    assert_code(verify_with(&t, &standard_keys(), &policy), REVOKED);
    // A kidless token verified by the revoked key is revoked too.
    let keys = keys_from(&jwks(&[rsa_jwk(KID_RSA)]));
    let t = token(
        &json!({"alg": "RS256"}),
        &good_claims(),
        &rsa(Algorithm::RS256),
    );
    assert_code(verify_with(&t, &keys, &policy), REVOKED);
}

#[test]
fn revocation_signed_list_verified_against_keyset() {
    let keys = standard_keys();
    let mut policy = policy_all();
    let signed = signed_revocation_list(1, "revocation-list+jwt");
    let list = verify_revocation_list(&signed, &keys, &policy).unwrap();
    assert_eq!(list.issuer(), ISS);
    assert_eq!(list.epoch(), 1);
    install_revocations(&signed, &keys, &mut policy).unwrap();
    assert_code(
        verify_with(&with_claim("jti", json!("tok-revoked")), &keys, &policy),
        REVOKED,
    );
    // Tampered signature, attacker key, unknown kid, wrong typ.
    let mut sig = signature_of(&signed);
    sig[5] ^= 1;
    let tampered = with_signature(&signed, &sig);
    assert_code(
        verify_revocation_list(&tampered, &keys, &policy),
        SIG_FAILED,
    );
    let forged = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "revocation-list+jwt"}),
        &revocation_list_json(2),
        &attacker_ec(),
    );
    assert_code(verify_revocation_list(&forged, &keys, &policy), SIG_FAILED);
    let mut p2 = policy_all();
    assert_code(install_revocations(&forged, &keys, &mut p2), SIG_FAILED);
    let unknown = token(
        &json!({"alg": "ES256", "kid": "attacker", "typ": "revocation-list+jwt"}),
        &revocation_list_json(2),
        &attacker_ec(),
    );
    assert_code(verify_revocation_list(&unknown, &keys, &policy), NO_KEY);
    assert_code(
        verify_revocation_list(&signed_revocation_list(1, "JWT"), &keys, &policy),
        JWS_INVALID,
    );
    // The pending/finish split keeps the two purposes apart.
    let pending = begin_revocation_list(&signed, &keys, &policy).unwrap();
    assert_code(finish(pending, Some(0), NOW), JWS_INVALID);
    let access = good_es256();
    let pending = begin(&access, &keys, &policy).unwrap();
    assert_code(finish_revocation_list(pending, Some(0)), JWS_INVALID);
    let pending = begin_revocation_list(&signed, &keys, &policy).unwrap();
    assert_code(finish_revocation_list(pending, None), SIG_FAILED);
    // Payload not matching the schema.
    let bad = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "revocation-list+jwt"}),
        &json!({"iss": ISS, "epoch": 1, "generated_at": NOW, "extra": 1}),
        &ec(),
    );
    assert_code(
        verify_revocation_list(&bad, &keys, &policy),
        REVOCATION_INVALID,
    );
}

#[test]
fn revocation_lower_epoch_refused() {
    let keys = standard_keys();
    let mut policy = policy_all();
    install_revocations(
        &signed_revocation_list(5, "revocation-list+jwt"),
        &keys,
        &mut policy,
    )
    .unwrap();
    let revoked = with_claim("jti", json!("tok-revoked"));
    assert_code(verify_with(&revoked, &keys, &policy), REVOKED);
    // A replayed older list (signed or not) that would un-revoke everything.
    let mut empty_old = revocation_list_json(4);
    empty_old["revoked"]["jti"] = json!([]);
    let old_signed = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "revocation-list+jwt"}),
        &empty_old,
        &ec(),
    );
    assert_code(
        install_revocations(&old_signed, &keys, &mut policy),
        REVOCATION_INVALID,
    );
    assert_code(
        install_revocations(&empty_old.to_string(), &keys, &mut policy),
        REVOCATION_INVALID,
    );
    assert_code(verify_with(&revoked, &keys, &policy), REVOKED);
    // The same or a newer epoch replaces the list.
    let mut empty_new = revocation_list_json(5);
    empty_new["revoked"]["jti"] = json!([]);
    install_revocations(&empty_new.to_string(), &keys, &mut policy).unwrap();
    assert_ok(verify_with(&revoked, &keys, &policy));
    assert_eq!(policy.revocations().get(ISS).unwrap().epoch(), 5);
}

#[test]
fn revocation_list_json_is_strict() {
    let list = revocation_list_json(1);
    let compact = RevocationList::from_json(list.to_string().as_bytes()).unwrap();
    assert!(!compact.is_empty());
    let pretty = serde_json::to_string_pretty(&list).unwrap();
    assert_eq!(
        RevocationList::from_json(format!(" \n{pretty}\t\r\n").as_bytes()).unwrap(),
        compact
    );
    for bad in [
        r#"{"iss":"x","epoch":1}"#.to_string(),
        r#"{"iss":"x","epoch":-1,"generated_at":1}"#.to_string(),
        r#"{"iss":"x","epoch":"1","generated_at":1}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"unknown":1}"#.to_string(),
        r#"{"iss":"x","iss":"y","epoch":1,"generated_at":1}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"jti":[{"jti":"a"}]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"kid":[1]}"#.to_string(),
        r#"{"iss":"x","epoch":1.5,"generated_at":1}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"jti":[{"jti":"a","jti":"b","exp":1}]}"#
            .to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"jti":[],"jti":[]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"kid":[],"kid":[]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"sub":[{"sub":"a","before":1,"x":2}]}"#
            .to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"jti":[{"jti":"a","exp":1},]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"jti":{"jti":"a","exp":1}}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"sub":["a"]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"kid":["a"]"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1} {}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"kid":["a" "b"]}"#.to_string(),
        r#"[]"#.to_string(),
        String::new(),
        // The `revoked` form: an object of the three arrays, nothing else.
        r#"{"iss":"x","epoch":1,"generated_at":1,"revoked":[]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"revoked":{"iat":1}}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"revoked":{"jti":[],"jti":[]}}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"revoked":{},"revoked":{}}"#.to_string(),
        // The two forms mixed, in either order.
        r#"{"iss":"x","epoch":1,"generated_at":1,"revoked":{"jti":[]},"kid":[]}"#.to_string(),
        r#"{"iss":"x","epoch":1,"generated_at":1,"kid":[],"revoked":{"jti":[]}}"#.to_string(),
    ] {
        assert_code(
            RevocationList::from_json(bad.as_bytes()),
            REVOCATION_INVALID,
        );
    }
}

/// The first form of the list (entry arrays at the top level, where the
/// registered claim names `jti` and `sub` held arrays) is still read, for one
/// version, and means the same as the `revoked` form.
#[test]
fn revocation_list_first_form_still_read() {
    let new = revocation_list_json(1);
    let mut old = json!({"iss": ISS, "epoch": 1, "generated_at": NOW});
    for k in ["jti", "sub", "kid"] {
        old[k] = new["revoked"][k].clone();
    }
    let a = RevocationList::from_json(new.to_string().as_bytes()).unwrap();
    let b = RevocationList::from_json(old.to_string().as_bytes()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 3);
    let policy = policy_with_list(&old);
    let revoked = with_claim("jti", json!("tok-revoked"));
    assert_code(verify_with(&revoked, &standard_keys(), &policy), REVOKED);
}
