//! DPoP (RFC 9449) at the token endpoint: the proof a token request comes
//! with is checked by the core's rules (`crate::dpop`, the same code the
//! Validator runs), with `htm` = `POST` and `htu` = the token endpoint's
//! public URL; its `jti` is then remembered in the store by the issuance
//! (so every replica refuses a replay), and the token is bound to its key.

use std::string::String;
use std::vec::Vec;

use axum::http::HeaderMap;

use crate::dpop::proof::{self, Expected};
use crate::dpop::DpopConfig;
use crate::error::ErrorKind;
use crate::issuer::DpopBinding;

use super::error::{ApiError, ErrorCode};

/// Clock leeway for a proof's `iat` (seconds), beside its window.
const LEEWAY: u64 = 5;

/// What the token endpoint accepts of DPoP.
#[derive(Debug, Clone)]
pub(crate) struct TokenDpop {
    pub(crate) config: DpopConfig,
    /// The token endpoint's public URL (the proofs' `htu`).
    pub(crate) token_url: String,
}

/// Why a proof was refused, for `/metrics` (`dpop_<reason>`).
pub(crate) fn reason(e: &ApiError) -> &'static str {
    match e.code() {
        ErrorCode::UseDpopNonce => "dpop_nonce",
        _ => "dpop_invalid",
    }
}

impl TokenDpop {
    /// The proof of a token request, checked: `None` without a `DPoP`
    /// header.
    ///
    /// # Errors
    /// `invalid_dpop_proof`, or `use_dpop_nonce` with the nonce to send.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<Option<DpopBinding>, ApiError> {
        let mut values: Vec<&str> = Vec::new();
        for v in headers.get_all("dpop") {
            values.push(
                v.to_str()
                    .map_err(|_| ApiError::invalid_dpop_proof("the DPoP header is not ASCII"))?,
            );
        }
        if values.is_empty() {
            return Ok(None);
        }
        let refuse = |e: crate::Error| match e.kind() {
            ErrorKind::DpopNonceRequired => ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                ErrorCode::UseDpopNonce,
                e.message(),
            )
            .dpop_nonce(self.config.nonce(now)),
            _ => ApiError::invalid_dpop_proof(e.message()).dpop_nonce(self.config.nonce(now)),
        };
        let value = proof::single(&values).map_err(refuse)?;
        let expected = Expected {
            method: "POST",
            url: &self.token_url,
            access_token: None,
            leeway: LEEWAY,
            now,
        };
        // No key cache here: the signature is checked in Rust right away.
        let mut keys = proof::ProofKeys::default();
        let checked = proof::check(&self.config, &mut keys, value, &expected).map_err(refuse)?;
        if !checked.check_in_rust().map_err(refuse)? {
            return Err(ApiError::invalid_dpop_proof(
                "the DPoP proof's signature does not verify with its jwk",
            ));
        }
        Ok(Some(DpopBinding {
            jkt: checked.jkt(),
            proof_id: crate::b64::encode(&checked.replay_key),
            expires_at: checked.expires_at(),
        }))
    }
}
