//! The `jwt-edge` command-line tool: a thin adapter over the `jwt_edge`
//! library. Every decision about tokens, keys and claims is the library's;
//! the commands only read inputs, call it, and print its answer.
//!
//! Exit statuses shared by all commands: 0 success, 1 the token was rejected
//! (or could not be decoded), 2 usage or configuration error.

mod inspect;
mod io;
#[cfg(feature = "issuer")]
mod issuer_cli;
mod remote_jwks;
#[cfg(feature = "server")]
mod serve;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Init(Box<issuer_cli::InitArgs>),
    /// Issuer: signing keys (generate, list, rotate, revoke, export).
    #[cfg(feature = "issuer")]
    Keys(issuer_cli::KeysArgs),
    /// Issuer: print the public JWKS (pending, active and retiring keys).
    #[cfg(feature = "issuer")]
    Jwks(issuer_cli::JwksArgs),
    /// Issuer: provisioning keys (create, list, rotate, revoke).
    #[cfg(feature = "issuer")]
    Provision(issuer_cli::ProvisionArgs),
    /// Issuer: issue an access token (RFC 9068) with a provisioning key.
    #[cfg(feature = "issuer")]
    Issue(Box<issuer_cli::IssueArgs>),
    /// Issuer: revoke a token or every token of a subject.
    #[cfg(feature = "issuer")]
    Revoke(issuer_cli::RevokeArgs),
    /// Issuer: print the revocation list (JSON, or a signed JWS with --signed).
    #[cfg(feature = "issuer")]
    Revocations(issuer_cli::RevocationsArgs),
    /// Issuer: what will break and when (exit 0 healthy, 1 attention, 2 error).
    #[cfg(feature = "issuer")]
    Status(issuer_cli::StatusArgs),
    /// Issuer: print Token Status List N as a signed statuslist+jwt.
    #[cfg(feature = "issuer")]
    Statuslist(issuer_cli::StatusListArgs),
    /// Issuer: print the audit log, or export it resumably (`audit export`).
    #[cfg(feature = "issuer")]
    Audit(issuer_cli::AuditArgs),
    /// Issuer: delete expired token rows and exported audit rows older than
    /// the retention window, in bounded batches.
    #[cfg(feature = "issuer")]
    Prune(issuer_cli::PruneArgs),
    /// Issuer: copy a SQLite store into an empty PostgreSQL database, table
    /// by table in one transaction, verifying every table's row count.
    #[cfg(feature = "postgres")]
    Migrate(issuer_cli::MigrateArgs),
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
        Command::Init(args) => issuer_cli::init(&args),
        #[cfg(feature = "issuer")]
        Command::Keys(args) => issuer_cli::keys_cmd(&args),
        #[cfg(feature = "issuer")]
        Command::Jwks(args) => issuer_cli::jwks(&args),
        #[cfg(feature = "issuer")]
        Command::Provision(args) => issuer_cli::provision(&args),
        #[cfg(feature = "issuer")]
        Command::Issue(args) => issuer_cli::issue(&args),
        #[cfg(feature = "issuer")]
        Command::Revoke(args) => issuer_cli::revoke(&args),
        #[cfg(feature = "issuer")]
        Command::Revocations(args) => issuer_cli::revocations(&args),
        #[cfg(feature = "issuer")]
        Command::Statuslist(args) => issuer_cli::statuslist(&args),
        #[cfg(feature = "issuer")]
        Command::Status(args) => issuer_cli::status(&args),
        #[cfg(feature = "issuer")]
        Command::Audit(args) => issuer_cli::audit(&args),
        #[cfg(feature = "issuer")]
        Command::Prune(args) => issuer_cli::prune(&args),
        #[cfg(feature = "postgres")]
        Command::Migrate(args) => issuer_cli::migrate(&args),
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
