//! Strict JSON for untrusted input (RFC 8259 plus the JWS rules of RFC 7515 §4).
//!
//! A small recursive-descent parser into `serde_json::Value` (the data model
//! the rest of the crate uses). It refuses everything RFC 8259 does not allow
//! (trailing data, comments, trailing commas, leading zeros, `NaN`, raw control
//! characters, lone surrogates, invalid UTF-8, a byte-order mark), refuses
//! duplicate member names at every depth (the parser differential behind
//! CVE-2022-39227-style attacks: serde_json's own `Value` keeps the last one)
//! and refuses nesting deeper than a small limit, so recursion is bounded.
//!
//! Why not serde_json's parser: it was used until the npm package's size budget
//! (see README, design notes) called for the ~15 KB of wasm it costs (its
//! number parser's tables, error machinery and a serde visitor for duplicate
//! detection). Numbers follow serde_json's model: integers that fit become
//! `u64`/`i64`, everything else `f64`, correctly rounded by [`crate::decimal`]
//! (as `JSON.parse` reads it). A differential test against serde_json with its
//! exact `float_roundtrip` parser (`tests` below) keeps the two in agreement,
//! to the bit, on every input without duplicate members.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Number, Value};

use crate::text::Truncated;

/// Default maximum nesting depth of objects/arrays in a header, claims set,
/// JWKS or revocation list.
pub const DEFAULT_MAX_DEPTH: usize = 20;

/// The hard ceiling on nesting, whatever a policy asks for: the parser (and
/// dropping the value) recurses once per level, so this bounds the stack.
pub const MAX_DEPTH_LIMIT: usize = 128;

/// Parses `bytes` as one JSON value, rejecting duplicate member names and
/// nesting deeper than `max_depth`. The error string is safe to show a user.
pub(crate) fn parse(bytes: &[u8], max_depth: usize) -> Result<Value, String> {
    let text =
        core::str::from_utf8(bytes).map_err(|e| msg!("invalid UTF-8 at byte ", e.valid_up_to()))?;
    let mut p = Parser { text, pos: 0 };
    p.skip_ws();
    let value = p.value(max_depth.min(MAX_DEPTH_LIMIT))?;
    p.skip_ws();
    if p.pos != text.len() {
        return Err(p.error("trailing characters after the JSON value"));
    }
    Ok(value)
}

/// Parses `bytes` as a JSON object (see [`parse`]).
pub(crate) fn parse_object(bytes: &[u8], max_depth: usize) -> Result<Map<String, Value>, String> {
    match parse(bytes, max_depth)? {
        Value::Object(map) => Ok(map),
        other => Err(msg!("expected a JSON object, found ", type_name(&other))),
    }
}

/// A pull reader over one JSON document of a known shape, for documents too
/// large to hold as a [`Value`] tree (a revocation list of 100,000 entries
/// is ~70 MB as `BTreeMap`s, and wasm memory never shrinks): the caller walks
/// objects and arrays one member or element at a time and keeps only what it
/// needs. Same grammar and errors as [`parse`]; the caller checks member
/// names (unknown and duplicate ones) against its schema.
pub(crate) struct Reader<'a> {
    p: Parser<'a>,
}

impl<'a> Reader<'a> {
    /// Starts reading `bytes` (checked to be UTF-8 here).
    pub(crate) fn new(bytes: &'a [u8]) -> Result<Self, String> {
        let text = core::str::from_utf8(bytes)
            .map_err(|e| msg!("invalid UTF-8 at byte ", e.valid_up_to()))?;
        Ok(Reader {
            p: Parser { text, pos: 0 },
        })
    }

    /// Opens the object that must come next.
    pub(crate) fn object(&mut self) -> Result<(), String> {
        self.open(b'{', "expected a JSON object")
    }

    /// Opens the array that must come next.
    pub(crate) fn array(&mut self) -> Result<(), String> {
        self.open(b'[', "expected a JSON array")
    }

    fn open(&mut self, byte: u8, what: &str) -> Result<(), String> {
        self.p.skip_ws();
        self.p.expect(byte, what)
    }

    /// The name and byte offset of the open object's next member (its value
    /// is to be read next), or `None` when the object closes. `first`: no
    /// member has been read from this object yet.
    pub(crate) fn member(&mut self, first: bool) -> Result<Option<(String, usize)>, String> {
        self.p.next_member(first)
    }

    /// As [`Reader::member`], with the name written into `name` (cleared
    /// first): no allocation per member once `name` has grown.
    pub(crate) fn member_into(
        &mut self,
        first: bool,
        name: &mut String,
    ) -> Result<Option<usize>, String> {
        self.p.next_member_into(first, name)
    }

    /// Whether the next value is a string.
    pub(crate) fn next_is_string(&mut self) -> bool {
        self.p.skip_ws();
        self.p.peek() == Some(b'"')
    }

    /// Appends the next value, which must be a string (see
    /// [`Reader::next_is_string`]), to `out`.
    pub(crate) fn string_into(&mut self, out: &mut String) -> Result<(), String> {
        self.p.skip_ws();
        if self.p.peek() != Some(b'"') {
            return Err(self.p.error("expected a JSON string"));
        }
        self.p.string_into(out)
    }

    /// Whether the open array has another element (to be read next).
    /// `first`: no element has been read from this array yet.
    pub(crate) fn element(&mut self, first: bool) -> Result<bool, String> {
        self.p.next_element(first)
    }

    /// The next value, whole, with at most `max_depth` levels of nesting.
    pub(crate) fn value(&mut self, max_depth: usize) -> Result<Value, String> {
        self.p.skip_ws();
        self.p.value(max_depth.min(MAX_DEPTH_LIMIT))
    }

    /// Ends the document: only whitespace may follow.
    pub(crate) fn end(mut self) -> Result<(), String> {
        self.p.skip_ws();
        if self.p.pos == self.p.text.len() {
            Ok(())
        } else {
            Err(self.p.error("trailing characters after the JSON value"))
        }
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

struct Parser<'a> {
    /// The whole input, already checked to be UTF-8.
    text: &'a str,
    /// Byte offset of the next unread byte. Only ever advanced past ASCII
    /// bytes or to the end of a scanned run, so it stays on a char boundary.
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn error(&self, what: &str) -> String {
        if self.pos >= self.text.len() {
            msg!(what, " at the end of the input")
        } else {
            msg!(what, " at byte ", self.pos)
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` (after whitespace) or fails with `what`.
    fn expect(&mut self, byte: u8, what: &str) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// Skips whitespace, then consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    /// After an array element or object member: `,` (more follow, `false`) or
    /// `close` (done, `true`).
    fn separator(&mut self, close: u8, what: &str) -> Result<bool, String> {
        if self.eat(b',') {
            Ok(false)
        } else if self.peek() == Some(close) {
            self.pos += 1;
            Ok(true)
        } else {
            Err(self.error(what))
        }
    }

    /// One value; the caller has skipped leading whitespace. `depth_left` is how
    /// many more arrays/objects may open.
    fn value(&mut self, depth_left: usize) -> Result<Value, String> {
        match self.peek() {
            Some(b'{') => self.object(depth_left),
            Some(b'[') => self.array(depth_left),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            _ => Err(self.error("expected a JSON value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, String> {
        if self.text.as_bytes().get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn nested(&self, depth_left: usize) -> Result<usize, String> {
        depth_left
            .checked_sub(1)
            .ok_or_else(|| self.error("JSON nesting is deeper than allowed"))
    }

    /// After `[` or an element: whether another element follows (read it
    /// next) or the array closes. `first`: right after the `[`.
    fn next_element(&mut self, first: bool) -> Result<bool, String> {
        if first {
            Ok(!self.eat(b']'))
        } else {
            Ok(!self.separator(b']', "expected ',' or ']' in an array")?)
        }
    }

    /// After `{` or a member's value: the next member's name and byte offset
    /// (its value is read next), or `None` when the object closes. `first`:
    /// right after the `{`.
    fn next_member(&mut self, first: bool) -> Result<Option<(String, usize)>, String> {
        let mut name = String::new();
        Ok(self
            .next_member_into(first, &mut name)?
            .map(|at| (name, at)))
    }

    /// As [`Parser::next_member`], the name written into `name`.
    fn next_member_into(
        &mut self,
        first: bool,
        name: &mut String,
    ) -> Result<Option<usize>, String> {
        if first && self.eat(b'}') {
            return Ok(None);
        }
        if !first && self.separator(b'}', "expected ',' or '}' in an object")? {
            return Ok(None);
        }
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a member name (a JSON string)"));
        }
        let at = self.pos;
        name.clear();
        self.string_into(name)?;
        self.expect(b':', "expected ':' after a member name")?;
        Ok(Some(at))
    }

    fn array(&mut self, depth_left: usize) -> Result<Value, String> {
        let inner = self.nested(depth_left)?;
        self.pos += 1; // '['
        let mut out = Vec::new();
        let mut first = true;
        while self.next_element(first)? {
            first = false;
            self.skip_ws();
            out.push(self.value(inner)?);
        }
        Ok(Value::Array(out))
    }

    fn object(&mut self, depth_left: usize) -> Result<Value, String> {
        let inner = self.nested(depth_left)?;
        self.pos += 1; // '{'
        let mut out = Map::new();
        let mut first = true;
        while let Some((key, at)) = self.next_member(first)? {
            first = false;
            self.skip_ws();
            let value = self.value(inner)?;
            if out.contains_key(&key) {
                return Err(msg!(
                    "duplicate member name ",
                    Truncated(&key),
                    " at byte ",
                    at
                ));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }

    /// A string; `pos` is at its opening quote.
    fn string(&mut self) -> Result<String, String> {
        let mut out = String::new();
        self.string_into(&mut out)?;
        Ok(out)
    }

    /// A string appended to `out`; `pos` is at its opening quote.
    fn string_into(&mut self, out: &mut String) -> Result<(), String> {
        self.pos += 1;
        let bytes = self.text.as_bytes();
        loop {
            let start = self.pos;
            // One scan over the rest (no bounds check per byte).
            let rest = bytes.get(start..).unwrap_or_default();
            self.pos += rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            // The run ends before an ASCII byte or at the end: a char boundary.
            out.push_str(self.text.get(start..self.pos).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(out)?;
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// One escape sequence after its backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let first = self.hex4()?;
                let code = match first {
                    0xD800..=0xDBFF => {
                        if self.text.as_bytes().get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.error("lone leading surrogate in a \\u escape"));
                        }
                        self.pos += 2;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(self.error("invalid surrogate pair in a \\u escape"));
                        }
                        0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    }
                    0xDC00..=0xDFFF => {
                        return Err(self.error("lone trailing surrogate in a \\u escape"))
                    }
                    c => c,
                };
                out.push(char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))?);
                return Ok(());
            }
            _ => return Err(self.error("invalid escape in a string")),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.error("expected four hex digits in a \\u escape")),
            };
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    /// Skips ASCII digits; returns how many.
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number, in serde_json's model: an integer that fits is a `u64`
    /// (non-negative) or an `i64` (negative; `-0` is the float `-0.0`), any
    /// other number an `f64`. A number too large for an `f64` is refused.
    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        let int_end = self.pos;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'-' | b'+') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        let bytes = self.text.as_bytes();
        if self.pos == int_end {
            let int_digits = bytes.get(int_start..int_end).unwrap_or_default();
            // Up to 19 digits cannot overflow a u64: no checked (128-bit in
            // wasm) arithmetic for the common case.
            let magnitude: Option<u64> = if int_digits.len() <= 19 {
                Some(int_digits.iter().fold(0u64, |m, &b| {
                    m.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
                }))
            } else {
                int_digits.iter().try_fold(0u64, |m, &b| {
                    m.checked_mul(10)?.checked_add(u64::from(b - b'0'))
                })
            };
            match (negative, magnitude) {
                (false, Some(m)) => return Ok(Value::Number(m.into())),
                (true, Some(m)) if m > 0 && m <= 1 << 63 => {
                    return Ok(Value::Number((0i64.wrapping_sub_unsigned(m)).into()))
                }
                _ => {}
            }
        }
        // Everything else is a float, correctly rounded (as JavaScript's
        // `JSON.parse` reads it).
        let f = bytes
            .get(start..self.pos)
            .and_then(crate::decimal::parse)
            .ok_or_else(|| msg!("invalid number at byte ", start))?;
        Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| msg!("number out of range at byte ", start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn duplicates_rejected_at_every_depth() {
        assert!(parse(br#"{"a":1,"a":2}"#, 8).is_err());
        assert!(parse(br#"{"alg":"RS256","\u0061lg":"HS256"}"#, 8).is_err());
        assert!(parse(br#"{"cnf":{"k":1,"k":2}}"#, 8).is_err());
        assert!(parse(br#"[{"x":1},{"x":1}]"#, 8).is_ok());
        let e = parse(br#"{"a":1, "a":2}"#, 8).unwrap_err();
        assert_eq!(e, "duplicate member name \"a\" at byte 8");
    }

    #[test]
    fn depth_limit_and_trailing_data() {
        assert!(parse(b"[[[1]]]", 3).is_ok());
        assert!(parse(b"[[[[1]]]]", 3).is_err());
        assert!(parse(b"1", 0).is_ok());
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(deep(128).as_bytes(), usize::MAX).is_ok());
        assert!(parse(deep(129).as_bytes(), usize::MAX).is_err());
        assert!(parse(deep(100_000).as_bytes(), usize::MAX).is_err());
        assert!(parse(b"[]", 0).is_err());
        assert!(parse(br#"{"a":1}xyz"#, 8).is_err());
        assert!(parse(b"\xef\xbb\xbf{}", 8).is_err());
        assert!(parse(br#"{"a":"\ud800"}"#, 8).is_err());
        assert!(parse(br#"{"a":1e999}"#, 8).is_err());
        assert!(parse(br#"{"a":1,}"#, 8).is_err());
    }

    #[test]
    fn rfc8259_grammar_edges() {
        for bad in [
            &b""[..],
            b" ",
            b"01",
            b"-",
            b"1.",
            b".5",
            b"+1",
            b"1e",
            b"1e+",
            b"--1",
            b"0x10",
            b"NaN",
            b"Infinity",
            b"tru",
            b"nul",
            b"[1,]",
            b"[,1]",
            b"{,}",
            b"{\"a\"}",
            b"{\"a\" 1}",
            b"{1:2}",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"\\u12g4\"",
            b"\"\x01\"",
            b"\"tab\there\"",
            b"\"\xff\"",
            b"\"\\udc00\"",
            b"\"\\ud800\\u0041\"",
            b"[1]/**/",
            b"// c\n1",
            b"'a'",
            b"\"abc",
            b"[1 2]",
            b"\x0c1",
        ] {
            assert!(
                parse(bad, 8).is_err(),
                "{:?} must be refused",
                String::from_utf8_lossy(bad)
            );
        }
        let v = parse(r#" {"s":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00€","n":[0,-0,-1,1.5,2e3,-9223372036854775808,18446744073709551615,18446744073709551616,true,false,null]} "#.as_bytes(), 8).unwrap();
        assert_eq!(v["s"], "a\"\\/\u{8}\u{c}\n\r\té😀€");
        let n = &v["n"];
        assert_eq!(n[0].as_u64(), Some(0));
        assert!(n[1].as_f64().unwrap().is_sign_negative());
        assert_eq!(n[2].as_i64(), Some(-1));
        assert_eq!(n[3].as_f64(), Some(1.5));
        assert_eq!(n[4].as_f64(), Some(2000.0));
        assert!(n[4].is_f64());
        assert_eq!(n[5].as_i64(), Some(i64::MIN));
        assert_eq!(n[6].as_u64(), Some(u64::MAX));
        assert!(n[7].is_f64());
        assert_eq!(n[8], true);
        assert_eq!(n[10], Value::Null);
    }

    #[test]
    fn numeric_dates_keep_their_value() {
        for (text, want) in [
            ("1300819380", 1_300_819_380.0),
            ("1300819380.5", 1_300_819_380.5),
            ("1.30081938e9", 1_300_819_380.0),
            ("253402300799", 253_402_300_799.0),
            ("0.000001", 0.000001),
            ("1e-400", 0.0),
            ("1e-999999999999", 0.0),
            ("123456789e-320", 1.23456789e-312),
            ("1e-330", 1e-330),
        ] {
            let v = parse(text.as_bytes(), 1).unwrap();
            assert_eq!(v.as_f64(), Some(want), "{text}");
        }
    }

    /// Agrees with serde_json (as `Value`) on every input without duplicate
    /// members: the same inputs accepted, the same values (floats to the bit:
    /// the tests enable serde_json's exact `float_roundtrip` parser).
    fn agrees_with_serde_json(input: &[u8]) {
        let ours = parse(input, 64);
        let theirs = serde_json::from_slice::<Value>(input);
        match (ours, theirs) {
            (Ok(a), Ok(b)) => assert!(
                same(&a, &b),
                "{a} vs {b} for {:?}",
                String::from_utf8_lossy(input)
            ),
            // The one listed difference: serde_json keeps the last duplicate.
            (Err(e), Ok(_))
                if e.starts_with("duplicate member name") && has_duplicate_members(input) => {}
            (Err(e), Ok(b)) => panic!(
                "refused {:?} ({e}) that serde_json reads as {b}",
                String::from_utf8_lossy(input)
            ),
            (Ok(a), Err(e)) => panic!(
                "accepted {:?} as {a}; serde_json: {e}",
                String::from_utf8_lossy(input)
            ),
            (Err(_), Err(_)) => {}
        }
    }

    /// Whether serde_json's own parser meets a member name twice in one
    /// object: an oracle independent of ours (a visitor over its events).
    fn has_duplicate_members(input: &[u8]) -> bool {
        use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

        struct Walk<'a>(&'a mut bool);
        impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_any(self)
            }
        }
        impl<'de> Visitor<'de> for Walk<'_> {
            type Value = ();
            fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<(), E> {
                Ok(())
            }
            fn visit_i64<E>(self, _: i64) -> Result<(), E> {
                Ok(())
            }
            fn visit_u64<E>(self, _: u64) -> Result<(), E> {
                Ok(())
            }
            fn visit_f64<E>(self, _: f64) -> Result<(), E> {
                Ok(())
            }
            fn visit_str<E>(self, _: &str) -> Result<(), E> {
                Ok(())
            }
            fn visit_unit<E>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                while seq.next_element_seed(Walk(&mut *self.0))?.is_some() {}
                Ok(())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                let mut seen = alloc::collections::BTreeSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key) {
                        *self.0 = true;
                    }
                    map.next_value_seed(Walk(&mut *self.0))?;
                }
                Ok(())
            }
        }
        let mut found = false;
        let mut de = serde_json::Deserializer::from_slice(input);
        let _ = serde::de::DeserializeSeed::deserialize(Walk(&mut found), &mut de);
        found
    }

    #[test]
    fn duplicate_oracle_sees_what_serde_json_parses() {
        assert!(has_duplicate_members(br#"{"a":1,"a":2}"#));
        assert!(has_duplicate_members(br#"{"a":1,"\u0061":2}"#));
        assert!(has_duplicate_members(br#"[0,{"x":{"k":1,"k":2}}]"#));
        assert!(!has_duplicate_members(
            br#"{"a":{"a":1},"b":[{"a":2},{"a":3}]}"#
        ));
    }

    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            // Same kind (u64, i64, f64) and the same value; -0.0 is not 0.0.
            (Value::Number(x), Value::Number(y)) => {
                x == y && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|((k, a), (l, b))| k == l && same(a, b))
            }
            _ => a == b,
        }
    }

    #[test]
    fn agrees_with_serde_json_on_hand_picked_inputs() {
        for input in [
            &b"0"[..],
            b"-0.0",
            b"1E5",
            b"1e-5",
            b"123456789012345678901234567890",
            b"-123456789012345678901",
            b"0.1",
            b"3.141592653589793",
            b"1.7976931348623157e308",
            b"2.2250738585072014e-308",
            b"5e-324",
            b"12345678901234567890.123456789e-10",
            b"9007199254740993",
            b"[1.5e300, -2e-300]",
            b"\"\\ud83d\\ude00\"",
            b" [ ] ",
            b"{ }",
            b"\t\r\n[\"x\"]\n",
            b"\"\xe2\x82\xac\"",
        ] {
            agrees_with_serde_json(input);
        }
    }

    // proptest is a native-only dev-dependency (tests/wasm.rs builds these unit
    // tests for wasm32 too).
    #[cfg(not(target_arch = "wasm32"))]
    mod differential {
        use alloc::format;
        use alloc::string::{String, ToString};
        use alloc::vec;
        use alloc::vec::Vec;
        use proptest::prelude::*;
        use proptest::prop_oneof;

        /// JSON-ish text: mostly valid fragments glued together, with some
        /// random bytes, so both the valid and the invalid side are explored.
        fn fragment() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("{".into()),
                Just("}".into()),
                Just("[".into()),
                Just("]".into()),
                Just(",".into()),
                Just(":".into()),
                Just(" ".into()),
                Just("\"".into()),
                Just("\\".into()),
                Just("\\u".into()),
                Just("true".into()),
                Just("null".into()),
                "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,4})?",
                "\"([a-z€😀 ]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}){0,6}\"",
                "[\\x00-\\x7f]",
                any::<char>().prop_map(String::from),
            ]
        }

        fn structured() -> impl Strategy<Value = String> {
            let leaf = prop_oneof![
                "-?(0|[1-9][0-9]{0,22})(\\.[0-9]{1,18})?([eE][+-]?[0-9]{1,2})?",
                "\"([a-z€😀 ]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-cA-CeEfF][0-9a-fA-F]{3}|\\\\ud[89ab][0-9a-f]{2}\\\\ud[c-f][0-9a-f]{2}){0,6}\"",
                Just("true".to_string()),
                Just("null".to_string()),
            ];
            leaf.prop_recursive(4, 32, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4)
                        .prop_map(|v| format!("[{}]", v.join(","))),
                    prop::collection::btree_map("[a-z]{1,3}", inner, 0..4).prop_map(|m| {
                        let members: Vec<String> =
                            m.iter().map(|(k, v)| format!("\"{k}\" : {v}")).collect();
                        format!("{{ {} }}", members.join(","))
                    }),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]
            #[test]
            fn random_fragments(parts in prop::collection::vec(fragment(), 1..12)) {
                super::agrees_with_serde_json(parts.concat().as_bytes());
            }

            #[test]
            fn valid_documents(doc in structured()) {
                super::agrees_with_serde_json(doc.as_bytes());
                prop_assert!(super::parse(doc.as_bytes(), 64).is_ok());
            }

            #[test]
            fn mutated_documents(doc in structured(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
                let mut bytes = doc.into_bytes();
                let i = at.index(bytes.len());
                bytes[i] = byte;
                super::agrees_with_serde_json(&bytes);
            }
        }
    }
}
