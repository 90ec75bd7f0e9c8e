//! Stage 5, review: checks a run against the figures the evaluation published, and compares
//! two runs.
//!
//! The register (`pipeline/published/*.toml`, [`register`]) records every published figure with
//! the output cell that reproduces it; [`check`] reads those cells from a run's tables and
//! compares them at the precision they were printed with — counts exactly, percentages after
//! rounding to whole per cent, odds ratios at one decimal place, ranges by their ends. Figures
//! the documents themselves get wrong are recorded as errata and reported as such; figures
//! published from another MI extract than the run's (the report's Figure 4-2 is of the interim
//! extract, MI to June 2021) are reported as of another extract, not judged.

pub mod check;
mod configured;
pub mod diff;
pub mod explain;
pub mod register;
mod render;
pub mod sensitivity;
mod table;

use std::path::PathBuf;

pub use check::{
    CheckOptions, CheckReport, ExtractChoice, FigureCheck, RunExtract, Status, Tally, check,
    check_with,
};
pub use diff::{
    CrossCuttingChange, DiffOptions, DivergenceChange, FrameworkCoverage, RunDiff, TableDiff,
    ThemeCases, diff,
};
pub use explain::{Explanation, explain, explain_text};
pub use register::{ConfigRef, Erratum, Extract, Figure, Reduce, Register, Source, Unit};
pub use render::{DiffStyle, diff_html, diff_json, diff_text, to_json, to_markdown};
pub use sensitivity::{
    Alternative, Sensitivity, sensitivity_html, sensitivity_json, sensitivity_markdown,
};

/// What can go wrong in review.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A register file is malformed or inconsistent.
    #[error("{path}: {message}")]
    Register {
        /// The register file (or folder).
        path: PathBuf,
        /// What is wrong, naming the entry.
        message: String,
    },
    /// A check was asked for an extract the register does not declare.
    #[error("no extract `{id}` in the register ({})", declared_text(declared))]
    UnknownExtract {
        /// The id asked for.
        id: String,
        /// The ids `extracts.toml` declares.
        declared: Vec<String>,
    },
    /// The run folder cannot be checked.
    #[error("{path}: {message}")]
    Run {
        /// The run folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn declared_text(declared: &[String]) -> String {
    if declared.is_empty() {
        format!(
            "{}/{} declares none",
            register::REGISTER_DIR,
            register::EXTRACTS_FILE
        )
    } else {
        format!("declared: {}", declared.join(", "))
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
