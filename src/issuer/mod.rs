//! The issuer (feature `issuer`): signing keys with a rotation lifecycle,
//! encrypted at rest; provisioning keys; token issuance; revocation lists;
//! an audit log — all in one store behind the [`Store`] trait: a SQLite file
//! ([`SqliteStore`]) or a PostgreSQL database shared by several servers
//! ([`PgStore`]); [`AnyStore`] opens what a [`StoreUrl`] names.
//!
//! One module per concern:
//! - [`duration`]: `15m` / `1h` / `30d` durations;
//! - [`settings`]: the policy chosen at `init`;
//! - [`keys`]: key material (generate, sign, public JWK, encrypted PKCS#8);
//! - [`lifecycle`]: the key state machine and the rotation planner (pure);
//! - [`provisioning`]: provisioning-key format, hashing, scope rules (pure);
//! - [`grant`]: what an issuance request is granted, or why not (pure);
//! - [`store`]: the storage trait and its records; [`sqlite`] and
//!   [`postgres`] implement it over one [`schema`]; [`backend`] picks one;
//! - [`service`]: the operations, one store transaction each, each change
//!   recorded by an audit row in the same transaction.
//!
//! Unlike the validation core, this module uses `std`, reads the system's
//! random source and touches the file system.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

pub mod custody;
pub mod duration;
mod error;
pub mod rules;
pub mod service;
pub mod settings;
pub mod store;

/// `jwt-edge migrate`'s copy (moved to [`store::migrate`]; this path stays
/// for the binary until its commands move).
#[cfg(feature = "postgres")]
pub use store::migrate;

pub use custody::{hsm, local as keys};
pub use error::{ClientFailure, Error, ErrorKind, Refusal, Result};
pub use rules::{anomaly, grant, health, lifecycle, provisioning};
pub use service::{ClientRevocation, IssueRequest, Issued, Issuer, Secrets};
pub use settings::Settings;
#[cfg(feature = "postgres")]
pub use store::PgStore;
pub use store::{AnyStore, StoreUrl};
pub use store::{SqliteStore, Store, Tx};
