//! The `jwt-edge` command-line tool: a thin adapter over the `jwt_edge`
//! library. Every decision about tokens, keys and claims is the library's;
//! the commands only read inputs, call it, and print its answer.
//!
//! Exit statuses shared by all commands: 0 success, 1 the token was rejected
//! (or could not be decoded), 2 usage or configuration error.

// Like the library: no panic on any input, outside tests.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod commands;
mod io;
#[cfg(feature = "issuer")]
mod issuer_io;
mod remote_jwks;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(feature = "postgres")]
use commands::migrate;
#[cfg(feature = "server")]
use commands::serve;
#[cfg(feature = "issuer")]
use commands::{
    audit, init, issue, jwks, keys, provision, prune, revocations, revoke, status, statuslist,
};
use commands::{inspect, verify};

/// Strict JWT/JWS/JWKS validation from the command line.
#[derive(Debug, Parser)]
#[command(name = "jwt-edge", version, about, long_about = None)]
struct Cli {
    /// The command to run.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands. Each lives in its own module; this file only dispatches.
/// Large argument structs are boxed so the enum stays small.
#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a token's signature, claims and revocation status.
    ///
    /// Exit 0: valid, stdout is {"header":{...},"claims":{...}}. Exit 1: rejected,
    /// the first stderr line is `<CODE>: <message>`. Exit 2: usage or configuration error.
    Verify(Box<verify::VerifyArgs>),
    /// Decode a token WITHOUT verifying it and list warnings (debugging only).
    ///
    /// Exit 0: stdout is {"header":{...},"claims":{...},"warnings":[...]}.
    /// Exit 1: the token cannot be decoded.
    Inspect(inspect::InspectArgs),
    /// Issuer: store the policy and create the first signing key.
    #[cfg(feature = "issuer")]
    Init(Box<init::InitArgs>),
    /// Issuer: signing keys (generate, list, rotate, revoke, export).
    #[cfg(feature = "issuer")]
    Keys(keys::KeysArgs),
    /// Issuer: print the public JWKS (pending, active and retiring keys).
    #[cfg(feature = "issuer")]
    Jwks(jwks::JwksArgs),
    /// Issuer: provisioning keys (create, list, rotate, revoke).
    #[cfg(feature = "issuer")]
    Provision(provision::ProvisionArgs),
    /// Issuer: issue an access token (RFC 9068) with a provisioning key.
    #[cfg(feature = "issuer")]
    Issue(Box<issue::IssueArgs>),
    /// Issuer: revoke a token or every token of a subject.
    #[cfg(feature = "issuer")]
    Revoke(revoke::RevokeArgs),
    /// Issuer: print the revocation list (JSON, or a signed JWS with --signed).
    #[cfg(feature = "issuer")]
    Revocations(revocations::RevocationsArgs),
    /// Issuer: what will break and when (exit 0 healthy, 1 attention, 2 error).
    #[cfg(feature = "issuer")]
    Status(status::StatusArgs),
    /// Issuer: print Token Status List N as a signed statuslist+jwt.
    #[cfg(feature = "issuer")]
    Statuslist(statuslist::StatusListArgs),
    /// Issuer: print the audit log, or export it resumably (`audit export`).
    #[cfg(feature = "issuer")]
    Audit(audit::AuditArgs),
    /// Issuer: delete expired token rows and exported audit rows older than
    /// the retention window, in bounded batches.
    #[cfg(feature = "issuer")]
    Prune(prune::PruneArgs),
    /// Issuer: copy a SQLite store into an empty PostgreSQL database, table
    /// by table in one transaction, verifying every table's row count.
    #[cfg(feature = "postgres")]
    Migrate(migrate::MigrateArgs),
    /// Issuer: run the HTTP server (OAuth client-credentials /token, JWKS,
    /// revocation list, metadata) with automatic rotation.
    #[cfg(feature = "server")]
    Serve(Box<serve::ServeArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Verify(args) => verify::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        #[cfg(feature = "issuer")]
        Command::Init(args) => init::run(&args),
        #[cfg(feature = "issuer")]
        Command::Keys(args) => keys::run(&args),
        #[cfg(feature = "issuer")]
        Command::Jwks(args) => jwks::run(&args),
        #[cfg(feature = "issuer")]
        Command::Provision(args) => provision::run(&args),
        #[cfg(feature = "issuer")]
        Command::Issue(args) => issue::run(&args),
        #[cfg(feature = "issuer")]
        Command::Revoke(args) => revoke::run(&args),
        #[cfg(feature = "issuer")]
        Command::Revocations(args) => revocations::run(&args),
        #[cfg(feature = "issuer")]
        Command::Statuslist(args) => statuslist::run(&args),
        #[cfg(feature = "issuer")]
        Command::Status(args) => status::run(&args),
        #[cfg(feature = "issuer")]
        Command::Audit(args) => audit::run(&args),
        #[cfg(feature = "issuer")]
        Command::Prune(args) => prune::run(&args),
        #[cfg(feature = "postgres")]
        Command::Migrate(args) => migrate::run(&args),
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::run(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
