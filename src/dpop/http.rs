//! What a request says, read strictly: the `Authorization` header
//! (RFC 6750 §2.1, RFC 9449 §7.1), the `htu` comparison form (RFC 3986
//! §6.2.2 and §6.2.3, without query and fragment) and the `ath` of an access
//! token. (A key's RFC 7638 thumbprint, the `cnf.jkt` a token is bound to,
//! is [`crate::jwk::thumbprint`].)

use alloc::string::String;
use alloc::vec::Vec;

#[cfg(test)]
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::b64;

/// The scheme of an `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449 §7.1).
    DPoP,
}

/// The credentials of a request: its scheme and access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The scheme.
    pub scheme: Scheme,
    /// The access token (token68 syntax).
    pub token: &'a str,
}

/// Why an `Authorization` header gives no credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationError {
    /// No `Authorization` header.
    Missing,
    /// More than one `Authorization` header.
    Multiple,
    /// A scheme other than `Bearer` and `DPoP`.
    UnknownScheme,
    /// Not `<scheme> <token68>` with a single space-free token.
    Malformed,
}

/// Longest access token accepted from a header (bytes): far above any JWT
/// an issuer hands out, far below what would cost anything to refuse.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Reads the credentials of a request from its `Authorization` header
/// values (every occurrence, in order): exactly one header, the scheme
/// `Bearer` or `DPoP` (case-insensitive), one or more spaces, and a token
/// in RFC 7235 token68 syntax, nothing after it.
///
/// # Errors
/// What is wrong, as an [`AuthorizationError`].
pub fn parse_authorization<'a>(values: &[&'a str]) -> Result<Credentials<'a>, AuthorizationError> {
    let value = match sole(values) {
        Ok(Some(one)) => one,
        Ok(None) => return Err(AuthorizationError::Missing),
        Err(()) => return Err(AuthorizationError::Multiple),
    };
    let (scheme, rest) = value.split_once(' ').ok_or(AuthorizationError::Malformed)?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::DPoP
    } else {
        return Err(AuthorizationError::UnknownScheme);
    };
    let token = rest.trim_start_matches(' ');
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || !is_token68(token) {
        return Err(AuthorizationError::Malformed);
    }
    Ok(Credentials { scheme, token })
}

/// The one value of a header that may occur once: `Ok(None)` when absent,
/// `Err(())` when repeated. A fetch `Headers` object joins repeated fields
/// with ", ", and neither a token68 nor a compact JWS holds a comma, so a
/// comma means a second header.
pub(crate) fn sole<'a>(values: &[&'a str]) -> Result<Option<&'a str>, ()> {
    match values {
        [] => Ok(None),
        [one] if !one.contains(',') => Ok(Some(*one)),
        _ => Err(()),
    }
}

/// RFC 7235 §2.1: `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The `ath` of an access token (RFC 9449 §4.2): base64url of its SHA-256.
pub fn ath(access_token: &str) -> String {
    b64::encode(&Sha256::digest(access_token.as_bytes()))
}

/// The form in which a proof's `htu` and a request URL are compared
/// (RFC 9449 §4.3: without query and fragment, after RFC 3986 §6.2.2 and
/// §6.2.3 normalisation): scheme and host in lower case, the scheme's
/// default port removed, percent-encodings of unreserved characters decoded
/// and the others' hex digits in upper case, dot segments removed, an empty
/// path as `/`. `None` for what is not an absolute `http`/`https` URL with
/// a host, or has user information.
pub fn normalize_htu(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once(':')?;
    let rest = rest.strip_prefix('/')?.strip_prefix('/')?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    // Without query and fragment.
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rfind(':') {
        // An IPv6 literal's colons are inside brackets.
        Some(i) if !authority.get(i..).unwrap_or("").contains(']') => {
            let (h, p) = authority.split_at(i);
            (h, p.get(1..).unwrap_or(""))
        }
        _ => (authority, ""),
    };
    if host.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    out.push_str(&scheme);
    out.push_str("://");
    out.push_str(&normalize_percent(&host.to_ascii_lowercase())?);
    let port = port.trim_start_matches('0');
    // `:443` on https (or an empty port) is the default: left out.
    if !port.is_empty() && port != default_port {
        out.push(':');
        out.push_str(port);
    }
    let path = normalize_percent(path)?;
    let path = remove_dot_segments(&path);
    if path.is_empty() {
        out.push('/');
    } else {
        out.push_str(&path);
    }
    Some(out)
}

/// RFC 3986 §6.2.2.1 and §6.2.2.2: `%xx` of an unreserved character
/// decoded, the other escapes' hex digits in upper case. `None` for a `%`
/// not followed by two hex digits.
fn normalize_percent(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        let hex = |j: usize| {
            b.get(j)
                .and_then(|h| char::from(*h).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        let v = hex(i + 1)? * 16 + hex(i + 2)?;
        if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
            out.push(v);
        } else {
            out.push(b'%');
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.extend(
                [v >> 4, v & 15]
                    .iter()
                    .filter_map(|&d| HEX.get(usize::from(d)).copied()),
            );
        }
        i += 3;
    }
    String::from_utf8(out).ok()
}

/// RFC 3986 §5.2.4 `remove_dot_segments`.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let ends_with_slash = path.ends_with("/.") || path.ends_with("/..") || path.ends_with('/');
    for seg in path.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    // A trailing `.`/`..` (or `/`) leaves the path ending in `/`.
    if ends_with_slash && !out.ends_with('/') {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9449_ath_and_jkt_examples() {
        // RFC 9449 §7.1 (the access token of its figure 12) and §6.1 (the
        // key of its proof examples).
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
        let jwk: Map<String, Value> = serde_json::from_str(
            r#"{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}"#,
        )
        .unwrap();
        assert_eq!(
            crate::jwk::thumbprint(&jwk).as_deref(),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
    }

    #[test]
    fn rfc_7638_example_and_refusals() {
        let mut rsa: Map<String, Value> = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(
            crate::jwk::thumbprint(&rsa).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        rsa.insert("d".into(), "private".into());
        assert_eq!(crate::jwk::thumbprint(&rsa), None, "a private member");
        let oct: Map<String, Value> =
            serde_json::from_str(r#"{"kty":"oct","k":"c2VjcmV0"}"#).unwrap();
        assert_eq!(crate::jwk::thumbprint(&oct), None, "a symmetric key");
        let no_y: Map<String, Value> =
            serde_json::from_str(r#"{"kty":"EC","crv":"P-256","x":"AA"}"#).unwrap();
        assert_eq!(
            crate::jwk::thumbprint(&no_y),
            None,
            "a required member missing"
        );
    }

    #[test]
    fn authorization_headers() {
        fn ok(v: &str) -> Result<Credentials<'_>, AuthorizationError> {
            parse_authorization(&[v])
        }
        assert_eq!(
            ok("Bearer abc.def-_~+/=="),
            Ok(Credentials {
                scheme: Scheme::Bearer,
                token: "abc.def-_~+/=="
            })
        );
        assert_eq!(ok("dpop  t").map(|c| c.scheme), Ok(Scheme::DPoP));
        assert_eq!(ok("BEARER t").map(|c| c.token), Ok("t"));
        assert_eq!(parse_authorization(&[]), Err(AuthorizationError::Missing));
        assert_eq!(
            parse_authorization(&["Bearer a", "Bearer a"]),
            Err(AuthorizationError::Multiple)
        );
        assert_eq!(ok("Basic dXNlcg=="), Err(AuthorizationError::UnknownScheme));
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a=b",
            "Bearer =",
            "Bearer a\t",
            "Bearerabc",
        ] {
            assert!(ok(bad).is_err(), "{bad:?}");
        }
        let long = alloc::format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(ok(&long), Err(AuthorizationError::Malformed));
    }

    #[test]
    fn htu_normalisation() {
        let n = |u: &str| normalize_htu(u);
        let base = Some(String::from("https://server.example.com/token"));
        // What must compare equal (RFC 3986 §6.2.2, §6.2.3; RFC 9449 §4.3).
        for same in [
            "https://server.example.com/token",
            "HTTPS://Server.Example.COM/token",
            "https://server.example.com:443/token",
            "https://server.example.com/token?x=1#frag",
            "https://server.example.com/%74oken",
            "https://server.example.com/a/../token",
            "https://server.example.com/./token",
        ] {
            assert_eq!(n(same), base, "{same}");
        }
        assert_eq!(n("https://h.example/a%2fb"), n("https://h.example/a%2Fb"));
        assert_eq!(n("http://h.example:80"), Some("http://h.example/".into()));
        assert_eq!(
            n("http://h.example:8080/x/"),
            Some("http://h.example:8080/x/".into())
        );
        assert_eq!(
            n("https://[::1]:8443/t"),
            Some("https://[::1]:8443/t".into())
        );
        // What must not.
        for other in [
            "http://server.example.com/token",
            "https://server.example.com:8443/token",
            "https://other.example.com/token",
            "https://server.example.com/Token",
            "https://server.example.com/token/",
        ] {
            assert_ne!(n(other), base, "{other}");
        }
        for bad in [
            "ftp://h/x",
            "https:///x",
            "https://u:p@h/x",
            "https://h:8x/",
            "https://h/%zz",
            "/token",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }
}
