//! `jwt-edge provision`: provisioning keys (create, list, rotate, revoke).

use jwt_edge::issuer::rules::provisioning::{self, CreationWarning, Permission};
use std::process::ExitCode;

use jwt_edge::issuer::service;
use jwt_edge::issuer::store::ClientKeys;
use serde_json::Value;

use crate::io::print_err;
use crate::issuer_io::{dur, opt, with_issuer, Common, Out};

/// Arguments of `jwt-edge provision`.
#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    #[command(subcommand)]
    command: ProvisionCommand,
}

/// The `provision` subcommands.
#[derive(Debug, clap::Subcommand)]
enum ProvisionCommand {
    /// Create a provisioning key; it is printed ONCE.
    Create {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// Scopes it may request, space-separated.
        #[arg(long)]
        scope: String,
        /// Lifetime of the provisioning key.
        #[arg(long, default_value = "30d", value_parser = dur)]
        ttl: u64,
        /// Longest token lifetime it may request [default: the issuer's token-ttl].
        #[arg(long = "max-token-ttl", value_parser = dur)]
        max_token_ttl: Option<u64>,
        /// The `sub` of its tokens [default: its id].
        #[arg(long, allow_hyphen_values = true)]
        sub: Option<String>,
        /// An audience it may request (repeatable) [default: any, one required at issuance].
        #[arg(long = "aud")]
        aud: Vec<String>,
        /// A permission besides obtaining tokens (repeatable): `introspect`
        /// lets it call `jwt-edge serve`'s RFC 7662 introspection endpoint.
        #[arg(long = "permission", value_parser = clap::builder::PossibleValuesParser::new(
            Permission::ALL.map(Permission::as_str)
        ))]
        permission: Vec<String>,
        /// Its token requests must carry a DPoP proof (RFC 9449 §5.2
        /// `dpop_bound_access_tokens`); its tokens are then always bound.
        #[arg(long = "require-dpop")]
        require_dpop: bool,
        /// A `private_key_jwt` client (RFC 7523): its public keys, a JWKS
        /// file. No secret is generated; it authenticates with assertions
        /// signed by its private key.
        #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
        jwks: Option<std::path::PathBuf>,
        /// A `private_key_jwt` client whose public keys are at this
        /// `https://` URL (fetched by `serve`; a new key the client adds
        /// there works without a step here).
        #[arg(long = "jwks-uri", value_name = "URL")]
        jwks_uri: Option<String>,
        /// Its tokens are signed with this algorithm (one of the issuer's key
        /// rings: `init --also-alg`, `keys add-alg`) [default: the primary one].
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Replace a `private_key_jwt` client's public keys (audited).
    Keys {
        /// The client id.
        id: String,
        /// The new JWKS file.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "jwks_uri",
            conflicts_with = "jwks_uri"
        )]
        jwks: Option<std::path::PathBuf>,
        /// A new `jwks_uri`.
        #[arg(long = "jwks-uri", value_name = "URL")]
        jwks_uri: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Change a provisioning key's settings.
    Update {
        /// The provisioning key id.
        id: String,
        /// Whether its token requests must carry a DPoP proof.
        #[arg(long = "require-dpop", value_name = "true|false", action = clap::ArgAction::Set, required_unless_present = "alg")]
        require_dpop: Option<bool>,
        /// Sign its tokens with this algorithm from now on (one of the issuer's key rings).
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// List provisioning keys (never their secrets).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Rotate a provisioning key's secret without downtime: a successor
    /// secret for the same client (printed ONCE); the current secret keeps
    /// working for --overlap, then is refused.
    Rotate {
        /// The provisioning key id.
        id: String,
        /// How long the current secret keeps working (capped by its own expiry).
        #[arg(long, default_value = "7d", value_parser = dur)]
        overlap: u64,
        /// Lifetime of the new secret [default: as long as the current one was given].
        #[arg(long, value_parser = dur)]
        ttl: Option<u64>,
        #[command(flatten)]
        common: Common,
    },
    /// Revoke a provisioning key and every token issued through it.
    Revoke {
        /// The provisioning key id.
        id: String,
        #[command(flatten)]
        common: Common,
    },
}

/// A provisioning key just created or rotated: printed once (with its
/// record under `--json`), after a notice on stderr.
fn new_key_out(
    common: &Common,
    rec: &jwt_edge::issuer::store::ProvisioningRecord,
    key: &str,
) -> Out {
    print_err("Store this provisioning key now: it is shown only once and cannot be recovered.");
    if common.json {
        let mut v = service::provisioning_json(rec);
        if let Some(o) = v.as_object_mut() {
            o.insert("key".into(), Value::String(key.to_owned()));
        }
        Out::Json(v)
    } else {
        Out::Lines(vec![key.to_owned()])
    }
}

/// The client keys `--jwks FILE` / `--jwks-uri URL` name, if any.
fn client_keys(
    jwks: Option<&std::path::Path>,
    jwks_uri: Option<&str>,
) -> Result<Option<ClientKeys>, jwt_edge::issuer::Error> {
    Ok(match (jwks, jwks_uri) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                jwt_edge::issuer::Error::usage(format!("--jwks {}: {e}", path.display()))
            })?;
            Some(ClientKeys::Jwks(text.trim().to_owned()))
        }
        (None, Some(uri)) => Some(ClientKeys::JwksUri(uri.to_owned())),
        (None, None) => None,
    })
}

/// Runs `provision ...`.
pub fn run(a: &ProvisionArgs) -> ExitCode {
    match &a.command {
        ProvisionCommand::Create {
            name,
            scope,
            ttl,
            max_token_ttl,
            sub,
            aud,
            permission,
            require_dpop,
            jwks,
            jwks_uri,
            alg,
            common,
        } => with_issuer(common, false, |issuer, now| {
            let keys = client_keys(jwks.as_deref(), jwks_uri.as_deref())?;
            let alg = alg
                .as_deref()
                .map(jwt_edge::issuer::custody::local::parse_alg)
                .transpose()?;
            let (mut rec, key) = issuer.create_client(
                name,
                scope,
                Some(*ttl),
                *max_token_ttl,
                sub.as_deref(),
                aud,
                permission,
                keys,
                now,
            )?;
            if *require_dpop {
                rec = issuer.set_require_dpop(&rec.id, true, now)?;
            }
            if alg.is_some() {
                rec = issuer.set_client_alg(&rec.id, alg, now)?;
            }
            let warnings: Vec<String> = provisioning::creation_warnings(aud)
                .into_iter()
                .map(|w| match w {
                    CreationWarning::NoAudience => format!(
                        "no --aud: {}; give --aud (repeatable) to set the audiences it may ask \
                         for and gets by default",
                        w.message()
                    ),
                    _ => w.message().to_owned(),
                })
                .collect();
            for w in &warnings {
                print_err(&format!("warning: {w}"));
            }
            let mut out = match &key {
                Some(key) => new_key_out(common, &rec, key),
                None if common.json => Out::Json(service::provisioning_json(&rec)),
                None => Out::Lines(vec![format!(
                    "{}: private_key_jwt client (no secret; it signs client assertions with its own key)",
                    rec.id
                )]),
            };
            if let Out::Json(Value::Object(o)) = &mut out {
                o.insert("warnings".into(), Value::from(warnings));
            }
            Ok(out)
        }),
        ProvisionCommand::Keys {
            id,
            jwks,
            jwks_uri,
            common,
        } => with_issuer(common, false, |issuer, now| {
            let Some(keys) = client_keys(jwks.as_deref(), jwks_uri.as_deref())? else {
                return Err(jwt_edge::issuer::Error::usage(
                    "give --jwks FILE or --jwks-uri URL",
                ));
            };
            let rec = issuer.set_client_keys(id, keys, now)?;
            Ok(if common.json {
                Out::Json(service::provisioning_json(&rec))
            } else {
                Out::Lines(vec![format!("{}: keys replaced", rec.id)])
            })
        }),
        ProvisionCommand::Update {
            id,
            require_dpop,
            alg,
            common,
        } => with_issuer(common, false, |issuer, now| {
            let mut rec = match require_dpop {
                Some(r) => Some(issuer.set_require_dpop(id, *r, now)?),
                None => None,
            };
            if let Some(a) = alg {
                let a = jwt_edge::issuer::custody::local::parse_alg(a)?;
                rec = Some(issuer.set_client_alg(id, Some(a), now)?);
            }
            let Some(rec) = rec else {
                return Err(jwt_edge::issuer::Error::usage(
                    "give --require-dpop or --alg",
                ));
            };
            Ok(if common.json {
                Out::Json(service::provisioning_json(&rec))
            } else {
                Out::Lines(vec![format!(
                    "{}: require_dpop={} alg={}",
                    rec.id,
                    rec.require_dpop,
                    rec.alg
                        .map_or("(the issuer's primary)", jwt_edge::Algorithm::name)
                )])
            })
        }),
        ProvisionCommand::List { common } => with_issuer(common, false, |issuer, _| {
            let list: Vec<Value> = issuer
                .provisioning_keys()?
                .iter()
                .map(service::provisioning_json)
                .collect();
            Ok(if common.json {
                Out::Json(Value::from(list))
            } else {
                let mut lines =
                    vec!["id\tname\tsub\tscope\texpires\trevoked\tuses\tlast_used".to_owned()];
                lines.extend(list.iter().map(|k| {
                    [
                        "id",
                        "name",
                        "sub",
                        "scope",
                        "expires_at",
                        "revoked_at",
                        "use_count",
                        "last_used_at",
                    ]
                    .iter()
                    .map(|f| opt(&k[*f]))
                    .collect::<Vec<_>>()
                    .join("\t")
                }));
                Out::Lines(lines)
            })
        }),
        ProvisionCommand::Rotate {
            id,
            overlap,
            ttl,
            common,
        } => with_issuer(common, false, |issuer, now| {
            let (rec, key) = issuer.rotate_provisioning_key(id, *overlap, *ttl, now)?;
            Ok(new_key_out(common, &rec, &key))
        }),
        ProvisionCommand::Revoke { id, common } => with_issuer(common, false, |issuer, now| {
            let rec = issuer.revoke_provisioning_key(id, now)?;
            Ok(if common.json {
                Out::Json(service::provisioning_json(&rec))
            } else {
                Out::Lines(vec![format!("revoked {}", rec.id)])
            })
        }),
    }
}
