//! The PostgreSQL implementation of [`Store`], for several `jwt-edge serve`
//! replicas on one database.
//!
//! - **One writer at a time**, as SQLite's `BEGIN IMMEDIATE`: every
//!   transaction starts by taking a transaction-scoped advisory lock
//!   (`pg_advisory_xact_lock`), held until COMMIT. Audit row ids are
//!   therefore assigned in commit order, which the export cursor relies on,
//!   and the rotation planner sees the state it changes. (`SERIALIZABLE`
//!   with retries was the alternative; the lock never aborts a batch of
//!   signed tokens, and `/token` batches are group commits anyway.)
//! - **Durability**: `synchronous_commit = on` for the session; no answer
//!   leaves the server before COMMIT returns.
//! - **Change counter**: a transaction that changes what replicas publish
//!   (keys, settings, revocations, statuses) bumps `change_counter` in the
//!   same transaction; [`Store::external_changes`] reads it.
//! - **Leader**: [`Store::lead`] holds a session-level advisory lock; the
//!   replica holding it runs rotation, pruning and the audit sink. When the
//!   leader's session ends (process killed, connection lost), PostgreSQL
//!   releases the lock and the next replica to ask becomes leader.
//! - **Faults**: a lost connection fails the transaction it was in (never
//!   retried inside it); the next transaction reconnects.
//!
//! The connection lives on its own thread (the synchronous `postgres` client
//! runs a Tokio runtime of its own, which must not nest in the server's), and
//! every statement is prepared once per connection.
//!
//! The connection string's password is never printed: errors and logs show
//! redacted URLs only ([`super::redact`]).

mod session;
mod tls;
mod url;

use std::format;
use std::sync::Arc;
use std::vec::Vec;

use super::super::{Error, ErrorKind, Result};
use super::schema;
use super::sql::{self, Cell, Db, Many, Sql};
use super::{Store, Tx};
use session::{Session, Worker};
use url::Target;

use url::describe;

/// The advisory-lock namespace of jwt-edge (first key of the two-key form).
pub(crate) const LOCK_NS: i32 = 0x6a77_7465; // "jwte"
/// Second key: the writer lock (transaction scope).
pub(crate) const LOCK_WRITER: i32 = 1;
/// Second key: the leader lock (session scope).
const LOCK_LEADER: i32 = 2;

fn version_of(r: &postgres::Row) -> Result<u64> {
    let v: i64 = r
        .try_get(0)
        .map_err(|e| Error::storage(format!("unexpected schema version: {e}")))?;
    u64::try_from(v).map_err(|_| Error::storage("negative schema version"))
}

/// An issuer store in a PostgreSQL database.
pub struct PgStore {
    worker: Worker,
    target: Arc<Target>,
}

impl core::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.target.shown)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://` or `postgresql://`),
    /// applies pending migrations, and (without `create`) requires an
    /// initialised store.
    ///
    /// # Errors
    /// An invalid URL, the server unreachable, or (without `create`) a
    /// database holding no issuer store.
    pub fn open(url: &str, create: bool) -> Result<Self> {
        let target = Arc::new(Target::parse(url)?);
        let worker = Worker::start(Arc::clone(&target))?;
        let store = Self { worker, target };
        let shown = store.target.shown.clone();
        let exists = store.worker.call(|s| {
            let r = s.query_opt(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_version'",
                &[],
            )?;
            Ok(r.is_some())
        })?;
        if !exists && !create {
            return Err(Error::new(
                ErrorKind::NotInitialized,
                format!("no issuer store in the database {shown} (not initialised)"),
            ));
        }
        store.migrate()?;
        Ok(store)
    }

    /// The URL as shown (password redacted).
    pub fn shown(&self) -> &str {
        &self.target.shown
    }

    /// Whether TLS is used without authenticating the server
    /// (`sslmode=prefer`/`require` without `sslrootcert`).
    pub fn unverified_tls(&self) -> bool {
        self.target.unverified_tls
    }

    fn migrate(&self) -> Result<()> {
        self.worker.call(|s| {
            s.begin()?;
            let out = (|| {
                s.batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
                let current = match s.query_opt("SELECT version FROM schema_version", &[])? {
                    Some(r) => version_of(&r)?,
                    None => {
                        s.batch("INSERT INTO schema_version (version) VALUES (0)")?;
                        0
                    }
                };
                for (version, m) in schema::pending(current)? {
                    s.batch(m.postgres)?;
                    s.batch(&format!("UPDATE schema_version SET version = {version}"))?;
                }
                Ok(())
            })();
            match out {
                Ok(()) => s.commit(false),
                Err(e) => {
                    s.rollback();
                    Err(e)
                }
            }
        })
    }

    /// The schema version after migrations.
    ///
    /// # Errors
    /// Storage errors.
    pub fn schema_version(&self) -> Result<u64> {
        self.worker.call(|s| {
            let r = s.query_opt("SELECT version FROM schema_version", &[])?;
            r.map_or(Ok(0), |r| version_of(&r))
        })
    }

    /// Runs `f` on the connection thread with the connection, outside any
    /// store transaction (the migration copy uses it).
    pub(crate) fn on_connection<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.worker.call(|s| f(s.client()?))
    }
}

/// A driver error as a storage error (never the connection string).
pub(crate) fn storage_error(e: postgres::Error) -> Error {
    Error::storage_from(format!("database error: {}", describe(&e)), e)
}

impl Store for PgStore {
    fn transaction<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.worker.call(Session::begin)?;
        let mut db = PgDb {
            worker: &self.worker,
        };
        match Tx::run(&mut db, f) {
            Ok((v, changed)) => {
                self.worker.call(move |s| s.commit(changed))?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.worker.call(|s| {
                    s.rollback();
                    Ok(())
                });
                Err(e)
            }
        }
    }

    fn external_changes(&self) -> Result<u64> {
        self.worker.call(Session::change_count)
    }

    fn lead(&mut self) -> Result<bool> {
        self.worker.call(Session::lead)
    }
}

/// An open PostgreSQL transaction: the [`Db`] seam, each call a job on the
/// connection's thread.
struct PgDb<'w> {
    worker: &'w Worker,
}

impl Db for PgDb<'_> {
    fn query(&mut self, sql: Sql, params: Vec<Cell>) -> Result<Vec<Vec<Cell>>> {
        self.worker.call(move |s| s.rows(sql.postgres, &params))
    }

    fn execute(&mut self, sql: Sql, params: Vec<Cell>) -> Result<u64> {
        self.worker.call(move |s| s.exec(sql.postgres, &params))
    }

    fn execute_many(&mut self, many: &'static Many, rows: Vec<Vec<Cell>>) -> Result<()> {
        self.worker.call(move |s| s.execute_many(many, &rows))
    }

    fn change_counter(&mut self) -> Result<u64> {
        self.worker.call(Session::change_count)
    }

    fn size_bytes(&mut self) -> Result<(u64, u64)> {
        // The store's tables with their indexes and TOAST; PostgreSQL
        // reuses freed space inside them after VACUUM, which it does not
        // report cheaply: "free" is 0.
        let rows = self.worker.call(|s| s.rows(SIZE, &[]))?;
        Ok((sql::single_u64(&rows)?, 0))
    }
}

/// The size of the store's tables (every table of [`schema::TABLES`] and
/// the two bookkeeping ones).
const SIZE: &str = "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND n.nspname = current_schema()
       AND c.relname IN ('settings', 'signing_keys', 'provisioning_keys', 'tokens',
                         'revocations', 'audit', 'status_lists', 'schema_version',
                         'change_counter')";
