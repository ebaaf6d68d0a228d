//! `POST /token` request parsing (RFC 6749 §4.4 client credentials, client
//! authentication per §2.3.1) and the §5.2 error responses. Pure functions:
//! no policy here, the issuer service decides every issuance.

use std::borrow::ToOwned;
use std::format;
use std::string::String;
use std::vec::Vec;

use base64ct::Encoding;
use zeroize::Zeroizing;

use crate::issuer::provisioning::PREFIX;
use crate::issuer::{Error, ErrorKind, Refusal};

/// An RFC 6749 §5.2 error: HTTP status, `error` code and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status.
    pub status: u16,
    /// The `error` member.
    pub error: &'static str,
    /// The `error_description` member (never a secret).
    pub description: String,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    /// `invalid_request` (400).
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    /// `invalid_client` (401, sent with `WWW-Authenticate`).
    pub fn invalid_client() -> Self {
        Self::new(401, "invalid_client", "client authentication failed")
    }

    /// Whether this is a failed client authentication (rate limited).
    pub fn is_invalid_client(&self) -> bool {
        self.error == "invalid_client"
    }

    /// Maps an issuer error to its RFC 6749 error.
    pub fn from_issuer(e: &Error) -> Self {
        match (e.kind(), e.refusal()) {
            // Which of unknown/wrong/expired/revoked is in the audit log, not
            // in the response.
            (ErrorKind::Refused, Some(Refusal::Client)) => Self::invalid_client(),
            (ErrorKind::Refused, Some(Refusal::Scope)) => {
                Self::new(400, "invalid_scope", e.message())
            }
            // RFC 8707's code for a target (audience) the client may not ask for.
            (ErrorKind::Refused, Some(Refusal::Audience)) => {
                Self::new(400, "invalid_target", e.message())
            }
            (ErrorKind::Refused, _) => Self::invalid_request(e.message()),
            _ => Self::new(
                500,
                "server_error",
                "the issuer could not process the request",
            ),
        }
    }
}

/// A parsed client-credentials request.
pub struct TokenRequest {
    /// The client id (the provisioning key's public id).
    pub client_id: String,
    /// The provisioning key rebuilt as `jep_<id>_<secret>`.
    pub provisioning_key: Zeroizing<String>,
    /// `scope`, if given.
    pub scope: Option<String>,
    /// `audience` values (repeatable).
    pub audiences: Vec<String>,
}

impl core::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

/// The client id to rate limit on: `jep_` removed; only well-formed ids
/// (16 lowercase hex digits) count, so junk cannot fill the limiter.
pub fn normalise_client_id(id: &str) -> Option<&str> {
    let id = id.strip_prefix(PREFIX).unwrap_or(id);
    (id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some(id)
}

fn basic_credentials(header: &str) -> Result<(String, Zeroizing<String>), OAuthError> {
    let bad = || OAuthError::invalid_client();
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

fn url_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn once<T>(slot: &Option<T>, name: &str) -> Result<(), OAuthError> {
    if slot.is_some() {
        Err(OAuthError::invalid_request(format!(
            "parameter {name:?} is repeated"
        )))
    } else {
        Ok(())
    }
}

/// Parses the body (`application/x-www-form-urlencoded`) and the
/// `Authorization` header of a token request.
///
/// # Errors
/// `invalid_request` (malformed, repeated or missing parameters, two client
/// authentication methods), `unsupported_grant_type`, `invalid_client`
/// (no or undecodable client credentials).
pub fn parse(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<TokenRequest, OAuthError> {
    let form = content_type.is_some_and(|ct| {
        ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    if !form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut grant_type = None;
    let mut scope = None;
    let mut client_id = None;
    let mut client_secret: Option<Zeroizing<String>> = None;
    let mut audiences = Vec::new();
    for (name, value) in form_urlencoded::parse(body) {
        match name.as_ref() {
            "grant_type" => {
                once(&grant_type, &name)?;
                grant_type = Some(value.into_owned());
            }
            "scope" => {
                once(&scope, &name)?;
                scope = Some(value.into_owned());
            }
            "client_id" => {
                once(&client_id, &name)?;
                client_id = Some(value.into_owned());
            }
            "client_secret" => {
                once(&client_secret, &name)?;
                client_secret = Some(Zeroizing::new(value.into_owned()));
            }
            "audience" => audiences.push(value.into_owned()),
            _ => {} // §3.2: unrecognised parameters are ignored.
        }
    }
    match grant_type.as_deref() {
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            ))
        }
    }
    let (id, secret) = match (authorization, client_id, client_secret) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method (HTTP Basic or the form), not both",
            ))
        }
        (Some(h), form_id, None) => {
            let (id, secret) = basic_credentials(h)?;
            if form_id.as_ref().is_some_and(|f| *f != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the HTTP Basic user",
                ));
            }
            (id, secret)
        }
        (None, Some(id), Some(secret)) => (id, secret),
        (None, _, _) => return Err(OAuthError::invalid_client()),
    };
    let bare_id = id.strip_prefix(PREFIX).unwrap_or(&id).to_owned();
    // The secret is either the provisioning key's secret part or the whole
    // `jep_<id>_<secret>`; a whole key of another id fails to parse (and is
    // an audited refusal).
    let prefix = format!("{PREFIX}{bare_id}_");
    let secret_part = secret.strip_prefix(prefix.as_str()).unwrap_or(&secret);
    let provisioning_key = Zeroizing::new(format!("{prefix}{secret_part}"));
    Ok(TokenRequest {
        client_id: bare_id,
        provisioning_key,
        scope,
        audiences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn parses_basic_and_form() {
        let auth = format!(
            "Basic {}",
            base64ct::Base64::encode_string(b"0123456789abcdef:s3cr%2Bt")
        );
        let r = parse(
            FORM,
            Some(&auth),
            b"grant_type=client_credentials&scope=a+b&audience=x&audience=y",
        )
        .unwrap();
        assert_eq!(r.client_id, "0123456789abcdef");
        assert_eq!(r.provisioning_key.as_str(), "jep_0123456789abcdef_s3cr+t");
        assert_eq!(r.scope.as_deref(), Some("a b"));
        assert_eq!(r.audiences, ["x", "y"]);
        let r = parse(
            FORM,
            None,
            b"grant_type=client_credentials&client_id=jep_0123456789abcdef&client_secret=jep_0123456789abcdef_zz",
        )
        .unwrap();
        assert_eq!(r.provisioning_key.as_str(), "jep_0123456789abcdef_zz");
        assert!(!format!("{r:?}").contains("zz"));
    }

    #[test]
    fn errors() {
        let e = |ct, auth, body: &[u8]| parse(ct, auth, body).unwrap_err().error;
        assert_eq!(
            e(None, None, b"grant_type=client_credentials"),
            "invalid_request"
        );
        assert_eq!(e(FORM, None, b""), "invalid_request");
        assert_eq!(
            e(FORM, None, b"grant_type=password"),
            "unsupported_grant_type"
        );
        assert_eq!(
            e(FORM, None, b"grant_type=client_credentials&scope=a&scope=b"),
            "invalid_request"
        );
        assert_eq!(
            e(FORM, None, b"grant_type=client_credentials"),
            "invalid_client"
        );
        assert_eq!(
            e(FORM, Some("Basic !!!"), b"grant_type=client_credentials"),
            "invalid_client"
        );
        assert_eq!(
            e(
                FORM,
                Some("Basic eDp5"),
                b"grant_type=client_credentials&client_secret=y"
            ),
            "invalid_request"
        );
        assert_eq!(
            normalise_client_id("jep_0123456789abcdef"),
            Some("0123456789abcdef")
        );
        assert_eq!(normalise_client_id("x"), None);
    }
}
