//! What an issuance request is granted, or why not: a pure function of the
//! authenticated provisioning key, the issuer's settings and the request (no
//! store, no clock), like [`super::lifecycle`] for signing keys. The service
//! audits and signs what this decides.

use std::format;
use std::string::String;
use std::vec::Vec;

use crate::issuer::duration;
use crate::issuer::rules::provisioning;
use crate::issuer::service::{IssueRequest, RESERVED_CLAIMS};
use crate::issuer::settings::Settings;
use crate::issuer::store::ProvisioningRecord;
use crate::issuer::Refusal;

/// What a token may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Its scopes (sorted, de-duplicated).
    pub scopes: Vec<String>,
    /// Its audiences, in request order, each once.
    pub audiences: Vec<String>,
    /// Its lifetime in seconds.
    pub ttl: u64,
}

/// Why a request is refused: the class (the protocol error) and the reason
/// (for the audit row and the error description; never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The refusal class.
    pub class: Refusal,
    /// Why.
    pub why: String,
}

fn denied(class: Refusal, why: impl Into<String>) -> Denied {
    Denied {
        class,
        why: why.into(),
    }
}

/// Decides what `req` is granted under provisioning key `pk` and settings
/// `s`: the requested scopes (default: all the key allows) each allowed to
/// the key; exactly the requested audiences (default: the key's), at least
/// one (RFC 9068), none empty, each allowed when the key lists audiences;
/// a lifetime (default: the issuer's token TTL) within both the key's and the
/// issuer's maximum; no reserved or empty claim name.
///
/// # Errors
/// [`Denied`] with [`Refusal::Scope`], [`Refusal::Audience`] or
/// [`Refusal::Request`].
pub fn decide(pk: &ProvisioningRecord, s: &Settings, req: &IssueRequest) -> Result<Grant, Denied> {
    let scopes = match &req.scope {
        Some(sc) => {
            provisioning::parse_scopes(sc).map_err(|e| denied(Refusal::Scope, e.message()))?
        }
        None => pk.scopes.clone(),
    };
    if scopes.is_empty() {
        return Err(denied(Refusal::Scope, "no scope requested"));
    }
    let extra = provisioning::not_allowed(&scopes, &pk.scopes);
    if !extra.is_empty() {
        return Err(denied(
            Refusal::Scope,
            format!(
                "scope not allowed for this provisioning key: {}",
                extra.join(" ")
            ),
        ));
    }
    // Exactly the requested audiences (each once, in the order asked), or
    // the provisioning key's own when none is requested.
    let audiences = if req.audiences.is_empty() {
        pk.audiences.clone()
    } else {
        let mut v: Vec<String> = Vec::with_capacity(req.audiences.len());
        for a in &req.audiences {
            if !v.contains(a) {
                v.push(a.clone());
            }
        }
        v
    };
    if audiences.is_empty() {
        return Err(denied(
            Refusal::Audience,
            "an audience is required (RFC 9068): request one, or give the provisioning key \
             a default audience",
        ));
    }
    if let Some(empty) = audiences.iter().find(|a| a.is_empty()) {
        return Err(denied(
            Refusal::Audience,
            format!("audience {empty:?} is not allowed: an audience must not be empty"),
        ));
    }
    if !pk.audiences.is_empty() {
        let extra = provisioning::not_allowed(&audiences, &pk.audiences);
        if !extra.is_empty() {
            return Err(denied(
                Refusal::Audience,
                format!(
                    "audience not allowed for this provisioning key: {}",
                    extra.join(" ")
                ),
            ));
        }
    }
    let max = pk.max_token_ttl.min(s.max_token_ttl);
    let ttl = req.ttl.unwrap_or_else(|| s.token_ttl.min(max));
    if ttl == 0 || ttl > max {
        return Err(denied(
            Refusal::Request,
            format!(
                "token lifetime {} exceeds this provisioning key's maximum {}",
                duration::format(ttl),
                duration::format(max)
            ),
        ));
    }
    for (name, _) in &req.claims {
        if RESERVED_CLAIMS.contains(&name.as_str()) || name.is_empty() {
            return Err(denied(
                Refusal::Request,
                format!("claim {name:?} is set by the issuer and cannot be requested"),
            ));
        }
    }
    Ok(Grant {
        scopes,
        audiences,
        ttl,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec;

    fn key(scopes: &[&str], audiences: &[&str], max_ttl: u64) -> ProvisioningRecord {
        ProvisioningRecord {
            id: "0123456789abcdef".into(),
            name: "t".into(),
            secret_sha256: [0; 32],
            scopes: scopes.iter().map(ToString::to_string).collect(),
            audiences: audiences.iter().map(ToString::to_string).collect(),
            sub: "svc".into(),
            created_at: 0,
            expires_at: 100,
            max_token_ttl: max_ttl,
            revoked_at: None,
            use_count: 0,
            last_used_at: None,
            permissions: vec![],
            secret_set_at: None,
            previous: None,
            require_dpop: false,
            keys: None,
            keys_failing_since: None,
            alg: None,
        }
    }

    fn settings() -> Settings {
        let mut s = Settings::new("https://issuer.test");
        s.token_ttl = 600;
        s.max_token_ttl = 3_600;
        s
    }

    fn req(scope: Option<&str>, audiences: &[&str], ttl: Option<u64>) -> IssueRequest {
        IssueRequest {
            scope: scope.map(String::from),
            audiences: audiences.iter().map(ToString::to_string).collect(),
            ttl,
            ..IssueRequest::default()
        }
    }

    #[test]
    fn defaults_come_from_the_key_and_the_settings() {
        let g = decide(
            &key(&["read", "write"], &["a"], 7_200),
            &settings(),
            &req(None, &[], None),
        )
        .unwrap();
        assert_eq!(g.scopes, ["read", "write"]);
        assert_eq!(g.audiences, ["a"]);
        assert_eq!(g.ttl, 600);
        // The key's maximum below the issuer's default caps the default.
        let g = decide(
            &key(&["read"], &["a"], 60),
            &settings(),
            &req(None, &[], None),
        )
        .unwrap();
        assert_eq!(g.ttl, 60);
    }

    #[test]
    fn scopes_audiences_lifetimes_and_claims_are_refused_with_their_class() {
        let k = key(&["read"], &["a", "b"], 1_800);
        let s = settings();
        let class = |r: IssueRequest| decide(&k, &s, &r).unwrap_err().class;
        assert_eq!(class(req(Some("write"), &[], None)), Refusal::Scope);
        assert_eq!(class(req(Some("read  read"), &[], None)), Refusal::Scope);
        assert_eq!(class(req(Some(""), &[], None)), Refusal::Scope);
        assert_eq!(class(req(None, &["c"], None)), Refusal::Audience);
        assert_eq!(class(req(None, &[""], None)), Refusal::Audience);
        assert_eq!(class(req(None, &[], Some(1_801))), Refusal::Request);
        assert_eq!(class(req(None, &[], Some(0))), Refusal::Request);
        let mut r = req(None, &[], None);
        r.claims = vec![("exp".into(), "1".into())];
        assert_eq!(class(r), Refusal::Request);
        // No audience anywhere: RFC 9068 needs one.
        let none = key(&["read"], &[], 600);
        let e = decide(&none, &s, &req(None, &[], None)).unwrap_err();
        assert_eq!(e.class, Refusal::Audience);
        assert!(e.why.contains("RFC 9068"), "{}", e.why);
    }

    #[test]
    fn requested_audiences_are_exact_and_deduplicated_in_order() {
        let any = key(&["read"], &[], 600);
        let g = decide(&any, &settings(), &req(None, &["b", "a", "b"], None)).unwrap();
        assert_eq!(g.audiences, ["b", "a"]);
        let g = decide(
            &key(&["read"], &["a", "b"], 600),
            &settings(),
            &req(None, &["b"], None),
        )
        .unwrap();
        assert_eq!(g.audiences, ["b"]);
    }
}
