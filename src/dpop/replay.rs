//! The in-memory `jti` set of one validator: bounded, entries forgotten when
//! their proof window ends. It detects replays to this validator (one
//! isolate, one process); a host hook makes detection global.

use alloc::collections::{BTreeMap, BTreeSet};

/// A proof's identity in the set: SHA-256 over its key's thumbprint and its
/// `jti`, truncated (so one client cannot burn another's `jti`s, and an
/// entry costs a fixed size whatever the `jti`).
pub(crate) type ReplayKey = [u8; 16];

/// Remembered proofs, each until its window ends.
#[derive(Debug, Default)]
pub(crate) struct ReplaySet {
    until: BTreeMap<ReplayKey, u64>,
    by_end: BTreeSet<(u64, ReplayKey)>,
}

impl ReplaySet {
    /// Records `key` until `expires_at`; `false` when it is held already
    /// (a replay). Expired entries go first; beyond `capacity`, the entries
    /// whose window ends first are forgotten.
    pub(crate) fn insert(
        &mut self,
        key: ReplayKey,
        expires_at: u64,
        now: u64,
        capacity: usize,
    ) -> bool {
        self.forget_while(|end, _| end <= now);
        if self.until.contains_key(&key) {
            return false;
        }
        self.forget_while(|_, len| len >= capacity);
        self.until.insert(key, expires_at);
        self.by_end.insert((expires_at, key));
        true
    }

    /// Forgets the entries ending first while `more(end, entries)` says so.
    fn forget_while(&mut self, more: impl Fn(u64, usize) -> bool) {
        while let Some(&(end, k)) = self.by_end.first() {
            if !more(end, self.until.len()) {
                break;
            }
            self.by_end.pop_first();
            self.until.remove(&k);
        }
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.until.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_expiry_and_capacity() {
        let mut s = ReplaySet::default();
        assert!(s.insert([1; 16], 100, 10, 3));
        assert!(!s.insert([1; 16], 100, 50, 3), "a replay inside its window");
        assert!(
            s.insert([1; 16], 200, 100, 3),
            "forgotten when the window ended"
        );
        assert!(s.insert([2; 16], 150, 100, 3));
        assert!(s.insert([3; 16], 300, 100, 3));
        assert_eq!(s.len(), 3);
        // Full: the entry ending first ([2], at 150) makes room.
        assert!(s.insert([4; 16], 300, 100, 3));
        assert_eq!(s.len(), 3);
        assert!(!s.insert([3; 16], 300, 100, 3), "a replay, full or not");
        assert_eq!(s.len(), 3);
        assert!(s.insert([2; 16], 150, 100, 3), "the evicted entry");
    }
}
