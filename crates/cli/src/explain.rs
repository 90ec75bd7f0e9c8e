//! The `explain` command: where a number comes from.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use evalpipe_review::{Register, explain, explain_text};

use crate::paths::{or_default, project_root};

/// Options of `evalpipe explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A register id (pipeline/published), an output table, or models/<id>/<table>.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Run folder [default: runs/twin].
    #[arg(long, value_name = "DIR")]
    pub run: Option<PathBuf>,
    /// Study configuration folder [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// Report template folder [default: report-templates].
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

/// Prints the explanation.
pub fn run(args: &ExplainArgs) -> Result<bool> {
    let root = project_root();
    let run = or_default(&args.run, &root, "runs/twin");
    let pipeline = or_default(&args.pipeline, &root, "pipeline");
    let templates = or_default(&args.templates, &root, "report-templates");
    let register = pipeline
        .join(evalpipe_review::register::REGISTER_DIR)
        .is_dir()
        .then(|| Register::load(&pipeline))
        .transpose()
        .context("loading the published-figures register")?;
    let e = explain(&run, register.as_ref(), &templates, &args.id)?;
    let text = if args.json {
        serde_json::to_string_pretty(&e)? + "\n"
    } else {
        explain_text(&e)
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(true)
}
