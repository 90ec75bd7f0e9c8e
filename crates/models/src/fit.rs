//! The fitter: checks, Newton/IRLS from the intercept-only model to convergence, and the
//! statistics a report table shows.

use linfa_linalg::cholesky::Cholesky;
use linfa_linalg::triangular::{SolveTriangularInplace, UPLO};
use ndarray::{Array1, Array2, Axis, s};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use crate::sums::{ChunkFn, ColumnStats, IrlsSums, RowSource};
use crate::{Error, Result};

/// z for a two-sided 95% interval, Φ⁻¹(0.975), to the digits SPSS, R and statsmodels use.
pub const Z_975: f64 = 1.959963984540054;

/// A Cholesky pivot whose squared value is below this fraction of the column's diagonal entry
/// means the column is, to working precision, a combination of the earlier ones (1 − R² < 1e-10).
const PIVOT_TOLERANCE: f64 = 1e-10;

/// Rows per chunk when a [`Design`] is walked as a [`RowSource`]: big enough for the matrix
/// products to be efficient, small enough that the per-chunk temporaries stay small.
const CHUNK_ROWS: usize = 8192;

/// A model's design matrix and 0/1 outcome, one row per case (after listwise deletion).
#[derive(Debug, Clone)]
pub struct Design {
    /// Column names; the first is the intercept, conventionally `const`.
    pub names: Vec<String>,
    /// Covariates, one column per name; the first column is all ones.
    pub x: Array2<f64>,
    /// Outcome, 1 = event (e.g. a job outcome), 0 = none.
    pub y: Array1<f64>,
}

impl RowSource for Design {
    fn names(&self) -> &[String] {
        &self.names
    }

    fn for_each_chunk(&self, f: &mut ChunkFn<'_>) -> Result<()> {
        let n = self.x.nrows();
        // A row per case: every frequency is 1.
        let ones = Array1::<f64>::ones(CHUNK_ROWS.min(n));
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK_ROWS).min(n);
            f(
                start,
                self.x.slice(s![start..end, ..]),
                self.y.slice(s![start..end]),
                ones.slice(s![..end - start]),
            )?;
            start = end;
        }
        Ok(())
    }
}

/// How hard to try, and where to start.
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Newton/IRLS iteration cap. Separation shows as coefficients still growing at the cap.
    pub max_iterations: usize,
    /// Converged when |ΔD| / (|D| + 0.1) is below this (D the deviance; R's form)…
    pub deviance_tolerance: f64,
    /// …and every coefficient moved by less than this in the last step.
    pub coefficient_tolerance: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            max_iterations: 50,
            deviance_tolerance: 1e-12,
            coefficient_tolerance: 1e-10,
        }
    }
}

/// Where the Newton/IRLS iterations started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartSource {
    /// Intercept = logit of the event rate, other coefficients 0 (R `glm`'s usual start).
    NullModel,
}

/// One row of a coefficients table (SPSS "Variables in the Equation").
#[derive(Debug, Clone, PartialEq)]
pub struct Coefficient {
    /// Design column name.
    pub name: String,
    /// Estimate, on the log-odds scale.
    pub b: f64,
    /// Standard error, from the inverse information at the estimate.
    pub se: f64,
    /// Wald statistic (b / se)².
    pub wald: f64,
    /// Degrees of freedom of the Wald test (1 for a single coefficient).
    pub df: u32,
    /// Two-sided p-value of the Wald test.
    pub p: f64,
    /// Odds ratio, exp(b).
    pub odds_ratio: f64,
    /// Lower end of the 95% confidence interval of the odds ratio.
    pub ci_lower: f64,
    /// Upper end of the 95% confidence interval of the odds ratio.
    pub ci_upper: f64,
}

/// A fitted model: coefficients and the model summary (SPSS "Model Summary" and "Omnibus Tests").
#[derive(Debug, Clone)]
pub struct Fit {
    /// One per design column, in design order.
    pub coefficients: Vec<Coefficient>,
    /// Covariance matrix of the estimates (inverse information), design order.
    pub covariance: Array2<f64>,
    /// Cases used.
    pub n: usize,
    /// Cases with outcome 1.
    pub events: usize,
    /// Log-likelihood at the estimate.
    pub log_likelihood: f64,
    /// Log-likelihood of the intercept-only model.
    pub null_log_likelihood: f64,
    /// −2 log-likelihood (SPSS's "−2 Log likelihood", R's residual deviance).
    pub minus_2ll: f64,
    /// −2 log-likelihood of the intercept-only model (R's null deviance).
    pub null_minus_2ll: f64,
    /// Likelihood-ratio χ² against the intercept-only model (SPSS's omnibus "Model" χ²).
    pub lr_chi2: f64,
    /// Its degrees of freedom: coefficients other than the intercept.
    pub lr_df: usize,
    /// Its p-value; `None` for an intercept-only model, which has nothing to test.
    pub lr_p: Option<f64>,
    /// Cox & Snell R².
    pub cox_snell_r2: f64,
    /// Nagelkerke R² (Cox & Snell rescaled to a maximum of 1).
    pub nagelkerke_r2: f64,
    /// Akaike information criterion, −2LL + 2k.
    pub aic: f64,
    /// Newton/IRLS iterations done.
    pub iterations: usize,
    /// Whether the convergence criterion was met; a fit that did not converge is returned as
    /// [`Error::NotConverged`] instead, so this is always true in an `Ok`.
    pub converged: bool,
    /// Where the iterations started.
    pub start: StartSource,
    /// The starting coefficients, design order.
    pub start_b: Array1<f64>,
}

/// Fits a binary logistic regression of `design.y` on `design.x` by maximum likelihood.
///
/// Checks the design, then runs Newton/IRLS on the sufficient statistics from the
/// intercept-only model (R `glm`'s start) until the deviance and the coefficients stop
/// changing. [`LogisticIrls`](crate::LogisticIrls) is the same fit as a linfa estimator.
pub fn fit(design: &Design, opts: &FitOptions) -> Result<Fit> {
    check_shape(design)?;
    let stats = check_columns(design)?;
    check_rank(design)?;
    let start = null_start(&stats, design.names.len());
    fit_checked(design, &stats, StartSource::NullModel, start, opts)
}

/// Fits from any [`RowSource`], given the column summaries of a first pass and starting values.
///
/// This is the entry for data that is not a dense matrix (record batches): the iterations only
/// ever see the sums of [`IrlsSums`]. The rank check of [`fit`] is done here on the information
/// matrix X'X; `stats` comes from [`check_columns`].
pub fn fit_from(
    source: &dyn RowSource,
    stats: &ColumnStats,
    start: StartSource,
    start_b: Array1<f64>,
    opts: &FitOptions,
) -> Result<Fit> {
    check_rank(source)?;
    fit_checked(source, stats, start, start_b, opts)
}

/// Fits from any [`RowSource`] without ever holding its rows: a first pass checks the columns
/// ([`check_columns`]), the iterations start from the intercept-only model (R `glm`'s start)
/// and run on sums only ([`fit_from`]).
///
/// This is how the report's models are fitted from a frame of record batches.
pub fn fit_source(source: &dyn RowSource, opts: &FitOptions) -> Result<Fit> {
    let k = source.names().len();
    if k == 0 {
        return Err(Error::InvalidDesign {
            reason: "no columns (not even the intercept)".into(),
        });
    }
    let stats = check_columns(source)?;
    if stats.n <= k {
        return Err(Error::InvalidDesign {
            reason: format!(
                "{} cases for {k} coefficients: there must be more cases than coefficients",
                stats.n
            ),
        });
    }
    if stats.min[0] != 1.0 || stats.max[0] != 1.0 {
        let value = if stats.min[0] != 1.0 {
            stats.min[0]
        } else {
            stats.max[0]
        };
        return Err(Error::InvalidDesign {
            reason: format!(
                "the first column `{}` must be the intercept (1 in every row); a row has {value}",
                source.names()[0]
            ),
        });
    }
    let start = null_start(&stats, k);
    fit_from(source, &stats, StartSource::NullModel, start, opts)
}

/// [`fit_from`] after the rank check.
fn fit_checked(
    source: &dyn RowSource,
    stats: &ColumnStats,
    start: StartSource,
    start_b: Array1<f64>,
    opts: &FitOptions,
) -> Result<Fit> {
    let names = source.names();
    let (b, sums, iterations) = irls(source, stats, start_b.clone(), opts)?;
    let l = match cholesky_checked(&sums.information) {
        Ok(l) => l,
        Err(j) => return Err(singular_error(&sums.information, j, names)),
    };
    let covariance = inverse_from_cholesky(&l)?;
    let normal = Normal::standard();
    let coefficients = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let b = b[j];
            let se = covariance[[j, j]].sqrt();
            let z = b / se;
            Coefficient {
                name: name.clone(),
                b,
                se,
                wald: z * z,
                df: 1,
                // 2·(1 − Φ(|z|)) equals the χ²(1) tail of the Wald statistic, and keeps its
                // precision for very small p.
                p: 2.0 * normal.sf(z.abs()),
                odds_ratio: b.exp(),
                ci_lower: (b - Z_975 * se).exp(),
                ci_upper: (b + Z_975 * se).exp(),
            }
        })
        .collect();

    let n = stats.n as f64;
    let events = stats.events as f64;
    let rate = events / n;
    let null_ll = events * rate.ln() + (n - events) * (1.0 - rate).ln();
    let ll = sums.log_likelihood;
    let lr_chi2 = 2.0 * (ll - null_ll);
    let lr_df = names.len() - 1;
    let lr_p = if lr_df == 0 {
        None
    } else {
        let chi2 = ChiSquared::new(lr_df as f64)
            .map_err(|e| Error::Internal(format!("chi-square({lr_df}): {e}")))?;
        Some(chi2.sf(lr_chi2.max(0.0)))
    };
    let cox_snell_r2 = 1.0 - (-lr_chi2 / n).exp();
    let nagelkerke_r2 = cox_snell_r2 / (1.0 - (2.0 * null_ll / n).exp());
    Ok(Fit {
        coefficients,
        covariance,
        n: stats.n,
        events: stats.events,
        log_likelihood: ll,
        null_log_likelihood: null_ll,
        minus_2ll: -2.0 * ll,
        null_minus_2ll: -2.0 * null_ll,
        lr_chi2,
        lr_df,
        lr_p,
        cox_snell_r2,
        nagelkerke_r2,
        aic: -2.0 * ll + 2.0 * names.len() as f64,
        iterations,
        converged: true,
        start,
        start_b,
    })
}

/// Intercept-only starting values: logit of the event rate, other coefficients 0.
fn null_start(stats: &ColumnStats, k: usize) -> Array1<f64> {
    let rate = stats.events as f64 / stats.n as f64;
    let mut b = Array1::zeros(k);
    b[0] = (rate / (1.0 - rate)).ln();
    b
}

fn check_shape(design: &Design) -> Result<()> {
    let (n, k) = design.x.dim();
    let invalid = |reason: String| Err(Error::InvalidDesign { reason });
    if design.names.len() != k {
        return invalid(format!(
            "{} names for {k} design columns",
            design.names.len()
        ));
    }
    if design.y.len() != n {
        return invalid(format!("{} outcomes for {n} design rows", design.y.len()));
    }
    if k == 0 {
        return invalid("no columns (not even the intercept)".into());
    }
    if n <= k {
        return invalid(format!(
            "{n} rows for {k} coefficients: there must be more cases than coefficients"
        ));
    }
    if let Some((row, &value)) = design
        .x
        .column(0)
        .iter()
        .enumerate()
        .find(|(_, v)| **v != 1.0)
    {
        return Err(Error::NoIntercept {
            column: design.names[0].clone(),
            row,
            value,
        });
    }
    Ok(())
}

/// The first pass over the data: column summaries, after checking that values are finite, the
/// outcome is 0/1 with both outcomes present, and no covariate is constant.
pub fn check_columns(source: &dyn RowSource) -> Result<ColumnStats> {
    let names = source.names();
    let mut stats = ColumnStats::new(names.len());
    source.for_each_chunk(&mut |first_row, x, y, w| stats.add_rows(names, first_row, x, y, w))?;
    if stats.events == 0 || stats.events == stats.n {
        return Err(Error::OneOutcomeOnly {
            events: stats.events,
            n: stats.n,
        });
    }
    for (j, name) in names.iter().enumerate().skip(1) {
        if stats.min[j] == stats.max[j] {
            return Err(Error::ZeroVariance {
                column: name.clone(),
                value: stats.min[j],
            });
        }
    }
    Ok(stats)
}

/// Structural collinearity, told apart from separation: X'X (the information at b = 0, where
/// every weight is ¼) does not depend on the outcome, so a failure here is the design's fault.
fn check_rank(source: &dyn RowSource) -> Result<()> {
    let k = source.names().len();
    let sums = IrlsSums::from_source(source, &Array1::zeros(k))?;
    match cholesky_checked(&sums.information) {
        Ok(_) => Ok(()),
        Err(j) => Err(singular_error(&sums.information, j, source.names())),
    }
}

/// Newton/IRLS from `b` to convergence, on sums only. Returns the estimate, the sums at it and
/// the iterations done.
fn irls(
    source: &dyn RowSource,
    stats: &ColumnStats,
    mut b: Array1<f64>,
    opts: &FitOptions,
) -> Result<(Array1<f64>, IrlsSums, usize)> {
    let names = source.names();
    let mut sums = IrlsSums::from_source(source, &b)?;
    // Kept to tell which coefficient diverges when the fit separates.
    let mut history = vec![b.clone()];
    let mut last_step = Array1::<f64>::zeros(b.len());
    let mut last_change = f64::NAN;
    for iteration in 1..=opts.max_iterations {
        let l = match cholesky_checked(&sums.information) {
            Ok(l) => l,
            // The rank of X'X was checked before: the information can only lose rank here
            // because the weights p(1−p) vanished, i.e. the fitted probabilities hit 0 or 1.
            Err(_) if sums.boundary_rows > 0 => {
                return Err(separation_error(names, stats, &history, &sums, iteration));
            }
            Err(j) => return Err(singular_error(&sums.information, j, names)),
        };
        let step = solve_cholesky(&l, &sums.score)?;
        let deviance = -2.0 * sums.log_likelihood;
        // Step halving as in R's glm.fit: a full Newton step from a poor start can overshoot.
        let mut t = 1.0;
        let (new_b, new_sums) = loop {
            let candidate = &b + &(&step * t);
            let candidate_sums = IrlsSums::from_source(source, &candidate)?;
            let new_deviance = -2.0 * candidate_sums.log_likelihood;
            let no_worse = new_deviance <= deviance + 1e-12 * (deviance.abs() + 1.0);
            // Below 2⁻³⁰ of a Newton step the change is rounding noise: take it and let the
            // convergence test decide.
            if (new_deviance.is_finite() && no_worse) || t < 1e-9 {
                break (candidate, candidate_sums);
            }
            t /= 2.0;
        };
        let new_deviance = -2.0 * new_sums.log_likelihood;
        last_change = (new_deviance - deviance).abs() / (new_deviance.abs() + 0.1);
        last_step = &new_b - &b;
        b = new_b;
        sums = new_sums;
        history.push(b.clone());
        let max_step = last_step.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        if last_change < opts.deviance_tolerance && max_step < opts.coefficient_tolerance {
            return Ok((b, sums, iteration));
        }
    }
    if sums.boundary_rows > 0 {
        return Err(separation_error(
            names,
            stats,
            &history,
            &sums,
            opts.max_iterations,
        ));
    }
    let (j, max_step) = last_step
        .iter()
        .enumerate()
        .fold((0, 0.0_f64), |acc, (j, v)| {
            if v.abs() > acc.1 { (j, v.abs()) } else { acc }
        });
    Err(Error::NotConverged {
        iterations: opts.max_iterations,
        column: names[j].clone(),
        max_step,
        deviance_change: last_change,
    })
}

/// Names the covariate whose coefficient grew most over the last iterations, in standard
/// deviations of the covariate so that a per-unit coefficient (income in pounds) is not favoured.
fn separation_error(
    names: &[String],
    stats: &ColumnStats,
    history: &[Array1<f64>],
    sums: &IrlsSums,
    iterations: usize,
) -> Error {
    let sd = stats.std_dev();
    let last = &history[history.len() - 1];
    let earlier = &history[history.len().saturating_sub(6)];
    let growth = |j: usize| {
        (
            (last[j] - earlier[j]).abs() * sd[j],
            (last[j].abs() * sd[j]),
        )
    };
    let j = (1..names.len())
        .max_by(|&a, &c| {
            growth(a)
                .partial_cmp(&growth(c))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .unwrap_or(0);
    Error::Separation {
        column: names[j].clone(),
        boundary_rows: sums.boundary_rows,
        iterations,
    }
}

/// Cholesky factor L (lower) of `a`, or the index of the first column whose pivot failed or is
/// negligible relative to its diagonal entry.
pub(crate) fn cholesky_checked(a: &Array2<f64>) -> Result<Array2<f64>, usize> {
    let k = a.nrows();
    let tiny = |l: &Array2<f64>, j: usize| l[[j, j]] * l[[j, j]] <= PIVOT_TOLERANCE * a[[j, j]];
    if let Ok(l) = a.cholesky() {
        return match (0..k).find(|&j| tiny(&l, j)) {
            Some(j) => Err(j),
            None => Ok(l),
        };
    }
    // linfa-linalg does not say where it failed: grow the leading block until it does.
    for m in 1..=k {
        match a.slice(s![..m, ..m]).cholesky() {
            Ok(l) if !tiny(&l, m - 1) => continue,
            _ => return Err(m - 1),
        }
    }
    Err(k - 1)
}

/// The singular-matrix error for pivot `j`, with the earlier columns that column `j` is a
/// combination of: the coefficients c of a[..j, ..j] c = a[..j, j], kept where they matter on
/// the columns' scale.
fn singular_error(a: &Array2<f64>, j: usize, names: &[String]) -> Error {
    let mut collinear_with = Vec::new();
    if j > 0
        && let Ok(l) = cholesky_checked(&a.slice(s![..j, ..j]).to_owned())
        && let Ok(c) = solve_cholesky(&l, &a.slice(s![..j, j]).to_owned())
    {
        let scale_j = a[[j, j]].sqrt();
        for (i, ci) in c.iter().enumerate() {
            if ci.abs() * a[[i, i]].sqrt() > 1e-6 * scale_j {
                collinear_with.push(names[i].clone());
            }
        }
    }
    Error::Singular {
        column: names[j].clone(),
        collinear_with,
    }
}

/// Solves L L' x = r.
pub(crate) fn solve_cholesky(l: &Array2<f64>, r: &Array1<f64>) -> Result<Array1<f64>> {
    let mut rhs = r.clone().insert_axis(Axis(1));
    l.solve_triangular_inplace(&mut rhs, UPLO::Lower)
        .map_err(|e| Error::Internal(format!("triangular solve: {e}")))?;
    l.t()
        .solve_triangular_inplace(&mut rhs, UPLO::Upper)
        .map_err(|e| Error::Internal(format!("triangular solve: {e}")))?;
    Ok(rhs.index_axis_move(Axis(1), 0))
}

/// (L L')⁻¹ from the Cholesky factor.
fn inverse_from_cholesky(l: &Array2<f64>) -> Result<Array2<f64>> {
    let mut rhs = Array2::eye(l.nrows());
    l.solve_triangular_inplace(&mut rhs, UPLO::Lower)
        .map_err(|e| Error::Internal(format!("triangular solve: {e}")))?;
    l.t()
        .solve_triangular_inplace(&mut rhs, UPLO::Upper)
        .map_err(|e| Error::Internal(format!("triangular solve: {e}")))?;
    Ok(rhs)
}
