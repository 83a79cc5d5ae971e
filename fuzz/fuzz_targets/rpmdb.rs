//! Fuzz target: any bytes as an rpm database file, through the Berkeley DB
//! and ndb readers and the header parser (`src/attest/sbom/rpm/`). Nothing
//! may panic, and no allocation may exceed the readers' bounds.
#![no_main]

use builder::attest::sbom::rpm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut each = |b: &[u8]| {
        let _ = rpm::parse_header(b);
    };
    let _ = rpm::bdb::read(data, &mut each, &mut |_| {});
    let _ = rpm::ndb::read(data, &mut each, &mut |_| {});
    let _ = rpm::parse_header(data);
});
