//! Third-party OAuth 2.0 and JOSE client libraries against `jwt-edge serve`
//! (issue #15): the built binary serves a store made with the CLI on loopback,
//! then
//! - `tests/interop/clients.py` (venv `target/pyenv`, pinned in
//!   `tests/interop/requirements.txt`): authlib (client credentials with both
//!   auth methods, RFC 7009 revocation, RFC 7662 introspection, RFC 8707
//!   resource indicators), PyJWT (remote JWKS), and PyJWT, joserfc and
//!   jwcrypto verifying the signed revocation list with default settings;
//! - `tests/interop/clients_node.mjs` (packages from package-lock.json):
//!   oauth4webapi and openid-client (discovery, both auth methods, a wrong
//!   secret, revocation, introspection) and jose (remote JWKS).
//!
//! Each script prints one JSON line per check; every expected check must be
//! present and pass. Without the venv or the npm packages the test fails
//! under CI (run `pkg-scripts/setup`) and is skipped locally with a message.
#![cfg(not(target_arch = "wasm32"))]
// The issuer suites run against every store and key custody (JWT_EDGE_TEST_STORE,
// JWT_EDGE_TEST_KEY_STORE), so they need every native feature (pkg-scripts/test: $ALL).
#![cfg(all(
    feature = "cli",
    feature = "server",
    feature = "postgres",
    feature = "pkcs11"
))]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod server_util;

const BIN: &str = env!("CARGO_BIN_EXE_jwt-edge");
/// The audiences of the client's provisioning key; a token for `AUD_B` alone
/// is asked with RFC 8707 `resource`, and `BAD_AUD` must be refused.
const AUD: &str = "https://api.test";
const AUD_B: &str = "https://b.test";
const BAD_AUD: &str = "https://other.test";
/// Longest run of one client script (each request has its own 10 s limit).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Every check `clients.py` must report as passed.
const PYTHON_CHECKS: &[(&str, &str)] = &[
    ("authlib", "metadata"),
    ("authlib", "metadata_revocation_introspection"),
    ("authlib", "token_client_secret_basic"),
    ("authlib", "token_client_secret_post"),
    ("authlib", "token_wrong_secret"),
    ("pyjwt", "verify_token"),
    ("authlib", "introspect_active"),
    ("authlib", "revoke"),
    ("authlib", "introspect_revoked"),
    ("authlib", "introspect_garbage"),
    ("authlib", "resource"),
    ("authlib", "resource_invalid_target"),
    ("pyjwt", "revocation_list"),
    ("joserfc", "revocation_list"),
    ("jwcrypto", "revocation_list"),
    ("pyjwt", "revocation_list_rfc7009"),
    ("authlib", "token_private_key_jwt_es256"),
    ("authlib", "token_private_key_jwt_eddsa"),
    ("authlib", "token_private_key_jwt_ps256"),
    ("authlib", "token_private_key_jwt_wrong_key"),
    ("authlib", "token_private_key_jwt_jwks_uri"),
    ("authlib", "token_private_key_jwt_client_rotation"),
];

/// Every check `clients_node.mjs` must report as passed.
const NODE_CHECKS: &[(&str, &str)] = &[
    ("oauth4webapi", "discovery"),
    ("oauth4webapi", "token_client_secret_basic"),
    ("oauth4webapi", "token_client_secret_post"),
    ("oauth4webapi", "token_wrong_secret"),
    ("oauth4webapi", "introspect_active"),
    ("oauth4webapi", "revoke"),
    ("oauth4webapi", "introspect_revoked"),
    ("openid-client", "discovery"),
    ("openid-client", "token_client_secret_post"),
    ("openid-client", "token_client_secret_basic"),
    ("openid-client", "token_wrong_secret"),
    ("openid-client", "introspect_active"),
    ("openid-client", "revoke"),
    ("openid-client", "introspect_revoked"),
    ("jose", "verify_token"),
    ("oauth4webapi", "token_private_key_jwt_es256"),
    ("oauth4webapi", "token_private_key_jwt_eddsa"),
    ("oauth4webapi", "token_private_key_jwt_ps256"),
    ("oauth4webapi", "token_private_key_jwt_wrong_key"),
    ("openid-client", "token_private_key_jwt_es256"),
    ("openid-client", "token_private_key_jwt_eddsa"),
    ("openid-client", "token_private_key_jwt_ps256"),
    ("oauth4webapi", "token_private_key_jwt_jwks_uri"),
    ("openid-client", "token_private_key_jwt_jwks_uri"),
];

/// Reported but not required: authlib's full RFC 8414 validation, which
/// takes an empty `response_types_supported` (a server without an
/// authorization endpoint) for a missing one.
const ADVISORY_CHECKS: &[(&str, &str)] = &[("authlib", "metadata_validate")];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `true` when `what` is present; else a failure under CI, a skip locally.
fn available(present: bool, what: &str) -> bool {
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} missing: run pkg-scripts/setup"
        );
        eprintln!("skipped: {what} missing (run pkg-scripts/setup)");
    }
    present
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        Self(server_util::temp_dir("clients"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the CLI on the store `db` (keys unencrypted: a throwaway test store).
fn cli(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("--insecure-dev-keys")
        .env("JWT_EDGE_PKCS11_PIN", server_util::PIN)
        .env_remove("JWT_EDGE_DB")
        .env_remove("JWT_EDGE_PASSPHRASE")
        .env_remove("JWT_EDGE_PROVISIONING_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut sin = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            sin.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn cli_json(db: &Path, args: &[&str], stdin: Option<&str>) -> Value {
    let out = cli(db, args, stdin);
    assert!(
        out.status.success(),
        "jwt-edge {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A store for issuer `base` with a client key (both audiences), an
/// introspecting key, and one token revoked through the CLI.
struct Store {
    db: PathBuf,
    client_key: String,
    introspect_key: String,
    revoked_jti: String,
    /// The private_key_jwt clients: one with an inline JWKS, one with a jwks_uri.
    jwt_client: String,
    uri_client: String,
    /// Setup problems that are reported with the failed checks.
    problems: Vec<String>,
}

fn make_store(dir: &Path, base: &str, keys: &Path, jwks_uri: &str) -> Store {
    let db = server_util::new_store_location(dir);
    if server_util::pkcs11() {
        // The PKCS#11 run: this store's keys in a SoftHSM2 token of its own.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let label = format!("clients-{}-{n}", std::process::id());
        server_util::init_softhsm_token(&label, server_util::PIN, None);
        let module = server_util::softhsm_module();
        cli_json(
            &db,
            &[
                "init",
                "--issuer",
                base,
                "--json",
                "--key-store",
                "pkcs11",
                "--pkcs11-module",
                &module,
                "--pkcs11-token",
                &label,
            ],
            None,
        );
    } else {
        cli_json(&db, &["init", "--issuer", base, "--json"], None);
    }
    let client = cli_json(
        &db,
        &[
            "provision",
            "create",
            "--name",
            "client",
            "--scope",
            "read write",
            "--aud",
            AUD,
            "--aud",
            AUD_B,
            "--json",
        ],
        None,
    );
    let mut problems = Vec::new();
    let intro_args = [
        "provision",
        "create",
        "--name",
        "introspector",
        "--scope",
        "read",
        "--aud",
        AUD,
        "--json",
    ];
    let with_permission = [&intro_args[..], &["--permission", "introspect"]].concat();
    let out = cli(&db, &with_permission, None);
    let introspector = if out.status.success() {
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    } else {
        problems.push(format!(
            "`provision create --permission introspect` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        cli_json(&db, &intro_args, None)
    };
    let client_key = client["key"].as_str().unwrap().to_owned();
    let issued = cli_json(
        &db,
        &["issue", "--provisioning-key", "-", "--json"],
        Some(&client_key),
    );
    let revoked_jti = issued["claims"]["jti"].as_str().unwrap().to_owned();
    cli_json(
        &db,
        &["revoke", "token", &format!("--jti={revoked_jti}"), "--json"],
        None,
    );
    // private_key_jwt clients: registered by their public keys only.
    let jwks = keys.join("jwks.json");
    let key_client = |name: &str, how: &[&str]| {
        let args = [
            &[
                "provision",
                "create",
                "--name",
                name,
                "--scope",
                "read write",
                "--aud",
                AUD,
                "--json",
            ][..],
            how,
        ]
        .concat();
        let c = cli_json(&db, &args, None);
        assert_eq!(c["token_endpoint_auth_method"], "private_key_jwt", "{c}");
        assert!(c.get("key").is_none(), "no secret for a key client: {c}");
        c["id"].as_str().unwrap().to_owned()
    };
    let jwt_client = key_client("jwt-client", &["--jwks", jwks.to_str().unwrap()]);
    let uri_client = key_client("uri-client", &["--jwks-uri", jwks_uri]);
    Store {
        db,
        client_key,
        introspect_key: introspector["key"].as_str().unwrap().to_owned(),
        revoked_jti,
        jwt_client,
        uri_client,
        problems,
    }
}

/// `jwt-edge serve` on loopback; killed on drop.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the server on `addr`; `None` if it exits or is silent for 30 s.
    fn start(db: &Path, addr: &str, log: PathBuf) -> Option<Self> {
        let mut child = Command::new(BIN)
            .args(["serve", "--insecure-dev-keys", "--refresh-interval", "1s"])
            // The jwks_uri client's keys are served on loopback over http;
            // authlib's assertions name the token endpoint as audience.
            .args([
                "--allow-private-jwks-uri",
                "--accept-token-endpoint-audience",
            ])
            .arg("--db")
            .arg(db)
            .args(["--addr", addr])
            .env("JWT_EDGE_PKCS11_PIN", server_util::PIN)
            .env_remove("JWT_EDGE_DB")
            .env_remove("JWT_EDGE_PASSPHRASE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        // The first stdout line is {"listening": ADDR}; the thread drains the rest.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let server = Self { child, log };
        let line = rx.recv_timeout(Duration::from_secs(30)).ok()?;
        let listening: Value = serde_json::from_str(&line).ok()?;
        assert_eq!(listening["listening"], addr, "{line}");
        Some(server)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// A loopback HTTP server for the jwks_uri client: each GET answers the
/// file's current content (max-age 60 s). Serves a bounded number of
/// requests and stops when dropped.
struct FileServer {
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FileServer {
    fn start(file: PathBuf) -> Self {
        use std::io::Read as _;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut served = 0;
            while served < 100
                && started.elapsed() < SCRIPT_TIMEOUT * 3
                && !stopped.load(std::sync::atomic::Ordering::Relaxed)
            {
                let Ok((mut s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                served += 1;
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let body = std::fs::read(&file).unwrap_or_default();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=60\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            }
        });
        Self { addr, stop }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A free loopback port: the issuer URL names it, so it is chosen before
/// the store is made (discovery requires metadata `issuer` == the URL used).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a client script (bounded), returning its JSON lines and any failures
/// of the script itself.
fn run_script(mut cmd: Command, dir: &Path, name: &str) -> (Vec<Value>, Vec<String>) {
    let out_path = dir.join(format!("{name}.out"));
    let err_path = dir.join(format!("{name}.err"));
    let mut child = cmd
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    eprintln!(
        "--- {name} ({:.1} s)\n{stdout}",
        start.elapsed().as_secs_f64()
    );
    let mut problems = Vec::new();
    match status {
        Some(s) if s.success() => {}
        Some(s) => problems.push(format!(
            "{name} exited with {s} (a package missing? run pkg-scripts/setup):\n{stderr}"
        )),
        None => problems.push(format!("{name} overran {SCRIPT_TIMEOUT:?}:\n{stderr}")),
    }
    let mut lines = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => lines.push(v),
            Err(e) => problems.push(format!("{name}: not a JSON line ({e}): {line}")),
        }
    }
    (lines, problems)
}

/// The failures among `lines`: an expected check missing or not passed, or
/// any other failed check that is not advisory.
fn failures(lines: &[Value], expected: &[(&str, &str)]) -> Vec<String> {
    let is = |l: &Value, (lib, check): (&str, &str)| l["lib"] == lib && l["check"] == check;
    let mut out = Vec::new();
    for &want in expected {
        match lines.iter().find(|l| is(l, want)) {
            None => out.push(format!("{}/{}: not reported", want.0, want.1)),
            Some(l) if l["ok"] != true => out.push(format!("{}/{}: {l}", want.0, want.1)),
            Some(_) => {}
        }
    }
    for l in lines.iter().filter(|l| l["ok"] != true) {
        let known = expected.iter().chain(ADVISORY_CHECKS).any(|&c| is(l, c));
        if !known {
            out.push(format!("unexpected failure: {l}"));
        }
    }
    for l in lines {
        if l["ok"] != true && ADVISORY_CHECKS.iter().any(|&c| is(l, c)) {
            eprintln!("advisory (not required): {l}");
        }
    }
    out
}

#[test]
fn python_and_node_clients_against_serve() {
    let python = root().join("target/pyenv/bin/python");
    let run_python = available(python.exists(), "the Python venv target/pyenv");
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let node_pkgs = ["oauth4webapi", "openid-client", "jose"]
        .iter()
        .all(|p| root().join("node_modules").join(p).exists());
    let run_node = available(
        node_ok && node_pkgs,
        "node or node_modules/{oauth4webapi,openid-client,jose}",
    );
    if !run_python && !run_node {
        return;
    }

    let dir = TempDir::new();
    // The private_key_jwt clients' key pairs (Python's cryptography), and
    // the jwks_uri client's set served from a file the client may change.
    let keys = dir.0.join("client-keys");
    let out = Command::new(&python)
        .arg("tests/interop/client_keys.py")
        .arg(&keys)
        .current_dir(root())
        .output()
        .expect("client_keys.py runs");
    assert!(
        out.status.success(),
        "client_keys.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uri_jwks = keys.join("uri-jwks.json");
    let jwks_server = FileServer::start(uri_jwks.clone());
    let jwks_uri = format!("http://{}/jwks.json", jwks_server.addr);
    // The port is picked before the server binds it: retry if it was taken.
    let mut started = None;
    for attempt in 0..3 {
        let sub = dir.0.join(format!("attempt-{attempt}"));
        std::fs::create_dir_all(&sub).unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let store = make_store(&sub, &format!("http://{addr}"), &keys, &jwks_uri);
        if let Some(server) = Server::start(&store.db, &addr, sub.join("server.log")) {
            started = Some((addr, store, server));
            break;
        }
    }
    let (addr, store, server) = started.expect("jwt-edge serve did not start in 3 attempts");
    let base = format!("http://{addr}");

    let mut problems = store.problems.clone();
    if run_python {
        let mut cmd = Command::new(&python);
        cmd.arg("tests/interop/clients.py")
            .arg(&base)
            .args(["--key", &store.client_key])
            .args(["--introspect-key", &store.introspect_key])
            // `=`: a jti may start with `-`.
            .arg(format!("--revoked-jti={}", store.revoked_jti))
            .args([
                "--jwt-client",
                &store.jwt_client,
                "--uri-client",
                &store.uri_client,
            ])
            .arg("--jwt-keys")
            .arg(&keys)
            .arg("--uri-jwks")
            .arg(&uri_jwks)
            .args([
                "--audience",
                AUD,
                "--resource",
                AUD_B,
                "--bad-resource",
                BAD_AUD,
            ]);
        let (lines, mut p) = run_script(cmd, &dir.0, "clients.py");
        problems.append(&mut p);
        problems.extend(failures(&lines, PYTHON_CHECKS));
    }
    if run_node {
        let mut cmd = Command::new("node");
        cmd.arg("tests/interop/clients_node.mjs")
            .arg(&base)
            .args(["--key", &store.client_key])
            .args(["--introspect-key", &store.introspect_key])
            .args(["--audience", AUD])
            .args([
                "--jwt-client",
                &store.jwt_client,
                "--uri-client",
                &store.uri_client,
            ])
            .arg("--jwt-keys")
            .arg(&keys);
        let (lines, mut p) = run_script(cmd, &dir.0, "clients_node.mjs");
        problems.append(&mut p);
        problems.extend(failures(&lines, NODE_CHECKS));
    }
    let log = server.log_tail();
    let log_path = server.log.clone();
    drop(server);
    // Neither secret is ever logged (the PKCS#11 run passes a PIN too).
    let whole_log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        !whole_log.contains(server_util::PIN),
        "the PIN appeared in the server log"
    );
    assert!(
        !whole_log.contains(&store.client_key),
        "a provisioning key appeared in the server log"
    );
    assert!(
        problems.is_empty(),
        "{} failed:\n{}\n--- server log (tail)\n{log}",
        problems.len(),
        problems.join("\n")
    );
}
