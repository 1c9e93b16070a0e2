//! exchange-sync's `index.jsonl` reader (`read_index_from`, the body of
//! `read_index`) over exchange-core's line format (`IndexEntry`): any bytes,
//! never a panic, bad lines handed over (the reader skips them) rather than
//! stopping the read; every entry read, written back with
//! `IndexEntry::to_line`, parses to an equal entry, and the rewritten file reads
//! back to the same entries.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use exchange_core::index::IndexEntry;
use exchange_sync::pack::read_index_from;
use libfuzzer_sys::fuzz_target;

fn read(bytes: &[u8]) -> (Vec<IndexEntry>, usize) {
    let mut entries = Vec::new();
    let mut bad = 0usize;
    read_index_from(
        Cursor::new(bytes),
        Path::new("fuzz/index.jsonl"),
        |_, entry| {
            match entry {
                Ok(e) => entries.push(e),
                Err(_) => bad += 1,
            }
            Ok(())
        },
    )
    .expect("reading from memory cannot fail");
    (entries, bad)
}

fuzz_target!(|data: &[u8]| {
    let (entries, _) = read(data);
    let mut rewritten = String::new();
    for entry in &entries {
        let line = entry.to_line();
        assert!(!line.contains('\n'), "an index line holds a raw newline");
        assert_eq!(
            IndexEntry::parse(&line).as_ref(),
            Some(entry),
            "entry round trip"
        );
        rewritten.push_str(&line);
        rewritten.push('\n');
    }
    let (again, bad) = read(rewritten.as_bytes());
    assert_eq!(bad, 0, "a written index has unreadable lines");
    assert_eq!(again, entries, "index file round trip");
});
