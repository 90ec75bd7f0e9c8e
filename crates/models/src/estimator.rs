//! The IRLS engine as a linfa estimator, so that anyone with a linfa [`Dataset`](linfa::Dataset)
//! fits the models evalpipe fits, with linfa's own traits:
//!
//! ```
//! use evalpipe_models::LogisticIrls;
//! use linfa::prelude::*;
//! use ndarray::{Array1, Array2};
//!
//! // Job outcome against weeks of coaching, eight participants.
//! let weeks = Array2::from_shape_vec((8, 1), vec![1., 2., 3., 4., 5., 6., 7., 8.]).unwrap();
//! let job = Array1::from(vec![false, false, true, false, true, false, true, true]);
//! let data = Dataset::new(weeks, job).with_feature_names(vec!["coaching_weeks"]);
//! let fit = LogisticIrls::default().fit(&data)?;
//! assert_eq!(fit.coefficients[1].name, "coaching_weeks");
//! assert!(fit.coefficients[1].odds_ratio > 1.0);
//! let p: Array1<f64> = fit.predict(data.records());
//! assert!(p[7] > p[0]);
//! # Ok::<(), evalpipe_models::Error>(())
//! ```

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::PredictInplace;
use ndarray::{Array1, Array2, ArrayBase, Data, Ix2, concatenate, s};

use crate::fit::{Design, Fit, FitOptions, fit};
use crate::{Error, Result};

/// Binary logistic regression by maximum likelihood (Newton/IRLS), with an intercept: the
/// records are the covariates, the targets whether the event happened. Fitting gives a [`Fit`]
/// (coefficients with odds ratios, intervals and Wald tests; the model summary), which predicts
/// each record's probability of the event.
#[derive(Debug, Clone, Default)]
pub struct LogisticIrls {
    /// Iteration cap and convergence tolerances.
    pub options: FitOptions,
}

/// The name of the intercept in a fit from a linfa dataset, as in the report's models.
const INTERCEPT: &str = crate::frame::CONSTANT;

/// The covariates with the intercept's column of ones first.
fn with_intercept<D: Data<Elem = f64>>(x: &ArrayBase<D, Ix2>) -> Array2<f64> {
    let ones = Array2::ones((x.nrows(), 1));
    // Both have x's rows, so the shapes always agree.
    concatenate![ndarray::Axis(1), ones, x.view()]
}

impl<D, T> linfa::traits::Fit<ArrayBase<D, Ix2>, T, Error> for LogisticIrls
where
    D: Data<Elem = f64>,
    T: AsSingleTargets<Elem = bool>,
{
    type Object = Fit;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<Fit> {
        let x = dataset.records();
        let y = dataset.as_single_targets();
        if y.len() != x.nrows() {
            return Err(linfa::Error::MismatchedShapes(x.nrows(), y.len()).into());
        }
        let mut names = vec![INTERCEPT.to_string()];
        let features = dataset.feature_names();
        names.extend((0..x.ncols()).map(|j| {
            features
                .get(j)
                .cloned()
                .unwrap_or_else(|| format!("x{}", j + 1))
        }));
        let design = Design {
            names,
            x: with_intercept(x),
            y: y.mapv(|event| if event { 1.0 } else { 0.0 }),
        };
        fit(&design, &self.options)
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for Fit {
    /// Each record's probability of the event under the fitted coefficients.
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        let b: Array1<f64> = self.coefficients.iter().map(|c| c.b).collect();
        // A record with another number of covariates than the fit's predicts nothing.
        if x.ncols() + 1 != b.len() || y.len() != x.nrows() {
            y.fill(f64::NAN);
            return;
        }
        let eta = x.dot(&b.slice(s![1..])) + b[0];
        y.assign(&eta.mapv(|e| 1.0 / (1.0 + (-e).exp())));
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

/// A dataset linfa refuses (shapes that do not match) is a design the fit cannot use.
impl From<linfa::Error> for Error {
    fn from(e: linfa::Error) -> Error {
        Error::InvalidDesign {
            reason: e.to_string(),
        }
    }
}
