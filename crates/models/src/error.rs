//! The one error type of the models stage.

use std::path::PathBuf;

/// Why a model could not be fitted.
///
/// Every variant a user can cause names the covariate (design column) concerned, never a table
/// of diverged numbers. Two kinds are told apart, because they call for different people: a
/// model the *data of this extract* cannot support (too few complete cases, an empty level, an
/// absent reference level, no events, separation — [`Error::is_data_problem`]), whose message
/// says so and does not ask for the spec to change, and a *spec* that does not match the study
/// (a characteristic or reference level the tables cannot have), whose message says what to
/// correct in it. Only [`Error::Internal`] is evalpipe's fault.
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

    /// Every row has the same outcome (no events, or nothing but events), so there is nothing to
    /// model.
    #[error(
        "{}: a logistic regression needs cases with and without the outcome",
        if *events == 0 {
            format!("none of the {n} complete cases in this data has the outcome (no events)")
        } else {
            format!("all {n} complete cases in this data have the outcome (no non-events)")
        }
    )]
    OneOutcomeOnly {
        /// Rows with outcome 1.
        events: usize,
        /// Rows.
        n: usize,
    },

    /// A covariate takes one value in every row: it is collinear with the intercept (an empty
    /// category's dummy is all zeros, for instance).
    #[error(
        "covariate `{column}` has the same value ({value}) in every complete case of this data, \
         so its effect cannot be estimated on it (an empty category, or a filter that left one \
         level)"
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
        "in this data, covariate `{column}` is a linear combination of {} (the information \
         matrix is singular), so their effects cannot be told apart; more cases, or merged \
         categories, may separate them",
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
        "perfect or quasi-complete separation in this data: covariate `{column}` predicts the \
         outcome exactly for some cases (its coefficient kept growing; {boundary_rows} cases \
         have fitted probabilities of 0 or 1 after {iterations} iterations), so its odds ratio \
         has no finite estimate on this data"
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

    /// A covariate's reference level is a category neither the study nor the extract has: the
    /// spec names a category that cannot occur.
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
        /// The categories known (the study's, else the extract's), in order.
        levels: Vec<String>,
    },

    /// A covariate's reference level is a real category, but no participant of the model's
    /// sample in this extract is at it: the other levels have nothing to be compared with.
    #[error(
        "covariate `{covariate}`: no participant of the model's sample in this extract is at the \
         reference level `{reference}` of `{characteristic}` (levels present: {}), so the other \
         levels cannot be compared with it on this data",
        quoted(present)
    )]
    AbsentReference {
        /// Covariate name.
        covariate: String,
        /// Its characteristic.
        characteristic: String,
        /// The reference the spec gives.
        reference: String,
        /// The categories the sample does have, in order.
        present: Vec<String>,
    },

    /// A covariate's level has no complete case in the model's frame, so its effect (or, for the
    /// reference, every other level's) cannot be estimated.
    #[error(
        "covariate `{covariate}`: no participant with complete data is at {} `{level}` in this \
         extract (after the exclusions and listwise deletion), so {} cannot be estimated on this \
         data",
        if *reference { "the reference level" } else { "level" },
        if *reference { "no level can be compared with it" } else { "its effect" }
    )]
    EmptyLevel {
        /// Covariate name.
        covariate: String,
        /// The empty level.
        level: String,
        /// Whether it is the reference level.
        reference: bool,
    },

    /// A covariate's characteristic is one the study does not configure and the tables do not
    /// hold: the spec names something that cannot be there.
    #[error(
        "covariate `{covariate}`: characteristic `{characteristic}` has no data in \
         participant_categories nor among the completed actions; check the name in the spec (or \
         the transform's characteristics)"
    )]
    NoCategories {
        /// Covariate name.
        covariate: String,
        /// The characteristic looked for.
        characteristic: String,
    },

    /// A covariate's characteristic is one the study configures, but no participant of this
    /// extract has it recorded.
    #[error(
        "covariate `{covariate}`: no participant in this extract has `{characteristic}` \
         recorded, so the model cannot be fitted on this data"
    )]
    NoData {
        /// Covariate name.
        covariate: String,
        /// The characteristic.
        characteristic: String,
    },

    /// The population steps and exclusions leave nobody of this extract in the model's sample.
    #[error(
        "no participant of this extract is left in the model's sample after the step \
         `{step}`, so there is nothing to fit"
    )]
    EmptySample {
        /// The label of the first step after which nobody was left.
        step: String,
    },

    /// Participants are in the sample, but none has the outcome and every covariate recorded.
    #[error(
        "no complete cases in this extract: none of the {population} participants of the \
         model's sample has the outcome and every covariate recorded"
    )]
    NoCompleteCases {
        /// Participants in the sample before listwise deletion.
        population: usize,
    },

    /// Fewer complete cases than the model has parameters: the estimates are not identified.
    #[error(
        "only {n} complete cases for {parameters} parameters in this extract: a logistic \
         regression needs more cases than parameters, so the model cannot be fitted on this data"
    )]
    TooFewCases {
        /// Complete cases.
        n: usize,
        /// Parameters: the intercept and one per non-reference level present in the sample.
        parameters: usize,
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

    /// A table exists but cannot be read, lacks a column, or is not in the order the
    /// transform writes it in.
    #[error("cannot read {path} as a table: {message}")]
    Input {
        /// The file.
        path: PathBuf,
        /// The reason.
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
                | Error::AbsentReference { .. }
                | Error::EmptyLevel { .. }
                | Error::NoCategories { .. }
                | Error::NoData { .. }
                | Error::EmptySample { .. }
                | Error::NoCompleteCases { .. }
                | Error::TooFewCases { .. }
        )
    }

    /// Whether the model failed because this extract's data cannot support it (too few cases,
    /// an empty or absent level, no events, separation, collinearity in the data), not because
    /// its spec is wrong: such a model may fit on a fuller extract with the same spec.
    pub fn is_data_problem(&self) -> bool {
        matches!(
            self,
            Error::OneOutcomeOnly { .. }
                | Error::ZeroVariance { .. }
                | Error::Singular { .. }
                | Error::Separation { .. }
                | Error::AbsentReference { .. }
                | Error::EmptyLevel { .. }
                | Error::NoData { .. }
                | Error::EmptySample { .. }
                | Error::NoCompleteCases { .. }
                | Error::TooFewCases { .. }
        )
    }

    /// Why the model was not fitted, in words a published report can print: no count appears
    /// (a count of a few participants would escape disclosure control; the summary's `n` and
    /// `events` carry the counts, and the report prints them through it), and covariates are
    /// named by their labels (`label_of` gives a covariate's label from its name). `None` for
    /// errors that stop the stage, which never reach a report.
    pub fn reason(&self, label_of: &dyn Fn(&str) -> String) -> Option<String> {
        // A design column is `<covariate>[<level>]`, or the covariate itself.
        let term = |column: &str| match column.split_once('[') {
            Some((covariate, level)) => format!(
                "the group ‘{}’ of {}",
                level.trim_end_matches(']'),
                label_of(covariate)
            ),
            None => label_of(column),
        };
        Some(match self {
            Error::OneOutcomeOnly { events: 0, .. } => {
                "no participant with complete data in this extract had the outcome, so there is \
                 nothing to compare"
                    .into()
            }
            Error::OneOutcomeOnly { .. } => "every participant with complete data in this \
                 extract had the outcome, so there is nothing to compare"
                .into(),
            Error::ZeroVariance { column, .. } => format!(
                "every participant with complete data in this extract is alike in {}, so its \
                 effect cannot be estimated",
                term(column)
            ),
            Error::Singular {
                column,
                collinear_with,
            } => format!(
                "in this extract's data the effect of {} cannot be told apart from {}",
                term(column),
                if collinear_with.is_empty() {
                    "the other covariates'".to_string()
                } else {
                    collinear_with
                        .iter()
                        .map(|c| term(c))
                        .collect::<Vec<_>>()
                        .join(" and ")
                }
            ),
            Error::Separation { column, .. } => format!(
                "in this extract's data {} predicts the outcome exactly for some participants \
                 (separation), so its odds ratio has no finite estimate",
                term(column)
            ),
            Error::NotConverged { .. } => "the estimation did not converge on this extract's \
                 data"
                .into(),
            Error::AbsentReference {
                covariate,
                reference,
                ..
            } => format!(
                "no participant of the model's sample in this extract is in the group \
                 ‘{reference}’ of {}, which the other groups are compared with",
                label_of(covariate)
            ),
            Error::EmptyLevel {
                covariate, level, ..
            } => format!(
                "no participant with complete data in this extract is in the group ‘{level}’ of \
                 {}",
                label_of(covariate)
            ),
            Error::NoData { covariate, .. } => format!(
                "no participant in this extract has {} recorded",
                label_of(covariate)
            ),
            Error::EmptySample { step } => format!(
                "no participant of this extract is left in the model's sample after the step \
                 ‘{step}’"
            ),
            Error::NoCompleteCases { .. } => "no participant of the model's sample in this \
                 extract has the outcome and every covariate recorded"
                .into(),
            Error::TooFewCases { .. } => "too few participants in this extract have complete \
                 data for the number of parameters the model estimates"
                .into(),
            Error::InvalidDesign { .. }
            | Error::MissingReference { .. }
            | Error::NoCategories { .. } => {
                "its specification does not match this run's tables (the run's model summary \
                 says what to correct)"
                    .into()
            }
            _ => return None,
        })
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
