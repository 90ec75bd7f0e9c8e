//! The `dashboard` command: the bi-monthly MI dashboard packs from the runs of successive
//! refreshes.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::paths::{load_study, or_default, project_root};

/// Options of `evalpipe dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Run folders of the refreshes, or folders of such runs; they are put in order of their MI
    /// extract dates, whatever the order given.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// Folder to write the packs to (programme/ and lot_<LOT>/, each a deck.html, deck.pdf
    /// and tables/); replaced if it holds earlier packs [default: runs/dashboard].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write the pack of this lot only (repeat for several) [default: every lot].
    #[arg(long = "lot", value_name = "LOT")]
    pub lots: Vec<String>,
    /// Study configuration folder, with dashboard.toml [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// SQL folder; the dashboards' queries are in its dashboard/ [default: queries].
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Template folder; the deck is its dashboard/deck.html.j2 [default: report-templates].
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Do not print the decks to PDF slides (otherwise printed with headless Chromium when it
    /// is installed).
    #[arg(long)]
    pub no_pdf: bool,
}

/// Writes the packs and prints each deck's path.
pub fn run(args: &DashboardArgs, quiet: bool) -> Result<()> {
    let root = project_root();
    let pipeline = or_default(&args.pipeline, &root, "pipeline");
    let study = load_study(&pipeline)?;
    let request = evalpipe_pipeline::DashboardRequest {
        runs: args.runs.clone(),
        out: or_default(&args.out, &root, "runs/dashboard"),
        options: evalpipe_dashboard::Options {
            pipeline,
            queries: or_default(&args.queries, &root, "queries"),
            templates: or_default(&args.templates, &root, "report-templates"),
            lots: args.lots.clone(),
            pdf: !args.no_pdf,
        },
    };
    let outcome = evalpipe_pipeline::write_dashboard(&study, &request)?;
    if !quiet {
        let dates: Vec<String> = outcome
            .refreshes
            .iter()
            .map(|r| format!("{} ({})", r.date, r.name))
            .collect();
        eprintln!(
            "dashboard: {} refreshes: {}; {} packs, {} cells suppressed",
            outcome.refreshes.len(),
            dates.join(", "),
            outcome.written.packs.len(),
            outcome.written.suppressed
        );
        if let Some(why) = &outcome.written.no_pdf {
            eprintln!("note: {why}");
        }
    }
    for pack in &outcome.written.packs {
        println!("{}", pack.join("deck.html").display());
    }
    Ok(())
}
