//! The wasm-bindgen adapter behind the npm package. It holds no policy: it
//! reads the options into the core's [`Validator`] (options.rs) and writes
//! the validator's [`Step`]s into a record in wasm memory ([`protocol`]) for
//! the JS glue, which only performs what a step asks for: a fetch, a wait, or
//! the host's signature check.
//!
//! Errors cross the boundary as plain objects, the core's one JSON shape
//! ([`Error::to_json`]): `{code, message, claim?, reason?, revocationReason?,
//! retryable}`, which the JS glue turns into `JwtEdgeError` instances.

#[cfg(all(feature = "wasm-rt", target_arch = "wasm32", not(feature = "std")))]
mod rt;

mod options;

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::dpop::{Binding, Rejection, Scheme};
use crate::remote::FetchOutcome;
use crate::validator::{Finished, Mode, RequestCheck, RequestParts, SignatureCheck, Source, Step};
use crate::{Algorithm, Crypto, Error, ErrorKind, Validator, Verified};

fn js_error(e: &Error) -> JsValue {
    js_sys::JSON::parse(&e.to_json()).unwrap_or_else(|_| JsValue::from_str(e.code()))
}

fn rejection(r: &Rejection) -> JsValue {
    js_sys::JSON::parse(&r.to_json()).unwrap_or_else(|_| JsValue::from_str(r.error.code()))
}

/// A scheme on the wire: 0 Bearer, 1 DPoP, anything else none.
fn scheme_of(n: u32) -> Option<Scheme> {
    match n {
        0 => Some(Scheme::Bearer),
        1 => Some(Scheme::DPoP),
        _ => None,
    }
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

/// A plain JS object from (name, value) pairs (off the verification path:
/// JWKs to import, skipped keys, `inspect`'s warnings).
fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&obj, &JsValue::from_str(k), v);
    }
    obj.into()
}

/// The step protocol between [`Core`] and the JS glue (js/api.js mirrors
/// these numbers; [`protocol::PROTOCOL`] guards against a glue of another version).
///
/// Every call that answers a step writes it into the core's *record*: a
/// fixed array of `f64`s in wasm memory, which the glue reads through one
/// `Float64Array` view (no JS objects are built per step). Slot [`protocol::TAG`] says
/// which step it is; the other slots mean, per tag:
///
/// | tag | slot 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 |
/// |---|---|---|---|---|---|---|---|---|
/// | [`DONE`] | serial | from | until | header length | Rust-checkable | | | |
/// | [`HIT`] | serial | from | until | | Rust-checkable | | | |
/// | [`SIGNATURE`] | id | algorithm | candidates | input address | input length | signature address | signature length | key serials address |
/// | [`FETCH`] | source | blocking | kid miss | timeout | | | | |
/// | [`WAIT`] | source | poll ms | timeout | | | | | |
///
/// Slot [`GENERATION`] always holds [`Core::generation`] (written by every
/// call that can change it), so the glue's map of repeated tokens checks it
/// without a call.
///
/// `DONE` comes with one string, the header's and the claims' validated JSON
/// texts one after the other (slot 4: the header's length in UTF-16 code
/// units), which the glue splits and hands to `JSON.parse`. `from`/`until`
/// bound the seconds in which a repeat of the token gets this same answer
/// while [`Core::generation`] is unchanged (NaN: none). A `SIGNATURE`'s
/// algorithm is an index into [`algorithms`]; its signing input and
/// signature are bytes in wasm memory (valid until the next call), its
/// candidates' key serials a `u32` array there. A source is
/// `kind + 4 × issuer` (kind 0 JWKS, 1 revocations, 2 status list, 3
/// metadata). A first-seen verification with a key the host has imported
/// crosses twice: `begin` and `finish`.
pub mod protocol {
    /// The protocol's version; [`super::protocol_version`] reports it.
    pub const PROTOCOL: u32 = 1;
    /// Slots of the record.
    pub const SLOTS: usize = 10;
    /// The slot that holds the validator's generation.
    pub const GENERATION: usize = 9;
    /// The slot that holds the tag.
    pub const TAG: usize = 0;
    /// Verified now (in Rust, or by `finish`): a string comes with it.
    pub const DONE: f64 = 1.0;
    /// A cache hit: the glue's result for this serial, or `cachedResult`.
    pub const HIT: f64 = 2.0;
    /// The host checks the signature, then calls `finish`.
    pub const SIGNATURE: f64 = 3.0;
    /// Fetch a source (`fetchDetails` has `If-None-Match` and the URL).
    pub const FETCH: f64 = 4.0;
    /// Another request's fetch is in flight: wait, then `begin` again.
    pub const WAIT: f64 = 5.0;
}

use protocol::{DONE, FETCH, GENERATION, HIT, SIGNATURE, SLOTS, WAIT};

/// A source's number on the wire (see [`protocol`]).
fn source_id(source: Source) -> u32 {
    let (kind, n) = match source {
        Source::Jwks(n) => (0, n),
        Source::Revocations => (1, 0),
        Source::StatusList(n) => (2, n),
        Source::Metadata(n) => (3, n),
    };
    kind | (u32::try_from(n).unwrap_or(u32::MAX >> 2) << 2)
}

/// The source of a wire number (the validator refuses one it does not have).
fn source_of(id: u32) -> Result<Source, JsValue> {
    let n = (id >> 2) as usize;
    Ok(match id & 3 {
        0 => Source::Jwks(n),
        1 if n == 0 => Source::Revocations,
        2 => Source::StatusList(n),
        3 => Source::Metadata(n),
        _ => return Err(options_error("no such remote source")),
    })
}

/// Most signature checks in flight at once (between `begin` and `finish`);
/// past it the oldest is dropped and its `finish` reports an error.
const MAX_PENDING: usize = 1024;

/// The validator behind the JS `Validator` class.
#[wasm_bindgen]
pub struct Core {
    validator: Validator,
    /// The step record the glue reads (see [`protocol`]); boxed so that its
    /// address stays put.
    record: alloc::boxed::Box<[f64; SLOTS]>,
    /// The key serials of the last signature step (the record points here).
    serials: Vec<u32>,
    /// The last fetch step's `If-None-Match` and URL.
    fetch: (Option<String>, Option<String>),
    /// Signature checks handed to the host: slot `id % MAX_PENDING`.
    pending: Vec<Option<(u32, SignatureCheck)>>,
    /// Requests in progress (`verifyRequest`): slot `id % MAX_PENDING`;
    /// their ids come from the same counter as `pending`'s.
    requests: Vec<Option<(u32, RequestCheck)>>,
    next_id: u32,
    /// Serials given to DPoP proof keys (by thumbprint), so that the glue
    /// imports a client's key once: the most recent [`PROOF_KEYS`].
    proof_keys: Vec<([u8; 32], u32)>,
    next_proof_key: u32,
}

/// Proof keys whose serial is remembered (the glue's import cache holds as many keys).
const PROOF_KEYS: usize = 256;
/// Proof key serials start here, apart from the validator's own keys'.
const PROOF_KEY_SERIALS: u32 = 0x8000_0000;

/// Puts `value` in ring slot `id % MAX_PENDING`.
fn ring_put<T>(ring: &mut Vec<Option<(u32, T)>>, id: u32, value: T) {
    let slot = id as usize % MAX_PENDING;
    if ring.len() <= slot {
        ring.resize_with(slot + 1, || None);
    }
    if let Some(entry) = ring.get_mut(slot) {
        *entry = Some((id, value));
    }
}

/// Takes entry `id` out of its ring slot.
fn ring_take<T>(ring: &mut [Option<(u32, T)>], id: u32) -> Option<T> {
    match ring.get_mut(id as usize % MAX_PENDING) {
        Some(entry) if entry.as_ref().is_some_and(|(i, _)| *i == id) => {
            entry.take().map(|(_, v)| v)
        }
        _ => None,
    }
}

/// Entry `id` of its ring.
fn ring_get<T>(ring: &[Option<(u32, T)>], id: u32) -> Option<&T> {
    match ring.get(id as usize % MAX_PENDING) {
        Some(Some((i, v))) if *i == id => Some(v),
        _ => None,
    }
}

/// A public JWK as JSON text (its members are all strings: base64url,
/// names, `kty`, `crv`, `kid`, `alg`), written escaped.
fn jwk_text(jwk: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = String::from("{");
    for (k, v) in jwk {
        let Some(v) = v.as_str() else { continue };
        if out.len() > 1 {
            out.push(',');
        }
        crate::text::json_string(&mut out, k);
        out.push(':');
        crate::text::json_string(&mut out, v);
    }
    out.push('}');
    out
}

/// What the record says about a verified token, copied out of the
/// validator's borrow.
struct Summary {
    tag: f64,
    serial: u64,
    window: Option<(u64, u64)>,
    header_len: usize,
    rust: bool,
    /// The JSON texts (`DONE` only).
    text: Option<String>,
}

impl Summary {
    /// A `HIT` without text, else a `DONE` with it.
    fn of(done: &Finished<'_>) -> Self {
        Self::new(&done.verified, done.serial, done.window, done.hit)
    }

    fn new(v: &Verified, serial: u64, window: Option<(u64, u64)>, hit: bool) -> Self {
        Summary {
            tag: if hit { HIT } else { DONE },
            serial,
            window,
            header_len: v.header_json.chars().map(char::len_utf16).sum(),
            rust: v.alg.has_rust_backend(),
            text: (!hit).then(|| msg!(v.header_json.as_str(), v.claims_json.as_str())),
        }
    }
}

impl Core {
    /// Mirrors the validator's generation into the record.
    fn sync(&mut self) {
        let [a, b, c, d, e, f, g, h, i, _] = *self.record;
        *self.record = [a, b, c, d, e, f, g, h, i, self.generation_slot()];
    }

    fn generation_slot(&self) -> f64 {
        f64::from(self.validator.generation() as u32)
    }

    /// Writes a step's slots (all but the generation, which is mirrored too).
    fn put(&mut self, step: [f64; GENERATION]) {
        let [a, b, c, d, e, f, g, h, i] = step;
        *self.record = [a, b, c, d, e, f, g, h, i, self.generation_slot()];
    }

    /// Writes a verified step into the record; its text is the answer.
    fn write(&mut self, s: Summary) -> Option<String> {
        let (from, until) = s
            .window
            .map_or((f64::NAN, f64::NAN), |(f, u)| (f as f64, u as f64));
        let rust = f64::from(u8::from(s.rust));
        let header_len = s.header_len as f64;
        self.put([
            s.tag,
            s.serial as f64,
            from,
            until,
            header_len,
            rust,
            0.0,
            0.0,
            0.0,
        ]);
        s.text
    }

    /// The record's values (what the glue reads through its view).
    pub fn record_values(&self) -> [f64; SLOTS] {
        *self.record
    }

    /// The signing input and signature of pending verification `id`.
    pub fn signature_bytes(&self, id: u32) -> Option<(&[u8], &[u8])> {
        self.pending_check(id)
            .ok()
            .map(|c| (c.signing_input(), c.signature()))
    }

    /// The key serials of the last signature step.
    pub fn key_serials(&self) -> &[u32] {
        &self.serials
    }

    fn pending_check(&self, id: u32) -> Result<&SignatureCheck, JsValue> {
        ring_get(&self.pending, id).ok_or_else(|| options_error("no such verification in progress"))
    }

    fn new_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// The binding of request `id` (`Unbound` without one; `Unchecked`
    /// when the caller opted out).
    fn binding(&self, request: Option<u32>, unchecked: bool) -> Binding {
        if unchecked {
            return Binding::Unchecked;
        }
        request
            .and_then(|id| ring_get(&self.requests, id))
            .map_or(Binding::Unbound, RequestCheck::binding)
    }

    /// `Validator::begin_request`, or `begin_presented` for a `token`
    /// presented with the DPoP scheme and `dpop` as its proof; errors carry
    /// their HTTP answer.
    fn read_request(
        &mut self,
        authorization: Option<String>,
        dpop: Option<String>,
        method: &str,
        url: &str,
        now: f64,
        token: Option<String>,
    ) -> Result<RequestCheck, JsValue> {
        let now = now_secs(now)?;
        let authorization: Vec<&str> = authorization.as_deref().into_iter().collect();
        let proofs: Vec<&str> = dpop.as_deref().into_iter().collect();
        match &token {
            Some(t) => self
                .validator
                .begin_presented(t, Scheme::DPoP, &proofs, method, url, now),
            None => self.validator.begin_request(
                &RequestParts {
                    authorization: &authorization,
                    dpop: &proofs,
                    method,
                    url,
                },
                now,
            ),
        }
        .map_err(|r| rejection(&r))
    }

    /// The serial of a proof key (the same for the same key while remembered).
    fn proof_key_serial(&mut self, jkt: [u8; 32]) -> u32 {
        if let Some(&(_, serial)) = self.proof_keys.iter().find(|(k, _)| *k == jkt) {
            return serial;
        }
        let serial = PROOF_KEY_SERIALS | (self.next_proof_key & !PROOF_KEY_SERIALS);
        self.next_proof_key = self.next_proof_key.wrapping_add(1);
        if self.proof_keys.len() >= PROOF_KEYS {
            self.proof_keys.remove(0);
        }
        self.proof_keys.push((jkt, serial));
        serial
    }
}

#[wasm_bindgen]
impl Core {
    /// Reads the options (see the package's `index.d.ts`), as the JSON text
    /// the glue makes of them (see `options.rs`); the glue installs the
    /// `revocations` option with [`Core::set_revocations`] right after.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str) -> Result<Core, JsValue> {
        let builder = options::read(options)?;
        let validator = builder.build().map_err(|e| js_error(&e))?;
        let mut core = Core {
            validator,
            record: alloc::boxed::Box::new([0.0; SLOTS]),
            serials: Vec::new(),
            fetch: (None, None),
            pending: Vec::new(),
            requests: Vec::new(),
            next_id: 0,
            proof_keys: Vec::new(),
            next_proof_key: 0,
        };
        core.sync();
        Ok(core)
    }

    /// The address of the step record in wasm memory (see [`protocol`]).
    pub fn record(&self) -> u32 {
        self.record.as_ptr() as usize as u32
    }

    /// Everything the glue sets up after construction, in one call (each
    /// distinct call is code V8 compiles on a cold start): seeds the retry
    /// jitter (`Validator::set_jitter_seed`), writes the verified-token cache's
    /// capacity into the record's slot 1, and returns the record's address.
    pub fn setup(&mut self, jitter_seed: u32) -> u32 {
        self.validator.set_jitter_seed(u64::from(jitter_seed));
        let capacity = self.validator.cache_capacity() as f64;
        self.put([0.0, capacity, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        self.record()
    }

    /// Replaces the public keys (configured secrets are kept) of the
    /// single-issuer form, or of issuer `index` of the multi-issuer form.
    #[wasm_bindgen(js_name = setJwks)]
    pub fn set_jwks(&mut self, jwks: JsValue, index: Option<u32>) -> Result<(), JsValue> {
        let keys = options::jwks(&jwks)?.unwrap_or_default();
        let done = self.validator.set_keys(index.unwrap_or(0) as usize, keys);
        self.sync();
        done.map_err(|e| js_error(&e))
    }

    /// Installs a revocation list: an object, its JSON text, or a signed JWS
    /// (the glue passes text as UTF-8 bytes: one copy for a large list).
    #[wasm_bindgen(js_name = setRevocations)]
    pub fn set_revocations(&mut self, list: JsValue) -> Result<(), JsValue> {
        let text = match list.dyn_ref::<js_sys::Uint8Array>() {
            Some(bytes) => String::from_utf8(bytes.to_vec())
                .map_err(|_| options_error("option \"revocations\" is not UTF-8"))?,
            None => options::json_text(&list, "revocations")?,
        };
        let done = self.validator.install_revocations(&text);
        self.sync();
        done.map_err(|e| js_error(&e))
    }

    /// Installs a Token Status List (`statuslist+jwt` JWS) fetched from `uri`.
    #[wasm_bindgen(js_name = setStatusList)]
    pub fn set_status_list(&mut self, uri: &str, jws: &str, now: f64) -> Result<(), JsValue> {
        let now = now_secs(now)?;
        let done = self.validator.install_status_list(uri, jws, now);
        self.sync();
        done.map_err(|e| js_error(&e))
    }

    /// The remote sources configured, by wire number (see [`protocol`]).
    pub fn sources(&self) -> Vec<u32> {
        self.validator
            .sources()
            .into_iter()
            .map(|(s, _)| source_id(s))
            .collect()
    }

    /// Reports a fetch of `source` (`status` 0 = failed, `cause` says
    /// why). Returns true when new data was installed. A body that does not
    /// parse (or, for revocations, does not verify) counts as a failed fetch.
    /// The body comes as bytes: a large list crosses as one copy, not as a
    /// string re-encoded character by character.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = onFetch)]
    pub fn on_fetch(
        &mut self,
        source: u32,
        now: f64,
        status: u16,
        cache_control: Option<String>,
        age: Option<String>,
        etag: Option<String>,
        body: Option<Vec<u8>>,
        cause: Option<String>,
    ) -> Result<bool, JsValue> {
        let now = now_secs(now)?;
        let header = |v: Option<String>| v.filter(|s| !s.is_empty());
        // Status 0 is how the JS glue reports a network failure or timeout
        // (then `cause` says what happened).
        let outcome = if status == 0 {
            match cause {
                Some(cause) if !cause.is_empty() => FetchOutcome::Unreachable(cause),
                _ => FetchOutcome::Failed,
            }
        } else {
            FetchOutcome::Response {
                status,
                cache_control: header(cache_control),
                age: header(age),
                etag: header(etag),
                body: body.unwrap_or_default(),
            }
        };
        let done = self.validator.on_fetch(source_of(source)?, now, outcome);
        self.sync();
        done.map_err(|e| js_error(&e))
    }

    /// The log line for a source whose health changed with the last
    /// `onFetch` (see `Validator::take_notice`), once; undefined otherwise.
    #[wasm_bindgen(js_name = takeNotice)]
    pub fn take_notice(&mut self) -> Option<String> {
        self.validator.take_notice()
    }

    /// The error for a source with nothing usable (fail closed), e.g. after
    /// waiting for another request's fetch timed out.
    pub fn unavailable(&self, source: u32) -> JsValue {
        match source_of(source) {
            Ok(s) => js_error(&self.validator.unavailable(s)),
            Err(e) => e,
        }
    }

    /// `[ifNoneMatch, url]` of the last `FETCH` step (each may be undefined).
    #[wasm_bindgen(js_name = fetchDetails)]
    pub fn fetch_details(&self) -> Array {
        let s = |v: &Option<String>| v.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str);
        [s(&self.fetch.0), s(&self.fetch.1)].iter().collect()
    }

    /// A JSON snapshot of the remote sources for KV storage.
    #[wasm_bindgen(js_name = exportCache)]
    pub fn export_cache(&self) -> String {
        self.validator.export_cache()
    }

    /// Restores a snapshot from `exportCache` (bodies are parsed and verified again).
    #[wasm_bindgen(js_name = importCache)]
    pub fn import_cache(&mut self, snapshot: &str) -> Result<(), JsValue> {
        let done = self.validator.import_cache(snapshot);
        self.sync();
        done.map_err(|e| js_error(&e))
    }

    /// The cached result for `token` (after a `HIT` whose serial the glue
    /// does not hold): a `DONE` record and its text, or undefined.
    #[wasm_bindgen(js_name = cachedResult)]
    pub fn cached_result(&mut self, token: &str, now: f64) -> Result<Option<String>, JsValue> {
        let now = now_secs(now)?;
        let Some((v, serial)) = self.validator.cached(token, now) else {
            return Ok(None);
        };
        // No window: the glue keeps the one it had for this token.
        let summary = Summary::new(v, serial, None, false);
        Ok(self.write(summary))
    }

    /// `[hits, misses, entries]` of the verified-token cache.
    #[wasm_bindgen(js_name = cacheStats)]
    pub fn cache_stats(&self) -> Vec<f64> {
        let (h, m, n) = self.validator.cache_stats();
        alloc::vec![h as f64, m as f64, n as f64]
    }

    /// Changes whenever keys, secrets, revocation data or status lists
    /// change: the one counter the glue's map of repeated tokens compares.
    #[wasm_bindgen(getter)]
    pub fn generation(&self) -> u32 {
        self.validator.generation() as u32
    }

    /// `"auto"`, `"host"` or `"wasm"`.
    #[wasm_bindgen(getter)]
    pub fn crypto(&self) -> String {
        match self.validator.crypto() {
            Crypto::Auto => "auto",
            Crypto::Host => "host",
            Crypto::Rust => "wasm",
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

    /// One step of an asynchronous verification, written to the record
    /// (see [`protocol`]); the text of a `DONE` is the return value. `rust`:
    /// the host has no crypto, so every signature is checked here.
    /// `fetched`: the sources this verification already fetched for their
    /// freshness (see `Validator::begin_after`).
    /// `request`: the `beginRequest` whose token this is (its proof's key
    /// is the binding); `unchecked`: the caller opted out of the binding.
    pub fn begin(
        &mut self,
        token: &str,
        now: f64,
        rust: bool,
        fetched: Option<Vec<u32>>,
        request: Option<u32>,
        unchecked: bool,
    ) -> Result<Option<String>, JsValue> {
        let now = now_secs(now)?;
        let mode = Mode {
            rust_signatures: rust,
            fetch: true,
            binding: self.binding(request, unchecked),
        };
        let fetched: Vec<Source> = fetched
            .unwrap_or_default()
            .into_iter()
            .filter_map(|id| source_of(id).ok())
            .collect();
        let check = match self.validator.begin_after(token, now, mode, &fetched) {
            Ok(Step::Verified(done)) => {
                let summary = Summary::of(&done);
                return Ok(self.write(summary));
            }
            Ok(Step::Signature(check)) => check,
            Ok(Step::Fetch(r)) => {
                self.put([
                    FETCH,
                    f64::from(source_id(r.source)),
                    f64::from(u8::from(r.blocking)),
                    f64::from(u8::from(r.kid_miss)),
                    r.timeout as f64,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                ]);
                self.fetch = (r.if_none_match, r.url);
                return Ok(None);
            }
            Ok(Step::Wait {
                source,
                poll_ms,
                timeout,
            }) => {
                let source = f64::from(source_id(source));
                self.put([
                    WAIT,
                    source,
                    f64::from(poll_ms),
                    timeout as f64,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                ]);
                return Ok(None);
            }
            Err(e) => return Err(js_error(&e)),
        };
        let id = self.new_id();
        self.serials.clear();
        self.serials
            .extend((0..check.candidates()).filter_map(|n| check.key_serial(n)));
        let alg = Algorithm::ALL
            .iter()
            .position(|&a| a == check.alg())
            .unwrap_or(0);
        let (input, signature) = (check.signing_input(), check.signature());
        let step = [
            SIGNATURE,
            f64::from(id),
            alg as f64,
            self.serials.len() as f64,
            input.as_ptr() as usize as f64,
            input.len() as f64,
            signature.as_ptr() as usize as f64,
            signature.len() as f64,
            self.serials.as_ptr() as usize as f64,
        ];
        self.put(step);
        // A fixed ring: the check `MAX_PENDING` ids older is dropped.
        ring_put(&mut self.pending, id, check);
        Ok(None)
    }

    /// The public JWK of candidate `n` of verification `id`, for importing
    /// into the host's crypto, as JSON text (the glue parses it). A
    /// request's `id` names its proof's key (candidate 0).
    #[wasm_bindgen(js_name = keyJwk)]
    pub fn key_jwk(&self, id: u32, n: usize) -> Result<String, JsValue> {
        let key = match ring_get(&self.requests, id) {
            Some(request) => request.proof().map(|p| p.key()),
            None => self.validator.candidate_key(self.pending_check(id)?, n),
        };
        key.and_then(|k| k.public_jwk())
            .map(jwk_text)
            .ok_or_else(|| options_error("no public JWK for that candidate"))
    }

    /// Checks candidate `n` of verification `id` in Rust, for a key the
    /// host's crypto could not import, where the validator allows it
    /// (`ERR_JOSE_NOT_SUPPORTED` otherwise).
    #[wasm_bindgen(js_name = checkKey)]
    pub fn check_key(&self, id: u32, n: usize) -> Result<bool, JsValue> {
        if let Some(proof) = ring_get(&self.requests, id).and_then(|r| r.proof()) {
            return self
                .validator
                .check_proof_instead_of_host(proof)
                .map_err(|e| js_error(&e));
        }
        let check = self.pending_check(id)?;
        self.validator
            .check_instead_of_host(check, n)
            .map_err(|e| js_error(&e))
    }

    /// Completes verification `id` after the host's signature check
    /// (`verified_by`: the candidate that verified, or undefined): a `DONE`
    /// record and its text.
    pub fn finish(
        &mut self,
        id: u32,
        verified_by: Option<u32>,
        now: f64,
    ) -> Result<String, JsValue> {
        let now = now_secs(now)?;
        let Some(check) = ring_take(&mut self.pending, id) else {
            return Err(options_error(
                "no such verification in progress (more than 1024 were in flight at once)",
            ));
        };
        let done = self
            .validator
            .finish(check, verified_by.map(|n| n as usize), now)
            .map_err(|e| js_error(&e))?;
        let summary = Summary::of(&done);
        Ok(self.write(summary).unwrap_or_default())
    }

    /// Drops verification `id` (the host's check threw).
    pub fn abandon(&mut self, id: u32) {
        ring_take(&mut self.pending, id);
        ring_take(&mut self.requests, id);
    }

    /// Reads a request's credentials and checks its DPoP proof but for the
    /// signature (`Validator::begin_request`); with `token`, the token was
    /// presented with the DPoP scheme and `dpop` is its proof
    /// (`Validator::begin_presented`). The record's slot 1 holds the
    /// request's id, slot 2 its scheme (0 Bearer, 1 DPoP), slot 3 the
    /// token's length: the token is the header value's last that many
    /// characters (ASCII, token68), so it does not cross back as a string.
    /// Errors carry their HTTP answer.
    #[wasm_bindgen(js_name = beginRequest)]
    pub fn begin_request(
        &mut self,
        authorization: Option<String>,
        dpop: Option<String>,
        method: &str,
        url: &str,
        now: f64,
        token: Option<String>,
    ) -> Result<(), JsValue> {
        let check = self.read_request(authorization, dpop, method, url, now, token)?;
        let id = self.new_id();
        let scheme = f64::from(u8::from(check.scheme() == Scheme::DPoP));
        let len = check.token().len() as f64;
        self.put([0.0, f64::from(id), scheme, len, 0.0, 0.0, 0.0, 0.0, 0.0]);
        ring_put(&mut self.requests, id, check);
        Ok(())
    }

    /// Writes request `id`'s proof signature check as a `SIGNATURE` record
    /// (its id is the request's, one candidate: the proof's key); false for
    /// a request without a proof.
    #[wasm_bindgen(js_name = proofStep)]
    pub fn proof_step(&mut self, id: u32) -> bool {
        let Some((jkt, alg)) = ring_get(&self.requests, id)
            .and_then(|r| r.proof())
            .map(|p| (p.jkt, p.alg()))
        else {
            return false;
        };
        let serial = self.proof_key_serial(jkt);
        self.serials.clear();
        self.serials.push(serial);
        let Some(proof) = ring_get(&self.requests, id).and_then(|r| r.proof()) else {
            return false;
        };
        let alg = Algorithm::ALL.iter().position(|&a| a == alg).unwrap_or(0);
        let (input, signature) = (proof.signing_input(), proof.signature());
        let step = [
            SIGNATURE,
            f64::from(id),
            alg as f64,
            1.0,
            input.as_ptr() as usize as f64,
            input.len() as f64,
            signature.as_ptr() as usize as f64,
            signature.len() as f64,
            self.serials.as_ptr() as usize as f64,
        ];
        self.put(step);
        true
    }

    /// Request `id`'s proof `jti` for a host replay check; the record's
    /// slot 1 holds until when (unix seconds) it must be remembered.
    #[wasm_bindgen(js_name = proofJti)]
    pub fn proof_jti(&mut self, id: u32) -> Option<String> {
        let (jti, until) = ring_get(&self.requests, id)
            .and_then(|r| r.proof())
            .map(|p| (String::from(p.jti()), p.expires_at()))?;
        self.put([0.0, until as f64, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        Some(jti)
    }

    /// Completes request `id`'s proof after its signature check (`ok`) and
    /// the host's replay check (`fresh`; true without one): remembers its
    /// `jti` (`Validator::finish_proof`). Errors carry their HTTP answer.
    #[wasm_bindgen(js_name = finishProof)]
    pub fn finish_proof(
        &mut self,
        id: u32,
        ok: bool,
        fresh: bool,
        now: f64,
    ) -> Result<(), JsValue> {
        let now = now_secs(now)?;
        let Some(check) = ring_take(&mut self.requests, id) else {
            return Err(options_error(
                "no such request in progress (more than 1024 were in flight at once)",
            ));
        };
        let Some(proof) = check.proof() else {
            return Ok(());
        };
        self.validator
            .finish_proof(proof, ok, fresh, now)
            .map_err(|e| rejection(&self.validator.reject(e, Some(check.scheme()), now)))
    }

    /// The HTTP answer to an error of a request (`scheme`: 0 Bearer, 1
    /// DPoP, 2 none presented): `{status, wwwAuthenticate?, dpopNonce?}`.
    pub fn challenge(
        &self,
        scheme: u32,
        code: &str,
        claim: Option<String>,
        message: &str,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let now = now_secs(now)?;
        let kind = ErrorKind::from_code(code).unwrap_or(ErrorKind::InvalidOptions);
        let c = crate::dpop::challenge(
            self.validator.dpop(),
            kind,
            claim.as_deref(),
            message,
            scheme_of(scheme),
            now,
        );
        let s = |v: &Option<String>| v.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str);
        Ok(object(&[
            ("status", JsValue::from(f64::from(c.status))),
            ("wwwAuthenticate", s(&c.www_authenticate)),
            ("dpopNonce", s(&c.dpop_nonce)),
        ]))
    }

    /// The whole pipeline in Rust, with the remote sources as held: a `HIT`
    /// record (undefined), or a `DONE` record and its text.
    /// `unchecked`: the caller opted out of the key binding; `request`:
    /// the `beginRequest` whose token this is (its proof is then checked
    /// with `checkKey(request, 0)` and finished with `finishProof`).
    #[wasm_bindgen(js_name = verifySync)]
    pub fn verify_sync(
        &mut self,
        token: &str,
        now: f64,
        unchecked: bool,
        request: Option<u32>,
    ) -> Result<Option<String>, JsValue> {
        let now = now_secs(now)?;
        let mode = Mode {
            rust_signatures: true,
            fetch: false,
            binding: self.binding(request, unchecked),
        };
        match self.validator.begin(token, now, mode) {
            Ok(Step::Verified(done)) => {
                let summary = Summary::of(&done);
                Ok(self.write(summary))
            }
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

/// Every algorithm's name, in the order of the record's algorithm numbers
/// (see [`protocol`]).
#[wasm_bindgen]
pub fn algorithms() -> Array {
    Algorithm::ALL
        .into_iter()
        .map(|a| JsValue::from_str(a.name()))
        .collect()
}

/// The step protocol's version ([`protocol::PROTOCOL`]): the glue refuses
/// to run against a module of another version.
#[wasm_bindgen(js_name = protocolVersion)]
pub fn protocol_version() -> u32 {
    protocol::PROTOCOL
}

/// The module's memory, which holds every core's step record.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Installs a panic hook that prints panics to the console (debug builds).
#[cfg(feature = "debug-panic")]
#[wasm_bindgen(js_name = debugPanics)]
pub fn debug_panics() {
    console_error_panic_hook::set_once();
}
