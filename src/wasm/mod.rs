//! The wasm-bindgen adapter behind the npm package. It holds no policy: it
//! reads the options into the core's [`Validator`] (options.rs) and translates
//! the validator's [`Step`]s into plain objects for the JS glue, which only
//! performs what a step asks for: a fetch, a wait, or the host's signature
//! check.
//!
//! Errors cross the boundary as plain objects, the core's one JSON shape
//! ([`Error::to_json`]): `{code, message, claim?, reason?, revocationReason?,
//! retryable}`, which the JS glue turns into `JwtEdgeError` instances.

#[cfg(all(feature = "wasm-rt", target_arch = "wasm32", not(feature = "std")))]
mod rt;

mod options;

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::remote::FetchOutcome;
use crate::validator::{Finished, Mode, SignatureCheck, Source, Step};
use crate::{Algorithm, Error, ErrorKind, Validator};

fn js_error(e: &Error) -> JsValue {
    js_sys::JSON::parse(&e.to_json()).unwrap_or_else(|_| JsValue::from_str(e.code()))
}

fn options_error(message: impl Into<String>) -> JsValue {
    js_error(&Error::new(ErrorKind::InvalidOptions, message.into()))
}

fn now_secs(now: f64) -> Result<u64, JsValue> {
    // The upper bound is the core's (Validator::begin); NaN, infinities and
    // negative numbers are not numbers of seconds at all.
    if now.is_finite() && now >= 0.0 {
        Ok(now as u64)
    } else {
        Err(js_error(&crate::validator::invalid_now()))
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

/// `[from, until)` of a cached result (see `Finished::window`), for the JS
/// glue's map of repeated tokens; absent when not cached.
fn window_pairs(done: &Finished<'_>) -> [(&'static str, JsValue); 2] {
    let (from, until) = done
        .window
        .map_or((JsValue::UNDEFINED, JsValue::UNDEFINED), |(f, u)| {
            (JsValue::from(f as f64), JsValue::from(u as f64))
        });
    [("from", from), ("until", until)]
}

/// `{header, claims, serial, from?, until?}` with the exact JSON texts the
/// core validated strictly (no duplicates, bounded depth); the JS glue turns
/// them into objects with `JSON.parse`, which gives the same values without a
/// serializer in wasm.
fn verified_out(done: &Finished<'_>) -> JsValue {
    let [from, until] = window_pairs(done);
    object(&[
        ("header", JsValue::from_str(&done.verified.header_json)),
        ("claims", JsValue::from_str(&done.verified.claims_json)),
        ("serial", JsValue::from(done.serial as f64)),
        from,
        until,
    ])
}

/// A cache hit is `{hit: serial, from, until}` (the JS glue keeps the parsed
/// result per serial), anything else verified is `{done: {header, claims, ...}}`.
fn finished_out(done: &Finished<'_>) -> JsValue {
    if done.hit {
        let [from, until] = window_pairs(done);
        object(&[("hit", JsValue::from(done.serial as f64)), from, until])
    } else {
        object(&[("done", verified_out(done))])
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CryptoMode {
    Auto,
    Host,
    Wasm,
}

/// Most signature checks in flight at once (between `begin` and `finish`);
/// past it the oldest is dropped and its `finish` reports an error.
const MAX_PENDING: usize = 1024;

/// The validator behind the JS `Validator` class.
#[wasm_bindgen]
pub struct Core {
    validator: Validator,
    crypto: CryptoMode,
    /// Signature checks handed to the host, by id.
    pending: Vec<(u32, SignatureCheck)>,
    next_id: u32,
}

#[wasm_bindgen]
impl Core {
    /// Parses the options object (see the package's `index.d.ts`).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Core, JsValue> {
        let (builder, adapter) = options::read(&options)?;
        let validator = builder.build().map_err(|e| js_error(&e))?;
        let mut core = Core {
            validator,
            crypto: adapter.crypto,
            pending: Vec::new(),
            next_id: 0,
        };
        if !adapter.revocations.is_undefined() && !adapter.revocations.is_null() {
            core.set_revocations(adapter.revocations)?;
        }
        Ok(core)
    }

    /// Seeds the jitter of the retry delays after failed fetches (the glue
    /// passes a random number per instance; see `Validator::set_jitter_seed`).
    #[wasm_bindgen(js_name = setJitterSeed)]
    pub fn set_jitter_seed(&mut self, seed: u32) {
        self.validator.set_jitter_seed(u64::from(seed));
    }

    /// Replaces the public keys (configured secrets are kept) of the
    /// single-issuer form, or of issuer `index` of the multi-issuer form.
    #[wasm_bindgen(js_name = setJwks)]
    pub fn set_jwks(&mut self, jwks: JsValue, index: Option<u32>) -> Result<(), JsValue> {
        let keys = options::jwks(&jwks)?.unwrap_or_default();
        self.validator
            .set_keys(index.unwrap_or(0) as usize, keys)
            .map_err(|e| js_error(&e))
    }

    /// Installs a revocation list: an object, its JSON text, or a signed JWS.
    #[wasm_bindgen(js_name = setRevocations)]
    pub fn set_revocations(&mut self, list: JsValue) -> Result<(), JsValue> {
        let text = options::json_text(&list, "revocations")?;
        self.validator
            .install_revocations(&text)
            .map_err(|e| js_error(&e))
    }

    /// Installs a Token Status List (`statuslist+jwt` JWS) fetched from `uri`.
    #[wasm_bindgen(js_name = setStatusList)]
    pub fn set_status_list(&mut self, uri: &str, jws: &str, now: f64) -> Result<(), JsValue> {
        let now = now_secs(now)?;
        self.validator
            .install_status_list(uri, jws, now)
            .map_err(|e| js_error(&e))
    }

    /// The names of the remote sources (`jwks`, `jwks:N`, `revocations`).
    pub fn sources(&self) -> Array {
        self.validator
            .sources()
            .into_iter()
            .map(|(_, name)| JsValue::from_str(&name))
            .collect()
    }

    fn source(&self, name: &str) -> Result<Source, JsValue> {
        self.validator
            .source(name)
            .ok_or_else(|| options_error(msg!("no remote source ", crate::text::Truncated(name))))
    }

    /// Reports a fetch of source `name` (`status` 0 = failed). Returns true
    /// when new data was installed. A body that does not parse (or, for
    /// revocations, does not verify) counts as a failed fetch.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = onFetch)]
    pub fn on_fetch(
        &mut self,
        name: &str,
        now: f64,
        status: u16,
        cache_control: Option<String>,
        age: Option<String>,
        etag: Option<String>,
        body: Option<String>,
    ) -> Result<bool, JsValue> {
        let now = now_secs(now)?;
        let source = self.source(name)?;
        let header = |v: Option<String>| v.filter(|s| !s.is_empty());
        // Status 0 is how the JS glue reports a network failure or timeout
        // (then `body` says what happened).
        let outcome = if status == 0 {
            match body {
                Some(cause) if !cause.is_empty() => FetchOutcome::Unreachable(cause),
                _ => FetchOutcome::Failed,
            }
        } else {
            FetchOutcome::Response {
                status,
                cache_control: header(cache_control),
                age: header(age),
                etag: header(etag),
                body: body.unwrap_or_default().into_bytes(),
            }
        };
        self.validator
            .on_fetch(source, now, outcome)
            .map_err(|e| js_error(&e))
    }

    /// The error for a source with nothing usable (fail closed), e.g. after
    /// waiting for another request's fetch timed out.
    pub fn unavailable(&self, name: &str) -> JsValue {
        match self.source(name) {
            Ok(source) => js_error(&self.validator.unavailable(source)),
            Err(e) => e,
        }
    }

    /// A JSON snapshot of the remote sources for KV storage.
    #[wasm_bindgen(js_name = exportCache)]
    pub fn export_cache(&self) -> String {
        self.validator.export_cache()
    }

    /// Restores a snapshot from `exportCache` (bodies are parsed and verified again).
    #[wasm_bindgen(js_name = importCache)]
    pub fn import_cache(&mut self, snapshot: &str) -> Result<(), JsValue> {
        self.validator
            .import_cache(snapshot)
            .map_err(|e| js_error(&e))
    }

    /// The cached result for `token` (after `begin`/`verifySync` reported a hit).
    #[wasm_bindgen(js_name = cachedResult)]
    pub fn cached_result(&mut self, token: &str, now: f64) -> Result<JsValue, JsValue> {
        let now = now_secs(now)?;
        Ok(match self.validator.cached(token, now) {
            Some((v, serial)) => object(&[
                ("header", JsValue::from_str(&v.header_json)),
                ("claims", JsValue::from_str(&v.claims_json)),
                ("serial", JsValue::from(serial as f64)),
            ]),
            None => JsValue::UNDEFINED,
        })
    }

    /// How many entries the verified-token cache holds at most (the JS glue
    /// keeps no more repeated tokens than that).
    #[wasm_bindgen(getter, js_name = cacheCapacity)]
    pub fn cache_capacity(&self) -> u32 {
        u32::try_from(self.validator.cache_capacity()).unwrap_or(u32::MAX)
    }

    /// `[hits, misses, entries]` of the verified-token cache.
    #[wasm_bindgen(js_name = cacheStats)]
    pub fn cache_stats(&self) -> Array {
        let (h, m, n) = self.validator.cache_stats();
        [h as f64, m as f64, n as f64]
            .iter()
            .map(|&n| JsValue::from(n))
            .collect()
    }

    /// Changes whenever keys or revocation data change.
    #[wasm_bindgen(getter)]
    pub fn generation(&self) -> u32 {
        self.validator.generation() as u32
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

    /// Keys of the JWKS (of every issuer) that were skipped, with the reason.
    pub fn issues(&self) -> Array {
        let out = Array::new();
        for (issuer, keys) in self.validator.key_sets() {
            for i in keys.issues() {
                let kid = i
                    .kid
                    .as_deref()
                    .map_or(JsValue::UNDEFINED, JsValue::from_str);
                out.push(&object(&[
                    ("index", JsValue::from(i.index as f64)),
                    ("kid", kid),
                    ("message", JsValue::from_str(&i.message)),
                    (
                        "issuer",
                        issuer.map_or(JsValue::UNDEFINED, JsValue::from_str),
                    ),
                ]));
            }
        }
        out
    }

    /// One step of an asynchronous verification: `{hit: serial}`,
    /// `{done: result}` (verified in Rust: HMAC, or `crypto: "wasm"`),
    /// `{fetch: name, ifNoneMatch, blocking, timeout}`,
    /// `{wait: name, pollMs, timeout}`, or the signature step
    /// `{id, alg, rust, keys, input, signature}` for the host (`keys`: a
    /// stable id per candidate key, for caching imported host keys), which
    /// the caller completes with `finish(id, ...)`. `rust`: the host has no
    /// crypto, so every signature is checked here. `fetched`: the names of
    /// the sources this verification already fetched for their freshness
    /// (see `Validator::begin_after`).
    pub fn begin(
        &mut self,
        token: &str,
        now: f64,
        rust: Option<bool>,
        fetched: Option<Vec<String>>,
    ) -> Result<JsValue, JsValue> {
        let now = now_secs(now)?;
        let mode = Mode {
            rust_signatures: rust == Some(true) || self.crypto == CryptoMode::Wasm,
            fetch: true,
        };
        let fetched: Vec<Source> = fetched
            .unwrap_or_default()
            .iter()
            .filter_map(|name| self.validator.source(name))
            .collect();
        let check = match self.validator.begin_after(token, now, mode, &fetched) {
            Ok(Step::Verified(done)) => return Ok(finished_out(&done)),
            Ok(Step::Signature(check)) => check,
            Ok(Step::Fetch(r)) => {
                return Ok(object(&[
                    ("fetch", JsValue::from_str(&r.name)),
                    (
                        "ifNoneMatch",
                        r.if_none_match
                            .as_deref()
                            .map_or(JsValue::UNDEFINED, JsValue::from_str),
                    ),
                    ("blocking", JsValue::from_bool(r.blocking)),
                    ("kidMiss", JsValue::from_bool(r.kid_miss)),
                    (
                        "url",
                        r.url
                            .as_deref()
                            .map_or(JsValue::UNDEFINED, JsValue::from_str),
                    ),
                    ("timeout", JsValue::from(r.timeout as f64)),
                ]))
            }
            Ok(Step::Wait {
                source,
                poll_ms,
                timeout,
            }) => {
                let multi = self.validator.is_multi_issuer();
                return Ok(object(&[
                    ("wait", JsValue::from_str(&source.name(multi))),
                    ("pollMs", JsValue::from(poll_ms)),
                    ("timeout", JsValue::from(timeout as f64)),
                ]));
            }
            Err(e) => return Err(js_error(&e)),
        };
        let keys: Array = (0..check.candidates())
            .map(|n| JsValue::from_str(check.key_id(n).unwrap_or_default()))
            .collect();
        let out = object(&[
            ("id", JsValue::from(self.next_id)),
            ("alg", JsValue::from_str(check.alg().name())),
            ("rust", JsValue::from_bool(check.has_rust_backend())),
            ("keys", keys.into()),
            ("input", Uint8Array::from(check.signing_input()).into()),
            ("signature", Uint8Array::from(check.signature()).into()),
        ]);
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push((self.next_id, check));
        self.next_id = self.next_id.wrapping_add(1);
        Ok(out)
    }

    fn pending(&self, id: u32) -> Result<&SignatureCheck, JsValue> {
        self.pending
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, c)| c)
            .ok_or_else(|| options_error("no such verification in progress"))
    }

    /// The public JWK of candidate `n` of verification `id`, for importing
    /// into the host's crypto.
    #[wasm_bindgen(js_name = keyJwk)]
    pub fn key_jwk(&self, id: u32, n: usize) -> Result<JsValue, JsValue> {
        let check = self.pending(id)?;
        let jwk = self
            .validator
            .candidate_key(check, n)
            .and_then(|k| k.public_jwk())
            .ok_or_else(|| options_error("no public JWK for that candidate"))?;
        // Public JWK members are all strings.
        let pairs: Vec<(&str, JsValue)> = jwk
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), JsValue::from_str(s))))
            .collect();
        Ok(object(&pairs))
    }

    /// Checks candidate `n` of verification `id` in Rust, for a key the
    /// host's crypto could not import. Refused (`ERR_JOSE_NOT_SUPPORTED`)
    /// with `crypto: "host"` or when this build has no backend for it.
    #[wasm_bindgen(js_name = checkKey)]
    pub fn check_key(&self, id: u32, n: usize) -> Result<bool, JsValue> {
        let check = self.pending(id)?;
        if self.crypto == CryptoMode::Host || !check.has_rust_backend() {
            let alg = check.alg();
            return Err(js_error(&Error::new(
                ErrorKind::NotSupported,
                if check.has_rust_backend() {
                    msg!(
                        alg,
                        ": the host's crypto cannot use this key and crypto is \"host\""
                    )
                } else {
                    msg!(alg, ": the host's crypto cannot use this key and this build has no pure-Rust backend for it (use jwt-edge/full)")
                },
            )));
        }
        self.validator
            .check_candidate(check, n)
            .map_err(|e| js_error(&e))
    }

    /// Completes verification `id` after the host's signature check
    /// (`verified_by`: the candidate that verified, or undefined).
    pub fn finish(
        &mut self,
        id: u32,
        verified_by: Option<u32>,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let now = now_secs(now)?;
        let Some(pos) = self.pending.iter().position(|(i, _)| *i == id) else {
            return Err(options_error(
                "no such verification in progress (more than 1024 were in flight at once)",
            ));
        };
        let (_, check) = self.pending.remove(pos);
        match self
            .validator
            .finish(check, verified_by.map(|n| n as usize), now)
        {
            Ok(done) => Ok(verified_out(&done)),
            Err(e) => Err(js_error(&e)),
        }
    }

    /// Drops verification `id` (the host's check threw).
    pub fn abandon(&mut self, id: u32) {
        self.pending.retain(|(i, _)| *i != id);
    }

    /// The whole pipeline in Rust, with the remote sources as held
    /// (`{hit: serial}` on a cache hit, else `{header, claims, serial}`).
    #[wasm_bindgen(js_name = verifySync)]
    pub fn verify_sync(&mut self, token: &str, now: f64) -> Result<JsValue, JsValue> {
        let now = now_secs(now)?;
        let mode = Mode {
            rust_signatures: true,
            fetch: false,
        };
        match self.validator.begin(token, now, mode) {
            Ok(Step::Verified(done)) if done.hit => Ok(finished_out(&done)),
            Ok(Step::Verified(done)) => Ok(verified_out(&done)),
            Ok(_) => Err(options_error("unexpected verification step")),
            Err(e) => Err(js_error(&e)),
        }
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
