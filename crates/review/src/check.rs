//! `check`: a run's tables against the register, figure by figure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::register::{Figure, Published, Register, Source, Unit, decimals, key_text, number};
use crate::table::Table;
use crate::{Error, Result};

/// The outcome of checking one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The run reproduces the published value at its published precision.
    Match,
    /// It does not.
    Mismatch,
    /// The cell the register names is not in the run (table, row or column absent).
    Missing,
    /// The published value is part of an erratum: reported, not judged.
    Erratum,
    /// Nothing in the MI or claims can reproduce it.
    NotReproducible,
}

impl Status {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Match => "match",
            Status::Mismatch => "mismatch",
            Status::Missing => "missing",
            Status::Erratum => "erratum",
            Status::NotReproducible => "not reproducible",
        }
    }

    /// Whether it fails a check.
    pub fn fails(self) -> bool {
        matches!(self, Status::Mismatch | Status::Missing)
    }
}

/// One figure's result.
#[derive(Debug, Clone, Serialize)]
pub struct FigureCheck {
    /// Register id.
    pub id: String,
    /// Document slug.
    pub document: String,
    /// Where it is printed.
    #[serde(rename = "where")]
    pub location: String,
    /// What it measures.
    pub measures: String,
    /// Data source.
    pub source: Source,
    /// Unit.
    pub unit: Unit,
    /// The value as printed (`53`, `21–59`).
    pub published: String,
    /// The run's value at the published precision, when there is one.
    pub reproduced: Option<String>,
    /// The run's value unrounded.
    pub raw: Option<Vec<f64>>,
    /// The verdict.
    pub status: Status,
    /// For a mismatch or missing cell: the query and cell; for an erratum: its ids; for a
    /// figure nothing reproduces: why.
    pub detail: Option<String>,
}

/// Counts by status for one source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Figures.
    pub figures: usize,
    /// Matches.
    pub matched: usize,
    /// Mismatches.
    pub mismatched: usize,
    /// Cells not in the run.
    pub missing: usize,
    /// In an erratum.
    pub errata: usize,
    /// Not reproducible.
    pub not_reproducible: usize,
}

impl Tally {
    fn add(&mut self, s: Status) {
        self.figures += 1;
        match s {
            Status::Match => self.matched += 1,
            Status::Mismatch => self.mismatched += 1,
            Status::Missing => self.missing += 1,
            Status::Erratum => self.errata += 1,
            Status::NotReproducible => self.not_reproducible += 1,
        }
    }
}

/// A whole check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The run folder.
    pub run: PathBuf,
    /// Whether the run was built from the synthetic twin.
    pub synthetic: bool,
    /// Per source, then `total`.
    pub summary: BTreeMap<String, Tally>,
    /// Every figure, in register order.
    pub figures: Vec<FigureCheck>,
    /// The register's errata, as recorded.
    pub errata: Vec<crate::register::Erratum>,
}

impl CheckReport {
    /// Whether any figure failed (a mismatch or a missing cell).
    pub fn failed(&self) -> bool {
        self.figures.iter().any(|f| f.status.fails())
    }
}

/// Checks the run in `run` against `register`.
pub fn check(run: &Path, register: &Register) -> Result<CheckReport> {
    if !run.join("tables").is_dir() {
        return Err(Error::Run {
            path: run.to_path_buf(),
            message: "not a run folder (no tables/); run `evalpipe run` first".into(),
        });
    }
    let synthetic = read_synthetic(run);
    let mut tables: BTreeMap<String, std::result::Result<Table, String>> = BTreeMap::new();
    let mut figures = Vec::new();
    let mut summary: BTreeMap<String, Tally> = BTreeMap::new();
    for f in &register.figures {
        let result = check_figure(run, register, f, &mut tables);
        summary
            .entry(f.source.as_str().to_string())
            .or_default()
            .add(result.status);
        summary
            .entry("total".to_string())
            .or_default()
            .add(result.status);
        figures.push(result);
    }
    Ok(CheckReport {
        run: run.to_path_buf(),
        synthetic,
        summary,
        figures,
        errata: register.errata.clone(),
    })
}

pub(crate) fn read_synthetic(run: &Path) -> bool {
    std::fs::read_to_string(run.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|m| m.get("synthetic").and_then(serde_json::Value::as_bool))
        .unwrap_or(false)
}

fn published_text(f: &Figure) -> String {
    match &f.value {
        Published::One(v) => key_text(v),
        Published::Range([lo, hi]) => format!("{}–{}", key_text(lo), key_text(hi)),
    }
}

/// `value` at the precision `printed` was published with, for `unit`.
fn at_precision(value: f64, printed: &toml::Value, unit: Unit) -> (f64, u32) {
    let mut places = decimals(printed);
    let scaled = match unit {
        Unit::Percent => value * 100.0,
        _ => value,
    };
    if unit == Unit::OddsRatio {
        places = places.max(1);
    }
    let factor = 10f64.powi(places as i32);
    ((scaled * factor).round() / factor, places)
}

fn check_figure(
    run: &Path,
    register: &Register,
    f: &Figure,
    tables: &mut BTreeMap<String, std::result::Result<Table, String>>,
) -> FigureCheck {
    let mut out = FigureCheck {
        id: f.id.clone(),
        document: f.document.clone(),
        location: f.location.clone(),
        measures: f.measures.clone(),
        source: f.source,
        unit: f.unit,
        published: published_text(f),
        reproduced: None,
        raw: None,
        status: Status::NotReproducible,
        detail: f.not_reproducible.clone(),
    };
    let errata = register.errata_of(&f.id);
    let Some(reproduce) = &f.reproduce else {
        if !errata.is_empty() {
            out.status = Status::Erratum;
            out.detail = Some(errata_detail(&errata));
        }
        return out;
    };
    let origin = if let Some(model) = reproduce.table.strip_prefix("models/") {
        let id = model.split('/').next().unwrap_or(model);
        format!("pipeline/models/{id}.toml")
    } else {
        format!("queries/{}.sql", reproduce.table)
    };
    let selector = reproduce.row.as_ref().or(reproduce.rows.as_ref());
    let cell = format!(
        "{origin} → tables/{}, row {}, column `{}`",
        reproduce.table,
        selector
            .map(|k| {
                k.iter()
                    .map(|(c, v)| format!("{c} = {}", key_text(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        reproduce.column
    );
    let missing = |mut out: FigureCheck, why: String| {
        out.status = Status::Missing;
        out.detail = Some(format!("{why}: {cell}"));
        out
    };
    let table = tables.entry(reproduce.table.clone()).or_insert_with(|| {
        Table::read(
            &run.join("tables")
                .join(format!("{}.parquet", reproduce.table)),
        )
    });
    let table = match table {
        Ok(t) => t,
        Err(e) => return missing(out, format!("table not in the run ({e})")),
    };
    let Some(column) = table.column(&reproduce.column) else {
        return missing(out, "no such column".into());
    };
    let rows = match selector.map(|k| table.select(k)) {
        Some(Ok(rows)) => rows,
        Some(Err(e)) => return missing(out, e),
        None => return missing(out, "no row selector".into()),
    };
    let values: Vec<f64> = rows
        .iter()
        .filter_map(|&r| table.numbers[column][r])
        .collect();
    let wanted_one = !f.unit.is_range();
    if rows.is_empty() || (wanted_one && rows.len() != 1) {
        return missing(
            out,
            format!("{} rows match where one was expected", rows.len()),
        );
    }
    if values.is_empty() {
        return missing(out, "the cell is empty or not a number".into());
    }
    let (printed, observed): (Vec<&toml::Value>, Vec<f64>) = match &f.value {
        Published::One(v) => (vec![v], vec![values[0]]),
        Published::Range([lo, hi]) => {
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (vec![lo, hi], vec![min, max])
        }
    };
    let unit = f.unit.scalar();
    let mut shown = Vec::new();
    let mut equal = true;
    for (p, v) in printed.iter().zip(&observed) {
        let (rounded, places) = at_precision(*v, p, unit);
        shown.push(format!("{rounded:.*}", places as usize));
        equal &= number(p).is_some_and(|p| (p - rounded).abs() < 1e-9);
    }
    out.raw = Some(observed);
    out.reproduced = Some(shown.join("–"));
    let n_ok = match (f.n, &f.n_column) {
        (Some(n), Some(c)) => match table.column(c) {
            None => return missing(out, format!("no N column `{c}`")),
            Some(j) => {
                let got = rows.first().and_then(|&r| table.numbers[j][r]);
                if got.is_some_and(|g| (g - n).abs() < 1e-9) {
                    None
                } else {
                    Some(format!(
                        "stated N {n} but column `{c}` holds {}",
                        got.map_or("nothing".into(), |g| g.to_string())
                    ))
                }
            }
        },
        _ => None,
    };
    if !errata.is_empty() {
        out.status = Status::Erratum;
        let agreement = if equal {
            "reproduced as printed"
        } else {
            "not reproduced"
        };
        out.detail = Some(format!("{} ({agreement})", errata_detail(&errata)));
    } else if equal && n_ok.is_none() {
        out.status = Status::Match;
        out.detail = None;
    } else {
        out.status = Status::Mismatch;
        out.detail = Some(match n_ok {
            Some(n) if equal => format!("{n}: {cell}"),
            Some(n) => format!(
                "published {}, reproduced {}; {n}: {cell}",
                out.published,
                out.reproduced.as_deref().unwrap_or("")
            ),
            None => format!(
                "published {}, reproduced {}: {cell}",
                out.published,
                out.reproduced.as_deref().unwrap_or("")
            ),
        });
    }
    out
}

fn errata_detail(errata: &[&crate::register::Erratum]) -> String {
    let ids: Vec<&str> = errata.iter().map(|e| e.id.as_str()).collect();
    format!("erratum {}", ids.join(", "))
}
