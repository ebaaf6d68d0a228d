//! A command around the `no_std` library: `rust-edge JWKS_FILE ISSUER
//! AUDIENCE NOW TOKEN` prints the verified claims (exit 0) or
//! `<ERR_CODE>: <message>` on stderr (exit 1). Runs natively and as a
//! wasm32-wasip1 module (Node's WASI, wasmtime, Viceroy's CLI mode): the host
//! supplies the time, as every host of the core does.

use std::process::ExitCode;

use jwt_edge_rust_edge_example::{check, validator};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, jwks_file, issuer, audience, now, token] = args.as_slice() else {
        eprintln!("usage: rust-edge JWKS_FILE ISSUER AUDIENCE NOW TOKEN");
        return ExitCode::from(2);
    };
    let (Ok(jwks), Ok(now)) = (std::fs::read(jwks_file), now.parse::<u64>()) else {
        eprintln!("error: unreadable JWKS file or a NOW that is not whole seconds");
        return ExitCode::from(2);
    };
    let outcome = validator(&jwks, issuer, audience).and_then(|mut v| check(&mut v, token, now));
    match outcome {
        Ok(claims) => {
            println!("{claims}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}"); // `<ERR_CODE>: <message>`
            ExitCode::from(1)
        }
    }
}
