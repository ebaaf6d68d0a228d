//! The npm package's options object → the core's [`ValidatorBuilder`].
//!
//! Translation only: names and JS types are checked here (a typo or a wrong
//! type is `ERR_INVALID_OPTIONS` naming the option); every rule about what a
//! configuration means (HMAC needs a secret, the kidless range, issuers that
//! exclude `jwks`, ...) is the builder's.
//!
//! The glue hands the options over as one JSON text (`JSON.stringify` with
//! a replacer that marks what JSON cannot say: bytes, and values of no JSON
//! type), read here with the core's strict JSON parser — the one the first
//! verification runs anyway — instead of a `Reflect` call per option: the
//! first `new Validator` makes V8 compile far less (README, cold start).

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use crate::remote::RemoteConfig;
use crate::{Algorithm, IssuerOptions, KeySet, Policy, Validator, ValidatorBuilder};

use super::{js_error, options_error};

/// The policy options, at the top level and in each entry of `issuers`.
const POLICY_OPTIONS: [&str; 12] = [
    "audience",
    "subject",
    "typ",
    "algorithms",
    "leeway",
    "maxTokenAge",
    "requiredClaims",
    "scopes",
    "kidlessCandidates",
    "statusLists",
    "requireStatus",
    "maxStatusListBytes",
];

/// The key options, at the top level and in each entry of `issuers`.
const KEY_OPTIONS: [&str; 5] = ["issuer", "jwks", "secret", "remoteJwks", "discover"];

/// The options only the top level has.
const TOP_OPTIONS: [&str; 8] = [
    "issuers",
    "dpop",
    "revocations",
    "crypto",
    "cache",
    "remoteRevocations",
    "remoteStatusLists",
    "statusListPrefixes",
];

/// Marks a `Uint8Array` in the options JSON: `{"\u0000bytes": [n, …]}`.
const BYTES: &str = "\u{0}bytes";
/// Marks a value of no JSON type (a function, symbol, bigint, NaN or an
/// infinity): `{"\u0000invalid": "<typeof or the number>"}`, which every
/// reader refuses as the wrong type, as it refused the value itself.
const INVALID: &str = "\u{0}invalid";

fn type_error(name: &str, expected: &str) -> JsValue {
    options_error(msg!("invalid option \"", name, "\": expected ", expected))
}

/// The option `name`, `None` when absent (missing, undefined or null).
fn get<'a>(options: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    options.get(name).filter(|v| !v.is_null())
}

/// Refuses names not in `known` (`place` prefixes the message for an issuer entry).
fn check_names(
    options: &Map<String, Value>,
    known: &[&[&str]],
    place: &str,
) -> Result<(), JsValue> {
    for name in options.keys() {
        if !known.iter().any(|list| list.contains(&name.as_str())) {
            let full = msg!(place, name.as_str());
            let all: Vec<&str> = known.iter().flat_map(|l| l.iter().copied()).collect();
            return Err(options_error(msg!(
                "unknown option ",
                crate::text::Truncated(&full),
                " (known: ",
                all.join(", "),
                ")"
            )));
        }
    }
    Ok(())
}

/// A string option.
fn opt_string(options: &Map<String, Value>, name: &str) -> Result<Option<String>, JsValue> {
    match get(options, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(type_error(name, "a string")),
    }
}

/// A boolean option.
fn opt_bool(options: &Map<String, Value>, name: &str) -> Result<Option<bool>, JsValue> {
    match get(options, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(type_error(name, "true or false")),
    }
}

/// A whole, non-negative number of seconds (or a count).
fn opt_u64(options: &Map<String, Value>, name: &str) -> Result<Option<u64>, JsValue> {
    let Some(v) = get(options, name) else {
        return Ok(None);
    };
    match v.as_f64() {
        // In 0..=2^53-1 the cast is exact, so a round trip detects a fraction.
        Some(n) if (0.0..=9_007_199_254_740_991.0).contains(&n) && (n as u64) as f64 == n => {
            Ok(Some(n as u64))
        }
        _ => Err(type_error(name, "a non-negative whole number")),
    }
}

/// An array of strings, or (`one_allowed`) a single string.
fn opt_strings(
    options: &Map<String, Value>,
    name: &str,
    one_allowed: bool,
) -> Result<Vec<String>, JsValue> {
    let expected = if one_allowed {
        "a string or an array of strings"
    } else {
        "an array of strings"
    };
    match get(options, name) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) if one_allowed => Ok(alloc::vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(type_error(name, expected)),
            })
            .collect(),
        Some(_) => Err(type_error(name, expected)),
    }
}

/// JSON text of an option given as a string or as a plain object.
pub(super) fn json_text(value: &JsValue, name: &str) -> Result<String, JsValue> {
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

/// Bytes given as a Uint8Array or a string (`None` when absent).
fn opt_bytes(options: &Map<String, Value>, name: &str) -> Result<Option<Vec<u8>>, JsValue> {
    match get(options, name) {
        None => return Ok(None),
        Some(Value::String(s)) => Some(s.clone().into_bytes()),
        // The glue's mark of a Uint8Array: `{"\u0000bytes": [n, …]}` alone.
        Some(Value::Object(m)) if m.len() == 1 => match m.get(BYTES) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect::<Option<Vec<u8>>>(),
            _ => None,
        },
        Some(_) => None,
    }
    .map(Some)
    .ok_or_else(|| {
        options_error(msg!(
            "option \"",
            name,
            "\" must be a Uint8Array or a string"
        ))
    })
}

/// The HMAC secret of `secret` (a Uint8Array or a string), as a key set.
fn secrets(options: &Map<String, Value>) -> Result<KeySet, JsValue> {
    let mut keys = KeySet::new();
    if let Some(bytes) = opt_bytes(options, "secret")? {
        keys.add_hmac_secret(&bytes, None, None)
            .map_err(|e| js_error(&e))?;
    }
    Ok(keys)
}

/// The `dpop` option: `true`, or `{required, maxAge, algorithms,
/// nonceSecret, replayCapacity}` (the glue keeps `replay`, a function, and
/// passes `replay: true`).
fn dpop_option(options: &Map<String, Value>) -> Result<Option<crate::DpopConfig>, JsValue> {
    let d = match get(options, "dpop") {
        None | Some(Value::Bool(false)) => return Ok(None),
        Some(Value::Bool(true)) => return Ok(Some(crate::DpopConfig::new())),
        Some(Value::Object(d)) => d,
        Some(_) => return Err(type_error("dpop", "true or an object")),
    };
    check_names(
        d,
        &[&[
            "required",
            "maxAge",
            "algorithms",
            "nonceSecret",
            "replayCapacity",
            "replay",
        ]],
        "dpop.",
    )?;
    let e = |e: crate::Error| js_error(&e);
    let mut config = crate::DpopConfig::new().required(opt_bool(d, "required")?.unwrap_or(false));
    if let Some(n) = opt_u64(d, "maxAge")? {
        config = config.max_age(n).map_err(e)?;
    }
    if get(d, "algorithms").is_some() {
        let mut algs = Vec::new();
        for n in opt_strings(d, "algorithms", false)? {
            algs.push(Algorithm::from_name(&n).ok_or_else(|| {
                options_error(msg!(
                    "invalid option \"dpop.algorithms\": unsupported algorithm ",
                    crate::text::Truncated(&n)
                ))
            })?);
        }
        config = config.algorithms(algs).map_err(e)?;
    }
    if let Some(secret) = opt_bytes(d, "nonceSecret")? {
        config = config.nonce_secret(&secret).map_err(e)?;
    }
    if let Some(n) = opt_u64(d, "replayCapacity")? {
        config = config
            .replay_capacity(usize::try_from(n).unwrap_or(usize::MAX))
            .map_err(e)?;
    }
    Ok(Some(config))
}

/// The public keys of `jwks`, if given (an object or JSON text).
pub(super) fn jwks(value: &JsValue) -> Result<Option<KeySet>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let text = json_text(value, "jwks")?;
    KeySet::from_jwks(text.as_bytes())
        .map(Some)
        .map_err(|e| js_error(&e))
}

/// The public keys of the option `jwks`, if given: an object (parsed with
/// the options) or JSON text.
fn jwks_option(options: &Map<String, Value>) -> Result<Option<KeySet>, JsValue> {
    match get(options, "jwks") {
        None => Ok(None),
        Some(Value::String(text)) => KeySet::from_jwks(text.as_bytes())
            .map(Some)
            .map_err(|e| js_error(&e)),
        Some(Value::Object(doc)) if !doc.contains_key(BYTES) && !doc.contains_key(INVALID) => {
            KeySet::from_jwks_doc(doc.clone())
                .map(Some)
                .map_err(|e| js_error(&e))
        }
        Some(_) => Err(options_error(
            "option \"jwks\" must be a JSON string or an object",
        )),
    }
}

/// A remote-source config object `{minTtl, maxTtl, cooldown, maxStale, timeout}`.
fn remote_config(
    options: &Map<String, Value>,
    name: &str,
) -> Result<Option<RemoteConfig>, JsValue> {
    let Some(v) = get(options, name) else {
        return Ok(None);
    };
    let empty = Map::new();
    let v = match v {
        Value::Object(m) => m,
        _ => &empty,
    };
    let mut c = RemoteConfig::default();
    for (field, slot) in [
        ("minTtl", &mut c.min_ttl),
        ("maxTtl", &mut c.max_ttl),
        ("cooldown", &mut c.cooldown),
        ("maxStale", &mut c.max_stale),
        ("timeout", &mut c.timeout),
    ] {
        if let Some(n) = opt_u64(v, field)? {
            *slot = n;
        }
    }
    Ok(Some(c))
}

/// Applies the policy options present in `options` to `policy`.
fn policy_options(options: &Map<String, Value>, mut policy: Policy) -> Result<Policy, JsValue> {
    if get(options, "algorithms").is_some() {
        let mut algs = Vec::new();
        for n in opt_strings(options, "algorithms", false)? {
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
    let audiences = opt_strings(options, "audience", true)?;
    if !audiences.is_empty() {
        policy.audiences = audiences;
    }
    if let Some(s) = opt_string(options, "subject")? {
        policy = policy.subject(s);
    }
    if let Some(t) = opt_string(options, "typ")? {
        policy = policy.typ(t);
    }
    if let Some(l) = opt_u64(options, "leeway")? {
        policy = policy.leeway(l);
    }
    if let Some(a) = opt_u64(options, "maxTokenAge")? {
        policy = policy.max_token_age(a);
    }
    let required = opt_strings(options, "requiredClaims", false)?;
    if !required.is_empty() {
        policy.required_claims = required;
    }
    let scopes = opt_strings(options, "scopes", false)?;
    if !scopes.is_empty() {
        policy.scopes = scopes;
    }
    if let Some(check) = opt_bool(options, "statusLists")? {
        policy = policy.check_status_lists(check);
    }
    if let Some(required) = opt_bool(options, "requireStatus")? {
        policy = policy.require_status(required);
    }
    if let Some(n) = opt_u64(options, "maxStatusListBytes")? {
        policy = policy.max_status_list_bytes(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(n) = opt_u64(options, "kidlessCandidates")? {
        // The builder refuses an out-of-range count.
        policy = policy.kidless_candidates(usize::try_from(n).unwrap_or(usize::MAX));
    }
    Ok(policy)
}

/// Reads the constructor's options (JSON text from the glue, see the
/// module documentation) into a validator builder. The glue installs the
/// `revocations` option itself, after construction.
pub(super) fn read(text: &str) -> Result<ValidatorBuilder, JsValue> {
    let value = crate::json::parse(text.as_bytes(), crate::json::MAX_DEPTH_LIMIT)
        .map_err(|e| options_error(msg!("options are not valid JSON: ", e)))?;
    let Value::Object(options) = value else {
        return Err(options_error("options must be an object"));
    };
    let options = &options;
    check_names(options, &[&KEY_OPTIONS, &POLICY_OPTIONS, &TOP_OPTIONS], "")?;
    let mut policy = policy_options(options, Policy::new())?;
    for iss in opt_strings(options, "issuer", true)? {
        policy = policy.issuer(iss);
    }
    let crypto = match opt_string(options, "crypto")?.as_deref() {
        None | Some("auto") => crate::Crypto::Auto,
        Some("host") => crate::Crypto::Host,
        Some("wasm") => crate::Crypto::Rust,
        Some(_) => {
            return Err(options_error(
                "invalid option \"crypto\": must be \"auto\", \"host\" or \"wasm\"",
            ))
        }
    };
    let mut builder = Validator::builder(policy.clone())
        .crypto(crypto)
        .secrets(secrets(options)?)
        .cache(
            opt_u64(options, "cache")?.map_or(crate::cache::DEFAULT_CAPACITY, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
        );
    if let Some(keys) = jwks_option(options)? {
        builder = builder.keys(keys);
    }
    if let Some(config) = dpop_option(options)? {
        builder = builder.dpop(config);
    }
    // `jwks: discover(url)`: the glue passes the URL as "discover" and the
    // freshness settings as "remoteJwks".
    let discover = opt_string(options, "discover")?;
    if let Some(config) = remote_config(options, "remoteJwks")? {
        builder = match discover {
            Some(url) => builder.discover(url, config),
            None => builder.remote_jwks(config),
        };
    }
    if let Some(config) = remote_config(options, "remoteRevocations")? {
        builder = builder.remote_revocations(config);
    }
    let prefixes = opt_strings(options, "statusListPrefixes", false)?;
    match remote_config(options, "remoteStatusLists")? {
        Some(config) => builder = builder.remote_status_lists(config, prefixes),
        None if !prefixes.is_empty() => {
            return Err(options_error(
                "option \"statusListPrefixes\" needs \"statusLists: remoteStatusLists()\"",
            ))
        }
        None => {}
    }
    if let Some(issuers) = get(options, "issuers") {
        let Value::Array(list) = issuers else {
            return Err(type_error("issuers", "an array of issuer objects"));
        };
        for (i, entry) in list.iter().enumerate() {
            let Value::Object(entry) = entry else {
                return Err(type_error("issuers", "an array of issuer objects"));
            };
            let place = msg!("issuers[", i, "].");
            check_names(entry, &[&KEY_OPTIONS, &POLICY_OPTIONS], &place)?;
            let name = opt_string(entry, "issuer")?.unwrap_or_default();
            let mut issuer = IssuerOptions::new(name)
                .secrets(secrets(entry)?)
                .policy(policy_options(entry, policy.clone())?);
            if let Some(keys) = jwks_option(entry)? {
                issuer = issuer.keys(keys);
            }
            let discover = opt_string(entry, "discover")?;
            if let Some(config) = remote_config(entry, "remoteJwks")? {
                issuer = match discover {
                    Some(url) => issuer.discover_from(url, config),
                    None => issuer.remote_jwks(config),
                };
            }
            builder = builder.issuer(issuer);
        }
    }
    Ok(builder)
}
