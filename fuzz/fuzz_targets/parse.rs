//! Fuzz target: the Dockerfile parser, the Dump printer, the planner and the
//! stage evaluator must never panic, and a successful parse must satisfy the
//! AST's basic invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any bytes: a Dockerfile need not be UTF-8 (read as BuildKit reads it).
    let source = &builder::dockerfile::decode(data);
    match builder::dockerfile::parse_bytes(data) {
        Ok(df) => {
            assert!(!df.instructions.is_empty());
            for inst in &df.instructions {
                assert!(inst.span.line >= 1 && inst.span.end_line >= inst.span.line);
                assert!(inst.span.column >= 1);
            }
            let dumped = builder::dockerfile::dump(&df);
            assert_eq!(dumped.lines().count(), df.instructions.len());
            let opts = builder::plan::PlanOptions {
                source: source.to_string(),
                ..Default::default()
            };
            match builder::plan::plan(&df, &opts) {
                Ok(plan) => {
                    let _ = plan.render_dry_run();
                    for &index in &plan.build_order() {
                        let mut eval = plan.evaluator(index, &[]);
                        for step in &plan.stages[index].steps {
                            if let Err(d) = eval.next(step) {
                                let _ = d.to_string();
                                break;
                            }
                        }
                    }
                }
                Err(diag) => {
                    let _ = diag.to_string();
                }
            }
        }
        Err(diag) => {
            let _ = diag.to_string();
        }
    }
});
