//! The `datatool` command: the providers' common data tool, a workbook per lot, from the MI
//! data dictionary.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::paths::{load_study, or_default, project_root};
use crate::progress::Display;

/// Options of `evalpipe datatool`.
#[derive(Debug, Args)]
pub struct DatatoolArgs {
    /// Folder to write the workbooks (datatool_<LOT>.xlsx) and the data dictionary
    /// (data_dictionary.md|html) to [default: runs/datatool].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Study configuration folder [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// SQL folder, whose queries say which report tables use a column [default: queries].
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Replace workbooks of these names already in --out (a provider may have filled one in).
    #[arg(long)]
    pub force: bool,
    /// Do not print the data dictionary to PDF (otherwise printed with headless Chromium when it
    /// is installed).
    #[arg(long)]
    pub no_pdf: bool,
}

/// Writes the workbooks and prints their paths.
pub fn run(args: &DatatoolArgs, quiet: bool) -> Result<()> {
    let root = project_root();
    let pipeline = or_default(&args.pipeline, &root, "pipeline");
    let out = or_default(&args.out, &root, "runs/datatool");
    let queries = or_default(&args.queries, &root, "queries");
    let study = load_study(&pipeline)?;
    if !args.force {
        let present: Vec<String> = study
            .lots
            .iter()
            .map(evalpipe_datatool::workbook_name)
            .chain([
                "data_dictionary.md".into(),
                "data_dictionary.html".into(),
                evalpipe_datatool::DICTIONARY_PDF.into(),
            ])
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
    let mut written = evalpipe_datatool::write_workbooks(&study, &out)
        .context("datatool: writing the workbooks")?;
    let workbooks = written.len();
    written.extend(
        evalpipe_datatool::write_dictionary(&study, &queries, &out)
            .context("datatool: writing the data dictionary")?,
    );
    if !args.no_pdf {
        match evalpipe_datatool::print_dictionary(&out)
            .context("datatool: printing the data dictionary")?
        {
            Some(pdf) => written.push(pdf),
            None => Display::new(quiet).line(
                "note: no data_dictionary.pdf: Chromium is not installed (on Debian: apt-get \
                 install chromium)",
            ),
        }
    }
    Display::new(quiet).line(format!(
        "datatool: {workbooks} workbooks and the data dictionary from {}",
        pipeline.join("dictionary").display()
    ));
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}
