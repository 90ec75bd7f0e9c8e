//! The annex workbook: every output table of a run in one `.xlsx` an evaluator opens in Excel.
//!
//! One sheet per table, in the catalogue's order (`tables/catalog.parquet`, written by the
//! transform stage): a title row saying which report table it reproduces, the base and N, the
//! column headings, the rows, and a source line. A contents sheet lists them. Numbers stay
//! numbers (percentages formatted as per cent), so the evaluator can recompute from them.
//! Disclosure control is the run's one decision over everything it publishes
//! ([`crate::disclosure`]), the same the report prints: a suppressed cell is `[c]`, here and
//! in the base line's N. Byte-deterministic: the document's creation time is fixed, never the
//! clock.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use arrow::util::display::array_value_to_string;
use evalpipe_study::{RunLayout, Study};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::disclosure::{Decision, SUPPRESSED, decide_run, note};
use crate::{Error, Result};

/// File name of the annex workbook in the report folder.
pub const ANNEX_FILE: &str = "annex.xlsx";

/// Sheet names are at most 31 characters in Excel.
const SHEET_NAME_MAX: usize = 31;

fn xlsx(path: &Path) -> impl Fn(XlsxError) -> Error + '_ {
    move |e| Error::Annex {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `<run>/report/annex.xlsx` from the run's output tables.
pub fn write_annex(study: &Study, layout: &RunLayout, synthetic: bool) -> Result<PathBuf> {
    let decision =
        decide_run(layout, study.disclosure.min_count).map_err(|message| Error::Annex {
            path: layout.report_dir().join(ANNEX_FILE),
            message,
        })?;
    write_annex_with(study, layout, synthetic, &decision)
}

/// [`write_annex`] with the run's disclosure decision already made
/// ([`crate::disclosure::decide_run`]): the report prints the same one, so no sheet gives away
/// what the report hides, or back.
pub fn write_annex_with(
    study: &Study,
    layout: &RunLayout,
    synthetic: bool,
    decision: &Decision,
) -> Result<PathBuf> {
    let path = layout.report_dir().join(ANNEX_FILE);
    let err = xlsx(&path);
    let catalog =
        crate::read_rows(&layout.table("catalog", "parquet")).map_err(|message| Error::Annex {
            path: path.clone(),
            message,
        })?;
    let text = |row: &std::collections::BTreeMap<String, minijinja::Value>, k: &str| {
        row.get(k)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let outputs: Vec<_> = catalog
        .iter()
        .filter(|r| text(r, "kind") == "output")
        .collect();

    let min_count = study.disclosure.min_count;

    let mut wb = Workbook::new();
    let fixed = ExcelDateTime::from_ymd(2000, 1, 1).map_err(&err)?;
    let mut props = DocProperties::new()
        .set_creation_datetime(&fixed)
        .set_title(format!("{} — annex tables", study.info.title));
    if synthetic {
        props =
            props.set_comment("Built from the synthetic twin: not the programme's real figures.");
    }
    wb.set_properties(&props);
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0%");
    let notice = "Synthetic data — not the programme's real figures.";

    let contents = wb.add_worksheet().set_name("Contents").map_err(&err)?;
    contents
        .write_string_with_format(0, 0, &study.info.title, &bold)
        .map_err(&err)?;
    let mut row = 1;
    if synthetic {
        contents
            .write_string_with_format(row, 0, notice, &bold)
            .map_err(&err)?;
        row += 1;
    }
    row += 1;
    contents
        .write_string_with_format(row, 0, "Sheet", &bold)
        .map_err(&err)?;
    contents
        .write_string_with_format(row, 1, "Reproduces", &bold)
        .map_err(&err)?;
    contents
        .write_string_with_format(row, 2, "Base (N)", &bold)
        .map_err(&err)?;
    // (sheet name wanted, table, what it reproduces, its base): the query tables, then one
    // sheet of coefficients per model.
    let mut entries: Vec<(String, String, String, String)> = outputs
        .iter()
        .map(|e| {
            let table = text(e, "table");
            (table.clone(), table, text(e, "produces"), text(e, "base"))
        })
        .collect();
    entries.extend(
        model_entries(layout, decision).map_err(|message| Error::Annex {
            path: path.clone(),
            message,
        })?,
    );
    let mut used = BTreeSet::new();
    let mut sheets = Vec::new();
    for (wanted, table, produces, base) in entries {
        let mut name: String = wanted.chars().take(SHEET_NAME_MAX).collect();
        let mut i = 2;
        while !used.insert(name.clone()) {
            let suffix = format!("~{i}");
            name = wanted
                .chars()
                .take(SHEET_NAME_MAX - suffix.len())
                .collect::<String>()
                + &suffix;
            i += 1;
        }
        row += 1;
        contents.write_string(row, 0, &name).map_err(&err)?;
        contents.write_string(row, 1, &produces).map_err(&err)?;
        contents.write_string(row, 2, &base).map_err(&err)?;
        sheets.push((name, table, produces, base));
    }
    contents.set_column_width(0, 34).map_err(&err)?;
    contents.set_column_width(1, 70).map_err(&err)?;

    let style = SheetStyle {
        notice: synthetic.then_some(notice),
        bold: &bold,
        percent: &percent,
        min_count,
    };
    for (name, table, produces, base) in sheets {
        let sheet = wb.add_worksheet().set_name(&name).map_err(&err)?;
        let table_path = layout.table(&table, "parquet");
        let hidden = decision.hidden(&table);
        write_table(sheet, &table_path, &produces, &base, &hidden, &style).map_err(|message| {
            Error::Annex {
                path: path.clone(),
                message,
            }
        })?;
    }

    std::fs::create_dir_all(layout.report_dir()).map_err(|source| Error::Write {
        path: layout.report_dir(),
        source,
    })?;
    wb.save(&path).map_err(&err)?;
    drop(err);
    Ok(path)
}

/// One annex entry per fitted (or failed) model under `tables/models/`, in id order: its
/// coefficients, titled with the published table, its base the N at each step (a count the
/// disclosure decision suppressed printed as such).
fn model_entries(
    layout: &RunLayout,
    decision: &Decision,
) -> Result<Vec<(String, String, String, String)>, String> {
    let dir = layout.tables_dir().join("models");
    let Ok(read) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<String> = read
        .flatten()
        .filter(|e| e.path().join("coefficients.parquet").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        type Row = std::collections::BTreeMap<String, minijinja::Value>;
        let value = |table: &str, r: usize, row: &Row, k: &str| {
            if decision.is_hidden(&format!("models/{id}/{table}"), r, k) {
                return SUPPRESSED.to_string();
            }
            row.get(k)
                .filter(|v| !v.is_none())
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        let summary = crate::read_rows(&dir.join(&id).join("summary.parquet"))?;
        let steps = crate::read_rows(&dir.join(&id).join("steps.parquet"))?;
        let Some(s) = summary.first() else { continue };
        let produces = format!(
            "report Table {} ({}): logistic regression, odds ratios with 95% confidence intervals",
            value("summary", 0, s, "published_table"),
            value("summary", 0, s, "title")
        );
        let ns: Vec<String> = steps
            .iter()
            .enumerate()
            .map(|(r, row)| value("steps", r, row, "n"))
            .collect();
        let mut base = format!(
            "{} participants, {} with the outcome (N at each step: {})",
            value("summary", 0, s, "n"),
            value("summary", 0, s, "events"),
            ns.join(" → ")
        );
        if value("summary", 0, s, "status") != "fitted" {
            // The summary's `reason` says why without a count (its `message` may quote a small
            // one, such as the complete cases); a run made before it existed has only the
            // message.
            let reason = match value("summary", 0, s, "reason") {
                r if r.is_empty() => value("summary", 0, s, "message"),
                r => r,
            };
            base.push_str(&format!("; not fitted: {reason}"));
        }
        out.push((
            format!("model_{id}"),
            format!("models/{id}/coefficients"),
            produces,
            base,
        ));
    }
    Ok(out)
}

/// What every table sheet shares: the synthetic notice, the cell formats and the disclosure
/// threshold.
#[derive(Clone, Copy)]
struct SheetStyle<'a> {
    notice: Option<&'a str>,
    bold: &'a Format,
    percent: &'a Format,
    min_count: u64,
}

fn write_table(
    sheet: &mut Worksheet,
    path: &Path,
    produces: &str,
    base: &str,
    hidden: &BTreeSet<(usize, usize)>,
    style: &SheetStyle,
) -> Result<(), String> {
    let SheetStyle {
        notice,
        bold,
        percent,
        min_count,
    } = *style;
    let e = |x: XlsxError| x.to_string();
    let file = File::open(path).map_err(|x| format!("cannot open {}: {x}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|x| format!("{}: {x}", path.display()))?;
    let batches: Vec<_> = reader
        .collect::<Result<_, _>>()
        .map_err(|x| format!("{}: {x}", path.display()))?;

    sheet
        .write_string_with_format(0, 0, produces, bold)
        .map_err(e)?;
    let mut row = 1;
    if let Some(n) = notice {
        sheet.write_string_with_format(row, 0, n, bold).map_err(e)?;
        row += 1;
    }
    // The N every table carries, as the report states it under each table. A breakdown (by
    // cohort, by lot) has an N per group: then the line points at the column instead.
    let mut ns = BTreeSet::new();
    let mut index = 0;
    for b in &batches {
        if let Ok(i) = b.schema().index_of("n") {
            let col = b.column(i);
            for r in 0..col.len() {
                if hidden.contains(&(index + r, i)) {
                    ns.insert(SUPPRESSED.to_string());
                } else if !col.is_null(r) {
                    ns.insert(array_value_to_string(col, r).map_err(|x| x.to_string())?);
                }
            }
        }
        index += b.num_rows();
    }
    let base_line = match ns.len() {
        0 => format!("Base: {base}"),
        1 => format!(
            "Base: {base} (N = {})",
            ns.first().map_or("", String::as_str)
        ),
        _ => format!("Base: {base} (N for each group in column n)"),
    };
    sheet.write_string(row, 0, base_line).map_err(e)?;
    row += 2;

    let Some(first) = batches.first() else {
        sheet.write_string(row, 0, "(no rows)").map_err(e)?;
        return Ok(());
    };
    let schema = first.schema();
    for (j, f) in schema.fields().iter().enumerate() {
        sheet
            .write_string_with_format(row, j as u16, f.name(), bold)
            .map_err(e)?;
    }
    let mut index = 0;
    for batch in &batches {
        for r in 0..batch.num_rows() {
            row += 1;
            index += 1;
            for (j, (f, col)) in schema.fields().iter().zip(batch.columns()).enumerate() {
                let c = j as u16;
                if hidden.contains(&(index - 1, j)) {
                    sheet.write_string(row, c, SUPPRESSED).map_err(e)?;
                    continue;
                }
                if col.is_null(r) {
                    continue;
                }
                let is_pct = f.name() == "pct"
                    || f.name() == "rate"
                    || f.name().starts_with("pct_")
                    || f.name().ends_with("_pct");
                match col.data_type() {
                    DataType::Int64 => {
                        sheet
                            .write_number(row, c, col.as_primitive::<Int64Type>().value(r) as f64)
                            .map_err(e)?;
                    }
                    DataType::Int32 => {
                        sheet
                            .write_number(
                                row,
                                c,
                                f64::from(col.as_primitive::<Int32Type>().value(r)),
                            )
                            .map_err(e)?;
                    }
                    DataType::Float64 => {
                        let v = col.as_primitive::<Float64Type>().value(r);
                        if is_pct {
                            sheet
                                .write_number_with_format(row, c, v, percent)
                                .map_err(e)?;
                        } else {
                            sheet.write_number(row, c, v).map_err(e)?;
                        }
                    }
                    DataType::Boolean => {
                        sheet
                            .write_boolean(row, c, col.as_boolean().value(r))
                            .map_err(e)?;
                    }
                    _ => {
                        let v = array_value_to_string(col, r).map_err(|x| x.to_string())?;
                        sheet.write_string(row, c, v).map_err(e)?;
                    }
                }
            }
        }
    }
    if !hidden.is_empty() {
        row += 2;
        sheet.write_string(row, 0, note(min_count)).map_err(e)?;
    }
    row += 2;
    sheet
        .write_string(row, 0, format!(
            "Source: evalpipe, table {} computed from the run's MI and claims (see the run's manifest.json)",
            path.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default()
        ))
        .map_err(e)?;
    sheet.set_column_width(0, 28).map_err(e)?;
    Ok(())
}
