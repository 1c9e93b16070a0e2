//! `cargo xtask bench`: runs every timed harness, in release mode, one after the
//! other (the machine has two cores; parallel suites would measure each other).
//!
//! Each crate keeps its harness in `benches/*.rs` (`harness = false`): it prints
//! medians and ratios measured in the same run. This file only lists and runs them.

use std::process::{Command, ExitCode};

/// (package, bench target) pairs, in run order.
pub const SUITES: &[(&str, &str)] = &[
    // snapshot_id throughput next to raw SHA-256; report build over 1M facts
    ("fabric-core", "snapshot"),
    // ingest files/s and report over 1M stored jobs, through the release binary
    ("fabric-cli", "jobs"),
    // chain create/read p95, history pages on short and long chains, compression
    ("fabric-store", "chains"),
    // assembly and projection p95 on 5,000 x 200, CSV ZIP of 100k rows x 20 columns
    ("dashboard-snapshot", "dashboard"),
    // add, import, no-op re-sync, export, pack (plain and encrypted) on gen_exchange.py data
    ("exchange-sync", "exchange"),
    // bulk insert and friends against a live SQL Server (FABRIC_TEST_MSSQL), else SKIPPED
    ("exchange-sync", "mssql"),
];

/// Run the suites named in `args` (all when none; `--quick` is passed through).
pub fn run(args: &[String]) -> ExitCode {
    let quick = args.iter().any(|a| a == "--quick");
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut failed = false;
    for (package, bench) in SUITES {
        if !wanted.is_empty() && !wanted.contains(bench) && !wanted.contains(package) {
            continue;
        }
        eprintln!("== bench {package}/{bench}");
        let mut cmd = Command::new(&cargo);
        cmd.args(["bench", "--package", package, "--bench", bench, "--"]);
        if quick {
            cmd.arg("--quick");
        }
        match cmd.status() {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!("bench {package}/{bench} failed: {status}");
                failed = true;
            }
            Err(e) => {
                eprintln!("cannot run cargo bench: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
