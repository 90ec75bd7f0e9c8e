//! The one error type of the models stage.

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

    /// A broken invariant inside evalpipe.
    #[error("internal error in the models stage (an evalpipe bug, please report it): {0}")]
    Internal(String),
}

/// `Result` with the models stage's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
