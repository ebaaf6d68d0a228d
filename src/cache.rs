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

use alloc::collections::BTreeMap;
use alloc::string::String;

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
    tick: u64,
    revocation_version: u64,
    bytes: usize,
}

/// The cache. `capacity` 0 disables it.
pub struct TokenCache {
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    tick: u64,
    entries: BTreeMap<String, Entry>,
    lru: BTreeMap<u64, String>,
    hits: u64,
    misses: u64,
}

impl core::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenCache")
            .field("len", &self.entries.len())
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
    /// Cached and still valid at `now`.
    Hit(&'a Verified),
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
            entries: BTreeMap::new(),
            lru: BTreeMap::new(),
            hits: 0,
            misses: 0,
        }
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// (hits, misses) since creation.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    fn remove(&mut self, token: &str) {
        if let Some(e) = self.entries.remove(token) {
            self.lru.remove(&e.tick);
            self.bytes -= e.bytes;
        }
    }

    /// Looks `token` up at `now` under `policy`.
    pub fn get(&mut self, token: &str, policy: &Policy, now: u64) -> Lookup<'_> {
        let version = policy.revocations().version();
        let Some(entry) = self.entries.get(token) else {
            self.misses += 1;
            return Lookup::Miss;
        };
        if entry.revocation_version != version {
            self.remove(token);
            self.misses += 1;
            return Lookup::Miss;
        }
        let times = entry.verified.times;
        if let Err(e) = check_times(times, policy, now) {
            self.remove(token);
            return Lookup::Rejected(e);
        }
        self.tick += 1;
        let tick = self.tick;
        self.hits += 1;
        match self.entries.get_mut(token) {
            Some(e) => {
                self.lru.remove(&e.tick);
                e.tick = tick;
                self.lru.insert(tick, String::from(token));
                Lookup::Hit(&e.verified)
            }
            None => Lookup::Miss,
        }
    }

    /// Caches a verification result for `token`.
    pub fn insert(&mut self, token: &str, verified: &Verified, policy: &Policy) {
        if self.capacity == 0 {
            return;
        }
        self.remove(token);
        let bytes = token.len()
            + verified.header_json.len()
            + verified.claims_json.len()
            + verified.key_fingerprint.len();
        if bytes > self.max_bytes {
            return;
        }
        while self.entries.len() >= self.capacity || self.bytes + bytes > self.max_bytes {
            let Some((_, oldest)) = self.lru.pop_first() else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
            }
        }
        self.tick += 1;
        self.bytes += bytes;
        self.lru.insert(self.tick, String::from(token));
        self.entries.insert(
            String::from(token),
            Entry {
                verified: verified.clone(),
                tick: self.tick,
                revocation_version: policy.revocations().version(),
                bytes,
            },
        );
    }

    /// Drops the entries whose verifying key is no longer in `keys`.
    pub fn retain_keys(&mut self, keys: &KeySet) {
        let gone: alloc::vec::Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                !keys
                    .keys()
                    .iter()
                    .any(|k| k.fingerprint() == e.verified.key_fingerprint)
            })
            .map(|(t, _)| t.clone())
            .collect();
        for t in gone {
            self.remove(&t);
        }
    }

    /// Drops everything (call after changing the policy or the keys wholesale).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.lru.clear();
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
        Lookup::Hit(v) => return Ok(v.clone()),
        Lookup::Rejected(e) => return Err(e),
        Lookup::Miss => {}
    }
    let verified = crate::verify(token, keys, policy, now)?;
    cache.insert(token, &verified, policy);
    Ok(verified)
}
