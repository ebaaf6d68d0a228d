//! Issue #14 item 4: remote failures say what happened. A validator whose
//! remote JWKS (or revocation list) is unusable fails closed with an error
//! that names the source, the HTTP status or network cause, when it failed
//! and when the last good copy was fetched; a synchronous verification that
//! never fetched says exactly that.

use jwt_edge::ErrorKind;
use jwt_edge::{FetchOutcome, Policy, RemoteConfig, Validator};

const TOKEN: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJodHRwczovL2kudGVzdCJ9.c2ln";
const NOW: u64 = 1_800_000_000;

fn remote() -> Validator {
    Validator::builder(Policy::new().issuer("https://i.test"))
        .remote_jwks(RemoteConfig::default())
        .build()
        .unwrap()
}

#[test]
fn never_fetched() {
    let mut v = remote();
    let e = v.verify(TOKEN, NOW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::JwksTimeout);
    assert!(
        e.message().contains("none was fetched yet"),
        "{}",
        e.message()
    );
    let r = e.remote().unwrap();
    assert_eq!(r.source, "jwks");
    assert_eq!(r.cause, "not fetched yet");
    assert_eq!((r.status, r.failed_at, r.last_good_at), (None, None, None));
    assert!(
        e.to_json().contains("\"source\":\"jwks\""),
        "{}",
        e.to_json()
    );
}

#[test]
fn http_status_and_network_cause() {
    let mut v = remote();
    let e = v
        .verify_fetching(TOKEN, NOW, |_| FetchOutcome::Response {
            status: 500,
            cache_control: None,
            age: None,
            etag: None,
            body: Vec::new(),
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::JwksTimeout);
    let r = e.remote().unwrap();
    assert_eq!(
        (r.status, r.cause.as_str(), r.failed_at),
        (Some(500), "HTTP 500", Some(NOW))
    );
    assert!(e.message().contains("HTTP 500"), "{}", e.message());
    assert!(e.to_json().contains("\"status\":500"), "{}", e.to_json());

    let mut v = remote();
    let e = v
        .verify_fetching(TOKEN, NOW, |_| {
            FetchOutcome::Unreachable("connection refused".into())
        })
        .unwrap_err();
    let r = e.remote().unwrap();
    assert_eq!((r.status, r.cause.as_str()), (None, "connection refused"));

    // A body that does not parse is a failure with its reason.
    let mut v = remote();
    let e = v
        .verify_fetching(TOKEN, NOW, |_| FetchOutcome::Response {
            status: 200,
            cache_control: None,
            age: None,
            etag: None,
            body: b"not json".to_vec(),
        })
        .unwrap_err();
    let r = e.remote().unwrap();
    assert_eq!(r.status, Some(200));
    assert!(
        r.cause
            .starts_with("the body was refused: ERR_JWKS_INVALID"),
        "{}",
        r.cause
    );
}
