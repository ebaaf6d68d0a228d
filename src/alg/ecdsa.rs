//! ES256 (p256), ES384 (p384) and
//! ES512 (p521).
//!
//! Signatures must be raw IEEE P1363 `r || s` of exactly 64 / 96 / 132 bytes:
//! no DER fallback, no trimming or padding. `Signature::from_slice` rejects
//! r or s equal to zero or not below the group order (the CVE-2022-21449
//! class). High-S signatures are valid in JWS and are accepted.

#[cfg(any(feature = "es384", feature = "es512"))]
use ecdsa_verifier::Verifier as _;

#[cfg(any(feature = "es384", feature = "es512"))]
mod ecdsa_verifier {
    #[cfg(feature = "es384")]
    pub(crate) use p384::ecdsa::signature::Verifier;
    #[cfg(all(feature = "es512", not(feature = "es384")))]
    pub(crate) use p521::ecdsa::signature::Verifier;
}

/// Builds the 65-byte SEC1 uncompressed encoding `04 || x || y`.
#[allow(dead_code)]
fn sec1(x: &[u8], y: &[u8]) -> alloc::vec::Vec<u8> {
    let mut point = alloc::vec::Vec::with_capacity(1 + x.len() + y.len());
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    point
}

#[cfg(feature = "es256")]
pub(crate) fn prepare_p256(x: &[u8], y: &[u8]) -> Option<p256::ecdsa::VerifyingKey> {
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(x, y)).ok()
}

#[cfg(feature = "es256")]
pub(crate) fn verify_p256(vk: &p256::ecdsa::VerifyingKey, message: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    if sig.len() != 64 {
        return false;
    }
    match p256::ecdsa::Signature::from_slice(sig) {
        Ok(sig) => vk.verify(message, &sig).is_ok(),
        Err(_) => false,
    }
}

#[cfg(feature = "es384")]
pub(crate) fn prepare_p384(x: &[u8], y: &[u8]) -> Option<p384::ecdsa::VerifyingKey> {
    p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(x, y)).ok()
}

#[cfg(feature = "es384")]
pub(crate) fn verify_p384(vk: &p384::ecdsa::VerifyingKey, message: &[u8], sig: &[u8]) -> bool {
    if sig.len() != 96 {
        return false;
    }
    match p384::ecdsa::Signature::from_slice(sig) {
        Ok(sig) => vk.verify(message, &sig).is_ok(),
        Err(_) => false,
    }
}

#[cfg(feature = "es512")]
pub(crate) fn prepare_p521(x: &[u8], y: &[u8]) -> Option<p521::ecdsa::VerifyingKey> {
    p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(x, y)).ok()
}

#[cfg(feature = "es512")]
pub(crate) fn verify_p521(vk: &p521::ecdsa::VerifyingKey, message: &[u8], sig: &[u8]) -> bool {
    if sig.len() != 132 {
        return false;
    }
    match p521::ecdsa::Signature::from_slice(sig) {
        Ok(sig) => vk.verify(message, &sig).is_ok(),
        Err(_) => false,
    }
}
