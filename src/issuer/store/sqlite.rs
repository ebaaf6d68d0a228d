//! The SQLite implementation of [`Store`]: WAL, `synchronous=FULL`, a busy
//! timeout, `BEGIN IMMEDIATE` write transactions (so two processes never
//! interleave), versioned migrations, and a database file created with mode 0600.

use std::format;
use std::path::Path;
use std::string::String;
use std::time::Duration;
use std::vec::Vec;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use zeroize::Zeroizing;

use super::super::{Error, ErrorKind, Result};
use super::schema;
use super::sql::{Cell, Db, Many, Sql};
use super::{Store, Tx};

/// How long a command waits for another process's transaction (milliseconds).
pub const BUSY_TIMEOUT_MS: u64 = 30_000;

/// An issuer store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (and with `create`, creates with mode 0600) the database at
    /// `path`, then applies pending migrations.
    ///
    /// # Errors
    /// The file is missing (without `create`), unreadable, or not an issuer store.
    pub fn open(path: &Path, create: bool) -> Result<Self> {
        if create {
            create_private_file(path)?;
        } else if !path.exists() {
            return Err(Error::new(
                ErrorKind::NotInitialized,
                format!("no issuer database at {} (not initialised)", path.display()),
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::storage(format!(
                "cannot switch {} to WAL mode (got {mode})",
                path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        let mut store = Self { conn };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version after migrations.
    ///
    /// # Errors
    /// Storage errors.
    pub fn schema_version(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT version FROM schema_version", [], |r| {
                r.get::<_, u64>(0)
            })?)
    }

    /// The file's path is all a reader needs; this is the connection (for
    /// the migration copy, which reads tables column by column).
    #[cfg(feature = "postgres")]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Runs `PRAGMA integrity_check` and returns its answer (`ok` when sound).
    ///
    /// # Errors
    /// Storage errors.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
        let current: Option<u64> = tx
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .optional()?;
        let current = match current {
            Some(v) => v,
            None => {
                tx.execute("INSERT INTO schema_version (version) VALUES (0)", [])?;
                0
            }
        };
        for (version, m) in schema::pending(current)? {
            tx.execute_batch(m.sqlite)?;
            tx.execute("UPDATE schema_version SET version = ?1", [version])?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|e| Error::storage(format!("cannot create {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
        .map_err(|e| Error::storage(format!("cannot create {}: {e}", path.display())))
}

impl Store for SqliteStore {
    fn transaction<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut db = SqliteDb { tx };
        let (out, _) = Tx::run(&mut db, f)?; // dropping the transaction rolls back
        db.tx.commit()?;
        Ok(out)
    }

    fn external_changes(&self) -> Result<u64> {
        data_version(&self.conn)
    }
}

/// SQLite's own change counter: it changes when any other connection commits.
fn data_version(conn: &Connection) -> Result<u64> {
    let v: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
    Ok(v.unsigned_abs())
}

/// An open SQLite transaction: the [`Db`] seam.
struct SqliteDb<'c> {
    tx: rusqlite::Transaction<'c>,
}

impl rusqlite::ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Self::Null => ToSqlOutput::from(rusqlite::types::Null),
            Self::Int(v) => ToSqlOutput::from(*v),
            Self::Text(s) => ToSqlOutput::from(s.as_str()),
            Self::Blob(b) => ToSqlOutput::from(b.as_slice()),
        })
    }
}

fn cell(v: ValueRef<'_>, i: usize) -> Result<Cell> {
    Ok(match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        ValueRef::Text(t) => Cell::Text(
            String::from_utf8(t.to_vec())
                .map_err(|_| Error::storage(format!("column {i} is not UTF-8 text")))?,
        ),
        ValueRef::Blob(b) => Cell::Blob(Zeroizing::new(b.to_vec())),
        ValueRef::Real(_) => {
            return Err(Error::storage(format!(
                "unexpected real number in column {i}"
            )))
        }
    })
}

impl Db for SqliteDb<'_> {
    fn query(&mut self, sql: Sql, params: Vec<Cell>) -> Result<Vec<Vec<Cell>>> {
        let mut stmt = self.tx.prepare_cached(sql.sqlite)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let row = (0..n)
                .map(|i| cell(r.get_ref(i)?, i))
                .collect::<Result<Vec<Cell>>>()?;
            out.push(row);
        }
        Ok(out)
    }

    fn execute(&mut self, sql: Sql, params: Vec<Cell>) -> Result<u64> {
        let mut stmt = self.tx.prepare_cached(sql.sqlite)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn execute_many(&mut self, many: &'static Many, rows: Vec<Vec<Cell>>) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(many.one)?;
        for row in rows {
            stmt.execute(rusqlite::params_from_iter(row.iter()))?;
        }
        Ok(())
    }

    fn change_counter(&mut self) -> Result<u64> {
        data_version(&self.tx)
    }

    fn size_bytes(&mut self) -> Result<(u64, u64)> {
        let pragma = |name: &str| -> Result<u64> {
            let v: i64 = self
                .tx
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
            Ok(v.unsigned_abs())
        };
        let (page, count, free) = (
            pragma("page_size")?,
            pragma("page_count")?,
            pragma("freelist_count")?,
        );
        let bytes = |pages: u64| pages.saturating_mul(page);
        Ok((bytes(count.saturating_sub(free)), bytes(free)))
    }
}
