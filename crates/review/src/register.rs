//! The published-figures register: `pipeline/published/*.toml`, one file per published
//! document, each figure with where it was printed, its value and unit, and the output table
//! cell that reproduces it (or why nothing can); plus the errata found in the documents.
//!
//! A figure's cell is `reproduce = { table, row = {…} | rows = {…}, column }`: `row` picks the
//! one row of a single number, `rows` the rows a range spans. Beyond equality, a selector may
//! list values of which a row may have any (`rows = { category = ["A", "B"] }`), leave rows out
//! (`except = { lot_name = ["Camp Hill"] }`: a range over "the other lots"), and add its rows up
//! (`sum = true`: the share of two categories together); see [`Reproduce`].
//!
//! `pipeline/published/extracts.toml` (optional) declares the MI extracts the documents were
//! computed from, one of them the default; a figure computed from another than the default
//! names it (`extract = "interim"`), so that a run of one extract is not judged on the figures
//! of another.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The register folder inside `pipeline/`.
pub const REGISTER_DIR: &str = "published";

/// The file of the register folder that declares the extracts (not a document).
pub const EXTRACTS_FILE: &str = "extracts.toml";

/// Every register file of a study, checked as a whole.
#[derive(Debug, Clone)]
pub struct Register {
    /// The documents, in file-name order.
    pub documents: Vec<Document>,
    /// Every figure of every document, in file then entry order.
    pub figures: Vec<Figure>,
    /// Every erratum, in file then entry order.
    pub errata: Vec<Erratum>,
    /// The MI extracts the documents were computed from (`extracts.toml`), in file order;
    /// empty when the register declares none, and then every figure is of the one extract.
    pub extracts: Vec<Extract>,
    /// The study configuration folder the register is in: configured figures are looked up
    /// in it.
    pub pipeline: PathBuf,
}

/// An MI extract the published documents were computed from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Extract {
    /// Short slug, named by a figure's `extract`.
    pub id: String,
    /// The year and month the extract's MI runs to, `YYYY-MM`: a run whose MI files are dated
    /// in that month is of this extract.
    pub mi_to: String,
    /// The extract of every figure that names none; exactly one has it.
    #[serde(default)]
    pub default: bool,
    /// What it is and where the documents say so.
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtractsFile {
    #[serde(default)]
    extract: Vec<Extract>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFile {
    document: Document,
    #[serde(default)]
    figure: Vec<Figure>,
    #[serde(default)]
    erratum: Vec<Erratum>,
}

/// A published document.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Short slug.
    pub id: String,
    /// The text file of the document (in the study's seed folder).
    pub file: String,
    /// Its title.
    pub title: String,
}

/// One published figure.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// Stable id, unique across the register.
    pub id: String,
    /// Table, figure or section and bullet it is printed in.
    #[serde(rename = "where")]
    pub location: String,
    /// Line of the document's text file.
    #[serde(default)]
    pub line: Option<u32>,
    /// The words around it, verbatim.
    #[serde(default)]
    pub quote: Option<String>,
    /// What it measures.
    pub measures: String,
    /// Its breakdown (e.g. `sex = Female`).
    #[serde(default)]
    pub breakdown: Option<String>,
    /// The value as printed.
    pub value: Published,
    /// What kind of number it is; decides the tolerance.
    pub unit: Unit,
    /// The N printed with it.
    #[serde(default)]
    pub n: Option<f64>,
    /// Where the number comes from.
    pub source: Source,
    /// The output cell(s) that reproduce it…
    #[serde(default)]
    pub reproduce: Option<Reproduce>,
    /// …with the column of the same row that holds its N…
    #[serde(default)]
    pub n_column: Option<String>,
    /// …or the parameter of the study configuration it states…
    #[serde(default)]
    pub config: Option<ConfigRef>,
    /// …or why nothing does.
    #[serde(default)]
    pub not_reproducible: Option<String>,
    /// The extract it was computed from, when not the default one (`extracts.toml`).
    #[serde(default)]
    pub extract: Option<String>,
    /// The document it is from (filled in on loading).
    #[serde(skip_deserializing, default)]
    pub document: String,
}

/// Where in the configuration a figure's value is.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRef {
    /// The file, relative to the study configuration folder (`study.toml`,
    /// `published/extracts.toml`, `models/job_outcome.toml`).
    pub file: String,
    /// The path to the value in it.
    pub key: String,
    /// Makes one number of the values a `[*]` selects.
    #[serde(default)]
    pub reduce: Option<Reduce>,
    /// Added to a number before it is compared.
    #[serde(default)]
    pub offset: Option<f64>,
}

/// How several configured values become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduce {
    /// The smallest.
    Min,
    /// The largest.
    Max,
    /// How many there are (nine lots).
    Count,
}

/// A printed value: one number, or the two ends of a range.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Published {
    /// `[21, 59]` (first: an untagged `One` would take an array too).
    Range([toml::Value; 2]),
    /// `53`, `1.8`.
    One(toml::Value),
}

/// The kind of a figure, which decides how it is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A count: equal exactly.
    Count,
    /// A percentage printed as `53`: equal after rounding the fraction × 100 as printed.
    Percent,
    /// An odds ratio: equal at one decimal place (or as many as printed, if more).
    OddsRatio,
    /// Money in pounds: equal as printed.
    Gbp,
    /// Another ratio or quantity: equal as printed.
    Ratio,
    /// Ranges across rows: the smallest and largest, each compared as its unit.
    PercentRange,
    /// See [`Unit::PercentRange`].
    CountRange,
    /// See [`Unit::PercentRange`].
    OddsRatioRange,
    /// See [`Unit::PercentRange`].
    YearsRange,
    /// A month, `"2021-11"`: only a configured figure ([`crate::ConfigRef`]).
    Month,
    /// A day, `"2020-03-23"`: only a configured figure.
    Date,
    /// Anything else, compared as printed.
    Other,
}

impl Unit {
    /// The name the register uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Percent => "percent",
            Unit::OddsRatio => "odds_ratio",
            Unit::Gbp => "gbp",
            Unit::Ratio => "ratio",
            Unit::PercentRange => "percent_range",
            Unit::CountRange => "count_range",
            Unit::OddsRatioRange => "odds_ratio_range",
            Unit::YearsRange => "years_range",
            Unit::Month => "month",
            Unit::Date => "date",
            Unit::Other => "other",
        }
    }

    /// Whether the published value is a `[lo, hi]` pair.
    pub fn is_range(self) -> bool {
        matches!(
            self,
            Unit::PercentRange | Unit::CountRange | Unit::OddsRatioRange | Unit::YearsRange
        )
    }

    /// The unit of each end of a range (itself otherwise).
    pub fn scalar(self) -> Unit {
        match self {
            Unit::PercentRange => Unit::Percent,
            Unit::CountRange | Unit::YearsRange => Unit::Count,
            Unit::OddsRatioRange => Unit::OddsRatio,
            other => other,
        }
    }
}

/// Where a figure's number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Providers' management information.
    Mi,
    /// The commissioner's claims extract.
    Claims,
    /// A regression model on the MI.
    Model,
    /// The qualitative interviews.
    Interviews,
    /// Programme documents (contracts, targets).
    Documents,
    /// Outside the programme (ONS, DWP).
    External,
}

impl Source {
    /// The name used in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Mi => "mi",
            Source::Claims => "claims",
            Source::Model => "model",
            Source::Interviews => "interviews",
            Source::Documents => "documents",
            Source::External => "external",
        }
    }
}

/// The output cell(s) that reproduce a figure.
///
/// A selector (`row`, `rows`, `except`) maps columns to the cell text a row must have there:
/// one value (`category = "Female"`) or, in `rows` and `except`, a list of which a row may have
/// any (`lot_name = ["Camp Hill", "Cannock North"]`); a row is selected when every column
/// matches. So that a misspelt name cannot silently select or exclude nothing, check wants each
/// value of a list and of `except` to be in some row it could apply to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reproduce {
    /// Output table: a query's table name, or `models/<id>/<table>`.
    pub table: String,
    /// Cells that pick exactly one row…
    #[serde(default)]
    pub row: Option<BTreeMap<String, toml::Value>>,
    /// …or, for a range or a sum, the rows it spans (`{}`: every row of the table)…
    #[serde(default)]
    pub rows: Option<BTreeMap<String, toml::Value>>,
    /// …less the rows this selects: a range over "the other lots" names the lots it leaves out.
    #[serde(default)]
    pub except: Option<BTreeMap<String, toml::Value>>,
    /// The value is the sum of `column` over `rows` (not a range): a share of several categories
    /// together ("Shard End and Washwood Heath", "under £200 a week"). A sum of fractions is the
    /// share of the union only when the rows are disjoint parts of one base, as the categories of
    /// one characteristic are; check compares every summed row's N with the stated one.
    #[serde(default)]
    pub sum: bool,
    /// The column holding the value.
    pub column: String,
}

/// An inconsistency inside the published documents.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Erratum {
    /// Stable id.
    pub id: String,
    /// What kind of inconsistency.
    pub kind: ErratumKind,
    /// Register figures involved.
    #[serde(default)]
    pub figures: Vec<String>,
    /// Where it is printed.
    #[serde(rename = "where")]
    pub location: String,
    /// Line of the document's text file.
    #[serde(default)]
    pub line: Option<u32>,
    /// What is wrong.
    pub description: String,
    /// The arithmetic that shows it.
    pub arithmetic: String,
    /// For a figure of the erratum, the values the other documents print for it, or a value
    /// or `[lo, hi]` range (inclusive, at the printed precision) the published figures force:
    /// a run or configuration holding one of them follows the documents, not the printed
    /// value in question.
    #[serde(default)]
    pub accept: BTreeMap<String, Vec<toml::Value>>,
    /// Likewise for a figure's N: the N (or `[lo, hi]` range of N) the documents force when the
    /// stated one is the erratum, for a run that gives the printed value on it.
    #[serde(default)]
    pub accept_n: BTreeMap<String, Vec<toml::Value>>,
    /// For a figure of the erratum, the published figures that contradict it: a run that
    /// reproduces every one of them cannot reproduce it, so it follows the documents there.
    #[serde(default)]
    pub instead: BTreeMap<String, Vec<String>>,
    /// The document it is from (filled in on loading).
    #[serde(skip_deserializing, default)]
    pub document: String,
}

/// Kinds of errata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErratumKind {
    /// A percentage does not match its count and N.
    PercentVsCount,
    /// The same figure is given two values.
    Inconsistent,
    /// A comparison is stated the wrong way round.
    Backwards,
    /// A percentage is of another base than stated.
    Base,
    /// Parts do not add up to their total.
    Total,
    /// "Error! Reference source not found."
    BrokenReference,
    /// Anything else.
    Other,
}

/// The key cells of a row selector as text, the way table cells are compared.
pub fn key_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Register {
    /// Reads every `*.toml` of `pipeline/published/` (file-name order) and checks the whole:
    /// unique ids, one of `reproduce` or `not_reproducible` per figure, a pair for a range and
    /// one number otherwise, `row` or `rows` as the unit needs (`rows` with `sum` for one
    /// number), selectors of scalars (lists only in `rows` and `except`, `except` only with
    /// `rows` and not leaving every row out), errata naming known figures;
    /// `extracts.toml`, if there is one, with unique ids and months, exactly one default, and
    /// every figure's `extract` declared in it.
    pub fn load(pipeline: &Path) -> Result<Register> {
        let dir = pipeline.join(REGISTER_DIR);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|source| Error::Read {
                path: dir.clone(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .filter(|p| p.file_name().is_none_or(|n| n != EXTRACTS_FILE))
            .collect();
        files.sort();
        let extracts_path = dir.join(EXTRACTS_FILE);
        let mut register = Register {
            pipeline: pipeline.to_path_buf(),
            documents: Vec::new(),
            figures: Vec::new(),
            errata: Vec::new(),
            extracts: if extracts_path.is_file() {
                load_extracts(&extracts_path)?
            } else {
                Vec::new()
            },
        };
        let mut ids = BTreeSet::new();
        let mut erratum_ids = BTreeSet::new();
        for path in &files {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            let file: RegisterFile = toml::from_str(&text).map_err(|e| Error::Register {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let invalid = |message: String| Error::Register {
                path: path.clone(),
                message,
            };
            for mut f in file.figure {
                f.document = file.document.id.clone();
                check_figure(&f).map_err(|m| invalid(format!("figure `{}`: {m}", f.id)))?;
                if let Some(x) = &f.extract
                    && !register.extracts.iter().any(|e| &e.id == x)
                {
                    let declared = if register.extracts.is_empty() {
                        format!("{REGISTER_DIR}/{EXTRACTS_FILE} declares none")
                    } else {
                        let ids: Vec<&str> =
                            register.extracts.iter().map(|e| e.id.as_str()).collect();
                        format!("{REGISTER_DIR}/{EXTRACTS_FILE} declares {}", ids.join(", "))
                    };
                    return Err(invalid(format!(
                        "figure `{}` names unknown extract `{x}` ({declared})",
                        f.id
                    )));
                }
                if !ids.insert(f.id.clone()) {
                    return Err(invalid(format!("figure id `{}` is used twice", f.id)));
                }
                register.figures.push(f);
            }
            for mut e in file.erratum {
                e.document = file.document.id.clone();
                if !erratum_ids.insert(e.id.clone()) {
                    return Err(invalid(format!("erratum id `{}` is used twice", e.id)));
                }
                register.errata.push(e);
            }
            register.documents.push(file.document);
        }
        if register.documents.is_empty() {
            return Err(Error::Register {
                path: dir,
                message: "no register file (*.toml)".into(),
            });
        }
        for e in &register.errata {
            if let Some(unknown) = e.figures.iter().find(|f| !ids.contains(*f)) {
                return Err(Error::Register {
                    path: dir.clone(),
                    message: format!("erratum `{}` names unknown figure `{unknown}`", e.id),
                });
            }
            if let Some(other) = e.instead.keys().find(|f| !e.figures.contains(*f)) {
                return Err(Error::Register {
                    path: dir.clone(),
                    message: format!(
                        "erratum `{}`: `instead` names `{other}`, which is not one of its figures",
                        e.id
                    ),
                });
            }
            if let Some(unknown) = e.instead.values().flatten().find(|f| !ids.contains(*f)) {
                return Err(Error::Register {
                    path: dir.clone(),
                    message: format!(
                        "erratum `{}`: `instead` names unknown figure `{unknown}`",
                        e.id
                    ),
                });
            }
            if let Some(other) = e
                .accept
                .keys()
                .chain(e.accept_n.keys())
                .find(|f| !e.figures.contains(*f))
            {
                return Err(Error::Register {
                    path: dir.clone(),
                    message: format!(
                        "erratum `{}`: `accept` names `{other}`, which is not one of its figures",
                        e.id
                    ),
                });
            }
        }
        Ok(register)
    }

    /// The extract every figure that names none is of (`None` when none are declared).
    pub fn default_extract(&self) -> Option<&Extract> {
        self.extracts.iter().find(|e| e.default)
    }

    /// The extract a figure was computed from: its own, else the default.
    pub fn extract_of(&self, figure: &Figure) -> Option<&Extract> {
        match &figure.extract {
            Some(id) => self.extract(id),
            None => self.default_extract(),
        }
    }

    /// The extract with this id.
    pub fn extract(&self, id: &str) -> Option<&Extract> {
        self.extracts.iter().find(|e| e.id == id)
    }

    /// The errata a figure is part of.
    pub fn errata_of(&self, figure: &str) -> Vec<&Erratum> {
        self.errata
            .iter()
            .filter(|e| e.figures.iter().any(|f| f == figure))
            .collect()
    }
}

/// Reads and checks `extracts.toml`: unique ids and months, `YYYY-MM` months, one default.
fn load_extracts(path: &Path) -> Result<Vec<Extract>> {
    let invalid = |message: String| Error::Register {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: ExtractsFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let mut ids = BTreeSet::new();
    let mut months: BTreeMap<&str, &str> = BTreeMap::new();
    for e in &file.extract {
        if !ids.insert(e.id.as_str()) {
            return Err(invalid(format!("extract id `{}` is used twice", e.id)));
        }
        if !is_year_month(&e.mi_to) {
            return Err(invalid(format!(
                "extract `{}`: mi_to `{}` is not a year and month (YYYY-MM)",
                e.id, e.mi_to
            )));
        }
        // A run is told apart by its MI month: two extracts of one month could not be.
        if let Some(other) = months.insert(e.mi_to.as_str(), e.id.as_str()) {
            return Err(invalid(format!(
                "extracts `{other}` and `{}` both run to {}: a run could not be told apart",
                e.id, e.mi_to
            )));
        }
    }
    let defaults: Vec<&str> = file
        .extract
        .iter()
        .filter(|e| e.default)
        .map(|e| e.id.as_str())
        .collect();
    match defaults.len() {
        1 => Ok(file.extract),
        0 if file.extract.is_empty() => Err(invalid("no [[extract]] declared".into())),
        0 => Err(invalid(
            "no extract is the default: mark the one most figures are from `default = true`".into(),
        )),
        _ => Err(invalid(format!(
            "extracts {} are each marked default: exactly one can be",
            defaults
                .iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        ))),
    }
}

/// `2022-01`: four digits, a dash, a month 01–12.
pub(crate) fn is_year_month(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(text[5..].parse::<u8>(), Ok(1..=12))
}

fn check_figure(f: &Figure) -> std::result::Result<(), String> {
    match (&f.value, f.unit.is_range()) {
        (Published::Range(_), false) => {
            return Err(format!(
                "a [lo, hi] value needs a range unit, not `{}`",
                f.unit.as_str()
            ));
        }
        (Published::One(_), true) => {
            return Err(format!("a `{}` needs a [lo, hi] value", f.unit.as_str()));
        }
        _ => {}
    }
    if let Some(c) = &f.config {
        if f.reproduce.is_some() || f.not_reproducible.is_some() || f.n_column.is_some() {
            return Err(
                "give one of `reproduce`, `config` or `not_reproducible` (and `n_column` only \
                 with `reproduce`)"
                    .into(),
            );
        }
        if c.reduce.is_some() != c.key.contains("[*]") {
            return Err(format!(
                "config key `{}`: `reduce` goes with a `[*]`, and a `[*]` needs `reduce`",
                c.key
            ));
        }
        return published_config(f).map(|_| ());
    }
    if matches!(f.unit, Unit::Month | Unit::Date) {
        return Err(format!(
            "a `{}` is a configured figure: give `config`",
            f.unit.as_str()
        ));
    }
    let numbers: Vec<&toml::Value> = match &f.value {
        Published::One(v) => vec![v],
        Published::Range(r) => r.iter().collect(),
    };
    if let Some(v) = numbers.iter().find(|v| number(v).is_none()) {
        return Err(format!("value `{v}` is not a number"));
    }
    match (&f.reproduce, &f.not_reproducible) {
        (Some(_), Some(_)) => Err("give `reproduce` or `not_reproducible`, not both".into()),
        (None, None) => Err("give `reproduce`, `config` or `not_reproducible`".into()),
        (None, Some(_)) if f.n_column.is_some() => Err("`n_column` needs `reproduce`".into()),
        (Some(r), None) => {
            match (&r.row, &r.rows, f.unit.is_range(), r.sum) {
                (Some(_), None, false, false)
                | (None, Some(_), true, false)
                | (None, Some(_), false, true) => {}
                (_, _, true, true) => {
                    return Err(format!(
                        "`sum` gives one number, a `{}` needs two: drop `sum` or give a single unit",
                        f.unit.as_str()
                    ));
                }
                (_, _, false, true) => {
                    return Err("`sum` adds up `rows` (the rows summed), not `row`".into());
                }
                (_, _, false, false) => {
                    return Err(
                        "`reproduce` needs `row` (one row), not `rows` (or `sum = true` to add them up)"
                            .into(),
                    );
                }
                (_, _, true, false) => {
                    return Err("a range needs `rows` (the rows it spans), not `row`".into());
                }
            }
            check_selector(r)?;
            if f.n_column.is_some() && f.n.is_none() {
                return Err("`n_column` without a published `n`".into());
            }
            Ok(())
        }
        (None, Some(_)) => Ok(()),
    }
}

/// The selector's own consistency: values are scalars (lists only in `rows` and `except`, and
/// not empty), `except` narrows `rows`, and does not leave out every row `rows` picks.
fn check_selector(r: &Reproduce) -> std::result::Result<(), String> {
    let scalar = |v: &toml::Value| {
        matches!(
            v,
            toml::Value::String(_)
                | toml::Value::Integer(_)
                | toml::Value::Float(_)
                | toml::Value::Boolean(_)
        )
    };
    let values = |name: &str, key: &BTreeMap<String, toml::Value>, lists: bool| {
        for (column, v) in key {
            match v {
                toml::Value::Array(items) if lists => {
                    if items.is_empty() {
                        return Err(format!(
                            "`{name}.{column}` is an empty list: it selects no row"
                        ));
                    }
                    if let Some(bad) = items.iter().find(|i| !scalar(i)) {
                        return Err(format!(
                            "`{name}.{column}` lists `{bad}`: give text, numbers or true/false"
                        ));
                    }
                }
                toml::Value::Array(_) => {
                    return Err(format!(
                        "`{name}.{column}` is a list, but `{name}` picks one row: give one value \
                         (or use `rows`)"
                    ));
                }
                v if !scalar(v) => {
                    return Err(format!(
                        "`{name}.{column}` is `{v}`: give text, a number or true/false"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    };
    if let Some(row) = &r.row {
        values("row", row, false)?;
    }
    if let Some(rows) = &r.rows {
        values("rows", rows, true)?;
    }
    let Some(except) = &r.except else {
        return Ok(());
    };
    let Some(rows) = &r.rows else {
        return Err("`except` leaves rows out of `rows`; `row` picks one row already".into());
    };
    if except.is_empty() {
        return Err("`except` is empty: it leaves nothing out (remove it)".into());
    }
    values("except", except, true)?;
    // Every row `rows` picks has, in each column `except` names, a value `except` lists: then
    // nothing is left.
    let texts = |v: &toml::Value| -> BTreeSet<String> { accepted(v).into_iter().collect() };
    let everything = except.iter().all(|(column, out)| {
        rows.get(column)
            .is_some_and(|kept| texts(kept).is_subset(&texts(out)))
    });
    if everything {
        return Err("`except` leaves out every row `rows` selects".into());
    }
    Ok(())
}

/// The values a selector cell accepts, as text: one, or each of a list.
pub fn accepted(v: &toml::Value) -> Vec<String> {
    match v {
        toml::Value::Array(items) => items.iter().map(key_text).collect(),
        other => vec![key_text(other)],
    }
}

/// A TOML number as f64.
pub fn number(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(x) => Some(*x),
        _ => None,
    }
}

/// Decimal places a value was printed with: `53` → 0, `1.8` → 1, `0.25` → 2.
pub fn decimals(v: &toml::Value) -> u32 {
    match v {
        toml::Value::Float(x) => {
            let text = format!("{x}");
            text.split_once('.')
                .map_or(0, |(_, frac)| frac.len() as u32)
        }
        _ => 0,
    }
}

/// A configured figure's published value as text, as its unit prints it.
pub(crate) fn published_config(f: &Figure) -> Result<String, String> {
    match &f.value {
        Published::One(v) => printed(v, f.unit, 0.0),
        // A range ("over a 6-10 week period") is a configured pair, first and last.
        Published::Range([lo, hi]) => printed_range(lo, hi, f.unit, 0.0),
    }
}

/// A range's two ends as `unit` prints them, `first–last`: the published range and the
/// configured pair are written alike so that they compare as text.
pub(crate) fn printed_range(
    lo: &toml::Value,
    hi: &toml::Value,
    unit: Unit,
    offset: f64,
) -> Result<String, String> {
    Ok(format!(
        "{}–{}",
        printed(lo, unit, offset)?,
        printed(hi, unit, offset)?
    ))
}

/// A register value (an erratum's accepted one) as `unit` prints it.
pub(crate) fn printed_as(v: &toml::Value, unit: Unit) -> Result<String, String> {
    printed(v, unit, 0.0)
}

/// A value as `unit` prints it: a date's month or day, a number without trailing zeros.
pub(crate) fn printed(v: &toml::Value, unit: Unit, offset: f64) -> Result<String, String> {
    match unit {
        Unit::Month | Unit::Date => {
            let text = match v {
                toml::Value::Datetime(d) => d
                    .date
                    .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
                    .ok_or_else(|| format!("`{v}` has no date"))?,
                toml::Value::String(s) => s.clone(),
                other => return Err(format!("`{other}` is not a date")),
            };
            let len = if unit == Unit::Month { 7 } else { 10 };
            text.get(..len)
                .filter(|t| is_date_prefix(t))
                .map(str::to_string)
                .ok_or_else(|| format!("`{text}` is not a {}", unit.as_str()))
        }
        // A list of one (a model's excluded lots) is its element; text is compared as written.
        Unit::Other => match v {
            toml::Value::Array(items) if items.len() == 1 => printed(&items[0], unit, offset),
            toml::Value::String(text) => Ok(text.clone()),
            other => number(other)
                .map(|n| key_text(&toml::Value::Float(n + offset)))
                .ok_or_else(|| format!("`{other}` is neither text, a number nor a list of one")),
        },
        _ => {
            let n = number(v).ok_or_else(|| format!("`{v}` is not a number"))? + offset;
            Ok(key_text(&if n.fract() == 0.0 && n.abs() < 9e15 {
                toml::Value::Integer(n as i64)
            } else {
                toml::Value::Float(n)
            }))
        }
    }
}

fn is_date_prefix(t: &str) -> bool {
    t.bytes().enumerate().all(|(i, b)| {
        if i == 4 || i == 7 {
            b == b'-'
        } else {
            b.is_ascii_digit()
        }
    })
}
