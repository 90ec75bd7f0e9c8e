//! What a model of a run came to: its sample at each step, and its fit with the rows of its
//! table — built by the stage, written by `output`, read by the report and `diff`.

use std::path::PathBuf;

use crate::Error;
use crate::fit::Fit;
use crate::frame::Factor;
use crate::sample::FrameStep;
use crate::spec::ModelSpec;
use crate::wald::WaldTest;

/// One model of a run: its sample at each step and its fit, or why it could not be fitted.
#[derive(Debug)]
pub struct ModelRun {
    /// The spec.
    pub spec: ModelSpec,
    /// N after each population and exclusion step and after listwise deletion.
    pub steps: Vec<FrameStep>,
    /// Complete cases with the event.
    pub events: usize,
    /// The fit, or the model problem (separation, singular, not converged, empty level…) that
    /// stopped it; the outputs then carry the message instead of numbers.
    pub result: std::result::Result<FittedModel, Error>,
    /// Things worth a warning that did not stop the model (an exclusion that matched nobody).
    pub notes: Vec<String>,
    /// Files written, in order.
    pub files: Vec<PathBuf>,
}

impl ModelRun {
    /// Complete cases (the last step's N).
    pub fn n(&self) -> usize {
        self.steps.last().map_or(0, |s| s.n)
    }
}

/// A fitted model with what its coefficients mean.
#[derive(Debug, Clone)]
pub struct FittedModel {
    /// The estimates and summary.
    pub fit: Fit,
    /// The factors (covariates), in the spec's order.
    pub factors: Vec<Factor>,
    /// Design columns of each factor's dummies.
    pub factor_columns: Vec<Vec<usize>>,
    /// The joint Wald test of each factor with more than one dummy.
    pub factor_tests: Vec<Option<WaldTest>>,
}

/// What a row of the coefficients table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// The intercept.
    Constant,
    /// A multi-level factor as a whole: its joint Wald test.
    Factor,
    /// One level of a factor against the reference.
    Level,
}

impl RowKind {
    /// The word in the coefficients table.
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Constant => "constant",
            RowKind::Factor => "factor",
            RowKind::Level => "level",
        }
    }
}

/// One row of a coefficients table (SPSS "Variables in the Equation").
#[derive(Debug, Clone, PartialEq)]
pub struct CoefficientRow {
    /// Constant, factor or level.
    pub kind: RowKind,
    /// `const`, the factor's name, or the dummy's design name (`age_band[35–44]`).
    pub term: String,
    /// Factor name (not for the constant).
    pub factor: Option<String>,
    /// Factor heading (not for the constant).
    pub factor_label: Option<String>,
    /// The level (level rows only).
    pub level: Option<String>,
    /// The factor's reference level (not for the constant).
    pub reference_level: Option<String>,
    /// Estimate on the log-odds scale (not for factor rows).
    pub b: Option<f64>,
    /// Its standard error.
    pub se: Option<f64>,
    /// Wald χ².
    pub wald: f64,
    /// Its degrees of freedom.
    pub df: usize,
    /// Its p-value.
    pub p: f64,
    /// exp(B).
    pub odds_ratio: Option<f64>,
    /// Lower end of the 95% confidence interval of the odds ratio.
    pub ci_lower: Option<f64>,
    /// Upper end.
    pub ci_upper: Option<f64>,
}

impl FittedModel {
    /// The coefficients table: the constant, then per factor its joint test (when it has more
    /// than one dummy) followed by a row per non-reference level, in level order.
    pub fn rows(&self) -> Vec<CoefficientRow> {
        let coefficient = |j: usize, kind: RowKind, f: Option<&Factor>, level: Option<&str>| {
            let c = &self.fit.coefficients[j];
            CoefficientRow {
                kind,
                term: c.name.clone(),
                factor: f.map(|f| f.name.clone()),
                factor_label: f.map(|f| f.label.clone()),
                level: level.map(str::to_string),
                reference_level: f.map(|f| f.reference_level().to_string()),
                b: Some(c.b),
                se: Some(c.se),
                wald: c.wald,
                df: c.df as usize,
                p: c.p,
                odds_ratio: Some(c.odds_ratio),
                ci_lower: Some(c.ci_lower),
                ci_upper: Some(c.ci_upper),
            }
        };
        let mut rows = vec![coefficient(0, RowKind::Constant, None, None)];
        for (i, f) in self.factors.iter().enumerate() {
            if let Some(test) = &self.factor_tests[i] {
                rows.push(CoefficientRow {
                    kind: RowKind::Factor,
                    term: f.name.clone(),
                    factor: Some(f.name.clone()),
                    factor_label: Some(f.label.clone()),
                    level: None,
                    reference_level: Some(f.reference_level().to_string()),
                    b: None,
                    se: None,
                    wald: test.chi2,
                    df: test.df,
                    p: test.p,
                    odds_ratio: None,
                    ci_lower: None,
                    ci_upper: None,
                });
            }
            let levels = f
                .levels
                .iter()
                .enumerate()
                .filter(|(l, _)| *l != f.reference);
            for (&j, (_, level)) in self.factor_columns[i].iter().zip(levels) {
                rows.push(coefficient(j, RowKind::Level, Some(f), Some(level)));
            }
        }
        rows
    }
}
