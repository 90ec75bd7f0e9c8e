//! `diff`: what changed between two runs — every output table and model table cell by cell,
//! keyed by its label columns, with the changes in N, odds-ratio significance and check status
//! called out first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::check::{Status, check};
use crate::register::Register;
use crate::table::Table;
use crate::{Error, Result};

/// The significance level a flip is judged at.
pub const ALPHA: f64 = 0.05;

/// What to hide.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DiffOptions {
    /// Hide numeric changes smaller than this in absolute size.
    pub min_abs: f64,
    /// Hide numeric changes smaller than this relative to the old value (0.01 = 1%).
    pub min_rel: f64,
}

/// One changed cell.
#[derive(Debug, Clone, Serialize)]
pub struct CellChange {
    /// The row's key, as `column = value` pairs.
    pub key: String,
    /// The column.
    pub column: String,
    /// Old text (absent = null).
    pub old: Option<String>,
    /// New text.
    pub new: Option<String>,
    /// new − old, for numbers.
    pub abs: Option<f64>,
    /// (new − old) / |old|, for numbers with a non-zero old value.
    pub rel: Option<f64>,
}

/// One table's differences.
#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
    /// Table name (`models/<id>/coefficients` for model tables).
    pub table: String,
    /// Present only in run A (`a`) or B (`b`).
    pub only_in: Option<String>,
    /// Columns added or removed.
    pub columns_changed: Option<String>,
    /// The key columns rows were matched by (empty: matched by position, as the labels were
    /// not unique).
    pub key_columns: Vec<String>,
    /// Keys of rows only in B.
    pub added: Vec<String>,
    /// Keys of rows only in A.
    pub removed: Vec<String>,
    /// Changed cells above the thresholds.
    pub changed: Vec<CellChange>,
    /// Changed cells hidden by the thresholds.
    pub hidden: usize,
}

impl TableDiff {
    /// Whether anything changed beyond the thresholds.
    pub fn any(&self) -> bool {
        self.only_in.is_some()
            || self.columns_changed.is_some()
            || !self.added.is_empty()
            || !self.removed.is_empty()
            || !self.changed.is_empty()
    }
}

/// A model term whose significance at [`ALPHA`] differs between the runs.
#[derive(Debug, Clone, Serialize)]
pub struct SignificanceFlip {
    /// Model id.
    pub model: String,
    /// Term key.
    pub term: String,
    /// p in A and B.
    pub p: (Option<f64>, Option<f64>),
    /// Odds ratio in A and B.
    pub odds_ratio: (Option<f64>, Option<f64>),
}

/// A register figure whose check status differs between the runs.
#[derive(Debug, Clone, Serialize)]
pub struct StatusChange {
    /// Register id.
    pub id: String,
    /// Status in A and B.
    pub status: (Status, Status),
    /// Reproduced value in A and B.
    pub reproduced: (Option<String>, Option<String>),
}

/// Two runs compared.
#[derive(Debug, Clone, Serialize)]
pub struct RunDiff {
    /// Run A (old).
    pub a: PathBuf,
    /// Run B (new).
    pub b: PathBuf,
    /// Whether either was built from the synthetic twin.
    pub synthetic: bool,
    /// The thresholds used.
    pub min_abs: f64,
    /// See [`DiffOptions::min_rel`].
    pub min_rel: f64,
    /// Every table with a change (tables without one are left out).
    pub tables: Vec<TableDiff>,
    /// Tables compared.
    pub tables_compared: usize,
    /// Changes in a table's N (`n` columns), collected from `tables`.
    pub n_changes: Vec<(String, CellChange)>,
    /// Model terms crossing p = 0.05.
    pub significance_flips: Vec<SignificanceFlip>,
    /// Register figures whose check status changed (empty without a register).
    pub status_changes: Vec<StatusChange>,
}

impl RunDiff {
    /// Whether anything changed beyond the thresholds.
    pub fn any(&self) -> bool {
        self.tables.iter().any(TableDiff::any)
            || !self.significance_flips.is_empty()
            || !self.status_changes.is_empty()
    }
}

/// Text columns that are values, not labels: they must not key a row.
const VALUE_TEXT_COLUMNS: [&str; 3] = ["status", "message", "converged"];

/// The tables a diff compares: the catalogue's output tables and every model table.
fn compared_tables(run: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Ok(catalog) = Table::read(&run.join("tables/catalog.parquet"))
        && let (Some(t), Some(k)) = (catalog.column("table"), catalog.column("kind"))
    {
        for r in 0..catalog.rows() {
            if catalog.text[k][r].as_deref() == Some("output")
                && let Some(name) = &catalog.text[t][r]
            {
                out.insert(name.clone());
            }
        }
    }
    let models = run.join("tables/models");
    if let Ok(entries) = std::fs::read_dir(&models) {
        for model in entries.flatten() {
            if let Ok(files) = std::fs::read_dir(model.path()) {
                for f in files.flatten() {
                    let p = f.path();
                    if p.extension().is_some_and(|e| e == "parquet") {
                        let stem = p.file_stem().map(|s| s.to_string_lossy().to_string());
                        let id = model.file_name().to_string_lossy().to_string();
                        if let Some(stem) = stem {
                            out.insert(format!("models/{id}/{stem}"));
                        }
                    }
                }
            }
        }
    }
    out
}

/// Compares run `b` with run `a`. With a register, also compares their check statuses.
pub fn diff(
    a: &Path,
    b: &Path,
    register: Option<&Register>,
    opts: &DiffOptions,
) -> Result<RunDiff> {
    for run in [a, b] {
        if !run.join("tables").is_dir() {
            return Err(Error::Run {
                path: run.to_path_buf(),
                message: "not a run folder (no tables/)".into(),
            });
        }
    }
    let in_a = compared_tables(a);
    let in_b = compared_tables(b);
    let mut tables = Vec::new();
    let mut flips = Vec::new();
    let all: BTreeSet<&String> = in_a.union(&in_b).collect();
    for name in &all {
        let path = |run: &Path| run.join("tables").join(format!("{name}.parquet"));
        let diff = match (in_a.contains(*name), in_b.contains(*name)) {
            (true, false) | (false, true) => TableDiff {
                table: name.to_string(),
                only_in: Some(if in_a.contains(*name) { "a" } else { "b" }.into()),
                columns_changed: None,
                key_columns: Vec::new(),
                added: Vec::new(),
                removed: Vec::new(),
                changed: Vec::new(),
                hidden: 0,
            },
            _ => {
                let ta = Table::read(&path(a)).map_err(|message| Error::Run {
                    path: path(a),
                    message,
                })?;
                let tb = Table::read(&path(b)).map_err(|message| Error::Run {
                    path: path(b),
                    message,
                })?;
                if name.ends_with("/coefficients") {
                    flips.extend(significance_flips(name, &ta, &tb));
                }
                table_diff(name, &ta, &tb, opts)
            }
        };
        if diff.any() || diff.hidden > 0 {
            tables.push(diff);
        }
    }
    let n_changes = tables
        .iter()
        .flat_map(|t| {
            t.changed
                .iter()
                .filter(|c| c.column == "n")
                .map(|c| (t.table.clone(), c.clone()))
        })
        .collect();
    let status_changes = match register {
        Some(register) => {
            let ca = check(a, register)?;
            let cb = check(b, register)?;
            let before: BTreeMap<&str, _> = ca.figures.iter().map(|f| (f.id.as_str(), f)).collect();
            cb.figures
                .iter()
                .filter_map(|f| {
                    let old = before.get(f.id.as_str())?;
                    (old.status != f.status).then(|| StatusChange {
                        id: f.id.clone(),
                        status: (old.status, f.status),
                        reproduced: (old.reproduced.clone(), f.reproduced.clone()),
                    })
                })
                .collect()
        }
        None => Vec::new(),
    };
    Ok(RunDiff {
        a: a.to_path_buf(),
        b: b.to_path_buf(),
        synthetic: crate::check::read_synthetic(a) || crate::check::read_synthetic(b),
        min_abs: opts.min_abs,
        min_rel: opts.min_rel,
        tables_compared: all.len(),
        tables,
        n_changes,
        significance_flips: flips,
        status_changes,
    })
}

/// Key columns: text and date columns (labels, codes, months) and integer `*_order` columns;
/// every other column — numbers, flags — is a value.
fn key_columns(t: &Table) -> Vec<usize> {
    (0..t.columns.len())
        .filter(|&j| {
            let name = t.columns[j].as_str();
            if VALUE_TEXT_COLUMNS.contains(&name) {
                return false;
            }
            !(t.numeric[j] || t.flag[j]) || name.ends_with("_order")
        })
        .collect()
}

fn row_key(t: &Table, keys: &[usize], r: usize) -> String {
    keys.iter()
        .map(|&j| {
            format!(
                "{} = {}",
                t.columns[j],
                t.text[j][r].as_deref().unwrap_or("∅")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows by key; `None` when two rows share a key (then rows pair by position).
fn index(t: &Table, keys: &[usize]) -> Option<BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
    for r in 0..t.rows() {
        if out.insert(row_key(t, keys, r), r).is_some() {
            return None;
        }
    }
    Some(out)
}

fn table_diff(name: &str, a: &Table, b: &Table, opts: &DiffOptions) -> TableDiff {
    let mut out = TableDiff {
        table: name.to_string(),
        only_in: None,
        columns_changed: None,
        key_columns: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        hidden: 0,
    };
    if a.columns != b.columns {
        let gone: Vec<&String> = a
            .columns
            .iter()
            .filter(|c| !b.columns.contains(c))
            .collect();
        let new: Vec<&String> = b
            .columns
            .iter()
            .filter(|c| !a.columns.contains(c))
            .collect();
        out.columns_changed = Some(format!("removed {gone:?}, added {new:?}"));
    }
    let keys_a = key_columns(a);
    let keys_b: Vec<usize> = keys_a
        .iter()
        .filter_map(|&j| b.column(&a.columns[j]))
        .collect();
    let (pairs, keyed) = match (index(a, &keys_a), index(b, &keys_b)) {
        (Some(ia), Some(ib)) if keys_b.len() == keys_a.len() => {
            out.key_columns = keys_a.iter().map(|&j| a.columns[j].clone()).collect();
            for k in ib.keys().filter(|k| !ia.contains_key(*k)) {
                out.added.push(k.clone());
            }
            for k in ia.keys().filter(|k| !ib.contains_key(*k)) {
                out.removed.push(k.clone());
            }
            // In A's row order, so the report reads like the table.
            let mut pairs: Vec<(String, usize, usize)> = ia
                .iter()
                .filter_map(|(k, &ra)| ib.get(k).map(|&rb| (k.clone(), ra, rb)))
                .collect();
            pairs.sort_by_key(|p| p.1);
            (pairs, true)
        }
        _ => {
            let common = a.rows().min(b.rows());
            for r in common..b.rows() {
                out.added.push(format!("row {}", r + 1));
            }
            for r in common..a.rows() {
                out.removed.push(format!("row {}", r + 1));
            }
            let pairs = (0..common)
                .map(|r| (format!("row {}", r + 1), r, r))
                .collect();
            (pairs, false)
        }
    };
    for (key, ra, rb) in pairs {
        for (ja, column) in a.columns.iter().enumerate() {
            if keyed && keys_a.contains(&ja) {
                continue;
            }
            let Some(jb) = b.column(column) else { continue };
            let (old, new) = (&a.text[ja][ra], &b.text[jb][rb]);
            let (xa, xb) = (a.numbers[ja][ra], b.numbers[jb][rb]);
            let same = match (xa, xb) {
                (Some(x), Some(y)) => x == y,
                _ => old == new,
            };
            if same {
                continue;
            }
            let (abs, rel) = match (xa, xb) {
                (Some(x), Some(y)) => (Some(y - x), (x != 0.0).then(|| (y - x) / x.abs())),
                _ => (None, None),
            };
            let small = abs.is_some_and(|d| d.abs() < opts.min_abs)
                || rel.is_some_and(|r| r.abs() < opts.min_rel);
            if small {
                out.hidden += 1;
                continue;
            }
            out.changed.push(CellChange {
                key: key.clone(),
                column: column.clone(),
                old: old.clone(),
                new: new.clone(),
                abs,
                rel,
            });
        }
    }
    out
}

/// Terms of a coefficients table whose p falls on the other side of [`ALPHA`].
fn significance_flips(name: &str, a: &Table, b: &Table) -> Vec<SignificanceFlip> {
    let model = name
        .trim_start_matches("models/")
        .trim_end_matches("/coefficients")
        .to_string();
    let (Some(pa), Some(pb)) = (a.column("p"), b.column("p")) else {
        return Vec::new();
    };
    let keys_a = key_columns(a);
    let keys_b: Vec<usize> = keys_a
        .iter()
        .filter_map(|&j| b.column(&a.columns[j]))
        .collect();
    let (Some(ia), Some(ib)) = (index(a, &keys_a), index(b, &keys_b)) else {
        return Vec::new();
    };
    let or = |t: &Table, r: usize| t.column("odds_ratio").and_then(|j| t.numbers[j][r]);
    let mut out = Vec::new();
    for (key, &ra) in &ia {
        let Some(&rb) = ib.get(key) else { continue };
        let (old, new) = (a.numbers[pa][ra], b.numbers[pb][rb]);
        let significant = |p: Option<f64>| p.is_some_and(|p| p < ALPHA);
        if significant(old) != significant(new) {
            out.push(SignificanceFlip {
                model: model.clone(),
                term: key.clone(),
                p: (old, new),
                odds_ratio: (or(a, ra), or(b, rb)),
            });
        }
    }
    out
}
