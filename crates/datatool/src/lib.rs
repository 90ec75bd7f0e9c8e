//! The providers' common data tool: one Excel workbook per lot, generated from the MI data
//! dictionary (`pipeline/dictionary/mi.toml`) alone, which providers fill in and send back as
//! their extract.
//!
//! The Participants sheet has the contract's columns in order, each with the data validation
//! its dictionary entry implies — a drop-down of the code list, `Y`/`N` for a flag, a date (in
//! the dataset's date format) or a number within the column's bounds — and an input message
//! saying what the column holds and which rules apply. The header is frozen and locked; the
//! code lists stand on a hidden `Lists` sheet, and a `Notes` sheet says how to fill the workbook
//! and name the file. Ingest reads what the tool writes: both follow one dictionary, so the
//! tool cannot offer a value the validator refuses.
//!
//! The data dictionary as a document (Markdown and HTML; [`write_dictionary`]) goes beside the
//! workbooks: every column with its type, code list and labels, rules, and the report tables
//! whose queries name it.
//!
//! Entry points: [`write_workbooks`], [`write_dictionary`].
#![warn(missing_docs)]

mod document;

use std::path::{Path, PathBuf};

use evalpipe_study::{Bound, Code, ColumnSpec, ColumnType, Dictionary, IdentifierRule, Lot, Study};
use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, DataValidationRule, ExcelDateTime, Format, Formula,
    Workbook, Worksheet, XlsxError, column_number_to_name,
};

/// Why the data tool could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The output folder could not be made.
    #[error("cannot create {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The queries, whose headers say which tables use a column, could not be read.
    #[error("reading the queries in {path}: {message}")]
    Queries {
        /// The query folder.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A workbook could not be built or saved.
    #[error("writing {path}: {source}")]
    Workbook {
        /// The workbook.
        path: PathBuf,
        /// What the writer said.
        source: XlsxError,
    },
    /// Chromium is installed but could not print the dictionary.
    #[error("PDF {path}: {message}")]
    Pdf {
        /// The PDF.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

pub use document::{DICTIONARY_PDF, dictionary_markdown, print_dictionary, write_dictionary};

/// The data tool's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Rows a workbook is validated for: far more than any lot's participants, well within Excel's.
pub const ROWS: u32 = 100_000;

/// The sheet holding the code lists the drop-downs read (hidden; ingest expects it).
pub const LISTS_SHEET: &str = "Lists";

/// A value to put in a workbook's data rows: what a provider would type. Only tests and
/// examples fill workbooks; the tool itself writes them empty.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text, a code or a flag.
    Text(String),
    /// A date.
    Date(chrono::NaiveDate),
    /// A number (integers, numbers, money).
    Number(f64),
}

/// The workbook file a lot's provider is sent.
pub fn workbook_name(lot: &Lot) -> String {
    format!("datatool_{}.xlsx", lot.code)
}

/// Writes one empty workbook per lot into `out`; returns their paths in the study's lot order.
pub fn write_workbooks(study: &Study, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|source| Error::Folder {
        path: out.to_path_buf(),
        source,
    })?;
    study
        .lots
        .iter()
        .map(|lot| {
            let path = out.join(workbook_name(lot));
            write_workbook(study, lot, &[], &path)?;
            Ok(path)
        })
        .collect()
}

/// Writes `lot`'s workbook to `path`, with `rows` (values in the contract's column order, `None`
/// for a blank cell) in its data rows.
pub fn write_workbook(
    study: &Study,
    lot: &Lot,
    rows: &[Vec<Option<Value>>],
    path: &Path,
) -> Result<()> {
    let fail = |source| Error::Workbook {
        path: path.to_path_buf(),
        source,
    };
    let dict = &study.mi;
    let header = dict.expected_columns(&study.codes);
    let mut wb = Workbook::new();
    // A fixed creation time: the same dictionary gives the same bytes.
    let created = ExcelDateTime::from_ymd(2018, 6, 1).map_err(fail)?;
    wb.set_properties(
        &rust_xlsxwriter::DocProperties::new()
            .set_creation_datetime(&created)
            .set_title(format!("{}: data tool for {}", study.info.title, lot.name)),
    );
    let sheet = dict
        .dataset
        .workbook_sheet
        .clone()
        .unwrap_or_else(|| "Participants".into());
    let lists = code_lists(study, dict);
    let data = wb.add_worksheet();
    data.set_name(&sheet).map_err(fail)?;
    participants_sheet(data, study, dict, &header, &lists, rows).map_err(fail)?;
    let notes = wb.add_worksheet();
    notes_sheet(notes, study, lot, &sheet, &header).map_err(fail)?;
    let list_sheet = wb.add_worksheet();
    lists_sheet(list_sheet, &lists).map_err(fail)?;
    wb.save(path).map_err(fail)
}

/// The code lists the columns use, in the order of the `Lists` sheet's columns.
fn code_lists<'a>(study: &'a Study, dict: &Dictionary) -> Vec<(String, &'a [Code])> {
    let mut lists: Vec<(String, &[Code])> = Vec::new();
    for c in &dict.columns {
        if let Some(name) = &c.codes
            && !lists.iter().any(|(n, _)| n == name)
        {
            lists.push((name.clone(), study.code_list(name)));
        }
    }
    lists
}

fn participants_sheet(
    ws: &mut Worksheet,
    study: &Study,
    dict: &Dictionary,
    header: &[String],
    lists: &[(String, &[Code])],
    rows: &[Vec<Option<Value>>],
) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let date = Format::new()
        .set_num_format(excel_date_format(&dict.dataset.date_format))
        .set_unlocked();
    let money = Format::new().set_num_format("0.00").set_unlocked();
    let open = Format::new().set_unlocked();
    // A column's cells take the format of its type, typed in or written here.
    let mut formats = Vec::with_capacity(header.len());
    for (c, name) in header.iter().enumerate() {
        let c = c as u16;
        ws.write_string_with_format(0, c, name, &bold)?;
        let (spec, label) = column_spec(study, dict, name);
        let format = match spec.kind {
            ColumnType::Date => &date,
            ColumnType::Money => &money,
            _ => &open,
        };
        formats.push(format);
        ws.set_column_format(c, format)?;
        ws.set_column_width(c, (name.len() as f64 + 2.0).max(12.0))?;
        ws.add_data_validation(1, c, ROWS, c, &validation(&spec, label, dict, lists)?)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, value) in row.iter().enumerate() {
            let c = c as u16;
            match value {
                None => {}
                Some(Value::Text(s)) => {
                    ws.write_string_with_format(r, c, s, &open)?;
                }
                Some(Value::Date(d)) => {
                    ws.write_datetime_with_format(r, c, excel_date(*d)?, &date)?;
                }
                Some(Value::Number(x)) => {
                    ws.write_number_with_format(r, c, *x, formats[c as usize])?;
                }
            }
        }
    }
    ws.set_freeze_panes(1, 0)?;
    // Locked cells are the header's only: the data cells' formats are unlocked.
    ws.protect();
    Ok(())
}

/// A column's specification — its dictionary entry, or for a multi-select option's column a
/// `Y`/`N` flag — and, for an option, what it stands for.
fn column_spec(study: &Study, dict: &Dictionary, name: &str) -> (ColumnSpec, Option<String>) {
    if let Some(spec) = dict.column(name) {
        return (spec.clone(), None);
    }
    let question = dict
        .questions
        .iter()
        .find(|q| name.starts_with(&q.column_prefix));
    let label = question.map(|q| {
        let option = &name[q.column_prefix.len()..];
        let label = study
            .code_list(&q.options)
            .iter()
            .find(|c| c.code == option)
            .map_or(option, |c| c.label.as_str());
        format!("{}: {label}.", q.label)
    });
    let spec = ColumnSpec {
        name: name.to_string(),
        kind: ColumnType::Flag,
        required: false,
        identifier: None,
        codes: None,
        applies_when: question.and_then(|q| q.applies_when.clone()),
        requires: None,
        not_before: None,
        min_weeks_after: None,
        min: None,
        max: None,
        matches_file_lot: false,
        min_age: None,
    };
    (spec, label)
}

/// What a column holds and the rules it is checked by, in the words of its input message
/// (Excel keeps 255 characters of it).
fn explain(spec: &ColumnSpec, label: Option<String>, dict: &Dictionary) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(label) = label {
        parts.push(label);
    }
    parts.push(match spec.kind {
        ColumnType::Text => "Text.".to_string(),
        ColumnType::Code => "Choose from the list.".to_string(),
        ColumnType::Flag => "Y or N; blank if not recorded.".to_string(),
        ColumnType::Date => format!("A date ({}).", excel_date_format(&dict.dataset.date_format)),
        ColumnType::Integer => "A whole number.".to_string(),
        ColumnType::Number => "A number.".to_string(),
        ColumnType::Money => "Pounds, up to two decimals, no £ sign.".to_string(),
    });
    if spec.required {
        parts.push("Required.".into());
    }
    match spec.identifier {
        Some(IdentifierRule::Pseudonymise) => {
            parts.push("Identifies the person: replaced by a pseudonym on receipt.".into())
        }
        Some(IdentifierRule::Drop) => {
            parts.push("Identifies the person: used for checks on receipt, never kept.".into())
        }
        None => {}
    }
    if let Some(a) = &spec.applies_when {
        parts.push(format!(
            "Only when {} is {}.",
            a.column,
            a.values.join(" or ")
        ));
    }
    if let Some(other) = &spec.requires {
        parts.push(format!("Only when {other} is filled."));
    }
    if let Some(other) = &spec.not_before {
        parts.push(format!("Not before {other}."));
    }
    if let Some(m) = &spec.min_weeks_after {
        parts.push(format!("At least {} weeks after {}.", m.weeks, m.column));
    }
    if let Some(m) = &spec.min_age {
        parts.push(format!("Aged at least {} at {}.", m.years, m.at));
    }
    if spec.matches_file_lot {
        parts.push("This workbook's lot.".into());
    }
    let mut text = parts.join(" ");
    if text.chars().count() > 255 {
        text = text.chars().take(254).collect::<String>() + "…";
    }
    text
}

/// The data validation a column's dictionary entry implies, with its input message.
fn validation(
    spec: &ColumnSpec,
    label: Option<String>,
    dict: &Dictionary,
    lists: &[(String, &[Code])],
) -> Result<DataValidation, XlsxError> {
    let number = |b: &Option<Bound>| match b {
        Some(Bound::Number(x)) => Some(*x),
        _ => None,
    };
    let date = |b: &Option<Bound>| match b {
        Some(Bound::Date(d)) => Some(*d),
        _ => None,
    };
    let v = DataValidation::new();
    let v = match spec.kind {
        ColumnType::Text => v.allow_any_value(),
        ColumnType::Code => {
            // Every code column's list is on the Lists sheet (`code_lists`).
            let (i, codes) = lists
                .iter()
                .enumerate()
                .find(|(_, (n, _))| Some(n) == spec.codes.as_ref())
                .map_or((0, 0), |(i, (_, codes))| (i, codes.len()));
            let col = column_number_to_name(i as u16);
            v.allow_list_formula(Formula::new(format!(
                "={LISTS_SHEET}!${col}$2:${col}${}",
                codes.max(1) + 1
            )))
        }
        ColumnType::Flag => v.allow_list_strings(&["Y", "N"])?,
        ColumnType::Date => {
            let lower = date(&spec.min).unwrap_or(
                chrono::NaiveDate::MIN
                    .max(chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default()),
            );
            let upper = date(&spec.max)
                .unwrap_or(chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default());
            v.allow_date(DataValidationRule::Between(
                excel_date(lower)?,
                excel_date(upper)?,
            ))
        }
        ColumnType::Integer => {
            let lower = number(&spec.min).map_or(i32::MIN, |x| x.ceil() as i32);
            let upper = number(&spec.max).map_or(i32::MAX, |x| x.floor() as i32);
            v.allow_whole_number(DataValidationRule::Between(lower, upper))
        }
        ColumnType::Number | ColumnType::Money => {
            let lower = number(&spec.min).unwrap_or(-1e300);
            let upper = number(&spec.max).unwrap_or(1e300);
            v.allow_decimal_number(DataValidationRule::Between(lower, upper))
        }
    };
    let title: String = spec.name.chars().take(32).collect();
    v.set_input_title(title)?
        .set_input_message(explain(spec, label, dict))?
        .set_error_title("Not accepted by the data tool")?
        .set_error_message(
            "Evalpipe's validation would quarantine this row. Choose from the list, or see the \
             column's note and the Notes sheet.",
        )
        .map(|v| v.set_error_style(DataValidationErrorStyle::Stop))
}

/// The `Lists` sheet: each code list a column, its code under its name; hidden.
fn lists_sheet(ws: &mut Worksheet, lists: &[(String, &[Code])]) -> Result<(), XlsxError> {
    ws.set_name(LISTS_SHEET)?;
    for (c, (name, codes)) in lists.iter().enumerate() {
        let c = c as u16;
        ws.write_string(0, c, name)?;
        for (r, code) in codes.iter().enumerate() {
            ws.write_string(r as u32 + 1, c, &code.code)?;
        }
    }
    ws.set_hidden(true);
    ws.protect();
    Ok(())
}

/// The `Notes` sheet: how to fill the workbook, name it and send it, and each column's note.
fn notes_sheet(
    ws: &mut Worksheet,
    study: &Study,
    lot: &Lot,
    sheet: &str,
    header: &[String],
) -> Result<(), XlsxError> {
    let dict = &study.mi;
    ws.set_name("Notes")?;
    ws.set_column_width(0, 34)?;
    ws.set_column_width(1, 110)?;
    let bold = Format::new().set_bold();
    let lines = [
        format!(
            "{} — data tool for {} ({})",
            study.info.title, lot.name, lot.code
        ),
        format!(
            "One row per participant on the {sheet} sheet, from row 2; the header row is fixed \
             and the columns must stay in this order."
        ),
        format!(
            "Save the workbook as {}_{}_YYYYMMDD.xlsx (the date of the extract) and send the \
             whole cumulative list each time.",
            dict.dataset.file_prefix, lot.code
        ),
        "A cell refuses a value the evaluation's validation would quarantine: choose from \
         the lists, and see each column's note below (also shown when the cell is selected)."
            .to_string(),
    ];
    for (r, line) in lines.iter().enumerate() {
        ws.write_string(r as u32, 0, line)?;
    }
    let first = lines.len() as u32 + 1;
    ws.write_string_with_format(first, 0, "Column", &bold)?;
    ws.write_string_with_format(first, 1, "What it holds", &bold)?;
    for (i, name) in header.iter().enumerate() {
        let (spec, label) = column_spec(study, dict, name);
        let r = first + 1 + i as u32;
        ws.write_string(r, 0, name)?;
        ws.write_string(r, 1, explain(&spec, label, dict))?;
    }
    Ok(())
}

/// The dictionary's date format in Excel's terms (`%d/%m/%Y` → `dd/mm/yyyy`).
fn excel_date_format(format: &str) -> String {
    format
        .replace("%d", "dd")
        .replace("%m", "mm")
        .replace("%Y", "yyyy")
        .replace("%y", "yy")
}

fn excel_date(d: chrono::NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    use chrono::Datelike;
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}
