//! What the exchange-core harnesses share: the synthetic pack lines and the
//! timer.

use std::hint::black_box;
use std::time::{Duration, Instant};

use exchange_core::ExchangeRecord;

/// `n` synthetic pack lines, about 600 bytes each, with nested objects, floats
/// and non-ASCII text, each carrying its true hash (so a checker does all its
/// work).
pub fn lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let line = format!(
                r#"{{"exchange_id": "00000000-0000-4000-8000-{i:012}", "exchange_type": "api", "source_system": "crm", "entity_type": "student", "natural_key": "k{i}", "request": {{"method": "GET", "url": "https://x.example/s/{i}", "params": {{"z": 1, "a": [1.5, 2.25, 0.1, 1e-7, {i}.0625]}}}}, "response": {{"status": 200, "body": {{"name": "Zoë Ångström {i}", "score": {}.{}, "tags": ["a", "b", "ünïcode"], "nested": {{"y": null, "x": true, "w": [{{"k": "v"}}, {{"b": 2, "a": 1}}]}}}}}}, "observed_at_utc": "2025-01-01T00:00:00Z", "provenance": null, "content_sha256": "{}", "schema_version": 1, "tags": [], "redactions_applied": [], "response_ref": null}}"#,
                i % 97,
                i % 1000,
                "0".repeat(64)
            );
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

/// The median and minimum of `runs` timed calls of `f`.
pub fn time(runs: usize, f: &dyn Fn() -> usize) -> (Duration, Duration) {
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
