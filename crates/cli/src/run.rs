//! The `run` and `status` commands: options into a request for the pipeline, its events drawn.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use evalpipe_pipeline::{Events, Request, RunOutcome};

use crate::paths::project_root;
use crate::progress::Display;
use crate::timings::{self, Timings};

/// Options of `evalpipe run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Folder of extracts (mi_<LOT>_<YYYYMMDD>.csv|xlsx, claims_<YYYYMMDD>.csv) [default: data/twin].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Run folder to write; replaced if it holds an earlier run [default: runs/<data folder name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Study configuration folder [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// SQL folder [default: queries].
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Report template folder [default: report-templates].
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Charted interviews (cases.xlsx, matrix_<type>.xlsx, cmo.xlsx) [default: data/qualitative
    /// with the twin, else <data>/qualitative if it exists].
    #[arg(long, value_name = "DIR")]
    pub qualitative: Option<PathBuf>,
    /// File holding the pseudonymisation key (else the EVALPIPE_PSEUDONYM_KEY variable).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Run every stage even if nothing it reads changed since the last run in --out.
    #[arg(long)]
    pub force: bool,
    /// Do not print report/report.pdf; otherwise it is printed with headless Chromium when
    /// Chromium is installed.
    #[arg(long)]
    pub no_pdf: bool,
    /// Exit 0 even when an extract was rejected, rows swallowed lines, a lot has no data or the
    /// claims extract is missing in this refresh (the run is written either way; without this
    /// option the exit status is 3).
    #[arg(long)]
    pub accept_incomplete: bool,
    /// Write each stage's wall time and peak memory to FILE as JSON (for benchmarks; outside
    /// the run folder, whose outputs never depend on the machine).
    #[arg(long, value_name = "FILE")]
    pub timings: Option<PathBuf>,
    /// Memory the query engine may hold, in GiB, before its sorts and aggregations spill to
    /// the temporary folder [default: half the machine's]. A lower limit keeps a national
    /// extract's run within a smaller machine at the cost of more disk; a join too large for it
    /// fails its query by name. Results never depend on it.
    #[arg(long, value_name = "GiB", value_parser = gibibytes)]
    pub memory_limit: Option<usize>,
}

/// `--memory-limit`: GiB as a number (fractions allowed), in bytes.
fn gibibytes(text: &str) -> Result<usize, String> {
    match text.trim().parse::<f64>() {
        Ok(g) if (1.0 / 1024.0..=1_048_576.0).contains(&g) => {
            Ok((g * (1u64 << 30) as f64) as usize)
        }
        _ => Err(format!(
            "`{text}` is not a memory limit in GiB (e.g. 3 or 2.5; at least 1 MiB)"
        )),
    }
}

/// `evalpipe run`: the stages into the run folder, their progress drawn on stderr.
pub fn run(args: &RunArgs, quiet: bool) -> Result<RunOutcome> {
    let display = Arc::new(Display::new(quiet).timed(Timings::new(args.timings.is_some())));
    let plan = evalpipe_pipeline::plan(&request(args))?;
    let timings = args
        .timings
        .as_deref()
        .map(|t| timings::check_path(t, &plan.out))
        .transpose()?;
    let events: Events = {
        let display = Arc::clone(&display);
        Arc::new(move |e| display.event(e))
    };
    let outcome = evalpipe_pipeline::run(plan, events)?;
    if !outcome.up_to_date {
        if let Some(path) = &timings {
            display.timings().write(path)?;
        }
        display.line("report:");
    }
    println!("{}", outcome.report.display());
    // Printed even with --quiet: it is why the run "failed".
    for line in &outcome.incomplete {
        eprintln!("warning: {line}");
    }
    Ok(outcome)
}

/// `evalpipe status`: which stages a run would redo, and why.
pub fn status(args: &RunArgs) -> Result<bool> {
    let plan = evalpipe_pipeline::plan(&request(args))?;
    let states = evalpipe_pipeline::status(&plan)?;
    println!("{}", plan.out.display());
    for s in &states {
        if s.stale {
            println!("  {:<10} stale: {}", s.stage.name(), s.reasons.join("; "));
        } else {
            println!("  {:<10} up to date", s.stage.name());
        }
    }
    Ok(true)
}

/// What `evalpipe run` and `status` are asked, for the pipeline.
fn request(args: &RunArgs) -> Request {
    Request {
        root: project_root(),
        data: args.data.clone(),
        out: args.out.clone(),
        pipeline: args.pipeline.clone(),
        queries: args.queries.clone(),
        templates: args.templates.clone(),
        qualitative: args.qualitative.clone(),
        key_file: args.key_file.clone(),
        force: args.force,
        pdf: !args.no_pdf,
        memory_limit: args.memory_limit,
    }
}

#[cfg(test)]
mod tests {
    use super::gibibytes;

    #[test]
    fn a_memory_limit_is_gibibytes_in_bytes() {
        assert_eq!(gibibytes("3"), Ok(3 << 30));
        assert_eq!(gibibytes("2.5"), Ok(5 << 29));
        assert_eq!(gibibytes("0.02"), Ok(21_474_836));
        assert!(gibibytes("0").is_err());
        assert!(gibibytes("-1").is_err());
        assert!(gibibytes("NaN").is_err());
        assert!(gibibytes("3G").is_err());
    }
}
