//! The models stage alone on an existing run folder, timed (a profiling aid, not a test).
//!
//! ```sh
//! cargo run --release -p evalpipe-models --example stage_on_run -- RUN [REPEATS]
//! ```
//!
//! Rewrites `RUN/tables/models/` as the stage does; everything else in RUN is only read.

use std::path::Path;
use std::time::Instant;

use evalpipe_models::{ModelsOptions, run_blocking};
use evalpipe_study::{RunLayout, Study};

fn main() {
    let mut args = std::env::args().skip(1);
    let run = args.next().expect("usage: stage_on_run RUN [REPEATS]");
    let repeats: usize = args
        .next()
        .map_or(1, |r| r.parse().expect("REPEATS is a number"));
    let study = Study::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline"))
        .expect("the repository's pipeline/");
    let layout = RunLayout::new(&run);
    for _ in 0..repeats {
        let started = Instant::now();
        let runs = run_blocking(&study, &layout, &ModelsOptions::default()).expect("models stage");
        let n: Vec<String> = runs
            .iter()
            .map(|r| format!("{} N {}", r.spec.id, r.n()))
            .collect();
        println!("{:.3} s  {}", started.elapsed().as_secs_f64(), n.join(", "));
    }
}
