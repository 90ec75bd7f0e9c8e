//! Dashboard: the bi-monthly MI dashboard packs, rendered from finished runs of successive
//! refreshes.
//!
//! Through the programme the evaluators sent the commissioner a dashboard every two months —
//! the milestones against target, trends across the sites and for different groups, what
//! changed — and discussed each site's figures and data quality with its provider. This crate
//! makes those packs from the runs of the refreshes given, oldest first:
//! - the **programme pack**: headline milestones against target and profile, their trend across
//!   the refreshes, the split by lot, by payment group (cohort) and by the demographics
//!   `pipeline/dashboard.toml` lists, what changed since the previous refresh, and the data
//!   quality of each lot (files rejected or missing, rows quarantined, participants entered
//!   late, records corrected);
//! - **one pack per lot**: the lot against the programme and its own (pro-rata) targets, its
//!   trends, and its validation findings to discuss with the provider.
//!
//! **Reads**, of each run: `manifest.json` (its extract date: the latest MI file's, and whether
//! it is synthetic), `tables/claims_performance`, `tables/validated_claims`,
//! `ingest/participants` (to match people across refreshes by pseudonym) and
//! `ingest/validation/accounting.csv`; of the latest run also `tables/participant_outcomes`,
//! `tables/participant_categories` (and the SQL of the view `participant_characteristics` that
//! reshapes it), the reference tables and `ingest/validation/<LOT>.csv`.
//! They become the tables the SQL files of `queries/dashboard/` read ([`inputs`]); the
//! transform's runner runs them in memory, so the dashboards' numbers are computed as the
//! report's are — in SQL anyone can check — and none in a template.
//!
//! **Writes** into the pack folder: `programme.html`, `lot_<LOT>.html` (self-contained 16:9
//! slide decks, one exhibit per slide, arrow keys to move), their PDF slides when Chromium is
//! installed, and `tables/<table>.csv` — the tables the slides print, after disclosure control.
//!
//! **Disclosure control** is the report's ([`evalpipe_report::disclosure`]): the dashboards'
//! tables are decided together with the latest run's published tables (they share its people),
//! with the sums a reader of a trend knows declared (a refresh's count is the one before plus
//! the change), and every pack prints that one decision — a lot's pack shows that lot's and the
//! programme's cells only, suppressed where the programme pack suppresses them. Data-quality
//! counts (files, rows, records entered late or corrected) describe the provider's own records,
//! not people's characteristics, and are shown as they are.
//!
//! **Entry points**: [`refreshes`] finds and orders the runs; [`write`] writes the packs.
#![warn(missing_docs)]

mod charts;
mod config;
mod deck;
mod inputs;
mod tables;

use std::path::PathBuf;

pub use config::DashboardConfig;
pub use deck::{Written, write};
pub use inputs::{Refresh, refreshes};

/// Where the dashboards' SQL files are, under the queries folder.
pub const QUERIES_SUBDIR: &str = "dashboard";
/// Where the deck template is, under the templates folder.
pub const TEMPLATES_SUBDIR: &str = "dashboard";
/// The dashboards' configuration, in the study configuration folder.
pub const CONFIG_FILE: &str = "dashboard.toml";

/// How to make the packs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The study configuration folder (`pipeline/`).
    pub pipeline: PathBuf,
    /// The queries folder (`queries/`); the dashboards' are in its `dashboard/`.
    pub queries: PathBuf,
    /// The templates folder (`report-templates/`); the deck is in its `dashboard/`.
    pub templates: PathBuf,
    /// The lots to write a pack for (codes); empty: every lot of the study.
    pub lots: Vec<String>,
    /// Print each deck to PDF slides when Chromium is installed.
    pub pdf: bool,
}

/// What stops the packs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `pipeline/dashboard.toml` is missing or wrong.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The runs given cannot make a series of refreshes.
    #[error("{0}")]
    Refreshes(String),
    /// A run lacks a file the packs read, or the file cannot be read.
    #[error("run {run}: {message}")]
    Run {
        /// The run folder.
        run: PathBuf,
        /// What is missing or unreadable.
        message: String,
    },
    /// A dashboard query failed.
    #[error(transparent)]
    Query(#[from] evalpipe_transform::Error),
    /// The deck template is missing, does not parse or fails to render.
    #[error("{template}: {message}")]
    Render {
        /// The template.
        template: String,
        /// What failed.
        message: String,
    },
    /// Chromium is installed but could not print a deck.
    #[error("PDF {path}: {message}")]
    Pdf {
        /// The PDF.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// An output cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// An evalpipe bug.
    #[error("internal error (an evalpipe bug): {0}")]
    Internal(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
