//! exchange-sync's import fast path (`lean::check_line`, with its own JSON
//! reader) against the full parse (`ExchangeRecord::parse_line`): a line the fast
//! path accepts, the full parse accepts too, with the same hash and values; the
//! fast path may decline anything. Never a panic. Seeds: real record lines, so
//! mutations that keep the hash valid (whitespace, escapes, key order, unknown
//! keys) reach the accepting side.
#![no_main]

use exchange_sync::ExchangeRecord;
use exchange_sync::lean::check_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let full = ExchangeRecord::parse_line(text)
        .ok()
        .filter(|p| !p.had_nan_literals)
        .map(|p| p.record);
    let (ss, et) = full.as_ref().map_or(("s", "e"), |r| {
        (r.source_system.as_str(), r.entity_type.as_str())
    });
    let Some(fast) = check_line(text, ss, et) else {
        return;
    };
    let r = full.expect("the fast path accepted a line the full parse refuses");
    assert_eq!(r.compute_hash(), r.content_sha256, "accepted a wrong hash");
    assert_eq!(fast.content_sha256, r.content_sha256);
    assert_eq!(fast.exchange_id, r.exchange_id);
    assert_eq!(fast.exchange_type, r.exchange_type);
    assert_eq!(fast.lookup_key.as_deref(), r.lookup_key());
    assert_eq!(Some(fast.observed_at_utc), r.observed_at_utc);
    assert_eq!(fast.schema_version, r.schema_version);
});
