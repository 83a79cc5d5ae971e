//! What both fuzz targets run on a Dockerfile: parse, Dump, plan, dry-run rendering, the
//! context paths and the evaluation of every needed stage (no execution). Nothing may
//! panic, and a successful parse must satisfy the AST's basic invariants.

pub fn drive(data: &[u8]) {
    // Any bytes: a Dockerfile need not be UTF-8 (read as BuildKit reads it).
    let df = match builder::dockerfile::parse_bytes(data) {
        Ok(df) => df,
        Err(diag) => {
            let _ = diag.to_string();
            return;
        }
    };
    assert!(!df.instructions.is_empty());
    for inst in &df.instructions {
        assert!(inst.span.line >= 1 && inst.span.end_line >= inst.span.line);
        assert!(inst.span.column >= 1);
    }
    let dumped = builder::dockerfile::dump(&df);
    assert_eq!(dumped.lines().count(), df.instructions.len());
    let opts = builder::plan::PlanOptions {
        source: builder::dockerfile::decode(data),
        ..Default::default()
    };
    let plan = match builder::plan::plan(&df, &opts) {
        Ok(plan) => plan,
        Err(diag) => {
            let _ = diag.to_string();
            return;
        }
    };
    let _ = plan.render_dry_run();
    let _ = builder::plan::context_paths(&plan);
    // Stages in build order, each FROM stage starting from its base's final state.
    let mut states: Vec<Option<builder::plan::StageState>> = vec![None; plan.stages.len()];
    for &index in &plan.build_order() {
        let base = match plan.stages[index].base {
            builder::plan::Base::Stage(j) => states[j].clone().unwrap_or_default(),
            _ => Default::default(),
        };
        let mut eval = builder::plan::StageEvaluator::with_base(&plan, index, base);
        let mut ok = true;
        for step in &plan.stages[index].steps {
            if let Err(d) = eval.next(step) {
                let _ = d.to_string();
                ok = false;
                break;
            }
        }
        if ok {
            states[index] = Some(eval.state().clone());
        }
    }
}
