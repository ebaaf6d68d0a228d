//! `private_key_jwt` client authentication (RFC 7523 §2.2 / §3, RFC 7521
//! §4.2, draft-ietf-oauth-rfc7523bis): a client registered with its public
//! keys proves itself with a JWT it signs. The checks are the core
//! [`Validator`] under one [`Policy`] ([`assertion_policy`]); this module
//! only keeps a validator per client and remembers each `jti`.

#[allow(clippy::wildcard_imports)]
use super::*;

use crate::dpop::Binding;
use crate::remote::{FetchOutcome, RemoteConfig};
use crate::validator::{Mode, Step, Validator};
use crate::{KeySet, Policy};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The `typ` values a client assertion may carry besides none at all
/// (draft-ietf-oauth-rfc7523bis §4): anything else (an access token, a
/// DPoP proof, a revocation list) is refused.
pub const ASSERTION_TYPES: [&str; 2] = ["JWT", "client-authentication+jwt"];

/// The longest lifetime (`exp` − `iat`) an assertion may have by default.
pub const DEFAULT_MAX_ASSERTION_LIFETIME: u64 = 300;

/// Client validators kept (one per `private_key_jwt` client in use).
const MAX_CLIENT_VALIDATORS: usize = 4096;

/// What a client presents to authenticate.
pub enum Credential {
    /// A provisioning key (`jep_<id>_<secret>`).
    Secret(Zeroizing<String>),
    /// A signed client assertion.
    Assertion(ClientAssertion),
}

impl Default for Credential {
    fn default() -> Self {
        Self::Secret(Zeroizing::default())
    }
}

impl From<Zeroizing<String>> for Credential {
    fn from(key: Zeroizing<String>) -> Self {
        Self::Secret(key)
    }
}

impl Credential {
    /// The authentication method's RFC 7591 name for a credential of this
    /// kind (`client_secret` for both secret methods: the issuer does not
    /// see how the server received the secret).
    pub fn method(&self) -> &'static str {
        match self {
            Self::Secret(_) => "client_secret",
            Self::Assertion(_) => "private_key_jwt",
        }
    }
}

impl Credential {
    /// The client it names (not authenticated): a provisioning key's id,
    /// or the assertion's client.
    pub fn client_id(&self) -> Option<String> {
        match self {
            Self::Secret(key) => provisioning::Presented::parse(key).ok().map(|p| p.id),
            Self::Assertion(a) => Some(
                a.client_id
                    .strip_prefix(provisioning::PREFIX)
                    .unwrap_or(&a.client_id)
                    .into(),
            ),
        }
    }
}

impl core::fmt::Debug for Credential {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret(<redacted>)"),
            Self::Assertion(a) => f
                .debug_struct("Assertion")
                .field("client_id", &a.client_id)
                .finish_non_exhaustive(),
        }
    }
}

/// A client assertion as received: who it names and the JWT. Nothing in it
/// is trusted before the issuer checks it (the signature against the
/// client's registered keys, and every claim rule).
pub struct ClientAssertion {
    /// The client it claims to be (the `client_id` parameter, or the
    /// assertion's `sub` read unverified to select the client's keys).
    pub client_id: String,
    /// The compact JWS.
    pub jwt: String,
    /// A fetch of the client's `jwks_uri` the caller made after a
    /// [`Error::fetch_needed`] answer: applied before the check.
    pub fetched: Option<Fetched>,
}

/// One fetch of a client's `jwks_uri`, as the caller made it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL fetched.
    pub url: String,
    /// What came back.
    pub outcome: FetchOutcome,
}

/// How assertions are checked: what the server configures.
#[derive(Debug, Clone)]
pub struct AssertionRules {
    /// The token endpoint's URL, accepted as the sole `aud` besides the
    /// issuer identifier (`serve --accept-token-endpoint-audience`).
    pub token_endpoint_audience: Option<String>,
    /// Longest lifetime (`exp` − `iat`), seconds.
    pub max_lifetime: u64,
    /// Clock leeway for `exp`, `nbf` and `iat`, seconds.
    pub leeway: u64,
    /// Accept RS256 besides ES256, ES384, PS256 and EdDSA.
    pub allow_rs256: bool,
    /// The freshness rules of fetched `jwks_uri` sets.
    pub remote: RemoteConfig,
}

impl Default for AssertionRules {
    fn default() -> Self {
        Self {
            token_endpoint_audience: None,
            max_lifetime: DEFAULT_MAX_ASSERTION_LIFETIME,
            leeway: 30,
            allow_rs256: false,
            remote: RemoteConfig {
                // A client that rotates adds its new key first: a kid it
                // has not published yet is refetched at most every 30 s.
                default_ttl: 300,
                max_ttl: 3600,
                ..RemoteConfig::default()
            },
        }
    }
}

impl AssertionRules {
    /// The signing algorithms accepted: FAPI 2.0's (ES256, ES384, PS256,
    /// EdDSA, also under RFC 9864's name `Ed25519`), and RS256 only when
    /// configured.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let mut algs = std::vec![
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::PS256,
            Algorithm::EdDSA
        ];
        if self.allow_rs256 {
            algs.push(Algorithm::RS256);
        }
        algs
    }

    /// The names published as `token_endpoint_auth_signing_alg_values_supported`.
    pub fn algorithm_names(&self) -> Vec<&'static str> {
        Algorithm::names_with_ed25519(&self.algorithms()).collect()
    }
}

/// The one policy a client assertion of `client_id` is checked under:
/// `iss` = `sub` = the client id, `aud` the issuer identifier as its sole
/// value (or the token endpoint's URL when configured), `exp` and `jti`
/// required, the lifetime capped, `typ` absent or one of
/// [`ASSERTION_TYPES`], and only the configured asymmetric algorithms.
pub fn assertion_policy(rules: &AssertionRules, issuer: &str, client_id: &str) -> Policy {
    let mut p = Policy::new()
        .algorithms(rules.algorithms())
        .issuer(client_id)
        .subject(client_id)
        .audience(issuer)
        .sole_audience(true)
        .max_lifetime(rules.max_lifetime)
        .leeway(rules.leeway)
        .require_claim("jti")
        .typ(ASSERTION_TYPES[0])
        .accept_typ(ASSERTION_TYPES[1])
        .typ_optional(true)
        .accept_ed25519_name(true);
    if let Some(te) = &rules.token_endpoint_audience {
        p = p.audience(te.clone());
    }
    p
}

/// Checks a client's keys at registration: an inline set must parse with
/// every key usable for verification (no `oct`, no private members, nothing
/// skipped), a URL must be `https://` (or `http://` to a loopback or
/// private address, which the server fetches only with
/// `--allow-private-jwks-uri`).
///
/// # Errors
/// `ERR_ISSUER_USAGE`, naming the key or the rule.
pub fn check_client_keys(keys: &ClientKeys) -> Result<()> {
    match keys {
        ClientKeys::Jwks(text) => {
            // The core's parser skips (and says why) every key that is not a
            // public signing key: oct, private members, unsupported, weak.
            let set = KeySet::from_jwks(text.as_bytes())
                .map_err(|e| Error::usage(format!("the client's JWKS: {}", e.message())))?;
            if let Some(issue) = set.issues().first() {
                return Err(Error::usage(format!(
                    "the client's JWKS: {} (every key must be a public signing key)",
                    issue.message
                )));
            }
            if set.is_empty() {
                return Err(Error::usage("the client's JWKS holds no key"));
            }
            Ok(())
        }
        ClientKeys::JwksUri(url) => {
            let ok = url.starts_with("https://") || url.starts_with("http://");
            let host = url.split('/').nth(2).unwrap_or("");
            if !ok || host.is_empty() || url.contains('#') || url.bytes().any(|b| b <= b' ') {
                return Err(Error::usage(
                    "jwks_uri must be an absolute https:// URL without a fragment",
                ));
            }
            Ok(())
        }
    }
}

/// The per-client validators and the issuer identifier (read once).
#[derive(Default)]
pub(super) struct Assertions {
    pub(super) rules: AssertionRules,
    issuer: Option<String>,
    validators: BTreeMap<String, (ClientKeys, Validator)>,
}

impl Assertions {
    /// Under `rules`, with no client validator yet.
    pub(super) fn new(rules: AssertionRules) -> Self {
        Self {
            rules,
            ..Self::default()
        }
    }

    /// The validator of `pk` (built again when its keys changed).
    fn validator(&mut self, pk: &ProvisioningRecord, keys: &ClientKeys) -> Result<&mut Validator> {
        let fresh = self
            .validators
            .get(&pk.id)
            .is_none_or(|(held, _)| held != keys);
        if fresh {
            let issuer = self.issuer.as_deref().unwrap_or_default();
            let policy = assertion_policy(&self.rules, issuer, &pk.id);
            let b = Validator::builder(policy).cache(0);
            let b = match keys {
                ClientKeys::Jwks(text) => {
                    b.keys(KeySet::from_jwks(text.as_bytes()).map_err(|e| {
                        Error::storage(format!("a client's stored JWKS: {}", e.message()))
                    })?)
                }
                ClientKeys::JwksUri(_) => b.remote_jwks(self.rules.remote),
            };
            let v = b
                .build()
                .map_err(|e| Error::usage(format!("client assertion rules: {}", e.message())))?;
            if self.validators.len() >= MAX_CLIENT_VALIDATORS {
                self.validators.clear();
            }
            self.validators.insert(pk.id.clone(), (keys.clone(), v));
        }
        self.validators
            .get_mut(&pk.id)
            .map(|(_, v)| v)
            .ok_or_else(|| Error::storage("a client validator vanished"))
    }
}

/// What checking an assertion found.
pub(super) enum Checked {
    /// Valid: its `jti` and when it expires (remembered until then).
    Valid { jti: String, exp: u64 },
    /// Refused: which failure, and why (for the audit row).
    Refused(ClientFailure, String),
    /// The client's `jwks_uri` must be fetched first.
    Fetch(Error),
}

/// Checks `a` against `pk`'s registered keys at `now` with the core
/// validator (signature, key selection, every claim rule).
pub(super) fn check(
    ctx: &mut Ctx,
    tx: &mut Tx<'_>,
    pk: &ProvisioningRecord,
    keys: &ClientKeys,
    a: &ClientAssertion,
    now: u64,
) -> Result<Checked> {
    let st = &mut ctx.assertions;
    if st.issuer.is_none() {
        st.issuer = Some(load_settings(tx)?.issuer);
    }
    let timeout = st.rules.remote.timeout;
    let v = st.validator(pk, keys)?;
    if let (Some(f), ClientKeys::JwksUri(url)) = (&a.fetched, keys) {
        if f.url == *url {
            if let Some((source, _)) = v.sources().into_iter().next() {
                // A refused document leaves what was held; the check below
                // then says what is missing.
                let _ = v.on_fetch(source, now, f.outcome.clone());
            }
        }
    }
    let mode = Mode {
        rust_signatures: true,
        fetch: a.fetched.is_none(),
        binding: Binding::Unbound,
    };
    let step = v.begin(&a.jwt, now, mode);
    // Another request's fetch of this jwks_uri is under way (`Wait`): this
    // one asks for the same fetch, which the server's fetcher shares (one
    // GET per URL at a time), rather than failing while it runs.
    let fetch = match &step {
        Ok(Step::Fetch(_)) => true,
        Ok(Step::Wait { .. }) => a.fetched.is_none(),
        _ => false,
    };
    let verified = match step {
        Ok(Step::Verified(done)) => done.verified.into_owned(),
        _ if fetch => {
            let url = keys.jwks_uri().unwrap_or_default();
            return Ok(Checked::Fetch(Error::fetch_needed(url, timeout)));
        }
        Ok(Step::Fetch(_) | Step::Wait { .. } | Step::Signature(_)) => {
            return Ok(Checked::Refused(
                ClientFailure::KeysUnavailable,
                "the client's jwks_uri gave no usable key set".into(),
            ))
        }
        Err(e) => {
            let failure = match e.kind() {
                crate::ErrorKind::JwksTimeout | crate::ErrorKind::JwksInvalid
                    if keys.jwks_uri().is_some() =>
                {
                    ClientFailure::KeysUnavailable
                }
                _ => ClientFailure::BadAssertion,
            };
            return Ok(Checked::Refused(
                failure,
                format!("client assertion refused: {}: {}", e.code(), e.message()),
            ));
        }
    };
    let jti = verified
        .claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let exp = verified
        .claims
        .get("exp")
        .and_then(Value::as_f64)
        .map_or(now, |e| e as u64);
    if jti.is_empty() {
        return Ok(Checked::Refused(
            ClientFailure::BadAssertion,
            "client assertion refused: its jti is empty".into(),
        ));
    }
    Ok(Checked::Valid { jti, exp })
}
