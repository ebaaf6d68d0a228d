//! The issuer commands (`init`, `keys`, `jwks`, `provision`, `issue`, `revoke`,
//! `revocations`, `audit`): a thin adapter over `jwt_edge::issuer`. Every rule
//! (lifecycle, scopes, lifetimes, revocation) is the library's; this file
//! reads flags and secrets, opens the store, calls one operation, prints.
//!
//! Exit statuses: 0 success; 1 issuance refused (`ERR_ISSUER_REFUSED`);
//! 2 usage, configuration or storage error. The first stderr line of a failure
//! is `<CODE>: <message>`; with `--json` stdout carries `{"error":{...}}`.

use std::io::{self, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use jwt_edge::issuer::{
    duration, keys, service, AnyStore, Error, ErrorKind, IssueRequest, Issuer, Secrets, Settings,
    StoreUrl,
};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::io::{now_or_clock, print_err, print_json};

/// Where the issuer's state is and how its private keys are unlocked: the
/// issuer commands and `serve` take the same flags.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Issuer store: a SQLite file, or postgres://USER@HOST/DB for a PostgreSQL database several servers share [env: JWT_EDGE_DB] [default: ./jwt-edge.db].
    #[arg(long, value_name = "PATH|URL")]
    db: Option<PathBuf>,
    /// File holding the passphrase of the private keys [else env: JWT_EDGE_PASSPHRASE].
    #[arg(long = "passphrase-file", value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Store/use private keys UNENCRYPTED when no passphrase is given (development only; warned on every use).
    #[arg(long = "insecure-dev-keys")]
    insecure_dev_keys: bool,
    /// File holding the user PIN of the PKCS#11 token (`init --key-store pkcs11`) [else env: JWT_EDGE_PKCS11_PIN].
    #[arg(long = "pkcs11-pin-file", value_name = "FILE")]
    pkcs11_pin_file: Option<PathBuf>,
}

impl StoreArgs {
    /// `--db`, else env `JWT_EDGE_DB`, else `./jwt-edge.db`.
    pub(crate) fn db_url(&self) -> StoreUrl {
        StoreUrl::from(
            self.db
                .clone()
                .or_else(|| std::env::var_os("JWT_EDGE_DB").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("./jwt-edge.db")),
        )
    }

    /// The passphrase from `--passphrase-file` (one trailing newline ignored)
    /// or env `JWT_EDGE_PASSPHRASE`; the PKCS#11 PIN likewise from
    /// `--pkcs11-pin-file` or env `JWT_EDGE_PKCS11_PIN`.
    pub(crate) fn secrets(&self) -> Result<Secrets, Error> {
        let pass = secret_input(
            self.passphrase_file.as_deref(),
            "--passphrase-file",
            "JWT_EDGE_PASSPHRASE",
        )?;
        if pass.as_ref().is_some_and(|p| p.is_empty()) {
            return Err(usage("the passphrase is empty"));
        }
        let pin = secret_input(
            self.pkcs11_pin_file.as_deref(),
            "--pkcs11-pin-file",
            "JWT_EDGE_PKCS11_PIN",
        )?;
        Ok(Secrets::new(pass, self.insecure_dev_keys).with_pkcs11_pin(pin))
    }
}

/// A secret from `file` (flag `flag`; one trailing newline ignored), else
/// from env `env`.
fn secret_input(
    file: Option<&std::path::Path>,
    flag: &str,
    env: &str,
) -> Result<Option<Zeroizing<String>>, Error> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("cannot read {flag} {}: {e}", path.display())))?;
            Ok(Some(Zeroizing::new(
                text.trim_end_matches(['\r', '\n']).to_owned(),
            )))
        }
        None => Ok(std::env::var(env).ok().map(Zeroizing::new)),
    }
}

/// Options shared by every issuer command.
#[derive(Debug, clap::Args)]
pub struct Common {
    #[command(flatten)]
    store: StoreArgs,
    /// Current time in unix seconds (default: the system clock).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
    /// Structured output as JSON.
    #[arg(long)]
    json: bool,
}

/// A parsed duration flag (`15m`, `1h`, `30d`).
pub(crate) fn dur(s: &str) -> Result<u64, String> {
    duration::parse(s).map_err(|e| e.message().to_owned())
}

/// Arguments of `jwt-edge init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The `iss` of every token (e.g. https://issuer.example).
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// Signing algorithm of generated keys: ES256, EdDSA, RS256 or PS256.
    #[arg(long, default_value = "ES256")]
    alg: String,
    /// Default token lifetime.
    #[arg(long = "token-ttl", default_value = "15m", value_parser = dur)]
    token_ttl: u64,
    /// Longest token lifetime any provisioning key may allow.
    #[arg(long = "max-token-ttl", default_value = "1h", value_parser = dur)]
    max_token_ttl: u64,
    /// Rotation period of the active key.
    #[arg(long = "rotate-every", default_value = "30d", value_parser = dur)]
    rotate_every: u64,
    /// How long a new key is published before it signs.
    #[arg(long = "pre-publish", default_value = "1d", value_parser = dur)]
    pre_publish: u64,
    /// How long a replaced key stays published [default: max-token-ttl + jwks-max-age].
    #[arg(long, value_parser = dur)]
    grace: Option<u64>,
    /// How long a retired key's private material is kept before destruction.
    #[arg(long, default_value = "30d", value_parser = dur)]
    retain: u64,
    /// Longest time verifiers cache the JWKS (part of the default grace).
    #[arg(long = "jwks-max-age", default_value = "1h", value_parser = dur)]
    jwks_max_age: u64,
    /// PBKDF2-HMAC-SHA256 iterations for encrypted private keys (default 600000; lower only for tests).
    #[arg(long = "kdf-iterations", hide = true)]
    kdf_iterations: Option<u32>,
    /// Where signing keys are kept: in the store (encrypted PKCS#8) or in a PKCS#11 token.
    #[arg(long = "key-store", default_value = "local", value_parser = ["local", "pkcs11"])]
    key_store: String,
    /// The PKCS#11 module (shared library), with --key-store pkcs11.
    #[arg(
        long = "pkcs11-module",
        value_name = "PATH",
        required_if_eq("key_store", "pkcs11")
    )]
    pkcs11_module: Option<String>,
    /// The label of the PKCS#11 token, with --key-store pkcs11.
    #[arg(
        long = "pkcs11-token",
        value_name = "LABEL",
        required_if_eq("key_store", "pkcs11")
    )]
    pkcs11_token: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `jwt-edge keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Generate a new key in state "pending" (published, not yet signing).
    Generate {
        /// ES256, EdDSA, RS256 or PS256 [default: the one chosen at init].
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

/// Arguments of `jwt-edge provision`.
#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    #[command(subcommand)]
    command: ProvisionCommand,
}

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
        #[arg(long = "permission", value_parser = ["introspect"])]
        permission: Vec<String>,
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

/// Arguments of `jwt-edge revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(subcommand)]
    command: RevokeCommand,
}

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

/// Arguments of `jwt-edge jwks`.
#[derive(Debug, clap::Args)]
pub struct JwksArgs {
    #[command(flatten)]
    common: Common,
}

/// Arguments of `jwt-edge revocations`.
#[derive(Debug, clap::Args)]
pub struct RevocationsArgs {
    /// Print a compact JWS (typ revocation-list+jwt) signed by the active key.
    #[arg(long)]
    signed: bool,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `jwt-edge status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Report what breaks within this window (provisioning keys expiring).
    #[arg(long, default_value = "7d", value_parser = dur)]
    warn: u64,
    /// Report provisioning keys not used for this long.
    #[arg(long, default_value = "30d", value_parser = dur)]
    unused: u64,
    /// The audit retention window (as `serve`/`prune --audit-retention`):
    /// unexported audit rows older than this are reported.
    #[arg(long = "audit-retention", default_value = "90d", value_parser = dur)]
    audit_retention: u64,
    #[command(flatten)]
    common: Common,
}

/// Runs `status`: exit 0 when healthy, 1 when something is within the
/// window (or already broken), 2 on errors.
pub fn status(a: &StatusArgs) -> ExitCode {
    let mut issuer = match open(&a.common, false) {
        Ok(i) => i,
        Err(e) => return fail(&e, a.common.json),
    };
    let out = now(&a.common).and_then(|n| {
        let growth = issuer.growth(n)?;
        let report = issuer.status_with_retention(
            n,
            a.warn,
            a.unused,
            Some((&growth, a.audit_retention)),
        )?;
        Ok((report, growth))
    });
    let ((findings, counts), growth) = match out {
        Ok(v) => v,
        Err(e) => return fail(&e, a.common.json),
    };
    let per_day: serde_json::Map<String, Value> = growth
        .actions_24h
        .iter()
        .map(|(action, n)| (action.clone(), Value::from(*n)))
        .collect();
    // The files' sizes (SQLite); a PostgreSQL store reports its tables' size.
    let (db_bytes, wal_bytes) = match a.common.store.db_url().sqlite_path() {
        Some(p) => {
            let size = |suffix: &str| {
                std::fs::metadata(format!("{}{suffix}", p.display())).map_or(0, |m| m.len())
            };
            (size(""), size("-wal"))
        }
        None => (growth.bytes_in_use, 0),
    };
    if a.common.json {
        let rows: serde_json::Map<String, Value> = counts
            .iter()
            .map(|(t, n)| ((*t).to_owned(), Value::from(*n)))
            .collect();
        let _ = print_json(&json!({
            "healthy": findings.is_empty(),
            "findings": findings.iter().map(jwt_edge::issuer::health::Finding::to_json).collect::<Vec<_>>(),
            "store": {
                "bytes": db_bytes,
                "wal_bytes": wal_bytes,
                "bytes_in_use": growth.bytes_in_use,
                "bytes_free": growth.bytes_free,
                "rows": rows,
                "audit_rows_last_24h": per_day,
                "audit_exported_through": growth.exported_through,
                "audit_unexported": growth.newest_audit.saturating_sub(growth.exported_through),
            },
        }));
    } else {
        use std::io::Write;
        let mut o = io::stdout().lock();
        for f in &findings {
            let _ = writeln!(o, "WARN\t{}\t{}", f.kind, f.message);
        }
        let rows: Vec<String> = counts.iter().map(|(t, n)| format!("{t}={n}")).collect();
        let day: Vec<String> = growth
            .actions_24h
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect();
        let _ = writeln!(
            o,
            "GROWTH\tlast 24h: {}\taudit exported through row {} ({} not exported)",
            if day.is_empty() {
                "-".into()
            } else {
                day.join(" ")
            },
            growth.exported_through,
            growth.newest_audit.saturating_sub(growth.exported_through)
        );
        let _ = writeln!(
            o,
            "{}\tstore {} bytes (+{} WAL)\t{}",
            if findings.is_empty() {
                "OK"
            } else {
                "ATTENTION"
            },
            db_bytes,
            wal_bytes,
            rows.join(" ")
        );
    }
    for w in issuer.take_warnings() {
        print_err(&w);
    }
    ExitCode::from(u8::from(!findings.is_empty()))
}

/// Arguments of `jwt-edge statuslist`.
#[derive(Debug, clap::Args)]
pub struct StatusListArgs {
    /// The list number (the `N` of `<issuer>/statuslists/N` in tokens).
    list: u64,
    #[command(flatten)]
    common: Common,
}

/// Runs `statuslist N`: the signed Token Status List.
pub fn statuslist(a: &StatusListArgs) -> ExitCode {
    with_issuer(&a.common, false, |issuer, now| {
        Ok(Out::Lines(vec![issuer.status_list_token(a.list, now)?]))
    })
}

/// Arguments of `jwt-edge audit`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// Only rows at or after this time (unix seconds).
    #[arg(long, value_name = "UNIX_SECS", default_value_t = 0)]
    since: u64,
    /// Only rows of this action (e.g. `anomaly`, `token.issue`, `provision.rotate`).
    #[arg(long)]
    action: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Export audit rows as JSON lines, resumably: rows after the cursor
    /// --since (a row id; 0 for the first), in order. Resume with the last
    /// printed row's `id`. Asking for rows after a cursor acknowledges every
    /// row up to it as stored: only acknowledged rows are ever pruned.
    Export {
        /// The cursor: the `id` of the last row already stored.
        #[arg(long, value_name = "CURSOR", default_value_t = 0)]
        since: u64,
        /// Most rows printed.
        #[arg(long, default_value_t = 10_000)]
        limit: u64,
        #[command(flatten)]
        common: Common,
    },
}

/// Arguments of `jwt-edge prune`.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Keep audit rows this long (rows older than this leave only once
    /// exported: see `jwt-edge audit export`).
    #[arg(long = "audit-retention", default_value = "90d", value_parser = dur)]
    audit_retention: u64,
    /// Rows deleted per transaction.
    #[arg(long, default_value_t = 1_000)]
    batch: u64,
    #[command(flatten)]
    common: Common,
}

/// Runs `prune`: expired token rows, exported audit rows older than the
/// retention window, expired revocation entries; in bounded batches, one
/// short transaction each, audited in it as `store.prune`.
pub fn prune(a: &PruneArgs) -> ExitCode {
    with_issuer(&a.common, false, |issuer, now| {
        let mut total = jwt_edge::issuer::store::Pruned::default();
        loop {
            let step = issuer.prune_step(now, a.audit_retention, a.batch.max(1))?;
            total.add(step);
            if step.total() == 0 {
                break;
            }
        }
        Ok(if a.common.json {
            Out::Json(json!(total))
        } else {
            Out::Lines(vec![format!(
                "pruned tokens={} audit={} revocations={}",
                total.tokens, total.audit, total.revocations
            )])
        })
    })
}

#[cfg(feature = "postgres")]
/// Arguments of `jwt-edge migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The SQLite store to copy: sqlite:PATH (stop `jwt-edge serve` on it first).
    #[arg(long, value_name = "sqlite:PATH")]
    from: String,
    /// The empty PostgreSQL database to copy it into: postgres://USER@HOST/DB
    /// [else env: JWT_EDGE_DB, which keeps a password out of the process list].
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Structured output as JSON.
    #[arg(long)]
    json: bool,
}

#[cfg(feature = "postgres")]
/// Runs `migrate`: copies a SQLite store into an empty PostgreSQL database
/// table by table in one transaction, verifying every table's row count.
pub fn migrate(a: &MigrateArgs) -> ExitCode {
    let to =
        a.to.clone()
            .or_else(|| std::env::var("JWT_EDGE_DB").ok())
            .map(Zeroizing::new);
    let out = match to {
        Some(to) if matches!(StoreUrl::parse(&to), StoreUrl::Postgres(_)) => {
            jwt_edge::issuer::migrate::sqlite_to_postgres(
                &jwt_edge::issuer::migrate::source_path(&a.from),
                &to,
            )
        }
        _ => Err(usage(
            "--to (or JWT_EDGE_DB) must be a postgres:// or postgresql:// URL",
        )),
    };
    match out {
        Ok(copied) => {
            let total: u64 = copied.iter().map(|c| c.rows).sum();
            if a.json {
                let _ = print_json(&json!({"copied": copied, "rows": total, "verified": true}));
            } else {
                for c in &copied {
                    println!("{}\t{} rows (verified)", c.table, c.rows);
                }
                println!("copied {total} rows; point every server at the new --db");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, a.json),
    }
}

/// What a command prints on success.
enum Out {
    Json(Value),
    Lines(Vec<String>),
}

fn fail(err: &Error, json_out: bool) -> ExitCode {
    print_err(&err.to_string());
    if json_out {
        let _ = print_json(&json!({"error": {"code": err.code(), "message": err.message()}}));
    }
    ExitCode::from(if err.kind() == ErrorKind::Refused {
        1
    } else {
        2
    })
}

fn finish(
    common: &Common,
    issuer: Option<&mut Issuer<AnyStore>>,
    out: Result<Out, Error>,
) -> ExitCode {
    let status = match out {
        Ok(Out::Json(v)) => match print_json(&v) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => f.report(),
        },
        Ok(Out::Lines(lines)) => {
            use std::io::Write;
            let mut o = io::stdout().lock();
            for l in lines {
                let _ = writeln!(o, "{l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, common.json),
    };
    if let Some(i) = issuer {
        for w in i.take_warnings() {
            print_err(&w);
        }
    }
    status
}

fn usage(m: impl Into<String>) -> Error {
    Error::usage(m)
}

fn open(common: &Common, create: bool) -> Result<Issuer<AnyStore>, Error> {
    let store = AnyStore::open(&common.store.db_url(), create)?;
    Ok(Issuer::new(store, common.store.secrets()?))
}

fn now(common: &Common) -> Result<u64, Error> {
    now_or_clock(common.now).map_err(|_| usage("the system clock is before 1970; pass --now"))
}

/// Opens the store, runs `f`, prints.
fn with_issuer(
    common: &Common,
    create: bool,
    f: impl FnOnce(&mut Issuer<AnyStore>, u64) -> Result<Out, Error>,
) -> ExitCode {
    let mut issuer = match open(common, create) {
        Ok(i) => i,
        Err(e) => return fail(&e, common.json),
    };
    let out = now(common).and_then(|n| f(&mut issuer, n));
    finish(common, Some(&mut issuer), out)
}

fn steps_out(common: &Common, steps: Vec<Value>) -> Out {
    if common.json {
        Out::Json(json!({ "steps": steps }))
    } else {
        Out::Lines(
            steps
                .iter()
                .map(|s| {
                    format!(
                        "{}\t{}",
                        s["step"].as_str().unwrap_or(""),
                        s["kid"].as_str().unwrap_or("")
                    )
                })
                .collect(),
        )
    }
}

fn opt(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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

/// Runs `init`.
pub fn init(a: &InitArgs) -> ExitCode {
    with_issuer(&a.common, true, |issuer, now| {
        let mut s = Settings::new(a.issuer.clone());
        s.alg = keys::parse_alg(&a.alg)?;
        s.token_ttl = a.token_ttl;
        s.max_token_ttl = a.max_token_ttl;
        s.rotate_every = a.rotate_every;
        s.pre_publish = a.pre_publish;
        s.retain = a.retain;
        s.jwks_max_age = a.jwks_max_age;
        s.grace = a.grace.unwrap_or_else(|| s.default_grace());
        if let Some(n) = a.kdf_iterations {
            s.kdf_iterations = n;
        }
        if a.key_store == "pkcs11" {
            s.pkcs11 = Some(jwt_edge::issuer::hsm::Pkcs11Config {
                module: a.pkcs11_module.clone().unwrap_or_default(),
                token: a.pkcs11_token.clone().unwrap_or_default(),
            });
        }
        let steps = issuer.init(&s, now)?;
        Ok(steps_out(&a.common, steps))
    })
}

/// Runs `keys ...`.
pub fn keys_cmd(a: &KeysArgs) -> ExitCode {
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
                    Out::Json(Value::from(out))
                } else {
                    Out::Lines(
                        out.iter()
                            .map(|f| format!("{}\t{}", opt(&f["kind"]), opt(&f["message"])))
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
        KeysCommand::Rotate { common } => with_issuer(common, false, |issuer, now| {
            Ok(steps_out(common, issuer.rotate(now)?))
        }),
        KeysCommand::Revoke {
            kid,
            reason,
            common,
        } => with_issuer(common, false, |issuer, now| {
            let steps = issuer.revoke_key(kid, reason.as_deref(), now)?;
            Ok(steps_out(common, steps))
        }),
        KeysCommand::Export { kid, common } => with_issuer(common, false, |issuer, now| {
            let pem = issuer.export_key(kid, now)?;
            Ok(Out::Lines(vec![pem.trim_end().to_owned()]))
        }),
    }
}

/// Runs `jwks`.
pub fn jwks(a: &JwksArgs) -> ExitCode {
    with_issuer(&a.common, false, |issuer, _| Ok(Out::Json(issuer.jwks()?)))
}

/// Runs `provision ...`.
pub fn provision(a: &ProvisionArgs) -> ExitCode {
    match &a.command {
        ProvisionCommand::Create {
            name,
            scope,
            ttl,
            max_token_ttl,
            sub,
            aud,
            permission,
            common,
        } => with_issuer(common, false, |issuer, now| {
            let (rec, key) = issuer.create_provisioning_key(
                name,
                scope,
                Some(*ttl),
                *max_token_ttl,
                sub.as_deref(),
                aud,
                permission,
                now,
            )?;
            let warnings = jwt_edge::issuer::provisioning::creation_warnings(aud);
            for w in &warnings {
                print_err(&format!("warning: {w}"));
            }
            let mut out = new_key_out(common, &rec, &key);
            if let Out::Json(Value::Object(o)) = &mut out {
                o.insert("warnings".into(), Value::from(warnings));
            }
            Ok(out)
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

fn read_stdin(what: &str) -> Result<Zeroizing<String>, Error> {
    let mut s = Zeroizing::new(String::new());
    io::stdin()
        .lock()
        .read_to_string(&mut s)
        .map_err(|e| usage(format!("cannot read {what} from stdin: {e}")))?;
    Ok(Zeroizing::new(s.trim().to_owned()))
}

/// Runs `issue`.
pub fn issue(a: &IssueArgs) -> ExitCode {
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
            provisioning_key: key,
            scope: a.scope.clone(),
            audiences: a.aud.clone(),
            ttl: a.ttl,
            claims,
            source: None,
        };
        let issued = issuer.issue(&req, now)?;
        Ok(if a.common.json {
            Out::Json(json!({"token": issued.token, "kid": issued.kid, "claims": issued.claims}))
        } else {
            Out::Lines(vec![issued.token])
        })
    })
}

/// Runs `revoke ...`.
pub fn revoke(a: &RevokeArgs) -> ExitCode {
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

/// Runs `revocations`.
pub fn revocations(a: &RevocationsArgs) -> ExitCode {
    with_issuer(&a.common, false, |issuer, now| {
        Ok(if a.signed {
            Out::Lines(vec![issuer.signed_revocation_list(now)?])
        } else {
            Out::Json(issuer.revocation_list(now)?)
        })
    })
}

/// Runs `audit`.
pub fn audit(a: &AuditArgs) -> ExitCode {
    if let Some(AuditCommand::Export {
        since,
        limit,
        common,
    }) = &a.command
    {
        return with_issuer(common, false, |issuer, _| {
            let mut lines = Vec::new();
            for r in issuer.audit_export(*since, *limit)? {
                lines.push(serde_json::to_string(&r).map_err(|e| Error::storage(e.to_string()))?);
            }
            Ok(Out::Lines(lines))
        });
    }
    with_issuer(&a.common, false, |issuer, _| {
        let rows = issuer.audit(a.since)?;
        let mut lines = Vec::new();
        for r in rows
            .into_iter()
            .filter(|r| a.action.as_ref().is_none_or(|x| *x == r.action))
        {
            if a.common.json {
                lines.push(serde_json::to_string(&r).map_err(|e| Error::storage(e.to_string()))?);
            } else {
                lines.push(format!(
                    "{}\t{}\t{}\t{}\t{}\tkid={}\tjti={}\tsub={}\tpk={}\t{}",
                    r.id,
                    r.at,
                    r.action,
                    r.outcome,
                    r.actor,
                    r.kid.as_deref().unwrap_or("-"),
                    r.jti.as_deref().unwrap_or("-"),
                    r.sub.as_deref().unwrap_or("-"),
                    r.provisioning_key_id.as_deref().unwrap_or("-"),
                    r.detail.as_deref().unwrap_or("")
                ));
            }
        }
        Ok(Out::Lines(lines))
    })
}
