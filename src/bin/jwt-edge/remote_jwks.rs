//! `verify --jwks-url`: the core's freshness policy (`jwt_edge::remote`) with
//! ureq as the HTTP client. With `--jwks-cache FILE` the policy's snapshot is
//! kept between runs, so freshness (max-age, Age, clamps), `If-None-Match`
//! revalidation, stale-if-error up to the maximum staleness and the kid-miss
//! cooldown apply across invocations exactly as in the npm package.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use jwt_edge::remote::{Applied, FetchOutcome, RemoteConfig, RemoteState};
use jwt_edge::{Error, ErrorKind, KeySet};

use crate::io::Failure;

/// A JWKS source at a URL, with its freshness state.
pub struct RemoteJwks<'a> {
    url: &'a str,
    cache: Option<&'a Path>,
    timeout: u64,
    state: RemoteState,
}

impl<'a> RemoteJwks<'a> {
    /// Loads the state from `cache` (when given and present).
    pub fn open(url: &'a str, cache: Option<&'a Path>, timeout: u64) -> Result<Self, Failure> {
        let config = RemoteConfig {
            timeout,
            ..RemoteConfig::default()
        };
        let mut state = RemoteState::new(config);
        if let Some(path) = cache.filter(|p| p.exists()) {
            let bytes = crate::io::read_file(path, "--jwks-cache")?;
            state.restore(&bytes).map_err(|e| {
                Failure::config(&e, format_args!("--jwks-cache {}", path.display()))
            })?;
        }
        Ok(Self {
            url,
            cache,
            timeout,
            state,
        })
    }

    /// The key set to use at `now`: fetched or revalidated when the policy says
    /// so, else the held one. Fails closed with `ERR_JWKS_TIMEOUT`.
    pub fn keys(&mut self, now: u64) -> Result<KeySet, Error> {
        let plan = self.state.plan(now);
        if plan.fetch {
            self.fetch(now, plan.if_none_match.as_deref());
        }
        self.held(now)
    }

    /// After an unknown `kid`: refetch if the cooldown allows; `Some(keys)` if it did.
    pub fn refetch_for_kid_miss(&mut self, now: u64) -> Option<KeySet> {
        if !self.state.on_kid_miss(now) {
            return None;
        }
        self.fetch(now, None);
        self.held(now).ok()
    }

    fn held(&self, now: u64) -> Result<KeySet, Error> {
        if !self.state.is_usable(now) {
            return Err(self.state.unavailable(ErrorKind::JwksTimeout));
        }
        KeySet::from_jwks(self.state.body().unwrap_or_default())
    }

    fn fetch(&mut self, now: u64, if_none_match: Option<&str>) {
        let outcome = self.get(if_none_match);
        // A body that is not a valid JWKS counts as a failed fetch (RemoteState decides).
        let (applied, _) = self.state.on_result(now, outcome, KeySet::from_jwks);
        if matches!(applied, Applied::Replaced(_) | Applied::Revalidated) {
            self.save();
        }
    }

    fn get(&self, if_none_match: Option<&str>) -> FetchOutcome {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(self.timeout.max(1)))
            .redirects(0)
            .build();
        let mut request = agent
            .get(self.url)
            .set("accept", "application/jwk-set+json, application/json");
        if let Some(etag) = if_none_match {
            request = request.set("if-none-match", etag);
        }
        let response = match request.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(_)) => return FetchOutcome::Failed,
        };
        let header = |name: &str| response.header(name).map(String::from);
        let (status, cache_control, age, etag) = (
            response.status(),
            header("cache-control"),
            header("age"),
            header("etag"),
        );
        let mut body = Vec::new();
        let limit = jwt_edge::jwks::MAX_JWKS_BYTES as u64 + 1;
        if status == 200
            && response
                .into_reader()
                .take(limit)
                .read_to_end(&mut body)
                .is_err()
        {
            return FetchOutcome::Failed;
        }
        FetchOutcome::Response {
            status,
            cache_control,
            age,
            etag,
            body,
        }
    }

    /// Writes the snapshot to `--jwks-cache` (best effort: a read-only cache
    /// only costs a refetch next time).
    pub fn save(&self) {
        if let Some(path) = self.cache {
            if let Err(e) = std::fs::write(path, self.state.snapshot()) {
                crate::io::print_err(&format!("warning: --jwks-cache {}: {e}", path.display()));
            }
        }
    }
}
