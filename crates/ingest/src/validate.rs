//! Row validation against a data dictionary.
//!
//! A row is parsed column by column into typed [`Value`]s, then the cross-field rules of the
//! dictionary are applied. Every rule a row breaks becomes a [`Finding`]; a row with any finding
//! is quarantined, never half-used.
//!
//! Messages quote a value only when it cannot be personal data ([`Guard`]): never an identifier
//! column's, never one equal to an identifier of the same row, never one that looks like an NI
//! number, a postcode, an e-mail address, a telephone number or a date outside a date column,
//! never a long or free-text one; and nothing at all of a row whose fields may be shifted
//! against the header (see [`RawRow::misaligned`]), whose values may belong to any column.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use evalpipe_study::{Bound, Code, ColumnSpec, ColumnType, Dictionary, IdentifierRule};

use crate::source::{RawRow, Suspicion};

/// A parsed field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Blank: not recorded.
    Null,
    /// Text or a canonical code.
    Text(String),
    /// A flag.
    Bool(bool),
    /// A calendar date.
    Date(NaiveDate),
    /// A whole number.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// Money in pence.
    Money(i128),
}

impl Value {
    fn date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }
}

/// One rule a row broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable rule id (`required`, `invalid_date`, `unknown_code`, …).
    pub rule: &'static str,
    /// The column concerned, if one.
    pub column: Option<String>,
    /// What is wrong, in words a provider can act on.
    pub message: String,
}

fn finding(rule: &'static str, column: &str, message: String) -> Finding {
    Finding {
        rule,
        column: Some(column.to_string()),
        message,
    }
}

/// Where each dictionary column sits in a file's header.
#[derive(Debug, Clone)]
pub struct HeaderMap {
    /// Field index of each single column, in dictionary order.
    columns: Vec<usize>,
    /// (question index, option code, field index) for every multi-select flag column.
    flags: Vec<(usize, String, usize)>,
    /// Header names nobody asked for (ignored).
    pub extra: Vec<String>,
    /// The contract's column names.
    pub contract: Vec<String>,
}

/// Why a header cannot be used.
#[derive(Debug, Clone)]
pub struct HeaderProblem {
    /// Contract columns not found.
    pub missing: Vec<String>,
    /// Header names not in the contract.
    pub unexpected: Vec<String>,
    /// Header names given twice.
    pub duplicated: Vec<String>,
    /// The contract's column names.
    pub contract: Vec<String>,
}

impl HeaderProblem {
    /// One message naming the missing, unexpected and duplicated columns.
    pub fn message(&self) -> String {
        // A first row that matches little of the contract is most likely a data row (the header
        // left out): its cells may be a participant's details, so none of them is named.
        let expected = self.contract.len();
        let found = expected - self.missing.len();
        if self.missing.len() * 2 > expected {
            return format!(
                "the first row is not the data tool's header: only {found} of its {expected} \
                 columns are there (is the header row missing?); its cells are not shown"
            );
        }
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "missing column(s) {}",
                header_names(&self.missing, &self.contract)
            ));
        }
        if !self.unexpected.is_empty() {
            parts.push(format!(
                "unexpected column(s) {}{}",
                header_names(&self.unexpected, &self.contract),
                if self.missing.is_empty() {
                    ""
                } else {
                    " (renamed?)"
                }
            ));
        }
        if !self.duplicated.is_empty() {
            parts.push(format!(
                "column(s) given twice {}",
                header_names(&self.duplicated, &self.contract)
            ));
        }
        format!("header does not match the data tool: {}", parts.join("; "))
    }
}

/// Header names as a message lists them: at most [`NAMES_LISTED`], and only those that are
/// plainly column names. A header can hold anything — a data row glued to it by a lost line
/// break, a participant's details in a header-less file — so when any name is not lower-case
/// `snake_case` (a code, a date, a capitalised name), the header is suspect and only names a
/// few edits from the contract's (a misspelt column) are shown; the others are counted.
pub fn header_names(names: &[String], contract: &[String]) -> String {
    let snake = |n: &str| {
        n.len() <= 48
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && longest_digit_run(n) <= 2
    };
    let suspect = !names.iter().all(|n| snake(n));
    let words: std::collections::BTreeSet<&str> =
        contract.iter().flat_map(|c| c.split('_')).collect();
    let column_like = |n: &str| {
        snake(n)
            && (!suspect
                || contract.iter().any(|c| strsim::levenshtein(n, c) <= 3)
                || n.split('_').all(|w| w.len() >= 2 && words.contains(w)))
    };
    let (shown, hidden): (Vec<&String>, Vec<&String>) = names.iter().partition(|n| column_like(n));
    let mut out: Vec<String> = shown
        .iter()
        .take(NAMES_LISTED)
        .map(|n| format!("`{n}`"))
        .collect();
    if shown.len() > NAMES_LISTED {
        out.push(format!("and {} more", shown.len() - NAMES_LISTED));
    }
    if !hidden.is_empty() {
        out.push(format!(
            "{} name(s) not shown (they are not column names of the data tool, and may be data)",
            hidden.len()
        ));
    }
    out.join(", ")
}

/// Names a message lists before it says "and N more".
const NAMES_LISTED: usize = 20;

/// Matches a header to the dictionary, ignoring case and surrounding spaces.
pub fn match_header(
    dict: &Dictionary,
    codes: &BTreeMap<String, Vec<Code>>,
    header: &[String],
) -> Result<HeaderMap, HeaderProblem> {
    let normal: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut index = BTreeMap::new();
    let mut duplicated = Vec::new();
    for (i, name) in normal.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        if index.insert(name.clone(), i).is_some() {
            duplicated.push(header[i].clone());
        }
    }
    let expected = dict.expected_columns(codes);
    let missing: Vec<String> = expected
        .iter()
        .filter(|e| !index.contains_key(&e.to_ascii_lowercase()))
        .cloned()
        .collect();
    let known: std::collections::BTreeSet<String> =
        expected.iter().map(|e| e.to_ascii_lowercase()).collect();
    let extra: Vec<String> = header
        .iter()
        .zip(&normal)
        .filter(|(_, n)| !n.is_empty() && !known.contains(*n))
        .map(|(h, _)| h.clone())
        .collect();
    if !missing.is_empty() || !duplicated.is_empty() {
        return Err(HeaderProblem {
            missing,
            unexpected: extra,
            duplicated,
            contract: expected,
        });
    }
    let at = |name: &str| index[&name.to_ascii_lowercase()];
    let columns = dict.columns.iter().map(|c| at(&c.name)).collect();
    let mut flags = Vec::new();
    for (qi, q) in dict.questions.iter().enumerate() {
        for option in codes.get(&q.options).into_iter().flatten() {
            flags.push((
                qi,
                option.code.clone(),
                at(&format!("{}{}", q.column_prefix, option.code)),
            ));
        }
    }
    Ok(HeaderMap {
        columns,
        flags,
        extra,
        contract: expected,
    })
}

/// A row that passed parsing: typed single values in dictionary order, recorded multi-select
/// flags, and derived values in `dict.derived` order.
#[derive(Debug, Clone)]
pub struct CheckedRow {
    /// One value per dictionary column.
    pub values: Vec<Value>,
    /// (flag, answer) for every recorded flag; [`Validator::answer`] names the flag's question
    /// and option (so a row holds no copy of them).
    pub answers: Vec<(usize, bool)>,
    /// One value per derived column.
    pub derived: Vec<Value>,
}

/// Validates rows of one file against a dictionary.
pub struct Validator<'a> {
    dict: &'a Dictionary,
    header: HeaderMap,
    /// The lot a per-lot file was sent for.
    file_lot: Option<String>,
    /// The year before which no date of the dictionary's falls (a year before its earliest
    /// date bound): a date older than that may be a date of birth.
    floor_year: Option<i32>,
    /// The dictionary's date format, parsed once: parsing it for every date cell was a few
    /// percent of ingest.
    date_items: Vec<chrono::format::Item<'static>>,
    /// Each dictionary column's place, by name: rules and ingest look columns up by name
    /// several times a row, and comparing names along a hundred columns showed in profiles.
    places: HashMap<&'a str, usize, foldhash::fast::FixedState>,
    /// Each column's code list (empty for a column of another type), found once.
    code_lists: Vec<&'a [Code]>,
    /// The columns ingest reads by role.
    pub roles: Roles,
}

/// Where the columns ingest reads by their role are, found once a file: found by name for
/// every row, in both passes, they were 2.6% of ingest at 10M participants.
#[derive(Debug, Clone, Copy, Default)]
pub struct Roles {
    /// The dataset's key.
    pub key: Option<usize>,
    /// The claims' status, whose values say whether a claim counts.
    pub status: Option<usize>,
    /// The two columns that name a claim's participant (when the dataset has two).
    pub who: Option<[Option<usize>; 2]>,
    /// The claims' milestone.
    pub milestone: Option<usize>,
    /// The cohort a milestone is claimed for.
    pub cohort: Option<usize>,
    /// The lot a row is of (`lot_code`).
    pub lot: Option<usize>,
    /// The column pseudonymised.
    pub pseudonym: Option<usize>,
}

impl<'a> Validator<'a> {
    /// A validator for a file with this header map.
    pub fn new(
        dict: &'a Dictionary,
        codes: &'a BTreeMap<String, Vec<Code>>,
        header: HeaderMap,
        file_lot: Option<String>,
    ) -> Self {
        let floor_year = dict
            .columns
            .iter()
            .filter(|c| c.identifier.is_none())
            .filter_map(|c| match c.min {
                Some(Bound::Date(d)) => Some(d.year() - 1),
                _ => None,
            })
            .min();
        let date_items = chrono::format::StrftimeItems::new(&dict.dataset.date_format)
            .parse_to_owned()
            .unwrap_or_default();
        let places = dict
            .columns
            .iter()
            .enumerate()
            .rev()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let code_lists = dict
            .columns
            .iter()
            .map(|c| {
                c.codes
                    .as_deref()
                    .and_then(|list| codes.get(list))
                    .map_or(&[][..], Vec::as_slice)
            })
            .collect();
        let mut validator = Validator {
            dict,
            header,
            file_lot,
            floor_year,
            date_items,
            places,
            code_lists,
            roles: Roles::default(),
        };
        let place = |name: Option<&str>| name.and_then(|n| validator.place(n));
        let data = &dict.dataset;
        validator.roles = Roles {
            key: place(Some(&data.key)),
            status: place(data.counted_status.as_ref().map(|s| s.column.as_str())),
            who: match data.participant.as_slice() {
                [a, b] => Some([place(Some(a)), place(Some(b))]),
                _ => None,
            },
            milestone: place(data.milestone_column.as_deref()),
            cohort: place(data.cohort_column.as_deref()),
            lot: place(Some("lot_code")),
            pseudonym: dict
                .columns
                .iter()
                .position(|c| c.identifier == Some(IdentifierRule::Pseudonymise)),
        };
        validator
    }

    /// `text` as a date in the dictionary's format.
    fn date(&self, text: &str) -> Option<NaiveDate> {
        let mut parsed = chrono::format::Parsed::new();
        chrono::format::parse(&mut parsed, text, self.date_items.iter()).ok()?;
        parsed.to_naive_date().ok()
    }

    /// The question id and option code of the `flag`th multi-select flag of the header (as in
    /// [`CheckedRow::answers`]).
    pub fn answer(&self, flag: usize) -> (&str, &str) {
        let (qi, option, _) = &self.header.flags[flag];
        (&self.dict.questions[*qi].id, option)
    }

    /// The place among the dictionary's questions of the `flag`th flag's question.
    pub fn question_of(&self, flag: usize) -> usize {
        self.header.flags[flag].0
    }

    /// Raw text of the dictionary column at `place` (see [`Roles`]) in a row.
    pub fn raw_at<'r>(&self, row: &'r RawRow, place: Option<usize>) -> Option<&'r str> {
        row.fields.get(self.header.columns[place?])
    }

    /// The raw values of a row that may be kept with its quarantine record, by column name:
    /// those [`Guard`] lets through, and none of a misaligned row.
    pub fn safe_values(&self, row: &RawRow) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if row.misaligned() {
            return out;
        }
        let guard = self.guard(row);
        for (spec, &i) in self.dict.columns.iter().zip(&self.header.columns) {
            let v = row.fields.get(i).unwrap_or_default().to_string();
            if !v.is_empty() && guard.may_quote(spec.kind, spec.identifier.is_some(), &v) {
                out.insert(spec.name.clone(), v);
            }
        }
        for (qi, option, i) in &self.header.flags {
            let v = row.fields.get(*i).unwrap_or_default().to_string();
            if !v.is_empty() && guard.may_quote(ColumnType::Flag, false, &v) {
                out.insert(
                    format!("{}{}", self.dict.questions[*qi].column_prefix, option),
                    v,
                );
            }
        }
        out
    }

    /// Parses and checks one row. Returns the typed row and every finding (empty = clean).
    pub fn check(&self, row: &RawRow) -> (CheckedRow, Vec<Finding>) {
        if row.misaligned() {
            return (
                CheckedRow {
                    values: vec![Value::Null; self.dict.columns.len()],
                    answers: Vec::new(),
                    derived: vec![Value::Null; self.dict.derived.len()],
                },
                self.misalignment(row),
            );
        }
        let guard = self.guard(row);
        let mut findings = Vec::new();
        let width = row.fields.len();
        if row.field_count != width {
            findings.push(Finding {
                rule: "field_count",
                column: None,
                message: format!(
                    "row has {} fields but the header has {width}",
                    row.field_count
                ),
            });
        }
        let texts: Vec<&str> = self
            .header
            .columns
            .iter()
            .map(|&i| row.fields.get(i).unwrap_or(""))
            .collect();
        let values: Vec<Value> = self
            .dict
            .columns
            .iter()
            .zip(&texts)
            .zip(&self.code_lists)
            .map(
                |((spec, text), codes)| match self.parse(spec, codes, text, &guard) {
                    Ok(v) => v,
                    Err(f) => {
                        findings.push(f);
                        Value::Null
                    }
                },
            )
            .collect();
        let lookup = |name: &str| -> (&Value, &str) {
            let i = self.place(name).unwrap_or(0);
            (&values[i], texts[i])
        };
        for (spec, (value, text)) in self.dict.columns.iter().zip(values.iter().zip(&texts)) {
            if text.is_empty() {
                continue;
            }
            self.cross_rules(spec, value, &lookup, &guard, &mut findings);
        }

        let mut answers = Vec::new();
        for (flag, (qi, option, i)) in self.header.flags.iter().enumerate() {
            let q = &self.dict.questions[*qi];
            let text = row.fields.get(*i).unwrap_or("");
            if text.is_empty() {
                continue;
            }
            // Named only for a finding: a clean row allocates nothing per flag.
            let column = || format!("{}{}", q.column_prefix, option);
            match parse_flag(text) {
                Some(b) => answers.push((flag, b)),
                None => {
                    let column = column();
                    findings.push(finding(
                        "invalid_flag",
                        &column,
                        format!(
                            "`{column}` is {}; a flag must be Y, N or blank",
                            guard.quote(ColumnType::Flag, false, text)
                        ),
                    ))
                }
            }
            if let Some(w) = &q.applies_when {
                let (_, other) = lookup(&w.column);
                if !w.holds(other) {
                    let column = column();
                    findings.push(finding(
                        "not_applicable",
                        &column,
                        format!(
                            "`{column}` is filled but applies only when `{}` is {}",
                            w.column,
                            w.values.join(" or ")
                        ),
                    ));
                }
            }
        }

        let derived = self
            .dict
            .derived
            .iter()
            .map(|d| {
                let (from, _) = lookup(&d.from);
                let (at, _) = lookup(&d.at);
                match (from.date(), at.date()) {
                    (Some(birth), Some(at)) => {
                        age_in_years(birth, at).map_or(Value::Null, Value::Int)
                    }
                    _ => Value::Null,
                }
            })
            .collect();
        (
            CheckedRow {
                values,
                answers,
                derived,
            },
            findings,
        )
    }

    /// What may be quoted of this row's values.
    fn guard<'r>(&self, row: &'r RawRow) -> Guard<'r> {
        let identifiers = self
            .dict
            .columns
            .iter()
            .zip(&self.header.columns)
            .filter(|(spec, _)| spec.identifier.is_some())
            .filter_map(|(_, &i)| row.fields.get(i))
            .filter(|v| !v.is_empty())
            .collect();
        Guard {
            identifiers,
            floor_year: self.floor_year,
        }
    }

    /// The findings of a row whose fields may not line up with the header: what is wrong with
    /// its shape, and not one of its values.
    fn misalignment(&self, row: &RawRow) -> Vec<Finding> {
        let last = row.line + row.lines.saturating_sub(1);
        row.suspect
            .iter()
            .map(|s| match s {
                Suspicion::FieldCount { found, expected } => Finding {
                    rule: "field_count",
                    column: None,
                    message: format!(
                        "the row has {found} fields but the header has {expected}, so its values \
                         may be under the wrong columns (an unquoted comma, or a stray quote?); \
                         none of them is shown or used"
                    ),
                },
                Suspicion::LineBreaks { lines } => Finding {
                    rule: "line_break",
                    column: None,
                    message: format!(
                        "the row runs over {lines} lines ({}–{last}): a quote opened on line {} \
                         is closed only {} line(s) later, so those lines were read as one row \
                         (a stray `\"`?); none of it is shown or used",
                        row.line,
                        row.line,
                        lines - 1
                    ),
                },
                Suspicion::LongField { field, bytes } => Finding {
                    rule: "long_field",
                    column: self.column_at(*field),
                    message: format!(
                        "field {} is {bytes} bytes long, more than any column of the data tool \
                         holds (a stray quote?); the row is not shown or used",
                        field + 1
                    ),
                },
                Suspicion::Oversized { bytes } => Finding {
                    rule: "long_field",
                    column: None,
                    message: format!(
                        "the row is {bytes} bytes long, more than any row of the data tool \
                         (a stray quote?); it is not shown or used"
                    ),
                },
            })
            .collect()
    }

    /// The dictionary column at a field position of the file, if one is there.
    fn column_at(&self, field: usize) -> Option<String> {
        self.dict
            .columns
            .iter()
            .zip(&self.header.columns)
            .find(|(_, i)| **i == field)
            .map(|(c, _)| c.name.clone())
    }

    fn spec(&self, name: &str) -> Option<&ColumnSpec> {
        self.place(name).map(|i| &self.dict.columns[i])
    }

    /// The place of a dictionary column (the first of its name).
    fn place(&self, name: &str) -> Option<usize> {
        self.places.get(name).copied()
    }

    /// Parses a cell of column `spec`, whose code list (if it is a code) is `codes`.
    fn parse(
        &self,
        spec: &ColumnSpec,
        codes: &[Code],
        text: &str,
        guard: &Guard<'_>,
    ) -> Result<Value, Finding> {
        let name = &spec.name;
        if text.is_empty() {
            if spec.required {
                return Err(finding(
                    "required",
                    name,
                    format!("`{name}` is required but blank"),
                ));
            }
            return Ok(Value::Null);
        }
        // Quoted only for a finding: a clean cell is not copied.
        let shown = || guard.quote(spec.kind, spec.identifier.is_some(), text);
        let value = match spec.kind {
            ColumnType::Text => Value::Text(text.to_string()),
            ColumnType::Flag => parse_flag(text).map(Value::Bool).ok_or_else(|| {
                finding(
                    "invalid_flag",
                    name,
                    format!("`{name}` is {}; a flag must be Y, N or blank", shown()),
                )
            })?,
            ColumnType::Code => match codes.iter().find(|c| c.code.eq_ignore_ascii_case(text)) {
                Some(c) => Value::Text(c.code.clone()),
                None => {
                    let allowed: Vec<&str> = codes.iter().map(|c| c.code.as_str()).collect();
                    return Err(finding(
                        "unknown_code",
                        name,
                        format!("`{name}` is {}, not one of {}", shown(), allowed.join(", ")),
                    ));
                }
            },
            ColumnType::Date => {
                let format = &self.dict.dataset.date_format;
                match self.date(text) {
                    Some(d) => Value::Date(d),
                    None => {
                        return Err(finding(
                            "invalid_date",
                            name,
                            format!(
                                "`{name}` is {}, not a real date in {}",
                                shown(),
                                human_format(format)
                            ),
                        ));
                    }
                }
            }
            ColumnType::Integer => match text.parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => {
                    return Err(finding(
                        "invalid_integer",
                        name,
                        format!("`{name}` is {}, not a whole number", shown()),
                    ));
                }
            },
            ColumnType::Number => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                _ => {
                    return Err(finding(
                        "invalid_number",
                        name,
                        format!("`{name}` is {}, not a number", shown()),
                    ));
                }
            },
            ColumnType::Money => match parse_pence(text) {
                Some(p) => Value::Money(p),
                None => {
                    return Err(finding(
                        "invalid_money",
                        name,
                        format!(
                            "`{name}` is {}; money is pounds with up to two decimals and no symbol",
                            shown()
                        ),
                    ));
                }
            },
        };
        let out_of_range = |bound: &Bound, below: bool| -> bool {
            match (bound, &value) {
                (Bound::Date(b), Value::Date(d)) => {
                    if below {
                        d < b
                    } else {
                        d > b
                    }
                }
                (Bound::Number(b), Value::Int(i)) => {
                    if below {
                        (*i as f64) < *b
                    } else {
                        (*i as f64) > *b
                    }
                }
                (Bound::Number(b), Value::Float(f)) => {
                    if below {
                        f < b
                    } else {
                        f > b
                    }
                }
                (Bound::Number(b), Value::Money(p)) => {
                    let pounds = *p as f64 / 100.0;
                    if below { pounds < *b } else { pounds > *b }
                }
                _ => false,
            }
        };
        for (bound, below) in [(spec.min.as_ref(), true), (spec.max.as_ref(), false)] {
            if let Some(bound) = bound
                && out_of_range(bound, below)
            {
                let limit = match bound {
                    Bound::Date(d) => d.format(&self.dict.dataset.date_format).to_string(),
                    Bound::Number(n) => n.to_string(),
                };
                let side = if below { "before/below" } else { "after/above" };
                return Err(finding(
                    "out_of_range",
                    name,
                    format!("`{name}` is {}, {side} the limit {limit}", shown()),
                ));
            }
        }
        Ok(value)
    }

    fn cross_rules<'v>(
        &self,
        spec: &ColumnSpec,
        value: &Value,
        lookup: &dyn Fn(&str) -> (&'v Value, &'v str),
        guard: &Guard<'_>,
        findings: &mut Vec<Finding>,
    ) {
        let name = &spec.name;
        let fmt = |d: NaiveDate| d.format(&self.dict.dataset.date_format).to_string();
        if let Some(w) = &spec.applies_when {
            let (_, other) = lookup(&w.column);
            if !w.holds(other) {
                let actual = match self.spec(&w.column) {
                    _ if other.is_empty() => "blank".to_string(),
                    Some(o) => guard.quote(o.kind, o.identifier.is_some(), other),
                    None => "(value withheld)".to_string(),
                };
                findings.push(finding(
                    "not_applicable",
                    name,
                    format!(
                        "`{name}` is filled but applies only when `{}` is {} (it is {actual})",
                        w.column,
                        w.values.join(" or ")
                    ),
                ));
            }
        }
        if let Some(r) = &spec.requires {
            let (_, other) = lookup(r);
            if other.is_empty() {
                findings.push(finding(
                    "missing_prerequisite",
                    name,
                    format!("`{name}` is filled but `{r}` is blank"),
                ));
            }
        }
        if spec.matches_file_lot
            && let (Some(lot), Value::Text(v)) = (&self.file_lot, value)
            && v != lot
        {
            findings.push(finding(
                "wrong_lot",
                name,
                format!("`{name}` is `{v}` but the file is the extract of lot {lot}"),
            ));
        }
        let Some(date) = value.date() else { return };
        // A date is quoted only if its column may be: never a date of birth.
        let fmt_of = |column: &str, d: NaiveDate| {
            let text = fmt(d);
            match self.spec(column) {
                Some(c) if guard.may_quote(ColumnType::Date, c.identifier.is_some(), &text) => text,
                _ => "(date withheld: it may be personal data)".to_string(),
            }
        };
        let fmt = |d: NaiveDate| fmt_of(name, d);
        if let Some(other) = &spec.not_before
            && let (Value::Date(o), _) = lookup(other)
            && date < *o
        {
            findings.push(finding(
                "date_order",
                name,
                format!(
                    "`{name}` {} is before `{other}` {}",
                    fmt(date),
                    fmt_of(other, *o)
                ),
            ));
        }
        if let Some(m) = &spec.min_weeks_after
            && let (Value::Date(o), _) = lookup(&m.column)
        {
            let earliest = *o + chrono::Days::new(7 * u64::from(m.weeks));
            if date < earliest {
                findings.push(finding(
                    "too_soon",
                    name,
                    format!(
                        "`{name}` {} is less than {} weeks after `{}` {}",
                        fmt(date),
                        m.weeks,
                        m.column,
                        fmt_of(&m.column, *o)
                    ),
                ));
            }
        }
        if let Some(m) = &spec.min_age
            && let (Value::Date(at), _) = lookup(&m.at)
        {
            let old_enough = age_in_years(date, *at).is_some_and(|a| a >= i64::from(m.years));
            if !old_enough {
                // The date of birth is an identifier: say what is wrong, not what it is.
                findings.push(finding(
                    "under_age",
                    name,
                    format!("age at `{}` is under {} (from `{name}`)", m.at, m.years),
                ));
            }
        }
    }
}

/// What of a row's values may be quoted in a message or kept with its quarantine record.
///
/// A provider's file can put personal data anywhere: a surname typed in a code column, an NI
/// number pasted over a date. So a value is quoted only when it is plainly of its column's kind
/// and cannot be personal data; otherwise the message says a value is withheld, which is enough
/// for the provider, who has the file, to find it by its row and column.
pub struct Guard<'r> {
    /// The row's identifier values (reference, names, date of birth, postcode, NI number).
    identifiers: Vec<&'r str>,
    /// Dates before this year are withheld (see [`Validator`]'s `floor_year`).
    floor_year: Option<i32>,
}

/// Longest value ever quoted: the data tool's codes, flags, numbers and dates are short.
const QUOTE_MAX_CHARS: usize = 20;

impl Guard<'_> {
    /// Whether `text`, found in a column of this kind, may be shown.
    pub fn may_quote(&self, kind: ColumnType, identifier: bool, text: &str) -> bool {
        if identifier || text.chars().count() > QUOTE_MAX_CHARS || looks_personal(text) {
            return false;
        }
        if self
            .identifiers
            .iter()
            .any(|id| id.trim().eq_ignore_ascii_case(text.trim()))
        {
            return false;
        }
        let allowed = |c: char| match kind {
            ColumnType::Code | ColumnType::Flag => {
                c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '.' | '/')
            }
            ColumnType::Date => c.is_ascii_digit() || matches!(c, '/' | '-' | '.' | ' ' | ':'),
            ColumnType::Integer | ColumnType::Number | ColumnType::Money => {
                c.is_ascii_digit()
                    || matches!(c, '.' | ',' | '-' | '+' | ' ' | '£' | '$' | 'e' | 'E')
            }
            // Free text is never quoted.
            ColumnType::Text => false,
        };
        // A code is short, or holds a digit but no long run of them (`X`, `yes`, `W1`,
        // `L4PLUS`); a longer word may be a name typed into the wrong column, a long run of
        // digits a participant's reference.
        let code_like = |t: &str| {
            t.chars().count() <= 3
                || (t.chars().any(|c| c.is_ascii_digit())
                    && longest_digit_run(t) <= 2
                    && t.chars().count() <= 10)
        };
        // A date where no date belongs, or one older than any date of the programme, may be a
        // date of birth.
        let date_ok = |t: &str| {
            !looks_like_date(t)
                || (kind == ColumnType::Date
                    && self.floor_year.is_none_or(|floor| {
                        t.split(['/', '-', '.'])
                            .any(|p| p.len() == 4 && p.parse::<i32>().is_ok_and(|y| y >= floor))
                    }))
        };
        text.chars().all(allowed)
            && (!matches!(kind, ColumnType::Code | ColumnType::Flag) || code_like(text))
            && date_ok(text)
    }

    /// `text` quoted for a message, or a note that it is withheld.
    pub fn quote(&self, kind: ColumnType, identifier: bool, text: &str) -> String {
        if identifier {
            "(value withheld: identifier)".to_string()
        } else if self.may_quote(kind, identifier, text) {
            format!("`{text}`")
        } else {
            "(value withheld: it may be personal data)".to_string()
        }
    }
}

/// Whether a value has the shape of an NI number, a UK postcode, an e-mail address or a
/// telephone number.
pub fn looks_personal(text: &str) -> bool {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let b = compact.as_bytes();
    let letters = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_alphabetic);
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    // NI number: two letters, six digits, an optional suffix letter.
    let ni = (b.len() == 8 || b.len() == 9)
        && letters(0..2)
        && digits(2..8)
        && (b.len() == 8 || b[8].is_ascii_alphabetic());
    // Postcode: an outward code of 2–4 characters starting with a letter and holding a digit,
    // then a digit and two letters.
    let postcode = (5..=7).contains(&b.len()) && {
        let (out, inward) = b.split_at(b.len() - 3);
        out[0].is_ascii_alphabetic()
            && out.iter().all(u8::is_ascii_alphanumeric)
            && out.iter().any(u8::is_ascii_digit)
            && inward[0].is_ascii_digit()
            && inward[1..].iter().all(u8::is_ascii_alphabetic)
    };
    let email = compact.contains('@');
    let phone = compact.chars().filter(char::is_ascii_digit).count() >= 9
        && compact
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | '.'));
    ni || postcode || email || phone
}

fn longest_digit_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// Whether a value reads as a calendar date (`14/07/1990`, `1990-07-14`, `14.07.90`).
fn looks_like_date(text: &str) -> bool {
    let parts: Vec<&str> = text.trim().split(['/', '-', '.']).collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whole years from `birth` to `at`; `None` when `at` is before `birth`.
pub fn age_in_years(birth: NaiveDate, at: NaiveDate) -> Option<i64> {
    if at < birth {
        return None;
    }
    let mut years = i64::from(at.year() - birth.year());
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    Some(years)
}

fn parse_flag(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("y") {
        Some(true)
    } else if text.eq_ignore_ascii_case("n") {
        Some(false)
    } else {
        None
    }
}

/// `12`, `12.5`, `12.50` → pence; anything else (symbols, three decimals, signs) → `None`.
fn parse_pence(text: &str) -> Option<i128> {
    let (pounds, pence) = match text.split_once('.') {
        Some((p, d)) => (p, d),
        None => (text, ""),
    };
    if pounds.is_empty() || !pounds.bytes().all(|b| b.is_ascii_digit()) || pounds.len() > 12 {
        return None;
    }
    if pence.len() > 2
        || !pence.bytes().all(|b| b.is_ascii_digit())
        || (text.contains('.') && pence.is_empty())
    {
        return None;
    }
    let whole: i128 = pounds.parse().ok()?;
    let frac: i128 = match pence.len() {
        0 => 0,
        1 => pence.parse::<i128>().ok()? * 10,
        _ => pence.parse().ok()?,
    };
    Some(whole * 100 + frac)
}

fn human_format(format: &str) -> String {
    format
        .replace("%d", "DD")
        .replace("%m", "MM")
        .replace("%Y", "YYYY")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_accepts_pounds_with_up_to_two_decimals() {
        assert_eq!(parse_pence("12"), Some(1200));
        assert_eq!(parse_pence("12.5"), Some(1250));
        assert_eq!(parse_pence("889.00"), Some(88900));
        for bad in ["£12", "12.345", "-3", "12.", ".5", "1,000", "12.5a"] {
            assert_eq!(parse_pence(bad), None, "{bad}");
        }
    }

    #[test]
    fn age_counts_whole_years_to_the_day_before_the_birthday() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(age_in_years(d(2004, 3, 23), d(2020, 3, 22)), Some(15));
        assert_eq!(age_in_years(d(2004, 3, 23), d(2020, 3, 23)), Some(16));
        assert_eq!(age_in_years(d(2020, 1, 1), d(2019, 1, 1)), None);
    }
}
