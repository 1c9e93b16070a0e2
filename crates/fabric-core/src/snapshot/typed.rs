//! The canonical bytes of a computed [`FabricReport`], written straight from the
//! typed report: the same bytes as the canonical form of its `export_json`
//! document without `generated_at`, without building or walking a JSON tree.
//!
//! Canonical key order is code point order, which is also the order of the
//! report's `BTreeMap<String, _>`s and of the fixed keys written below.

use crate::json::writer::{Sink, write_python_float, write_string};
use crate::report::FabricReport;

/// Write the canonical report object.
pub(crate) fn write_report<S: Sink>(sink: &mut S, report: &FabricReport) {
    sink.put(b"{\"determinism\":{\"count\":");
    put_u64(sink, report.non_deterministic_jobs.len() as u64);
    sink.put(b",\"non_deterministic_jobs\":");
    string_list(sink, &report.non_deterministic_jobs);
    sink.put(b"},\"engine_health\":{");
    for (i, (engine, h)) in report.engine_health.iter().enumerate() {
        if i > 0 {
            sink.put(b",");
        }
        write_string(sink, engine);
        sink.put(b":{\"failure_rate\":");
        write_python_float(sink, h.failure_rate);
        sink.put(b",\"failures\":");
        put_u64(sink, h.failures);
        sink.put(b",\"jobs\":");
        put_u64(sink, h.jobs);
        sink.put(b"}");
    }
    let s = &report.execution_summary;
    sink.put(b"},\"execution_summary\":{\"completed\":");
    put_u64(sink, s.completed);
    sink.put(b",\"failed\":");
    put_u64(sink, s.failed);
    sink.put(b",\"total_jobs\":");
    put_u64(sink, s.total_jobs);
    sink.put(b",\"validation_failed\":");
    put_u64(sink, s.validation_failed);
    sink.put(b"},\"failure_summary\":{\"by_engine\":{");
    for (i, (engine, reasons)) in report.failure_summary.by_engine.iter().enumerate() {
        if i > 0 {
            sink.put(b",");
        }
        write_string(sink, engine);
        sink.put(b":{");
        let mut ahead = reasons.keys();
        let mut touched = 0u8;
        for (j, (reason, count)) in reasons.iter().enumerate() {
            if j % BATCH == 0 {
                touched ^= touch(ahead.by_ref().take(if j == 0 { 2 * BATCH } else { BATCH }));
            }
            if j > 0 {
                sink.put(b",");
            }
            write_string(sink, reason);
            sink.put(b":");
            put_u64(sink, *count);
        }
        std::hint::black_box(touched);
        sink.put(b"}");
    }
    sink.put(b"},\"top_failure_reasons\":");
    string_list(sink, &report.failure_summary.top_failure_reasons);
    sink.put(b"},\"proxy_profile_stability\":{");
    let mut ahead = report.proxy_profile_stability.keys();
    let mut touched = 0u8;
    for (i, (profile, p)) in report.proxy_profile_stability.iter().enumerate() {
        if i > 0 {
            sink.put(b",");
        }
        if i % BATCH == 0 {
            touched ^= touch(ahead.by_ref().take(if i == 0 { 2 * BATCH } else { BATCH }));
        }
        write_string(sink, profile);
        sink.put(b":{\"failure_rate\":");
        write_python_float(sink, p.failure_rate);
        sink.put(b",\"jobs\":");
        put_u64(sink, p.jobs);
        sink.put(b"}");
    }
    std::hint::black_box(touched);
    sink.put(b"}}");
}

/// Strings are touched in batches of this many, one batch ahead.
const BATCH: usize = 16;

/// Read the first byte of each string in one tight loop so that their cache
/// misses are in flight together (the walk is bound by memory latency: each
/// string lives in its own allocation). A software prefetch in safe code.
fn touch<'s>(strings: impl Iterator<Item = &'s String>) -> u8 {
    strings.fold(0, |acc, s| acc ^ s.as_bytes().first().copied().unwrap_or(0))
}

fn string_list<S: Sink>(sink: &mut S, items: &[String]) {
    sink.put(b"[");
    let mut touched = 0u8;
    let mut ahead = items.iter();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            sink.put(b",");
        }
        if i % BATCH == 0 {
            touched ^= touch(ahead.by_ref().take(if i == 0 { 2 * BATCH } else { BATCH }));
        }
        write_string(sink, item);
    }
    std::hint::black_box(touched);
    sink.put(b"]");
}

fn put_u64<S: Sink>(sink: &mut S, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    sink.put(buf.get(i..).unwrap_or_default());
}
