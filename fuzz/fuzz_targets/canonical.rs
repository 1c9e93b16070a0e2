//! The canonical writer's views: the canonical JSON (`json::to_canonical_string`)
//! parses back to a value with the same canonical form, hashing is stable, and the
//! snapshot bytes (`snapshot::canonical_report_bytes`) are the canonical JSON of
//! the report minus its top-level `generated_at`.
#![no_main]

use fabric_core::chain::{checksum, first_non_finite};
use fabric_core::json::to_canonical_string;
use fabric_core::snapshot::{canonical_report_bytes, snapshot_id};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let canonical = to_canonical_string(&value);
    assert_eq!(checksum(&value), checksum(&value));
    if first_non_finite(&value).is_some() {
        if value.is_object() {
            assert!(snapshot_id(&value).is_err(), "a non-finite number was hashed");
        }
        return;
    }
    let back: Value = serde_json::from_str(&canonical).expect("canonical JSON parses");
    assert_eq!(to_canonical_string(&back), canonical, "canonical form is a fixed point");
    assert_eq!(checksum(&back), checksum(&value));
    if let Value::Object(map) = &value {
        let id = snapshot_id(&value).expect("a finite object has a snapshot id");
        assert_eq!(snapshot_id(&back).expect("re-parsed"), id, "snapshot id is stable");
        let bytes = canonical_report_bytes(&value).expect("a finite object");
        let mut without = map.clone();
        without.shift_remove("generated_at");
        let expected = to_canonical_string(&Value::Object(without));
        assert_eq!(String::from_utf8_lossy(&bytes), expected, "the two serialisers agree");
    }
});
