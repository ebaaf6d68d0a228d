//! `verify --jwks-url`: the validator's freshness policy (`jwt_edge::remote`,
//! driven by `jwt_edge::Validator`) with ureq as the HTTP client. With
//! `--jwks-cache FILE` the validator's snapshot is kept between runs, so
//! freshness (max-age, Age, clamps), `If-None-Match` revalidation,
//! stale-if-error up to the maximum staleness and the kid-miss cooldown apply
//! across invocations exactly as in the npm package.

use std::path::Path;
use std::time::Duration;

use jwt_edge::{FetchOutcome, Validator};

use crate::io::Failure;

/// A JWKS source at a URL, and where its freshness state is kept.
pub struct RemoteJwks<'a> {
    url: &'a str,
    cache: Option<&'a Path>,
    timeout: u64,
}

impl<'a> RemoteJwks<'a> {
    /// The source at `url`, its state kept in `cache` (when given).
    pub fn new(url: &'a str, cache: Option<&'a Path>, timeout: u64) -> Self {
        Self {
            url,
            cache,
            timeout,
        }
    }

    /// Restores the validator's remote state from `--jwks-cache` (when present).
    pub fn load(&self, validator: &mut Validator) -> Result<(), Failure> {
        if let Some(path) = self.cache.filter(|p| p.exists()) {
            let text = crate::io::read_text_file(path, "--jwks-cache")?;
            validator.import_cache(&text).map_err(|e| {
                Failure::config(&e, format_args!("--jwks-cache {}", path.display()))
            })?;
        }
        Ok(())
    }

    /// Fetches the JWKS, or the document at `url` when the validator names
    /// one (discovery: the metadata, then its `jwks_uri`); one GET, no
    /// redirects, bounded body.
    pub fn get(&self, url: Option<&str>, if_none_match: Option<&str>) -> FetchOutcome {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(self.timeout.max(1)))
            .redirects(0)
            .build();
        jwt_edge::http_fetch::get(
            &agent,
            url.unwrap_or(self.url),
            if_none_match,
            jwt_edge::jwks::MAX_JWKS_BYTES,
        )
    }

    /// Writes the validator's snapshot to `--jwks-cache` (best effort: a
    /// read-only cache only costs a refetch next time).
    pub fn save(&self, validator: &Validator) {
        if let Some(path) = self.cache {
            if let Err(e) = std::fs::write(path, validator.export_cache()) {
                crate::io::print_err(&format!("warning: --jwks-cache {}: {e}", path.display()));
            }
        }
    }
}
