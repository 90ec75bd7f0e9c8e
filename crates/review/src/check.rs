//! `check`: a run's tables against the register, figure by figure.
//!
//! A run is of one MI extract: the latest date in the names of its MI input files
//! (`mi_<LOT>_<YYYYMMDD>.<ext>`, listed in its `manifest.json`) gives its month, which names the
//! extract of `extracts.toml` running to that month. Figures published from another extract are
//! reported as [`Status::OtherExtract`], with the run's value beside them, not judged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use evalpipe_study::{Manifest, RunLayout};
use serde::Serialize;

use crate::register::{
    Extract, Figure, Published, Register, Source, Unit, accepted, decimals, key_text, number,
};
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
    /// It was published from another MI extract than the run's: its cell is looked up (a
    /// table or column the run lacks is still missing) but not judged.
    OtherExtract,
    /// A statement of the study configuration (a period, a cut-off, a band edge) that
    /// `pipeline/` holds as printed.
    ConfigMatch,
    /// One that `pipeline/` holds otherwise, or lacks.
    ConfigMismatch,
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
            Status::OtherExtract => "other extract",
            Status::ConfigMatch => "config match",
            Status::ConfigMismatch => "config mismatch",
        }
    }

    /// Whether it fails a check.
    pub fn fails(self) -> bool {
        matches!(
            self,
            Status::Mismatch | Status::Missing | Status::ConfigMismatch
        )
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
    /// The extract it was published from (`None` when the register declares no extracts).
    pub extract: Option<String>,
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
    /// figure nothing reproduces: why; for one of another extract: which.
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
    /// Published from another extract than the run's.
    pub other_extract: usize,
    /// Configuration as printed.
    pub config_matched: usize,
    /// Configuration otherwise.
    pub config_mismatched: usize,
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
            Status::OtherExtract => self.other_extract += 1,
            Status::ConfigMatch => self.config_matched += 1,
            Status::ConfigMismatch => self.config_mismatched += 1,
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
    /// The extract the run was checked as (`None` when the register declares no extracts).
    pub extract: Option<RunExtract>,
    /// Per source, then `total`.
    pub summary: BTreeMap<String, Tally>,
    /// Every figure, in register order.
    pub figures: Vec<FigureCheck>,
    /// The register's errata, as recorded.
    pub errata: Vec<crate::register::Erratum>,
}

/// How the run's extract was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractChoice {
    /// The month of the run's MI files is the extract's `mi_to`.
    Manifest,
    /// Given by the caller ([`CheckOptions::extract`], `--extract`).
    Option,
    /// The run's MI month matches no extract (or the manifest names no MI file): the default.
    Default,
}

/// The extract a run was checked as, and why.
#[derive(Debug, Clone, Serialize)]
pub struct RunExtract {
    /// Its id.
    pub id: String,
    /// The month its MI runs to (`YYYY-MM`).
    pub mi_to: String,
    /// How it was decided.
    pub chosen_by: ExtractChoice,
    /// The month of the run's MI files (the latest date in their names), when the manifest
    /// lists any.
    pub run_mi_to: Option<String>,
    /// The latest-dated MI file of the manifest.
    pub run_mi_file: Option<String>,
    /// Why the run was not checked as the extract its files say, when it was not: a run of an
    /// undeclared month, or an option overriding the manifest.
    pub note: Option<String>,
}

/// What a check can be told beyond the run and the register.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Check the run as this extract (an id of `extracts.toml`), whatever its MI files say.
    pub extract: Option<String>,
}

impl CheckReport {
    /// Whether any figure failed (a mismatch or a missing cell).
    pub fn failed(&self) -> bool {
        self.figures.iter().any(|f| f.status.fails())
    }
}

/// Checks the run in `run` against `register`, as the extract its MI files say.
pub fn check(run: &Path, register: &Register) -> Result<CheckReport> {
    check_with(run, register, &CheckOptions::default())
}

/// Checks the run in `run` against `register` with `options`.
pub fn check_with(run: &Path, register: &Register, options: &CheckOptions) -> Result<CheckReport> {
    if !RunLayout::new(run).tables_dir().is_dir() {
        return Err(Error::Run {
            path: run.to_path_buf(),
            message: "not a run folder (no tables/); run `evalpipe run` first".into(),
        });
    }
    let synthetic = read_synthetic(run);
    let extract = run_extract(run, register, options)?;
    let checked_as = extract.as_ref().and_then(|e| register.extract(&e.id));
    let mut tables: BTreeMap<String, std::result::Result<Table, String>> = BTreeMap::new();
    let mut figures = Vec::new();
    let mut summary: BTreeMap<String, Tally> = BTreeMap::new();
    for f in &register.figures {
        figures.push(check_figure(run, register, checked_as, f, &mut tables));
    }
    excuse_by_contradiction(register, &mut figures);
    for (f, result) in register.figures.iter().zip(&figures) {
        summary
            .entry(f.source.as_str().to_string())
            .or_default()
            .add(result.status);
        summary
            .entry("total".to_string())
            .or_default()
            .add(result.status);
    }
    Ok(CheckReport {
        run: run.to_path_buf(),
        synthetic,
        extract,
        summary,
        figures,
        errata: register.errata.clone(),
    })
}

pub(crate) fn read_synthetic(run: &Path) -> bool {
    Manifest::read(&RunLayout::new(run).manifest()).is_ok_and(|m| m.synthetic)
}

/// The latest-dated MI input file of the run's manifest and its month (`YYYY-MM`), or why there
/// is none.
fn run_mi_month(run: &Path) -> std::result::Result<(String, String), String> {
    let manifest = Manifest::read(&RunLayout::new(run).manifest()).map_err(|e| match e {
        evalpipe_study::Error::Read { .. } => "the run has no manifest.json".to_string(),
        e => format!("its manifest.json cannot be read ({e})"),
    })?;
    match manifest.mi_extract() {
        Some((date, name)) => Ok((date.format("%Y-%m").to_string(), name)),
        None => Err(format!(
            "its manifest lists no MI input file named `{}_<LOT>_<YYYYMMDD>.csv|xlsx`",
            evalpipe_study::MI_PREFIX
        )),
    }
}

/// Which extract the run is checked as: the option's, else the one its MI month names, else
/// the default (saying why).
fn run_extract(
    run: &Path,
    register: &Register,
    options: &CheckOptions,
) -> Result<Option<RunExtract>> {
    let Some(default) = register.default_extract() else {
        return match &options.extract {
            None => Ok(None),
            Some(id) => Err(Error::UnknownExtract {
                id: id.clone(),
                declared: Vec::new(),
            }),
        };
    };
    let declared = || {
        register
            .extracts
            .iter()
            .map(|e| format!("{} to {}", e.id, e.mi_to))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let found = run_mi_month(run);
    let (run_mi_to, run_mi_file) = match &found {
        Ok((month, file)) => (Some(month.clone()), Some(file.clone())),
        Err(_) => (None, None),
    };
    let by_month = run_mi_to
        .as_deref()
        .and_then(|m| register.extracts.iter().find(|e| e.mi_to == m));
    let (extract, chosen_by, note): (&Extract, _, _) = match &options.extract {
        Some(id) => {
            let Some(chosen) = register.extract(id) else {
                return Err(Error::UnknownExtract {
                    id: id.clone(),
                    declared: register.extracts.iter().map(|e| e.id.clone()).collect(),
                });
            };
            let note = match (by_month, &found) {
                (Some(e), _) if e.id == chosen.id => None,
                (Some(e), Ok((month, _))) => Some(format!(
                    "checked as extract `{}` as asked, though the run's MI files are dated {month}, the `{}` extract",
                    chosen.id, e.id
                )),
                (_, Ok((month, _))) => Some(format!(
                    "checked as extract `{}` as asked; the run's MI files are dated {month}, which no extract runs to",
                    chosen.id
                )),
                (_, Err(why)) => Some(format!(
                    "checked as extract `{}` as asked; {why}",
                    chosen.id
                )),
            };
            (chosen, ExtractChoice::Option, note)
        }
        None => match (by_month, &found) {
            (Some(e), _) => (e, ExtractChoice::Manifest, None),
            (None, Ok((month, file))) => (
                default,
                ExtractChoice::Default,
                Some(format!(
                    "the run's MI files are dated {month} (latest `{file}`), which matches no extract of the register ({}): checked as the default extract `{}`; give `--extract ID` to choose",
                    declared(),
                    default.id
                )),
            ),
            (None, Err(why)) => (
                default,
                ExtractChoice::Default,
                Some(format!(
                    "{why}, so its extract is unknown: checked as the default extract `{}` ({}); give `--extract ID` to choose",
                    default.id,
                    declared()
                )),
            ),
        },
    };
    Ok(Some(RunExtract {
        id: extract.id.clone(),
        mi_to: extract.mi_to.clone(),
        chosen_by,
        run_mi_to,
        run_mi_file,
        note,
    }))
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
    checked_as: Option<&Extract>,
    f: &Figure,
    tables: &mut BTreeMap<String, std::result::Result<Table, String>>,
) -> FigureCheck {
    let own = register.extract_of(f);
    let mut out = FigureCheck {
        id: f.id.clone(),
        document: f.document.clone(),
        location: f.location.clone(),
        measures: f.measures.clone(),
        source: f.source,
        extract: own.map(|e| e.id.clone()),
        unit: f.unit,
        published: published_text(f),
        reproduced: None,
        raw: None,
        status: Status::NotReproducible,
        detail: f.not_reproducible.clone(),
    };
    if let Some(c) = &f.config {
        return check_configured(register, f, c, out);
    }
    let errata = register.errata_of(&f.id);
    let Some(reproduce) = &f.reproduce else {
        if !errata.is_empty() {
            out.status = Status::Erratum;
            out.detail = Some(errata_detail(&errata));
        }
        return out;
    };
    let verdict = Verdict {
        cell: cell_named(reproduce),
        other: other_extract(own, checked_as),
        errata,
    };
    let table = tables
        .entry(reproduce.table.clone())
        .or_insert_with(|| Table::read(&RunLayout::new(run).table(&reproduce.table, "parquet")));
    let table = match table {
        Ok(t) => t,
        Err(e) => return verdict.missing(out, format!("table not in the run ({e})")),
    };
    let (rows, values) = match cell_values(table, f, reproduce) {
        Ok(found) => found,
        Err(NotFound::Missing(why)) => return verdict.missing(out, why),
        Err(NotFound::Absent(why)) => return verdict.absent(out, why),
    };
    let equal = reproduce_as_printed(&mut out, f, reproduce.sum, values);
    let n_differs = match stated_n_differs(table, f, reproduce.sum, &rows) {
        Ok(differs) => differs,
        Err(why) => return verdict.missing(out, why),
    };
    verdict.judged(out, equal, n_differs)
}

/// Why a figure is not judged against this run, when it was published from another extract.
fn other_extract(own: Option<&Extract>, checked_as: Option<&Extract>) -> Option<String> {
    match (own, checked_as) {
        (Some(own), Some(run)) if own.id != run.id => Some(format!(
            "published from the {} extract (MI to {}); this run is the {} extract (MI to {})",
            own.id, own.mi_to, run.id, run.mi_to
        )),
        _ => None,
    }
}

/// A selector as the reader of a failure sees it: `column = value or value, …`.
fn described(k: &BTreeMap<String, toml::Value>) -> String {
    k.iter()
        .map(|(c, v)| format!("{c} = {}", accepted(v).join(" or ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cell the register names, from the query or model that writes it to the column, so a
/// failure can be traced without opening the register.
fn cell_named(reproduce: &crate::register::Reproduce) -> String {
    let origin = if let Some(model) = reproduce.table.strip_prefix("models/") {
        let id = model.split('/').next().unwrap_or(model);
        format!("pipeline/models/{id}.toml")
    } else {
        format!("queries/{}.sql", reproduce.table)
    };
    let selector = reproduce.row.as_ref().or(reproduce.rows.as_ref());
    format!(
        "{origin} → tables/{}, {} {}{}, column `{}`{}",
        reproduce.table,
        if reproduce.row.is_some() {
            "row"
        } else {
            "rows"
        },
        match selector {
            Some(k) if k.is_empty() => "(all)".to_string(),
            Some(k) => described(k),
            None => String::new(),
        },
        reproduce
            .except
            .as_ref()
            .map(|k| format!(", except {}", described(k)))
            .unwrap_or_default(),
        reproduce.column,
        if reproduce.sum { " (summed)" } else { "" }
    )
}

/// Why the run has no value for a figure.
enum NotFound {
    /// The register names what no run of its pipeline writes: always a failure.
    Missing(String),
    /// The run lacks the row or value: a failure only when the figure is of its extract.
    Absent(String),
}

/// The rows the register selects (less `except`) and their numbers in its column, or why
/// there are none to compare.
fn cell_values(
    table: &Table,
    f: &Figure,
    reproduce: &crate::register::Reproduce,
) -> std::result::Result<(Vec<usize>, Vec<f64>), NotFound> {
    use NotFound::{Absent, Missing};
    let selector = reproduce.row.as_ref().or(reproduce.rows.as_ref());
    let Some(column) = table.column(&reproduce.column) else {
        return Err(Missing("no such column".into()));
    };
    let mut rows = match selector.map(|k| table.select(k)) {
        Some(Ok(rows)) => rows,
        Some(Err(e)) => return Err(Missing(e)),
        None => return Err(Missing("no row selector".into())),
    };
    if rows.is_empty() {
        return Err(Absent("no row matches".into()));
    }
    // A value of a list no selected row has is most likely misspelt: the figure would quietly
    // span fewer rows than the register says.
    if let Some(why) = selector.and_then(|k| unmatched(table, &rows, k, true)) {
        return Err(Absent(why));
    }
    if let Some(except) = &reproduce.except {
        let left_out = table
            .resolve(except)
            .map_err(|e| Missing(format!("in `except`: {e}")))?;
        // Likewise a value `except` names that no selected row has leaves nothing out.
        if let Some(why) = unmatched(table, &rows, except, false) {
            return Err(Absent(format!("in `except`: {why}")));
        }
        rows.retain(|&r| !table.matches(&left_out, r));
        if rows.is_empty() {
            return Err(Absent("`except` leaves no row".into()));
        }
    }
    let values: Vec<f64> = rows
        .iter()
        .filter_map(|&r| table.numbers[column][r])
        .collect();
    let wanted_one = !f.unit.is_range() && !reproduce.sum;
    if wanted_one && rows.len() != 1 {
        return Err(Missing(format!(
            "{} rows match where one was expected",
            rows.len()
        )));
    }
    if values.is_empty() {
        return Err(Absent("the cell is empty or not a number".into()));
    }
    if reproduce.sum && values.len() != rows.len() {
        return Err(Absent(format!(
            "{} of the {} summed cells are empty or not numbers",
            rows.len() - values.len(),
            rows.len()
        )));
    }
    Ok((rows, values))
}

/// Writes the run's value into `out` at the precision the figure was printed with (a range
/// by its ends, a sum as one value) and says whether it reads as published.
fn reproduce_as_printed(out: &mut FigureCheck, f: &Figure, sum: bool, values: Vec<f64>) -> bool {
    let (printed, observed): (Vec<&toml::Value>, Vec<f64>) = match &f.value {
        Published::One(v) if sum => (vec![v], vec![values.iter().sum()]),
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
    equal
}

/// How the row's N (or every summed row's) differs from the stated N, if it does; `Err` when
/// the register names an N column the table lacks.
/// A stated N the run does not hold: the message, and the N (per summed row) the run holds.
struct NDiffers {
    message: String,
    held: Vec<Option<f64>>,
}

fn stated_n_differs(
    table: &Table,
    f: &Figure,
    sum: bool,
    rows: &[usize],
) -> std::result::Result<Option<NDiffers>, String> {
    let (Some(n), Some(c)) = (f.n, &f.n_column) else {
        return Ok(None);
    };
    let Some(j) = table.column(c) else {
        return Err(format!("no N column `{c}`"));
    };
    // Shares of different bases add up to no share: each summed row must have the stated N.
    let checked = if sum { rows } else { &rows[..1] };
    let got: Vec<Option<f64>> = checked.iter().map(|&r| table.numbers[j][r]).collect();
    if got.iter().all(|g| g.is_some_and(|g| (g - n).abs() < 1e-9)) {
        return Ok(None);
    }
    let held: Vec<String> = got
        .iter()
        .map(|g| g.map_or("nothing".into(), |g| g.to_string()))
        .collect();
    let message = if sum {
        format!(
            "stated N {n} but column `{c}` of the summed rows holds {}",
            held.join(", ")
        )
    } else {
        format!("stated N {n} but column `{c}` holds {}", held.join(", "))
    };
    Ok(Some(NDiffers { message, held: got }))
}

/// A configured figure: the parameter in the register's `pipeline/` against the printed value.
fn check_configured(
    register: &Register,
    f: &Figure,
    c: &crate::register::ConfigRef,
    mut out: FigureCheck,
) -> FigureCheck {
    let published = crate::register::published_config(f);
    match crate::configured::configured(&register.pipeline, f, c) {
        Ok(value) => {
            let errata = register.errata_of(&f.id);
            // Another document's value for it, as an erratum records it.
            let other = errata.iter().find(|e| {
                e.accept.get(&f.id).is_some_and(|values| {
                    values
                        .iter()
                        .any(|v| crate::register::printed_as(v, f.unit).as_deref() == Ok(&value))
                })
            });
            if published.as_deref() == Ok(value.as_str()) {
                out.status = Status::ConfigMatch;
                out.detail = None;
            } else if let Some(e) = other {
                out.status = Status::Erratum;
                out.detail = Some(format!(
                    "erratum {}: configured {value}, as another published document prints it",
                    e.id
                ));
            } else {
                out.status = Status::ConfigMismatch;
                let named = if errata.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({}, whose values it is not either)",
                        errata_detail(&errata)
                    )
                };
                out.detail = Some(format!(
                    "published {}, configured {value}{named}: {} `{}`",
                    out.published, c.file, c.key
                ));
            }
            out.reproduced = Some(value);
        }
        Err(why) => {
            out.status = Status::ConfigMismatch;
            out.detail = Some(why);
        }
    }
    out
}

/// What a figure's status turns on besides its value: the cell it names, whether it is of
/// another extract, and its errata.
struct Verdict<'a> {
    cell: String,
    other: Option<String>,
    errata: Vec<&'a crate::register::Erratum>,
}

impl Verdict<'_> {
    fn missing(&self, mut out: FigureCheck, why: String) -> FigureCheck {
        out.status = Status::Missing;
        out.detail = Some(format!("{why}: {}", self.cell));
        out
    }

    /// A row or value another extract's run lacks is no fault of the register (an interim run
    /// has no later months); a table or column it lacks is, in any extract.
    fn absent(&self, mut out: FigureCheck, why: String) -> FigureCheck {
        match (&self.other, self.errata.is_empty()) {
            (Some(note), true) => {
                out.status = Status::OtherExtract;
                out.detail = Some(format!("{note}; not in this run ({why}): {}", self.cell));
                out
            }
            (Some(_), false) => {
                out.status = Status::Erratum;
                out.detail = Some(format!(
                    "{} (of another extract; not in this run: {why})",
                    errata_detail(&self.errata)
                ));
                out
            }
            (None, _) => self.missing(out, why),
        }
    }

    /// The status of a figure the run has a value for. Another extract's figure is reported,
    /// never judged. A figure in an erratum is an `erratum` when the run gives its printed
    /// value (and N) or a value the erratum accepts for it; otherwise a mismatch, which the
    /// second pass ([`excuse_by_contradiction`]) turns into an erratum only if the run
    /// reproduces every published figure the erratum says contradicts it.
    fn judged(self, mut out: FigureCheck, equal: bool, n_differs: Option<NDiffers>) -> FigureCheck {
        let cell = &self.cell;
        if let Some(note) = self.other {
            if self.errata.is_empty() {
                out.status = Status::OtherExtract;
                out.detail = Some(note);
            } else {
                out.status = Status::Erratum;
                out.detail = Some(format!(
                    "{} (of another extract)",
                    errata_detail(&self.errata)
                ));
            }
            return out;
        }
        if !self.errata.is_empty() {
            if equal && n_differs.is_none() {
                out.status = Status::Erratum;
                out.detail = Some(format!(
                    "{} (reproduced as printed)",
                    errata_detail(&self.errata)
                ));
                return out;
            }
            if equal
                && let Some(n) = &n_differs
                && let Some((e, v)) = n_accepted(&self.errata, &out.id, &n.held)
            {
                out.status = Status::Erratum;
                out.detail = Some(format!(
                    "erratum {e} (reproduces the printed value on an N of {v}, which the erratum \
                     accepts: not the stated {})",
                    n.held
                        .iter()
                        .map(|h| h.map_or("nothing".into(), |h| h.to_string()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                return out;
            }
            let reproduced = out.reproduced.clone().unwrap_or_default();
            if let Some((e, v)) = accepted_by_errata(&self.errata, &out.id, &reproduced) {
                out.status = Status::Erratum;
                out.detail = Some(format!(
                    "erratum {e} (reproduces {v}, a value the erratum accepts: not the printed {})",
                    out.published
                ));
                return out;
            }
        }
        if equal && n_differs.is_none() {
            out.status = Status::Match;
            out.detail = None;
            return out;
        }
        out.status = Status::Mismatch;
        let why = match n_differs.map(|n| n.message) {
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
        };
        out.detail = Some(if self.errata.is_empty() {
            why
        } else {
            format!("{why}; {}", errata_allows(&self.errata, &out.id))
        });
        out
    }
}

/// The first value an erratum of `figure` accepts that `reproduced` (as printed, `lo–hi` for
/// a range) equals or lies in: (erratum id, the value as written).
fn accepted_by_errata(
    errata: &[&crate::register::Erratum],
    figure: &str,
    reproduced: &str,
) -> Option<(String, String)> {
    let value: f64 = reproduced.parse().ok()?;
    for e in errata {
        for v in e.accept.get(figure).into_iter().flatten() {
            let hit = match v {
                toml::Value::Array(bounds) => match bounds.as_slice() {
                    [lo, hi] => {
                        let (Some(lo), Some(hi)) = (number(lo), number(hi)) else {
                            continue;
                        };
                        lo <= value && value <= hi
                    }
                    _ => false,
                },
                other => number(other).is_some_and(|n| (n - value).abs() < 1e-9),
            };
            if hit {
                return Some((e.id.clone(), key_text_or_range(v)));
            }
        }
    }
    None
}

/// Whether an erratum of `figure` accepts the N the run holds (every summed row's): (erratum id,
/// the accepted N as written).
fn n_accepted(
    errata: &[&crate::register::Erratum],
    figure: &str,
    held: &[Option<f64>],
) -> Option<(String, String)> {
    for e in errata {
        for v in e.accept_n.get(figure).into_iter().flatten() {
            let inside = |n: f64| match v {
                toml::Value::Array(b) if b.len() == 2 => {
                    number(&b[0]).is_some_and(|lo| lo <= n)
                        && number(&b[1]).is_some_and(|hi| n <= hi)
                }
                other => number(other).is_some_and(|x| (x - n).abs() < 1e-9),
            };
            if !held.is_empty() && held.iter().all(|h| h.is_some_and(inside)) {
                return Some((e.id.clone(), key_text_or_range(v)));
            }
        }
    }
    None
}

fn key_text_or_range(v: &toml::Value) -> String {
    match v {
        toml::Value::Array(b) if b.len() == 2 => {
            format!("{}–{}", key_text(&b[0]), key_text(&b[1]))
        }
        other => key_text(other),
    }
}

/// What the errata of `figure` would have taken instead of its printed value.
fn errata_allows(errata: &[&crate::register::Erratum], figure: &str) -> String {
    let mut parts = Vec::new();
    for e in errata {
        let values: Vec<String> = e
            .accept
            .get(figure)
            .into_iter()
            .flatten()
            .map(key_text_or_range)
            .collect();
        let instead = e.instead.get(figure).map(|f| f.join(", "));
        parts.push(match (values.is_empty(), instead) {
            (true, None) => format!("erratum {} accepts no other value", e.id),
            (false, None) => format!("erratum {} accepts {} besides", e.id, values.join(", ")),
            (true, Some(i)) => {
                format!("erratum {} excuses it only if the run reproduces {i}", e.id)
            }
            (false, Some(i)) => format!(
                "erratum {} accepts {} besides, or the run reproducing {i}",
                e.id,
                values.join(", ")
            ),
        });
    }
    parts.join("; ")
}

/// The second pass: a mismatch in an erratum is that erratum when the run reproduces, as
/// printed, every published figure the erratum says contradicts it (`instead`): the documents
/// cannot both be right there, and the run follows the others.
fn excuse_by_contradiction(register: &Register, figures: &mut [FigureCheck]) {
    let as_printed: BTreeSet<String> = figures
        .iter()
        .filter(|f| {
            matches!(f.status, Status::Match | Status::ConfigMatch)
                || (f.status == Status::Erratum
                    && f.reproduced.as_deref() == Some(f.published.as_str()))
        })
        .map(|f| f.id.clone())
        .collect();
    for f in figures.iter_mut().filter(|f| f.status == Status::Mismatch) {
        for e in register.errata_of(&f.id) {
            let Some(others) = e.instead.get(&f.id) else {
                continue;
            };
            if !others.is_empty() && others.iter().all(|o| as_printed.contains(o)) {
                f.status = Status::Erratum;
                f.detail = Some(format!(
                    "erratum {} (reproduces {}, which contradict the printed {}: the run follows them)",
                    e.id,
                    others.join(", "),
                    f.published
                ));
                break;
            }
        }
    }
}

/// The first value of the selector `key` that none of `rows` has in its column: each of a
/// list's values (only lists when `lists_only`, as a single value that matched no row has
/// already left `rows` empty), or `None` when every value is found.
fn unmatched(
    table: &Table,
    rows: &[usize],
    key: &BTreeMap<String, toml::Value>,
    lists_only: bool,
) -> Option<String> {
    for (column, value) in key {
        if lists_only && !value.is_array() {
            continue;
        }
        let j = table.column(column)?;
        for v in accepted(value) {
            if !rows
                .iter()
                .any(|&r| table.text[j][r].as_deref() == Some(v.as_str()))
            {
                return Some(format!("no selected row has `{column}` = `{v}`"));
            }
        }
    }
    None
}

fn errata_detail(errata: &[&crate::register::Erratum]) -> String {
    let ids: Vec<&str> = errata.iter().map(|e| e.id.as_str()).collect();
    format!("erratum {}", ids.join(", "))
}
