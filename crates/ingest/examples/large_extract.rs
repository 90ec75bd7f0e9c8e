//! Benchmark: ingest one very large MI extract and report time and peak memory.
//!
//! Ingest promises bounded memory: rows are validated and written a batch at a time, and what
//! grows with the file is only the set of participant keys. This example builds an extract of
//! N rows (default 1,000,000) by repeating the twin's Washwood Heath rows under fresh
//! references, ingests it, and prints rows per second and the process's peak resident memory.
//!
//! ```sh
//! cargo run --release -p evalpipe-ingest --example large_extract -- 1000000
//! cargo run --release -p evalpipe-ingest --example large_extract -- 300000 --workbook
//! ```
//!
//! With `--workbook` the extract is an xlsx workbook (sheet `Participants`), to measure the
//! streaming workbook reader; it is ingested by a fresh process of this example, so the peak
//! memory is ingest's, not the writer's.

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
    let workbook = std::env::args().any(|a| a == "--workbook");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let study = Study::load(&root.join("pipeline"))?;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--ingest-only") {
        let data = Path::new(args.get(i + 1).ok_or("--ingest-only DIR")?);
        let scratch = tempfile::tempdir()?;
        return ingest_and_report(&study, data, scratch.path(), rows);
    }
    let source = std::fs::read_to_string(root.join("data/twin/mi_L4_20220131.csv"))?;
    let mut lines = source.lines();
    let header = lines.next().ok_or("empty twin extract")?;
    let body: Vec<&str> = lines.collect();

    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    let started = Instant::now();
    let name = if workbook {
        "mi_L4_20220131.xlsx"
    } else {
        "mi_L4_20220131.csv"
    };
    // provider_ref is the first column: each copy of a twin row is a distinct participant.
    let row = |i: usize| -> Result<String, Box<dyn std::error::Error>> {
        let (_, rest) = body[i % body.len()]
            .split_once(',')
            .ok_or("malformed twin row")?;
        Ok(format!("BIG-{i:09},{rest}"))
    };
    if workbook {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let sheet = wb.add_worksheet().set_name("Participants")?;
        for (j, h) in header.split(',').enumerate() {
            sheet.write_string(0, j as u16, h)?;
        }
        for i in 0..rows {
            for (j, v) in row(i)?.split(',').enumerate() {
                if !v.is_empty() {
                    sheet.write_string(i as u32 + 1, j as u16, v)?;
                }
            }
        }
        wb.save(data.join(name))?;
    } else {
        let mut out = std::io::BufWriter::new(std::fs::File::create(data.join(name))?);
        writeln!(out, "{header}")?;
        for i in 0..rows {
            writeln!(out, "{}", row(i)?)?;
        }
    }
    let size = std::fs::metadata(data.join(name))?.len();
    eprintln!(
        "wrote {rows} rows ({:.0} MiB) in {:.1?}",
        size as f64 / 1048576.0,
        started.elapsed()
    );
    if workbook {
        let status = std::process::Command::new(std::env::current_exe()?)
            .args([
                &rows.to_string(),
                "--ingest-only",
                data.to_str().ok_or("path")?,
            ])
            .status()?;
        return if status.success() {
            Ok(())
        } else {
            Err("the ingesting process failed".into())
        };
    }
    ingest_and_report(&study, &data, tmp.path(), rows)
}

/// Ingests `data` into `scratch/run` and prints the time and this process's peak memory.
fn ingest_and_report(
    study: &Study,
    data: &Path,
    scratch: &Path,
    rows: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let before = peak_rss_mib().unwrap_or(0.0);

    let key = PseudonymKey::new(b"benchmark key, not a secret".to_vec()).ok_or("key")?;
    let started = Instant::now();
    let summary = ingest(
        study,
        data,
        &RunLayout::new(scratch.join("run")),
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
