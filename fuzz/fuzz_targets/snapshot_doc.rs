//! Snapshot and diff documents: any JSON read as a FabricSnapshot; what reads diffs
//! against itself with no changes, and against the second half of the input.
#![no_main]

use fabric_core::diff::diff_snapshots;
use fabric_core::snapshot::FabricSnapshot;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn read(bytes: &[u8]) -> Option<FabricSnapshot> {
    let value = serde_json::from_slice::<Value>(bytes).ok()?;
    // As a snapshot document, and as a report to snapshot.
    if let Ok(s) = FabricSnapshot::from_json(&value) {
        return Some(s);
    }
    let at = fabric_core::timestamp::Timestamp::from_utc(time::OffsetDateTime::UNIX_EPOCH);
    let made = FabricSnapshot::create_from_report(value, &at).ok()?;
    FabricSnapshot::from_json(&made.to_json()).ok()
}

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let Some(first) = read(a) else { return };
    let same = diff_snapshots(&first, &first).expect("a snapshot diffs with itself");
    assert!(!same.has_changes(), "a snapshot differs from itself");
    let _ = same.to_json();
    if let Some(second) = read(b) {
        if let Ok(d) = diff_snapshots(&first, &second) {
            let _ = d.to_json();
        }
    }
});
