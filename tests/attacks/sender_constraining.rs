//! Sender-constraining (the catalog's third-wave section): DPoP (RFC 9449)
//! at a resource server, through the Rust request-level API and the CLI:
//! every rule of a proof negated, the binding between a token and its
//! proof, replay memory, server nonces (and a nonce past its window), and
//! the HTTP answer of each refusal. (The npm package runs the same cases
//! through `verifyRequest` on five runtimes: tests/js/suite.mjs; the token
//! endpoint's side: tests/server_dpop.rs; a real client:
//! tests/js/dpop-e2e.mjs.)

use crate::common::*;
use jwt_edge::dpop::{ath, challenge, Scheme};
use jwt_edge::{
    Binding, DpopConfig, ErrorKind, KeySet, Mode, Policy, Rejection, RequestParts, Step, Validator,
    Verified,
};
use serde_json::{json, Value};

const URL: &str = "https://api.example/resource?q=1";
const HTU: &str = "https://api.example/resource";

/// The client's DPoP key (not the issuer's).
fn client() -> Es256Key {
    Es256Key::from_seed(0x51)
}

fn thumbprint(jwk: &Value) -> String {
    jwt_edge::jwk::thumbprint(jwk.as_object().unwrap()).unwrap()
}

/// A token bound to `client()`'s key (or to none).
fn access_token(bound_to: Option<&Value>) -> String {
    let mut c = good_claims();
    if let Some(jwk) = bound_to {
        c["cnf"] = json!({"jkt": thumbprint(jwk)});
    }
    token_kid(KID_EC, &c, &ec())
}

fn public_jwk(k: &Es256Key) -> Value {
    let mut j = k.jwk("x");
    j.as_object_mut().unwrap().remove("kid");
    j
}

/// A proof for `token` with `edit` applied to its header and claims.
fn proof_with(
    key: &dyn Sign,
    jwk: &Value,
    token: &str,
    edit: impl FnOnce(&mut Value, &mut Value),
) -> String {
    let mut header = json!({"typ": "dpop+jwt", "alg": key.alg(), "jwk": jwk});
    let mut claims = json!({
        "jti": format!("{}", rand_id()),
        "htm": "GET",
        "htu": HTU,
        "iat": NOW,
        "ath": ath(token),
    });
    edit(&mut header, &mut claims);
    jwt_edge_token(&header, &claims, key)
}

fn jwt_edge_token(header: &Value, claims: &Value, key: &dyn Sign) -> String {
    crate::common::token(header, claims, key)
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

fn proof(token: &str) -> String {
    let k = client();
    proof_with(&k, &public_jwk(&k), token, |_, _| {})
}

fn validator(config: Option<DpopConfig>) -> Validator {
    let keys = keys_from(&jwks(&[ec().jwk(KID_EC)]));
    let mut b = Validator::builder(Policy::new().issuer(ISS).audience(AUD)).keys(keys);
    if let Some(c) = config {
        b = b.dpop(c);
    }
    b.build().unwrap()
}

fn request(v: &mut Validator, auth: &[&str], dpop: &[&str]) -> Result<Verified, Rejection> {
    v.verify_request(
        &RequestParts {
            authorization: auth,
            dpop,
            method: "GET",
            url: URL,
        },
        NOW,
    )
}

fn refused(r: Result<Verified, Rejection>) -> Rejection {
    match r {
        Ok(v) => panic!("accepted: {:?}", v.claims),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_refused(r: Result<Verified, Rejection>, kind: ErrorKind, status: u16, www: &str) {
    let e = refused(r);
    assert_eq!(e.error.kind(), kind, "{}", e.error);
    assert_eq!(e.challenge.status, status, "{}", e.error);
    let got = e.challenge.www_authenticate.clone().unwrap_or_default();
    assert!(
        got.starts_with(www),
        "WWW-Authenticate {got:?} should start with {www:?}"
    );
}

const DPOP_ALGS: &str =
    "DPoP algs=\"RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519\"";

#[test]
fn a_bound_token_with_its_proof_is_accepted() {
    let mut v = validator(Some(DpopConfig::new()));
    let jwk = public_jwk(&client());
    let token = access_token(Some(&jwk));
    let auth = format!("DPoP {token}");
    let p = proof(&token);
    let ok = request(&mut v, &[&auth], &[&p]).unwrap();
    assert_eq!(ok.claims["cnf"]["jkt"], json!(thumbprint(&jwk)));
    // The scheme is case-insensitive; a second, fresh proof is fine.
    let auth = format!("dpop {token}");
    request(&mut v, &[&auth], &[&proof(&token)]).unwrap();
    // Ed25519 proof keys too.
    let ed = EdKey::from_seed(0x52);
    let mut ed_jwk = ed.jwk("x");
    ed_jwk.as_object_mut().unwrap().remove("kid");
    let token = access_token(Some(&ed_jwk));
    let auth = format!("DPoP {token}");
    let p = proof_with(&ed, &ed_jwk, &token, |_, _| {});
    request(&mut v, &[&auth], &[&p]).unwrap();
    // ... also under RFC 9864's fully-specified name (oauth4webapi's default).
    let p = proof_with(&ed, &ed_jwk, &token, |h, _| h["alg"] = json!("Ed25519"));
    request(&mut v, &[&auth], &[&p]).unwrap();
}

#[test]
fn every_proof_rule_negated() {
    let mut v = validator(Some(DpopConfig::new()));
    let k = client();
    let jwk = public_jwk(&k);
    let token = access_token(Some(&jwk));
    let auth = format!("DPoP {token}");
    let invalid = ErrorKind::DpopInvalid;
    let www = "DPoP algs=\"RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519\", error=\"invalid_dpop_proof\"";
    let cases: Vec<(&str, String)> = vec![
        (
            "typ missing",
            proof_with(&k, &jwk, &token, |h, _| {
                h.as_object_mut().unwrap().remove("typ");
            }),
        ),
        (
            "typ JWT",
            proof_with(&k, &jwk, &token, |h, _| h["typ"] = json!("JWT")),
        ),
        ("alg none", {
            let h = b64_json(&json!({"typ": "dpop+jwt", "alg": "none", "jwk": jwk}));
            let c = b64_json(
                &json!({"jti": "n", "htm": "GET", "htu": HTU, "iat": NOW, "ath": ath(&token)}),
            );
            format!("{h}.{c}.")
        }),
        ("alg HS256", {
            let hs = hs(jwt_edge::Algorithm::HS256);
            proof_with(&hs, &jwk, &token, |_, _| {})
        }),
        (
            "private jwk",
            proof_with(&k, &k.private_jwk("x"), &token, |_, _| {}),
        ),
        (
            "jwk missing",
            proof_with(&k, &jwk, &token, |h, _| {
                h.as_object_mut().unwrap().remove("jwk");
            }),
        ),
        ("signed by another key than its jwk", {
            let other = Es256Key::from_seed(0x53);
            proof_with(&other, &jwk, &token, |_, _| {})
        }),
        (
            "wrong htm",
            proof_with(&k, &jwk, &token, |_, c| c["htm"] = json!("POST")),
        ),
        (
            "htm lower case",
            proof_with(&k, &jwk, &token, |_, c| c["htm"] = json!("get")),
        ),
        (
            "htu other scheme",
            proof_with(&k, &jwk, &token, |_, c| {
                c["htu"] = json!("http://api.example/resource")
            }),
        ),
        (
            "htu other host",
            proof_with(&k, &jwk, &token, |_, c| {
                c["htu"] = json!("https://evil.example/resource")
            }),
        ),
        (
            "htu other port",
            proof_with(&k, &jwk, &token, |_, c| {
                c["htu"] = json!("https://api.example:8443/resource")
            }),
        ),
        (
            "htu other path",
            proof_with(&k, &jwk, &token, |_, c| {
                c["htu"] = json!("https://api.example/other")
            }),
        ),
        (
            "iat too old",
            proof_with(&k, &jwk, &token, |_, c| c["iat"] = json!(NOW - 61)),
        ),
        (
            "iat in the future",
            proof_with(&k, &jwk, &token, |_, c| c["iat"] = json!(NOW + 5)),
        ),
        (
            "iat missing",
            proof_with(&k, &jwk, &token, |_, c| {
                c.as_object_mut().unwrap().remove("iat");
            }),
        ),
        (
            "jti missing",
            proof_with(&k, &jwk, &token, |_, c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
        ),
        (
            "ath missing",
            proof_with(&k, &jwk, &token, |_, c| {
                c.as_object_mut().unwrap().remove("ath");
            }),
        ),
        (
            "ath for another token",
            proof_with(&k, &jwk, &token, |_, c| c["ath"] = json!(ath("another"))),
        ),
        (
            "oversized",
            proof_with(&k, &jwk, &token, |_, c| c["pad"] = json!("a".repeat(9000))),
        ),
        ("not a JWS", "not-a-proof".to_string()),
    ];
    for (name, p) in &cases {
        let e = refused(request(&mut v, &[&auth], &[p]));
        assert_eq!(e.error.kind(), invalid, "{name}: {}", e.error);
        assert_eq!(e.challenge.status, 401, "{name}");
        let w = e.challenge.www_authenticate.unwrap();
        assert!(w.starts_with(www), "{name}: {w}");
        assert!(!w.contains('\\'), "{name}: {w}");
        // The CLI: the same check, the same code.
        #[cfg(feature = "cli")]
        {
            let (code, err) = cli_verify(&["--dpop", p, "--url", URL, &token]);
            assert_eq!(code, 1, "{name}: {err}");
            assert!(err.starts_with("ERR_DPOP_INVALID: "), "{name}: {err}");
        }
    }
    // No proof, two proofs.
    assert_refused(request(&mut v, &[&auth], &[]), invalid, 401, www);
    let (p1, p2) = (proof(&token), proof(&token));
    assert_refused(request(&mut v, &[&auth], &[&p1, &p2]), invalid, 401, www);
    let joined = format!("{p1}, {p2}");
    assert_refused(request(&mut v, &[&auth], &[&joined]), invalid, 401, www);
}

#[test]
fn htu_normalisation_cases_that_must_pass() {
    let mut v = validator(Some(DpopConfig::new()));
    let k = client();
    let jwk = public_jwk(&k);
    let token = access_token(Some(&jwk));
    let auth = format!("DPoP {token}");
    for htu in [
        "https://api.example:443/resource",
        "HTTPS://API.Example/resource",
        "https://api.example/%72esource",
        "https://api.example/resource?other=query",
    ] {
        let p = proof_with(&k, &jwk, &token, |_, c| c["htu"] = json!(htu));
        request(&mut v, &[&auth], &[&p]).unwrap_or_else(|e| panic!("{htu}: {e}"));
    }
}

#[test]
fn binding_between_token_and_proof() {
    let mut v = validator(Some(DpopConfig::new()));
    let jwk = public_jwk(&client());
    let bound = access_token(Some(&jwk));
    let bearer = access_token(None);
    let mismatch = ErrorKind::DpopBindingMismatch;
    // A bound token as Bearer, and through plain verify.
    let auth = format!("Bearer {bound}");
    assert_refused(request(&mut v, &[&auth], &[]), mismatch, 401, DPOP_ALGS);
    assert_eq!(v.verify(&bound, NOW).unwrap_err().kind(), mismatch);
    // ... unless the caller opts out explicitly.
    v.verify_bound(&bound, Binding::Unchecked, NOW).unwrap();
    // The cache does not change that.
    assert_eq!(v.verify(&bound, NOW).unwrap_err().kind(), mismatch);
    // A DPoP token without cnf.
    let auth = format!("DPoP {bearer}");
    assert_refused(
        request(&mut v, &[&auth], &[&proof(&bearer)]),
        mismatch,
        401,
        DPOP_ALGS,
    );
    // A token bound to another key than the proof's.
    let other = public_jwk(&Es256Key::from_seed(0x54));
    let elsewhere = access_token(Some(&other));
    let auth = format!("DPoP {elsewhere}");
    assert_refused(
        request(&mut v, &[&auth], &[&proof(&elsewhere)]),
        mismatch,
        401,
        DPOP_ALGS,
    );
    // Bearer tokens stay fine where DPoP is allowed.
    let auth = format!("Bearer {bearer}");
    request(&mut v, &[&auth], &[]).unwrap();
}

#[test]
fn replays_are_refused_within_the_window() {
    let mut v = validator(Some(DpopConfig::new()));
    let jwk = public_jwk(&client());
    let token = access_token(Some(&jwk));
    let auth = format!("DPoP {token}");
    let p = proof(&token);
    request(&mut v, &[&auth], &[&p]).unwrap();
    assert_refused(
        request(&mut v, &[&auth], &[&p]),
        ErrorKind::DpopReplayed,
        401,
        "DPoP algs=",
    );
    // A proof reused for another URL is refused before its jti matters.
    let e = refused(v.verify_request(
        &RequestParts {
            authorization: &[&auth],
            dpop: &[&p],
            method: "GET",
            url: "https://api.example/other",
        },
        NOW,
    ));
    assert_eq!(e.error.kind(), ErrorKind::DpopInvalid);
}

#[test]
fn authorization_header_errors_and_their_answers() {
    let mut v = validator(None);
    let token = access_token(None);
    let auth = format!("Bearer {token}");
    request(&mut v, &[&auth], &[]).unwrap();
    let e = refused(request(&mut v, &[], &[]));
    assert_eq!(e.error.kind(), ErrorKind::AuthorizationMissing);
    assert_eq!(e.challenge.status, 401);
    assert_eq!(e.challenge.www_authenticate.as_deref(), Some("Bearer"));
    assert_refused(
        request(&mut v, &[&auth, &auth], &[]),
        ErrorKind::AuthorizationInvalid,
        400,
        "Bearer error=\"invalid_request\"",
    );
    let joined = format!("{auth}, {auth}");
    assert_refused(
        request(&mut v, &[&joined], &[]),
        ErrorKind::AuthorizationInvalid,
        400,
        "Bearer error=\"invalid_request\"",
    );
    assert_refused(
        request(&mut v, &["Basic dXNlcjpwdw=="], &[]),
        ErrorKind::AuthorizationInvalid,
        400,
        "Bearer error=\"invalid_request\"",
    );
    // DPoP is not configured: the DPoP scheme is refused by name.
    let dpop = format!("DPoP {token}");
    assert_refused(
        request(&mut v, &[&dpop], &[&proof(&token)]),
        ErrorKind::AuthorizationInvalid,
        400,
        "Bearer error=\"invalid_request\"",
    );
    // A token that fails: 401 invalid_token, the exact RFC 6750 form.
    let expired = token_kid(KID_EC, &claims_with("exp", Some(json!(NOW - 600))), &ec());
    let auth = format!("Bearer {expired}");
    let e = refused(request(&mut v, &[&auth], &[]));
    assert_eq!(e.error.kind(), ErrorKind::Expired);
    assert_eq!(
        e.challenge.www_authenticate.unwrap(),
        format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            e.error.message().replace('"', "'")
        )
    );
    // With DPoP allowed, a missing header is answered with both schemes.
    let mut v = validator(Some(DpopConfig::new()));
    let e = refused(request(&mut v, &[], &[]));
    assert_eq!(
        e.challenge.www_authenticate.unwrap(),
        format!("{DPOP_ALGS}, Bearer")
    );
}

#[test]
fn insufficient_scope_is_403() {
    let keys = keys_from(&jwks(&[ec().jwk(KID_EC)]));
    let mut v = Validator::builder(Policy::new().issuer(ISS).scope("admin"))
        .keys(keys)
        .build()
        .unwrap();
    let auth = format!("Bearer {}", access_token(None));
    assert_refused(
        request(&mut v, &[&auth], &[]),
        ErrorKind::ClaimValidationFailed,
        403,
        "Bearer error=\"insufficient_scope\"",
    );
}

#[test]
fn required_dpop_refuses_bearer() {
    let mut v = validator(Some(DpopConfig::new().required(true)));
    let auth = format!("Bearer {}", access_token(None));
    assert_refused(
        request(&mut v, &[&auth], &[]),
        ErrorKind::DpopRequired,
        401,
        DPOP_ALGS,
    );
    let e = refused(request(&mut v, &[], &[]));
    assert_eq!(e.challenge.www_authenticate.as_deref(), Some(DPOP_ALGS));
}

#[test]
fn algorithm_allowlist_and_options() {
    let config = DpopConfig::new()
        .algorithms([jwt_edge::Algorithm::EdDSA])
        .unwrap();
    let mut v = validator(Some(config));
    let jwk = public_jwk(&client());
    let token = access_token(Some(&jwk));
    let auth = format!("DPoP {token}");
    let e = refused(request(&mut v, &[&auth], &[&proof(&token)]));
    assert_eq!(e.error.kind(), ErrorKind::DpopInvalid);
    assert!(e
        .challenge
        .www_authenticate
        .unwrap()
        .starts_with("DPoP algs=\"EdDSA Ed25519\", error=\"invalid_dpop_proof\""));
    assert!(DpopConfig::new()
        .algorithms([jwt_edge::Algorithm::HS256])
        .is_err());
    assert!(DpopConfig::new().algorithms([]).is_err());
    assert!(DpopConfig::new().max_age(0).is_err());
    assert!(DpopConfig::new().nonce_secret(b"short").is_err());
    assert!(DpopConfig::new().replay_capacity(0).is_err());
}

#[test]
fn server_nonces_round_trip_across_validators() {
    let secret = [9u8; 32];
    let config = DpopConfig::new().nonce_secret(&secret).unwrap();
    let mut a = validator(Some(config.clone()));
    let mut b = validator(Some(config));
    let k = client();
    let jwk = public_jwk(&k);
    let token = access_token(Some(&jwk));
    let auth = format!("DPoP {token}");
    // Without a nonce: use_dpop_nonce with one to send.
    let e = refused(request(&mut a, &[&auth], &[&proof(&token)]));
    assert_eq!(e.error.kind(), ErrorKind::DpopNonceRequired);
    assert_eq!(e.challenge.status, 401);
    assert!(e
        .challenge
        .www_authenticate
        .unwrap()
        .contains("error=\"use_dpop_nonce\""));
    let nonce = e.challenge.dpop_nonce.expect("a nonce to send");
    // Another validator with the same secret accepts it.
    let p = proof_with(&k, &jwk, &token, |_, c| c["nonce"] = json!(nonce));
    request(&mut b, &[&auth], &[&p]).unwrap();
    // A made-up nonce is refused with a fresh one.
    let p = proof_with(&k, &jwk, &token, |_, c| {
        c["nonce"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    });
    let e = refused(request(&mut b, &[&auth], &[&p]));
    assert_eq!(e.error.kind(), ErrorKind::DpopNonceRequired);
    assert!(e.challenge.dpop_nonce.is_some());
    // A nonce past its window (two steps old) is not accepted again.
    let old = a.dpop().unwrap().nonce(NOW - 120).unwrap();
    let p = proof_with(&k, &jwk, &token, |_, c| c["nonce"] = json!(old));
    assert_eq!(
        refused(request(&mut b, &[&auth], &[&p])).error.kind(),
        ErrorKind::DpopNonceRequired
    );
    // Another secret's nonce is not accepted.
    let other = validator(Some(DpopConfig::new().nonce_secret(&[1u8; 32]).unwrap()));
    let foreign = other.dpop().unwrap().nonce(NOW).unwrap();
    let p = proof_with(&k, &jwk, &token, |_, c| c["nonce"] = json!(foreign));
    assert_eq!(
        refused(request(&mut b, &[&auth], &[&p])).error.kind(),
        ErrorKind::DpopNonceRequired
    );
}

/// The split a host with its own crypto uses: `begin_request`, the token
/// through `begin` with the request's binding, the proof's signature by
/// the host, then `finish_proof`.
#[test]
fn host_crypto_split() {
    let mut v = validator(Some(DpopConfig::new()));
    let jwk = public_jwk(&client());
    let token = access_token(Some(&jwk));
    let auth = format!("DPoP {token}");
    let p = proof(&token);
    let parts = RequestParts {
        authorization: &[&auth],
        dpop: &[&p],
        method: "GET",
        url: URL,
    };
    let check = v.begin_request(&parts, NOW).unwrap();
    let mode = Mode {
        rust_signatures: false,
        fetch: false,
        binding: check.binding(),
    };
    let sig = match v.begin(check.token(), NOW, mode).unwrap() {
        Step::Signature(s) => s,
        _ => panic!("expected a signature step"),
    };
    let by = v.check_in_rust(&sig).unwrap();
    v.finish(sig, by, NOW).unwrap();
    let proof = check.proof().unwrap();
    assert_eq!(proof.jkt(), thumbprint(&jwk));
    assert_eq!(proof.expires_at(), NOW + 60);
    assert!(proof.check_in_rust().unwrap());
    // A host replay store that has seen the jti.
    assert_eq!(
        v.finish_proof(proof, true, false, NOW).unwrap_err().kind(),
        ErrorKind::DpopReplayed
    );
    // A bad signature reported by the host.
    let check = v
        .begin_request(
            &RequestParts {
                dpop: &[&self::proof(&token)],
                ..parts
            },
            NOW,
        )
        .unwrap();
    assert_eq!(
        v.finish_proof(check.proof().unwrap(), false, true, NOW)
            .unwrap_err()
            .kind(),
        ErrorKind::DpopInvalid
    );
    // The cached token, bound: still needs the request's binding.
    let mode = Mode {
        rust_signatures: false,
        fetch: false,
        binding: Binding::Unbound,
    };
    assert_eq!(
        v.begin(&token, NOW, mode).unwrap_err().kind(),
        ErrorKind::DpopBindingMismatch
    );
    let mode = Mode {
        binding: check.binding(),
        ..mode
    };
    match v.begin(&token, NOW, mode).unwrap() {
        Step::Verified(done) => {
            assert!(done.hit);
            assert_eq!(done.window, None, "a bound token is never repeatable");
        }
        _ => panic!("expected a cache hit"),
    }
}

#[test]
fn challenge_escapes_descriptions() {
    let c = challenge(
        None,
        ErrorKind::JwtInvalid,
        None,
        "bad \"quoted\" \\ thing é",
        Some(Scheme::Bearer),
        NOW,
    );
    assert_eq!(
        c.www_authenticate.as_deref(),
        Some("Bearer error=\"invalid_token\", error_description=\"bad 'quoted' / thing ?\"")
    );
    let c = challenge(None, ErrorKind::JwksTimeout, None, "x", None, NOW);
    assert_eq!((c.status, c.www_authenticate), (503, None));
    let _ = KeySet::new();
}

/// `jwt-edge verify --dpop PROOF --method M --url URL TOKEN`: the same
/// request-level check, the same codes; a bound token without its proof
/// is refused unless `--dpop-unchecked`.
#[cfg(feature = "cli")]
#[test]
fn cli_verify_with_dpop() {
    let jwk = public_jwk(&client());
    let token = access_token(Some(&jwk));
    let run = cli_verify;
    let p = proof(&token);
    let (code, err) = run(&["--dpop", &p, "--method", "GET", "--url", URL, &token]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = run(&[&token]);
    assert_eq!(code, 1);
    assert!(err.starts_with("ERR_DPOP_BINDING_MISMATCH: "), "{err}");
    let (code, err) = run(&["--dpop-unchecked", &token]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = run(&["--dpop", &p, "--method", "POST", "--url", URL, &token]);
    assert_eq!(code, 1);
    assert!(err.starts_with("ERR_DPOP_INVALID: "), "{err}");
    let (code, err) = run(&["--dpop", &p, "--url", "https://api.example/other", &token]);
    assert_eq!(code, 1);
    assert!(err.starts_with("ERR_DPOP_INVALID: "), "{err}");
}

/// `jwt-edge verify --jwks <the issuer's keys> --now NOW <extra…>`: exit
/// status and stderr.
#[cfg(feature = "cli")]
fn cli_verify(extra: &[&str]) -> (i32, String) {
    use std::sync::OnceLock;
    static JWKS: OnceLock<String> = OnceLock::new();
    let jwks_path = JWKS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("jwt-edge-dpop-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("jwks.json");
        std::fs::write(&path, jwks(&[ec().jwk(KID_EC)])).unwrap();
        path.to_str().unwrap().to_owned()
    });
    let now = NOW.to_string();
    let mut args = vec!["verify", "--jwks", jwks_path, "--now", &now];
    args.extend_from_slice(extra);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jwt-edge"))
        .args(&args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
