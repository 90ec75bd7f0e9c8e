//! # evalpipe-models: the report's logistic regressions
//!
//! **What it does, in evaluators' words.** The report explains three yes/no outcomes with binary
//! logistic regression: whether a participant achieved a *job outcome*; whether someone who started
//! a job was still *in work 13 weeks* later (sustainment); and *in-work progression* of the employed
//! cohort. For each it gives odds ratios with 95% confidence intervals and significance, as in
//! Annex Tables A-24, A-31 and A-39, plus the model summary (N, events, −2 log-likelihood,
//! likelihood-ratio χ², Cox & Snell and Nagelkerke R²). This crate is the engine that computes
//! those numbers so that they agree with SPSS, R `glm` and statsmodels: maximum likelihood by
//! Newton/IRLS to a tight convergence criterion, started from linfa-logistic's fit.
//!
//! **Reads and writes.** Today: a [`Design`] (named covariate columns, the intercept first, and a
//! 0/1 outcome) in memory, and a [`Fit`] back. Later (issue 4): the model specs in `pipeline/` and
//! the run's tables, with coefficient tables and fit summaries written to the run layout.
//!
//! **What it never does.** It never prints a model that did not fit: perfect or quasi-complete
//! separation, a singular information matrix (collinear covariates, an empty category) and
//! non-convergence are [`Error`]s naming the covariate to fix. It does no I/O, does not build
//! dummies or drop incomplete cases (the design arrives complete), and does not format numbers
//! (the report does). Results do not depend on thread count: rows are summed in a fixed order.
//!
//! **How.** Everything the iterations need is a sum over rows ([`IrlsSums`]: X'WX, X'(y−p), the
//! log-likelihood), accumulated chunk by chunk from a [`RowSource`], so a model can later be fitted
//! from record batches without a dense matrix ([`fit_from`]). The linfa-logistic start is guarded
//! against rust-ml/linfa issue 393 (it takes the more frequent label as the positive class), see
//! [`linfa_start`].
//!
//! **Entry function:** [`fit`].
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
mod fit;
mod sums;

pub use error::{Error, Result};
pub use fit::{
    Coefficient, Design, Fit, FitOptions, StartSource, Z_975, check_columns, fit, fit_from,
    linfa_start,
};
pub use sums::{ChunkFn, ColumnStats, IrlsSums, RowSource};
