//! Profile: every query over the ingest of an existing run folder, one at a time, with each
//! table's wall time and the process's peak resident set while it ran, slowest first. For
//! finding where a large run's transform time and memory go:
//!
//! ```sh
//! cargo run --release -p evalpipe-transform --example profile_queries -- RUN_FOLDER
//! ```
//! The run folder's `ingest/` is read, never written: the tables go to a temporary folder.

use std::path::Path;

use evalpipe_study::{RunLayout, Study};
use evalpipe_transform::{Progress, TransformOptions, run_with_progress};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run = std::env::args()
        .nth(1)
        .ok_or("usage: profile_queries RUN_FOLDER")?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let study = Study::load(&root.join("pipeline"))?;
    let tmp = tempfile::tempdir()?;
    std::fs::create_dir_all(tmp.path().join("ingest"))?;
    for f in std::fs::read_dir(Path::new(&run).join("ingest"))? {
        let f = f?.path();
        if f.extension().is_some_and(|e| e == "parquet") {
            std::fs::copy(&f, tmp.path().join("ingest").join(f.file_name().unwrap()))?;
        }
    }
    let layout = RunLayout::new(tmp.path());
    // One query at a time, so each table's time and memory are its own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    let progress = |p: Progress| {
        let Progress::Table { table, rows, .. } = p;
        let rss = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
            })
            .unwrap_or_default();
        eprintln!(
            "{:>8.2} s  {table:<40} {rows:>10} rows  peak while it ran {rss} kB",
            started.elapsed().as_secs_f64()
        );
        // Linux: "5" resets the peak (VmHWM) to the current resident set, so the next table's
        // peak is its own.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    };
    let tables = runtime.block_on(run_with_progress(
        &study,
        &layout,
        &root.join("queries"),
        &TransformOptions {
            queries_at_once: Some(1),
            ..Default::default()
        },
        &progress,
    ))?;
    let mut by_time: Vec<_> = tables.iter().collect();
    by_time.sort_by_key(|t| std::cmp::Reverse(t.elapsed));
    for t in by_time.iter().take(15) {
        println!("{:>8.2} s  {}", t.elapsed.as_secs_f64(), t.table);
    }
    Ok(())
}
