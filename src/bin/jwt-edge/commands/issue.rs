//! `jwt-edge issue`: issues an access token (RFC 9068) with a provisioning key.

use std::process::ExitCode;

use jwt_edge::issuer::IssueRequest;
use serde_json::json;
use zeroize::Zeroizing;

use crate::issuer_io::{dur, read_stdin, usage, with_issuer, Common, Out};

/// Arguments of `jwt-edge issue`.
#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// The provisioning key, or `-` to read it from stdin [else env: JWT_EDGE_PROVISIONING_KEY].
    #[arg(long = "provisioning-key", value_name = "KEY | -")]
    provisioning_key: Option<String>,
    /// Requested scopes, space-separated [default: all the key allows].
    #[arg(long)]
    scope: Option<String>,
    /// Audience (repeatable) [default: the provisioning key's].
    #[arg(long = "aud")]
    aud: Vec<String>,
    /// Token lifetime [default: the issuer's token-ttl, capped by the key's max].
    #[arg(long, value_parser = dur)]
    ttl: Option<u64>,
    /// Extra string claim NAME=VALUE (repeatable; reserved claims refused).
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
    #[command(flatten)]
    common: Common,
}

/// Runs `issue`.
pub fn run(a: &IssueArgs) -> ExitCode {
    with_issuer(&a.common, false, |issuer, now| {
        let key = match a.provisioning_key.as_deref() {
            Some("-") => read_stdin("the provisioning key")?,
            Some(k) => Zeroizing::new(k.to_owned()),
            None => std::env::var("JWT_EDGE_PROVISIONING_KEY")
                .map(Zeroizing::new)
                .map_err(|_| {
                    usage("no provisioning key: pass --provisioning-key - (stdin) or set JWT_EDGE_PROVISIONING_KEY")
                })?,
        };
        let mut claims = Vec::new();
        for c in &a.claims {
            let (k, v) = c
                .split_once('=')
                .ok_or_else(|| usage(format!("--claim {c:?} is not NAME=VALUE")))?;
            claims.push((k.to_owned(), v.to_owned()));
        }
        let req = IssueRequest {
            credential: key.into(),
            scope: a.scope.clone(),
            audiences: a.aud.clone(),
            ttl: a.ttl,
            claims,
            source: None,
            dpop: None,
        };
        let issued = issuer.issue(&req, now)?;
        Ok(if a.common.json {
            Out::Json(json!({"token": issued.token, "kid": issued.kid, "claims": issued.claims}))
        } else {
            Out::Lines(vec![issued.token])
        })
    })
}
