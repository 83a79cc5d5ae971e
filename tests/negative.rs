//! Dockerfiles that must be rejected: `testdata/dockerfiles/negative/<case>/Dockerfile` and
//! the exact text of the error in `expected` (the `Diagnostic`'s Display, file `Dockerfile`).
//!
//! Cases named `plan-*` need the planner to fail and are run by `tests/plan.rs`.
//!
//! Set `BLESS=1` to write the current errors into `expected` (then review the diff).

use std::fs;
use std::path::Path;

use builder::dockerfile::parse;

#[test]
fn negative_dockerfiles_fail_with_expected_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/dockerfiles/negative");
    let mut cases: Vec<_> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| {
            !p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .starts_with("plan-")
        })
        .collect();
    cases.sort();
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let source = fs::read_to_string(case.join("Dockerfile")).expect("Dockerfile");
        let got = match parse(&source) {
            Ok(_) => {
                failures.push(format!("{name}: accepted, expected an error"));
                continue;
            }
            Err(err) => err.to_string(),
        };
        let expected_path = case.join("expected");
        if bless {
            fs::write(&expected_path, format!("{got}\n")).expect("writing expected");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected.strip_suffix('\n').unwrap_or(&expected) {
            failures.push(format!(
                "{name}:\n--- expected\n{expected}\n--- got\n{got}\n"
            ));
        }
    }
    assert!(
        cases.len() >= 15,
        "expected at least 15 negative cases, found {}",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} negative cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
