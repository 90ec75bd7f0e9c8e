//! # evalpipe-models: the report's logistic regressions
//!
//! **What it does, in evaluators' words.** The report explains three yes/no outcomes with binary
//! logistic regression: whether a participant achieved a *job outcome*; whether someone who started
//! a job was still *in work 13 weeks* later (sustainment); and *in-work progression* of the employed
//! cohort. For each it gives odds ratios with 95% confidence intervals and significance, as in
//! Annex Tables A-24, A-31 and A-39, plus the model summary (N, events, −2 log-likelihood,
//! likelihood-ratio χ², Cox & Snell and Nagelkerke R²). This crate is the engine that computes
//! those numbers so that they agree with SPSS, R `glm` and statsmodels: maximum likelihood by
//! Newton/IRLS to a tight convergence criterion, started from the intercept-only model.
//!
//! **Reads and writes.** The model specs in `pipeline/models/<id>.toml` ([`ModelSpec`]: outcome,
//! population steps, exclusions, covariates with their reference levels) and, from the run,
//! `tables/participant_outcomes.parquet` (outcomes, cohort, lot),
//! `tables/participant_categories.parquet` (one row per participant, one column per
//! characteristic, with the category orders of `tables/reference/characteristic_values`) and
//! `tables/participant_actions.parquet` (one row per participant with their completed actions as
//! a list, each action read as a yes/no characteristic `completed_action.<option>`), all three
//! in the participants' order in the extracts (`place`).
//! Writes per model into `tables/models/<id>/`: `coefficients` (B, SE, Wald, df, p, odds ratio
//! and 95% CI per term, plus the joint Wald test of each multi-level factor), `summary` (N,
//! events, −2LL, LR χ², R², AIC, iterations, or why the model was not fitted) and `steps` (the N
//! after each population step, each exclusion and listwise deletion), each as Parquet and CSV.
//!
//! **What it never does.** It never prints a model that did not fit: perfect or quasi-complete
//! separation, a singular information matrix (collinear covariates, an empty category),
//! non-convergence, too few complete cases, no events and an absent level are [`Error`]s naming
//! the covariate concerned; the stage writes that message in the model's summary instead of
//! numbers and goes on with the other models. Nor does it blame the spec for a thin extract: a
//! model this extract's data cannot support says so ("only 7 complete cases for 20 parameters
//! in this extract"; [`Error::is_data_problem`]), while a spec naming a characteristic or
//! category the study does not have is told what to correct. The summary keeps that `cause`
//! and a `reason` without counts for the published report. It does not format
//! numbers (the report does), and results do not depend on thread count or on how the tables
//! are cut into record batches: rows are summed in a fixed order, in fixed-size chunks.
//!
//! **How.** Everything the iterations need is a sum over rows ([`IrlsSums`]: X'WX, X'(y−p), the
//! log-likelihood), accumulated chunk by chunk from a [`RowSource`]. Every model's sample is
//! drawn in one streaming pass over the three tables, which the transform writes in the
//! participants' order in the extracts: the pass merges them by that position a batch at a time,
//! marks each model's steps and counts each participant into the model's cell of participants
//! alike in every step, the outcome and every covariate. The complete cells, with their counts,
//! are held as record batches of level indices ([`FrameSource`]); the dummy
//! columns are written one chunk at a time, so no dense design matrix is ever built
//! ([`fit_source`]). An in-memory [`Design`] is fitted by the same iterations ([`fit`]), and a
//! linfa `Dataset` through linfa's own `Fit` and `Predict` traits ([`LogisticIrls`]).
//!
//! **Entry functions:** [`run_blocking`] (the stage, on a run folder), [`fit`] (one design),
//! [`LogisticIrls`] (a linfa dataset).
//!
//! ```no_run
//! use evalpipe_models::{ModelsOptions, run_blocking};
//! use evalpipe_study::{RunLayout, Study};
//! use std::path::Path;
//! let study = Study::load(Path::new("pipeline")).unwrap();
//! // A run folder that ingest and transform have filled from the embedded twin.
//! let layout = RunLayout::new("runs/twin");
//! for model in run_blocking(&study, &layout, &ModelsOptions::default()).unwrap() {
//!     match &model.result {
//!         Ok(m) => println!("{}: N = {}, Nagelkerke R² {:.3}", model.spec.id, model.n(), m.fit.nagelkerke_r2),
//!         Err(e) => println!("{}: not fitted: {e}", model.spec.id),
//!     }
//! }
//! ```
//!
//! ```
//! use evalpipe_models::{Design, FitOptions, fit};
//! use ndarray::{Array1, Array2};
//!
//! // Job outcome (y) against weeks of coaching (x), eight participants.
//! let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
//! let y = [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
//! let design = Design {
//!     names: vec!["const".into(), "coaching_weeks".into()],
//!     x: Array2::from_shape_fn((8, 2), |(i, j)| if j == 0 { 1.0 } else { x[i] }),
//!     y: Array1::from(y.to_vec()),
//! };
//! let fit = fit(&design, &FitOptions::default())?;
//! let coaching = &fit.coefficients[1];
//! assert!(coaching.odds_ratio > 1.0 && coaching.ci_lower < coaching.odds_ratio);
//! assert!(fit.converged && fit.nagelkerke_r2 > 0.0);
//! # Ok::<(), evalpipe_models::Error>(())
//! ```
#![warn(missing_docs)]

mod error;
mod estimator;
mod fit;
mod frame;
mod model;
mod output;
mod sample;
mod spec;
mod stage;
mod sums;
mod wald;

pub use error::{Error, Result};
pub use estimator::LogisticIrls;
pub use fit::{
    Coefficient, Design, Fit, FitOptions, StartSource, Z_975, check_columns, fit, fit_from,
    fit_source,
};
pub use frame::{CONSTANT, FRAME_CHUNK_ROWS, Factor, FrameSource};
pub use model::{CoefficientRow, FittedModel, ModelRun, RowKind};
pub use output::{CAUSE_DATA, CAUSE_SPECIFICATION, FITTED, NOT_FITTED};
pub use sample::{
    ACTIONS_TABLE, CATEGORIES_TABLE, FrameStep, INPUT_TABLES, OUTCOMES_TABLE, SAMPLE_BATCH_ROWS,
    StepKind,
};
pub use spec::{Covariate, Filter, MODELS_DIR, ModelSpec, Step, load_specs};
pub use stage::{
    ModelsOptions, OUTPUT_DIR, Progress, output_dir, run, run_blocking, run_with_progress,
};
pub use sums::{ChunkFn, ColumnStats, IrlsSums, RowSource};
pub use wald::{WaldTest, joint_wald};
