//! Issue 17: parse + plan + evaluate a 100,000-instruction Dockerfile (ENV, ARG, LABEL,
//! WORKDIR, one stage). Quadratic steps made this take minutes; it must stay linear.
//!
//! Run: `cargo bench --bench many_instructions` (set `INSTRUCTIONS` to change the count).

use builder::plan::{self, PlanOptions, StageEvaluator};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let n: usize = std::env::var("INSTRUCTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut text = String::from("FROM scratch\n");
    for i in 0..n {
        match i % 4 {
            0 => text.push_str(&format!("ENV V{i}=value-{i}\n")),
            1 => text.push_str(&format!("ARG A{i}=${{V{}}}\n", i - 1)),
            2 => text.push_str(&format!("LABEL l{i}=\"$A{}\"\n", i - 1)),
            _ => text.push_str(&format!("WORKDIR /w/${{V{}:-x}}\n", i - 3)),
        }
    }
    let start = Instant::now();
    let df = builder::dockerfile::parse(&text).expect("parses");
    let parsed = start.elapsed();
    let opts = PlanOptions {
        source: text.clone(),
        ..Default::default()
    };
    let p = plan::plan(&df, &opts).expect("plans");
    let planned = start.elapsed();
    let mut ev = StageEvaluator::new(&p, 0, &[]);
    for step in &p.stages[0].steps {
        black_box(ev.next(step).expect("evaluates"));
    }
    let total = start.elapsed();
    println!(
        "{} instructions ({} bytes): parse {:.2?}, plan {:.2?}, evaluate {:.2?}, total {:.2?}",
        df.instructions.len(),
        text.len(),
        parsed,
        planned - parsed,
        total - planned,
        total
    );
}
