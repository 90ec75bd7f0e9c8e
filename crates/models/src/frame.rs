//! A model's frame as record batches, and its design matrix made a chunk at a time.
//!
//! After the population, exclusions and listwise deletion, a frame is the cases as rows of the
//! outcome and, per categorical covariate, the index of the case's level — one row per case, or
//! one per cell of cases alike in outcome and every covariate with its count (`frequency`).
//! With categorical covariates only, those counts are sufficient statistics of a logistic model:
//! the run's frames are cells, so ten million cases are a few thousand rows. That is all that
//! is kept (a `u16` per covariate, a bit for the outcome and a count, in Arrow record batches);
//! the 0/1 dummy columns the fitter needs are written into one reusable chunk of rows on each
//! pass, so a large frame never becomes a dense matrix.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, UInt16Type};
use ndarray::{Array1, Array2, s};

use crate::sums::{ChunkFn, RowSource};
use crate::{Error, Result};

/// Rows per chunk handed to the fitter, whatever the record batches' sizes: the sums (and so
/// the results, to the last bit) depend on the chunking, so it must not depend on how the query
/// engine happened to cut its batches.
pub const FRAME_CHUNK_ROWS: usize = 8192;

/// Name of the intercept's design column.
pub const CONSTANT: &str = "const";

/// A categorical covariate and its levels, as the frame codes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factor {
    /// Covariate name (term prefix).
    pub name: String,
    /// Heading for the report.
    pub label: String,
    /// The characteristic it comes from.
    pub characteristic: String,
    /// Levels in the characteristic's category order.
    pub levels: Vec<String>,
    /// Index in `levels` of the reference level, which gets no dummy.
    pub reference: usize,
}

impl Factor {
    /// The design column name of a level's dummy: `age_band[35–44]`.
    pub fn term(&self, level: &str) -> String {
        format!("{}[{level}]", self.name)
    }

    /// The reference level.
    pub fn reference_level(&self) -> &str {
        &self.levels[self.reference]
    }
}

/// A frame of cases as a [`RowSource`]: record batches with the outcome (Boolean, first column),
/// one `UInt16` column of level indices per factor and, optionally, an `Int64` count of the cases
/// each row stands for (last column; 1 each without it), dummy-coded against each factor's
/// reference level chunk by chunk.
#[derive(Debug, Clone)]
pub struct FrameSource {
    names: Vec<String>,
    factors: Vec<Factor>,
    /// Design column of each factor's levels; `None` for the reference.
    columns: Vec<Vec<Option<usize>>>,
    batches: Vec<RecordBatch>,
    rows: usize,
    events: usize,
    level_counts: Vec<Vec<usize>>,
}

impl FrameSource {
    /// A frame from `batches` whose columns are the outcome (Boolean, no nulls), then one
    /// `UInt16` level index per factor, in `factors`' order, and optionally the rows' case counts
    /// (`Int64`, no nulls, none negative).
    pub fn new(factors: Vec<Factor>, batches: Vec<RecordBatch>) -> Result<Self> {
        let mut names = vec![CONSTANT.to_string()];
        let mut columns = Vec::new();
        for f in &factors {
            if f.levels.is_empty() || f.reference >= f.levels.len() {
                return Err(Error::Internal(format!(
                    "factor `{}` has {} levels and reference {}",
                    f.name,
                    f.levels.len(),
                    f.reference
                )));
            }
            if f.levels.len() > usize::from(u16::MAX) {
                return Err(Error::Internal(format!(
                    "factor `{}` has more levels than a u16 holds",
                    f.name
                )));
            }
            let mut cols = Vec::new();
            for (i, level) in f.levels.iter().enumerate() {
                if i == f.reference {
                    cols.push(None);
                } else {
                    cols.push(Some(names.len()));
                    names.push(f.term(level));
                }
            }
            columns.push(cols);
        }
        let mut level_counts: Vec<Vec<usize>> =
            factors.iter().map(|f| vec![0; f.levels.len()]).collect();
        let mut rows = 0;
        let mut events = 0;
        for batch in &batches {
            check_batch(batch, &factors)?;
            let y = batch.column(0).as_boolean();
            let counts = frequencies(batch, factors.len());
            for (row, &n) in counts.iter().enumerate() {
                rows += n;
                if y.value(row) {
                    events += n;
                }
            }
            for (j, f) in factors.iter().enumerate() {
                let codes = batch.column(j + 1).as_primitive::<UInt16Type>().values();
                for (&code, &n) in codes.iter().zip(&counts) {
                    let code = usize::from(code);
                    if code >= f.levels.len() {
                        return Err(Error::Internal(format!(
                            "factor `{}`: level index {code} of {}",
                            f.name,
                            f.levels.len()
                        )));
                    }
                    level_counts[j][code] += n;
                }
            }
        }
        Ok(FrameSource {
            names,
            factors,
            columns,
            batches,
            rows,
            events,
            level_counts,
        })
    }

    /// The factors, in design order.
    pub fn factors(&self) -> &[Factor] {
        &self.factors
    }

    /// Cases in the frame.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Cases with the event.
    pub fn events(&self) -> usize {
        self.events
    }

    /// Cases per level of each factor.
    pub fn level_counts(&self) -> &[Vec<usize>] {
        &self.level_counts
    }

    /// Design columns of factor `j`'s dummies, in level order (the reference has none).
    pub fn factor_columns(&self, j: usize) -> Vec<usize> {
        self.columns[j].iter().flatten().copied().collect()
    }

    /// Fails on the first level (in factor and level order) without cases, the reference
    /// included: its dummy would be all zeros, or every other level's would be unidentified.
    pub fn check_levels(&self) -> Result<()> {
        for (f, counts) in self.factors.iter().zip(&self.level_counts) {
            if let Some(i) = counts.iter().position(|&c| c == 0) {
                return Err(Error::EmptyLevel {
                    covariate: f.name.clone(),
                    level: f.levels[i].clone(),
                    reference: i == f.reference,
                });
            }
        }
        Ok(())
    }
}

/// The cases each row of a checked batch stands for.
fn frequencies(batch: &RecordBatch, factors: usize) -> Vec<usize> {
    if batch.num_columns() == factors + 2 {
        let counts = batch.column(factors + 1).as_primitive::<Int64Type>();
        counts.values().iter().map(|&n| n.max(0) as usize).collect()
    } else {
        vec![1; batch.num_rows()]
    }
}

fn check_batch(batch: &RecordBatch, factors: &[Factor]) -> Result<()> {
    let bad = |what: String| Err(Error::Internal(format!("frame batch: {what}")));
    let counted = batch.num_columns() == factors.len() + 2;
    if batch.num_columns() != factors.len() + 1 && !counted {
        return bad(format!(
            "{} columns for {} factors, the outcome and the counts",
            batch.num_columns(),
            factors.len()
        ));
    }
    for (j, column) in batch.columns().iter().enumerate() {
        let want = if j == 0 {
            DataType::Boolean
        } else if j == factors.len() + 1 {
            DataType::Int64
        } else {
            DataType::UInt16
        };
        if column.data_type() != &want {
            return bad(format!("column {j} is {}, not {want}", column.data_type()));
        }
        if j == factors.len() + 1
            && column
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .any(|&n| n < 0)
        {
            return bad(format!("column {j} has a negative count"));
        }
        if column.null_count() > 0 {
            return bad(format!(
                "column {j} has nulls (listwise deletion comes first)"
            ));
        }
    }
    Ok(())
}

impl RowSource for FrameSource {
    fn names(&self) -> &[String] {
        &self.names
    }

    fn for_each_chunk(&self, f: &mut ChunkFn<'_>) -> Result<()> {
        let k = self.names.len();
        let frame_rows: usize = self.batches.iter().map(RecordBatch::num_rows).sum();
        let chunk = FRAME_CHUNK_ROWS.min(frame_rows.max(1));
        let mut x = Array2::<f64>::zeros((chunk, k));
        let mut y = Array1::<f64>::zeros(chunk);
        let mut w = Array1::<f64>::zeros(chunk);
        let mut filled = 0;
        let mut first_row = 0;
        for batch in &self.batches {
            let outcome = batch.column(0).as_boolean();
            let counts = frequencies(batch, self.factors.len());
            let codes: Vec<&[u16]> = (0..self.factors.len())
                .map(|j| {
                    batch
                        .column(j + 1)
                        .as_primitive::<UInt16Type>()
                        .values()
                        .as_ref()
                })
                .collect();
            for row in 0..batch.num_rows() {
                let mut x_row = x.row_mut(filled);
                x_row.fill(0.0);
                x_row[0] = 1.0;
                for (j, c) in codes.iter().enumerate() {
                    if let Some(col) = self.columns[j][usize::from(c[row])] {
                        x_row[col] = 1.0;
                    }
                }
                y[filled] = if outcome.value(row) { 1.0 } else { 0.0 };
                w[filled] = counts[row] as f64;
                filled += 1;
                if filled == chunk {
                    f(first_row, x.view(), y.view(), w.view())?;
                    first_row += filled;
                    filled = 0;
                }
            }
        }
        if filled > 0 {
            f(
                first_row,
                x.slice(s![..filled, ..]),
                y.slice(s![..filled]),
                w.slice(s![..filled]),
            )?;
        }
        Ok(())
    }
}
