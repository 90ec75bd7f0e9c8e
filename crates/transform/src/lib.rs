//! Transform: the evaluation's tables, computed in SQL from the run's clean Parquet.
//!
//! Ingest leaves one clean row per MI participant, their multi-select answers (how they heard of
//! the programme, barriers, agreed actions) and one row per claim. This stage turns them into the
//! tables the report prints and the models use: participants engaged by cohort (Table 2-1),
//! milestone claims against the programme targets (Figure 2-1), how participants heard of the
//! programme (Table 4-1), barriers (Table 4-2), agreed actions (Table 4-3) — each a SQL file in
//! `queries/` that anyone who reads SQL can check, each table carrying its N.
//!
//! **Reads** `<run>/ingest/{participants,participant_answers,claims}.parquet` and the [`Study`](evalpipe_study::Study)
//! (lots, cohorts, milestones and targets, code lists, periods).
//!
//! **Writes** into `<run>/tables/`:
//! - `reference/<name>.parquet|.csv`: the study configuration as tables ([`REFERENCE_TABLES`]:
//!   `lots`, `cohorts`, `milestones`, `codes`, `code_groups`, …), so the SQL joins to labels,
//!   orders and targets instead of repeating them;
//! - `<table>.parquet|.csv` for every query, first `queries/staging/*.sql`, then `queries/*.sql`,
//!   each set in file-name order; every result is registered under its name for the queries
//!   after it.
//!
//! Every query file opens with the header of STYLE.md §5 ([`QueryHeader`]); its `table` must be
//! the file name and its `reads` exactly the tables the SQL reads.
//!
//! **Never**: reads extracts or identifiers (only ingest's pseudonymised Parquet), hard-codes a
//! label or a target (they come from the reference tables), rounds a percentage for print
//! (percentages are exact ratios; the report rounds), or lets the machine shape the output:
//! one partition by default, every query ends in `order by`, CSV floats have a fixed format.
//!
//! **Entry points**: [`run`] (async; [`run_blocking`] outside a runtime;
//! [`run_with_progress`] to hear of each table as it is written), with [`TransformOptions`]; the query session is built in one place, [`session`], from a
//! [`SessionConfigSpec`].
//!
//! ```no_run
//! use evalpipe_study::{RunLayout, Study};
//! use evalpipe_transform::{run_blocking, TransformOptions};
//! use std::path::Path;
//! let study = Study::load(Path::new("pipeline")).unwrap();
//! // A run folder that ingest has filled from the embedded twin.
//! let layout = RunLayout::new("runs/twin");
//! let opts = TransformOptions::default();
//! let tables = run_blocking(&study, &layout, Path::new("queries"), &opts).unwrap();
//! for t in &tables {
//!     println!("{:<32} {:>6} rows", t.table, t.rows);
//! }
//! ```
#![warn(missing_docs)]

mod header;
mod output;
mod reference;
mod run;
mod session;
mod template;

#[cfg(any(test, feature = "fixture"))]
pub mod fixture;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use header::{JoinSides, Materialized, QueryHeader};
pub use output::{FLOAT_DECIMALS, TableWriter, csv_text, float, write_csv, write_parquet};
pub use reference::{REFERENCE_TABLES, STRUCTURAL_CHARACTERISTICS, reference_tables};
pub use run::{
    CATALOG_TABLE, INPUT_TABLES, Progress, QueryFile, QueryTable, REFERENCE_DIR, STAGING_DIR,
    TableKind, TableRun, TransformOptions, discover_queries, plan_query, read_queries,
    register_view, run, run_blocking, run_in_memory, run_with_progress,
};
pub use session::{DEFAULT_MEMORY_LIMIT, SessionConfigSpec, default_memory_limit, session};

/// What stops the transform. `Header`, `Plan` and `Execution` are the query author's to fix;
/// `MissingInput` means ingest has not run; `Internal` is an evalpipe bug.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An ingest dataset the queries read is not in the run folder.
    #[error("{path} is missing: run ingest into this run folder first")]
    MissingInput {
        /// The expected file.
        path: PathBuf,
    },
    /// A Parquet file exists but cannot be registered as a table.
    #[error("cannot read {path} as a table: {message}")]
    Input {
        /// The file.
        path: PathBuf,
        /// DataFusion's reason.
        message: String,
    },
    /// Reading queries or creating an output folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A query file's header is malformed or contradicts the file or the SQL.
    #[error("{query}: {message}")]
    Header {
        /// The query file.
        query: PathBuf,
        /// What is wrong, and what to do.
        message: String,
    },
    /// The SQL is invalid: it does not parse, names an unknown table or column, mistypes.
    #[error("{query} (table `{table}`): invalid query: {message}")]
    Plan {
        /// The query file.
        query: PathBuf,
        /// The table it makes.
        table: String,
        /// DataFusion's reason.
        message: String,
    },
    /// The SQL is valid but failed on the data (a cast, an overflow, a resource limit).
    #[error("{query} (table `{table}`): the query failed while running: {message}")]
    Execution {
        /// The query file.
        query: PathBuf,
        /// The table it makes.
        table: String,
        /// DataFusion's reason.
        message: String,
    },
    /// An output table cannot be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The writer's reason.
        message: String,
    },
    /// A broken invariant.
    #[error(
        "internal error while {context}: {message} (this is an evalpipe bug: please report it \
         with the run folder's manifest.json)"
    )]
    Internal {
        /// What was being done.
        context: String,
        /// The underlying message.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
