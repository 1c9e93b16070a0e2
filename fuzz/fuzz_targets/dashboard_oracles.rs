//! Dashboard oracle results (the example scope fixed): never a panic; an assembled
//! bundle reads back equal.
#![no_main]

use dashboard_snapshot::{ProjectionSet, SnapshotBundle, Telemetry, assemble_bundle};
use libfuzzer_sys::fuzz_target;

const SCOPE: &str = include_str!("../../tests/vectors/dashboard/example/scope.json");

fuzz_target!(|data: &[u8]| {
    let Ok(oracles) = std::str::from_utf8(data) else { return };
    let set = ProjectionSet::instructor();
    if let Ok(bundle) = assemble_bundle(&set, SCOPE, oracles, None, &Telemetry::none()) {
        let text = bundle.to_json_string().expect("a bundle serialises");
        let read = SnapshotBundle::from_json_str(&text).expect("a written bundle reads back");
        assert_eq!(read, bundle);
    }
});
