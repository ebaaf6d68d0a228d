//! The gateway's logic, free of I/O (no Fastly API here): configuration,
//! the validator and the way one verification drives it, RFC 6750 answers,
//! the claim headers and the decision record. `src/service.rs` performs
//! what this decides (config store, backends, cache, the client's answer);
//! `src/bin/native-timing.rs` runs the same per-request work natively.
//!
//! It behaves like `examples/edge-worker/worker.js` (same configuration
//! names, answers, headers and log record), on `jwt_edge::Validator`'s
//! sans-I/O step API: [`verify`] answers each [`Step::Fetch`] through the
//! caller's fetch function and defers the background ones
//! (stale-while-revalidate) until the answer has gone out.
//!
//! Nothing here panics on any input: no `unwrap`, `expect`, indexing or
//! `panic!` (the crate denies them through clippy).

use std::time::{Duration, Instant};

use jwt_edge::{
    Algorithm, Error, ErrorKind, FetchOutcome, FetchRequest, Mode, Policy, RemoteConfig, Source,
    Step, Validator, Verified,
};
use serde_json::{Map, Value};

/// The config store the service reads (`[local_server.config_stores.jwt_edge_config]` in Viceroy).
pub const CONFIG_STORE: &str = "jwt_edge_config";

/// The default claim → header mapping (as worker.js).
pub const DEFAULT_CLAIM_HEADERS: [(&str, &str); 3] = [
    ("sub", "x-jwt-sub"),
    ("scope", "x-jwt-scope"),
    ("client_id", "x-jwt-client-id"),
];

/// The largest snapshot read back from the cache (a revocation list at its
/// 8 MiB limit, JSON-escaped, plus the JWKS).
pub const MAX_SNAPSHOT_BYTES: usize = 24 * 1024 * 1024;

/// A route that needs scopes: the first whose prefix starts the path applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Path prefix, e.g. `/admin`.
    pub prefix: String,
    /// Every one of them must be granted (`scope` or `scp`).
    pub scopes: Vec<String>,
}

/// The service's configuration (the text entries of the config store; the
/// names are worker.js's bindings, plus the Fastly backends).
#[derive(Debug, Clone)]
pub struct Config {
    /// `ISSUER`: the exact `iss`.
    pub issuer: String,
    /// `AUDIENCE`: one audience, or a JSON array of them.
    pub audiences: Vec<String>,
    /// `TYP`: required header `typ` (default `at+jwt`; `""`: none).
    pub typ: Option<String>,
    /// `ALGORITHMS`: JSON array of JWA names (default `["ES256"]`, what this build verifies).
    pub algorithms: Vec<Algorithm>,
    /// `JWKS_URL`: the issuer's JWKS, fetched through [`Config::issuer_backend`].
    pub jwks_url: String,
    /// `JWKS_OPTIONS`: `{minTtl, maxTtl, cooldown, maxStale, timeout}` (seconds).
    pub jwks: RemoteConfig,
    /// `REVOCATIONS_URL` (optional): the signed revocation list.
    pub revocations_url: Option<String>,
    /// `REVOCATIONS_OPTIONS`: as `JWKS_OPTIONS`.
    pub revocations: RemoteConfig,
    /// `ISSUER_BACKEND`: the Fastly backend of both documents (default `issuer`).
    pub issuer_backend: String,
    /// `ORIGIN_URL`: where verified requests go (path and query appended).
    pub origin_url: String,
    /// `ORIGIN_BACKEND`: the Fastly backend of the origin (default `origin`).
    pub origin_backend: String,
    /// `REALM` (default `api`).
    pub realm: String,
    /// `ROUTES`: `[{"prefix": "/admin", "scopes": ["write:reports"]}, ...]`.
    pub routes: Vec<Route>,
    /// `CLAIM_HEADERS`: `{"sub": "x-jwt-sub", ...}` (claim → lowercase header name), in order.
    pub claim_headers: Vec<(String, String)>,
    /// `FORWARD_AUTHORIZATION` = `true`: the Authorization header is passed on.
    pub forward_authorization: bool,
}

fn parse_json(key: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{key} is not valid JSON: {e}"))
}

/// An RFC 7230 token, the characters of a header name.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn remote_config(key: &str, text: Option<&str>) -> Result<RemoteConfig, String> {
    let mut c = RemoteConfig::default();
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(c);
    };
    let Value::Object(map) = parse_json(key, text)? else {
        return Err(format!("{key} must be a JSON object"));
    };
    for (field, value) in &map {
        let slot = match field.as_str() {
            "minTtl" => &mut c.min_ttl,
            "maxTtl" => &mut c.max_ttl,
            "cooldown" => &mut c.cooldown,
            "maxStale" => &mut c.max_stale,
            "timeout" => &mut c.timeout,
            other => return Err(format!("{key}: unknown field {other:?}")),
        };
        *slot = value
            .as_u64()
            .ok_or_else(|| format!("{key}.{field} must be a whole number of seconds"))?;
    }
    Ok(c)
}

fn strings(key: &str, value: &Value) -> Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!("{key} must be a JSON array of strings"));
    };
    items
        .iter()
        .map(|v| {
            v.as_str()
                .map(String::from)
                .ok_or_else(|| format!("{key} must be a JSON array of strings"))
        })
        .collect()
}

fn http_url(key: &str, url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest.and_then(|r| r.split('/').next()) {
        Some(host) if !host.is_empty() && !host.contains('@') => Ok(()),
        _ => Err(format!("{key} must be an http:// or https:// URL")),
    }
}

impl Config {
    /// Reads the configuration through `get` (a config store lookup):
    /// `Ok(None)` for a missing entry. Every error names the entry.
    ///
    /// # Errors
    /// A missing required entry, or one that does not parse.
    pub fn load(get: impl Fn(&str) -> Result<Option<String>, String>) -> Result<Config, String> {
        let required = |k: &str| -> Result<String, String> {
            get(k)?
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("config store entry {k} is missing"))
        };
        let issuer = required("ISSUER")?;
        let audience = required("AUDIENCE")?;
        let audiences = if audience.starts_with('[') {
            strings("AUDIENCE", &parse_json("AUDIENCE", &audience)?)?
        } else {
            vec![audience]
        };
        // RFC 9068 access tokens (what jwt-edge issues) carry typ "at+jwt"; TYP="" accepts any.
        let typ = match get("TYP")? {
            Some(t) if t.is_empty() => None,
            Some(t) => Some(t),
            None => Some(String::from("at+jwt")),
        };
        let algorithms = match get("ALGORITHMS")?.filter(|v| !v.is_empty()) {
            None => vec![Algorithm::ES256],
            Some(text) => strings("ALGORITHMS", &parse_json("ALGORITHMS", &text)?)?
                .iter()
                .map(|n| {
                    Algorithm::from_name(n)
                        .ok_or_else(|| format!("ALGORITHMS: unsupported algorithm {n:?}"))
                })
                .collect::<Result<_, _>>()?,
        };
        let jwks_url = required("JWKS_URL")?;
        http_url("JWKS_URL", &jwks_url)?;
        let revocations_url = get("REVOCATIONS_URL")?.filter(|v| !v.is_empty());
        if let Some(u) = &revocations_url {
            http_url("REVOCATIONS_URL", u)?;
        }
        let origin_url = required("ORIGIN_URL")?;
        http_url("ORIGIN_URL", &origin_url)?;
        let routes = match get("ROUTES")?.filter(|v| !v.is_empty()) {
            None => Vec::new(),
            Some(text) => {
                let Value::Array(items) = parse_json("ROUTES", &text)? else {
                    return Err(String::from("ROUTES must be a JSON array"));
                };
                items
                    .iter()
                    .map(|r| {
                        let prefix = r
                            .get("prefix")
                            .and_then(Value::as_str)
                            .ok_or("ROUTES: each route needs a string \"prefix\"")?;
                        let scopes = match r.get("scopes") {
                            None => Vec::new(),
                            Some(s) => strings("ROUTES[].scopes", s)?,
                        };
                        Ok(Route {
                            prefix: String::from(prefix),
                            scopes,
                        })
                    })
                    .collect::<Result<_, String>>()?
            }
        };
        let claim_headers = match get("CLAIM_HEADERS")?.filter(|v| !v.is_empty()) {
            None => DEFAULT_CLAIM_HEADERS
                .iter()
                .map(|(c, h)| (String::from(*c), String::from(*h)))
                .collect(),
            Some(text) => {
                let Value::Object(map) = parse_json("CLAIM_HEADERS", &text)? else {
                    return Err(String::from("CLAIM_HEADERS must be a JSON object"));
                };
                map.iter()
                    .map(|(claim, header)| match header.as_str() {
                        Some(h) if is_token(h) => Ok((claim.clone(), h.to_ascii_lowercase())),
                        _ => Err(format!(
                            "CLAIM_HEADERS.{claim} must be a header name (an RFC 7230 token)"
                        )),
                    })
                    .collect::<Result<_, String>>()?
            }
        };
        let backend = |k: &str, default: &str| -> Result<String, String> {
            Ok(get(k)?
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| String::from(default)))
        };
        Ok(Config {
            issuer,
            audiences,
            typ,
            algorithms,
            jwks_url,
            jwks: remote_config("JWKS_OPTIONS", get("JWKS_OPTIONS")?.as_deref())?,
            revocations: remote_config(
                "REVOCATIONS_OPTIONS",
                get("REVOCATIONS_OPTIONS")?.as_deref(),
            )?,
            revocations_url,
            issuer_backend: backend("ISSUER_BACKEND", "issuer")?,
            origin_url,
            origin_backend: backend("ORIGIN_BACKEND", "origin")?,
            realm: get("REALM")?
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| String::from("api")),
            routes,
            claim_headers,
            forward_authorization: get("FORWARD_AUTHORIZATION")?.as_deref() == Some("true"),
        })
    }

    /// A fresh validator for this configuration: remote JWKS and (when
    /// configured) remote signed revocation list, no verified-token cache
    /// (it would not outlive the request).
    ///
    /// # Errors
    /// `ERR_INVALID_OPTIONS` from the builder.
    pub fn validator(&self) -> Result<Validator, Error> {
        let mut policy = Policy::new()
            .algorithms(self.algorithms.iter().copied())
            .issuer(self.issuer.clone());
        for a in &self.audiences {
            policy = policy.audience(a.clone());
        }
        if let Some(t) = &self.typ {
            policy = policy.typ(t.clone());
        }
        let mut builder = Validator::builder(policy).remote_jwks(self.jwks).cache(0);
        if self.revocations_url.is_some() {
            builder = builder.remote_revocations(self.revocations);
        }
        builder.build()
    }

    /// Where the validator state of this configuration is kept: one cache
    /// entry per issuer and document URLs (a changed configuration does not
    /// read another's snapshot).
    pub fn snapshot_key(&self) -> String {
        // FNV-1a: only a partition of the cache, not a security boundary
        // (every snapshot is parsed and verified again when imported).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for part in [
            self.issuer.as_str(),
            self.jwks_url.as_str(),
            self.revocations_url.as_deref().unwrap_or(""),
            self.issuer_backend.as_str(),
        ] {
            for b in part.bytes().chain([0u8]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("jwt-edge/validator-snapshot/v1/{h:016x}")
    }

    /// How long a snapshot is worth keeping: the longest a document may be
    /// held (fresh, then stale within `maxStale`), at least a minute.
    pub fn snapshot_ttl(&self) -> Duration {
        let hold = |c: &RemoteConfig| c.max_ttl.max(c.min_ttl).saturating_add(c.max_stale);
        let mut secs = hold(&self.jwks);
        if self.revocations_url.is_some() {
            secs = secs.max(hold(&self.revocations));
        }
        Duration::from_secs(secs.clamp(60, 30 * 86_400))
    }

    /// The URL of a source's document.
    pub fn url_of<'a>(&'a self, request: &'a FetchRequest) -> Option<&'a str> {
        if let Some(u) = request.url.as_deref() {
            return Some(u);
        }
        match request.source {
            Source::Jwks(_) => Some(self.jwks_url.as_str()),
            Source::Revocations => self.revocations_url.as_deref(),
            _ => None,
        }
    }

    /// The first route whose prefix starts `path`.
    pub fn route(&self, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| path.starts_with(r.prefix.as_str()))
    }

    /// Whether a header the client sent is removed before forwarding.
    pub fn strips(&self, lowercase_name: &str) -> bool {
        lowercase_name.starts_with("x-jwt-")
            || (lowercase_name == "authorization" && !self.forward_authorization)
            || self.claim_headers.iter().any(|(_, h)| h == lowercase_name)
    }
}

/// What a fetch of `request`'s document may return at most (one byte more
/// is read, so that the core refuses an oversized document).
pub fn body_limit(request: &FetchRequest) -> usize {
    match request.source {
        Source::Revocations => jwt_edge::revocation::MAX_REVOCATION_LIST_BYTES,
        _ => jwt_edge::jwks::MAX_JWKS_BYTES,
    }
}

/// The `Accept` header of a source's fetch (as the npm package sends).
pub fn accept_of(request: &FetchRequest) -> &'static str {
    match request.source {
        Source::Revocations => "application/jwt, text/plain",
        _ => "application/jwk-set+json, application/json",
    }
}

/// One verification, driven through the validator's steps.
#[derive(Debug)]
pub struct Verification {
    /// The verified token, or why not.
    pub result: Result<Verified, Error>,
    /// Stale-while-revalidate: fetches to perform after the answer (the
    /// held document was used meanwhile).
    pub deferred: Vec<FetchRequest>,
    /// Blocking fetches performed (nothing usable was held, or an unknown kid).
    pub fetches: u32,
    /// Time spent in the validator (parsing, signature, claims, revocation
    /// check, and installing fetched documents), fetch I/O excluded.
    pub compute: Duration,
}

enum Next {
    Done(Result<Verified, Error>),
    Fetch(FetchRequest),
}

/// Verifies `token` at `now` with `validator`, performing the blocking
/// fetches it asks for through `fetch` and deferring the background ones.
/// Each source is fetched at most once for its freshness, plus at most one
/// kid-miss refetch (the core's cooldown): a bounded number of rounds.
pub fn verify(
    validator: &mut Validator,
    token: &str,
    now: u64,
    mut fetch: impl FnMut(&FetchRequest) -> FetchOutcome,
) -> Verification {
    let mode = Mode {
        rust_signatures: true,
        fetch: true,
        binding: jwt_edge::Binding::Unbound,
    };
    let mut fetched: Vec<Source> = Vec::new();
    let mut deferred = Vec::new();
    let mut fetches = 0;
    let mut compute = Duration::ZERO;
    for _ in 0..8 {
        let t = Instant::now();
        let next = match validator.begin_after(token, now, mode, &fetched) {
            Ok(Step::Verified(finished)) => Next::Done(Ok(finished.verified.into_owned())),
            Ok(Step::Fetch(request)) => Next::Fetch(request),
            // A fetch of this source is in flight elsewhere: nothing to wait
            // for in this instance (snapshots carry no flights), so the
            // source is unusable now.
            Ok(Step::Wait { source, .. }) => Next::Done(Err(validator.unavailable(source))),
            Ok(_) => Next::Done(Err(Error::new(
                ErrorKind::NotSupported,
                "no backend for this signature",
            ))),
            Err(e) => Next::Done(Err(e)),
        };
        compute += t.elapsed();
        let request = match next {
            Next::Done(result) => {
                return Verification {
                    result,
                    deferred,
                    fetches,
                    compute,
                }
            }
            Next::Fetch(request) => request,
        };
        if !request.kid_miss {
            fetched.push(request.source);
        }
        if !request.blocking {
            deferred.push(request);
            continue;
        }
        fetches += 1;
        let outcome = fetch(&request);
        let t = Instant::now();
        let installed = validator.on_fetch(request.source, now, outcome);
        compute += t.elapsed();
        if let Err(e) = installed {
            return Verification {
                result: Err(e),
                deferred,
                fetches,
                compute,
            };
        }
    }
    Verification {
        result: Err(Error::new(
            ErrorKind::JwksTimeout,
            "the remote sources kept changing during verification",
        )),
        deferred,
        fetches,
        compute,
    }
}

/// What the `Authorization` header holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// No `Authorization` header.
    None,
    /// Not `Bearer <b64token>` (RFC 6750 §2.1), or several headers.
    Malformed,
    /// The token.
    Bearer(&'a str),
}

/// Reads the `Authorization` header values (as bytes: a value that is not
/// ASCII is malformed, not a crash).
pub fn credentials<'a>(values: &[&'a [u8]]) -> Credentials<'a> {
    let value = match values {
        [] => return Credentials::None,
        [one] => *one,
        _ => return Credentials::Malformed,
    };
    let Ok(text) = std::str::from_utf8(value) else {
        return Credentials::Malformed;
    };
    // ^Bearer +([A-Za-z0-9\-._~+/]+=*) *$ (case-insensitive scheme)
    let scheme_ok = text
        .get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("bearer"));
    let Some(rest) = text.get(6..).filter(|_| scheme_ok) else {
        return Credentials::Malformed;
    };
    let token = rest.trim_start_matches(' ');
    if token.len() == rest.len() {
        return Credentials::Malformed; // no space after the scheme
    }
    let token = token.trim_end_matches(' ');
    let body = token.trim_end_matches('=');
    let ok = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if ok {
        Credentials::Bearer(token)
    } else {
        Credentials::Malformed
    }
}

/// A quoted-string value safe for `WWW-Authenticate` (RFC 6750 §3:
/// %x20-21 / %x23-5B / %x5D-7E), at most 200 characters.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(200) + 2);
    out.push('"');
    for c in s.chars().take(200) {
        let ok = matches!(c, '\x20' | '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
        out.push(if ok { c } else { '?' });
    }
    out.push('"');
    out
}

/// An answer the gateway gives itself (not the origin's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `(name, value)` headers, lowercase names.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: String,
}

/// Extra parameters of a denial.
#[derive(Debug, Default, Clone, Copy)]
pub struct DenyExtra<'a> {
    /// `scope=` of an `insufficient_scope` answer.
    pub scope: Option<&'a str>,
    /// The claim concerned (body `claim`).
    pub claim: Option<&'a str>,
    /// Which revocation entry matched (body `revocationReason`).
    pub revocation: Option<&'a str>,
}

/// An RFC 6750 §3 denial (worker.js's `deny`): `WWW-Authenticate` except
/// for a 503, which carries `Retry-After: 5` instead; `Cache-Control:
/// no-store`; the body `{"error": code, "oauth_error"?, "message"?, "claim"?, "revocationReason"?}`.
pub fn deny(
    realm: &str,
    status: u16,
    error: Option<&str>,
    code: &str,
    description: Option<&str>,
    extra: DenyExtra<'_>,
) -> Answer {
    let mut params = vec![format!("realm={}", quoted(realm))];
    if let Some(e) = error {
        params.push(format!("error={}", quoted(e)));
    }
    if let Some(d) = description {
        params.push(format!("error_description={}", quoted(d)));
    }
    if let Some(s) = extra.scope {
        params.push(format!("scope={}", quoted(s)));
    }
    let mut headers = vec![("cache-control", String::from("no-store"))];
    if status == 503 {
        headers.push(("retry-after", String::from("5")));
    } else {
        headers.push(("www-authenticate", format!("Bearer {}", params.join(", "))));
    }
    let mut body = Map::new();
    body.insert("error".into(), code.into());
    if let Some(e) = error {
        body.insert("oauth_error".into(), e.into());
    }
    if let Some(d) = description {
        body.insert("message".into(), d.into());
    }
    if let Some(c) = extra.claim {
        body.insert("claim".into(), c.into());
    }
    if let Some(r) = extra.revocation {
        body.insert("revocationReason".into(), r.into());
    }
    headers.push(("content-type", String::from("application/json")));
    Answer {
        status,
        headers,
        body: Value::Object(body).to_string(),
    }
}

/// A plain JSON error answer (`{"error": code}`) without `WWW-Authenticate`.
pub fn error_answer(status: u16, code: &str) -> Answer {
    let mut body = Map::new();
    body.insert("error".into(), code.into());
    Answer {
        status,
        headers: vec![
            ("cache-control", String::from("no-store")),
            ("content-type", String::from("application/json")),
        ],
        body: Value::Object(body).to_string(),
    }
}

/// Retryable failures of the issuer's documents: the gateway, not the token, is at fault.
pub fn unavailable(code: &str) -> bool {
    matches!(
        code,
        "ERR_JWKS_TIMEOUT" | "ERR_REVOCATIONS_UNAVAILABLE" | "ERR_STATUS_LIST_UNAVAILABLE"
    )
}

/// The scopes a token grants: `scope` (space-separated) or `scp` (array).
pub fn scopes_of(claims: &Map<String, Value>) -> Vec<&str> {
    if let Some(Value::String(s)) = claims.get("scope") {
        return s.split(' ').filter(|x| !x.is_empty()).collect();
    }
    if let Some(Value::Array(a)) = claims.get("scp") {
        return a.iter().filter_map(Value::as_str).collect();
    }
    Vec::new()
}

/// A claim as a header value: printable ASCII; anything else (controls,
/// non-ASCII) and `%` percent-encoded as UTF-8 (worker.js's `headerValue`).
pub fn header_value(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (' '..='~').contains(&c) && c != '%' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// JWA signature algorithm names (and `none`); anything else is logged as `other`.
pub fn alg_label(alg: Option<&str>) -> Option<&'static str> {
    const JWA: [&str; 14] = [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "ES512", "EdDSA", "none",
    ];
    alg.map(|a| JWA.iter().find(|j| **j == a).copied().unwrap_or("other"))
}

/// The decision record: one JSON line per request, fields in order.
#[derive(Debug, Default, Clone)]
pub struct Record(Vec<(&'static str, Value)>);

impl Record {
    /// Adds (or replaces) a field.
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Adds a field when present.
    pub fn set_opt(&mut self, key: &'static str, value: Option<&Value>) {
        if let Some(v) = value {
            self.set(key, v.clone());
        }
    }

    /// A field's value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The identifiers of a verified token: `alg`, `kid`, `sub`, `jti`, `client_id`.
    pub fn verified_ids(&mut self, v: &Verified) {
        self.set_opt("alg", v.header.get("alg"));
        self.set_opt("kid", v.header.get("kid"));
        for c in ["sub", "jti", "client_id"] {
            self.set_opt(c, v.claims.get(c));
        }
    }

    /// The identifiers of a refused token, read WITHOUT verification
    /// (`verified: false`); nothing when it does not even decode.
    pub fn unverified_ids(&mut self, token: &str) {
        if let Ok(t) = jwt_edge::inspect(token, None) {
            if let Some(alg) = alg_label(t.header.get("alg").and_then(Value::as_str)) {
                self.set("alg", alg);
            }
            self.set_opt("kid", t.header.get("kid"));
            self.set_opt("sub", t.claims.get("sub"));
            self.set_opt("jti", t.claims.get("jti"));
            self.set("verified", false);
        }
    }

    /// The record as one line of JSON.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (n, (k, v)) in self.0.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(&Value::from(*k).to_string());
            out.push(':');
            out.push_str(&v.to_string());
        }
        out.push('}');
        out
    }
}

/// RFC 3339 UTC time with milliseconds, from unix milliseconds.
pub fn iso_time(unix_ms: u128) -> String {
    let ms = unix_ms % 1000;
    let secs = unix_ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing_follows_rfc6750() {
        assert_eq!(credentials(&[]), Credentials::None);
        assert_eq!(
            credentials(&[b"Bearer abc.def-_~+/=="]),
            Credentials::Bearer("abc.def-_~+/==")
        );
        assert_eq!(credentials(&[b"bearer   x  "]), Credentials::Bearer("x"));
        for bad in [
            &b"Bearer"[..],
            b"Bearerx",
            b"Bearer ",
            b"Bearer a b",
            b"Basic Zm9v",
            b"Bearer \xff",
            b"Bearer =",
        ] {
            assert_eq!(credentials(&[bad]), Credentials::Malformed, "{bad:?}");
        }
        assert_eq!(
            credentials(&[b"Bearer a", b"Bearer b"]),
            Credentials::Malformed
        );
    }

    #[test]
    fn header_values_are_printable_ascii() {
        assert_eq!(
            header_value(&Value::from("jösé 100%")),
            "j%C3%B6s%C3%A9 100%25"
        );
        assert_eq!(header_value(&serde_json::json!(["a", "b"])), "a b");
        assert_eq!(header_value(&serde_json::json!(7)), "7");
        assert_eq!(header_value(&Value::from("a\r\nb")), "a%0D%0Ab");
    }

    #[test]
    fn quoted_strings_are_safe() {
        assert_eq!(quoted("a\"b\\c\u{e9}"), "\"a?b?c?\"");
        assert_eq!(quoted(&"x".repeat(300)).len(), 202);
    }

    #[test]
    fn iso_time_is_rfc3339() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(1_795_984_650_372), "2026-11-29T20:37:30.372Z");
        assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn config_reads_the_worker_bindings() {
        let entries = [
            ("ISSUER", "https://issuer.test"),
            ("AUDIENCE", "[\"https://api.test\",\"b\"]"),
            ("JWKS_URL", "http://127.0.0.1:1/.well-known/jwks.json"),
            ("ORIGIN_URL", "http://127.0.0.1:2"),
            (
                "ROUTES",
                "[{\"prefix\":\"/admin\",\"scopes\":[\"write:reports\"]}]",
            ),
            ("REVOCATIONS_OPTIONS", "{\"minTtl\":1,\"maxTtl\":1}"),
        ];
        let get = |k: &str| {
            Ok(entries
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| String::from(*v)))
        };
        let c = Config::load(get).unwrap();
        assert_eq!(c.audiences, ["https://api.test", "b"]);
        assert_eq!(c.typ.as_deref(), Some("at+jwt"));
        assert_eq!(c.revocations.min_ttl, 1);
        assert_eq!(c.route("/admin/users").unwrap().scopes, ["write:reports"]);
        assert!(c.strips("x-jwt-anything") && c.strips("authorization") && !c.strips("accept"));
        assert!(c.validator().is_ok());
        let bad = |k: &str| Ok(if k == "ISSUER" { None } else { get(k)? });
        assert!(Config::load(bad).unwrap_err().contains("ISSUER"));
    }
}
