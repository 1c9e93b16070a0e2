//! exchange-core's import fast path (`lean::check_line`, with its own JSON
//! reader) against the full parse (`ExchangeRecord::parse_line`): a line the fast
//! path accepts, the full parse accepts too, with the same hash and values; the
//! fast path may decline anything. And `add`'s one pass (`lean::read_written`)
//! against its tree reader (`lean::read_new`): what the one pass reads, the tree
//! reads too, and the tree's writers write the same payload texts. Never a
//! panic. Seeds: real record lines, so mutations that keep the hash valid
//! (whitespace, escapes, key order, unknown keys) reach the accepting side.
#![no_main]

use exchange_core::ExchangeRecord;
use exchange_core::lean::{Checked, Payloads, Seen, check_line, read_new, read_written};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for raw in [false, true] {
        let mut payloads = Payloads::default();
        let Some(one_pass) = read_written(text, raw, &mut payloads, &mut |_: Seen<'_>| true) else {
            continue;
        };
        let tree = read_new(text, raw).expect("the tree reader refuses what the one pass read");
        let mut expected = Payloads::default();
        for (ours, node) in [
            (&one_pass.request, &tree.request),
            (&one_pass.response, &tree.response),
        ] {
            let theirs = expected.write(node);
            assert_eq!(payloads.texts(ours), expected.texts(&theirs));
        }
    }
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
    assert_eq!(Some(fast), Checked::of_record(&r));
});
