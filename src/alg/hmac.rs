//! HS256 / HS384 / HS512 through jwt-compact's HMAC algorithms.
//!
//! jwt-compact compares tags with `CtOutput` (constant time). Its
//! `try_from_slice` panics on a slice of the wrong length (its own token parser
//! checks the length first), so the exact tag length is checked here before it
//! is called: a truncated or empty tag can never reach it.

use jwt_compact::alg::{Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key};
use jwt_compact::AlgorithmSignature;

use super::Algorithm;

fn check<A: jwt_compact::Algorithm>(
    alg: &A,
    key: &A::VerifyingKey,
    message: &[u8],
    tag: &[u8],
) -> bool {
    let expected = <A::Signature as AlgorithmSignature>::LENGTH.map(|n| n.get());
    if expected != Some(tag.len()) {
        return false;
    }
    match A::Signature::try_from_slice(tag) {
        Ok(sig) => alg.verify_signature(&sig, key, message),
        Err(_) => false,
    }
}

/// Verifies an HMAC tag. `secret` was checked at configuration time to be at
/// least as long as the hash output of every algorithm it is used with.
pub(crate) fn verify(alg: Algorithm, secret: &[u8], message: &[u8], tag: &[u8]) -> bool {
    if secret.len() < alg.hash_len() {
        return false;
    }
    match alg {
        Algorithm::HS256 => check(&Hs256, &Hs256Key::new(secret), message, tag),
        Algorithm::HS384 => check(&Hs384, &Hs384Key::new(secret), message, tag),
        Algorithm::HS512 => check(&Hs512, &Hs512Key::new(secret), message, tag),
        _ => false,
    }
}
