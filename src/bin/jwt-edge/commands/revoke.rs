//! `jwt-edge revoke`: revokes a token, or every token of a subject.

use std::process::ExitCode;

use serde_json::json;
use zeroize::Zeroizing;

use crate::issuer_io::{read_stdin, usage, with_issuer, Common, Out};

/// Arguments of `jwt-edge revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(subcommand)]
    command: RevokeCommand,
}

/// The `revoke` subcommands.
#[derive(Debug, clap::Subcommand)]
enum RevokeCommand {
    /// Revoke one token, by jti or given in full.
    Token {
        /// The token id (base64url: may start with `-`).
        #[arg(
            long,
            conflicts_with = "token",
            required_unless_present = "token",
            allow_hyphen_values = true
        )]
        jti: Option<String>,
        /// The token (or `-` for stdin).
        #[arg(long)]
        token: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Revoke every token of a subject issued before a time.
    Subject {
        /// The subject.
        #[arg(allow_hyphen_values = true)]
        sub: String,
        /// Cut-off in unix seconds [default: now, inclusive].
        #[arg(long, value_name = "UNIX_SECS")]
        before: Option<u64>,
        #[command(flatten)]
        common: Common,
    },
}

/// Runs `revoke ...`.
pub fn run(a: &RevokeArgs) -> ExitCode {
    match &a.command {
        RevokeCommand::Token { jti, token, common } => with_issuer(common, false, |issuer, now| {
            let changed = match (jti, token) {
                (Some(j), _) => issuer.revoke_jti(j, now)?,
                (None, Some(t)) => {
                    let t = if t == "-" {
                        read_stdin("the token")?
                    } else {
                        Zeroizing::new(t.clone())
                    };
                    issuer.revoke_token(&t, now)?
                }
                (None, None) => return Err(usage("pass --jti JTI or --token TOKEN")),
            };
            Ok(Out::Json(json!({ "revoked": changed })))
        }),
        RevokeCommand::Subject {
            sub,
            before,
            common,
        } => with_issuer(common, false, |issuer, now| {
            let before = issuer.revoke_subject(sub, *before, now)?;
            Ok(Out::Json(json!({ "sub": sub, "before": before })))
        }),
    }
}
