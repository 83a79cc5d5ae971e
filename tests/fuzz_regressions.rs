//! Inputs the fuzz targets (`fuzz/`, issue 17) once crashed, hung or blew up on, plus the
//! hostile shapes of the issue, run through the fuzz targets' own driver (parse, Dump,
//! plan, context paths, evaluation of every needed stage): none may panic, and each must
//! finish within seconds. Add a file to `tests/fuzz-regressions/` for every new finding
//! (`fuzz/README.md` says how to turn a crash artifact into one).

use std::time::{Duration, Instant};

#[path = "../fuzz/fuzz_targets/drive.rs"]
mod drive;

#[test]
fn every_recorded_input_ends_cleanly_and_quickly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let start = Instant::now();
        // A deep recursion would abort the whole test binary, a panic fails here.
        drive::drive(&data);
        let took = start.elapsed();
        // A debug build on a loaded machine: the fuzzer's release build has one second.
        assert!(
            took < Duration::from_secs(60),
            "{}: {took:?}",
            file.display()
        );
    }
}
