//! The operators' endpoints: `GET /metrics` and `GET /healthz`.

use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::server::app::AppState;
use crate::server::error::ErrorCode;
use crate::server::reply::{header_str, json_response};
use crate::server::writer;

/// `GET /metrics`: OpenMetrics text when the scraper asks for it (Prometheus
/// does), else the Prometheus text format 0.0.4.
pub(crate) async fn metrics_endpoint(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    let open = header_str(&headers, header::ACCEPT)
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let (body, content_type) = if open {
        (
            state.metrics.encode(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (
            state.metrics.encode_prometheus(),
            "text/plain; version=0.0.4; charset=utf-8",
        )
    };
    let mut res = Body::from(body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /healthz`: 200 while the store answers and the documents are
/// fresh (with what needs attention soon), else 503.
pub(crate) async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    // Unhealthy as soon as the store fails (a load balancer sends /token
    // elsewhere; JWKS and revocations are still served from memory).
    if state.metrics.store_up.get() == 0 {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "store_unavailable", "error": ErrorCode::TemporarilyUnavailable.as_str()}),
        );
    }
    // Healthy while the published documents are being refreshed.
    let stale = state.refresh_interval.saturating_mul(3) + Duration::from_secs(5);
    match writer::current(&state.published) {
        // Serving is healthy; what will break soon (expiring provisioning
        // keys, overdue rotation, ...) is reported alongside, as in
        // `jwt-edge status`.
        Some(p) if p.refreshed.elapsed() <= stale => {
            let attention: Vec<Value> = p
                .findings
                .iter()
                .map(crate::issuer::rules::health::Finding::to_json)
                .collect();
            json_response(
                StatusCode::OK,
                json!({"status": "ok", "attention": attention}),
            )
        }
        _ => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "stale", "error": ErrorCode::TemporarilyUnavailable.as_str()}),
        ),
    }
}
