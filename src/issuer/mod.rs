//! The issuer (feature `issuer`): signing keys with a rotation lifecycle,
//! encrypted at rest; provisioning keys; token issuance; revocation lists;
//! an audit log — all in one store behind the [`Store`] trait: a SQLite file
//! ([`SqliteStore`]) or a PostgreSQL database shared by several servers
//! ([`PgStore`]); [`AnyStore`] opens what a [`StoreUrl`] names.
//!
//! The rooms (README's layout section has the full map):
//! - [`rules`]: pure decisions — the key lifecycle and rotation planner,
//!   provisioning keys, grants, anomalies, health;
//! - [`custody`]: where signing keys live — encrypted in the store
//!   ([`custody::local`]) or in a PKCS#11 token ([`custody::hsm`]);
//! - [`store`]: the [`Store`] trait, its records, and SQLite and PostgreSQL
//!   written as one layer;
//! - [`service`]: the operations ([`Issuer`]), one store transaction each,
//!   each change recorded by an audit row in the same transaction;
//! - [`settings`], [`duration`], and the [`Error`] type.
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

pub use error::{ClientFailure, Error, ErrorKind, Refusal, Result, Secret};
pub use service::{
    AssertionRules, ClientAssertion, ClientRevocation, Credential, DpopBinding, Fetched,
    IssueRequest, Issued, Issuer, Secrets,
};
pub use settings::Settings;
#[cfg(feature = "postgres")]
pub use store::PgStore;
pub use store::{AnyStore, StoreUrl};
pub use store::{SqliteStore, Store, Tx};
