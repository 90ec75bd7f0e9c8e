//! The `datatool` command: the providers' common data tool, a workbook per lot, from the MI
//! data dictionary.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use evalpipe_study::Study;

use crate::paths::{or_default, project_root};
use crate::progress::Display;

/// Options of `evalpipe datatool`.
#[derive(Debug, Args)]
pub struct DatatoolArgs {
    /// Folder to write the workbooks to (datatool_<LOT>.xlsx) [default: runs/datatool].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Study configuration folder [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// Replace workbooks of these names already in --out (a provider may have filled one in).
    #[arg(long)]
    pub force: bool,
}

/// Writes the workbooks and prints their paths.
pub fn run(args: &DatatoolArgs, quiet: bool) -> Result<()> {
    let root = project_root();
    let pipeline = or_default(&args.pipeline, &root, "pipeline");
    let out = or_default(&args.out, &root, "runs/datatool");
    let study = Study::load(&pipeline).with_context(|| {
        format!(
            "loading the study configuration from {} (use --pipeline DIR to point elsewhere)",
            pipeline.display()
        )
    })?;
    if !args.force {
        let present: Vec<String> = study
            .lots
            .iter()
            .map(evalpipe_datatool::workbook_name)
            .filter(|name| out.join(name).symlink_metadata().is_ok())
            .collect();
        if !present.is_empty() {
            bail!(
                "{} already holds {}; a provider may have filled one in: move them away, or \
                 pass --force to replace them",
                out.display(),
                present.join(", ")
            );
        }
    }
    let written = evalpipe_datatool::write_workbooks(&study, &out)
        .context("datatool: writing the workbooks")?;
    Display::new(quiet).line(format!(
        "datatool: {} workbooks from {}",
        written.len(),
        pipeline.join(&study.info.mi_dictionary).display()
    ));
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}
