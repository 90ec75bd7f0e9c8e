//! Reading an extract into a header and raw text rows, whatever the file format.
//!
//! CSV and workbooks both become [`RawRow`]s of trimmed text so that one set of rules validates
//! them. Encoding and layout problems a provider's export typically has (byte-order mark,
//! Windows-1252, blank workbook rows, extra sheets) are handled here and reported as notes;
//! problems that make the file unusable become a [`FileProblem`], which rejects the file.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use calamine::{Data, DataType, Reader};

/// One data row as text, with its row number as the provider sees it (header = row 1).
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Row number in the file (CSV line where the record starts; worksheet row).
    pub row: u64,
    /// Field texts, trimmed, one per header column.
    pub fields: Vec<String>,
    /// Number of fields the row actually had (CSV rows can be ragged).
    pub field_count: usize,
}

impl RawRow {
    /// Whether every field is blank (a blank line or an empty worksheet row).
    pub fn is_blank(&self) -> bool {
        self.fields.iter().all(|f| f.is_empty())
    }
}

/// Why a file cannot be used at all.
#[derive(Debug, Clone)]
pub struct FileProblem {
    /// Stable rule id, as in quarantine (`empty_file`, `unreadable`, …).
    pub rule: &'static str,
    /// Human message naming what is wrong.
    pub message: String,
}

fn problem(rule: &'static str, message: impl Into<String>) -> FileProblem {
    FileProblem {
        rule,
        message: message.into(),
    }
}

/// An opened extract: header, notes about how it was read, and its rows.
pub struct Extract {
    /// Header cells, trimmed.
    pub header: Vec<String>,
    /// Things worth telling the provider that did not stop the file being used.
    pub notes: Vec<String>,
    rows: RowSource,
}

enum RowSource {
    Csv {
        reader: csv::Reader<Box<dyn Read>>,
        cp1252: bool,
        width: usize,
    },
    Sheet {
        rows: std::vec::IntoIter<RawRow>,
    },
}

impl Extract {
    /// The next row, or a problem that stops the file (a CSV that cannot be parsed further).
    pub fn next_row(&mut self) -> Option<Result<RawRow, FileProblem>> {
        match &mut self.rows {
            RowSource::Sheet { rows } => rows.next().map(Ok),
            RowSource::Csv {
                reader,
                cp1252,
                width,
            } => {
                let mut record = csv::ByteRecord::new();
                match reader.read_byte_record(&mut record) {
                    Ok(false) => None,
                    Ok(true) => {
                        let row = record.position().map_or(0, |p| p.line());
                        let field_count = record.len();
                        let mut fields: Vec<String> = record
                            .iter()
                            .map(|f| decode(f, *cp1252).trim().to_string())
                            .collect();
                        fields.resize(*width, String::new());
                        Some(Ok(RawRow {
                            row,
                            fields,
                            field_count,
                        }))
                    }
                    Err(e) => Some(Err(problem(
                        "unreadable",
                        format!("CSV cannot be parsed: {e}"),
                    ))),
                }
            }
        }
    }
}

fn decode(bytes: &[u8], cp1252: bool) -> String {
    if cp1252 {
        encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned()
    } else {
        // Validity was checked on the first pass; lossless for valid UTF-8.
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Opens a CSV or workbook extract. `sheet` is the data sheet of workbooks; `expected_sheets`
/// are the other sheets a workbook may have without a note; date cells become text in
/// `date_format`, as the same column would read in a CSV export.
pub fn open(
    path: &Path,
    sheet: Option<&str>,
    expected_sheets: &[String],
    date_format: &str,
) -> Result<Extract, FileProblem> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => open_csv(path),
        "xlsx" | "xlsm" | "xls" | "ods" => {
            let Some(sheet) = sheet else {
                return Err(problem(
                    "unsupported_format",
                    "this extract is only accepted as CSV",
                ));
            };
            open_workbook(path, sheet, expected_sheets, date_format)
        }
        other => Err(problem(
            "unsupported_format",
            format!("`.{other}` files are not read; send CSV or xlsx"),
        )),
    }
}

fn open_err(e: std::io::Error) -> FileProblem {
    problem("unreadable", format!("cannot be read: {e}"))
}

fn open_csv(path: &Path) -> Result<Extract, FileProblem> {
    let mut notes = Vec::new();
    let mut file = File::open(path).map_err(open_err)?;
    let mut head = [0u8; 3];
    let n = read_up_to(&mut file, &mut head).map_err(open_err)?;
    if n == 0 {
        return Err(problem("empty_file", "the file is empty (0 bytes)"));
    }
    let bom = n == 3 && head == [0xEF, 0xBB, 0xBF];
    if n >= 2 && (head[..2] == [0xFF, 0xFE] || head[..2] == [0xFE, 0xFF]) {
        return Err(problem(
            "unsupported_encoding",
            "the file is UTF-16 encoded; export it as CSV UTF-8 (comma delimited)",
        ));
    }
    let skip = if bom { 3 } else { 0 };
    if bom {
        notes.push("starts with a UTF-8 byte-order mark (removed before reading)".to_string());
    }

    // First pass: is every field valid UTF-8? Providers sometimes export Windows-1252; such a
    // file is read as Windows-1252 rather than rejected, and the note says so.
    let mut first_bad_line = None;
    {
        let mut reader = csv_reader(path, skip).map_err(open_err)?;
        let mut record = csv::ByteRecord::new();
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    if record.iter().any(|f| std::str::from_utf8(f).is_err()) {
                        first_bad_line = record.position().map(|p| p.line());
                        break;
                    }
                }
                // Parse errors are reported with their row on the second pass.
                Err(_) => break,
            }
        }
    }
    let cp1252 = first_bad_line.is_some();
    if let Some(line) = first_bad_line {
        notes.push(format!(
            "is not valid UTF-8 (first at line {line}); read as Windows-1252 — please export as CSV UTF-8"
        ));
    }

    let mut reader = csv_reader(path, skip).map_err(open_err)?;
    let mut header_record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut header_record) {
        Ok(true) => {}
        Ok(false) => return Err(problem("empty_file", "the file has no header row")),
        Err(e) => {
            return Err(problem(
                "unreadable",
                format!("CSV header cannot be parsed: {e}"),
            ));
        }
    }
    let header: Vec<String> = header_record
        .iter()
        .map(|f| decode(f, cp1252).trim().to_string())
        .collect();
    if header.iter().all(|h| h.is_empty()) {
        return Err(problem("empty_file", "the header row is blank"));
    }
    let width = header.len();
    Ok(Extract {
        header,
        notes,
        rows: RowSource::Csv {
            reader,
            cp1252,
            width,
        },
    })
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        let n = file.read(&mut buf[total..])?;
        if n == 0 {
            break;
        }
        total += n;
    }
    Ok(total)
}

fn csv_reader(path: &Path, skip: u64) -> std::io::Result<csv::Reader<Box<dyn Read>>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(skip))?;
    let boxed: Box<dyn Read> = Box::new(BufReader::new(file));
    Ok(csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(boxed))
}

fn open_workbook(
    path: &Path,
    sheet: &str,
    expected_sheets: &[String],
    date_format: &str,
) -> Result<Extract, FileProblem> {
    let mut workbook = calamine::open_workbook_auto(path)
        .map_err(|e| problem("unreadable", format!("the workbook cannot be opened: {e}")))?;
    let mut notes = Vec::new();
    let names = workbook.sheet_names();
    let Some(data_sheet) = names
        .iter()
        .find(|n| n.trim().eq_ignore_ascii_case(sheet))
        .cloned()
    else {
        return Err(problem(
            "missing_sheet",
            format!(
                "the workbook has no sheet named `{sheet}` (sheets: {})",
                names.join(", ")
            ),
        ));
    };
    for name in &names {
        let expected = name == &data_sheet
            || expected_sheets
                .iter()
                .any(|e| e.eq_ignore_ascii_case(name.trim()));
        if !expected {
            notes.push(format!("has an extra sheet `{name}`, which was not read"));
        }
    }
    let range = workbook.worksheet_range(&data_sheet).map_err(|e| {
        problem(
            "unreadable",
            format!("sheet `{data_sheet}` cannot be read: {e}"),
        )
    })?;
    let Some((first_row, first_col)) = range.start() else {
        return Err(problem(
            "empty_file",
            format!("sheet `{data_sheet}` is empty"),
        ));
    };
    if first_col != 0 {
        notes.push(format!(
            "data on sheet `{data_sheet}` starts in column {} rather than A",
            first_col + 1
        ));
    }
    let mut rows = range.rows().enumerate();
    let header: Vec<String> = match rows.next() {
        Some((_, cells)) => cells.iter().map(|c| cell_text(c, date_format)).collect(),
        None => {
            return Err(problem(
                "empty_file",
                format!("sheet `{data_sheet}` is empty"),
            ));
        }
    };
    // Header is the first non-empty row; rows are numbered as Excel shows them (1-based).
    let width = header.len();
    let data: Vec<RawRow> = rows
        .map(|(i, cells)| {
            let mut fields: Vec<String> = cells.iter().map(|c| cell_text(c, date_format)).collect();
            // Cells past the header are a ragged row only if something is in them.
            let used = fields
                .iter()
                .rposition(|f| !f.is_empty())
                .map_or(0, |p| p + 1);
            let field_count = used.max(width);
            fields.resize(width, String::new());
            RawRow {
                row: u64::from(first_row) + i as u64 + 1,
                fields,
                field_count,
            }
        })
        .collect();
    Ok(Extract {
        header,
        notes,
        rows: RowSource::Sheet {
            rows: data.into_iter(),
        },
    })
}

/// A cell as the text a CSV export of it would hold: dates as DD/MM/YYYY, numbers in shortest form.
fn cell_text(cell: &Data, date_format: &str) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(_) | Data::DateTimeIso(_) => match cell.as_date() {
            Some(d) => d.format(date_format).to_string(),
            None => cell.to_string(),
        },
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}
