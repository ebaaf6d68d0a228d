//! The remote sources (JWKS, metadata, revocation list, status lists): their
//! names, their freshness before a verification, and the fetches reported back.

use super::*;

/// A document the caller fetches for the validator.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The remote JWKS of trusted issuer `n` (0 in the single-issuer form).
    Jwks(usize),
    /// The remote signed revocation list.
    Revocations,
    /// Remote Token Status List `n` (fetched from the URI tokens name, under
    /// an allowed prefix; [`FetchRequest::url`]).
    StatusList(usize),
    /// The authorization server metadata of trusted issuer `n` (RFC 8414,
    /// else OpenID Connect Discovery), whose `jwks_uri` locates its JWKS
    /// ([`IssuerOptions::discover`]; [`FetchRequest::url`]).
    Metadata(usize),
}

impl Source {
    /// Its stable name: `jwks` (single issuer), `jwks:N` (issuer N of the
    /// multi-issuer form) or `revocations`; also the keys of
    /// [`Validator::export_cache`].
    pub fn name(self, multi: bool) -> String {
        match self {
            Source::Jwks(n) if multi => msg!("jwks:", n),
            Source::Jwks(_) => String::from("jwks"),
            Source::Revocations => String::from("revocations"),
            Source::StatusList(n) => msg!("statuslist:", n),
            Source::Metadata(n) if multi => msg!("metadata:", n),
            Source::Metadata(_) => String::from("metadata"),
        }
    }
}

/// A remote Token Status List: its URI, the issuer whose keys verify it,
/// its fetch state, and when a token last named it.
#[derive(Debug)]
pub(super) struct StatusSource {
    pub(super) uri: String,
    pub(super) trust: usize,
    pub(super) state: RemoteState,
    pub(super) used: u64,
}

impl StatusSource {
    /// [`ensure`] for this list; a fetch carries the list's URI.
    /// [`Validator::begin`]'s freshness step for one source.
    pub(super) fn ensure(
        &mut self,
        source: Source,
        multi: bool,
        now: u64,
        fetch: bool,
    ) -> Result<Option<Step<'static>>> {
        Ok(
            ensure(Some(&mut self.state), source, multi, now, fetch)?.map(|step| match step {
                Step::Fetch(mut f) => {
                    f.url = Some(self.uri.clone());
                    Step::Fetch(f)
                }
                other => other,
            }),
        )
    }
}

impl Validator {
    /// Makes sure the sources trust `trust` depends on are usable; a step
    /// for the caller when it must fetch or wait first.
    /// A source already fetched during this verification (`fetched`) is
    /// not fetched again: what is held is used, or it fails closed.
    pub(super) fn ensure_sources(
        &mut self,
        trust: usize,
        now: u64,
        fetch: bool,
        fetched: &[Source],
    ) -> Result<Option<Step<'static>>> {
        let multi = self.multi;
        let may = |s: Source| fetch && !fetched.contains(&s);
        let mut jwks_url = None;
        if let Some(d) = self
            .trusts
            .get_mut(trust)
            .and_then(|t| t.discovery.as_mut())
        {
            let source = Source::Metadata(trust);
            // After a 404 from RFC 8414's URL, OpenID's is fetched in the
            // same verification: two fetches of this source at most.
            let done = fetched.iter().filter(|s| **s == source).count();
            let may = fetch && done < 1 + usize::from(d.which);
            let url = d.url();
            match ensure(Some(&mut d.state), source, multi, now, may)? {
                Some(Step::Fetch(mut f)) => {
                    f.url = url;
                    return Ok(Some(Step::Fetch(f)));
                }
                Some(step) => return Ok(Some(step)),
                None => {}
            }
            if d.jwks_uri.is_none() {
                // Usable metadata restored from a snapshot: read it again.
                let issuer = d.issuer.clone();
                d.jwks_uri = d.state.body().and_then(|b| parse_metadata(b, &issuer).ok());
            }
            jwks_url = d.jwks_uri.clone();
            if jwks_url.is_none() {
                return Err(self.unavailable(Source::Metadata(trust)));
            }
        }
        let jwks = self.trusts.get_mut(trust).and_then(|t| t.remote.as_mut());
        let source = Source::Jwks(trust);
        match ensure(jwks, source, multi, now, may(source))? {
            Some(Step::Fetch(mut f)) => {
                f.url = jwks_url;
                return Ok(Some(Step::Fetch(f)));
            }
            Some(step) => return Ok(Some(step)),
            None => {}
        }
        let source = Source::Revocations;
        ensure(
            self.revocations_remote.as_mut(),
            source,
            multi,
            now,
            may(source),
        )
    }

    /// Whether the status list at `uri` may be fetched for issuer `trust`.
    pub(super) fn status_allowed(&self, trust: usize, uri: &str) -> bool {
        let Some((_, prefixes)) = &self.status_remote else {
            return false;
        };
        if !prefixes.is_empty() {
            return prefixes.iter().any(|p| uri.starts_with(p.as_str()));
        }
        // The issuer's own origin: scheme://host[:port]/
        let Some(t) = self.trusts.get(trust) else {
            return false;
        };
        let iss = t
            .issuer
            .as_deref()
            .or_else(|| t.policy.issuers.first().map(String::as_str));
        let origin = iss.and_then(|iss| {
            let rest = iss
                .strip_prefix("https://")
                .map(|r| ("https://", r))
                .or_else(|| iss.strip_prefix("http://").map(|r| ("http://", r)))?;
            let host = rest.1.split('/').next().filter(|h| !h.is_empty())?;
            Some(msg!(rest.0, host, "/"))
        });
        origin.is_some_and(|o| uri.starts_with(o.as_str()))
    }

    /// The status list a token names: a fetch when it is not held (or
    /// stale), nothing when it is fresh. Only allowed URIs are ever fetched.
    pub(super) fn ensure_status(
        &mut self,
        trust: usize,
        claims: &serde_json::Map<String, Value>,
        now: u64,
        fetch: bool,
        fetched: &[Source],
    ) -> Result<Option<Step<'static>>> {
        let Some((config, _)) = &self.status_remote else {
            return Ok(None);
        };
        let config = *config;
        if !self
            .trusts
            .get(trust)
            .is_some_and(|t| t.policy.check_status)
        {
            return Ok(None);
        }
        let Some(r) = crate::status_list::status_ref(claims)? else {
            return Ok(None);
        };
        if !self.status_allowed(trust, r.uri) {
            return Err(Error::new(
                ErrorKind::StatusListInvalid,
                msg!(
                    "the token's status list ",
                    Truncated(r.uri),
                    " is not under an allowed prefix (statusListPrefixes; default: the issuer's origin); it is not fetched"
                ),
            ));
        }
        let found = self
            .status_sources
            .iter()
            .position(|s| s.trust == trust && s.uri == r.uri);
        let n = match found {
            Some(n) => n,
            None => {
                let mut state = RemoteState::new(config);
                state.set_jitter(self.jitter);
                let fresh = StatusSource {
                    uri: String::from(r.uri),
                    trust,
                    state,
                    used: now,
                };
                if self.status_sources.len() < crate::status_list::MAX_HELD_STATUS_LISTS {
                    self.status_sources.push(fresh);
                    self.status_sources.len() - 1
                } else {
                    // Replace the least recently named list (its slot keeps
                    // its number; a fetch still in flight for the old URI
                    // then fails verification and counts as failed).
                    let n = self
                        .status_sources
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.used)
                        .map_or(0, |(n, _)| n);
                    if let Some(s) = self.status_sources.get_mut(n) {
                        *s = fresh;
                    }
                    n
                }
            }
        };
        let source = Source::StatusList(n);
        let may = fetch && !fetched.contains(&source);
        let multi = self.multi;
        let Some(s) = self.status_sources.get_mut(n) else {
            return Ok(None);
        };
        s.used = now;
        s.ensure(source, multi, now, may)
    }

    pub(super) fn remote_mut(&mut self, source: Source) -> Option<&mut RemoteState> {
        match source {
            Source::Jwks(n) => self.trusts.get_mut(n)?.remote.as_mut(),
            Source::Revocations => self.revocations_remote.as_mut(),
            Source::StatusList(n) => self.status_sources.get_mut(n).map(|s| &mut s.state),
            Source::Metadata(n) => self
                .trusts
                .get_mut(n)?
                .discovery
                .as_mut()
                .map(|d| &mut d.state),
        }
    }

    pub(super) fn remote(&self, source: Source) -> Option<&RemoteState> {
        match source {
            Source::Jwks(n) => self.trusts.get(n)?.remote.as_ref(),
            Source::Revocations => self.revocations_remote.as_ref(),
            Source::StatusList(n) => self.status_sources.get(n).map(|s| &s.state),
            Source::Metadata(n) => self.trusts.get(n)?.discovery.as_ref().map(|d| &d.state),
        }
    }

    /// Where a discovered issuer's documents are: its metadata URL, or the
    /// `jwks_uri` its metadata named (`None`: the caller's configured URL).
    pub(super) fn fetch_url(&self, source: Source) -> Option<String> {
        match source {
            Source::Metadata(n) => self.trusts.get(n)?.discovery.as_ref()?.url(),
            Source::Jwks(n) => self.trusts.get(n)?.discovery.as_ref()?.jwks_uri.clone(),
            _ => None,
        }
    }

    /// The error a source with nothing usable gives (fail closed).
    pub fn unavailable(&self, source: Source) -> Error {
        let kind = source_kind(source);
        match self.remote(source) {
            Some(state) => state.unavailable(kind),
            None => RemoteState::default().unavailable(kind),
        }
        .for_source(source.name(self.multi))
    }

    /// The remote sources, by name (see [`Source::name`]).
    pub fn sources(&self) -> Vec<(Source, String)> {
        let mut out = Vec::new();
        for (n, t) in self.trusts.iter().enumerate() {
            // Metadata first: it says where the JWKS is.
            if t.discovery.is_some() {
                out.push((Source::Metadata(n), Source::Metadata(n).name(self.multi)));
            }
            if t.remote.is_some() {
                out.push((Source::Jwks(n), Source::Jwks(n).name(self.multi)));
            }
        }
        if self.revocations_remote.is_some() {
            out.push((Source::Revocations, Source::Revocations.name(self.multi)));
        }
        out
    }

    /// The source called `name`, if configured (or, for `statuslist:N`,
    /// seen in a token).
    pub fn source(&self, name: &str) -> Option<Source> {
        if let Some(n) = name.strip_prefix("statuslist:") {
            let n: usize = n.parse().ok()?;
            return (n < self.status_sources.len()).then_some(Source::StatusList(n));
        }
        self.sources()
            .into_iter()
            .find(|(_, n)| n == name)
            .map(|(s, _)| s)
    }

    /// Reports a fetch of `source` (a [`Step::Fetch`]). A body that does not
    /// parse (a JWKS) or verify (a revocation list) counts as a failed fetch,
    /// so a broken deploy never replaces good data. Returns whether new data
    /// was installed.
    ///
    /// # Errors
    /// `ERR_INVALID_OPTIONS` for a source that is not configured or a bad
    /// `now`; `ERR_REVOCATION_LIST_INVALID` for a verified list with an older epoch.
    pub fn on_fetch(&mut self, source: Source, now: u64, outcome: FetchOutcome) -> Result<bool> {
        check_now(now)?;
        let before = self.remote(source).map_or(0, RemoteState::failures);
        let installed = self.apply_fetch(source, now, outcome);
        self.note_health(source, before, now);
        installed
    }

    /// The one log line for a source whose health changed with the last
    /// fetch reported (it began failing, or came back), if any; taken once.
    /// A host logs it (the npm package with `console.warn`), so a source
    /// that stays down costs one line, not one per attempt.
    pub fn take_notice(&mut self) -> Option<String> {
        self.notice.take()
    }

    pub(super) fn note_health(&mut self, source: Source, before: u32, now: u64) {
        let Some(state) = self.remote(source) else {
            return;
        };
        let after = state.failures();
        let name = || source.name(self.multi);
        if before == 0 && after > 0 {
            let what = if state.is_usable(now) {
                "the held copy is served meanwhile"
            } else {
                "verifications that need it fail closed meanwhile"
            };
            self.notice = Some(msg!(
                "jwt-edge: remote source ",
                name().as_str(),
                " could not be fetched (",
                state.last_failure(),
                "); retrying with backoff; ",
                what
            ));
        } else if before > 0 && after == 0 {
            self.notice = Some(msg!(
                "jwt-edge: remote source ",
                name().as_str(),
                " fetched again after ",
                u64::from(before),
                " failed attempts"
            ));
        }
    }

    pub(super) fn apply_fetch(
        &mut self,
        source: Source,
        now: u64,
        outcome: FetchOutcome,
    ) -> Result<bool> {
        let parsed = match source {
            Source::Jwks(n) => {
                let Some(t) = self.trusts.get_mut(n) else {
                    return Err(invalid_options("no such remote source"));
                };
                let secrets = &t.secrets;
                let Some(remote) = t.remote.as_mut() else {
                    return Err(invalid_options("no such remote source"));
                };
                remote
                    .on_result(now, outcome, |body| parse_jwks(body, secrets))
                    .1
                    .map(Installed::Keys)
            }
            Source::Revocations => {
                let trusts = &self.trusts;
                let multi = self.multi;
                let Some(remote) = self.revocations_remote.as_mut() else {
                    return Err(invalid_options("no such remote source"));
                };
                remote
                    .on_result(now, outcome, |body| verify_list(body, trusts, multi, true))
                    .1
                    .map(Installed::List)
            }
            Source::Metadata(n) => {
                let Some(t) = self.trusts.get_mut(n) else {
                    return Err(invalid_options("no such remote source"));
                };
                let Some(d) = t.discovery.as_mut() else {
                    return Err(invalid_options("no such remote source"));
                };
                let not_found = matches!(outcome, FetchOutcome::Response { status: 404, .. });
                if not_found && d.which == 0 && d.state.body().is_none() {
                    // No RFC 8414 metadata: OpenID Connect Discovery next.
                    d.which = 1;
                    d.state = d.state.renewed();
                    return Ok(false);
                }
                let issuer = d.issuer.clone();
                let found = d
                    .state
                    .on_result(now, outcome, |body| parse_metadata(body, &issuer))
                    .1;
                let Some(uri) = found else {
                    return Ok(false);
                };
                if d.jwks_uri.as_deref() != Some(uri.as_str()) {
                    let moved = d.jwks_uri.is_some();
                    d.jwks_uri = Some(uri);
                    if moved {
                        // The keys moved: fetch them from the new place
                        // (the held ones serve until then).
                        if let Some(r) = t.remote.as_mut() {
                            *r = r.renewed();
                        }
                    }
                }
                return Ok(true);
            }
            Source::StatusList(n) => {
                let Some(StatusSource {
                    uri, trust, state, ..
                }) = self.status_sources.get_mut(n)
                else {
                    return Err(invalid_options("no such remote source"));
                };
                let Some(t) = self.trusts.get(*trust) else {
                    return Err(invalid_options("no such remote source"));
                };
                let trust = *trust;
                state
                    .on_result(now, outcome, |body| {
                        let text = core::str::from_utf8(body).map_err(|_| {
                            Error::new(ErrorKind::StatusListInvalid, "the status list is not UTF-8")
                        })?;
                        verify::verify_status_list(text, uri, &t.keys, &t.policy, now)
                    })
                    .1
                    .map(|list| Installed::Status(trust, list))
            }
        };
        match parsed {
            Some(doc) => self.install(source, doc).map(|()| true),
            None => Ok(false),
        }
    }
}

/// The error kind of a source with nothing usable.
pub(super) fn source_kind(source: Source) -> ErrorKind {
    match source {
        Source::Jwks(_) | Source::Metadata(_) => ErrorKind::JwksTimeout,
        Source::Revocations => ErrorKind::RevocationsUnavailable,
        Source::StatusList(_) => ErrorKind::StatusListUnavailable,
    }
}

pub(super) fn ensure(
    state: Option<&mut RemoteState>,
    source: Source,
    multi: bool,
    now: u64,
    fetch: bool,
) -> Result<Option<Step<'static>>> {
    let Some(state) = state else {
        return Ok(None);
    };
    let kind = source_kind(source);
    if !fetch {
        return if state.is_usable(now) {
            Ok(None)
        } else {
            Err(state.unavailable(kind).for_source(source.name(multi)))
        };
    }
    let plan = state.plan(now);
    let timeout = state.config().timeout;
    if plan.fetch {
        return Ok(Some(Step::Fetch(FetchRequest {
            source,
            name: source.name(multi),
            if_none_match: plan.if_none_match,
            blocking: !plan.usable,
            timeout,
            kid_miss: false,
            url: None,
        })));
    }
    if plan.usable {
        return Ok(None);
    }
    if plan.wait {
        return Ok(Some(Step::Wait {
            source,
            poll_ms: 5,
            timeout,
        }));
    }
    Err(state.unavailable(kind).for_source(source.name(multi)))
}
