//! What the issuer commands share (as `io` is every command's): the store
//! flags ([`StoreArgs`], [`Common`], also `serve`'s), opening the store and
//! running one operation on it ([`with_issuer`]), and printing its outcome
//! ([`Out`]) or its error ([`fail`]).
//!
//! Exit statuses: 0 success; 1 issuance refused (`ERR_ISSUER_REFUSED`);
//! 2 usage, configuration or storage error. The first stderr line of a failure
//! is `<CODE>: <message>`; with `--json` stdout carries `{"error":{...}}` in
//! the one error shape of every command ([`JsonError`]).

use std::io::{self, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use jwt_edge::issuer::service::StepTaken;
use jwt_edge::issuer::{duration, AnyStore, Error, ErrorKind, Issuer, Secret, Secrets, StoreUrl};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::io::{now_or_clock, print_err, print_json, JsonError};

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
    /// `init`: accept a passphrase shorter than 12 characters or found in
    /// common-password lists (tests only: it protects every signing key).
    #[arg(long = "allow-weak-passphrase")]
    allow_weak_passphrase: bool,
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
        Ok(Secrets::new(pass, self.insecure_dev_keys)
            .with_pkcs11_pin(pin)
            .allow_weak_passphrase(self.allow_weak_passphrase))
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
    pub(crate) store: StoreArgs,
    /// Current time in unix seconds (default: the system clock).
    #[arg(long, value_name = "UNIX_SECS")]
    pub(crate) now: Option<u64>,
    /// Structured output as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A parsed duration flag (`15m`, `1h`, `30d`).
pub(crate) fn dur(s: &str) -> Result<u64, String> {
    duration::parse(s).map_err(|e| e.message().to_owned())
}

/// What a command prints on success.
pub(crate) enum Out {
    /// One JSON document (one line).
    Json(Value),
    /// Text lines.
    Lines(Vec<String>),
}

/// Reports an issuer error: `<CODE>: <message>` on stderr, the `--json`
/// error on stdout when asked; exit 1 for a refusal, else 2.
pub(crate) fn fail(err: &Error, json_out: bool) -> ExitCode {
    print_err(&err.to_string());
    if let Some(hint) = hint(err) {
        print_err(&format!("hint: {hint}"));
    }
    if json_out {
        if let Err(f) = JsonError::issuer(err).print() {
            // The exit status stays the error's; only report the output problem.
            let _ = f.report();
        }
    }
    ExitCode::from(if err.kind() == ErrorKind::Refused {
        1
    } else {
        2
    })
}

/// How a CLI user fixes what the library reports (the library names the
/// secret or the state; the flags and variables are this binary's).
fn hint(err: &Error) -> Option<&'static str> {
    match (err.kind(), err.secret()) {
        (_, Some(Secret::Passphrase)) => Some(
            "set JWT_EDGE_PASSPHRASE or pass --passphrase-file FILE \
             (or --insecure-dev-keys for unencrypted development keys)",
        ),
        (_, Some(Secret::Pkcs11Pin)) => {
            Some("pass --pkcs11-pin-file FILE or set JWT_EDGE_PKCS11_PIN")
        }
        (_, Some(Secret::InsecureDevKeys)) => {
            Some("pass --insecure-dev-keys to use unencrypted development keys")
        }
        (ErrorKind::NotInitialized, _) => {
            Some("run `jwt-edge init` first (or pass --db / set JWT_EDGE_DB)")
        }
        _ => None,
    }
}

/// Prints a command's outcome, then the issuer's warnings on stderr.
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

/// A usage error.
pub(crate) fn usage(m: impl Into<String>) -> Error {
    Error::usage(m)
}

/// Opens the store (`create`: for `init`) with the secrets of the flags.
pub(crate) fn open(common: &Common, create: bool) -> Result<Issuer<AnyStore>, Error> {
    let store = AnyStore::open(&common.store.db_url(), create)?;
    Ok(Issuer::new(store, common.store.secrets()?))
}

/// `--now`, else the system clock.
pub(crate) fn now(common: &Common) -> Result<u64, Error> {
    now_or_clock(common.now).map_err(|_| usage("the system clock is before 1970; pass --now"))
}

/// Opens the store, runs `f`, prints.
pub(crate) fn with_issuer(
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

/// Rotation steps: `{"steps":[...]}` with `--json`, else `<step>\t<kid>` lines.
pub(crate) fn steps_out(common: &Common, steps: &[StepTaken]) -> Result<Out, Error> {
    Ok(if common.json {
        Out::Json(json!({ "steps": json_of(steps)? }))
    } else {
        Out::Lines(
            steps
                .iter()
                .map(|s| format!("{}\t{}", s.step.as_str(), s.kid))
                .collect(),
        )
    })
}

/// A typed result as JSON (a failure to serialise is an error, never an
/// empty value).
pub(crate) fn json_of<T: serde::Serialize + ?Sized>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v)
        .map_err(|e| Error::usage(format!("cannot render the result as JSON: {e}")))
}

/// A field for a table cell: `-` for null, strings unquoted.
pub(crate) fn opt(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads a secret (a provisioning key, a token) from stdin, trimmed.
pub(crate) fn read_stdin(what: &str) -> Result<Zeroizing<String>, Error> {
    let mut s = Zeroizing::new(String::new());
    io::stdin()
        .lock()
        .read_to_string(&mut s)
        .map_err(|e| usage(format!("cannot read {what} from stdin: {e}")))?;
    Ok(Zeroizing::new(s.trim().to_owned()))
}
