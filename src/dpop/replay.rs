//! The in-memory `jti` set of one validator: bounded, entries forgotten when
//! their proof window ends. It detects replays to this validator (one
//! isolate, one process); a host hook makes detection global.
//!
//! An open-addressing table (linear probing) of fixed-size entries: a key is
//! already the output of SHA-256, so its first bytes are its hash. An entry
//! whose window ended is dead: lookups probe past it, insertions reuse it.
//! The table doubles while it may (at most the next power of two above
//! twice the capacity); a rebuild keeps only live entries, and beyond the
//! capacity the ones whose window ends first. (A `BTreeMap` did the same
//! in twice the code: this module is in the size-budgeted npm build.)

use alloc::vec::Vec;

/// A proof's identity in the set: SHA-256 over its key's thumbprint and its
/// `jti`, truncated (so one client cannot burn another's `jti`s, and an
/// entry costs a fixed size whatever the `jti`).
pub(crate) type ReplayKey = [u8; 16];

/// A slot: `until == 0` is a slot never used.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: ReplayKey,
    until: u64,
}

/// Remembered proofs, each until its window ends.
#[derive(Debug, Default)]
pub(crate) struct ReplaySet {
    slots: Vec<Slot>,
    /// Slots ever used since the last rebuild (live or dead).
    used: usize,
}

fn home(key: &ReplayKey, mask: usize) -> usize {
    let mut h = [0u8; 8];
    h.copy_from_slice(key.get(..8).unwrap_or(&[0; 8]));
    (u64::from_le_bytes(h) as usize) & mask
}

impl ReplaySet {
    /// Records `key` until `expires_at`; `false` when it is held already
    /// (a replay). Beyond `capacity` live entries, the ones whose window
    /// ends first are forgotten.
    pub(crate) fn insert(
        &mut self,
        key: ReplayKey,
        expires_at: u64,
        now: u64,
        capacity: usize,
    ) -> bool {
        let max_len = capacity.saturating_mul(2).max(16).next_power_of_two();
        if self.slots.is_empty() || (self.used + 1) * 4 > self.slots.len() * 3 {
            self.rebuild(now, capacity, max_len);
        }
        let mask = self.slots.len() - 1;
        let mut i = home(&key, mask);
        let mut reuse = None;
        // The table always has never-used slots (at most 3/4 used).
        for _ in 0..self.slots.len() {
            let Some(slot) = self.slots.get(i) else { break };
            if slot.until == 0 {
                break;
            }
            if slot.until > now {
                if slot.key == key {
                    return false;
                }
            } else if reuse.is_none() {
                reuse = Some(i);
            }
            i = (i + 1) & mask;
        }
        let at = match reuse {
            Some(r) => r,
            None => {
                self.used += 1;
                i
            }
        };
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = Slot {
                key,
                until: expires_at.max(now + 1),
            };
        }
        true
    }

    /// Rebuilds the table with its live entries (at most `capacity`, the
    /// latest-ending), doubling it up to `max_len` slots.
    fn rebuild(&mut self, now: u64, capacity: usize, max_len: usize) {
        let mut live: Vec<Slot> = self
            .slots
            .iter()
            .copied()
            .filter(|s| s.until > now)
            .collect();
        if live.len() > capacity {
            // The smallest end `t` with at most `capacity` entries ending
            // after it (a binary search over the ends: no sort).
            let (mut lo, mut hi) = (now, live.iter().map(|s| s.until).max().unwrap_or(now));
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if live.iter().filter(|s| s.until > mid).count() <= capacity {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            live.retain(|s| s.until > lo);
        }
        let mut len = self.slots.len().max(16);
        while len < max_len && live.len() * 2 >= len {
            len *= 2;
        }
        self.slots = alloc::vec![Slot::default(); len];
        self.used = 0;
        let mask = len - 1;
        for s in live {
            let mut i = home(&s.key, mask);
            while self.slots.get(i).is_some_and(|x| x.until != 0) {
                i = (i + 1) & mask;
            }
            if let Some(slot) = self.slots.get_mut(i) {
                *slot = s;
                self.used += 1;
            }
        }
    }

    /// Live entries at `now`.
    #[cfg(test)]
    pub(crate) fn len(&self, now: u64) -> usize {
        self.slots.iter().filter(|s| s.until > now).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: u64) -> ReplayKey {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
        key[8..].copy_from_slice(&n.to_le_bytes());
        key
    }

    #[test]
    fn replays_expiry_and_capacity() {
        let mut s = ReplaySet::default();
        assert!(s.insert(k(1), 100, 10, 3));
        assert!(!s.insert(k(1), 100, 50, 3), "a replay inside its window");
        assert!(
            s.insert(k(1), 200, 100, 3),
            "forgotten when the window ended"
        );
        assert!(s.insert(k(2), 150, 100, 3));
        assert!(s.insert(k(3), 300, 100, 3));
        assert_eq!(s.len(100), 3);
        assert!(!s.insert(k(3), 300, 100, 3), "a replay, full or not");
    }

    #[test]
    fn bounded_and_exact_under_load() {
        let mut s = ReplaySet::default();
        // 10,000 proofs, each live for 100 s, one per 10 ms of a clock in
        // seconds: every one is new once and a replay while it lives.
        for n in 0..10_000u64 {
            let now = n / 100;
            assert!(s.insert(k(n), now + 100, now, 20_000), "{n}");
            if n >= 7 {
                assert!(!s.insert(k(n - 7), now + 100, now, 20_000), "{n}");
            }
        }
        assert!(s.slots.len() <= 65_536);
        // A small capacity keeps the entries ending last.
        let mut s = ReplaySet::default();
        for n in 0..1_000u64 {
            assert!(s.insert(k(n), 10_000 + n, 0, 100));
        }
        assert!(s.slots.len() <= 256, "{}", s.slots.len());
        assert!(!s.insert(k(999), 20_000, 0, 100), "a recent entry is held");
        assert!(s.insert(k(0), 20_000, 0, 100), "an early one was forgotten");
    }
}
