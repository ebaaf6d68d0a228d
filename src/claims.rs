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
    if let Some(expected) = policy.typ.first() {
        match header.get("typ") {
            None if policy.typ_optional => {}
            None => {
                return Err(failed(
                    "typ",
                    ClaimReason::Missing,
                    msg!("header \"typ\" is missing; expected ", Truncated(expected)),
                ))
            }
            Some(Value::String(t))
                if policy
                    .typ
                    .iter()
                    .any(|e| normalize_typ(t) == normalize_typ(e)) => {}
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
    if let (Some(max), Some(exp)) = (policy.max_lifetime, exp) {
        let from = iat.unwrap_or(now as f64);
        if exp - from > max as f64 + policy.leeway as f64 {
            return Err(failed(
                "exp",
                ClaimReason::CheckFailed,
                msg!(
                    "the token's lifetime (\"exp\" - \"iat\") exceeds the maximum of ",
                    max,
                    " s"
                ),
            ));
        }
    }

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
        check_audience(claims, &policy.audiences, policy.sole_audience)?;
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

/// The whole seconds `now` at which [`check_times`] passes, as `[from, until)`
/// (`until` is at most one past the largest NumericDate), or `None` when there
/// is no such time or the window could not be pinned down exactly. Lets a
/// cache answer a repeated token with two comparisons instead of a call
/// into the validator. `check_times` stays the rule: the window is estimated
/// from the claims, then each edge is moved until `check_times` itself agrees
/// on both sides of it (float rounding at the edges moves it by at most one).
pub(crate) fn time_window(t: TimeClaims, policy: &Policy) -> Option<(u64, u64)> {
    let ok = |now: u64| check_times(t, policy, now).is_ok();
    let last = MAX_NUMERIC_DATE as u64;
    let leeway = policy.leeway as f64;
    // Smallest whole number >= x, within 0..=last+1 (no f64::ceil in core).
    let ceil = |x: f64| -> u64 {
        if x.is_nan() || x <= 0.0 {
            0
        } else if x > last as f64 {
            last + 1
        } else {
            let c = x as u64;
            if (c as f64) < x {
                c + 1
            } else {
                c
            }
        }
    };
    let mut from = 0;
    if let Some(nbf) = t.nbf {
        from = from.max(ceil(nbf - leeway));
    }
    if let Some(iat) = t.iat {
        from = from.max(ceil(iat - leeway));
    }
    let mut until = last + 1;
    if let Some(exp) = t.exp {
        until = until.min(ceil(exp + leeway));
    }
    if let (Some(max_age), Some(iat)) = (policy.max_token_age, t.iat) {
        until = until.min(ceil(iat + max_age as f64 + leeway).saturating_add(1));
    }
    // Each edge settles when check_times agrees on both of its sides; an
    // estimate further off than a few seconds gives no window at all.
    let mut settled = false;
    for _ in 0..4 {
        if from > 0 && ok(from - 1) {
            from -= 1;
        } else if from < until && !ok(from) {
            from += 1;
        } else {
            settled = from < until;
            break;
        }
    }
    if !settled {
        return None;
    }
    for _ in 0..4 {
        if until <= last && ok(until) {
            until += 1;
        } else if until > from + 1 && !ok(until - 1) {
            until -= 1;
        } else {
            return Some((from, until));
        }
    }
    None
}

fn check_audience(claims: &Map<String, Value>, wanted: &[String], sole: bool) -> Result<()> {
    let matches = |a: &str| wanted.iter().any(|w| w == a);
    match claims.get("aud") {
        Some(Value::Array(items)) if sole && items.len() != 1 => Err(failed(
            "aud",
            ClaimReason::CheckFailed,
            "\"aud\" must hold exactly one value here (an array with other values is refused)"
                .into(),
        )),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_window_is_exactly_where_check_times_passes() {
        // A deterministic spread of claims, leeways and maximum ages, checked
        // at every second around each edge.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let base = 1_700_000_000.0;
        let fracs = [0.0, 0.5, 0.25, 0.999_999, 1e-9];
        for _ in 0..3000 {
            let mut date = |present: u64| {
                (next(4) < present)
                    .then(|| base + next(200) as f64 - 100.0 + fracs[next(5) as usize])
            };
            let t = TimeClaims {
                exp: date(3),
                nbf: date(2),
                iat: date(3),
            };
            let mut policy = Policy::new().leeway(next(4) * 30).require_exp(next(3) > 0);
            if next(3) == 0 {
                policy = policy.max_token_age(next(120));
            }
            let window = time_window(t, &policy);
            for now in (base as u64 - 400)..(base as u64 + 400) {
                let passes = check_times(t, &policy, now).is_ok();
                match window {
                    Some((from, until)) => assert_eq!(
                        passes,
                        (from..until).contains(&now),
                        "{t:?} {from}..{until} at {now}"
                    ),
                    None => assert!(!passes, "no window for {t:?}, but {now} passes"),
                }
            }
        }
        // Nothing expires: the window runs to the last NumericDate.
        let policy = Policy::new().require_exp(false);
        assert_eq!(
            time_window(TimeClaims::default(), &policy),
            Some((0, MAX_NUMERIC_DATE as u64 + 1))
        );
    }
}
