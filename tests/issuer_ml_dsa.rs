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
