//! The SQLite implementation of [`Store`]: WAL, `synchronous=FULL`, a busy
//! timeout, `BEGIN IMMEDIATE` write transactions (so two processes never
//! interleave), versioned migrations, and a database file created with mode 0600.

use std::collections::BTreeMap;
use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use zeroize::Zeroizing;

use crate::Algorithm;

use super::lifecycle::KeyState;
use super::schema;
use super::store::{
    AuditRecord, KeyRecord, PreviousSecret, ProvisioningRecord, RevocationEntry, RevocationKind,
    StatusListRecord, StatusSlot, StatusTx, Store, TokenRecord, Tx,
};
use super::{Error, ErrorKind, Result};

/// How long a command waits for another process's transaction (milliseconds).
pub const BUSY_TIMEOUT_MS: u64 = 30_000;

/// An issuer store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::usage(format!("value {v} is out of range")))
}

fn opt_i64(v: Option<u64>) -> Result<Option<i64>> {
    v.map(to_i64).transpose()
}

fn get_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Integer, Box::new(e))
    })
}

fn get_opt_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(idx)?;
    v.map(|v| {
        u64::try_from(v).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                idx,
                rusqlite::types::Type::Integer,
                Box::new(e),
            )
        })
    })
    .transpose()
}

fn conversion(idx: usize, message: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Text,
        message.to_string().into(),
    )
}

use std::boxed::Box;

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
                format!(
                    "no issuer database at {}; run `jwt-edge init` first (or pass --db / JWT_EDGE_DB)",
                    path.display()
                ),
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
            .query_row("SELECT version FROM schema_version", [], |r| get_u64(r, 0))?)
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
            .query_row("SELECT version FROM schema_version", [], |r| get_u64(r, 0))
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
            tx.execute("UPDATE schema_version SET version = ?1", [to_i64(version)?])?;
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
    fn transaction<T>(&mut self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut wrapper = SqliteTx { tx };
        let out = f(&mut wrapper)?; // dropping the transaction rolls back
        wrapper.tx.commit()?;
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

struct SqliteTx<'c> {
    tx: rusqlite::Transaction<'c>,
}

impl StatusTx for SqliteTx<'_> {
    fn allocate_status(&mut self, capacity: u64, now: u64) -> Result<StatusSlot> {
        let newest: Option<(i64, i64, i64)> = self
            .tx
            .query_row(
                "SELECT list, capacity, next_idx FROM status_lists ORDER BY list DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (list, idx) = match newest {
            Some((list, cap, next)) if next < cap => (list, next),
            other => {
                let list = other.map_or(1, |(l, _, _)| l.saturating_add(1));
                self.tx.execute(
                    "INSERT INTO status_lists (list, capacity, next_idx, created_at) VALUES (?1, ?2, 0, ?3)",
                    params![list, to_i64(capacity.max(8))?, to_i64(now)?],
                )?;
                (list, 0)
            }
        };
        self.tx.execute(
            "UPDATE status_lists SET next_idx = ?2 WHERE list = ?1",
            params![list, idx.saturating_add(1)],
        )?;
        Ok(StatusSlot {
            list: list.unsigned_abs(),
            idx: idx.unsigned_abs(),
        })
    }

    fn set_status(&mut self, slot: StatusSlot, status: u8) -> Result<()> {
        self.tx.execute(
            "UPDATE tokens SET status = ?3 WHERE status_list = ?1 AND status_idx = ?2",
            params![to_i64(slot.list)?, to_i64(slot.idx)?, i64::from(status)],
        )?;
        self.tx.execute(
            "UPDATE status_lists SET version = version + 1 WHERE list = ?1",
            params![to_i64(slot.list)?],
        )?;
        Ok(())
    }

    fn status_lists(&mut self) -> Result<Vec<StatusListRecord>> {
        let mut stmt = self
            .tx
            .prepare("SELECT list, capacity, next_idx, version FROM status_lists ORDER BY list")?;
        let rows = stmt.query_map([], |r| {
            Ok(StatusListRecord {
                list: get_u64(r, 0)?,
                capacity: get_u64(r, 1)?,
                next_idx: get_u64(r, 2)?,
                version: get_u64(r, 3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn row_counts(&mut self) -> Result<Vec<(&'static str, u64)>> {
        let mut out = Vec::new();
        for table in schema::COUNTED {
            let n: i64 = self
                .tx
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            out.push((table, n.unsigned_abs()));
        }
        Ok(out)
    }

    fn statuses(&mut self, list: u64) -> Result<Vec<(u64, u8)>> {
        let mut stmt = self.tx.prepare(
            "SELECT status_idx, status FROM tokens WHERE status_list = ?1 AND status != 0",
        )?;
        let rows = stmt.query_map([to_i64(list)?], |r| {
            let s: i64 = r.get(1)?;
            Ok((get_u64(r, 0)?, u8::try_from(s).unwrap_or(1)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const KEY_COLUMNS: &str = "kid, alg, state, created_at, activated_at, retiring_at, retired_at, revoked_at, revoke_reason, destroyed_at, public_jwk, private_key, encrypted, hsm_id";

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let alg: String = r.get(1)?;
    let state: String = r.get(2)?;
    let private: Option<Vec<u8>> = r.get(11)?;
    Ok(KeyRecord {
        kid: r.get(0)?,
        alg: Algorithm::from_name(&alg).ok_or_else(|| conversion(1, "unknown alg"))?,
        state: KeyState::parse(&state).ok_or_else(|| conversion(2, "unknown key state"))?,
        created_at: get_u64(r, 3)?,
        activated_at: get_opt_u64(r, 4)?,
        retiring_at: get_opt_u64(r, 5)?,
        retired_at: get_opt_u64(r, 6)?,
        revoked_at: get_opt_u64(r, 7)?,
        revoke_reason: r.get(8)?,
        destroyed_at: get_opt_u64(r, 9)?,
        public_jwk: r.get(10)?,
        private_key: private.map(Zeroizing::new),
        encrypted: r.get(12)?,
        hsm_id: r.get(13)?,
    })
}

const PK_COLUMNS: &str = "id, name, secret_sha256, scopes, audiences, sub, created_at, expires_at, max_token_ttl, revoked_at, use_count, last_used_at, permissions, secret_set_at, previous_secret_sha256, previous_until";

fn hash32(v: Vec<u8>, idx: usize) -> rusqlite::Result<[u8; 32]> {
    v.try_into()
        .map_err(|_| conversion(idx, "secret hash is not 32 bytes"))
}

fn words(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

fn pk_from_row(r: &Row<'_>) -> rusqlite::Result<ProvisioningRecord> {
    let hash: Vec<u8> = r.get(2)?;
    let scopes: String = r.get(3)?;
    let audiences: String = r.get(4)?;
    Ok(ProvisioningRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        secret_sha256: hash32(hash, 2)?,
        scopes: words(&scopes),
        audiences: serde_json::from_str(&audiences)
            .map_err(|_| conversion(4, "audiences are not a JSON array"))?,
        sub: r.get(5)?,
        created_at: get_u64(r, 6)?,
        expires_at: get_u64(r, 7)?,
        max_token_ttl: get_u64(r, 8)?,
        revoked_at: get_opt_u64(r, 9)?,
        use_count: get_u64(r, 10)?,
        last_used_at: get_opt_u64(r, 11)?,
        permissions: words(&r.get::<_, String>(12)?),
        secret_set_at: get_opt_u64(r, 13)?,
        previous: match (r.get::<_, Option<Vec<u8>>>(14)?, get_opt_u64(r, 15)?) {
            (Some(h), Some(until)) => Some(PreviousSecret {
                secret_sha256: hash32(h, 14)?,
                until,
            }),
            _ => None,
        },
    })
}

fn audit_from_row(r: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: get_u64(r, 0)?,
        at: get_u64(r, 1)?,
        action: r.get(2)?,
        actor: r.get(3)?,
        kid: r.get(4)?,
        jti: r.get(5)?,
        sub: r.get(6)?,
        provisioning_key_id: r.get(7)?,
        outcome: r.get(8)?,
        detail: r.get(9)?,
    })
}

impl Tx for SqliteTx<'_> {
    fn settings(&mut self) -> Result<BTreeMap<String, String>> {
        let mut stmt = self.tx.prepare("SELECT name, value FROM settings")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn put_setting(&mut self, name: &str, value: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    fn keys(&mut self) -> Result<Vec<KeyRecord>> {
        let mut stmt = self.tx.prepare(&format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY created_at, rowid"
        ))?;
        let rows = stmt.query_map([], key_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_key(&mut self, k: &KeyRecord) -> Result<()> {
        self.tx.execute(
            &format!("INSERT INTO signing_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            params![
                k.kid,
                k.alg.name(),
                k.state.as_str(),
                to_i64(k.created_at)?,
                opt_i64(k.activated_at)?,
                opt_i64(k.retiring_at)?,
                opt_i64(k.retired_at)?,
                opt_i64(k.revoked_at)?,
                k.revoke_reason,
                opt_i64(k.destroyed_at)?,
                k.public_jwk,
                k.private_key.as_ref().map(|v| v.as_slice()),
                k.encrypted,
                k.hsm_id,
            ],
        )?;
        Ok(())
    }

    fn update_key(&mut self, k: &KeyRecord) -> Result<()> {
        let n = self.tx.execute(
            "UPDATE signing_keys SET state = ?2, activated_at = ?3, retiring_at = ?4, retired_at = ?5,
             revoked_at = ?6, revoke_reason = ?7, destroyed_at = ?8, private_key = ?9, hsm_id = ?10
             WHERE kid = ?1",
            params![
                k.kid,
                k.state.as_str(),
                opt_i64(k.activated_at)?,
                opt_i64(k.retiring_at)?,
                opt_i64(k.retired_at)?,
                opt_i64(k.revoked_at)?,
                k.revoke_reason,
                opt_i64(k.destroyed_at)?,
                k.private_key.as_ref().map(|v| v.as_slice()),
                k.hsm_id,
            ],
        )?;
        if n != 1 {
            return Err(Error::storage(format!("signing key {} vanished", k.kid)));
        }
        Ok(())
    }

    fn provisioning_keys(&mut self) -> Result<Vec<ProvisioningRecord>> {
        let mut stmt = self.tx.prepare(&format!(
            "SELECT {PK_COLUMNS} FROM provisioning_keys ORDER BY created_at, rowid"
        ))?;
        let rows = stmt.query_map([], pk_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn provisioning_key(&mut self, id: &str) -> Result<Option<ProvisioningRecord>> {
        Ok(self
            .tx
            .query_row(
                &format!("SELECT {PK_COLUMNS} FROM provisioning_keys WHERE id = ?1"),
                [id],
                pk_from_row,
            )
            .optional()?)
    }

    fn insert_provisioning_key(&mut self, k: &ProvisioningRecord) -> Result<()> {
        let audiences = serde_json::to_string(&k.audiences)
            .map_err(|e| Error::storage(format!("cannot encode audiences: {e}")))?;
        self.tx.execute(
            &format!("INSERT INTO provisioning_keys ({PK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"),
            params![
                k.id,
                k.name,
                k.secret_sha256.as_slice(),
                k.scopes.join(" "),
                audiences,
                k.sub,
                to_i64(k.created_at)?,
                to_i64(k.expires_at)?,
                to_i64(k.max_token_ttl)?,
                opt_i64(k.revoked_at)?,
                to_i64(k.use_count)?,
                opt_i64(k.last_used_at)?,
                k.permissions.join(" "),
                opt_i64(k.secret_set_at)?,
                k.previous.map(|p| p.secret_sha256.to_vec()),
                opt_i64(k.previous.map(|p| p.until))?,
            ],
        )?;
        Ok(())
    }

    fn update_provisioning_key(&mut self, k: &ProvisioningRecord) -> Result<()> {
        self.tx.execute(
            "UPDATE provisioning_keys SET revoked_at = ?2, use_count = ?3, last_used_at = ?4,
             secret_sha256 = ?5, expires_at = ?6, secret_set_at = ?7,
             previous_secret_sha256 = ?8, previous_until = ?9 WHERE id = ?1",
            params![
                k.id,
                opt_i64(k.revoked_at)?,
                to_i64(k.use_count)?,
                opt_i64(k.last_used_at)?,
                k.secret_sha256.as_slice(),
                to_i64(k.expires_at)?,
                opt_i64(k.secret_set_at)?,
                k.previous.map(|p| p.secret_sha256.to_vec()),
                opt_i64(k.previous.map(|p| p.until))?,
            ],
        )?;
        Ok(())
    }

    fn insert_token(&mut self, t: &TokenRecord) -> Result<()> {
        self.tx.execute(
            "INSERT INTO tokens (jti, sub, provisioning_key_id, kid, iat, exp, status_list, status_idx) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                t.jti,
                t.sub,
                t.provisioning_key_id,
                t.kid,
                to_i64(t.iat)?,
                to_i64(t.exp)?,
                opt_i64(t.status.map(|s| s.list))?,
                opt_i64(t.status.map(|s| s.idx))?,
            ],
        )?;
        Ok(())
    }

    fn token(&mut self, jti: &str) -> Result<Option<TokenRecord>> {
        Ok(self
            .tx
            .query_row(
                "SELECT jti, sub, provisioning_key_id, kid, iat, exp, status_list, status_idx FROM tokens WHERE jti = ?1",
                [jti],
                |r| {
                    Ok(TokenRecord {
                        jti: r.get(0)?,
                        sub: r.get(1)?,
                        provisioning_key_id: r.get(2)?,
                        kid: r.get(3)?,
                        iat: get_u64(r, 4)?,
                        exp: get_u64(r, 5)?,
                        status: match (get_opt_u64(r, 6)?, get_opt_u64(r, 7)?) {
                            (Some(list), Some(idx)) => Some(StatusSlot { list, idx }),
                            _ => None,
                        },
                    })
                },
            )
            .optional()?)
    }

    fn revocations(&mut self) -> Result<Vec<RevocationEntry>> {
        let mut stmt = self.tx.prepare(
            "SELECT kind, value, at, expires_at, created_at FROM revocations ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let kind: String = r.get(0)?;
            Ok(RevocationEntry {
                kind: RevocationKind::parse(&kind)
                    .ok_or_else(|| conversion(0, "unknown revocation kind"))?,
                value: r.get(1)?,
                at: get_u64(r, 2)?,
                expires_at: get_u64(r, 3)?,
                created_at: get_u64(r, 4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_revocation(&mut self, e: &RevocationEntry) -> Result<()> {
        self.tx.execute(
            "INSERT INTO revocations (kind, value, at, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                e.kind.as_str(),
                e.value,
                to_i64(e.at)?,
                to_i64(e.expires_at)?,
                to_i64(e.created_at)?
            ],
        )?;
        Ok(())
    }

    fn prune_revocations(&mut self, now: u64) -> Result<u64> {
        let n = self.tx.execute(
            "DELETE FROM revocations WHERE expires_at <= ?1",
            [to_i64(now)?],
        )?;
        Ok(n as u64)
    }

    fn insert_audit(&mut self, a: &AuditRecord) -> Result<u64> {
        self.tx.execute(
            "INSERT INTO audit (at, action, actor, kid, jti, sub, provisioning_key_id, outcome, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                to_i64(a.at)?,
                a.action,
                a.actor,
                a.kid,
                a.jti,
                a.sub,
                a.provisioning_key_id,
                a.outcome,
                a.detail
            ],
        )?;
        u64::try_from(self.tx.last_insert_rowid())
            .map_err(|_| Error::storage("negative audit row id"))
    }

    fn audit_after(&mut self, after: u64, limit: u64) -> Result<Vec<AuditRecord>> {
        let mut stmt = self.tx.prepare(
            "SELECT id, at, action, actor, kid, jti, sub, provisioning_key_id, outcome, detail
             FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![to_i64(after)?, to_i64(limit)?], audit_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn prune_tokens(&mut self, before: u64, limit: u64) -> Result<u64> {
        let n = self.tx.execute(
            "DELETE FROM tokens WHERE rowid IN (
                SELECT t.rowid FROM tokens t
                WHERE t.exp < ?1
                  AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.kind = 'jti' AND r.value = t.jti)
                LIMIT ?2)",
            params![to_i64(before)?, to_i64(limit)?],
        )?;
        Ok(n as u64)
    }

    fn prune_audit(&mut self, before: u64, through: u64, limit: u64) -> Result<u64> {
        let n = self.tx.execute(
            "DELETE FROM audit WHERE id IN (
                SELECT id FROM audit WHERE id <= ?2 AND at < ?1 ORDER BY id LIMIT ?3)",
            params![to_i64(before)?, to_i64(through)?, to_i64(limit)?],
        )?;
        Ok(n as u64)
    }

    fn max_audit_id(&mut self) -> Result<u64> {
        let v: Option<i64> = self
            .tx
            .query_row("SELECT max(id) FROM audit", [], |r| r.get(0))?;
        Ok(v.map_or(0, i64::unsigned_abs))
    }

    fn audit_counts_since(&mut self, since: u64) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.tx.prepare(
            "SELECT action, count(*) FROM audit WHERE at >= ?1 GROUP BY action ORDER BY action",
        )?;
        let rows = stmt.query_map([to_i64(since)?], |r| Ok((r.get(0)?, get_u64(r, 1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn size_bytes(&mut self) -> Result<(u64, u64)> {
        let page: i64 = self.tx.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let count: i64 = self.tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self
            .tx
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let bytes = |pages: i64| pages.unsigned_abs().saturating_mul(page.unsigned_abs());
        Ok((bytes(count.saturating_sub(free)), bytes(free)))
    }

    fn change_counter(&mut self) -> Result<u64> {
        data_version(&self.tx)
    }

    fn audit(&mut self, since: u64) -> Result<Vec<AuditRecord>> {
        let mut stmt = self.tx.prepare(
            "SELECT id, at, action, actor, kid, jti, sub, provisioning_key_id, outcome, detail
             FROM audit WHERE at >= ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([to_i64(since)?], audit_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
