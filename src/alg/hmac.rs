//! HS256 / HS384 / HS512 with the `hmac` crate over `sha2`.
//!
//! `verify_slice` compares the tag in constant time and refuses a tag of the
//! wrong length (never panics), so a truncated or empty tag fails like a
//! wrong one.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};

use super::Algorithm;

fn check<M: Mac + KeyInit>(secret: &[u8], message: &[u8], tag: &[u8]) -> bool {
    // HMAC takes keys of any length; the error case cannot happen.
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(message);
    mac.verify_slice(tag).is_ok()
}

/// Verifies an HMAC tag. `secret` was checked at configuration time to be at
/// least as long as the hash output of every algorithm it is used with.
pub(crate) fn verify(alg: Algorithm, secret: &[u8], message: &[u8], tag: &[u8]) -> bool {
    if secret.len() < alg.hash_len() {
        return false;
    }
    match alg {
        Algorithm::HS256 => check::<Hmac<sha2::Sha256>>(secret, message, tag),
        Algorithm::HS384 => check::<Hmac<sha2::Sha384>>(secret, message, tag),
        Algorithm::HS512 => check::<Hmac<sha2::Sha512>>(secret, message, tag),
        _ => false,
    }
}
