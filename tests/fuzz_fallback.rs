//! Stable fallback for the cargo-fuzz targets: the same harness bodies
//! (`fuzz/harness.rs`) over the generated seed corpus, the committed crash
//! regressions (`fuzz/regressions/<target>/`), and random + mutated inputs from a
//! fixed-seed generator. A panic in a harness is a failure; the input is written to
//! `target/fuzz-failures/<target>/` (commit it under `fuzz/regressions/` once fixed).
//!
//! Knobs (environment): `JWT_EDGE_FUZZ_SECS` (time per target, default 2),
//! `JWT_EDGE_FUZZ_ITERS` (most mutated inputs per target, default 10000),
//! `JWT_EDGE_FUZZ_SEED` (default fixed). `JWT_EDGE_CORPUS_DIR=dir` makes the
//! `write_seed_corpus` test write the seeds (and `fixtures.json`) for cargo-fuzz
//! and `tests/js/no-panic.mjs`.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../fuzz/harness.rs"]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vectors() -> PathBuf {
    std::env::var_os("JWT_EDGE_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests/vectors"))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// FNV-1a, for file names.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// SplitMix64: small, deterministic, good enough for mutation choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const DICT: &[&str] = &[
    ".",
    "=",
    "\"",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\\u0000",
    "\\ud800",
    "null",
    "true",
    "1e999",
    "-0",
    "0.5",
    "9007199254740993",
    "253402300799",
    "253402300800",
    "1700000000",
    "\"alg\"",
    "\"kid\"",
    "\"typ\"",
    "\"crit\"",
    "\"b64\"",
    "\"jwk\"",
    "\"exp\"",
    "\"nbf\"",
    "\"iat\"",
    "\"aud\"",
    "\"iss\"",
    "\"sub\"",
    "\"jti\"",
    "\"scope\"",
    "\"scp\"",
    "\"keys\"",
    "\"kty\"",
    "\"EC\"",
    "\"RSA\"",
    "\"OKP\"",
    "\"oct\"",
    "\"P-256\"",
    "\"none\"",
    "\"HS256\"",
    "\"ES256\"",
    "\"RS256\"",
    "\"EdDSA\"",
    "\"epoch\"",
    "\"before\"",
    "AQAB",
    "eyJ",
    "\u{feff}",
    "é",
    "\t",
];

const MAX_LEN: usize = 20_000;

fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) {
    match rng.below(9) {
        0 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] ^= 1 << rng.below(8);
        }
        1 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] = *rng.pick(&[
                0, 0xff, b'.', b'"', b'{', b'}', b'=', b' ', b'\\', b'A', 0x80,
            ]);
        }
        2 if !data.is_empty() => {
            let a = rng.below(data.len());
            let b = (a + 1 + rng.below(16)).min(data.len());
            data.drain(a..b);
        }
        3 if !data.is_empty() => {
            let a = rng.below(data.len());
            let b = (a + 1 + rng.below(32)).min(data.len());
            let chunk = data[a..b].to_vec();
            let at = rng.below(data.len() + 1);
            for _ in 0..=rng.below(3) {
                data.splice(at..at, chunk.iter().copied());
            }
        }
        4 => {
            let at = rng.below(data.len() + 1);
            let word = rng.pick(DICT).as_bytes();
            data.splice(at..at, word.iter().copied());
        }
        5 if !others.is_empty() => {
            let other = rng.pick(others);
            let cut = rng.below(data.len() + 1);
            let from = rng.below(other.len() + 1);
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        6 => {
            let n = rng.below(64);
            *data = (0..n).map(|_| rng.next() as u8).collect();
        }
        7 if !data.is_empty() => {
            data.truncate(rng.below(data.len()));
        }
        _ => {
            let i = rng.below(data.len() + 1);
            data.insert(i, rng.next() as u8);
        }
    }
}

/// For compact tokens: decode one segment, mutate the decoded bytes, re-encode
/// (reaches the JSON parser behind the base64url layer).
fn mutate_segment(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) -> bool {
    let Ok(s) = std::str::from_utf8(data) else {
        return false;
    };
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let i = rng.below(2);
    let mut seg = harness::b64_decode_lenient(parts[i]);
    for _ in 0..=rng.below(3) {
        mutate_bytes(rng, &mut seg, others);
    }
    let mut p: Vec<String> = parts.iter().map(|x| x.to_string()).collect();
    p[i] = jwt_edge::b64url_encode(&seg);
    *data = p.join(".").into_bytes();
    true
}

fn save_failure(target: &str, input: &[u8]) -> PathBuf {
    let dir = root().join("target/fuzz-failures").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("crash-{:016x}", fnv(input)));
    std::fs::write(&path, input).unwrap();
    path
}

fn regressions(target: &str) -> Vec<Vec<u8>> {
    let dir = root().join("fuzz/regressions").join(target);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn fuzz(target: &str) {
    let seeds: Vec<Vec<u8>> = harness::seeds(&vectors())
        .into_iter()
        .filter(|(t, _)| *t == target)
        .map(|(_, d)| d)
        .chain(regressions(target))
        .collect();
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let secs = env_u64("JWT_EDGE_FUZZ_SECS", 2);
    let iters = env_u64("JWT_EDGE_FUZZ_ITERS", 10000);
    let mut rng = Rng(env_u64("JWT_EDGE_FUZZ_SEED", 0x5eed_f022) ^ fnv(target.as_bytes()));
    let mut failures: Vec<PathBuf> = Vec::new();
    let mut run = |input: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| harness::run(target, input))).is_err() {
            failures.push(save_failure(target, input));
        }
    };
    let start = Instant::now();
    for s in &seeds {
        run(s);
    }
    let deadline = start + Duration::from_secs(secs);
    let mut mutated = 0u64;
    let mut current = seeds[0].clone();
    while mutated < iters && Instant::now() < deadline {
        // Mostly chain mutations from a fresh seed; sometimes keep going.
        if rng.below(4) != 0 {
            current = rng.pick(&seeds).clone();
        }
        for _ in 0..=rng.below(4) {
            if rng.below(3) != 0 || !mutate_segment(&mut rng, &mut current, &seeds) {
                mutate_bytes(&mut rng, &mut current, &seeds);
            }
        }
        current.truncate(MAX_LEN);
        run(&current);
        mutated += 1;
    }
    println!(
        "fuzz fallback {target}: {} execs ({} seeds + {mutated} mutated) in {:.1} s",
        seeds.len() as u64 + mutated,
        seeds.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{target}: {} input(s) panicked, saved as {failures:?}",
        failures.len()
    );
}

#[test]
fn fuzz_verify_token() {
    fuzz("verify_token");
}

#[test]
fn fuzz_verify_signed() {
    fuzz("verify_signed");
}

#[test]
fn fuzz_jwks() {
    fuzz("jwks");
}

#[test]
fn fuzz_revocation() {
    fuzz("revocation");
}

#[test]
fn fuzz_inspect() {
    fuzz("inspect");
}

#[test]
fn fuzz_dpop_request() {
    fuzz("dpop_request");
}

/// The fixtures the harness trusts must work, or the targets test nothing.
#[test]
fn fixtures_are_live() {
    let keys = harness::fixed_keys();
    assert_eq!(keys.keys().len(), 5, "{:?}", keys.issues());
    let policy = harness::fixed_policy();
    for t in &harness::RFC_TOKENS[..3] {
        jwt_edge::verify(t, &keys, &policy, harness::RFC_NOW).unwrap();
    }
    for t in &harness::RFC_TOKENS[3..] {
        let p = jwt_edge::begin(t, &keys, &policy).unwrap();
        assert_eq!(p.check_signature().unwrap(), Some(0));
    }
    let v = jwt_edge::verify(
        &harness::good_signed_token(),
        &harness::signed_keys(),
        &harness::signed_policy(),
        harness::NOW,
    )
    .unwrap();
    assert_eq!(v.kid.as_deref(), Some(harness::SIGNED_KID));
    assert!(harness::signed_policy()
        .revocations()
        .get(harness::ISS)
        .is_some());
    // The seeds reach every target, the vectors included.
    let seeds = harness::seeds(&vectors());
    for t in harness::TARGETS {
        assert!(seeds.iter().filter(|(x, _)| *x == t).count() >= 10, "{t}");
    }
    assert!(
        seeds.len() > 1000,
        "only {} seeds: are the vectors in tests/vectors?",
        seeds.len()
    );
}

/// Writes the seed corpus to `$JWT_EDGE_CORPUS_DIR/<target>/` and the fixtures to
/// `$JWT_EDGE_CORPUS_DIR/fixtures.json` (no-op without the variable).
#[test]
fn write_seed_corpus() {
    let Some(dir) = std::env::var_os("JWT_EDGE_CORPUS_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let mut seeds = harness::seeds(&vectors());
    for t in harness::TARGETS {
        seeds.extend(regressions(t).into_iter().map(|d| (t, d)));
    }
    for (t, data) in &seeds {
        let d = dir.join(t);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("seed-{:016x}", fnv(data))), data).unwrap();
    }
    let fixtures = serde_json::json!({
        "now": harness::NOW,
        "rfcNow": harness::RFC_NOW,
        "fixedJwks": harness::FIXED_JWKS,
        "rfcHsK": harness::RFC_HS_K,
        "rfcTokens": harness::RFC_TOKENS,
        "signedSecret": std::str::from_utf8(harness::SIGNED_SECRET).unwrap(),
        "signedKid": harness::SIGNED_KID,
        "signedHeader": harness::SIGNED_HEADER,
        "signedRevocations": harness::SIGNED_REVOCATIONS,
        "goodSignedToken": harness::good_signed_token(),
        "iss": harness::ISS,
        "aud": harness::AUD,
        "split": harness::SPLIT,
    });
    std::fs::write(dir.join("fixtures.json"), fixtures.to_string()).unwrap();
    println!("wrote {} seeds to {}", seeds.len(), dir.display());
}
