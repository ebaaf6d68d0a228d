//! `POST /token` request parsing (RFC 6749 §4.4 client credentials, client
//! authentication per §2.3.1) into requests or [`ApiError`]s. Pure functions:
//! no policy here, the issuer service decides every issuance.

use std::borrow::ToOwned;
use std::format;
use std::string::String;
use std::vec::Vec;

use base64ct::Encoding;
use zeroize::Zeroizing;

use crate::issuer::rules::provisioning::PREFIX;
use crate::issuer::service::JWT_BEARER_ASSERTION;
use crate::issuer::{ClientAssertion, Credential, Fetched};

use super::error::ApiError;

/// The former name of [`ApiError`], the server's one error answer (every
/// parser here returns it).
pub type OAuthError = ApiError;

/// How the client authenticated (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// In the form body (`client_secret_post`).
    Post,
    /// A signed client assertion (`private_key_jwt`, RFC 7523 §2.2).
    PrivateKeyJwt,
}

impl AuthMethod {
    /// Its RFC 7591 `token_endpoint_auth_method` name (metrics, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "client_secret_basic",
            Self::Post => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// An authenticated-to-be client: who it claims to be and its credential.
pub struct ClientAuth {
    /// The client id (the provisioning key's public id).
    pub client_id: String,
    /// The provisioning key rebuilt as `jep_<id>_<secret>`, or the client
    /// assertion.
    pub credential: Credential,
    /// How the credential was sent.
    pub method: AuthMethod,
}

impl ClientAuth {
    /// The credential for one try at the writer, with the fetch of the
    /// client's `jwks_uri` made after the previous try asked for it.
    pub fn credential(&self, fetched: Option<Fetched>) -> Credential {
        match &self.credential {
            Credential::Secret(key) => Credential::Secret(key.clone()),
            Credential::Assertion(a) => Credential::Assertion(ClientAssertion {
                client_id: a.client_id.clone(),
                jwt: a.jwt.clone(),
                fetched,
            }),
        }
    }
}

impl core::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// A parsed client-credentials request.
#[derive(Debug)]
pub struct TokenRequest {
    /// The client and its credential.
    pub auth: ClientAuth,
    /// `scope`, if given.
    pub scope: Option<String>,
    /// The requested audiences: `audience` and `resource` values, in order
    /// (both repeatable; duplicates are removed by the issuer).
    pub audiences: Vec<String>,
}

/// A parsed RFC 7009 revocation or RFC 7662 introspection request.
pub struct TokenParamRequest {
    /// The client and its credential.
    pub auth: ClientAuth,
    /// The `token` parameter.
    pub token: Zeroizing<String>,
}

impl core::fmt::Debug for TokenParamRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenParamRequest")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// The client id to rate limit on: `jep_` removed; only well-formed ids
/// (16 lowercase hex digits) count, so junk cannot fill the limiter.
pub fn normalise_client_id(id: &str) -> Option<&str> {
    let id = id.strip_prefix(PREFIX).unwrap_or(id);
    crate::issuer::rules::provisioning::is_client_id(id).then_some(id)
}

/// RFC 8707 §2: an absolute URI (RFC 3986 §4.3: a scheme, no fragment).
fn is_resource_uri(v: &str) -> bool {
    let Some((scheme, rest)) = v.split_once(':') else {
        return false;
    };
    let mut b = scheme.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && !v.contains('#')
        && !v.bytes().any(|c| c <= b' ' || c == 0x7f)
}

fn basic_credentials(header: &str) -> Result<(String, Zeroizing<String>), ApiError> {
    let bad = || ApiError::invalid_client();
    let (scheme, value) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = Zeroizing::new(base64ct::Base64::decode_vec(value.trim()).map_err(|_| bad())?);
    let text = core::str::from_utf8(&decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    // §2.3.1: both are form-urlencoded before being joined.
    let id = url_decode(id);
    let secret = Zeroizing::new(url_decode(secret));
    Ok((id, secret))
}

/// Form-urldecodes one credential. `x=<s>` always parses to a first pair,
/// so the default is never taken (nothing fails here).
fn url_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn once<T>(slot: &Option<T>, name: &str) -> Result<(), ApiError> {
    if slot.is_some() {
        Err(ApiError::invalid_request(format!(
            "parameter {name:?} is repeated"
        )))
    } else {
        Ok(())
    }
}

/// The form parameters every endpoint reads.
#[derive(Default)]
struct Params {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Zeroizing<String>>,
    audiences: Vec<String>,
    token: Option<Zeroizing<String>>,
    overlap: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

fn params(content_type: Option<&str>, body: &[u8]) -> Result<Params, ApiError> {
    let form = content_type.is_some_and(|ct| {
        ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    if !form {
        return Err(ApiError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut p = Params::default();
    for (name, value) in form_urlencoded::parse(body) {
        match name.as_ref() {
            "grant_type" => {
                once(&p.grant_type, &name)?;
                p.grant_type = Some(value.into_owned());
            }
            "scope" => {
                once(&p.scope, &name)?;
                p.scope = Some(value.into_owned());
            }
            "client_id" => {
                once(&p.client_id, &name)?;
                p.client_id = Some(value.into_owned());
            }
            "client_secret" => {
                once(&p.client_secret, &name)?;
                p.client_secret = Some(Zeroizing::new(value.into_owned()));
            }
            "token" => {
                once(&p.token, &name)?;
                p.token = Some(Zeroizing::new(value.into_owned()));
            }
            "overlap" => {
                once(&p.overlap, &name)?;
                p.overlap = Some(value.into_owned());
            }
            "client_assertion_type" => {
                once(&p.client_assertion_type, &name)?;
                p.client_assertion_type = Some(value.into_owned());
            }
            "client_assertion" => {
                once(&p.client_assertion, &name)?;
                p.client_assertion = Some(value.into_owned());
            }
            // RFC 8693 `audience` and RFC 8707 `resource` (both
            // repeatable) name the requested audiences together.
            "audience" => p.audiences.push(value.into_owned()),
            "resource" => {
                if !is_resource_uri(&value) {
                    return Err(ApiError::invalid_target(
                        "resource must be an absolute URI without a fragment (RFC 8707)",
                    ));
                }
                p.audiences.push(value.into_owned());
            }
            // §3.2: unrecognised parameters are ignored (and so is RFC
            // 7009's `token_type_hint`: every token here is an access token).
            _ => {}
        }
    }
    Ok(p)
}

/// RFC 7521 §4.2 / RFC 7523 §2.2: the client assertion, alone (with no
/// other authentication method), of the one supported type. The client it
/// names is `client_id` when given, else the assertion's `sub` (read
/// unverified: it only selects whose keys check it).
fn assertion_auth(
    authorization: Option<&str>,
    p: &mut Params,
) -> Result<Option<ClientAuth>, ApiError> {
    let (kind, jwt) = match (p.client_assertion_type.take(), p.client_assertion.take()) {
        (None, None) => return Ok(None),
        (Some(k), Some(j)) => (k, j),
        _ => {
            return Err(ApiError::invalid_request(
                "client_assertion and client_assertion_type go together (RFC 7521 section 4.2)",
            ))
        }
    };
    if authorization.is_some() || p.client_secret.is_some() {
        return Err(ApiError::invalid_request(
            "use one client authentication method (a client assertion, HTTP Basic or a secret in the form), not several",
        ));
    }
    if kind != JWT_BEARER_ASSERTION {
        return Err(ApiError::invalid_request(format!(
            "unsupported client_assertion_type; this server accepts {JWT_BEARER_ASSERTION}"
        )));
    }
    let named = crate::inspect(&jwt, None).ok().and_then(|t| {
        t.claims
            .get("sub")
            .and_then(serde_json::Value::as_str)
            .map(String::from)
    });
    let client_id = match (p.client_id.take(), named) {
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => return Err(ApiError::invalid_client()),
    };
    let client_id = client_id
        .strip_prefix(PREFIX)
        .unwrap_or(&client_id)
        .to_owned();
    Ok(Some(ClientAuth {
        client_id: client_id.clone(),
        credential: Credential::Assertion(ClientAssertion {
            client_id,
            jwt,
            fetched: None,
        }),
        method: AuthMethod::PrivateKeyJwt,
    }))
}

fn client_auth(authorization: Option<&str>, p: &mut Params) -> Result<ClientAuth, ApiError> {
    if let Some(auth) = assertion_auth(authorization, p)? {
        return Ok(auth);
    }
    let (id, secret, method) = match (authorization, p.client_id.take(), p.client_secret.take()) {
        (Some(_), _, Some(_)) => {
            return Err(ApiError::invalid_request(
                "use one client authentication method (HTTP Basic or the form), not both",
            ))
        }
        (Some(h), form_id, None) => {
            let (id, secret) = basic_credentials(h)?;
            if form_id.as_ref().is_some_and(|f| *f != id) {
                return Err(ApiError::invalid_request(
                    "client_id differs from the HTTP Basic user",
                ));
            }
            (id, secret, AuthMethod::Basic)
        }
        (None, Some(id), Some(secret)) => (id, secret, AuthMethod::Post),
        (None, _, _) => return Err(ApiError::invalid_client()),
    };
    let bare_id = id.strip_prefix(PREFIX).unwrap_or(&id).to_owned();
    // The secret is either the provisioning key's secret part or the whole
    // `jep_<id>_<secret>`; a whole key of another id fails to parse (and is
    // an audited refusal).
    let prefix = format!("{PREFIX}{bare_id}_");
    let secret_part = secret.strip_prefix(prefix.as_str()).unwrap_or(&secret);
    let provisioning_key = Zeroizing::new(format!("{prefix}{secret_part}"));
    Ok(ClientAuth {
        client_id: bare_id,
        credential: Credential::Secret(provisioning_key),
        method,
    })
}

/// Parses the body (`application/x-www-form-urlencoded`) and the
/// `Authorization` header of a token request.
///
/// # Errors
/// `invalid_request` (malformed, repeated or missing parameters, two client
/// authentication methods), `unsupported_grant_type`, `invalid_target` (a
/// `resource` that is not an absolute URI), `invalid_client` (no or
/// undecodable client credentials).
pub fn parse(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<TokenRequest, ApiError> {
    let mut p = params(content_type, body)?;
    match p.grant_type.as_deref() {
        None => return Err(ApiError::invalid_request("grant_type is missing")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(ApiError::unsupported_grant_type(
                "only grant_type=client_credentials is supported",
            ))
        }
    }
    let auth = client_auth(authorization, &mut p)?;
    Ok(TokenRequest {
        auth,
        scope: p.scope,
        audiences: p.audiences,
    })
}

/// Parses an RFC 7009 revocation or RFC 7662 introspection request: the
/// `token` parameter and the client's credentials (as for [`parse`]).
///
/// # Errors
/// `invalid_request` (no `token`, malformed or repeated parameters),
/// `invalid_client`.
pub fn parse_token_param(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<TokenParamRequest, ApiError> {
    let mut p = params(content_type, body)?;
    let auth = client_auth(authorization, &mut p)?;
    let token = p
        .token
        .ok_or_else(|| ApiError::invalid_request("the token parameter is missing"))?;
    Ok(TokenParamRequest { auth, token })
}

/// A client's request to rotate its own secret (`POST /client/rotate`).
pub struct RotateRequest {
    /// The client's credentials (its current secret).
    pub auth: ClientAuth,
    /// How long the current secret keeps working (default one day).
    pub overlap: u64,
}

/// The overlap of a self-rotation when the request names none.
pub const DEFAULT_SELF_OVERLAP: u64 = 86_400;

/// Parses `POST /client/rotate`: client credentials (as for [`parse`]) and
/// an optional `overlap` (`30m`, `1d`, or seconds).
///
/// # Errors
/// `invalid_request` (a malformed overlap, repeated parameters),
/// `invalid_client`.
pub fn parse_rotate(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<RotateRequest, ApiError> {
    let mut p = params(content_type, body)?;
    let auth = client_auth(authorization, &mut p)?;
    let overlap = match p.overlap.as_deref() {
        None => DEFAULT_SELF_OVERLAP,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => n,
            Err(_) => crate::issuer::duration::parse(v).map_err(|_| {
                ApiError::invalid_request("overlap must be a duration such as 1d, 12h or 3600")
            })?,
        },
    };
    Ok(RotateRequest { auth, overlap })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::error::ErrorCode;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn secret_of(auth: &ClientAuth) -> Zeroizing<String> {
        match auth.credential(None) {
            Credential::Secret(s) => s,
            other => panic!("not a secret: {other:?}"),
        }
    }

    #[test]
    fn parses_basic_and_form() {
        let auth = format!(
            "Basic {}",
            base64ct::Base64::encode_string(b"0123456789abcdef:s3cr%2Bt")
        );
        let r = parse(
            FORM,
            Some(&auth),
            b"grant_type=client_credentials&scope=a+b&audience=x&resource=https%3A%2F%2Fy.example&audience=x",
        )
        .unwrap();
        assert_eq!(r.auth.client_id, "0123456789abcdef");
        assert_eq!(r.auth.method, AuthMethod::Basic);
        assert_eq!(secret_of(&r.auth).as_str(), "jep_0123456789abcdef_s3cr+t");
        assert_eq!(r.scope.as_deref(), Some("a b"));
        assert_eq!(r.audiences, ["x", "https://y.example", "x"]);
        let r = parse(
            FORM,
            None,
            b"grant_type=client_credentials&client_id=jep_0123456789abcdef&client_secret=jep_0123456789abcdef_zz",
        )
        .unwrap();
        assert_eq!(secret_of(&r.auth).as_str(), "jep_0123456789abcdef_zz");
        assert_eq!(r.auth.method, AuthMethod::Post);
        assert!(!format!("{r:?}").contains("zz"));
    }

    #[test]
    fn token_parameter() {
        let r = parse_token_param(
            FORM,
            None,
            b"token=a.b.c&token_type_hint=access_token&client_id=0123456789abcdef&client_secret=zz",
        )
        .unwrap();
        assert_eq!(r.token.as_str(), "a.b.c");
        assert!(!format!("{r:?}").contains("a.b.c"));
        let e = parse_token_param(FORM, Some("Basic eDp5"), b"").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        let e = parse_token_param(FORM, None, b"token=x").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidClient);
    }

    #[test]
    fn errors() {
        let e = |ct, auth, body: &[u8]| parse(ct, auth, body).unwrap_err().code();
        assert_eq!(
            e(None, None, b"grant_type=client_credentials"),
            ErrorCode::InvalidRequest
        );
        assert_eq!(e(FORM, None, b""), ErrorCode::InvalidRequest);
        assert_eq!(
            e(FORM, None, b"grant_type=password"),
            ErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            e(FORM, None, b"grant_type=client_credentials&scope=a&scope=b"),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            e(FORM, None, b"grant_type=client_credentials"),
            ErrorCode::InvalidClient
        );
        assert_eq!(
            e(FORM, Some("Basic !!!"), b"grant_type=client_credentials"),
            ErrorCode::InvalidClient
        );
        assert_eq!(
            e(
                FORM,
                Some("Basic eDp5"),
                b"grant_type=client_credentials&client_secret=y"
            ),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            e(
                FORM,
                Some("Basic eDp5"),
                b"grant_type=client_credentials&resource=api"
            ),
            ErrorCode::InvalidTarget
        );
        assert_eq!(
            e(
                FORM,
                Some("Basic eDp5"),
                b"grant_type=client_credentials&resource=https%3A%2F%2Fa.example%2F%23x"
            ),
            ErrorCode::InvalidTarget
        );
        assert_eq!(
            normalise_client_id("jep_0123456789abcdef"),
            Some("0123456789abcdef")
        );
        assert_eq!(normalise_client_id("x"), None);
    }
}
