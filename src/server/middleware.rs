//! The layers around every route: one log line per request
//! ([`log_request`]), the JSON body of error answers made outside the
//! handlers ([`json_errors`]), and the fallback ([`not_found`]).

use std::borrow::ToOwned;
use std::time::Instant;

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

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
    let (mut parts, _) = res.into_parts();
    let mut out = ApiError::for_status(status).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::CONNECTION] {
        if let Some(v) = parts.headers.remove(&name) {
            out.headers_mut().insert(name, v);
        }
    }
    out
}

/// The answer of an unknown path.
pub(crate) async fn not_found() -> Response {
    ApiError::not_found("no such endpoint").into_response()
}
