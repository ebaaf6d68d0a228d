//! The npm package's options object → the core's [`ValidatorBuilder`].
//!
//! Translation only: names and JS types are checked here (a typo or a wrong
//! type is `ERR_INVALID_OPTIONS` naming the option); every rule about what a
//! configuration means (HMAC needs a secret, the kidless range, issuers that
//! exclude `jwks`, ...) is the builder's.
//!
//! Hand-written over `Reflect` rather than `serde-wasm-bindgen`: see the
//! README's design notes (measured size and cold-start cost).

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, Reflect, Uint8Array};
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
const TOP_OPTIONS: [&str; 7] = [
    "issuers",
    "revocations",
    "crypto",
    "cache",
    "remoteRevocations",
    "remoteStatusLists",
    "statusListPrefixes",
];

pub(super) fn take(options: &JsValue, name: &str) -> JsValue {
    Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn type_error(name: &str, expected: &str) -> JsValue {
    options_error(msg!("invalid option \"", name, "\": expected ", expected))
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// Refuses names not in `known` (`place` prefixes the message for an issuer entry).
fn check_names(options: &JsValue, known: &[&[&str]], place: &str) -> Result<(), JsValue> {
    for name in Object::keys(options.unchecked_ref::<Object>()).iter() {
        let name = name.as_string().unwrap_or_default();
        if !known.iter().any(|list| list.contains(&name.as_str())) {
            let full = msg!(place, name);
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
fn opt_string(options: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let v = take(options, name);
    if absent(&v) {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| type_error(name, "a string"))
}

/// A boolean option.
pub(super) fn opt_bool(options: &JsValue, name: &str) -> Result<Option<bool>, JsValue> {
    let v = take(options, name);
    if absent(&v) {
        return Ok(None);
    }
    v.as_bool()
        .map(Some)
        .ok_or_else(|| type_error(name, "true or false"))
}

/// A whole, non-negative number of seconds (or a count).
pub(super) fn opt_u64(options: &JsValue, name: &str) -> Result<Option<u64>, JsValue> {
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

/// The HMAC secret of `secret` (a Uint8Array or a string), as a key set.
fn secrets(options: &JsValue) -> Result<KeySet, JsValue> {
    let value = take(options, "secret");
    let mut keys = KeySet::new();
    if absent(&value) {
        return Ok(keys);
    }
    let bytes = if let Some(s) = value.as_string() {
        s.into_bytes()
    } else if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        bytes.to_vec()
    } else {
        return Err(options_error(
            "option \"secret\" must be a Uint8Array or a string",
        ));
    };
    keys.add_hmac_secret(&bytes, None, None)
        .map_err(|e| js_error(&e))?;
    Ok(keys)
}

/// The public keys of `jwks`, if given (an object or JSON text).
pub(super) fn jwks(value: &JsValue) -> Result<Option<KeySet>, JsValue> {
    if absent(value) {
        return Ok(None);
    }
    let text = json_text(value, "jwks")?;
    KeySet::from_jwks(text.as_bytes())
        .map(Some)
        .map_err(|e| js_error(&e))
}

/// A remote-source config object `{minTtl, maxTtl, cooldown, maxStale, timeout}`.
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

/// Applies the policy options present in `options` to `policy`.
fn policy_options(options: &JsValue, mut policy: Policy) -> Result<Policy, JsValue> {
    if !absent(&take(options, "algorithms")) {
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

/// What the adapter itself needs besides the validator.
pub(super) struct Adapter {
    pub revocations: JsValue,
}

/// Reads the constructor's options into a validator builder.
pub(super) fn read(options: &JsValue) -> Result<(ValidatorBuilder, Adapter), JsValue> {
    if absent(options) || !options.is_object() {
        return Err(options_error("options must be an object"));
    }
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
    if let Some(keys) = jwks(&take(options, "jwks"))? {
        builder = builder.keys(keys);
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
    let issuers = take(options, "issuers");
    if !absent(&issuers) {
        let list = issuers
            .dyn_into::<Array>()
            .map_err(|_| type_error("issuers", "an array of issuer objects"))?;
        for (i, entry) in list.iter().enumerate() {
            if absent(&entry) || !entry.is_object() || Array::is_array(&entry) {
                return Err(type_error("issuers", "an array of issuer objects"));
            }
            let place = msg!("issuers[", i, "].");
            check_names(&entry, &[&KEY_OPTIONS, &POLICY_OPTIONS], &place)?;
            let name = opt_string(&entry, "issuer")?.unwrap_or_default();
            let mut issuer = IssuerOptions::new(name)
                .secrets(secrets(&entry)?)
                .policy(policy_options(&entry, policy.clone())?);
            if let Some(keys) = jwks(&take(&entry, "jwks"))? {
                issuer = issuer.keys(keys);
            }
            let discover = opt_string(&entry, "discover")?;
            if let Some(config) = remote_config(&entry, "remoteJwks")? {
                issuer = match discover {
                    Some(url) => issuer.discover_from(url, config),
                    None => issuer.remote_jwks(config),
                };
            }
            builder = builder.issuer(issuer);
        }
    }
    Ok((
        builder,
        Adapter {
            revocations: take(options, "revocations"),
        },
    ))
}
