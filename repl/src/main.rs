//! `rapport`: the command line. It parses arguments, opens the database and runs one command
//! (`commands`, a function each); every rule lives in the engine and the language crates.

mod cli;
mod commands;
mod complete;
mod remote;
mod repl;
mod serve;
mod shared;

use std::process::ExitCode;

use clap::Parser;
use rapport::error::CliError;

/// Counts the process's allocations, so scripts can have a memory limit.
#[global_allocator]
static ALLOCATED: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

fn main() -> ExitCode {
    let mut cli = cli::Cli::parse();
    rapport::transfer::QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    let outcome = cli::settle(&mut cli).and_then(|()| commands::run(&cli));
    match outcome {
        Ok(code) => code,
        // A reader that stops early (`rapport export entries | head`) is not an error.
        Err(CliError::Closed) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How many bytes the process has allocated (the scripts' memory probe).
fn allocated() -> usize {
    ALLOCATED.allocated()
}
