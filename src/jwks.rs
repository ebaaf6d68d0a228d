//! A set of trusted verification keys and the rules that select one for a token.
//!
//! Selection follows jose's `isUsableJWK` rules, made stricter:
//! - a key fits an `alg` only if its family (kty/crv) matches, its own `alg`
//!   (if any) equals the token's, and it is a signing key (`use`/`key_ops`);
//! - token with `kid`: exactly one fitting key with that `kid`, else
//!   `ERR_JWKS_NO_MATCHING_KEY` / `ERR_JWKS_MULTIPLE_MATCHING_KEYS`;
//! - token without `kid`: exactly one fitting key, unless the policy opts in to
//!   trying up to [`crate::MAX_KIDLESS_CANDIDATES`] candidates.
//!
//! Embedded `jwk`, `jku`, `x5u`, `x5c` headers are never consulted.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::error::{jwks_invalid, Error, ErrorKind, Result};
use crate::json;
use crate::jwk::Key;
use crate::text::Truncated;

/// Largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most keys accepted in one JWKS.
pub const MAX_JWKS_KEYS: usize = 100;

/// Why a key in a JWKS was skipped. Skipped keys are never used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIssue {
    /// Position of the key in the `keys` array of the JWKS it came from.
    pub index: usize,
    /// The key's `kid`, if it had a string one.
    pub kid: Option<String>,
    /// What is wrong with it.
    pub message: String,
}

/// The keys a verifier trusts: public keys from a JWKS plus explicitly
/// configured HMAC secrets.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    issues: Vec<KeyIssue>,
}

impl KeySet {
    /// An empty key set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a public JWKS (`{"keys":[...]}`). Keys that are invalid,
    /// unsupported, private, symmetric, not for signing or too weak are skipped
    /// and listed in [`KeySet::issues`].
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` if the document is not a JSON object with a `keys`
    /// array, is larger than 256 KiB, or has more than 100 keys.
    pub fn from_jwks(json: &[u8]) -> Result<Self> {
        let mut set = Self::new();
        set.add_jwks(json)?;
        Ok(set)
    }

    /// Adds the keys of a public JWKS to this set (see [`KeySet::from_jwks`]).
    ///
    /// # Errors
    /// As [`KeySet::from_jwks`]; on error the set is unchanged.
    pub fn add_jwks(&mut self, json: &[u8]) -> Result<()> {
        self.add_entries(parse_jwks_entries(json)?);
        Ok(())
    }

    /// A key set from a JWKS already parsed (strictly) as part of a larger
    /// document, e.g. the npm package's options: as [`KeySet::from_jwks`]
    /// without the text-size bound.
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` when `doc` has no `keys` array or too many keys.
    #[cfg(feature = "wasm")]
    pub(crate) fn from_jwks_doc(doc: Map<String, Value>) -> Result<Self> {
        let mut set = Self::new();
        set.add_entries(jwks_entries(doc)?);
        Ok(set)
    }

    fn add_entries(&mut self, entries: Vec<Value>) {
        for (index, entry) in entries.iter().enumerate() {
            let Value::Object(jwk) = entry else {
                self.issues.push(KeyIssue {
                    index,
                    kid: None,
                    message: msg!(
                        "key ",
                        index,
                        " is ",
                        json::type_name(entry),
                        ", not a JSON object"
                    ),
                });
                continue;
            };
            match Key::from_public_jwk(jwk) {
                Ok(key) => self.keys.push(key),
                Err(message) => self.issues.push(KeyIssue {
                    index,
                    kid: jwk
                        .get("kid")
                        .and_then(Value::as_str)
                        .map(|k| String::from(crate::text::prefix(k, crate::jwk::MAX_KID_LEN))),
                    message: msg!("key ", index, " ", message),
                }),
            }
        }
    }

    /// Parses a JWKS of HMAC secrets (`oct` keys) from trusted configuration,
    /// for rotating pre-shared secrets. Every key must be a valid `oct` signing
    /// key; a set mixing symmetric and asymmetric keys is refused.
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` on any unusable key (explicit configuration is all or nothing).
    pub fn from_secret_jwks(json: &[u8]) -> Result<Self> {
        let mut set = Self::new();
        set.add_secret_jwks(json)?;
        Ok(set)
    }

    /// Adds HMAC secrets from trusted configuration: either a JWKS of `oct`
    /// keys (see [`KeySet::from_secret_jwks`]) or a single `oct` JWK object.
    /// Parsed with the same strict JSON rules as tokens.
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` on any unusable key; on error the set is unchanged.
    pub fn add_secret_jwks(&mut self, json: &[u8]) -> Result<()> {
        let doc = parse_jwks_document(json)?;
        let entries = match doc.get("keys") {
            Some(_) => jwks_entries(doc)?,
            None => alloc::vec![Value::Object(doc)],
        };
        let mut keys = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let Value::Object(jwk) = entry else {
                return Err(jwks_invalid(msg!("key ", index, " is not a JSON object")));
            };
            if jwk.get("kty").and_then(Value::as_str) != Some("oct") {
                return Err(jwks_invalid(msg!("key ", index, " is not an \"oct\" key; HMAC secrets must be oct keys and a secret key set must not mix symmetric and asymmetric keys")));
            }
            let key = Key::from_secret_jwk(jwk)
                .map_err(|e| jwks_invalid(msg!("key ", index, ": ", e.message())))?;
            keys.push(key);
        }
        self.keys.extend(keys);
        Ok(())
    }

    /// Moves every key (and skipped-key report) of `other` into this set.
    pub fn extend(&mut self, other: KeySet) {
        self.keys.extend(other.keys);
        self.issues.extend(other.issues);
    }

    /// Adds an explicitly configured HMAC secret (see [`Key::hmac_secret`]).
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` if the secret is too short or `alg` is not HS*.
    pub fn add_hmac_secret(
        &mut self,
        secret: &[u8],
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<()> {
        self.keys.push(Key::hmac_secret(secret, kid, alg)?);
        Ok(())
    }

    /// Copies of the HMAC secrets of this set (public keys are left out).
    pub(crate) fn copy_secrets(&self) -> KeySet {
        KeySet {
            keys: self.keys.iter().filter_map(Key::copy_secret).collect(),
            issues: Vec::new(),
        }
    }

    /// Adds an already-built key.
    pub fn push(&mut self, key: Key) {
        self.keys.push(key);
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    pub(crate) fn keys_mut(&mut self) -> &mut [Key] {
        &mut self.keys
    }

    /// Consumes the set, returning its usable keys.
    pub fn into_keys(self) -> Vec<Key> {
        self.keys
    }

    /// Keys that were skipped while parsing, with the reason.
    pub fn issues(&self) -> &[KeyIssue] {
        &self.issues
    }

    /// True if the set has no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// True if a usable key with this `kid` exists.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// Selects the candidate keys for a token with `alg` and optional `kid`.
    /// `kidless_limit` is how many candidates a token without `kid` may try
    /// (1 = exactly one key must fit).
    ///
    /// # Errors
    /// `ERR_JWKS_NO_MATCHING_KEY` or `ERR_JWKS_MULTIPLE_MATCHING_KEYS`.
    pub fn select(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        kidless_limit: usize,
    ) -> Result<Vec<&Key>> {
        Ok(self
            .select_indices(alg, kid, kidless_limit)?
            .into_iter()
            .filter_map(|i| self.keys.get(i))
            .collect())
    }

    /// As [`KeySet::select`], giving the candidates' positions in [`KeySet::keys`].
    ///
    /// # Errors
    /// As [`KeySet::select`].
    pub fn select_indices(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        kidless_limit: usize,
    ) -> Result<Vec<usize>> {
        let candidates: Vec<usize> = self
            .keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.fits(alg) && kid.is_none_or(|kid| kid_matches(k, kid)))
            .map(|(i, _)| i)
            .collect();
        match (candidates.len(), kid) {
            (0, Some(kid)) => Err(Error::new(
                ErrorKind::NoMatchingKey,
                if self.contains_kid(kid) {
                    msg!(
                        "the key with kid ",
                        Truncated(kid),
                        " cannot verify ",
                        alg,
                        " (wrong key type or its alg differs)"
                    )
                } else {
                    msg!("no trusted key has kid ", Truncated(kid))
                },
            )),
            (0, None) => Err(Error::new(
                ErrorKind::NoMatchingKey,
                msg!(
                    "no trusted key can verify ",
                    alg,
                    " and the token has no kid"
                ),
            )),
            (1, _) => Ok(candidates),
            (n, Some(kid)) => Err(Error::new(
                ErrorKind::MultipleMatchingKeys,
                msg!(
                    n,
                    " trusted keys have kid ",
                    Truncated(kid),
                    " and fit ",
                    alg,
                    "; kids must be unique"
                ),
            )),
            (n, None) if n <= kidless_limit => Ok(candidates),
            (n, None) => Err(Error::new(
                ErrorKind::MultipleMatchingKeys,
                msg!(
                    "the token has no kid and ",
                    n,
                    " trusted keys fit ",
                    alg,
                    "; add a kid to the token or allow trying several keys in the policy"
                ),
            )),
        }
    }
}

/// Whether `key` answers to a token's `kid`. An HMAC secret configured
/// without a kid matches any kid: the caller gave exactly that secret, and the
/// token's kid is only a hint (as when jose is handed a secret directly).
/// Public keys follow jose's rule: a kid must match exactly.
fn kid_matches(key: &Key, kid: &str) -> bool {
    match key.kid() {
        Some(own) => own == kid,
        None => key.family() == crate::alg::KeyFamily::Hmac,
    }
}

fn parse_jwks_document(json: &[u8]) -> Result<Map<String, Value>> {
    if json.len() > MAX_JWKS_BYTES {
        return Err(jwks_invalid(msg!(
            "JWKS is ",
            json.len(),
            " bytes; at most ",
            MAX_JWKS_BYTES,
            " are accepted"
        )));
    }
    json::parse_object(json, json::DEFAULT_MAX_DEPTH)
        .map_err(|e| jwks_invalid(msg!("JWKS is not a valid JSON object: ", e)))
}

fn jwks_entries(mut doc: Map<String, Value>) -> Result<Vec<Value>> {
    match doc.get_mut("keys").map(core::mem::take) {
        Some(Value::Array(keys)) if keys.len() <= MAX_JWKS_KEYS => Ok(keys),
        Some(Value::Array(keys)) => Err(jwks_invalid(msg!(
            "JWKS has ",
            keys.len(),
            " keys; at most ",
            MAX_JWKS_KEYS,
            " are accepted"
        ))),
        Some(other) => Err(jwks_invalid(msg!(
            "JWKS member \"keys\" is ",
            json::type_name(&other),
            ", not an array"
        ))),
        None => Err(jwks_invalid("JWKS has no \"keys\" array")),
    }
}

fn parse_jwks_entries(json: &[u8]) -> Result<Vec<Value>> {
    jwks_entries(parse_jwks_document(json)?)
}
