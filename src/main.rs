//! The `tilannekuva` binary: parses the command line, starts tracing and a runtime, and
//! runs the command (the library's `cli`).

#![forbid(unsafe_code)]

/// jemalloc instead of glibc's allocator: requests, events and picture messages are many
/// small allocations made on one thread and freed on another (runtime workers, the
/// preparer, the applier, the discard thread), where glibc's arenas spend a fifth of the
/// write path consolidating and unlinking chunks. Measured side by side on this code
/// (BENCHMARKS.md): batches +10–25 %, single submissions +5–20 %, region-picture reads
/// +30 % with half the p99, and fewer resident bytes per event. (mimalloc was measured
/// slower than glibc's here.)
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::Parser;
use tilannekuva::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    match run_cli() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The message and its causes, without a backtrace: this is for people.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_cli() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match cli.command {
        // The server, and the load generator (which must not be the bottleneck it
        // measures): one thread per core.
        Command::Serve(_) | Command::Loadgen(_) => tokio::runtime::Builder::new_multi_thread(),
        // Other commands need no parallelism of their own.
        _ => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()?;
    runtime.block_on(tilannekuva::cli::run(cli.command))
}
