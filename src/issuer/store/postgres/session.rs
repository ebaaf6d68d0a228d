//! The connection's own thread: the synchronous `postgres` client runs a
//! Tokio runtime of its own, which must not nest in the server's. The
//! [`Session`] on that thread prepares each statement once per connection,
//! holds the writer and leader locks, and drops a broken connection so the
//! next transaction reconnects.

use std::boxed::Box;
use std::collections::HashMap;
use std::format;
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Row, Statement};

use super::super::super::{Error, Result};
use super::super::sql::{postgres_text, Cell, Kind, Many};
use super::url::{describe, Target};
use super::{LOCK_LEADER, LOCK_NS, LOCK_WRITER};

/// The connection, on the worker thread.
pub(super) struct Session {
    target: Arc<Target>,
    client: Option<postgres::Client>,
    statements: HashMap<&'static str, Statement>,
    /// Inside a transaction: a lost connection fails it (never reconnects
    /// mid-transaction, which would run the rest outside it).
    in_tx: bool,
    leading: bool,
}

impl Session {
    fn drop_connection(&mut self) {
        self.client = None;
        self.statements.clear();
        self.leading = false;
    }

    pub(super) fn client(&mut self) -> Result<&mut postgres::Client> {
        if self.client.as_ref().is_none_or(postgres::Client::is_closed) {
            if self.in_tx {
                self.drop_connection();
                return Err(Error::storage(
                    "the connection to the PostgreSQL store was lost during the transaction (rolled back)",
                ));
            }
            self.drop_connection();
            self.client = Some(self.target.connect()?);
        }
        self.client
            .as_mut()
            .ok_or_else(|| Error::storage("no PostgreSQL connection"))
    }

    /// Converts a driver error; a broken connection is dropped (the next
    /// transaction reconnects).
    pub(super) fn fail(&mut self, e: postgres::Error) -> Error {
        let broken = e.is_closed()
            || e.as_db_error().is_none_or(|d| {
                let c = d.code().code();
                c.starts_with("08") || c.starts_with("57")
            });
        if broken {
            self.drop_connection();
            let message = format!(
                "the PostgreSQL store {} is unreachable: {}",
                self.target.shown,
                describe(&e)
            );
            return Error::storage_from(message, e);
        }
        Error::storage_from(format!("database error: {}", describe(&e)), e)
    }

    /// `sql` prepared on this connection (once; `?N` placeholders become `$N`).
    fn prepared(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let text = postgres_text(sql);
        let out = self.client()?.prepare(&text);
        let st = out.map_err(|e| self.fail(e))?;
        self.statements.insert(sql, st.clone());
        Ok(st)
    }

    pub(super) fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let st = self.prepared(sql)?;
        let out = self.client()?.query(&st, params);
        out.map_err(|e| self.fail(e))
    }

    pub(super) fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let st = self.prepared(sql)?;
        let out = self.client()?.query_opt(&st, params);
        out.map_err(|e| self.fail(e))
    }

    pub(super) fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64> {
        let st = self.prepared(sql)?;
        let out = self.client()?.execute(&st, params);
        out.map_err(|e| self.fail(e))
    }

    /// The rows of a shared statement, every column as a [`Cell`].
    pub(super) fn rows(&mut self, sql: &'static str, params: &[Cell]) -> Result<Vec<Vec<Cell>>> {
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        self.query(sql, &refs)?.iter().map(cells).collect()
    }

    /// Runs a shared statement; the rows it changed.
    pub(super) fn exec(&mut self, sql: &'static str, params: &[Cell]) -> Result<u64> {
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        self.execute(sql, &refs)
    }

    /// Writes `rows` with `many`'s multi-row statement: each column bound
    /// as one typed array.
    pub(super) fn execute_many(&mut self, many: &'static Many, rows: &[Vec<Cell>]) -> Result<()> {
        let mut arrays: Vec<Box<dyn ToSql + Sync + Send>> = Vec::with_capacity(many.kinds.len());
        for (i, kind) in many.kinds.iter().enumerate() {
            arrays.push(match kind {
                Kind::Int => Box::new(column(rows, i, |c| match c {
                    Cell::Int(v) => Some(*v),
                    _ => None,
                })?),
                Kind::Text => Box::new(column(rows, i, |c| match c {
                    Cell::Text(s) => Some(s.clone()),
                    _ => None,
                })?),
                Kind::Blob => Box::new(column(rows, i, |c| match c {
                    Cell::Blob(b) => Some(b.to_vec()),
                    _ => None,
                })?),
            });
        }
        let refs: Vec<&(dyn ToSql + Sync)> = arrays
            .iter()
            .map(|a| a.as_ref() as &(dyn ToSql + Sync))
            .collect();
        self.execute(many.unnest, &refs).map(drop)
    }

    pub(super) fn batch(&mut self, sql: &str) -> Result<()> {
        let out = self.client()?.batch_execute(sql);
        out.map_err(|e| self.fail(e))
    }

    pub(super) fn begin(&mut self) -> Result<()> {
        self.in_tx = false;
        self.batch(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({LOCK_NS}, {LOCK_WRITER})"
        ))?;
        self.in_tx = true;
        Ok(())
    }

    pub(super) fn commit(&mut self, changed: bool) -> Result<()> {
        let out = if changed {
            self.batch("UPDATE change_counter SET n = n + 1; COMMIT")
        } else {
            self.batch("COMMIT")
        };
        if out.is_err() {
            self.rollback();
        }
        self.in_tx = false;
        out
    }

    pub(super) fn rollback(&mut self) {
        let failed = self
            .client
            .as_mut()
            .filter(|c| !c.is_closed())
            .is_some_and(|c| c.batch_execute("ROLLBACK").is_err());
        if failed {
            self.drop_connection();
        }
        self.in_tx = false;
    }

    /// The `change_counter` row.
    pub(super) fn change_count(&mut self) -> Result<u64> {
        let r = self.query_opt("SELECT n FROM change_counter", &[])?;
        r.map_or(Ok(0), |r| {
            let n: i64 = r
                .try_get(0)
                .map_err(|e| Error::storage(format!("unexpected change counter: {e}")))?;
            u64::try_from(n).map_err(|_| Error::storage("negative change counter"))
        })
    }

    pub(super) fn lead(&mut self) -> Result<bool> {
        if self.in_tx {
            return Err(Error::storage("leadership is asked outside transactions"));
        }
        if self.leading {
            // The session lock lasts as long as the session: check it is alive.
            if self.batch("SELECT 1").is_ok() {
                return Ok(true);
            }
        }
        let row = self.query_opt(
            "SELECT pg_try_advisory_lock($1, $2)",
            &[&LOCK_NS, &LOCK_LEADER],
        )?;
        let won = row.and_then(|r| r.try_get::<_, bool>(0).ok()) == Some(true);
        self.leading = won;
        Ok(won)
    }
}

pub(super) type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// The worker thread that owns the connection.
pub(super) struct Worker {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    pub(super) fn start(target: Arc<Target>) -> Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("jwt-edge-postgres".into())
            .spawn(move || {
                let mut session = Session {
                    target,
                    client: None,
                    statements: HashMap::new(),
                    in_tx: false,
                    leading: false,
                };
                while let Ok(job) = rx.recv() {
                    job(&mut session);
                }
            })
            .map_err(|e| Error::storage(format!("cannot start the PostgreSQL thread: {e}")))?;
        Ok(Self {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    pub(super) fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let gone = || Error::storage("the PostgreSQL connection thread stopped");
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(Box::new(move |s: &mut Session| {
                let _ = tx.send(f(s));
            }))
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A bound [`Cell`]: its value in the column's own type (checked by the
/// driver against the statement's parameter type); `NULL` for any type.
impl ToSql for Cell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> core::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Int(v) => v.to_sql_checked(ty, out),
            Self::Text(s) => s.to_sql_checked(ty, out),
            Self::Blob(b) => b.as_slice().to_sql_checked(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// Column `i` of `rows` as one array: `pick` reads a value of the
/// column's kind, NULL is `None`, any other value an error.
fn column<T>(
    rows: &[Vec<Cell>],
    i: usize,
    pick: impl Fn(&Cell) -> Option<T>,
) -> Result<Vec<Option<T>>> {
    rows.iter()
        .map(|r| match r.get(i).unwrap_or(&Cell::Null) {
            Cell::Null => Ok(None),
            c => pick(c).map(Some).ok_or_else(|| {
                Error::storage(format!("a buffered row has a wrong value in column {i}"))
            }),
        })
        .collect()
}

/// A result row as cells, by column type.
fn cells(r: &Row) -> Result<Vec<Cell>> {
    r.columns()
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let bad =
                |e: postgres::Error| Error::storage(format!("unexpected value in column {i}: {e}"));
            Ok(match *col.type_() {
                Type::INT8 => r.try_get::<_, Option<i64>>(i).map_err(bad)?.map(Cell::Int),
                Type::INT4 => r
                    .try_get::<_, Option<i32>>(i)
                    .map_err(bad)?
                    .map(|v| Cell::Int(i64::from(v))),
                Type::INT2 => r
                    .try_get::<_, Option<i16>>(i)
                    .map_err(bad)?
                    .map(|v| Cell::Int(i64::from(v))),
                Type::BOOL => r
                    .try_get::<_, Option<bool>>(i)
                    .map_err(bad)?
                    .map(|v| Cell::Int(i64::from(v))),
                Type::BYTEA => r
                    .try_get::<_, Option<Vec<u8>>>(i)
                    .map_err(bad)?
                    .map(|b| Cell::Blob(zeroize::Zeroizing::new(b))),
                _ => r
                    .try_get::<_, Option<String>>(i)
                    .map_err(bad)?
                    .map(Cell::Text),
            }
            .unwrap_or(Cell::Null))
        })
        .collect()
}
