//! Attack catalog §1–§3: `alg: "none"` and its spellings, algorithm confusion (HS* verified
//! with an asymmetric public key as the HMAC secret), and algorithm / key metadata mismatch.

use super::*;

use jwt_edge::{Algorithm, Key};

// ===========================================================================
// §1 alg:none and its spellings
// ===========================================================================

#[test]
fn a01_alg_none_variants() {
    assert_ok(verify_std(&good_es256()));
    let sig = signature_of(&good_es256());
    for alg in [
        "none",
        "None",
        "NONE",
        "nOnE",
        "none ",
        "none\u{0}",
        " none",
    ] {
        // With a real signature, a garbage signature, and with a kid.
        for header in [json!({"alg": alg}), json!({"alg": alg, "kid": KID_EC})] {
            let real = token(&header, &good_claims(), &Fixed("none", sig.clone()));
            assert_code(verify_std(&real), ALG_NOT_ALLOWED);
            let garbage = token(&header, &good_claims(), &Fixed("none", b"garbage".to_vec()));
            assert_code(verify_std(&garbage), ALG_NOT_ALLOWED);
        }
    }
    // `none` is not an algorithm: it cannot be named in a policy.
    assert!(Algorithm::from_name("none").is_none());
    assert!("none".parse::<Algorithm>().is_err());
}

#[test]
fn a01_alg_none_with_empty_or_missing_signature() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let [_, payload, _] = segments(&good);
    // eyJhbGciOiJub25lIn0 = {"alg":"none"} (catalog).
    for header in [
        "eyJhbGciOiJub25lIn0",
        "eyJhbGciOiJOb25lIn0",
        "eyJhbGciOiJOT05FIn0",
        "eyJhbGciOiJuT25FIn0",
    ] {
        // Empty signature segment.
        assert_code(verify_std(&format!("{header}.{payload}.")), JWS_INVALID);
        // Two segments.
        assert_code(verify_std(&format!("{header}.{payload}")), JWS_INVALID);
    }
}

#[test]
fn a01_alg_missing_or_not_a_string() {
    assert_ok(verify_std(&good_es256()));
    for header in [
        json!({"typ": "JWT", "kid": KID_EC}),
        json!({"alg": null, "kid": KID_EC}),
        json!({"alg": ["ES256"], "kid": KID_EC}),
        json!({"alg": 256, "kid": KID_EC}),
        json!({"alg": true, "kid": KID_EC}),
        json!({"alg": {"name": "ES256"}, "kid": KID_EC}),
    ] {
        assert_code(verify_std(&es256_with_header(&header)), JWS_INVALID);
    }
    // The catalog's literal headers, with the good payload and signature.
    let [_, p, s] = segments(&good_es256());
    for h in [
        "eyJ0eXAiOiJKV1QifQ",
        "eyJhbGciOm51bGx9",
        "eyJhbGciOlsiUlMyNTYiXX0",
    ] {
        assert_code(verify_std(&format!("{h}.{p}.{s}")), JWS_INVALID);
    }
}

#[test]
fn a01_alg_case_and_unknown_names_not_allowed() {
    assert_ok(verify_std(&good_es256()));
    for alg in [
        "es256",
        "Es256",
        "ES256 ",
        " ES256",
        "ES256\u{0}",
        "ES521",
        "ES224",
        "HS1",
    ] {
        let t = es256_with_header(&json!({"alg": alg, "kid": KID_EC}));
        assert_code(verify_std(&t), ALG_NOT_ALLOWED);
    }
}

// ===========================================================================
// §2 HS* with an asymmetric public key as the HMAC secret
// ===========================================================================

/// Encodings of a public key an attacker may try as an HMAC secret.
fn public_key_encodings(kid: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    match kid {
        KID_EC => {
            let key = ec();
            let (x, y) = key.xy();
            let jwk = key.jwk(KID_EC);
            let mut sec1 = vec![0x04];
            sec1.extend(&x);
            sec1.extend(&y);
            let mut xy = x.clone();
            xy.extend(&y);
            let mut compressed = vec![0x02 | (y[31] & 1)];
            compressed.extend(&x);
            let mut spki = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
            spki.extend(&sec1);
            let pem_text = pem("PUBLIC KEY", &spki);
            out.push(("jwk json".into(), serde_json::to_vec(&jwk).unwrap()));
            out.push((
                "jwk json pretty".into(),
                serde_json::to_vec_pretty(&jwk).unwrap(),
            ));
            out.push(("sec1 uncompressed".into(), sec1));
            out.push(("x||y".into(), xy));
            out.push(("sec1 compressed".into(), compressed));
            out.push(("spki der".into(), spki));
            out.push(("x b64url text".into(), b64(&x).into_bytes()));
            out.push(("pem".into(), pem_text.clone().into_bytes()));
            out.push((
                "pem no newline".into(),
                pem_text.trim_end().as_bytes().to_vec(),
            ));
            out.push((
                "pem leading space".into(),
                format!(" {pem_text}").into_bytes(),
            ));
            out.push(("pem bom".into(), format!("\u{feff}{pem_text}").into_bytes()));
        }
        KID_RSA => {
            let n = rsa_n();
            let e = vec![1, 0, 1];
            let pkcs1 = der(0x30, &[der_uint(&n), der_uint(&e)].concat());
            let mut bitstring = vec![0];
            bitstring.extend(&pkcs1);
            let spki = der(
                0x30,
                &[hex("300d06092a864886f70d0101010500"), der(0x03, &bitstring)].concat(),
            );
            out.push((
                "jwk json".into(),
                serde_json::to_vec(&rsa_jwk(KID_RSA)).unwrap(),
            ));
            out.push(("n raw".into(), n.clone()));
            out.push(("n b64url text".into(), rfc7520_rsa::N.as_bytes().to_vec()));
            out.push(("pkcs1 der".into(), pkcs1.clone()));
            out.push((
                "pkcs1 pem".into(),
                pem("RSA PUBLIC KEY", &pkcs1).into_bytes(),
            ));
            out.push(("spki der".into(), spki.clone()));
            out.push(("spki pem".into(), pem("PUBLIC KEY", &spki).into_bytes()));
        }
        KID_ED => {
            let key = ed();
            let x = key.public();
            let mut spki = hex("302a300506032b6570032100");
            spki.extend(x);
            out.push((
                "jwk json".into(),
                serde_json::to_vec(&key.jwk(KID_ED)).unwrap(),
            ));
            out.push(("raw x".into(), x.to_vec()));
            out.push(("spki der".into(), spki.clone()));
            out.push(("pem".into(), pem("PUBLIC KEY", &spki).into_bytes()));
        }
        other => panic!("no encodings listed for {other:?}"),
    }
    out
}

#[test]
fn a02_hs256_with_public_key_as_secret() {
    let keys = standard_keys();
    let policy = policy_all();
    // Known-good: an HS256 token for the configured secret verifies.
    assert_ok(verify_with(
        &token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256)),
        &keys,
        &policy,
    ));
    for kid in [KID_EC, KID_RSA, KID_ED] {
        // The kid is known: it is the key type that does not fit.
        assert!(keys.contains_kid(kid));
        for (name, secret) in public_key_encodings(kid) {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let forged = token_kid(
                    kid,
                    &good_claims(),
                    &HsKey {
                        alg,
                        secret: secret.clone(),
                    },
                );
                let r = verify_with(&forged, &keys, &policy);
                assert_eq!(
                    r.as_ref().map_err(jwt_edge::Error::code).err(),
                    Some(NO_KEY),
                    "{kid} / {name} / {alg}"
                );
            }
        }
    }
}

#[test]
fn a02_kidless_hs256_never_reaches_public_keys() {
    let policy = policy_all();
    // Only public keys: no key at all fits HS*.
    let public_only = keys_from(&standard_jwks());
    assert_ok(verify_with(&good_es256(), &public_only, &policy));
    for kid in [KID_EC, KID_RSA, KID_ED] {
        for (_, secret) in public_key_encodings(kid) {
            let forged = token(
                &json!({"alg": "HS256"}),
                &good_claims(),
                &HsKey {
                    alg: Algorithm::HS256,
                    secret: secret.clone(),
                },
            );
            assert_code(verify_with(&forged, &public_only, &policy), NO_KEY);
            // With a configured secret present, the only candidate is that
            // secret, and the forged MAC does not verify with it.
            assert_code(verify_with(&forged, &standard_keys(), &policy), SIG_FAILED);
        }
    }
}

#[test]
fn a02_hs_not_allowed_by_default_and_no_oct_from_jwks() {
    let good_hs = token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256));
    assert_ok(verify_with(&good_hs, &standard_keys(), &policy_all()));
    // The default policy lists no HS* algorithm.
    assert_code(
        verify_with(&good_hs, &standard_keys(), &Policy::new()),
        ALG_NOT_ALLOWED,
    );
    // A public key re-published as an `oct` key in a JWKS is skipped.
    let ec_jwk_text = serde_json::to_vec(&ec().jwk(KID_EC)).unwrap();
    let doc = jwks(&[json!({"kty": "oct", "kid": "pub-as-oct", "k": b64(&ec_jwk_text)})]);
    let keys = keys_from(&doc);
    assert!(keys.is_empty());
    assert_eq!(keys.issues().len(), 1);
    let forged = token_kid(
        "pub-as-oct",
        &good_claims(),
        &HsKey {
            alg: Algorithm::HS256,
            secret: ec_jwk_text,
        },
    );
    assert_code(verify_with(&forged, &keys, &policy_all()), NO_KEY);
    // WP-JWK 1 shape: a secret key set mixing oct and EC is refused whole.
    let mixed = jwks(&[
        json!({"kty": "oct", "kid": "s", "k": b64(&hs_secret())}),
        ec().jwk(KID_EC),
    ]);
    assert_code(KeySet::from_secret_jwks(&mixed), JWKS_INVALID);
    // HMAC secrets cannot be declared for an asymmetric algorithm.
    assert_code(
        Key::hmac_secret(&hs_secret(), None, Some(Algorithm::ES256)),
        JWKS_INVALID,
    );
}

// ===========================================================================
// §3 Algorithm / key metadata mismatch
// ===========================================================================

#[test]
fn a03_jwk_alg_mismatch() {
    let policy = policy_all();
    let mut jwk = rsa_jwk(KID_RSA);
    jwk["alg"] = json!("RS256");
    let rs256 = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256));
    assert_ok(verify_with(
        &rs256,
        &keys_from(&jwks(core::slice::from_ref(&jwk))),
        &policy,
    ));
    // The key says PS256: the RS256 token must not be verified with it.
    for other in ["PS256", "RS384", "PS512", "RS512"] {
        let mut k = jwk.clone();
        k["alg"] = json!(other);
        let keys = keys_from(&jwks(&[k]));
        assert_eq!(keys.keys().len(), 1);
        assert_code(verify_with(&rs256, &keys, &policy), NO_KEY);
    }
    // Header switched to PS256 with the RS256 (PKCS#1) signature:
    // with the key's alg RS256 no key fits; without alg the signature fails.
    let switched = with_segment(
        &rs256,
        0,
        &b64_json(&json!({"alg": "PS256", "kid": KID_RSA})),
    );
    assert_code(
        verify_with(&switched, &keys_from(&jwks(&[jwk])), &policy),
        NO_KEY,
    );
    let resigned_header = token_from_segments(
        &b64_json(&json!({"alg": "PS256", "kid": KID_RSA})),
        &segments(&rs256)[1],
        &rsa(Algorithm::RS256),
    );
    assert_code(verify_std(&resigned_header), SIG_FAILED);
    // EC keys with an alg of another curve or an unregistered name are skipped
    // at ingest (WP-JWK 19, 20).
    for alg in [
        "ES384", "ES512", "ES521", "ES224", "EdDSA", "HS256", "RS256",
    ] {
        let mut k = ec().jwk(KID_EC);
        k["alg"] = json!(alg);
        let keys = keys_from(&jwks(&[k]));
        assert!(keys.is_empty(), "{alg}");
        assert_eq!(keys.issues().len(), 1, "{alg}");
        assert_code(verify_with(&good_es256(), &keys, &policy), NO_KEY);
    }
    let mut k = ec().jwk(KID_EC);
    k["alg"] = json!("ES256");
    assert_ok(verify_with(&good_es256(), &keys_from(&jwks(&[k])), &policy));
}

#[test]
fn a03_curve_mismatch() {
    let policy = policy_all();
    assert_ok(verify_std(&good_es256()));
    // ES256 token pointing at the P-384 key.
    let t = token_kid(KID_EC384, &good_claims(), &ec());
    assert_code(verify_std(&t), NO_KEY);
    // ES384 token pointing at the P-256 key.
    let t = token_kid(KID_EC, &good_claims(), &ec384());
    assert_code(verify_std(&t), NO_KEY);
    // ES384 token is fine with its own key (control).
    assert_ok(verify_std(&token_kid(KID_EC384, &good_claims(), &ec384())));
    // EdDSA header with the kid of an EC key; ES256 with the kid of Ed25519/RSA.
    assert_code(
        verify_std(&token_kid(KID_EC, &good_claims(), &ed())),
        NO_KEY,
    );
    assert_code(
        verify_std(&token_kid(KID_ED, &good_claims(), &ec())),
        NO_KEY,
    );
    assert_code(
        verify_std(&token_kid(KID_RSA, &good_claims(), &ec())),
        NO_KEY,
    );
    // RS256 with the kid of an EC key.
    assert_code(
        verify_std(&token_kid(KID_EC, &good_claims(), &rsa(Algorithm::RS256))),
        NO_KEY,
    );
    // Malformed key metadata is skipped at ingest (WP-JWK 23, 24).
    let (x, y) = ec().xy();
    for bad in [
        json!({"kty": "EC", "crv": "P-384", "kid": KID_EC, "x": b64(&x), "y": b64(&y)}),
        json!({"kty": "RSA", "crv": "P-256", "kid": KID_EC, "x": b64(&x), "y": b64(&y)}),
        json!({"kty": "OKP", "crv": "Ed448", "kid": KID_ED, "x": b64(&[7u8; 57])}),
        json!({"kty": "OKP", "crv": "X25519", "kid": KID_ED, "x": b64(&ed().public())}),
    ] {
        let keys = keys_from(&jwks(core::slice::from_ref(&bad)));
        assert!(keys.is_empty(), "{bad}");
        assert_eq!(keys.issues().len(), 1, "{bad}");
    }
    let x25519 = keys_from(&jwks(&[
        json!({"kty": "OKP", "crv": "X25519", "kid": KID_ED, "x": b64(&ed().public())}),
    ]));
    assert_code(
        verify_with(&token_kid(KID_ED, &good_claims(), &ed()), &x25519, &policy),
        NO_KEY,
    );
}

#[test]
fn a03_alg_not_on_allowlist() {
    let keys = standard_keys();
    let only_es256 = Policy::new().algorithms([Algorithm::ES256]);
    assert_ok(verify_with(&good_es256(), &keys, &only_es256));
    for t in [
        token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256)),
        token_kid(KID_ED, &good_claims(), &ed()),
        token_kid(KID_EC384, &good_claims(), &ec384()),
        token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256)),
    ] {
        assert_code(verify_with(&t, &keys, &only_es256), ALG_NOT_ALLOWED);
    }
}

#[test]
fn a03_rs_ps_swap() {
    // RS256 signature presented as PS256 and vice versa (keys without alg).
    let rs = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::RS256));
    let ps = token_kid(KID_RSA, &good_claims(), &rsa(Algorithm::PS256));
    assert_ok(verify_std(&rs));
    assert_ok(verify_std(&ps));
    let rs_as_ps = token_from_segments(
        &b64_json(&json!({"alg": "PS256", "kid": KID_RSA})),
        &segments(&rs)[1],
        &rsa(Algorithm::RS256),
    );
    let ps_as_rs = token_from_segments(
        &b64_json(&json!({"alg": "RS256", "kid": KID_RSA})),
        &segments(&ps)[1],
        &rsa(Algorithm::PS256),
    );
    assert_code(verify_std(&rs_as_ps), SIG_FAILED);
    assert_code(verify_std(&ps_as_rs), SIG_FAILED);
}
