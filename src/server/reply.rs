//! Helpers every answer uses: the JSON response with its no-cache headers,
//! the RFC 6749 §5.2 error answer, and reading a header as text.

use std::string::ToString;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::token::OAuthError;

/// A JSON answer, never cached (`Cache-Control: no-store`, `Pragma: no-cache`).
pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// An RFC 6749 §5.2 error answer. `challenge`: send `WWW-Authenticate:
/// Basic` with a 401 — only when the client used HTTP Basic or sent no
/// credentials (RFC 6749 §5.2; a `client_secret_post` client gets none).
pub(crate) fn oauth_error(e: &OAuthError, challenge: bool) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = json_response(
        status,
        json!({"error": e.error, "error_description": e.description}),
    );
    if e.is_invalid_client() && challenge {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"jwt-edge\", charset=\"UTF-8\""),
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

/// 429 with `Retry-After`.
pub(crate) fn throttled(wait: Duration) -> Response {
    let mut res = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        json!({
            "error": "invalid_request",
            "error_description": "too many failed authentications from this address; retry later",
        }),
    );
    let secs = wait.as_secs().saturating_add(1);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// A header's value, if present and visible ASCII.
pub(crate) fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}
