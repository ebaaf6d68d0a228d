//! [`Tx`]: the operations of one store transaction, written once for both
//! stores over the `Db` seam (sql.rs).
//!
//! Under the writer lock nobody else changes the store, so what a
//! transaction read (settings, keys, provisioning keys, the newest status
//! list) is kept and updated with its own writes instead of being read
//! again, and the issuance path's writes (token rows, audit rows,
//! provisioning-key counters, status-list cursors) are buffered and sent
//! before the next read and before COMMIT: one statement per row on SQLite,
//! one statement per table on PostgreSQL (`sql::Many`).

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use super::super::{Error, Result};
use super::records::{
    AuditRecord, KeyRecord, ProvisioningRecord, RevocationEntry, StatusListRecord, StatusSlot,
    TokenRecord,
};
use super::sql::{self, Cell, Db, Sql};

/// A status list's allocation state within a transaction.
#[derive(Debug, Clone, Copy)]
struct ListCursor {
    list: u64,
    capacity: u64,
    next: u64,
    created_at: u64,
    /// Created in this transaction (INSERT at flush).
    new: bool,
    /// `next` moved since the last flush.
    dirty: bool,
}

/// Buffered writes, as parameter rows.
#[derive(Default)]
struct Pending {
    tokens: Vec<Vec<Cell>>,
    audit: Vec<Vec<Cell>>,
    /// Latest values per provisioning key (only the last update matters).
    pks: BTreeMap<String, Vec<Cell>>,
}

/// One store transaction: every read and write a command makes, committed
/// together by [`super::Store::transaction`] (or rolled back on error).
pub struct Tx<'a> {
    db: &'a mut dyn Db,
    /// Something replicas publish changed (PostgreSQL bumps its change
    /// counter at commit).
    changed: bool,
    settings: Option<BTreeMap<String, String>>,
    keys: Option<Vec<KeyRecord>>,
    pks: BTreeMap<String, ProvisioningRecord>,
    pending: Pending,
    /// Status lists this transaction allocates from (the last is the newest);
    /// `None` until the newest list was read.
    lists: Option<Vec<ListCursor>>,
}

impl core::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tx")
            .field("changed", &self.changed)
            .finish_non_exhaustive()
    }
}

impl<'a> Tx<'a> {
    /// Runs `f` in a transaction over `db` (already begun) and sends its
    /// buffered writes; returns `f`'s value and whether it changed what
    /// replicas publish. The caller commits, or rolls back on error.
    pub(crate) fn run<T>(
        db: &'a mut dyn Db,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<(T, bool)> {
        let mut tx = Tx {
            db,
            changed: false,
            settings: None,
            keys: None,
            pks: BTreeMap::new(),
            pending: Pending::default(),
            lists: None,
        };
        let v = f(&mut tx)?;
        tx.flush()?;
        Ok((v, tx.changed))
    }

    /// A read, after the buffered writes.
    fn query(&mut self, sql: Sql, params: Vec<Cell>) -> Result<Vec<Vec<Cell>>> {
        self.flush()?;
        self.db.query(sql, params)
    }

    /// A write, after the buffered writes. (The caller says whether it
    /// changes what replicas publish: `changed`.)
    fn execute(&mut self, sql: Sql, params: Vec<Cell>) -> Result<u64> {
        self.flush()?;
        self.db.execute(sql, params)
    }

    /// Sends the buffered writes.
    fn flush(&mut self) -> Result<()> {
        let mut lists = Vec::new();
        if let Some(ls) = self.lists.as_mut() {
            lists.extend(ls.iter().filter(|c| c.new || c.dirty).copied());
            if let Some(last) = ls.last().copied() {
                *ls = std::vec![ListCursor {
                    new: false,
                    dirty: false,
                    ..last
                }];
            }
        }
        for c in lists {
            if c.new {
                let p = sql::ints([c.list, c.capacity, c.next, c.created_at])?;
                self.db.execute(sql::INSERT_STATUS_LIST, p)?;
            } else {
                let p = sql::ints([c.list, c.next])?;
                self.db.execute(sql::ADVANCE_STATUS_LIST, p)?;
            }
        }
        let p = core::mem::take(&mut self.pending);
        if !p.tokens.is_empty() {
            self.db.execute_many(&sql::INSERT_TOKENS, p.tokens)?;
        }
        if !p.pks.is_empty() {
            let rows = p.pks.into_values().collect();
            self.db.execute_many(&sql::UPDATE_PROVISIONING_KEYS, rows)?;
        }
        if !p.audit.is_empty() {
            self.db.execute_many(&sql::INSERT_AUDIT, p.audit)?;
        }
        Ok(())
    }

    // ---- settings ----

    /// All settings rows.
    ///
    /// # Errors
    /// Storage errors.
    pub fn settings(&mut self) -> Result<BTreeMap<String, String>> {
        if let Some(s) = &self.settings {
            return Ok(s.clone());
        }
        let map = sql::settings_from(&self.query(sql::SETTINGS, Vec::new())?)?;
        self.settings = Some(map.clone());
        Ok(map)
    }

    /// Inserts or replaces one setting.
    ///
    /// # Errors
    /// Storage errors.
    pub fn put_setting(&mut self, name: &str, value: &str) -> Result<()> {
        self.execute(sql::PUT_SETTING, sql::setting_params(name, value))?;
        if let Some(map) = self.settings.as_mut() {
            map.insert(String::from(name), String::from(value));
        }
        self.changed = true;
        Ok(())
    }

    // ---- signing keys ----

    /// Every signing key, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    pub fn keys(&mut self) -> Result<Vec<KeyRecord>> {
        if let Some(k) = &self.keys {
            return Ok(k.clone());
        }
        let keys = sql::keys_from(&self.query(sql::KEYS, Vec::new())?)?;
        self.keys = Some(keys.clone());
        Ok(keys)
    }

    /// Inserts a key.
    ///
    /// # Errors
    /// Storage errors (e.g. duplicate kid).
    pub fn insert_key(&mut self, k: &KeyRecord) -> Result<()> {
        self.execute(sql::INSERT_KEY, sql::key_params(k)?)?;
        if let Some(keys) = self.keys.as_mut() {
            keys.push(k.clone());
        }
        self.changed = true;
        Ok(())
    }

    /// Updates a key's state, timestamps and private material.
    ///
    /// # Errors
    /// Storage errors; the key is not in the store.
    pub fn update_key(&mut self, k: &KeyRecord) -> Result<()> {
        let n = self.execute(sql::UPDATE_KEY, sql::key_update_params(k)?)?;
        if n != 1 {
            return Err(Error::storage(std::format!(
                "signing key {} vanished",
                k.kid
            )));
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

    // ---- provisioning keys ----

    /// Every provisioning key, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    pub fn provisioning_keys(&mut self) -> Result<Vec<ProvisioningRecord>> {
        sql::provisioning_keys_from(&self.query(sql::PROVISIONING_KEYS, Vec::new())?)
    }

    /// One provisioning key.
    ///
    /// # Errors
    /// Storage errors.
    pub fn provisioning_key(&mut self, id: &str) -> Result<Option<ProvisioningRecord>> {
        if let Some(k) = self.pks.get(id) {
            return Ok(Some(k.clone()));
        }
        let rows = self.query(sql::PROVISIONING_KEY, std::vec![Cell::Text(id.into())])?;
        let found = sql::provisioning_key_from(&rows)?;
        if let Some(k) = &found {
            self.pks.insert(k.id.clone(), k.clone());
        }
        Ok(found)
    }

    /// Inserts a provisioning key.
    ///
    /// # Errors
    /// Storage errors.
    pub fn insert_provisioning_key(&mut self, k: &ProvisioningRecord) -> Result<()> {
        self.execute(
            sql::INSERT_PROVISIONING_KEY,
            sql::provisioning_key_params(k)?,
        )?;
        self.pks.insert(k.id.clone(), k.clone());
        Ok(())
    }

    /// Updates revocation, secrets and usage counters (buffered).
    ///
    /// # Errors
    /// Storage errors.
    pub fn update_provisioning_key(&mut self, k: &ProvisioningRecord) -> Result<()> {
        let p = sql::provisioning_key_update_params(k)?;
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
            slot.require_dpop = k.require_dpop;
            slot.keys.clone_from(&k.keys);
            slot.keys_failing_since = k.keys_failing_since;
            slot.alg = k.alg;
        }
        Ok(())
    }

    // ---- DPoP proofs ----

    /// Records a DPoP proof (`id`: its key thumbprint and jti, hashed) until
    /// `expires_at`: `false` when it was seen before and its window has not
    /// ended (a replay). Sent at once: the answer decides the request.
    ///
    /// # Errors
    /// Storage errors.
    pub fn record_dpop_proof(&mut self, id: &str, expires_at: u64, now: u64) -> Result<bool> {
        let rows = self.query(sql::INSERT_DPOP_PROOF, {
            let mut p = std::vec![Cell::Text(id.into())];
            p.extend(sql::ints([expires_at, now])?);
            p
        })?;
        Ok(!rows.is_empty())
    }

    /// Records a client assertion (RFC 7523 §3 item 7: its `jti` is
    /// single-use) of `client_id` until `expires_at`: `false` when it was
    /// seen before within that time (a replay). Kept in the same table as
    /// DPoP proofs (one-time ids with an end, pruned together), under an id
    /// of its own kind.
    ///
    /// # Errors
    /// Storage errors.
    pub fn record_client_assertion(
        &mut self,
        client_id: &str,
        jti: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<bool> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"client-assertion\0");
        h.update(client_id.as_bytes());
        h.update([0]);
        h.update(jti.as_bytes());
        let id = std::format!("ca:{}", crate::b64url_encode(&h.finalize()));
        self.record_dpop_proof(&id, expires_at, now)
    }

    /// Forgets the DPoP proofs (and client assertions) whose window ended
    /// before `now`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn prune_dpop_proofs(&mut self, now: u64) -> Result<u64> {
        self.execute(sql::PRUNE_DPOP_PROOFS, sql::ints([now])?)
    }

    // ---- tokens ----

    /// Records an issued token (buffered).
    ///
    /// # Errors
    /// Storage errors.
    pub fn insert_token(&mut self, t: &TokenRecord) -> Result<()> {
        self.pending.tokens.push(sql::token_params(t)?);
        Ok(())
    }

    /// One issued token.
    ///
    /// # Errors
    /// Storage errors.
    pub fn token(&mut self, jti: &str) -> Result<Option<TokenRecord>> {
        sql::token_from(&self.query(sql::TOKEN, std::vec![Cell::Text(jti.into())])?)
    }

    /// Deletes up to `limit` token rows that expired before `before` and
    /// that no revocation entry names (by `jti`).
    ///
    /// # Errors
    /// Storage errors.
    pub fn prune_tokens(&mut self, before: u64, limit: u64) -> Result<u64> {
        self.execute(sql::PRUNE_TOKENS, sql::ints([before, limit])?)
    }

    // ---- revocations ----

    /// Every revocation entry.
    ///
    /// # Errors
    /// Storage errors.
    pub fn revocations(&mut self) -> Result<Vec<RevocationEntry>> {
        sql::revocations_from(&self.query(sql::REVOCATIONS, Vec::new())?)
    }

    /// Adds a revocation entry.
    ///
    /// # Errors
    /// Storage errors.
    pub fn insert_revocation(&mut self, e: &RevocationEntry) -> Result<()> {
        self.execute(sql::INSERT_REVOCATION, sql::revocation_params(e)?)?;
        self.changed = true;
        Ok(())
    }

    /// Deletes entries with `expires_at <= now`; returns how many.
    ///
    /// # Errors
    /// Storage errors.
    pub fn prune_revocations(&mut self, now: u64) -> Result<u64> {
        let n = self.execute(sql::PRUNE_REVOCATIONS, sql::ints([now])?)?;
        if n > 0 {
            self.changed = true;
        }
        Ok(n)
    }

    // ---- audit ----

    /// Appends an audit row (buffered: ids are assigned when the
    /// transaction's writes are sent, in the order the rows were written,
    /// so ids increase in commit order).
    ///
    /// # Errors
    /// Storage errors.
    pub fn insert_audit(&mut self, row: &AuditRecord) -> Result<()> {
        self.pending.audit.push(sql::audit_params(row)?);
        Ok(())
    }

    /// Audit rows with `id > after`, in id order, at most `limit`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit_after(&mut self, after: u64, limit: u64) -> Result<Vec<AuditRecord>> {
        sql::audit_from(&self.query(sql::AUDIT_AFTER, sql::ints([after, limit])?)?)
    }

    /// Audit rows with `at >= since`, in insertion order.
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit(&mut self, since: u64) -> Result<Vec<AuditRecord>> {
        sql::audit_from(&self.query(sql::AUDIT_SINCE, sql::ints([since])?)?)
    }

    /// Deletes up to `limit` audit rows with `at < before` and `id <= through`
    /// (the highest row a durable sink has acknowledged).
    ///
    /// # Errors
    /// Storage errors.
    pub fn prune_audit(&mut self, before: u64, through: u64, limit: u64) -> Result<u64> {
        self.execute(sql::PRUNE_AUDIT, sql::ints([before, through, limit])?)
    }

    /// The newest audit row's id (0 when there is none).
    ///
    /// # Errors
    /// Storage errors.
    pub fn max_audit_id(&mut self) -> Result<u64> {
        sql::single_u64(&self.query(sql::MAX_AUDIT_ID, Vec::new())?)
    }

    /// Rows per action (`token.issue`, ...) with `at >= since`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit_counts_since(&mut self, since: u64) -> Result<Vec<(String, u64)>> {
        sql::counts_from(&self.query(sql::AUDIT_COUNTS, sql::ints([since])?)?)
    }

    // ---- status lists ----

    /// Allocates the next index: in the newest list, or in a new list of
    /// `capacity` (at least 8) when the newest is full (or none exists).
    ///
    /// # Errors
    /// Storage errors.
    pub fn allocate_status(&mut self, capacity: u64, now: u64) -> Result<StatusSlot> {
        if self.lists.is_none() {
            let rows = self.query(sql::NEWEST_STATUS_LIST, Vec::new())?;
            let newest = sql::newest_list_from(&rows)?.map(|[list, capacity, next, created_at]| {
                ListCursor {
                    list,
                    capacity,
                    next,
                    created_at,
                    new: false,
                    dirty: false,
                }
            });
            self.lists = Some(newest.into_iter().collect());
        }
        let lists = self
            .lists
            .as_mut()
            .ok_or_else(|| Error::storage("no status-list cursor"))?;
        if lists.last().is_none_or(|c| c.next >= c.capacity) {
            let list = lists.last().map_or(1, |c| c.list.saturating_add(1));
            lists.push(ListCursor {
                list,
                capacity: capacity.max(8),
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
            list: c.list,
            idx: c.next,
        };
        c.next = c.next.saturating_add(1);
        c.dirty = true;
        Ok(slot)
    }

    /// Sets a token's status (1 = invalid) and bumps its list's version.
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_status(&mut self, slot: StatusSlot, status: u8) -> Result<()> {
        let mut p = sql::ints([slot.list, slot.idx])?;
        p.push(Cell::Int(i64::from(status)));
        self.execute(sql::SET_STATUS, p)?;
        self.execute(sql::BUMP_STATUS_LIST, sql::ints([slot.list])?)?;
        self.changed = true;
        Ok(())
    }

    /// Every list.
    ///
    /// # Errors
    /// Storage errors.
    pub fn status_lists(&mut self) -> Result<Vec<StatusListRecord>> {
        sql::status_lists_from(&self.query(sql::STATUS_LISTS, Vec::new())?)
    }

    /// The non-zero statuses of `list`: (index, status).
    ///
    /// # Errors
    /// Storage errors.
    pub fn statuses(&mut self, list: u64) -> Result<Vec<(u64, u8)>> {
        sql::statuses_from(&self.query(sql::STATUSES, sql::ints([list])?)?)
    }

    // ---- the store as a whole ----

    /// Rows per table (for `jwt-edge status`).
    ///
    /// # Errors
    /// Storage errors.
    pub fn row_counts(&mut self) -> Result<Vec<(&'static str, u64)>> {
        sql::row_counts_from(&self.query(sql::ROW_COUNTS, Vec::new())?)
    }

    /// The store's size in bytes: (in use, free for reuse).
    ///
    /// # Errors
    /// Storage errors.
    pub fn size_bytes(&mut self) -> Result<(u64, u64)> {
        self.flush()?;
        self.db.size_bytes()
    }

    /// [`super::Store::external_changes`] as seen inside this transaction
    /// (under the writer lock, so nothing changes it until commit).
    ///
    /// # Errors
    /// Storage errors.
    pub fn change_counter(&mut self) -> Result<u64> {
        self.flush()?;
        self.db.change_counter()
    }
}
