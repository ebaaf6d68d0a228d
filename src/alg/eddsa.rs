//! EdDSA over Ed25519 with ed25519-dalek's `verify_strict` (RFC 8032 checks:
//! canonical `s < L`, canonical `R`, and no small-order public keys or `R`).
//!
//! jwt-compact's dalek backend calls the lenient `verify`, which accepts
//! small-order (weak) keys, so this family talks to ed25519-dalek directly.

use ed25519_dalek::{Signature, VerifyingKey};

/// Parses a 32-byte public key; refuses non-canonical encodings and weak
/// (small-order) keys, for which a signature can be valid for many messages.
pub(crate) fn prepare(x: &[u8]) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = x.try_into().ok()?;
    let vk = VerifyingKey::from_bytes(&bytes).ok()?;
    if vk.is_weak() {
        return None;
    }
    Some(vk)
}

pub(crate) fn verify(vk: &VerifyingKey, message: &[u8], sig: &[u8]) -> bool {
    let Ok(bytes) = <[u8; 64]>::try_from(sig) else {
        return false;
    };
    vk.verify_strict(message, &Signature::from_bytes(&bytes))
        .is_ok()
}
