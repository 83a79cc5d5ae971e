//! Front-end benchmark (std::time only): parse + plan + evaluate every stage
//! of a generated 2,000-instruction, 20-stage Dockerfile.
//!
//! Run: `cargo bench --bench frontend` (set `ITERATIONS` to change the count).

use builder::plan::{self, PlanOptions, Platform, StageEvaluator};
use std::hint::black_box;
use std::time::{Duration, Instant};

const STAGES: usize = 20;
const PER_STAGE: usize = 100;

/// A realistic mix: global ARGs, FROM image or earlier stage, ARG/ENV,
/// RUN with continuations and mounts, heredocs, COPY --from, LABEL, WORKDIR.
fn generate() -> String {
    let mut s =
        String::from("# syntax=docker/dockerfile:1\nARG BASE=debian:12\nARG VERSION=1.0.0\n");
    let mut count = 0;
    for st in 0..STAGES {
        if st > 0 && st % 3 == 0 {
            s.push_str(&format!("FROM s{} AS s{st}\n", st - 1));
        } else {
            s.push_str(&format!(
                "FROM --platform=$BUILDPLATFORM ${{BASE}} AS s{st}\n"
            ));
        }
        count += 1;
        s.push_str("ARG VERSION\nARG TARGETARCH\n");
        count += 2;
        let mut i: usize = 0;
        while count < (st + 1) * PER_STAGE {
            match i % 9 {
                0 => s.push_str(&format!("ENV APP_{i}=/opt/app-${{VERSION}} PATH=/opt/bin:$PATH\n")),
                1 => s.push_str(&format!(
                    "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\\n    apt-get update && \\\n    apt-get install -y --no-install-recommends pkg{i} \\\n    && rm -rf /var/lib/apt/lists/*\n"
                )),
                2 => s.push_str(&format!("WORKDIR /src/${{APP_{}:-x}}/{i}\n", i.saturating_sub(2))),
                3 if st > 0 => s.push_str(&format!("COPY --from=s{} --chown=1000:1000 --chmod=0755 /out/bin{i} /usr/local/bin/\n", st - 1)),
                3 => s.push_str(&format!("COPY --link src/{i} /src/{i}\n")),
                4 => s.push_str(&format!("RUN <<EOF\nset -e\necho building {i} for $TARGETARCH\nmake -j2 target{i}\nEOF\n")),
                5 => s.push_str(&format!("LABEL org.example.step{i}=\"$VERSION\" stage=s{st}\n")),
                6 => s.push_str(&format!("ARG OPT_{i}=value-{i}\n")),
                7 => s.push_str(&format!("COPY <<EOF /etc/app/conf{i}.ini\n[app]\nversion=${{VERSION}}\nEOF\n")),
                _ => s.push_str(&format!("RUN [\"/bin/sh\", \"-c\", \"echo {i}\"]\n")),
            }
            count += 1;
            i += 1;
        }
    }
    s.push_str("CMD [\"/usr/local/bin/app\"]\n");
    s
}

fn run_once(text: &str, opts: &PlanOptions) -> usize {
    let df = builder::dockerfile::parse(text).expect("generated Dockerfile parses");
    let p = plan::plan(&df, opts).expect("generated Dockerfile plans");
    let mut steps = 0;
    for st in p.stages.iter().filter(|s| s.needed) {
        let mut ev = StageEvaluator::new(&p, st.index, &[]);
        for step in &st.steps {
            black_box(ev.next(step).expect("evaluates"));
            steps += 1;
        }
    }
    df.instructions.len() + steps
}

fn main() {
    let text = generate();
    let opts = PlanOptions {
        source: text.clone(),
        platform: Some(Platform::parse("linux/amd64").expect("platform")),
        ..Default::default()
    };
    let instructions = builder::dockerfile::parse(&text)
        .expect("parses")
        .instructions
        .len();
    let iterations: usize = std::env::var("ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    for _ in 0..3 {
        black_box(run_once(&text, &opts));
    }
    let mut times: Vec<Duration> = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        black_box(run_once(&text, &opts));
        times.push(t.elapsed());
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / iterations as u32;
    let median = times[iterations / 2];
    println!(
        "frontend: {instructions} instructions, {STAGES} stages, {} bytes; {iterations} iterations of parse+plan+evaluate: mean {:.3} ms, median {:.3} ms, min {:.3} ms",
        text.len(),
        mean.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
}
