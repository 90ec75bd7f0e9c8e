//! Data dictionaries (`pipeline/dictionary/*.toml`): the input contract, column by column.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

/// A data dictionary for one kind of extract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dictionary {
    /// File naming, key and dataset-level rules.
    pub dataset: DatasetSpec,
    /// Single-valued columns, in contract order.
    #[serde(rename = "column")]
    pub columns: Vec<ColumnSpec>,
    /// Columns derived at ingest (before identifiers are dropped).
    #[serde(default, rename = "derived")]
    pub derived: Vec<DerivedSpec>,
    /// Multi-select questions, each spread over one flag column per option.
    #[serde(default, rename = "question")]
    pub questions: Vec<QuestionSpec>,
    /// Code lists declared in this file.
    #[serde(default)]
    pub codes: BTreeMap<String, Vec<Code>>,
}

/// Dataset-level part of a dictionary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Name of the clean table ingest writes (`mi` → participants, `claims` → claims).
    pub name: String,
    /// One line for humans.
    pub description: String,
    /// File names start `<prefix>_`.
    pub file_prefix: String,
    /// One file per lot (`<prefix>_<LOT>_<YYYYMMDD>`) or one for the programme (`<prefix>_<YYYYMMDD>`).
    pub per_lot: bool,
    /// Sheet holding the data in a workbook.
    #[serde(default)]
    pub workbook_sheet: Option<String>,
    /// Other sheets a workbook may carry without a finding.
    #[serde(default)]
    pub workbook_expected_sheets: Vec<String>,
    /// Column unique within a file (within a lot for per-lot data).
    pub key: String,
    /// Name the pseudonymised identifier column takes in clean tables.
    pub pseudonym_column: String,
    /// `chrono` format of dates in text.
    pub date_format: String,
    /// Only rows with these values count for the sequence and uniqueness rules.
    #[serde(default)]
    pub counted_status: Option<AppliesWhen>,
    /// Columns identifying a participant across rows (claims).
    #[serde(default)]
    pub participant: Vec<String>,
    /// The column holding the milestone code (claims).
    #[serde(default)]
    pub milestone_column: Option<String>,
    /// The column holding the cohort; with `milestone_column`, a claim's milestone must be one
    /// the study lets that cohort be paid for.
    #[serde(default)]
    pub cohort_column: Option<String>,
    /// A counted milestone needs a counted claim for this earlier milestone.
    #[serde(default)]
    pub milestone_requires: BTreeMap<String, String>,
}

/// Value type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Free text.
    Text,
    /// A value from a code list, matched ignoring case.
    Code,
    /// `Y` / `N`, matched ignoring case; blank is not recorded.
    Flag,
    /// A calendar date in the dataset's date format.
    Date,
    /// A whole number.
    Integer,
    /// A decimal number.
    Number,
    /// Pounds with up to two decimals, no symbol.
    Money,
}

/// What happens to an identifying column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierRule {
    /// A direct identifier: read for derivations and checks, never written anywhere.
    Drop,
    /// Replaced by a keyed pseudonym.
    Pseudonymise,
}

/// One column of the contract and its rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Header name.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Blank is a finding.
    #[serde(default)]
    pub required: bool,
    /// Identifier handling, if the column identifies a person.
    #[serde(default)]
    pub identifier: Option<IdentifierRule>,
    /// Code list for `code` columns.
    #[serde(default)]
    pub codes: Option<String>,
    /// May only be filled when another column has one of some values.
    #[serde(default)]
    pub applies_when: Option<AppliesWhen>,
    /// May only be filled when another column is filled.
    #[serde(default)]
    pub requires: Option<String>,
    /// Date not earlier than another date column.
    #[serde(default)]
    pub not_before: Option<String>,
    /// Date at least some weeks after another date column.
    #[serde(default)]
    pub min_weeks_after: Option<MinWeeksAfter>,
    /// Lower bound.
    #[serde(default)]
    pub min: Option<Bound>,
    /// Upper bound.
    #[serde(default)]
    pub max: Option<Bound>,
    /// Must equal the lot the file was sent for.
    #[serde(default)]
    pub matches_file_lot: bool,
    /// On a date of birth: minimum age at another date.
    #[serde(default)]
    pub min_age: Option<MinAge>,
}

/// A condition on another column's value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliesWhen {
    /// The other column.
    pub column: String,
    /// Values (matched ignoring case) under which the rule's field applies.
    #[serde(rename = "in")]
    pub values: Vec<String>,
}

impl AppliesWhen {
    /// Whether a raw value satisfies the condition.
    pub fn holds(&self, value: &str) -> bool {
        self.values
            .iter()
            .any(|v| v.eq_ignore_ascii_case(value.trim()))
    }
}

/// "At least `weeks` weeks after `column`".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinWeeksAfter {
    /// The earlier date column.
    pub column: String,
    /// Minimum gap in weeks.
    pub weeks: u32,
}

/// "Aged at least `years` on the date in `at`".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinAge {
    /// The date column the age is taken at.
    pub at: String,
    /// Minimum age in whole years.
    pub years: u32,
}

/// A bound: a number for numeric columns, a date for dates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// Numeric bound.
    Number(f64),
    /// Date bound.
    Date(NaiveDate),
}

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::Integer(i) => Ok(Bound::Number(i as f64)),
            toml::Value::Float(f) => Ok(Bound::Number(f)),
            toml::Value::Datetime(dt) => crate::toml_date(&dt)
                .map(Bound::Date)
                .ok_or_else(|| serde::de::Error::custom(format!("`{dt}` is not a calendar date"))),
            other => Err(serde::de::Error::custom(format!(
                "a bound must be a number or a date, not `{other}`"
            ))),
        }
    }
}

/// A column computed at ingest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedSpec {
    /// Output column name.
    pub name: String,
    /// What to compute; `age_in_years` is the one kind so far.
    pub kind: String,
    /// Source column.
    pub from: String,
    /// Reference date column.
    pub at: String,
}

/// A multi-select question: one flag column per option of a code list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionSpec {
    /// Identifier, the `question` value in `participant_answers`.
    pub id: String,
    /// Wording for humans.
    pub label: String,
    /// Flag columns are named `<column_prefix><option code>`.
    pub column_prefix: String,
    /// Code list of the options.
    pub options: String,
    /// The flags may only be filled when another column has one of some values.
    #[serde(default)]
    pub applies_when: Option<AppliesWhen>,
}

/// One code of a code list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// The code as it appears in extracts (matched ignoring case).
    pub code: String,
    /// Label the report prints.
    pub label: String,
    /// Report groupings: grouping name → group label.
    #[serde(default)]
    pub group: BTreeMap<String, String>,
}

impl Dictionary {
    /// Every header the contract requires, in order: single columns, then each question's flags.
    pub fn expected_columns(&self, codes: &BTreeMap<String, Vec<Code>>) -> Vec<String> {
        let mut names: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        for q in &self.questions {
            for option in codes.get(&q.options).into_iter().flatten() {
                names.push(format!("{}{}", q.column_prefix, option.code));
            }
        }
        names
    }

    /// A single column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

pub(crate) fn load(path: &Path) -> crate::Result<Dictionary> {
    crate::read_toml(path)
}

/// Checks that every name a rule refers to exists. Returns the first problem found.
pub(crate) fn check(dict: &Dictionary, codes: &BTreeMap<String, Vec<Code>>) -> Result<(), String> {
    let has = |name: &str| dict.columns.iter().any(|c| c.name == name);
    let date = |name: &str| {
        dict.column(name)
            .is_some_and(|c| c.kind == ColumnType::Date)
    };
    let mut seen = std::collections::BTreeSet::new();
    for name in dict.expected_columns(codes) {
        if !seen.insert(name.clone()) {
            return Err(format!("column `{name}` is declared twice"));
        }
    }
    let pseudonymised = dict
        .columns
        .iter()
        .filter(|c| c.identifier == Some(IdentifierRule::Pseudonymise))
        .count();
    if pseudonymised > 1 {
        return Err("only one column can be pseudonymised".to_string());
    }
    if !has(&dict.dataset.key) {
        return Err(format!("key column `{}` is not declared", dict.dataset.key));
    }
    for c in &dict.columns {
        let at = |what: &str| format!("column `{}`: {what}", c.name);
        match (&c.kind, &c.codes) {
            (ColumnType::Code, None) => return Err(at("a code column needs `codes`")),
            (ColumnType::Code, Some(list)) if !codes.contains_key(list) => {
                return Err(at(&format!("unknown code list `{list}`")));
            }
            (kind, Some(_)) if *kind != ColumnType::Code => {
                return Err(at("only code columns take `codes`"));
            }
            _ => {}
        }
        if let Some(w) = &c.applies_when
            && !has(&w.column)
        {
            return Err(at(&format!(
                "applies_when names unknown column `{}`",
                w.column
            )));
        }
        if let Some(r) = &c.requires
            && !has(r)
        {
            return Err(at(&format!("requires names unknown column `{r}`")));
        }
        for other in [
            c.not_before.as_deref(),
            c.min_weeks_after.as_ref().map(|m| m.column.as_str()),
        ]
        .into_iter()
        .flatten()
        {
            if c.kind != ColumnType::Date || !date(other) {
                return Err(at(&format!(
                    "date rule against `{other}` needs two date columns"
                )));
            }
        }
        if let Some(m) = &c.min_age
            && (c.kind != ColumnType::Date || !date(&m.at))
        {
            return Err(at("min_age needs a date column and a date `at`"));
        }
        for bound in [c.min, c.max].into_iter().flatten() {
            let ok = matches!(
                (bound, c.kind),
                (Bound::Date(_), ColumnType::Date)
                    | (
                        Bound::Number(_),
                        ColumnType::Integer | ColumnType::Number | ColumnType::Money
                    )
            );
            if !ok {
                return Err(at("a bound must match the column type"));
            }
        }
    }
    for d in &dict.derived {
        if d.kind != "age_in_years" {
            return Err(format!("derived `{}`: unknown kind `{}`", d.name, d.kind));
        }
        if !date(&d.from) || !date(&d.at) {
            return Err(format!(
                "derived `{}`: `from` and `at` must be date columns",
                d.name
            ));
        }
    }
    for q in &dict.questions {
        if !codes.contains_key(&q.options) {
            return Err(format!(
                "question `{}`: unknown code list `{}`",
                q.id, q.options
            ));
        }
        if let Some(w) = &q.applies_when
            && !has(&w.column)
        {
            return Err(format!(
                "question `{}`: unknown column `{}`",
                q.id, w.column
            ));
        }
    }
    if let Some(w) = &dict.dataset.counted_status
        && !has(&w.column)
    {
        return Err(format!(
            "counted_status names unknown column `{}`",
            w.column
        ));
    }
    for p in dict
        .dataset
        .participant
        .iter()
        .chain(&dict.dataset.milestone_column)
    {
        if !has(p) {
            return Err(format!("dataset names unknown column `{p}`"));
        }
    }
    Ok(())
}
