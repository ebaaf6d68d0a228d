//! `jwt-edge migrate`: copies a SQLite store into an empty PostgreSQL
//! database, table by table, in one PostgreSQL transaction, and verifies
//! every table's row count before committing. Both stores are first brought
//! to the same schema version (the one list of [`super::schema`]), so the
//! columns match by name; values keep their ids (audit ids, the export
//! cursor, revocation ids), and the identity sequences continue after them.

use std::format;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

use super::super::{Error, ErrorKind, Result};
use super::postgres::{storage_error, PgStore, LOCK_NS, LOCK_WRITER};
use super::schema::TABLES;
use super::sqlite::SqliteStore;

/// One table's copy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    /// The table.
    pub table: &'static str,
    /// Rows in the source, and (verified equal) in the target.
    pub rows: u64,
}

fn columns(conn: &rusqlite::Connection, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    Ok(names.collect::<rusqlite::Result<_>>()?)
}

fn count(conn: &rusqlite::Connection, table: &str) -> Result<u64> {
    let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    Ok(n.unsigned_abs())
}

/// Rows of `table` in the target (inside the copy's transaction).
fn pg_count(tx: &mut postgres::Transaction<'_>, table: &str) -> Result<i64> {
    tx.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .and_then(|r| r.try_get(0))
        .map_err(storage_error)
}

/// A SQLite value as the PostgreSQL column's type.
fn convert(v: Value, ty: &Type, at: &str) -> Result<Box<dyn ToSql + Sync + Send>> {
    let wrong = || Error::storage(format!("{at}: a value does not fit PostgreSQL type {ty}"));
    Ok(match (v, ty) {
        (Value::Null, t) if *t == Type::INT8 => Box::new(None::<i64>),
        (Value::Null, t) if *t == Type::TEXT => Box::new(None::<String>),
        (Value::Null, t) if *t == Type::BYTEA => Box::new(None::<Vec<u8>>),
        (Value::Integer(i), t) if *t == Type::INT8 => Box::new(i),
        (Value::Text(s), t) if *t == Type::TEXT => Box::new(s),
        (Value::Blob(b), t) if *t == Type::BYTEA => Box::new(b),
        _ => return Err(wrong()),
    })
}

use std::boxed::Box;

/// Copies the SQLite store at `from` into the PostgreSQL database `to`,
/// which must hold no issuer data yet (it is created there). Returns the
/// row count of every table, verified in the target before the commit.
///
/// # Errors
/// Either store unreachable, the target not empty, a row count mismatch
/// (nothing is committed then).
pub fn sqlite_to_postgres(from: &Path, to: &str) -> Result<Vec<Copied>> {
    // Opening applies pending migrations: both at the same version.
    let source = SqliteStore::open(from, false)?;
    let target = PgStore::open(to, true)?;
    if source.schema_version()? != target.schema_version()? {
        return Err(Error::storage("the two stores' schema versions differ"));
    }
    let mut counts = Vec::new();
    for t in TABLES {
        counts.push((t, count(source.connection(), t)?));
    }
    if counts.iter().all(|(_, n)| *n == 0) {
        return Err(Error::new(
            ErrorKind::NotInitialized,
            format!("{} holds no issuer data to copy", from.display()),
        ));
    }
    drop(source);
    let path: PathBuf = from.to_path_buf();
    target.on_connection(move |client| copy_all(client, &path, &counts))
}

fn copy_all(
    client: &mut postgres::Client,
    from: &Path,
    counts: &[(&'static str, u64)],
) -> Result<Vec<Copied>> {
    let pg = |e: postgres::Error| storage_error(e);
    let source = rusqlite::Connection::open_with_flags(
        from,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // One read transaction: a consistent snapshot even if a server still
    // writes to the file (stop it first all the same).
    source.execute_batch("BEGIN")?;
    let mut tx = client.transaction().map_err(pg)?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({LOCK_NS}, {LOCK_WRITER})"
    ))
    .map_err(pg)?;
    for table in TABLES {
        let n = pg_count(&mut tx, table)?;
        if n != 0 {
            return Err(Error::new(
                ErrorKind::AlreadyInitialized,
                format!("the target database already holds issuer data ({table}: {n} rows); migrate into an empty database"),
            ));
        }
    }
    let mut out = Vec::new();
    for &(table, expected) in counts {
        let cols = columns(&source, table)?;
        let list = cols.join(", ");
        let probe = tx
            .prepare(&format!("SELECT {list} FROM {table} LIMIT 0"))
            .map_err(pg)?;
        let types: Vec<Type> = probe.columns().iter().map(|c| c.type_().clone()).collect();
        let sink = tx
            .copy_in(&format!("COPY {table} ({list}) FROM STDIN BINARY"))
            .map_err(pg)?;
        let mut writer = BinaryCopyInWriter::new(sink, &types);
        let mut stmt = source.prepare(&format!("SELECT {list} FROM {table} ORDER BY rowid"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::with_capacity(cols.len());
            for (i, ty) in types.iter().enumerate() {
                let at = format!("{table}.{}", cols.get(i).map_or("?", String::as_str));
                values.push(convert(row.get::<_, Value>(i)?, ty, &at)?);
            }
            let refs: Vec<&(dyn ToSql + Sync)> = values
                .iter()
                .map(|v| -> &(dyn ToSql + Sync) { v.as_ref() })
                .collect();
            writer.write(&refs).map_err(pg)?;
        }
        writer.finish().map_err(pg)?;
        let copied = pg_count(&mut tx, table)?;
        if copied.unsigned_abs() != expected {
            return Err(Error::storage(format!(
                "{table}: {expected} rows in the source, {copied} in the target; nothing was committed"
            )));
        }
        out.push(Copied {
            table,
            rows: expected,
        });
    }
    // Identity columns continue after the copied ids.
    for (table, col) in [
        ("audit", "id"),
        ("revocations", "id"),
        ("signing_keys", "seq"),
        ("provisioning_keys", "seq"),
    ] {
        tx.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{col}'), coalesce((SELECT max({col}) FROM {table}), 0) + 1, false)"
        ))
        .map_err(pg)?;
    }
    tx.batch_execute("UPDATE change_counter SET n = n + 1")
        .map_err(pg)?;
    tx.commit().map_err(pg)?;
    source.execute_batch("COMMIT")?;
    Ok(out)
}

/// The source of `migrate --from`: `sqlite:PATH` (or a bare path).
pub fn source_path(from: &str) -> PathBuf {
    PathBuf::from(from.strip_prefix("sqlite:").unwrap_or(from).to_string())
}
