//! The public documents: the JWKS, the signed revocation list, the Token
//! Status Lists and the RFC 8414 metadata; their cache lifetimes, their
//! `ETag`s, and how long each is served without a successful refresh.

use std::format;
use std::string::String;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::issuer::Settings;
use crate::server::app::AppState;
use crate::server::error::ApiError;
use crate::server::reply::header_str;
use crate::server::writer::{self, Doc};

/// `max-age` of the JWKS: at most the policy's `jwks-max-age`, and at most
/// half the pre-publication period, so that every cache has fetched a new
/// key at least once before it signs.
pub fn jwks_max_age(s: &Settings) -> u64 {
    s.jwks_max_age.min(s.pre_publish / 2).max(1)
}

/// `max-age` of the revocation list: one minute (or the JWKS's, if shorter).
pub fn revocations_max_age(s: &Settings) -> u64 {
    jwks_max_age(s).min(60)
}

/// The client authentication methods of every authenticated endpoint.
const AUTH_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];

/// The RFC 8414 metadata document.
pub fn metadata(
    s: &Settings,
    public_url: &str,
    dpop: &crate::DpopConfig,
    assertions: &crate::issuer::AssertionRules,
) -> Value {
    let base = public_url.trim_end_matches('/');
    let assertion_algs = assertions.algorithm_names();
    let dpop_algs: std::vec::Vec<&str> =
        dpop.allowed_algorithms().iter().map(|a| a.name()).collect();
    json!({
        "issuer": s.issuer,
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint": format!("{base}/revoke"),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint": format!("{base}/introspect"),
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        // Not registered by RFC 8414: the algorithm access tokens and the
        // revocation list are signed with, and where the list is.
        "access_token_signing_alg_values_supported": s
            .algorithms()
            .map(crate::Algorithm::name)
            .collect::<std::vec::Vec<_>>(),
        "revocation_list_uri": format!("{base}/revocations"),
        // Token Status Lists (draft-ietf-oauth-status-list) are at
        // `<this>/<n>`; tokens name theirs in `status.status_list.uri`.
        "status_list_endpoint": format!("{base}/statuslists"),
        // RFC 9449 §5.1: the token endpoint binds tokens to DPoP proofs
        // signed with these.
        "dpop_signing_alg_values_supported": dpop_algs,
    })
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    header_str(headers, header::IF_NONE_MATCH).is_some_and(|v| {
        v.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
        })
    })
}

/// A published document with its `ETag` and `Cache-Control`, or 304 when
/// the client's copy is current.
fn cached(headers: &HeaderMap, doc: &Doc, content_type: &'static str, max_age: u64) -> Response {
    let mut res = if matches_etag(headers, &doc.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Body::from(doc.body.clone()).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&doc.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    res
}

/// 503 before the first publication.
fn unavailable() -> Response {
    ApiError::temporarily_unavailable("nothing is published yet").into_response()
}

/// 503 for a document kept in memory past its staleness limit (the store
/// has been unreachable that long).
fn too_stale(what: &str, age: Duration) -> Response {
    ApiError::temporarily_unavailable(format!(
        "the issuer's store has been unreachable for {} s; the last {what} is too old to serve",
        age.as_secs()
    ))
    .retry_after(5)
    .into_response()
}

/// How long the JWKS is served from memory without a successful refresh:
/// half the pre-publication period (a cache may keep it `max-age` more,
/// which is at most as long), so a key activated elsewhere in the meantime
/// was in it, or the served copy expires before that key signs.
pub fn jwks_stale_limit(s: &Settings) -> Duration {
    Duration::from_secs((s.pre_publish / 2).max(60))
}

/// How long the signed revocation list is served from memory without a
/// successful refresh: 15 minutes, so that revocations recorded through
/// another replica reach validators within that bound or they see errors.
pub const REVOCATIONS_STALE_LIMIT: Duration = Duration::from_secs(15 * 60);

/// `GET /.well-known/jwks.json`.
pub(crate) async fn jwks(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match writer::current(&state.published) {
        Some(p) if p.refreshed.elapsed() > state.jwks_stale_limit => {
            too_stale("JWKS", p.refreshed.elapsed())
        }
        Some(p) => cached(&headers, &p.jwks, "application/json", state.jwks_max_age),
        None => unavailable(),
    }
}

/// `GET /revocations`: the signed revocation list.
pub(crate) async fn revocations(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    match writer::current(&state.published) {
        Some(p) if p.refreshed.elapsed() > REVOCATIONS_STALE_LIMIT => {
            too_stale("revocation list", p.refreshed.elapsed())
        }
        Some(p) => cached(
            &headers,
            &p.revocations,
            "application/jwt",
            state.revocations_max_age,
        ),
        None => unavailable(),
    }
}

/// `GET /statuslists/{n}`: a signed Token Status List.
pub(crate) async fn status_list(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(list): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let doc = list.parse::<u64>().ok().and_then(|n| {
        writer::current(&state.published).and_then(|p| p.status_lists.get(&n).cloned())
    });
    match doc {
        Some(d) => cached(
            &headers,
            &d,
            "application/statuslist+jwt",
            crate::issuer::service::STATUS_LIST_TTL,
        ),
        None => ApiError::not_found("no such status list").into_response(),
    }
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub(crate) async fn oauth_metadata(State(state): State<Arc<AppState>>) -> Response {
    let mut res = Body::from(state.metadata.clone()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}
