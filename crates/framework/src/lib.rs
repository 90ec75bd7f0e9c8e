//! Framework: the qualitative half of the evaluation, as a reproducible stage.
//!
//! Half of the report's evidence comes from 154 semi-structured interviews (51 in year 1, 63 in
//! year 2, 40 in year 3) with programme stakeholders, lead providers and delivery staff,
//! partners, participants and employers, analysed with the Framework method: researchers chart a
//! summary of each interview (a *case*) against each *theme* in a matrix, one matrix per interview
//! type, themes mapped onto the Theory of Change stages (engagement, support, behaviour change,
//! employer engagement, job outcome, in-work progression). Reading down a column shows how far a
//! theme cuts across lots; comparing groups shows where providers and participants, or cohorts,
//! see the same thing differently; the context–mechanism–outcome links drawn from the cases are
//! the report's Figures 3-1, 4-4, 4-5 and 4-6.
//!
//! **Reads** the codebook `pipeline/framework/codebook.toml` ([`Codebook`]), the qualitative data
//! folder (default `data/qualitative/`: `cases.xlsx`, one `matrix_<type>.xlsx` per interview type,
//! `cmo.xlsx`; layout in [`input`], cell convention in [`cell`]), the SQL in `queries/framework/`
//! and, for the triangulation hooks, the run's tables (`tables/<name>.parquet`,
//! `tables/models/<id>/coefficients.parquet`).
//!
//! **Writes** into the run folder, each table as Parquet and CSV under `tables/framework/`:
//! - `framework_cases`, `framework_cells`, `framework_quotes`, `framework_cmo_links`,
//!   `framework_cmo_support`, `framework_findings` (the validated input as tables) and
//!   `reference/framework_*` (the codebook as tables);
//! - the tables the SQL makes: cases per theme by interview type, wave and lot
//!   (`framework_theme_cases`), interviews by wave and type (`framework_interviews`),
//!   cross-cutting themes (`framework_cross_cutting`), divergent perspectives
//!   (`framework_divergence`), the CMO configurations (`framework_cmo`); and
//!   `framework_triangulation`, each theme's quantitative finding beside it;
//! - `framework/matrices.html` and `framework/matrices.xlsx` (the matrices, one per type) and
//!   `framework/validation.md` (the findings).
//!
//! **Never**: counts in Rust what SQL can count (the counting is DataFusion over Parquet, as for
//! the quantitative tables); stops on a data problem (a problem is a [`Finding`] naming file,
//! sheet and cell, and the datum is left out); writes anything that depends on the clock or the
//! machine; prints a synthetic matrix without saying so.
//!
//! **Entry point**: [`run_blocking`] (or [`run`] inside a runtime). Split in two, [`prepare`]
//! (everything that does not read the run's tables) and [`Prepared::finish`] (the triangulation
//! hooks), the stage can run beside the transform and the models. The synthetic qualitative
//! twin in `data/qualitative/` is written by `evalpipe_synth::qualitative`, not by the stage.
//!
//! ```no_run
//! use evalpipe_framework::{Codebook, FrameworkOptions, run_blocking};
//! use evalpipe_study::{RunLayout, Study};
//! use std::path::Path;
//! let study = Study::load(Path::new("pipeline")).unwrap();
//! let codebook = Codebook::load_from_pipeline(Path::new("pipeline")).unwrap();
//! // A run folder that the earlier stages filled from the embedded twin.
//! let layout = RunLayout::new("runs/twin");
//! let opts = FrameworkOptions::new("data/qualitative", "queries/framework");
//! let done = run_blocking(&study, &codebook, &layout, &opts).unwrap();
//! println!("{} cases, {} findings", done.cases, done.findings.len());
//! ```
#![warn(missing_docs)]

pub mod cell;
pub mod codebook;
pub mod input;
mod render;
mod stage;
mod tables;

use std::path::PathBuf;

pub use codebook::{CODEBOOK_FILE, Codebook};
pub use input::{Finding, Input, Rule};
pub use stage::{
    FrameworkOptions, FrameworkRun, OUTPUT_DIR, Prepared, Progress, prepare, run, run_blocking,
};

/// What stops the framework stage. `Codebook`, `Input` and `Query` are the user's to fix;
/// `Internal` is an evalpipe bug. Problems in the charted data are [`Finding`]s, not errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The codebook is malformed or contradicts itself.
    #[error("{path}: {message}")]
    Codebook {
        /// The codebook file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The case sheet is missing.
    #[error("{path} is missing: the qualitative data folder needs its case sheet")]
    MissingInput {
        /// The expected file.
        path: PathBuf,
    },
    /// A workbook cannot be read, or the case sheet lacks a required column.
    #[error("{path}: {message}")]
    Input {
        /// The workbook.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// Writing an output failed.
    #[error("writing {path}: {message}")]
    Write {
        /// The output.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A counting query is malformed (header) or fails (SQL): the transform's runner says
    /// which, naming the query file.
    #[error(transparent)]
    Query(#[from] evalpipe_transform::Error),
    /// A broken invariant.
    #[error("internal error (an evalpipe bug, please report it): {0}")]
    Internal(String),
}

/// Result with the framework's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
