//! The `kino-node` binary: `serve` (the node), `render` (one job, no server) and the analysers; the
//! command line lives in `kino_node::cli`.

/// Frames are allocated and freed every few milliseconds, megabytes each: jemalloc reuses their
/// pages, where glibc unmaps each and the next frame faults them in again (measured: 1.6 s of
/// system time in a 1080p sharpen render).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kino_node::cli::main()
}
