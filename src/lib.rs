//! # jwt-edge
//!
//! A strict, `no_std` JWT validator for compact JWS tokens, built to run the
//! same way natively and in WebAssembly. It never reads a clock, a random
//! source or the network: the current time, the keys and the revocation lists
//! come in as data.
//!
//! ```
//! use jwt_edge::{KeySet, Policy, verify};
//!
//! // RFC 8037 A.4: an EdDSA-signed JWS (its payload is not a JWT claims set).
//! let jwks = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
//! let keys = KeySet::from_jwks(jwks).unwrap();
//! let token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
//! let policy = Policy::new();
//! let pending = jwt_edge::begin(token, &keys, &policy).unwrap();
//! assert_eq!(pending.check_signature().unwrap(), Some(0));
//! // The payload is plain text, not a claims set, so full verification fails:
//! let err = verify(token, &keys, &policy, 1_700_000_000).unwrap_err();
//! assert_eq!(err.code(), "ERR_JWT_INVALID");
//! ```
//!
//! The pipeline is `parse → select key → signature → claims → revocation`,
//! split at the signature step ([`begin`] / [`finish`]) so that host crypto can
//! do the math; [`verify`] does it all in Rust.

#![no_std]
#![forbid(unsafe_code)]
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

// First: its `msg!` macro is used by the modules below.
#[macro_use]
mod text;

pub mod alg;
mod b64;
pub mod cache;
mod claims;
mod decimal;
pub mod error;
mod inspect;
#[cfg(feature = "issuer")]
pub mod issuer;
mod json;
pub mod jwk;
pub mod jwks;
pub mod jws;
mod policy;
pub mod remote;
pub mod revocation;
#[cfg(feature = "server")]
pub mod server;
pub mod status_list;
mod validator;
mod verify;
#[cfg(feature = "wasm")]
pub mod wasm;

pub use alg::{Algorithm, KeyFamily};
pub use b64::encode as b64url_encode;
pub use cache::{verify_cached, TokenCache};
pub use claims::MAX_NUMERIC_DATE;
pub use error::{ClaimReason, Detail, Error, ErrorKind, Result, RevocationReason};
pub use inspect::{inspect, Inspection, Warning};
pub use json::{DEFAULT_MAX_DEPTH, MAX_DEPTH_LIMIT};
pub use jwk::{Curve, Key};
pub use jwks::{KeyIssue, KeySet};
pub use policy::{Policy, MAX_KIDLESS_CANDIDATES};
pub use remote::{FetchOutcome, RemoteConfig};
pub use revocation::{RevocationList, Revocations};
pub use status_list::{StatusList, STATUS_LIST_TYP};
pub use validator::{
    FetchRequest, Finished, IssuerOptions, Mode, SignatureCheck, Source, Step, Validator,
    ValidatorBuilder, MAX_CACHE_CAPACITY, MAX_ISSUERS,
};
pub use verify::{
    begin, begin_revocation_list, finish, finish_revocation_list, install_revocations, verify,
    verify_revocation_list, verify_status_list, Pending, Verified,
};
