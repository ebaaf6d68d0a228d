//! Revocation lists: pure data, checked after the signature and the claims.
//!
//! Schema (produced by the issuer, shipped like a JWKS):
//! ```json
//! {"iss":"https://issuer.example","epoch":42,"generated_at":1700000000,
//!  "jti":[{"jti":"abc","exp":1700003600}],
//!  "sub":[{"sub":"user-1","before":1700000000}],
//!  "kid":["old-key-id"]}
//! ```
//! A token is revoked if its (`iss`, `jti`) is listed, if its (`iss`, `sub`)
//! has `before` greater than its `iat` (no `iat` counts as 0), or if the `kid`
//! of the key that verified it is listed in any held list. A list may also
//! arrive signed: a compact JWS with `typ: revocation-list+jwt` whose payload
//! is that JSON, verified against the same key set.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result, RevocationReason};
use crate::json;
use crate::text::Truncated;

/// Largest revocation list accepted (JSON bytes, or signed JWS length).
pub const MAX_REVOCATION_LIST_BYTES: usize = 8 * 1024 * 1024;
/// The `typ` a signed revocation list must carry.
pub const REVOCATION_LIST_TYP: &str = "revocation-list+jwt";

fn invalid(message: impl Into<alloc::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::RevocationListInvalid, message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJti {
    jti: String,
    exp: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSub {
    sub: String,
    before: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    iss: String,
    epoch: u64,
    generated_at: u64,
    #[serde(default)]
    jti: Vec<RawJti>,
    #[serde(default)]
    sub: Vec<RawSub>,
    #[serde(default)]
    kid: Vec<String>,
}

/// One issuer's revocation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    iss: String,
    epoch: u64,
    generated_at: u64,
    jti: BTreeMap<String, u64>,
    sub: BTreeMap<String, u64>,
    kid: BTreeSet<String>,
}

impl RevocationList {
    /// Parses the unsigned JSON form.
    ///
    /// # Errors
    /// `ERR_REVOCATION_LIST_INVALID` if it is not valid JSON of the schema above.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_REVOCATION_LIST_BYTES {
            return Err(invalid(format!(
                "revocation list is {} bytes; at most {MAX_REVOCATION_LIST_BYTES} are accepted",
                bytes.len()
            )));
        }
        let value = json::parse(bytes, 4)
            .map_err(|e| invalid(format!("revocation list is not valid JSON: {e}")))?;
        let raw: RawList = serde_json::from_value(value)
            .map_err(|e| invalid(format!("revocation list does not match the schema: {e}")))?;
        let mut sub = BTreeMap::new();
        for s in raw.sub {
            // Keep the latest cut-off if a subject is listed twice.
            let e = sub.entry(s.sub).or_insert(0u64);
            *e = (*e).max(s.before);
        }
        Ok(Self {
            iss: raw.iss,
            epoch: raw.epoch,
            generated_at: raw.generated_at,
            jti: raw.jti.into_iter().map(|j| (j.jti, j.exp)).collect(),
            sub,
            kid: raw.kid.into_iter().collect(),
        })
    }

    /// The issuer this list belongs to.
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// The list's epoch; a held list is never replaced by a lower one.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// When the issuer generated the list (unix seconds).
    pub fn generated_at(&self) -> u64 {
        self.generated_at
    }

    /// Number of revoked token ids, subjects and keys.
    pub fn len(&self) -> usize {
        self.jti.len() + self.sub.len() + self.kid.len()
    }

    /// True if nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The revocation data a verifier holds: at most one list per issuer.
#[derive(Debug, Clone, Default)]
pub struct Revocations {
    lists: BTreeMap<String, RevocationList>,
}

/// What a token looks like to the revocation check.
pub(crate) struct Subject<'a> {
    pub iss: Option<&'a str>,
    pub jti: Option<&'a str>,
    pub sub: Option<&'a str>,
    pub iat: Option<f64>,
    pub kid: Option<&'a str>,
}

impl Revocations {
    /// No lists.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs or refreshes the list of `list.issuer()`.
    ///
    /// # Errors
    /// `ERR_REVOCATION_LIST_INVALID` if a list with a higher epoch is already
    /// held for that issuer (a replayed old list must not un-revoke tokens).
    pub fn insert(&mut self, list: RevocationList) -> Result<()> {
        if let Some(held) = self.lists.get(&list.iss) {
            if list.epoch < held.epoch {
                return Err(invalid(format!(
                    "revocation list epoch {} is lower than the epoch {} already held for this issuer",
                    list.epoch, held.epoch
                )));
            }
        }
        self.lists.insert(list.iss.clone(), list);
        Ok(())
    }

    /// The list held for `iss`, if any.
    pub fn get(&self, iss: &str) -> Option<&RevocationList> {
        self.lists.get(iss)
    }

    /// A number that changes whenever the held data changes (sum of epochs and
    /// list count), for caches that must be invalidated on refresh.
    pub fn version(&self) -> u64 {
        self.lists
            .values()
            .fold(self.lists.len() as u64, |acc, l| acc.wrapping_add(l.epoch))
    }

    pub(crate) fn check(&self, t: &Subject<'_>) -> Result<()> {
        if let Some(kid) = t.kid {
            if self.lists.values().any(|l| l.kid.contains(kid)) {
                return Err(Error::revoked(
                    RevocationReason::Kid,
                    format!("the signing key {:?} has been revoked", Truncated(kid)),
                ));
            }
        }
        let Some(list) = t.iss.and_then(|iss| self.lists.get(iss)) else {
            return Ok(());
        };
        if let Some(jti) = t.jti {
            if list.jti.contains_key(jti) {
                return Err(Error::revoked(
                    RevocationReason::Jti,
                    format!("token {:?} has been revoked", Truncated(jti)),
                ));
            }
        }
        if let Some(sub) = t.sub {
            if let Some(&before) = list.sub.get(sub) {
                if (before as f64) > t.iat.unwrap_or(0.0) {
                    return Err(Error::revoked(
                        RevocationReason::Sub,
                        format!(
                            "tokens of subject {:?} issued before {before} have been revoked",
                            Truncated(sub)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
