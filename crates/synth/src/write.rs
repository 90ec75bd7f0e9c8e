//! Writing the twin in the input contract: per-lot MI files (CSV, CSV with a byte-order mark, or
//! workbook), the claims CSV and the `SYNTHETIC.toml` marker.
//!
//! Output is byte-deterministic: rows in a fixed order, one number format, and workbooks with a
//! fixed creation time (rust_xlsxwriter otherwise stamps the current time in docProps/core.xml;
//! its zip entries already carry a fixed time).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, Timelike};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
use serde::Serialize;

use crate::claims::Claim;
use crate::identity::provider_ref;
use crate::outcomes::SUSTAINED;
use crate::person::{Ctx, Person};
use crate::{Error, Result};

/// One cell of an extract.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Blank,
    Text(String),
    Date(NaiveDate),
    Int(i64),
    Num(f64),
    Money(f64),
}

impl Cell {
    pub(crate) fn text(&self, date_format: &str) -> String {
        match self {
            Cell::Blank => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Date(d) => d.format(date_format).to_string(),
            Cell::Int(i) => i.to_string(),
            Cell::Num(x) => x.to_string(),
            Cell::Money(x) => format!("{x:.2}"),
        }
    }
}

fn text(v: Option<&String>) -> Cell {
    v.map_or(Cell::Blank, |s| Cell::Text(s.clone()))
}

fn date(v: Option<NaiveDate>) -> Cell {
    v.map_or(Cell::Blank, Cell::Date)
}

/// The MI row of a participant, in `header` order.
pub(crate) fn mi_row(ctx: &Ctx, p: &Person, header: &[String]) -> Result<Vec<Cell>> {
    let lot = &ctx.lot_codes[p.lot];
    header
        .iter()
        .map(|col| {
            Ok(match col.as_str() {
                "provider_ref" => Cell::Text(provider_ref(ctx, p)),
                "first_name" => Cell::Text(p.first_name.clone()),
                "surname" => Cell::Text(p.surname.clone()),
                "date_of_birth" => date(p.dob),
                "postcode" => text(p.postcode.as_ref()),
                "ni_number" => text(p.ni_number.as_ref()),
                "lot_code" => Cell::Text(lot.clone()),
                "registration_date" => Cell::Date(p.reg),
                "payment_group" => Cell::Text(ctx.cohort_codes[p.cohort].clone()),
                "meaningful_interventions" => {
                    p.interventions.map_or(Cell::Blank, |n| Cell::Int(n.into()))
                }
                "embedded_date" => date(p.embedded),
                "job_start_date" => date(p.job_start),
                "progression_date" => date(p.progression),
                "progression_employer" => text(p.progression_employer.as_ref()),
                "hours_per_week" => p.hours.map_or(Cell::Blank, Cell::Num),
                "weekly_earnings" => p.earnings.map_or(Cell::Blank, Cell::Money),
                c if SUSTAINED.contains(&c) => {
                    let k = SUSTAINED.iter().position(|s| *s == c).unwrap_or(0);
                    date(p.sustained[k])
                }
                c => {
                    if let Some((q, o)) = ctx.flag_column(c) {
                        let hidden = ctx
                            .cfg
                            .questions
                            .get(q)
                            .is_some_and(|qc| qc.not_recorded_lots.contains(lot));
                        match p.answers.get(q) {
                            Some(a) if !hidden => Cell::Text(if a[o] { "Y" } else { "N" }.into()),
                            _ => Cell::Blank,
                        }
                    } else if ctx.generated.contains(c) {
                        text(p.values.get(c))
                    } else {
                        return Err(ctx.config_err(format!("MI column `{c}` has no generator")));
                    }
                }
            })
        })
        .collect()
}

/// The claims row of a claim, in `header` order.
pub(crate) fn claim_row(
    ctx: &Ctx,
    persons: &[Person],
    c: &Claim,
    header: &[String],
) -> Result<Vec<Cell>> {
    let p = &persons[c.person];
    header
        .iter()
        .map(|col| {
            Ok(match col.as_str() {
                "claim_ref" => Cell::Text(c.claim_ref.clone()),
                "lot_code" => Cell::Text(ctx.lot_codes[p.lot].clone()),
                "provider_ref" => Cell::Text(provider_ref(ctx, p)),
                "payment_group" => Cell::Text(ctx.cohort_codes[p.cohort].clone()),
                "milestone" => Cell::Text(ctx.study.milestones[c.milestone].code.clone()),
                "milestone_date" => Cell::Date(c.date),
                "submitted_date" => Cell::Date(c.submitted),
                "amount_gbp" => Cell::Money(c.amount),
                "status" => Cell::Text(c.status.to_string()),
                other => {
                    return Err(ctx.config_err(format!("claims column `{other}` has no generator")));
                }
            })
        })
        .collect()
}

/// Writes a CSV, optionally starting with a UTF-8 byte-order mark.
pub(crate) fn csv(
    path: &Path,
    header: &[String],
    rows: &[Vec<Cell>],
    date_format: &str,
    bom: bool,
) -> Result<()> {
    let werr = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = BufWriter::new(File::create(path).map_err(werr)?);
    if bom {
        file.write_all("\u{feff}".as_bytes()).map_err(werr)?;
    }
    let cerr = |source| Error::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(file);
    w.write_record(header).map_err(cerr)?;
    for row in rows {
        w.write_record(row.iter().map(|c| c.text(date_format)))
            .map_err(cerr)?;
    }
    w.flush().map_err(werr)?;
    Ok(())
}

/// Writes an MI workbook: data on `sheet` (header in row 1), guidance on `Notes`.
pub(crate) fn xlsx(
    path: &Path,
    sheet: &str,
    header: &[String],
    rows: &[Vec<Cell>],
    notes: &[String],
    created: chrono::NaiveDateTime,
) -> Result<()> {
    let xerr = |source| Error::Xlsx {
        path: path.to_path_buf(),
        source,
    };
    let mut wb = Workbook::new();
    let created = ExcelDateTime::from_ymd(
        created.year() as u16,
        created.month() as u8,
        created.day() as u8,
    )
    .and_then(|d| {
        d.and_hms(
            created.hour() as u16,
            created.minute() as u8,
            created.second(),
        )
    })
    .map_err(xerr)?;
    let props = DocProperties::new()
        .set_creation_datetime(&created)
        .set_title("Connecting Communities MI extract (synthetic)")
        .set_comment("Synthetic data generated by evalpipe-synth: no row describes a real person.");
    wb.set_properties(&props);
    let date_fmt = Format::new().set_num_format("dd/mm/yyyy");
    let money_fmt = Format::new().set_num_format("0.00");
    let ws = wb.add_worksheet();
    ws.set_name(sheet).map_err(xerr)?;
    for (c, name) in header.iter().enumerate() {
        ws.write_string(0, c as u16, name).map_err(xerr)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Blank => {}
                Cell::Text(s) => {
                    ws.write_string(r, c, s).map_err(xerr)?;
                }
                Cell::Date(d) => {
                    let x =
                        ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                            .map_err(xerr)?;
                    ws.write_datetime_with_format(r, c, &x, &date_fmt)
                        .map_err(xerr)?;
                }
                Cell::Int(i) => {
                    ws.write_number(r, c, *i as f64).map_err(xerr)?;
                }
                Cell::Num(x) => {
                    ws.write_number(r, c, *x).map_err(xerr)?;
                }
                Cell::Money(x) => {
                    ws.write_number_with_format(r, c, *x, &money_fmt)
                        .map_err(xerr)?;
                }
            }
        }
    }
    let ns = wb.add_worksheet();
    ns.set_name("Notes").map_err(xerr)?;
    ns.set_column_width(0, 100).map_err(xerr)?;
    for (r, line) in notes.iter().enumerate() {
        ns.write_string(r as u32, 0, line).map_err(xerr)?;
    }
    wb.save(path).map_err(xerr)?;
    Ok(())
}

/// Contents of `SYNTHETIC.toml`.
#[derive(Serialize)]
pub(crate) struct Marker {
    pub synthetic: bool,
    pub statement: String,
    pub generator: String,
    pub generator_version: String,
    pub seed: u64,
    /// The round of the seed whose population met every published cell; written only when it
    /// is not the first, so a seed that needed one round has the marker it always had.
    #[serde(skip_serializing_if = "is_first_round")]
    pub round: u32,
    pub calibration: String,
    /// A scaled extract (`evalpipe synth --participants`): the MI participants of the twin its
    /// rows copy, with new references.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaled_from: Option<usize>,
    /// Which of the twin's extracts this folder is (`final`, `interim`, or `refresh`: one of the
    /// series before the final one).
    pub extract: String,
    pub extract_date: String,
    /// A refresh of the series: its place (1 the first) and the number of refreshes, the last
    /// being the final extract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refreshes: Option<usize>,
    pub mi_participants: usize,
    /// MI rows carrying an error the validation rejects (interim provider errors).
    pub mi_rows_planted_with_errors: usize,
    pub claims_only_participants: usize,
    pub claims: usize,
    pub files: Vec<String>,
    /// A refresh of the series: what was planted in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planted: Option<Planted>,
}

/// What a refresh of the series holds that the final extract does not, for the tests and
/// dashboards that look for it.
#[derive(Serialize)]
pub(crate) struct Planted {
    /// MI participants registered by the refresh date but not entered yet (entered later).
    pub late_entries: usize,
    /// Rows of this refresh's files holding an error the next refresh corrects, by kind
    /// (`job_start_before_registration` and `unknown_ethnicity` are rejected by validation).
    pub corrections: std::collections::BTreeMap<String, usize>,
    /// Lots whose MI file this refresh lacks.
    pub missing_lots: Vec<String>,
    /// MI files with a column under another header (ingest rejects the file).
    pub renamed_columns: Vec<RenamedColumn>,
}

/// A planted renamed column.
#[derive(Serialize)]
pub(crate) struct RenamedColumn {
    pub lot: String,
    pub file: String,
    /// The dictionary's column…
    pub column: String,
    /// …and the header the file has instead.
    pub header: String,
}

fn is_first_round(round: &u32) -> bool {
    *round == 0
}

/// Writes the marker file.
pub(crate) fn marker(path: &Path, m: &Marker) -> Result<()> {
    let text = toml::to_string(m).map_err(|e| Error::Internal {
        message: format!("cannot serialise the marker: {e}"),
    })?;
    let head = "# This folder holds the evalpipe SYNTHETIC TWIN. Every value in it is synthetic.\n";
    std::fs::write(path, format!("{head}{text}")).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// File name relative to the output folder.
pub(crate) fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// All output paths, for the summary.
pub(crate) fn join(out: &Path, name: &str) -> PathBuf {
    out.join(name)
}
