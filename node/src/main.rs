//! The `kino-node` binary: `serve` (the node), `render` (one job, no server) and the analysers; the
//! command line lives in `kino_node::cli`.

fn main() -> std::process::ExitCode {
    kino_node::cli::main()
}
