//! Writes the transform's reference tables (lots, cohorts, milestones, code lists,
//! `characteristic_values`, periods, …) as Parquet, built exactly as a run builds them, so that
//! another engine can run `queries/` over a run's ingest Parquet (`benches/peers/duckdb_sql.py`).
//!
//! ```sh
//! cargo run -p evalpipe-transform --example reference_tables -- OUT_DIR [PIPELINE_DIR]
//! ```
//!
//! `PIPELINE_DIR` defaults to the repository's `pipeline/`. Each table is written to
//! `OUT_DIR/<name>.parquet` with the transform's own writer, so the bytes are those of a run's
//! `tables/reference/<name>.parquet`.

use std::path::{Path, PathBuf};

use evalpipe_study::Study;
use evalpipe_transform::{reference_tables, write_parquet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: reference_tables OUT_DIR [PIPELINE_DIR]");
        std::process::exit(2);
    };
    let pipeline = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline"));
    let study = Study::load(&pipeline)?;
    std::fs::create_dir_all(&out)?;
    for (name, batch) in reference_tables(&study)? {
        let path = out.join(format!("{name}.parquet"));
        write_parquet(&path, &batch.schema(), std::slice::from_ref(&batch))?;
        println!("{name}: {} rows -> {}", batch.num_rows(), path.display());
    }
    Ok(())
}
