//! Attack catalog §26: `typ` / cross-JWT confusion (access vs ID vs logout token vs
//! revocation list).

use super::*;

use jwt_edge::{verify_revocation_list, ClaimReason};

// ===========================================================================
// §26 typ / cross-JWT confusion
// ===========================================================================

#[test]
fn a26_typ_explicit_typing() {
    let policy = policy_all().typ("at+jwt");
    let with_typ = |typ: Option<Value>| {
        let mut h = json!({"alg": "ES256", "kid": KID_EC});
        if let Some(t) = typ {
            h["typ"] = t;
        }
        verify_with(&es256_with_header(&h), &standard_keys(), &policy)
    };
    for ok in [
        "at+jwt",
        "AT+JWT",
        "At+Jwt",
        "application/at+jwt",
        "application/AT+JWT",
        "APPLICATION/at+jwt",
    ] {
        assert_ok(with_typ(Some(json!(ok))));
    }
    for bad in [
        "JWT",
        "jwt",
        "at+jwt ",
        " at+jwt",
        "logout+jwt",
        "id_token+jwt",
        "application/jwt",
        "application/application/at+jwt",
        "text/at+jwt",
        "at+jwt/x",
        "",
    ] {
        assert_claim(
            with_typ(Some(json!(bad))),
            CLAIM,
            "typ",
            ClaimReason::CheckFailed,
        );
    }
    assert_claim(with_typ(None), CLAIM, "typ", ClaimReason::Missing);
    // typ must be a string at all.
    assert_code(with_typ(Some(json!(1))), JWS_INVALID);
    assert_code(with_typ(Some(json!(["at+jwt"]))), JWS_INVALID);
    // The policy's own value is normalised the same way.
    let p2 = policy_all().typ("application/AT+JWT");
    let t = es256_with_header(&json!({"alg": "ES256", "kid": KID_EC, "typ": "at+jwt"}));
    assert_ok(verify_with(&t, &standard_keys(), &p2));
}

#[test]
fn a26_id_token_presented_as_access_token() {
    let policy = policy_all().typ("at+jwt").audience(AUD);
    let access = es256_with_header(&json!({"alg": "ES256", "kid": KID_EC, "typ": "at+jwt"}));
    assert_ok(verify_with(&access, &standard_keys(), &policy));
    // An OIDC ID token: typ JWT, aud = client id, nonce. Same key.
    let mut id_claims = good_claims();
    id_claims["aud"] = json!("client-123");
    id_claims["nonce"] = json!("n-0S6_WzA2Mj");
    let id_token = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "JWT"}),
        &id_claims,
        &ec(),
    );
    assert_claim(
        verify_with(&id_token, &standard_keys(), &policy),
        CLAIM,
        "typ",
        ClaimReason::CheckFailed,
    );
    // Even if it claimed at+jwt, the audience does not match.
    let relabelled = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "at+jwt"}),
        &id_claims,
        &ec(),
    );
    assert_claim(
        verify_with(&relabelled, &standard_keys(), &policy),
        CLAIM,
        "aud",
        ClaimReason::CheckFailed,
    );
    // A logout token (events, no exp requirement in some profiles).
    let logout = token(
        &json!({"alg": "ES256", "kid": KID_EC, "typ": "logout+jwt"}),
        &json!({"iss": ISS, "aud": AUD, "iat": NOW, "exp": NOW + 60, "jti": "l-1",
                "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
        &ec(),
    );
    assert_claim(
        verify_with(&logout, &standard_keys(), &policy),
        CLAIM,
        "typ",
        ClaimReason::CheckFailed,
    );
}

#[test]
fn a26_revocation_list_presented_as_access_token_refused() {
    let keys = standard_keys();
    let policy = policy_all();
    let list = signed_revocation_list(1, "revocation-list+jwt");
    // It is a valid signed revocation list...
    assert!(verify_revocation_list(&list, &keys, &policy).is_ok());
    // ...and never an access token, whatever its payload.
    assert_code(verify_with(&list, &keys, &policy), JWS_INVALID);
    for typ in [
        "revocation-list+jwt",
        "application/revocation-list+jwt",
        "REVOCATION-LIST+JWT",
    ] {
        let t = es256_with_header(&json!({"alg": "ES256", "kid": KID_EC, "typ": typ}));
        assert_code(verify_with(&t, &keys, &policy), JWS_INVALID);
        assert_code(verify_with(&t, &keys, &policy_all().typ(typ)), JWS_INVALID);
    }
    // Conversely an access token is not a revocation list.
    let access = es256_with_header(&json!({"alg": "ES256", "kid": KID_EC, "typ": "at+jwt"}));
    assert_code(verify_revocation_list(&access, &keys, &policy), JWS_INVALID);
    assert_code(
        verify_revocation_list(&good_es256(), &keys, &policy),
        JWS_INVALID,
    );
}
