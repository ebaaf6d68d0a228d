//! `jwt-edge jwks`: prints the public JWKS (pending, active and retiring keys).

use std::process::ExitCode;

use crate::issuer_io::{with_issuer, Common, Out};

/// Arguments of `jwt-edge jwks`.
#[derive(Debug, clap::Args)]
pub struct JwksArgs {
    #[command(flatten)]
    common: Common,
}

/// Runs `jwks`.
pub fn run(a: &JwksArgs) -> ExitCode {
    with_issuer(&a.common, false, |issuer, _| {
        Ok(Out::Json(issuer.jwks()?.to_json()))
    })
}
