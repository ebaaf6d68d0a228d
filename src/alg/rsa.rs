//! RS256/384/512 (RSASSA-PKCS1-v1_5) and PS256/384/512 (RSASSA-PSS with MGF1
//! of the same hash and a salt as long as the hash) with the RustCrypto `rsa`
//! crate, used directly: jwt-compact's RSA feature turns on
//! `rand_core/getrandom`, and the core must not link a random source.
//!
//! PKCS#1 v1.5 verification re-encodes the expected EM and compares it whole
//! (no ASN.1 parsing of attacker data); the signature must be exactly as long
//! as the modulus. PSS uses a fixed salt length, never auto-detection.

use rsa::signature::Verifier as _;
use rsa::{BigUint, RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};

use super::Algorithm;

/// Largest modulus accepted, in bits: bounds verification cost in wasm.
pub(crate) const MAX_BITS: usize = 8192;

pub(crate) fn prepare(n: &[u8], e: &[u8]) -> Option<RsaPublicKey> {
    RsaPublicKey::new_with_max_size(
        BigUint::from_bytes_be(n),
        BigUint::from_bytes_be(e),
        MAX_BITS,
    )
    .ok()
}

fn pkcs1<D>(pk: &RsaPublicKey, message: &[u8], sig: &[u8]) -> bool
where
    D: sha2::Digest + rsa::pkcs8::AssociatedOid,
{
    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(sig) else {
        return false;
    };
    rsa::pkcs1v15::VerifyingKey::<D>::new(pk.clone())
        .verify(message, &sig)
        .is_ok()
}

fn pss<D>(pk: &RsaPublicKey, message: &[u8], sig: &[u8]) -> bool
where
    D: sha2::Digest + sha2::digest::FixedOutputReset,
{
    let Ok(sig) = rsa::pss::Signature::try_from(sig) else {
        return false;
    };
    rsa::pss::VerifyingKey::<D>::new(pk.clone())
        .verify(message, &sig)
        .is_ok()
}

pub(crate) fn verify(alg: Algorithm, pk: &RsaPublicKey, message: &[u8], sig: &[u8]) -> bool {
    use rsa::traits::PublicKeyParts as _;
    if sig.len() != pk.size() {
        return false;
    }
    match alg {
        Algorithm::RS256 => pkcs1::<Sha256>(pk, message, sig),
        Algorithm::RS384 => pkcs1::<Sha384>(pk, message, sig),
        Algorithm::RS512 => pkcs1::<Sha512>(pk, message, sig),
        Algorithm::PS256 => pss::<Sha256>(pk, message, sig),
        Algorithm::PS384 => pss::<Sha384>(pk, message, sig),
        Algorithm::PS512 => pss::<Sha512>(pk, message, sig),
        _ => false,
    }
}
