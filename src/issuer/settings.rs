//! The issuer's policy, chosen at `init` and stored in the `settings` table.

use std::collections::BTreeMap;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::Algorithm;

use super::custody::local as keys;
use super::duration;
use super::{Error, Result};

/// Default lifetime of an issued token (15 minutes).
pub const DEFAULT_TOKEN_TTL: u64 = 900;
/// Default upper bound on any token's lifetime (1 hour).
pub const DEFAULT_MAX_TOKEN_TTL: u64 = 3600;
/// Default rotation period (30 days).
pub const DEFAULT_ROTATE_EVERY: u64 = 30 * 86_400;
/// Default pre-publication period of a pending key (1 day).
pub const DEFAULT_PRE_PUBLISH: u64 = 86_400;
/// Default time a retired key's metadata is kept before its private key is destroyed (30 days).
pub const DEFAULT_RETAIN: u64 = 30 * 86_400;
/// Default longest time a verifier may cache the JWKS (1 hour).
pub const DEFAULT_JWKS_MAX_AGE: u64 = 3600;
/// Default PBKDF2-HMAC-SHA256 iteration count for encrypted private keys.
pub const DEFAULT_KDF_ITERATIONS: u32 = 600_000;
/// Smallest PBKDF2 iteration count accepted (only sensible for tests).
pub const MIN_KDF_ITERATIONS: u32 = 1000;

/// The issuer's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The `iss` of every token and revocation list.
    pub issuer: String,
    /// Algorithm of the keys `keys rotate` generates (the primary key ring:
    /// it signs revocation and status lists, and the tokens of clients that
    /// name no algorithm).
    pub alg: Algorithm,
    /// More algorithms, each with a key ring of its own under the same
    /// rotation policy (`init --also-alg`, `keys add-alg`): a client created
    /// with `provision create --alg` gets tokens signed by its ring's active
    /// key, e.g. ML-DSA-65 beside ES256 during a migration.
    pub extra_algs: Vec<Algorithm>,
    /// The key ring that signs revocation lists and status lists: one of
    /// [`Settings::extra_algs`], or `None` for the primary ring (the default).
    pub lists_alg: Option<Algorithm>,
    /// Default token lifetime (seconds).
    pub token_ttl: u64,
    /// Largest token lifetime any provisioning key may allow (seconds).
    pub max_token_ttl: u64,
    /// A key signs for this long before it is replaced (seconds).
    pub rotate_every: u64,
    /// A new key is published this long before it signs (seconds).
    pub pre_publish: u64,
    /// A replaced key stays published this long (seconds).
    pub grace: u64,
    /// A retired key's private material is destroyed after this long (seconds).
    pub retain: u64,
    /// The longest a verifier caches the JWKS (seconds); part of the default grace.
    pub jwks_max_age: u64,
    /// PBKDF2 iterations for private keys encrypted at rest.
    pub kdf_iterations: u32,
    /// Where new signing keys are kept: `None` in the store (encrypted
    /// PKCS#8, the default), or in a PKCS#11 token.
    pub pkcs11: Option<super::custody::hsm::Pkcs11Config>,
}

impl Settings {
    /// The key ring a key of `alg` belongs to: `Some(alg)` for one of
    /// [`Settings::extra_algs`], `None` for the primary ring (which keeps
    /// every other algorithm, as before there were several rings).
    pub fn ring_of(&self, alg: Algorithm) -> Option<Algorithm> {
        self.extra_algs.contains(&alg).then_some(alg)
    }

    /// Every algorithm the issuer signs with: the primary one, then each
    /// extra ring's.
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        core::iter::once(self.alg).chain(self.extra_algs.iter().copied())
    }

    /// Whether a key ring signs with `alg` (the primary one or an extra one).
    pub fn signs_with(&self, alg: Algorithm) -> bool {
        alg == self.alg || self.extra_algs.contains(&alg)
    }

    /// `Ok` if a key ring signs with `alg`; otherwise a usage error naming
    /// the issuer's algorithms and `keys add-alg` (for a client's
    /// `--alg`, `keys rotate --alg`).
    ///
    /// # Errors
    /// No ring signs with `alg`.
    pub fn require_ring(&self, alg: Algorithm) -> Result<()> {
        if self.signs_with(alg) {
            return Ok(());
        }
        let names: Vec<&str> = self.algorithms().map(Algorithm::name).collect();
        Err(Error::usage(format!(
            "the issuer signs with {} only; add a key ring for {alg} first (`jwt-edge keys add-alg {alg}`)",
            names.join(", ")
        )))
    }

    /// The ring that signs revocation and status lists (`None`: the primary one).
    pub fn lists_ring(&self) -> Option<Algorithm> {
        self.lists_alg.and_then(|a| self.ring_of(a))
    }

    /// Settings with the defaults for `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            alg: Algorithm::ES256,
            extra_algs: Vec::new(),
            lists_alg: None,
            token_ttl: DEFAULT_TOKEN_TTL,
            max_token_ttl: DEFAULT_MAX_TOKEN_TTL,
            rotate_every: DEFAULT_ROTATE_EVERY,
            pre_publish: DEFAULT_PRE_PUBLISH,
            grace: DEFAULT_MAX_TOKEN_TTL + DEFAULT_JWKS_MAX_AGE,
            retain: DEFAULT_RETAIN,
            jwks_max_age: DEFAULT_JWKS_MAX_AGE,
            kdf_iterations: DEFAULT_KDF_ITERATIONS,
            pkcs11: None,
        }
    }

    /// The default grace: `max_token_ttl + jwks_max_age`, so that no token in
    /// flight and no cached JWKS breaks when a key is replaced.
    pub fn default_grace(&self) -> u64 {
        self.max_token_ttl.saturating_add(self.jwks_max_age)
    }

    /// Checks the policy is coherent.
    ///
    /// # Errors
    /// A usage error naming the first problem.
    pub fn validate(&self) -> Result<()> {
        let u = |m: String| Err(Error::usage(m));
        if self.issuer.trim().is_empty() {
            return u("`issuer` must not be empty".into());
        }
        keys::check_supported(self.alg)?;
        for (i, a) in self.extra_algs.iter().enumerate() {
            keys::check_supported(*a)?;
            if *a == self.alg || self.extra_algs.iter().take(i).any(|b| b == a) {
                return u(format!("{a} is named twice among the issuer's algorithms"));
            }
        }
        if let Some(a) = self.lists_alg {
            if !self.signs_with(a) {
                return u(format!(
                    "the lists can be signed only by one of the issuer's key rings; {a} has none"
                ));
            }
        }
        if self.pkcs11.is_some()
            && !matches!(
                self.alg,
                Algorithm::ES256
                    | Algorithm::RS256
                    | Algorithm::PS256
                    | Algorithm::EdDSA
                    // The token says whether it has PKCS#11 3.2's CKM_ML_DSA.
                    | Algorithm::MlDsa44
                    | Algorithm::MlDsa65
                    | Algorithm::MlDsa87
            )
        {
            return u(format!(
                "a PKCS#11 key store (`pkcs11`) keeps ES256, RS256, PS256, EdDSA and ML-DSA keys; {} keys cannot be generated in the token",
                self.alg
            ));
        }
        if self.token_ttl == 0 || self.max_token_ttl == 0 {
            return u("token lifetimes must be positive".into());
        }
        if self.token_ttl > self.max_token_ttl {
            return u(format!(
                "`token_ttl` ({}) exceeds `max_token_ttl` ({})",
                duration::format(self.token_ttl),
                duration::format(self.max_token_ttl)
            ));
        }
        if self.pre_publish >= self.rotate_every {
            return u("`pre_publish` must be shorter than `rotate_every`".into());
        }
        if self.grace < self.max_token_ttl {
            return u(format!(
                "`grace` ({}) is shorter than `max_token_ttl` ({}): tokens in flight would stop verifying",
                duration::format(self.grace),
                duration::format(self.max_token_ttl)
            ));
        }
        if self.kdf_iterations < MIN_KDF_ITERATIONS {
            return u(format!(
                "`kdf_iterations` must be at least {MIN_KDF_ITERATIONS}"
            ));
        }
        Ok(())
    }

    /// The settings as `name → value` rows.
    pub fn to_rows(&self) -> BTreeMap<&'static str, String> {
        let mut m = BTreeMap::new();
        m.insert("issuer", self.issuer.clone());
        m.insert("alg", self.alg.name().to_string());
        if !self.extra_algs.is_empty() {
            let names: Vec<&str> = self.extra_algs.iter().map(|a| a.name()).collect();
            m.insert("extra_algs", names.join(" "));
        }
        if let Some(a) = self.lists_alg {
            m.insert("lists_alg", a.name().to_string());
        }
        m.insert("token_ttl", self.token_ttl.to_string());
        m.insert("max_token_ttl", self.max_token_ttl.to_string());
        m.insert("rotate_every", self.rotate_every.to_string());
        m.insert("pre_publish", self.pre_publish.to_string());
        m.insert("grace", self.grace.to_string());
        m.insert("retain", self.retain.to_string());
        m.insert("jwks_max_age", self.jwks_max_age.to_string());
        m.insert("kdf_iterations", self.kdf_iterations.to_string());
        if let Some(p) = &self.pkcs11 {
            m.insert("pkcs11_module", p.module.clone());
            m.insert("pkcs11_token", p.token.clone());
        }
        m
    }

    /// Reads settings back from rows.
    ///
    /// # Errors
    /// A missing or malformed row (a storage error).
    pub fn from_rows(rows: &BTreeMap<String, String>) -> Result<Self> {
        let get = |k: &str| {
            rows.get(k)
                .ok_or_else(|| Error::storage(format!("setting {k:?} is missing")))
        };
        let num = |k: &str| -> Result<u64> {
            get(k)?
                .parse()
                .map_err(|_| Error::storage(format!("setting {k:?} is not a number")))
        };
        let alg_name = get("alg")?;
        let alg = Algorithm::from_name(alg_name)
            .ok_or_else(|| Error::storage(format!("setting alg {alg_name:?} is unknown")))?;
        let mut extra_algs = Vec::new();
        for name in rows
            .get("extra_algs")
            .map_or("", String::as_str)
            .split_whitespace()
        {
            extra_algs.push(Algorithm::from_name(name).ok_or_else(|| {
                Error::storage(format!(
                    "setting extra_algs names {name:?}, which is unknown"
                ))
            })?);
        }
        let lists_alg =
            match rows.get("lists_alg").filter(|v| !v.is_empty()) {
                None => None,
                Some(name) => Some(Algorithm::from_name(name).ok_or_else(|| {
                    Error::storage(format!("setting lists_alg {name:?} is unknown"))
                })?),
            };
        Ok(Self {
            issuer: get("issuer")?.clone(),
            alg,
            extra_algs,
            lists_alg,
            token_ttl: num("token_ttl")?,
            max_token_ttl: num("max_token_ttl")?,
            rotate_every: num("rotate_every")?,
            pre_publish: num("pre_publish")?,
            grace: num("grace")?,
            retain: num("retain")?,
            jwks_max_age: num("jwks_max_age")?,
            kdf_iterations: u32::try_from(num("kdf_iterations")?)
                .map_err(|_| Error::storage("setting kdf_iterations is out of range"))?,
            pkcs11: match (rows.get("pkcs11_module"), rows.get("pkcs11_token")) {
                (Some(module), Some(token)) => Some(super::custody::hsm::Pkcs11Config {
                    module: module.clone(),
                    token: token.clone(),
                }),
                _ => None,
            },
        })
    }
}
