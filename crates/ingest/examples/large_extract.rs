//! Benchmark: ingest one very large MI extract and report time and peak memory.
//!
//! Ingest promises bounded memory: rows are validated and written a batch at a time, and what
//! grows with the file is only the set of participant keys. This example builds an extract of
//! N rows (default 1,000,000) by repeating the twin's Washwood Heath rows under fresh
//! references, ingests it, and prints rows per second and the process's peak resident memory.
//!
//! ```sh
//! cargo run --release -p evalpipe-ingest --example large_extract -- 1000000
//! ```

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use evalpipe_ingest::{IngestOptions, PseudonymKey, ingest};
use evalpipe_study::{RunLayout, Study};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let study = Study::load(&root.join("pipeline"))?;
    let source = std::fs::read_to_string(root.join("data/twin/mi_L4_20220131.csv"))?;
    let mut lines = source.lines();
    let header = lines.next().ok_or("empty twin extract")?;
    let body: Vec<&str> = lines.collect();

    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    let started = Instant::now();
    {
        let mut out =
            std::io::BufWriter::new(std::fs::File::create(data.join("mi_L4_20220131.csv"))?);
        writeln!(out, "{header}")?;
        for i in 0..rows {
            // provider_ref is the first column: make each copy a distinct participant.
            let line = body[i % body.len()];
            let (_, rest) = line.split_once(',').ok_or("malformed twin row")?;
            writeln!(out, "BIG-{i:09},{rest}")?;
        }
    }
    let size = std::fs::metadata(data.join("mi_L4_20220131.csv"))?.len();
    eprintln!(
        "wrote {rows} rows ({:.0} MiB) in {:.1?}",
        size as f64 / 1048576.0,
        started.elapsed()
    );
    let before = peak_rss_mib().unwrap_or(0.0);

    let key = PseudonymKey::new(b"benchmark key, not a secret".to_vec()).ok_or("key")?;
    let started = Instant::now();
    let summary = ingest(
        &study,
        &data,
        &RunLayout::new(tmp.path().join("run")),
        &IngestOptions {
            key,
            synthetic: false,
        },
    )?;
    let took = started.elapsed();
    println!(
        "ingested {} participants, {} quarantined, in {:.1?} ({:.0} rows/s); peak RSS {:.0} MiB (before ingest {:.0} MiB)",
        summary.participants,
        summary
            .files
            .iter()
            .map(|f| f.rows_quarantined)
            .sum::<usize>(),
        took,
        rows as f64 / took.as_secs_f64(),
        peak_rss_mib().unwrap_or(f64::NAN),
        before
    );
    Ok(())
}
