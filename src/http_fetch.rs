//! One HTTP GET (ureq) read as a [`FetchOutcome`]: the status, the caching
//! headers the remote-source policy reads, and the body, bounded. Shared by
//! the CLI's `verify --jwks-url` and the server's fetch of clients'
//! `jwks_uri`; what to fetch and what a response means is
//! [`crate::remote`]'s.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use std::io::Read as _;

use crate::remote::FetchOutcome;

/// GETs `url` with `agent`, sending `If-None-Match` when given; reads at
/// most `max_body + 1` bytes of a 200's body (one more than a source may
/// hold, so that the policy refuses an oversized document rather than a
/// truncated one). A transport failure (DNS, connection, TLS, timeout:
/// no response) is [`FetchOutcome::Unreachable`] with its kind.
pub fn get(
    agent: &ureq::Agent,
    url: &str,
    if_none_match: Option<&str>,
    max_body: usize,
) -> FetchOutcome {
    let mut request = agent
        .get(url)
        .set("accept", "application/jwk-set+json, application/json");
    if let Some(etag) = if_none_match {
        request = request.set("if-none-match", etag);
    }
    let response = match request.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => {
            return FetchOutcome::Unreachable(format!("{}", t.kind()))
        }
    };
    let header = |name: &str| response.header(name).map(String::from);
    let (status, cache_control, age, etag) = (
        response.status(),
        header("cache-control"),
        header("age"),
        header("etag"),
    );
    let mut body = Vec::new();
    if status == 200
        && response
            .into_reader()
            .take(max_body as u64 + 1)
            .read_to_end(&mut body)
            .is_err()
    {
        return FetchOutcome::Unreachable("the response body could not be read in time".into());
    }
    FetchOutcome::Response {
        status,
        cache_control,
        age,
        etag,
        body,
    }
}
