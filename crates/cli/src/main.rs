//! `evalpipe`: the command line over the stage libraries.
//!
//! This crate is glue: it parses arguments, finds the project folder, hands a run to the
//! orchestration library (`evalpipe-pipeline`), draws its progress on a terminal and prints
//! what came out; `check`, `diff` and `explain` likewise over the review library. It alone
//! knows about terminals, exit codes and `anyhow`.

mod check;
mod dashboard;
mod datatool;
mod diff;
mod explain;
mod paths;
mod progress;
mod run;
mod sensitivity;
mod synth;
mod timings;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Ingest makes and drops small strings for every cell, and the query engine many buffers:
// with glibc's allocator a quarter of ingest's time went to malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Reproducible evaluation pipeline: provider MI and claims in, the evaluation report out.
///
/// With no options, `evalpipe run` works on the embedded synthetic twin under `data/twin` and
/// writes `runs/twin`. Point it at real extracts with `--data` (and a pseudonymisation key in
/// EVALPIPE_PSEUDONYM_KEY or `--key-file`).
///
/// Exit status: 0 success; 1 `check` found a published figure the run does not reproduce, or
/// `diff` found a change; 2 an error (input, configuration, I/O, a refused --out); 3 `run`
/// wrote the run, but an extract was rejected, rows of one swallowed lines (a stray quote), a
/// lot has no data or there is no usable claims extract in this refresh (listed on stderr and in ingest/validation/summary.md;
/// `--accept-incomplete` exits 0); 130 interrupted.
#[derive(Debug, Parser)]
#[command(
    name = "evalpipe",
    version,
    about,
    long_about,
    after_long_help = "Report bugs with the command line and the manifest.json of the run."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run ingest → transform → models → framework → report into one run folder; stages whose
    /// inputs did not change since the last run there are reused.
    ///
    /// Stages that do not read each other's output run at the same time; on a terminal (and
    /// without --quiet) a progress display shows each stage's step on stderr.
    Run(run::RunArgs),
    /// Show which stages of the run in --out are stale, and why.
    Status(run::RunArgs),
    /// Write the synthetic twin of the providers' MI and the claims extract.
    Synth(synth::SynthArgs),
    /// Write the providers' common data tool: an Excel workbook per lot, from the MI dictionary,
    /// with drop-downs, date and number rules and a note on every column.
    Datatool(datatool::DatatoolArgs),
    /// Render the bi-monthly MI dashboard packs from the runs of successive refreshes: the
    /// programme's and one per lot, each an HTML slide deck (and PDF slides) with its tables.
    Dashboard(dashboard::DashboardArgs),
    /// Run the study once per alternative of each analytic decision (pipeline/decisions.toml)
    /// and show what each changes: published figures changing status, the cells that move most,
    /// model terms crossing p = 0.05.
    Sensitivity(sensitivity::SensitivityArgs),
    /// Compare a run with the figures the evaluation published (exit 1 on any mismatch).
    Check(check::CheckArgs),
    /// Show what changed between two runs (exit 1 when anything did, beyond the thresholds).
    Diff(diff::DiffArgs),
    /// Say where a number comes from: query, inputs with hashes, N, where the report uses it.
    Explain(explain::ExplainArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => match run::run(args, cli.quiet) {
            Ok(outcome) if !outcome.incomplete.is_empty() && !args.accept_incomplete => {
                return ExitCode::from(3);
            }
            other => other.map(|_| true),
        },
        Command::Status(args) => run::status(args),
        Command::Synth(args) => synth::synth(args, cli.quiet).map(|()| true),
        Command::Datatool(args) => datatool::run(args, cli.quiet).map(|()| true),
        Command::Dashboard(args) => dashboard::run(args, cli.quiet).map(|()| true),
        Command::Sensitivity(args) => sensitivity::run(args, cli.quiet).map(|()| true),
        Command::Check(args) => check::run(args, cli.quiet),
        Command::Diff(args) => diff::run(args),
        Command::Explain(args) => explain::run(args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("evalpipe: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
