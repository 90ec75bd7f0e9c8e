//! The one error type of a run's orchestration.

use std::path::PathBuf;

/// Why a run, or the check of its options, stopped. Printed as a chain (`{:#}` through the
/// CLI): what was being done, then the stage's own error naming file, row and field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read, written, moved or removed.
    #[error("{doing}")]
    Io {
        /// What was being done, naming the path(s).
        doing: String,
        /// The failure.
        source: std::io::Error,
    },
    /// The options or the run folder were refused before anything was written, or a folder
    /// evalpipe did not make stood where it would write.
    #[error("{0}")]
    Refused(String),
    /// The study configuration could not be loaded.
    #[error("loading the study configuration from {} (use --pipeline DIR to point elsewhere)", .pipeline.display())]
    Study {
        /// The configuration folder.
        pipeline: PathBuf,
        /// What was wrong with it.
        source: evalpipe_study::Error,
    },
    /// A stage failed.
    #[error("{context}")]
    Stage {
        /// Which stage and what it was doing (`ingest stage`, `report stage: the annex workbook`).
        context: String,
        /// The stage's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A run failed after it began building: nothing was published.
    #[error(
        "nothing was published to {}; what this run wrote before it stopped, \
         ingest/validation/summary.md among it, is in {} until the next run there",
        .out.display(),
        .staging.display()
    )]
    NotPublished {
        /// The run folder asked for.
        out: PathBuf,
        /// Where the run was being built.
        staging: PathBuf,
        /// Why it stopped.
        source: Box<Error>,
    },
    /// A bug of evalpipe's, not the user's to fix.
    #[error("internal error (an evalpipe bug, please report it): {0}")]
    Internal(String),
}

/// A run's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An I/O failure while `doing` something.
pub(crate) fn io(doing: String, source: std::io::Error) -> Error {
    Error::Io { doing, source }
}

/// A stage's failure, with what it was doing.
pub(crate) fn stage(
    context: impl Into<String>,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::Stage {
        context: context.into(),
        source: source.into(),
    }
}
