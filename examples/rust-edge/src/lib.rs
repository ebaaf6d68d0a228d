//! The whole of a `no_std` gateway's token check with `jwt_edge`: a
//! [`Validator`] built once from the issuer's JWKS and a policy, then one
//! call per request. Nothing here reads a clock, a random source or the
//! network: the host passes the time and the key set in, so the same code
//! runs on Fastly Compute, in a proxy-wasm filter, under wasi:http or natively.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;

use jwt_edge::{Error, KeySet, Policy, Validator};

/// The gateway's fixed policy: who issues, for whom, what kind of token.
pub fn policy(issuer: &str, audience: &str) -> Policy {
    Policy::new()
        .issuer(issuer)
        .audience(audience)
        .typ("at+jwt")
}

/// Builds the validator once (per instance) from the issuer's JWKS.
///
/// # Errors
/// The JWKS is malformed or holds no usable key (`ERR_JWKS_INVALID`, …), or
/// the policy is inconsistent (`ERR_INVALID_OPTIONS`).
pub fn validator(jwks: &[u8], issuer: &str, audience: &str) -> Result<Validator, Error> {
    Validator::builder(policy(issuer, audience))
        .keys(KeySet::from_jwks(jwks)?)
        .build()
}

/// Checks one request's token at `now` (seconds since the epoch, from the
/// host) and answers with the verified claims as JSON text.
///
/// # Errors
/// The token is refused: the error's `code()` is a stable `ERR_*` name.
pub fn check(validator: &mut Validator, token: &str, now: u64) -> Result<String, Error> {
    Ok(validator.verify(token, now)?.claims_json)
}
