//! The `kino-node` command line: each subcommand is a thin edge over the library (the job service,
//! the pipeline, the analysers); failures become one line on stderr and an exit code.

pub mod args;
pub mod error;
pub mod render;
pub mod serve;
pub mod tools;

pub use args::{Cli, Command};
pub use error::{CliError, CliResult};

use clap::Parser;
use std::process::ExitCode;

/// Parses the command line, runs the command and turns its result into the exit code.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("KINO_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Probe { input } => tools::cmd_probe(&input),
        Command::Scenes(args) => tools::cmd_scenes(args),
        Command::Cutlist(args) => tools::cmd_cutlist(args),
        Command::Upscale(args) => tools::cmd_upscale(args),
        Command::Interpolate(args) => tools::cmd_interpolate(args),
        Command::Detect(args) => tools::cmd_detect(args),
        Command::Compare(args) => tools::cmd_compare(args),
        Command::Render(args) => on_runtime(render::cmd_render(*args)),
        Command::Serve(args) => on_runtime(serve::cmd_serve(args)),
        Command::Worker(args) => on_runtime(serve::cmd_worker(args)),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("kino-node: error: {}", one_line(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs an async command on a multi-threaded runtime.
fn on_runtime(command: impl std::future::Future<Output = CliResult<u8>>) -> CliResult<u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("starting the runtime"))?
        .block_on(command)
}

/// The error and its causes on one line, each cause once (many messages already include theirs).
fn one_line(e: &CliError) -> String {
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg = format!("{msg}: {text}");
        }
        cause = c.source();
    }
    msg.replace('\n', " ")
}
