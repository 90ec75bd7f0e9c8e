//! The one error type of the models stage.

use std::path::PathBuf;

/// Why a model could not be fitted.
///
/// Every variant a user can cause names the covariate (design column) concerned, so that a
/// failed model reads as "which covariate to drop or recode", never as a table of diverged
/// numbers. Only [`Error::Internal`] is evalpipe's fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The design's parts do not fit together (lengths, names, no rows).
    #[error("invalid design: {reason}")]
    InvalidDesign {
        /// What is wrong, in words.
        reason: String,
    },

    /// The first design column is not the intercept (all ones), which the null model and the
    /// likelihood-ratio test assume.
    #[error(
        "invalid design: the first column `{column}` must be the intercept (1 in every row); \
         row {row} has {value}"
    )]
    NoIntercept {
        /// Name of the first column.
        column: String,
        /// First row (0-based) that is not 1.
        row: usize,
        /// The value found there.
        value: f64,
    },

    /// A covariate value is NaN or infinite: missing values must be removed (listwise deletion)
    /// before fitting.
    #[error(
        "covariate `{column}` is not a finite number in row {row} ({value}); \
         remove incomplete cases before fitting"
    )]
    NonFinite {
        /// Design column.
        column: String,
        /// Row, 0-based.
        row: usize,
        /// The value found.
        value: f64,
    },

    /// The outcome is not coded 0/1.
    #[error("the outcome must be 0 or 1, row {row} has {value}")]
    OutcomeNotBinary {
        /// Row, 0-based.
        row: usize,
        /// The value found.
        value: f64,
    },

    /// Every row has the same outcome, so there is nothing to model.
    #[error("the outcome has {events} events in {n} rows: both outcomes must occur")]
    OneOutcomeOnly {
        /// Rows with outcome 1.
        events: usize,
        /// Rows.
        n: usize,
    },

    /// A covariate takes one value in every row: it is collinear with the intercept (an empty
    /// category's dummy is all zeros, for instance).
    #[error(
        "covariate `{column}` has the same value ({value}) in every row, so its effect cannot be \
         estimated (an empty category, or a filter that left one level); drop or recode it"
    )]
    ZeroVariance {
        /// Design column.
        column: String,
        /// Its only value.
        value: f64,
    },

    /// The information matrix is singular: a covariate is (numerically) a linear combination of
    /// the columns before it.
    #[error(
        "the information matrix is singular: covariate `{column}` is a linear combination of {}; \
         drop one of them or merge categories",
        if collinear_with.is_empty() { "the other covariates".to_string() }
        else { collinear_with.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ") }
    )]
    Singular {
        /// The column whose Cholesky pivot failed.
        column: String,
        /// Earlier columns that it is (nearly) a combination of, as far as they could be told.
        collinear_with: Vec<String>,
    },

    /// Perfect or quasi-complete separation: some rows' outcomes are predicted exactly, so the
    /// maximum-likelihood estimate does not exist and the coefficients diverge.
    #[error(
        "perfect or quasi-complete separation: covariate `{column}` predicts the outcome exactly \
         for some rows (its coefficient kept growing; {boundary_rows} rows have fitted \
         probabilities of 0 or 1 after {iterations} iterations); merge categories or drop `{column}`"
    )]
    Separation {
        /// The covariate whose standardised coefficient grew most over the last iterations.
        column: String,
        /// Rows with a fitted probability numerically 0 or 1.
        boundary_rows: usize,
        /// Newton iterations done.
        iterations: usize,
    },

    /// Newton/IRLS did not meet the convergence criterion within the iteration cap.
    #[error(
        "the fit did not converge in {iterations} iterations (last change in `{column}` was \
         {max_step:e}, relative change in deviance {deviance_change:e}); check the covariates' \
         coding and scale"
    )]
    NotConverged {
        /// Iterations done.
        iterations: usize,
        /// Covariate with the largest last step.
        column: String,
        /// Largest absolute coefficient change in the last iteration.
        max_step: f64,
        /// Relative change in deviance in the last iteration.
        deviance_change: f64,
    },

    /// A covariate's reference level is not among its characteristic's categories.
    #[error(
        "covariate `{covariate}`: the reference level `{reference}` is not a category of \
         characteristic `{characteristic}` (its categories: {}); correct `reference` in the spec",
        quoted(levels)
    )]
    MissingReference {
        /// Covariate name.
        covariate: String,
        /// Its characteristic.
        characteristic: String,
        /// The reference the spec gives.
        reference: String,
        /// The categories found, in order.
        levels: Vec<String>,
    },

    /// A covariate's level has no cases in the model's frame, so its effect (or, for the
    /// reference, every other level's) cannot be estimated.
    #[error(
        "covariate `{covariate}`: {} `{level}` has no cases after the exclusions and listwise \
         deletion; merge it with another category{}",
        if *reference { "the reference level" } else { "level" },
        if *reference { " or choose another reference" } else { " or drop the covariate" }
    )]
    EmptyLevel {
        /// Covariate name.
        covariate: String,
        /// The empty level.
        level: String,
        /// Whether it is the reference level.
        reference: bool,
    },

    /// A covariate's characteristic has no rows at all in `participant_characteristics`.
    #[error(
        "covariate `{covariate}`: characteristic `{characteristic}` has no data in \
         participant_characteristics; check the name in the spec (or the transform's \
         characteristics)"
    )]
    NoCategories {
        /// Covariate name.
        covariate: String,
        /// The characteristic looked for.
        characteristic: String,
    },

    /// A model spec is not valid TOML or has unknown or missing fields.
    #[error("{path}: {message}")]
    SpecSyntax {
        /// The spec file.
        path: PathBuf,
        /// The parser's message (line, column, field).
        message: String,
    },

    /// A model spec parses but a field is wrong.
    #[error("{path}: {field}: {message}")]
    Spec {
        /// The spec file.
        path: PathBuf,
        /// The field, e.g. ``[[exclude]] #2 `lots` ``.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },

    /// A table the models read is not in the run folder.
    #[error("{path} is missing: run the transform into this run folder first")]
    MissingInput {
        /// The expected file.
        path: PathBuf,
    },

    /// A table exists but cannot be read.
    #[error("cannot read {path} as a table: {message}")]
    Input {
        /// The file.
        path: PathBuf,
        /// DataFusion's reason.
        message: String,
    },

    /// Reading a spec folder or creating an output folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },

    /// A model's frame query failed in DataFusion.
    #[error("model `{model}`: building its frame failed: {message}")]
    Query {
        /// The model id.
        model: String,
        /// DataFusion's message.
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

    /// A broken invariant inside evalpipe.
    #[error("internal error in the models stage (an evalpipe bug, please report it): {0}")]
    Internal(String),
}

impl Error {
    /// Whether the error is about one model's data (separation, a singular information matrix,
    /// non-convergence, an empty level, a missing reference level…): the model's outputs say
    /// so and the run goes on. Other errors (a bad spec, a missing table, I/O) stop the stage.
    pub fn is_model_problem(&self) -> bool {
        matches!(
            self,
            Error::InvalidDesign { .. }
                | Error::OneOutcomeOnly { .. }
                | Error::ZeroVariance { .. }
                | Error::Singular { .. }
                | Error::Separation { .. }
                | Error::NotConverged { .. }
                | Error::MissingReference { .. }
                | Error::EmptyLevel { .. }
                | Error::NoCategories { .. }
        )
    }
}

fn quoted(items: &[String]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Result` with the models stage's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
