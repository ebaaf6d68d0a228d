//! The no_std runtime of the npm package's `.wasm` (feature `wasm-rt`): the
//! global allocator and a panic handler that traps at once.
//!
//! With std linked, every panic site drags in std's panic hook and the whole
//! `core::fmt` machinery to print a message nobody reads on wasm32 (there is no
//! stderr). No input reaches a panic (that is a tested property of the core),
//! so the handler only has to stop the instance; the JS glue turns the trap
//! into an error and re-creates the instance.

/// dlmalloc, the allocator std itself uses on wasm32-unknown-unknown.
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
