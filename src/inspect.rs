//! Decoding a token *without* verifying it, for debugging and the browser
//! inspector. Nothing returned here may be used for an access decision.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::claims::numeric_date;
use crate::error::{jws_invalid, Result};
use crate::json::DEFAULT_MAX_DEPTH;
use crate::jws::{self, Mode, DEFAULT_MAX_TOKEN_LEN, KEY_HEADER_PARAMS};

/// A token's lifetime above which [`inspect`] warns, in seconds.
pub const LONG_LIFETIME_SECS: f64 = 24.0 * 3600.0;

/// Something about a token worth a person's attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Stable identifier, e.g. `NO_EXP`.
    pub code: &'static str,
    /// Explanation for a person.
    pub message: String,
}

/// The unverified contents of a token.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The claims set.
    pub claims: Map<String, Value>,
    /// Warnings, most important first.
    pub warnings: Vec<Warning>,
    /// The header exactly as decoded (strictly validated JSON text).
    pub header_json: String,
    /// The claims set exactly as decoded (strictly validated JSON text).
    pub claims_json: String,
}

fn warn(out: &mut Vec<Warning>, code: &'static str, message: impl Into<String>) {
    out.push(Warning {
        code,
        message: message.into(),
    });
}

/// Decodes `token` without verifying its signature and lists warnings. Time
/// warnings (expired, not yet valid) need `now` (unix seconds).
///
/// # Errors
/// `ERR_JWS_INVALID` / `ERR_JWT_INVALID` if the token cannot be decoded.
pub fn inspect(token: &str, now: Option<u64>) -> Result<Inspection> {
    let t = jws::parse(
        token.trim(),
        DEFAULT_MAX_TOKEN_LEN,
        DEFAULT_MAX_DEPTH,
        Mode::Inspect,
    )?;
    let claims = t.claims(DEFAULT_MAX_DEPTH)?;
    let header = t.header.json;
    let mut w = Vec::new();

    match header.get("alg").and_then(Value::as_str) {
        None => warn(
            &mut w,
            "ALG_MISSING",
            "the header has no string \"alg\"; no verifier will accept it",
        ),
        Some(a) if a.eq_ignore_ascii_case("none") => warn(
            &mut w,
            "ALG_NONE",
            "\"alg\" is none: the token is unsigned and must never be accepted",
        ),
        Some(a) if a.starts_with("HS") => warn(
            &mut w,
            "ALG_SYMMETRIC",
            msg!(
                "\"alg\" is ",
                a,
                ": anyone who can verify this token can also forge one"
            ),
        ),
        Some(_) => {}
    }
    if header.contains_key("crit") {
        warn(
            &mut w,
            "CRIT_PRESENT",
            "the header has \"crit\"; jwt-edge refuses every token with critical extensions",
        );
    }
    if header.contains_key("b64") {
        warn(
            &mut w,
            "B64_PRESENT",
            "the header has \"b64\" (RFC 7797); JWTs must not use unencoded payloads",
        );
    }
    for p in KEY_HEADER_PARAMS {
        if header.contains_key(p) {
            warn(
                &mut w,
                "EMBEDDED_KEY_REFERENCE",
                msg!(
                    "the header has \"",
                    p,
                    "\"; verifiers must never take keys from the token"
                ),
            );
        }
    }
    if !header.contains_key("kid") {
        warn(
            &mut w,
            "NO_KID",
            "the header has no \"kid\"; key rotation needs one",
        );
    }
    if !header.contains_key("typ") {
        warn(
            &mut w,
            "TYP_MISSING",
            "the header has no \"typ\"; explicit typing (e.g. at+jwt) prevents token confusion",
        );
    }

    let date = |name: &'static str, w: &mut Vec<Warning>| match numeric_date(&claims, name) {
        Ok(v) => v,
        Err(e) => {
            warn(w, "INVALID_CLAIM", String::from(e.message()));
            None
        }
    };
    let exp = date("exp", &mut w);
    let nbf = date("nbf", &mut w);
    let iat = date("iat", &mut w);
    if exp.is_none() && !claims.contains_key("exp") {
        warn(
            &mut w,
            "NO_EXP",
            "the token has no \"exp\"; it never expires",
        );
    }
    if let Some(exp) = exp {
        let start = iat.or(nbf);
        if let Some(start) = start {
            if exp - start > LONG_LIFETIME_SECS {
                warn(
                    &mut w,
                    "LONG_LIFETIME",
                    msg!(
                        "the token is valid for about ",
                        ((exp - start) / 3600.0) as u64,
                        " hours; more than 24 hours is risky"
                    ),
                );
            }
        }
    }
    if let Some(now) = now.map(|n| n as f64) {
        if exp.is_some_and(|e| now >= e) {
            warn(&mut w, "EXPIRED", "the token has expired");
        }
        if nbf.is_some_and(|n| now < n) {
            warn(
                &mut w,
                "NOT_YET_VALID",
                "\"nbf\" is in the future: the token is not valid yet",
            );
        }
        if iat.is_some_and(|i| i > now) {
            warn(&mut w, "IAT_IN_FUTURE", "\"iat\" is in the future");
        }
    }
    if t.signature.is_empty() {
        warn(&mut w, "NO_SIGNATURE", "the signature segment is empty");
    }
    if header.is_empty() {
        return Err(jws_invalid("the header is an empty JSON object"));
    }
    let header_json =
        String::from_utf8(t.header_bytes).map_err(|_| jws_invalid("the header is not UTF-8"))?;
    let claims_json =
        String::from_utf8(t.payload).map_err(|_| jws_invalid("the claims set is not UTF-8"))?;
    Ok(Inspection {
        header,
        claims,
        warnings: w,
        header_json,
        claims_json,
    })
}
