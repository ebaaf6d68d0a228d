//! Attack catalog §23: resource exhaustion (giant tokens, deep nesting, huge numbers, JWKS
//! and revocation-list limits).

use super::*;

use std::time::{Duration, Instant};

use jwt_edge::{inspect, ClaimReason, RevocationList};

// ===========================================================================
// §23 Resource exhaustion
// ===========================================================================

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn a23_giant_tokens_rejected_fast() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let start = Instant::now();
    // 17 KiB token: padded payload.
    let mut claims = good_claims();
    claims["pad"] = json!("a".repeat(13 * 1024));
    let big = token_kid(KID_EC, &claims, &ec());
    assert!(
        big.len() > 16 * 1024 && big.len() < 18 * 1024,
        "{}",
        big.len()
    );
    assert_code(verify_std(&big), JWS_INVALID);
    // ... but accepted when the caller raises the limit (only the size mattered).
    assert_ok(verify_with(
        &big,
        &standard_keys(),
        &policy_all().max_token_len(32 * 1024),
    ));
    // 10 MB token.
    let huge = format!("{good}{}", "A".repeat(10 << 20));
    assert_code(verify_std(&huge), JWS_INVALID);
    // One million dots, with the default limit and with no limit at all.
    let dots = format!("Bearer {}", ".".repeat(1_000_000));
    assert_code(verify_std(&dots), JWS_INVALID);
    let unlimited = policy_all().max_token_len(usize::MAX);
    assert_code(
        verify_with(&dots, &standard_keys(), &unlimited),
        JWS_INVALID,
    );
    assert_code(
        verify_with(&".".repeat(1_000_000), &standard_keys(), &unlimited),
        JWS_INVALID,
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a23_deep_nesting_errors_without_stack_overflow() {
    let key = ec();
    let header_ok = r#"{"alg":"ES256","kid":"ec-1"}"#;
    let payload_ok = serde_json::to_string(&good_claims()).unwrap();
    let big = policy_all().max_token_len(1 << 20);
    assert_ok(verify_with(
        &token_raw(header_ok, &payload_ok, &key),
        &standard_keys(),
        &big,
    ));
    let deep = nested(100_000);
    let header_deep = format!(r#"{{"alg":"ES256","kid":"ec-1","a":{deep}}}"#);
    let payload_deep = format!(r#"{{"exp":{},"a":{deep}}}"#, NOW + 3600);
    let t_header = token_raw(&header_deep, &payload_ok, &key);
    let t_payload = token_raw(header_ok, &payload_deep, &key);
    // Default limits: too long.
    assert_code(verify_std(&t_header), JWS_INVALID);
    assert_code(verify_std(&t_payload), JWS_INVALID);
    // Length limit raised, default depth, and even an absurd depth limit.
    for policy in [big.clone(), big.clone().max_depth(1_000_000)] {
        assert_code(
            verify_with(&t_header, &standard_keys(), &policy),
            JWS_INVALID,
        );
        assert_code(
            verify_with(&t_payload, &standard_keys(), &policy),
            JWT_INVALID,
        );
    }
    // Objects too: {"a":{"a":...}}.
    let deep_obj = format!("{}1{}", r#"{"a":"#.repeat(50_000), "}".repeat(50_000));
    let t = token_raw(header_ok, &deep_obj, &key);
    assert_code(verify_with(&t, &standard_keys(), &big), JWT_INVALID);
    // And through inspect.
    assert!(inspect(&token_raw(header_ok, &payload_deep[..2000], &key), None).is_err());
}

#[test]
fn a23_default_depth_limit_boundary() {
    let key = ec();
    let header = r#"{"alg":"ES256","kid":"ec-1"}"#;
    // Claims object (1) + 19 arrays = depth 20: accepted.
    let ok = format!(r#"{{"exp":{},"a":{}}}"#, NOW + 3600, nested(19));
    assert_ok(verify_std(&token_raw(header, &ok, &key)));
    let too_deep = format!(r#"{{"exp":{},"a":{}}}"#, NOW + 3600, nested(20));
    assert_code(verify_std(&token_raw(header, &too_deep, &key)), JWT_INVALID);
    // Same in the header.
    let payload = serde_json::to_string(&good_claims()).unwrap();
    let h_ok = format!(r#"{{"alg":"ES256","kid":"ec-1","a":{}}}"#, nested(19));
    let h_deep = format!(r#"{{"alg":"ES256","kid":"ec-1","a":{}}}"#, nested(20));
    assert_ok(verify_std(&token_raw(&h_ok, &payload, &key)));
    assert_code(verify_std(&token_raw(&h_deep, &payload, &key)), JWS_INVALID);
}

#[test]
fn a23_huge_numbers() {
    let key = ec();
    let header = r#"{"alg":"ES256","kid":"ec-1"}"#;
    // Finite but far beyond any NumericDate: a claim error.
    let p = format!(r#"{{"sub":"a","exp":{}}}"#, "9".repeat(300));
    assert_claim(
        verify_std(&token_raw(header, &p, &key)),
        CLAIM,
        "exp",
        ClaimReason::Invalid,
    );
    let p = format!(r#"{{"sub":"a","exp":0.{}1}}"#, "0".repeat(5000));
    assert_code(verify_std(&token_raw(header, &p, &key)), EXPIRED);
    for exp in [
        "9".repeat(5000),
        "1e999999".into(),
        "1e400".into(),
        "-1e400".into(),
    ] {
        let payload = format!(r#"{{"sub":"a","exp":{exp}}}"#);
        let t = token_raw(header, &payload, &key);
        // Not a finite JSON number: the claims set itself does not parse.
        assert_code(verify_std(&t), JWT_INVALID);
    }
}

#[test]
fn a23_jwks_limits() {
    let t = good_es256();
    let keys_n = |n: usize| -> Vec<Value> { (0..n).map(|i| ec().jwk(&format!("k{i}"))).collect() };
    let mut hundred = keys_n(99);
    hundred.push(ec().jwk(KID_EC));
    let set = keys_from(&jwks(&hundred));
    assert_eq!(set.keys().len(), 100);
    assert_ok(verify_with(&t, &set, &policy_all()));
    let mut hundred_one = hundred.clone();
    hundred_one.push(ec().jwk("k-extra"));
    assert_code(KeySet::from_jwks(&jwks(&hundred_one)), JWKS_INVALID);
    // Larger than 256 KiB.
    let big = jwks(&[json!({"kty": "EC", "kid": "x".repeat(300 * 1024)})]);
    assert_code(KeySet::from_jwks(&big), JWKS_INVALID);
    // 100 KiB kid: skipped.
    let set = keys_from(&jwks(&[ec().jwk(&"k".repeat(100 * 1024))]));
    assert!(set.is_empty());
    // Deep nesting.
    let deep = format!(r#"{{"keys":[{{"kty":"EC","x":{}}}]}}"#, nested(100_000));
    assert_code(KeySet::from_jwks(deep.as_bytes()), JWKS_INVALID);
    // Huge e.
    let set = keys_from(&jwks(&[
        json!({"kty": "RSA", "kid": KID_RSA, "n": rfc7520_rsa::N, "e": b64(&[0xff; 4096])}),
    ]));
    assert!(set.is_empty());
}

#[test]
fn a23_revocation_list_limits() {
    let start = Instant::now();
    let mut big = vec![b' '; 9 << 20];
    big[0] = b'{';
    *big.last_mut().unwrap() = b'}';
    assert_code(RevocationList::from_json(&big), REVOCATION_INVALID);
    let deep = format!(
        r#"{{"iss":"x","epoch":1,"generated_at":1,"kid":{}}}"#,
        nested(100_000)
    );
    assert_code(
        RevocationList::from_json(deep.as_bytes()),
        REVOCATION_INVALID,
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}
