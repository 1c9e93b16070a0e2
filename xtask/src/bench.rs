//! `cargo xtask bench`: builds the release binaries and runs the timed harnesses.

use std::process::ExitCode;

/// Run the benchmark suites named in `args` (all when none).
pub fn run(args: &[String]) -> ExitCode {
    let _ = args;
    eprintln!("no benchmark suites yet");
    ExitCode::FAILURE
}
