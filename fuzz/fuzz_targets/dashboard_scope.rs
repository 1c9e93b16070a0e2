//! Dashboard scope input (the example oracles fixed): never a panic; an assembled
//! bundle is deterministic and reads back equal.
#![no_main]

use dashboard_snapshot::{ProjectionSet, SnapshotBundle, Telemetry, assemble_bundle};
use libfuzzer_sys::fuzz_target;

const ORACLES: &str = include_str!("../../tests/vectors/dashboard/example/oracles.json");

fuzz_target!(|data: &[u8]| {
    let Ok(scope) = std::str::from_utf8(data) else { return };
    let set = ProjectionSet::instructor();
    if let Ok(bundle) = assemble_bundle(&set, scope, ORACLES, None, &Telemetry::none()) {
        let text = bundle.to_json_string().expect("a bundle serialises");
        let read = SnapshotBundle::from_json_str(&text).expect("a written bundle reads back");
        assert_eq!(read, bundle);
    }
});
