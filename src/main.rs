//! `tandem`: the command line. It only wires the crates together: parse arguments, set up
//! logging, start what was asked for, and turn errors into one clear line and an exit code
//! (2 for configuration and start-up problems, 1 for failures of the work itself).

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// jemalloc rather than glibc's allocator: a node allocates on one thread (the async workers,
/// the rules) and frees on another (the store's writer), and with glibc's per-thread arenas
/// malloc and free took about a sixth of a Bulk Exalate's CPU time; jemalloc does the same
/// work with a fifth less CPU per item (BENCHMARKS.md, "Allocator, 2026-12-06").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
