//! A bounded LRU cache of verified tokens, keyed by the exact token string
//! (never by claims or a caller-chosen key: fast-jwt GHSA-rp9m-7r4c-75qg).
//!
//! Only successes are cached. A hit repeats the time-dependent checks (`exp`,
//! `nbf`, `iat`, maximum age) against `now` with the caller's policy; an entry
//! is dropped when the revocation data changes (any epoch change) or when the
//! key that verified it leaves the key set. Everything else a hit would
//! re-check (signature, key selection, other claims) depends only on the token
//! string, the key material and the policy, which the caller must not change
//! without calling [`TokenCache::clear`].

use alloc::string::String;
use alloc::vec::Vec;

use crate::claims::check_times;
use crate::error::Result;
use crate::jwks::KeySet;
use crate::policy::Policy;
use crate::verify::Verified;

/// Default number of entries.
pub const DEFAULT_CAPACITY: usize = 1000;
/// Default bound on the bytes held (tokens plus decoded JSON).
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024 * 1024;

struct Entry {
    token: String,
    /// [`token_hash`] of `token`.
    hash: u64,
    /// Which trusted issuer of a [`crate::Validator`] verified it (0 otherwise).
    owner: usize,
    verified: Verified,
    serial: u64,
    tick: u64,
    revocation_version: u64,
    bytes: usize,
}

/// A 64-bit hash of a token for the index (not a security boundary: see
/// [`TokenCache`]): eight bytes at a time, multiply and rotate, then a final
/// mix; the length is mixed in first.
fn token_hash(token: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes = token.as_bytes();
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let mut w = [0u8; 8];
    for (d, b) in w.iter_mut().zip(chunks.remainder()) {
        *d = *b;
    }
    h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^ (h >> 32)
}

/// An open-addressing hash table of slot numbers by token hash: linear
/// probing in a power-of-two array at most half full, removal by backward
/// shift (no tombstones), so every operation is O(1) expected.
#[derive(Default)]
struct Table {
    /// `(hash, slot + 1)`; `(_, 0)` is an empty cell.
    cells: Vec<(u64, usize)>,
    len: usize,
}

impl Table {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn mask(&self) -> usize {
        self.cells.len().wrapping_sub(1)
    }

    /// The position of the cell with `hash` whose slot `is` accepts.
    fn find(&self, hash: u64, is: impl Fn(usize) -> bool) -> Option<usize> {
        let mask = self.mask();
        let mut pos = hash as usize & mask;
        // At most every cell once (the table is never full).
        for _ in 0..self.cells.len() {
            let &(h, s) = self.cells.get(pos)?;
            if s == 0 {
                return None;
            }
            if h == hash && is(s - 1) {
                return Some(pos);
            }
            pos = (pos + 1) & mask;
        }
        None
    }

    fn slot_at(&self, pos: usize) -> Option<usize> {
        match self.cells.get(pos) {
            Some(&(_, s)) if s != 0 => Some(s - 1),
            _ => None,
        }
    }

    /// Some occupied position.
    fn any(&self) -> Option<usize> {
        self.cells.iter().position(|&(_, s)| s != 0)
    }

    fn insert(&mut self, hash: u64, slot: usize) {
        if (self.len + 1) * 2 > self.cells.len() {
            let old = core::mem::take(&mut self.cells);
            self.cells = alloc::vec![(0, 0); (old.len() * 2).max(16)];
            self.len = 0;
            for (h, s) in old {
                if s != 0 {
                    self.put(h, s);
                }
            }
        }
        self.put(hash, slot + 1);
    }

    fn put(&mut self, hash: u64, cell: usize) {
        let mask = self.mask();
        let mut pos = hash as usize & mask;
        while let Some(c) = self.cells.get_mut(pos) {
            if c.1 == 0 {
                *c = (hash, cell);
                self.len += 1;
                return;
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Empties cell `pos` and moves later cells of its probe run back
    /// (Knuth's algorithm R), so lookups never need tombstones.
    fn remove(&mut self, pos: usize) -> Option<usize> {
        let slot = self.slot_at(pos)?;
        let mask = self.mask();
        let mut hole = pos;
        let mut next = pos;
        loop {
            next = (next + 1) & mask;
            let Some(&(h, s)) = self.cells.get(next) else {
                break;
            };
            if s == 0 {
                break;
            }
            let home = h as usize & mask;
            // The cell stays if its home is cyclically in (hole, next].
            let stays = if hole <= next {
                hole < home && home <= next
            } else {
                hole < home || home <= next
            };
            if !stays {
                if let Some(c) = self.cells.get_mut(hole) {
                    *c = (h, s);
                }
                hole = next;
            }
        }
        if let Some(c) = self.cells.get_mut(hole) {
            *c = (0, 0);
        }
        self.len -= 1;
        Some(slot)
    }

    fn clear(&mut self) {
        self.cells.clear();
        self.len = 0;
    }
}

/// The cache. `capacity` 0 disables it.
///
/// Entries live in `slots`; `index` is an open-addressing hash table of the
/// occupied slots by a 64-bit hash of their token (`Table`): a lookup, an
/// insert and a removal cost O(1), and tokens (JWTs of one issuer share long
/// prefixes) are compared only when hashes are equal. Only verified tokens
/// are inserted, so no one but the issuer chooses what collides; a collision
/// costs a probe and a token comparison, never a wrong answer. Recency is a tick per entry plus `recency`, a queue of
/// `(tick, slot)` records in tick order: an insert or a hit appends one, and a
/// record whose tick is no longer its slot's is stale. Eviction pops records
/// from the front until a live one, so it costs O(1) amortized instead of a
/// scan of every entry; the queue is compacted when stale records pile up.
/// Plain vectors keep the wasm build small (each `BTreeMap` instantiation
/// costs ~10 KB there).
pub struct TokenCache {
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    tick: u64,
    index: Table,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    recency: Vec<(u64, usize)>,
    /// Records before `head` in `recency` have been consumed.
    head: usize,
    hits: u64,
    misses: u64,
}

impl core::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenCache")
            .field("len", &self.index.len())
            .field("capacity", &self.capacity)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

/// What a lookup found.
#[derive(Debug)]
#[non_exhaustive]
pub enum Lookup<'a> {
    /// Not cached (or dropped because revocations changed): verify in full.
    Miss,
    /// Cached and still valid at `now`, with the entry's serial number (unique
    /// per insertion, so callers can keep derived data keyed by it).
    Hit(&'a Verified, u64),
    /// Cached, but a time check now fails (e.g. expired): the error to return.
    Rejected(crate::Error),
}

/// What [`TokenCache::insert`] did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Inserted<'a> {
    /// Stored: the cached result and its serial number.
    Cached(&'a Verified, u64),
    /// Not stored; the result is handed back.
    NotCached(Verified),
}

impl TokenCache {
    /// A cache of at most `capacity` entries and [`DEFAULT_MAX_BYTES`].
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            max_bytes: DEFAULT_MAX_BYTES,
            bytes: 0,
            tick: 0,
            index: Table::default(),
            slots: Vec::new(),
            free: Vec::new(),
            recency: Vec::new(),
            head: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// Most entries held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True if nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// (hits, misses) since creation.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    fn slot(&self, slot: usize) -> Option<&Entry> {
        self.slots.get(slot)?.as_ref()
    }

    /// The table position of `token`'s entry.
    fn find(&self, token: &str) -> Option<usize> {
        if self.index.is_empty() {
            return None;
        }
        self.find_hashed(token_hash(token), token)
    }

    fn find_hashed(&self, hash: u64, token: &str) -> Option<usize> {
        self.index.find(hash, |slot| {
            self.slot(slot).is_some_and(|e| e.token == token)
        })
    }

    fn entry(&self, pos: usize) -> Option<&Entry> {
        self.slot(self.index.slot_at(pos)?)
    }

    /// Removes the entry at index position `pos` (its recency records go stale).
    fn remove_at(&mut self, pos: usize) {
        let Some(slot) = self.index.remove(pos) else {
            return;
        };
        if let Some(e) = self.slots.get_mut(slot).and_then(Option::take) {
            self.bytes -= e.bytes;
            self.free.push(slot);
        }
    }

    /// Keeps the recency queue O(entries): drops stale records once they
    /// outnumber the live ones, and frees the consumed prefix once it is as long
    /// as the rest. Both cost O(queue) and happen after as many operations, so
    /// the work stays O(1) amortized.
    fn compact(&mut self) {
        let pending = self.recency.len() - self.head;
        if pending > 2 * self.index.len() + 64 {
            let slots = &self.slots;
            let live = |&(t, s): &(u64, usize)| {
                slots
                    .get(s)
                    .and_then(Option::as_ref)
                    .is_some_and(|e| e.tick == t)
            };
            let kept: Vec<(u64, usize)> = self
                .recency
                .get(self.head..)
                .unwrap_or_default()
                .iter()
                .copied()
                .filter(live)
                .collect();
            self.recency = kept;
            self.head = 0;
        } else if self.head > 64 && self.head >= pending {
            self.recency.drain(..self.head);
            self.head = 0;
        }
    }

    /// Evicts the least recently used entry.
    fn evict(&mut self) {
        while let Some(&(tick, slot)) = self.recency.get(self.head) {
            self.head += 1;
            let found = match self.slot(slot) {
                Some(e) if e.tick == tick => self.find_hashed(e.hash, &e.token),
                _ => continue, // stale record
            };
            if let Some(pos) = found {
                self.remove_at(pos);
            }
            return;
        }
        // No live record (cannot happen while entries exist): drop any entry
        // so the bound holds regardless.
        if let Some(pos) = self.index.any() {
            self.remove_at(pos);
        }
    }

    /// Counts a miss found without a lookup.
    pub(crate) fn note_miss(&mut self) {
        self.misses += 1;
    }

    /// The cached result for `token`, without any check (after a hit).
    pub(crate) fn peek(&self, token: &str) -> Option<&Verified> {
        let pos = self.find(token)?;
        self.entry(pos).map(|e| &e.verified)
    }

    /// The owner of `token`'s entry and the algorithm that verified it, if
    /// cached (no recency or statistics change).
    pub(crate) fn owner_of(&self, token: &str) -> Option<(usize, crate::Algorithm)> {
        let pos = self.find(token)?;
        self.entry(pos).map(|e| (e.owner, e.verified.alg))
    }

    /// Looks `token` up at `now` under `policy`.
    pub fn get(&mut self, token: &str, policy: &Policy, now: u64) -> Lookup<'_> {
        self.get_with(token, now, |_| {
            Some((policy, policy.revocations().version()))
        })
    }

    /// Looks `token` up at `now` under the policy of the entry's owner
    /// and revocation data version (`policy_of(owner)`; `None` drops the entry).
    pub(crate) fn get_with<'p>(
        &mut self,
        token: &str,
        now: u64,
        policy_of: impl Fn(usize) -> Option<(&'p Policy, u64)>,
    ) -> Lookup<'_> {
        let Some(pos) = self.find(token) else {
            self.misses += 1;
            return Lookup::Miss;
        };
        let (version, times, owner) = match self.entry(pos) {
            Some(e) => (e.revocation_version, e.verified.times, e.owner),
            None => return Lookup::Miss,
        };
        let policy = match policy_of(owner) {
            Some((p, current)) if current == version => p,
            _ => {
                self.remove_at(pos);
                self.misses += 1;
                return Lookup::Miss;
            }
        };
        if let Err(e) = check_times(times, policy, now) {
            self.remove_at(pos);
            return Lookup::Rejected(e);
        }
        self.tick += 1;
        self.hits += 1;
        let tick = self.tick;
        let slot = self.index.slot_at(pos).unwrap_or(usize::MAX);
        self.compact();
        self.recency.push((tick, slot));
        match self.slots.get_mut(slot).and_then(Option::as_mut) {
            Some(e) => {
                e.tick = tick;
                Lookup::Hit(&e.verified, e.serial)
            }
            None => Lookup::Miss,
        }
    }

    /// Caches a verification result for `token`: [`Inserted::Cached`] with the
    /// stored result and its serial, or [`Inserted::NotCached`] giving
    /// `verified` back (the cache is disabled, or this entry alone is over the
    /// byte bound).
    pub fn insert(&mut self, token: &str, verified: Verified, policy: &Policy) -> Inserted<'_> {
        self.insert_owned(token, verified, 0, policy.revocations().version())
    }

    /// [`TokenCache::insert`] for a result of trusted issuer `owner`.
    pub(crate) fn insert_owned(
        &mut self,
        token: &str,
        verified: Verified,
        owner: usize,
        revocation_version: u64,
    ) -> Inserted<'_> {
        if self.capacity == 0 {
            return Inserted::NotCached(verified);
        }
        let hash = token_hash(token);
        if let Some(pos) = self.find_hashed(hash, token) {
            self.remove_at(pos);
        }
        let bytes = 2 * token.len()
            + verified.header_json.len()
            + verified.claims_json.len()
            + verified.key_fingerprint.len();
        if bytes > self.max_bytes {
            return Inserted::NotCached(verified);
        }
        while !self.index.is_empty()
            && (self.index.len() >= self.capacity || self.bytes + bytes > self.max_bytes)
        {
            self.evict();
        }
        self.compact();
        self.tick += 1;
        let tick = self.tick;
        let slot = match self.free.pop() {
            Some(slot) if slot < self.slots.len() => slot,
            _ => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let Some(cell) = self.slots.get_mut(slot) else {
            return Inserted::NotCached(verified);
        };
        let entry = cell.insert(Entry {
            token: String::from(token),
            hash,
            owner,
            verified,
            serial: tick,
            tick,
            revocation_version,
            bytes,
        });
        self.index.insert(hash, slot);
        self.bytes += bytes;
        self.recency.push((tick, slot));
        Inserted::Cached(&entry.verified, entry.serial)
    }

    /// Drops the entries whose verifying key is no longer in `keys`.
    pub fn retain_keys(&mut self, keys: &KeySet) {
        self.retain_keys_of(0, keys, |_| true);
    }

    /// Drops the entries of `owner` whose verifying key is no longer in
    /// `keys`, and every entry whose owner fails `keep_owner`.
    pub(crate) fn retain_keys_of(
        &mut self,
        owner: usize,
        keys: &KeySet,
        keep_owner: impl Fn(usize) -> bool,
    ) {
        let gone: Vec<(u64, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, e)| {
                let e = e.as_ref()?;
                let keep = keep_owner(e.owner)
                    && (e.owner != owner
                        || keys
                            .keys()
                            .iter()
                            .any(|k| k.fingerprint() == e.verified.key_fingerprint));
                (!keep).then_some((e.hash, slot))
            })
            .collect();
        for (hash, slot) in gone {
            if let Some(pos) = self.index.find(hash, |s| s == slot) {
                self.remove_at(pos);
            }
        }
    }

    /// Drops everything (call after changing the policy or the keys wholesale).
    pub fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.free.clear();
        self.recency.clear();
        self.head = 0;
        self.bytes = 0;
    }
}

/// Verifies `token` through `cache`: a valid hit returns the cached result,
/// a miss runs [`crate::verify`] and caches a success.
///
/// # Errors
/// As [`crate::verify`].
pub fn verify_cached(
    cache: &mut TokenCache,
    token: &str,
    keys: &KeySet,
    policy: &Policy,
    now: u64,
) -> Result<Verified> {
    match cache.get(token, policy, now) {
        Lookup::Hit(v, _) => return Ok(v.clone()),
        Lookup::Rejected(e) => return Err(e),
        Lookup::Miss => {}
    }
    let verified = crate::verify(token, keys, policy, now)?;
    match cache.insert(token, verified, policy) {
        Inserted::Cached(cached, _) => Ok(cached.clone()),
        Inserted::NotCached(verified) => Ok(verified),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    /// The table against a plain list, with hashes that collide on purpose
    /// (few distinct homes, equal hashes, runs that wrap around the end):
    /// every insert and removal keeps every other entry findable.
    #[test]
    fn the_index_table_finds_what_it_holds_through_collisions_and_removals() {
        let mut t = Table::default();
        let mut held: Vec<(u64, usize)> = Vec::new();
        let mut x: u64 = 7;
        for step in 0..5000usize {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Hashes from a small set (homes collide), some exactly equal.
            let hash = (x >> 60) | ((x >> 62) << 40);
            if held.len() < 300 && (x >> 33) % 3 != 0 {
                t.insert(hash, step);
                held.push((hash, step));
            } else if !held.is_empty() {
                let (h, slot) = held.swap_remove((x >> 20) as usize % held.len());
                let pos = t.find(h, |s| s == slot).unwrap();
                assert_eq!(t.remove(pos), Some(slot));
                assert_eq!(t.find(h, |s| s == slot), None);
            }
            assert_eq!(t.len(), held.len());
            if step % 97 == 0 {
                for &(h, slot) in &held {
                    let pos = t.find(h, |s| s == slot).unwrap();
                    assert_eq!(t.slot_at(pos), Some(slot));
                }
            }
        }
    }

    fn verified() -> Verified {
        Verified {
            header: serde_json::Map::new(),
            claims: serde_json::Map::new(),
            alg: crate::Algorithm::ES256,
            kid: None,
            header_json: String::from("{}"),
            claims_json: String::from("{}"),
            key_fingerprint: String::from("k"),
            times: crate::claims::TimeClaims {
                exp: None,
                nbf: None,
                iat: None,
            },
        }
    }

    #[test]
    fn the_recency_queue_stays_proportional_to_the_entries() {
        let policy = Policy::new().require_exp(false);
        let mut cache = TokenCache::new(10);
        for i in 0..10_000 {
            let token = format!("token-{i}");
            assert!(matches!(
                cache.insert(&token, verified(), &policy),
                Inserted::Cached(..)
            ));
            // Every third token is hit a few times.
            if i % 3 == 0 {
                for _ in 0..5 {
                    assert!(matches!(cache.get(&token, &policy, 0), Lookup::Hit(..)));
                }
            }
            assert!(cache.len() <= 10);
            assert!(
                cache.recency.len() <= 2 * (2 * 10 + 64) + 2,
                "{} records after {i} inserts",
                cache.recency.len()
            );
        }
        // The 10 most recent tokens are the ones held.
        for i in 9_990..10_000 {
            assert!(matches!(
                cache.get(&format!("token-{i}"), &policy, 0),
                Lookup::Hit(..)
            ));
        }
    }
}
