//! jwt-edge gateway on Fastly Compute: see README.md. The service is
//! `src/service.rs` (wasm32-wasip1 only); the decisions are in `src/lib.rs`.

#[cfg(target_arch = "wasm32")]
mod service;

fn main() {
    #[cfg(target_arch = "wasm32")]
    service::main();
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!(
        "this is a Fastly Compute service: build it with \
         `cargo build --release --target wasm32-wasip1` and run it in Viceroy (see README.md)"
    );
}
