//! BuildKit's own parser fixtures (testdata/buildkit/parser*): every `Dockerfile` must dump
//! to its `result` byte for byte, and every negative case must be rejected.

use std::fs;
use std::path::{Path, PathBuf};

use builder::dockerfile::{dump, parse};

fn cases(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/buildkit")
        .join(dir);
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    cases.sort();
    cases
}

#[test]
fn buildkit_parser_fixtures_dump_identically() {
    let cases = cases("parser");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let source = fs::read_to_string(case.join("Dockerfile")).expect("Dockerfile");
        let expected = fs::read_to_string(case.join("result")).expect("result");
        match parse(&source) {
            Ok(df) => {
                let got = dump(&df);
                if got != expected {
                    failures.push(format!(
                        "{name}: dump differs\n--- expected\n{expected}--- got\n{got}"
                    ));
                }
            }
            Err(err) => failures.push(format!("{name}: rejected:\n{err}")),
        }
    }
    assert_eq!(cases.len(), 33, "expected 33 BuildKit parser fixtures");
    assert!(
        failures.is_empty(),
        "{} of {} parser fixtures failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn buildkit_negative_fixtures_are_rejected() {
    let cases = cases("parser-negative");
    let mut accepted = Vec::new();
    for case in &cases {
        let source = fs::read_to_string(case.join("Dockerfile")).expect("Dockerfile");
        if let Ok(df) = parse(&source) {
            accepted.push(format!("{}: accepted as\n{}", case.display(), dump(&df)));
        }
    }
    assert_eq!(cases.len(), 4, "expected 4 BuildKit negative fixtures");
    assert!(
        accepted.is_empty(),
        "{} of {} negative fixtures accepted:\n{}",
        accepted.len(),
        cases.len(),
        accepted.join("\n")
    );
}
