//! Every error answer the server sends: [`ApiError`] (status, `error` code,
//! description, `WWW-Authenticate` and `Retry-After`), rendered as the RFC
//! 6749 §5.2 JSON body, and [`ErrorCode`], the one spelling table of the
//! `error` codes.

use std::string::{String, ToString};
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::issuer::{Error, ErrorKind, Refusal};

use super::reply::json_response;

/// The `error` member of an error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request` (RFC 6749 §5.2): malformed, repeated or missing
    /// parameters; also throttling and the errors made outside the handlers.
    InvalidRequest,
    /// `invalid_client` (RFC 6749 §5.2): client authentication failed.
    InvalidClient,
    /// `invalid_scope` (RFC 6749 §5.2).
    InvalidScope,
    /// `invalid_target` (RFC 8707 §2): an audience the client may not ask for.
    InvalidTarget,
    /// `unauthorized_client` (RFC 6749 §5.2): authenticated, not allowed this call.
    UnauthorizedClient,
    /// `unsupported_grant_type` (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// `temporarily_unavailable` (RFC 6749 §4.1.2.1): the store is
    /// unreachable, nothing is published yet, or a limit is reached.
    TemporarilyUnavailable,
    /// `server_error` (RFC 6749 §4.1.2.1).
    ServerError,
    /// `not_found`: no such endpoint or document (not an RFC 6749 code).
    NotFound,
    /// `invalid_dpop_proof` (RFC 9449 §5): the DPoP proof is missing where
    /// required, malformed, fails a check, or was used before.
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8): retry with the nonce in `DPoP-Nonce`.
    UseDpopNonce,
}

impl ErrorCode {
    /// The code as sent in the `error` member.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::ServerError => "server_error",
            Self::NotFound => "not_found",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `WWW-Authenticate` challenge of a failed HTTP Basic authentication.
const BASIC_CHALLENGE: &str = "Basic realm=\"jwt-edge\", charset=\"UTF-8\"";

/// An error answer: HTTP status, `error` code and `error_description`
/// (never a secret), and the headers that go with it. Its body is JSON in
/// the RFC 6749 §5.2 shape, `{"error":…,"error_description":…}`, never
/// cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    description: String,
    challenge: bool,
    retry_after: Option<u64>,
    dpop_nonce: Option<String>,
}

impl ApiError {
    /// Any error answer: status, code, description.
    pub fn new(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            challenge: false,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    /// `invalid_dpop_proof` (400, RFC 9449 §5).
    pub fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidDpopProof,
            description,
        )
    }

    /// Sends `DPoP-Nonce: <nonce>` (RFC 9449 §8).
    #[must_use]
    pub fn dpop_nonce(mut self, nonce: Option<String>) -> Self {
        self.dpop_nonce = nonce;
        self
    }

    /// `invalid_request` (400).
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            description,
        )
    }

    /// `invalid_target` (400, RFC 8707): an audience the client may not ask for.
    pub fn invalid_target(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidTarget,
            description,
        )
    }

    /// `unsupported_grant_type` (400).
    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedGrantType,
            description,
        )
    }

    /// `invalid_client` (401; with `WWW-Authenticate` when
    /// [challenged](Self::challenged)).
    pub fn invalid_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient,
            "client authentication failed",
        )
    }

    /// `not_found` (404).
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, description)
    }

    /// `temporarily_unavailable` (503), without `Retry-After` (see
    /// [`retry_after`](Self::retry_after)).
    pub fn temporarily_unavailable(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            description,
        )
    }

    /// `server_error` (500): the issuer could not process the request.
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "the issuer could not process the request",
        )
    }

    /// 429 `invalid_request` with `Retry-After` (the wait, rounded up): too
    /// many failed authentications from the source.
    pub fn throttled(wait: Duration) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::InvalidRequest,
            "too many failed authentications from this address; retry later",
        )
        .retry_after(wait.as_secs().saturating_add(1))
    }

    /// The answer for an error status made outside the handlers (405 by the
    /// router, 408 by the timeout, 413 by the body limit, …).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, description) = match status {
            StatusCode::METHOD_NOT_ALLOWED => (
                ErrorCode::InvalidRequest,
                "method not allowed on this endpoint",
            ),
            StatusCode::REQUEST_TIMEOUT => (ErrorCode::InvalidRequest, "the request took too long"),
            StatusCode::PAYLOAD_TOO_LARGE => {
                (ErrorCode::InvalidRequest, "the request body is too large")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                (ErrorCode::InvalidRequest, "unsupported content type")
            }
            StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such endpoint"),
            s if s.is_server_error() => (
                ErrorCode::ServerError,
                "the server could not process the request",
            ),
            _ => (ErrorCode::InvalidRequest, "the request is malformed"),
        };
        Self::new(status, code, description)
    }

    /// Maps an issuer error to its answer. Which of unknown, wrong, expired
    /// or revoked failed a client's authentication is in the audit log, not
    /// in the answer; a store failure is 503 with `Retry-After: 1`.
    pub fn from_issuer(e: &Error) -> Self {
        match (e.kind(), e.refusal()) {
            (ErrorKind::Refused, Some(Refusal::Client(_))) => Self::invalid_client(),
            (ErrorKind::Refused, Some(Refusal::Scope)) => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidScope,
                e.message(),
            ),
            // RFC 8707's code for a target (audience) the client may not ask for.
            (ErrorKind::Refused, Some(Refusal::Audience)) => Self::invalid_target(e.message()),
            // Authenticated, but not allowed this call (RFC 6749 §5.2).
            (ErrorKind::Refused, Some(Refusal::Permission)) => Self::new(
                StatusCode::FORBIDDEN,
                ErrorCode::UnauthorizedClient,
                e.message(),
            ),
            (ErrorKind::Refused, Some(Refusal::Dpop)) => Self::invalid_dpop_proof(e.message()),
            (ErrorKind::Refused, _) => Self::invalid_request(e.message()),
            // The store is unreachable (or failed): nothing was issued, and
            // a retry may succeed (a replica's database failover).
            (ErrorKind::Storage, _) => Self::temporarily_unavailable(
                "the issuer's store is unavailable; nothing was issued, try again",
            )
            .retry_after(1),
            _ => Self::server_error(),
        }
    }

    /// Sends `WWW-Authenticate: Basic` with an `invalid_client` answer when
    /// `yes`: only when the client used HTTP Basic or sent no credentials
    /// (RFC 6749 §5.2; a `client_secret_post` client gets none). Other codes
    /// never carry it.
    #[must_use]
    pub fn challenged(mut self, yes: bool) -> Self {
        self.challenge = yes && self.code == ErrorCode::InvalidClient;
        self
    }

    /// Sends `Retry-After: <secs>`.
    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `error` code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The `error_description` (never a secret).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether this is a failed client authentication (throttled per source).
    pub fn is_invalid_client(&self) -> bool {
        self.code == ErrorCode::InvalidClient
    }

    /// The JSON body: `{"error":…,"error_description":…}`.
    pub fn to_json(&self) -> Value {
        json!({"error": self.code.as_str(), "error_description": self.description})
    }

    /// The JSON body as text (for answers written outside axum).
    pub fn body(&self) -> String {
        self.to_json().to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = json_response(self.status, self.to_json());
        let h = res.headers_mut();
        if self.challenge {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(BASIC_CHALLENGE),
            );
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(v) = self
            .dpop_nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            h.insert("dpop-nonce", v);
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_errors_map_to_codes() {
        let refused = |r| ApiError::from_issuer(&Error::refused_for(r, "no"));
        let client = refused(Refusal::Client(crate::issuer::ClientFailure::Unknown));
        assert_eq!(client.code(), ErrorCode::InvalidClient);
        assert_eq!(client.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(client.description(), "client authentication failed");
        assert_eq!(refused(Refusal::Scope).code(), ErrorCode::InvalidScope);
        assert_eq!(refused(Refusal::Audience).code(), ErrorCode::InvalidTarget);
        let perm = refused(Refusal::Permission);
        assert_eq!(
            (perm.code(), perm.status()),
            (ErrorCode::UnauthorizedClient, StatusCode::FORBIDDEN)
        );
        assert_eq!(refused(Refusal::Request).code(), ErrorCode::InvalidRequest);
        let dpop = refused(Refusal::Dpop);
        assert_eq!(
            (dpop.code(), dpop.status()),
            (ErrorCode::InvalidDpopProof, StatusCode::BAD_REQUEST)
        );
        let store = ApiError::from_issuer(&Error::storage("down"));
        assert_eq!(store.code(), ErrorCode::TemporarilyUnavailable);
        let res = store.into_response();
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
        let crypto = ApiError::from_issuer(&Error::crypto("x"));
        assert_eq!(crypto.code(), ErrorCode::ServerError);
        assert_eq!(
            crypto.description(),
            "the issuer could not process the request"
        );
    }

    #[test]
    fn challenge_only_on_invalid_client() {
        let res = ApiError::invalid_client().challenged(true).into_response();
        assert_eq!(res.headers()[header::WWW_AUTHENTICATE], BASIC_CHALLENGE);
        let res = ApiError::invalid_client().challenged(false).into_response();
        assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
        let res = ApiError::invalid_request("x")
            .challenged(true)
            .into_response();
        assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn body_and_headers() {
        let e = ApiError::throttled(Duration::from_secs(4));
        assert_eq!(
            e.body(),
            r#"{"error":"invalid_request","error_description":"too many failed authentications from this address; retry later"}"#
        );
        let res = e.into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "5");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(res.headers()[header::PRAGMA], "no-cache");
    }
}
