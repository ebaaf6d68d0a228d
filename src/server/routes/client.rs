//! What an authenticated client does besides obtaining tokens: revoke one
//! (RFC 7009), introspect one (RFC 7662, with the `introspect`
//! permission), rotate its own secret (`POST /client/rotate`).

use std::format;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::issuer::rules::provisioning::Permission;
use crate::issuer::ClientRevocation;
use crate::server::app::AppState;
use crate::server::auth::authenticated;
use crate::server::error::ApiError;
use crate::server::reply::json_response;
use crate::server::token;
use crate::server::writer::{self, Job};

/// A client rotates its own secret: authenticated with its current secret
/// (HTTP Basic or the form, as for `/token`), optional `overlap` (default
/// one day, at most seven). Answers the new secret once, in the RFC 7591
/// field names (`client_id`, `client_secret`, `client_secret_expires_at`),
/// with `previous_secret_expires_at` for the old one.
pub(crate) async fn rotate_endpoint(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = authenticated(
        &state,
        peer,
        &headers,
        &body,
        token::parse_rotate,
        |r| &r.auth,
        |r, credential, reply| Job::RotateSecret(credential, r.overlap, reply),
    )
    .await;
    match answer {
        Ok(((rec, key), _, _)) => {
            let prefix = format!("{}{}_", crate::issuer::rules::provisioning::PREFIX, rec.id);
            let Some(secret) = key.strip_prefix(prefix.as_str()) else {
                // Never an empty `client_secret`: the client would store it.
                tracing::error!(target: "jwt_edge::server", client_id = %rec.id, "the rotated provisioning key does not start with its id; its secret is not answered");
                return ApiError::server_error().into_response();
            };
            json_response(
                StatusCode::OK,
                json!({
                    "client_id": rec.id,
                    "client_secret": secret,
                    "provisioning_key": key.as_str(),
                    "client_secret_expires_at": rec.expires_at,
                    "previous_secret_expires_at": rec.previous.map(|p| p.until),
                }),
            )
        }
        Err(e) => e.into_response(),
    }
}

/// RFC 7009: the client revokes one of its own tokens. 200 with an empty
/// body whether or not the token was known (§2.2).
pub(crate) async fn revoke_endpoint(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = authenticated(
        &state,
        peer,
        &headers,
        &body,
        token::parse_token_param,
        |r| &r.auth,
        |r, credential, reply| Job::Revoke(credential, r.token.clone(), reply),
    )
    .await;
    match answer {
        Ok((outcome, _, t)) => {
            if outcome == ClientRevocation::Revoked {
                tracing::info!(target: "jwt_edge::server", client_id = t.client.as_deref().unwrap_or("-"), "token revoked by its client");
            }
            let mut res = StatusCode::OK.into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => e.into_response(),
    }
}

/// The RFC 7662 members taken from a verified token's claims.
const INTROSPECTION_MEMBERS: [&str; 10] = [
    "scope",
    "cnf",
    "client_id",
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "nbf",
    "jti",
];

/// RFC 7662: whether a token is active (verified by the server's own keys
/// and revocation list, unexpired), and its claims if so. Only clients with
/// the `introspect` permission may ask.
pub(crate) async fn introspect_endpoint(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = authenticated(
        &state,
        peer,
        &headers,
        &body,
        token::parse_token_param,
        |r| &r.auth,
        |_, credential, reply| Job::Authorize(credential, Permission::Introspect, reply),
    )
    .await;
    let req = match answer {
        Ok((_, req, _)) => req,
        Err(e) => return e.into_response(),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut out = Map::new();
    let verified = writer::current(&state.published).and_then(|p| {
        let mut v = p.introspector.lock().ok()?;
        // Introspection reports a bound token as it is (with its `cnf`);
        // the proof is the resource server's to check.
        v.verify_bound(&req.token, crate::Binding::Unchecked, now)
            .ok()
            .map(|ok| ok.claims.clone())
    });
    match verified {
        Some(claims) => {
            out.insert("active".into(), Value::Bool(true));
            for name in INTROSPECTION_MEMBERS {
                if let Some(v) = claims.get(name) {
                    out.insert(name.into(), v.clone());
                }
            }
            // RFC 9449 §6.2: a bound token is of type DPoP.
            let bound = claims.get("cnf").and_then(|c| c.get("jkt")).is_some();
            out.insert(
                "token_type".into(),
                if bound { "DPoP" } else { "Bearer" }.into(),
            );
        }
        None => {
            out.insert("active".into(), Value::Bool(false));
        }
    }
    json_response(StatusCode::OK, Value::Object(out))
}
