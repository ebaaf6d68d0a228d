//! Strict JSON for untrusted input (RFC 8259 plus the JWS rules of RFC 7515 §4).
//!
//! `serde_json` already refuses trailing data, comments, trailing commas, `NaN`,
//! lone surrogates and invalid UTF-8. On top of it this module rejects duplicate
//! member names at every depth (serde_json's `Value` silently keeps the last one,
//! the parser differential behind CVE-2022-39227-style attacks) and enforces a
//! small nesting limit so hostile input cannot exhaust the stack.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Default maximum nesting depth of objects/arrays in a header, claims set,
/// JWKS or revocation list.
pub const DEFAULT_MAX_DEPTH: usize = 20;

/// Parses `bytes` as one JSON value, rejecting duplicate member names and
/// nesting deeper than `max_depth`. The error string is safe to show a user.
pub(crate) fn parse(bytes: &[u8], max_depth: usize) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed {
        depth_left: max_depth,
    }
    .deserialize(&mut de)
    .map_err(|e| format!("{e}"))?;
    de.end().map_err(|e| format!("{e}"))?;
    Ok(value)
}

/// Parses `bytes` as a JSON object (see [`parse`]).
pub(crate) fn parse_object(bytes: &[u8], max_depth: usize) -> Result<Map<String, Value>, String> {
    match parse(bytes, max_depth)? {
        Value::Object(map) => Ok(map),
        other => Err(format!(
            "expected a JSON object, found {}",
            type_name(&other)
        )),
    }
}

/// A short name of a JSON value's type, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct StrictSeed {
    depth_left: usize,
}

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor {
            depth_left: self.depth_left,
        })
    }
}

struct StrictVisitor {
    depth_left: usize,
}

impl StrictVisitor {
    fn nested<E: de::Error>(&self) -> Result<usize, E> {
        self.depth_left
            .checked_sub(1)
            .ok_or_else(|| E::custom("JSON nesting is deeper than allowed"))
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth_left = self.nested()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictSeed { depth_left })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let depth_left = self.nested()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member name {:?}",
                    crate::text::Truncated(&key)
                )));
            }
            let value = map.next_value_seed(StrictSeed { depth_left })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_rejected_at_every_depth() {
        assert!(parse(br#"{"a":1,"a":2}"#, 8).is_err());
        assert!(parse(br#"{"alg":"RS256","\u0061lg":"HS256"}"#, 8).is_err());
        assert!(parse(br#"{"cnf":{"k":1,"k":2}}"#, 8).is_err());
        assert!(parse(br#"[{"x":1},{"x":1}]"#, 8).is_ok());
    }

    #[test]
    fn depth_limit_and_trailing_data() {
        assert!(parse(b"[[[1]]]", 3).is_ok());
        assert!(parse(b"[[[[1]]]]", 3).is_err());
        assert!(parse(br#"{"a":1}xyz"#, 8).is_err());
        assert!(parse(b"\xef\xbb\xbf{}", 8).is_err());
        assert!(parse(br#"{"a":"\ud800"}"#, 8).is_err());
        assert!(parse(br#"{"a":1e999}"#, 8).is_err());
        assert!(parse(br#"{"a":1,}"#, 8).is_err());
    }
}
