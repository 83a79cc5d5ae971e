//! Fuzz target: the Dockerfile parser and the Dump printer must never panic, and a
//! successful parse must satisfy the AST's basic invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    match builder::dockerfile::parse(source) {
        Ok(df) => {
            assert!(!df.instructions.is_empty());
            for inst in &df.instructions {
                assert!(inst.span.line >= 1 && inst.span.end_line >= inst.span.line);
                assert!(inst.span.column >= 1);
            }
            let dumped = builder::dockerfile::dump(&df);
            assert_eq!(dumped.lines().count(), df.instructions.len());
        }
        Err(diag) => {
            let _ = diag.to_string();
        }
    }
});
