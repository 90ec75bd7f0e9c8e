//! The `diff` command: what changed between two runs.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use evalpipe_review::{DiffOptions, DiffStyle, Register, diff, diff_html, diff_json, diff_text};

use crate::paths::{or_default, project_root};

/// Output formats of `evalpipe diff`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Text for a terminal (coloured when stdout is one and NO_COLOR is unset).
    Text,
    /// Markdown, to paste into a pull request.
    Md,
    /// One self-contained HTML page.
    Html,
    /// JSON, for tools.
    Json,
}

/// Options of `evalpipe diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier run folder.
    #[arg(value_name = "RUN_A")]
    pub a: PathBuf,
    /// The later run folder.
    #[arg(value_name = "RUN_B")]
    pub b: PathBuf,
    /// Hide numeric changes smaller than this in absolute size.
    #[arg(long, value_name = "X", default_value_t = 0.0)]
    pub min_abs: f64,
    /// Hide numeric changes smaller than this fraction of the old value (0.01 = 1%).
    #[arg(long, value_name = "X", default_value_t = 0.0)]
    pub min_rel: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Study configuration folder; its published/ register adds check-status changes
    /// [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
}

/// Prints the diff; returns whether the runs are the same beyond the thresholds.
pub fn run(args: &DiffArgs) -> Result<bool> {
    let root = project_root();
    let pipeline = or_default(&args.pipeline, &root, "pipeline");
    // The register is optional here: without one the diff still covers every table.
    let register = pipeline
        .join(evalpipe_review::register::REGISTER_DIR)
        .is_dir()
        .then(|| Register::load(&pipeline))
        .transpose()
        .context("loading the published-figures register")?;
    let opts = DiffOptions {
        min_abs: args.min_abs,
        min_rel: args.min_rel,
    };
    let d = diff(&args.a, &args.b, register.as_ref(), &opts).context("comparing the runs")?;
    let text = match args.format {
        Format::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            diff_text(&d, DiffStyle::Text { color })
        }
        Format::Md => diff_text(&d, DiffStyle::Markdown),
        Format::Html => diff_html(&d),
        Format::Json => diff_json(&d),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(!d.any())
}
