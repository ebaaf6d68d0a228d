//! ML-DSA at the issuer (issue #30): an issuer initialised with ML-DSA-65
//! keys signs its tokens with them, publishes them as RFC 9964 `AKP` keys
//! with their `alg`, and `jwt-edge serve` hands such tokens out; the
//! core's Validator verifies them from the served JWKS. The private key is
//! encrypted PKCS#8 with the LAMPS OID and the seed form (RFC 9881): Python's
//! `cryptography` (OpenSSL 4) reads the exported key, finds the published
//! public key in it, and signs a token the core verifies.

#![cfg(not(target_arch = "wasm32"))]
#![cfg(all(
    feature = "cli",
    feature = "server",
    feature = "postgres",
    feature = "pkcs11"
))]

mod server_util;

use std::process::Command;

use jwt_edge::{Algorithm, KeySet, Policy, Validator};
use serde_json::Value;
use server_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ml_dsa_issuer_serves_tokens_the_core_verifies() {
    if pkcs11() {
        // Keys in a token: SoftHSM2 has no CKM_ML_DSA (tests/hsm.rs checks the refusal).
        return;
    }
    for alg in [Algorithm::MlDsa44, Algorithm::MlDsa65, Algorithm::MlDsa87] {
        let dir = temp_dir("issuer-ml-dsa");
        let mut s = settings();
        s.alg = alg;
        let db = init_store(&dir, &s);
        let (id, full) = provision(&db, "pq-client");
        let server = start(config(&db)).await;
        let mut c = Client::new(server.addr);
        let r = c
            .token(
                &format!("grant_type=client_credentials&{}", form_creds(&id, &full)),
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let token = r.json()["access_token"].as_str().unwrap().to_owned();
        let header = jwt_edge::inspect(&token, None).unwrap().header;
        assert_eq!(header["alg"], alg.name());
        let jwks = c.get("/.well-known/jwks.json").await.json();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "AKP", "{jwks}");
        assert_eq!(key["alg"], alg.name());
        assert!(key.get("priv").is_none());
        let set = KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
        assert!(set.issues().is_empty(), "{:?}", set.issues());
        let mut v = Validator::builder(Policy::new().issuer(ISS).audience(AUD))
            .keys(set)
            .build()
            .unwrap();
        let ok = v.verify(&token, unix_now()).unwrap();
        assert_eq!(ok.alg, alg);
        assert_eq!(ok.claims["client_id"], id.as_str());
        // The kid is the RFC 9964 thumbprint of the AKP key (over alg, kty, pub).
        assert_eq!(
            header["kid"],
            jwt_edge::jwk::thumbprint(key.as_object().unwrap()).unwrap()
        );
        server.stop().await;

        // The exported private key: encrypted PKCS#8 that cryptography reads.
        let kid = header["kid"].as_str().unwrap().to_owned();
        let pem = issuer(&db).export_key(&kid, unix_now()).unwrap();
        let python =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
        if !python.exists() {
            assert!(std::env::var_os("CI").is_none(), "run pkg-scripts/setup");
            continue;
        }
        std::fs::write(dir.join("key.pem"), pem.as_bytes()).unwrap();
        let script = r#"
import base64, json, sys
from cryptography.hazmat.primitives import serialization
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), password=sys.argv[2].encode())
pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h = b64(json.dumps({"alg": sys.argv[3], "kid": sys.argv[4]}).encode())
p = b64(json.dumps({"iss": sys.argv[5], "aud": sys.argv[6], "sub": "py", "exp": int(sys.argv[7])}).encode())
sig = key.sign(f"{h}.{p}".encode())
print(json.dumps({"type": type(key).__name__, "pub": b64(pub), "token": f"{h}.{p}.{b64(sig)}"}))
"#;
        let out = Command::new(&python)
            .args(["-c", script])
            .arg(dir.join("key.pem"))
            .args([
                PASS,
                alg.name(),
                &kid,
                ISS,
                AUD,
                &(unix_now() + 600).to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let py: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            py["type"].as_str().unwrap().replace('_', ""),
            format!("MLDSA{}PrivateKey", &alg.name()[7..])
        );
        assert_eq!(py["pub"], key["pub"], "the same public key");
        let ok = v.verify(py["token"].as_str().unwrap(), unix_now()).unwrap();
        assert_eq!(ok.claims["sub"], "py");
        std::fs::remove_dir_all(dir).ok();
    }
}

/// A migration: one issuer, two key rings (ES256, the primary; ML-DSA-65,
/// added with `add_algorithm`), two clients each getting its own algorithm,
/// across 70 simulated days in 2-hour steps (both rings rotate at least
/// twice). Every token verifies with the JWKS published then AND with the
/// one published 2 hours earlier (a verifier's cache); a client moved onto
/// ML-DSA gets ML-DSA tokens from its next request; the signed revocation
/// list (the primary key's) reaches tokens of both algorithms.
#[test]
fn a_mixed_issuer_rotates_both_rings_without_a_failed_verification() {
    if pkcs11() {
        return; // ML-DSA keys need local custody (tests/hsm.rs checks the token's refusal).
    }
    const HOUR: u64 = 3600;
    let dir = temp_dir("issuer-migration");
    let db = init_store(&dir, &settings());
    let t0 = unix_now() + 1;
    let mut i = issuer(&db);
    // The ES256 issuer exists; a ring for ML-DSA-65 is added.
    let steps = i.add_algorithm(Algorithm::MlDsa65, t0).unwrap();
    assert!(!steps.is_empty(), "the new ring's first key");
    assert!(i.add_algorithm(Algorithm::MlDsa65, t0).is_err(), "twice");
    let audiences = [AUD.to_owned()];
    let create = |i: &mut jwt_edge::issuer::Issuer<_>, name: &str| {
        i.create_provisioning_key(
            name,
            "read",
            Some(400 * 86_400),
            None,
            None,
            &audiences,
            &[],
            t0,
        )
        .unwrap()
    };
    let (classic, classic_key) = create(&mut i, "classic");
    let (pq, pq_key) = create(&mut i, "pq");
    let (moving, moving_key) = create(&mut i, "moving");
    i.set_client_alg(&pq.id, Some(Algorithm::MlDsa65), t0)
        .unwrap();
    assert!(
        i.set_client_alg(&pq.id, Some(Algorithm::MlDsa87), t0)
            .is_err(),
        "no such ring"
    );
    let verify = |jwks: &str, token: &str, now| {
        let set = KeySet::from_jwks(jwks.as_bytes()).unwrap();
        let mut v = Validator::builder(Policy::new().issuer(ISS).audience(AUD))
            .keys(set)
            .build()
            .unwrap();
        v.verify(token, now)
    };
    let mut previous: Option<String> = None;
    let mut kids = std::collections::BTreeMap::<&str, std::collections::BTreeSet<String>>::new();
    let mut now = t0;
    while now < t0 + 70 * 86_400 {
        i.rotate(now).unwrap();
        let jwks = i.jwks().unwrap().to_json().to_string();
        if now >= t0 + 30 * 86_400
            && i.provisioning_keys()
                .unwrap()
                .iter()
                .any(|k| k.id == moving.id && k.alg.is_none())
        {
            i.set_client_alg(&moving.id, Some(Algorithm::MlDsa65), now)
                .unwrap();
        }
        for (name, key, want) in [
            ("classic", &classic_key, Algorithm::ES256),
            ("pq", &pq_key, Algorithm::MlDsa65),
            (
                "moving",
                &moving_key,
                if now >= t0 + 30 * 86_400 {
                    Algorithm::MlDsa65
                } else {
                    Algorithm::ES256
                },
            ),
        ] {
            let token = issue_unchecked(&mut i, key, now);
            let ok = verify(&jwks, &token, now)
                .unwrap_or_else(|e| panic!("{name} at +{}h: {e}", (now - t0) / HOUR));
            assert_eq!(ok.alg, want, "{name} at +{}h", (now - t0) / HOUR);
            if let Some(prev) = &previous {
                verify(prev, &token, now).unwrap_or_else(|e| {
                    panic!(
                        "{name} at +{}h with the JWKS of 2 hours before: {e}",
                        (now - t0) / HOUR
                    )
                });
            }
            kids.entry(name).or_default().insert(ok.kid.unwrap());
        }
        previous = Some(jwks);
        now += 2 * HOUR;
    }
    // Both rings rotated (30-day policy over 70 days: three keys each).
    assert!(kids["classic"].len() >= 3, "{kids:?}");
    assert!(kids["pq"].len() >= 3, "{kids:?}");
    assert!(kids["pq"].is_disjoint(&kids["classic"]));
    // A revocation reaches both: the clients' subjects on the signed list
    // (signed by the primary ES256 key), which a verifier installs.
    let before = [
        issue_unchecked(&mut i, &classic_key, now),
        issue_unchecked(&mut i, &pq_key, now),
    ];
    i.revoke_provisioning_key(&classic.id, now).unwrap();
    i.revoke_provisioning_key(&pq.id, now).unwrap();
    let jwks = i.jwks().unwrap().to_json().to_string();
    let set = KeySet::from_jwks(jwks.as_bytes()).unwrap();
    let list = i.signed_revocation_list(now + 1).unwrap();
    assert_eq!(
        jwt_edge::inspect(&list, None).unwrap().header["alg"],
        "ES256"
    );
    let mut p = Policy::new().issuer(ISS).audience(AUD);
    jwt_edge::install_revocations(&list, &set, &mut p).unwrap();
    for token in before {
        let err = jwt_edge::verify(&token, &set, &p, now + 2).unwrap_err();
        assert!(err.code().contains("REVOKED"), "{}", err.code());
    }
    // status reports both rings healthy (no finding about a missing key).
    let (findings, _) = i.status(now + 2, 86_400, 400 * 86_400).unwrap();
    assert!(
        !findings.iter().any(|f| f.kind == "no_active_key"),
        "{findings:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// A token issued for `key` at `now`.
fn issue_unchecked(
    i: &mut jwt_edge::issuer::Issuer<jwt_edge::issuer::AnyStore>,
    key: &zeroize::Zeroizing<String>,
    now: u64,
) -> String {
    i.issue(
        &jwt_edge::issuer::IssueRequest {
            credential: key.clone().into(),
            ..Default::default()
        },
        now,
    )
    .unwrap()
    .token
}

/// A store (in a new temporary directory named after `name`) whose issuer
/// signs with an ES256 ring and an ML-DSA-65 ring: (directory, store).
fn es256_and_ml_dsa_65(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = temp_dir(name);
    let mut s = settings();
    s.extra_algs = vec![Algorithm::MlDsa65];
    let db = init_store(&dir, &s);
    (dir, db)
}

/// The lists' signing ring is configurable (issue #30): by default the
/// primary (classic) ring signs revocation lists; after `set_lists_alg`
/// (`keys lists-alg ML-DSA-65`) the ML-DSA ring does, a verifier installs
/// the list with the published JWKS, and an algorithm without a ring is
/// refused.
#[test]
fn the_lists_ring_is_configurable() {
    if pkcs11() {
        return;
    }
    let (dir, db) = es256_and_ml_dsa_65("issuer-lists-ring");
    let now = unix_now() + 1;
    let mut i = issuer(&db);
    let (client, key) = i
        .create_provisioning_key("c", "read", None, None, None, &[AUD.to_owned()], &[], now)
        .unwrap();
    let token = issue_unchecked(&mut i, &key, now);
    i.revoke_provisioning_key(&client.id, now).unwrap();
    let alg_of = |list: &str| jwt_edge::inspect(list, None).unwrap().header["alg"].clone();
    assert_eq!(alg_of(&i.signed_revocation_list(now + 1).unwrap()), "ES256");
    assert!(
        i.set_lists_alg(Some(Algorithm::MlDsa87), now).is_err(),
        "no such ring"
    );
    i.set_lists_alg(Some(Algorithm::MlDsa65), now).unwrap();
    let list = i.signed_revocation_list(now + 1).unwrap();
    assert_eq!(alg_of(&list), "ML-DSA-65");
    let set = KeySet::from_jwks(i.jwks().unwrap().to_json().to_string().as_bytes()).unwrap();
    let mut p = Policy::new().issuer(ISS).audience(AUD);
    jwt_edge::install_revocations(&list, &set, &mut p).unwrap();
    let err = jwt_edge::verify(&token, &set, &p, now + 2).unwrap_err();
    assert!(err.code().contains("REVOKED"), "{}", err.code());
    // Back to the primary ring; the setting survives a reopen.
    i.set_lists_alg(None, now).unwrap();
    assert_eq!(
        alg_of(&issuer(&db).signed_revocation_list(now + 1).unwrap()),
        "ES256"
    );
    assert!(issuer(&db).audit(0).unwrap().iter().any(|a| a
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("lists signed by the ML-DSA-65 ring"))));
    std::fs::remove_dir_all(dir).ok();
}

/// `keys rotate --alg`: the policy applied to one ring only; the other ring
/// rotates on its own turn, and an algorithm without a ring is refused,
/// naming the issuer's rings and `keys add-alg`.
#[test]
fn one_ring_rotates_on_its_own() {
    if pkcs11() {
        return;
    }
    let (dir, db) = es256_and_ml_dsa_65("issuer-rotate-alg");
    let mut i = issuer(&db);
    let alg_of = |i: &mut jwt_edge::issuer::Issuer<_>, kid: &str| {
        i.keys()
            .unwrap()
            .into_iter()
            .find(|k| k.kid == kid)
            .unwrap()
            .alg
    };
    let before = i.keys().unwrap().len();
    // Long after both first keys are due for rotation.
    let later = unix_now() + 400 * 86_400;
    let steps = i.rotate_alg(Algorithm::MlDsa65, later).unwrap();
    assert!(!steps.is_empty(), "the ML-DSA-65 ring was due");
    for step in &steps {
        assert_eq!(alg_of(&mut i, &step.kid), Algorithm::MlDsa65, "{step:?}");
    }
    let after_pq = i.keys().unwrap().len();
    assert!(after_pq > before);
    let steps = i.rotate(later).unwrap();
    assert!(!steps.is_empty(), "the ES256 ring was still due");
    for step in &steps {
        assert_eq!(alg_of(&mut i, &step.kid), Algorithm::ES256, "{step:?}");
    }
    assert!(
        i.rotate_alg(Algorithm::MlDsa65, later).unwrap().is_empty(),
        "idempotent"
    );
    let err = i.rotate_alg(Algorithm::MlDsa87, later).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ML-DSA-87")
            && msg.contains("ES256, ML-DSA-65")
            && msg.contains("keys add-alg"),
        "{msg}"
    );
    std::fs::remove_dir_all(dir).ok();
}
