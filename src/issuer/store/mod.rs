//! The issuer's storage: one [`Store`] trait (one transaction per command),
//! the records it keeps, and two stores written as one.
//!
//! - [`records`]: the rows (keys, provisioning keys, tokens, revocations,
//!   status lists, audit);
//! - [`schema`]: the migrations, each in both dialects, and the table list;
//! - [`Tx`] (`tx.rs`): every operation of a transaction, with its
//!   per-transaction caches and write buffering, written once;
//! - `sql.rs`: every statement, the row mappings, and the `Db` seam —
//!   the one thing a dialect implements;
//! - [`sqlite`]: [`SqliteStore`], the embedded default;
//! - [`postgres`]: [`PgStore`], several replicas on one database
//!   (feature `postgres`): its URL, TLS, connection thread and transaction;
//! - [`any`]: [`StoreUrl`] and [`AnyStore`], the store a URL names;
//! - [`migrate`]: copying a SQLite store into PostgreSQL (feature `postgres`).

pub mod any;
#[cfg(feature = "postgres")]
pub mod migrate;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod records;
pub mod schema;
mod sql;
pub mod sqlite;
mod tx;

pub use any::{redact, AnyStore, StoreUrl};
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use records::{
    AuditAction, AuditRecord, ClientKeys, Custody, KeyRecord, Outcome, PreviousSecret,
    ProvisioningRecord, Pruned, RevocationEntry, RevocationKind, StatusListRecord, StatusSlot,
    TokenRecord,
};
pub use sqlite::SqliteStore;
pub use tx::Tx;

use super::Result;

/// The storage backend: runs a closure inside one write transaction that is
/// committed if it returns `Ok` and rolled back otherwise. Implementations
/// serialise writers (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a
/// transaction-scoped advisory lock) so concurrent commands — from other
/// processes and other machines — never interleave.
pub trait Store {
    /// Runs `f` in one transaction.
    ///
    /// # Errors
    /// `f`'s error (after rollback) or a storage error.
    fn transaction<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T>;

    /// A number that changes whenever another connection (another process,
    /// e.g. the CLI next to `jwt-edge serve`) has committed a change since
    /// the last call; this connection's own commits do not change it. The
    /// server reads it before answering, so that it never hands out a token
    /// signed under key state its published documents do not show yet.
    ///
    /// # Errors
    /// Storage errors.
    fn external_changes(&self) -> Result<u64>;

    /// Whether this connection leads: runs rotation, pruning and the audit
    /// sink when several `jwt-edge serve` replicas share the store. Asked
    /// again at every rotation tick; a leader that dies (or loses its
    /// connection) loses leadership, and the next replica to ask takes it.
    /// A store only one host can open (SQLite) always leads.
    ///
    /// # Errors
    /// Storage errors (the store is unreachable: nobody leads from here).
    fn lead(&mut self) -> Result<bool> {
        Ok(true)
    }
}
