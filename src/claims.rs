//! JWT claims validation (RFC 7519 §4.1) against a [`Policy`].
//!
//! Runs only after the signature has verified. NumericDate values must be JSON
//! numbers, finite, and within 0..=253402300799 (9999-12-31); anything else is
//! `invalid`, never coerced. Time comparisons use `now` given by the caller.

use alloc::string::String;

use serde_json::{Map, Value};

use crate::error::{ClaimReason, Error, ErrorKind, Result};
use crate::json::type_name;
use crate::jws::normalize_typ;
use crate::policy::Policy;
use crate::text::Truncated;

/// Largest NumericDate accepted (9999-12-31T23:59:59Z).
pub const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

fn failed(claim: &'static str, reason: ClaimReason, message: String) -> Error {
    Error::claim(ErrorKind::ClaimValidationFailed, claim, reason, message)
}

/// Reads a NumericDate claim: `Ok(None)` if absent.
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<f64>> {
    let Some(v) = claims.get(claim) else {
        return Ok(None);
    };
    let n = match v {
        Value::Number(n) => n.as_f64(),
        other => {
            return Err(failed(
                claim,
                ClaimReason::Invalid,
                msg!(
                    "\"",
                    claim,
                    "\" must be a JSON number (NumericDate), found ",
                    type_name(other)
                ),
            ))
        }
    };
    match n {
        Some(t) if t.is_finite() && (0.0..=MAX_NUMERIC_DATE).contains(&t) => Ok(Some(t)),
        _ => Err(failed(
            claim,
            ClaimReason::Invalid,
            msg!(
                "\"",
                claim,
                "\" is out of range (must be between 0 and 253402300799)"
            ),
        )),
    }
}

/// Reads an optional string claim; a non-string value is `invalid`.
pub(crate) fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<Option<&'a str>> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(failed(
            claim,
            ClaimReason::Invalid,
            msg!("\"", claim, "\" must be a string, found ", type_name(other)),
        )),
    }
}

/// Validates the header `typ` and the claims set against `policy` at `now`.
pub(crate) fn validate(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    policy: &Policy,
    now: u64,
) -> Result<()> {
    if let Some(expected) = &policy.typ {
        match header.get("typ") {
            None => {
                return Err(failed(
                    "typ",
                    ClaimReason::Missing,
                    msg!("header \"typ\" is missing; expected ", Truncated(expected)),
                ))
            }
            Some(Value::String(t)) if normalize_typ(t) == normalize_typ(expected) => {}
            Some(_) => {
                return Err(failed(
                    "typ",
                    ClaimReason::CheckFailed,
                    msg!("unexpected header \"typ\"; expected ", Truncated(expected)),
                ))
            }
        }
    }

    // Type checks of the registered string claims apply whether or not the
    // policy checks their values: revocation relies on sub and jti.
    let iss = string_claim(claims, "iss")?;
    let sub = string_claim(claims, "sub")?;
    string_claim(claims, "jti")?;

    let exp = numeric_date(claims, "exp")?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;

    check_times(TimeClaims { exp, nbf, iat }, policy, now)?;

    if !policy.issuers.is_empty() {
        match iss {
            None => {
                return Err(failed(
                    "iss",
                    ClaimReason::Missing,
                    "\"iss\" claim is missing".into(),
                ))
            }
            Some(i) if policy.issuers.iter().any(|want| want == i) => {}
            Some(i) => {
                return Err(failed(
                    "iss",
                    ClaimReason::CheckFailed,
                    msg!("unexpected \"iss\" claim value ", Truncated(i)),
                ))
            }
        }
    }

    if !policy.audiences.is_empty() {
        check_audience(claims, &policy.audiences)?;
    }

    if let Some(want) = &policy.subject {
        match sub {
            None => {
                return Err(failed(
                    "sub",
                    ClaimReason::Missing,
                    "\"sub\" claim is missing".into(),
                ))
            }
            Some(s) if s == want => {}
            Some(_) => {
                return Err(failed(
                    "sub",
                    ClaimReason::CheckFailed,
                    "unexpected \"sub\" claim value".into(),
                ))
            }
        }
    }

    for name in &policy.required_claims {
        if !claims.contains_key(name.as_str()) {
            return Err(Error::claim(
                ErrorKind::ClaimValidationFailed,
                name.clone(),
                ClaimReason::Missing,
                msg!("required claim ", Truncated(name), " is missing"),
            ));
        }
    }

    if !policy.scopes.is_empty() {
        check_scopes(claims, &policy.scopes)?;
    }
    Ok(())
}

/// The NumericDate claims of a token, as read by [`numeric_date`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct TimeClaims {
    pub exp: Option<f64>,
    pub nbf: Option<f64>,
    pub iat: Option<f64>,
}

/// The time-dependent checks (`exp`, `nbf`, `iat` not in the future, maximum
/// age), shared by full validation and by cache hits, which repeat only these.
pub(crate) fn check_times(t: TimeClaims, policy: &Policy, now: u64) -> Result<()> {
    let now_f = now as f64;
    let leeway = policy.leeway as f64;
    let TimeClaims { exp, nbf, iat } = t;
    match exp {
        None if policy.require_exp => {
            return Err(failed(
                "exp",
                ClaimReason::Missing,
                "\"exp\" claim is missing".into(),
            ))
        }
        Some(exp) if now_f >= exp + leeway => {
            return Err(Error::claim(
                ErrorKind::Expired,
                "exp",
                ClaimReason::CheckFailed,
                "\"exp\" claim timestamp check failed (the token has expired)",
            ))
        }
        _ => {}
    }
    if let Some(nbf) = nbf {
        if now_f < nbf - leeway {
            return Err(failed(
                "nbf",
                ClaimReason::CheckFailed,
                "\"nbf\" claim timestamp check failed (the token is not valid yet)".into(),
            ));
        }
    }
    if let Some(iat) = iat {
        if iat > now_f + leeway {
            return Err(failed(
                "iat",
                ClaimReason::CheckFailed,
                "\"iat\" claim timestamp check failed (it is in the future)".into(),
            ));
        }
    }
    if let Some(max_age) = policy.max_token_age {
        let Some(iat) = iat else {
            return Err(failed(
                "iat",
                ClaimReason::Missing,
                "\"iat\" claim is missing (required by the maximum token age)".into(),
            ));
        };
        if now_f - iat > max_age as f64 + leeway {
            return Err(Error::claim(
                ErrorKind::Expired,
                "iat",
                ClaimReason::CheckFailed,
                "\"iat\" claim timestamp check failed (the token is older than the maximum age)",
            ));
        }
    }
    Ok(())
}

fn check_audience(claims: &Map<String, Value>, wanted: &[String]) -> Result<()> {
    let matches = |a: &str| wanted.iter().any(|w| w == a);
    match claims.get("aud") {
        None => Err(failed(
            "aud",
            ClaimReason::Missing,
            "\"aud\" claim is missing".into(),
        )),
        Some(Value::String(a)) if matches(a) => Ok(()),
        Some(Value::String(_)) => Err(failed(
            "aud",
            ClaimReason::CheckFailed,
            "unexpected \"aud\" claim value".into(),
        )),
        Some(Value::Array(items)) => {
            if !items.iter().all(Value::is_string) {
                return Err(failed(
                    "aud",
                    ClaimReason::Invalid,
                    "\"aud\" array must contain only strings".into(),
                ));
            }
            if items.iter().filter_map(Value::as_str).any(matches) {
                Ok(())
            } else {
                Err(failed(
                    "aud",
                    ClaimReason::CheckFailed,
                    "unexpected \"aud\" claim value".into(),
                ))
            }
        }
        Some(other) => Err(failed(
            "aud",
            ClaimReason::Invalid,
            msg!(
                "\"aud\" must be a string or an array of strings, found ",
                type_name(other)
            ),
        )),
    }
}

fn check_scopes(claims: &Map<String, Value>, wanted: &[String]) -> Result<()> {
    let has: alloc::vec::Vec<&str> = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => s.split(' ').filter(|s| !s.is_empty()).collect(),
        (Some(other), _) => {
            return Err(failed(
                "scope",
                ClaimReason::Invalid,
                msg!(
                    "\"scope\" must be a space-separated string, found ",
                    type_name(other)
                ),
            ))
        }
        (None, Some(Value::Array(items))) => {
            if !items.iter().all(Value::is_string) {
                return Err(failed(
                    "scp",
                    ClaimReason::Invalid,
                    "\"scp\" array must contain only strings".into(),
                ));
            }
            items.iter().filter_map(Value::as_str).collect()
        }
        (None, Some(other)) => {
            return Err(failed(
                "scp",
                ClaimReason::Invalid,
                msg!(
                    "\"scp\" must be an array of strings, found ",
                    type_name(other)
                ),
            ))
        }
        (None, None) => {
            return Err(failed(
                "scope",
                ClaimReason::Missing,
                "the token has no \"scope\" or \"scp\" claim".into(),
            ))
        }
    };
    for w in wanted {
        if !has.contains(&w.as_str()) {
            return Err(failed(
                "scope",
                ClaimReason::CheckFailed,
                msg!("required scope ", Truncated(w), " is not granted"),
            ));
        }
    }
    Ok(())
}
