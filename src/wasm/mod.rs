//! The wasm-bindgen adapter behind the npm package. It holds no policy: it
//! parses options into a [`Policy`] and a [`KeySet`], and exposes the core's
//! one pipeline split at the signature step, so that the JS glue can hand the
//! signature to the host's crypto (`begin` → host verify → `finish`) or do it
//! all in Rust (`verifySync`).
//!
//! Errors cross the boundary as plain objects
//! `{code, message, claim?, reason?, revocationReason?, retryable}` that the
//! JS glue turns into `JwtEdgeError` instances.

#[cfg(all(feature = "wasm-rt", target_arch = "wasm32", not(feature = "std")))]
mod rt;

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::cache::{Inserted, Lookup, TokenCache, DEFAULT_CAPACITY};
use crate::remote::{FetchOutcome, RemoteConfig, RemoteState};
use crate::{Algorithm, Error, ErrorKind, KeySet, Policy};

/// Error code for bad constructor or call options (not a jose code: jose has no equivalent).
const ERR_INVALID_OPTIONS: &str = "ERR_INVALID_OPTIONS";

fn js_error(e: &Error) -> JsValue {
    let obj = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&obj, &JsValue::from_str(k), &v);
    };
    set("code", JsValue::from_str(e.code()));
    set("message", JsValue::from_str(e.message()));
    if let Some(c) = e.claim_name() {
        set("claim", JsValue::from_str(c));
    }
    if let Some(r) = e.claim_reason() {
        set("reason", JsValue::from_str(r.as_str()));
    }
    if let Some(r) = e.revocation_reason() {
        set("revocationReason", JsValue::from_str(r.as_str()));
    }
    set("retryable", JsValue::from_bool(e.retryable()));
    obj.into()
}

/// Remote source `which` ("jwks" or "revocations") and whether it is the
/// JWKS (a free function over the two fields, so callers can borrow the rest
/// of `Core` beside it).
fn source<'a>(
    jwks: &'a mut Option<RemoteState>,
    revocations: &'a mut Option<RemoteState>,
    which: &str,
) -> Result<(&'a mut RemoteState, bool), JsValue> {
    match which {
        "jwks" => jwks.as_mut().map(|r| (r, true)),
        "revocations" => revocations.as_mut().map(|r| (r, false)),
        _ => None,
    }
    .ok_or_else(|| options_error(msg!("no remote source ", crate::text::Truncated(which))))
}

/// Parses and checks a body of a remote source: a JWKS (plus the configured
/// HMAC secret, if any), or a signed revocation list verified against `keys`.
fn parse_source(
    is_jwks: bool,
    body: &[u8],
    keys: &KeySet,
    policy: &Policy,
    secret: Option<&[u8]>,
) -> crate::Result<Installed> {
    if is_jwks {
        let mut keys = KeySet::from_jwks(body)?;
        if let Some(secret) = secret {
            keys.add_hmac_secret(secret, None, None)?;
        }
        Ok(Installed::Keys(keys))
    } else {
        // Bodies come from JS strings or JSON snapshots: always UTF-8.
        let text = core::str::from_utf8(body).unwrap_or_default();
        crate::verify_revocation_list(text, keys, policy).map(Installed::List)
    }
}

fn options_error(message: impl Into<String>) -> JsValue {
    let obj = Object::new();
    let _ = Reflect::set(&obj, &"code".into(), &ERR_INVALID_OPTIONS.into());
    let _ = Reflect::set(&obj, &"message".into(), &JsValue::from_str(&message.into()));
    let _ = Reflect::set(&obj, &"retryable".into(), &JsValue::FALSE);
    obj.into()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CryptoMode {
    Auto,
    Host,
    Wasm,
}

/// Every option name: anything else is refused, so a typo never goes unnoticed.
const KNOWN_OPTIONS: [&str; 17] = [
    "jwks",
    "secret",
    "revocations",
    "issuer",
    "audience",
    "subject",
    "typ",
    "algorithms",
    "leeway",
    "maxTokenAge",
    "requiredClaims",
    "scopes",
    "crypto",
    "kidlessCandidates",
    "cache",
    "remoteJwks",
    "remoteRevocations",
];

fn take(options: &JsValue, name: &str) -> JsValue {
    Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn type_error(name: &str, expected: &str) -> JsValue {
    options_error(msg!("invalid option \"", name, "\": expected ", expected))
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// A string option.
fn opt_string(options: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let v = take(options, name);
    if absent(&v) {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| type_error(name, "a string"))
}

/// A whole, non-negative number of seconds (or a count).
fn opt_u64(options: &JsValue, name: &str) -> Result<Option<u64>, JsValue> {
    let v = take(options, name);
    if absent(&v) {
        return Ok(None);
    }
    match v.as_f64() {
        // In 0..=2^53-1 the cast is exact, so a round trip detects a fraction
        // (NaN and infinities fail the range test).
        Some(n) if (0.0..=9_007_199_254_740_991.0).contains(&n) && (n as u64) as f64 == n => {
            Ok(Some(n as u64))
        }
        _ => Err(type_error(name, "a non-negative whole number")),
    }
}

/// An array of strings, or (`one_allowed`) a single string.
fn opt_strings(options: &JsValue, name: &str, one_allowed: bool) -> Result<Vec<String>, JsValue> {
    let v = take(options, name);
    if absent(&v) {
        return Ok(Vec::new());
    }
    if one_allowed {
        if let Some(s) = v.as_string() {
            return Ok(alloc::vec![s]);
        }
    }
    let expected = if one_allowed {
        "a string or an array of strings"
    } else {
        "an array of strings"
    };
    let arr = v
        .dyn_into::<Array>()
        .map_err(|_| type_error(name, expected))?;
    arr.iter()
        .map(|item| item.as_string().ok_or_else(|| type_error(name, expected)))
        .collect()
}

/// JSON text of an option given as a string or as a plain object.
fn json_text(value: &JsValue, name: &str) -> Result<String, JsValue> {
    if let Some(s) = value.as_string() {
        return Ok(s);
    }
    if value.is_object() {
        return js_sys::JSON::stringify(value)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| {
                options_error(msg!(
                    "option \"",
                    name,
                    "\" could not be serialised to JSON"
                ))
            });
    }
    Err(options_error(msg!(
        "option \"",
        name,
        "\" must be a JSON string or an object"
    )))
}

fn secret_bytes(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    if let Some(s) = value.as_string() {
        return Ok(s.into_bytes());
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(bytes.to_vec());
    }
    Err(options_error(
        "option \"secret\" must be a Uint8Array or a string",
    ))
}

fn now_secs(now: f64) -> Result<u64, JsValue> {
    if now.is_finite() && (0.0..=crate::MAX_NUMERIC_DATE).contains(&now) {
        Ok(now as u64)
    } else {
        Err(options_error(
            "option \"now\" must be unix seconds (a non-negative finite number)",
        ))
    }
}

/// A plain JS object from (name, value) pairs.
fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&obj, &JsValue::from_str(k), v);
    }
    obj.into()
}

/// `{header, claims}` as the exact JSON texts the core validated strictly
/// (no duplicates, bounded depth); the JS glue turns them into objects with
/// `JSON.parse`, which gives the same values without a serializer in wasm.
fn verified_out(v: &crate::Verified, serial: u64) -> JsValue {
    object(&[
        ("header", JsValue::from_str(&v.header_json)),
        ("claims", JsValue::from_str(&v.claims_json)),
        ("serial", JsValue::from(serial as f64)),
    ])
}

enum Installed {
    Keys(KeySet),
    List(crate::RevocationList),
}

/// The validator behind the JS `Validator` class.
#[wasm_bindgen]
pub struct Core {
    keys: KeySet,
    policy: Policy,
    secret: Option<Vec<u8>>,
    crypto: CryptoMode,
    generation: u32,
    cache: TokenCache,
    remote_jwks: Option<RemoteState>,
    remote_revocations: Option<RemoteState>,
}

/// Reads a remote-source config object `{minTtl, maxTtl, cooldown, maxStale, timeout}`.
fn remote_config(options: &JsValue, name: &str) -> Result<Option<RemoteConfig>, JsValue> {
    let v = take(options, name);
    if absent(&v) {
        return Ok(None);
    }
    let mut c = RemoteConfig::default();
    for (field, slot) in [
        ("minTtl", &mut c.min_ttl),
        ("maxTtl", &mut c.max_ttl),
        ("cooldown", &mut c.cooldown),
        ("maxStale", &mut c.max_stale),
        ("timeout", &mut c.timeout),
    ] {
        if let Some(n) = opt_u64(&v, field)? {
            *slot = n;
        }
    }
    Ok(Some(c))
}

fn plan_out(p: &crate::remote::Plan) -> JsValue {
    object(&[
        ("usable", JsValue::from_bool(p.usable)),
        ("stale", JsValue::from_bool(p.stale)),
        ("fetch", JsValue::from_bool(p.fetch)),
        ("wait", JsValue::from_bool(p.wait)),
        (
            "ifNoneMatch",
            p.if_none_match
                .as_deref()
                .map_or(JsValue::UNDEFINED, JsValue::from_str),
        ),
    ])
}

fn opt_header(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

#[wasm_bindgen]
impl Core {
    /// Parses the options object (see the package's `index.d.ts`).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Core, JsValue> {
        if options.is_undefined() || options.is_null() || !options.is_object() {
            return Err(options_error("options must be an object"));
        }
        for name in Object::keys(options.unchecked_ref::<Object>()).iter() {
            let name = name.as_string().unwrap_or_default();
            if !KNOWN_OPTIONS.contains(&name.as_str()) {
                return Err(options_error(msg!(
                    "unknown option ",
                    crate::text::Truncated(&name),
                    " (known: ",
                    KNOWN_OPTIONS.join(", "),
                    ")"
                )));
            }
        }
        let secret = match take(&options, "secret") {
            v if v.is_undefined() || v.is_null() => None,
            v => Some(secret_bytes(&v)?),
        };
        let mut policy = Policy::new();
        let algorithms = take(&options, "algorithms");
        match (!absent(&algorithms))
            .then(|| opt_strings(&options, "algorithms", false))
            .transpose()?
        {
            Some(names) => {
                let mut algs = Vec::with_capacity(names.len());
                for n in names {
                    let alg = Algorithm::from_name(&n).ok_or_else(|| {
                        options_error(msg!(
                            "invalid option \"algorithms\": unsupported algorithm ",
                            crate::text::Truncated(&n)
                        ))
                    })?;
                    algs.push(alg);
                }
                policy = policy.algorithms(algs);
            }
            None if secret.is_some() => policy = policy.allow_hmac(),
            None => {}
        }
        for iss in opt_strings(&options, "issuer", true)? {
            policy = policy.issuer(iss);
        }
        for aud in opt_strings(&options, "audience", true)? {
            policy = policy.audience(aud);
        }
        if let Some(s) = opt_string(&options, "subject")? {
            policy = policy.subject(s);
        }
        if let Some(t) = opt_string(&options, "typ")? {
            policy = policy.typ(t);
        }
        if let Some(l) = opt_u64(&options, "leeway")? {
            policy = policy.leeway(l);
        }
        if let Some(a) = opt_u64(&options, "maxTokenAge")? {
            policy = policy.max_token_age(a);
        }
        for c in opt_strings(&options, "requiredClaims", false)? {
            policy = policy.require_claim(c);
        }
        for s in opt_strings(&options, "scopes", false)? {
            policy = policy.scope(s);
        }
        if let Some(n) = opt_u64(&options, "kidlessCandidates")? {
            let n = n as usize;
            if n == 0 || n > crate::MAX_KIDLESS_CANDIDATES {
                return Err(options_error(msg!(
                    "invalid option \"kidlessCandidates\": must be between 1 and ",
                    crate::MAX_KIDLESS_CANDIDATES
                )));
            }
            policy = policy.kidless_candidates(n);
        }
        let crypto = match opt_string(&options, "crypto")?.as_deref() {
            None | Some("auto") => CryptoMode::Auto,
            Some("host") => CryptoMode::Host,
            Some("wasm") => CryptoMode::Wasm,
            Some(_) => {
                return Err(options_error(
                    "invalid option \"crypto\": must be \"auto\", \"host\" or \"wasm\"",
                ))
            }
        };
        if take(&options, "jwks").is_undefined()
            && secret.is_none()
            && absent(&take(&options, "remoteJwks"))
        {
            return Err(options_error("options need \"jwks\" or \"secret\""));
        }
        let capacity = opt_u64(&options, "cache")?.map_or(DEFAULT_CAPACITY, |n| n as usize);
        let remote_jwks = remote_config(&options, "remoteJwks")?.map(RemoteState::new);
        let remote_revocations =
            remote_config(&options, "remoteRevocations")?.map(RemoteState::new);
        let mut core = Core {
            keys: KeySet::new(),
            policy,
            secret,
            crypto,
            generation: 0,
            cache: TokenCache::new(capacity.min(1_000_000)),
            remote_jwks,
            remote_revocations,
        };
        core.set_jwks(take(&options, "jwks"))?;
        let revocations = take(&options, "revocations");
        if !revocations.is_undefined() && !revocations.is_null() {
            core.set_revocations(revocations)?;
        }
        Ok(core)
    }

    /// Replaces the public keys (configured secrets are kept).
    #[wasm_bindgen(js_name = setJwks)]
    pub fn set_jwks(&mut self, jwks: JsValue) -> Result<(), JsValue> {
        let mut keys = if jwks.is_undefined() || jwks.is_null() {
            KeySet::new()
        } else {
            KeySet::from_jwks(json_text(&jwks, "jwks")?.as_bytes()).map_err(|e| js_error(&e))?
        };
        if let Some(secret) = &self.secret {
            keys.add_hmac_secret(secret, None, None)
                .map_err(|e| js_error(&e))?;
        }
        self.install_keys(keys);
        Ok(())
    }

    fn install_keys(&mut self, keys: KeySet) {
        self.cache.retain_keys(&keys);
        self.keys = keys;
        self.generation = self.generation.wrapping_add(1);
    }

    fn remote(&mut self, which: &str) -> Result<&mut RemoteState, JsValue> {
        source(&mut self.remote_jwks, &mut self.remote_revocations, which).map(|(r, _)| r)
    }

    /// Puts a parsed remote document in force.
    fn install(&mut self, doc: Installed) -> Result<(), JsValue> {
        match doc {
            Installed::Keys(keys) => self.install_keys(keys),
            Installed::List(list) => {
                self.policy
                    .revocations_mut()
                    .insert(list)
                    .map_err(|e| js_error(&e))?;
                self.generation = self.generation.wrapping_add(1);
            }
        }
        Ok(())
    }

    /// What to do about remote source `which` ("jwks" or "revocations") now:
    /// `{usable, stale, fetch, wait, ifNoneMatch}`. `fetch: true` makes the
    /// caller the single flight; it must report with `onFetch`.
    pub fn plan(&mut self, which: &str, now: f64) -> Result<JsValue, JsValue> {
        let now = now_secs(now)?;
        Ok(plan_out(&self.remote(which)?.plan(now)))
    }

    /// Reports a fetch of remote source `which` (`status` 0 = failed). Returns
    /// true when new data was installed. A body that does not parse (or, for
    /// revocations, does not verify) counts as a failed fetch.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = onFetch)]
    pub fn on_fetch(
        &mut self,
        which: &str,
        now: f64,
        status: u16,
        cache_control: Option<String>,
        age: Option<String>,
        etag: Option<String>,
        body: Option<String>,
    ) -> Result<bool, JsValue> {
        let now = now_secs(now)?;
        // Status 0 is how the JS glue reports a network failure or timeout.
        let outcome = if status == 0 {
            FetchOutcome::Failed
        } else {
            FetchOutcome::Response {
                status,
                cache_control: opt_header(cache_control),
                age: opt_header(age),
                etag: opt_header(etag),
                body: body.unwrap_or_default().into_bytes(),
            }
        };
        // The state decides whether the body is taken (only if it parses).
        let (keys, policy, secret) = (&self.keys, &self.policy, self.secret.as_deref());
        let (remote, is_jwks) = source(&mut self.remote_jwks, &mut self.remote_revocations, which)?;
        let (_, accepted) = remote.on_result(now, outcome, |body| {
            parse_source(is_jwks, body, keys, policy, secret)
        });
        match accepted {
            Some(doc) => self.install(doc).map(|()| true),
            None => Ok(false),
        }
    }

    /// Whether remote source `which` holds usable data at `now` (no side effects).
    pub fn usable(&mut self, which: &str, now: f64) -> Result<bool, JsValue> {
        let now = now_secs(now)?;
        Ok(self.remote(which)?.is_usable(now))
    }

    /// A token named an unknown `kid`: whether to refetch the remote JWKS now
    /// (at most once per cooldown; the caller then reports with `onFetch`).
    #[wasm_bindgen(js_name = kidMiss)]
    pub fn kid_miss(&mut self, now: f64) -> Result<bool, JsValue> {
        let now = now_secs(now)?;
        Ok(self
            .remote_jwks
            .as_mut()
            .is_some_and(|r| r.on_kid_miss(now)))
    }

    /// The error for a remote source with nothing usable (fail closed).
    pub fn unavailable(&self, which: &str) -> JsValue {
        let (state, kind) = if which == "jwks" {
            (&self.remote_jwks, ErrorKind::JwksTimeout)
        } else {
            (&self.remote_revocations, ErrorKind::RevocationsUnavailable)
        };
        let err = match state {
            Some(state) => state.unavailable(kind),
            None => RemoteState::default().unavailable(kind),
        };
        js_error(&err)
    }

    /// `{"jwks":snapshot|null,"revocations":snapshot|null}` for KV storage.
    #[wasm_bindgen(js_name = exportCache)]
    pub fn export_cache(&self) -> String {
        let snap = |r: &Option<RemoteState>| {
            r.as_ref()
                .map_or(String::from("null"), RemoteState::snapshot)
        };
        msg!(
            "{\"jwks\":",
            snap(&self.remote_jwks),
            ",\"revocations\":",
            snap(&self.remote_revocations),
            "}"
        )
    }

    /// Restores a snapshot from `exportCache` (bodies are parsed and verified again).
    #[wasm_bindgen(js_name = importCache)]
    pub fn import_cache(&mut self, snapshot: &str) -> Result<(), JsValue> {
        let doc = crate::json::parse_object(snapshot.as_bytes(), 6).map_err(|e| {
            js_error(&Error::new(
                ErrorKind::JwksInvalid,
                msg!("invalid cache snapshot: ", e),
            ))
        })?;
        for which in ["jwks", "revocations"] {
            let Some(serde_json::Value::Object(snap)) = doc.get(which) else {
                continue;
            };
            let mut state = self.remote(which)?.clone();
            state.restore_map(snap).map_err(|e| js_error(&e))?;
            let Some(body) = state.body() else {
                continue;
            };
            let doc = parse_source(
                which == "jwks",
                body,
                &self.keys,
                &self.policy,
                self.secret.as_deref(),
            )
            .map_err(|e| js_error(&e))?;
            self.install(doc)?;
            *self.remote(which)? = state;
        }
        Ok(())
    }

    /// The verified-token cache's answer for `token`: `{hit: serial}` on a
    /// hit, `None` on a miss, an error when a cached token now fails a time
    /// check (e.g. it has expired).
    fn cache_hit(&mut self, token: &str, now: u64) -> Result<Option<JsValue>, JsValue> {
        match self.cache.get(token, &self.policy, now) {
            Lookup::Hit(_, serial) => Ok(Some(object(&[("hit", JsValue::from(serial as f64))]))),
            Lookup::Rejected(e) => Err(js_error(&e)),
            Lookup::Miss => Ok(None),
        }
    }

    /// The cached result for `token` (after `begin`/`verifySync` reported a hit).
    #[wasm_bindgen(js_name = cachedResult)]
    pub fn cached_result(&mut self, token: &str, now: f64) -> Result<JsValue, JsValue> {
        let now = now_secs(now)?;
        match self.cache.get(token, &self.policy, now) {
            Lookup::Hit(v, serial) => Ok(verified_out(v, serial)),
            Lookup::Rejected(e) => Err(js_error(&e)),
            Lookup::Miss => Ok(JsValue::UNDEFINED),
        }
    }

    /// `[hits, misses, entries]` of the verified-token cache.
    #[wasm_bindgen(js_name = cacheStats)]
    pub fn cache_stats(&self) -> Array {
        let (h, m) = self.cache.stats();
        [h as f64, m as f64, self.cache.len() as f64]
            .iter()
            .map(|&n| JsValue::from(n))
            .collect()
    }

    /// Installs a revocation list: an object, its JSON text, or a signed JWS.
    #[wasm_bindgen(js_name = setRevocations)]
    pub fn set_revocations(&mut self, list: JsValue) -> Result<(), JsValue> {
        let text = json_text(&list, "revocations")?;
        crate::install_revocations(&text, &self.keys, &mut self.policy)
            .map_err(|e| js_error(&e))?;
        self.generation = self.generation.wrapping_add(1);
        Ok(())
    }

    /// Changes whenever keys or revocation data change.
    #[wasm_bindgen(getter)]
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// `"auto"`, `"host"` or `"wasm"`.
    #[wasm_bindgen(getter)]
    pub fn crypto(&self) -> String {
        match self.crypto {
            CryptoMode::Auto => "auto",
            CryptoMode::Host => "host",
            CryptoMode::Wasm => "wasm",
        }
        .into()
    }

    /// Keys of the JWKS that were skipped, with the reason.
    pub fn issues(&self) -> Array {
        self.keys
            .issues()
            .iter()
            .map(|i| {
                let kid = i
                    .kid
                    .as_deref()
                    .map_or(JsValue::UNDEFINED, JsValue::from_str);
                object(&[
                    ("index", JsValue::from(i.index as f64)),
                    ("kid", kid),
                    ("message", JsValue::from_str(&i.message)),
                ])
            })
            .collect()
    }

    /// Parses `token` and selects candidate keys. Returns
    /// `{alg, generation, rust, hmac, keys, ids, input, signature}` where `keys`
    /// are the indices of candidates whose expected signature length matches
    /// (and `ids` their stable positions in the key set)
    /// (host crypto never sees a signature of the wrong length), `rust` says
    /// whether this build can check the signature in Rust and `hmac` that the
    /// algorithm is symmetric (always checked in Rust).
    ///
    /// Two shortcuts save a second call: a cache hit returns `{hit: serial}`;
    /// when the signature is checked in Rust anyway (HMAC, or `crypto: "wasm"`)
    /// the whole pipeline runs here and `{done: result}` is returned.
    pub fn begin(&mut self, token: &str, now: f64) -> Result<JsValue, JsValue> {
        let now_s = now_secs(now)?;
        if let Some(hit) = self.cache_hit(token, now_s)? {
            return Ok(hit);
        }
        let pending = crate::begin(token, &self.keys, &self.policy).map_err(|e| js_error(&e))?;
        if pending.alg().is_symmetric() || self.crypto == CryptoMode::Wasm {
            let verified_by = pending.check_signature().map_err(|e| js_error(&e))?;
            let verified = crate::finish(pending, verified_by, now_s).map_err(|e| js_error(&e))?;
            let done = self.remember(token, verified);
            return Ok(object(&[("done", done)]));
        }
        let alg = pending.alg();
        let sig_len = pending.signature().len();
        let (keys, ids) = (Array::new(), Array::new());
        for (i, key) in pending.keys().iter().enumerate() {
            if key.signature_len(alg) == Some(sig_len) {
                keys.push(&JsValue::from(i as u32));
                // A stable id for the key within this generation: its position
                // in the key set (for caching imported host keys).
                let id = self.keys.keys().iter().position(|k| core::ptr::eq(k, *key));
                ids.push(&JsValue::from(id.unwrap_or(usize::MAX) as f64));
            }
        }
        let out = Object::new();
        let set = |k: &str, v: &JsValue| {
            let _ = Reflect::set(&out, &JsValue::from_str(k), v);
        };
        set("alg", &JsValue::from_str(alg.name()));
        set("generation", &JsValue::from(self.generation));
        set("rust", &JsValue::from_bool(alg.has_rust_backend()));
        set("hmac", &JsValue::from_bool(alg.is_symmetric()));
        set("keys", &keys);
        set("ids", &ids);
        set("input", &Uint8Array::from(pending.signing_input()).into());
        set("signature", &Uint8Array::from(pending.signature()).into());
        Ok(out.into())
    }

    /// The public JWK of candidate `index` of `token`, for importing into host crypto.
    #[wasm_bindgen(js_name = keyJwk)]
    pub fn key_jwk(&self, token: &str, index: usize) -> Result<JsValue, JsValue> {
        let pending = crate::begin(token, &self.keys, &self.policy).map_err(|e| js_error(&e))?;
        let jwk = pending
            .keys()
            .get(index)
            .and_then(|k| k.public_jwk())
            .ok_or_else(|| options_error("no public JWK for that candidate"))?;
        // Public JWK members are all strings.
        let pairs: Vec<(&str, JsValue)> = jwk
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), JsValue::from_str(s))))
            .collect();
        Ok(object(&pairs))
    }

    /// Checks candidate `index` in Rust (used when the host cannot import a key).
    #[wasm_bindgen(js_name = checkKey)]
    pub fn check_key(&self, token: &str, index: usize) -> Result<bool, JsValue> {
        let pending = crate::begin(token, &self.keys, &self.policy).map_err(|e| js_error(&e))?;
        let key = pending
            .keys()
            .get(index)
            .ok_or_else(|| options_error("no such candidate key"))?;
        key.verify_signature(pending.alg(), pending.signing_input(), pending.signature())
            .map_err(|e| js_error(&e))
    }

    /// Finishes verification after the host's signature check. Returns
    /// `undefined` when keys or revocations changed since `begin`
    /// (`generation` differs): the caller starts again.
    pub fn finish(
        &mut self,
        token: &str,
        verified_by: Option<u32>,
        now: f64,
        generation: u32,
    ) -> Result<JsValue, JsValue> {
        if generation != self.generation {
            return Ok(JsValue::UNDEFINED);
        }
        let now = now_secs(now)?;
        let pending = crate::begin(token, &self.keys, &self.policy).map_err(|e| js_error(&e))?;
        let verified = crate::finish(pending, verified_by.map(|i| i as usize), now)
            .map_err(|e| js_error(&e))?;
        Ok(self.remember(token, verified))
    }

    fn remember(&mut self, token: &str, verified: crate::Verified) -> JsValue {
        match self.cache.insert(token, verified, &self.policy) {
            Inserted::Cached(cached, serial) => verified_out(cached, serial),
            Inserted::NotCached(uncached) => verified_out(&uncached, 0),
        }
    }

    /// The whole pipeline in Rust (`{hit: serial}` on a cache hit).
    #[wasm_bindgen(js_name = verifySync)]
    pub fn verify_sync(&mut self, token: &str, now: f64) -> Result<JsValue, JsValue> {
        let now = now_secs(now)?;
        if let Some(hit) = self.cache_hit(token, now)? {
            return Ok(hit);
        }
        let verified =
            crate::verify(token, &self.keys, &self.policy, now).map_err(|e| js_error(&e))?;
        Ok(self.remember(token, verified))
    }
}

/// Decodes a token without verifying it (see `jwt_edge::inspect`).
#[wasm_bindgen]
pub fn inspect(token: &str, now: f64) -> Result<JsValue, JsValue> {
    let now = now_secs(now)?;
    let i = crate::inspect(token, Some(now)).map_err(|e| js_error(&e))?;
    let warnings: Array = i
        .warnings
        .iter()
        .map(|w| {
            object(&[
                ("code", JsValue::from_str(w.code)),
                ("message", JsValue::from_str(&w.message)),
            ])
        })
        .collect();
    Ok(object(&[
        ("header", JsValue::from_str(&i.header_json)),
        ("claims", JsValue::from_str(&i.claims_json)),
        ("warnings", warnings.into()),
    ]))
}

/// The algorithms this build can verify in pure Rust.
#[wasm_bindgen(js_name = rustAlgorithms)]
pub fn rust_algorithms() -> Array {
    Algorithm::ALL
        .into_iter()
        .filter(|a| a.has_rust_backend())
        .map(|a| JsValue::from_str(a.name()))
        .collect()
}

/// Installs a panic hook that prints panics to the console (debug builds).
#[cfg(feature = "debug-panic")]
#[wasm_bindgen(js_name = debugPanics)]
pub fn debug_panics() {
    console_error_panic_hook::set_once();
}
