//! The `check` command: a run against the published-figures register.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use evalpipe_review::{Register, check, to_json, to_markdown};

use crate::paths::{or_default, project_root};

/// Output formats of `evalpipe check`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Markdown: summary by source, failures, errata, every figure.
    Md,
    /// JSON, for tools.
    Json,
}

/// Options of `evalpipe check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Run folder to check [default: runs/twin].
    #[arg(value_name = "RUN")]
    pub run: Option<PathBuf>,
    /// Study configuration folder holding published/ [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    pub format: Format,
}

/// Runs the check and prints it; returns whether every reproducible figure matched.
pub fn run(args: &CheckArgs) -> Result<bool> {
    let root = project_root();
    let run = or_default(&args.run, &root, "runs/twin");
    let pipeline = or_default(&args.pipeline, &root, "pipeline");
    let register = Register::load(&pipeline).context("loading the published-figures register")?;
    let report = check(&run, &register).context("checking the run")?;
    let text = match args.format {
        Format::Md => to_markdown(&report),
        Format::Json => to_json(&report),
    };
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(!report.failed())
}
