//! Issue #17 (part): signing keys in a PKCS#11 token, tested with SoftHSM2
//! (Debian's `softhsm2`, installed by pkg-scripts/setup) on a token in a
//! temporary directory (`SOFTHSM2_CONF`):
//! - `init --key-store pkcs11` for ES256, RS256, PS256 and EdDSA (SoftHSM2
//!   offers `CKM_EDDSA`); an algorithm the issuer does not sign with refused;
//! - issuance through the CLI verified by `jwt_edge::verify` and by jose
//!   against the published JWKS;
//! - the private keys' attributes read back through PKCS#11: sensitive, not
//!   extractable, token objects; `keys export` refused;
//! - a simulated year of rotation: destroyed keys' objects leave the token,
//!   `keys check` finds store and token in agreement, and reports an orphan
//!   object and a missing one;
//! - the PIN never appears in the database, the audit log or any output;
//! - `jwt-edge serve` signing through the token;
//! - issue #30: ML-DSA-44/65/87 keys in a PKCS#11 3.2 token that offers
//!   `CKM_ML_DSA` (kryoptic, tests/pkcs11-token, `KRYOPTIC_CONF`), and
//!   SoftHSM2's refusal naming the mechanism.

#![cfg(not(target_arch = "wasm32"))]
// The issuer suites run against every store and key custody (JWT_EDGE_TEST_STORE,
// JWT_EDGE_TEST_KEY_STORE), so they need every native feature (pkg-scripts/test: $ALL).
#![cfg(all(
    feature = "cli",
    feature = "server",
    feature = "postgres",
    feature = "pkcs11"
))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use jwt_edge::issuer::custody::hsm::{self, Hsm, Pkcs11Config};
use jwt_edge::{KeySet, Policy};
use serde_json::Value;
use zeroize::Zeroizing;

const BIN: &str = env!("CARGO_BIN_EXE_jwt-edge");
const ISS: &str = "https://issuer.test";
const T0: u64 = 1_700_000_000;
const PIN: &str = "pin-4a7c9e1b";
const DAY: u64 = 86_400;
/// A rotation policy short enough to see several keys come and go.
const MONTHLY: [&str; 6] = [
    "--rotate-every",
    "30d",
    "--pre-publish",
    "1d",
    "--retain",
    "7d",
];

static COUNTER: AtomicUsize = AtomicUsize::new(0);
/// One PKCS#11 module per process: tokens opened in this process, one at a time.
static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
static CONF: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// One SoftHSM2 configuration (and token directory) for this test process:
/// SoftHSM reads `SOFTHSM2_CONF` once, at `C_Initialize`; each test makes its
/// own token in it.
fn softhsm_conf() -> &'static PathBuf {
    CONF.get_or_init(|| {
        let dir = server_util::temp_dir("softhsm");
        std::fs::create_dir_all(dir.join("tokens")).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.join("tokens").display()
            ),
        )
        .unwrap();
        // Before any thread of this process opens the module.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        conf
    })
}

static KRYOPTIC: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
static KRYOPTIC_SLOTS: AtomicUsize = AtomicUsize::new(1);
/// Slots in the kryoptic configuration (a token per slot, one per test use).
const KRYOPTIC_SLOT_COUNT: usize = 8;

/// The PKCS#11 3.2 token with CKM_ML_DSA (tests/pkcs11-token: kryoptic over
/// OpenSSL 3.5), built by `pkg-scripts/build-test-token` (which
/// pkg-scripts/test runs first and whose path it passes in
/// `JWT_EDGE_TEST_ML_DSA_MODULE`).
fn kryoptic_module() -> String {
    let path = std::env::var("JWT_EDGE_TEST_ML_DSA_MODULE").unwrap_or_else(|_| {
        format!(
            "{}/target/test-token/cargo/release/libjwt_edge_test_token.so",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    assert!(
        Path::new(&path).exists(),
        "no ML-DSA PKCS#11 test token at {path}: run pkg-scripts/build-test-token"
    );
    path
}

/// One kryoptic configuration for this test process (read at
/// `C_Initialize`, like SoftHSM's): slots 1..=8, each with its own sqlite
/// file; each `Token::kryoptic` initialises the next slot's token.
fn kryoptic_conf() -> &'static PathBuf {
    KRYOPTIC.get_or_init(|| {
        let dir = server_util::temp_dir("kryoptic");
        let conf = dir.join("kryoptic.conf");
        let slots: String = (1..=KRYOPTIC_SLOT_COUNT)
            .map(|n| {
                format!(
                    "[[slots]]\nslot = {n}\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n\n",
                    dir.join(format!("token-{n}.sql")).display()
                )
            })
            .collect();
        std::fs::write(&conf, slots).unwrap();
        std::env::set_var("KRYOPTIC_CONF", &conf);
        conf
    })
}

/// A PKCS#11 module under test, and the variable that names its configuration.
#[derive(Clone, Copy, PartialEq)]
enum Module {
    /// SoftHSM2 2.6 (Debian): ECDSA, RSA, EdDSA; no ML-DSA.
    SoftHsm,
    /// kryoptic: PKCS#11 3.2 with CKM_ML_DSA.
    Kryoptic,
}

impl Module {
    fn path(self) -> String {
        match self {
            Self::SoftHsm => server_util::softhsm_module(),
            Self::Kryoptic => kryoptic_module(),
        }
    }

    fn conf(self) -> (&'static str, &'static PathBuf) {
        match self {
            Self::SoftHsm => ("SOFTHSM2_CONF", softhsm_conf()),
            Self::Kryoptic => ("KRYOPTIC_CONF", kryoptic_conf()),
        }
    }
}

/// A token in a temporary directory, a store beside it, the PIN in a file.
struct Token {
    dir: PathBuf,
    label: String,
    module: Module,
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Token {
    fn new() -> Self {
        let dir = server_util::temp_dir("hsm");
        let conf = softhsm_conf();
        std::fs::write(dir.join("pin"), format!("{PIN}\n")).unwrap();
        let label = format!("jwt-edge-{}", COUNTER.fetch_add(1, Ordering::SeqCst));
        server_util::init_softhsm_token(&label, PIN, Some(conf));
        Self {
            dir,
            label,
            module: Module::SoftHsm,
        }
    }

    /// A kryoptic token (PKCS#11 3.2, CKM_ML_DSA) in the next free slot,
    /// initialised through PKCS#11 (`C_InitToken`, `C_InitPIN`).
    fn kryoptic() -> Self {
        use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
        use cryptoki::session::UserType;
        use cryptoki::types::AuthPin;
        let _turn = IN_PROCESS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kryoptic_conf();
        let n = KRYOPTIC_SLOTS.fetch_add(1, Ordering::SeqCst);
        assert!(n <= KRYOPTIC_SLOT_COUNT, "more kryoptic tokens than slots");
        let dir = server_util::temp_dir("hsm-pq");
        std::fs::write(dir.join("pin"), format!("{PIN}\n")).unwrap();
        let label = format!("jwt-edge-pq-{n}");
        let ctx = Pkcs11::new(kryoptic_module()).unwrap();
        // Initialised already when an `Hsm` of this process opened it (the
        // module stays initialised for the process).
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::CryptokiAlreadyInitialized,
                _,
            )) => {}
            Err(e) => panic!("kryoptic C_Initialize: {e}"),
        }
        let slot = ctx
            .get_all_slots()
            .unwrap()
            .into_iter()
            .find(|s| s.id() == n as u64)
            .unwrap_or_else(|| panic!("kryoptic has no slot {n}"));
        let so = AuthPin::new("so-pin-1".into());
        ctx.init_token(slot, &so, &label).unwrap();
        let session = ctx.open_rw_session(slot).unwrap();
        session.login(UserType::So, Some(&so)).unwrap();
        session.init_pin(&AuthPin::new(PIN.into())).unwrap();
        drop(session);
        Self {
            dir,
            label,
            module: Module::Kryoptic,
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.join("issuer.db")
    }

    fn config(&self) -> Pkcs11Config {
        Pkcs11Config {
            module: self.module.path(),
            token: self.label.clone(),
        }
    }

    /// The token opened in this process (one at a time: hold the guard
    /// while the `Hsm` lives).
    fn open(&self) -> (std::sync::MutexGuard<'static, ()>, Hsm) {
        let guard = IN_PROCESS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.module.conf();
        let h = Hsm::open(&self.config(), Zeroizing::new(PIN.to_owned())).unwrap();
        (guard, h)
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let (conf_var, conf) = self.module.conf();
        let mut c = Command::new(BIN);
        c.args(args)
            .arg("--db")
            .arg(self.db())
            .arg("--pkcs11-pin-file")
            .arg(self.dir.join("pin"))
            .env(conf_var, conf)
            .env_remove("JWT_EDGE_PASSPHRASE")
            .env_remove("JWT_EDGE_PKCS11_PIN")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(PIN),
                "the PIN appeared in the output of {args:?}"
            );
        }
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn init(&self, alg: &str, extra: &[&str]) -> Output {
        let now = T0.to_string();
        let module = self.module.path();
        let mut args = vec![
            "init",
            "--issuer",
            ISS,
            "--alg",
            alg,
            "--key-store",
            "pkcs11",
            "--pkcs11-module",
            &module,
            "--pkcs11-token",
            &self.label,
            "--now",
            &now,
        ];
        args.extend_from_slice(extra);
        self.run(&args, None)
    }

    /// `init` that must succeed.
    fn init_ok(&self, alg: &str, extra: &[&str]) {
        let out = self.init(alg, extra);
        assert!(
            out.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn provision(&self, now: u64) -> String {
        self.ok(&[
            "provision",
            "create",
            "--name",
            "svc",
            "--scope",
            "read",
            "--aud",
            "https://api.test",
            "--ttl",
            "400d",
            "--now",
            &now.to_string(),
        ])
        .trim()
        .to_owned()
    }

    fn issue(&self, key: &str, now: u64) -> String {
        let out = self.run(
            &[
                "issue",
                "--provisioning-key",
                "-",
                "--now",
                &now.to_string(),
            ],
            Some(key),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn verify(&self, token: &str, now: u64) -> Value {
        let jwks = self.ok(&["jwks"]);
        let keys = KeySet::from_jwks(jwks.as_bytes()).unwrap();
        let v = jwt_edge::verify(
            token,
            &keys,
            &Policy::new().issuer(ISS).audience("https://api.test"),
            now,
        )
        .unwrap_or_else(|e| panic!("{}: {}", e.code(), e.message()));
        Value::Object(v.claims)
    }

    /// `token` was signed by the active key, which lives in the token:
    /// header `alg` and `kid`, custody, the private object's attributes read
    /// back through PKCS#11 (sensitive, not extractable, a token object), no
    /// export, no PIN in the store or the audit log, and `keys check` finds
    /// store and token in agreement.
    fn assert_signed_in_the_token(&self, token: &str, alg: &str) {
        let header = jwt_edge::inspect(token, None).unwrap().header;
        assert_eq!(header["alg"], alg);
        let keys = self.keys();
        let active = keys
            .iter()
            .find(|k| k["state"] == "active" && k["alg"] == alg)
            .unwrap();
        assert_eq!(active["custody"], "pkcs11");
        assert_eq!(active["kid"], header["kid"]);
        // The private key, read back through PKCS#11.
        let id = hsm::id_from_hex(active["pkcs11_id"].as_str().unwrap()).unwrap();
        let (guard, mut h) = self.open();
        let (sensitive, extractable, on_token) = h.private_key_attributes(&id).unwrap();
        assert!(
            sensitive && !extractable && on_token,
            "{alg}: {sensitive} {extractable} {on_token}"
        );
        drop(h);
        drop(guard);
        // Nothing to export.
        let kid = active["kid"].as_str().unwrap();
        let out = self.run(&["keys", "export", kid], None);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be exported"));
        // The store holds no private key material and no PIN.
        let audit = self.ok(&["audit", "--json"]);
        assert!(!audit.contains(PIN));
        assert!(files_contain(&self.dir, PIN.as_bytes()).is_empty());
        self.assert_store_and_token_agree();
    }

    /// `keys check`: every key's object is in the token, and no other.
    fn assert_store_and_token_agree(&self) {
        let check = self.run(&["keys", "check"], None);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }

    fn keys(&self) -> Vec<Value> {
        let out = self.ok(&["keys", "list", "--json"]);
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

/// jose (npm, the project's lockfile) verifies `token` with `jwks`, on Node 20.
fn jose_verifies(jwks: &str, token: &str, now: u64) {
    jose_verifies_on("node", jwks, token, now);
}

/// jose verifies `token` with `jwks` on the Node binary `node` (Node 24, from
/// the npm registry like the other dev dependencies, has ML-DSA in WebCrypto).
fn jose_verifies_on(node: &str, jwks: &str, token: &str, now: u64) {
    let script = r#"
import { createLocalJWKSet, jwtVerify } from "jose";
const [jwks, token, now] = process.argv.slice(1);
const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(JSON.parse(jwks)), {
  issuer: "https://issuer.test", audience: "https://api.test", currentDate: new Date(Number(now) * 1000),
});
console.log(protectedHeader.alg, payload.iss);
"#;
    let out = Command::new(node)
        .args([
            "--input-type=module",
            "-e",
            script,
            jwks,
            token,
            &now.to_string(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "jose refused a token signed in the token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The bytes of every file under `dir` contain `needle`?
fn files_contain(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            hits.extend(files_contain(&p, needle));
        } else if p.file_name().is_some_and(|n| n != "pin") {
            let bytes = std::fs::read(&p).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(p);
            }
        }
    }
    hits
}

#[test]
fn keys_live_in_the_token_sign_there_and_never_leave_it() {
    for alg in ["ES256", "RS256", "PS256", "EdDSA"] {
        let t = Token::new();
        let out = t.init(alg, &["--kdf-iterations", "1000"]);
        assert!(
            out.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = t.provision(T0);
        let token = t.issue(&key, T0 + 10);
        let claims = t.verify(&token, T0 + 20);
        assert_eq!(claims["iss"], ISS);
        jose_verifies(&t.ok(&["jwks"]), &token, T0 + 20);
        t.assert_signed_in_the_token(&token, alg);
    }
    // An algorithm the issuer does not sign with is refused at init, clearly.
    let t = Token::new();
    let out = t.init("ES384", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ES384") && err.contains("EdDSA"), "{err}");
    // ML-DSA (issue #30): SoftHSM2 offers no PKCS#11 3.2 CKM_ML_DSA; the
    // refusal names the mechanism, and nothing is initialised.
    for alg in ["ML-DSA-44", "ML-DSA-65", "ML-DSA-87"] {
        let t = Token::new();
        let out = t.init(alg, &[]);
        assert_eq!(out.status.code(), Some(2), "{alg}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("CKM_ML_DSA") && err.contains(alg),
            "{alg}: {err}"
        );
    }
    // A wrong PIN is an error that does not echo it.
    let t = Token::new();
    std::fs::write(t.dir.join("pin"), "wrong-pin\n").unwrap();
    let out = t.init("ES256", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot log in") && !err.contains("wrong-pin"),
        "{err}"
    );
}

/// Issue #30: ML-DSA keys in a PKCS#11 3.2 token that offers CKM_ML_DSA
/// (kryoptic): generated there (`CKM_ML_DSA_KEY_PAIR_GEN` with
/// `CKA_PARAMETER_SET`), sensitive and not extractable, signing there
/// (`CKM_ML_DSA`, pure, empty context); the public key read back as an `AKP`
/// JWK. Tokens verified by the core and by jose on Node 24; a rotation
/// destroys the old objects; and an ES256 + ML-DSA-65 issuer keeps both
/// rings in the one token.
#[test]
fn ml_dsa_keys_live_in_a_pkcs11_3_2_token() {
    let node24 = format!(
        "{}/node_modules/node24/bin/node",
        env!("CARGO_MANIFEST_DIR")
    );
    for (alg, len) in [
        ("ML-DSA-44", 1312),
        ("ML-DSA-65", 1952),
        ("ML-DSA-87", 2592),
    ] {
        let t = Token::kryoptic();
        t.init_ok(alg, &[&["--kdf-iterations", "1000"][..], &MONTHLY].concat());
        let key = t.provision(T0);
        let token = t.issue(&key, T0 + 10);
        assert_eq!(t.verify(&token, T0 + 20)["iss"], ISS);
        let jwks = t.ok(&["jwks"]);
        jose_verifies_on(&node24, &jwks, &token, T0 + 20);
        t.assert_signed_in_the_token(&token, alg);
        let published: Value = serde_json::from_str(&jwks).unwrap();
        let jwk = &published["keys"][0];
        assert_eq!(
            (jwk["kty"].as_str(), jwk["alg"].as_str()),
            (Some("AKP"), Some(alg))
        );
        // The raw pkEncode of the set, base64url without padding.
        assert_eq!(
            jwk["pub"].as_str().unwrap().len(),
            (len * 4usize).div_ceil(3)
        );
        // A rotation: the next keys are generated in the token too; the
        // destroyed ones' objects leave it.
        let mut kids = std::collections::BTreeSet::new();
        for day in (0..100).step_by(5) {
            let now = T0 + day * DAY + 60;
            t.ok(&["keys", "rotate", "--now", &now.to_string()]);
            let token = t.issue(&key, now + 1);
            t.verify(&token, now + 2);
            kids.insert(jwt_edge::inspect(&token, None).unwrap().header["kid"].to_string());
        }
        assert!(kids.len() >= 3, "{alg}: {} signing keys used", kids.len());
        let keys = t.keys();
        assert!(
            keys.iter().any(|k| k["state"] == "destroyed"),
            "{alg}: {keys:?}"
        );
        let (guard, mut h) = t.open();
        let objects = h.private_key_ids().unwrap();
        drop(h);
        drop(guard);
        assert_eq!(
            objects.len(),
            keys.iter().filter(|k| !k["pkcs11_id"].is_null()).count()
        );
        t.assert_store_and_token_agree();
        assert!(files_contain(&t.dir, PIN.as_bytes()).is_empty());
    }
    // A migration in one token: ES256 and ML-DSA-65 rings, a client each.
    let t = Token::kryoptic();
    let out = t.init(
        "ES256",
        &["--kdf-iterations", "1000", "--also-alg", "ML-DSA-65"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let classic = t.provision(T0);
    let pq = t
        .ok(&[
            "provision",
            "create",
            "--name",
            "pq",
            "--scope",
            "read",
            "--aud",
            "https://api.test",
            "--alg",
            "ML-DSA-65",
            "--now",
            &T0.to_string(),
        ])
        .trim()
        .to_owned();
    for (key, alg) in [(&classic, "ES256"), (&pq, "ML-DSA-65")] {
        let token = t.issue(key, T0 + 10);
        t.verify(&token, T0 + 20);
        t.assert_signed_in_the_token(&token, alg);
    }
}

#[test]
fn a_simulated_year_of_rotation_keeps_store_and_token_in_agreement() {
    let t = Token::new();
    t.init_ok("ES256", &MONTHLY);
    let key = t.provision(T0);
    let mut kids = std::collections::BTreeSet::new();
    for day in (0..365).step_by(3) {
        let now = T0 + day * DAY + 60;
        t.ok(&["keys", "rotate", "--now", &now.to_string()]);
        if day % 30 == 0 {
            let token = t.issue(&key, now + 1);
            t.verify(&token, now + 2);
            kids.insert(jwt_edge::inspect(&token, None).unwrap().header["kid"].to_string());
        }
    }
    assert!(kids.len() >= 10, "{} signing keys used", kids.len());
    let keys = t.keys();
    let destroyed = keys.iter().filter(|k| k["state"] == "destroyed").count();
    assert!(destroyed >= 8, "{destroyed} keys destroyed");
    // Exactly the keys that still have a private key have an object.
    let (guard, mut h) = t.open();
    let objects = h.private_key_ids().unwrap();
    let alive: Vec<Vec<u8>> = keys
        .iter()
        .filter_map(|k| k["pkcs11_id"].as_str())
        .map(|h| hsm::id_from_hex(h).unwrap())
        .collect();
    assert_eq!(objects.len(), alive.len());
    assert!(alive.iter().all(|id| objects.contains(id)));
    assert!(keys
        .iter()
        .filter(|k| k["state"] == "destroyed")
        .all(|k| k["pkcs11_id"].is_null()));
    let check = t.run(&["keys", "check", "--json"], None);
    assert_eq!(check.status.code(), Some(0));
    // An object nobody refers to (a rotation whose store transaction failed
    // after C_GenerateKeyPair), and a key whose object is gone.
    let (_, orphan) = h.generate(jwt_edge::Algorithm::ES256).unwrap();
    let pending = keys.iter().find(|k| k["state"] == "active").unwrap();
    let gone = hsm::id_from_hex(pending["pkcs11_id"].as_str().unwrap()).unwrap();
    h.destroy(&gone).unwrap();
    drop(h);
    drop(guard);
    let check = t.run(&["keys", "check", "--json"], None);
    assert_eq!(check.status.code(), Some(1));
    let found: Vec<Value> = serde_json::from_slice(&check.stdout).unwrap();
    let kinds: Vec<&str> = found.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"orphan_object") && kinds.contains(&"missing_object"),
        "{found:?}"
    );
    assert!(found
        .iter()
        .any(|f| f["id"] == hsm::id_hex(&orphan).as_str()));
    assert!(found.iter().any(|f| f["kid"] == pending["kid"]));
    // Issuing with the active key's object gone is an error naming the kid.
    let out = t.run(
        &[
            "issue",
            "--provisioning-key",
            "-",
            "--now",
            &(T0 + 365 * DAY).to_string(),
        ],
        Some(&key),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(pending["kid"].as_str().unwrap()),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(files_contain(&t.dir, PIN.as_bytes()).is_empty());
}

mod server_util;

/// A token-backed store with one provisioning key, served in this process
/// (holding the process's PKCS#11 guard for the server's life).
struct TokenServer {
    t: Token,
    key: String,
    id: String,
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), jwt_edge::issuer::Error>>,
    guard: std::sync::MutexGuard<'static, ()>,
}

impl TokenServer {
    // The guard serialises this process's use of the module (one PKCS#11
    // context at a time) for the whole life of the server, awaits included.
    #[allow(clippy::await_holding_lock)]
    async fn start() -> Self {
        use jwt_edge::server::{Config, Server};
        let t = Token::new();
        let out = t.init("ES256", &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = t.provision(server_util::unix_now());
        let id = key.split('_').nth(1).unwrap().to_owned();
        let guard = IN_PROCESS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        softhsm_conf();
        let secrets = jwt_edge::issuer::Secrets::new(None, false)
            .with_pkcs11_pin(Some(Zeroizing::new(PIN.to_owned())));
        let mut cfg = Config::new(t.db(), secrets);
        cfg.refresh_interval = std::time::Duration::from_millis(200);
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), cfg)
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        Self {
            t,
            key,
            id,
            addr,
            stop,
            task,
            guard,
        }
    }

    fn form(&self) -> String {
        format!(
            "grant_type=client_credentials&{}",
            server_util::form_creds(&self.id, &self.key)
        )
    }

    async fn stop(self) -> Token {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        drop(self.guard);
        self.t
    }
}

/// `jwt-edge serve` signing through the token: concurrent clients, every
/// token verifies with the served JWKS; tokens/s printed (the bench-server
/// script runs the longer `bench_pkcs11` beside the local store's bench).
async fn serve_through_the_token(clients: usize, per_client: usize) -> (usize, f64) {
    let srv = TokenServer::start().await;
    let (addr, form) = (srv.addr, srv.form());
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let form = form.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = server_util::Client::new(addr);
            let mut tokens = Vec::new();
            for _ in 0..per_client {
                let r = c.token(&form, &[]).await;
                assert_eq!(r.status, 200, "{}", r.text());
                tokens.push(r.json()["access_token"].as_str().unwrap().to_owned());
            }
            tokens
        }));
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.extend(task.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    let jwks = server_util::Client::new(addr)
        .get("/.well-known/jwks.json")
        .await
        .text();
    let keys = KeySet::from_jwks(jwks.as_bytes()).unwrap();
    let now = server_util::unix_now();
    for token in &tokens {
        jwt_edge::verify(token, &keys, &Policy::new().issuer(ISS), now)
            .unwrap_or_else(|e| panic!("{}: {}", e.code(), e.message()));
    }
    let t = srv.stop().await;
    assert!(files_contain(&t.dir, PIN.as_bytes()).is_empty());
    (tokens.len(), tokens.len() as f64 / secs)
}

/// The server keeps signing when its login is lost (here: the process
/// logged out of the token, as a token reinsertion or an HSM restart would
/// do): it opens a new session, logs in again, and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_logs_in_again_when_the_login_is_lost() {
    let srv = TokenServer::start().await;
    let (addr, form) = (srv.addr, srv.form());
    let mut c = server_util::Client::new(addr);
    assert_eq!(c.token(&form, &[]).await.status, 200);
    // Log the process out of the token from another session.
    let mut other = Hsm::open(&srv.t.config(), Zeroizing::new(PIN.to_owned())).unwrap();
    other.logout().unwrap();
    drop(other);
    for _ in 0..3 {
        let r = c.token(&form, &[]).await;
        assert_eq!(r.status, 200, "after the logout: {}", r.text());
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_signs_through_the_token() {
    let (n, rate) = serve_through_the_token(8, 25).await;
    assert_eq!(n, 200);
    eprintln!(
        "serve with --key-store pkcs11 (SoftHSM2, debug build): {n} tokens, {rate:.0} tokens/s"
    );
}

/// The bench: 64 clients for a fixed count against a server whose key is in
/// SoftHSM2 (run by pkg-scripts/bench-server beside the local store's bench).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with pkg-scripts/bench-server"]
async fn bench_pkcs11() {
    let (n, rate) = serve_through_the_token(64, 150).await;
    println!("bench pkcs11 (SoftHSM2, 64 clients): {n} tokens = {rate:.0} tokens/s, every issuance durably audited");
}

/// kill -9 in the middle of rotations: afterwards the store and the token
/// agree on every key the store knows (no `missing_object`), there is one
/// active key, and what a killed rotation left in the token is reported as
/// an `orphan_object` by `keys check`.
#[test]
fn sigkill_during_rotation_leaves_no_key_without_its_object() {
    let t = Token::new();
    let out = t.init(
        "ES256",
        &[
            "--rotate-every",
            "2d",
            "--pre-publish",
            "1d",
            "--retain",
            "1d",
            "--grace",
            "1h",
            "--max-token-ttl",
            "1h",
            "--token-ttl",
            "15m",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SoftHSM2's file store rewrites token.object (PIN state) in place on
    // every login, and a SIGKILL in the middle of that write leaves the token
    // uninitialised: a property of SoftHSM, not of the issuer (an HSM keeps
    // that state in the device). So the test keeps a copy of this token's
    // token.object and puts it back when a kill destroyed it, and counts it.
    let tokens = softhsm_conf().parent().unwrap().join("tokens");
    let token_file = std::fs::read_dir(&tokens)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("token.object"))
        .find(|p| {
            std::fs::read(p)
                .unwrap_or_default()
                .windows(t.label.len())
                .any(|w| w == t.label.as_bytes())
        })
        .expect("this test's token.object");
    let saved = std::fs::read(&token_file).unwrap();
    let mut restored = 0;
    // How long one rotation run takes here (process start to exit).
    let started = std::time::Instant::now();
    t.ok(&["keys", "generate", "--now", &(T0 + 60).to_string()]);
    let run_ms = u64::try_from(started.elapsed().as_millis())
        .unwrap_or(100)
        .max(10);
    let mut killed = 0;
    for i in 1..25u64 {
        let now = (T0 + i * DAY + 60).to_string();
        // Alternately a rotation run (generate, activate, retire, destroy as
        // due) and an explicit key generation in the token.
        let command = if i % 2 == 0 { "rotate" } else { "generate" };
        let mut child = Command::new(BIN)
            .args(["keys", command, "--now", &now, "--db"])
            .arg(t.db())
            .arg("--pkcs11-pin-file")
            .arg(t.dir.join("pin"))
            .env("SOFTHSM2_CONF", softhsm_conf())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Spread over 0.2..1.2 runs: during start-up and login, the key
        // generation in the token, the store's commit, or after.
        let delay = run_ms / 5 + (i * 7919) % run_ms;
        std::thread::sleep(std::time::Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        let _ = child.wait();
        // Gone or cut short by the kill (a complete rewrite keeps its size).
        let intact = std::fs::read(&token_file).is_ok_and(|b| b.len() == saved.len());
        if !intact {
            std::fs::write(&token_file, &saved).unwrap();
            restored += 1;
        }
    }
    // The timer's next run completes whatever was interrupted.
    t.ok(&["keys", "rotate", "--now", &(T0 + 24 * DAY + 60).to_string()]);
    let keys = t.keys();
    assert_eq!(keys.iter().filter(|k| k["state"] == "active").count(), 1);
    let check = t.run(&["keys", "check", "--json"], None);
    let found: Vec<Value> = serde_json::from_slice(&check.stdout).unwrap_or_default();
    assert!(
        found.iter().all(|f| f["kind"] == "orphan_object"),
        "a key of the store lost its object: {found:?}"
    );
    eprintln!(
        "sigkill during rotation: {killed} of 24 runs killed (a run takes {run_ms} ms); SoftHSM's token.object restored {restored} times; {} orphan objects reported; {} keys",
        found.len(),
        keys.len()
    );
    let key = t.provision(T0 + 24 * DAY + 61);
    let token = t.issue(&key, T0 + 24 * DAY + 62);
    t.verify(&token, T0 + 24 * DAY + 63);
}
