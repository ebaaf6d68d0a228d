//! `jwt-edge verify`: builds a key set and a policy from the flags, then asks
//! `jwt_edge::verify` for the verdict.
//!
//! Exit 0: stdout is `{"header":{...},"claims":{...}}`. Exit 1: the token was
//! rejected; the first stderr line is `<CODE>: <message>` and, with `--json`,
//! stdout carries `{"error":{...}}`. Exit 2: usage or configuration error.
//! Warnings about skipped JWKS keys go to stderr *after* that first line, so
//! scripts can rely on it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jwt_edge::{Algorithm, Error, KeySet, Policy, MAX_KIDLESS_CANDIDATES};

use crate::remote_jwks::RemoteJwks;
use serde_json::{json, Map, Value};

use crate::io::{self, Failure};

/// Arguments of `jwt-edge verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Public JWKS file ({"keys":[...]}) of trusted asymmetric keys.
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_url")]
    jwks: Option<PathBuf>,
    /// Fetch the JWKS from this URL (freshness policy as in the npm package).
    #[arg(long = "jwks-url", value_name = "URL")]
    jwks_url: Option<String>,
    /// Keep the fetched JWKS and its freshness state in this file between runs.
    #[arg(long = "jwks-cache", value_name = "FILE", requires = "jwks_url")]
    jwks_cache: Option<PathBuf>,
    /// Timeout of a JWKS fetch, in seconds (default 5).
    #[arg(
        long = "jwks-timeout",
        value_name = "SECS",
        default_value_t = 5,
        requires = "jwks_url"
    )]
    jwks_timeout: u64,
    /// HMAC secret: a JWKS of "oct" keys, one "oct" JWK, or else the raw file bytes (used exactly, not trimmed).
    #[arg(long = "secret-file", value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Allowed algorithm (repeatable). Default: every asymmetric algorithm, plus HS256/384/512 with --secret-file.
    #[arg(long = "alg", value_name = "ALG")]
    algs: Vec<String>,
    /// Accepted issuer (repeatable); `iss` must equal one of them.
    #[arg(long = "iss", value_name = "ISS")]
    issuers: Vec<String>,
    /// Accepted audience (repeatable); `aud` must contain one of them.
    #[arg(long = "aud", value_name = "AUD")]
    audiences: Vec<String>,
    /// Required subject; `sub` must equal it.
    #[arg(long, value_name = "SUB", allow_hyphen_values = true)]
    sub: Option<String>,
    /// Required header `typ` (e.g. at+jwt).
    #[arg(long, value_name = "TYP")]
    typ: Option<String>,
    /// Clock skew tolerated for exp, nbf, iat and --max-age, in seconds.
    #[arg(long, value_name = "SECS")]
    leeway: Option<u64>,
    /// Reject tokens whose `iat` is more than SECS ago (requires `iat`).
    #[arg(long = "max-age", value_name = "SECS")]
    max_age: Option<u64>,
    /// Claim that must be present (repeatable).
    #[arg(long = "require", value_name = "CLAIM")]
    required_claims: Vec<String>,
    /// Scope that must be granted in `scope` or `scp` (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Revocation list file: the JSON form or a signed JWS (verified with the same keys).
    #[arg(long, value_name = "FILE")]
    revocations: Option<PathBuf>,
    /// Current time in unix seconds (default: the system clock).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
    /// How many keys a token without `kid` may be tried against (1 to 3; default 1).
    #[arg(long = "kidless-candidates", value_name = "N")]
    kidless_candidates: Option<usize>,
    /// On rejection, also print {"error":{...}} on stdout.
    #[arg(long)]
    json: bool,
    /// The compact JWS, or `-` to read it from stdin.
    #[arg(value_name = "TOKEN | -")]
    token: String,
}

/// Runs `verify` and returns the exit status.
pub fn run(args: &VerifyArgs) -> ExitCode {
    let mut warnings = Vec::new();
    let status = match execute(args, &mut warnings) {
        Ok(status) => status,
        Err(failure) => failure.report(),
    };
    for warning in &warnings {
        io::print_err(warning);
    }
    status
}

fn execute(args: &VerifyArgs, warnings: &mut Vec<String>) -> Result<ExitCode, Failure> {
    let now = io::now_or_clock(args.now)?;
    let mut remote = match &args.jwks_url {
        Some(url) => Some(RemoteJwks::open(
            url,
            args.jwks_cache.as_deref(),
            args.jwks_timeout,
        )?),
        None => None,
    };
    let mut keys = load_keys(args, warnings)?;
    if let Some(r) = remote.as_mut() {
        match r.keys(now) {
            Ok(fetched) => keys.extend(fetched),
            Err(e) => return Ok(reject(&e, args.json)),
        }
    }
    let mut policy = build_policy(args)?;
    if let Some(path) = &args.revocations {
        let list = io::read_text_file(path, "--revocations")?;
        jwt_edge::install_revocations(&list, &keys, &mut policy)
            .map_err(|e| Failure::config(&e, format_args!("--revocations {}", path.display())))?;
    }
    let token = io::read_token(&args.token)?;

    let mut result = jwt_edge::verify(&token, &keys, &policy, now);
    if let (Err(e), Some(r)) = (&result, remote.as_mut()) {
        // Unknown kid: one refetch, at most once per cooldown (the policy's rule).
        if e.kind() == jwt_edge::ErrorKind::NoMatchingKey {
            if let Some(fresh) = r.refetch_for_kid_miss(now) {
                let mut merged = load_keys(args, &mut Vec::new())?;
                merged.extend(fresh);
                result = jwt_edge::verify(&token, &merged, &policy, now);
            }
        }
    }
    if let Some(r) = &remote {
        r.save(); // keeps the kid-miss cooldown across runs
    }
    match result {
        Ok(verified) => {
            io::print_json(&json!({ "header": verified.header, "claims": verified.claims }))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => Ok(reject(&err, args.json)),
    }
}

/// Reports a rejection (exit 1), with the `--json` object when asked.
fn reject(err: &Error, json: bool) -> ExitCode {
    let status = Failure::rejected(err).report();
    if json {
        if let Err(failure) = io::print_json(&error_json(err)) {
            // The verdict stays "rejected"; only report the output problem.
            let _ = failure.report();
        }
    }
    status
}

/// The `--json` error object: `{"error":{"code","message",["claim"],["reason"],
/// ["revocation_reason"],"retryable"}}`.
fn error_json(err: &Error) -> Value {
    let mut e = Map::new();
    e.insert("code".into(), err.code().into());
    e.insert("message".into(), err.message().into());
    if let Some(claim) = err.claim_name() {
        e.insert("claim".into(), claim.into());
    }
    if let Some(reason) = err.claim_reason() {
        e.insert("reason".into(), reason.as_str().into());
    }
    if let Some(reason) = err.revocation_reason() {
        e.insert("revocation_reason".into(), reason.as_str().into());
    }
    e.insert("retryable".into(), err.retryable().into());
    json!({ "error": e })
}

/// Builds the trusted key set from `--jwks` and `--secret-file`.
fn load_keys(args: &VerifyArgs, warnings: &mut Vec<String>) -> Result<KeySet, Failure> {
    if args.jwks.is_none() && args.secret_file.is_none() && args.jwks_url.is_none() {
        return Err(Failure::usage(
            "verify needs a key source: --jwks FILE or --jwks-url URL, and/or --secret-file FILE",
        ));
    }
    // The JWKS goes first so that the indices of skipped keys are positions
    // in its `keys` array.
    let mut keys = match &args.jwks {
        Some(path) => {
            let bytes = io::read_file(path, "--jwks")?;
            let keys = KeySet::from_jwks(&bytes).map_err(|e| config(&e, "--jwks", path))?;
            warnings.extend(keys.issues().iter().map(|issue| {
                let kid = issue
                    .kid
                    .as_ref()
                    .map(|kid| format!(" (kid {kid:?})"))
                    .unwrap_or_default();
                format!(
                    "warning: --jwks {}: {}{kid}; this key is ignored",
                    path.display(),
                    issue.message
                )
            }));
            keys
        }
        None => KeySet::new(),
    };
    if let Some(path) = &args.secret_file {
        let bytes = io::read_file(path, "--secret-file")?;
        add_secrets(&mut keys, &bytes).map_err(|e| config(&e, "--secret-file", path))?;
    }
    Ok(keys)
}

fn config(err: &Error, flag: &str, path: &Path) -> Failure {
    Failure::config(err, format_args!("{flag} {}", path.display()))
}

/// Adds the secret(s) of a `--secret-file`: a JWKS of `oct` keys, one `oct`
/// JWK, or else the raw bytes. Any JSON object is handed to the library's
/// strict secret-JWK parser, which refuses anything but `oct` keys: key
/// material (e.g. a public JWK) must never become an HMAC secret by accident.
fn add_secrets(keys: &mut KeySet, bytes: &[u8]) -> Result<(), Error> {
    if serde_json::from_slice::<Map<String, Value>>(bytes).is_ok() {
        keys.add_secret_jwks(bytes)
    } else {
        keys.add_hmac_secret(bytes, None, None)
    }
}

/// Builds the policy from the flags; every rule is the library's.
fn build_policy(args: &VerifyArgs) -> Result<Policy, Failure> {
    let mut policy = Policy::new();
    if !args.algs.is_empty() {
        policy = policy.algorithms(explicit_algorithms(args)?);
    } else if args.secret_file.is_some() {
        // HMAC algorithms are allowed only because a secret was configured.
        policy = policy.allow_hmac();
    }
    for iss in &args.issuers {
        policy = policy.issuer(iss.as_str());
    }
    for aud in &args.audiences {
        policy = policy.audience(aud.as_str());
    }
    for claim in &args.required_claims {
        policy = policy.require_claim(claim.as_str());
    }
    for scope in &args.scopes {
        policy = policy.scope(scope.as_str());
    }
    if let Some(sub) = &args.sub {
        policy = policy.subject(sub.as_str());
    }
    if let Some(typ) = &args.typ {
        policy = policy.typ(typ.as_str());
    }
    if let Some(secs) = args.leeway {
        policy = policy.leeway(secs);
    }
    if let Some(secs) = args.max_age {
        policy = policy.max_token_age(secs);
    }
    if let Some(n) = args.kidless_candidates {
        if !(1..=MAX_KIDLESS_CANDIDATES).contains(&n) {
            return Err(Failure::usage(format_args!(
                "--kidless-candidates must be between 1 and {MAX_KIDLESS_CANDIDATES}, got {n}"
            )));
        }
        policy = policy.kidless_candidates(n);
    }
    Ok(policy)
}

/// Parses the `--alg` values. HMAC algorithms need `--secret-file`.
fn explicit_algorithms(args: &VerifyArgs) -> Result<Vec<Algorithm>, Failure> {
    args.algs
        .iter()
        .map(|name| {
            let alg: Algorithm = name
                .parse()
                .map_err(|e: Error| Failure::config(&e, "--alg"))?;
            if alg.is_symmetric() && args.secret_file.is_none() {
                return Err(Failure::usage(format_args!(
                    "--alg {alg} needs --secret-file: HMAC algorithms verify only with an explicitly configured secret"
                )));
            }
            Ok(alg)
        })
        .collect()
}
