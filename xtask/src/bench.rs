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
    // the exchange hash path: content hash, pack line, import fast path (records/s)
    ("exchange-core", "hash"),
    // the lean reader's tokenizer beside the same check on jiter (us/line, ratio)
    ("exchange-core", "tokenizer"),
    // ingest files/s and report over 1M stored jobs, through the release binary
    ("fabric-cli", "jobs"),
    // chain create/read p95, history pages on short and long chains, compression
    ("fabric-store", "chains"),
    // the mirror table loaded by rusqlite alone and by the store's transaction (the floor under import)
    ("fabric-store", "mirror_load"),
    // assembly and projection p95 on 5,000 x 200, CSV ZIP of 100k rows x 20 columns
    ("dashboard-snapshot", "dashboard"),
    // add, import, no-op re-sync, export, pack (plain and encrypted) on gen_exchange.py data
    ("exchange-sync", "exchange"),
    // bulk insert and friends against a live SQL Server (FABRIC_TEST_MSSQL), else SKIPPED
    ("exchange-sync", "mssql"),
    // import / no-op re-sync / export beside psql \copy, live (FABRIC_TEST_POSTGRES), else SKIPPED
    ("exchange-sync", "postgres"),
];

/// The scaling table (`cargo xtask bench --scale`): run alone, not with the suites.
pub const SCALE: (&str, &str) = ("fabric-cli", "scale");

/// The cargo feature a suite needs, if any (the backend it times is optional).
fn feature_of(bench: &str) -> Option<&'static str> {
    match bench {
        "mssql" => Some("mssql"),
        "postgres" => Some("postgres"),
        _ => None,
    }
}

/// Flags that take a value (`--n 1000000`, `--data DIR`, `--sizes 100000,1000000`,
/// `--keep DIR`).
const VALUE_FLAGS: &[&str] = &["--n", "--data", "--sizes", "--bulk-sizes", "--keep"];

/// Run the suites named in `args` (all when none; flags such as
/// `--quick` or `--n N` are passed through). `--scale` runs the scaling table
/// instead: time and peak memory per store size (`--sizes`), and the check that
/// `snapshot show` stays flat.
pub fn run(args: &[String]) -> ExitCode {
    // Suite names are bare words; `--flag` and `--flag VALUE` (e.g. `--n 1000000`)
    // are passed through to every suite run.
    let mut wanted: Vec<&str> = Vec::new();
    let mut passed: Vec<&str> = Vec::new();
    let mut it = args.iter().map(String::as_str).peekable();
    while let Some(a) = it.next() {
        if a.starts_with("--") {
            passed.push(a);
            if VALUE_FLAGS.contains(&a)
                && let Some(v) = it.next()
            {
                passed.push(v);
            }
        } else {
            wanted.push(a);
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut failed = false;
    let scale = passed.contains(&"--scale");
    let suites: &[(&str, &str)] = if scale { &[SCALE] } else { SUITES };
    passed.retain(|a| *a != "--scale");
    for (package, bench) in suites {
        if !scale && !wanted.is_empty() && !wanted.contains(bench) && !wanted.contains(package) {
            continue;
        }
        eprintln!("== bench {package}/{bench}");
        let mut cmd = Command::new(&cargo);
        cmd.args(["bench", "--package", package, "--bench", bench]);
        if let Some(feature) = feature_of(bench) {
            cmd.args(["--features", feature]);
        }
        cmd.arg("--");
        cmd.args(&passed);
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
