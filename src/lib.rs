//! # jwt-edge
//!
//! A strict, `no_std` JWT validator for compact JWS tokens, built to run the
//! same way natively and in WebAssembly. It never reads a clock, a random
//! source or the network: the current time, the keys and the revocation lists
//! come in as data.
//!
//! ```
//! use jwt_edge::{KeySet, Policy, Validator};
//!
//! # fn main() -> Result<(), jwt_edge::Error> {
//! // RFC 7515 A.3: an ES256 JWS and its key (as a one-key JWKS).
//! let jwks = br#"{"keys":[{"kty":"EC","crv":"P-256",
//!   "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
//!   "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
//! let token = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
//! let mut validator = Validator::builder(Policy::new().issuer("joe"))
//!     .keys(KeySet::from_jwks(jwks)?)
//!     .build()?;
//! // The host supplies the time: one second before the token's `exp`.
//! let verified = validator.verify(token, 1_300_819_379)?;
//! assert_eq!(verified.claims["iss"], "joe");
//! // ... and one hour after it.
//! let err = validator.verify(token, 1_300_822_980).unwrap_err();
//! assert_eq!(err.code(), "ERR_JWT_EXPIRED");
//! # Ok(())
//! # }
//! ```
//!
//! The pipeline is `parse → select key → signature → claims → revocation`,
//! owned by [`Validator`]: [`Validator::verify`] does it all in Rust;
//! [`Validator::begin`] stops at the signature step ([`Step::Signature`])
//! so that host crypto can do the math, or at a [`Step::Fetch`] of a remote
//! source (JWKS, revocation list) that the host performs and reports with
//! [`Validator::on_fetch`]. The free functions [`verify`], [`begin`] and
//! [`finish`] work on one [`KeySet`] and [`Policy`].
//!
//! ## Without `std`
//!
//! The library is `#![no_std]` + `alloc`: a dependent that builds it with
//! `default-features = false` and the algorithms it needs links no `std`,
//! reads no clock and does no I/O, so it runs wherever Rust compiles to
//! (Fastly Compute, proxy-wasm filters, `wasi:http` components,
//! `wasm32v1-none`). The host brings an allocator (and, on a target without
//! `std`, a panic handler), the time, and the bodies of the fetches the
//! validator asks for. `examples/rust-edge` in the repository is such a
//! dependent, built by the test command for the host, `wasm32-unknown-unknown`,
//! `wasm32-wasip1` and `wasm32v1-none`.
//!
//! ## Cargo features
//!
//! Features only add code: none changes a default policy. An algorithm
//! without its feature is refused as unsupported (`ERR_JOSE_NOT_SUPPORTED`)
//! unless the host verifies its signature ([`Validator::begin`]).
//!
//! | feature | what it adds | what it pulls in |
//! |---|---|---|
//! | `std` (default) | links `std` (the core never uses it) | — |
//! | `all-algs` (default) | every algorithm below | |
//! | `es256`, `es384`, `es512` | ECDSA P-256/P-384/P-521 in pure Rust | `p256`, `p384`, `p521` |
//! | `eddsa` | Ed25519 in pure Rust | `ed25519-dalek` |
//! | `hmac` | HS256/384/512 | `hmac` |
//! | `rsa` | RS256/384/512, PS256/384/512 in pure Rust | `rsa` |
//! | `wasm` | the npm package's wasm-bindgen API ([`wasm`]) | `wasm-bindgen`, `js-sys` |
//! | `wasm-rt` | the npm build's no_std runtime (trapping panic handler, dlmalloc) | `dlmalloc` |
//! | `compact-sha2` | smaller, slower SHA-2 for size-budgeted wasm builds | — |
//! | `debug-panic` | readable panics in a browser console (debug builds) | `console_error_panic_hook` |
//! | `cli` | the `jwt-edge` binary with `verify` and `inspect` | `clap`, `ureq` |
//! | `issuer` | [`issuer`]: signing keys, provisioning keys, issuance, revocation and status lists, audit, on SQLite; with `cli`, the issuer's subcommands | `rusqlite` (SQLite bundled), `ring`, `pkcs8` |
//! | `server` | [`server`]: the OAuth client-credentials server; with `cli`, `jwt-edge serve` | `axum`, `tokio`, `hyper`, `prometheus-client` |
//! | `postgres` | the issuer's store on PostgreSQL, `jwt-edge migrate` | `postgres`, `rustls` |
//! | `pkcs11` | signing keys in a PKCS#11 token | `cryptoki` |
//!
//! On docs.rs, each item that needs a feature says which.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]
// No input reaches a panic: outside the crate's own tests.
#![cfg_attr(
    not(test),
    warn(
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
pub mod dpop;
pub mod error;
#[cfg(any(feature = "cli", feature = "server"))]
pub mod http_fetch;
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

pub use alg::{Algorithm, KeyFamily, MlDsaSet};
pub use b64::encode as b64url_encode;
pub use cache::{verify_cached, TokenCache};
pub use claims::MAX_NUMERIC_DATE;
pub use dpop::{Binding, DpopConfig, Rejection};
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
    Crypto, FetchRequest, Finished, IssuerOptions, Mode, RequestCheck, RequestParts,
    SignatureCheck, Source, Step, Validator, ValidatorBuilder, MAX_CACHE_CAPACITY, MAX_ISSUERS,
};
pub use verify::{
    begin, begin_revocation_list, finish, finish_revocation_list, install_revocations, verify,
    verify_revocation_list, verify_status_list, Pending, Verified,
};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
