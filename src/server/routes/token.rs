//! `POST /token`: the OAuth 2.0 client-credentials grant.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::net::SocketAddr;

use crate::issuer::IssueRequest;
use crate::server::app::AppState;
use crate::server::auth::{admit, ask_as_client, refused};
use crate::server::reply::json_response;
use crate::server::writer::{unix_now, Job};
use crate::server::{metrics, token};

/// `POST /token` (RFC 6749 §4.4): the client authenticated by its
/// provisioning key or its signed assertion (RFC 7523), the token issued by the writer (after the commit of
/// its audit row).
pub(crate) async fn token_endpoint(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let (req, t) = match admit(&state, peer, &headers, &body, token::parse, |r| &r.auth) {
        Ok(v) => v,
        Err((e, reason)) => {
            state.metrics.refused(reason);
            return e.into_response();
        }
    };
    let method = req.auth.method;
    // The proof is checked before the writer sees the request; its jti is
    // remembered by the issuance, after the client authenticated.
    let dpop = match state.dpop.check(&headers, unix_now()) {
        Ok(d) => d,
        Err(e) => {
            state.metrics.refused(crate::server::dpop::reason(&e));
            tracing::info!(target: "jwt_edge::server", source = %t.source, error = e.code().as_str(), "token request refused: {}", e.description());
            return e.into_response();
        }
    };
    let answer = ask_as_client(&state, &req.auth, |credential, reply| {
        Job::Issue(
            IssueRequest {
                credential,
                scope: req.scope.clone(),
                audiences: req.audiences.clone(),
                source: Some(t.source),
                dpop: dpop.clone(),
                ..IssueRequest::default()
            },
            reply,
        )
    })
    .await;
    state
        .metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    match answer {
        Ok(issued) => {
            state.metrics.authenticated(method);
            state
                .metrics
                .issued
                .get_or_create(&metrics::ClientLabel {
                    client_id: issued.client_id.clone(),
                })
                .inc();
            let num = |name: &str| issued.claims.get(name).and_then(Value::as_u64).unwrap_or(0);
            let jkt = issued
                .claims
                .get("cnf")
                .and_then(|c| c.get("jkt"))
                .and_then(Value::as_str);
            tracing::info!(target: "jwt_edge::server", client_id = %issued.client_id, kid = %issued.kid, jkt = jkt.unwrap_or("-"), "token.issue");
            json_response(
                StatusCode::OK,
                json!({
                    "access_token": issued.token,
                    // RFC 9449 §5: a bound token is of type DPoP.
                    "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
                    "expires_in": num("exp").saturating_sub(num("iat")),
                    "scope": issued.claims.get("scope").cloned().unwrap_or(Value::Null),
                }),
            )
        }
        Err(e) => {
            state.metrics.refused(match e.refusal() {
                Some(r) => r.label(),
                None => "unavailable",
            });
            refused(&t, method, &e)
                .dpop_nonce(state.dpop.config.nonce(unix_now()))
                .into_response()
        }
    }
}
