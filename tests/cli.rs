//! End-to-end tests of the `jwt-edge` binary's `verify` and `inspect`
//! commands: each test runs the built executable and checks its exit status,
//! stdout and stderr.
//!
//! Fixed data comes from the RFCs (RFC 7515 A.1 HS256 and A.3 ES256,
//! RFC 8037 A.4 EdDSA, transcribed in tests/vectors/README.md §5);
//! tokens for claim tests are minted here with HMAC-SHA256 (the `hmac` crate,
//! independent of the library's own HMAC backend).
#![cfg(not(target_arch = "wasm32"))]
#![cfg(feature = "cli")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
mod support;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

// ---------------------------------------------------------------------------
// Vectors (RFC 7515 Appendix A, RFC 8037 Appendix A.4).

/// RFC 7515 A.1–A.3 payload: {"iss":"joe","exp":1300819380,"http://example.com/is_root":true}.
const RFC7515_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
/// The RFC 7515 A.1–A.3 `exp`.
const RFC7515_EXP: u64 = 1_300_819_380;
/// RFC 7515 A.1.1 HMAC key as an `oct` JWK.
const A1_JWK: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
const A1_HEADER: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
const A1_SIG: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// RFC 7515 A.3.1 P-256 public key.
const A3_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
const A3_HEADER: &str = "eyJhbGciOiJFUzI1NiJ9";
const A3_SIG: &str =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
/// RFC 8037 A.2 Ed25519 public key.
const ED_JWKS: &str =
    r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
/// RFC 8037 A.4 JWS (payload "Example of Ed25519 signing", not a claims set).
const ED_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn a1_token() -> String {
    format!("{A1_HEADER}.{RFC7515_PAYLOAD}.{A1_SIG}")
}

fn a3_token() -> String {
    format!("{A3_HEADER}.{RFC7515_PAYLOAD}.{A3_SIG}")
}

/// A moment at which the RFC 7515 tokens are still valid.
const BEFORE_EXP: &str = "1300819379";

// ---------------------------------------------------------------------------
// Minting our own HS256 tokens.

/// A 38-byte secret (at least 32 bytes are required for HS256).
const SECRET: &[u8] = b"cli-test-secret-0123456789-abcdefghijk";
const NOW: u64 = 1_700_000_000;

fn b64(bytes: &[u8]) -> String {
    jwt_edge::b64url_encode(bytes)
}

fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

/// A typical access token: every registered claim, valid at [`NOW`].
fn claims() -> Value {
    json!({
        "iss": "https://issuer.example",
        "sub": "user-1",
        "aud": ["api://a", "api://x"],
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 600,
        "jti": "token-1",
        "scope": "read write",
        "tenant": "t1",
    })
}

fn at_header() -> Value {
    json!({"alg": "HS256", "typ": "at+jwt"})
}

/// Replaces the first character of the signature segment with another
/// base64url character (a different signature that still decodes).
fn tamper_signature(token: &str) -> String {
    let dot = token.rfind('.').unwrap();
    let (head, sig) = token.split_at(dot + 1);
    let first = sig.chars().next().unwrap();
    let replacement = if first == 'A' { 'B' } else { 'A' };
    format!("{head}{replacement}{}", &sig[1..])
}

// ---------------------------------------------------------------------------
// Running the binary.

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        Self(support::temp_dir("cli-test"))
    }

    /// Writes `contents` to `name` in the directory and returns its path as a string.
    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The outcome of one run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn first_stderr_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }

    /// Stdout parsed as exactly one newline-terminated line of JSON.
    fn json(&self) -> Value {
        assert!(
            self.stdout.ends_with('\n'),
            "stdout must end with a newline: {:?}",
            self.stdout
        );
        assert_eq!(
            self.stdout.matches('\n').count(),
            1,
            "stdout must be one line: {:?}",
            self.stdout
        );
        serde_json::from_str(&self.stdout).unwrap()
    }

    fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "exit status; stdout: {:?}, stderr: {:?}",
            self.stdout, self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked: {}",
            self.stderr
        );
    }

    /// Asserts a rejection (exit 1) whose first stderr line is `<code>: ...`.
    fn assert_rejected(&self, code: &str) {
        self.assert_code(1);
        let prefix = format!("{code}: ");
        assert!(
            self.first_stderr_line().starts_with(&prefix),
            "first stderr line should start with {prefix:?}: {:?}",
            self.stderr
        );
    }

    /// Asserts a usage/configuration error (exit 2) with nothing on stdout.
    fn assert_usage(&self) {
        self.assert_code(2);
        assert!(self.stdout.is_empty(), "stdout: {:?}", self.stdout);
        assert!(!self.stderr.trim().is_empty(), "stderr must explain");
    }
}

fn output_to_run(out: Output) -> Run {
    Run {
        code: out.status.code().expect("killed by a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn jwt_edge(args: &[&str]) -> Run {
    jwt_edge_stdin(args, "")
}

fn jwt_edge_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jwt-edge"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        // The binary may exit without reading stdin; that is not a test failure.
        let _ = input.write_all(stdin.as_bytes());
    }
    output_to_run(child.wait_with_output().unwrap())
}

/// `verify` with the test secret as a raw secret file.
fn verify_hs(dir: &Scratch, token: &str, extra: &[&str]) -> Run {
    let secret = dir.file("secret.bin", SECRET);
    let now = NOW.to_string();
    let mut args = vec!["verify", "--secret-file", &secret, "--now", &now];
    args.extend_from_slice(extra);
    args.push(token);
    jwt_edge(&args)
}

// ---------------------------------------------------------------------------
// verify: RFC vectors.

#[test]
fn rfc7515_a1_hs256_verifies_and_prints_header_and_claims() {
    let dir = Scratch::new();
    let secret = dir.file("a1.jwk", A1_JWK);
    let run = jwt_edge(&[
        "verify",
        "--secret-file",
        &secret,
        "--now",
        BEFORE_EXP,
        &a1_token(),
    ]);
    run.assert_code(0);
    assert!(run.stderr.is_empty(), "stderr: {:?}", run.stderr);
    let out = run.json();
    let obj = out.as_object().unwrap();
    assert_eq!(obj.len(), 2, "only header and claims: {out}");
    assert_eq!(out["header"], json!({"typ": "JWT", "alg": "HS256"}));
    assert_eq!(
        out["claims"],
        json!({"iss": "joe", "exp": RFC7515_EXP, "http://example.com/is_root": true})
    );
}

#[test]
fn rfc7515_a1_expired_at_exp() {
    let dir = Scratch::new();
    let secret = dir.file("a1.jwk", A1_JWK);
    let exp = RFC7515_EXP.to_string();
    let run = jwt_edge(&[
        "verify",
        "--secret-file",
        &secret,
        "--now",
        &exp,
        &a1_token(),
    ]);
    run.assert_rejected("ERR_JWT_EXPIRED");
    assert!(
        run.stdout.is_empty(),
        "no --json, no stdout: {:?}",
        run.stdout
    );
}

#[test]
fn rfc7515_a1_secret_as_jwks_of_oct_keys() {
    let dir = Scratch::new();
    let secret = dir.file("a1.jwks", format!(r#"{{"keys":[{A1_JWK}]}}"#));
    let run = jwt_edge(&[
        "verify",
        "--secret-file",
        &secret,
        "--now",
        BEFORE_EXP,
        &a1_token(),
    ]);
    run.assert_code(0);
    assert_eq!(run.json()["claims"]["iss"], "joe");
}

#[test]
fn rfc7515_a3_es256_verifies_with_jwks() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let run = jwt_edge(&["verify", "--jwks", &jwks, "--now", BEFORE_EXP, &a3_token()]);
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["header"], json!({"alg": "ES256"}));
    assert_eq!(out["claims"]["exp"], RFC7515_EXP);
}

#[test]
fn rfc7515_a3_tampered_signature_is_rejected() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let token = tamper_signature(&a3_token());
    let run = jwt_edge(&["verify", "--jwks", &jwks, "--now", BEFORE_EXP, &token]);
    run.assert_rejected("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
}

#[test]
fn rfc8037_eddsa_signature_verifies_but_payload_is_not_a_jwt() {
    let dir = Scratch::new();
    let jwks = dir.file("ed.json", ED_JWKS);
    let run = jwt_edge(&["verify", "--jwks", &jwks, ED_TOKEN]);
    run.assert_rejected("ERR_JWT_INVALID");

    let tampered = tamper_signature(ED_TOKEN);
    let run = jwt_edge(&["verify", "--jwks", &jwks, &tampered]);
    run.assert_rejected("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
}

#[test]
fn hs256_token_is_not_allowed_without_a_secret_file() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let run = jwt_edge(&["verify", "--jwks", &jwks, "--now", BEFORE_EXP, &a1_token()]);
    run.assert_rejected("ERR_JOSE_ALG_NOT_ALLOWED");
}

#[test]
fn explicit_alg_list_is_enforced() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let run = jwt_edge(&[
        "verify",
        "--jwks",
        &jwks,
        "--alg",
        "EdDSA",
        "--alg",
        "RS256",
        "--now",
        BEFORE_EXP,
        &a3_token(),
    ]);
    run.assert_rejected("ERR_JOSE_ALG_NOT_ALLOWED");
    let run = jwt_edge(&[
        "verify",
        "--jwks",
        &jwks,
        "--alg",
        "ES256",
        "--now",
        BEFORE_EXP,
        &a3_token(),
    ]);
    run.assert_code(0);
}

#[test]
fn secret_file_and_jwks_together() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let secret = dir.file("a1.jwk", A1_JWK);
    for token in [a1_token(), a3_token()] {
        let run = jwt_edge(&[
            "verify",
            "--jwks",
            &jwks,
            "--secret-file",
            &secret,
            "--now",
            BEFORE_EXP,
            &token,
        ]);
        run.assert_code(0);
        assert_eq!(run.json()["claims"]["iss"], "joe");
    }
}

// ---------------------------------------------------------------------------
// verify: token input.

#[test]
fn token_from_stdin_with_trailing_newline() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let run = jwt_edge_stdin(
        &["verify", "--jwks", &jwks, "--now", BEFORE_EXP, "-"],
        &format!("{}\n", a3_token()),
    );
    run.assert_code(0);
    assert_eq!(run.json()["header"]["alg"], "ES256");
}

#[test]
fn only_one_trailing_newline_is_stripped_and_nothing_else() {
    // The npm package judges the exact string; so does the CLI (one Validator,
    // one answer): whitespace around the token is part of the token.
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let t = a3_token();
    for arg in [
        format!(" {t}"),
        format!("{t}\n"),
        format!("{t}\u{a0}"),
        format!("\t{t}"),
    ] {
        jwt_edge(&["verify", "--jwks", &jwks, "--now", BEFORE_EXP, &arg])
            .assert_rejected("ERR_JWS_INVALID");
    }
    for stdin in [
        format!("{t}\r\n"),
        format!("{t}\n\n"),
        format!(" {t}\n"),
        format!("{t}\u{a0}\n"),
    ] {
        jwt_edge_stdin(
            &["verify", "--jwks", &jwks, "--now", BEFORE_EXP, "-"],
            &stdin,
        )
        .assert_rejected("ERR_JWS_INVALID");
    }
    jwt_edge_stdin(&["verify", "--jwks", &jwks, "--now", BEFORE_EXP, "-"], &t).assert_code(0);
}

#[test]
fn now_past_year_9999_is_a_usage_error_as_in_the_package() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let run = jwt_edge(&[
        "verify",
        "--jwks",
        &jwks,
        "--now",
        "253402300800",
        &a3_token(),
    ]);
    run.assert_usage();
    assert!(run.stderr.contains("--now"), "{}", run.stderr);
    // The last second of year 9999 is a valid time (the token has expired by then).
    jwt_edge(&[
        "verify",
        "--jwks",
        &jwks,
        "--now",
        "253402300799",
        &a3_token(),
    ])
    .assert_rejected("ERR_JWT_EXPIRED");
}

#[test]
fn empty_stdin_is_a_rejected_token() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let run = jwt_edge_stdin(&["verify", "--jwks", &jwks, "-"], "\n");
    run.assert_rejected("ERR_JWS_INVALID");
}

// ---------------------------------------------------------------------------
// verify: secrets.

#[test]
fn raw_secret_file_is_used_byte_for_byte() {
    let dir = Scratch::new();
    let token = hs256(&at_header(), &claims(), SECRET);
    let run = verify_hs(&dir, &token, &[]);
    run.assert_code(0);
    assert_eq!(run.json()["claims"]["jti"], "token-1");

    // A trailing newline is part of the secret: not trimmed, so the MAC differs.
    let mut with_newline = SECRET.to_vec();
    with_newline.push(b'\n');
    let secret = dir.file("secret-nl.bin", with_newline);
    let now = NOW.to_string();
    let run = jwt_edge(&["verify", "--secret-file", &secret, "--now", &now, &token]);
    run.assert_rejected("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
}

#[test]
fn tampered_hs256_signature_is_rejected() {
    let dir = Scratch::new();
    let token = tamper_signature(&hs256(&at_header(), &claims(), SECRET));
    verify_hs(&dir, &token, &[]).assert_rejected("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
}

#[test]
fn short_raw_secret_is_a_configuration_error() {
    let dir = Scratch::new();
    let secret = dir.file("short.bin", b"too-short");
    let run = jwt_edge(&["verify", "--secret-file", &secret, &a1_token()]);
    run.assert_usage();
    assert!(run.first_stderr_line().starts_with("ERR_JWKS_INVALID: "));
}

#[test]
fn asymmetric_jwk_is_never_used_as_a_secret() {
    let dir = Scratch::new();
    let secret = dir.file("ec.jwk", &A3_JWKS[9..A3_JWKS.len() - 2]);
    let run = jwt_edge(&["verify", "--secret-file", &secret, &a1_token()]);
    run.assert_usage();
    assert!(run.first_stderr_line().starts_with("ERR_JWKS_INVALID: "));
}

#[test]
fn secret_jwks_with_kids_and_kidless_candidates() {
    let dir = Scratch::new();
    let other: &[u8] = b"another-secret-of-at-least-32-bytes!!";
    let secrets = json!({"keys": [
        {"kty": "oct", "kid": "k1", "k": b64(other)},
        {"kty": "oct", "kid": "k2", "k": b64(SECRET)},
    ]});
    let secret = dir.file("secrets.jwks", secrets.to_string());
    let now = NOW.to_string();
    let verify = |token: &str, extra: &[&str]| {
        let mut args = vec!["verify", "--secret-file", &secret, "--now", &now];
        args.extend_from_slice(extra);
        args.push(token);
        jwt_edge(&args)
    };

    let with_kid = hs256(&json!({"alg": "HS256", "kid": "k2"}), &claims(), SECRET);
    verify(&with_kid, &[]).assert_code(0);

    let unknown_kid = hs256(&json!({"alg": "HS256", "kid": "k9"}), &claims(), SECRET);
    let run = verify(&unknown_kid, &["--json"]);
    run.assert_rejected("ERR_JWKS_NO_MATCHING_KEY");
    assert_eq!(run.json()["error"]["retryable"], true);

    let kidless = hs256(&json!({"alg": "HS256"}), &claims(), SECRET);
    verify(&kidless, &[]).assert_rejected("ERR_JWKS_MULTIPLE_MATCHING_KEYS");
    verify(&kidless, &["--kidless-candidates", "2"]).assert_code(0);
    verify(&kidless, &["--kidless-candidates", "0"]).assert_usage();
    verify(&kidless, &["--kidless-candidates", "4"]).assert_usage();
}

#[test]
fn invalid_secret_jwks_is_a_configuration_error() {
    let dir = Scratch::new();
    let secret = dir.file("bad.jwks", r#"{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}"#);
    let run = jwt_edge(&["verify", "--secret-file", &secret, &a1_token()]);
    run.assert_usage();
    assert!(run.first_stderr_line().starts_with("ERR_JWKS_INVALID: "));
}

// ---------------------------------------------------------------------------
// verify: claims and --json.

#[test]
fn all_claim_flags_accept_a_matching_token() {
    let dir = Scratch::new();
    let token = hs256(&at_header(), &claims(), SECRET);
    let run = verify_hs(
        &dir,
        &token,
        &[
            "--alg",
            "HS256",
            "--iss",
            "https://other.example",
            "--iss",
            "https://issuer.example",
            "--aud",
            "api://x",
            "--sub",
            "user-1",
            "--typ",
            "application/at+jwt",
            "--scope",
            "write",
            "--scope",
            "read",
            "--require",
            "tenant",
            "--max-age",
            "60",
            "--json",
        ],
    );
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["claims"], claims());
    assert_eq!(out["header"], at_header());
}

#[test]
fn wrong_audience_json_error_object() {
    let dir = Scratch::new();
    let token = hs256(&at_header(), &claims(), SECRET);
    let run = verify_hs(&dir, &token, &["--aud", "api://b", "--json"]);
    run.assert_rejected("ERR_JWT_CLAIM_VALIDATION_FAILED");
    let out = run.json();
    let outer = out.as_object().unwrap();
    assert_eq!(outer.len(), 1, "only \"error\": {out}");
    let error = out["error"].as_object().unwrap();
    assert_eq!(error["code"], "ERR_JWT_CLAIM_VALIDATION_FAILED");
    assert_eq!(error["claim"], "aud");
    assert_eq!(error["reason"], "check_failed");
    assert_eq!(error["retryable"], false);
    let message = error["message"].as_str().unwrap();
    assert!(!message.is_empty());
    assert_eq!(
        run.first_stderr_line(),
        format!("ERR_JWT_CLAIM_VALIDATION_FAILED: {message}")
    );
    assert!(!error.contains_key("revocationReason"));
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["claim", "code", "message", "reason", "retryable"]);
}

#[test]
fn json_error_without_claim_has_no_claim_or_reason() {
    let dir = Scratch::new();
    let token = tamper_signature(&hs256(&at_header(), &claims(), SECRET));
    let run = verify_hs(&dir, &token, &["--json"]);
    run.assert_rejected("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    let out = run.json();
    let error = out["error"].as_object().unwrap();
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "message", "retryable"]);
}

/// One failing check per claim flag: (flags, code, claim, reason).
#[test]
fn each_claim_flag_is_enforced() {
    let dir = Scratch::new();
    let token = hs256(&at_header(), &claims(), SECRET);
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (
            &["--iss", "https://evil.example"],
            "ERR_JWT_CLAIM_VALIDATION_FAILED",
            "iss",
            "check_failed",
        ),
        (
            &["--sub", "user-2"],
            "ERR_JWT_CLAIM_VALIDATION_FAILED",
            "sub",
            "check_failed",
        ),
        (
            &["--typ", "JWT"],
            "ERR_JWT_CLAIM_VALIDATION_FAILED",
            "typ",
            "check_failed",
        ),
        (
            &["--scope", "admin"],
            "ERR_JWT_CLAIM_VALIDATION_FAILED",
            "scope",
            "check_failed",
        ),
        (
            &["--require", "email"],
            "ERR_JWT_CLAIM_VALIDATION_FAILED",
            "email",
            "missing",
        ),
        (
            &["--max-age", "59"],
            "ERR_JWT_EXPIRED",
            "iat",
            "check_failed",
        ),
    ];
    for (flags, code, claim, reason) in cases {
        let mut args = flags.to_vec();
        args.push("--json");
        let run = verify_hs(&dir, &token, &args);
        run.assert_rejected(code);
        let out = run.json();
        assert_eq!(out["error"]["claim"], *claim, "{flags:?}");
        assert_eq!(out["error"]["reason"], *reason, "{flags:?}");
    }
}

#[test]
fn leeway_and_now() {
    let dir = Scratch::new();
    let token = hs256(&at_header(), &claims(), SECRET);
    let secret = dir.file("secret.bin", SECRET);
    let after_exp = (NOW + 605).to_string();
    let run = jwt_edge(&[
        "verify",
        "--secret-file",
        &secret,
        "--now",
        &after_exp,
        &token,
    ]);
    run.assert_rejected("ERR_JWT_EXPIRED");
    let run = jwt_edge(&[
        "verify",
        "--secret-file",
        &secret,
        "--now",
        &after_exp,
        "--leeway",
        "10",
        &token,
    ]);
    run.assert_code(0);
    // Without --now the system clock is used: the token expired in 2023.
    let run = jwt_edge(&["verify", "--secret-file", &secret, &token]);
    run.assert_rejected("ERR_JWT_EXPIRED");
}

// ---------------------------------------------------------------------------
// verify: revocation lists.

fn revocation_list(epoch: u64) -> Value {
    json!({
        "iss": "https://issuer.example",
        "epoch": epoch,
        "generated_at": NOW - 10,
        "jti": [{"jti": "token-1", "exp": NOW + 600}],
    })
}

#[test]
fn revoked_jti_is_rejected() {
    let dir = Scratch::new();
    let list = dir.file("revoked.json", revocation_list(1).to_string());
    let revoked = hs256(&at_header(), &claims(), SECRET);
    let run = verify_hs(&dir, &revoked, &["--revocations", &list, "--json"]);
    run.assert_rejected("ERR_JWT_REVOKED");
    let out = run.json();
    assert_eq!(out["error"]["code"], "ERR_JWT_REVOKED");
    assert_eq!(out["error"]["revocationReason"], "jti");
    assert_eq!(out["error"]["retryable"], false);

    // Another token of the same issuer is still accepted with the list installed.
    let mut other = claims();
    other["jti"] = json!("token-2");
    let fine = hs256(&at_header(), &other, SECRET);
    verify_hs(&dir, &fine, &["--revocations", &list]).assert_code(0);
}

#[test]
fn signed_revocation_list_is_verified_with_the_same_keys() {
    let dir = Scratch::new();
    let header = json!({"alg": "HS256", "typ": "revocation-list+jwt"});
    let signed = hs256(&header, &revocation_list(2), SECRET);
    let list = dir.file("revoked.jws", format!("{signed}\n"));
    let token = hs256(&at_header(), &claims(), SECRET);
    verify_hs(&dir, &token, &["--revocations", &list]).assert_rejected("ERR_JWT_REVOKED");

    // A list whose signature does not verify is a configuration error.
    let forged = dir.file("forged.jws", tamper_signature(&signed));
    let run = verify_hs(&dir, &token, &["--revocations", &forged]);
    run.assert_usage();
    assert!(run
        .first_stderr_line()
        .starts_with("ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "));
}

#[test]
fn invalid_revocation_list_is_a_configuration_error() {
    let dir = Scratch::new();
    let list = dir.file("bad.json", r#"{"iss":"x","epoch":1}"#);
    let token = hs256(&at_header(), &claims(), SECRET);
    let run = verify_hs(&dir, &token, &["--revocations", &list, "--json"]);
    run.assert_usage();
    assert!(run
        .first_stderr_line()
        .starts_with("ERR_REVOCATION_LIST_INVALID: "));
}

// ---------------------------------------------------------------------------
// verify: usage and configuration errors (exit 2).

#[test]
fn invalid_jwks_file_exits_2() {
    let dir = Scratch::new();
    for (i, bad) in [r#"[1,2]"#, r#"{"keys":{}}"#, "not json", r#"{"kid":"x"}"#]
        .iter()
        .enumerate()
    {
        let jwks = dir.file(&format!("bad{i}.json"), bad);
        let run = jwt_edge(&["verify", "--jwks", &jwks, &a3_token()]);
        run.assert_usage();
        assert!(
            run.first_stderr_line().starts_with("ERR_JWKS_INVALID: "),
            "{bad}: {}",
            run.stderr
        );
    }
}

#[test]
fn missing_files_exit_2() {
    let dir = Scratch::new();
    let missing = dir.path("does-not-exist.json");
    let jwks = dir.file("a3.json", A3_JWKS);
    for flags in [
        vec!["--jwks", missing.as_str()],
        vec!["--secret-file", missing.as_str()],
        vec!["--jwks", jwks.as_str(), "--revocations", missing.as_str()],
    ] {
        let mut args = vec!["verify"];
        args.extend(flags.iter().copied());
        args.push("--json");
        let token = a3_token();
        args.push(&token);
        let run = jwt_edge(&args);
        run.assert_usage();
        assert!(run.stderr.contains("does-not-exist.json"), "{}", run.stderr);
    }
}

#[test]
fn no_key_source_exits_2() {
    let run = jwt_edge(&["verify", &a3_token()]);
    run.assert_usage();
    assert!(run.stderr.contains("--jwks"), "{}", run.stderr);
}

#[test]
fn hmac_alg_without_secret_file_exits_2() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let run = jwt_edge(&["verify", "--jwks", &jwks, "--alg", "HS256", &a1_token()]);
    run.assert_usage();
    assert!(run.stderr.contains("--secret-file"), "{}", run.stderr);
}

#[test]
fn unknown_alg_exits_2_with_not_supported() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    for alg in ["ES521", "none", "es256"] {
        let run = jwt_edge(&["verify", "--jwks", &jwks, "--alg", alg, &a3_token()]);
        run.assert_usage();
        assert!(
            run.first_stderr_line()
                .starts_with("ERR_JOSE_NOT_SUPPORTED: "),
            "{alg}: {}",
            run.stderr
        );
    }
}

#[test]
fn clap_usage_errors_exit_2() {
    jwt_edge(&["verify", "--no-such-flag", "x"]).assert_usage();
    jwt_edge(&["verify"]).assert_usage();
    jwt_edge(&["verify", "--now", "yesterday", "--jwks", "x", "t"]).assert_usage();
    jwt_edge(&["no-such-command"]).assert_usage();
}

#[test]
fn skipped_jwks_keys_are_warnings_after_the_verdict_line() {
    let dir = Scratch::new();
    let jwks = json!({"keys": [
        {"kty": "oct", "kid": "sym", "k": b64(SECRET)},
        serde_json::from_str::<Value>(A3_JWKS).unwrap()["keys"][0].clone(),
    ]});
    let jwks = dir.file("mixed.json", jwks.to_string());

    let run = jwt_edge(&["verify", "--jwks", &jwks, "--now", BEFORE_EXP, &a3_token()]);
    run.assert_code(0);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("sym")),
        "{}",
        run.stderr
    );

    let run = jwt_edge(&["verify", "--jwks", &jwks, &a3_token()]);
    run.assert_rejected("ERR_JWT_EXPIRED");
    assert!(run.stderr.lines().nth(1).unwrap().starts_with("warning: "));
}

#[test]
fn closed_stdout_does_not_panic() {
    let dir = Scratch::new();
    let jwks = dir.file("a3.json", A3_JWKS);
    let token = a3_token();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jwt-edge"))
        .args(["verify", "--jwks", &jwks, "--now", BEFORE_EXP, &token])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before the child writes its result.
    drop(child.stdout.take());
    let run = output_to_run(child.wait_with_output().unwrap());
    run.assert_code(0);
    assert!(run.stderr.is_empty(), "stderr: {:?}", run.stderr);
}

// ---------------------------------------------------------------------------
// inspect.

#[test]
fn inspect_prints_header_claims_and_warnings() {
    let exp = RFC7515_EXP.to_string();
    let run = jwt_edge(&["inspect", "--now", &exp, &a1_token()]);
    run.assert_code(0);
    let out = run.json();
    let obj = out.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["claims", "header", "warnings"]);
    assert_eq!(out["header"], json!({"typ": "JWT", "alg": "HS256"}));
    assert_eq!(out["claims"]["iss"], "joe");
    let warnings = out["warnings"].as_array().unwrap();
    for w in warnings {
        let w = w.as_object().unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(!w["message"].as_str().unwrap().is_empty());
    }
    let codes: Vec<&str> = warnings
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    for code in ["ALG_SYMMETRIC", "NO_KID", "EXPIRED"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }

    // Before exp, no EXPIRED warning.
    let run = jwt_edge(&["inspect", "--now", BEFORE_EXP, &a1_token()]);
    run.assert_code(0);
    let out = run.json();
    assert!(!out["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["code"] == "EXPIRED"));
}

#[test]
fn inspect_reads_stdin_and_does_not_verify() {
    // A forged signature is not inspect's business: it decodes anyway.
    let token = tamper_signature(&hs256(&at_header(), &claims(), b"unknown-secret"));
    let now = NOW.to_string();
    let run = jwt_edge_stdin(&["inspect", "--now", &now, "-"], &format!("{token}\n"));
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["claims"], claims());
    assert_eq!(out["header"], at_header());
}

#[test]
fn inspect_of_garbage_exits_1() {
    for garbage in [
        "garbage",
        "a.b.c",
        "",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
    ] {
        let run = jwt_edge(&["inspect", garbage]);
        run.assert_code(1);
        assert!(run.stdout.is_empty());
        let line = run.first_stderr_line();
        assert!(
            line.starts_with("ERR_JWS_INVALID: ") || line.starts_with("ERR_JWT_INVALID: "),
            "{garbage:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn inspect_of_rfc8037_token_is_not_a_claims_set() {
    let run = jwt_edge(&["inspect", ED_TOKEN]);
    run.assert_rejected("ERR_JWT_INVALID");
}

#[test]
fn inspect_usage_errors_exit_2() {
    jwt_edge(&["inspect"]).assert_usage();
    jwt_edge(&["inspect", "--now", "-5", "x.y.z"]).assert_usage();
}

/// An ML-DSA-65 token (RFC 9964) minted here with fips204: `verify` with a
/// JWKS of its `AKP` key accepts it and refuses it tampered or against a
/// key of another parameter set; `inspect` decodes it.
#[test]
fn ml_dsa_tokens_verify_and_inspect() {
    use fips204::traits::{KeyGen, SerDes, Signer};
    let (pk, sk) = fips204::ml_dsa_65::KG::keygen_from_seed(&[3; 32]);
    let header = json!({"alg": "ML-DSA-65", "kid": "pq", "typ": "JWT"});
    let payload = claims();
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let mut rng =
        <rand_chacha::ChaCha8Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(3);
    let sig = sk
        .try_sign_with_rng(&mut rng, input.as_bytes(), &[])
        .unwrap();
    let token = format!("{input}.{}", b64(&sig));
    let jwk = json!({"kty": "AKP", "alg": "ML-DSA-65", "kid": "pq", "pub": b64(&pk.into_bytes())});
    let dir = Scratch::new();
    let jwks = dir.file("pq.json", json!({"keys": [jwk]}).to_string());
    let now = NOW.to_string();
    let run = jwt_edge(&["verify", "--jwks", &jwks, "--now", &now, &token]);
    run.assert_code(0);
    assert_eq!(run.json()["header"]["alg"], "ML-DSA-65");
    let run = jwt_edge(&[
        "verify",
        "--jwks",
        &jwks,
        "--now",
        &now,
        &tamper_signature(&token),
    ]);
    run.assert_rejected("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    let (pk44, _) = fips204::ml_dsa_44::KG::keygen_from_seed(&[3; 32]);
    let other = json!({"keys": [{"kty": "AKP", "alg": "ML-DSA-44", "kid": "pq", "pub": b64(&pk44.into_bytes())}]});
    let other = dir.file("pq44.json", other.to_string());
    let run = jwt_edge(&["verify", "--jwks", &other, "--now", &now, &token]);
    run.assert_rejected("ERR_JWKS_NO_MATCHING_KEY");
    let run = jwt_edge(&["inspect", &token]);
    run.assert_code(0);
    assert_eq!(run.json()["header"]["alg"], "ML-DSA-65");
}
