//! exchange-core's `manifest.json` parser (`Manifest::parse`): any bytes, never a
//! panic; an accepted manifest written back (`to_text`) parses to an equal
//! manifest, and that text is a fixed point.
#![no_main]

use std::path::Path;

use exchange_core::manifest::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `Manifest::load` reads the file as UTF-8 text; other bytes never get here.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz/manifest.json");
    let Ok(manifest) = Manifest::parse(text, path) else {
        return;
    };
    let written = manifest.to_text();
    let back = Manifest::parse(&written, path).expect("a written manifest parses");
    assert_eq!(back, manifest, "manifest round trip");
    assert_eq!(back.to_text(), written, "written text is a fixed point");
});
