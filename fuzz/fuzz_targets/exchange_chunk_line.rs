//! exchange-sync's per-line chunk reader: bytes -> `PackLine::from_bytes` ->
//! `PackLine::parse` (the path `PackReader::for_each_line` and the import pipeline
//! take) -> `ExchangeRecord` -> canonical hash. Never a panic; hashing is stable;
//! the record written back (`to_line`) reads back with the same hash, and after that
//! one write the line is a fixed point (the writer respells floats Python's way and
//! non-finite numbers as strings, which hash the same).
#![no_main]

use std::path::Path;

use exchange_core::record::ParsedLine;
use exchange_sync::pack::PackLine;
use libfuzzer_sys::fuzz_target;

const FILE: &str = "records/2024/2024-01-15/chunk-0001.ndjson";

fn read(bytes: Vec<u8>) -> Option<ParsedLine> {
    let line = PackLine::from_bytes(FILE, 1, bytes).ok()??;
    line.parse(Path::new("fuzz")).ok()
}

fuzz_target!(|data: &[u8]| {
    // One line: the reader splits on `\n` before this step.
    let bytes = match data.iter().position(|&b| b == b'\n') {
        Some(end) => data[..=end].to_vec(),
        None => data.to_vec(),
    };
    let Some(first) = read(bytes) else {
        return;
    };
    let hash = first.record.compute_hash();
    assert_eq!(first.record.compute_hash(), hash, "hashing is stable");
    let line = first.record.to_line();
    assert!(!line.contains('\n'), "a written line holds a raw newline");
    let second = read(line.clone().into_bytes()).expect("a written line reads back");
    assert_eq!(second.record.compute_hash(), hash, "hash survives a write");
    assert!(!second.had_nan_literals, "Fabric wrote a bare NaN/Infinity");
    assert_eq!(
        second.record.to_line(),
        line,
        "a written line is a fixed point"
    );
    let third = read(line.into_bytes()).expect("reads back again");
    assert_eq!(third.record, second.record, "record round trip");
});
