//! Benchmark: the report stage alone — Markdown, HTML, the charts and the annex workbook — from
//! a finished run of the embedded twin.
//!
//! Runs every stage before the report once on `data/twin` (not timed), then renders the report,
//! draws every chart (all of `charts::CHARTS`, whether or not the sections place them yet) and
//! writes the annex several times, printing each time and the median. Last, when Chromium is
//! installed, it prints the PDF once and times that apart: it is a browser starting, not
//! rendering. In a release build:
//!
//! ```sh
//! cargo run --release -p evalpipe-report --example render_bench -- 9
//! ```

use std::path::Path;
use std::time::Instant;

use evalpipe_ingest::{IngestOptions, PseudonymKey, ingest};
use evalpipe_report::{Pdf, RenderOptions, charts, render, write_annex, write_pdf};
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
    evalpipe_models::run_blocking(&study, &layout, &evalpipe_models::ModelsOptions::default())?;
    let codebook = evalpipe_framework::Codebook::load(
        &root
            .join("pipeline")
            .join(evalpipe_framework::CODEBOOK_FILE),
    )?;
    let framework = evalpipe_framework::FrameworkOptions::new(
        root.join("data/qualitative"),
        root.join("queries/framework"),
    );
    evalpipe_framework::run_blocking(&study, &codebook, &layout, &framework)?;

    let mut times = Vec::new();
    for i in 0..repeats {
        let started = Instant::now();
        render(
            &study,
            &layout,
            &root.join("report-templates"),
            &RenderOptions {
                synthetic: true,
                ..Default::default()
            },
        )?;
        let rendered = started.elapsed();
        let drawn = charts::draw_all(&layout, study.disclosure.min_count)?;
        let charted = started.elapsed() - rendered;
        write_annex(&study, &layout, true)?;
        let total = started.elapsed();
        eprintln!(
            "run {}: report {rendered:.1?}, all {} charts {charted:.1?}, with the annex {total:.1?}",
            i + 1,
            drawn.len()
        );
        times.push((total, rendered, charted));
    }
    times.sort();
    let (total, rendered, charted) = times[times.len() / 2];
    println!(
        "report stage over the twin: median {total:.1?} (Markdown and HTML {rendered:.1?}, every chart {charted:.1?}, the rest the annex workbook), {repeats} runs"
    );
    let started = Instant::now();
    match write_pdf(&layout)? {
        Pdf::Written(_) => println!("PDF through Chromium: {:.1?}", started.elapsed()),
        Pdf::Unavailable(why) => println!("{why}"),
    }
    Ok(())
}
