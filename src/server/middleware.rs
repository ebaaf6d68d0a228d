//! The layers around every route: one log line per request
//! ([`log_request`]), the JSON body of error answers made outside the
//! handlers ([`json_errors`]), and the fallback ([`not_found`]).

use std::borrow::ToOwned;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use super::reply::json_response;

/// Logs one line per request: method, path, status, latency (never headers
/// or bodies, which carry credentials and tokens).
pub(crate) async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    if status >= 500 {
        tracing::error!(target: "jwt_edge::server::http", %method, %path, status, micros, "request");
    } else {
        tracing::debug!(target: "jwt_edge::server::http", %method, %path, status, micros, "request");
    }
    res
}

/// Error answers made outside the handlers (405 by the router, 408 by the
/// timeout, 413 by the body limit) get the same JSON body as every other
/// error; their headers (`Allow`, …) are kept.
pub(crate) async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (error, description) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ("invalid_request", "method not allowed on this endpoint")
        }
        StatusCode::REQUEST_TIMEOUT => ("invalid_request", "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => ("invalid_request", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("invalid_request", "unsupported content type"),
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint"),
        s if s.is_server_error() => ("server_error", "the server could not process the request"),
        _ => ("invalid_request", "the request is malformed"),
    };
    let (mut parts, _) = res.into_parts();
    let mut out = json_response(
        status,
        json!({"error": error, "error_description": description}),
    );
    for name in [header::ALLOW, header::RETRY_AFTER, header::CONNECTION] {
        if let Some(v) = parts.headers.remove(&name) {
            out.headers_mut().insert(name, v);
        }
    }
    out
}

/// The answer of an unknown path.
pub(crate) async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        json!({"error": "not_found", "error_description": "no such endpoint"}),
    )
}
