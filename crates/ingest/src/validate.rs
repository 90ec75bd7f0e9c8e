//! Row validation against a data dictionary.
//!
//! A row is parsed column by column into typed [`Value`]s, then the cross-field rules of the
//! dictionary are applied. Every rule a row breaks becomes a [`Finding`]; a row with any finding
//! is quarantined, never half-used. Messages never quote the value of an identifier column.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use evalpipe_study::{Bound, Code, ColumnSpec, ColumnType, Dictionary};

use crate::source::RawRow;

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
}

impl HeaderProblem {
    /// One message naming the missing, unexpected and duplicated columns.
    pub fn message(&self) -> String {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing column(s) {}", quoted(&self.missing)));
        }
        if !self.unexpected.is_empty() {
            parts.push(format!(
                "unexpected column(s) {}{}",
                quoted(&self.unexpected),
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
                quoted(&self.duplicated)
            ));
        }
        format!("header does not match the data tool: {}", parts.join("; "))
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

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
    })
}

/// A row that passed parsing: typed single values in dictionary order, recorded multi-select
/// flags, and derived values in `dict.derived` order.
#[derive(Debug, Clone)]
pub struct CheckedRow {
    /// One value per dictionary column.
    pub values: Vec<Value>,
    /// (question id, option code, answer) for every recorded flag.
    pub answers: Vec<(String, String, bool)>,
    /// One value per derived column.
    pub derived: Vec<Value>,
}

/// Validates rows of one file against a dictionary.
pub struct Validator<'a> {
    dict: &'a Dictionary,
    codes: &'a BTreeMap<String, Vec<Code>>,
    header: HeaderMap,
    /// The lot a per-lot file was sent for.
    file_lot: Option<String>,
}

impl<'a> Validator<'a> {
    /// A validator for a file with this header map.
    pub fn new(
        dict: &'a Dictionary,
        codes: &'a BTreeMap<String, Vec<Code>>,
        header: HeaderMap,
        file_lot: Option<String>,
    ) -> Self {
        Validator {
            dict,
            codes,
            header,
            file_lot,
        }
    }

    /// Raw text of a dictionary column in a row.
    pub fn raw<'r>(&self, row: &'r RawRow, column: &str) -> Option<&'r str> {
        let i = self.dict.columns.iter().position(|c| c.name == column)?;
        row.fields.get(self.header.columns[i]).map(String::as_str)
    }

    /// Non-identifier raw values of a row, by column name (for the quarantine record).
    pub fn safe_values(&self, row: &RawRow) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (spec, &i) in self.dict.columns.iter().zip(&self.header.columns) {
            if spec.identifier.is_none() {
                let v = row.fields.get(i).cloned().unwrap_or_default();
                if !v.is_empty() {
                    out.insert(spec.name.clone(), v);
                }
            }
        }
        for (qi, option, i) in &self.header.flags {
            let v = row.fields.get(*i).cloned().unwrap_or_default();
            if !v.is_empty() {
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
            .map(|&i| row.fields.get(i).map_or("", String::as_str))
            .collect();
        let values: Vec<Value> = self
            .dict
            .columns
            .iter()
            .zip(&texts)
            .map(|(spec, text)| match self.parse(spec, text) {
                Ok(v) => v,
                Err(f) => {
                    findings.push(f);
                    Value::Null
                }
            })
            .collect();
        let lookup = |name: &str| -> (&Value, &str) {
            let i = self
                .dict
                .columns
                .iter()
                .position(|c| c.name == name)
                .unwrap_or(0);
            (&values[i], texts[i])
        };
        for (spec, (value, text)) in self.dict.columns.iter().zip(values.iter().zip(&texts)) {
            if text.is_empty() {
                continue;
            }
            self.cross_rules(spec, value, &lookup, &mut findings);
        }

        let mut answers = Vec::new();
        for (qi, option, i) in &self.header.flags {
            let q = &self.dict.questions[*qi];
            let text = row.fields.get(*i).map_or("", String::as_str);
            if text.is_empty() {
                continue;
            }
            let column = format!("{}{}", q.column_prefix, option);
            match parse_flag(text) {
                Some(b) => answers.push((q.id.clone(), option.clone(), b)),
                None => findings.push(finding(
                    "invalid_flag",
                    &column,
                    format!("`{column}` is `{text}`; a flag must be Y, N or blank"),
                )),
            }
            if let Some(w) = &q.applies_when {
                let (_, other) = lookup(&w.column);
                if !w.holds(other) {
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

    fn shown(spec: &ColumnSpec, text: &str) -> String {
        if spec.identifier.is_some() {
            "(value withheld: identifier)".to_string()
        } else {
            format!("`{text}`")
        }
    }

    fn parse(&self, spec: &ColumnSpec, text: &str) -> Result<Value, Finding> {
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
        let shown = Self::shown(spec, text);
        let value = match spec.kind {
            ColumnType::Text => Value::Text(text.to_string()),
            ColumnType::Flag => parse_flag(text).map(Value::Bool).ok_or_else(|| {
                finding(
                    "invalid_flag",
                    name,
                    format!("`{name}` is {shown}; a flag must be Y, N or blank"),
                )
            })?,
            ColumnType::Code => {
                let list = spec.codes.as_deref().unwrap_or_default();
                let codes = self.codes.get(list).map(Vec::as_slice).unwrap_or(&[]);
                match codes.iter().find(|c| c.code.eq_ignore_ascii_case(text)) {
                    Some(c) => Value::Text(c.code.clone()),
                    None => {
                        let allowed: Vec<&str> = codes.iter().map(|c| c.code.as_str()).collect();
                        return Err(finding(
                            "unknown_code",
                            name,
                            format!("`{name}` is {shown}, not one of {}", allowed.join(", ")),
                        ));
                    }
                }
            }
            ColumnType::Date => {
                let format = &self.dict.dataset.date_format;
                match NaiveDate::parse_from_str(text, format) {
                    Ok(d) => Value::Date(d),
                    Err(_) => {
                        return Err(finding(
                            "invalid_date",
                            name,
                            format!(
                                "`{name}` is {shown}, not a real date in {}",
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
                        format!("`{name}` is {shown}, not a whole number"),
                    ));
                }
            },
            ColumnType::Number => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                _ => {
                    return Err(finding(
                        "invalid_number",
                        name,
                        format!("`{name}` is {shown}, not a number"),
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
                            "`{name}` is {shown}; money is pounds with up to two decimals and no symbol"
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
                    format!("`{name}` is {shown}, {side} the limit {limit}"),
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
        findings: &mut Vec<Finding>,
    ) {
        let name = &spec.name;
        let fmt = |d: NaiveDate| d.format(&self.dict.dataset.date_format).to_string();
        if let Some(w) = &spec.applies_when {
            let (_, other) = lookup(&w.column);
            if !w.holds(other) {
                let actual = if other.is_empty() {
                    "blank".to_string()
                } else {
                    format!("`{other}`")
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
        if let Some(other) = &spec.not_before
            && let (Value::Date(o), _) = lookup(other)
            && date < *o
        {
            findings.push(finding(
                "date_order",
                name,
                format!("`{name}` {} is before `{other}` {}", fmt(date), fmt(*o)),
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
                        fmt(*o)
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
