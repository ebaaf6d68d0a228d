//! What the two stores share, written once: column values ([`Cell`]), the
//! seam each dialect implements ([`Db`]), every statement both run, and the
//! mappings between rows and records.
//!
//! Statements use SQLite's numbered placeholders (`?1`, `?2`, …);
//! PostgreSQL's `$1`, `$2`, … are derived from them ([`postgres_text`]) when
//! a statement is first prepared on a connection. The few places where the
//! dialects differ are explicit: the two listing statements (SQLite's `rowid`,
//! PostgreSQL's `seq` identity column), [`Many`]'s multi-row form, and the
//! [`Db`] methods a dialect answers itself (change counter, size).

use std::collections::BTreeMap;
use std::format;
use std::string::String;
use std::vec::Vec;

use zeroize::Zeroizing;

use crate::Algorithm;

use super::super::rules::lifecycle::{KeyState, Life, Revocation};
use super::super::rules::provisioning::Permission;
use super::super::{Error, Result};
use super::records::{
    AuditAction, AuditRecord, ClientKeys, Custody, KeyRecord, Outcome, PreviousSecret,
    ProvisioningRecord, RevocationEntry, RevocationKind, StatusListRecord, StatusSlot, TokenRecord,
};
use super::schema;

/// One column value, bound to a statement or read from a row.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Cell {
    /// SQL `NULL`.
    Null,
    /// An integer (`INTEGER` / `BIGINT`; booleans are 0 and 1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (`BLOB` / `BYTEA`); zeroed when dropped (private keys cross here).
    Blob(Zeroizing<Vec<u8>>),
}

impl core::fmt::Debug for Cell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Null => f.write_str("Null"),
            Self::Int(v) => write!(f, "Int({v})"),
            Self::Text(s) => write!(f, "Text({} bytes)", s.len()),
            Self::Blob(b) => write!(f, "Blob({} bytes)", b.len()),
        }
    }
}

/// What an integer column's type holds (every integer column is signed 64-bit).
fn int(v: u64) -> Result<Cell> {
    i64::try_from(v)
        .map(Cell::Int)
        .map_err(|_| Error::usage(format!("value {v} is out of range")))
}

fn opt_int(v: Option<u64>) -> Result<Cell> {
    v.map_or(Ok(Cell::Null), int)
}

fn text(s: &str) -> Cell {
    Cell::Text(String::from(s))
}

fn opt_text(s: Option<&str>) -> Cell {
    s.map_or(Cell::Null, text)
}

fn blob(b: &[u8]) -> Cell {
    Cell::Blob(Zeroizing::new(b.to_vec()))
}

fn opt_blob(b: Option<&[u8]>) -> Cell {
    b.map_or(Cell::Null, blob)
}

/// The kind of a column in a [`Many`] statement (PostgreSQL binds each
/// column as one typed array).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `int8`.
    Int,
    /// `text`.
    Text,
    /// `bytea`.
    Blob,
}

/// A write the transaction buffers and sends at its end: `one` row at a
/// time (SQLite: one prepared statement, no round trips), or every row in
/// one `unnest` statement (PostgreSQL: round trips are what it pays for).
// Without `postgres`, only `one` is used.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct Many {
    /// The single-row statement (`?N` placeholders, one per column).
    pub(crate) one: &'static str,
    /// The multi-row statement: parameter `$i` is column `i`'s array.
    pub(crate) unnest: &'static str,
    /// The columns' kinds, in parameter order.
    pub(crate) kinds: &'static [Kind],
}

/// The storage seam: what one dialect's open transaction does. Everything
/// above it ([`super::Tx`]) is shared.
pub(crate) trait Db {
    /// The rows `sql` answers, every column as a [`Cell`].
    ///
    /// # Errors
    /// Storage errors.
    fn query(&mut self, sql: Sql, params: Vec<Cell>) -> Result<Vec<Vec<Cell>>>;

    /// Runs `sql`; the number of rows it changed.
    ///
    /// # Errors
    /// Storage errors.
    fn execute(&mut self, sql: Sql, params: Vec<Cell>) -> Result<u64>;

    /// Writes buffered rows of `many` (see [`Many`]).
    ///
    /// # Errors
    /// Storage errors.
    fn execute_many(&mut self, many: &'static Many, rows: Vec<Vec<Cell>>) -> Result<()>;

    /// [`super::Store::external_changes`] as seen in this transaction.
    ///
    /// # Errors
    /// Storage errors.
    fn change_counter(&mut self) -> Result<u64>;

    /// The store's size in bytes: (in use, free for reuse).
    ///
    /// # Errors
    /// Storage errors.
    fn size_bytes(&mut self) -> Result<(u64, u64)>;
}

/// A statement: the same text for both dialects, or one per dialect where
/// they differ (the insertion-order column of [`KEYS`] and
/// [`PROVISIONING_KEYS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sql {
    /// SQLite's text.
    pub(crate) sqlite: &'static str,
    /// PostgreSQL's text (before [`postgres_text`]).
    pub(crate) postgres: &'static str,
}

impl Sql {
    /// One text for both.
    const fn both(s: &'static str) -> Self {
        Self {
            sqlite: s,
            postgres: s,
        }
    }
}

/// PostgreSQL's form of a statement: `?N` placeholders become `$N`.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn postgres_text(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// One result row: typed reads with errors that name the column.
struct Cols<'r>(&'r [Cell]);

impl Cols<'_> {
    fn cell(&self, i: usize) -> Result<&Cell> {
        self.0
            .get(i)
            .ok_or_else(|| Error::storage(format!("missing column {i} in a store row")))
    }

    fn unexpected(i: usize, what: &str) -> Error {
        Error::storage(format!("unexpected value in column {i}: expected {what}"))
    }

    fn text(&self, i: usize) -> Result<String> {
        match self.cell(i)? {
            Cell::Text(s) => Ok(s.clone()),
            _ => Err(Self::unexpected(i, "text")),
        }
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    fn int(&self, i: usize) -> Result<i64> {
        match self.cell(i)? {
            Cell::Int(v) => Ok(*v),
            _ => Err(Self::unexpected(i, "an integer")),
        }
    }

    fn u64(&self, i: usize) -> Result<u64> {
        u64::try_from(self.int(i)?)
            .map_err(|_| Error::storage(format!("negative value in column {i}")))
    }

    fn opt_u64(&self, i: usize) -> Result<Option<u64>> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            _ => self.u64(i).map(Some),
        }
    }

    fn opt_blob(&self, i: usize) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Blob(b) => Ok(Some(b.clone())),
            _ => Err(Self::unexpected(i, "bytes")),
        }
    }

    fn hash32(&self, i: usize) -> Result<Option<[u8; 32]>> {
        self.opt_blob(i)?
            .map(|b| {
                <[u8; 32]>::try_from(b.as_slice())
                    .map_err(|_| Error::storage("a secret hash in the store is not 32 bytes"))
            })
            .transpose()
    }
}

/// Maps every row with `f`.
fn rows<T>(rows: &[Vec<Cell>], f: fn(&Cols<'_>) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(|r| f(&Cols(r))).collect()
}

/// The first row mapped with `f`, if any.
fn first<T>(rows: &[Vec<Cell>], f: fn(&Cols<'_>) -> Result<T>) -> Result<Option<T>> {
    rows.first().map(|r| f(&Cols(r))).transpose()
}

/// A single integer answer (`0` when there is no row).
pub(crate) fn single_u64(rows: &[Vec<Cell>]) -> Result<u64> {
    first(rows, |c| c.u64(0)).map(Option::unwrap_or_default)
}

fn words(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

// ---- settings ----

pub(crate) const SETTINGS: Sql = Sql::both("SELECT name, value FROM settings");
pub(crate) const PUT_SETTING: Sql = Sql::both(
    "INSERT INTO settings (name, value) VALUES (?1, ?2)
     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
);

/// The settings rows as a map.
pub(crate) fn settings_from(r: &[Vec<Cell>]) -> Result<BTreeMap<String, String>> {
    Ok(rows(r, |c| Ok((c.text(0)?, c.text(1)?)))?
        .into_iter()
        .collect())
}

/// A setting's parameters.
pub(crate) fn setting_params(name: &str, value: &str) -> Vec<Cell> {
    std::vec![text(name), text(value)]
}

// ---- signing keys ----

macro_rules! key_columns {
    () => {
        "kid, alg, state, created_at, activated_at, retiring_at, retired_at, revoked_at, revoke_reason, destroyed_at, public_jwk, private_key, encrypted, hsm_id, ring"
    };
}

pub(crate) const KEYS: Sql = Sql {
    sqlite: concat!(
        "SELECT ",
        key_columns!(),
        " FROM signing_keys ORDER BY created_at, rowid"
    ),
    postgres: concat!(
        "SELECT ",
        key_columns!(),
        " FROM signing_keys ORDER BY created_at, seq"
    ),
};
pub(crate) const INSERT_KEY: Sql = Sql::both(concat!(
    "INSERT INTO signing_keys (",
    key_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
));
pub(crate) const UPDATE_KEY: Sql = Sql::both(
    "UPDATE signing_keys SET state = ?2, activated_at = ?3, retiring_at = ?4, retired_at = ?5,
     revoked_at = ?6, revoke_reason = ?7, destroyed_at = ?8, private_key = ?9, hsm_id = ?10
     WHERE kid = ?1",
);

fn key_from(c: &Cols<'_>) -> Result<KeyRecord> {
    let kid = c.text(0)?;
    let alg = c.text(1)?;
    let state = c.text(2)?;
    let state = KeyState::parse(&state)
        .ok_or_else(|| Error::storage(format!("unknown key state {state:?} in the store")))?;
    let reason = c.opt_text(8)?;
    let revocation = c.opt_u64(7)?.map(|at| Revocation { at, reason });
    let life = Life::from_columns(
        state,
        c.opt_u64(4)?,
        c.opt_u64(5)?,
        c.opt_u64(6)?,
        revocation,
        c.opt_u64(9)?,
    )
    .ok_or_else(|| {
        Error::storage(format!(
            "signing key {kid} in the store has times that do not fit its state {}",
            state.as_str()
        ))
    })?;
    Ok(KeyRecord {
        kid,
        alg: Algorithm::from_name(&alg)
            .ok_or_else(|| Error::storage(format!("unknown alg {alg:?} in the store")))?,
        life,
        created_at: c.u64(3)?,
        public_jwk: c.text(10)?,
        custody: match (c.opt_blob(11)?, c.int(12)? != 0, c.opt_text(13)?) {
            (None, _, Some(id)) => Custody::Token(id),
            (Some(der), true, None) => Custody::Encrypted(der),
            (Some(der), false, None) => Custody::Plain(der),
            (None, was_encrypted, None) => Custody::Destroyed { was_encrypted },
            (Some(_), _, Some(_)) => {
                return Err(Error::storage(
                    "a signing key in the store has both a private key and a PKCS#11 id",
                ))
            }
        },
        ring: match c.text(14)?.as_str() {
            "" => None,
            name => Some(Algorithm::from_name(name).ok_or_else(|| {
                Error::storage(format!("unknown key ring {name:?} in the store"))
            })?),
        },
    })
}

/// The PKCS#8 DER the store keeps, if any.
fn private_der(c: &Custody) -> Option<&[u8]> {
    match c {
        Custody::Encrypted(der) | Custody::Plain(der) => Some(der.as_slice()),
        Custody::Token(_) | Custody::Destroyed { .. } => None,
    }
}

/// Every key row as records.
pub(crate) fn keys_from(r: &[Vec<Cell>]) -> Result<Vec<KeyRecord>> {
    rows(r, key_from)
}

/// [`INSERT_KEY`]'s parameters.
pub(crate) fn key_params(k: &KeyRecord) -> Result<Vec<Cell>> {
    Ok(std::vec![
        text(&k.kid),
        text(k.alg.name()),
        text(k.state().as_str()),
        int(k.created_at)?,
        opt_int(k.life.activated_at())?,
        opt_int(k.life.retiring_at())?,
        opt_int(k.life.retired_at())?,
        opt_int(k.life.revocation().map(|r| r.at))?,
        opt_text(k.life.revocation().and_then(|r| r.reason.as_deref())),
        opt_int(k.life.destroyed_at())?,
        text(&k.public_jwk),
        opt_blob(private_der(&k.custody)),
        Cell::Int(i64::from(k.custody.encrypted())),
        opt_text(k.custody.token_id()),
        text(k.ring.map_or("", Algorithm::name)),
    ])
}

/// [`UPDATE_KEY`]'s parameters.
pub(crate) fn key_update_params(k: &KeyRecord) -> Result<Vec<Cell>> {
    Ok(std::vec![
        text(&k.kid),
        text(k.state().as_str()),
        opt_int(k.life.activated_at())?,
        opt_int(k.life.retiring_at())?,
        opt_int(k.life.retired_at())?,
        opt_int(k.life.revocation().map(|r| r.at))?,
        opt_text(k.life.revocation().and_then(|r| r.reason.as_deref())),
        opt_int(k.life.destroyed_at())?,
        opt_blob(private_der(&k.custody)),
        opt_text(k.custody.token_id()),
    ])
}

// ---- provisioning keys ----

macro_rules! pk_columns {
    () => {
        "id, name, secret_sha256, scopes, audiences, sub, created_at, expires_at, max_token_ttl, revoked_at, use_count, last_used_at, permissions, secret_set_at, previous_secret_sha256, previous_until, require_dpop, jwks, jwks_uri, keys_failing_since, alg"
    };
}

pub(crate) const PROVISIONING_KEYS: Sql = Sql {
    sqlite: concat!(
        "SELECT ",
        pk_columns!(),
        " FROM provisioning_keys ORDER BY created_at, rowid"
    ),
    postgres: concat!(
        "SELECT ",
        pk_columns!(),
        " FROM provisioning_keys ORDER BY created_at, seq"
    ),
};
pub(crate) const PROVISIONING_KEY: Sql = Sql::both(concat!(
    "SELECT ",
    pk_columns!(),
    " FROM provisioning_keys WHERE id = ?1"
));
pub(crate) const INSERT_PROVISIONING_KEY: Sql = Sql::both(concat!(
    "INSERT INTO provisioning_keys (",
    pk_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
));
/// What a provisioning-key update changes (name, scopes and the rest stay).
pub(crate) static UPDATE_PROVISIONING_KEYS: Many = Many {
    one: "UPDATE provisioning_keys SET revoked_at = ?2, use_count = ?3, last_used_at = ?4,
          secret_sha256 = ?5, expires_at = ?6, secret_set_at = ?7,
          previous_secret_sha256 = ?8, previous_until = ?9, require_dpop = ?10,
          jwks = ?11, jwks_uri = ?12, keys_failing_since = ?13, alg = ?14 WHERE id = ?1",
    unnest: "UPDATE provisioning_keys p SET revoked_at = u.revoked_at, use_count = u.use_count,
                last_used_at = u.last_used_at, secret_sha256 = u.secret, expires_at = u.expires_at,
                secret_set_at = u.secret_set_at, previous_secret_sha256 = u.previous,
                previous_until = u.previous_until, require_dpop = u.require_dpop,
                jwks = u.jwks, jwks_uri = u.jwks_uri, keys_failing_since = u.keys_failing_since,
                alg = u.alg
             FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::bytea[], $6::int8[],
                         $7::int8[], $8::bytea[], $9::int8[], $10::int8[], $11::text[], $12::text[],
                         $13::int8[], $14::text[])
                  AS u(id, revoked_at, use_count, last_used_at, secret, expires_at, secret_set_at,
                       previous, previous_until, require_dpop, jwks, jwks_uri, keys_failing_since,
                       alg)
             WHERE p.id = u.id",
    kinds: &[
        Kind::Text,
        Kind::Int,
        Kind::Int,
        Kind::Int,
        Kind::Blob,
        Kind::Int,
        Kind::Int,
        Kind::Blob,
        Kind::Int,
        Kind::Int,
        Kind::Text,
        Kind::Text,
        Kind::Int,
        Kind::Text,
    ],
};

fn pk_from(c: &Cols<'_>) -> Result<ProvisioningRecord> {
    let audiences = c.text(4)?;
    Ok(ProvisioningRecord {
        id: c.text(0)?,
        name: c.text(1)?,
        secret_sha256: c
            .hash32(2)?
            .ok_or_else(|| Error::storage("a provisioning key in the store has no secret hash"))?,
        scopes: words(&c.text(3)?),
        audiences: serde_json::from_str(&audiences)
            .map_err(|_| Error::storage("audiences in the store are not a JSON array"))?,
        sub: c.text(5)?,
        created_at: c.u64(6)?,
        expires_at: c.u64(7)?,
        max_token_ttl: c.u64(8)?,
        revoked_at: c.opt_u64(9)?,
        use_count: c.u64(10)?,
        last_used_at: c.opt_u64(11)?,
        // A permission this build does not know (another version's) grants
        // nothing here.
        permissions: words(&c.text(12)?)
            .iter()
            .filter_map(|w| Permission::parse(w))
            .collect(),
        secret_set_at: c.opt_u64(13)?,
        previous: match (c.hash32(14)?, c.opt_u64(15)?) {
            (Some(secret_sha256), Some(until)) => Some(PreviousSecret {
                secret_sha256,
                until,
            }),
            _ => None,
        },
        require_dpop: c.u64(16)? != 0,
        keys: match (c.opt_text(17)?, c.opt_text(18)?) {
            (Some(jwks), _) => Some(ClientKeys::Jwks(jwks)),
            (None, Some(uri)) => Some(ClientKeys::JwksUri(uri)),
            (None, None) => None,
        },
        keys_failing_since: c.opt_u64(19)?,
        alg: match c.opt_text(20)? {
            None => None,
            Some(name) => Some(Algorithm::from_name(&name).ok_or_else(|| {
                Error::storage(format!("a client's algorithm {name:?} is unknown"))
            })?),
        },
    })
}

/// Every provisioning-key row as records.
pub(crate) fn provisioning_keys_from(r: &[Vec<Cell>]) -> Result<Vec<ProvisioningRecord>> {
    rows(r, pk_from)
}

/// The provisioning-key row, if any.
pub(crate) fn provisioning_key_from(r: &[Vec<Cell>]) -> Result<Option<ProvisioningRecord>> {
    first(r, pk_from)
}

/// [`INSERT_PROVISIONING_KEY`]'s parameters.
pub(crate) fn provisioning_key_params(k: &ProvisioningRecord) -> Result<Vec<Cell>> {
    let audiences = serde_json::to_string(&k.audiences)
        .map_err(|e| Error::storage(format!("cannot encode audiences: {e}")))?;
    Ok(std::vec![
        text(&k.id),
        text(&k.name),
        blob(&k.secret_sha256),
        Cell::Text(k.scopes.join(" ")),
        Cell::Text(audiences),
        text(&k.sub),
        int(k.created_at)?,
        int(k.expires_at)?,
        int(k.max_token_ttl)?,
        opt_int(k.revoked_at)?,
        int(k.use_count)?,
        opt_int(k.last_used_at)?,
        Cell::Text(
            k.permissions
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        opt_int(k.secret_set_at)?,
        opt_blob(k.previous.as_ref().map(|p| p.secret_sha256.as_slice())),
        opt_int(k.previous.map(|p| p.until))?,
        int(u64::from(k.require_dpop))?,
        opt_text(k.keys.as_ref().and_then(ClientKeys::jwks)),
        opt_text(k.keys.as_ref().and_then(ClientKeys::jwks_uri)),
        opt_int(k.keys_failing_since)?,
        opt_text(k.alg.map(Algorithm::name)),
    ])
}

/// [`UPDATE_PROVISIONING_KEYS`]' parameters.
pub(crate) fn provisioning_key_update_params(k: &ProvisioningRecord) -> Result<Vec<Cell>> {
    Ok(std::vec![
        text(&k.id),
        opt_int(k.revoked_at)?,
        int(k.use_count)?,
        opt_int(k.last_used_at)?,
        blob(&k.secret_sha256),
        int(k.expires_at)?,
        opt_int(k.secret_set_at)?,
        opt_blob(k.previous.as_ref().map(|p| p.secret_sha256.as_slice())),
        opt_int(k.previous.map(|p| p.until))?,
        int(u64::from(k.require_dpop))?,
        opt_text(k.keys.as_ref().and_then(ClientKeys::jwks)),
        opt_text(k.keys.as_ref().and_then(ClientKeys::jwks_uri)),
        opt_int(k.keys_failing_since)?,
        opt_text(k.alg.map(Algorithm::name)),
    ])
}

// ---- DPoP proofs ----

/// Records a proof's id until `?2` unless it is held and its window has not
/// ended at `?3`: a row comes back when the proof is new.
pub(crate) const INSERT_DPOP_PROOF: Sql = Sql::both(
    "INSERT INTO dpop_proofs (id, expires_at) VALUES (?1, ?2)
     ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
     WHERE dpop_proofs.expires_at <= ?3
     RETURNING id",
);
/// Forgets the proofs whose window ended before `?1`.
pub(crate) const PRUNE_DPOP_PROOFS: Sql =
    Sql::both("DELETE FROM dpop_proofs WHERE expires_at < ?1");

// ---- tokens ----

pub(crate) static INSERT_TOKENS: Many = Many {
    one:
        "INSERT INTO tokens (jti, sub, provisioning_key_id, kid, iat, exp, status_list, status_idx)
          VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    unnest:
        "INSERT INTO tokens (jti, sub, provisioning_key_id, kid, iat, exp, status_list, status_idx)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[],
                                  $6::int8[], $7::int8[], $8::int8[])",
    kinds: &[
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Int,
        Kind::Int,
        Kind::Int,
        Kind::Int,
    ],
};
pub(crate) const TOKEN: Sql = Sql::both(
    "SELECT jti, sub, provisioning_key_id, kid, iat, exp, status_list, status_idx
     FROM tokens WHERE jti = ?1",
);
pub(crate) const PRUNE_TOKENS: Sql = Sql::both(
    "DELETE FROM tokens WHERE jti IN (
        SELECT t.jti FROM tokens t
        WHERE t.exp < ?1
          AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.kind = 'jti' AND r.value = t.jti)
        LIMIT ?2)",
);

/// [`INSERT_TOKENS`]' parameters.
pub(crate) fn token_params(t: &TokenRecord) -> Result<Vec<Cell>> {
    Ok(std::vec![
        text(&t.jti),
        text(&t.sub),
        text(&t.provisioning_key_id),
        text(&t.kid),
        int(t.iat)?,
        int(t.exp)?,
        opt_int(t.status.map(|s| s.list))?,
        opt_int(t.status.map(|s| s.idx))?,
    ])
}

/// The token row, if any.
pub(crate) fn token_from(r: &[Vec<Cell>]) -> Result<Option<TokenRecord>> {
    first(r, |c| {
        Ok(TokenRecord {
            jti: c.text(0)?,
            sub: c.text(1)?,
            provisioning_key_id: c.text(2)?,
            kid: c.text(3)?,
            iat: c.u64(4)?,
            exp: c.u64(5)?,
            status: match (c.opt_u64(6)?, c.opt_u64(7)?) {
                (Some(list), Some(idx)) => Some(StatusSlot { list, idx }),
                _ => None,
            },
        })
    })
}

// ---- revocations ----

pub(crate) const REVOCATIONS: Sql =
    Sql::both("SELECT kind, value, at, expires_at, created_at FROM revocations ORDER BY id");
pub(crate) const INSERT_REVOCATION: Sql = Sql::both(
    "INSERT INTO revocations (kind, value, at, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
);
pub(crate) const PRUNE_REVOCATIONS: Sql =
    Sql::both("DELETE FROM revocations WHERE expires_at <= ?1");

/// Every revocation row as entries.
pub(crate) fn revocations_from(r: &[Vec<Cell>]) -> Result<Vec<RevocationEntry>> {
    rows(r, |c| {
        let kind = c.text(0)?;
        Ok(RevocationEntry {
            kind: RevocationKind::parse(&kind)
                .ok_or_else(|| Error::storage(format!("unknown revocation kind {kind:?}")))?,
            value: c.text(1)?,
            at: c.u64(2)?,
            expires_at: c.u64(3)?,
            created_at: c.u64(4)?,
        })
    })
}

/// [`INSERT_REVOCATION`]'s parameters.
pub(crate) fn revocation_params(e: &RevocationEntry) -> Result<Vec<Cell>> {
    Ok(std::vec![
        text(e.kind.as_str()),
        text(&e.value),
        int(e.at)?,
        int(e.expires_at)?,
        int(e.created_at)?,
    ])
}

// ---- audit ----

pub(crate) static INSERT_AUDIT: Many = Many {
    one:
        "INSERT INTO audit (at, action, actor, kid, jti, sub, provisioning_key_id, outcome, detail)
          VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    // Ids in the order the rows were written (WITH ORDINALITY).
    unnest:
        "INSERT INTO audit (at, action, actor, kid, jti, sub, provisioning_key_id, outcome, detail)
             SELECT at, action, actor, kid, jti, sub, pk, outcome, detail
             FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[]) WITH ORDINALITY
                  AS u(at, action, actor, kid, jti, sub, pk, outcome, detail, ord)
             ORDER BY ord",
    kinds: &[
        Kind::Int,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Text,
    ],
};
pub(crate) const AUDIT_AFTER: Sql = Sql::both(
    "SELECT id, at, action, actor, kid, jti, sub, provisioning_key_id, outcome, detail
     FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2",
);
pub(crate) const AUDIT_SINCE: Sql = Sql::both(
    "SELECT id, at, action, actor, kid, jti, sub, provisioning_key_id, outcome, detail
     FROM audit WHERE at >= ?1 ORDER BY id",
);
pub(crate) const PRUNE_AUDIT: Sql = Sql::both(
    "DELETE FROM audit WHERE id IN (
        SELECT id FROM audit WHERE id <= ?2 AND at < ?1 ORDER BY id LIMIT ?3)",
);
pub(crate) const MAX_AUDIT_ID: Sql = Sql::both("SELECT coalesce(max(id), 0) FROM audit");
pub(crate) const AUDIT_COUNTS: Sql =
    Sql::both("SELECT action, count(*) FROM audit WHERE at >= ?1 GROUP BY action ORDER BY action");

/// [`INSERT_AUDIT`]'s parameters.
pub(crate) fn audit_params(a: &AuditRecord) -> Result<Vec<Cell>> {
    Ok(std::vec![
        int(a.at)?,
        text(a.action.as_str()),
        text(&a.actor),
        opt_text(a.kid.as_deref()),
        opt_text(a.jti.as_deref()),
        opt_text(a.sub.as_deref()),
        opt_text(a.provisioning_key_id.as_deref()),
        text(a.outcome.as_str()),
        opt_text(a.detail.as_deref()),
    ])
}

/// Audit rows as records.
pub(crate) fn audit_from(r: &[Vec<Cell>]) -> Result<Vec<AuditRecord>> {
    rows(r, |c| {
        Ok(AuditRecord {
            id: c.u64(0)?,
            at: c.u64(1)?,
            action: AuditAction::parse(&c.text(2)?),
            actor: c.text(3)?,
            kid: c.opt_text(4)?,
            jti: c.opt_text(5)?,
            sub: c.opt_text(6)?,
            provisioning_key_id: c.opt_text(7)?,
            outcome: Outcome::parse(&c.text(8)?),
            detail: c.opt_text(9)?,
        })
    })
}

/// Rows per action.
pub(crate) fn counts_from(r: &[Vec<Cell>]) -> Result<Vec<(String, u64)>> {
    rows(r, |c| Ok((c.text(0)?, c.u64(1)?)))
}

/// Integer parameters.
pub(crate) fn ints<const N: usize>(v: [u64; N]) -> Result<Vec<Cell>> {
    v.into_iter().map(int).collect()
}

// ---- status lists ----

pub(crate) const NEWEST_STATUS_LIST: Sql = Sql::both(
    "SELECT list, capacity, next_idx, created_at FROM status_lists ORDER BY list DESC LIMIT 1",
);
pub(crate) const INSERT_STATUS_LIST: Sql = Sql::both(
    "INSERT INTO status_lists (list, capacity, next_idx, created_at) VALUES (?1, ?2, ?3, ?4)",
);
pub(crate) const ADVANCE_STATUS_LIST: Sql =
    Sql::both("UPDATE status_lists SET next_idx = ?2 WHERE list = ?1");
pub(crate) const SET_STATUS: Sql =
    Sql::both("UPDATE tokens SET status = ?3 WHERE status_list = ?1 AND status_idx = ?2");
pub(crate) const BUMP_STATUS_LIST: Sql =
    Sql::both("UPDATE status_lists SET version = version + 1 WHERE list = ?1");
pub(crate) const STATUS_LISTS: Sql =
    Sql::both("SELECT list, capacity, next_idx, version FROM status_lists ORDER BY list");
pub(crate) const STATUSES: Sql =
    Sql::both("SELECT status_idx, status FROM tokens WHERE status_list = ?1 AND status != 0");

/// The newest list's (list, capacity, next index, created at), if any.
pub(crate) fn newest_list_from(r: &[Vec<Cell>]) -> Result<Option<[u64; 4]>> {
    first(r, |c| Ok([c.u64(0)?, c.u64(1)?, c.u64(2)?, c.u64(3)?]))
}

/// Status-list rows as records.
pub(crate) fn status_lists_from(r: &[Vec<Cell>]) -> Result<Vec<StatusListRecord>> {
    rows(r, |c| {
        Ok(StatusListRecord {
            list: c.u64(0)?,
            capacity: c.u64(1)?,
            next_idx: c.u64(2)?,
            version: c.u64(3)?,
        })
    })
}

/// The non-zero statuses: (index, status); a status beyond a byte reads as
/// 1 (invalid), the safe side.
pub(crate) fn statuses_from(r: &[Vec<Cell>]) -> Result<Vec<(u64, u8)>> {
    rows(r, |c| Ok((c.u64(0)?, u8::try_from(c.u64(1)?).unwrap_or(1))))
}

/// Row counts of [`schema::COUNTED`], in that order, in one statement.
pub(crate) const ROW_COUNTS: Sql = Sql::both(
    "SELECT (SELECT count(*) FROM signing_keys), (SELECT count(*) FROM provisioning_keys),
            (SELECT count(*) FROM tokens), (SELECT count(*) FROM revocations),
            (SELECT count(*) FROM audit), (SELECT count(*) FROM status_lists)",
);

/// [`ROW_COUNTS`]' answer, named.
pub(crate) fn row_counts_from(r: &[Vec<Cell>]) -> Result<Vec<(&'static str, u64)>> {
    let counts = first(r, |c| {
        (0..schema::COUNTED.len())
            .map(|i| c.u64(i))
            .collect::<Result<Vec<u64>>>()
    })?
    .ok_or_else(|| Error::storage("no row counts"))?;
    Ok(schema::COUNTED.into_iter().zip(counts).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_postgres_ones() {
        assert_eq!(
            postgres_text("UPDATE t SET a = ?2, b = '?' WHERE id = ?10"),
            "UPDATE t SET a = $2, b = '?' WHERE id = $10"
        );
    }

    #[test]
    fn row_counts_name_the_counted_tables_in_order() {
        let mut at = 0;
        for table in schema::COUNTED {
            let needle = format!("count(*) FROM {table})");
            let found = ROW_COUNTS.sqlite[at..].find(&needle);
            assert!(found.is_some(), "{table} out of order in ROW_COUNTS");
            at += found.unwrap_or(0) + needle.len();
        }
    }

    #[test]
    fn many_statements_have_one_kind_per_placeholder() {
        for m in [&INSERT_TOKENS, &INSERT_AUDIT, &UPDATE_PROVISIONING_KEYS] {
            let n = m.kinds.len();
            assert!(m.one.contains(&format!("?{n}")) && !m.one.contains(&format!("?{}", n + 1)));
            assert!(m.unnest.contains(&format!("${n}")));
            assert!(!m.unnest.contains(&format!("${}", n + 1)));
        }
    }
}
