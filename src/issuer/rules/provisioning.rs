//! Provisioning keys: `jep_<id>_<secret>`, with a 16-hex-digit public id and a
//! 256-bit random secret (43 base64url characters). Only SHA-256(secret) is
//! stored: a fast hash is enough for a 256-bit random secret (no dictionary
//! to search), and it is compared in constant time.

use std::format;
use std::string::String;
use std::vec::Vec;

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::issuer::custody::local::random_b64;
use crate::issuer::{ClientFailure, Error, Refusal, Result};

/// The prefix that makes provisioning keys recognisable (e.g. to secret scanners).
pub const PREFIX: &str = "jep_";

/// A freshly created provisioning key. The full key exists only here; print it once.
pub struct NewKey {
    /// The public id.
    pub id: String,
    /// `jep_<id>_<secret>`.
    pub full: Zeroizing<String>,
    /// SHA-256 of the secret.
    pub secret_sha256: [u8; 32],
}

impl core::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Whether `id` has the form of a client id: 16 lowercase hex digits.
pub fn is_client_id(id: &str) -> bool {
    id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Generates a new provisioning key.
pub fn generate() -> NewKey {
    let mut id_bytes = [0u8; 8];
    OsRng.fill_bytes(&mut id_bytes);
    let id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
    successor(&id)
}

/// A new secret for the existing key `id` (rotation): same id, new secret.
pub fn successor(id: &str) -> NewKey {
    let id = String::from(id);
    let secret = Zeroizing::new(random_b64(32));
    let secret_sha256 = hash(&secret);
    NewKey {
        full: Zeroizing::new(format!("{PREFIX}{id}_{}", secret.as_str())),
        id,
        secret_sha256,
    }
}

/// SHA-256 of a secret.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A presented key, split into its public id and its secret.
pub struct Presented {
    /// The public id (safe to log).
    pub id: String,
    secret: Zeroizing<String>,
}

impl core::fmt::Debug for Presented {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Presented")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Presented {
    /// Parses `jep_<id>_<secret>` (surrounding whitespace removed).
    ///
    /// See [`is_client_id`] for the id's form.
    ///
    /// # Errors
    /// A refusal that names no part of the input.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::refused_for(
                Refusal::Client(ClientFailure::Malformed),
                "malformed provisioning key (expected jep_<id>_<secret>)",
            )
        };
        let rest = text.trim().strip_prefix(PREFIX).ok_or_else(bad)?;
        let (id, secret) = rest.split_once('_').ok_or_else(bad)?;
        if !is_client_id(id) {
            return Err(bad());
        }
        if secret.len() != 43 {
            return Err(bad());
        }
        Ok(Self {
            id: id.into(),
            secret: Zeroizing::new(secret.into()),
        })
    }

    /// Whether the secret hashes to `stored` (constant-time comparison).
    pub fn matches(&self, stored: &[u8; 32]) -> bool {
        hash(&self.secret).ct_eq(stored).into()
    }
}

/// Splits a scope string into sorted, de-duplicated scopes. RFC 6749 §3.3:
/// `scope = scope-token *( SP scope-token )`, so tokens are separated by
/// exactly one space, with none before the first or after the last.
///
/// # Errors
/// An empty scope token (two spaces in a row, a leading or trailing space)
/// or a scope with characters RFC 6749 §3.3 does not allow.
pub fn parse_scopes(text: &str) -> Result<Vec<String>> {
    let mut v: Vec<String> = Vec::new();
    if text.is_empty() {
        return Ok(v);
    }
    for s in text.split(' ') {
        if s.is_empty() {
            return Err(Error::usage(
                "scope tokens are separated by single spaces, with none at either end \
                 (RFC 6749 section 3.3)",
            ));
        }
        if !s
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(Error::usage(format!("invalid scope {s:?}")));
        }
        if !v.iter().any(|x| x == s) {
            v.push(s.into());
        }
    }
    v.sort();
    Ok(v)
}

/// What a provisioning key may do besides obtaining tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Permission {
    /// `introspect`: call the server's RFC 7662 introspection endpoint.
    Introspect,
}

impl Permission {
    /// Every permission, in name order.
    pub const ALL: [Self; 1] = [Self::Introspect];

    /// The name (`--permission`, the store, the JSON views).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Introspect => "introspect",
        }
    }

    /// The audit action of a request that uses it, e.g. `introspect.authorize`.
    pub fn authorize_action(self) -> &'static str {
        match self {
            Self::Introspect => "introspect.authorize",
        }
    }

    /// The permission a name means.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl core::fmt::Display for Permission {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Reads permission names: sorted, de-duplicated.
///
/// # Errors
/// A name that is not a [`Permission`].
pub fn parse_permissions(names: &[String]) -> Result<Vec<Permission>> {
    let mut v: Vec<Permission> = Vec::new();
    for n in names {
        let p = Permission::parse(n).ok_or_else(|| {
            let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
            Error::usage(format!(
                "unknown permission {n:?}; known: {}",
                known.join(", ")
            ))
        })?;
        if !v.contains(&p) {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

/// Warnings about a provisioning key about to be created: what its settings
/// will do that its creator may not expect (the adapters show them; none
/// refuses the key). Today one: a key without audiences may request any
/// audience but has no default, so a token request that names none
/// (RFC 8707 `resource`) is refused with `invalid_target`: RFC 9068 access
/// tokens need an audience.
pub fn creation_warnings(audiences: &[String]) -> Vec<CreationWarning> {
    let mut out = Vec::new();
    if audiences.is_empty() {
        out.push(CreationWarning::NoAudience);
    }
    out
}

/// A warning about a provisioning key about to be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CreationWarning {
    /// It names no audience.
    NoAudience,
}

impl CreationWarning {
    /// What will happen, in words.
    pub fn message(self) -> &'static str {
        match self {
            Self::NoAudience => {
                "this key may ask for any audience but has no default one, so every token \
                 request that names no audience (RFC 8707 `resource`) is refused with \
                 invalid_target (RFC 9068 access tokens need an audience)"
            }
        }
    }
}

/// The scopes of `requested` not in `allowed`.
pub fn not_allowed<'a>(requested: &'a [String], allowed: &[String]) -> Vec<&'a str> {
    requested
        .iter()
        .filter(|s| !allowed.contains(s))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_compare() {
        let k = generate();
        let p = Presented::parse(&k.full).unwrap();
        assert_eq!(p.id, k.id);
        assert!(p.matches(&k.secret_sha256));
        assert!(!p.matches(&[0; 32]));
        assert!(!format!("{p:?}").contains(&k.full[21..]));
        for bad in [
            "",
            "jep_",
            "jep_zz_x",
            "xx_0123456789abcdef_aaaa",
            &k.full[..k.full.len() - 1],
        ] {
            assert!(Presented::parse(bad).is_err());
        }
        assert_eq!(parse_scopes("b a a").unwrap(), ["a", "b"]);
        assert!(parse_scopes("").unwrap().is_empty());
        for bad in [" b", "b ", "a  b", " "] {
            assert!(parse_scopes(bad).is_err(), "{bad:?}");
        }
        assert!(parse_scopes("a\"b").is_err());
    }
}
