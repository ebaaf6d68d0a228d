//! Throttling of failed client authentications. The failing *source* is
//! slowed, never the client: failures are counted per peer address and per
//! client id from that peer, so that a stranger who knows a client id (it is
//! public: `client_id` and `sub` of every token) cannot lock the real client
//! out from another address. A client's 256-bit secret cannot be guessed, so
//! a per-client lockout would buy nothing and hand out a denial of service.
//!
//! IPv6 peers are counted per /64 (one subscriber's prefix). Behind a reverse
//! proxy every client shares the proxy's address: name the proxy with
//! `trusted_proxies` and its `X-Forwarded-For` is used (see [`client_addr`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::string::String;
use std::time::{Duration, Instant};

/// Limits on failed authentications.
#[derive(Debug, Clone, Copy)]
pub struct LimitConfig {
    /// Failures allowed per client id from one peer address within `window`.
    pub per_client: u32,
    /// Failures allowed per peer address (all client ids) within `window`.
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

/// The address failures are counted on: IPv4 as is, IPv6 by its /64
/// (IPv4-mapped IPv6 as the IPv4 address).
fn source(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The client's address: the TCP peer, unless the peer is one of the
/// `trusted` proxies. Then the `X-Forwarded-For` list (`forwarded`, every
/// occurrence joined by commas) is read from the right, skipping trusted
/// proxies; the first other address is the client. A list that names only
/// proxies, or an entry that is not an IP address, gives the peer itself (a
/// forged or garbled header never selects an address the proxy did not add).
pub fn client_addr<'a>(
    peer: IpAddr,
    trusted: &[IpAddr],
    forwarded: impl Iterator<Item = &'a str>,
) -> IpAddr {
    if trusted.is_empty() || !trusted.contains(&source_exact(peer)) {
        return peer;
    }
    let entries: std::vec::Vec<&str> = forwarded.flat_map(|h| h.split(',')).collect();
    for entry in entries.iter().rev() {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&source_exact(ip)) => {}
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

fn source_exact(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Peer(IpAddr),
    PeerClient(IpAddr, String),
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
            Key::PeerClient(..) => self.config.per_client,
            Key::Peer(_) => self.config.per_peer,
        }
    }

    fn keys(client: Option<&str>, peer: IpAddr) -> impl Iterator<Item = Key> {
        let peer = source(peer);
        client
            .map(|c| Key::PeerClient(peer, c.into()))
            .into_iter()
            .chain(core::iter::once(Key::Peer(peer)))
    }

    /// If `peer` (or `client` from `peer`) has used up its failures, how
    /// long until it may retry.
    pub fn blocked(&self, client: Option<&str>, peer: IpAddr, now: Instant) -> Option<Duration> {
        Self::keys(client, peer)
            .filter_map(|k| {
                let (start, count) = self.windows.get(&k)?;
                let end = *start + self.config.window;
                (count >= &self.limit(&k) && end > now).then(|| end - now)
            })
            .max()
    }

    /// Counts one failed authentication from `peer` (for `client`, when known).
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
    fn per_peer_and_per_client_from_that_peer_bounded() {
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
        assert!(
            l.blocked(Some("c1"), a, t).is_some(),
            "client from that peer"
        );
        assert!(
            l.blocked(Some("c1"), b, t).is_none(),
            "never the client elsewhere"
        );
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

    #[test]
    fn ipv6_counted_per_64() {
        let mut l = Limiter::new(LimitConfig {
            per_peer: 1,
            ..LimitConfig::default()
        });
        let t = Instant::now();
        l.record_failure(None, "2001:db8::1".parse().unwrap(), t);
        assert!(l
            .blocked(None, "2001:db8::ffff:1".parse().unwrap(), t)
            .is_some());
        assert!(l
            .blocked(None, "2001:db8:0:1::1".parse().unwrap(), t)
            .is_none());
        l.record_failure(None, "::ffff:10.0.0.1".parse().unwrap(), t);
        assert!(l.blocked(None, [10, 0, 0, 1].into(), t).is_some());
    }

    #[test]
    fn forwarded_address_only_from_trusted_proxies() {
        let proxy: IpAddr = [127, 0, 0, 9].into();
        let other: IpAddr = [127, 0, 0, 5].into();
        let h = |v: &'static str| core::iter::once(v);
        // Not a trusted peer: the header is ignored.
        assert_eq!(client_addr(other, &[proxy], h("10.0.0.1")), other);
        assert_eq!(client_addr(proxy, &[], h("10.0.0.1")), proxy);
        // The rightmost address the proxy appended.
        assert_eq!(
            client_addr(proxy, &[proxy], h("6.6.6.6, 10.0.0.1")),
            IpAddr::from([10, 0, 0, 1])
        );
        // Chained trusted proxies are skipped; junk gives the peer.
        assert_eq!(
            client_addr(proxy, &[proxy], h("10.0.0.1, 127.0.0.9")),
            IpAddr::from([10, 0, 0, 1])
        );
        assert_eq!(client_addr(proxy, &[proxy], h("10.0.0.1, junk")), proxy);
        assert_eq!(client_addr(proxy, &[proxy], core::iter::empty()), proxy);
        // Several header lines read as one list.
        assert_eq!(
            client_addr(proxy, &[proxy], ["1.1.1.1", "10.0.0.2"].into_iter()),
            IpAddr::from([10, 0, 0, 2])
        );
    }
}
