//! The no_std runtime of the npm package's `.wasm` (feature `wasm-rt`): the
//! global allocator and a panic handler that traps at once.
//!
//! With std linked, every panic site drags in std's panic hook and the whole
//! `core::fmt` machinery to print a message nobody reads on wasm32 (there is no
//! stderr). No input reaches a panic (a tested property: tests/js/no-panic.mjs
//! runs the attack and fuzz corpus through the package), so the handler only
//! has to stop: the trap reaches the caller as a `WebAssembly.RuntimeError`,
//! exactly as std's `panic = "abort"` did, and the instance must not be used
//! afterwards.

/// dlmalloc, the allocator std itself uses on wasm32-unknown-unknown.
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
