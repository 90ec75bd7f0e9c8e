//! Sufficient statistics accumulated over chunks of rows.
//!
//! Everything the fitter needs from the data is a sum over rows: column summaries once, and per
//! Newton/IRLS iteration X'WX, X'(y−p) and the log-likelihood. Keeping those as running sums that a
//! chunk of rows adds to is what lets a later stage fit from DataFusion record batches, one batch at
//! a time, without ever holding the dense design matrix.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::{Error, Result};

/// A linear predictor beyond this (probability within about 1e-13 of 0 or 1) counts as a fitted
/// probability of "numerically 0 or 1"; R's `glm.fit` warns at a similar point (10·ε).
pub(crate) const BOUNDARY_ETA: f64 = 30.0;

/// The callback a [`RowSource`] calls per chunk: `(first_row, x, y, w)`, where `w` is each
/// row's frequency, the cases it stands for (1 for a row per case; a frame of cells grouped by
/// outcome and covariates gives each cell its count, and the sums are those of the cases).
pub type ChunkFn<'f> = dyn FnMut(usize, ArrayView2<'_, f64>, ArrayView1<'_, f64>, ArrayView1<'_, f64>) -> Result<()>
    + 'f;

/// Where the rows of a design come from, chunk by chunk.
///
/// [`crate::Design`] implements it over an in-memory matrix; a record-batch reader can implement
/// it by converting each batch to a chunk. Chunks must come in the same order on every pass, so
/// that sums, and therefore results, are reproducible to the last bit.
pub trait RowSource {
    /// Design column names, the intercept first.
    fn names(&self) -> &[String];

    /// Calls `f(first_row, x, y, w)` for each chunk of rows in a fixed order, stopping at the first
    /// error. `first_row` is the 0-based index of the chunk's first row, for error messages.
    fn for_each_chunk(&self, f: &mut ChunkFn<'_>) -> Result<()>;
}

/// Per-column summaries from one pass: validates the data and gives each covariate's spread.
#[derive(Debug, Clone)]
pub struct ColumnStats {
    /// Cases seen (rows weighted by their frequency).
    pub n: usize,
    /// Cases with outcome 1.
    pub events: usize,
    /// Smallest value per column.
    pub min: Array1<f64>,
    /// Largest value per column.
    pub max: Array1<f64>,
    /// Sum per column of (value − the column's first value): shifted sums keep the variance
    /// accurate for columns with a large mean and small spread (years, scores).
    shifted_sum: Array1<f64>,
    shifted_sum_sq: Array1<f64>,
    shift: Option<Array1<f64>>,
}

impl ColumnStats {
    /// Empty summaries for `k` columns.
    pub fn new(k: usize) -> Self {
        Self {
            n: 0,
            events: 0,
            min: Array1::from_elem(k, f64::INFINITY),
            max: Array1::from_elem(k, f64::NEG_INFINITY),
            shifted_sum: Array1::zeros(k),
            shifted_sum_sq: Array1::zeros(k),
            shift: None,
        }
    }

    /// Adds a chunk of rows with their frequencies, rejecting non-finite covariates, outcomes
    /// other than 0/1 and frequencies that are not whole counts.
    pub fn add_rows(
        &mut self,
        names: &[String],
        first_row: usize,
        x: ArrayView2<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: ArrayView1<'_, f64>,
    ) -> Result<()> {
        for (i, ((row, &yi), &wi)) in x.outer_iter().zip(y.iter()).zip(w.iter()).enumerate() {
            let row_index = first_row + i;
            if !(wi >= 0.0 && wi.fract() == 0.0 && wi < 1e15) {
                return Err(Error::NonFinite {
                    column: "frequency".into(),
                    row: row_index,
                    value: wi,
                });
            }
            let cases = wi as usize;
            if yi == 1.0 {
                self.events += cases;
            } else if yi != 0.0 {
                return Err(Error::OutcomeNotBinary {
                    row: row_index,
                    value: yi,
                });
            }
            if let Some((j, &v)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(Error::NonFinite {
                    column: names.get(j).cloned().unwrap_or_default(),
                    row: row_index,
                    value: v,
                });
            }
            let shift = self.shift.get_or_insert_with(|| row.to_owned());
            for j in 0..row.len() {
                let v = row[j];
                self.min[j] = self.min[j].min(v);
                self.max[j] = self.max[j].max(v);
                let d = v - shift[j];
                self.shifted_sum[j] += wi * d;
                self.shifted_sum_sq[j] += wi * d * d;
            }
            self.n += cases;
        }
        Ok(())
    }

    /// Sample standard deviation of each column (0 for a constant column).
    pub fn std_dev(&self) -> Array1<f64> {
        let n = self.n as f64;
        if self.n < 2 {
            return Array1::zeros(self.min.len());
        }
        let mean_shift = &self.shifted_sum / n;
        let ss = &self.shifted_sum_sq - &(&mean_shift * &self.shifted_sum);
        ss.mapv(|v| (v.max(0.0) / (n - 1.0)).sqrt())
    }
}

/// The sums for one Newton/IRLS iteration at fixed coefficients `b`.
#[derive(Debug, Clone)]
pub struct IrlsSums {
    /// X'WX with W = diag(p(1−p)): the Fisher information.
    pub information: Array2<f64>,
    /// X'(y − p): the score (gradient of the log-likelihood).
    pub score: Array1<f64>,
    /// Σ y·η − log(1 + e^η).
    pub log_likelihood: f64,
    /// Cases added (rows weighted by their frequency).
    pub n: usize,
    /// Cases whose fitted probability is numerically 0 or 1 (|η| > 30), the mark of separation.
    pub boundary_rows: usize,
}

impl IrlsSums {
    /// Zero sums for `k` coefficients.
    pub fn new(k: usize) -> Self {
        Self {
            information: Array2::zeros((k, k)),
            score: Array1::zeros(k),
            log_likelihood: 0.0,
            n: 0,
            boundary_rows: 0,
        }
    }

    /// Adds a chunk of rows with their frequencies `w`, evaluated at coefficients `b`.
    pub fn add_rows(
        &mut self,
        x: ArrayView2<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: ArrayView1<'_, f64>,
        b: ArrayView1<'_, f64>,
    ) {
        let eta = x.dot(&b);
        let mut residual = Array1::zeros(eta.len());
        let mut weight = Array1::zeros(eta.len());
        for (i, ((&e, &yi), &wi)) in eta.iter().zip(y.iter()).zip(w.iter()).enumerate() {
            // log(1 + e^η) and p written so that neither overflows for large |η|.
            let softplus = e.max(0.0) + (-e.abs()).exp().ln_1p();
            self.log_likelihood += wi * (yi * e - softplus);
            let p = if e >= 0.0 {
                1.0 / (1.0 + (-e).exp())
            } else {
                let z = e.exp();
                z / (1.0 + z)
            };
            residual[i] = wi * (yi - p);
            weight[i] = wi * p * (1.0 - p);
            if e.abs() > BOUNDARY_ETA {
                self.boundary_rows += wi as usize;
            }
        }
        self.score += &x.t().dot(&residual);
        let weighted = &x * &weight.insert_axis(Axis(1));
        self.information += &x.t().dot(&weighted);
        self.n += w.iter().sum::<f64>() as usize;
    }

    /// Adds sums computed elsewhere (another partition of the rows).
    pub fn merge(&mut self, other: &IrlsSums) {
        self.information += &other.information;
        self.score += &other.score;
        self.log_likelihood += other.log_likelihood;
        self.n += other.n;
        self.boundary_rows += other.boundary_rows;
    }

    /// One pass over `source` at coefficients `b`.
    pub fn from_source(source: &dyn RowSource, b: &Array1<f64>) -> Result<Self> {
        let mut sums = Self::new(b.len());
        source.for_each_chunk(&mut |_, x, y, w| {
            sums.add_rows(x, y, w, b.view());
            Ok(())
        })?;
        Ok(sums)
    }
}
