//! ML-DSA (RFC 9964, issue #30): `AKP` keys bound to their `alg`, exact
//! public key and signature lengths, no private member, no confusion
//! between parameter sets or with classic keys of the same `kid`.

use super::*;

use jwt_edge::{Algorithm, KeyFamily, MlDsaSet};

const SETS: [&str; 3] = ["ML-DSA-44", "ML-DSA-65", "ML-DSA-87"];

fn key(alg: &'static str) -> MlDsaKey {
    MlDsaKey::from_seed(alg, 0x77)
}

fn pq_token(k: &MlDsaKey, kid: &str) -> String {
    token(&json!({"alg": k.alg, "kid": kid}), &good_claims(), k)
}

fn check(token: &str, keys: &[Value]) -> jwt_edge::Result<jwt_edge::Verified> {
    verify(token, &keys_from(&jwks(keys)), &policy_all(), NOW)
}

#[test]
fn ml_dsa_tokens_verify_with_their_own_key_only() {
    for alg in SETS {
        let k = key(alg);
        let t = pq_token(&k, "pq");
        let ok = check(&t, &[k.jwk("pq")]).unwrap();
        assert_eq!(ok.alg.name(), alg);
        // The signature and public key lengths of the parameter set.
        let keys = keys_from(&jwks(&[k.jwk("pq")]));
        let a = Algorithm::from_name(alg).unwrap();
        let KeyFamily::MlDsa(set) = a.family() else {
            panic!("{alg}")
        };
        assert_eq!(keys.keys()[0].signature_len(a), Some(set.signature_len()));
        assert_eq!(signature_of(&t).len(), set.signature_len());
        assert_eq!(k.public.len(), set.public_key_len());
        // The default policy allows ML-DSA.
        assert!(Policy::new().allowed_algorithms().contains(&a));
    }
    assert_eq!(MlDsaSet::MlDsa65.signature_len(), 3309);
    assert_eq!(MlDsaSet::MlDsa87.signature_len(), 4627);
}

#[test]
fn an_akp_key_verifies_only_its_own_parameter_set() {
    let (k44, k65) = (key("ML-DSA-44"), key("ML-DSA-65"));
    // A token of one set, a key of another under the same kid: no key.
    let t44 = pq_token(&k44, "pq");
    assert_code(check(&t44, &[k65.jwk("pq")]), NO_KEY);
    // The header claims another set than the one that signed: the key of
    // the claimed set does not verify it.
    let h = b64_json(&json!({"alg": "ML-DSA-65", "kid": "pq"}));
    let relabelled = token_from_segments(&h, &segments(&t44)[1], &k44);
    assert_code(check(&relabelled, &[k65.jwk("pq")]), SIG_FAILED);
    assert_code(check(&relabelled, &[k44.jwk("pq")]), NO_KEY);
    // A key whose alg names another set than its pub's length is skipped.
    let mut mislabelled = k65.jwk("pq");
    mislabelled["alg"] = json!("ML-DSA-44");
    assert_skipped(mislabelled, &t44);
    // Classic algorithms never use an AKP key, nor ML-DSA a classic key.
    let es = token_kid("pq", &good_claims(), &ec());
    assert_code(check(&es, &[k44.jwk("pq")]), NO_KEY);
    let mut ec_same_kid = ec().jwk("pq");
    ec_same_kid["alg"] = json!("ES256");
    assert_code(check(&t44, &[ec_same_kid]), NO_KEY);
    // An AKP key naming a classic algorithm, or none, is skipped.
    for alg in [Some("ES256"), Some("EdDSA"), Some("HS256"), None] {
        let mut j = k44.jwk("pq");
        match alg {
            Some(a) => j["alg"] = json!(a),
            None => {
                j.as_object_mut().unwrap().remove("alg");
            }
        }
        assert_skipped(j, &t44);
    }
}

#[test]
fn truncated_and_extended_signatures_and_keys_are_refused() {
    for alg in SETS {
        let k = key(alg);
        let t = pq_token(&k, "pq");
        let sig = signature_of(&t);
        let mut flipped = sig.clone();
        flipped[10] ^= 1;
        let cases = [
            ("truncated by one", sig[..sig.len() - 1].to_vec()),
            ("extended by one", [sig.clone(), vec![0]].concat()),
            ("half", sig[..sig.len() / 2].to_vec()),
            ("empty-ish", vec![0; 1]),
            ("one bit", flipped),
        ];
        for (name, bad) in cases {
            assert_code(check(&with_signature(&t, &bad), &[k.jwk("pq")]), SIG_FAILED);
            let _ = name;
        }
        // Public keys one byte short or long, or empty, are skipped.
        for public in [
            k.public[..k.public.len() - 1].to_vec(),
            [k.public.clone(), vec![0]].concat(),
            Vec::new(),
        ] {
            let mut j = k.jwk("pq");
            j["pub"] = json!(b64(&public));
            assert_skipped(j, &t);
        }
    }
}

#[test]
fn a_private_member_in_a_key_set_is_refused() {
    let k = key("ML-DSA-65");
    let t = pq_token(&k, "pq");
    let mut j = k.jwk("pq");
    j["priv"] = json!(b64(&[7; 32]));
    assert_skipped(j.clone(), &t);
    let keys = keys_from(&jwks(&[j]));
    assert!(
        keys.issues()[0].message.contains("priv"),
        "{:?}",
        keys.issues()
    );
    // And the thumbprint of such a JWK does not exist (a DPoP jwk with it
    // is refused).
    let jwk = k.jwk("pq");
    let mut with_priv = jwk.clone();
    with_priv["priv"] = json!("AA");
    assert!(jwt_edge::jwk::thumbprint(jwk.as_object().unwrap()).is_some());
    assert!(jwt_edge::jwk::thumbprint(with_priv.as_object().unwrap()).is_none());
}

#[test]
fn size_caps_admit_real_ml_dsa_tokens_and_key_sets() {
    // An ML-DSA-87 token with ordinary claims is about 6.5 KB: under the
    // default 16 KiB token cap.
    let k = key("ML-DSA-87");
    let t = pq_token(&k, "pq");
    assert!(t.len() < 7_000 && t.len() > 6_000, "{}", t.len());
    check(&t, &[k.jwk("pq")]).unwrap();
    // A JWKS of 50 ML-DSA-87 keys (~3.5 KB each) is under the 256 KiB cap.
    let keys: Vec<Value> = (0..50).map(|i| k.jwk(&format!("pq-{i}"))).collect();
    let set = KeySet::from_jwks(&jwks(&keys)).unwrap();
    assert_eq!(set.keys().len(), 50);
}
