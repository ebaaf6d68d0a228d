//! The Fastly Compute side: one instance per request. It reads the
//! configuration from the config store, restores the validator's remote
//! state from Fastly's cache (core cache API), verifies the bearer token
//! (fetching the issuer's JWKS / signed revocation list through the issuer
//! backend when the core says so), answers (or forwards to the origin
//! backend), writes one decision record, and then — after the answer has
//! gone out — performs the background refreshes and stores the state back.

use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fastly::cache::core as cache;
use fastly::http::request::PollResult;
use fastly::http::{header, HeaderName, HeaderValue, Method, StatusCode, Url};
use fastly::{Backend, ConfigStore, Request, Response};
use gate::{Answer, Config, Credentials, DenyExtra, Record, Verification};
use jwt_edge::{FetchOutcome, FetchRequest, Validator};
use serde_json::Value;

/// Unix time in milliseconds (0 if the clock is before 1970: then every
/// token is refused as not yet valid, which is safe).
fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// One line on stdout (Fastly: log tailing; Viceroy: its own output).
/// A failing write is ignored: logging never fails a request.
fn log_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn log_event(event: &str, fields: &[(&'static str, Value)]) {
    let mut r = Record::default();
    r.set("time", gate::iso_time(unix_ms()));
    r.set("event", event);
    for (k, v) in fields {
        r.set(k, v.clone());
    }
    log_line(&r.to_json());
}

fn response_of(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = Response::from_status(status);
    for (name, value) in answer.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            resp.append_header(n, v);
        }
    }
    resp.set_body(answer.body);
    resp
}

/// Work left for after the answer: background refreshes, then the
/// validator's state back into the cache when it changed.
struct After {
    validator: Validator,
    deferred: Vec<FetchRequest>,
    config: Config,
    /// The snapshot the cache holds, as far as this instance knows.
    stored: Option<String>,
}

/// Reads the validator's snapshot from the cache.
fn load_snapshot(key: &str) -> Result<Option<String>, String> {
    let found = cache::lookup(key.to_owned().into())
        .execute()
        .map_err(|e| format!("cache lookup: {e}"))?;
    let Some(found) = found else {
        return Ok(None);
    };
    let body = found.to_stream().map_err(|e| format!("cache body: {e}"))?;
    let mut bytes = Vec::new();
    body.take(gate::MAX_SNAPSHOT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cache read: {e}"))?;
    if bytes.len() > gate::MAX_SNAPSHOT_BYTES {
        return Err(String::from("cache entry too large"));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| String::from("cache entry is not UTF-8"))
}

/// Writes the snapshot (replacing the entry: a later lookup sees this one).
fn store_snapshot(key: &str, snapshot: &str, ttl: Duration) -> Result<(), String> {
    let mut w = cache::insert(key.to_owned().into(), ttl)
        .known_length(snapshot.len() as u64)
        .execute()
        .map_err(|e| format!("cache insert: {e}"))?;
    w.write_all(snapshot.as_bytes())
        .map_err(|e| format!("cache write: {e}"))?;
    w.finish().map_err(|e| format!("cache finish: {e}"))
}

/// A validator for `config` with the state the cache holds (a snapshot that
/// does not import is dropped: a fresh validator then fetches anew).
fn restore(
    config: &Config,
    record: &mut Record,
) -> Result<(Validator, Option<String>), jwt_edge::Error> {
    let t = Instant::now();
    let snapshot = match load_snapshot(&config.snapshot_key()) {
        Ok(s) => s,
        Err(e) => {
            log_event("jwt.cache_error", &[("message", e.into())]);
            None
        }
    };
    record.set("cache_read_us", t.elapsed().as_micros() as u64);
    // What native-timing measures as well: a validator, and its state imported.
    let t = Instant::now();
    let mut validator = config.validator()?;
    let mut state = if snapshot.is_some() { "hit" } else { "miss" };
    if let Some(s) = &snapshot {
        if let Err(e) = validator.import_cache(s) {
            // Partly imported, perhaps: start over from nothing.
            log_event(
                "jwt.cache_error",
                &[(
                    "message",
                    format!("snapshot refused: {}: {}", e.code(), e.message()).into(),
                )],
            );
            validator = config.validator()?;
            state = "refused";
        }
    }
    record.set("snapshot", state);
    record.set("import_us", t.elapsed().as_micros() as u64);
    Ok((validator, snapshot.filter(|_| state == "hit")))
}

/// Fetches a document through the issuer backend, within the core's timeout.
fn fetch(config: &Config, request: &FetchRequest) -> FetchOutcome {
    let Some(url) = config.url_of(request).and_then(|u| Url::parse(u).ok()) else {
        return FetchOutcome::Unreachable(String::from("no valid URL for this source"));
    };
    let backend = match Backend::from_name(&config.issuer_backend) {
        Ok(b) => b,
        Err(e) => {
            return FetchOutcome::Unreachable(format!("backend {}: {e}", config.issuer_backend))
        }
    };
    let mut req = Request::new(Method::GET, url);
    // The validator keeps its own freshness: never Fastly's HTTP cache.
    req.set_pass(true);
    if let Ok(v) = HeaderValue::from_str(gate::accept_of(request)) {
        req.set_header(header::ACCEPT, v);
    }
    if let Some(etag) = request.if_none_match.as_deref() {
        if let Ok(v) = HeaderValue::from_str(etag) {
            req.set_header(header::IF_NONE_MATCH, v);
        }
    }
    let mut pending = match req.send_async(backend) {
        Ok(p) => p,
        Err(e) => return FetchOutcome::Unreachable(format!("send: {e}")),
    };
    // Poll until the response or the core's timeout (bounded: at most
    // timeout / 1 ms rounds).
    let deadline = Instant::now() + Duration::from_secs(request.timeout.max(1));
    let mut resp = loop {
        match pending.poll() {
            PollResult::Done(Ok(resp)) => break resp,
            PollResult::Done(Err(e)) => return FetchOutcome::Unreachable(format!("{e}")),
            PollResult::Pending(p) => {
                if Instant::now() >= deadline {
                    return FetchOutcome::Unreachable(format!(
                        "timeout after {} s",
                        request.timeout
                    ));
                }
                pending = p;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    };
    let header = |name: HeaderName| {
        resp.get_header(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let (cache_control, age, etag) = (
        header(header::CACHE_CONTROL),
        header(header::AGE),
        header(header::ETAG),
    );
    let status = resp.get_status().as_u16();
    let mut body = Vec::new();
    if status == 200 {
        let limit = gate::body_limit(request) as u64 + 1;
        if resp.take_body().take(limit).read_to_end(&mut body).is_err() {
            return FetchOutcome::Unreachable(String::from("the body could not be read"));
        }
    }
    FetchOutcome::Response {
        status,
        cache_control,
        age,
        etag,
        body,
    }
}

/// Forwards the verified request to the origin with the claims as headers.
fn forward(
    mut req: Request,
    config: &Config,
    claims: &serde_json::Map<String, Value>,
) -> Result<Response, String> {
    let names: Vec<HeaderName> = req.get_header_names().cloned().collect();
    for name in names {
        if config.strips(name.as_str()) {
            req.remove_header(&name);
        }
    }
    for (claim, name) in &config.claim_headers {
        if let Some(v) = claims.get(claim) {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("{e}"))?;
            if let Ok(value) = HeaderValue::from_str(&gate::header_value(v)) {
                req.set_header(name, value);
            }
        }
    }
    // Not a join of URLs: a path like "//other.host/x" must not change the host.
    let origin = Url::parse(&config.origin_url).map_err(|e| format!("ORIGIN_URL: {e}"))?;
    let mut target = origin.clone();
    let path = format!("{}{}", origin.path().trim_end_matches('/'), req.get_path());
    target.set_path(&path);
    target.set_query(req.get_query_str());
    if let Some(host) = origin.host_str() {
        let authority = match origin.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        if let Ok(v) = HeaderValue::from_str(&authority) {
            req.set_header(header::HOST, v);
        }
    }
    req.set_url(target);
    // An authenticated answer is never cached at the edge.
    req.set_pass(true);
    let backend = Backend::from_name(&config.origin_backend)
        .map_err(|e| format!("backend {}: {e}", config.origin_backend))?;
    req.send(backend).map_err(|e| format!("{e}"))
}

/// Decides the answer for `req`; fills `record`; returns the work for later.
fn handle(req: Request, record: &mut Record) -> (Response, Option<After>) {
    let config = ConfigStore::try_open(gate::CONFIG_STORE)
        .map_err(|e| format!("config store {}: {e}", gate::CONFIG_STORE))
        .and_then(|store| {
            Config::load(|k| {
                store
                    .try_get(k)
                    .map_err(|e| format!("config store entry {k}: {e}"))
            })
        });
    let config = match config {
        Ok(c) => c,
        Err(message) => return (internal(record, &message), None),
    };
    let realm = config.realm.clone();
    let path = req.get_path().to_owned();
    let route = config.route(&path).cloned();
    if let Some(r) = &route {
        record.set("route", r.prefix.clone());
    }
    let values: Vec<&[u8]> = req
        .get_header_all(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .collect();
    let token = match gate::credentials(&values) {
        Credentials::None => {
            // RFC 6750 §3.1: no error code when the request has no credentials.
            decided(record, "deny", 401, "ERR_NO_TOKEN");
            let a = gate::deny(
                &realm,
                401,
                None,
                "ERR_NO_TOKEN",
                None,
                DenyExtra::default(),
            );
            return (response_of(a), None);
        }
        Credentials::Malformed => {
            decided(record, "deny", 400, "ERR_INVALID_REQUEST");
            let a = gate::deny(
                &realm,
                400,
                Some("invalid_request"),
                "ERR_INVALID_REQUEST",
                Some("the Authorization header is not a Bearer token"),
                DenyExtra::default(),
            );
            return (response_of(a), None);
        }
        Credentials::Bearer(t) => t.to_owned(),
    };

    let (mut validator, imported) = match restore(&config, record) {
        Ok(v) => v,
        Err(e) => {
            return (
                internal(record, &format!("{}: {}", e.code(), e.message())),
                None,
            )
        }
    };
    let now = (unix_ms() / 1000) as u64;
    let Verification {
        result,
        deferred,
        fetches,
        compute,
    } = gate::verify(&mut validator, &token, now, |r| fetch(&config, r));
    record.set("verify_us", compute.as_micros() as u64);
    record.set("fetches", fetches);
    // Documents fetched while the client waited: share them with the next
    // instances before answering (a background refresh is stored after).
    let mut stored = imported;
    if fetches > 0 {
        stored = save(&validator, &config, stored);
    }
    if !deferred.is_empty() {
        record.set("background_fetches", deferred.len());
    }

    let response = match result {
        Ok(verified) => {
            record.verified_ids(&verified);
            let granted = gate::scopes_of(&verified.claims);
            let missing: Vec<&str> = route
                .as_ref()
                .map(|r| {
                    r.scopes
                        .iter()
                        .map(String::as_str)
                        .filter(|s| !granted.contains(s))
                        .collect()
                })
                .unwrap_or_default();
            if let (false, Some(r)) = (missing.is_empty(), &route) {
                decided(record, "deny", 403, "ERR_JWT_CLAIM_VALIDATION_FAILED");
                record.set("claim", "scope");
                let description = format!("the token lacks the scope {}", missing.join(" "));
                let scope = r.scopes.join(" ");
                response_of(gate::deny(
                    &realm,
                    403,
                    Some("insufficient_scope"),
                    "ERR_JWT_CLAIM_VALIDATION_FAILED",
                    Some(&description),
                    DenyExtra {
                        scope: Some(&scope),
                        claim: Some("scope"),
                        revocation: None,
                    },
                ))
            } else {
                let t = Instant::now();
                let forwarded = forward(req, &config, &verified.claims);
                record.set("origin_us", t.elapsed().as_micros() as u64);
                match forwarded {
                    Ok(upstream) => {
                        decided(record, "allow", upstream.get_status().as_u16(), "OK");
                        upstream
                    }
                    Err(message) => {
                        decided(record, "allow", 502, "OK");
                        record.set("origin_error", message);
                        response_of(gate::error_answer(502, "ERR_ORIGIN_UNAVAILABLE"))
                    }
                }
            }
        }
        Err(e) => {
            let code = e.code();
            let status = if gate::unavailable(code) { 503 } else { 401 };
            decided(record, "deny", status, code);
            let claim = e.claim_name().map(String::from);
            let revocation = e.revocation_reason().map(|r| r.as_str());
            if let Some(c) = &claim {
                record.set("claim", c.clone());
            }
            if let Some(r) = revocation {
                record.set("revocation", r);
            }
            record.unverified_ids(&token);
            response_of(gate::deny(
                &realm,
                status,
                (status == 401).then_some("invalid_token"),
                code,
                Some(e.message()),
                DenyExtra {
                    scope: None,
                    claim: claim.as_deref(),
                    revocation,
                },
            ))
        }
    };
    let after = After {
        validator,
        deferred,
        config,
        stored,
    };
    (response, Some(after))
}

fn decided(record: &mut Record, outcome: &str, status: u16, code: &str) {
    record.set("outcome", outcome);
    record.set("status", status);
    record.set("code", code);
}

fn internal(record: &mut Record, message: &str) -> Response {
    decided(record, "error", 500, "ERR_INTERNAL");
    record.set("message", message.chars().take(200).collect::<String>());
    response_of(gate::error_answer(500, "ERR_INTERNAL"))
}

/// After the answer: the background refreshes (stale-while-revalidate),
/// then the state back into the cache when they changed it. (Without any
/// fetch the state is what was read: nothing to store.)
fn finish(after: After) {
    let After {
        mut validator,
        deferred,
        config,
        stored,
    } = after;
    for request in &deferred {
        let outcome = fetch(&config, request);
        let now = (unix_ms() / 1000) as u64;
        match validator.on_fetch(request.source, now, outcome) {
            Ok(installed) => log_event(
                "jwt.refresh",
                &[
                    ("source", request.name.clone().into()),
                    ("installed", installed.into()),
                ],
            ),
            Err(e) => log_event(
                "jwt.refresh",
                &[
                    ("source", request.name.clone().into()),
                    ("installed", false.into()),
                    ("code", e.code().into()),
                ],
            ),
        }
    }
    if !deferred.is_empty() {
        save(&validator, &config, stored);
    }
}

/// Stores the validator's state when it differs from `stored` (what the
/// cache holds); returns what the cache holds now.
fn save(validator: &Validator, config: &Config, stored: Option<String>) -> Option<String> {
    let snapshot = validator.export_cache();
    if stored.as_deref() == Some(snapshot.as_str()) {
        return stored;
    }
    match store_snapshot(&config.snapshot_key(), &snapshot, config.snapshot_ttl()) {
        Ok(()) => Some(snapshot),
        Err(e) => {
            log_event("jwt.cache_error", &[("message", e.into())]);
            stored
        }
    }
}

/// The service's entry point.
pub fn main() {
    let started = Instant::now();
    let req = Request::from_client();
    let mut record = Record::default();
    record.set("time", gate::iso_time(unix_ms()));
    record.set("event", "jwt.decision");
    record.set("method", req.get_method_str().to_owned());
    // Only the path: a query string could carry a token.
    record.set("path", req.get_path().to_owned());
    let (response, after) = handle(req, &mut record);
    record.set("ms", started.elapsed().as_millis() as u64);
    response.send_to_client();
    log_line(&record.to_json());
    if let Some(after) = after {
        finish(after);
    }
}
