//! Ingest: provider MI and claims extracts in, typed and pseudonymised Parquet out.
//!
//! Each refresh brings one MI extract per lot (`mi_<LOT>_<YYYYMMDD>.csv` or `.xlsx`, from the
//! providers' common data tool) and one claims extract (`claims_<YYYYMMDD>.csv`) from the
//! commissioner. Ingest takes the latest extract of each lot, checks every row against the data
//! dictionary in `pipeline/dictionary/`, and writes into the run folder's `ingest/`:
//!
//! - `participants.parquet`: one row per clean MI participant, typed (dates, flags, codes,
//!   money), with the derived age at registration;
//! - `participant_answers.parquet`: the multi-select questions (how they heard, health types,
//!   barriers, agreed and completed actions) as a long table, one row per participant, question
//!   and recorded option — so "participants with data" and "participants who said yes" are two
//!   plain counts in SQL, and a new option is a dictionary change, not a schema change;
//! - `claims.parquet`: one row per clean claim, with whether it counts (validated);
//! - `quarantine.parquet`: one row per rule each rejected row broke, with file, row, column,
//!   message and the row's non-identifying values, so nothing is lost;
//! - `validation/`: for each lot (and the claims) a validation report in Markdown and CSV — the
//!   document an evaluator sends back to a provider — plus `accounting.csv`, proving for every
//!   file that rows read = rows used + rows quarantined (+ blank rows skipped).
//!
//! **Invariant:** no direct identifier (name, date of birth, postcode, NI number) leaves this
//! crate: they are read only to derive age and check rules, and messages never quote them.
//! Provider references are replaced by keyed pseudonyms ([`PseudonymKey`]).
//!
//! **Invariant:** a malformed row is never an [`Error`]; it is a quarantine record. [`Error`] is
//! for what stops ingest as a whole (cannot write the run folder, synthetic key on real data).
//!
//! Ingest streams: rows are validated and written a batch at a time. What it holds per file is
//! the set of keys (to find duplicates) and, for claims, the milestones per participant.
//!
//! Entry point: [`ingest`] ([`ingest_with_progress`] also reports each file and the rows read
//! as it goes, for a progress display).
//!
//! ```no_run
//! use evalpipe_ingest::{ingest, IngestOptions, PseudonymKey};
//! use evalpipe_study::{RunLayout, Study};
//! use std::path::Path;
//! let study = Study::load(Path::new("pipeline")).unwrap();
//! let layout = RunLayout::new("runs/example");
//! let opts = IngestOptions { key: PseudonymKey::synthetic(), synthetic: true };
//! let summary = ingest(&study, Path::new("data/twin"), &layout, &opts).unwrap();
//! println!("{} participants", summary.participants);
//! ```
#![warn(missing_docs)]

mod discover;
#[doc(hidden)]
pub mod fuzz;
mod pseudonym;
mod report;
mod source;
mod validate;
mod write;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use arrow::datatypes::DataType;
use evalpipe_study::{Dictionary, IdentifierRule, RunLayout, Study};

pub use discover::{Discovery, ExtractFile, discover};
pub use pseudonym::{KEY_ENV, PseudonymKey, SYNTHETIC_KEY};
pub use report::{FileAccount, FileStatus};
pub use validate::{Finding, Value};

use source::{RawRow, Stop};
use validate::{Validator, match_header};
use write::{TableWriter, arrow_type};

/// What stops ingest as a whole.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data folder cannot be listed.
    #[error("cannot read the data folder {path}: {source}")]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// An output cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// Parquet refused to write.
    #[error("cannot write Parquet {path}: {message}")]
    Parquet {
        /// The output file.
        path: PathBuf,
        /// Parquet's message.
        message: String,
    },
    /// The public synthetic key was given for data that is not the synthetic twin.
    #[error(
        "the public synthetic pseudonymisation key cannot be used on real extracts ({path} has no {marker}); \
         set {env} or pass --key-file"
    )]
    SyntheticKeyOnRealData {
        /// The data folder.
        path: PathBuf,
        /// The marker file name.
        marker: &'static str,
        /// The key variable.
        env: &'static str,
    },
    /// A broken invariant: an evalpipe bug.
    #[error("internal error (an evalpipe bug, please report it): {message}")]
    Internal {
        /// What went wrong.
        message: String,
    },
}

impl Error {
    fn parquet(path: &Path, e: impl std::fmt::Display) -> Self {
        Error::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Pseudonymisation key.
    pub key: PseudonymKey,
    /// The data folder is the synthetic twin (it carries the marker file).
    pub synthetic: bool,
}

/// What ingest did, for the CLI and the manifest.
#[derive(Debug, Clone)]
pub struct IngestSummary {
    /// One account per file seen (used, rejected, superseded or ignored).
    pub files: Vec<FileAccount>,
    /// Lots with no usable extract in this refresh.
    pub lots_without_data: Vec<String>,
    /// Clean MI participants.
    pub participants: usize,
    /// Clean claims.
    pub claims: usize,
    /// Counted claims whose participant is not in the clean MI (valid; the MI is a sample).
    pub unmatched_claims: usize,
    /// Quarantine records (one per rule broken per row).
    pub quarantine_records: usize,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

/// What ingest reports while it works, for a progress display. It names files, never a value
/// from a row, and nothing of it is written to the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Ingest starts on a file: its name, its place among the files to read (from 1) and how
    /// many there are.
    File {
        /// File name.
        file: String,
        /// Its place, from 1.
        index: usize,
        /// Files to read in this refresh (the latest extract of each lot and the claims).
        files: usize,
    },
    /// `rows` more rows of `file` were read and validated (blank rows included): over a file
    /// they add up to its [`FileAccount::rows_read`].
    Rows {
        /// File name.
        file: String,
        /// Rows read since the last report.
        rows: usize,
    },
}

/// Rows between two [`Progress::Rows`] reports.
const PROGRESS_ROWS: usize = 500;

/// Collects the rows read and reports them every [`PROGRESS_ROWS`], and the rest when dropped
/// (so every way out of a file reports all it read).
struct RowTicker<'a> {
    file: &'a str,
    pending: usize,
    progress: &'a dyn Fn(Progress),
}

impl RowTicker<'_> {
    fn tick(&mut self, rows: usize) {
        self.pending += rows;
        if self.pending >= PROGRESS_ROWS {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending > 0 {
            (self.progress)(Progress::Rows {
                file: self.file.to_string(),
                rows: self.pending,
            });
            self.pending = 0;
        }
    }
}

impl Drop for RowTicker<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Ingests the extracts in `data_dir` into `layout.ingest_dir()`.
pub fn ingest(
    study: &Study,
    data_dir: &Path,
    layout: &RunLayout,
    opts: &IngestOptions,
) -> Result<IngestSummary> {
    ingest_with_progress(study, data_dir, layout, opts, &|_| {})
}

/// [`ingest`], reporting to `progress` each file as it starts and the rows read.
pub fn ingest_with_progress(
    study: &Study,
    data_dir: &Path,
    layout: &RunLayout,
    opts: &IngestOptions,
    progress: &dyn Fn(Progress),
) -> Result<IngestSummary> {
    if opts.key.is_synthetic() && !opts.synthetic {
        return Err(Error::SyntheticKeyOnRealData {
            path: data_dir.to_path_buf(),
            marker: evalpipe_study::SYNTHETIC_MARKER,
            env: KEY_ENV,
        });
    }
    let found = discover(study, data_dir)?;
    std::fs::create_dir_all(layout.validation_dir()).map_err(|source| Error::Write {
        path: layout.validation_dir(),
        source,
    })?;

    let mut sink = Sink::create(study, layout)?;
    let mut accounts: Vec<FileAccount> = found.skipped.clone();
    let mut lots_without_data = Vec::new();
    let mut mi_ids: HashSet<Fingerprint> = HashSet::new();
    let files = study
        .lots
        .iter()
        .filter(|l| found.mi.contains_key(&l.code))
        .count()
        + usize::from(found.claims.is_some());
    let mut index = 0;
    let mut start = |file: &ExtractFile| {
        index += 1;
        progress(Progress::File {
            file: file.name.clone(),
            index,
            files,
        });
    };

    for lot in &study.lots {
        match found.mi.get(&lot.code) {
            Some(file) => {
                start(file);
                let account = ingest_file(
                    study,
                    &study.mi,
                    file,
                    Some(&lot.code),
                    opts,
                    &mut sink,
                    &mut mi_ids,
                    progress,
                )?;
                if account.status != FileStatus::Used {
                    lots_without_data.push(lot.code.clone());
                }
                accounts.push(account);
            }
            None => lots_without_data.push(lot.code.clone()),
        }
    }
    let mut claim_ids = Vec::new();
    if let Some(file) = &found.claims {
        let mut seen = HashSet::new();
        start(file);
        let mut account = ingest_file(
            study,
            &study.claims,
            file,
            None,
            opts,
            &mut sink,
            &mut seen,
            progress,
        )?;
        claim_ids = sink.counted_claims.drain(..).collect();
        account.notes.extend(unmatched_note(&claim_ids, &mi_ids));
        accounts.push(account);
    }
    let unmatched_claims = claim_ids
        .iter()
        .filter(|(_, id)| !mi_ids.contains(&fingerprint(id)))
        .count();

    let (participants, claims, quarantine_records, mut outputs) = sink.finish()?;
    accounts.sort_by(|a, b| a.file.cmp(&b.file));
    outputs.extend(report::write_reports(
        study,
        layout,
        &accounts,
        &lots_without_data,
        opts.synthetic,
    )?);
    Ok(IngestSummary {
        files: accounts,
        lots_without_data,
        participants,
        claims,
        unmatched_claims,
        quarantine_records,
        outputs,
    })
}

fn unmatched_note(claims: &[(String, String)], mi_ids: &HashSet<Fingerprint>) -> Option<String> {
    let mut by_lot: BTreeMap<&str, usize> = BTreeMap::new();
    for (lot, id) in claims {
        if !mi_ids.contains(&fingerprint(id)) {
            *by_lot.entry(lot.as_str()).or_default() += 1;
        }
    }
    if by_lot.is_empty() {
        return None;
    }
    let parts: Vec<String> = by_lot
        .iter()
        .map(|(lot, n)| format!("{lot}: {n}"))
        .collect();
    Some(format!(
        "{} validated claim(s) are for participants not in the MI sample (valid, reported as unmatched; {})",
        by_lot.values().sum::<usize>(),
        parts.join(", ")
    ))
}

/// The open output tables.
struct Sink {
    participants: TableWriter,
    answers: TableWriter,
    claims: TableWriter,
    quarantine: TableWriter,
    quarantine_rows: usize,
    /// (lot, participant id) of every clean counted claim.
    counted_claims: Vec<(String, String)>,
    paths: Vec<PathBuf>,
}

/// Output columns of a clean table: the dictionary's non-dropped columns (the pseudonymised
/// one renamed), derived columns, then provenance.
fn clean_columns(dict: &Dictionary, extra: &[(&str, DataType)]) -> Vec<(String, DataType)> {
    let mut cols: Vec<(String, DataType)> = Vec::new();
    for c in &dict.columns {
        match c.identifier {
            Some(IdentifierRule::Drop) => {}
            Some(IdentifierRule::Pseudonymise) => {
                cols.push((dict.dataset.pseudonym_column.clone(), DataType::Utf8))
            }
            None => cols.push((c.name.clone(), arrow_type(c.kind))),
        }
    }
    for d in &dict.derived {
        cols.push((d.name.clone(), DataType::Int64));
    }
    for (name, t) in extra {
        cols.push((name.to_string(), t.clone()));
    }
    cols.push(("source_file".into(), DataType::Utf8));
    cols.push(("source_row".into(), DataType::Int64));
    cols
}

impl Sink {
    fn create(study: &Study, layout: &RunLayout) -> Result<Self> {
        let s = |n: &str| (n.to_string(), DataType::Utf8);
        let paths: Vec<PathBuf> = [
            "participants",
            "participant_answers",
            "claims",
            "quarantine",
        ]
        .iter()
        .map(|n| layout.dataset(n))
        .collect();
        let participants = TableWriter::create(&paths[0], &clean_columns(&study.mi, &[]))?;
        let answers = TableWriter::create(
            &paths[1],
            &[
                s(&study.mi.dataset.pseudonym_column),
                s("lot_code"),
                s("question"),
                s("option"),
                ("answer".into(), DataType::Boolean),
            ],
        )?;
        let claims = TableWriter::create(
            &paths[2],
            &clean_columns(&study.claims, &[("counted", DataType::Boolean)]),
        )?;
        let quarantine = TableWriter::create(
            &paths[3],
            &[
                s("dataset"),
                s("source_file"),
                ("source_row".into(), DataType::Int64),
                ("source_line".into(), DataType::Int64),
                ("source_lines".into(), DataType::Int64),
                s("lot_code"),
                s("participant_id"),
                s("rule"),
                s("column"),
                s("message"),
                s("values_json"),
            ],
        )?;
        Ok(Sink {
            participants,
            answers,
            claims,
            quarantine,
            quarantine_rows: 0,
            counted_claims: Vec::new(),
            paths,
        })
    }

    fn finish(self) -> Result<(usize, usize, usize, Vec<PathBuf>)> {
        let p = self.participants.finish()?;
        self.answers.finish()?;
        let c = self.claims.finish()?;
        let q = self.quarantine.finish()?;
        Ok((p, c, q, self.paths))
    }
}

/// A 128-bit fingerprint of a key: what ingest keeps per participant to find duplicates and
/// unmatched claims, so memory grows by 16 bytes a row, not by the key's length. Two keys share
/// a fingerprint with odds of about n²/2¹²⁹, nil for any extract; it never leaves memory.
type Fingerprint = u128;

fn fingerprint(key: &str) -> Fingerprint {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (salt, key).hash(&mut h);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// First pass over a file: key counts and, for claims, counted milestones per participant.
#[derive(Default)]
struct FirstPass {
    data_rows: usize,
    keys: HashMap<Fingerprint, u32>,
    milestones: HashMap<(String, String), HashMap<String, u32>>,
}

#[allow(clippy::too_many_arguments)]
fn ingest_file(
    study: &Study,
    dict: &Dictionary,
    file: &ExtractFile,
    lot: Option<&str>,
    opts: &IngestOptions,
    sink: &mut Sink,
    clean_ids: &mut HashSet<Fingerprint>,
    progress: &dyn Fn(Progress),
) -> Result<FileAccount> {
    let mut account = FileAccount::new(file, &dict.dataset.name, lot);
    if let Some(why) = &file.unusable {
        account.reject("unreadable", format!("{why}; it was not opened"));
        account.rows_rejected = None;
        return Ok(account);
    }
    if file.link {
        account
            .notes
            .push("is a symbolic link; the file it points to was read".to_string());
    }
    let extract = match source::open(
        &file.path,
        dict.dataset.workbook_sheet.as_deref(),
        &dict.dataset.workbook_expected_sheets,
        &dict.dataset.date_format,
    ) {
        Ok(e) => e,
        Err(p) => {
            account.reject(p.rule, p.message);
            account.rows_rejected = source::count_rows(&file.path).map(|n| n as usize);
            return Ok(account);
        }
    };
    account.notes.extend(extract.notes.iter().cloned());
    let header = match match_header(dict, &study.codes, &extract.header) {
        Ok(h) => h,
        Err(problem) => {
            account.reject("header", problem.message());
            let mut rows = 0;
            let counted = extract.rows(|row| {
                rows += usize::from(!row.is_blank());
                Ok::<(), Error>(())
            });
            account.rows_rejected = counted.is_ok().then_some(rows);
            return Ok(account);
        }
    };
    if !header.extra.is_empty() {
        account.notes.push(format!(
            "unknown column(s) {} ignored",
            validate::header_names(&header.extra, &header.contract)
        ));
    }
    let validator = Validator::new(dict, &study.codes, header, lot.map(str::to_string));

    // Pass 1: keys and counted milestones. A row that may be misaligned has no trustworthy key:
    // counting it could make a sound row with the same text look duplicated.
    let mut first = FirstPass::default();
    let pass = extract.rows(|row| {
        if row.is_blank() {
            return Ok(());
        }
        first.data_rows += 1;
        if row.misaligned() {
            return Ok(());
        }
        if let Some(k) = validator
            .raw(&row, &dict.dataset.key)
            .filter(|k| !k.is_empty())
        {
            *first.keys.entry(fingerprint(k)).or_default() += 1;
        }
        if let Some((who, milestone)) = counted_milestone(dict, &validator, &row) {
            *first
                .milestones
                .entry(who)
                .or_default()
                .entry(milestone)
                .or_default() += 1;
        }
        Ok::<(), Error>(())
    });
    match pass {
        Ok(_) => {}
        Err(Stop::File(p)) => {
            account.reject(p.rule, p.message);
            account.rows_rejected = Some(first.data_rows);
            return Ok(account);
        }
        Err(Stop::Caller(e)) => return Err(e),
    }
    if first.data_rows == 0 {
        account.reject(
            "no_rows",
            "the file has a header but no data rows".to_string(),
        );
        account.rows_rejected = Some(0);
        return Ok(account);
    }

    // Pass 2: validate and write.
    let file_name = file.name.clone();
    let mut ticker = RowTicker {
        file: &file.name,
        pending: 0,
        progress,
    };
    let mut spanning: Vec<(u64, u64, u64)> = Vec::new();
    let pass = extract.rows(|row| {
        let rows = row.rows as usize;
        account.rows_read += rows;
        ticker.tick(rows);
        if row.is_blank() {
            account.rows_blank += rows;
            account.add_blank(row.row, row.rows);
            return Ok(());
        }
        if row.lines > 1 {
            spanning.push((row.row, row.line, row.lines));
        }
        let (checked, mut findings) = validator.check(&row);
        let misaligned = row.misaligned();
        if !misaligned {
            let key = validator.raw(&row, &dict.dataset.key).unwrap_or("");
            if let Some(&n) = first.keys.get(&fingerprint(key))
                && n > 1
            {
                findings.push(Finding {
                    rule: "duplicate_key",
                    column: Some(dict.dataset.key.clone()),
                    message: format!(
                        "the same `{}` is on {n} rows of this file; none of them is used",
                        dict.dataset.key
                    ),
                });
            }
            if let Some((who, milestone)) = counted_milestone(dict, &validator, &row) {
                findings.extend(sequence_findings(dict, &first, &who, &milestone));
            }
            findings.extend(milestone_cohort_finding(study, dict, &validator, &row));
        }
        // The row's lot: the file's, or for the claims the row's own when it is a lot code (a
        // misaligned row's is not trusted, and no free text is ever kept as a lot).
        let row_lot = match lot {
            Some(l) => l.to_string(),
            None if misaligned => String::new(),
            None => validator
                .raw(&row, "lot_code")
                .and_then(|l| study.lots.iter().find(|x| x.code.eq_ignore_ascii_case(l)))
                .map(|l| l.code.clone())
                .unwrap_or_default(),
        };
        let pseudonym = if misaligned {
            None
        } else {
            pseudonym_of(dict, &validator, &row, &row_lot, &opts.key)
        };
        if findings.is_empty() {
            account.rows_clean += 1;
            let id = pseudonym.clone().unwrap_or_default();
            write_clean(dict, sink, &checked, &id, &row_lot, &file_name, row.row)?;
            clean_ids.insert(fingerprint(&id));
            return Ok(());
        }
        account.rows_quarantined += 1;
        account.record(&row, &findings);
        let values = if misaligned {
            Value::Null
        } else {
            Value::Text(serde_json::to_string(&validator.safe_values(&row)).unwrap_or_default())
        };
        for f in &findings {
            sink.quarantine.push(vec![
                Value::Text(dict.dataset.name.clone()),
                Value::Text(file_name.clone()),
                Value::Int(row.row as i64),
                Value::Int(row.line as i64),
                Value::Int(row.lines as i64),
                if row_lot.is_empty() {
                    Value::Null
                } else {
                    Value::Text(row_lot.clone())
                },
                pseudonym.clone().map_or(Value::Null, Value::Text),
                Value::Text(f.rule.to_string()),
                f.column.clone().map_or(Value::Null, Value::Text),
                Value::Text(f.message.clone()),
                values.clone(),
            ])?;
            sink.quarantine_rows += 1;
        }
        Ok(())
    });
    let extent = match pass {
        Ok(extent) => extent,
        Err(Stop::File(p)) => {
            // The file broke part-way: what was read stays accounted; the rest is lost with the
            // file, which is therefore rejected as a whole.
            account.reject(p.rule, p.message);
            return Ok(account);
        }
        Err(Stop::Caller(e)) => return Err(e),
    };
    account.lines = Some(extent);
    if !extent.balances() {
        account.finding(
            "lines_unaccounted",
            format!(
                "the file has {} lines but the header and rows account for {} (an evalpipe bug: \
                 please report it)",
                extent.lines,
                extent.header_lines + extent.row_lines
            ),
        );
    }
    if !spanning.is_empty() {
        let lines: u64 = spanning.iter().map(|s| s.2).sum();
        let listed: Vec<String> = spanning
            .iter()
            .take(10)
            .map(|(row, line, n)| format!("row {row} (lines {line}–{})", line + n - 1))
            .collect();
        account.finding(
            "records_short_of_lines",
            format!(
                "{} row(s) span {lines} physical lines, so the file has {} rows for {} lines: {}{}. \
                 A quote that is opened and not closed joins the lines after it into one row; \
                 those rows are quarantined and their lines' participants are missing from the data",
                spanning.len(),
                account.rows_read,
                extent.lines - extent.header_lines,
                listed.join(", "),
                if spanning.len() > 10 { ", …" } else { "" }
            ),
        );
    }
    Ok(account)
}

fn pseudonym_of(
    dict: &Dictionary,
    v: &Validator,
    row: &RawRow,
    lot: &str,
    key: &PseudonymKey,
) -> Option<String> {
    let column = dict
        .columns
        .iter()
        .find(|c| c.identifier == Some(IdentifierRule::Pseudonymise))?;
    v.raw(row, &column.name)
        .filter(|r| !r.is_empty())
        .map(|r| key.pseudonym(lot, r))
}

/// For a claim that counts (validated status, participant and milestone given): who and which.
fn counted_milestone(
    dict: &Dictionary,
    v: &Validator,
    row: &RawRow,
) -> Option<((String, String), String)> {
    let status = dict.dataset.counted_status.as_ref()?;
    let milestone_col = dict.dataset.milestone_column.as_deref()?;
    if !status.holds(v.raw(row, &status.column)?) {
        return None;
    }
    let parts: Vec<String> = dict
        .dataset
        .participant
        .iter()
        .map(|c| v.raw(row, c).unwrap_or("").to_ascii_uppercase())
        .collect();
    let milestone = v.raw(row, milestone_col)?.to_ascii_uppercase();
    if parts.iter().any(String::is_empty) || milestone.is_empty() || parts.len() != 2 {
        return None;
    }
    Some(((parts[0].clone(), parts[1].clone()), milestone))
}

fn sequence_findings(
    dict: &Dictionary,
    first: &FirstPass,
    who: &(String, String),
    milestone: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let column = dict.dataset.milestone_column.clone();
    let Some(counts) = first.milestones.get(who) else {
        return out;
    };
    if counts.get(milestone).copied().unwrap_or(0) > 1 {
        out.push(Finding {
            rule: "duplicate_milestone",
            column: column.clone(),
            message: format!(
                "the participant has {} validated `{milestone}` claims; at most one is allowed and none is used",
                counts[milestone]
            ),
        });
    }
    if let Some(before) = dict.dataset.milestone_requires.get(milestone)
        && counts.get(before).copied().unwrap_or(0) == 0
    {
        out.push(Finding {
                rule: "milestone_sequence",
                column,
                message: format!("a validated `{milestone}` claim needs a validated `{before}` claim for the participant"),
            });
    }
    out
}

/// A claim whose milestone its cohort cannot be paid for (study.toml `milestone.cohorts`).
fn milestone_cohort_finding(
    study: &Study,
    dict: &Dictionary,
    v: &Validator,
    row: &RawRow,
) -> Option<Finding> {
    let cohort_col = dict.dataset.cohort_column.as_deref()?;
    let milestone_col = dict.dataset.milestone_column.as_deref()?;
    let cohort = v.raw(row, cohort_col)?;
    let code = v.raw(row, milestone_col)?;
    let milestone = study
        .milestones
        .iter()
        .find(|m| m.code.eq_ignore_ascii_case(code))?;
    let cohort = study
        .cohorts
        .iter()
        .find(|c| c.code.eq_ignore_ascii_case(cohort))?;
    if milestone.cohorts.contains(&cohort.code) {
        return None;
    }
    Some(Finding {
        rule: "milestone_not_for_cohort",
        column: Some(milestone_col.to_string()),
        message: format!(
            "a `{}` claim cannot be made for the {} cohort (`{}`); see the milestone's cohorts in study.toml",
            milestone.code, cohort.name, cohort.code
        ),
    })
}

fn write_clean(
    dict: &Dictionary,
    sink: &mut Sink,
    row: &validate::CheckedRow,
    id: &str,
    lot: &str,
    file: &str,
    source_row: u64,
) -> Result<()> {
    let mut values = Vec::with_capacity(row.values.len() + 4);
    for (spec, v) in dict.columns.iter().zip(&row.values) {
        match spec.identifier {
            Some(IdentifierRule::Drop) => {}
            Some(IdentifierRule::Pseudonymise) => values.push(Value::Text(id.to_string())),
            None => values.push(v.clone()),
        }
    }
    values.extend(row.derived.iter().cloned());
    let is_claims = dict.dataset.counted_status.is_some();
    if let Some(status) = &dict.dataset.counted_status {
        let i = dict.columns.iter().position(|c| c.name == status.column);
        let counted = i.and_then(|i| match &row.values[i] {
            Value::Text(s) => Some(status.holds(s)),
            _ => None,
        });
        values.push(Value::Bool(counted.unwrap_or(false)));
        if counted == Some(true) {
            sink.counted_claims.push((lot.to_string(), id.to_string()));
        }
    }
    values.push(Value::Text(file.to_string()));
    values.push(Value::Int(source_row as i64));
    if is_claims {
        sink.claims.push(values)
    } else {
        sink.participants.push(values)?;
        for (question, option, answer) in &row.answers {
            sink.answers.push(vec![
                Value::Text(id.to_string()),
                Value::Text(lot.to_string()),
                Value::Text(question.clone()),
                Value::Text(option.clone()),
                Value::Bool(*answer),
            ])?;
        }
        Ok(())
    }
}
