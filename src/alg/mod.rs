//! The algorithm registry: the only place that knows which JWA names exist,
//! which key type each needs, and which pure-Rust backend verifies it.
//!
//! Each family lives in its own file behind a cargo feature. An algorithm whose
//! backend is not compiled in is still *recognised* (so keys for it can be
//! selected and handed to host crypto, e.g. WebCrypto in the wasm package); the
//! pure-Rust path answers `ERR_JOSE_NOT_SUPPORTED` for it.
//!
//! `none` is not an [`Algorithm`] and cannot be named in a policy.

use core::fmt;
use core::str::FromStr;

use crate::error::{Error, ErrorKind, Result};
#[allow(unused_imports)]
use crate::jwk::Prepared;
use crate::jwk::{Curve, Key};

#[cfg(any(feature = "es256", feature = "es384", feature = "es512"))]
mod ecdsa;
#[cfg(feature = "eddsa")]
mod eddsa;
#[cfg(feature = "hmac")]
mod hmac;
#[cfg(feature = "ml-dsa")]
mod mldsa;
#[cfg(feature = "rsa")]
mod rsa;

/// A JWS signature algorithm (RFC 7518 §3, RFC 8037).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt.
    PS256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, 48-byte salt.
    PS384,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512, 64-byte salt.
    PS512,
    /// ECDSA on P-256 with SHA-256 (64-byte P1363 signature).
    ES256,
    /// ECDSA on P-384 with SHA-384 (96-byte P1363 signature).
    ES384,
    /// ECDSA on P-521 with SHA-512 (132-byte P1363 signature).
    ES512,
    /// EdDSA; only the Ed25519 curve is supported.
    EdDSA,
    /// ML-DSA-44 (RFC 9964, FIPS 204), with an `AKP` key of that parameter set.
    MlDsa44,
    /// ML-DSA-65 (RFC 9964, FIPS 204), with an `AKP` key of that parameter set.
    MlDsa65,
    /// ML-DSA-87 (RFC 9964, FIPS 204), with an `AKP` key of that parameter set.
    MlDsa87,
}

/// The kind of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFamily {
    /// A shared secret (`kty: oct`).
    Hmac,
    /// An RSA public key.
    Rsa,
    /// An EC public key on the given curve.
    Ec(Curve),
    /// An Ed25519 public key (`kty: OKP`, `crv: Ed25519`).
    Ed25519,
    /// An ML-DSA public key (`kty: AKP`) of the parameter set its `alg`
    /// names: a key verifies only its own algorithm (RFC 9964).
    MlDsa(MlDsaSet),
}

/// An ML-DSA parameter set (FIPS 204 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MlDsaSet {
    /// ML-DSA-44: 1,312-byte public keys, 2,420-byte signatures.
    MlDsa44,
    /// ML-DSA-65: 1,952-byte public keys, 3,309-byte signatures.
    MlDsa65,
    /// ML-DSA-87: 2,592-byte public keys, 4,627-byte signatures.
    MlDsa87,
}

impl MlDsaSet {
    /// Public key length in bytes (FIPS 204 Table 2).
    pub const fn public_key_len(self) -> usize {
        match self {
            Self::MlDsa44 => 1312,
            Self::MlDsa65 => 1952,
            Self::MlDsa87 => 2592,
        }
    }

    /// Signature length in bytes (FIPS 204 Table 2).
    pub const fn signature_len(self) -> usize {
        match self {
            Self::MlDsa44 => 2420,
            Self::MlDsa65 => 3309,
            Self::MlDsa87 => 4627,
        }
    }

    /// The JWS algorithm of this parameter set.
    pub const fn algorithm(self) -> Algorithm {
        match self {
            Self::MlDsa44 => Algorithm::MlDsa44,
            Self::MlDsa65 => Algorithm::MlDsa65,
            Self::MlDsa87 => Algorithm::MlDsa87,
        }
    }
}

impl Algorithm {
    /// Every algorithm, in a stable order.
    pub const ALL: [Algorithm; 16] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::EdDSA,
        Self::MlDsa44,
        Self::MlDsa65,
        Self::MlDsa87,
    ];

    /// The ML-DSA algorithms (RFC 9964), part of the default allowlist.
    pub const ML_DSA: [Algorithm; 3] = [Self::MlDsa44, Self::MlDsa65, Self::MlDsa87];

    /// Every classic asymmetric algorithm (RSA, ECDSA, EdDSA); the default
    /// allowlist is these and [`Algorithm::ML_DSA`].
    pub const ASYMMETRIC: [Algorithm; 10] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::EdDSA,
    ];

    /// The registered JWA name, e.g. `"ES256"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
            Self::MlDsa44 => "ML-DSA-44",
            Self::MlDsa65 => "ML-DSA-65",
            Self::MlDsa87 => "ML-DSA-87",
        }
    }

    /// Parses a JWA name exactly (case-sensitive). `none` and unknown names give `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// RFC 9864's fully-specified name for EdDSA with an Ed25519 key, which
    /// oauth4webapi and openid-client sign DPoP proofs and client assertions
    /// with. Accepted only where a caller asks for it
    /// ([`Algorithm::from_name_or_ed25519`]); access tokens use `EdDSA`.
    pub const ED25519_NAME: &'static str = "Ed25519";

    /// [`Algorithm::from_name`], and with `ed25519_name` also
    /// [`Algorithm::ED25519_NAME`] as EdDSA.
    pub fn from_name_or_ed25519(name: &str, ed25519_name: bool) -> Option<Self> {
        if ed25519_name && name == Self::ED25519_NAME {
            Some(Self::EdDSA)
        } else {
            Self::from_name(name)
        }
    }

    /// The names of `algs` as published where [`Algorithm::ED25519_NAME`]
    /// is accepted: EdDSA also under that name, right after it.
    pub fn names_with_ed25519(algs: &[Self]) -> impl Iterator<Item = &'static str> + '_ {
        algs.iter().flat_map(|a| {
            let alias = (*a == Self::EdDSA).then_some(Self::ED25519_NAME);
            core::iter::once(a.name()).chain(alias)
        })
    }

    /// The key family this algorithm needs.
    pub const fn family(self) -> KeyFamily {
        match self {
            Self::HS256 | Self::HS384 | Self::HS512 => KeyFamily::Hmac,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyFamily::Rsa
            }
            Self::ES256 => KeyFamily::Ec(Curve::P256),
            Self::ES384 => KeyFamily::Ec(Curve::P384),
            Self::ES512 => KeyFamily::Ec(Curve::P521),
            Self::EdDSA => KeyFamily::Ed25519,
            Self::MlDsa44 => KeyFamily::MlDsa(MlDsaSet::MlDsa44),
            Self::MlDsa65 => KeyFamily::MlDsa(MlDsaSet::MlDsa65),
            Self::MlDsa87 => KeyFamily::MlDsa(MlDsaSet::MlDsa87),
        }
    }

    /// True for the HMAC algorithms.
    pub const fn is_symmetric(self) -> bool {
        matches!(self.family(), KeyFamily::Hmac)
    }

    /// Output length of the hash this algorithm uses, in bytes (32, 48 or 64;
    /// ML-DSA's message representative μ is 64 bytes of SHAKE256).
    /// For HMAC this is also the minimum secret length (RFC 7518 §3.2).
    pub const fn hash_len(self) -> usize {
        match self {
            Self::HS256 | Self::RS256 | Self::PS256 | Self::ES256 => 32,
            Self::HS384 | Self::RS384 | Self::PS384 | Self::ES384 => 48,
            Self::HS512
            | Self::RS512
            | Self::PS512
            | Self::ES512
            | Self::EdDSA
            | Self::MlDsa44
            | Self::MlDsa65
            | Self::MlDsa87 => 64,
        }
    }

    /// Whether this build carries a pure-Rust backend for the algorithm.
    pub const fn has_rust_backend(self) -> bool {
        match self {
            Self::HS256 | Self::HS384 | Self::HS512 => cfg!(feature = "hmac"),
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                cfg!(feature = "rsa")
            }
            Self::ES256 => cfg!(feature = "es256"),
            Self::ES384 => cfg!(feature = "es384"),
            Self::ES512 => cfg!(feature = "es512"),
            Self::EdDSA => cfg!(feature = "eddsa"),
            Self::MlDsa44 | Self::MlDsa65 | Self::MlDsa87 => cfg!(feature = "ml-dsa"),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s).ok_or_else(|| {
            Error::new(
                ErrorKind::NotSupported,
                msg!("unsupported algorithm ", crate::text::Truncated(s), " (supported: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, ML-DSA-44/65/87)"),
            )
        })
    }
}

/// Verifies `signature` over `message` with `key` using the pure-Rust backend
/// for `alg`. The key must already have been checked to fit `alg`.
///
/// # Errors
/// `ERR_JOSE_NOT_SUPPORTED` when this build has no backend for `alg` (or the key
/// was not prepared for one). A signature that does not verify is `Ok(false)`.
#[cfg_attr(
    not(any(
        feature = "hmac",
        feature = "rsa",
        feature = "es256",
        feature = "es384",
        feature = "es512",
        feature = "eddsa",
        feature = "ml-dsa"
    )),
    allow(unused_variables, unreachable_code)
)]
pub(crate) fn verify(alg: Algorithm, key: &Key, message: &[u8], signature: &[u8]) -> Result<bool> {
    #[allow(unreachable_patterns)]
    let ok = match (alg, key.prepared()) {
        #[cfg(feature = "hmac")]
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, Prepared::Hmac(secret)) => {
            hmac::verify(alg, secret, message, signature)
        }
        #[cfg(feature = "rsa")]
        (
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
            Prepared::Rsa(pk),
        ) => rsa::verify(alg, pk, message, signature),
        #[cfg(feature = "es256")]
        (Algorithm::ES256, Prepared::P256(vk)) => ecdsa::verify_p256(vk, message, signature),
        #[cfg(feature = "es384")]
        (Algorithm::ES384, Prepared::P384(vk)) => ecdsa::verify_p384(vk, message, signature),
        #[cfg(feature = "es512")]
        (Algorithm::ES512, Prepared::P521(vk)) => ecdsa::verify_p521(vk, message, signature),
        #[cfg(feature = "eddsa")]
        (Algorithm::EdDSA, Prepared::Ed25519(vk)) => eddsa::verify(vk, message, signature),
        #[cfg(feature = "ml-dsa")]
        (Algorithm::MlDsa44 | Algorithm::MlDsa65 | Algorithm::MlDsa87, Prepared::MlDsa(pk)) => {
            mldsa::verify(pk, message, signature)
        }
        _ => {
            return Err(Error::new(
                ErrorKind::NotSupported,
                msg!(alg, " has no pure-Rust backend in this build; use host crypto (async verify) or the full build"),
            ))
        }
    };
    Ok(ok)
}

/// Backend key preparation, used by [`crate::jwk`] at ingest time.
pub(crate) mod prepare {
    #[allow(unused_imports)]
    use super::*;

    #[cfg(feature = "es256")]
    pub(crate) use super::ecdsa::prepare_p256 as p256;
    #[cfg(feature = "es384")]
    pub(crate) use super::ecdsa::prepare_p384 as p384;
    #[cfg(feature = "es512")]
    pub(crate) use super::ecdsa::prepare_p521 as p521;
    #[cfg(feature = "eddsa")]
    pub(crate) use super::eddsa::prepare as ed25519;
    #[cfg(feature = "ml-dsa")]
    pub(crate) use super::mldsa::{prepare as ml_dsa, PublicKey as MlDsaPublicKey};
    #[cfg(feature = "rsa")]
    pub(crate) use super::rsa::prepare as rsa;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_not_an_algorithm() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        for bad in [
            "none",
            "None",
            "NONE",
            "nOnE",
            "es256",
            "ES521",
            "ES224",
            "HS256 ",
            "",
            "ML-DSA",
            "ml-dsa-65",
            "MLDSA65",
            "ML-DSA-65 ",
            "ML-DSA-128",
        ] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad}");
        }
    }
}
