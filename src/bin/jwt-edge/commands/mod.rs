//! One module per subcommand, each with its arguments and its `run`
//! function (as cargo's `commands/`). `verify` and `inspect` need only the
//! `cli` feature; the issuer commands need `issuer`, `migrate` needs
//! `postgres`, `serve` needs `server`.

#[cfg(feature = "issuer")]
pub mod audit;
#[cfg(feature = "issuer")]
pub mod init;
pub mod inspect;
#[cfg(feature = "issuer")]
pub mod issue;
#[cfg(feature = "issuer")]
pub mod jwks;
#[cfg(feature = "issuer")]
pub mod keys;
#[cfg(feature = "postgres")]
pub mod migrate;
#[cfg(feature = "issuer")]
pub mod provision;
#[cfg(feature = "issuer")]
pub mod prune;
#[cfg(feature = "issuer")]
pub mod revocations;
#[cfg(feature = "issuer")]
pub mod revoke;
#[cfg(feature = "server")]
pub mod serve;
#[cfg(feature = "issuer")]
pub mod status;
#[cfg(feature = "issuer")]
pub mod statuslist;
pub mod verify;
