//! The service's per-request work, natively, for comparison with the figures
//! the Compute service logs in Viceroy (`import_us`, `verify_us`):
//!
//! - `import_us`: a validator for the configuration, and the snapshot of its
//!   remote state imported (the JWKS parsed, the signed revocation list
//!   verified and installed) — what every request does first;
//! - `verify_us`: the token verified through the same step driver
//!   (`gate::verify`: parse, ES256 signature, claims, revocation check),
//!   nothing fetched since the imported documents are fresh.
//!
//! Usage: native-timing KEY=VALUE... --jwks FILE [--revocations FILE] --token FILE [--iterations N]
//! (KEY=VALUE: the config store entries, as in fastly.toml). Prints one JSON line.

use std::process::ExitCode;
use std::time::Instant;

use gate::Config;
use jwt_edge::{FetchOutcome, Source};

fn ok(body: Vec<u8>) -> FetchOutcome {
    FetchOutcome::Response {
        status: 200,
        cache_control: Some(String::from("max-age=3600")),
        age: None,
        etag: None,
        body,
    }
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn run() -> Result<String, String> {
    let mut pairs = Vec::new();
    let (mut jwks, mut revocations, mut token, mut iterations) = (None, None, None, 200usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--jwks" => jwks = Some(value("--jwks")?),
            "--revocations" => revocations = Some(value("--revocations")?),
            "--token" => token = Some(value("--token")?),
            "--iterations" => {
                iterations = value("--iterations")?
                    .parse()
                    .map_err(|_| String::from("--iterations: a number"))?
            }
            _ => match a.split_once('=') {
                Some((k, v)) => pairs.push((k.to_owned(), v.to_owned())),
                None => return Err(format!("unexpected argument {a:?}")),
            },
        }
    }
    let read = |p: Option<String>, name: &str| -> Result<Vec<u8>, String> {
        let p = p.ok_or_else(|| format!("{name} FILE is required"))?;
        std::fs::read(&p).map_err(|e| format!("{p}: {e}"))
    };
    let config = Config::load(|k| Ok(pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())))?;
    let token_bytes = read(token, "--token")?;
    let token = String::from_utf8(token_bytes).map_err(|_| String::from("token: not UTF-8"))?;
    let token = token.trim();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();

    // The snapshot a request would find in the cache.
    let mut v = config.validator().map_err(|e| e.to_string())?;
    v.on_fetch(Source::Jwks(0), now, ok(read(jwks, "--jwks")?))
        .map_err(|e| e.to_string())?;
    if config.revocations_url.is_some() {
        v.on_fetch(
            Source::Revocations,
            now,
            ok(read(revocations, "--revocations")?),
        )
        .map_err(|e| e.to_string())?;
    }
    let snapshot = v.export_cache();

    let (mut import, mut verify) = (Vec::new(), Vec::new());
    let warmup = 5;
    for n in 0..iterations + warmup {
        let t = Instant::now();
        let mut v = config.validator().map_err(|e| e.to_string())?;
        v.import_cache(&snapshot).map_err(|e| e.to_string())?;
        let imported = t.elapsed();
        let run = gate::verify(&mut v, token, now, |_| FetchOutcome::Failed);
        if let Err(e) = &run.result {
            return Err(format!(
                "the token does not verify natively: {}: {}",
                e.code(),
                e.message()
            ));
        }
        if run.fetches != 0 || !run.deferred.is_empty() {
            return Err(String::from("the imported documents were not fresh"));
        }
        if n >= warmup {
            import.push(imported.as_micros() as u64);
            verify.push(run.compute.as_micros() as u64);
        }
    }
    let (min_i, min_v) = (
        import.iter().min().copied().unwrap_or(0),
        verify.iter().min().copied().unwrap_or(0),
    );
    Ok(format!(
        "{{\"iterations\":{iterations},\"import_us\":{{\"median\":{},\"min\":{min_i}}},\"verify_us\":{{\"median\":{},\"min\":{min_v}}},\"snapshot_bytes\":{}}}",
        median(&mut import),
        median(&mut verify),
        snapshot.len()
    ))
}

fn main() -> ExitCode {
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("native-timing: {e}");
            ExitCode::FAILURE
        }
    }
}
