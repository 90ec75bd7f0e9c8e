//! A model's output tables, as Parquet (full precision) and CSV (the transform's fixed float
//! format), byte-identical for the same input.
//!
//! `<run>/tables/models/<id>/`:
//! - `coefficients`: one row per term (the constant, each multi-level factor's joint Wald test,
//!   each non-reference level) with B, SE, Wald, df, p, odds ratio and its 95% CI; no rows when
//!   the model could not be fitted;
//! - `summary`: one row: status (`fitted` / `not fitted`) and, if not fitted, the message naming
//!   the covariate (for the analyst: it may quote counts), its `cause` (`data`: this extract
//!   cannot support the model; `specification`: the spec does not match the study) and its
//!   `reason` in words without counts (for the published report, whose counts go through
//!   disclosure control); N, events, −2LL, LR χ², df and p, Cox & Snell and Nagelkerke R², AIC,
//!   iterations, converged;
//! - `steps`: the N after every population and exclusion step and after listwise deletion.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};

use crate::model::ModelRun;
use crate::{Error, Result};

/// Status of a fitted model in the summary table.
pub const FITTED: &str = "fitted";
/// Status of a model that could not be fitted.
pub const NOT_FITTED: &str = "not fitted";
/// `cause` of a model this extract's data cannot support.
pub const CAUSE_DATA: &str = "data";
/// `cause` of a model whose spec does not match the study or the tables.
pub const CAUSE_SPECIFICATION: &str = "specification";

/// Writes the three tables of `run` into `dir`; returns the files written.
pub(crate) fn write_model(dir: &Path, run: &ModelRun) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for (name, batch) in [
        ("coefficients", coefficients(run)?),
        ("summary", summary(run)?),
        ("steps", steps(run)?),
    ] {
        let parquet = dir.join(format!("{name}.parquet"));
        let csv = dir.join(format!("{name}.csv"));
        write_parquet(&parquet, &batch)?;
        write_csv(&csv, &batch)?;
        files.push(parquet);
        files.push(csv);
    }
    Ok(files)
}

fn text(values: Vec<Option<String>>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

fn float(values: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(values))
}

fn int(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from(values))
}

/// Nullability is declared, not inferred from the data, so a table has the same schema
/// whether or not its model fitted.
fn batch(columns: Vec<(&str, ArrayRef, bool)>) -> Result<RecordBatch> {
    RecordBatch::try_from_iter_with_nullable(columns)
        .map_err(|e| Error::Internal(format!("building a model table: {e}")))
}

fn coefficients(run: &ModelRun) -> Result<RecordBatch> {
    let rows = run.result.as_ref().map(|m| m.rows()).unwrap_or_default();
    let id = || text(rows.iter().map(|_| Some(run.spec.id.clone())).collect());
    let s =
        |f: &dyn Fn(&crate::CoefficientRow) -> Option<String>| text(rows.iter().map(f).collect());
    let x = |f: &dyn Fn(&crate::CoefficientRow) -> Option<f64>| float(rows.iter().map(f).collect());
    batch(vec![
        ("model_id", id(), false),
        (
            "term_order",
            int((1..=rows.len() as i64).map(Some).collect()),
            false,
        ),
        ("kind", s(&|r| Some(r.kind.as_str().to_string())), false),
        ("term", s(&|r| Some(r.term.clone())), false),
        ("factor", s(&|r| r.factor.clone()), true),
        ("factor_label", s(&|r| r.factor_label.clone()), true),
        ("level", s(&|r| r.level.clone()), true),
        ("reference_level", s(&|r| r.reference_level.clone()), true),
        ("b", x(&|r| r.b), true),
        ("se", x(&|r| r.se), true),
        ("wald", x(&|r| Some(r.wald)), false),
        (
            "df",
            int(rows.iter().map(|r| Some(r.df as i64)).collect()),
            false,
        ),
        ("p", x(&|r| Some(r.p)), false),
        ("odds_ratio", x(&|r| r.odds_ratio), true),
        ("ci_lower", x(&|r| r.ci_lower), true),
        ("ci_upper", x(&|r| r.ci_upper), true),
    ])
}

fn summary(run: &ModelRun) -> Result<RecordBatch> {
    let spec = &run.spec;
    let fit = run.result.as_ref().ok().map(|m| &m.fit);
    let (status, message, cause, reason) = match &run.result {
        Ok(_) => (FITTED, None, None, None),
        Err(e) => (
            NOT_FITTED,
            Some(e.to_string()),
            Some(if e.is_data_problem() {
                CAUSE_DATA
            } else {
                CAUSE_SPECIFICATION
            }),
            e.reason(&|name| {
                spec.covariates
                    .iter()
                    .find(|c| c.name == name)
                    .map_or_else(|| name.to_string(), |c| c.label.to_lowercase())
            }),
        ),
    };
    let one = |v: Option<String>| text(vec![v]);
    let num = |f: &dyn Fn(&crate::Fit) -> f64| float(vec![fit.map(f)]);
    batch(vec![
        ("model_id", one(Some(spec.id.clone())), false),
        ("title", one(Some(spec.title.clone())), false),
        ("published_table", one(Some(spec.table.clone())), false),
        ("outcome", one(Some(spec.outcome.clone())), false),
        ("status", one(Some(status.to_string())), false),
        ("message", one(message), true),
        ("cause", one(cause.map(str::to_string)), true),
        ("reason", one(reason), true),
        ("n", int(vec![Some(run.n() as i64)]), false),
        ("events", int(vec![Some(run.events as i64)]), false),
        (
            "parameters",
            int(vec![fit.map(|f| f.coefficients.len() as i64)]),
            true,
        ),
        ("minus_2ll", num(&|f| f.minus_2ll), true),
        ("null_minus_2ll", num(&|f| f.null_minus_2ll), true),
        ("lr_chi2", num(&|f| f.lr_chi2), true),
        ("lr_df", int(vec![fit.map(|f| f.lr_df as i64)]), true),
        ("lr_p", float(vec![fit.and_then(|f| f.lr_p)]), true),
        ("cox_snell_r2", num(&|f| f.cox_snell_r2), true),
        ("nagelkerke_r2", num(&|f| f.nagelkerke_r2), true),
        ("aic", num(&|f| f.aic), true),
        (
            "iterations",
            int(vec![fit.map(|f| f.iterations as i64)]),
            true,
        ),
        (
            "converged",
            Arc::new(BooleanArray::from(vec![fit.is_some_and(|f| f.converged)])),
            false,
        ),
    ])
}

fn steps(run: &ModelRun) -> Result<RecordBatch> {
    let steps = &run.steps;
    batch(vec![
        (
            "model_id",
            text(steps.iter().map(|_| Some(run.spec.id.clone())).collect()),
            false,
        ),
        (
            "step",
            int((1..=steps.len() as i64).map(Some).collect()),
            false,
        ),
        (
            "kind",
            text(
                steps
                    .iter()
                    .map(|s| Some(s.kind.as_str().to_string()))
                    .collect(),
            ),
            false,
        ),
        (
            "label",
            text(steps.iter().map(|s| Some(s.label.clone())).collect()),
            false,
        ),
        (
            "n",
            int(steps.iter().map(|s| Some(s.n as i64)).collect()),
            false,
        ),
        (
            "removed",
            int(steps
                .iter()
                .enumerate()
                .map(|(i, s)| (i > 0).then(|| steps[i - 1].n as i64 - s.n as i64))
                .collect()),
            true,
        ),
    ])
}

/// Parquet and CSV exactly as the transform writes its tables (one writer for every stage, so
/// the formats cannot drift apart).
fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<()> {
    evalpipe_transform::write_parquet(path, &batch.schema(), std::slice::from_ref(batch)).map_err(
        |e| Error::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
    )
}

fn write_csv(path: &Path, batch: &RecordBatch) -> Result<()> {
    evalpipe_transform::write_csv(path, &batch.schema(), std::slice::from_ref(batch)).map_err(|e| {
        Error::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    })
}
