//! Joint Wald tests: is a multi-level factor (cohort, age band, qualification) as a whole
//! associated with the outcome? SPSS prints this on the factor's own row of "Variables in the
//! Equation"; R gives it with `aod::wald.test` or `car::Anova(test = "Wald")`.

use ndarray::{Array1, Array2};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::fit::{Fit, cholesky_checked, solve_cholesky};
use crate::{Error, Result};

/// The joint Wald test of some coefficients being all zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaldTest {
    /// χ² = bᵀ V⁻¹ b over the tested coefficients.
    pub chi2: f64,
    /// Degrees of freedom: the number of coefficients tested (levels − 1 for a factor).
    pub df: usize,
    /// Upper-tail p-value of χ²(df).
    pub p: f64,
}

/// Tests that the coefficients at `columns` (design order) are jointly zero, from the fit's
/// estimates and covariance matrix.
pub fn joint_wald(fit: &Fit, columns: &[usize]) -> Result<WaldTest> {
    let k = fit.coefficients.len();
    if columns.is_empty() {
        return Err(Error::Internal(
            "a joint Wald test of no coefficients".into(),
        ));
    }
    if let Some(&j) = columns.iter().find(|&&j| j >= k) {
        return Err(Error::Internal(format!(
            "joint Wald test of coefficient {j} in a model of {k}"
        )));
    }
    let m = columns.len();
    let b: Array1<f64> = columns.iter().map(|&j| fit.coefficients[j].b).collect();
    let v = Array2::from_shape_fn((m, m), |(r, c)| fit.covariance[[columns[r], columns[c]]]);
    // V is a principal block of the inverse of a positive definite matrix, so it is positive
    // definite itself: a failure here is a bug, not the data.
    let l = cholesky_checked(&v).map_err(|j| {
        Error::Internal(format!(
            "the covariance block of `{}` is not positive definite",
            fit.coefficients[columns[j]].name
        ))
    })?;
    let chi2 = b.dot(&solve_cholesky(&l, &b)?);
    let dist =
        ChiSquared::new(m as f64).map_err(|e| Error::Internal(format!("chi-square({m}): {e}")))?;
    Ok(WaldTest {
        chi2,
        df: m,
        p: dist.sf(chi2),
    })
}
