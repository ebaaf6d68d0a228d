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
//! redacted URLs only ([`redact`]).

use std::boxed::Box;
use std::collections::{BTreeMap, HashMap};
use std::format;
use std::string::{String, ToString};
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use postgres::types::ToSql;
use postgres::{NoTls, Row, Statement};
use zeroize::Zeroizing;

use crate::Algorithm;

use super::backend::redact;
use super::lifecycle::KeyState;
use super::schema;
use super::store::{
    AuditRecord, KeyRecord, PreviousSecret, ProvisioningRecord, RevocationEntry, RevocationKind,
    StatusListRecord, StatusSlot, StatusTx, Store, TokenRecord, Tx,
};
use super::{Error, ErrorKind, Result};

/// The advisory-lock namespace of jwt-edge (first key of the two-key form).
pub(crate) const LOCK_NS: i32 = 0x6a77_7465; // "jwte"
/// Second key: the writer lock (transaction scope).
pub(crate) const LOCK_WRITER: i32 = 1;
/// Second key: the leader lock (session scope).
const LOCK_LEADER: i32 = 2;

/// How the connection is secured, from `sslmode` (and `sslrootcert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    /// `disable`: plain TCP.
    Disable,
    /// `prefer` (the default): TLS if the server offers it; the
    /// certificate is verified only against `sslrootcert` when given.
    Prefer,
    /// `require`: TLS or fail; verified as with `prefer`.
    Require,
    /// `verify-full`: TLS, certificate chain and host name verified.
    VerifyFull,
}

/// Where a PostgreSQL store is and how to reach it.
struct Target {
    config: postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    shown: String,
    /// `sslmode=require`/`prefer` without a root certificate: encrypted,
    /// but the server is not authenticated (libpq's behaviour).
    pub(crate) unverified_tls: bool,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| {
            b.get(j)
                .and_then(|h| char::from(*h).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Target {
    fn parse(url: &str) -> Result<Self> {
        let shown = redact(url);
        let bad = |why: String| Error::usage(format!("invalid database URL {shown}: {why}"));
        // `sslmode=verify-full` and `sslrootcert` are libpq's; the driver
        // knows neither, so they are taken out here.
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut mode = SslMode::Prefer;
        let mut root: Option<String> = None;
        let mut rest = Vec::new();
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match k {
                "sslmode" => {
                    mode = match v {
                        "disable" => SslMode::Disable,
                        "allow" | "prefer" => SslMode::Prefer,
                        "require" => SslMode::Require,
                        "verify-full" => SslMode::VerifyFull,
                        "verify-ca" => {
                            return Err(bad(
                                "sslmode=verify-ca is not supported: use verify-full (it also checks the host name)".into(),
                            ))
                        }
                        other => return Err(bad(format!("unknown sslmode {other:?}"))),
                    };
                }
                "sslrootcert" => root = Some(percent_decode(v)),
                _ => rest.push(kv),
            }
        }
        // The driver's own words (it verifies nothing itself: our TLS
        // connector below does).
        rest.push(match mode {
            SslMode::Disable => "sslmode=disable",
            SslMode::Prefer => "sslmode=prefer",
            SslMode::Require | SslMode::VerifyFull => "sslmode=require",
        });
        let driver_url = format!("{base}?{}", rest.join("&"));
        let mut config: postgres::Config = driver_url
            .parse()
            .map_err(|e: postgres::Error| bad(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("jwt-edge");
        }
        let verify = mode == SslMode::VerifyFull || root.is_some();
        let tls = if mode == SslMode::Disable {
            None
        } else {
            Some(tls_connector(verify, root.as_deref()).map_err(bad)?)
        };
        Ok(Self {
            config,
            tls,
            shown,
            unverified_tls: mode != SslMode::Disable && !verify,
        })
    }

    fn connect(&self) -> Result<postgres::Client> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        let mut client = client.map_err(|e| {
            Error::storage(format!(
                "cannot connect to the PostgreSQL store {}: {}",
                self.shown,
                describe(&e)
            ))
        })?;
        // Durable commits whatever the server's default; bounded waits, so
        // a stuck replica cannot hold the writer lock forever.
        client
            .batch_execute(
                "SET synchronous_commit = on; SET lock_timeout = '20s'; \
                 SET statement_timeout = '60s'; SET idle_in_transaction_session_timeout = '60s'",
            )
            .map_err(|e| Error::storage(format!("cannot set up the session: {}", describe(&e))))?;
        Ok(client)
    }
}

fn tls_connector(
    verify: bool,
    root: Option<&str>,
) -> core::result::Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

    /// libpq's `sslmode=require` without a root certificate: encrypted, not
    /// authenticated (signatures are still checked).
    #[derive(Debug)]
    struct Unverified(Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for Unverified {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> core::result::Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> core::result::Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> core::result::Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let config = if verify {
        let mut roots = rustls::RootCertStore::empty();
        match root {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("cannot read sslrootcert {path}: {e}"))?;
                for cert in certs {
                    let cert = cert.map_err(|e| format!("sslrootcert {path}: {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("sslrootcert {path}: {e}"))?;
                }
                if roots.is_empty() {
                    return Err(format!("sslrootcert {path} holds no certificate"));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth()
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A driver error in words (never the connection string).
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                let t = inner.to_string();
                if !s.contains(&t) {
                    s.push_str(": ");
                    s.push_str(&t);
                }
                source = inner.source();
            }
            s
        }
    }
}

/// The connection, on the worker thread.
struct Session {
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

    fn client(&mut self) -> Result<&mut postgres::Client> {
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
    fn fail(&mut self, e: &postgres::Error) -> Error {
        let broken = e.is_closed()
            || e.as_db_error().is_none_or(|d| {
                let c = d.code().code();
                c.starts_with("08") || c.starts_with("57")
            });
        if broken {
            self.drop_connection();
            return Error::storage(format!(
                "the PostgreSQL store {} is unreachable: {}",
                self.target.shown,
                describe(e)
            ));
        }
        Error::storage(format!("database error: {}", describe(e)))
    }

    fn prepared(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let out = self.client()?.prepare(sql);
        let st = out.map_err(|e| self.fail(&e))?;
        self.statements.insert(sql, st.clone());
        Ok(st)
    }

    fn query(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let st = self.prepared(sql)?;
        let out = self.client()?.query(&st, params);
        out.map_err(|e| self.fail(&e))
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let st = self.prepared(sql)?;
        let out = self.client()?.query_opt(&st, params);
        out.map_err(|e| self.fail(&e))
    }

    fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let st = self.prepared(sql)?;
        let out = self.client()?.execute(&st, params);
        out.map_err(|e| self.fail(&e))
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        let out = self.client()?.batch_execute(sql);
        out.map_err(|e| self.fail(&e))
    }

    fn begin(&mut self) -> Result<()> {
        self.in_tx = false;
        self.batch(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({LOCK_NS}, {LOCK_WRITER})"
        ))?;
        self.in_tx = true;
        Ok(())
    }

    fn commit(&mut self, changed: bool) -> Result<()> {
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

    fn rollback(&mut self) {
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
    fn change_count(&mut self) -> Result<u64> {
        let r = self.query_opt("SELECT n FROM change_counter", &[])?;
        r.map_or(Ok(0), |r| get_u64(&r, 0))
    }

    fn lead(&mut self) -> Result<bool> {
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

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// The worker thread that owns the connection.
struct Worker {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn start(target: Arc<Target>) -> Result<Self> {
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

    fn call<R: Send + 'static>(
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

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::usage(format!("value {v} is out of range")))
}

fn opt_i64(v: Option<u64>) -> Result<Option<i64>> {
    v.map(to_i64).transpose()
}

fn column<T: for<'a> postgres::types::FromSql<'a>>(r: &Row, i: usize) -> Result<T> {
    r.try_get(i)
        .map_err(|e| Error::storage(format!("unexpected value in column {i}: {e}")))
}

fn get_u64(r: &Row, i: usize) -> Result<u64> {
    u64::try_from(column::<i64>(r, i)?)
        .map_err(|_| Error::storage(format!("negative value in column {i}")))
}

fn get_opt_u64(r: &Row, i: usize) -> Result<Option<u64>> {
    column::<Option<i64>>(r, i)?
        .map(|v| {
            u64::try_from(v).map_err(|_| Error::storage(format!("negative value in column {i}")))
        })
        .transpose()
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
                format!(
                    "no issuer store in the database {shown}; run `jwt-edge init --db <URL>` first"
                ),
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
                    Some(r) => get_u64(&r, 0)?,
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
            r.map_or(Ok(0), |r| get_u64(&r, 0))
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
pub(crate) fn storage_error(e: &postgres::Error) -> Error {
    Error::storage(format!("database error: {}", describe(e)))
}

impl Store for PgStore {
    fn transaction<T>(&mut self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        self.worker.call(Session::begin)?;
        let mut tx = PgTx {
            worker: &self.worker,
            changed: false,
            settings: None,
            keys: None,
            pks: BTreeMap::new(),
            pending: Pending::default(),
            lists: None,
        };
        match f(&mut tx).and_then(|v| tx.flush().map(|()| v)) {
            Ok(v) => {
                let changed = tx.changed;
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

/// One transaction. Under the writer lock nobody else changes the store, so
/// what this transaction read (settings, keys, provisioning keys, the newest
/// status list) is kept and updated with its own writes instead of being
/// read again, and the issuance path's writes (token rows, audit rows,
/// provisioning-key counters, status-list cursors) are buffered and sent as
/// one multi-row statement per table ([`PgTx::flush`]) before the next
/// statement of any other kind, and before COMMIT. (Round trips, not rows,
/// are what a group commit on PostgreSQL pays for: see bench-server.)
struct PgTx<'w> {
    worker: &'w Worker,
    changed: bool,
    settings: Option<BTreeMap<String, String>>,
    keys: Option<Vec<KeyRecord>>,
    pks: BTreeMap<String, ProvisioningRecord>,
    pending: Pending,
    /// Status lists this transaction allocates from (the last is the newest);
    /// `None` until the newest list was read.
    lists: Option<Vec<ListCursor>>,
}

/// A status list's allocation state within a transaction.
#[derive(Debug, Clone, Copy)]
struct ListCursor {
    list: i64,
    capacity: i64,
    next: i64,
    created_at: i64,
    /// Created in this transaction (INSERT at flush).
    new: bool,
    /// `next` moved since the last flush.
    dirty: bool,
}

/// Buffered writes, as column arrays.
#[derive(Default)]
struct Pending {
    tokens: TokenRows,
    audit: AuditRows,
    /// Latest values per provisioning key (only the last update matters).
    pks: BTreeMap<String, PkParams>,
}

#[derive(Default)]
struct TokenRows {
    jti: Vec<String>,
    sub: Vec<String>,
    pk: Vec<String>,
    kid: Vec<String>,
    iat: Vec<i64>,
    exp: Vec<i64>,
    list: Vec<Option<i64>>,
    idx: Vec<Option<i64>>,
}

#[derive(Default)]
struct AuditRows {
    at: Vec<i64>,
    action: Vec<String>,
    actor: Vec<String>,
    kid: Vec<Option<String>>,
    jti: Vec<Option<String>>,
    sub: Vec<Option<String>>,
    pk: Vec<Option<String>>,
    outcome: Vec<String>,
    detail: Vec<Option<String>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.tokens.jti.is_empty() && self.audit.at.is_empty() && self.pks.is_empty()
    }
}

impl PgTx<'_> {
    /// Runs `f` on the connection after the buffered writes.
    fn call<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.flush()?;
        self.worker.call(f)
    }

    /// Sends the buffered writes: one statement per table.
    fn flush(&mut self) -> Result<()> {
        let lists: Vec<ListCursor> = self
            .lists
            .as_ref()
            .map(|ls| ls.iter().filter(|c| c.new || c.dirty).copied().collect())
            .unwrap_or_default();
        if self.pending.is_empty() && lists.is_empty() {
            return Ok(());
        }
        let p = core::mem::take(&mut self.pending);
        self.worker.call(move |s| {
            for c in &lists {
                if c.new {
                    s.execute(
                        "INSERT INTO status_lists (list, capacity, next_idx, created_at) VALUES ($1, $2, $3, $4)",
                        &[&c.list, &c.capacity, &c.next, &c.created_at],
                    )?;
                } else {
                    s.execute(
                        "UPDATE status_lists SET next_idx = $2 WHERE list = $1",
                        &[&c.list, &c.next],
                    )?;
                }
            }
            let t = &p.tokens;
            if !t.jti.is_empty() {
                s.execute(
                    "INSERT INTO tokens (jti, sub, provisioning_key_id, kid, iat, exp, status_list, status_idx)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::int8[])",
                    &[&t.jti, &t.sub, &t.pk, &t.kid, &t.iat, &t.exp, &t.list, &t.idx],
                )?;
            }
            if !p.pks.is_empty() {
                let v: Vec<&PkParams> = p.pks.values().collect();
                let id: Vec<&str> = v.iter().map(|k| k.id.as_str()).collect();
                let revoked: Vec<Option<i64>> = v.iter().map(|k| k.revoked_at).collect();
                let uses: Vec<i64> = v.iter().map(|k| k.use_count).collect();
                let last: Vec<Option<i64>> = v.iter().map(|k| k.last_used_at).collect();
                let secret: Vec<&[u8]> = v.iter().map(|k| k.secret.as_slice()).collect();
                let expires: Vec<i64> = v.iter().map(|k| k.expires_at).collect();
                let set_at: Vec<Option<i64>> = v.iter().map(|k| k.secret_set_at).collect();
                let prev: Vec<Option<&[u8]>> = v.iter().map(|k| k.previous.as_deref()).collect();
                let until: Vec<Option<i64>> = v.iter().map(|k| k.previous_until).collect();
                s.execute(
                    "UPDATE provisioning_keys p SET revoked_at = u.revoked_at, use_count = u.use_count,
                        last_used_at = u.last_used_at, secret_sha256 = u.secret, expires_at = u.expires_at,
                        secret_set_at = u.secret_set_at, previous_secret_sha256 = u.previous,
                        previous_until = u.previous_until
                     FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::bytea[], $6::int8[],
                                 $7::int8[], $8::bytea[], $9::int8[])
                          AS u(id, revoked_at, use_count, last_used_at, secret, expires_at, secret_set_at,
                               previous, previous_until)
                     WHERE p.id = u.id",
                    &[&id, &revoked, &uses, &last, &secret, &expires, &set_at, &prev, &until],
                )?;
            }
            let a = &p.audit;
            if !a.at.is_empty() {
                // Ids in the order the rows were written (WITH ORDINALITY).
                s.execute(
                    "INSERT INTO audit (at, action, actor, kid, jti, sub, provisioning_key_id, outcome, detail)
                     SELECT at, action, actor, kid, jti, sub, pk, outcome, detail
                     FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                 $7::text[], $8::text[], $9::text[]) WITH ORDINALITY
                          AS u(at, action, actor, kid, jti, sub, pk, outcome, detail, ord)
                     ORDER BY ord",
                    &[&a.at, &a.action, &a.actor, &a.kid, &a.jti, &a.sub, &a.pk, &a.outcome, &a.detail],
                )?;
            }
            Ok(())
        })?;
        if let Some(ls) = self.lists.as_mut() {
            if let Some(last) = ls.last().copied() {
                *ls = std::vec![ListCursor {
                    new: false,
                    dirty: false,
                    ..last
                }];
            }
        }
        Ok(())
    }
}

impl StatusTx for PgTx<'_> {
    fn allocate_status(&mut self, capacity: u64, now: u64) -> Result<StatusSlot> {
        let capacity = to_i64(capacity.max(8))?;
        let now = to_i64(now)?;
        if self.lists.is_none() {
            let newest = self.call(|s| {
                s.query_opt(
                    "SELECT list, capacity, next_idx, created_at FROM status_lists ORDER BY list DESC LIMIT 1",
                    &[],
                )?
                .map(|r| {
                    Ok(ListCursor {
                        list: column(&r, 0)?,
                        capacity: column(&r, 1)?,
                        next: column(&r, 2)?,
                        created_at: column(&r, 3)?,
                        new: false,
                        dirty: false,
                    })
                })
                .transpose()
            })?;
            self.lists = Some(newest.into_iter().collect());
        }
        let lists = self
            .lists
            .as_mut()
            .ok_or_else(|| Error::storage("no status-list cursor"))?;
        let full = lists.last().is_none_or(|c| c.next >= c.capacity);
        if full {
            let list = lists.last().map_or(1, |c| c.list.saturating_add(1));
            lists.push(ListCursor {
                list,
                capacity,
                next: 0,
                created_at: now,
                new: true,
                dirty: true,
            });
            self.changed = true;
        }
        let c = lists
            .last_mut()
            .ok_or_else(|| Error::storage("no status list"))?;
        let slot = StatusSlot {
            list: c.list.unsigned_abs(),
            idx: c.next.unsigned_abs(),
        };
        c.next = c.next.saturating_add(1);
        c.dirty = true;
        Ok(slot)
    }

    fn set_status(&mut self, slot: StatusSlot, status: u8) -> Result<()> {
        let (list, idx) = (to_i64(slot.list)?, to_i64(slot.idx)?);
        self.call(move |s| {
            s.execute(
                "UPDATE tokens SET status = $3 WHERE status_list = $1 AND status_idx = $2",
                &[&list, &idx, &i64::from(status)],
            )?;
            s.execute(
                "UPDATE status_lists SET version = version + 1 WHERE list = $1",
                &[&list],
            )?;
            Ok(())
        })?;
        self.changed = true;
        Ok(())
    }

    fn status_lists(&mut self) -> Result<Vec<StatusListRecord>> {
        self.call(|s| {
            s.query(
                "SELECT list, capacity, next_idx, version FROM status_lists ORDER BY list",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(StatusListRecord {
                    list: get_u64(r, 0)?,
                    capacity: get_u64(r, 1)?,
                    next_idx: get_u64(r, 2)?,
                    version: get_u64(r, 3)?,
                })
            })
            .collect()
        })
    }

    fn row_counts(&mut self) -> Result<Vec<(&'static str, u64)>> {
        self.call(|s| {
            let mut out = Vec::new();
            for table in schema::COUNTED {
                // Not a cached statement: `status` asks rarely.
                let sql = format!("SELECT count(*) FROM {table}");
                let r = s.client()?.query_one(sql.as_str(), &[]);
                let r = r.map_err(|e| s.fail(&e))?;
                out.push((table, get_u64(&r, 0)?));
            }
            Ok(out)
        })
    }

    fn statuses(&mut self, list: u64) -> Result<Vec<(u64, u8)>> {
        let list = to_i64(list)?;
        self.call(move |s| {
            s.query(
                "SELECT status_idx, status FROM tokens WHERE status_list = $1 AND status != 0",
                &[&list],
            )?
            .iter()
            .map(|r| Ok((get_u64(r, 0)?, u8::try_from(get_u64(r, 1)?).unwrap_or(1))))
            .collect()
        })
    }
}

const KEY_SELECT: &str = "SELECT kid, alg, state, created_at, activated_at, retiring_at, retired_at, revoked_at, revoke_reason, destroyed_at, public_jwk, private_key, encrypted, hsm_id FROM signing_keys ORDER BY created_at, seq";

fn key_from_row(r: &Row) -> Result<KeyRecord> {
    let alg: String = column(r, 1)?;
    let state: String = column(r, 2)?;
    let private: Option<Vec<u8>> = column(r, 11)?;
    Ok(KeyRecord {
        kid: column(r, 0)?,
        alg: Algorithm::from_name(&alg)
            .ok_or_else(|| Error::storage(format!("unknown alg {alg:?} in the store")))?,
        state: KeyState::parse(&state)
            .ok_or_else(|| Error::storage(format!("unknown key state {state:?} in the store")))?,
        created_at: get_u64(r, 3)?,
        activated_at: get_opt_u64(r, 4)?,
        retiring_at: get_opt_u64(r, 5)?,
        retired_at: get_opt_u64(r, 6)?,
        revoked_at: get_opt_u64(r, 7)?,
        revoke_reason: column(r, 8)?,
        destroyed_at: get_opt_u64(r, 9)?,
        public_jwk: column(r, 10)?,
        private_key: private.map(Zeroizing::new),
        encrypted: column::<i64>(r, 12)? != 0,
        hsm_id: column(r, 13)?,
    })
}

const PK_SELECT_ALL: &str = "SELECT id, name, secret_sha256, scopes, audiences, sub, created_at, expires_at, max_token_ttl, revoked_at, use_count, last_used_at, permissions, secret_set_at, previous_secret_sha256, previous_until FROM provisioning_keys ORDER BY created_at, seq";
const PK_SELECT_ONE: &str = "SELECT id, name, secret_sha256, scopes, audiences, sub, created_at, expires_at, max_token_ttl, revoked_at, use_count, last_used_at, permissions, secret_set_at, previous_secret_sha256, previous_until FROM provisioning_keys WHERE id = $1";

fn words(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

fn hash32(v: Vec<u8>) -> Result<[u8; 32]> {
    v.try_into()
        .map_err(|_| Error::storage("a secret hash in the store is not 32 bytes"))
}

fn pk_from_row(r: &Row) -> Result<ProvisioningRecord> {
    let audiences: String = column(r, 4)?;
    let scopes: String = column(r, 3)?;
    let permissions: String = column(r, 12)?;
    Ok(ProvisioningRecord {
        id: column(r, 0)?,
        name: column(r, 1)?,
        secret_sha256: hash32(column(r, 2)?)?,
        scopes: words(&scopes),
        audiences: serde_json::from_str(&audiences)
            .map_err(|_| Error::storage("audiences in the store are not a JSON array"))?,
        sub: column(r, 5)?,
        created_at: get_u64(r, 6)?,
        expires_at: get_u64(r, 7)?,
        max_token_ttl: get_u64(r, 8)?,
        revoked_at: get_opt_u64(r, 9)?,
        use_count: get_u64(r, 10)?,
        last_used_at: get_opt_u64(r, 11)?,
        permissions: words(&permissions),
        secret_set_at: get_opt_u64(r, 13)?,
        previous: match (column::<Option<Vec<u8>>>(r, 14)?, get_opt_u64(r, 15)?) {
            (Some(h), Some(until)) => Some(PreviousSecret {
                secret_sha256: hash32(h)?,
                until,
            }),
            _ => None,
        },
    })
}

fn audit_from_row(r: &Row) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: get_u64(r, 0)?,
        at: get_u64(r, 1)?,
        action: column(r, 2)?,
        actor: column(r, 3)?,
        kid: column(r, 4)?,
        jti: column(r, 5)?,
        sub: column(r, 6)?,
        provisioning_key_id: column(r, 7)?,
        outcome: column(r, 8)?,
        detail: column(r, 9)?,
    })
}

/// The owned column values of a key row (moved to the connection thread).
struct KeyParams {
    kid: String,
    alg: String,
    state: String,
    created_at: i64,
    activated_at: Option<i64>,
    retiring_at: Option<i64>,
    retired_at: Option<i64>,
    revoked_at: Option<i64>,
    revoke_reason: Option<String>,
    destroyed_at: Option<i64>,
    public_jwk: String,
    private_key: Option<Zeroizing<Vec<u8>>>,
    encrypted: i64,
    hsm_id: Option<String>,
}

impl KeyParams {
    fn new(k: &KeyRecord) -> Result<Self> {
        Ok(Self {
            kid: k.kid.clone(),
            alg: k.alg.name().to_string(),
            state: k.state.as_str().to_string(),
            created_at: to_i64(k.created_at)?,
            activated_at: opt_i64(k.activated_at)?,
            retiring_at: opt_i64(k.retiring_at)?,
            retired_at: opt_i64(k.retired_at)?,
            revoked_at: opt_i64(k.revoked_at)?,
            revoke_reason: k.revoke_reason.clone(),
            destroyed_at: opt_i64(k.destroyed_at)?,
            public_jwk: k.public_jwk.clone(),
            private_key: k.private_key.clone(),
            encrypted: i64::from(k.encrypted),
            hsm_id: k.hsm_id.clone(),
        })
    }
}

/// The owned column values of a provisioning-key row.
struct PkParams {
    id: String,
    name: String,
    secret: Vec<u8>,
    scopes: String,
    audiences: String,
    sub: String,
    created_at: i64,
    expires_at: i64,
    max_token_ttl: i64,
    revoked_at: Option<i64>,
    use_count: i64,
    last_used_at: Option<i64>,
    permissions: String,
    secret_set_at: Option<i64>,
    previous: Option<Vec<u8>>,
    previous_until: Option<i64>,
}

impl PkParams {
    fn new(k: &ProvisioningRecord) -> Result<Self> {
        Ok(Self {
            id: k.id.clone(),
            name: k.name.clone(),
            secret: k.secret_sha256.to_vec(),
            scopes: k.scopes.join(" "),
            audiences: serde_json::to_string(&k.audiences)
                .map_err(|e| Error::storage(format!("cannot encode audiences: {e}")))?,
            sub: k.sub.clone(),
            created_at: to_i64(k.created_at)?,
            expires_at: to_i64(k.expires_at)?,
            max_token_ttl: to_i64(k.max_token_ttl)?,
            revoked_at: opt_i64(k.revoked_at)?,
            use_count: to_i64(k.use_count)?,
            last_used_at: opt_i64(k.last_used_at)?,
            permissions: k.permissions.join(" "),
            secret_set_at: opt_i64(k.secret_set_at)?,
            previous: k.previous.map(|p| p.secret_sha256.to_vec()),
            previous_until: opt_i64(k.previous.map(|p| p.until))?,
        })
    }
}

impl Tx for PgTx<'_> {
    fn settings(&mut self) -> Result<BTreeMap<String, String>> {
        if let Some(s) = &self.settings {
            return Ok(s.clone());
        }
        let map: BTreeMap<String, String> = self.call(|s| {
            s.query("SELECT name, value FROM settings", &[])?
                .iter()
                .map(|r| Ok((column(r, 0)?, column(r, 1)?)))
                .collect()
        })?;
        self.settings = Some(map.clone());
        Ok(map)
    }

    fn put_setting(&mut self, name: &str, value: &str) -> Result<()> {
        let (n, v) = (name.to_string(), value.to_string());
        self.call(move |s| {
            s.execute(
                "INSERT INTO settings (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[&n, &v],
            )
            .map(drop)
        })?;
        if let Some(map) = self.settings.as_mut() {
            map.insert(name.to_string(), value.to_string());
        }
        self.changed = true;
        Ok(())
    }

    fn keys(&mut self) -> Result<Vec<KeyRecord>> {
        if let Some(k) = &self.keys {
            return Ok(k.clone());
        }
        let keys: Vec<KeyRecord> =
            self.call(|s| s.query(KEY_SELECT, &[])?.iter().map(key_from_row).collect())?;
        self.keys = Some(keys.clone());
        Ok(keys)
    }

    fn insert_key(&mut self, k: &KeyRecord) -> Result<()> {
        let p = KeyParams::new(k)?;
        self.call(move |s| {
            s.execute(
                "INSERT INTO signing_keys (kid, alg, state, created_at, activated_at, retiring_at, retired_at, revoked_at, revoke_reason, destroyed_at, public_jwk, private_key, encrypted, hsm_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                &[
                    &p.kid,
                    &p.alg,
                    &p.state,
                    &p.created_at,
                    &p.activated_at,
                    &p.retiring_at,
                    &p.retired_at,
                    &p.revoked_at,
                    &p.revoke_reason,
                    &p.destroyed_at,
                    &p.public_jwk,
                    &p.private_key.as_ref().map(|v| v.as_slice()),
                    &p.encrypted,
                    &p.hsm_id,
                ],
            )
            .map(drop)
        })?;
        if let Some(keys) = self.keys.as_mut() {
            keys.push(k.clone());
        }
        self.changed = true;
        Ok(())
    }

    fn update_key(&mut self, k: &KeyRecord) -> Result<()> {
        let p = KeyParams::new(k)?;
        let n = self.call(move |s| {
            s.execute(
                "UPDATE signing_keys SET state = $2, activated_at = $3, retiring_at = $4, retired_at = $5,
                 revoked_at = $6, revoke_reason = $7, destroyed_at = $8, private_key = $9, hsm_id = $10
                 WHERE kid = $1",
                &[
                    &p.kid,
                    &p.state,
                    &p.activated_at,
                    &p.retiring_at,
                    &p.retired_at,
                    &p.revoked_at,
                    &p.revoke_reason,
                    &p.destroyed_at,
                    &p.private_key.as_ref().map(|v| v.as_slice()),
                    &p.hsm_id,
                ],
            )
        })?;
        if n != 1 {
            return Err(Error::storage(format!("signing key {} vanished", k.kid)));
        }
        if let Some(slot) = self
            .keys
            .as_mut()
            .and_then(|ks| ks.iter_mut().find(|x| x.kid == k.kid))
        {
            *slot = k.clone();
        }
        self.changed = true;
        Ok(())
    }

    fn provisioning_keys(&mut self) -> Result<Vec<ProvisioningRecord>> {
        self.call(|s| {
            s.query(PK_SELECT_ALL, &[])?
                .iter()
                .map(pk_from_row)
                .collect()
        })
    }

    fn provisioning_key(&mut self, id: &str) -> Result<Option<ProvisioningRecord>> {
        if let Some(k) = self.pks.get(id) {
            return Ok(Some(k.clone()));
        }
        let owned = id.to_string();
        let found = self.call(move |s| {
            s.query_opt(PK_SELECT_ONE, &[&owned])?
                .as_ref()
                .map(pk_from_row)
                .transpose()
        })?;
        if let Some(k) = &found {
            self.pks.insert(k.id.clone(), k.clone());
        }
        Ok(found)
    }

    fn insert_provisioning_key(&mut self, k: &ProvisioningRecord) -> Result<()> {
        let p = PkParams::new(k)?;
        self.call(move |s| {
            s.execute(
                "INSERT INTO provisioning_keys (id, name, secret_sha256, scopes, audiences, sub, created_at, expires_at, max_token_ttl, revoked_at, use_count, last_used_at, permissions, secret_set_at, previous_secret_sha256, previous_until)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                &[
                    &p.id,
                    &p.name,
                    &p.secret,
                    &p.scopes,
                    &p.audiences,
                    &p.sub,
                    &p.created_at,
                    &p.expires_at,
                    &p.max_token_ttl,
                    &p.revoked_at,
                    &p.use_count,
                    &p.last_used_at,
                    &p.permissions,
                    &p.secret_set_at,
                    &p.previous,
                    &p.previous_until,
                ],
            )
            .map(drop)
        })?;
        self.pks.insert(k.id.clone(), k.clone());
        Ok(())
    }

    fn update_provisioning_key(&mut self, k: &ProvisioningRecord) -> Result<()> {
        let p = PkParams::new(k)?;
        self.pending.pks.insert(k.id.clone(), p);
        if let Some(slot) = self.pks.get_mut(&k.id) {
            // What the UPDATE changes; name, scopes and the rest stay.
            slot.revoked_at = k.revoked_at;
            slot.use_count = k.use_count;
            slot.last_used_at = k.last_used_at;
            slot.secret_sha256 = k.secret_sha256;
            slot.expires_at = k.expires_at;
            slot.secret_set_at = k.secret_set_at;
            slot.previous = k.previous;
        }
        Ok(())
    }

    fn insert_token(&mut self, t: &TokenRecord) -> Result<()> {
        let (iat, exp) = (to_i64(t.iat)?, to_i64(t.exp)?);
        let (list, idx) = (
            opt_i64(t.status.map(|s| s.list))?,
            opt_i64(t.status.map(|s| s.idx))?,
        );
        let rows = &mut self.pending.tokens;
        rows.jti.push(t.jti.clone());
        rows.sub.push(t.sub.clone());
        rows.pk.push(t.provisioning_key_id.clone());
        rows.kid.push(t.kid.clone());
        rows.iat.push(iat);
        rows.exp.push(exp);
        rows.list.push(list);
        rows.idx.push(idx);
        Ok(())
    }

    fn token(&mut self, jti: &str) -> Result<Option<TokenRecord>> {
        let jti = jti.to_string();
        self.call(move |s| {
            let Some(r) = s.query_opt(
                "SELECT jti, sub, provisioning_key_id, kid, iat, exp, status_list, status_idx FROM tokens WHERE jti = $1",
                &[&jti],
            )?
            else {
                return Ok(None);
            };
            Ok(Some(TokenRecord {
                jti: column(&r, 0)?,
                sub: column(&r, 1)?,
                provisioning_key_id: column(&r, 2)?,
                kid: column(&r, 3)?,
                iat: get_u64(&r, 4)?,
                exp: get_u64(&r, 5)?,
                status: match (get_opt_u64(&r, 6)?, get_opt_u64(&r, 7)?) {
                    (Some(list), Some(idx)) => Some(StatusSlot { list, idx }),
                    _ => None,
                },
            }))
        })
    }

    fn revocations(&mut self) -> Result<Vec<RevocationEntry>> {
        self.call(|s| {
            s.query(
                "SELECT kind, value, at, expires_at, created_at FROM revocations ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| {
                let kind: String = column(r, 0)?;
                Ok(RevocationEntry {
                    kind: RevocationKind::parse(&kind).ok_or_else(|| {
                        Error::storage(format!("unknown revocation kind {kind:?}"))
                    })?,
                    value: column(r, 1)?,
                    at: get_u64(r, 2)?,
                    expires_at: get_u64(r, 3)?,
                    created_at: get_u64(r, 4)?,
                })
            })
            .collect()
        })
    }

    fn insert_revocation(&mut self, e: &RevocationEntry) -> Result<()> {
        let (kind, value) = (e.kind.as_str().to_string(), e.value.clone());
        let (at, expires, created) = (to_i64(e.at)?, to_i64(e.expires_at)?, to_i64(e.created_at)?);
        self.call(move |s| {
            s.execute(
                "INSERT INTO revocations (kind, value, at, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[&kind, &value, &at, &expires, &created],
            )
            .map(drop)
        })?;
        self.changed = true;
        Ok(())
    }

    fn prune_revocations(&mut self, now: u64) -> Result<u64> {
        let now = to_i64(now)?;
        let n = self
            .call(move |s| s.execute("DELETE FROM revocations WHERE expires_at <= $1", &[&now]))?;
        if n > 0 {
            self.changed = true;
        }
        Ok(n)
    }

    fn insert_audit(&mut self, a: &AuditRecord) -> Result<u64> {
        // Buffered: the id is assigned when the transaction's writes are
        // sent (in order), so 0 is answered.
        let rows = &mut self.pending.audit;
        rows.at.push(to_i64(a.at)?);
        rows.action.push(a.action.clone());
        rows.actor.push(a.actor.clone());
        rows.kid.push(a.kid.clone());
        rows.jti.push(a.jti.clone());
        rows.sub.push(a.sub.clone());
        rows.pk.push(a.provisioning_key_id.clone());
        rows.outcome.push(a.outcome.clone());
        rows.detail.push(a.detail.clone());
        Ok(0)
    }

    fn audit_after(&mut self, after: u64, limit: u64) -> Result<Vec<AuditRecord>> {
        let (after, limit) = (to_i64(after)?, to_i64(limit)?);
        self.call(move |s| {
            s.query(
                "SELECT id, at, action, actor, kid, jti, sub, provisioning_key_id, outcome, detail
                 FROM audit WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after, &limit],
            )?
            .iter()
            .map(audit_from_row)
            .collect()
        })
    }

    fn prune_tokens(&mut self, before: u64, limit: u64) -> Result<u64> {
        let (before, limit) = (to_i64(before)?, to_i64(limit)?);
        self.call(move |s| {
            s.execute(
                "DELETE FROM tokens WHERE jti IN (
                    SELECT t.jti FROM tokens t
                    WHERE t.exp < $1
                      AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.kind = 'jti' AND r.value = t.jti)
                    LIMIT $2)",
                &[&before, &limit],
            )
        })
    }

    fn prune_audit(&mut self, before: u64, through: u64, limit: u64) -> Result<u64> {
        let (before, through, limit) = (to_i64(before)?, to_i64(through)?, to_i64(limit)?);
        self.call(move |s| {
            s.execute(
                "DELETE FROM audit WHERE id IN (
                    SELECT id FROM audit WHERE id <= $2 AND at < $1 ORDER BY id LIMIT $3)",
                &[&before, &through, &limit],
            )
        })
    }

    fn max_audit_id(&mut self) -> Result<u64> {
        self.call(|s| {
            let r = s.query_opt("SELECT coalesce(max(id), 0) FROM audit", &[])?;
            r.map_or(Ok(0), |r| get_u64(&r, 0))
        })
    }

    fn audit_counts_since(&mut self, since: u64) -> Result<Vec<(String, u64)>> {
        let since = to_i64(since)?;
        self.call(move |s| {
            s.query(
                "SELECT action, count(*) FROM audit WHERE at >= $1 GROUP BY action ORDER BY action",
                &[&since],
            )?
            .iter()
            .map(|r| Ok((column(r, 0)?, get_u64(r, 1)?)))
            .collect()
        })
    }

    fn size_bytes(&mut self) -> Result<(u64, u64)> {
        // The store's tables with their indexes and TOAST; PostgreSQL
        // reuses freed space inside them after VACUUM, which it does not
        // report cheaply: "free" is 0.
        self.call(|s| {
            let r = s.query_opt(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind = 'r' AND n.nspname = current_schema()
                   AND c.relname IN ('settings', 'signing_keys', 'provisioning_keys', 'tokens',
                                     'revocations', 'audit', 'status_lists', 'schema_version',
                                     'change_counter')",
                &[],
            )?;
            Ok((r.map_or(Ok(0), |r| get_u64(&r, 0))?, 0))
        })
    }

    fn change_counter(&mut self) -> Result<u64> {
        self.call(Session::change_count)
    }

    fn audit(&mut self, since: u64) -> Result<Vec<AuditRecord>> {
        let since = to_i64(since)?;
        self.call(move |s| {
            s.query(
                "SELECT id, at, action, actor, kid, jti, sub, provisioning_key_id, outcome, detail
                 FROM audit WHERE at >= $1 ORDER BY id",
                &[&since],
            )?
            .iter()
            .map(audit_from_row)
            .collect()
        })
    }
}
