//! Reading an extract into a header and raw text rows, whatever the file format.
//!
//! CSV and workbooks both become [`RawRow`]s of trimmed text so that one set of rules validates
//! them. Encoding and layout problems a provider's export typically has (byte-order mark,
//! Windows-1252, blank rows, extra sheets) are handled here and reported as notes; problems that
//! make the file unusable become a [`FileProblem`], which rejects the file.
//!
//! Real extracts are dirty and may be hostile, so reading is bounded and accounted:
//! - every physical line of a CSV belongs to exactly one row — the header, a record or a blank
//!   line — and each row carries the row number Excel shows for it and the physical lines it
//!   spans, whatever the line endings (`\n`, `\r\n`, a bare `\r`) or quoted line breaks;
//! - a record that may not line up with the header (another field count, a line break inside a
//!   field, an implausibly long field: the marks of an unquoted comma or a stray quote) carries
//!   a [`Suspicion`], and then none of its values may be shown or used;
//! - memory per row is bounded ([`MAX_RECORD_BYTES`], [`MAX_COLUMNS`]) and workbooks are read as
//!   a stream of cells within Excel's own limits, so no file can make ingest allocate without
//!   bound.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use calamine::{DataRef, DataType, Reader, Xlsx};

/// The longest field a column of the data tool plausibly holds (names, references, codes,
/// dates, numbers). A longer one is the mark of a stray quote that swallowed the lines after it.
pub const MAX_FIELD_BYTES: usize = 1024;
/// The text of a record kept in memory; past it the record is counted and quarantined, not kept.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// The widest header read. The data tool has about a hundred columns; a wider header is not its
/// export (and listing ten thousand unknown names helps nobody).
pub const MAX_COLUMNS: usize = 1024;
/// Excel's last row and column (`XFD1048576`), 1-based.
const EXCEL_ROWS: u32 = 1_048_576;
const EXCEL_COLUMNS: u32 = 16_384;
/// A workbook whose parts would expand past this is refused before it is read: a zip bomb
/// would otherwise exhaust memory while the shared strings are loaded.
const MAX_WORKBOOK_EXPANDED_BYTES: u64 = 2 << 30;

/// One data row as text, with where it is in the file.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// The row as Excel shows it (header = row 1): for a CSV opened in Excel every record and
    /// every blank line is one row, however many lines a quoted field spans.
    pub row: u64,
    /// First physical line of the row in the file (the sheet row for workbooks).
    pub line: u64,
    /// Physical lines the row spans (more than 1 when a quoted field holds a line break, or for
    /// a run of blank sheet rows).
    pub lines: u64,
    /// The rows Excel shows for it: 1, or the length of a run of blank sheet rows (a sheet's
    /// gaps are counted, not walked: a cell at row 1,048,576 is one gap, not a million rows).
    pub rows: u64,
    /// Field texts, trimmed, one per header column (none for a blank line, and empty when the
    /// record was too long to keep).
    pub fields: Fields,
    /// Number of fields the row actually had (CSV rows can be ragged).
    pub field_count: usize,
    /// Why the fields may not line up with the header; empty for a sound row.
    pub suspect: Vec<Suspicion>,
}

/// A row's field texts back to back in one buffer, with where each ends: two allocations a
/// row rather than one a field. The data tool has about a hundred columns, and ingest reads
/// each row twice (the first pass, then validation): allocating and freeing a `String` per
/// field was a tenth of its time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    text: String,
    /// End of each field in `text`; a record is at most [`MAX_RECORD_BYTES`] (three times
    /// that once decoded from Windows-1252), and a sheet row at most [`MAX_COLUMNS`] cells of
    /// [`MAX_FIELD_BYTES`].
    ends: Vec<u32>,
}

impl Fields {
    /// Room for `width` fields of `bytes` in all.
    pub fn with_capacity(width: usize, bytes: usize) -> Fields {
        Fields {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(width),
        }
    }

    /// Adds a field after the others.
    pub fn push(&mut self, field: &str) {
        self.text.push_str(field);
        self.ends.push(self.text.len() as u32);
    }

    /// Adds empty fields up to `width` fields, or drops those past it.
    pub fn resize(&mut self, width: usize) {
        if width < self.ends.len() {
            self.ends.truncate(width);
            let end = self.ends.last().map_or(0, |&e| e as usize);
            self.text.truncate(end);
        }
        while self.ends.len() < width {
            self.push("");
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i`, if the row has it.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Some(&self.text[start..end])
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len()).map(|i| self.get(i).unwrap_or(""))
    }
}

impl From<Vec<String>> for Fields {
    fn from(fields: Vec<String>) -> Fields {
        let mut out = Fields::with_capacity(fields.len(), fields.iter().map(String::len).sum());
        for f in &fields {
            out.push(f);
        }
        out
    }
}

impl RawRow {
    /// Whether the row holds nothing: a blank line or an empty worksheet row.
    pub fn is_blank(&self) -> bool {
        self.suspect.is_empty()
            && self.field_count <= self.fields.len()
            && self.fields.iter().all(str::is_empty)
    }

    /// Whether the row's fields may be shifted against the header: then none of its values can
    /// be trusted to be what its column says, and none may be shown or used.
    pub fn misaligned(&self) -> bool {
        !self.suspect.is_empty()
    }
}

/// Why a row's fields may not line up with the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suspicion {
    /// Another number of fields than the header has.
    FieldCount {
        /// Fields in the row.
        found: usize,
        /// Columns in the header.
        expected: usize,
    },
    /// A quoted field holds line breaks: the record spans several physical lines.
    LineBreaks {
        /// Physical lines spanned.
        lines: u64,
    },
    /// A field longer than [`MAX_FIELD_BYTES`].
    LongField {
        /// Its position in the row, from 0.
        field: usize,
        /// Its length in bytes.
        bytes: usize,
    },
    /// The record is longer than [`MAX_RECORD_BYTES`]; its text was not kept.
    Oversized {
        /// Its length in bytes.
        bytes: usize,
    },
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

/// Why reading rows stopped early: the file (it cannot be read further) or the caller.
#[derive(Debug)]
pub enum Stop<E> {
    /// The file cannot be read further.
    File(FileProblem),
    /// The row callback failed.
    Caller(E),
}

impl<E> From<FileProblem> for Stop<E> {
    fn from(p: FileProblem) -> Self {
        Stop::File(p)
    }
}

/// The physical extent of a file once its rows were read: how every line was accounted for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extent {
    /// Physical lines (sheet rows up to the last used one) counted in the file itself.
    pub lines: u64,
    /// Lines of the header and of anything before it.
    pub header_lines: u64,
    /// Lines in the rows handed to the callback.
    pub row_lines: u64,
}

impl Extent {
    /// Whether every physical line is the header's or a row's.
    pub fn balances(&self) -> bool {
        self.lines == self.header_lines + self.row_lines
    }
}

/// An opened extract: header, notes about how it was read, and how to read its rows.
pub struct Extract {
    /// Header cells, trimmed.
    pub header: Vec<String>,
    /// Things worth telling the provider that did not stop the file being used.
    pub notes: Vec<String>,
    kind: Kind,
}

enum Kind {
    Csv {
        path: PathBuf,
        /// Bytes of the byte-order mark.
        skip: u64,
        cp1252: bool,
        /// Physical lines, counted over the raw bytes.
        lines: u64,
    },
    Sheet {
        path: PathBuf,
        sheet: String,
        date_format: String,
        /// 0-based sheet row of the header.
        header_row: u32,
        /// 0-based column of the header's first cell.
        first_col: u32,
    },
}

impl Extract {
    /// The physical lines of a CSV extract (counted when it was opened), an upper bound on its
    /// rows; unknown for a workbook until it is read.
    pub fn lines(&self) -> Option<u64> {
        match &self.kind {
            Kind::Csv { lines, .. } => Some(*lines),
            Kind::Sheet { .. } => None,
        }
    }

    /// Reads every row after the header, in file order, into `each`; blank rows included.
    pub fn rows<E>(
        &self,
        mut each: impl FnMut(RawRow) -> Result<(), E>,
    ) -> Result<Extent, Stop<E>> {
        let width = self.header.len();
        match &self.kind {
            Kind::Csv {
                path,
                skip,
                cp1252,
                lines,
            } => {
                let mut records = CsvRecords::open(path, *skip).map_err(open_err)?;
                let mut extent = Extent {
                    lines: *lines,
                    ..Extent::default()
                };
                let mut header_seen = false;
                while let Some(item) = records.next().map_err(open_err)? {
                    let row = match item {
                        Item::Blank { row, line } => RawRow {
                            row,
                            line,
                            lines: 1,
                            rows: 1,
                            fields: Fields::default(),
                            field_count: 0,
                            suspect: Vec::new(),
                        },
                        Item::Record(rec) => {
                            if !header_seen {
                                header_seen = true;
                                extent.header_lines = rec.line - 1 + rec.lines;
                                continue;
                            }
                            rec.into_row(width, *cp1252)
                        }
                    };
                    if !header_seen {
                        // Blank lines before the header are the header's.
                        continue;
                    }
                    extent.row_lines += row.lines;
                    each(row).map_err(Stop::Caller)?;
                }
                Ok(extent)
            }
            Kind::Sheet {
                path,
                sheet,
                date_format,
                header_row,
                first_col,
            } => {
                let mut last_row = *header_row;
                let window = Window {
                    first_col: *first_col,
                    width,
                };
                let mut workbook = open_xlsx(path)?;
                let mut caller = None;
                sheet_rows(
                    &mut workbook,
                    sheet,
                    date_format,
                    Some(window),
                    &mut |r, row| {
                        if r <= *header_row {
                            return true;
                        }
                        // Rows absent from the sheet between two used ones are one run of blank
                        // rows.
                        if r > last_row + 1 {
                            let line = u64::from(last_row) + 2;
                            let n = u64::from(r - last_row - 1);
                            if let Err(e) = each(RawRow {
                                row: line,
                                line,
                                lines: n,
                                rows: n,
                                fields: Fields::default(),
                                field_count: 0,
                                suspect: Vec::new(),
                            }) {
                                caller = Some(e);
                                return false;
                            }
                        }
                        last_row = r;
                        if let Err(e) = each(row) {
                            caller = Some(e);
                            return false;
                        }
                        true
                    },
                )?;
                if let Some(e) = caller {
                    return Err(Stop::Caller(e));
                }
                let header_lines = u64::from(*header_row) + 1;
                let lines = u64::from(last_row) + 1;
                Ok(Extent {
                    lines,
                    header_lines,
                    row_lines: lines - header_lines,
                })
            }
        }
    }
}

/// A field's text, borrowed when the bytes already are it: callers trim and copy it once
/// (a copy here as well made two allocations a cell, at 10M participants billions).
fn decode(bytes: &[u8], cp1252: bool) -> std::borrow::Cow<'_, str> {
    if cp1252 {
        encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
    } else {
        // Validity was checked over the whole file when it was opened; lossless for valid UTF-8.
        String::from_utf8_lossy(bytes)
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
        "xlsx" => {
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

/// What a scan of a CSV's raw bytes finds: its physical lines and its encoding.
#[derive(Debug, Default)]
struct Scan {
    lines: u64,
    /// First line holding bytes that are not UTF-8.
    first_bad_line: Option<u64>,
}

/// Counts the physical lines of `reader` (`\n`, `\r\n` and a bare `\r` each end one; a last
/// line without an ending counts) and finds the first line that is not UTF-8.
fn scan(mut reader: impl Read) -> std::io::Result<Scan> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut lines = LineCounter::default();
    // Bytes of a UTF-8 sequence cut by the end of the last chunk.
    let mut carry: Vec<u8> = Vec::new();
    let mut first_bad_line = None;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if first_bad_line.is_none() {
            let mut joined;
            let text: &[u8] = if carry.is_empty() {
                chunk
            } else {
                joined = std::mem::take(&mut carry);
                joined.extend_from_slice(chunk);
                &joined[..]
            };
            match std::str::from_utf8(text) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => carry = text[e.valid_up_to()..].to_vec(),
                Err(e) => {
                    let before = &text[..e.valid_up_to()];
                    let carried = text.len() - chunk.len();
                    // Lines ended before the bad byte, in this chunk, plus the lines before it.
                    let in_chunk = &before[carried.min(before.len())..];
                    let mut probe = lines.clone();
                    probe.feed(in_chunk);
                    first_bad_line = Some(probe.line());
                }
            }
        }
        lines.feed(chunk);
    }
    if !carry.is_empty() && first_bad_line.is_none() {
        first_bad_line = Some(lines.line());
    }
    Ok(Scan {
        lines: lines.total(),
        first_bad_line,
    })
}

/// Physical lines over a byte stream fed in pieces: `\r\n` is one line ending even when the
/// pieces split it.
#[derive(Debug, Clone, Default)]
struct LineCounter {
    /// Line endings seen.
    endings: u64,
    prev_cr: bool,
    /// Whether a byte has been seen since the last ending.
    open: bool,
}

impl LineCounter {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }

    /// Feeds one byte; returns whether it ended a line.
    fn byte(&mut self, b: u8) -> bool {
        match b {
            b'\n' if self.prev_cr => {
                self.prev_cr = false;
                false
            }
            b'\r' | b'\n' => {
                self.endings += 1;
                self.prev_cr = b == b'\r';
                self.open = false;
                true
            }
            _ => {
                self.prev_cr = false;
                self.open = true;
                false
            }
        }
    }

    /// Feeds bytes known to hold no line ending (at least one).
    fn plain(&mut self) {
        self.prev_cr = false;
        self.open = true;
    }

    /// The line the next byte is on, from 1.
    fn line(&self) -> u64 {
        self.endings + 1
    }

    /// Lines so far: every ending, and a last line without one.
    fn total(&self) -> u64 {
        self.endings + u64::from(self.open)
    }
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

    // Is the file valid UTF-8? Providers sometimes export Windows-1252; such a file is read as
    // Windows-1252 rather than rejected, and the note says so. The same scan counts the lines
    // that the rows must account for.
    file.seek(SeekFrom::Start(skip)).map_err(open_err)?;
    let scanned = scan(BufReader::new(file)).map_err(open_err)?;
    let cp1252 = scanned.first_bad_line.is_some();
    if let Some(line) = scanned.first_bad_line {
        notes.push(format!(
            "is not valid UTF-8 (first at line {line}); read as Windows-1252 — please export as CSV UTF-8"
        ));
    }

    let mut records = CsvRecords::open(path, skip).map_err(open_err)?;
    let header = loop {
        match records.next().map_err(open_err)? {
            None => return Err(problem("empty_file", "the file has no header row")),
            Some(Item::Blank { .. }) => continue,
            Some(Item::Record(rec)) => break rec,
        }
    };
    if header.lines > 1 {
        // A header never holds a line break: a quote in it opened a field that swallowed the
        // lines after it, rows of participants among them.
        return Err(problem(
            "header_broken",
            format!(
                "the header row runs over {} lines ({}–{}): a quote opened in it is closed only \
                 later, so it cannot be read; look for a stray `\"` on line {}",
                header.lines,
                header.line,
                header.line + header.lines - 1,
                header.line
            ),
        ));
    }
    if header.fields > MAX_COLUMNS || header.oversized {
        return Err(problem(
            "too_wide",
            format!(
                "the header has {} columns; more than {MAX_COLUMNS} is not an export of the data tool",
                header.fields
            ),
        ));
    }
    let header: Vec<String> = header
        .field_bytes()
        .map(|f| decode(f, cp1252).trim().to_string())
        .collect();
    if header.iter().all(|h| h.is_empty()) {
        return Err(problem("empty_file", "the header row is blank"));
    }
    Ok(Extract {
        header,
        notes,
        kind: Kind::Csv {
            path: path.to_path_buf(),
            skip,
            cp1252,
            lines: scanned.lines,
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

/// A CSV record as parsed, before it is decoded.
struct Record {
    /// Row as Excel shows it.
    row: u64,
    /// First physical line.
    line: u64,
    /// Physical lines spanned.
    lines: u64,
    /// Unescaped field bytes, back to back (empty when `oversized`).
    bytes: Vec<u8>,
    /// End of each field in `bytes`.
    ends: Vec<usize>,
    /// Fields in the record (also those past the ones kept).
    fields: usize,
    /// Longer than [`MAX_RECORD_BYTES`]: `bytes` and `ends` were not kept.
    oversized: bool,
    /// Length of the record's text.
    length: usize,
}

impl Record {
    fn field_bytes(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let f = &self.bytes[start..end];
            start = end;
            f
        })
    }

    fn into_row(self, width: usize, cp1252: bool) -> RawRow {
        let mut suspect = Vec::new();
        let mut fields = Fields::with_capacity(width, self.bytes.len());
        if self.oversized {
            suspect.push(Suspicion::Oversized { bytes: self.length });
        } else {
            // UTF-8 is checked once a record, not once a field: a field's bytes are the input's
            // without its (ASCII) quotes, so every field starts and ends on a character.
            let text = if cp1252 {
                None
            } else {
                std::str::from_utf8(&self.bytes).ok()
            };
            let mut start = 0;
            for (i, f) in self.field_bytes().enumerate() {
                let end = start + f.len();
                if f.len() > MAX_FIELD_BYTES {
                    suspect.push(Suspicion::LongField {
                        field: i,
                        bytes: f.len(),
                    });
                }
                if i < width {
                    match text.and_then(|t| t.get(start..end)) {
                        Some(field) => fields.push(field.trim()),
                        None => fields.push(decode(f, cp1252).trim()),
                    }
                }
                start = end;
            }
        }
        // A line of nothing but separators is a blank row, however many there are; a record
        // with something in it must have the header's width.
        let empty = !self.oversized
            && self.lines == 1
            && self
                .field_bytes()
                .all(|f| f.iter().all(u8::is_ascii_whitespace));
        let field_count = if empty { width } else { self.fields };
        if field_count != width {
            suspect.insert(
                0,
                Suspicion::FieldCount {
                    found: self.fields,
                    expected: width,
                },
            );
        }
        if self.lines > 1 {
            suspect.push(Suspicion::LineBreaks { lines: self.lines });
        }
        fields.resize(width);
        RawRow {
            row: self.row,
            line: self.line,
            lines: self.lines,
            rows: 1,
            fields,
            field_count,
            suspect,
        }
    }
}

/// What the CSV reader yields: a record, or a blank line (which the parser itself skips, but
/// which Excel shows as a row and the accounting must count).
enum Item {
    Blank { row: u64, line: u64 },
    Record(Record),
}

/// RFC 4180 records (csv-core's parser, which never fails: it prefers *a* parse) with the
/// physical lines and Excel row of each, blank lines, and a bound on the memory a record takes.
struct CsvRecords {
    input: BufReader<File>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    done: bool,
    core: csv_core::Reader,
    lines: LineCounter,
    /// Rows Excel would show so far.
    rows: u64,
    /// Blank lines waiting to be yielded: (first line, count), consecutive.
    blanks: (u64, u64),
    /// The record read after those blank lines.
    pending: Option<Record>,
    // The record being read.
    in_record: bool,
    record_line: u64,
    last_byte_ended_line: bool,
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    fields_dropped: usize,
    oversized: bool,
    length: usize,
}

impl CsvRecords {
    fn open(path: &Path, skip: u64) -> std::io::Result<Self> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(skip))?;
        Ok(CsvRecords {
            input: BufReader::with_capacity(64 * 1024, file),
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            eof: false,
            done: false,
            core: csv_core::Reader::new(),
            lines: LineCounter::default(),
            rows: 0,
            blanks: (0, 0),
            pending: None,
            in_record: false,
            record_line: 0,
            last_byte_ended_line: false,
            out: vec![0; 1024],
            out_len: 0,
            ends: vec![0; 128],
            ends_len: 0,
            fields_dropped: 0,
            oversized: false,
            length: 0,
        })
    }

    fn next(&mut self) -> std::io::Result<Option<Item>> {
        loop {
            if self.blanks.1 > 0 {
                let line = self.blanks.0;
                self.blanks = (line + 1, self.blanks.1 - 1);
                self.rows += 1;
                return Ok(Some(Item::Blank {
                    row: self.rows,
                    line,
                }));
            }
            if let Some(mut rec) = self.pending.take() {
                self.rows += 1;
                rec.row = self.rows;
                return Ok(Some(Item::Record(rec)));
            }
            if self.done {
                return Ok(None);
            }
            self.read_record()?;
        }
    }

    /// Parses up to the end of the next record (or of the file), queueing the blank lines
    /// before it and the record itself.
    fn read_record(&mut self) -> std::io::Result<()> {
        use csv_core::ReadRecordResult as R;
        loop {
            if self.start == self.end && !self.eof {
                let n = self.input.read(&mut self.buf)?;
                self.start = 0;
                self.end = n;
                self.eof = n == 0;
            }
            let input = &self.buf[self.start..self.end];
            let out_from = if self.oversized { 0 } else { self.out_len };
            let (result, nin, nout, nend) = self.core.read_record(
                input,
                &mut self.out[out_from..],
                &mut self.ends[self.ends_len..],
            );
            let consumed = self.start..self.start + nin;
            self.start += nin;
            self.track(consumed);
            self.length += nout;
            if !self.oversized {
                self.out_len += nout;
            }
            self.ends_len += nend;
            match result {
                R::InputEmpty => {}
                R::OutputFull => {
                    if self.out.len() < MAX_RECORD_BYTES {
                        let grown = (self.out.len() * 2).min(MAX_RECORD_BYTES);
                        self.out.resize(grown, 0);
                    } else {
                        // Past the bound the parse goes on into a scratch buffer: the record is
                        // still delimited and counted, its text is not kept.
                        self.oversized = true;
                    }
                }
                R::OutputEndsFull => {
                    if self.ends.len() < MAX_COLUMNS * 4 {
                        let grown = self.ends.len() * 2;
                        self.ends.resize(grown, 0);
                    } else {
                        self.fields_dropped += self.ends_len;
                        self.ends_len = 0;
                        self.oversized = true;
                    }
                }
                R::Record => {
                    self.finish_record();
                    return Ok(());
                }
                R::End => {
                    self.done = true;
                    return Ok(());
                }
            }
        }
    }

    /// Follows the consumed bytes line by line: blank lines outside a record, the first line
    /// of a record, line breaks inside one.
    fn track(&mut self, range: std::ops::Range<usize>) {
        let mut i = range.start;
        while i < range.end {
            if self.in_record {
                // Inside a record only line endings count: skip to the next (most of a file's
                // bytes; this loop was the CSV reader's largest cost).
                let plain =
                    memchr::memchr2(b'\n', b'\r', &self.buf[i..range.end]).unwrap_or(range.end - i);
                if plain > 0 {
                    self.lines.plain();
                    self.last_byte_ended_line = false;
                    i += plain;
                    continue;
                }
            }
            let b = self.buf[i];
            i += 1;
            if self.lines.byte(b) {
                if !self.in_record {
                    let line = self.lines.line() - 1;
                    if self.blanks.1 == 0 {
                        self.blanks = (line, 0);
                    }
                    self.blanks.1 += 1;
                }
                self.last_byte_ended_line = true;
            } else if b != b'\n' {
                if !self.in_record {
                    self.in_record = true;
                    self.record_line = self.lines.line();
                }
                self.last_byte_ended_line = false;
            }
        }
    }

    fn finish_record(&mut self) {
        let end_line = self.lines.line();
        // A record ends with its line ending, or at the end of the file without one.
        let lines = if self.last_byte_ended_line {
            end_line - self.record_line
        } else {
            end_line - self.record_line + 1
        };
        let fields = self.fields_dropped + self.ends_len;
        let record = Record {
            row: 0,
            line: self.record_line,
            lines: lines.max(1),
            bytes: if self.oversized {
                Vec::new()
            } else {
                self.out[..self.out_len].to_vec()
            },
            ends: if self.oversized {
                Vec::new()
            } else {
                self.ends[..self.ends_len].to_vec()
            },
            fields,
            oversized: self.oversized,
            length: self.length,
        };
        self.pending = Some(record);
        self.in_record = false;
        self.out_len = 0;
        self.ends_len = 0;
        self.fields_dropped = 0;
        self.oversized = false;
        self.length = 0;
    }
}

/// Opens an xlsx workbook after checking that it cannot expand beyond reason.
fn open_xlsx(path: &Path) -> Result<Xlsx<BufReader<File>>, FileProblem> {
    let file = File::open(path).map_err(open_err)?;
    let not_xlsx = |e: zip::result::ZipError| {
        problem(
            "unreadable",
            format!("the workbook cannot be opened: {}", zip_failure(&e)),
        )
    };
    let mut expanded: u64 = 0;
    {
        // The central directory states every part's size, whether or not the part also has a
        // data descriptor.
        let mut archive = zip::ZipArchive::new(BufReader::new(&file)).map_err(not_xlsx)?;
        for i in 0..archive.len() {
            let part = archive.by_index_raw(i).map_err(not_xlsx)?;
            expanded = expanded.saturating_add(part.size());
        }
    }
    if expanded > MAX_WORKBOOK_EXPANDED_BYTES {
        return Err(problem(
            "too_large",
            format!(
                "the workbook would expand to more than {} GiB; send the extract as CSV",
                MAX_WORKBOOK_EXPANDED_BYTES >> 30
            ),
        ));
    }
    let mut file = file;
    file.seek(SeekFrom::Start(0)).map_err(open_err)?;
    // calamine's cell-reference arithmetic can overflow on a hostile reference; a panic there is
    // a workbook we cannot read, not a crash of the run.
    std::panic::catch_unwind(move || Xlsx::new(BufReader::new(file)))
        .map_err(|_| {
            problem(
                "unreadable",
                "the workbook cannot be read (it is malformed)",
            )
        })?
        .map_err(|e| {
            problem(
                "unreadable",
                format!("the workbook cannot be opened: {}", workbook_failure(&e)),
            )
        })
}

/// Why calamine could not read a workbook, in words of our own: its messages quote the XML
/// they choke on, which may be a participant's name from the shared strings (found by the
/// fuzzing campaign).
fn workbook_failure(e: &calamine::XlsxError) -> &'static str {
    use calamine::XlsxError as X;
    match e {
        X::Io(_) => "it cannot be read from the disk",
        X::Zip(z) => zip_failure(z),
        X::Xml(_) | X::XmlAttr(_) | X::XmlEof(_) | X::UnexpectedNode(_) => {
            "its XML is damaged; open and save it in Excel"
        }
        X::FileNotFound(_) | X::RelationshipNotFound => {
            "a part of it is missing; open and save it in Excel"
        }
        _ => "it is damaged or not an xlsx workbook; open and save it in Excel",
    }
}

/// Why the zip archive of a workbook could not be read, in words of our own.
fn zip_failure(e: &zip::result::ZipError) -> &'static str {
    use zip::result::ZipError as Z;
    match e {
        Z::Io(_) => "it cannot be read from the disk, or it is cut short",
        Z::UnsupportedArchive(_) => "it is packed in a way xlsx files are not (encrypted?)",
        _ => "it is not an xlsx file (not a valid zip archive)",
    }
}

/// The columns of a sheet that hold the data: from the header's first cell, as many as it has.
#[derive(Debug, Clone, Copy)]
struct Window {
    first_col: u32,
    width: usize,
}

/// Streams the used rows of `sheet` to `each` as (0-based sheet row, row), in order, until it
/// returns false. With no `window` (the header), a row's fields are its cells from column A.
fn sheet_rows(
    workbook: &mut Xlsx<BufReader<File>>,
    sheet: &str,
    date_format: &str,
    window: Option<Window>,
    each: &mut dyn FnMut(u32, RawRow) -> bool,
) -> Result<(), FileProblem> {
    let run = std::panic::AssertUnwindSafe(|| -> Result<(), FileProblem> {
        let unreadable = |e: calamine::XlsxError| {
            problem(
                "unreadable",
                format!("sheet `{sheet}` cannot be read: {}", workbook_failure(&e)),
            )
        };
        let mut cells = workbook.worksheet_cells_reader(sheet).map_err(unreadable)?;
        let mut row = SheetRow::new(window);
        while let Some(cell) = cells.next_cell().map_err(unreadable)? {
            let (r, c) = cell.get_position();
            if r >= EXCEL_ROWS || c >= EXCEL_COLUMNS {
                return Err(problem(
                    "beyond_excel",
                    format!(
                        "sheet `{sheet}` has a cell beyond Excel's last cell XFD1048576 (row {}, column {}): the workbook is damaged or not from Excel",
                        u64::from(r) + 1,
                        u64::from(c) + 1
                    ),
                ));
            }
            if let Some(current) = row.at
                && r != current
            {
                if r < current {
                    return Err(problem(
                        "unreadable",
                        format!(
                            "sheet `{sheet}` lists row {} after row {}: the workbook is damaged; open and save it in Excel",
                            u64::from(r) + 1,
                            u64::from(current) + 1
                        ),
                    ));
                }
                if let Some(done) = row.take()
                    && !each(current, done)
                {
                    return Ok(());
                }
            }
            row.at = Some(r);
            row.put(c, cell.get_value(), date_format);
        }
        if let (Some(r), Some(done)) = (row.at, row.take()) {
            each(r, done);
        }
        Ok(())
    });
    std::panic::catch_unwind(run).map_err(|_| {
        problem(
            "unreadable",
            format!("sheet `{sheet}` cannot be read (it is malformed)"),
        )
    })?
}

/// The cells of the sheet row being read.
struct SheetRow {
    window: Option<Window>,
    at: Option<u32>,
    fields: Vec<String>,
    /// Columns past the window (or before it) holding something.
    outside: usize,
    /// Right-most used column inside the window, plus one.
    used: usize,
    /// A cell of the row holds something, if only a space: the row is used, if blank.
    present: bool,
    long: Vec<Suspicion>,
}

impl SheetRow {
    fn new(window: Option<Window>) -> Self {
        SheetRow {
            window,
            at: None,
            fields: Vec::new(),
            outside: 0,
            used: 0,
            present: false,
            long: Vec::new(),
        }
    }

    fn put(&mut self, col: u32, value: &DataRef<'_>, date_format: &str) {
        if value.is_empty() {
            return;
        }
        self.present = true;
        let (first, width) = match self.window {
            Some(w) => (w.first_col, w.width),
            None => (0, MAX_COLUMNS + 1),
        };
        if col < first || (col - first) as usize >= width {
            self.outside += 1;
            return;
        }
        let i = (col - first) as usize;
        let text = cell_text(value, date_format);
        if text.is_empty() {
            return;
        }
        if self.fields.len() <= i {
            self.fields.resize(i + 1, String::new());
        }
        if text.len() > MAX_FIELD_BYTES {
            self.long.push(Suspicion::LongField {
                field: i,
                bytes: text.len(),
            });
        } else {
            self.fields[i] = text;
        }
        self.used = self.used.max(i + 1);
    }

    /// The row read so far, if anything is in it, and a fresh start for the next one.
    fn take(&mut self) -> Option<RawRow> {
        let at = self.at?;
        let mut fields = std::mem::take(&mut self.fields);
        let long = std::mem::take(&mut self.long);
        let (outside, used, present) = (self.outside, self.used, self.present);
        self.outside = 0;
        self.used = 0;
        self.present = false;
        if !present {
            return None;
        }
        let line = u64::from(at) + 1;
        let (width, field_count) = match self.window {
            Some(w) => (w.width, w.width.max(used) + outside),
            None => (used, used + outside),
        };
        fields.resize(width, String::new());
        Some(RawRow {
            row: line,
            line,
            lines: 1,
            rows: 1,
            fields: fields.into(),
            field_count,
            suspect: long,
        })
    }
}

fn open_workbook(
    path: &Path,
    sheet: &str,
    expected_sheets: &[String],
    date_format: &str,
) -> Result<Extract, FileProblem> {
    let mut workbook = open_xlsx(path)?;
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
                names
                    .iter()
                    .take(20)
                    .map(|n| format!("`{}`", n.replace('`', "'")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    for name in names.iter().take(20) {
        let expected = name == &data_sheet
            || expected_sheets
                .iter()
                .any(|e| e.eq_ignore_ascii_case(name.trim()));
        if !expected {
            notes.push(format!(
                "has an extra sheet `{}`, which was not read",
                name.replace('`', "'")
            ));
        }
    }
    // The header is the first used row; its first used cell is where the data's columns start.
    let mut header: Option<(u32, RawRow)> = None;
    sheet_rows(
        &mut workbook,
        &data_sheet,
        date_format,
        None,
        &mut |r, row| {
            header = Some((r, row));
            false
        },
    )?;
    let Some((header_row, row)) = header else {
        return Err(problem(
            "empty_file",
            format!("sheet `{data_sheet}` is empty"),
        ));
    };
    if row.field_count > MAX_COLUMNS {
        return Err(problem(
            "too_wide",
            format!(
                "the header has more than {MAX_COLUMNS} columns; that is not an export of the data tool"
            ),
        ));
    }
    let first_col = row.fields.iter().position(|f| !f.is_empty()).unwrap_or(0);
    if first_col != 0 {
        notes.push(format!(
            "data on sheet `{data_sheet}` starts in column {} rather than A",
            first_col + 1
        ));
    }
    let header: Vec<String> = row
        .fields
        .iter()
        .skip(first_col)
        .map(str::to_string)
        .collect();
    Ok(Extract {
        header,
        notes,
        kind: Kind::Sheet {
            path: path.to_path_buf(),
            sheet: data_sheet,
            date_format: date_format.to_string(),
            header_row,
            first_col: first_col as u32,
        },
    })
}

/// A cell as the text a CSV export of it would hold: dates as DD/MM/YYYY, numbers in shortest form.
fn cell_text(cell: &DataRef<'_>, date_format: &str) -> String {
    match cell {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.trim().to_string(),
        DataRef::SharedString(s) => s.trim().to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(_) | DataRef::DateTimeIso(_) => match cell.as_date() {
            Some(d) => d.format(date_format).to_string(),
            None => cell.as_string().unwrap_or_default(),
        },
        DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => format!("#{e:?}"),
    }
}

/// Counts the rows of a file that is rejected as a whole, as far as they can be counted: the
/// lines after the first of a CSV in any encoding, the used rows after the first of a
/// workbook's first sheet; `None` when nothing can be read.
pub fn count_rows(path: &Path) -> Option<u64> {
    let is_workbook = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let lines = if is_workbook {
        let mut workbook = open_xlsx(path).ok()?;
        let first = workbook.sheet_names().into_iter().next()?;
        let mut used = 0u64;
        sheet_rows(&mut workbook, &first, "%d/%m/%Y", None, &mut |_, _| {
            used += 1;
            true
        })
        .ok()?;
        used
    } else {
        count_csv_lines(path).ok()?
    };
    Some(lines.saturating_sub(1))
}

/// Physical lines of a text file, UTF-16 (by its byte-order mark) or any 8-bit encoding.
fn count_csv_lines(path: &Path) -> std::io::Result<u64> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 2];
    let n = read_up_to(&mut file, &mut head)?;
    let utf16 = match head {
        _ if n < 2 => None,
        [0xFF, 0xFE] => Some(u16::from_le_bytes as fn([u8; 2]) -> u16),
        [0xFE, 0xFF] => Some(u16::from_be_bytes as fn([u8; 2]) -> u16),
        _ => None,
    };
    let Some(unit) = utf16 else {
        file.seek(SeekFrom::Start(0))?;
        return scan(BufReader::new(file)).map(|s| s.lines);
    };
    // A line ends at a 16-bit `\n` or `\r`; other code units stand for any character.
    let mut lines = LineCounter::default();
    let mut reader = BufReader::new(file);
    let mut pair = [0u8; 2];
    loop {
        match reader.read_exact(&mut pair) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        let u = unit(pair);
        lines.byte(if u == 0x0A || u == 0x0D {
            u as u8
        } else {
            b'x'
        });
    }
    Ok(lines.total())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(text: &[u8]) -> (Vec<String>, Vec<RawRow>, Extent) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, text).unwrap();
        let extract = open_csv(&path).unwrap();
        let mut rows = Vec::new();
        let extent = extract
            .rows(|r| {
                rows.push(r);
                Ok::<(), ()>(())
            })
            .unwrap();
        (extract.header, rows, extent)
    }

    /// (Excel row, first line, lines, fields) of each row.
    fn shape(rows: &[RawRow]) -> Vec<(u64, u64, u64, Vec<&str>)> {
        rows.iter()
            .map(|r| (r.row, r.line, r.lines, r.fields.iter().collect()))
            .collect()
    }

    #[test]
    fn rows_are_numbered_as_excel_shows_them_whatever_the_line_endings() {
        for ending in ["\n", "\r\n", "\r"] {
            let text = ["a,b", "1,2", "", "3,4", "5,6"].join(ending) + ending;
            let (header, rows, extent) = rows_of(text.as_bytes());
            assert_eq!(header, ["a", "b"]);
            assert_eq!(
                shape(&rows),
                [
                    (2, 2, 1, vec!["1", "2"]),
                    (3, 3, 1, vec![]),
                    (4, 4, 1, vec!["3", "4"]),
                    (5, 5, 1, vec!["5", "6"]),
                ],
                "{ending:?}"
            );
            assert!(rows[1].is_blank());
            assert_eq!(extent.lines, 5, "{ending:?}");
            assert!(extent.balances(), "{ending:?}: {extent:?}");
        }
    }

    #[test]
    fn a_quoted_line_break_is_one_excel_row_over_two_lines() {
        let (_, rows, extent) = rows_of(b"a,b\r\n\"x\r\ny\",2\r\n3,4");
        assert_eq!(
            shape(&rows),
            [(2, 2, 2, vec!["x\r\ny", "2"]), (3, 4, 1, vec!["3", "4"])]
        );
        assert_eq!(rows[0].suspect, [Suspicion::LineBreaks { lines: 2 }]);
        assert!(rows[1].suspect.is_empty());
        assert_eq!(extent.lines, 4);
        assert!(extent.balances());
    }

    #[test]
    fn a_stray_quote_swallows_lines_into_one_suspect_record_and_every_line_is_counted() {
        let mut text = String::from("a,b,c\n1,2,3\n4,\"5,6\n");
        for i in 0..50 {
            text.push_str(&format!("{i},x,y\n"));
        }
        let (_, rows, extent) = rows_of(text.as_bytes());
        assert_eq!(rows.len(), 2);
        let swallowed = &rows[1];
        assert_eq!((swallowed.row, swallowed.line, swallowed.lines), (3, 3, 51));
        assert!(swallowed.misaligned());
        assert!(
            swallowed
                .suspect
                .contains(&Suspicion::LineBreaks { lines: 51 })
        );
        assert_eq!(extent.lines, 53);
        assert_eq!(extent.header_lines + extent.row_lines, 53);
    }

    #[test]
    fn an_unquoted_comma_makes_the_record_suspect() {
        let (_, rows, _) = rows_of(b"a,b,c\nRobinson, Jr,QQ123456A,L5\n");
        assert_eq!(
            rows[0].suspect,
            [Suspicion::FieldCount {
                found: 4,
                expected: 3
            }]
        );
    }

    #[test]
    fn a_huge_record_is_counted_not_kept() {
        let mut text = b"a,b\n\"".to_vec();
        text.extend(std::iter::repeat_n(b'z', MAX_RECORD_BYTES * 3));
        text.extend(b"\",1\n2,3\n");
        let (_, rows, extent) = rows_of(&text);
        assert_eq!(rows.len(), 2);
        assert!(rows[0].fields.iter().all(str::is_empty));
        assert!(matches!(rows[0].suspect[..], [Suspicion::Oversized { .. }]));
        assert_eq!(rows[1].fields.iter().collect::<Vec<_>>(), ["2", "3"]);
        assert_eq!((rows[1].row, rows[1].line), (3, 3));
        assert!(extent.balances());
    }

    #[test]
    fn blank_lines_at_the_end_and_no_final_line_ending_are_counted() {
        let (_, rows, extent) = rows_of(b"a\n1\n\n\n2");
        assert_eq!(
            shape(&rows),
            [
                (2, 2, 1, vec!["1"]),
                (3, 3, 1, vec![]),
                (4, 4, 1, vec![]),
                (5, 5, 1, vec!["2"])
            ]
        );
        assert_eq!(extent.lines, 5);
        assert!(extent.balances());
        let (_, rows, extent) = rows_of(b"a\n1\n\n");
        assert_eq!(rows.len(), 2);
        assert_eq!((extent.lines, extent.balances()), (3, true));
    }

    #[test]
    fn lines_count_the_same_in_any_piece_size() {
        let text = b"a,b\r\n1,2\r\r\n\n3,\"4\r\n5\"\r\n";
        let whole = scan(&text[..]).unwrap().lines;
        assert_eq!(whole, 6);
        for size in 1..text.len() {
            let mut c = LineCounter::default();
            for piece in text.chunks(size) {
                c.feed(piece);
            }
            assert_eq!(c.total(), whole, "pieces of {size}");
        }
    }

    #[test]
    fn the_first_line_that_is_not_utf8_is_found() {
        let s = scan(&b"a\nb\n\xe9t\xe9\n"[..]).unwrap();
        assert_eq!(s.first_bad_line, Some(3));
        let s = scan("a\nb\n\u{e9}t\u{e9}\n".as_bytes()).unwrap();
        assert_eq!(s.first_bad_line, None);
    }
}
