//! Timed harness (not criterion): the exchange hash path, which import, add,
//! verify and sync run once a record.
//!
//! `cargo bench -p exchange-core --bench hash [-- --quick]` prints the median
//! and minimum records/s of several runs for: the content hash of a parsed record
//! (`ExchangeRecord::compute_hash`, the canonical writer over `serde_json`
//! values), the pack line (`ExchangeRecord::to_line`), and the import fast path
//! (`lean::check_line`: read a line, write its canonical text, hash it, compare).
//! Records are synthetic, about 600 bytes, with nested objects, floats and
//! non-ASCII text.
// A harness measures time: the crate's no-clock rule is for library code.
#![expect(clippy::disallowed_methods, reason = "a benchmark reads the clock")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use exchange_core::ExchangeRecord;

fn lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let line = format!(
                r#"{{"exchange_id": "00000000-0000-4000-8000-{i:012}", "exchange_type": "api", "source_system": "crm", "entity_type": "student", "natural_key": "k{i}", "request": {{"method": "GET", "url": "https://x.example/s/{i}", "params": {{"z": 1, "a": [1.5, 2.25, 0.1, 1e-7, {i}.0625]}}}}, "response": {{"status": 200, "body": {{"name": "Zoë Ångström {i}", "score": {}.{}, "tags": ["a", "b", "ünïcode"], "nested": {{"y": null, "x": true, "w": [{{"k": "v"}}, {{"b": 2, "a": 1}}]}}}}}}, "observed_at_utc": "2025-01-01T00:00:00Z", "provenance": null, "content_sha256": "{}", "schema_version": 1, "tags": [], "redactions_applied": [], "response_ref": null}}"#,
                i % 97,
                i % 1000,
                "0".repeat(64)
            );
            // Give each line its true hash, so the fast path does all its work.
            match ExchangeRecord::parse_line(&line) {
                Ok(parsed) => {
                    let mut record = parsed.record;
                    record.content_sha256 = record.compute_hash();
                    record.to_line()
                }
                Err(_) => line,
            }
        })
        .collect()
}

fn time(runs: usize, f: &dyn Fn() -> usize) -> (Duration, Duration) {
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    samples.sort();
    (
        samples.get(samples.len() / 2).copied().unwrap_or_default(),
        samples.first().copied().unwrap_or_default(),
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n, runs) = if quick { (20_000, 5) } else { (100_000, 7) };
    let lines = lines(n);
    let records: Vec<ExchangeRecord> = lines
        .iter()
        .filter_map(|l| ExchangeRecord::parse_line(l).ok().map(|p| p.record))
        .collect();
    let fast = || {
        lines
            .iter()
            .filter(|l| exchange_core::lean::check_line(l, "crm", "student").is_some())
            .count()
    };
    println!(
        "exchange hash path: {} records ({} through the fast path), {runs} runs (median | min)",
        records.len(),
        fast()
    );
    let hash = || {
        records
            .iter()
            .filter(|r| r.compute_hash() == r.content_sha256)
            .count()
    };
    let line = || records.iter().map(|r| r.to_line().len()).sum();
    let suites: [(&str, &dyn Fn() -> usize); 3] = [
        ("ExchangeRecord::compute_hash", &hash),
        ("ExchangeRecord::to_line", &line),
        ("lean::check_line", &fast),
    ];
    for (name, f) in suites {
        let (median, min) = time(runs, f);
        let rate = |d: Duration| records.len() as f64 / d.as_secs_f64();
        println!(
            "  {name:<30} {:>10.0} rec/s | {:>10.0} rec/s",
            rate(median),
            rate(min)
        );
    }
}
