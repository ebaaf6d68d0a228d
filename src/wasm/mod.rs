//! The wasm-bindgen adapter behind the npm package. It holds no policy: it
//! parses options into a [`Policy`] and a [`KeySet`], and exposes the core's
//! one pipeline split at the signature step, so that the JS glue can hand the
//! signature to the host's crypto (`begin` → host verify → `finish`) or do it
//! all in Rust (`verifySync`).
//!
//! Errors cross the boundary as plain objects
//! `{code, message, claim?, reason?, revocationReason?, retryable}` that the
//! JS glue turns into `JwtEdgeError` instances.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::{Algorithm, Error, KeySet, Policy};

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
const KNOWN_OPTIONS: [&str; 15] = [
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
];

fn take(options: &JsValue, name: &str) -> JsValue {
    Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn type_error(name: &str, expected: &str) -> JsValue {
    options_error(format!("invalid option \"{name}\": expected {expected}"))
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
        Some(n)
            if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 =>
        {
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
                options_error(format!("option \"{name}\" could not be serialised to JSON"))
            });
    }
    Err(options_error(format!(
        "option \"{name}\" must be a JSON string or an object"
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
fn verified_out(v: &crate::Verified) -> JsValue {
    object(&[
        ("header", JsValue::from_str(&v.header_json)),
        ("claims", JsValue::from_str(&v.claims_json)),
    ])
}

/// The validator behind the JS `Validator` class.
#[wasm_bindgen]
pub struct Core {
    keys: KeySet,
    policy: Policy,
    secret: Option<Vec<u8>>,
    crypto: CryptoMode,
    generation: u32,
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
                return Err(options_error(format!(
                    "unknown option {:?} (known: {})",
                    crate::text::Truncated(&name),
                    KNOWN_OPTIONS.join(", ")
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
                        options_error(format!(
                            "invalid option \"algorithms\": unsupported algorithm {:?}",
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
                return Err(options_error(format!(
                    "invalid option \"kidlessCandidates\": must be between 1 and {}",
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
        if take(&options, "jwks").is_undefined() && secret.is_none() {
            return Err(options_error("options need \"jwks\" or \"secret\""));
        }
        let mut core = Core {
            keys: KeySet::new(),
            policy,
            secret,
            crypto,
            generation: 0,
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
        self.keys = keys;
        self.generation = self.generation.wrapping_add(1);
        Ok(())
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
    pub fn begin(&self, token: &str) -> Result<JsValue, JsValue> {
        let pending = crate::begin(token, &self.keys, &self.policy).map_err(|e| js_error(&e))?;
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
        &self,
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
        Ok(verified_out(&verified))
    }

    /// The whole pipeline in Rust.
    #[wasm_bindgen(js_name = verifySync)]
    pub fn verify_sync(&self, token: &str, now: f64) -> Result<JsValue, JsValue> {
        let now = now_secs(now)?;
        let verified =
            crate::verify(token, &self.keys, &self.policy, now).map_err(|e| js_error(&e))?;
        Ok(verified_out(&verified))
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
