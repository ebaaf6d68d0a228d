//! Fetching a `private_key_jwt` client's `jwks_uri` for the issuer. When
//! to fetch, what a response means (freshness, kid-miss cooldown,
//! stale-if-error, the size cap) is the core's remote-source policy, held
//! by the client's validator in the writer; this module only performs the
//! GET it asks for, under the server's address rules: `https://` only, and
//! never to a loopback, private, link-local (cloud metadata), shared or
//! otherwise non-public address unless `--allow-private-jwks-uri` (which
//! also permits `http://`, for tests and private deployments). Addresses
//! are checked after resolution, and the connection goes to the checked
//! addresses (no second lookup a DNS rebinding could answer differently).
//!
//! One GET per URL at a time: requests that need the same key set while
//! its fetch is under way wait for that fetch and share its response, so a
//! burst of assertions (or of forged ones naming unknown kids) cannot turn
//! into a burst of requests to the client's server.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs as _};
use std::string::{String, ToString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use std::vec::Vec;

use crate::issuer::Fetched;
use crate::remote::FetchOutcome;

/// Why an address may not be fetched from, or `None` when it is public.
pub fn refused_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => refused_v4(a),
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return refused_v4(v4);
            }
            let s0 = a.segments()[0];
            if a.is_loopback() {
                Some("a loopback address")
            } else if a.is_unspecified() {
                Some("the unspecified address")
            } else if s0 & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if s0 & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if a.is_multicast() {
                Some("a multicast address")
            } else if s0 == 0x2001 && a.segments()[1] == 0x0db8 {
                Some("a documentation address")
            } else if s0 == 0x0064 && a.segments()[1] == 0xff9b {
                // NAT64 could reach any IPv4 address, private ones included.
                Some("a NAT64 address")
            } else {
                None
            }
        }
    }
}

fn refused_v4(a: Ipv4Addr) -> Option<&'static str> {
    let [o0, o1, ..] = a.octets();
    if a == Ipv4Addr::new(169, 254, 169, 254) {
        Some("the cloud metadata address")
    } else if a.is_loopback() {
        Some("a loopback address")
    } else if a.is_private() {
        Some("a private address")
    } else if a.is_link_local() {
        Some("a link-local address")
    } else if a.is_unspecified() || o0 == 0 {
        Some("a \"this network\" address")
    } else if o0 == 100 && (64..128).contains(&o1) {
        Some("a shared (carrier-grade NAT) address")
    } else if a.is_broadcast() || a.is_multicast() || o0 >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else if a.is_documentation()
        || (o0 == 198 && (o1 == 18 || o1 == 19))
        || (o0 == 192 && o1 == 0 && a.octets()[2] == 0)
    {
        Some("a documentation, benchmarking or protocol address")
    } else {
        None
    }
}

/// The fetches under way, by URL: each resolves once, for every request
/// waiting on it.
type InFlight = Mutex<HashMap<String, Arc<tokio::sync::OnceCell<FetchOutcome>>>>;

/// The server's fetcher of client key sets.
#[derive(Debug)]
pub(crate) struct JwksFetcher {
    /// `--allow-private-jwks-uri`.
    allow_private: bool,
    in_flight: InFlight,
}

impl JwksFetcher {
    /// A fetcher under the address rules (`allow_private`: `--allow-private-jwks-uri`).
    pub(crate) fn new(allow_private: bool) -> Self {
        Self {
            allow_private,
            in_flight: InFlight::default(),
        }
    }

    /// GETs `url` (one request, no redirects, at most `timeout` seconds,
    /// the body bounded by the core's JWKS cap) on a blocking thread, or
    /// waits for the GET of `url` already under way and shares its
    /// response. The flag says whether this call made the request (what
    /// metrics and logs count).
    pub(crate) async fn fetch(&self, url: &str, timeout: u64) -> (Fetched, bool) {
        let cell = {
            let mut map = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(url.to_string()).or_default())
        };
        let made = AtomicBool::new(false);
        let allow_private = self.allow_private;
        let outcome = cell
            .get_or_init(|| async {
                made.store(true, Ordering::Relaxed);
                let u = url.to_string();
                tokio::task::spawn_blocking(move || get(allow_private, &u, timeout))
                    .await
                    .unwrap_or(FetchOutcome::Failed)
            })
            .await
            .clone();
        // This fetch is over: the next request that needs one makes its own
        // (the client's validator decides when that is).
        {
            let mut map = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if map.get(url).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                map.remove(url);
            }
        }
        let fetched = Fetched {
            url: url.into(),
            outcome,
        };
        (fetched, made.load(Ordering::Relaxed))
    }
}

/// One GET of a client's key set under the address rules.
fn get(allow_private: bool, url: &str, timeout: u64) -> FetchOutcome {
    let allowed = url.starts_with("https://") || (allow_private && url.starts_with("http://"));
    if !allowed {
        return FetchOutcome::Unreachable(
            "refused: a client's jwks_uri must be https:// (http:// only with --allow-private-jwks-uri)"
                .into(),
        );
    }
    let refusal: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = Arc::clone(&refusal);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(timeout.max(1)))
        .redirects(0)
        .resolver(move |netloc: &str| -> std::io::Result<Vec<SocketAddr>> {
            let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
            if !allow_private {
                if let Some(why) = addrs.iter().find_map(|a| refused_address(a.ip())) {
                    if let Ok(mut r) = seen.lock() {
                        *r = Some(std::format!(
                            "refused: the jwks_uri's host resolves to {why} (allowed only with --allow-private-jwks-uri)"
                        ));
                    }
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        "address refused",
                    ));
                }
            }
            Ok(addrs)
        })
        .build();
    let outcome = crate::http_fetch::get(&agent, url, None, crate::jwks::MAX_JWKS_BYTES);
    // The address rule's refusal says more than the transport error.
    match refusal.lock().ok().and_then(|mut r| r.take()) {
        Some(why) => FetchOutcome::Unreachable(why),
        None => outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let r = |s: &str| refused_address(s.parse().unwrap());
        assert_eq!(r("127.0.0.1"), Some("a loopback address"));
        assert_eq!(r("169.254.169.254"), Some("the cloud metadata address"));
        assert_eq!(r("10.1.2.3"), Some("a private address"));
        assert_eq!(r("172.16.0.1"), Some("a private address"));
        assert_eq!(r("192.168.1.1"), Some("a private address"));
        assert_eq!(
            r("100.64.0.1"),
            Some("a shared (carrier-grade NAT) address")
        );
        assert_eq!(r("::1"), Some("a loopback address"));
        assert_eq!(r("::ffff:127.0.0.1"), Some("a loopback address"));
        assert_eq!(r("fd00:ec2::254"), Some("a private (unique local) address"));
        assert_eq!(r("fe80::1"), Some("a link-local address"));
        assert_eq!(r("0.0.0.0"), Some("a \"this network\" address"));
        assert_eq!(r("93.184.215.14"), None);
        assert_eq!(r("2606:4700::1111"), None);
    }
}
