//! IETF Token Status Lists (draft-ietf-oauth-status-list): a token carries
//! `status: {status_list: {idx, uri}}`; the issuer publishes a signed
//! `statuslist+jwt` whose `status_list: {bits, lst}` holds every token's
//! status in `bits` bits (1, 2, 4 or 8), `lst` being the base64url of the
//! ZLIB-compressed byte array (status `i` sits at bit `(i * bits) % 8`, least
//! significant first, of byte `i * bits / 8`).
//!
//! Decoding is bounded: the inflated size may not exceed the policy's
//! [`crate::Policy::max_status_list_bytes`] (a decompression bomb is refused
//! with `ERR_STATUS_LIST_INVALID` after at most that many bytes of output).
//! A held list costs its inflated size in memory and nothing per entry; a
//! check is one bit lookup.
//!
//! Status values (the draft's registry): 0 valid, 1 invalid
//! (`ERR_JWT_REVOKED`, reason `status_list`), 2 suspended (reason
//! `suspended`); any other value is not valid either (reason `status_list`).

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result, RevocationReason};
use crate::text::Truncated;

/// The `typ` a Status List Token must carry.
pub const STATUS_LIST_TYP: &str = "statuslist+jwt";

/// Default bound on a status list's inflated size: 4 MiB, i.e. 33,554,432
/// tokens at one bit each.
pub const DEFAULT_MAX_STATUS_LIST_BYTES: usize = 4 * 1024 * 1024;

/// Status lists held at once per issuer (the least recently installed is
/// dropped beyond it).
pub const MAX_HELD_STATUS_LISTS: usize = 64;

fn invalid(message: impl Into<alloc::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::StatusListInvalid, message)
}

/// A decoded, verified status list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    uri: String,
    iss: Option<String>,
    bits: u8,
    bytes: Vec<u8>,
    iat: u64,
    exp: Option<u64>,
    ttl: Option<u64>,
}

fn u64_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            invalid(msg!(
                "status list: \"",
                name,
                "\" must be a non-negative integer"
            ))
        }),
    }
}

impl StatusList {
    /// Parses a Status List Token's claims set (already verified) that was
    /// fetched from `uri`, at `now`.
    ///
    /// # Errors
    /// `ERR_STATUS_LIST_INVALID`: `sub` is not `uri`, `iat` missing, `exp`
    /// passed, `bits` not 1/2/4/8, `lst` not base64url or not ZLIB, inflated
    /// beyond `max_bytes`.
    pub fn from_claims(
        claims: &Map<String, Value>,
        uri: &str,
        now: u64,
        max_bytes: usize,
    ) -> Result<Self> {
        match claims.get("sub").and_then(Value::as_str) {
            Some(sub) if sub == uri => {}
            Some(sub) => {
                return Err(invalid(msg!(
                    "status list: \"sub\" is ",
                    Truncated(sub),
                    ", not the URI it was fetched from (",
                    Truncated(uri),
                    ")"
                )))
            }
            None => return Err(invalid("status list: \"sub\" (its own URI) is missing")),
        }
        let iat =
            u64_claim(claims, "iat")?.ok_or_else(|| invalid("status list: \"iat\" is missing"))?;
        let exp = u64_claim(claims, "exp")?;
        if let Some(exp) = exp {
            if exp <= now {
                return Err(invalid(msg!(
                    "status list expired at ",
                    exp,
                    " (now ",
                    now,
                    ")"
                )));
            }
        }
        let ttl = u64_claim(claims, "ttl")?;
        let iss = match claims.get("iss") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(invalid("status list: \"iss\" must be a string")),
        };
        let Some(Value::Object(sl)) = claims.get("status_list") else {
            return Err(invalid(
                "status list: \"status_list\" (an object with bits and lst) is missing",
            ));
        };
        let bits = match sl.get("bits").and_then(Value::as_u64) {
            Some(b @ (1 | 2 | 4 | 8)) => b as u8,
            _ => return Err(invalid("status list: \"bits\" must be 1, 2, 4 or 8")),
        };
        let lst = sl
            .get("lst")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("status list: \"lst\" must be a string"))?;
        let bytes = decode_lst(lst, max_bytes)?;
        Ok(Self {
            uri: uri.into(),
            iss,
            bits,
            bytes,
            iat,
            exp,
            ttl,
        })
    }

    /// The status of token `idx`, if the list has that index.
    pub fn status(&self, idx: u64) -> Option<u8> {
        let bits = u64::from(self.bits);
        let bit = idx.checked_mul(bits)?;
        let byte = *self.bytes.get(usize::try_from(bit / 8).ok()?)?;
        let shift = (bit % 8) as u32;
        let mask = if bits == 8 { 0xff } else { (1u8 << bits) - 1 };
        Some((byte >> shift) & mask)
    }

    /// The URI it was fetched from (its `sub`).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Its `iss`, if any.
    pub fn issuer(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// Bits per status.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// How many statuses it holds.
    pub fn len(&self) -> u64 {
        (self.bytes.len() as u64) * 8 / u64::from(self.bits)
    }

    /// True if it holds none.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// `iat`.
    pub fn issued_at(&self) -> u64 {
        self.iat
    }

    /// `exp`, if any.
    pub fn expires_at(&self) -> Option<u64> {
        self.exp
    }

    /// `ttl` (seconds a copy may be used), if any.
    pub fn ttl(&self) -> Option<u64> {
        self.ttl
    }

    /// Whether it may still be used at `now` (before `exp`).
    pub fn usable_at(&self, now: u64) -> bool {
        self.exp.is_none_or(|e| now < e)
    }
}

/// base64url, then ZLIB inflate with output bounded by `max_bytes`.
fn decode_lst(lst: &str, max_bytes: usize) -> Result<Vec<u8>> {
    // A ZLIB stream is at most a few bytes larger than... nothing useful:
    // bound the compressed input by the output bound too.
    if lst.len() / 4 * 3 > max_bytes.saturating_add(1024) {
        return Err(invalid(msg!(
            "status list: \"lst\" is ",
            lst.len(),
            " characters; more than the configured maximum of ",
            max_bytes,
            " bytes could need"
        )));
    }
    let compressed = crate::b64::decode(lst.as_bytes()).map_err(|e| {
        invalid(msg!(
            "status list: \"lst\" is not base64url: ",
            e.describe()
        ))
    })?;
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&compressed, max_bytes).map_err(|e| {
        match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => invalid(msg!(
                "status list: \"lst\" inflates to more than the configured maximum of ",
                max_bytes,
                " bytes (a decompression bomb, or raise maxStatusListBytes)"
            )),
            _ => invalid("status list: \"lst\" is not a valid ZLIB stream"),
        }
    })
}

/// A token's `status.status_list` reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusRef<'a> {
    pub uri: &'a str,
    pub idx: u64,
}

/// Reads `status.status_list` from a token's claims: `Ok(None)` when the
/// token has no `status` claim or no `status_list` mechanism in it.
///
/// # Errors
/// `ERR_JWT_CLAIM_VALIDATION_FAILED` (claim `status`, invalid) for a
/// malformed reference.
pub(crate) fn status_ref(claims: &Map<String, Value>) -> Result<Option<StatusRef<'_>>> {
    let bad = |why: &'static str| {
        Error::claim(
            ErrorKind::ClaimValidationFailed,
            "status",
            crate::error::ClaimReason::Invalid,
            why,
        )
    };
    let Some(status) = claims.get("status") else {
        return Ok(None);
    };
    let Value::Object(status) = status else {
        return Err(bad("\"status\" must be an object"));
    };
    let Some(sl) = status.get("status_list") else {
        return Ok(None);
    };
    let Value::Object(sl) = sl else {
        return Err(bad("\"status.status_list\" must be an object"));
    };
    let idx = sl
        .get("idx")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("\"status.status_list.idx\" must be a non-negative integer"))?;
    let uri = sl
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("\"status.status_list.uri\" must be a string"))?;
    Ok(Some(StatusRef { uri, idx }))
}

/// The status lists one issuer's policy holds (by URI, most recent last).
#[derive(Debug, Clone, Default)]
pub(crate) struct HeldLists {
    lists: Vec<StatusList>,
}

impl HeldLists {
    /// Installs `list`, replacing the one with the same URI; a list older
    /// (`iat`) than the one held is refused so a replay cannot un-revoke.
    pub(crate) fn insert(&mut self, list: StatusList) -> Result<()> {
        if let Some(pos) = self.lists.iter().position(|l| l.uri == list.uri) {
            let held = self.lists.remove(pos);
            if list.iat < held.iat {
                let e = invalid(msg!(
                    "status list ",
                    Truncated(&list.uri),
                    " was issued at ",
                    list.iat,
                    ", before the copy already held (",
                    held.iat,
                    ")"
                ));
                self.lists.insert(pos, held);
                return Err(e);
            }
        } else if self.lists.len() >= MAX_HELD_STATUS_LISTS {
            self.lists.remove(0);
        }
        self.lists.push(list);
        Ok(())
    }

    pub(crate) fn get(&self, uri: &str) -> Option<&StatusList> {
        self.lists.iter().find(|l| l.uri == uri)
    }

    /// Checks a token's reference at `now`.
    pub(crate) fn check(&self, r: StatusRef<'_>, iss: Option<&str>, now: u64) -> Result<()> {
        let unavailable = |why: String| Error::new(ErrorKind::StatusListUnavailable, why);
        let Some(list) = self.get(r.uri) else {
            return Err(unavailable(msg!(
                "the token's status list ",
                Truncated(r.uri),
                " is not held (fetch or install it; without it the token's status is unknown)"
            )));
        };
        if !list.usable_at(now) {
            return Err(unavailable(msg!(
                "the held status list ",
                Truncated(r.uri),
                " has expired; a fresh copy is needed"
            )));
        }
        if let (Some(li), Some(ti)) = (list.issuer(), iss) {
            if li != ti {
                return Err(invalid(msg!(
                    "status list ",
                    Truncated(r.uri),
                    " belongs to issuer ",
                    Truncated(li),
                    ", not the token's"
                )));
            }
        }
        match list.status(r.idx) {
            Some(0) => Ok(()),
            Some(2) => Err(Error::revoked(
                RevocationReason::Suspended,
                msg!("the token is suspended (status list index ", r.idx, ")"),
            )),
            Some(1) => Err(Error::revoked(
                RevocationReason::StatusList,
                msg!("the token is revoked (status list index ", r.idx, ")"),
            )),
            Some(s) => Err(Error::revoked(
                RevocationReason::StatusList,
                msg!(
                    "the token has status ",
                    s,
                    " (status list index ",
                    r.idx,
                    "), not valid"
                ),
            )),
            None => Err(invalid(msg!(
                "the token's index ",
                r.idx,
                " is beyond the status list's ",
                list.len(),
                " entries"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn draft_examples_decode() {
        // The draft's examples (section "Status List"): one bit and two bits.
        let one = claims(
            json!({"sub": "u", "iat": 1, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}}),
        );
        let l = StatusList::from_claims(&one, "u", 2, 1024).unwrap();
        let want = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
        let got: Vec<u8> = (0..16).map(|i| l.status(i).unwrap()).collect();
        assert_eq!(got, want);
        assert_eq!(l.status(16), None);
        let two = claims(
            json!({"sub": "u", "iat": 1, "status_list": {"bits": 2, "lst": "eNo76fITAAPfAgc"}}),
        );
        let l = StatusList::from_claims(&two, "u", 2, 1024).unwrap();
        let want = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
        let got: Vec<u8> = (0..12).map(|i| l.status(i).unwrap()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bombs_and_bad_lists_refused() {
        // 1 MiB of zeros compresses to ~1 KiB: refused above a 64 KiB bound.
        let zeros = alloc::vec![0u8; 1 << 20];
        let lst = crate::b64url_encode(&miniz_oxide::deflate::compress_to_vec_zlib(&zeros, 9));
        let c = claims(json!({"sub": "u", "iat": 1, "status_list": {"bits": 1, "lst": lst}}));
        let e = StatusList::from_claims(&c, "u", 2, 64 * 1024).unwrap_err();
        assert_eq!(e.code(), "ERR_STATUS_LIST_INVALID");
        assert!(StatusList::from_claims(&c, "u", 2, 1 << 20).is_ok());
        for bad in [
            json!({"sub": "other", "iat": 1, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}}),
            json!({"sub": "u", "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}}),
            json!({"sub": "u", "iat": 1, "exp": 2, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}}),
            json!({"sub": "u", "iat": 1, "status_list": {"bits": 3, "lst": "eNrbuRgAAhcBXQ"}}),
            json!({"sub": "u", "iat": 1, "status_list": {"bits": 1, "lst": "!!"}}),
            json!({"sub": "u", "iat": 1, "status_list": {"bits": 1, "lst": "AAAA"}}),
            json!({"sub": "u", "iat": 1}),
        ] {
            let e = StatusList::from_claims(&claims(bad.clone()), "u", 2, 1024).unwrap_err();
            assert_eq!(e.code(), "ERR_STATUS_LIST_INVALID", "{bad}");
        }
    }
}
