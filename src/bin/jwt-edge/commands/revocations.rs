//! `jwt-edge revocations`: prints the revocation list (JSON, or a signed
//! JWS with `--signed`).

use std::process::ExitCode;

use crate::issuer_io::{with_issuer, Common, Out};

/// Arguments of `jwt-edge revocations`.
#[derive(Debug, clap::Args)]
pub struct RevocationsArgs {
    /// Print a compact JWS (typ revocation-list+jwt) signed by the active key.
    #[arg(long)]
    signed: bool,
    #[command(flatten)]
    common: Common,
}

/// Runs `revocations`.
pub fn run(a: &RevocationsArgs) -> ExitCode {
    with_issuer(&a.common, false, |issuer, now| {
        Ok(if a.signed {
            Out::Lines(vec![issuer.signed_revocation_list(now)?])
        } else {
            Out::Json(issuer.revocation_list(now)?.to_json()?)
        })
    })
}
