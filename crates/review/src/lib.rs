//! Stage 5, review: checks a run against the figures the evaluation published, and compares
//! two runs.
//!
//! The register (`pipeline/published/*.toml`, [`register`]) records every published figure with
//! the output cell that reproduces it; [`check`] reads those cells from a run's tables and
//! compares them at the precision they were printed with — counts exactly, percentages after
//! rounding to whole per cent, odds ratios at one decimal place, ranges by their ends. Figures
//! the documents themselves get wrong are recorded as errata and reported as such.

pub mod check;
pub mod diff;
pub mod explain;
pub mod register;
mod render;
mod table;

use std::path::PathBuf;

pub use check::{CheckReport, FigureCheck, Status, Tally, check};
pub use diff::{DiffOptions, RunDiff, TableDiff, diff};
pub use explain::{Explanation, explain, explain_text};
pub use register::{Erratum, Figure, Register, Source, Unit};
pub use render::{DiffStyle, diff_html, diff_json, diff_text, to_json, to_markdown};

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
    /// The run folder cannot be checked.
    #[error("{path}: {message}")]
    Run {
        /// The run folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
