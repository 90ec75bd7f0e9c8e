//! The `check` command: a run against the published-figures register.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use evalpipe_review::{CheckOptions, ExtractChoice, Register, check_with, to_json, to_markdown};

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
    /// Check the run as this MI extract (an id in published/extracts.toml).
    ///
    /// By default the run's extract is the one whose `mi_to` month is the latest date in the
    /// names of the run's MI files (`mi_<LOT>_<YYYYMMDD>`, from its manifest), or the default
    /// extract when none matches. Figures published from another extract are reported as
    /// `other extract` and do not fail the check.
    #[arg(long, value_name = "ID")]
    pub extract: Option<String>,
}

/// Runs the check and prints it; returns whether every reproducible figure matched.
/// A run of an undeclared extract is also said on stderr, unless `quiet`.
pub fn run(args: &CheckArgs, quiet: bool) -> Result<bool> {
    let root = project_root();
    let run = or_default(&args.run, &root, "runs/twin");
    let pipeline = or_default(&args.pipeline, &root, "pipeline");
    let register = Register::load(&pipeline).context("loading the published-figures register")?;
    let options = CheckOptions {
        extract: args.extract.clone(),
    };
    let report = check_with(&run, &register, &options).context("checking the run")?;
    if !quiet
        && let Some(x) = &report.extract
        && x.chosen_by == ExtractChoice::Default
        && let Some(note) = &x.note
    {
        eprintln!("evalpipe: warning: check: {note}");
    }
    let text = match args.format {
        Format::Md => to_markdown(&report),
        Format::Json => to_json(&report),
    };
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(!report.failed())
}
