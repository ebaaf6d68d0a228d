//! Compact JWS parsing (RFC 7515 §7.1): untrusted text becomes an
//! [`UntrustedToken`] with a typed protected header, or an `ERR_JWS_INVALID`.
//!
//! Nothing here verifies or trusts anything. The signing input is kept as the
//! exact received ASCII (`header '.' payload`); nothing is ever re-serialised.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::b64;
use crate::error::{jws_invalid, jwt_invalid, Result};
use crate::json;
use crate::jwk::check_kid_len;

/// Default maximum token length in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 * 1024;
/// Header parameters whose presence alone makes a token invalid: `crit` (we
/// implement no extension, RFC 7515 §4.1.11) and `b64` (RFC 7797 unencoded
/// payloads are not allowed in JWTs, RFC 7797 §7).
const REFUSED_HEADER_PARAMS: [&str; 2] = ["crit", "b64"];
/// JWE header parameters (RFC 7516 §4.1.2, §4.1.3), refused in a signed
/// token: `zip` is defined for JWE only (a JWS payload is never compressed,
/// and decompressing attacker data is a bomb waiting to happen), and `enc`
/// marks a JWE header pasted onto a JWS (the token is not what its producer
/// meant). jose ignores both; joserfc refuses them.
const JWE_ONLY_HEADER_PARAMS: [&str; 2] = ["zip", "enc"];
/// Header parameters that carry or point at key material. They are never used
/// to find a key; [`crate::inspect`] warns about them.
pub const KEY_HEADER_PARAMS: [&str; 5] = ["jwk", "jku", "x5u", "x5c", "x5t#S256"];

/// The three segments of a compact JWS, split but not decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segments<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
    /// `header '.' payload`, exactly as received.
    pub signing_input: &'a str,
}

/// The token length limit.
pub(crate) fn check_len(len: usize, max_len: usize) -> Result<()> {
    if len > max_len {
        return Err(jws_invalid(msg!(
            "token is ",
            len,
            " bytes; at most ",
            max_len,
            " are accepted"
        )));
    }
    Ok(())
}

/// Splits `token` into exactly three segments, with an early exit on the
/// fourth dot (no allocation proportional to the number of dots).
pub(crate) fn split(token: &str, max_len: usize) -> Result<Segments<'_>> {
    check_len(token.len(), max_len)?;
    if token.is_empty() {
        return Err(jws_invalid("token is empty"));
    }
    let mut dots = [0usize; 2];
    let mut count = 0usize;
    for (i, b) in token.bytes().enumerate() {
        if b == b'.' {
            match dots.get_mut(count) {
                Some(slot) => *slot = i,
                None => {
                    return Err(jws_invalid(
                        "compact JWS must have exactly 3 segments; found more (a JWE has 5)",
                    ))
                }
            }
            count += 1;
        }
    }
    if count != 2 {
        return Err(jws_invalid(msg!(
            "compact JWS must have exactly 3 dot-separated segments; found ",
            count + 1
        )));
    }
    let [d1, d2] = dots;
    let seg = |r: core::ops::Range<usize>| {
        token
            .get(r)
            .ok_or_else(|| jws_invalid("token is not valid UTF-8 at a segment boundary"))
    };
    Ok(Segments {
        header: seg(0..d1)?,
        payload: seg(d1 + 1..d2)?,
        signature: seg(d2 + 1..token.len())?,
        signing_input: seg(0..d2)?,
    })
}

fn decode_segment(name: &str, seg: &str) -> Result<Vec<u8>> {
    if seg.is_empty() {
        return Err(jws_invalid(msg!("the ", name, " segment is empty")));
    }
    b64::decode_public(seg.as_bytes())
        .map_err(|e| jws_invalid(msg!("the ", name, " segment ", e.describe())))
}

/// A parsed protected header. Only `alg`, `kid`, `typ` are interpreted before
/// the signature is verified.
#[derive(Debug, Clone)]
pub struct Header {
    /// The `alg` member (a JSON string; not yet checked against any allowlist).
    pub alg: String,
    /// The `kid` member, if present (a JSON string of at most 256 bytes).
    pub kid: Option<String>,
    /// The `typ` member, if present.
    pub typ: Option<String>,
    /// The whole header object.
    pub json: Map<String, Value>,
}

/// A compact JWS whose structure has been checked but whose signature has not.
#[derive(Debug, Clone)]
pub struct UntrustedToken {
    pub(crate) header: Header,
    pub(crate) header_bytes: Vec<u8>,
    pub(crate) signing_input: String,
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
}

/// How strictly to treat the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Verification: `crit`/`b64` refused, `alg` and `kid` must be strings.
    Verify,
    /// Inspection: decode whatever is well-formed JSON, judge nothing.
    Inspect,
}

/// Parses the header and signature; the payload stays encoded until the
/// signature has been verified.
pub(crate) fn parse(
    token: &str,
    max_len: usize,
    max_depth: usize,
    mode: Mode,
) -> Result<UntrustedToken> {
    let segs = split(token, max_len)?;
    let header_bytes = decode_segment("header", segs.header)?;
    let header_json = parse_header_json(&header_bytes, max_depth)?;
    let header = parse_header(header_json, mode)?;
    // An empty payload is a valid JWS (Wycheproof "emptyPayload"); it can
    // never be a JWT claims set, which `claims` reports after the signature.
    let payload = if segs.payload.is_empty() {
        Vec::new()
    } else {
        decode_segment("payload", segs.payload)?
    };
    let signature = match mode {
        Mode::Verify => decode_segment("signature", segs.signature)?,
        Mode::Inspect if segs.signature.is_empty() => Vec::new(),
        Mode::Inspect => decode_segment("signature", segs.signature)?,
    };
    Ok(UntrustedToken {
        header,
        header_bytes,
        signing_input: String::from(segs.signing_input),
        payload,
        signature,
    })
}

fn parse_header_json(bytes: &[u8], max_depth: usize) -> Result<Map<String, Value>> {
    json::parse_object(bytes, max_depth)
        .map_err(|e| jws_invalid(msg!("the header is not a valid JSON object: ", e)))
}

fn parse_header(json: Map<String, Value>, mode: Mode) -> Result<Header> {
    let strict = mode == Mode::Verify;
    if strict {
        for p in REFUSED_HEADER_PARAMS {
            if json.contains_key(p) {
                return Err(jws_invalid(msg!("header parameter \"", p, "\" is not supported: jwt-edge implements no JWS extensions, so a token with \"crit\" or \"b64\" is refused")));
            }
        }
        for p in JWE_ONLY_HEADER_PARAMS {
            if json.contains_key(p) {
                return Err(jws_invalid(msg!(
                    "header parameter \"",
                    p,
                    "\" belongs to JWE (RFC 7516), not to a signed token: refused"
                )));
            }
        }
    }
    let alg = match json.get("alg") {
        Some(Value::String(s)) => s.clone(),
        Some(other) if strict => {
            return Err(jws_invalid(msg!(
                "header \"alg\" must be a string, found ",
                json::type_name(other)
            )))
        }
        None if strict => return Err(jws_invalid("header has no \"alg\"")),
        _ => String::new(),
    };
    let kid = match json.get("kid") {
        Some(Value::String(s)) => {
            if strict {
                check_kid_len(s).map_err(jws_invalid)?;
            }
            Some(s.clone())
        }
        Some(other) if strict => {
            return Err(jws_invalid(msg!(
                "header \"kid\" must be a string, found ",
                json::type_name(other)
            )))
        }
        _ => None,
    };
    let typ = match json.get("typ") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) if strict => {
            return Err(jws_invalid(msg!(
                "header \"typ\" must be a string, found ",
                json::type_name(other)
            )))
        }
        _ => None,
    };
    Ok(Header {
        alg,
        kid,
        typ,
        json,
    })
}

impl UntrustedToken {
    /// The parsed protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The exact JWS signing input (`header '.' payload` as received).
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The decoded signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Checks the header against a lower nesting limit than it was parsed with.
    pub(crate) fn check_header_depth(&self, max_depth: usize) -> Result<()> {
        parse_header_json(&self.header_bytes, max_depth).map(|_| ())
    }

    /// Decodes the payload as a JSON object (the JWT claims set).
    pub(crate) fn claims(&self, max_depth: usize) -> Result<Map<String, Value>> {
        if self.payload.is_empty() {
            return Err(jwt_invalid(
                "the payload is empty; a JWT needs a claims set (detached payloads are not supported)",
            ));
        }
        json::parse_object(&self.payload, max_depth)
            .map_err(|e| jwt_invalid(msg!("JWT claims set is not a valid JSON object: ", e)))
    }
}

/// Normalises a media type per RFC 7515 §4.1.9: compared case-insensitively,
/// with the `application/` prefix optional when the value has no other `/`.
pub(crate) fn normalize_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) if !rest.contains('/') => String::from(rest),
        _ => lower,
    }
}
