//! Resource bounds for maximal hostile inputs (attack catalog §23): every
//! verify, JWKS parse, revocation-list parse and inspect stays within a fixed
//! number of allocations, bytes allocated and time, whatever the attacker sends.
//!
//! Memory is measured exactly with a counting global allocator (`stats_alloc`,
//! a wrapper around `System`; this test binary only). Bytes and allocation
//! counts are deterministic, so they carry the real assertions, including
//! linearity checks (4x the input may cost at most ~4x, never 16x). Time bounds
//! are very loose (100x or more above what a loaded 2-core machine measures)
//! and only catch blowups such as quadratic parsing or unbounded modexp.
//! Measured numbers are printed (`cargo test --test resource_bounds -- --nocapture`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::alloc::System;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use jwt_edge::ErrorKind;
use jwt_edge::{Algorithm, KeySet, Policy, RevocationList};
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The allocator counts every thread: measurements run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy)]
struct Cost {
    allocs: usize,
    bytes: usize,
    time: Duration,
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, Cost) {
    let region = Region::new(GLOBAL);
    let start = Instant::now();
    let out = f();
    let time = start.elapsed();
    let s = region.change();
    (
        out,
        Cost {
            allocs: s.allocations + s.reallocations,
            bytes: s.bytes_allocated + s.bytes_reallocated.max(0) as usize,
            time,
        },
    )
}

#[track_caller]
fn bounded(what: &str, c: Cost, max_allocs: usize, max_bytes: usize, max_time: Duration) {
    println!(
        "{what:<58} {:>7} allocs {:>10} bytes {:>9.3} ms",
        c.allocs,
        c.bytes,
        c.time.as_secs_f64() * 1e3
    );
    assert!(
        c.allocs <= max_allocs,
        "{what}: {} allocations > {max_allocs}",
        c.allocs
    );
    assert!(
        c.bytes <= max_bytes,
        "{what}: {} bytes allocated > {max_bytes}",
        c.bytes
    );
    assert!(
        c.time <= max_time,
        "{what}: took {:?} > {max_time:?}",
        c.time
    );
}

const MAX_TOKEN: usize = 16 * 1024;
const MS: Duration = Duration::from_millis(1);

fn hs256() -> HsKey {
    hs(Algorithm::HS256)
}

/// Pads a header JSON object with a filler member so the token is at most `len`
/// bytes and less than 8 bytes short of it.
fn token_of_len(len: usize, header_body: &str, claims: &str) -> String {
    let make = |filler: usize| {
        let h = format!(
            r#"{{"alg":"HS256","kid":"{KID_HS}","f":"{}"{header_body}}}"#,
            "x".repeat(filler)
        );
        token_raw(&h, claims, &hs256())
    };
    let mut filler = (len.saturating_sub(make(0).len())) * 3 / 4;
    while make(filler).len() > len {
        filler -= 1;
    }
    make(filler)
}

/// Hostile tokens of at most `len` bytes, each stressing one part of the parser.
fn hostile_tokens(len: usize) -> Vec<(&'static str, String)> {
    let claims = serde_json::to_string(&good_claims()).unwrap();
    let budget = (len - 600) * 3 / 4; // decoded header bytes that fit
    let deep = format!(",\"d\":{}1{}", "[".repeat(19), "]".repeat(19));
    let members: String = (0..budget / 12).map(|i| format!(",\"m{i}\":{i}")).collect();
    let escapes = format!(",\"e\":\"{}\"", "\\u00e9".repeat(budget / 6));
    let numbers = format!(",\"n\":[{}]", vec!["1e308"; budget / 6].join(","));
    // Exponents far below any f64: each must cost O(1), not a loop per 300 of exponent.
    let tiny = format!(
        ",\"t\":[{}]",
        vec!["1e-999999999999"; budget / 16].join(",")
    );
    vec![
        ("filler string", token_of_len(len, "", &claims)),
        ("max-depth header", token_of_len(len, &deep, &claims)),
        (
            "many header members",
            token_raw(
                &format!(r#"{{"alg":"HS256","kid":"{KID_HS}"{members}}}"#),
                &claims,
                &hs256(),
            ),
        ),
        (
            "unicode escapes",
            token_raw(
                &format!(r#"{{"alg":"HS256","kid":"{KID_HS}"{escapes}}}"#),
                &claims,
                &hs256(),
            ),
        ),
        (
            "many numbers",
            token_raw(
                &format!(r#"{{"alg":"HS256","kid":"{KID_HS}"{numbers}}}"#),
                &claims,
                &hs256(),
            ),
        ),
        (
            "many tiny exponents",
            token_raw(
                &format!(r#"{{"alg":"HS256","kid":"{KID_HS}"{tiny}}}"#),
                &claims,
                &hs256(),
            ),
        ),
        (
            "nesting far too deep",
            format!(
                "{}.{}.AAAA",
                b64(&"[".repeat(len * 3 / 8).into_bytes()),
                b64(b"{}")
            ),
        ),
        ("all dots", ".".repeat(len - 1)),
        ("huge signature segment", {
            let input = format!(
                "{}.{}.",
                b64(br#"{"alg":"RS256","kid":"rsa-1"}"#),
                b64(claims.as_bytes())
            );
            let sig = "A".repeat(len - input.len() - 8);
            input + &sig
        }),
    ]
    .into_iter()
    .map(|(w, t)| {
        assert!(
            t.len() <= len && t.len() > len / 2,
            "{w}: {} bytes",
            t.len()
        );
        (w, t)
    })
    .collect()
}

#[test]
fn hostile_tokens_cost_linear_memory_and_bounded_time() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let keys = standard_keys();
    let policy = Policy::new().algorithms(Algorithm::ALL).require_exp(false);
    let big = hostile_tokens(MAX_TOKEN);
    let small = hostile_tokens(MAX_TOKEN / 4);
    for ((what, t), (_, t4)) in big.iter().zip(&small) {
        let (r, c) = measure(|| jwt_edge::verify(t, &keys, &policy, NOW));
        let code = r.as_ref().map_or_else(|e| e.code(), |_| "accepted");
        // At most ~40 bytes allocated per input byte, ~1 allocation per 2 bytes.
        bounded(
            &format!("verify {what} ({} B, {code})", t.len()),
            c,
            MAX_TOKEN / 2,
            40 * MAX_TOKEN,
            250 * MS,
        );
        let (_, c4) = measure(|| jwt_edge::verify(t4, &keys, &policy, NOW));
        assert!(
            c.bytes <= 6 * c4.bytes.max(1024) && c.allocs <= 6 * c4.allocs.max(16),
            "{what}: 4x the input cost {c:?} vs {c4:?}: superlinear"
        );
        let (_, c) = measure(|| jwt_edge::inspect(t, Some(NOW)));
        bounded(
            &format!("inspect {what}"),
            c,
            MAX_TOKEN / 2,
            40 * MAX_TOKEN,
            250 * MS,
        );
    }
    // Over the size cap: refused before any decoding.
    let over = "A".repeat(MAX_TOKEN + 1);
    let (r, c) = measure(|| jwt_edge::verify(&over, &keys, &policy, NOW));
    assert_eq!(r.unwrap_err().kind(), ErrorKind::JwsInvalid);
    bounded("verify 16 KiB + 1 (size cap)", c, 8, 1024, 50 * MS);
    let over = "A".repeat(1024 * 1024);
    let (_, c) = measure(|| jwt_edge::inspect(&over, None));
    bounded("inspect 1 MiB (size cap)", c, 8, 1024, 50 * MS);
}

#[test]
fn maximal_signed_token_with_claims_and_revocation_list() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A token that verifies and carries as many claims as 16 KiB allows, checked
    // against a large revocation list.
    let words: Vec<String> = (0..1100).map(|i| format!("s{i}")).collect();
    let mut claims = good_claims();
    claims["aud"] = json!((0..700)
        .map(|i| format!("a{i}"))
        .chain([AUD.to_string()])
        .collect::<Vec<_>>());
    claims["scope"] = json!(words.join(" "));
    let t = token(&json!({"alg":"HS256","kid":KID_HS}), &claims, &hs256());
    assert!(t.len() <= MAX_TOKEN, "{}", t.len());
    let entries = 50_000;
    let list = format!(
        r#"{{"iss":"{ISS}","epoch":1,"generated_at":{NOW},"jti":[{}],"sub":[{}]}}"#,
        (0..entries)
            .map(|i| format!(r#"{{"jti":"j{i}","exp":{}}}"#, NOW + 60))
            .collect::<Vec<_>>()
            .join(","),
        (0..entries)
            .map(|i| format!(r#"{{"sub":"u{i}","before":{NOW}}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let (parsed, c) = measure(|| RevocationList::from_json(list.as_bytes()));
    let parsed = parsed.unwrap();
    // Read entry by entry, never as a JSON tree: cumulative bytes ~4 per input
    // byte measured (a `Value` tree was ~24, and its peak ~20× the list).
    bounded(
        &format!(
            "revocation list, {} entries ({} B)",
            2 * entries,
            list.len()
        ),
        c,
        5 * 2 * entries,
        8 * list.len(),
        5000 * MS,
    );
    let mut policy = Policy::new()
        .algorithms([Algorithm::HS256])
        .issuer(ISS)
        .audience(AUD)
        .scope("s1099");
    policy.revocations_mut().insert(parsed).unwrap();
    let keys = standard_keys();
    let (r, c) = measure(|| jwt_edge::verify(&t, &keys, &policy, NOW));
    r.unwrap();
    bounded(
        &format!(
            "verify maximal signed token ({} B) + revocation lookup",
            t.len()
        ),
        c,
        MAX_TOKEN / 2,
        40 * MAX_TOKEN,
        250 * MS,
    );
    // Over the list cap: refused before parsing.
    let over = vec![b' '; 8 * 1024 * 1024 + 1];
    let (r, c) = measure(|| RevocationList::from_json(&over));
    assert_eq!(r.unwrap_err().kind(), ErrorKind::RevocationListInvalid);
    bounded("revocation list 8 MiB + 1 (size cap)", c, 8, 1024, 50 * MS);
}

/// An odd 8192-bit (or `bits`-bit) modulus, deterministic; not a real RSA key,
/// but the verifier cannot tell and does the same work.
fn modulus(bits: usize, seed: u8) -> Vec<u8> {
    let mut n: Vec<u8> = (0..bits / 8)
        .map(|i| (i as u8).wrapping_mul(151).wrapping_add(seed) | 1)
        .collect();
    n[0] |= 0x80;
    n
}

fn rsa_key(kid: &str, bits: usize, e: &[u8], seed: u8) -> serde_json::Value {
    json!({"kty":"RSA","kid":kid,"n":b64(&modulus(bits, seed)),"e":b64(e)})
}

#[test]
fn many_keys_and_huge_rsa_moduli() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // 100 keys (the cap) of 8192 bits (the largest accepted): ~140 KB of JWKS.
    let keys: Vec<_> = (0..100)
        .map(|i| rsa_key(&format!("k{i}"), 8192, &[1, 0, 1], i as u8))
        .collect();
    let doc = jwks(&keys);
    let (set, c) = measure(|| KeySet::from_jwks(&doc));
    let set = set.unwrap();
    assert_eq!(set.keys().len(), 100, "{:?}", set.issues());
    bounded(
        &format!("JWKS: 100 RSA-8192 keys ({} B)", doc.len()),
        c,
        20_000,
        20 * doc.len(),
        5000 * MS,
    );

    // A token for the last key: one 8192-bit modexp with e = 65537.
    let sig = vec![0x5a; 1024];
    let t = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"RS256","kid":"k99"}"#),
        b64(b"{}"),
        b64(&sig)
    );
    let policy = Policy::new();
    let (r, c) = measure(|| jwt_edge::verify(&t, &set, &policy, NOW));
    assert_eq!(
        r.unwrap_err().code(),
        "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
    );
    bounded(
        "verify RS256 against RSA-8192 (e = 65537)",
        c,
        2_000,
        1 << 20,
        1000 * MS,
    );

    // The largest exponent accepted (32 bits) on the largest modulus, and three
    // kidless candidates of that size (the most a policy may try).
    let big_e = [0xff, 0xff, 0xff, 0xff];
    let three: Vec<_> = (0..3)
        .map(|i| rsa_key(&format!("e{i}"), 8192, &big_e, 200 + i as u8))
        .collect();
    let set3 = KeySet::from_jwks(&jwks(&three)).unwrap();
    assert_eq!(set3.keys().len(), 3, "{:?}", set3.issues());
    let t = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"PS512"}"#),
        b64(b"{}"),
        b64(&sig)
    );
    let policy3 = Policy::new().kidless_candidates(3);
    let (r, c) = measure(|| jwt_edge::verify(&t, &set3, &policy3, NOW));
    assert_eq!(
        r.unwrap_err().code(),
        "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
    );
    bounded(
        "verify PS512, 3 kidless RSA-8192 keys, e = 2^32-1",
        c,
        6_000,
        3 << 20,
        3000 * MS,
    );

    // Refused cheaply: a 16384-bit modulus, a 33-bit exponent, a 101st key, a
    // JWKS over 256 KiB, and nesting far beyond any limit.
    let refused = [
        (
            "JWKS: one RSA-16384 key",
            jwks(&[rsa_key("x", 16384, &[1, 0, 1], 1)]),
        ),
        (
            "JWKS: 33-bit exponent",
            jwks(&[rsa_key("x", 2048, &[1, 0, 0, 0, 1], 1)]),
        ),
        (
            "JWKS: 101 keys",
            jwks(&vec![
                json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
                101
            ]),
        ),
        ("JWKS: 256 KiB + 1", {
            let mut d = jwks(&[]);
            d.resize(256 * 1024 + 1, b' ');
            d
        }),
        (
            "JWKS: 100k-deep nesting",
            format!(r#"{{"keys":[{}]}}"#, "[".repeat(100_000)).into_bytes(),
        ),
    ];
    for (what, doc) in refused {
        let (r, c) = measure(|| KeySet::from_jwks(&doc));
        if let Ok(set) = &r {
            assert!(set.is_empty(), "{what}: a key was accepted");
        }
        bounded(what, c, 32 + doc.len() / 4, 1024 + 16 * doc.len(), 100 * MS);
    }
}
