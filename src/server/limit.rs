//! Rate limiting of failed client authentications, per client id and per
//! peer address: a fixed window per key in a map of bounded size.

use std::collections::HashMap;
use std::net::IpAddr;
use std::string::String;
use std::time::{Duration, Instant};

/// Limits on failed authentications.
#[derive(Debug, Clone, Copy)]
pub struct LimitConfig {
    /// Failures allowed per client id within `window`.
    pub per_client: u32,
    /// Failures allowed per peer address within `window`.
    pub per_peer: u32,
    /// The window.
    pub window: Duration,
    /// Most keys tracked at once (expired windows are evicted first).
    pub max_entries: usize,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            per_client: 10,
            per_peer: 50,
            window: Duration::from_secs(60),
            max_entries: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(String),
    Peer(IpAddr),
}

/// The failure counters.
#[derive(Debug)]
pub struct Limiter {
    config: LimitConfig,
    windows: HashMap<Key, (Instant, u32)>,
}

impl Limiter {
    /// An empty limiter.
    pub fn new(config: LimitConfig) -> Self {
        Self {
            config,
            windows: HashMap::new(),
        }
    }

    fn limit(&self, key: &Key) -> u32 {
        match key {
            Key::Client(_) => self.config.per_client,
            Key::Peer(_) => self.config.per_peer,
        }
    }

    fn keys(client: Option<&str>, peer: IpAddr) -> impl Iterator<Item = Key> {
        client
            .map(|c| Key::Client(c.into()))
            .into_iter()
            .chain(core::iter::once(Key::Peer(peer)))
    }

    /// If `client` or `peer` has used up its failures, how long until it may retry.
    pub fn blocked(&self, client: Option<&str>, peer: IpAddr, now: Instant) -> Option<Duration> {
        Self::keys(client, peer)
            .filter_map(|k| {
                let (start, count) = self.windows.get(&k)?;
                let end = *start + self.config.window;
                (count >= &self.limit(&k) && end > now).then(|| end - now)
            })
            .max()
    }

    /// Counts one failed authentication for `client` (when known) and `peer`.
    pub fn record_failure(&mut self, client: Option<&str>, peer: IpAddr, now: Instant) {
        let window = self.config.window;
        for key in Self::keys(client, peer) {
            if !self.windows.contains_key(&key) && self.windows.len() >= self.config.max_entries {
                self.windows.retain(|_, (start, _)| *start + window > now);
                if self.windows.len() >= self.config.max_entries {
                    // Still full of live windows: forget one (fail open for
                    // that key rather than for every new one).
                    if let Some(k) = self.windows.keys().next().cloned() {
                        self.windows.remove(&k);
                    }
                }
            }
            let entry = self.windows.entry(key).or_insert((now, 0));
            if entry.0 + window <= now {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
        }
    }

    /// How many keys are tracked.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_window_per_client_and_peer_bounded() {
        let cfg = LimitConfig {
            per_client: 2,
            per_peer: 3,
            window: Duration::from_secs(10),
            max_entries: 4,
        };
        let mut l = Limiter::new(cfg);
        let t = Instant::now();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert!(l.blocked(Some("c1"), a, t).is_none());
        l.record_failure(Some("c1"), a, t);
        l.record_failure(Some("c1"), a, t);
        assert!(l.blocked(Some("c1"), b, t).is_some(), "client limit");
        assert!(l.blocked(Some("c2"), a, t).is_none());
        l.record_failure(None, a, t);
        assert!(l.blocked(Some("c2"), a, t).is_some(), "peer limit");
        assert!(l.blocked(None, b, t).is_none());
        let later = t + Duration::from_secs(11);
        assert!(l.blocked(Some("c1"), a, later).is_none(), "window over");
        for i in 0..20u8 {
            l.record_failure(None, [10, 0, 0, i].into(), later);
        }
        assert!(l.len() <= 4);
    }
}
