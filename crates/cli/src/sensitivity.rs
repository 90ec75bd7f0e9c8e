//! The `sensitivity` command: the study's run, then one per alternative of each analytic
//! decision, and what each alternative changes.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, ValueEnum};
use evalpipe_pipeline::{Events, Request, SensitivityRequest};

use crate::paths::project_root;
use crate::progress::Display;

/// Output formats of `evalpipe sensitivity`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Markdown, readable as text.
    Md,
    /// One self-contained HTML page.
    Html,
    /// JSON, for tools.
    Json,
}

/// Options of `evalpipe sensitivity`.
#[derive(Debug, Args)]
pub struct SensitivityArgs {
    /// Folder of extracts [default: data/twin].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The study's run folder (made or brought up to date first) [default: runs/<data folder
    /// name>].
    #[arg(long, value_name = "DIR")]
    pub run: Option<PathBuf>,
    /// Folder for the alternatives' runs, one <decision>-<option> folder each [default:
    /// runs/sensitivity].
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// Study configuration folder, with decisions.toml [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// SQL folder [default: queries].
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Report template folder [default: report-templates].
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// File holding the pseudonymisation key (else the EVALPIPE_PSEUDONYM_KEY variable).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    pub format: Format,
}

/// Runs the study and its alternatives and prints what each alternative changes.
pub fn run(args: &SensitivityArgs, quiet: bool) -> Result<()> {
    let root = project_root();
    let display = Arc::new(Display::new(quiet));
    let events: Events = {
        let display = Arc::clone(&display);
        Arc::new(move |e| display.event(e))
    };
    let request = SensitivityRequest {
        base: Request {
            root: root.clone(),
            data: args.data.clone(),
            out: args.run.clone(),
            pipeline: args.pipeline.clone(),
            queries: args.queries.clone(),
            templates: args.templates.clone(),
            key_file: args.key_file.clone(),
            pdf: false,
            ..Request::default()
        },
        work: args
            .work
            .clone()
            .unwrap_or_else(|| root.join("runs/sensitivity")),
    };
    let s = evalpipe_pipeline::sensitivity(&request, events)?;
    let text = match args.format {
        Format::Md => evalpipe_review::sensitivity_markdown(&s),
        Format::Html => evalpipe_review::sensitivity_html(&s),
        Format::Json => evalpipe_review::sensitivity_json(&s),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}
