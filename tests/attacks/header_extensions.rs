//! Attack catalog §18–§19: the `crit` header and `b64: false` (RFC 7797 unencoded payload); JWE-only header parameters (`zip`, `enc`) in a JWS.

use super::*;

use jwt_edge::Algorithm;

// ===========================================================================
// §18 crit
// ===========================================================================

#[test]
fn a18_crit_always_rejected() {
    let base = json!({"alg": "ES256", "kid": KID_EC});
    assert_ok(verify_std(&es256_with_header(&base)));
    let extras = [
        json!({"crit": ["exp"], "exp": 1}),
        json!({"crit": ["x-policy"], "x-policy": "p"}),
        json!({"crit": ["x-policy"]}),
        json!({"crit": []}),
        json!({"crit": "b64"}),
        json!({"crit": ["alg"]}),
        json!({"crit": ["kid"]}),
        json!({"crit": ["b64"]}),
        json!({"crit": ["b64"], "b64": true}),
        json!({"crit": null}),
        json!({"crit": {}}),
        json!({"crit": [1]}),
    ];
    for extra in extras {
        let mut h = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        assert_code(verify_std(&es256_with_header(&h)), JWS_INVALID);
    }
    // The catalog's literal headers with the good payload and signature.
    let [_, p, s] = segments(&good_es256());
    for h in [
        "eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiZXhwIl0sImV4cCI6MX0",
        "eyJhbGciOiJSUzI1NiIsImNyaXQiOltdfQ",
    ] {
        assert_code(verify_std(&format!("{h}.{p}.{s}")), JWS_INVALID);
    }
}

// ===========================================================================
// §19 b64 (RFC 7797)
// ===========================================================================

#[test]
fn a19_b64_rejected() {
    let hs_key = hs(Algorithm::HS256);
    let base = json!({"alg": "HS256", "kid": KID_HS});
    assert_ok(verify_std(&token(&base, &good_claims(), &hs_key)));
    for extra in [
        json!({"b64": false}),
        json!({"b64": false, "crit": ["b64"]}),
        json!({"b64": "false"}),
        json!({"b64": true}),
        json!({"b64": true, "crit": ["b64"]}),
        json!({"b64": null}),
    ] {
        let mut h = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        assert_code(verify_std(&token(&h, &good_claims(), &hs_key)), JWS_INVALID);
    }
    // RFC 7797 §4.2 with the RFC 7515 A.1 key: raw payload "$.02" (the dot
    // makes four segments), and the same with a detached payload.
    let a1 = b64_decode(
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
    );
    let mut keys = KeySet::new();
    keys.add_hmac_secret(&a1, None, None).unwrap();
    let h = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19";
    let sig = "A5dxf2s96_n5FLueVuW1Z_vh161FwXZC4YLPff6dmDY";
    assert_eq!(
        b64(&hmac(Algorithm::HS256, &a1, format!("{h}.$.02").as_bytes())),
        sig
    );
    for t in [format!("{h}.$.02.{sig}"), format!("{h}..{sig}")] {
        assert_code(verify_with(&t, &keys, &policy_all()), JWS_INVALID);
    }
    // Draft form without crit (rfc7520/rfc7797/4.2.hmac-sha2_b64_false.json),
    // here with a base64url payload and a correct MAC over it.
    let t = token_from_segments(
        "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2V9",
        &b64_json(&good_claims()),
        &HsKey {
            alg: Algorithm::HS256,
            secret: a1.clone(),
        },
    );
    assert_code(verify_with(&t, &keys, &policy_all()), JWS_INVALID);
}

// ===========================================================================
// JWE header parameters in a JWS (`zip`, `enc`): refused, whatever their value
// ===========================================================================

#[test]
fn jwe_header_parameters_in_a_signed_token_are_refused() {
    let base = json!({"alg": "ES256", "kid": KID_EC});
    assert_ok(verify_std(&es256_with_header(&base)));
    for extra in [
        json!({"zip": "DEF"}),
        json!({"zip": ""}),
        json!({"zip": null}),
        json!({"enc": "A128GCM"}),
        json!({"enc": "A256GCM", "zip": "DEF"}),
    ] {
        let mut h = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        let e = assert_code(verify_std(&es256_with_header(&h)), JWS_INVALID);
        assert!(e.message().contains("belongs to JWE"), "{}", e.message());
    }
    // Decoding without verifying still shows such a token (inspect's job).
    let h = json!({"alg": "ES256", "kid": KID_EC, "zip": "DEF"});
    assert!(jwt_edge::inspect(&es256_with_header(&h), None).is_ok());
}
