//! `jwt-edge verify`: builds a `jwt_edge::Validator` from the flags (the same
//! validator the npm package uses) and asks it for the verdict.
//!
//! Exit 0: stdout is `{"header":{...},"claims":{...}}`. Exit 1: the token was
//! rejected; the first stderr line is `<CODE>: <message>` and, with `--json`,
//! stdout carries `{"error":{...}}`. Exit 2: usage or configuration error.
//! Warnings about skipped JWKS keys go to stderr *after* that first line, so
//! scripts can rely on it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jwt_edge::{
    Algorithm, Error, ErrorKind, FetchOutcome, KeySet, Policy, RemoteConfig, Validator,
};

use crate::remote_jwks::RemoteJwks;
use serde_json::{json, Map, Value};

use crate::io::{self, Failure, JsonError};

/// Arguments of `jwt-edge verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Public JWKS file ({"keys":[...]}) of trusted asymmetric keys.
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_url")]
    jwks: Option<PathBuf>,
    /// Fetch the JWKS from this URL (freshness policy as in the npm package).
    #[arg(long = "jwks-url", value_name = "URL")]
    jwks_url: Option<String>,
    /// Find the JWKS through the metadata of this issuer (RFC 8414, else
    /// OpenID Connect Discovery); the metadata's `issuer` must equal it, and
    /// it is the required `iss`.
    #[arg(long = "discover", value_name = "ISSUER", conflicts_with_all = ["jwks", "jwks_url"])]
    discover: Option<String>,
    /// Keep the fetched JWKS and its freshness state in this file between runs.
    #[arg(long = "jwks-cache", value_name = "FILE")]
    jwks_cache: Option<PathBuf>,
    /// Timeout of a JWKS fetch, in seconds (default 5).
    #[arg(long = "jwks-timeout", value_name = "SECS", default_value_t = 5)]
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
    /// The DPoP proof (RFC 9449) the token was presented with (the `DPoP`
    /// header's value): the token must be bound to its key (`cnf.jkt`).
    /// Needs --url; --method defaults to GET.
    #[arg(long = "dpop", value_name = "PROOF", requires = "url")]
    dpop: Option<String>,
    /// The request method the DPoP proof must name (`htm`).
    #[arg(
        long = "method",
        value_name = "METHOD",
        default_value = "GET",
        requires = "dpop"
    )]
    method: String,
    /// The request URL the DPoP proof must name (`htu`; query and fragment ignored).
    #[arg(long = "url", value_name = "URL", requires = "dpop")]
    url: Option<String>,
    /// How old a DPoP proof's `iat` may be, in seconds (default 60).
    #[arg(long = "dpop-max-age", value_name = "SECS", requires = "dpop")]
    dpop_max_age: Option<u64>,
    /// Accept a token bound to a key (`cnf.jkt`) without its DPoP proof
    /// (for inspection and other non-HTTP uses; a resource server must not).
    #[arg(long = "dpop-unchecked", conflicts_with = "dpop")]
    dpop_unchecked: bool,
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
    if args.jwks.is_none()
        && args.secret_file.is_none()
        && args.jwks_url.is_none()
        && args.discover.is_none()
    {
        return Err(Failure::usage(
            "verify needs a key source: --jwks FILE, --jwks-url URL or --discover ISSUER, and/or --secret-file FILE",
        ));
    }
    if args.jwks_cache.is_some() && args.jwks_url.is_none() && args.discover.is_none() {
        return Err(Failure::usage(
            "--jwks-cache needs --jwks-url or --discover",
        ));
    }
    let mut builder = Validator::builder(build_policy(args)?).cache(0);
    if let Some(keys) = load_keys(args, warnings)? {
        builder = builder.keys(keys);
    }
    if let Some(path) = &args.secret_file {
        let bytes = io::read_file(path, "--secret-file")?;
        let secrets = load_secrets(&bytes).map_err(|e| config(&e, "--secret-file", path))?;
        builder = builder.secrets(secrets);
    }
    let config = RemoteConfig {
        timeout: args.jwks_timeout,
        ..RemoteConfig::default()
    };
    let remote = match (&args.jwks_url, &args.discover) {
        (Some(url), _) => {
            builder = builder.remote_jwks(config);
            Some(RemoteJwks::new(
                url,
                args.jwks_cache.as_deref(),
                args.jwks_timeout,
            ))
        }
        (None, Some(issuer)) => {
            builder = builder.discover(issuer.clone(), config);
            // The validator names each URL (metadata, then its jwks_uri).
            Some(RemoteJwks::new(
                "",
                args.jwks_cache.as_deref(),
                args.jwks_timeout,
            ))
        }
        (None, None) => None,
    };
    if args.dpop.is_some() {
        let mut c = jwt_edge::DpopConfig::new();
        if let Some(secs) = args.dpop_max_age {
            c = c
                .max_age(secs)
                .map_err(|e| Failure::usage(format!("--dpop-max-age: {}", e.message())))?;
        }
        builder = builder.dpop(c);
    }
    let mut validator = builder
        .build()
        .map_err(|e| Failure::usage(flag_names(e.message())))?;
    if let Some(r) = &remote {
        r.load(&mut validator)?;
    }
    let result = run_validator(args, &mut validator, remote.as_ref(), now);
    if let Some(r) = &remote {
        r.save(&validator); // keeps freshness and the kid-miss cooldown across runs
    }
    match result? {
        Ok(verified) => {
            io::print_json(&json!({ "header": verified.header, "claims": verified.claims }))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(err) if err.kind() == ErrorKind::InvalidOptions => {
            Err(Failure::usage(flag_names(err.message())))
        }
        Err(err) => Ok(reject(&err, args.json)),
    }
}

/// Revocations, then the token, through the one validator (fetching the
/// remote JWKS when its freshness policy says so).
fn run_validator(
    args: &VerifyArgs,
    validator: &mut Validator,
    remote: Option<&RemoteJwks<'_>>,
    now: u64,
) -> Result<Result<jwt_edge::Verified, Error>, Failure> {
    let fetch = |request: &jwt_edge::FetchRequest| match remote {
        Some(r) => r.get(request.url.as_deref(), request.if_none_match.as_deref()),
        None => FetchOutcome::Failed,
    };
    if remote.is_some() {
        // A signed revocation list verifies with the fetched keys.
        if let Err(e) = validator.refresh(now, fetch) {
            return Ok(Err(e));
        }
    }
    if let Some(path) = &args.revocations {
        let list = io::read_text_file(path, "--revocations")?;
        validator
            .install_revocations(&list)
            .map_err(|e| Failure::config(&e, format_args!("--revocations {}", path.display())))?;
    }
    let token = io::read_token(&args.token)?;
    if let (Some(proof), Some(url)) = (&args.dpop, &args.url) {
        // The request-level check: the proof, then the token bound to its key.
        let checked = validator
            .begin_presented(
                &token,
                jwt_edge::dpop::Scheme::DPoP,
                &[proof.as_str()],
                &args.method,
                url,
                now,
            )
            .and_then(|check| validator.complete_fetching(check, now, fetch));
        return Ok(checked.map_err(|r| r.error));
    }
    if args.dpop_unchecked {
        return Ok(validator.verify_bound(&token, jwt_edge::Binding::Unchecked, now));
    }
    Ok(validator.verify_fetching(&token, now, fetch))
}

/// The library names options as the npm package does; a CLI user reads flags.
fn flag_names(message: &str) -> String {
    [
        ("\"kidlessCandidates\"", "--kidless-candidates"),
        ("\"algorithms\"", "--alg"),
        ("\"secret\"", "--secret-file"),
        ("\"jwks\"", "--jwks"),
        ("\"now\"", "--now"),
    ]
    .iter()
    .fold(String::from(message), |m, (name, flag)| {
        m.replace(name, flag)
    })
}

/// Reports a rejection (exit 1), with the `--json` object when asked.
fn reject(err: &Error, json: bool) -> ExitCode {
    let status = Failure::rejected(err).report();
    if json {
        if let Err(failure) = JsonError::verification(err).and_then(JsonError::print) {
            // The verdict stays "rejected"; only report the output problem.
            let _ = failure.report();
        }
    }
    status
}

/// The public keys of `--jwks`, with a warning per skipped key.
fn load_keys(args: &VerifyArgs, warnings: &mut Vec<String>) -> Result<Option<KeySet>, Failure> {
    let Some(path) = &args.jwks else {
        return Ok(None);
    };
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
    Ok(Some(keys))
}

fn config(err: &Error, flag: &str, path: &Path) -> Failure {
    Failure::config(err, format_args!("{flag} {}", path.display()))
}

/// Adds the secret(s) of a `--secret-file`: a JWKS of `oct` keys, one `oct`
/// JWK, or else the raw bytes. Any JSON object is handed to the library's
/// strict secret-JWK parser, which refuses anything but `oct` keys: key
/// material (e.g. a public JWK) must never become an HMAC secret by accident.
fn load_secrets(bytes: &[u8]) -> Result<KeySet, Error> {
    let mut keys = KeySet::new();
    if serde_json::from_slice::<Map<String, Value>>(bytes).is_ok() {
        keys.add_secret_jwks(bytes)?;
    } else {
        keys.add_hmac_secret(bytes, None, None)?;
    }
    Ok(keys)
}

/// Builds the policy from the flags; every rule is the library's (the
/// validator builder checks the combination).
fn build_policy(args: &VerifyArgs) -> Result<Policy, Failure> {
    let mut policy = Policy::new();
    if !args.algs.is_empty() {
        let algs = args
            .algs
            .iter()
            .map(|name| {
                name.parse::<Algorithm>()
                    .map_err(|e: Error| Failure::config(&e, "--alg"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        policy = policy.algorithms(algs);
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
        policy = policy.kidless_candidates(n);
    }
    Ok(policy)
}
