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
    verified: Verified,
    serial: u64,
    tick: u64,
    revocation_version: u64,
    bytes: usize,
}

/// The cache. `capacity` 0 disables it.
///
/// Entries live in `slots`; `index` maps each token to its slot, sorted by
/// token for binary search. Recency is a tick per entry; eviction scans for
/// the oldest (once per insert when full). Plain vectors keep the wasm build
/// small (each `BTreeMap` instantiation costs ~10 KB there).
pub struct TokenCache {
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    tick: u64,
    index: Vec<(String, usize)>,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
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
pub enum Lookup<'a> {
    /// Not cached (or dropped because revocations changed): verify in full.
    Miss,
    /// Cached and still valid at `now`, with the entry's serial number (unique
    /// per insertion, so callers can keep derived data keyed by it).
    Hit(&'a Verified, u64),
    /// Cached, but a time check now fails (e.g. expired): the error to return.
    Rejected(crate::Error),
}

impl TokenCache {
    /// A cache of at most `capacity` entries and [`DEFAULT_MAX_BYTES`].
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            max_bytes: DEFAULT_MAX_BYTES,
            bytes: 0,
            tick: 0,
            index: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            hits: 0,
            misses: 0,
        }
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

    fn find(&self, token: &str) -> Result<usize, usize> {
        self.index.binary_search_by(|(t, _)| t.as_str().cmp(token))
    }

    fn entry(&self, pos: usize) -> Option<&Entry> {
        let slot = self.index.get(pos)?.1;
        self.slots.get(slot)?.as_ref()
    }

    /// Removes the entry at index position `pos`.
    fn remove_at(&mut self, pos: usize) {
        if pos >= self.index.len() {
            return;
        }
        let (_, slot) = self.index.remove(pos);
        if let Some(e) = self.slots.get_mut(slot).and_then(Option::take) {
            self.bytes -= e.bytes;
            self.free.push(slot);
        }
    }

    /// Looks `token` up at `now` under `policy`.
    pub fn get(&mut self, token: &str, policy: &Policy, now: u64) -> Lookup<'_> {
        let Ok(pos) = self.find(token) else {
            self.misses += 1;
            return Lookup::Miss;
        };
        let (version, times) = match self.entry(pos) {
            Some(e) => (e.revocation_version, e.verified.times),
            None => return Lookup::Miss,
        };
        if version != policy.revocations().version() {
            self.remove_at(pos);
            self.misses += 1;
            return Lookup::Miss;
        }
        if let Err(e) = check_times(times, policy, now) {
            self.remove_at(pos);
            return Lookup::Rejected(e);
        }
        self.tick += 1;
        self.hits += 1;
        let tick = self.tick;
        let slot = self.index.get(pos).map_or(usize::MAX, |p| p.1);
        match self.slots.get_mut(slot).and_then(Option::as_mut) {
            Some(e) => {
                e.tick = tick;
                Lookup::Hit(&e.verified, e.serial)
            }
            None => Lookup::Miss,
        }
    }

    /// Caches a verification result for `token`.
    pub fn insert(&mut self, token: &str, verified: Verified, policy: &Policy) {
        if self.capacity == 0 {
            return;
        }
        if let Ok(pos) = self.find(token) {
            self.remove_at(pos);
        }
        let bytes = 2 * token.len()
            + verified.header_json.len()
            + verified.claims_json.len()
            + verified.key_fingerprint.len();
        if bytes > self.max_bytes {
            return;
        }
        while !self.index.is_empty()
            && (self.index.len() >= self.capacity || self.bytes + bytes > self.max_bytes)
        {
            // Evict the least recently used entry.
            let oldest = (0..self.index.len())
                .min_by_key(|&p| self.entry(p).map_or(0, |e| e.tick))
                .unwrap_or(0);
            self.remove_at(oldest);
        }
        self.tick += 1;
        self.bytes += bytes;
        let entry = Entry {
            verified,
            serial: self.tick,
            tick: self.tick,
            revocation_version: policy.revocations().version(),
            bytes,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(s) = self.slots.get_mut(slot) {
                    *s = Some(entry);
                }
                slot
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        let pos = self.find(token).unwrap_or_else(|p| p);
        self.index.insert(pos, (String::from(token), slot));
    }

    /// Drops the entries whose verifying key is no longer in `keys`.
    pub fn retain_keys(&mut self, keys: &KeySet) {
        let mut pos = 0;
        while pos < self.index.len() {
            let keep = self.entry(pos).is_some_and(|e| {
                keys.keys()
                    .iter()
                    .any(|k| k.fingerprint() == e.verified.key_fingerprint)
            });
            if keep {
                pos += 1;
            } else {
                self.remove_at(pos);
            }
        }
    }

    /// Drops everything (call after changing the policy or the keys wholesale).
    pub fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.free.clear();
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
    cache.insert(token, verified.clone(), policy);
    Ok(verified)
}
