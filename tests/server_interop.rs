//! Interop on loopback: `tests/interop/server_remote.mjs` obtains a token from
//! the server and verifies it with jose's `createRemoteJWKSet` and with the
//! jwt-edge npm package (JWKS and signed revocation list fetched from the
//! server); a token revoked through the store fails in the npm package.
//! Skipped (with a message) when `node` or jose is not installed.

#![cfg(not(target_arch = "wasm32"))]
// The issuer suites run against every store and key custody (JWT_EDGE_TEST_STORE,
// JWT_EDGE_TEST_KEY_STORE), so they need every native feature (pkg-scripts/test: $ALL).
#![cfg(all(
    feature = "cli",
    feature = "server",
    feature = "postgres",
    feature = "pkcs11"
))]

mod server_util;

use std::path::Path;
use std::time::Duration;

use server_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jose_remote_jwks_and_npm_package() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !root.join("node_modules/jose").exists() {
        eprintln!("skipped: node or node_modules/jose missing");
        return;
    }
    let dir = temp_dir("server-interop");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "interop");
    let server = start(config(&db)).await;
    let base = format!("http://{}", server.addr);
    let mut c = Client::new(server.addr);

    // A token, then revoked through the store; wait for /revocations to change.
    let before = c
        .get("/revocations")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let r = c
        .token(
            "grant_type=client_credentials",
            &[("authorization", &basic(&id, &full))],
        )
        .await;
    let revoked = r.json()["access_token"].as_str().unwrap().to_owned();
    let jti = jwt_edge::inspect(&revoked, None).unwrap().claims["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    issuer(&db).revoke_jti(&jti, unix_now()).unwrap();
    for _ in 0..100 {
        if c.get("/revocations").await.header("etag") != Some(before.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let secret = full["jep_".len() + 16 + 1..].to_owned();
    let out = tokio::process::Command::new("node")
        .current_dir(root)
        .arg("tests/interop/server_remote.mjs")
        .args([&base, &id, &secret, ISS, AUD, &revoked])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |check: &str, i: u64| {
        lines
            .iter()
            .find(|l| l["check"] == check && l["i"] == i)
            .cloned()
    };
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["token_type"], "Bearer");
    // jose (no revocation list): both verify against the remote JWKS.
    assert_eq!(find("jose", 0).unwrap()["ok"], true);
    assert_eq!(find("jose", 1).unwrap()["ok"], true);
    // The npm package, when built: fresh token ok, revoked token refused.
    if lines
        .iter()
        .any(|l| l["check"] == "jwt-edge" && l["skipped"].is_string())
    {
        eprintln!("npm package checks skipped: run pkg-scripts/build");
    } else {
        assert_eq!(find("jwt-edge", 0).unwrap()["ok"], true);
        assert_eq!(find("jwt-edge", 1).unwrap()["code"], "ERR_JWT_REVOKED");
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
