//! Crash test: `jwt-edge serve` (the binary) under load is SIGKILLed, then
//! restarted on the same store: the store is consistent (integrity check,
//! one audit row per issued token and vice versa) and every token a client
//! received has its audit row. Then a graceful SIGTERM shutdown exits 0.

#![cfg(all(unix, not(target_arch = "wasm32")))]
// The issuer suites run against every store and key custody (JWT_EDGE_TEST_STORE,
// JWT_EDGE_TEST_KEY_STORE), so they need every native feature (pkg-scripts/test: $ALL).
#![cfg(all(
    feature = "cli",
    feature = "server",
    feature = "postgres",
    feature = "pkcs11"
))]

mod server_util;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use server_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_then_restart_is_consistent() {
    let dir = temp_dir("server-crash");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "crash");
    let pass = dir.join("pass");
    std::fs::write(&pass, format!("{PASS}\n")).unwrap();
    let extra = [
        "--refresh-interval".as_ref(),
        "1s".as_ref(),
        "--passphrase-file".as_ref(),
        pass.as_os_str(),
    ];
    let (mut child, addr) = spawn_serve(&db, &extra);
    let auth = basic(&id, &full);

    // Load: 8 clients until the server dies; keep every token received.
    let dead = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (auth, dead) = (auth.clone(), Arc::clone(&dead));
        tasks.push(tokio::spawn(async move {
            let mut c = Client::new(addr);
            let mut got = Vec::new();
            let start = Instant::now();
            while !dead.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(20) {
                if let Ok(r) = c
                    .try_send(
                        "POST",
                        "/token",
                        &[FORM_CT, ("authorization", &auth)],
                        b"grant_type=client_credentials",
                    )
                    .await
                {
                    if r.status == 200 {
                        got.push(r.json()["access_token"].as_str().unwrap().to_owned());
                    }
                }
            }
            got
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    dead.store(true, Ordering::SeqCst);
    let mut received = Vec::new();
    for t in tasks {
        received.extend(t.await.unwrap());
    }
    assert!(
        received.len() > 50,
        "only {} tokens before the kill",
        received.len()
    );

    // Restart on the same store: it comes up and issues.
    let (mut child, addr) = spawn_serve(&db, &extra);
    let mut c = Client::new(addr);
    assert_eq!(c.get("/healthz").await.status, 200);
    let r = c
        .token("grant_type=client_credentials", &[("authorization", &auth)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    received.push(r.json()["access_token"].as_str().unwrap().to_owned());

    // Graceful shutdown on SIGTERM: exit 0.
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");

    // Consistency.
    if !postgres() {
        // SQLite's own check of the file (PostgreSQL checks its pages itself).
        let store = jwt_edge::issuer::SqliteStore::open(&db, false).unwrap();
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }
    let tokens: BTreeSet<String> = sql_column(&db, "SELECT jti FROM tokens")
        .into_iter()
        .collect();
    let audited: BTreeSet<String> = sql_column(
        &db,
        "SELECT jti FROM audit WHERE action = 'token.issue' AND outcome = 'ok'",
    )
    .into_iter()
    .collect();
    assert_eq!(tokens, audited, "one audit row per issued token");
    let use_count: i64 = sql_column(
        &db,
        &format!("SELECT use_count FROM provisioning_keys WHERE id = '{id}'"),
    )[0]
    .parse()
    .unwrap();
    assert_eq!(use_count as usize, tokens.len());
    for t in &received {
        assert!(
            audited.contains(&jti_of(t)),
            "a received token has no audit row"
        );
    }
    eprintln!(
        "{} tokens received, {} issued and audited (the rest were committed but not delivered)",
        received.len(),
        audited.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
