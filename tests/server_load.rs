//! Load on loopback: concurrent clients requesting tokens (0 errors, every
//! received token has its audit row), a key rotation forced during traffic
//! with no failed verification, and the benches (`#[ignore]`, run by
//! `pkg-scripts/bench-server`) reporting p50/p99 latency and tokens/s, also
//! while retention prunes a backlog.

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

use jwt_edge::issuer::store::{AuditAction, Outcome};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jwt_edge::{KeySet, Policy};
use server_util::*;
use tokio::sync::Mutex;

struct LoadResult {
    tokens: Vec<String>,
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

/// `clients` keep-alive clients, each requesting until `per_client` tokens
/// or `deadline`.
async fn load(
    addr: std::net::SocketAddr,
    auth: String,
    clients: usize,
    per_client: usize,
    deadline: Duration,
) -> LoadResult {
    load_spread(&[addr], auth, clients, per_client, deadline).await
}

/// [`load`] with the clients spread over several replicas (client `n`
/// talks to `addrs[n % len]`).
async fn load_spread(
    addrs: &[std::net::SocketAddr],
    auth: String,
    clients: usize,
    per_client: usize,
    deadline: Duration,
) -> LoadResult {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..clients {
        let auth = auth.clone();
        let addr = addrs[n % addrs.len()];
        tasks.push(tokio::spawn(async move {
            let mut c = Client::new(addr);
            let (mut tokens, mut lat, mut errors) = (Vec::new(), Vec::new(), 0usize);
            while tokens.len() + errors < per_client && start.elapsed() < deadline {
                let t = Instant::now();
                match c
                    .try_send(
                        "POST",
                        "/token",
                        &[FORM_CT, ("authorization", &auth)],
                        b"grant_type=client_credentials&scope=read",
                    )
                    .await
                {
                    Ok(r) if r.status == 200 => {
                        lat.push(t.elapsed());
                        tokens.push(r.json()["access_token"].as_str().unwrap().to_owned());
                    }
                    _ => errors += 1,
                }
            }
            (tokens, lat, errors)
        }));
    }
    let mut out = LoadResult {
        tokens: Vec::new(),
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (tk, lat, e) = t.await.unwrap();
        out.tokens.extend(tk);
        out.latencies.extend(lat);
        out.errors += e;
    }
    out.elapsed = start.elapsed();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, r: &mut LoadResult) -> String {
    r.latencies.sort();
    let line = format!(
        "{name}: {} tokens in {:.2}s = {:.0} tokens/s, p50 {:.2} ms, p99 {:.2} ms, errors {}",
        r.tokens.len(),
        r.elapsed.as_secs_f64(),
        r.tokens.len() as f64 / r.elapsed.as_secs_f64(),
        percentile(&r.latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&r.latencies, 0.99).as_secs_f64() * 1e3,
        r.errors
    );
    eprintln!("{line}");
    line
}

/// Every token a client received has its `token.issue` audit row.
fn check_audited(db: &std::path::Path, tokens: &[String]) {
    let audited: BTreeSet<String> = issuer(db)
        .audit(0)
        .unwrap()
        .into_iter()
        .filter(|a| a.action == AuditAction::TokenIssue && a.outcome == Outcome::Ok)
        .filter_map(|a| a.jti)
        .collect();
    for t in tokens {
        let jti = jwt_edge::inspect(t, None).unwrap().claims["jti"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(audited.contains(&jti), "token {jti} has no audit row");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_zero_errors_every_token_audited() {
    let dir = temp_dir("server-load");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "load");
    let server = start(config(&db)).await;
    let mut r = load(
        server.addr,
        basic(&id, &full),
        16,
        40,
        Duration::from_secs(20),
    )
    .await;
    report("short load", &mut r);
    assert_eq!(r.errors, 0);
    assert_eq!(r.tokens.len(), 16 * 40);
    let set = KeySet::from_jwks(
        &Client::new(server.addr)
            .get("/.well-known/jwks.json")
            .await
            .body,
    )
    .unwrap();
    let now = unix_now();
    let policy = Policy::new().issuer(ISS).audience(AUD);
    for t in &r.tokens {
        jwt_edge::verify(t, &set, &policy, now).unwrap();
    }
    server.stop().await;
    check_audited(&db, &r.tokens);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A verifier that honours `Cache-Control: max-age` and never refetches on
/// an unknown kid: pre-publication alone must make every new key known.
struct CachingVerifier {
    client: Client,
    set: KeySet,
    fetched: Instant,
    max_age: Duration,
}

impl CachingVerifier {
    async fn new(addr: std::net::SocketAddr) -> Self {
        let mut v = Self {
            client: Client::new(addr),
            set: KeySet::from_jwks(br#"{"keys":[]}"#).unwrap(),
            fetched: Instant::now(),
            max_age: Duration::ZERO,
        };
        v.refresh().await;
        v
    }

    async fn refresh(&mut self) {
        let r = self.client.get("/.well-known/jwks.json").await;
        let cc = r.header("cache-control").unwrap().to_owned();
        let secs: u64 = cc.rsplit("max-age=").next().unwrap().parse().unwrap();
        self.max_age = Duration::from_secs(secs);
        self.set = KeySet::from_jwks(&r.body).unwrap();
        self.fetched = Instant::now();
    }

    async fn verify(&mut self, token: &str) -> Result<String, String> {
        if self.fetched.elapsed() >= self.max_age {
            self.refresh().await;
        }
        let policy = Policy::new().issuer(ISS).audience(AUD);
        jwt_edge::verify(token, &self.set, &policy, unix_now())
            .map(|v| v.kid.unwrap_or_default())
            .map_err(|e| e.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_during_traffic_fails_no_verification() {
    let dir = temp_dir("server-rotate");
    let mut s = settings();
    // A key signs for 6 s; its successor is published 4 s before it signs,
    // so the JWKS max-age is 2 s.
    s.rotate_every = 6;
    s.pre_publish = 4;
    s.token_ttl = 60;
    s.max_token_ttl = 60;
    s.jwks_max_age = 60;
    s.grace = 120;
    let db = init_store(&dir, &s);
    let (id, full) = provision(&db, "rotate");
    let mut cfg = config(&db);
    cfg.rotate_interval = Duration::from_millis(200);
    let server = start(cfg).await;
    let addr = server.addr;
    let auth = basic(&id, &full);
    let kids = Arc::new(Mutex::new(BTreeSet::new()));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (auth, kids) = (auth.clone(), Arc::clone(&kids));
        tasks.push(tokio::spawn(async move {
            let mut c = Client::new(addr);
            let mut v = CachingVerifier::new(addr).await;
            let start = Instant::now();
            let mut n = 0;
            while start.elapsed() < Duration::from_secs(9) {
                let r = c
                    .token("grant_type=client_credentials", &[("authorization", &auth)])
                    .await;
                assert_eq!(r.status, 200, "{}", r.text());
                let token = r.json()["access_token"].as_str().unwrap().to_owned();
                match v.verify(&token).await {
                    Ok(kid) => {
                        kids.lock().await.insert(kid);
                    }
                    Err(e) => panic!("verification failed during rotation: {e}"),
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let kids = kids.lock().await.clone();
    eprintln!("{total} tokens verified across {} signing keys", kids.len());
    assert!(kids.len() >= 2, "no rotation happened: {kids:?}");
    let audit = issuer(&db).audit(0).unwrap();
    assert!(audit.iter().any(|a| a.action == AuditAction::KeyActivate));
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bench setting from the environment, or its default.
fn bench_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The bench: `JWT_EDGE_BENCH_CLIENTS` (default 64) keep-alive clients for
/// `JWT_EDGE_BENCH_SECS` (default 10) seconds against an in-process server on
/// loopback, with the default 600 000-iteration KDF (the key is decrypted
/// once and cached).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "bench: run by pkg-scripts/bench-server"]
async fn bench() {
    let clients = bench_env("JWT_EDGE_BENCH_CLIENTS", 64) as usize;
    let secs = bench_env("JWT_EDGE_BENCH_SECS", 10);
    let dir = temp_dir("server-bench");
    let mut s = settings();
    s.kdf_iterations = jwt_edge::issuer::settings::DEFAULT_KDF_ITERATIONS;
    let db = init_store(&dir, &s);
    let (id, full) = provision(&db, "bench");
    let server = start(config(&db)).await;
    let mut r = load(
        server.addr,
        basic(&id, &full),
        clients,
        usize::MAX,
        Duration::from_secs(secs),
    )
    .await;
    let line = report(&format!("bench ({clients} clients, {secs}s)"), &mut r);
    println!("{line}");
    assert_eq!(r.errors, 0);
    server.stop().await;
    check_audited(&db, &r.tokens);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue #16: the same load on PostgreSQL (a server this test starts),
/// with one replica and with two replicas on one database (in this
/// process, each with its own writer and connection), the clients spread
/// over them. Run by pkg-scripts/bench-server after `bench` (SQLite).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "bench: run by pkg-scripts/bench-server"]
async fn bench_postgres() {
    let clients = bench_env("JWT_EDGE_BENCH_CLIENTS", 64) as usize;
    let secs = bench_env("JWT_EDGE_BENCH_SECS", 10);
    let pg = server_util::pg::PgCluster::start(false);
    for replicas in [1usize, 2] {
        let url = std::path::PathBuf::from(pg.new_database());
        let mut s = settings();
        s.kdf_iterations = jwt_edge::issuer::settings::DEFAULT_KDF_ITERATIONS;
        let mut i = jwt_edge::issuer::Issuer::new(open_store(&url, true), secrets());
        i.init(&s, unix_now()).unwrap();
        drop(i);
        let (id, full) = provision(&url, "bench");
        let mut servers = Vec::new();
        for _ in 0..replicas {
            servers.push(start(config(&url)).await);
        }
        let addrs: Vec<_> = servers.iter().map(|s| s.addr).collect();
        let mut r = load_spread(
            &addrs,
            basic(&id, &full),
            clients,
            usize::MAX,
            Duration::from_secs(secs),
        )
        .await;
        let line = report(
            &format!("bench PostgreSQL, {replicas} replica(s) ({clients} clients, {secs}s)"),
            &mut r,
        );
        println!("{line}");
        assert_eq!(r.errors, 0);
        for s in servers {
            s.stop().await;
        }
        check_audited(&url, &r.tokens);
    }
}

/// Where the time of `bench` goes, in the same run: tokens/s of ES256
/// signing alone (the p256 crate the issuer signs with, over a token-sized
/// input), of `Issuer::issue_batch` alone (authentication, grant, signing,
/// the store's rows and the commit; batches of 64, no HTTP), on SQLite and on
/// PostgreSQL. Against `bench`'s HTTP figure: the rest is HTTP, the queue and
/// the publication checks.
#[test]
#[ignore = "bench: run by pkg-scripts/bench-server"]
fn bench_breakdown() {
    use p256::ecdsa::signature::Signer;
    let secs = Duration::from_secs(bench_env("JWT_EDGE_BENCH_SECS", 10).min(5));
    let input = vec![b'a'; 420];
    // The issuer's signer (ring for ES256) and, for comparison, p256's
    // pure-Rust signing (what the issuer used before).
    let key =
        jwt_edge::issuer::custody::local::SigningKey::generate(jwt_edge::Algorithm::ES256).unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < secs {
        std::hint::black_box(key.sign(&input).unwrap());
        n += 1;
    }
    let sign_rate = n as f64 / start.elapsed().as_secs_f64();
    let p256_key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let start = Instant::now();
    let mut m = 0u64;
    while start.elapsed() < secs / 2 {
        let sig: p256::ecdsa::Signature = p256_key.sign(&input);
        std::hint::black_box(sig);
        m += 1;
    }
    let p256_rate = m as f64 / start.elapsed().as_secs_f64();
    println!(
        "bench breakdown: ES256 signing alone, one core: issuer (ring) {sign_rate:.0}/s ({:.0} µs), \
         p256 pure Rust {p256_rate:.0}/s ({:.0} µs)",
        1e6 / sign_rate,
        1e6 / p256_rate
    );
    let pg = server_util::pg::PgCluster::start(false);
    let dir = temp_dir("server-breakdown");
    for (name, db) in [
        ("SQLite", dir.join("issuer.db")),
        ("PostgreSQL", std::path::PathBuf::from(pg.new_database())),
    ] {
        let mut i = jwt_edge::issuer::Issuer::new(open_store(&db, true), secrets());
        i.init(&settings(), unix_now()).unwrap();
        drop(i);
        let (_, full) = provision(&db, "bench");
        let mut i = issuer(&db);
        let reqs: Vec<jwt_edge::issuer::IssueRequest> = (0..64)
            .map(|_| jwt_edge::issuer::IssueRequest {
                credential: zeroize::Zeroizing::new(full.clone()).into(),
                scope: Some("read".into()),
                ..jwt_edge::issuer::IssueRequest::default()
            })
            .collect();
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed() < secs {
            let answers = i.issue_batch(&reqs, unix_now()).unwrap();
            n += answers.iter().filter(|a| a.is_ok()).count();
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        println!(
            "bench breakdown: {name}: issue_batch alone (64 per commit, no HTTP): {rate:.0} tokens/s; \
             per token {:.0} µs, of which signing {:.0} µs",
            1e6 / rate,
            1e6 / sign_rate
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Adds `n` expired token rows and `n` audit rows older than any retention
/// window (acknowledged as exported) to the store, in SQL (fast).
fn add_backlog(db: &std::path::Path, client_id: &str, n: u64, tag: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let kid: String = conn
        .query_row(
            "SELECT kid FROM signing_keys WHERE state = 'active'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let rows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)";
    conn.execute(
        &format!(
            "INSERT INTO tokens (jti, sub, provisioning_key_id, kid, iat, exp) {rows} \
             SELECT ?4 || i, ?2, ?2, ?3, 1000, 2000 FROM n"
        ),
        rusqlite::params![n, client_id, kid, tag],
    )
    .unwrap();
    conn.execute(
        &format!(
            "INSERT INTO audit (at, action, actor, jti, provisioning_key_id, outcome, detail) {rows} \
             SELECT 1000, 'token.issue', 'pk:' || ?2, ?3 || i, ?2, 'ok', 'scope=read exp=2000' FROM n"
        ),
        rusqlite::params![n, client_id, tag],
    )
    .unwrap();
    let newest: u64 = conn
        .query_row("SELECT max(id) FROM audit", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    issuer(db).acknowledge_audit(newest).unwrap();
}

fn count(db: &std::path::Path, table: &str) -> u64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Issue #18: does retention hold up issuance? The `bench` load on a store
/// holding a backlog of expired token rows and exported old audit rows,
/// alternately with no pruning during the run and while the server prunes
/// the backlog (batches of 1,000 rows per table, every second); the backlog
/// is topped up to the same size before each run. p50/p99 side by side.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with pkg-scripts/bench-server"]
async fn bench_retention() {
    let clients = bench_env("JWT_EDGE_BENCH_CLIENTS", 64) as usize;
    let secs = bench_env("JWT_EDGE_BENCH_SECS", 10);
    let backlog = bench_env("JWT_EDGE_BENCH_BACKLOG", 300_000);
    let dir = temp_dir("server-bench-retention");
    let db = init_store(&dir, &settings());
    let (id, full) = provision(&db, "bench");
    for (round, pruning) in [false, true, false, true].into_iter().enumerate() {
        // Top the backlog up to the same size (the pruning runs removed it).
        let held = count(&db, "tokens") + count(&db, "audit");
        let missing = backlog.saturating_sub(held) / 2;
        if missing > 0 {
            add_backlog(&db, &id, missing, &format!("backlog{round}-"));
        }
        let before = count(&db, "tokens") + count(&db, "audit");
        let mut cfg = config(&db);
        cfg.upkeep.audit_retention = 86_400;
        cfg.upkeep.prune_batch = 1_000;
        cfg.prune_interval = if pruning {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(3_600)
        };
        let server = start(cfg).await;
        let mut r = load(
            server.addr,
            basic(&id, &full),
            clients,
            usize::MAX,
            Duration::from_secs(secs),
        )
        .await;
        server.stop().await;
        let after = count(&db, "tokens") + count(&db, "audit");
        let added = 2 * r.tokens.len() as u64;
        let deleted = (before + added).saturating_sub(after);
        let name = format!(
            "bench retention run {} ({}; {before} rows at the start, {deleted} deleted during the run)",
            round + 1,
            if pruning { "pruning" } else { "no pruning" }
        );
        report(&name, &mut r);
        assert_eq!(r.errors, 0);
        check_audited(&db, &r.tokens);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
