//! Reading and validating the researchers' workbooks.
//!
//! The qualitative data folder holds what a research team keeps while charting (see
//! `data/qualitative/README.md`):
//!
//! - `cases.xlsx`, sheet `cases`: the sample, one row per interview (case) with its attributes:
//!   `case_id`, `interview_type`, `wave`, `lot`, `role`, `cohort` (participants), `age_band`,
//!   `gender`;
//! - one matrix workbook per interview type (its name in the codebook), sheet `matrix`: column A
//!   `case_id`, then one column per sub-theme headed by its code (a label may follow the code),
//!   cells the charted summaries in the convention of [`crate::cell`]; an optional `notes` column
//!   is ignored; optional sheet `quotes`: `quote_id`, `case_id`, `theme`, `quote`;
//! - `cmo.xlsx`, sheet `cmo`: context–mechanism–outcome links, one per row: `figure`,
//!   `direction` (`enables` / `hinders`), `context`, `mechanism`, `outcome`, `cases` (the
//!   supporting case ids, separated by commas).
//!
//! A problem in the data is a [`Finding`] naming file, sheet and cell, and the datum it concerns
//! is left out; it is never an [`Error`](crate::Error). Only an unreadable workbook, or a case
//! sheet without its required columns, stops the stage.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader};
use evalpipe_study::{SYNTHETIC_MARKER, Study};

use crate::cell::{self, Valence};
use crate::codebook::Codebook;
use crate::{Error, Result};

/// The case sheet's workbook.
pub const CASES_FILE: &str = "cases.xlsx";
/// The CMO links' workbook.
pub const CMO_FILE: &str = "cmo.xlsx";
/// Sheet names.
pub const CASES_SHEET: &str = "cases";
/// Matrix sheet of a type's workbook.
pub const MATRIX_SHEET: &str = "matrix";
/// Quotes sheet of a type's workbook.
pub const QUOTES_SHEET: &str = "quotes";
/// Sheet of the CMO links.
pub const CMO_SHEET: &str = "cmo";

/// Columns of the case sheet, in the order the twin writes them.
pub const CASE_COLUMNS: [&str; 8] = [
    "case_id",
    "interview_type",
    "wave",
    "lot",
    "role",
    "cohort",
    "age_band",
    "gender",
];
/// Columns of the quotes sheet.
pub const QUOTE_COLUMNS: [&str; 4] = ["quote_id", "case_id", "theme", "quote"];
/// Columns of the CMO sheet.
pub const CMO_COLUMNS: [&str; 6] = [
    "figure",
    "direction",
    "context",
    "mechanism",
    "outcome",
    "cases",
];

/// Which validation rule a finding breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// A matrix column's header is not a sub-theme code of the codebook.
    UnknownTheme,
    /// A matrix row's case is not on the case sheet.
    CaseWithoutAttributes,
    /// A case id appears twice on the case sheet or in one matrix.
    DuplicateCase,
    /// A case is charted in the matrix of another interview type than its own, or in two.
    CaseInTwoTypes,
    /// A type's matrix has no charted case (workbook or sheet missing, or no rows).
    EmptyMatrix,
    /// A cell refers to a quote id that no `quotes` sheet holds.
    MissingQuote,
    /// A case sheet value is not one the codebook or study knows (type, wave, lot, cohort…).
    BadAttribute,
    /// A sheet lacks a column it needs.
    BadLayout,
    /// A quote id is used twice.
    DuplicateQuote,
    /// A quote or a CMO link names a case that is not a valid case.
    UnknownCase,
    /// A CMO link names a figure the codebook does not list.
    UnknownFigure,
    /// A case on the case sheet has no row in any matrix (warning).
    UncodedCase,
}

impl Rule {
    /// Code in tables and reports.
    pub fn code(self) -> &'static str {
        match self {
            Rule::UnknownTheme => "unknown-theme",
            Rule::CaseWithoutAttributes => "case-without-attributes",
            Rule::DuplicateCase => "duplicate-case",
            Rule::CaseInTwoTypes => "case-in-two-types",
            Rule::EmptyMatrix => "empty-matrix",
            Rule::MissingQuote => "missing-quote",
            Rule::BadAttribute => "bad-attribute",
            Rule::BadLayout => "bad-layout",
            Rule::DuplicateQuote => "duplicate-quote",
            Rule::UnknownCase => "unknown-case",
            Rule::UnknownFigure => "unknown-figure",
            Rule::UncodedCase => "uncoded-case",
        }
    }

    /// `error`: something was left out of the counts; `warning`: nothing was, but look.
    pub fn severity(self) -> &'static str {
        match self {
            Rule::UncodedCase | Rule::EmptyMatrix => "warning",
            _ => "error",
        }
    }
}

/// One validation finding: where, which rule, what was done.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// File name inside the qualitative folder.
    pub file: String,
    /// Sheet, when the finding is inside one.
    pub sheet: Option<String>,
    /// Cell (`B7`), row (`A7:…` as `row 7`) or column (`D1`) the finding is about.
    pub cell: Option<String>,
    /// The rule.
    pub rule: Rule,
    /// What is wrong and what was done, in words.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(s) = &self.sheet {
            write!(f, ", sheet {s}")?;
        }
        if let Some(c) = &self.cell {
            write!(f, ", {c}")?;
        }
        write!(f, ": {} ({})", self.message, self.rule.code())
    }
}

/// A case: one interview and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Case id.
    pub id: String,
    /// Interview type code.
    pub interview_type: String,
    /// Wave number.
    pub wave: i64,
    /// Lot code; `None` for programme-level interviews.
    pub lot: Option<String>,
    /// Role of the interviewee (staff and partners).
    pub role: Option<String>,
    /// Cohort code (participants).
    pub cohort: Option<String>,
    /// Age band (participants).
    pub age_band: Option<String>,
    /// Gender (participants).
    pub gender: Option<String>,
}

/// One charted cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodedCell {
    /// Case id.
    pub case_id: String,
    /// Interview type (the matrix).
    pub interview_type: String,
    /// Sub-theme code.
    pub code: String,
    /// Valence mark.
    pub valence: Valence,
    /// Summary without the marks.
    pub summary: String,
    /// Quote ids referred to that exist.
    pub quotes: Vec<String>,
    /// Where it is: `matrix_participant.xlsx!matrix!D7`.
    pub source: String,
}

/// An illustrative quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// Quote id.
    pub id: String,
    /// Case it comes from.
    pub case_id: String,
    /// Sub-theme it illustrates, if given.
    pub theme: Option<String>,
    /// The words.
    pub text: String,
}

/// A context–mechanism–outcome link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmoLink {
    /// Order on the sheet (1-based).
    pub order: i64,
    /// Figure id.
    pub figure: String,
    /// `enables` or `hinders`.
    pub direction: String,
    /// Context.
    pub context: String,
    /// Mechanism.
    pub mechanism: String,
    /// Outcome.
    pub outcome: String,
    /// Supporting cases that are valid cases.
    pub cases: Vec<String>,
}

/// Everything read from a qualitative data folder, validated.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The folder.
    pub dir: PathBuf,
    /// Whether it holds the synthetic twin (`SYNTHETIC.toml`).
    pub synthetic: bool,
    /// Valid cases, in case-sheet order.
    pub cases: Vec<Case>,
    /// Charted cells of valid cases, by interview type order then case row then column.
    pub cells: Vec<CodedCell>,
    /// Quotes, by id.
    pub quotes: BTreeMap<String, Quote>,
    /// CMO links in sheet order.
    pub cmo: Vec<CmoLink>,
    /// What validation found, sorted.
    pub findings: Vec<Finding>,
}

/// A sheet read as text with the positions of its cells.
struct Sheet {
    file: String,
    sheet: String,
    /// First row and column of the used range (0-based).
    origin: (u32, u32),
    header: Vec<String>,
    /// (0-based index below the header, cells).
    rows: Vec<(usize, Vec<String>)>,
}

impl Sheet {
    /// `B7` for row `i` below the header and column `j`.
    fn cell(&self, i: usize, j: usize) -> String {
        let row = self.origin.0 as usize + i + 2;
        format!("{}{row}", column_letters(self.origin.1 as usize + j))
    }
    /// `row 7` for row `i` below the header.
    fn row(&self, i: usize) -> String {
        format!("row {}", self.origin.0 as usize + i + 2)
    }
    fn col(&self, name: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    }
    fn finding(&self, cell: Option<String>, rule: Rule, message: String) -> Finding {
        Finding {
            file: self.file.clone(),
            sheet: Some(self.sheet.clone()),
            cell,
            rule,
            message,
        }
    }
}

/// `A`, `B`, …, `Z`, `AA` for a 0-based column.
pub fn column_letters(mut col: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        other => other.to_string(),
    }
}

/// Reads `sheet` of the workbook at `path`; `Ok(None)` when the workbook has no such sheet.
fn read_sheet(path: &Path, sheet: &str) -> Result<Option<Sheet>> {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut wb = calamine::open_workbook_auto(path).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        message: format!("not a readable workbook: {e}"),
    })?;
    let Some(name) = wb
        .sheet_names()
        .into_iter()
        .find(|n| n.trim().eq_ignore_ascii_case(sheet))
    else {
        return Ok(None);
    };
    let range = wb.worksheet_range(&name).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        message: format!("sheet {name}: {e}"),
    })?;
    let origin = range.start().unwrap_or((0, 0));
    let mut rows = range.rows();
    let header: Vec<String> = rows
        .next()
        .map(|r| r.iter().map(text).collect())
        .unwrap_or_default();
    let rows = rows
        .enumerate()
        .map(|(i, r)| (i, r.iter().map(text).collect::<Vec<_>>()))
        .filter(|(_, r)| r.iter().any(|c| !c.is_empty()))
        .collect();
    Ok(Some(Sheet {
        file,
        sheet: name,
        origin,
        header,
        rows,
    }))
}

fn get(row: &[String], col: Option<usize>) -> &str {
    col.and_then(|c| row.get(c))
        .map(String::as_str)
        .unwrap_or("")
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Reads and validates the qualitative folder `dir` against the codebook and the study.
pub fn read(dir: &Path, codebook: &Codebook, study: &Study) -> Result<Input> {
    let mut findings = Vec::new();
    let cases_path = dir.join(CASES_FILE);
    if !cases_path.is_file() {
        return Err(Error::MissingInput { path: cases_path });
    }
    let sheet = read_sheet(&cases_path, CASES_SHEET)?.ok_or_else(|| Error::Input {
        path: cases_path.clone(),
        message: format!("no sheet `{CASES_SHEET}` (the case sheet: one row per interview)"),
    })?;
    let (cases, invalid) = read_cases(&sheet, codebook, study, &mut findings)?;
    let by_id: BTreeMap<&str, &Case> = cases.iter().map(|c| (c.id.as_str(), c)).collect();

    // Quotes first: cells refer to them.
    let mut quotes = BTreeMap::new();
    let mut matrices = Vec::new();
    for t in &codebook.interview_types {
        let path = dir.join(&t.workbook);
        if !path.is_file() {
            findings.push(Finding {
                file: t.workbook.clone(),
                sheet: None,
                cell: None,
                rule: Rule::EmptyMatrix,
                message: format!(
                    "no workbook for interview type `{}`: its matrix is empty",
                    t.code
                ),
            });
            continue;
        }
        if let Some(q) = read_sheet(&path, QUOTES_SHEET)? {
            read_quotes(&q, &by_id, &invalid, &mut quotes, &mut findings);
        }
        match read_sheet(&path, MATRIX_SHEET)? {
            Some(m) => matrices.push((t.code.clone(), m)),
            None => findings.push(Finding {
                file: t.workbook.clone(),
                sheet: None,
                cell: None,
                rule: Rule::EmptyMatrix,
                message: format!(
                    "no sheet `{MATRIX_SHEET}`: the matrix of interview type `{}` is empty",
                    t.code
                ),
            }),
        }
    }

    // Where each case id is charted, to find cases charted under two types.
    let mut charted: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut cells = Vec::new();
    for (ty, m) in &matrices {
        read_matrix(
            ty,
            m,
            codebook,
            &by_id,
            &invalid,
            &quotes,
            &mut charted,
            &mut cells,
            &mut findings,
        );
    }
    for c in &cases {
        if !charted.contains_key(&c.id) {
            findings.push(Finding {
                file: CASES_FILE.into(),
                sheet: Some(CASES_SHEET.into()),
                cell: None,
                rule: Rule::UncodedCase,
                message: format!(
                    "case {} ({}) has no row in any matrix: it counts as an interview but charts no theme",
                    c.id, c.interview_type
                ),
            });
        }
    }

    let cmo_path = dir.join(CMO_FILE);
    let mut cmo = Vec::new();
    if cmo_path.is_file() {
        match read_sheet(&cmo_path, CMO_SHEET)? {
            Some(s) => cmo = read_cmo(&s, codebook, &by_id, &mut findings),
            None => findings.push(Finding {
                file: CMO_FILE.into(),
                sheet: None,
                cell: None,
                rule: Rule::BadLayout,
                message: format!("no sheet `{CMO_SHEET}`: no context–mechanism–outcome links"),
            }),
        }
    }
    findings.sort();
    Ok(Input {
        dir: dir.to_path_buf(),
        synthetic: dir.join(SYNTHETIC_MARKER).is_file(),
        cases,
        cells,
        quotes,
        cmo,
        findings,
    })
}

/// The valid cases, and the ids of rows left out (so matrices do not report them again).
fn read_cases(
    s: &Sheet,
    codebook: &Codebook,
    study: &Study,
    findings: &mut Vec<Finding>,
) -> Result<(Vec<Case>, BTreeSet<String>)> {
    let col = case_columns(s)?;
    let mut cases: Vec<Case> = Vec::new();
    let mut invalid = BTreeSet::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (i, row) in &s.rows {
        let id = get(row, col["case_id"]).to_string();
        if id.is_empty() {
            findings.push(s.finding(
                Some(s.cell(*i, col["case_id"].unwrap_or(0))),
                Rule::BadAttribute,
                "a row without a case_id: left out".into(),
            ));
            continue;
        }
        if let Some(first) = seen.get(&id) {
            findings.push(s.finding(
                Some(s.row(*i)),
                Rule::DuplicateCase,
                format!("case {id} is listed again (first on {first}): this row is left out"),
            ));
            continue;
        }
        seen.insert(id.clone(), s.row(*i));
        match case_attributes(&id, row, &col, codebook, study) {
            Ok(case) => cases.push(case),
            Err(problems) => {
                for (name, message) in problems {
                    findings.push(s.finding(
                        Some(s.cell(*i, col[name].unwrap_or(0))),
                        Rule::BadAttribute,
                        format!("case {id}: {message}; the case is left out"),
                    ));
                }
                invalid.insert(id);
            }
        }
    }
    Ok((cases, invalid))
}

/// Where each of [`CASE_COLUMNS`] is on the case sheet. Without a case's id, interview type and
/// wave no matrix row can be placed, so their absence stops the stage rather than being a finding.
fn case_columns(s: &Sheet) -> Result<BTreeMap<&'static str, Option<usize>>> {
    let mut col = BTreeMap::new();
    for name in CASE_COLUMNS {
        col.insert(name, s.col(name));
    }
    for required in ["case_id", "interview_type", "wave"] {
        if col[required].is_none() {
            return Err(Error::Input {
                path: PathBuf::from(&s.file),
                message: format!(
                    "sheet {}: no `{required}` column (the case sheet needs case_id, interview_type and wave)",
                    s.sheet
                ),
            });
        }
    }
    Ok(col)
}

/// The case of row `row`, or every problem with its attributes (by column), so that one pass
/// names all a researcher has to fix on the row: the case is left out of the counts if any.
fn case_attributes(
    id: &str,
    row: &[String],
    col: &BTreeMap<&'static str, Option<usize>>,
    codebook: &Codebook,
    study: &Study,
) -> std::result::Result<Case, Vec<(&'static str, String)>> {
    let v = |name: &str| get(row, col[name]).to_string();
    let mut problems = Vec::new();
    let ty = v("interview_type");
    if codebook.interview_type(&ty).is_none() {
        problems.push((
            "interview_type",
            format!(
                "interview type `{ty}` is not one of the codebook's ({})",
                codebook
                    .interview_types
                    .iter()
                    .map(|t| t.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let wave_text = v("wave");
    let wave = wave_text.parse::<i64>().ok();
    if !wave.is_some_and(|w| codebook.waves.iter().any(|x| x.wave == w)) {
        problems.push((
            "wave",
            format!("wave `{wave_text}` is not a wave of the codebook"),
        ));
    }
    let lots = study
        .lots
        .iter()
        .map(|l| (l.code.as_str(), l.name.as_str()));
    let lot = study_code("lot", &v("lot"), lots).unwrap_or_else(|message| {
        problems.push(("lot", message));
        None
    });
    let cohorts = study
        .cohorts
        .iter()
        .map(|c| (c.code.as_str(), c.name.as_str()));
    let cohort = study_code("cohort", &v("cohort"), cohorts).unwrap_or_else(|message| {
        problems.push(("cohort", message));
        None
    });
    let age = v("age_band");
    if !age.is_empty() && !codebook.settings.age_bands.contains(&age) {
        problems.push((
            "age_band",
            format!(
                "age band `{age}` is not one of {}",
                codebook.settings.age_bands.join(", ")
            ),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Case {
        id: id.to_string(),
        interview_type: ty,
        wave: wave.unwrap_or_default(),
        lot,
        role: opt(&v("role")),
        cohort,
        age_band: opt(&age),
        gender: opt(&v("gender")),
    })
}

/// The code of the lot or cohort (`kind`) a case sheet cell names by code (in any case) or by
/// name, as researchers write either; `None` for an empty cell (a programme-level interview).
fn study_code<'a>(
    kind: &str,
    text: &str,
    known: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> std::result::Result<Option<String>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    known
        .into_iter()
        .find(|(code, name)| code.eq_ignore_ascii_case(text) || *name == text)
        .map(|(code, _)| Some(code.to_string()))
        .ok_or_else(|| format!("{kind} `{text}` is not a {kind} of the study"))
}

fn read_quotes(
    s: &Sheet,
    cases: &BTreeMap<&str, &Case>,
    invalid: &BTreeSet<String>,
    quotes: &mut BTreeMap<String, Quote>,
    findings: &mut Vec<Finding>,
) {
    let (Some(qid), Some(cid), Some(qt)) = (s.col("quote_id"), s.col("case_id"), s.col("quote"))
    else {
        findings.push(s.finding(
            Some("row 1".into()),
            Rule::BadLayout,
            "the quotes sheet needs the columns quote_id, case_id and quote: no quote read".into(),
        ));
        return;
    };
    let theme = s.col("theme");
    for (i, row) in &s.rows {
        let id = get(row, Some(qid)).to_string();
        let case_id = get(row, Some(cid)).to_string();
        if id.is_empty() {
            continue;
        }
        if !cell::is_quote_id(&id) {
            findings.push(s.finding(
                Some(s.cell(*i, qid)),
                Rule::BadLayout,
                format!("quote id `{id}` must start with Q and have no spaces: left out"),
            ));
            continue;
        }
        if quotes.contains_key(&id) {
            findings.push(s.finding(
                Some(s.cell(*i, qid)),
                Rule::DuplicateQuote,
                format!("quote id {id} is used twice: this one is left out"),
            ));
            continue;
        }
        if !cases.contains_key(case_id.as_str()) && !invalid.contains(&case_id) {
            findings.push(s.finding(
                Some(s.cell(*i, cid)),
                Rule::UnknownCase,
                format!("quote {id} names case `{case_id}`, which is not on the case sheet"),
            ));
        }
        quotes.insert(
            id.clone(),
            Quote {
                id,
                case_id,
                theme: opt(get(row, theme)),
                text: get(row, Some(qt)).to_string(),
            },
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn read_matrix(
    ty: &str,
    s: &Sheet,
    codebook: &Codebook,
    cases: &BTreeMap<&str, &Case>,
    invalid: &BTreeSet<String>,
    quotes: &BTreeMap<String, Quote>,
    charted: &mut BTreeMap<String, (String, String)>,
    cells: &mut Vec<CodedCell>,
    findings: &mut Vec<Finding>,
) {
    let mut m = MatrixSheet {
        ty,
        s,
        cases,
        invalid,
        quotes,
        findings,
    };
    if !m.has_case_id_column() {
        return;
    }
    let columns = m.theme_columns(codebook);
    let mut here: BTreeMap<String, String> = BTreeMap::new();
    let mut counted = 0;
    for (i, row) in &s.rows {
        let Some(id) = m.counted_case(*i, row, &mut here, charted) else {
            continue;
        };
        counted += 1;
        m.chart_cells(*i, row, &id, &columns, cells);
    }
    if counted == 0 {
        m.findings.push(s.finding(
            None,
            Rule::EmptyMatrix,
            format!("the {ty} matrix has no charted case"),
        ));
    }
}

/// One interview type's matrix sheet while it is read: what its steps share.
struct MatrixSheet<'a> {
    ty: &'a str,
    s: &'a Sheet,
    cases: &'a BTreeMap<&'a str, &'a Case>,
    /// Cases already left out on the case sheet: their rows are skipped without a new finding.
    invalid: &'a BTreeSet<String>,
    quotes: &'a BTreeMap<String, Quote>,
    findings: &'a mut Vec<Finding>,
}

impl MatrixSheet<'_> {
    /// Without `case_id` in column A no row can be tied to a case, so nothing of the sheet is read.
    fn has_case_id_column(&mut self) -> bool {
        let s = self.s;
        let first = s.header.first().map(|h| h.trim()).unwrap_or("");
        if first.eq_ignore_ascii_case("case_id") {
            return true;
        }
        self.findings.push(s.finding(
            Some(format!("{}1", column_letters(s.origin.1 as usize))),
            Rule::BadLayout,
            format!(
                "the first column must be headed `case_id` (found `{first}`): the {} matrix is not read",
                self.ty
            ),
        ));
        false
    }

    /// Column j → sub-theme code, for the columns that count; a column charting something the
    /// codebook does not know as a sub-theme is a finding, so its cells are not silently lost.
    fn theme_columns(&mut self, codebook: &Codebook) -> Vec<(usize, String)> {
        let s = self.s;
        let mut columns: Vec<(usize, String)> = Vec::new();
        for (j, h) in s.header.iter().enumerate().skip(1) {
            let code = h.split_whitespace().next().unwrap_or("");
            let filled = s
                .rows
                .iter()
                .filter(|(_, r)| r.get(j).is_some_and(|c| !c.is_empty()))
                .count();
            if code.eq_ignore_ascii_case("notes") || (code.is_empty() && filled == 0) {
                continue;
            }
            let header_cell = format!(
                "{}{}",
                column_letters(s.origin.1 as usize + j),
                s.origin.0 + 1
            );
            if codebook.subtheme(code).is_some() {
                columns.push((j, code.to_string()));
                continue;
            }
            let message = uncounted_column(codebook, code, filled);
            self.findings
                .push(s.finding(Some(header_cell), Rule::UnknownTheme, message));
        }
        columns
    }

    /// The case id of row `i` when the row counts: charted once, on the case sheet, in its own
    /// type's matrix and in no other. `here` holds where each case was first seen in this
    /// matrix, `charted` where each case counted in any matrix so far.
    fn counted_case(
        &mut self,
        i: usize,
        row: &[String],
        here: &mut BTreeMap<String, String>,
        charted: &mut BTreeMap<String, (String, String)>,
    ) -> Option<String> {
        let (s, ty) = (self.s, self.ty);
        let id = get(row, Some(0)).to_string();
        if id.is_empty() {
            self.findings.push(s.finding(
                Some(s.cell(i, 0)),
                Rule::CaseWithoutAttributes,
                "a charted row without a case_id: not counted".into(),
            ));
            return None;
        }
        if let Some(first) = here.get(&id) {
            self.findings.push(s.finding(
                Some(s.row(i)),
                Rule::DuplicateCase,
                format!("case {id} is charted again (first on {first}): this row is not counted"),
            ));
            return None;
        }
        here.insert(id.clone(), s.row(i));
        if self.invalid.contains(&id) {
            // Already reported on the case sheet.
            return None;
        }
        let Some(case) = self.cases.get(id.as_str()) else {
            self.findings.push(s.finding(
                Some(s.cell(i, 0)),
                Rule::CaseWithoutAttributes,
                format!(
                    "case {id} is not on the case sheet ({CASES_FILE}): its row is not counted"
                ),
            ));
            return None;
        };
        if case.interview_type != ty {
            self.findings.push(s.finding(
                Some(s.cell(i, 0)),
                Rule::CaseInTwoTypes,
                format!(
                    "case {id} is a {} interview on the case sheet but is charted in the {ty} matrix: this row is not counted",
                    case.interview_type
                ),
            ));
            return None;
        }
        if let Some((other_ty, other_at)) = charted.get(&id) {
            self.findings.push(s.finding(
                Some(s.cell(i, 0)),
                Rule::CaseInTwoTypes,
                format!(
                    "case {id} is also charted in the {other_ty} matrix ({other_at}): this row is not counted"
                ),
            ));
            return None;
        }
        charted.insert(
            id.clone(),
            (ty.to_string(), format!("{} {}", s.file, s.row(i))),
        );
        Some(id)
    }

    /// The filled cells of a counted case's row. A cited quote that no quotes sheet holds is
    /// dropped from the cell, not the cell itself: the summary is still the researchers' charting.
    fn chart_cells(
        &mut self,
        i: usize,
        row: &[String],
        id: &str,
        columns: &[(usize, String)],
        cells: &mut Vec<CodedCell>,
    ) {
        let s = self.s;
        for (j, code) in columns {
            let raw = get(row, Some(*j));
            if raw.is_empty() {
                continue;
            }
            let parsed = cell::parse(raw);
            let mut refs = Vec::new();
            for q in parsed.quotes {
                if self.quotes.contains_key(&q) {
                    refs.push(q);
                } else {
                    self.findings.push(s.finding(
                        Some(s.cell(i, *j)),
                        Rule::MissingQuote,
                        format!(
                            "case {id}, {code}: quote [{q}] is on no quotes sheet: the reference is dropped, the cell still counts"
                        ),
                    ));
                }
            }
            cells.push(CodedCell {
                case_id: id.to_string(),
                interview_type: self.ty.to_string(),
                code: code.clone(),
                valence: parsed.valence,
                summary: parsed.summary,
                quotes: refs,
                source: format!("{}!{}!{}", s.file, s.sheet, s.cell(i, *j)),
            });
        }
    }
}

/// Why a matrix column with header code `code` and `filled` charted cells is not counted, in
/// the words that help a researcher fix it (a theme where a sub-theme belongs names them).
fn uncounted_column(codebook: &Codebook, code: &str, filled: usize) -> String {
    if code.is_empty() {
        format!("a column without a theme code holds {filled} charted cells: not counted")
    } else if let Some(t) = codebook.themes.iter().find(|t| t.code == code) {
        format!(
            "`{code}` is a theme, not a sub-theme: chart its sub-themes ({}); the column's {filled} cells are not counted",
            t.subthemes
                .iter()
                .map(|x| x.code.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!(
            "unknown theme code `{code}` (not in {}): the column's {filled} cells are not counted",
            codebook.path.display()
        )
    }
}

fn read_cmo(
    s: &Sheet,
    codebook: &Codebook,
    cases: &BTreeMap<&str, &Case>,
    findings: &mut Vec<Finding>,
) -> Vec<CmoLink> {
    let cols: Vec<Option<usize>> = CMO_COLUMNS.iter().map(|c| s.col(c)).collect();
    if let Some(missing) = CMO_COLUMNS
        .iter()
        .zip(&cols)
        .find(|(_, c)| c.is_none())
        .map(|(n, _)| n)
    {
        findings.push(s.finding(
            Some("row 1".into()),
            Rule::BadLayout,
            format!(
                "no `{missing}` column (the sheet needs {}): no link read",
                CMO_COLUMNS.join(", ")
            ),
        ));
        return Vec::new();
    }
    let mut links = Vec::new();
    for (i, row) in &s.rows {
        let v = |k: usize| get(row, cols[k]).to_string();
        let figure = v(0);
        if codebook.figures.iter().all(|f| f.id != figure) {
            findings.push(s.finding(
                Some(s.cell(*i, cols[0].unwrap_or(0))),
                Rule::UnknownFigure,
                format!(
                    "figure `{figure}` is not a [[figure]] of the codebook: the link is left out"
                ),
            ));
            continue;
        }
        let direction = v(1).to_lowercase();
        if direction != "enables" && direction != "hinders" {
            findings.push(s.finding(
                Some(s.cell(*i, cols[1].unwrap_or(0))),
                Rule::BadAttribute,
                format!(
                    "direction `{direction}` must be `enables` or `hinders`: the link is left out"
                ),
            ));
            continue;
        }
        let mut support = Vec::new();
        for id in v(5)
            .split([',', ';', '\n'])
            .map(str::trim)
            .filter(|x| !x.is_empty())
        {
            if cases.contains_key(id) {
                if !support.iter().any(|x| x == id) {
                    support.push(id.to_string());
                }
            } else {
                findings.push(s.finding(
                    Some(s.cell(*i, cols[5].unwrap_or(0))),
                    Rule::UnknownCase,
                    format!(
                        "supporting case `{id}` is not a valid case of the case sheet: not counted"
                    ),
                ));
            }
        }
        links.push(CmoLink {
            order: links.len() as i64 + 1,
            figure,
            direction,
            context: v(2),
            mechanism: v(3),
            outcome: v(4),
            cases: support,
        });
    }
    links
}

#[cfg(test)]
mod tests {
    use super::column_letters;

    #[test]
    fn columns_are_lettered_as_excel_does() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }
}
