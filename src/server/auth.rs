//! The front of every authenticated endpoint: the client's source address
//! ([`source_of`]), the throttle of failed authentications ([`Throttle`]),
//! parsing and admission ([`admit`]), the writer's answer ([`ask`],
//! [`authenticated`]) and the mapping of a refusal ([`refused`]).

use std::borrow::ToOwned;
use std::net::{IpAddr, SocketAddr};
use std::string::String;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use tokio::sync::oneshot;

use crate::issuer::{ClientFailure, Credential, Error, Refusal};

use super::app::AppState;
use super::error::{ApiError, ErrorCode};
use super::limit;
use super::reply::header_str;
use super::token::{self, AuthMethod};
use super::writer::Job;

/// The client's address for throttling (the TCP peer, or the forwarded
/// address when the peer is a trusted proxy).
pub(crate) fn source_of(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    limit::client_addr(
        peer.ip(),
        &state.trusted_proxies,
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// One authenticated request's throttling context.
pub(crate) struct Throttle<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) source: IpAddr,
    pub(crate) client: Option<String>,
}

impl Throttle<'_> {
    fn blocked(&self) -> Option<Duration> {
        self.state
            .limiter
            .lock()
            .ok()
            .and_then(|l| l.blocked(self.client.as_deref(), self.source, Instant::now()))
    }

    fn failed(&self) {
        if let Ok(mut l) = self.state.limiter.lock() {
            l.record_failure(self.client.as_deref(), self.source, Instant::now());
        }
    }
}

/// Checks the throttle before parsing finishes: a parse error that is a
/// failed authentication counts against the source.
fn parse_failed(state: &AppState, source: IpAddr, e: ApiError) -> ApiError {
    let t = Throttle {
        state,
        source,
        client: None,
    };
    if let Some(wait) = t.blocked() {
        return ApiError::throttled(wait);
    }
    if e.is_invalid_client() {
        t.failed();
    }
    // Parse errors of client authentication: Basic was used (and was
    // malformed) or nothing was sent; either way the challenge applies.
    e.challenged(true)
}

/// A request parser: content type, `Authorization`, body.
pub(crate) type Parser<R> = fn(Option<&str>, Option<&str>, &[u8]) -> Result<R, ApiError>;

/// The front of every authenticated endpoint: the request parsed (a
/// malformed client authentication counts against the source) and the
/// source's throttle checked; `Err` is the answer to send.
pub(crate) fn admit<'a, R>(
    state: &'a AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
    parse: Parser<R>,
    auth: fn(&R) -> &token::ClientAuth,
) -> Result<(R, Throttle<'a>), (ApiError, &'static str)> {
    let source = source_of(state, peer, headers);
    let req = parse(
        header_str(headers, header::CONTENT_TYPE),
        header_str(headers, header::AUTHORIZATION),
        body,
    )
    .map_err(|e| {
        let reason = match e.code() {
            ErrorCode::InvalidClient => "malformed_client",
            _ => "invalid_request",
        };
        (parse_failed(state, source, e), reason)
    })?;
    let t = Throttle {
        state,
        source,
        client: token::normalise_client_id(&auth(&req).client_id).map(str::to_owned),
    };
    if let Some(wait) = t.blocked() {
        tracing::info!(target: "jwt_edge::server", client_id = t.client.as_deref().unwrap_or("-"), %source, "request throttled");
        return Err((ApiError::throttled(wait), "throttled"));
    }
    Ok((req, t))
}

/// Sends a job to the writer and waits for its answer.
pub(crate) async fn ask<T>(
    state: &AppState,
    job: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Job,
) -> Result<T, Error> {
    let (reply, answer) = oneshot::channel();
    if state.jobs.send(job(reply)).await.is_err() {
        return Err(Error::storage("stopping"));
    }
    answer
        .await
        .unwrap_or_else(|_| Err(Error::storage("the store writer stopped")))
}

/// Sends a client's job to the writer. When the writer answers that the
/// client's `jwks_uri` must be fetched first (a `private_key_jwt` client
/// whose keys are not held, stale, or lack the assertion's `kid`), fetches
/// it and asks again with what came back: at most two fetches.
pub(crate) async fn ask_as_client<T>(
    state: &AppState,
    auth: &token::ClientAuth,
    mut job: impl FnMut(Credential, oneshot::Sender<Result<T, Error>>) -> Job,
) -> Result<T, Error> {
    let mut fetched = None;
    for _ in 0..3 {
        let credential = auth.credential(fetched.take());
        let e = match ask(state, |reply| job(credential, reply)).await {
            Err(e) => e,
            done => return done,
        };
        let Some((url, timeout)) = e.fetch() else {
            return Err(e);
        };
        let (f, made) = state.jwks_fetcher.fetch(url, timeout).await;
        if made {
            if let crate::FetchOutcome::Unreachable(why) = &f.outcome {
                tracing::info!(target: "jwt_edge::server", client_id = %auth.client_id, "a client's jwks_uri fetch failed: {why}");
            }
            state.metrics.jwks_uri_fetch(&f.outcome);
        }
        fetched = Some(f);
    }
    Err(Error::refused_for(
        Refusal::Client(ClientFailure::KeysUnavailable),
        "the client's jwks_uri kept asking to be fetched",
    ))
}

/// The common path of `/revoke`, `/introspect` and `/client/rotate`: the
/// request admitted ([`admit`]), its job answered by the writer, a refusal
/// mapped ([`refused`]). `job` builds the job from the request and the
/// client's credential (it may be called again after a key fetch).
pub(crate) async fn authenticated<'a, R, T>(
    state: &'a AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
    parse: Parser<R>,
    auth: fn(&R) -> &token::ClientAuth,
    job: impl Fn(&R, Credential, oneshot::Sender<Result<T, Error>>) -> Job,
) -> Result<(T, R, Throttle<'a>), ApiError> {
    let (req, t) = admit(state, peer, headers, body, parse, auth).map_err(|(e, _)| e)?;
    let method = auth(&req).method;
    match ask_as_client(state, auth(&req), |c, reply| job(&req, c, reply)).await {
        Ok(v) => {
            state.metrics.authenticated(method);
            Ok((v, req, t))
        }
        Err(e) => Err(refused(&t, method, &e)),
    }
}

/// Maps an issuer outcome's error, counting failed authentications; the
/// challenge goes to a client that used HTTP Basic.
pub(crate) fn refused(t: &Throttle<'_>, method: AuthMethod, e: &Error) -> ApiError {
    let answer = ApiError::from_issuer(e);
    if answer.is_invalid_client() {
        t.failed();
    }
    if answer.status().is_server_error() {
        tracing::error!(target: "jwt_edge::server", code = e.code(), "request failed: {}", e.message());
    } else {
        tracing::info!(target: "jwt_edge::server", client_id = t.client.as_deref().unwrap_or("-"), source = %t.source, error = answer.code().as_str(), "request refused");
    }
    answer.challenged(method == AuthMethod::Basic)
}
