//! The canonical bytes of a computed [`FabricReport`], written straight from the
//! typed report: the same bytes as the canonical form of its `export_json`
//! document without `generated_at`, without building or walking a JSON tree.
//!
//! Canonical key order is code point order, which is also the order of the
//! report's `BTreeMap<String, _>`s and of the fixed keys written below.

use std::collections::BTreeMap;

use crate::json::writer::{Sink, write_python_float, write_string};
use crate::report::{EngineHealth, FabricReport, ProfileStability};

use Num::{Count, Rate};

/// Write the canonical report object.
pub(crate) fn write_report<S: Sink>(sink: &mut S, report: &FabricReport) {
    sink.put(b"{\"determinism\":{\"count\":");
    put_u64(sink, report.non_deterministic_jobs.len() as u64);
    sink.put(b",\"non_deterministic_jobs\":");
    string_list(sink, &report.non_deterministic_jobs);
    sink.put(b"},\"engine_health\":");
    string_map(sink, &report.engine_health, engine_health);
    let s = &report.execution_summary;
    sink.put(b",\"execution_summary\":");
    fields(
        sink,
        &[
            ("completed", Count(s.completed)),
            ("failed", Count(s.failed)),
            ("total_jobs", Count(s.total_jobs)),
            ("validation_failed", Count(s.validation_failed)),
        ],
    );
    sink.put(b",\"failure_summary\":{\"by_engine\":");
    string_map(sink, &report.failure_summary.by_engine, |sink, reasons| {
        string_map(sink, reasons, |sink, count| put_u64(sink, *count));
    });
    sink.put(b",\"top_failure_reasons\":");
    string_list(sink, &report.failure_summary.top_failure_reasons);
    sink.put(b"},\"proxy_profile_stability\":");
    string_map(sink, &report.proxy_profile_stability, profile_stability);
    sink.put(b"}");
}

/// One entry of `engine_health`.
fn engine_health<S: Sink>(sink: &mut S, h: &EngineHealth) {
    fields(
        sink,
        &[
            ("failure_rate", Rate(h.failure_rate)),
            ("failures", Count(h.failures)),
            ("jobs", Count(h.jobs)),
        ],
    );
}

/// One entry of `proxy_profile_stability`.
fn profile_stability<S: Sink>(sink: &mut S, p: &ProfileStability) {
    fields(
        sink,
        &[
            ("failure_rate", Rate(p.failure_rate)),
            ("jobs", Count(p.jobs)),
        ],
    );
}

/// A number of a fixed-key object.
#[derive(Clone, Copy)]
enum Num {
    /// An integer.
    Count(u64),
    /// A float, spelled as Python prints it.
    Rate(f64),
}

/// The object of `fields`, whose keys are in code point order.
fn fields<S: Sink>(sink: &mut S, fields: &[(&str, Num)]) {
    sink.put(b"{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            sink.put(b",");
        }
        sink.put(b"\"");
        sink.put(key.as_bytes());
        sink.put(b"\":");
        match *value {
            Count(n) => put_u64(sink, n),
            Rate(x) => write_python_float(sink, x),
        }
    }
    sink.put(b"}");
}

/// The array of `items`.
fn string_list<S: Sink>(sink: &mut S, items: &[String]) {
    separated(
        sink,
        [b"[", b"]"],
        items.iter(),
        |s| s,
        |sink, s| write_string(sink, s),
    );
}

/// The object of `map` (a `BTreeMap`'s keys are in code point order), each value
/// written by `value`.
fn string_map<'m, S: Sink, V>(
    sink: &mut S,
    map: &'m BTreeMap<String, V>,
    mut value: impl FnMut(&mut S, &'m V),
) {
    separated(
        sink,
        [b"{", b"}"],
        map.iter(),
        |(k, _)| k,
        |sink, (k, v)| {
            write_string(sink, k);
            sink.put(b":");
            value(sink, v);
        },
    );
}

/// `brackets[0]`, the items written by `write` and separated by commas, then
/// `brackets[1]`. The string of each item (`string(item)`) is touched a batch
/// ahead of its use (see [`touch`]).
fn separated<'s, S: Sink, T>(
    sink: &mut S,
    brackets: [&[u8]; 2],
    items: impl Iterator<Item = T> + Clone,
    string: impl Fn(&T) -> &'s String,
    mut write: impl FnMut(&mut S, T),
) {
    let [open, close] = brackets;
    sink.put(open);
    let mut ahead = items.clone().map(|item| string(&item));
    let mut touched = 0u8;
    for (i, item) in items.enumerate() {
        if i % BATCH == 0 {
            touched ^= touch(ahead.by_ref().take(if i == 0 { 2 * BATCH } else { BATCH }));
        }
        if i > 0 {
            sink.put(b",");
        }
        write(sink, item);
    }
    std::hint::black_box(touched);
    sink.put(close);
}

/// Strings are touched in batches of this many, one batch ahead.
const BATCH: usize = 16;

/// Read the first byte of each string in one tight loop so that their cache
/// misses are in flight together (the walk is bound by memory latency: each
/// string lives in its own allocation). A software prefetch in safe code.
fn touch<'s>(strings: impl Iterator<Item = &'s String>) -> u8 {
    strings.fold(0, |acc, s| acc ^ s.as_bytes().first().copied().unwrap_or(0))
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
