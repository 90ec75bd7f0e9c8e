//! Per-file accounting and the validation reports sent back to providers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use evalpipe_study::{RunLayout, Study};

use crate::source::Extent;
use crate::validate::Finding;
use crate::{Error, Result};

/// How the note of a rejected file starts.
const REJECTED: &str = "file rejected: ";

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Read; its clean rows are in the data.
    Used,
    /// Rejected as a whole (unreadable, wrong header, empty, ambiguous).
    Rejected,
    /// An older extract of a lot that has a newer one.
    Superseded,
    /// Not an extract this study expects.
    Ignored,
}

impl FileStatus {
    fn as_str(self) -> &'static str {
        match self {
            FileStatus::Used => "used",
            FileStatus::Rejected => "rejected",
            FileStatus::Superseded => "superseded",
            FileStatus::Ignored => "ignored",
        }
    }
}

/// One quarantined row's findings, as listed in a validation report.
#[derive(Debug, Clone)]
pub struct RowFindings {
    /// The row as Excel shows it.
    pub row: u64,
    /// Its first physical line in the file.
    pub line: u64,
    /// Physical lines it spans.
    pub lines: u64,
    /// Every rule it broke.
    pub findings: Vec<Finding>,
}

impl RowFindings {
    /// "12" or, when the line differs from the row or the row spans lines, "12 (lines 13–15)".
    pub fn place(&self) -> String {
        let last = self.line + self.lines.saturating_sub(1);
        if self.lines > 1 {
            format!("{} (lines {}–{last})", self.row, self.line)
        } else if self.line != self.row {
            format!("{} (line {})", self.row, self.line)
        } else {
            self.row.to_string()
        }
    }
}

/// A problem with a file as a whole that did not stop it being used, but that a reader of the
/// run must see: the run's exit status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFinding {
    /// Stable rule id (`records_short_of_lines`, …).
    pub rule: &'static str,
    /// What is wrong, in words a provider can act on.
    pub message: String,
}

/// The account of one file: rows read = clean + quarantined + blank (+ rejected with the file).
#[derive(Debug, Clone)]
pub struct FileAccount {
    /// File name.
    pub file: String,
    /// Dataset (`mi`, `claims`).
    pub dataset: String,
    /// Lot, for per-lot extracts.
    pub lot: Option<String>,
    /// Outcome.
    pub status: FileStatus,
    /// Rule that rejected the file, if it was.
    pub rejected_rule: Option<String>,
    /// Data rows read (blank rows included).
    pub rows_read: usize,
    /// Rows in the clean data.
    pub rows_clean: usize,
    /// Rows in quarantine.
    pub rows_quarantined: usize,
    /// Blank rows skipped.
    pub rows_blank: usize,
    /// Data rows of a file rejected as a whole (not read row by row); `None` when they cannot
    /// be counted (a workbook that cannot be opened).
    pub rows_rejected: Option<usize>,
    /// Blank rows, as ranges of Excel rows (first, last): bounded whatever the file holds.
    pub blank_rows: Vec<(u64, u64)>,
    /// How the file's physical lines were accounted for, once it was read to the end.
    pub lines: Option<Extent>,
    /// Problems with the file as a whole that did not reject it.
    pub findings: Vec<FileFinding>,
    /// Quarantined rows and their findings, in file order.
    pub rows: Vec<RowFindings>,
    /// File-level notes (encoding, extra columns and sheets, unmatched claims, why rejected).
    pub notes: Vec<String>,
}

impl FileAccount {
    pub(crate) fn new(file: &str, dataset: &str, lot: Option<&str>) -> Self {
        FileAccount {
            file: file.to_string(),
            dataset: dataset.to_string(),
            lot: lot.map(str::to_string),
            status: FileStatus::Used,
            rejected_rule: None,
            rows_read: 0,
            rows_clean: 0,
            rows_quarantined: 0,
            rows_blank: 0,
            rows_rejected: Some(0),
            blank_rows: Vec::new(),
            lines: None,
            findings: Vec::new(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn skipped(name: &str, status: FileStatus, why: String) -> Self {
        let mut a = FileAccount::new(name, "", None);
        a.status = status;
        a.notes.push(why);
        a
    }

    pub(crate) fn reject(&mut self, rule: &str, message: String) {
        self.status = FileStatus::Rejected;
        self.rejected_rule = Some(rule.to_string());
        self.notes.push(format!("{REJECTED}{message}"));
    }

    /// Why the file was rejected as a whole: its "file rejected: …" note, or for a file
    /// rejected before it was read (two extracts of one date) the note that says why.
    pub fn rejection(&self) -> Option<&str> {
        if self.status != FileStatus::Rejected {
            return None;
        }
        self.notes
            .iter()
            .find(|n| n.starts_with(REJECTED))
            .or(self.notes.first())
            .map(String::as_str)
    }

    /// Adds `n` blank rows from `row` on.
    pub(crate) fn add_blank(&mut self, row: u64, n: u64) {
        let last_of_run = row + n.max(1) - 1;
        match self.blank_rows.last_mut() {
            Some((_, last)) if *last + 1 == row => *last = last_of_run,
            _ => self.blank_rows.push((row, last_of_run)),
        }
    }

    pub(crate) fn finding(&mut self, rule: &'static str, message: String) {
        self.findings.push(FileFinding { rule, message });
    }

    /// Whether every row read is accounted for, and every physical line of the file read is
    /// the header's or a row's.
    pub fn balances(&self) -> bool {
        self.rows_read == self.rows_clean + self.rows_quarantined + self.rows_blank
            && self.lines.is_none_or(|e| e.balances())
    }

    /// Whether the file needs its sender's attention as a whole: rejected, or read with a
    /// file-level finding (rows that swallowed lines). The run's exit status shows it.
    pub fn has_problem(&self) -> bool {
        self.status == FileStatus::Rejected || !self.findings.is_empty()
    }
}

/// Writes `validation/<lot>.md|csv` per MI lot, `validation/claims.md|csv`,
/// `validation/accounting.csv` and `validation/summary.md`.
pub(crate) fn write_reports(
    study: &Study,
    layout: &RunLayout,
    accounts: &[FileAccount],
    lots_without_data: &[String],
    synthetic: bool,
) -> Result<Vec<PathBuf>> {
    let dir = layout.validation_dir();
    let mut written = Vec::new();
    let mut put = |name: String, text: String| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
        Ok(())
    };
    let banner = if synthetic {
        "> **Synthetic data.** This report was built from the synthetic twin, not from real extracts.\n\n"
    } else {
        ""
    };

    for lot in &study.lots {
        let mine: Vec<&FileAccount> = accounts
            .iter()
            .filter(|a| a.lot.as_deref() == Some(&lot.code))
            .collect();
        let title = format!("Validation report: lot {} {}", lot.code, lot.name);
        let missing = lots_without_data.contains(&lot.code);
        put(
            format!("{}.md", lot.code),
            markdown(&title, banner, &mine, missing),
        )?;
        put(format!("{}.csv", lot.code), csv_rows(&mine))?;
    }
    let claims: Vec<&FileAccount> = accounts
        .iter()
        .filter(|a| a.dataset == study.claims.dataset.name)
        .collect();
    put(
        "claims.md".into(),
        markdown(
            "Validation report: claims extract",
            banner,
            &claims,
            claims.is_empty(),
        ),
    )?;
    put("claims.csv".into(), csv_rows(&claims))?;

    let mut acc = String::from(
        "file,dataset,lot,status,lines,rows_read,rows_clean,rows_quarantined,rows_blank,rows_rejected_with_file,balances,file_findings\n",
    );
    for a in accounts {
        let _ = writeln!(
            acc,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&a.file),
            a.dataset,
            a.lot.as_deref().unwrap_or(""),
            a.status.as_str(),
            a.lines.map_or(String::new(), |e| e.lines.to_string()),
            a.rows_read,
            a.rows_clean,
            a.rows_quarantined,
            a.rows_blank,
            a.rows_rejected
                .map_or("unknown".to_string(), |n| n.to_string()),
            a.balances(),
            csv_field(
                &a.findings
                    .iter()
                    .map(|f| f.rule)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        );
    }
    put("accounting.csv".into(), acc)?;

    let mut s = format!(
        "# Ingest summary\n\n{banner}| file | lot | status | lines | read | used | quarantined | blank |\n|---|---|---|---:|---:|---:|---:|---:|\n"
    );
    for a in accounts {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            md_code(&a.file),
            a.lot.as_deref().unwrap_or(""),
            a.status.as_str(),
            a.lines.map_or(String::new(), |e| e.lines.to_string()),
            a.rows_read,
            a.rows_clean,
            a.rows_quarantined,
            a.rows_blank
        );
    }
    let problems: Vec<&FileAccount> = accounts.iter().filter(|a| a.has_problem()).collect();
    if !problems.is_empty() {
        s.push_str("\n## Files that need attention\n\n");
        for a in problems {
            if let Some(why) = a.rejection() {
                let _ = writeln!(s, "- {}: {}", md_code(&a.file), md_text(why));
            }
            for f in &a.findings {
                let _ = writeln!(
                    s,
                    "- {} ({}): {}",
                    md_code(&a.file),
                    f.rule,
                    md_text(&f.message)
                );
            }
        }
    }
    if !lots_without_data.is_empty() {
        let _ = writeln!(
            s,
            "\n**Lots without data in this refresh:** {}",
            lots_without_data.join(", ")
        );
    }
    put("summary.md".into(), s)?;
    Ok(written)
}

fn markdown(title: &str, banner: &str, files: &[&FileAccount], no_data: bool) -> String {
    let mut s = format!("# {title}\n\n{banner}");
    if no_data {
        s.push_str("**No usable extract for this refresh: the lot has no data in this run.**\n\n");
    }
    for a in files {
        let _ = writeln!(s, "## {} ({})\n", md_code(&a.file), a.status.as_str());
        let _ = writeln!(
            s,
            "Rows read: {}; used: {}; quarantined: {}; blank rows skipped: {}{}{}.\n",
            a.rows_read,
            a.rows_clean,
            a.rows_quarantined,
            a.rows_blank,
            match a.rows_rejected {
                Some(n) if n > 0 => format!("; rows not used because the file was rejected: {n}"),
                None if a.status == FileStatus::Rejected => {
                    "; rows not used because the file was rejected: unknown (it cannot be read)"
                        .to_string()
                }
                _ => String::new(),
            },
            a.lines.map_or(String::new(), |e| format!(
                "; physical lines: {} (header {}, rows {})",
                e.lines, e.header_lines, e.row_lines
            )),
        );
        for f in &a.findings {
            let _ = writeln!(s, "- **{}**: {}", f.rule, md_text(&f.message));
        }
        for n in &a.notes {
            let _ = writeln!(s, "- {}", md_text(n));
        }
        if !a.blank_rows.is_empty() {
            let mut ranges: Vec<String> = a
                .blank_rows
                .iter()
                .take(50)
                .map(|&(first, last)| {
                    if first == last {
                        first.to_string()
                    } else {
                        format!("{first}–{last}")
                    }
                })
                .collect();
            if a.blank_rows.len() > 50 {
                ranges.push("…".to_string());
            }
            let _ = writeln!(s, "- blank rows skipped: {}", ranges.join(", "));
        }
        if a.rows.is_empty() {
            s.push('\n');
            continue;
        }
        let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &a.rows {
            let mut rules: Vec<&str> = r.findings.iter().map(|f| f.rule).collect();
            rules.sort_unstable();
            rules.dedup();
            for rule in rules {
                *by_rule.entry(rule).or_default() += 1;
            }
        }
        s.push_str("\n### Rows quarantined, by rule\n\n| rule | rows |\n|---|---:|\n");
        for (rule, n) in by_rule {
            let _ = writeln!(s, "| {rule} | {n} |");
        }
        s.push_str("\nRows are numbered as Excel shows them when it opens the file (the header is row 1); the physical line is given where it differs.\n");
        s.push_str("\n### Rows to correct\n\n| row | column | rule | what is wrong |\n|---:|---|---|---|\n");
        for r in &a.rows {
            for f in &r.findings {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    r.place(),
                    f.column.as_deref().unwrap_or(""),
                    f.rule,
                    md_text(&f.message)
                );
            }
        }
        s.push('\n');
    }
    s
}

fn csv_rows(files: &[&FileAccount]) -> String {
    let mut s = String::from("file,row,line,lines,column,rule,message\n");
    for a in files {
        if let Some(rule) = &a.rejected_rule {
            let why = a.rejection().unwrap_or_default();
            let _ = writeln!(s, "{},,,,,{},{}", csv_field(&a.file), rule, csv_field(why));
        }
        for f in &a.findings {
            let _ = writeln!(
                s,
                "{},,,,,{},{}",
                csv_field(&a.file),
                f.rule,
                csv_field(&f.message)
            );
        }
        for r in &a.rows {
            for f in &r.findings {
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{}",
                    csv_field(&a.file),
                    r.row,
                    r.line,
                    r.lines,
                    csv_field(f.column.as_deref().unwrap_or("")),
                    f.rule,
                    csv_field(&f.message)
                );
            }
        }
    }
    s
}

/// A field of the validation CSVs: quoted when it must be (RFC 4180), and defused when a
/// spreadsheet would run it as a formula (`=`, `+`, `-`, `@`, tab or carriage return first).
fn csv_field(s: &str) -> String {
    let s = evalpipe_study::defuse_formula(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// A file name in Markdown: a code span that nothing in the name can close or break.
fn md_code(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_control() || c == '`' || c == '|' {
                '?'
            } else {
                c
            }
        })
        .take(120)
        .collect();
    format!("`{clean}`")
}

/// Message text in a Markdown table cell or list item: no line break or `|` breaks it, no
/// markup in it is run.
fn md_text(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace(['\n', '\r'], " ")
}
