//! Benchmark: every query in `queries/` over the embedded default (the synthetic twin).
//!
//! Ingests `data/twin` once, then runs the whole transform (reference tables, staging and
//! output queries, Parquet and CSV written) several times and prints each run's wall time, the
//! median, and the slowest tables of the median run. Run it in a release build:
//!
//! ```sh
//! cargo run --release -p evalpipe-transform --example all_queries -- 7
//! ```

use std::path::Path;
use std::time::Duration;

use evalpipe_ingest::{IngestOptions, PseudonymKey, ingest};
use evalpipe_study::{RunLayout, Study};
use evalpipe_transform::{TableKind, TransformOptions, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repeats: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(7)
        .max(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let study = Study::load(&root.join("pipeline"))?;
    let tmp = tempfile::tempdir()?;
    let layout = RunLayout::new(tmp.path());
    let opts = IngestOptions {
        key: PseudonymKey::synthetic(),
        synthetic: true,
    };
    let summary = ingest(&study, &root.join("data/twin"), &layout, &opts)?;
    eprintln!("ingested the twin: {} participants", summary.participants);

    // The runtime `evalpipe run` uses: queries of one wave run on both cores.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut runs = Vec::new();
    for i in 0..repeats {
        let started = std::time::Instant::now();
        let tables = runtime.block_on(run(
            &study,
            &layout,
            &root.join("queries"),
            &TransformOptions::default(),
        ))?;
        let elapsed = started.elapsed();
        eprintln!("run {}: {} tables in {elapsed:.1?}", i + 1, tables.len());
        runs.push((elapsed, tables));
    }
    runs.sort_by_key(|(elapsed, _)| *elapsed);
    let (median, tables) = &runs[runs.len() / 2];
    let queries = tables
        .iter()
        .filter(|t| t.kind != TableKind::Reference)
        .count();
    println!(
        "all {queries} queries (+ {} reference tables) over the twin: median {median:.1?}, best {:.1?}, worst {:.1?} ({repeats} runs)",
        tables.len() - queries,
        runs[0].0,
        runs[runs.len() - 1].0
    );
    let mut slowest: Vec<(&str, Duration, usize)> = tables
        .iter()
        .map(|t| (t.table.as_str(), t.elapsed, t.rows))
        .collect();
    slowest.sort_by_key(|(_, elapsed, _)| std::cmp::Reverse(*elapsed));
    for (table, elapsed, rows) in slowest.iter().take(8) {
        println!("  {table:<36} {elapsed:>9.1?} {rows:>8} rows");
    }
    Ok(())
}
