//! What the test crates share, whatever else they include: scratch
//! directories and a token's claims.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A new, empty directory under the system's temporary directory, unique to
/// this process and call: `jwt-edge-<name>-<pid>-<n>-<nanos>`.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "jwt-edge-{name}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A [`temp_dir`] removed (with its contents) on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new one.
    pub fn new(name: &str) -> Self {
        Self(temp_dir(name))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The claims of `token`, decoded without verification (the library's own
/// `inspect`).
pub fn claims_of(token: &str) -> serde_json::Map<String, serde_json::Value> {
    jwt_edge::inspect(token, None).unwrap().claims
}
