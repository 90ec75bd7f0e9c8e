//! `diff`: what changed between two runs — every output table, model table and Framework table
//! cell by cell, keyed by its label columns, with the changes in N, odds-ratio significance,
//! Framework coverage and check status called out first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use evalpipe_study::{FRAMEWORK_OUTPUT as FRAMEWORK_DIR, RunLayout};
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
    /// What changed in the Framework stage's coverage of the interviews; `None` unless both
    /// runs have the Framework tables.
    pub framework: Option<FrameworkCoverage>,
}

/// What changed in the Framework stage's coverage: interviews, cases per theme, cross-cutting
/// themes and divergent perspectives, read from `tables/framework/`. Flips and interviews are
/// never hidden; a theme's change in cases is, below the thresholds, like any other number.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FrameworkCoverage {
    /// Interviews (valid cases) in A and B.
    pub interviews: (usize, usize),
    /// Case ids only in B, sorted.
    pub interviews_added: Vec<String>,
    /// Case ids only in A, sorted.
    pub interviews_removed: Vec<String>,
    /// Themes and sub-themes whose number of cases (all interviews) changed, in codebook order.
    pub theme_cases: Vec<ThemeCases>,
    /// Themes and sub-themes that became or stopped being cross-cutting.
    pub cross_cutting: Vec<CrossCuttingChange>,
    /// Themes and sub-themes that became or stopped being divergent on a breakdown.
    pub divergent: Vec<DivergenceChange>,
}

impl FrameworkCoverage {
    /// Whether any of it changed.
    pub fn any(&self) -> bool {
        self.interviews.0 != self.interviews.1
            || !self.interviews_added.is_empty()
            || !self.interviews_removed.is_empty()
            || !self.theme_cases.is_empty()
            || !self.cross_cutting.is_empty()
            || !self.divergent.is_empty()
    }
}

/// A theme's number of cases in A and B (`None`: the code is not in that run's codebook).
#[derive(Debug, Clone, Serialize)]
pub struct ThemeCases {
    /// Code (`COM`, `COM.TIME`).
    pub code: String,
    /// `theme` or `subtheme`.
    pub level: String,
    /// Its label.
    pub label: String,
    /// Cases charting it in A and B.
    pub cases: (Option<f64>, Option<f64>),
}

/// A theme that became (`became`) or stopped being cross-cutting.
#[derive(Debug, Clone, Serialize)]
pub struct CrossCuttingChange {
    /// Code.
    pub code: String,
    /// Its label.
    pub label: String,
    /// True: cross-cutting in B, not in A; false: the reverse.
    pub became: bool,
    /// Lots whose interviews chart it, in A and B.
    pub lots_present: (Option<f64>, Option<f64>),
    /// Lots it takes in B (the codebook's threshold).
    pub min_lots: Option<f64>,
}

/// A theme on which the groups of a breakdown became (`became`) or stopped being divergent.
#[derive(Debug, Clone, Serialize)]
pub struct DivergenceChange {
    /// Code.
    pub code: String,
    /// Its label.
    pub label: String,
    /// The breakdown compared (`interview_type`, `wave`, `cohort`).
    pub breakdown: String,
    /// True: divergent in B, not in A; false: the reverse.
    pub became: bool,
    /// The groups' leans in B (`group: lean`, groups with enough cases), in table order.
    pub leans: Vec<String>,
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

/// How a table's rows are matched between the runs.
#[derive(Debug, Clone, Copy)]
enum Keys {
    /// By its label columns (see [`key_columns`]), less these text columns, which are values.
    Labels(&'static [&'static str]),
    /// By exactly these columns.
    Only(&'static [&'static str]),
}

/// The Framework stage's tables a diff compares (`tables/framework/<name>`): the interviews and
/// what the counting SQL makes from them — not the charted cells, quotes and staging tables
/// behind those counts, nor the codebook's reference tables.
const FRAMEWORK_TABLES: [(&str, Keys); 7] = [
    // One row per interview: its id is its label; type, wave, lot and the rest are values.
    ("framework_cases", Keys::Only(&["case_id"])),
    ("framework_interviews", Keys::Labels(&[])),
    ("framework_theme_cases", Keys::Labels(&[])),
    ("framework_cross_cutting", Keys::Labels(&["lots_list"])),
    ("framework_divergence", Keys::Labels(&["lean"])),
    (
        "framework_cmo",
        Keys::Labels(&["supporting_types", "supporting_case_ids"]),
    ),
    ("framework_triangulation", Keys::Labels(&[])),
];

/// How the rows of table `name` (as [`compared_tables`] names it) are keyed.
fn keys_of(name: &str) -> Keys {
    name.strip_prefix("framework/")
        .and_then(|t| FRAMEWORK_TABLES.iter().find(|(n, _)| *n == t))
        .map_or(Keys::Labels(&[]), |(_, k)| *k)
}

/// The tables a diff compares: the catalogue's output tables, every model table and the
/// Framework tables of [`FRAMEWORK_TABLES`].
fn compared_tables(run: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Ok(catalog) = Table::read(&RunLayout::new(run).catalog())
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
    let models = RunLayout::new(run).models_dir();
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
    for (name, _) in FRAMEWORK_TABLES {
        let path = RunLayout::new(run)
            .framework_tables_dir()
            .join(format!("{name}.parquet"));
        if path.is_file() {
            out.insert(format!("{FRAMEWORK_DIR}/{name}"));
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
        if !RunLayout::new(run).tables_dir().is_dir() {
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
    // The Framework tables both runs have, kept for the coverage summary.
    let mut framework: BTreeMap<String, (Table, Table)> = BTreeMap::new();
    let all: BTreeSet<&String> = in_a.union(&in_b).collect();
    for name in &all {
        let path = |run: &Path| RunLayout::new(run).table(name, "parquet");
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
                let diff = table_diff(name, &ta, &tb, keys_of(name), opts);
                if let Some(t) = name.strip_prefix("framework/") {
                    framework.insert(t.to_string(), (ta, tb));
                }
                diff
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
        framework: framework_coverage(&framework, opts),
    })
}

/// Key columns: text and date columns (labels, codes, months) and integer `*_order` columns;
/// every other column — numbers, flags — is a value. `keys` may name text columns that are
/// values too, or the key columns outright.
fn key_columns(t: &Table, keys: Keys) -> Vec<usize> {
    (0..t.columns.len())
        .filter(|&j| {
            let name = t.columns[j].as_str();
            match keys {
                Keys::Only(columns) => return columns.contains(&name),
                Keys::Labels(values) if values.contains(&name) => return false,
                Keys::Labels(_) => {}
            }
            if VALUE_TEXT_COLUMNS.contains(&name) {
                return false;
            }
            !(t.numeric[j] || t.flag[j]) || name.ends_with("_order")
        })
        .collect()
}

/// Whether a numeric change is below the thresholds.
fn small(abs: Option<f64>, rel: Option<f64>, opts: &DiffOptions) -> bool {
    abs.is_some_and(|d| d.abs() < opts.min_abs) || rel.is_some_and(|r| r.abs() < opts.min_rel)
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

fn table_diff(name: &str, a: &Table, b: &Table, keys: Keys, opts: &DiffOptions) -> TableDiff {
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
    let keys_a = key_columns(a, keys);
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
            if small(abs, rel, opts) {
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
    let keys_a = key_columns(a, Keys::Labels(&[]));
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

/// One text cell of a named column.
fn text_at<'t>(t: &'t Table, column: &str, r: usize) -> Option<&'t str> {
    t.column(column).and_then(|j| t.text[j][r].as_deref())
}

/// One number of a named column.
fn number_at(t: &Table, column: &str, r: usize) -> Option<f64> {
    t.column(column).and_then(|j| t.numbers[j][r])
}

/// Rows of `t` by the text of `columns` (joined by a tab), in table order; the first row of a
/// repeated key wins.
fn rows_by(t: &Table, columns: &[&str]) -> Vec<(String, usize)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in 0..t.rows() {
        let key = columns
            .iter()
            .map(|c| text_at(t, c, r).unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\t");
        if seen.insert(key.clone()) {
            out.push((key, r));
        }
    }
    out
}

/// The Framework coverage summary from the Framework tables both runs have (by table name).
fn framework_coverage(
    tables: &BTreeMap<String, (Table, Table)>,
    opts: &DiffOptions,
) -> Option<FrameworkCoverage> {
    let (ca, cb) = tables.get("framework_cases")?;
    let ids = |t: &Table| -> BTreeSet<String> {
        (0..t.rows())
            .filter_map(|r| text_at(t, "case_id", r).map(str::to_string))
            .collect()
    };
    let (ids_a, ids_b) = (ids(ca), ids(cb));
    let mut out = FrameworkCoverage {
        interviews: (ca.rows(), cb.rows()),
        interviews_added: ids_b.difference(&ids_a).cloned().collect(),
        interviews_removed: ids_a.difference(&ids_b).cloned().collect(),
        ..FrameworkCoverage::default()
    };

    if let Some((a, b)) = tables.get("framework_theme_cases") {
        // The all-interviews row of each code: its number of cases.
        let overall = |t: &Table| -> Vec<(String, usize)> {
            (0..t.rows())
                .filter(|&r| text_at(t, "breakdown", r) == Some("all"))
                .filter_map(|r| Some((text_at(t, "code", r)?.to_string(), r)))
                .collect()
        };
        let (rows_a, rows_b) = (overall(a), overall(b));
        let in_a: BTreeMap<&str, usize> = rows_a.iter().map(|(k, r)| (k.as_str(), *r)).collect();
        let in_b: BTreeSet<&str> = rows_b.iter().map(|(k, _)| k.as_str()).collect();
        // B's codebook order, then the codes only A has.
        let order = rows_b
            .iter()
            .map(|(k, r)| (k, in_a.get(k.as_str()).copied(), Some(*r)))
            .chain(
                rows_a
                    .iter()
                    .filter(|(k, _)| !in_b.contains(k.as_str()))
                    .map(|(k, r)| (k, Some(*r), None)),
            );
        for (code, ra, rb) in order {
            let old = ra.and_then(|r| number_at(a, "cases", r));
            let new = rb.and_then(|r| number_at(b, "cases", r));
            if old == new {
                continue;
            }
            if let (Some(x), Some(y)) = (old, new)
                && small(Some(y - x), (x != 0.0).then(|| (y - x) / x.abs()), opts)
            {
                continue;
            }
            let (t, r) = match rb {
                Some(r) => (b, r),
                None => (a, ra.unwrap_or_default()),
            };
            out.theme_cases.push(ThemeCases {
                code: code.clone(),
                level: text_at(t, "level", r).unwrap_or("").to_string(),
                label: text_at(t, "label", r).unwrap_or("").to_string(),
                cases: (old, new),
            });
        }
    }

    if let Some((a, b)) = tables.get("framework_cross_cutting") {
        let in_a: BTreeMap<String, usize> = rows_by(a, &["code"]).into_iter().collect();
        for (code, rb) in rows_by(b, &["code"]) {
            let Some(&ra) = in_a.get(&code) else { continue };
            let (old, new) = (
                text_at(a, "is_cross_cutting", ra),
                text_at(b, "is_cross_cutting", rb),
            );
            if old != new {
                out.cross_cutting.push(CrossCuttingChange {
                    label: text_at(b, "label", rb).unwrap_or("").to_string(),
                    code,
                    became: new == Some("true"),
                    lots_present: (
                        number_at(a, "lots_present", ra),
                        number_at(b, "lots_present", rb),
                    ),
                    min_lots: number_at(b, "min_lots", rb),
                });
            }
        }
    }

    if let Some((a, b)) = tables.get("framework_divergence") {
        // Divergence is a verdict on a code × breakdown, repeated on each of its groups' rows.
        let in_a: BTreeMap<String, usize> =
            rows_by(a, &["code", "breakdown"]).into_iter().collect();
        for (key, rb) in rows_by(b, &["code", "breakdown"]) {
            let Some(&ra) = in_a.get(&key) else { continue };
            let (old, new) = (text_at(a, "divergent", ra), text_at(b, "divergent", rb));
            if old == new {
                continue;
            }
            let code = text_at(b, "code", rb).unwrap_or("");
            let breakdown = text_at(b, "breakdown", rb).unwrap_or("");
            let leans = (0..b.rows())
                .filter(|&r| {
                    text_at(b, "code", r) == Some(code)
                        && text_at(b, "breakdown", r) == Some(breakdown)
                })
                .filter_map(|r| {
                    let lean = text_at(b, "lean", r)?;
                    matches!(lean, "facilitator" | "barrier" | "mixed")
                        .then(|| format!("{}: {lean}", text_at(b, "group_label", r).unwrap_or("")))
                })
                .collect();
            out.divergent.push(DivergenceChange {
                code: code.to_string(),
                label: text_at(b, "label", rb).unwrap_or("").to_string(),
                breakdown: breakdown.to_string(),
                became: new == Some("true"),
                leans,
            });
        }
    }
    Some(out)
}
