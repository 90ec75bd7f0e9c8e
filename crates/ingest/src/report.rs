//! Per-file accounting and the validation reports sent back to providers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use evalpipe_study::{RunLayout, Study};

use crate::discover::ExtractFile;
use crate::source::RawRow;
use crate::validate::Finding;
use crate::{Error, Result};

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
    /// Row number in the file.
    pub row: u64,
    /// Every rule it broke.
    pub findings: Vec<Finding>,
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
    /// Data rows of a file rejected as a whole (not read row by row).
    pub rows_rejected: usize,
    /// Row numbers of the blank rows.
    pub blank_rows: Vec<u64>,
    /// Quarantined rows and their findings, in file order.
    pub rows: Vec<RowFindings>,
    /// File-level notes (encoding, extra columns and sheets, unmatched claims, why rejected).
    pub notes: Vec<String>,
}

impl FileAccount {
    pub(crate) fn new(file: &ExtractFile, dataset: &str, lot: Option<&str>) -> Self {
        FileAccount {
            file: file.name.clone(),
            dataset: dataset.to_string(),
            lot: lot.map(str::to_string),
            status: FileStatus::Used,
            rejected_rule: None,
            rows_read: 0,
            rows_clean: 0,
            rows_quarantined: 0,
            rows_blank: 0,
            rows_rejected: 0,
            blank_rows: Vec::new(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn skipped(name: &str, status: FileStatus, why: String) -> Self {
        let mut a = FileAccount::new(
            &ExtractFile {
                path: PathBuf::new(),
                name: name.to_string(),
                lot: None,
                date: Default::default(),
            },
            "",
            None,
        );
        a.status = status;
        a.notes.push(why);
        a
    }

    pub(crate) fn reject(&mut self, rule: &str, message: String) {
        self.status = FileStatus::Rejected;
        self.rejected_rule = Some(rule.to_string());
        self.notes.push(format!("file rejected: {message}"));
    }

    pub(crate) fn record(&mut self, row: &RawRow, findings: &[Finding]) {
        self.rows.push(RowFindings {
            row: row.row,
            findings: findings.to_vec(),
        });
    }

    /// Whether every row read is accounted for.
    pub fn balances(&self) -> bool {
        self.rows_read == self.rows_clean + self.rows_quarantined + self.rows_blank
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
        "file,dataset,lot,status,rows_read,rows_clean,rows_quarantined,rows_blank,rows_rejected_with_file,balances\n",
    );
    for a in accounts {
        let _ = writeln!(
            acc,
            "{},{},{},{},{},{},{},{},{},{}",
            csv_field(&a.file),
            a.dataset,
            a.lot.as_deref().unwrap_or(""),
            a.status.as_str(),
            a.rows_read,
            a.rows_clean,
            a.rows_quarantined,
            a.rows_blank,
            a.rows_rejected,
            a.balances()
        );
    }
    put("accounting.csv".into(), acc)?;

    let mut s = format!(
        "# Ingest summary\n\n{banner}| file | lot | status | read | used | quarantined | blank |\n|---|---|---|---:|---:|---:|---:|\n"
    );
    for a in accounts {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            a.file,
            a.lot.as_deref().unwrap_or(""),
            a.status.as_str(),
            a.rows_read,
            a.rows_clean,
            a.rows_quarantined,
            a.rows_blank
        );
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
        let _ = writeln!(s, "## {} ({})\n", a.file, a.status.as_str());
        let _ = writeln!(
            s,
            "Rows read: {}; used: {}; quarantined: {}; blank rows skipped: {}{}.\n",
            a.rows_read,
            a.rows_clean,
            a.rows_quarantined,
            a.rows_blank,
            if a.rows_rejected > 0 {
                format!(
                    "; rows not used because the file was rejected: {}",
                    a.rows_rejected
                )
            } else {
                String::new()
            }
        );
        for n in &a.notes {
            let _ = writeln!(s, "- {n}");
        }
        if !a.blank_rows.is_empty() {
            let rows: Vec<String> = a.blank_rows.iter().map(u64::to_string).collect();
            let _ = writeln!(s, "- blank rows skipped: {}", rows.join(", "));
        }
        if a.rows.is_empty() {
            s.push('\n');
            continue;
        }
        let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &a.rows {
            let mut rules: Vec<&str> = r.findings.iter().map(|f| f.rule).collect();
            rules.dedup();
            for rule in rules {
                *by_rule.entry(rule).or_default() += 1;
            }
        }
        s.push_str("\n### Rows quarantined, by rule\n\n| rule | rows |\n|---|---:|\n");
        for (rule, n) in by_rule {
            let _ = writeln!(s, "| {rule} | {n} |");
        }
        s.push_str("\n### Rows to correct\n\n| row | column | rule | what is wrong |\n|---:|---|---|---|\n");
        for r in &a.rows {
            for f in &r.findings {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    r.row,
                    f.column.as_deref().unwrap_or(""),
                    f.rule,
                    f.message.replace('|', "\\|")
                );
            }
        }
        s.push('\n');
    }
    s
}

fn csv_rows(files: &[&FileAccount]) -> String {
    let mut s = String::from("file,row,column,rule,message\n");
    for a in files {
        if let Some(rule) = &a.rejected_rule {
            let why = a
                .notes
                .iter()
                .find(|n| n.starts_with("file rejected"))
                .cloned()
                .unwrap_or_default();
            let _ = writeln!(s, "{},,,{},{}", csv_field(&a.file), rule, csv_field(&why));
        }
        for r in &a.rows {
            for f in &r.findings {
                let _ = writeln!(
                    s,
                    "{},{},{},{},{}",
                    csv_field(&a.file),
                    r.row,
                    csv_field(f.column.as_deref().unwrap_or("")),
                    f.rule,
                    csv_field(&f.message)
                );
            }
        }
    }
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
