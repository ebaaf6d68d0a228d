//! `jwt-edge statuslist N`: prints Token Status List N as a signed
//! `statuslist+jwt`.

use std::process::ExitCode;

use crate::issuer_io::{with_issuer, Common, Out};

/// Arguments of `jwt-edge statuslist`.
#[derive(Debug, clap::Args)]
pub struct StatusListArgs {
    /// The list number (the `N` of `<issuer>/statuslists/N` in tokens).
    list: u64,
    #[command(flatten)]
    common: Common,
}

/// Runs `statuslist N`: the signed Token Status List.
pub fn run(a: &StatusListArgs) -> ExitCode {
    with_issuer(&a.common, false, |issuer, now| {
        Ok(Out::Lines(vec![issuer.status_list_token(a.list, now)?]))
    })
}
