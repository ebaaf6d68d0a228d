//! Attack catalog §24–§25: claims — `exp` / `nbf` / `iat` type and range confusion, `aud` as
//! string vs array and `iss` (and `sub`) binding.

use super::*;

use jwt_edge::ClaimReason;

// ===========================================================================
// §24 exp / nbf / iat
// ===========================================================================

fn verify_at(token: &str, policy: &Policy, now: u64) -> jwt_edge::Result<jwt_edge::Verified> {
    verify(token, &standard_keys(), policy, now)
}

#[test]
fn a24_numeric_date_types() {
    assert_ok(verify_std(&good_es256()));
    for name in ["exp", "nbf", "iat"] {
        for bad in [
            json!("1700003600"),
            json!(null),
            json!(true),
            json!([]),
            json!([NOW + 3600]),
            json!({}),
            json!(-1),
            json!(-0.5),
            json!(18_446_744_073_709_551_615u64),
            json!(9_223_372_036_854_775_807i64),
            json!(253_402_300_800u64),
            json!(1e300),
        ] {
            let t = with_claim(name, bad.clone());
            assert_claim(verify_std(&t), CLAIM, name, ClaimReason::Invalid);
        }
    }
    // Literal out-of-range integers (beyond u64 / i64).
    let header = r#"{"alg":"ES256","kid":"ec-1"}"#;
    for lit in [
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775809",
        "253402300800",
    ] {
        let p = format!(r#"{{"sub":"a","exp":{lit}}}"#);
        assert_claim(
            verify_std(&token_raw(header, &p, &ec())),
            CLAIM,
            "exp",
            ClaimReason::Invalid,
        );
    }
    // 1e400 is not a finite JSON number: the claims set does not parse.
    let p = r#"{"sub":"a","exp":1e400}"#;
    assert_code(verify_std(&token_raw(header, p, &ec())), JWT_INVALID);
    // The largest accepted NumericDate.
    assert_ok(verify_std(&with_claim("exp", json!(253_402_300_799u64))));
    assert_eq!(jwt_edge::MAX_NUMERIC_DATE, 253_402_300_799.0);
}

#[test]
fn a24_exp_boundary_and_fractions() {
    let policy = policy_all();
    let exp = NOW + 100;
    let t = with_claim("exp", json!(exp));
    assert_ok(verify_at(&t, &policy, exp - 1));
    assert_claim(
        verify_at(&t, &policy, exp),
        EXPIRED,
        "exp",
        ClaimReason::CheckFailed,
    );
    assert_code(verify_at(&t, &policy, exp + 1), EXPIRED);
    assert_code(verify_at(&t, &policy, u64::MAX), EXPIRED);
    // Float with a fraction: valid until the fraction has passed.
    let t = with_claim("exp", json!(exp as f64 + 0.5));
    assert_ok(verify_at(&t, &policy, exp));
    assert_code(verify_at(&t, &policy, exp + 1), EXPIRED);
    // Float without a fraction behaves like the integer.
    let t = with_claim("exp", json!(exp as f64));
    assert_ok(verify_at(&t, &policy, exp - 1));
    assert_code(verify_at(&t, &policy, exp), EXPIRED);
    // 1.7e9 == NOW: expired at NOW.
    let t = with_claim("exp", json!(1.7e9));
    assert_code(verify_at(&t, &policy, NOW), EXPIRED);
    // Leeway.
    let t = with_claim("exp", json!(exp));
    let lenient = policy_all().leeway(60);
    assert_ok(verify_at(&t, &lenient, exp + 59));
    assert_code(verify_at(&t, &lenient, exp + 60), EXPIRED);
}

#[test]
fn a24_exp_required_by_default() {
    let t = token_kid(KID_EC, &claims_with("exp", None), &ec());
    assert_claim(verify_std(&t), CLAIM, "exp", ClaimReason::Missing);
    assert_ok(verify_with(
        &t,
        &standard_keys(),
        &policy_all().require_exp(false),
    ));
}

#[test]
fn a24_nbf_and_iat() {
    let policy = policy_all();
    let nbf = NOW + 100;
    let t = with_claim("nbf", json!(nbf));
    assert_ok(verify_at(&t, &policy, nbf));
    assert_claim(
        verify_at(&t, &policy, nbf - 1),
        CLAIM,
        "nbf",
        ClaimReason::CheckFailed,
    );
    assert_ok(verify_at(&t, &policy_all().leeway(10), nbf - 10));
    assert_code(verify_at(&t, &policy_all().leeway(10), nbf - 11), CLAIM);
    // Far-future nbf.
    let t = with_claim("nbf", json!(253_402_300_799u64));
    assert_claim(verify_std(&t), CLAIM, "nbf", ClaimReason::CheckFailed);
    // nbf after exp: never valid.
    let mut c = good_claims();
    c["nbf"] = json!(NOW + 10);
    c["exp"] = json!(NOW + 5);
    let t = token_kid(KID_EC, &c, &ec());
    for now in [NOW, NOW + 5, NOW + 7, NOW + 10] {
        assert!(verify_at(&t, &policy, now).is_err());
    }
    // iat in the future.
    let iat = NOW + 100;
    let t = with_claim("iat", json!(iat));
    assert_ok(verify_at(&t, &policy, iat));
    assert_claim(
        verify_at(&t, &policy, iat - 1),
        CLAIM,
        "iat",
        ClaimReason::CheckFailed,
    );
    assert_ok(verify_at(&t, &policy_all().leeway(5), iat - 5));
    // Maximum age.
    let aged = policy_all().max_token_age(300);
    let t = with_claim("iat", json!(NOW - 300));
    assert_ok(verify_at(&t, &aged, NOW));
    assert_claim(
        verify_at(&t, &aged, NOW + 1),
        EXPIRED,
        "iat",
        ClaimReason::CheckFailed,
    );
    let t = token_kid(KID_EC, &claims_with("iat", None), &ec());
    assert_claim(
        verify_at(&t, &aged, NOW),
        CLAIM,
        "iat",
        ClaimReason::Missing,
    );
}

// ===========================================================================
// §25 aud / iss
// ===========================================================================

#[test]
fn a25_audience() {
    let policy = policy_all().audience(AUD);
    let check = |aud: Option<Value>| {
        verify_with(
            &token_kid(KID_EC, &claims_with("aud", aud), &ec()),
            &standard_keys(),
            &policy,
        )
    };
    assert_ok(check(Some(json!(AUD))));
    assert_ok(check(Some(json!([AUD]))));
    assert_ok(check(Some(json!(["other", AUD]))));
    for (aud, reason) in [
        (json!([]), ClaimReason::CheckFailed),
        (json!(""), ClaimReason::CheckFailed),
        (json!("API"), ClaimReason::CheckFailed),
        (json!("api "), ClaimReason::CheckFailed),
        (json!("https://api"), ClaimReason::CheckFailed),
        (json!(["other"]), ClaimReason::CheckFailed),
        (json!(["API", "Api"]), ClaimReason::CheckFailed),
        (json!([123]), ClaimReason::Invalid),
        (json!([["api"]]), ClaimReason::Invalid),
        (json!([AUD, 123]), ClaimReason::Invalid),
        (json!([AUD, null]), ClaimReason::Invalid),
        (json!(null), ClaimReason::Invalid),
        (json!(123), ClaimReason::Invalid),
        (json!({"api": true}), ClaimReason::Invalid),
        (json!(true), ClaimReason::Invalid),
    ] {
        assert_claim(check(Some(aud.clone())), CLAIM, "aud", reason);
    }
    assert_claim(check(None), CLAIM, "aud", ClaimReason::Missing);
    // Several accepted audiences.
    let two = policy_all().audience("a").audience("b");
    let t = token_kid(KID_EC, &claims_with("aud", Some(json!(["x", "b"]))), &ec());
    assert_ok(verify_with(&t, &standard_keys(), &two));
}

#[test]
fn a25_issuer_exact() {
    let policy = policy_all().issuer(ISS);
    let check = |iss: Option<Value>| {
        verify_with(
            &token_kid(KID_EC, &claims_with("iss", iss), &ec()),
            &standard_keys(),
            &policy,
        )
    };
    assert_ok(check(Some(json!(ISS))));
    for iss in [
        "https://issuer.example/",
        "http://issuer.example",
        "HTTPS://ISSUER.EXAMPLE",
        "https://issuer.example.evil",
        "https://issuer.example ",
        "",
    ] {
        assert_claim(
            check(Some(json!(iss))),
            CLAIM,
            "iss",
            ClaimReason::CheckFailed,
        );
    }
    for bad in [json!(123), json!([ISS]), json!(null)] {
        assert_claim(check(Some(bad)), CLAIM, "iss", ClaimReason::Invalid);
    }
    assert_claim(check(None), CLAIM, "iss", ClaimReason::Missing);
}

#[test]
fn a25_subject_exact() {
    let policy = policy_all().subject("user-1");
    let check = |sub: Option<Value>| {
        verify_with(
            &token_kid(KID_EC, &claims_with("sub", sub), &ec()),
            &standard_keys(),
            &policy,
        )
    };
    assert_ok(check(Some(json!("user-1"))));
    assert_claim(
        check(Some(json!("user-2"))),
        CLAIM,
        "sub",
        ClaimReason::CheckFailed,
    );
    assert_claim(
        check(Some(json!("USER-1"))),
        CLAIM,
        "sub",
        ClaimReason::CheckFailed,
    );
    assert_claim(check(Some(json!(1))), CLAIM, "sub", ClaimReason::Invalid);
    assert_claim(check(None), CLAIM, "sub", ClaimReason::Missing);
}

/// A policy with a sole audience (client assertions, draft-ietf-oauth-rfc7523bis):
/// `aud` must hold exactly one value, one of those accepted; an array
/// carrying the accepted value next to another (audience injection,
/// CVE-2025-27370/27371) is refused.
#[test]
fn a25_sole_audience() {
    let policy = policy_all().audience(AUD).audience("b").sole_audience(true);
    let check = |aud: Value| {
        verify_with(
            &token_kid(KID_EC, &claims_with("aud", Some(aud)), &ec()),
            &standard_keys(),
            &policy,
        )
    };
    assert_ok(check(json!(AUD)));
    assert_ok(check(json!([AUD])));
    assert_ok(check(json!("b")));
    for aud in [
        json!([AUD, "https://evil.example"]),
        json!(["https://evil.example", AUD]),
        json!([AUD, "b"]),
        json!([AUD, AUD]),
        json!([]),
        json!("other"),
    ] {
        assert_claim(check(aud.clone()), CLAIM, "aud", ClaimReason::CheckFailed);
    }
}

/// A maximum lifetime: `exp` − `iat` (or − now without `iat`) at most the
/// cap (plus leeway); `exp` is then required.
#[test]
fn a24_max_lifetime() {
    let policy = policy_all().max_lifetime(300);
    let at = |iat: Option<u64>, exp: Option<u64>| {
        let mut c = good_claims();
        let m = c.as_object_mut().unwrap();
        m.remove("nbf");
        match iat {
            Some(i) => m.insert("iat".into(), json!(i)),
            None => m.remove("iat"),
        };
        match exp {
            Some(e) => m.insert("exp".into(), json!(e)),
            None => m.remove("exp"),
        };
        verify_with(&token_kid(KID_EC, &c, &ec()), &standard_keys(), &policy)
    };
    assert_ok(at(Some(NOW - 10), Some(NOW - 10 + 300)));
    assert_claim(
        at(Some(NOW - 10), Some(NOW - 10 + 301)),
        CLAIM,
        "exp",
        ClaimReason::CheckFailed,
    );
    assert_ok(at(None, Some(NOW + 300)));
    assert_claim(
        at(None, Some(NOW + 301)),
        CLAIM,
        "exp",
        ClaimReason::CheckFailed,
    );
    assert_claim(at(Some(NOW), None), CLAIM, "exp", ClaimReason::Missing);
    // Leeway widens it by as much.
    let lenient = policy_all().max_lifetime(300).leeway(30);
    let c = json!({"sub": "a", "iat": NOW, "exp": NOW + 330});
    assert_ok(verify_with(
        &token_kid(KID_EC, &c, &ec()),
        &standard_keys(),
        &lenient,
    ));
}

/// Several accepted `typ` values, absent allowed only when asked; the
/// comparison is RFC 7515's (an `application/` prefix, case).
#[test]
fn typ_sets() {
    let assertion = policy_all()
        .typ("JWT")
        .accept_typ("client-authentication+jwt")
        .typ_optional(true);
    let with_typ = |typ: Option<&str>, policy: &Policy| {
        let mut h = json!({"alg": "ES256", "kid": KID_EC});
        if let Some(t) = typ {
            h["typ"] = json!(t);
        }
        verify_with(&token(&h, &good_claims(), &ec()), &standard_keys(), policy)
    };
    for ok in [
        None,
        Some("JWT"),
        Some("jwt"),
        Some("client-authentication+jwt"),
        Some("application/client-authentication+jwt"),
    ] {
        assert_ok(with_typ(ok, &assertion));
    }
    for bad in ["at+jwt", "dpop+jwt", "secevent+jwt", ""] {
        assert_claim(
            with_typ(Some(bad), &assertion),
            CLAIM,
            "typ",
            ClaimReason::CheckFailed,
        );
    }
    // Signed revocation lists and status lists never pass as tokens at all.
    for other in ["revocation-list+jwt", "statuslist+jwt"] {
        assert_code(with_typ(Some(other), &assertion), "ERR_JWS_INVALID");
    }
    let strict = policy_all()
        .typ("JWT")
        .accept_typ("client-authentication+jwt");
    assert_claim(with_typ(None, &strict), CLAIM, "typ", ClaimReason::Missing);
}
