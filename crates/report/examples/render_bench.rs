//! Benchmark: the report stage alone — Markdown, HTML and the annex workbook — from a finished
//! run of the embedded twin.
//!
//! Ingests `data/twin` and runs the queries once (not timed), then renders the report and
//! writes the annex several times and prints each time and the median. In a release build:
//!
//! ```sh
//! cargo run --release -p evalpipe-report --example render_bench -- 9
//! ```

use std::path::Path;
use std::time::Instant;

use evalpipe_ingest::{IngestOptions, PseudonymKey, ingest};
use evalpipe_report::{RenderOptions, render, write_annex};
use evalpipe_study::{RunLayout, Study};
use evalpipe_transform::{TransformOptions, run_blocking};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repeats: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(9)
        .max(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let study = Study::load(&root.join("pipeline"))?;
    let tmp = tempfile::tempdir()?;
    let layout = RunLayout::new(tmp.path());
    let opts = IngestOptions {
        key: PseudonymKey::synthetic(),
        synthetic: true,
    };
    ingest(&study, &root.join("data/twin"), &layout, &opts)?;
    run_blocking(
        &study,
        &layout,
        &root.join("queries"),
        &TransformOptions::default(),
    )?;

    let mut times = Vec::new();
    for i in 0..repeats {
        let started = Instant::now();
        render(
            &study,
            &layout,
            &root.join("report-templates"),
            &RenderOptions { synthetic: true },
        )?;
        let rendered = started.elapsed();
        write_annex(&study, &layout, true)?;
        let total = started.elapsed();
        eprintln!(
            "run {}: report {rendered:.1?}, with the annex {total:.1?}",
            i + 1
        );
        times.push((total, rendered));
    }
    times.sort();
    let (total, rendered) = times[times.len() / 2];
    println!(
        "report stage over the twin: median {total:.1?} (Markdown and HTML {rendered:.1?}, the rest the annex workbook), {repeats} runs"
    );
    Ok(())
}
