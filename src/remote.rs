//! Freshness policy for a remote document (a JWKS or a signed revocation
//! list), sans I/O: it decides *when* to fetch and *what* to serve from inputs
//! (the current time, fetch results, kid misses); the host performs the fetch.
//!
//! Rules (all times in seconds):
//! - a successful response is fresh for `max-age` minus `Age` from its
//!   `Cache-Control`, clamped to `[min_ttl, max_ttl]`; `default_ttl` when the
//!   server sends neither;
//! - a `304 Not Modified` to an `If-None-Match` revalidation keeps the document
//!   and renews its freshness;
//! - stale-while-revalidate: a document past its freshness is still served
//!   while one background refresh runs;
//! - stale-if-error: when refreshes fail, the last good document is served for
//!   up to `max_stale` past its freshness, then the source fails closed;
//! - an unknown `kid` triggers at most one refetch per `cooldown`;
//! - single flight: while a fetch is in flight no other fetch is started
//!   (a fetch that has not reported back within `timeout` counts as failed);
//! - a failed fetch backs off: the next attempt (refresh or kid-miss refetch)
//!   waits 1 s, then 2, 4, 8 … s after each consecutive failure, at most
//!   `cooldown` (30 s by default), with jitter from a host-supplied seed
//!   ([`RemoteState::set_jitter`]), and never past the end of the
//!   stale-if-error window of the document held; a success resets it. A
//!   source that refuses connections is then asked about once per `cooldown`,
//!   not once per request.
//!
//! The state is plain data: it can be snapshotted ([`RemoteState::snapshot`])
//! and restored, so an edge worker can keep it in KV across isolates.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::json;
use crate::text::{json_string, push_decimal};

/// Freshness settings. Defaults: `min_ttl` 60 s, `max_ttl` 24 h, `default_ttl`
/// 10 min, `cooldown` 30 s, `max_stale` 24 h, `timeout` 5 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteConfig {
    /// Lower clamp of the freshness lifetime.
    pub min_ttl: u64,
    /// Upper clamp of the freshness lifetime.
    pub max_ttl: u64,
    /// Freshness lifetime when the response carries no `max-age`.
    pub default_ttl: u64,
    /// Minimum time between two kid-miss refetches.
    pub cooldown: u64,
    /// How long past its freshness a document may be served when refreshes fail.
    pub max_stale: u64,
    /// How long a fetch may take before it counts as failed.
    pub timeout: u64,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            min_ttl: 60,
            max_ttl: 86_400,
            default_ttl: 600,
            cooldown: 30,
            max_stale: 86_400,
            timeout: 5,
        }
    }
}

/// What a fetch returned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchOutcome {
    /// A response arrived.
    Response {
        /// HTTP status.
        status: u16,
        /// The `Cache-Control` header, if any.
        cache_control: Option<String>,
        /// The `Age` header, if any.
        age: Option<String>,
        /// The `ETag` header, if any.
        etag: Option<String>,
        /// The body (ignored unless the status is 200).
        body: Vec<u8>,
    },
    /// The fetch failed (network error, timeout, ...), cause unknown.
    Failed,
    /// The fetch failed before a response: what happened (`timeout`, a
    /// network error's name), for the error a caller eventually sees.
    Unreachable(String),
}

/// What the caller should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Whether a usable document is held (fresh, or stale within its limits).
    pub usable: bool,
    /// Whether the held document is past its freshness lifetime.
    pub stale: bool,
    /// Start a fetch now (the caller becomes the single flight).
    pub fetch: bool,
    /// The `If-None-Match` value to send with that fetch.
    pub if_none_match: Option<String>,
    /// Nothing usable and a fetch is already in flight: wait for it.
    pub wait: bool,
}

/// Why [`RemoteState::on_result`] did or did not replace the document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// A new document (its body) was accepted and must be parsed by the caller.
    Replaced(Vec<u8>),
    /// `304 Not Modified`: the held document is fresh again.
    Revalidated,
    /// The fetch failed; the held document (if any) stays, subject to `max_stale`.
    Failed,
}

/// The freshness state of one remote document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteState {
    config: RemoteConfig,
    body: Option<Vec<u8>>,
    etag: Option<String>,
    fetched_at: u64,
    fresh_until: u64,
    in_flight_since: Option<u64>,
    last_kid_miss_fetch: Option<u64>,
    failures: u32,
    /// After a failure: no new fetch before this time (0: none pending).
    retry_at: u64,
    /// Seed of the retry jitter (0: none), different per instance.
    jitter: u64,
    /// The last failure: when, the HTTP status (if a response came), what.
    last_failure: Option<(u64, Option<u16>, String)>,
}

/// SplitMix64: spreads a seed and a counter over 64 bits (jitter only, not
/// a random source).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn snapshot_error(m: &str) -> Error {
    Error::new(ErrorKind::JwksInvalid, msg!("invalid cache snapshot: ", m))
}

/// Parses `max-age` from a `Cache-Control` value (`no-store`/`no-cache` count as 0).
fn max_age(cache_control: &str) -> Option<u64> {
    let mut result = None;
    for directive in cache_control.split(',') {
        let d = directive.trim();
        let lower = d.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            result = v.trim_matches('"').parse::<u64>().ok();
        }
    }
    result
}

impl RemoteState {
    /// An empty state (nothing fetched yet).
    pub fn new(config: RemoteConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Sets the jitter seed of the retry delays after failed fetches: a
    /// number the host draws at random once per instance (isolate,
    /// process), so that instances that failed together do not retry in
    /// step. 0 (the default): no jitter. Kept by [`RemoteState::restore`].
    pub fn set_jitter(&mut self, seed: u64) {
        self.jitter = seed;
    }

    /// An empty state with this one's settings and jitter seed (for a
    /// document that moved: nothing of the old one's freshness applies).
    #[must_use]
    pub fn renewed(&self) -> Self {
        let mut fresh = Self::new(self.config);
        fresh.set_jitter(self.jitter);
        fresh
    }

    /// The settings.
    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// Whether a failed fetch's backoff still holds at `now`.
    fn backing_off(&self, now: u64) -> bool {
        now < self.retry_at
    }

    /// The delay before the next attempt after `self.failures` consecutive
    /// failures: 1, 2, 4 … s up to `cooldown` (at least 1 s); with a jitter
    /// seed, a value in the upper half of that (equal jitter).
    fn retry_delay(&self) -> u64 {
        let cap = self.config.cooldown.max(1);
        let exp = self.failures.saturating_sub(1).min(32);
        let base = (1u64 << exp).min(cap);
        if self.jitter == 0 {
            return base;
        }
        let spread = base / 2 + 1;
        base - mix(self.jitter ^ u64::from(self.failures)) % spread
    }

    /// Records a success: the backoff ends.
    fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = 0;
    }

    /// Records a failure at `now` and schedules the next attempt.
    fn failed(&mut self, now: u64) {
        self.failures = self.failures.saturating_add(1);
        let mut at = now.saturating_add(self.retry_delay());
        if self.body.is_some() {
            // Never back off past the last moment the held copy may be served.
            let end = self.fresh_until.saturating_add(self.config.max_stale);
            if end > now {
                at = at.min(end);
            }
        }
        self.retry_at = at;
    }

    fn in_flight(&self, now: u64) -> bool {
        self.in_flight_since
            .is_some_and(|t| now < t.saturating_add(self.config.timeout))
    }

    /// Until when (exclusive, unix seconds) the held document is fresh: before
    /// it, nothing about this source needs doing.
    pub fn fresh_until(&self) -> u64 {
        self.fresh_until
    }

    /// Whether a usable document is held at `now` (does not start a fetch).
    pub fn is_usable(&self, now: u64) -> bool {
        self.usable(now)
    }

    fn usable(&self, now: u64) -> bool {
        self.body.is_some() && now < self.fresh_until.saturating_add(self.config.max_stale)
    }

    /// Decides what to do at `now`. When `fetch` is true the caller must
    /// perform the fetch and report with [`RemoteState::on_result`]; the state
    /// records the flight, so a second call does not start another.
    pub fn plan(&mut self, now: u64) -> Plan {
        let usable = self.usable(now);
        let stale = self.body.is_none() || now >= self.fresh_until;
        let flying = self.in_flight(now);
        let fetch = stale && !flying && !self.backing_off(now);
        if fetch {
            self.in_flight_since = Some(now);
        }
        Plan {
            usable,
            stale,
            fetch,
            if_none_match: if fetch && self.body.is_some() {
                self.etag.clone()
            } else {
                None
            },
            wait: !usable && flying && !fetch,
        }
    }

    /// Asks for a refetch because a token named an unknown `kid`. Returns true
    /// (and records the flight) at most once per `cooldown`, and never while
    /// another fetch is in flight or a failed fetch's backoff holds.
    pub fn on_kid_miss(&mut self, now: u64) -> bool {
        if self.in_flight(now) || self.backing_off(now) {
            return false;
        }
        if let Some(last) = self.last_kid_miss_fetch {
            if now < last.saturating_add(self.config.cooldown) {
                return false;
            }
        }
        self.last_kid_miss_fetch = Some(now);
        self.in_flight_since = Some(now);
        true
    }

    /// Reports the outcome of the fetch started by [`RemoteState::plan`] or
    /// [`RemoteState::on_kid_miss`]. A `200` body is accepted only if `parse`
    /// takes it (a JWKS that parses, a revocation list whose signature checks):
    /// a body that does not parse counts as a failed fetch, so a broken deploy
    /// of the source never replaces good data and the held document stays
    /// usable within `max_stale`. Returns what was applied and, when a new
    /// document was accepted, what `parse` made of it.
    pub fn on_result<T>(
        &mut self,
        now: u64,
        outcome: FetchOutcome,
        parse: impl FnOnce(&[u8]) -> Result<T>,
    ) -> (Applied, Option<T>) {
        let parsed = match &outcome {
            FetchOutcome::Response {
                status: 200, body, ..
            } => match parse(body) {
                Ok(value) => Some(value),
                Err(e) => {
                    let applied = self.apply(now, FetchOutcome::Failed);
                    self.last_failure = Some((
                        now,
                        Some(200),
                        msg!("the body was refused: ", e.code(), ": ", e.message()),
                    ));
                    return (applied, None);
                }
            },
            _ => None,
        };
        let applied = self.apply(now, outcome);
        let parsed = parsed.filter(|_| matches!(applied, Applied::Replaced(_)));
        (applied, parsed)
    }

    fn apply(&mut self, now: u64, outcome: FetchOutcome) -> Applied {
        self.in_flight_since = None;
        let FetchOutcome::Response {
            status,
            cache_control,
            age,
            etag,
            body,
        } = outcome
        else {
            self.failed(now);
            let cause = match outcome {
                FetchOutcome::Unreachable(cause) => cause,
                _ => String::from("no response (network error or timeout)"),
            };
            self.last_failure = Some((now, None, cause));
            return Applied::Failed;
        };
        let ttl = |cc: &Option<String>, age: &Option<String>| -> u64 {
            let age = age
                .as_deref()
                .and_then(|a| a.trim().parse::<u64>().ok())
                .unwrap_or(0);
            match cc.as_deref().and_then(max_age) {
                Some(ma) => ma.saturating_sub(age),
                None => self.config.default_ttl,
            }
            .clamp(
                self.config.min_ttl,
                self.config.max_ttl.max(self.config.min_ttl),
            )
        };
        match status {
            200 => {
                self.fresh_until = now.saturating_add(ttl(&cache_control, &age));
                self.fetched_at = now;
                self.etag = etag;
                self.succeeded();
                self.body = Some(body.clone());
                Applied::Replaced(body)
            }
            304 if self.body.is_some() => {
                self.fresh_until = now.saturating_add(ttl(&cache_control, &age));
                if etag.is_some() {
                    self.etag = etag;
                }
                self.succeeded();
                Applied::Revalidated
            }
            _ => {
                self.failed(now);
                self.last_failure = Some((now, Some(status), msg!("HTTP ", status)));
                Applied::Failed
            }
        }
    }

    /// Consecutive failed fetches (0 after a success).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// What the last failed fetch ran into (empty when none did).
    pub fn last_failure(&self) -> &str {
        self.last_failure
            .as_ref()
            .map_or("", |(_, _, what)| what.as_str())
    }

    /// The held document, if any, regardless of freshness.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// The error to report when nothing usable is held: `kind` is
    /// [`ErrorKind::JwksTimeout`] for a JWKS, [`ErrorKind::RevocationsUnavailable`]
    /// for a revocation list. Both are retryable.
    pub fn unavailable(&self, kind: ErrorKind) -> Error {
        let what = match kind {
            ErrorKind::JwksTimeout => "JWKS",
            ErrorKind::StatusListUnavailable => "status list",
            _ => "revocation list",
        };
        let last_good_at = self.body.as_ref().map(|_| self.fetched_at);
        let (failed_at, status, cause) = match &self.last_failure {
            Some((at, status, cause)) => (Some(*at), *status, cause.clone()),
            None if self.in_flight_since.is_some() => (
                None,
                None,
                String::from("the fetch did not complete in time"),
            ),
            None => (None, None, String::from("not fetched yet")),
        };
        let message = if self.body.is_some() {
            msg!(
                "the ",
                what,
                " is older than the maximum staleness and could not be refreshed (",
                &cause,
                "; last good copy fetched at ",
                self.fetched_at,
                "): failing closed"
            )
        } else if self.last_failure.is_none() && self.in_flight_since.is_none() {
            msg!(
                "no copy of the ",
                what,
                " is held and none was fetched yet: a synchronous verification never fetches (verify asynchronously first, or install it)"
            )
        } else {
            msg!(
                "the ",
                what,
                " could not be fetched (",
                &cause,
                "); no good copy was ever fetched"
            )
        };
        Error::new(kind, message).with_remote(crate::error::RemoteFailure {
            source: String::new(),
            status,
            cause,
            failed_at,
            last_good_at,
        })
    }

    /// A JSON snapshot: `{"body","etag","kid_miss_at","failures","retry_at","fetched_at","fresh_until"}`
    /// (body as text; `etag` and `kid_miss_at` only when known, `failures`
    /// and `retry_at` only while a failed fetch's backoff is pending).
    pub fn snapshot(&self) -> String {
        // Written by hand: serde_json's serializer would cost wasm size.
        let mut out = String::from("{");
        if let Some(b) = &self.body {
            out.push_str("\"body\":");
            json_string(&mut out, &String::from_utf8_lossy(b));
            out.push(',');
        }
        if let Some(e) = &self.etag {
            out.push_str("\"etag\":");
            json_string(&mut out, e);
            out.push(',');
        }
        if let Some(t) = self.last_kid_miss_fetch {
            // Keeps the kid-miss cooldown across isolates and CLI runs.
            out.push_str("\"kid_miss_at\":");
            push_decimal(&mut out, t);
            out.push(',');
        }
        if self.retry_at > 0 {
            // Keeps a failed source's backoff across isolates and CLI runs.
            out.push_str("\"failures\":");
            push_decimal(&mut out, u64::from(self.failures));
            out.push_str(",\"retry_at\":");
            push_decimal(&mut out, self.retry_at);
            out.push(',');
        }
        out.push_str("\"fetched_at\":");
        push_decimal(&mut out, self.fetched_at);
        out.push_str(",\"fresh_until\":");
        push_decimal(&mut out, self.fresh_until);
        out.push('}');
        out
    }

    /// Restores a snapshot taken by [`RemoteState::snapshot`] (keeping this
    /// state's config). The caller must then parse [`RemoteState::body`].
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` if the snapshot is malformed.
    pub fn restore(&mut self, snapshot: &[u8]) -> Result<()> {
        let doc = json::parse_object(snapshot, 4).map_err(|e| snapshot_error(&e))?;
        self.restore_map(&doc)
    }

    /// As [`RemoteState::restore`], from an already parsed snapshot object.
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` if the snapshot is malformed.
    pub fn restore_map(&mut self, doc: &Map<String, Value>) -> Result<()> {
        let num = |k: &str| {
            doc.get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| snapshot_error(k))
        };
        let body = match doc.get("body") {
            Some(Value::String(s)) => Some(s.clone().into_bytes()),
            None => None,
            Some(_) => return Err(snapshot_error("body")),
        };
        let etag = match doc.get("etag") {
            Some(Value::String(s)) => Some(s.clone()),
            None => None,
            Some(_) => return Err(snapshot_error("etag")),
        };
        self.fetched_at = num("fetched_at")?;
        self.fresh_until = num("fresh_until")?;
        self.last_kid_miss_fetch = match doc.get("kid_miss_at") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| snapshot_error("kid_miss_at"))?),
        };
        self.retry_at = match doc.get("retry_at") {
            None => 0,
            Some(v) => v.as_u64().ok_or_else(|| snapshot_error("retry_at"))?,
        };
        self.failures = match doc.get("failures") {
            None => 0,
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| snapshot_error("failures"))?,
        };
        self.body = body;
        self.etag = etag;
        self.in_flight_since = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Reports `outcome` with a parser that takes any body.
    fn accept(s: &mut RemoteState, now: u64, outcome: FetchOutcome) -> Applied {
        s.on_result(now, outcome, |_| Ok(())).0
    }

    #[test]
    fn a_body_that_does_not_parse_is_a_failed_fetch() {
        let mut s = RemoteState::new(RemoteConfig::default());
        let parse = |b: &[u8]| {
            if b.starts_with(b"{") {
                Ok(b.len())
            } else {
                Err(Error::new(ErrorKind::JwksInvalid, "broken"))
            }
        };
        let first = s.on_result(
            0,
            ok(Some("max-age=60"), None, Some("\"v1\""), b"{good}"),
            parse,
        );
        assert_eq!(first, (Applied::Replaced(b"{good}".to_vec()), Some(6)));
        // Stale now; the refetch brings a broken document (and a new ETag).
        assert!(s.plan(61).fetch);
        let broken = s.on_result(
            61,
            ok(Some("max-age=60"), None, Some("\"v2\""), b"<html>"),
            parse,
        );
        assert_eq!(broken, (Applied::Failed, None));
        assert_eq!(s.body(), Some(&b"{good}"[..]));
        assert!(
            s.is_usable(62),
            "the good document stays usable within max_stale"
        );
        assert_eq!(s.plan(200).if_none_match.as_deref(), Some("\"v1\""));
        // A 304 is not a body: the parser is not asked.
        let revalidated = s.on_result(200, status(304), |_| {
            Err::<(), _>(Error::new(ErrorKind::JwksInvalid, "never parsed"))
        });
        assert_eq!(revalidated, (Applied::Revalidated, None));
    }

    fn ok(cc: Option<&str>, age: Option<&str>, etag: Option<&str>, body: &[u8]) -> FetchOutcome {
        FetchOutcome::Response {
            status: 200,
            cache_control: cc.map(String::from),
            age: age.map(String::from),
            etag: etag.map(String::from),
            body: body.to_vec(),
        }
    }

    fn status(code: u16) -> FetchOutcome {
        FetchOutcome::Response {
            status: code,
            cache_control: None,
            age: None,
            etag: None,
            body: vec![],
        }
    }

    #[test]
    fn first_plan_fetches_and_nothing_is_usable_until_it_returns() {
        let mut s = RemoteState::new(RemoteConfig::default());
        let p = s.plan(1000);
        assert!(p.fetch && !p.usable && !p.wait && p.if_none_match.is_none());
        // Single flight: a concurrent caller waits instead of fetching.
        let p2 = s.plan(1001);
        assert!(!p2.fetch && p2.wait && !p2.usable);
        assert_eq!(
            accept(&mut s, 1002, ok(None, None, Some("\"v1\""), b"{}")),
            Applied::Replaced(b"{}".to_vec())
        );
        let p3 = s.plan(1003);
        assert!(p3.usable && !p3.stale && !p3.fetch && !p3.wait);
    }

    #[test]
    fn max_age_minus_age_clamped_and_default_ttl() {
        let cfg = RemoteConfig::default();
        let mut s = RemoteState::new(cfg);
        s.plan(0);
        accept(
            &mut s,
            0,
            ok(Some("public, max-age=300"), Some("100"), None, b"a"),
        );
        assert!(!s.plan(199).stale);
        assert!(s.plan(200).stale, "fresh for max-age - Age = 200 s");
        // Clamped to min_ttl (60 s) and max_ttl (24 h).
        let mut s = RemoteState::new(cfg);
        s.plan(0);
        accept(&mut s, 0, ok(Some("max-age=5"), None, None, b"a"));
        assert!(!s.plan(59).stale && s.plan(60).stale);
        let mut s = RemoteState::new(cfg);
        s.plan(0);
        accept(&mut s, 0, ok(Some("max-age=999999999"), None, None, b"a"));
        assert!(!s.plan(86_399).stale && s.plan(86_400).stale);
        // No max-age: 10 minutes. no-store: clamped up to min_ttl.
        let mut s = RemoteState::new(cfg);
        s.plan(0);
        accept(&mut s, 0, ok(None, None, None, b"a"));
        assert!(!s.plan(599).stale && s.plan(600).stale);
        let mut s = RemoteState::new(cfg);
        s.plan(0);
        accept(&mut s, 0, ok(Some("no-store"), None, None, b"a"));
        assert!(!s.plan(59).stale && s.plan(60).stale);
    }

    #[test]
    fn revalidation_with_etag_and_304_keeps_the_document() {
        let mut s = RemoteState::new(RemoteConfig::default());
        s.plan(0);
        accept(
            &mut s,
            0,
            ok(Some("max-age=100"), None, Some("\"v1\""), b"doc"),
        );
        let p = s.plan(100);
        assert!(p.fetch && p.usable && p.stale);
        assert_eq!(p.if_none_match.as_deref(), Some("\"v1\""));
        assert_eq!(accept(&mut s, 101, status(304)), Applied::Revalidated);
        assert_eq!(s.body(), Some(&b"doc"[..]));
        assert!(!s.plan(101 + 99).stale);
        // A 304 without a held document is a failure, not a revalidation.
        let mut empty = RemoteState::new(RemoteConfig::default());
        empty.plan(0);
        assert_eq!(accept(&mut empty, 0, status(304)), Applied::Failed);
    }

    #[test]
    fn stale_while_revalidate_serves_during_one_refresh() {
        let mut s = RemoteState::new(RemoteConfig::default());
        s.plan(0);
        accept(&mut s, 0, ok(Some("max-age=60"), None, None, b"old"));
        let leader = s.plan(61);
        assert!(
            leader.fetch && leader.usable,
            "stale but served while refreshing"
        );
        for t in 62..65 {
            let p = s.plan(t);
            assert!(
                p.usable && !p.fetch && !p.wait,
                "followers serve stale, no second fetch"
            );
        }
        accept(&mut s, 65, ok(Some("max-age=60"), None, None, b"new"));
        assert_eq!(s.body(), Some(&b"new"[..]));
    }

    #[test]
    fn stale_if_error_up_to_max_stale_then_fail_closed() {
        let cfg = RemoteConfig {
            max_stale: 1000,
            ..RemoteConfig::default()
        };
        let mut s = RemoteState::new(cfg);
        s.plan(0);
        accept(&mut s, 0, ok(Some("max-age=60"), None, None, b"good"));
        // Every refresh fails from here on.
        let mut t = 60;
        while t < 60 + 1000 {
            let p = s.plan(t);
            assert!(p.usable, "served stale at {t}");
            if p.fetch {
                assert_eq!(accept(&mut s, t, FetchOutcome::Failed), Applied::Failed);
            }
            t += 7;
        }
        let p = s.plan(60 + 1000);
        assert!(!p.usable, "past max_stale: fail closed");
        assert_eq!(
            s.unavailable(ErrorKind::JwksTimeout).code(),
            "ERR_JWKS_TIMEOUT"
        );
        assert!(s.unavailable(ErrorKind::JwksTimeout).retryable());
        // A 5xx counts as a failure too and keeps the document.
        let mut s = RemoteState::new(cfg);
        s.plan(0);
        accept(&mut s, 0, ok(Some("max-age=60"), None, None, b"good"));
        s.plan(61);
        assert_eq!(accept(&mut s, 61, status(503)), Applied::Failed);
        assert_eq!(s.body(), Some(&b"good"[..]));
    }

    #[test]
    fn kid_miss_refetch_at_most_once_per_cooldown() {
        let mut s = RemoteState::new(RemoteConfig::default());
        s.plan(0);
        accept(&mut s, 0, ok(Some("max-age=3600"), None, None, b"k1"));
        assert!(s.on_kid_miss(10));
        assert!(!s.on_kid_miss(11), "in flight");
        accept(&mut s, 12, ok(Some("max-age=3600"), None, None, b"k1"));
        let fetches = (13..40).filter(|&t| s.on_kid_miss(t)).count();
        assert_eq!(
            fetches, 0,
            "a flood of unknown kids within the cooldown makes no fetch"
        );
        assert!(s.on_kid_miss(40), "after the 30 s cooldown");
    }

    /// The times at which `s` starts a fetch when every fetch fails at
    /// once, with `per_second` plans a second from `from` to `to`.
    fn attempts(s: &mut RemoteState, from: u64, to: u64, per_second: u32) -> Vec<u64> {
        let mut at = Vec::new();
        for t in from..to {
            for _ in 0..per_second {
                if s.plan(t).fetch {
                    at.push(t);
                    accept(s, t, FetchOutcome::Unreachable("connection refused".into()));
                }
            }
        }
        at
    }

    #[test]
    fn a_refusing_source_is_retried_with_exponential_backoff_up_to_the_cooldown() {
        // Nothing held, 100 requests a second for 2 minutes, every fetch refused:
        // 1, 2, 4, 8, 16 s apart, then every 30 s (the cooldown), not 12,000 times.
        let mut s = RemoteState::new(RemoteConfig::default());
        let at = attempts(&mut s, 0, 120, 100);
        assert_eq!(at, [0, 1, 3, 7, 15, 31, 61, 91]);
        // Back up: the next attempt succeeds and resets the backoff.
        assert!(!s.plan(120).fetch, "still backing off until 121");
        assert!(s.plan(121).fetch);
        accept(&mut s, 121, ok(Some("max-age=60"), None, None, b"k"));
        assert!(s.plan(150).usable);
        let p = s.plan(181);
        assert!(
            p.fetch && p.usable,
            "stale: refreshed at once (no backoff left)"
        );
        accept(&mut s, 181, FetchOutcome::Failed);
        assert!(
            !s.plan(181).fetch && s.plan(182).fetch,
            "the first failure waits 1 s again"
        );
        // An unknown kid does not bypass the backoff either.
        accept(&mut s, 182, status(503));
        assert!(!s.on_kid_miss(183), "backing off until 184");
        assert!(s.on_kid_miss(184));
    }

    #[test]
    fn backoff_never_outlasts_the_stale_if_error_window() {
        let cfg = RemoteConfig {
            max_stale: 20,
            ..RemoteConfig::default()
        };
        let mut s = RemoteState::new(cfg);
        s.plan(0);
        accept(&mut s, 0, ok(Some("max-age=60"), None, None, b"good"));
        // Served until 80 (60 fresh + 20 stale); the backoff (1, 2, 4, 8, 16 s)
        // is cut short so that a last attempt happens at 80, before failing closed.
        let at = attempts(&mut s, 60, 81, 10);
        assert_eq!(at, [60, 61, 63, 67, 75, 80]);
        assert!(!s.plan(80).usable);
    }

    #[test]
    fn jitter_spreads_retries_within_the_upper_half_of_each_delay() {
        let schedule = |seed| {
            let mut s = RemoteState::new(RemoteConfig::default());
            s.set_jitter(seed);
            attempts(&mut s, 0, 300, 1)
        };
        let a = schedule(0x5eed);
        let b = schedule(0xfeed_beef);
        assert_ne!(a, b, "two instances do not retry in step");
        for at in [&a, &b] {
            for (n, pair) in at.windows(2).enumerate() {
                let base = (1u64 << n.min(32)).min(30);
                let gap = pair[1] - pair[0];
                assert!(
                    gap >= base / 2 && gap <= base,
                    "gap {gap} after failure {}",
                    n + 1
                );
            }
        }
        // The seed survives a reset of the document's state.
        let mut s = RemoteState::new(RemoteConfig::default());
        s.set_jitter(7);
        assert_eq!(s.renewed().jitter, 7);
    }

    #[test]
    fn the_backoff_travels_in_the_snapshot() {
        let mut s = RemoteState::new(RemoteConfig::default());
        attempts(&mut s, 0, 4, 1); // failures at 0, 1, 3: next attempt at 7
        let mut r = RemoteState::new(RemoteConfig::default());
        r.restore(s.snapshot().as_bytes()).unwrap();
        assert!(!r.plan(6).fetch, "another isolate keeps backing off");
        assert!(r.plan(7).fetch);
        assert!(r
            .restore(br#"{"fetched_at":0,"fresh_until":0,"retry_at":"x"}"#)
            .is_err());
    }

    #[test]
    fn a_fetch_that_never_reports_times_out() {
        let mut s = RemoteState::new(RemoteConfig::default());
        assert!(s.plan(0).fetch);
        assert!(s.plan(4).wait);
        let p = s.plan(5);
        assert!(p.fetch, "after the 5 s timeout a new flight starts");
    }

    #[test]
    fn snapshot_round_trip() {
        let mut s = RemoteState::new(RemoteConfig::default());
        s.plan(0);
        accept(
            &mut s,
            10,
            ok(Some("max-age=300"), None, Some("\"e\""), br#"{"keys":[]}"#),
        );
        let snap = s.snapshot();
        let mut r = RemoteState::new(RemoteConfig::default());
        r.restore(snap.as_bytes()).unwrap();
        assert_eq!(r.body(), s.body());
        assert!(!r.plan(309).stale && r.plan(310).stale);
        // The flight started at 310 has timed out by 400: a new fetch starts and
        // revalidates with the ETag restored from the snapshot.
        assert_eq!(r.plan(400).if_none_match.as_deref(), Some("\"e\""));
        assert!(r.restore(b"{\"fetched_at\":\"x\"}").is_err());
        // Bodies with quotes, backslashes and control characters survive.
        let mut q = RemoteState::new(RemoteConfig::default());
        q.plan(0);
        accept(
            &mut q,
            0,
            ok(None, None, Some("W/\"x\""), b"{\"a\":\"b\\\\c\\n\x01\"}"),
        );
        let mut r2 = RemoteState::new(RemoteConfig::default());
        r2.restore(q.snapshot().as_bytes()).unwrap();
        assert_eq!(r2.body(), q.body());
    }
}
