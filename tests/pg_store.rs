//! Issue #16: the issuer on PostgreSQL, beyond one machine. Every test here
//! starts its own PostgreSQL server (Debian's binaries, `initdb` + `pg_ctl`
//! on a temporary directory and a loopback port; see tests/server_util/pg.rs)
//! and stops it at the end:
//! - TLS to the database (`sslmode=verify-full` with `sslrootcert`,
//!   `require`), and the connection string's password in no output;
//! - two `jwt-edge serve` replicas on one database: one leader; SIGKILL of
//!   the leader under load (the survivor serves, leadership moves, every
//!   token a client received has its audit row);
//! - PostgreSQL stopped for 5 s under load: 503s and an unhealthy
//!   `/healthz`, the JWKS still served, no token without its audit row,
//!   recovery without a restart;
//! - a simulated year of rotation by two replicas racing the rotation timer:
//!   never two active keys, never none (a third connection watches);
//! - `jwt-edge migrate` from SQLite, row counts verified, ids kept.
//!
//! (The issuer and server suites also run against PostgreSQL:
//! `JWT_EDGE_TEST_STORE=postgres` in pkg-scripts/test.)

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
#[path = "store/contract.rs"]
mod store_contract;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jwt_edge::issuer::{AnyStore, IssueRequest, Issuer, Store, StoreUrl};
use server_util::pg::{PgCluster, PG_PASSWORD};
use server_util::*;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jwt-edge"));
    c.env_remove("JWT_EDGE_DB")
        .env("JWT_EDGE_PASSPHRASE", PASS)
        .env("JWT_EDGE_PKCS11_PIN", PIN)
        .stdin(Stdio::null());
    c
}

fn open(url: &str, create: bool) -> Issuer<AnyStore> {
    Issuer::new(
        AnyStore::open(&StoreUrl::parse(url), create).unwrap(),
        secrets(),
    )
}

/// A fresh store in a new database of `pg`, with one provisioning key:
/// (url, client id, provisioning key).
fn store(pg: &PgCluster, s: &jwt_edge::issuer::Settings) -> (String, String, String) {
    let url = pg.new_database();
    let mut i = open(&url, true);
    i.init(s, unix_now()).unwrap();
    let (rec, full) = i
        .create_provisioning_key(
            "replicated",
            "read write",
            Some(2 * 365 * 86_400),
            None,
            None,
            &[AUD.to_owned()],
            &[],
            unix_now(),
        )
        .unwrap();
    (url, rec.id, full.as_str().to_owned())
}

/// A `jwt-edge serve` replica (the binary) on `url`; its stderr goes to
/// `log` (checked for the password afterwards).
struct Replica {
    child: Child,
    addr: std::net::SocketAddr,
}

fn spawn_replica(url: &str, log: &Path, rotate: &str) -> Replica {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = bin()
        .args(["serve", "--addr", "127.0.0.1:0", "--refresh-interval", "1s"])
        .args(["--rotate-interval", rotate])
        .env("JWT_EDGE_DB", url)
        .env("JWT_EDGE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|_| panic!("listening line, got {line:?}; log: {}", read(log)));
    // Keep draining stdout (the audit sink is not used; nothing else prints).
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = out.read_to_end(&mut sink);
    });
    Replica {
        child,
        addr: v["listening"].as_str().unwrap().parse().unwrap(),
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// `jwt_edge_leader` from the replica's /metrics.
async fn leads(addr: std::net::SocketAddr) -> Option<bool> {
    let mut c = Client::new(addr);
    let r = c.try_send("GET", "/metrics", &[], b"").await.ok()?;
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix("jwt_edge_leader "))
        .map(|v| v.trim() == "1")
}

/// Clients requesting tokens from `addrs` (round robin per client) until
/// `stop`, at most `secs`: every 200's token, and the statuses seen.
fn load(
    addrs: Vec<std::net::SocketAddr>,
    auth: String,
    clients: usize,
    stop: Arc<AtomicBool>,
    secs: u64,
) -> Vec<tokio::task::JoinHandle<(Vec<String>, Vec<u16>)>> {
    (0..clients)
        .map(|n| {
            let (addrs, auth, stop) = (addrs.clone(), auth.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut conns: Vec<Client> = addrs.iter().map(|a| Client::new(*a)).collect();
                let (mut got, mut statuses) = (Vec::new(), Vec::new());
                let start = Instant::now();
                let mut i = n;
                while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(secs) {
                    let k = i % conns.len();
                    i += 1;
                    match conns[k]
                        .try_send(
                            "POST",
                            "/token",
                            &[FORM_CT, ("authorization", &auth)],
                            b"grant_type=client_credentials",
                        )
                        .await
                    {
                        Ok(r) => {
                            statuses.push(r.status);
                            if r.status == 200 {
                                got.push(r.json()["access_token"].as_str().unwrap().to_owned());
                            } else {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                        Err(_) => {
                            statuses.push(0);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                (got, statuses)
            })
        })
        .collect()
}

/// Stops the load of [`load`]: every token received, every status seen.
async fn finish(
    stop: &AtomicBool,
    tasks: Vec<tokio::task::JoinHandle<(Vec<String>, Vec<u16>)>>,
) -> (Vec<String>, Vec<u16>) {
    stop.store(true, Ordering::SeqCst);
    let (mut received, mut statuses) = (Vec::new(), Vec::new());
    for t in tasks {
        let (got, st) = t.await.unwrap();
        received.extend(got);
        statuses.extend(st);
    }
    (received, statuses)
}

/// Every token received has its `token.issue` audit row (and a token row).
fn assert_all_audited(pg: &PgCluster, url: &str, received: &[String]) {
    let db = server_util::pg::database_of(url);
    let audited: BTreeSet<String> = pg
        .psql(
            &db,
            "SELECT jti FROM audit WHERE action = 'token.issue' AND outcome = 'ok'",
        )
        .lines()
        .map(str::to_owned)
        .collect();
    let rows: BTreeSet<String> = pg
        .psql(&db, "SELECT jti FROM tokens")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(audited, rows, "one audit row per token row");
    for t in received {
        assert!(
            audited.contains(&jti_of(t)),
            "a received token has no audit row"
        );
    }
}

#[test]
fn tls_verify_full_require_and_the_password_in_no_output() {
    let pg = PgCluster::start(true);
    let url = pg.new_database();
    let base = url.split('?').next().unwrap().to_owned();
    let crt = pg.dir.join("server.crt");
    // verify-full with the server's certificate as root: works.
    let verified = format!("{base}?sslmode=verify-full&sslrootcert={}", crt.display());
    let mut s = settings();
    s.kdf_iterations = 1000;
    open(&verified, true).init(&s, unix_now()).unwrap();
    // The session is encrypted (pg_stat_ssl of the connections).
    let mut i = open(&verified, false);
    assert_eq!(i.keys().unwrap().len(), 1);
    let ssl = pg.psql(
        "postgres",
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'jwt-edge' AND s.ssl",
    );
    assert!(ssl.parse::<u32>().unwrap() >= 1, "TLS sessions: {ssl}");
    drop(i);
    // require: encrypted, not authenticated (libpq's meaning): works.
    open(&format!("{base}?sslmode=require"), false)
        .keys()
        .unwrap();
    // verify-full against the public roots: a self-signed server fails.
    let e = AnyStore::open(
        &StoreUrl::parse(&format!("{base}?sslmode=verify-full")),
        false,
    )
    .unwrap_err();
    assert!(e.message().contains("cannot connect"), "{e}");
    assert!(!e.to_string().contains(PG_PASSWORD), "{e}");
    // A wrong password, through the CLI: refused, named, never printed.
    let wrong = base.replace(PG_PASSWORD, "not-the-password-123");
    let out = bin()
        .args([
            "status",
            "--json",
            "--db",
            &format!("{wrong}?sslmode=require"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(text.contains("postgres:***@"), "{text}");
    assert!(!text.contains("not-the-password-123"), "{text}");
    // verify-ca is refused with a pointer to verify-full.
    let e = AnyStore::open(
        &StoreUrl::parse(&format!("{base}?sslmode=verify-ca")),
        false,
    )
    .unwrap_err();
    assert!(e.message().contains("verify-full"), "{e}");
    // The CLI works over verify-full too.
    let out = bin()
        .args(["keys", "list", "--json", "--db", &verified])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_leader_sigkill_of_the_leader_under_load() {
    let pg = PgCluster::start(false);
    let dir = temp_dir("pg-replicas");
    let (url, id, full) = store(&pg, &settings());
    let log = dir.join("serve.log");
    let a = spawn_replica(&url, &log, "1s");
    let b = spawn_replica(&url, &log, "1s");
    // Exactly one leader.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (la, lb) = loop {
        let (la, lb) = (leads(a.addr).await, leads(b.addr).await);
        if let (Some(x), Some(y)) = (la, lb) {
            if x != y {
                break (x, y);
            }
        }
        assert!(Instant::now() < deadline, "no single leader: {la:?} {lb:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(la ^ lb);
    let (mut leader, survivor) = if la { (a, b) } else { (b, a) };

    let auth = basic(&id, &full);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(
        vec![leader.addr, survivor.addr],
        auth.clone(),
        8,
        Arc::clone(&stop),
        30,
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    leader.child.kill().unwrap(); // SIGKILL
    leader.child.wait().unwrap();
    let killed_at = Instant::now();
    // The survivor takes over leadership at its next rotation tick.
    let took_over = loop {
        if leads(survivor.addr).await == Some(true) {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(20),
            "leadership did not move"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (mut received, statuses) = finish(&stop, tasks).await;
    // The survivor kept serving: tokens after the kill came from it.
    let mut c = Client::new(survivor.addr);
    let r = c
        .token("grant_type=client_credentials", &[("authorization", &auth)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    received.push(r.json()["access_token"].as_str().unwrap().to_owned());
    let bad: Vec<&u16> = statuses.iter().filter(|s| **s != 200 && **s != 0).collect();
    assert!(bad.is_empty(), "answers other than 200: {bad:?}");
    assert!(received.len() > 50, "only {} tokens", received.len());
    eprintln!(
        "two replicas: {} tokens received, {} connection errors (the killed replica), leadership moved after {took_over:?}",
        received.len(),
        statuses.iter().filter(|s| **s == 0).count()
    );
    // Every token verifies against the survivor's JWKS.
    let jwks = c.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
    let served: BTreeSet<String> = jwks.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    for t in &received {
        assert!(served.contains(&kid_of(t)));
    }
    let mut survivor = survivor;
    let _ = Command::new("kill")
        .args(["-TERM", &survivor.child.id().to_string()])
        .status();
    survivor.child.wait().unwrap();
    assert_all_audited(&pg, &url, &received);
    let log_text = read(&log);
    assert!(
        !log_text.contains(PG_PASSWORD),
        "the password is in the log"
    );
    assert!(log_text.contains("leadership acquired"), "{log_text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_for_5s_under_load_503_then_recovery_without_restart() {
    let pg = PgCluster::start(false);
    let dir = temp_dir("pg-outage");
    let (url, id, full) = store(&pg, &settings());
    let log = dir.join("serve.log");
    let mut a = spawn_replica(&url, &log, "1s");
    let mut b = spawn_replica(&url, &log, "1s");
    let auth = basic(&id, &full);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(vec![a.addr, b.addr], auth.clone(), 8, Arc::clone(&stop), 40);
    tokio::time::sleep(Duration::from_millis(1000)).await;

    pg.stop();
    let down_at = Instant::now();
    let mut c = Client::new(a.addr);
    let mut saw_503 = false;
    let mut saw_unhealthy = false;
    while down_at.elapsed() < Duration::from_secs(5) {
        let r = c
            .token("grant_type=client_credentials", &[("authorization", &auth)])
            .await;
        assert_ne!(r.status, 200, "a token while the database is down");
        if r.status == 503 {
            saw_503 = true;
            assert_eq!(r.json()["error"], "temporarily_unavailable");
            assert_eq!(r.header("retry-after"), Some("1"));
        }
        if c.get("/healthz").await.status == 503 {
            saw_unhealthy = true;
        }
        // The JWKS is served from memory meanwhile.
        assert_eq!(c.get("/.well-known/jwks.json").await.status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        saw_503 && saw_unhealthy,
        "503 {saw_503}, unhealthy {saw_unhealthy}"
    );
    pg.restart();
    let up_at = Instant::now();
    // Both replicas recover by themselves.
    for addr in [a.addr, b.addr] {
        let mut c = Client::new(addr);
        loop {
            let r = c
                .token("grant_type=client_credentials", &[("authorization", &auth)])
                .await;
            if r.status == 200 && c.get("/healthz").await.status == 200 {
                break;
            }
            assert!(
                up_at.elapsed() < Duration::from_secs(20),
                "no recovery: {} {}",
                r.status,
                r.text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let recovered = up_at.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (received, statuses) = finish(&stop, tasks).await;
    let n503 = statuses.iter().filter(|s| **s == 503).count();
    let other: Vec<&u16> = statuses
        .iter()
        .filter(|s| !matches!(**s, 200 | 503))
        .collect();
    assert!(other.is_empty(), "answers other than 200/503: {other:?}");
    assert!(n503 > 0);
    eprintln!(
        "outage: {} tokens, {n503} answers 503 during the 5 s outage, both replicas healthy {recovered:?} after the restart",
        received.len()
    );
    for r in [&mut a, &mut b] {
        let _ = Command::new("kill")
            .args(["-TERM", &r.child.id().to_string()])
            .status();
        r.child.wait().unwrap();
    }
    assert_all_audited(&pg, &url, &received);
    assert!(!read(&log).contains(PG_PASSWORD));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_year_of_rotation_by_two_replicas_racing_never_two_active_keys_never_none() {
    let pg = PgCluster::start(false);
    let mut s = settings();
    s.rotate_every = 7 * 86_400;
    s.pre_publish = 86_400;
    s.grace = 86_400;
    s.token_ttl = 3_600;
    s.max_token_ttl = 3_600;
    let (url, _, full) = store(&pg, &s);
    let t0 = unix_now();
    const STEP: u64 = 12 * 3_600;
    const STEPS: u64 = 2 * 365;
    let done = Arc::new(AtomicBool::new(false));
    // A third connection watches the active-key count all along.
    let watched = Arc::new(AtomicU64::new(0));
    let violations: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut psql = pg.client_tool("psql");
    psql.args(["-d", &server_util::pg::database_of(&url), "-At"]);
    let watcher = {
        let (done, watched, violations) = (
            Arc::clone(&done),
            Arc::clone(&watched),
            Arc::clone(&violations),
        );
        std::thread::spawn(move || {
            let mut psql = psql
                .stderr(Stdio::null())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut input = psql.stdin.take().unwrap();
            let mut output = BufReader::new(psql.stdout.take().unwrap());
            while !done.load(Ordering::SeqCst) {
                use std::io::Write;
                writeln!(
                    input,
                    "SELECT count(*) FROM signing_keys WHERE state = 'active';"
                )
                .unwrap();
                let mut line = String::new();
                output.read_line(&mut line).unwrap();
                let n: u64 = line.trim().parse().unwrap();
                if n != 1 {
                    violations.lock().unwrap().push(format!("{n} active keys"));
                }
                watched.fetch_add(1, Ordering::SeqCst);
            }
            drop(input);
            let _ = psql.wait();
        })
    };
    // Two replicas race through the same simulated year: each rotates at
    // every tick (as if both had won leadership: the store must still keep
    // one active key) and issues a token, which must carry the active kid.
    // Who leads: a replica that finds the other one recorded as leader while
    // its own store says it leads has found two leaders.
    let holder: Arc<Mutex<Option<u64>>> = Arc::default();
    // The two replicas' clocks agree (each tick starts together; within a
    // tick they race): a replica far ahead in simulated time would retire
    // the key the other just signed with, which real clocks never do.
    let progress: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let replicas: Vec<_> = (0..2u64)
        .map(|r| {
            let (url, full, holder, violations, progress) = (
                url.clone(),
                full.clone(),
                Arc::clone(&holder),
                Arc::clone(&violations),
                Arc::clone(&progress),
            );
            std::thread::spawn(move || {
                let mut i = open(&url, false);
                let mut steps = 0usize;
                let mut leads = 0usize;
                for n in 0..STEPS {
                    // Wait (bounded) for the other replica to reach this tick.
                    progress[r as usize].store(n, Ordering::SeqCst);
                    let waiting = Instant::now();
                    while progress[1 - r as usize].load(Ordering::SeqCst) < n {
                        assert!(
                            waiting.elapsed() < Duration::from_secs(60),
                            "the other replica stopped at tick {}",
                            progress[1 - r as usize].load(Ordering::SeqCst)
                        );
                        std::thread::sleep(Duration::from_micros(100));
                    }
                    let now = t0 + n * STEP + r;
                    steps += i.rotate(now).unwrap().len();
                    if i.store_mut().lead().unwrap() {
                        leads += 1;
                        let mut h = holder.lock().unwrap();
                        if h.is_some_and(|other| other != r) {
                            violations.lock().unwrap().push("two leaders".into());
                        }
                        *h = Some(r);
                    }
                    let issued = i
                        .issue(
                            &IssueRequest {
                                credential: zeroize::Zeroizing::new(full.clone()).into(),
                                ..IssueRequest::default()
                            },
                            now,
                        )
                        .unwrap();
                    let jwks = i.jwks().unwrap().to_json();
                    assert!(
                        jwks["keys"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|k| k["kid"] == issued.kid.as_str()),
                        "a token's kid is not in the JWKS"
                    );
                }
                progress[r as usize].store(STEPS, Ordering::SeqCst);
                // Done: leadership passes on once this store is closed.
                let mut h = holder.lock().unwrap();
                if *h == Some(r) {
                    *h = None;
                }
                drop(h);
                drop(i);
                (steps, leads)
            })
        })
        .collect();
    let results: Vec<(usize, usize)> = replicas.into_iter().map(|h| h.join().unwrap()).collect();
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    let v = violations.lock().unwrap();
    assert!(
        v.is_empty(),
        "{} violations: {:?}",
        v.len(),
        &v[..v.len().min(5)]
    );
    let mut i = open(&url, false);
    let keys = i.keys().unwrap();
    let activations = keys
        .iter()
        .filter(|k| k.life.activated_at().is_some())
        .count();
    eprintln!(
        "a year with two replicas: {} rotation steps ({:?} per replica), {activations} keys activated, {} checks of the active-key count, leadership held {:?} ticks",
        results.iter().map(|r| r.0).sum::<usize>(),
        results.iter().map(|r| r.0).collect::<Vec<_>>(),
        watched.load(Ordering::SeqCst),
        results.iter().map(|r| r.1).collect::<Vec<_>>()
    );
    assert!(
        activations >= 50,
        "weekly rotation over a year: {activations}"
    );
    // Leadership: one replica held it while both ran (checked above), the
    // other took it over once the first closed its store.
    assert!(results.iter().any(|r| r.1 as u64 >= STEPS), "{results:?}");
    assert!(watched.load(Ordering::SeqCst) > 100);
}

#[test]
fn migrate_from_sqlite_keeps_every_row_and_id() {
    let pg = PgCluster::start(false);
    let dir = temp_dir("pg-migrate");
    let sqlite = dir.join("issuer.db");
    let now = unix_now();
    let mut i = Issuer::new(
        AnyStore::open(&StoreUrl::Sqlite(sqlite.clone()), true).unwrap(),
        secrets(),
    );
    i.init(&settings(), now).unwrap();
    let (_, full) = i
        .create_provisioning_key("m", "read", None, None, None, &[AUD.to_owned()], &[], now)
        .unwrap();
    let mut tokens = Vec::new();
    for _ in 0..25 {
        tokens.push(
            i.issue(
                &IssueRequest {
                    credential: full.clone().into(),
                    ..IssueRequest::default()
                },
                now,
            )
            .unwrap()
            .token,
        );
    }
    i.revoke_jti(&jti_of(&tokens[0]), now).unwrap();
    i.generate_key(None, now).unwrap();
    let cursor = i.audit_export(0, 10).unwrap().last().unwrap().id;
    i.acknowledge_audit(cursor).unwrap();
    let sqlite_list = i.revocation_list(now).unwrap();
    let sqlite_jwks = i.jwks().unwrap();
    let sqlite_audit = i.audit(0).unwrap();
    drop(i);

    let url = pg.new_database();
    let out = bin()
        .args(["migrate", "--json", "--from"])
        .arg(format!("sqlite:{}", sqlite.display()))
        .env("JWT_EDGE_DB", &url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains(PG_PASSWORD));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["verified"], true);
    let copied: std::collections::BTreeMap<String, u64> = v["copied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["table"].as_str().unwrap().to_owned(),
                c["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(copied["tokens"], 25);
    assert_eq!(copied["signing_keys"], 2);
    assert_eq!(copied["audit"], sqlite_audit.len() as u64);

    // The PostgreSQL store is the same issuer: JWKS, revocation list (and
    // its epoch), audit rows with their ids, the export cursor.
    let mut p = open(&url, false);
    assert_eq!(p.jwks().unwrap(), sqlite_jwks);
    assert_eq!(p.revocation_list(now).unwrap(), sqlite_list);
    assert_eq!(p.audit(0).unwrap(), sqlite_audit);
    assert_eq!(p.audit_exported_through().unwrap(), cursor);
    // It keeps working: tokens, revocation, new audit ids after the old.
    let t = p
        .issue(
            &IssueRequest {
                credential: full.clone().into(),
                ..IssueRequest::default()
            },
            now + 1,
        )
        .unwrap();
    assert!(p.revoke_jti(&jti_of(&tokens[1]), now + 1).unwrap());
    let last = p.audit(0).unwrap();
    assert!(last.last().unwrap().id > sqlite_audit.last().unwrap().id);
    assert!(last
        .iter()
        .any(|r| r.jti.as_deref() == Some(jti_of(&t.token).as_str())));
    drop(p);
    // A second migration into the same (now non-empty) database is refused.
    let again = bin()
        .args(["migrate", "--from"])
        .arg(format!("sqlite:{}", sqlite.display()))
        .args(["--to", &url])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already holds issuer data"), "{err}");
    assert!(!err.contains(PG_PASSWORD));
    let _ = std::fs::remove_dir_all(&dir);
}
