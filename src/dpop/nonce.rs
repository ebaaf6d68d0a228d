//! Stateless server nonces (RFC 9449 §8 and §9): a nonce is the time step
//! it was issued in and an HMAC-SHA256 over it, under a secret the replicas
//! share. Any replica accepts a nonce of the current or the previous step;
//! nothing is stored, nothing is shared but the secret.

use alloc::string::String;
use alloc::vec::Vec;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::b64;

/// Domain separation: these MACs are nonces of this version and nothing else.
const LABEL: &[u8] = b"jwt-edge dpop-nonce v1\0";
/// Bytes of the MAC kept in a nonce.
const TAG_LEN: usize = 16;

fn mac(secret: &[u8], step: u64) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).ok()?;
    mac.update(LABEL);
    mac.update(&step.to_be_bytes());
    Some(mac)
}

/// The nonce of `now`'s time step (steps of `window` seconds).
pub(crate) fn issue(secret: &[u8], window: u64, now: u64) -> String {
    let step = now / window.max(1);
    let mut bytes: Vec<u8> = Vec::with_capacity(8 + TAG_LEN);
    bytes.extend_from_slice(&step.to_be_bytes());
    if let Some(m) = mac(secret, step) {
        bytes.extend(m.finalize().into_bytes().iter().take(TAG_LEN));
    }
    b64::encode(&bytes)
}

/// Whether `nonce` was issued under `secret` in `now`'s step or the one
/// before (so a nonce lives between one and two windows). The MAC is
/// compared in constant time.
pub(crate) fn accepts(secret: &[u8], window: u64, nonce: &str, now: u64) -> bool {
    if nonce.len() > 64 {
        return false;
    }
    let Ok(bytes) = b64::decode(nonce.as_bytes()) else {
        return false;
    };
    let (Some(step), Some(tag)) = (bytes.get(..8), bytes.get(8..)) else {
        return false;
    };
    if tag.len() != TAG_LEN {
        return false;
    }
    let mut s = [0u8; 8];
    s.copy_from_slice(step);
    let step = u64::from_be_bytes(s);
    let current = now / window.max(1);
    if step != current && step.checked_add(1) != Some(current) {
        return false;
    }
    mac(secret, step).is_some_and(|m| m.verify_truncated_left(tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_live_one_to_two_windows_and_only_under_their_secret() {
        let secret = [7u8; 32];
        let n = issue(&secret, 60, 6_000);
        assert!(accepts(&secret, 60, &n, 6_000));
        assert!(accepts(&secret, 60, &n, 6_059));
        assert!(accepts(&secret, 60, &n, 6_119));
        assert!(!accepts(&secret, 60, &n, 6_120), "two steps later");
        assert!(!accepts(&secret, 60, &n, 5_999), "from the future");
        assert!(!accepts(&[8u8; 32], 60, &n, 6_000), "another secret");
        let mut forged = b64::decode(n.as_bytes()).unwrap();
        forged[7] ^= 1; // another step, same tag
        assert!(!accepts(&secret, 60, &b64::encode(&forged), 6_060));
        for bad in ["", "AAAA", "not base64!", &"A".repeat(100)] {
            assert!(!accepts(&secret, 60, bad, 6_000), "{bad}");
        }
    }
}
