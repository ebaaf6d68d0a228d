//! ML-DSA (FIPS 204) verification for RFC 9964's `ML-DSA-44`, `ML-DSA-65`
//! and `ML-DSA-87`, with fips204 (pure Rust, `no_std`, no allocation, no
//! unsafe). The JWS signing input is the message `M` of FIPS 204's
//! `ML-DSA.Verify` with an empty context string (RFC 9964 §3), so a
//! signature made with a context never verifies here.

use alloc::boxed::Box;

use fips204::traits::{SerDes, Verifier};
use fips204::{ml_dsa_44, ml_dsa_65, ml_dsa_87};

use super::MlDsaSet;

/// A parsed ML-DSA public key of one parameter set (boxed: 4 to 8 KiB of
/// precomputed NTT values).
#[derive(Clone)]
pub(crate) enum PublicKey {
    MlDsa44(Box<ml_dsa_44::PublicKey>),
    MlDsa65(Box<ml_dsa_65::PublicKey>),
    MlDsa87(Box<ml_dsa_87::PublicKey>),
}

/// Parses `bytes` as a public key of `set`: the exact length, and what
/// fips204's decoding accepts. `None` otherwise.
pub(crate) fn prepare(set: MlDsaSet, bytes: &[u8]) -> Option<PublicKey> {
    Some(match set {
        MlDsaSet::MlDsa44 => PublicKey::MlDsa44(Box::new(
            ml_dsa_44::PublicKey::try_from_bytes(bytes.try_into().ok()?).ok()?,
        )),
        MlDsaSet::MlDsa65 => PublicKey::MlDsa65(Box::new(
            ml_dsa_65::PublicKey::try_from_bytes(bytes.try_into().ok()?).ok()?,
        )),
        MlDsaSet::MlDsa87 => PublicKey::MlDsa87(Box::new(
            ml_dsa_87::PublicKey::try_from_bytes(bytes.try_into().ok()?).ok()?,
        )),
    })
}

/// `ML-DSA.Verify(pk, message, signature, ctx = "")`; a signature of any
/// other length than the parameter set's is `false`.
pub(crate) fn verify(pk: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    match pk {
        PublicKey::MlDsa44(pk) => signature
            .try_into()
            .is_ok_and(|sig| pk.verify(message, sig, &[])),
        PublicKey::MlDsa65(pk) => signature
            .try_into()
            .is_ok_and(|sig| pk.verify(message, sig, &[])),
        PublicKey::MlDsa87(pk) => signature
            .try_into()
            .is_ok_and(|sig| pk.verify(message, sig, &[])),
    }
}
