//! `jwt-edge init`: stores the issuer's policy and creates its first
//! signing key.

use std::process::ExitCode;

use jwt_edge::issuer::custody::local as keys;
use jwt_edge::issuer::Settings;

use crate::issuer_io::{dur, steps_out, usage, with_issuer, Common};

/// Arguments of `jwt-edge init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The `iss` of every token (e.g. https://issuer.example).
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// Signing algorithm of generated keys: ES256, EdDSA, RS256, PS256,
    /// ML-DSA-44, ML-DSA-65 or ML-DSA-87.
    #[arg(long, default_value = "ES256")]
    alg: String,
    /// Another algorithm with a key ring of its own (repeatable): clients
    /// created with `provision create --alg` get tokens signed with it.
    #[arg(long = "also-alg", value_name = "ALG")]
    also_alg: Vec<String>,
    /// The key ring that signs revocation and status lists [default: --alg's].
    #[arg(long = "lists-alg", value_name = "ALG")]
    lists_alg: Option<String>,
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

/// Runs `init`.
pub fn run(a: &InitArgs) -> ExitCode {
    with_issuer(&a.common, true, |issuer, now| {
        let mut s = Settings::new(a.issuer.clone());
        s.alg = keys::parse_alg(&a.alg)?;
        for extra in &a.also_alg {
            s.extra_algs.push(keys::parse_alg(extra)?);
        }
        if let Some(l) = &a.lists_alg {
            let l = keys::parse_alg(l)?;
            s.lists_alg = (l != s.alg).then_some(l);
        }
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
            // clap requires both with --key-store pkcs11; never an empty name.
            let given = |v: &Option<String>, flag: &str| {
                v.clone()
                    .ok_or_else(|| usage(format!("--key-store pkcs11 needs {flag}")))
            };
            s.pkcs11 = Some(jwt_edge::issuer::custody::hsm::Pkcs11Config {
                module: given(&a.pkcs11_module, "--pkcs11-module")?,
                token: given(&a.pkcs11_token, "--pkcs11-token")?,
            });
        }
        let steps = issuer.init(&s, now)?;
        steps_out(&a.common, &steps)
    })
}
