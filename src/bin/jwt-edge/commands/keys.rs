//! `jwt-edge keys`: signing keys (generate, list, rotate, revoke, check,
//! export).

use std::process::ExitCode;

use jwt_edge::issuer::custody::local as keys;
use jwt_edge::issuer::service;
use serde_json::Value;

use crate::issuer_io::{json_of, opt, steps_out, with_issuer, Common, Out};

/// Arguments of `jwt-edge keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

/// The `keys` subcommands.
#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Add a key ring for another algorithm (e.g. ML-DSA-65 beside ES256):
    /// its first key is generated and activated now, and it rotates under
    /// the same policy; clients ask for it with `provision create|update --alg`.
    AddAlg {
        /// ES256, EdDSA, RS256, PS256, ML-DSA-44, ML-DSA-65 or ML-DSA-87.
        alg: String,
        #[command(flatten)]
        common: Common,
    },
    /// Choose the key ring that signs revocation and status lists (verifiers
    /// of the lists then need that algorithm).
    ListsAlg {
        /// One of the issuer's algorithms (`--alg`, `--also-alg`, `keys add-alg`).
        alg: String,
        #[command(flatten)]
        common: Common,
    },
    /// Generate a new key in state "pending" (published, not yet signing).
    Generate {
        /// ES256, EdDSA, RS256, PS256, ML-DSA-44, ML-DSA-65 or ML-DSA-87 [default: the one chosen at init].
        #[arg(long)]
        alg: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// List keys: kid, alg, state and the time of each transition.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Apply the rotation policy now (idempotent; run it from cron).
    Rotate {
        /// Only the key ring of this algorithm (the primary one or one added
        /// with `keys add-alg`) [default: every ring].
        #[arg(long)]
        alg: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Emergency: remove a key from the JWKS now and list its kid as revoked.
    Revoke {
        /// The key id (base64url: may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Compare the store with the PKCS#11 token: keys whose object is
    /// missing, and objects no key refers to (exit 1 when any).
    Check {
        #[command(flatten)]
        common: Common,
    },
    /// Print a key's private key as encrypted PKCS#8 PEM (`openssl pkey` reads it).
    Export {
        /// The key id (base64url: may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Runs `keys ...`.
pub fn run(a: &KeysArgs) -> ExitCode {
    match &a.command {
        KeysCommand::Generate { alg, common } => with_issuer(common, false, |issuer, now| {
            let alg = alg.as_deref().map(keys::parse_alg).transpose()?;
            let rec = issuer.generate_key(alg, now)?;
            Ok(if common.json {
                Out::Json(service::key_json(&rec))
            } else {
                Out::Lines(vec![rec.kid])
            })
        }),
        KeysCommand::Check { common } => {
            let mut findings = 0usize;
            let code = with_issuer(common, false, |issuer, _| {
                let out = issuer.check_keys()?;
                findings = out.len();
                Ok(if common.json {
                    Out::Json(json_of(&out)?)
                } else {
                    Out::Lines(
                        out.iter()
                            .map(|f| format!("{}\t{}", f.kind(), f.message()))
                            .collect(),
                    )
                })
            });
            if findings > 0 && code == ExitCode::SUCCESS {
                ExitCode::from(1)
            } else {
                code
            }
        }
        KeysCommand::List { common } => {
            with_issuer(common, false, |issuer, _| {
                let list: Vec<Value> = issuer.keys()?.iter().map(service::key_json).collect();
                Ok(if common.json {
                    Out::Json(Value::from(list))
                } else {
                    let mut lines = vec!["kid\talg\tstate\tcreated\tactivated\tretiring\tretired\trevoked\tdestroyed".to_owned()];
                    lines.extend(list.iter().map(|k| {
                        [
                            "kid",
                            "alg",
                            "state",
                            "created_at",
                            "activated_at",
                            "retiring_at",
                            "retired_at",
                            "revoked_at",
                            "destroyed_at",
                        ]
                        .iter()
                        .map(|f| opt(&k[*f]))
                        .collect::<Vec<_>>()
                        .join("\t")
                    }));
                    Out::Lines(lines)
                })
            })
        }
        KeysCommand::AddAlg { alg, common } => with_issuer(common, false, |issuer, now| {
            let alg = keys::parse_alg(alg)?;
            steps_out(common, &issuer.add_algorithm(alg, now)?)
        }),
        KeysCommand::ListsAlg { alg, common } => with_issuer(common, false, |issuer, now| {
            let alg = keys::parse_alg(alg)?;
            issuer.set_lists_alg(Some(alg), now)?;
            Ok(Out::Lines(vec![format!(
                "revocation and status lists: signed by the {alg} ring"
            )]))
        }),
        KeysCommand::Rotate { alg, common } => with_issuer(common, false, |issuer, now| {
            let steps = match alg {
                Some(alg) => issuer.rotate_alg(keys::parse_alg(alg)?, now)?,
                None => issuer.rotate(now)?,
            };
            steps_out(common, &steps)
        }),
        KeysCommand::Revoke {
            kid,
            reason,
            common,
        } => with_issuer(common, false, |issuer, now| {
            let steps = issuer.revoke_key(kid, reason.as_deref(), now)?;
            steps_out(common, &steps)
        }),
        KeysCommand::Export { kid, common } => with_issuer(common, false, |issuer, now| {
            let pem = issuer.export_key(kid, now)?;
            Ok(Out::Lines(vec![pem.trim_end().to_owned()]))
        }),
    }
}
