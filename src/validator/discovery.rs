//! Where a discovered issuer's JWKS is: RFC 8414 / OpenID Connect metadata
//! URLs and the one member of the metadata that matters.

use super::*;

/// Metadata discovery of one issuer's JWKS.
#[derive(Debug)]
pub(super) struct Discovery {
    pub(super) state: RemoteState,
    /// The issuer the metadata must name.
    pub(super) issuer: String,
    /// 0: RFC 8414's well-known URL; 1: OpenID Connect Discovery's (after a 404).
    pub(super) which: u8,
    /// The `jwks_uri` of the held metadata.
    pub(super) jwks_uri: Option<String>,
}

impl Discovery {
    pub(super) fn url(&self) -> Option<String> {
        metadata_url(&self.issuer, self.which)
    }
}

/// The metadata URL of `issuer`: RFC 8414 §3.1 inserts the well-known
/// segment between the host and the issuer's path; OpenID Connect Discovery
/// §4 appends it to the issuer. `None` unless `issuer` is an `https://` or
/// `http://` URL without query or fragment.
pub fn metadata_url(issuer: &str, which: u8) -> Option<String> {
    let (scheme, rest) = issuer.split_once("://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.trim_end_matches('/');
    let bad = |s: &str| s.bytes().any(|b| b == b'?' || b == b'#');
    if !(scheme == "https" || scheme == "http")
        || host.is_empty()
        || host.contains('@')
        || bad(host)
        || bad(path)
    {
        return None;
    }
    let (before, after) = if which == 0 {
        ("/.well-known/oauth-authorization-server", "")
    } else {
        ("", "/.well-known/openid-configuration")
    };
    let mut url = String::with_capacity(issuer.len() + 48);
    for part in [scheme, "://", host, before] {
        url.push_str(part);
    }
    if !path.is_empty() {
        url.push('/');
        url.push_str(path);
    }
    url.push_str(after);
    Some(url)
}

/// The `jwks_uri` of a metadata document that names `issuer` exactly.
pub(super) fn parse_metadata(body: &[u8], issuer: &str) -> Result<String> {
    let doc = crate::json::parse_object(body, 16).map_err(|e| {
        Error::new(
            ErrorKind::JwksInvalid,
            msg!("the metadata is not JSON: ", e),
        )
    })?;
    let named = doc.get("issuer").and_then(Value::as_str);
    if named != Some(issuer) {
        return Err(Error::new(
            ErrorKind::JwksInvalid,
            msg!(
                "the metadata names issuer ",
                Truncated(named.unwrap_or("(none)")),
                ", not ",
                Truncated(issuer),
                " (RFC 8414 §3.3: they must be identical)"
            ),
        ));
    }
    let uri = doc.get("jwks_uri").and_then(Value::as_str).unwrap_or("");
    let https = uri.starts_with("https://");
    let http_ok = uri.starts_with("http://") && issuer.starts_with("http://");
    let host_ok = uri
        .split_once("://")
        .and_then(|(_, r)| r.split('/').next())
        .is_some_and(|h| !h.is_empty() && !h.contains('@'));
    if !(https || http_ok) || !host_ok || uri.contains('#') {
        return Err(Error::new(
            ErrorKind::JwksInvalid,
            msg!(
                "the metadata's jwks_uri ",
                Truncated(uri),
                " is not an https:// URL"
            ),
        ));
    }
    Ok(String::from(uri))
}
