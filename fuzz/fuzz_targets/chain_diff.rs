//! Chain diffs: for any two JSON documents, applying diff(a, b) to a gives b
//! (canonically), and a document diffs with itself to nothing.
#![no_main]

use fabric_core::chain::diff::{apply, diff};
use fabric_core::json::to_canonical_string;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some(i) = data.iter().position(|b| *b == 0) else { return };
    let (Ok(a), Ok(b)) = (
        serde_json::from_slice::<Value>(&data[..i]),
        serde_json::from_slice::<Value>(&data[i + 1..]),
    ) else {
        return;
    };
    assert!(diff(&a, &a).is_empty());
    let d = diff(&a, &b);
    let applied = apply(&a, &d).expect("a diff applies to its own source");
    assert_eq!(to_canonical_string(&applied), to_canonical_string(&b));
});
