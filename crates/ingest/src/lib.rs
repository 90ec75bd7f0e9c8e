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
//!   barriers, agreed and completed actions), one row per participant and question with any
//!   flag recorded (yes or no), with the options ticked yes as a list (`ticked`, in the code
//!   list's order) — so "participants with data" is a count of rows and "participants who said
//!   yes" a count of lists holding an option, a new option is a dictionary change, not a schema
//!   change, and a national extract has a few rows per participant, not one per flag;
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
mod fingerprint;
#[doc(hidden)]
pub mod fuzz;
mod pseudonym;
mod source;
mod validate;
mod validation_report;
mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use evalpipe_study::{Dictionary, IdentifierRule, RunLayout, Study, place};

pub use discover::{Discovery, ExtractFile, discover};
pub use pseudonym::{KEY_ENV, PseudonymKey, SYNTHETIC_KEY};
pub use validate::{Finding, Value};
use validation_report::RowFindings;
pub use validation_report::{FileAccount, FileStatus};

use fingerprint::{
    Counts, Fingerprint, FingerprintMap, FingerprintSet, Tally, fingerprint, fingerprint_upper,
};
use source::{RawRow, Stop};
use validate::{Validator, match_header};
use write::{BatchBuilder, TableWriter, arrow_type};

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
    ingest_tuned(study, data_dir, layout, opts, progress, Tuning::default())
}

/// How ingest spreads its work over threads. Outputs are the same bytes whatever it is; tests
/// and profiling set it, everyone else takes the default.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Threads validating rows (at least one).
    pub workers: usize,
    /// Rows handed to a worker at a time (at least one).
    pub chunk_rows: usize,
}

/// Rows handed to a worker at a time: enough to make handing them over cheap, few enough that
/// the rows in flight (a few chunks per worker) hold little memory.
const CHUNK_ROWS: usize = 1024;

impl Default for Tuning {
    /// One worker per core.
    fn default() -> Self {
        Tuning {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            chunk_rows: CHUNK_ROWS,
        }
    }
}

/// A file to read and what it is.
struct Job<'a> {
    dict: &'a Dictionary,
    file: &'a ExtractFile,
    /// The lot of a per-lot extract.
    lot: Option<&'a str>,
    /// The file's number in ingest's reading order, from 1 (see [`evalpipe_study::place`]).
    number: u64,
}

/// [`ingest_with_progress`] with this spread of work over threads.
///
/// Files are read in output order (each lot's MI extract in the study's lot order, then the
/// claims). While one file's rows are validated and written, a thread makes the first pass over
/// the next (its key counts and counted milestones); within a file, one thread reads rows and
/// hands them on in chunks, `tuning.workers` threads validate chunks into Arrow batches, and
/// this thread writes the batches in file order. So the outputs do not depend on the threads.
#[doc(hidden)]
pub fn ingest_tuned(
    study: &Study,
    data_dir: &Path,
    layout: &RunLayout,
    opts: &IngestOptions,
    progress: &dyn Fn(Progress),
    tuning: Tuning,
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
    let jobs = jobs_in_output_order(study, &found);
    let written = write_files(study, &jobs, opts, &mut sink, progress, tuning)?;
    let mut accounts: Vec<FileAccount> = found.skipped.clone();
    accounts.extend(written.accounts);
    let mut lots_without_data = written.lots_without_data;
    // Lots without an extract, and the study's lot order for all of them.
    lots_without_data.extend(
        study
            .lots
            .iter()
            .filter(|l| !found.mi.contains_key(&l.code))
            .map(|l| l.code.clone()),
    );
    lots_without_data.sort_by_key(|code| study.lots.iter().position(|l| &l.code == code));

    let (participants, claims, quarantine_records, mut outputs) = sink.finish()?;
    accounts.sort_by(|a, b| a.file.cmp(&b.file));
    outputs.extend(validation_report::write_reports(
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
        unmatched_claims: written.unmatched_claims,
        quarantine_records,
        outputs,
    })
}

/// The files to read, numbered in ingest's reading order: in file-name order, and the claims
/// (their own table) last. Every table ingest writes is then in `place` (and (source_file,
/// source_row)) order, which the transform tells the query engine, so that a per-participant
/// table is ordered by a merge of streams, never a sort.
fn jobs_in_output_order<'a>(study: &'a Study, found: &'a Discovery) -> Vec<Job<'a>> {
    let mut jobs: Vec<Job> = study
        .lots
        .iter()
        .filter_map(|l| {
            found.mi.get(&l.code).map(|file| Job {
                dict: &study.mi,
                file,
                lot: Some(&l.code),
                number: 0,
            })
        })
        .collect();
    jobs.sort_by(|a, b| a.file.name.cmp(&b.file.name));
    if let Some(file) = &found.claims {
        jobs.push(Job {
            dict: &study.claims,
            file,
            lot: None,
            number: 0,
        });
    }
    for (i, job) in jobs.iter_mut().enumerate() {
        job.number = i as u64 + 1;
    }
    jobs
}

/// What writing the extracts' rows came to.
struct Written {
    /// One per file read, in reading order.
    accounts: Vec<FileAccount>,
    /// Lots whose extract was not used (rejected).
    lots_without_data: Vec<String>,
    /// Clean claims of no clean MI participant.
    unmatched_claims: usize,
}

/// Validates and writes every file's rows into `sink`, in the jobs' order, each file's first
/// pass made ahead on other threads.
fn write_files(
    study: &Study,
    jobs: &[Job],
    opts: &IngestOptions,
    sink: &mut Sink,
    progress: &dyn Fn(Progress),
    tuning: Tuning,
) -> Result<Written> {
    let files = jobs.len();
    let cancel = AtomicBool::new(false);
    let mut accounts = Vec::new();
    let mut lots_without_data = Vec::new();
    // The clean MI participants' fingerprints, gathered file by file, then made a set for the
    // claims to be looked up in.
    let mut mi_ids: Vec<Fingerprint> = Vec::new();
    let mut mi_set: Option<FingerprintSet> = None;
    let mut unmatched: BTreeMap<&str, usize> = BTreeMap::new();
    std::thread::scope(|s| -> Result<()> {
        // The first passes run ahead of the writing, on two threads: one goes through the MI
        // files in order, the other makes the claims' first pass (the largest file) from the
        // start. A finished MI first pass holds little (the keys seen twice); the claims' holds
        // every counted milestone, which its writing needs anyway. Made after the MI files'
        // on one thread, the claims' first pass ran alone on one core once the MI files were
        // written: 4 of ingest's 21 s at 1M participants.
        let cancel = &cancel;
        let (mi_jobs, claims_jobs): (Vec<&Job>, Vec<&Job>) =
            jobs.iter().partition(|j| j.lot.is_some());
        let [mi_rx, claims_rx] = [mi_jobs, claims_jobs].map(|chain| {
            let (tx, rx) = mpsc::sync_channel::<Prepared>(chain.len());
            s.spawn(move || {
                for job in chain {
                    if tx.send(prepare(study, job, cancel)).is_err() {
                        return;
                    }
                }
            });
            rx
        });
        let written = (|| -> Result<()> {
            let mut index = 0;
            let mut next = |job: &Job| -> Result<Prepared> {
                index += 1;
                progress(Progress::File {
                    file: job.file.name.clone(),
                    index,
                    files,
                });
                let rx = if job.lot.is_some() {
                    &mi_rx
                } else {
                    &claims_rx
                };
                rx.recv().map_err(|_| Error::Internal {
                    message: "the first pass over the extracts stopped".to_string(),
                })
            };
            // In the jobs' order, the first pass's: a lot order other than the files' name
            // order (a lot `L10` before `L2`) must not hand one file's first pass to another.
            for job in jobs {
                let prepared = next(job)?;
                let mut side = match job.lot {
                    Some(_) => {
                        // MI after the claims (no order of files has it today) adds anew.
                        if let Some(set) = mi_set.take() {
                            mi_ids = set.into_vec();
                        }
                        Side::Mi(&mut mi_ids)
                    }
                    None => Side::Claims {
                        mi_ids: mi_set.get_or_insert_with(|| {
                            FingerprintSet::new(std::mem::take(&mut mi_ids))
                        }),
                        unmatched: &mut unmatched,
                    },
                };
                let mut account =
                    write_file(study, prepared, opts, sink, &mut side, progress, tuning)?;
                match job.lot {
                    Some(lot) if account.status != FileStatus::Used => {
                        lots_without_data.push(lot.to_string())
                    }
                    Some(_) => {}
                    None => account.notes.extend(unmatched_note(&unmatched)),
                }
                accounts.push(account);
            }
            Ok(())
        })();
        if written.is_err() {
            // Stop the first pass rather than wait for it to read a file nobody will write.
            cancel.store(true, Ordering::Relaxed);
        }
        drop((mi_rx, claims_rx));
        written
    })?;
    Ok(Written {
        accounts,
        lots_without_data,
        unmatched_claims: unmatched.values().sum(),
    })
}

fn unmatched_note(by_lot: &BTreeMap<&str, usize>) -> Option<String> {
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
    cols.push(("place".into(), DataType::Int64));
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
        // Different on (nearly) every row: no dictionary (see `TableWriter::create`).
        let (mi_id, claims_id) = (
            study.mi.dataset.pseudonym_column.as_str(),
            study.claims.dataset.pseudonym_column.as_str(),
        );
        let participants = TableWriter::create(
            &paths[0],
            &clean_columns(&study.mi, &[]),
            &[mi_id, "source_row", "place"],
        )?;
        let answers = TableWriter::create(
            &paths[1],
            &[
                s(&study.mi.dataset.pseudonym_column),
                s("lot_code"),
                s("question"),
                ("ticked".into(), write::codes_type()),
                s("source_file"),
                ("source_row".into(), DataType::Int64),
                ("place".into(), DataType::Int64),
            ],
            &[mi_id, "source_row", "place"],
        )?;
        let claims = TableWriter::create(
            &paths[2],
            &clean_columns(&study.claims, &[("counted", DataType::Boolean)]),
            &[&study.claims.dataset.key, claims_id, "source_row", "place"],
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
            &[],
        )?;
        Ok(Sink {
            participants,
            answers,
            claims,
            quarantine,
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

/// The shape of the tables ingest writes, a number raised whenever it changes (2: `place`). A
/// run folder whose ingest tables have another shape has its ingest redone, not reused, however
/// unchanged its extracts: the version number alone stays the same between builds.
pub const TABLES_FORMAT: u32 = 2;

/// First pass over a file: key counts and, for claims, counted milestones per participant,
/// each under one fingerprint (of the key; of participant and milestone).
#[derive(Default)]
struct FirstPass {
    data_rows: usize,
    /// The keys on more than one row, with their number of rows (a key on one row is not
    /// kept: nothing needs it after this pass).
    repeated_keys: FingerprintMap<u32>,
    /// The counted milestones (claims).
    milestones: Counts,
}

/// A file after its first pass: done (rejected before its rows were read), or ready to write.
enum Prepared<'a> {
    Done(Box<FileAccount>),
    Ready(Box<Ready<'a>>),
}

struct Ready<'a> {
    job: &'a Job<'a>,
    account: FileAccount,
    extract: source::Extract,
    validator: Validator<'a>,
    first: FirstPass,
}

/// Opens a file, checks its header and makes the first pass: everything before its rows can be
/// validated. Stops early, with any account, when `cancel` is set.
fn prepare<'a>(study: &'a Study, job: &'a Job<'a>, cancel: &AtomicBool) -> Prepared<'a> {
    let Job {
        dict, file, lot, ..
    } = *job;
    let mut account = FileAccount::new(&file.name, &dict.dataset.name, lot);
    if let Some(why) = &file.unusable {
        account.reject("unreadable", format!("{why}; it was not opened"));
        account.rows_rejected = None;
        return Prepared::Done(Box::new(account));
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
            return Prepared::Done(Box::new(account));
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
                Ok::<(), ()>(())
            });
            account.rows_rejected = counted.is_ok().then_some(rows);
            return Prepared::Done(Box::new(account));
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
    // Room for a fingerprint per line, up to 4M: a hostile file of a billion blank lines must
    // not reserve gigabytes, and past 4M the tallies grow only a few times.
    let lines = extract.lines().unwrap_or(0).min(1 << 22) as usize;
    let counts_milestones = dict.dataset.counted_status.is_some();
    let mut milestones = Tally::with_capacity(if counts_milestones { lines } else { 0 });
    let mut first = FirstPass::default();
    let mut keys = Tally::with_capacity(lines);
    let pass = extract.rows(|row| {
        if cancel.load(Ordering::Relaxed) {
            return Err(());
        }
        if row.is_blank() {
            return Ok(());
        }
        first.data_rows += 1;
        if row.misaligned() {
            return Ok(());
        }
        if let Some(k) = validator
            .raw_at(&row, validator.roles.key)
            .filter(|k| !k.is_empty())
        {
            keys.add(fingerprint(k));
        }
        if let Some(counted) = counted_milestone(dict, &validator, &row) {
            milestones.add(counted.key(counted.milestone));
        }
        Ok(())
    });
    first.repeated_keys = keys.repeated();
    first.milestones = milestones.count();
    match pass {
        Ok(_) | Err(Stop::Caller(())) => {}
        Err(Stop::File(p)) => {
            account.reject(p.rule, p.message);
            account.rows_rejected = Some(first.data_rows);
            return Prepared::Done(Box::new(account));
        }
    }
    if first.data_rows == 0 {
        account.reject(
            "no_rows",
            "the file has a header but no data rows".to_string(),
        );
        account.rows_rejected = Some(0);
        return Prepared::Done(Box::new(account));
    }
    Prepared::Ready(Box::new(Ready {
        job,
        account,
        extract,
        validator,
        first,
    }))
}

/// What a file's clean rows add to the state across files.
enum Side<'s, 'a> {
    /// An MI extract: the fingerprints of its clean participants' pseudonyms.
    Mi(&'s mut Vec<Fingerprint>),
    /// The claims, read after every MI extract: counted claims whose participant is in no
    /// clean MI, by lot.
    Claims {
        mi_ids: &'s FingerprintSet,
        unmatched: &'s mut BTreeMap<&'a str, usize>,
    },
}

/// What the rows of one chunk came to, for the writing thread to add in file order.
#[derive(Default)]
struct ChunkOut<'a> {
    rows_read: usize,
    rows_blank: usize,
    rows_clean: usize,
    rows_quarantined: usize,
    /// (row, rows) of each blank row or run.
    blanks: Vec<(u64, u64)>,
    /// (row, line, lines) of each row spanning lines.
    spanning: Vec<(u64, u64, u64)>,
    quarantined: Vec<RowFindings>,
    clean: Option<RecordBatch>,
    answers: Option<RecordBatch>,
    quarantine: Option<RecordBatch>,
    /// Fingerprints of the clean rows' pseudonyms (MI).
    clean_ids: Vec<Fingerprint>,
    /// (lot, pseudonym fingerprint) of each clean counted claim.
    counted: Vec<(&'a str, Fingerprint)>,
}

/// What validating a row of a file needs; shared by the worker threads.
struct RowContext<'c, 'a> {
    study: &'a Study,
    dict: &'a Dictionary,
    lot: Option<&'a str>,
    validator: &'c Validator<'a>,
    first: &'c FirstPass,
    key: &'c PseudonymKey,
    file: &'c str,
    /// The file's number in ingest's reading order (see [`place`]).
    number: u64,
    clean: &'c SchemaRef,
    answers: &'c SchemaRef,
    quarantine: &'c SchemaRef,
    /// The counted-status column's place in the dictionary (claims).
    status: Option<usize>,
}

/// Validates and writes a file's rows (pass 2), with its first pass made.
fn write_file<'a>(
    study: &'a Study,
    prepared: Prepared<'a>,
    opts: &IngestOptions,
    sink: &mut Sink,
    side: &mut Side<'_, 'a>,
    progress: &dyn Fn(Progress),
    tuning: Tuning,
) -> Result<FileAccount> {
    let ready = match prepared {
        Prepared::Done(account) => return Ok(*account),
        Prepared::Ready(ready) => *ready,
    };
    let Ready {
        job,
        mut account,
        extract,
        validator,
        first,
    } = ready;
    let dict = job.dict;
    let is_claims = dict.dataset.counted_status.is_some();
    let (clean, answers, quarantine) = (
        if is_claims {
            sink.claims.schema().clone()
        } else {
            sink.participants.schema().clone()
        },
        sink.answers.schema().clone(),
        sink.quarantine.schema().clone(),
    );
    let ctx = RowContext {
        study,
        dict,
        lot: job.lot,
        validator: &validator,
        first: &first,
        key: &opts.key,
        file: &job.file.name,
        number: job.number,
        clean: &clean,
        answers: &answers,
        quarantine: &quarantine,
        status: dict
            .dataset
            .counted_status
            .as_ref()
            .and_then(|status| dict.columns.iter().position(|c| c.name == status.column)),
    };
    let mut ticker = RowTicker {
        file: &job.file.name,
        pending: 0,
        progress,
    };
    let mut spanning: Vec<(u64, u64, u64)> = Vec::new();
    let mut add = |out: ChunkOut<'a>| -> Result<()> {
        account.rows_read += out.rows_read;
        ticker.tick(out.rows_read);
        account.rows_blank += out.rows_blank;
        for (row, n) in out.blanks {
            account.add_blank(row, n);
        }
        spanning.extend(out.spanning);
        account.rows_clean += out.rows_clean;
        account.rows_quarantined += out.rows_quarantined;
        account.rows.extend(out.quarantined);
        if let Some(batch) = out.clean {
            if is_claims {
                sink.claims.push_batch(batch)?;
            } else {
                sink.participants.push_batch(batch)?;
            }
        }
        if let Some(batch) = out.answers {
            sink.answers.push_batch(batch)?;
        }
        if let Some(batch) = out.quarantine {
            sink.quarantine.push_batch(batch)?;
        }
        match side {
            Side::Mi(ids) => ids.extend(out.clean_ids),
            Side::Claims { mi_ids, unmatched } => {
                for (lot, id) in out.counted {
                    if !mi_ids.contains(id) {
                        *unmatched.entry(lot).or_default() += 1;
                    }
                }
            }
        }
        Ok(())
    };
    let pass = in_chunks(&extract, tuning, |rows| ctx.chunk(rows), &mut add)?;
    drop(ticker);
    let extent = match pass {
        Ok(extent) => extent,
        Err(p) => {
            // The file broke part-way: what was read stays accounted; the rest is lost with the
            // file, which is therefore rejected as a whole.
            account.reject(p.rule, p.message);
            return Ok(account);
        }
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

/// Reads `extract`'s rows on one thread, in chunks of `tuning.chunk_rows`; `work` turns each
/// chunk into a `T` on `tuning.workers` threads; `add` takes the results on this thread, in file
/// order. At most a few chunks per worker are in flight, so memory does not grow with the file.
///
/// Returns how reading ended (the extent, or the problem that stopped the file part-way, after
/// `add` had every chunk read before it), or the first error of `work` or `add`.
fn in_chunks<T: Send>(
    extract: &source::Extract,
    tuning: Tuning,
    work: impl Fn(Vec<RawRow>) -> Result<T> + Sync,
    add: &mut dyn FnMut(T) -> Result<()>,
) -> Result<Result<source::Extent, source::FileProblem>> {
    let workers = tuning.workers.max(1);
    let chunk_rows = tuning.chunk_rows.max(1);
    let window = workers * 4;
    let stopped = || Error::Internal {
        message: "a thread reading or validating rows stopped".to_string(),
    };
    std::thread::scope(|s| {
        let (chunk_tx, chunk_rx) = mpsc::sync_channel::<(usize, Vec<RawRow>)>(workers);
        let chunk_rx = Arc::new(Mutex::new(chunk_rx));
        let (out_tx, out_rx) = mpsc::sync_channel::<(usize, Result<T>)>(workers);
        // A chunk is read only with a ticket, and a ticket comes back when a chunk is added:
        // at most `window` chunks are between the reader and `add`.
        let (ticket_tx, ticket_rx) = mpsc::sync_channel::<()>(window);
        for _ in 0..window {
            let _ = ticket_tx.try_send(());
        }
        let reader = s.spawn(move || {
            let mut sent = 0;
            let mut send = |chunk: Vec<RawRow>| -> Result<(), ()> {
                ticket_rx.recv().map_err(|_| ())?;
                chunk_tx.send((sent, chunk)).map_err(|_| ())?;
                sent += 1;
                Ok(())
            };
            let mut chunk = Vec::with_capacity(chunk_rows);
            let read = extract.rows(|row| {
                chunk.push(row);
                if chunk.len() >= chunk_rows {
                    send(std::mem::replace(
                        &mut chunk,
                        Vec::with_capacity(chunk_rows),
                    ))?;
                }
                Ok(())
            });
            // Rows read before the end, or before the file broke, are all handed on.
            let read = match read {
                Err(Stop::Caller(())) => Err(Stop::Caller(())),
                read if chunk.is_empty() => read,
                read => send(chunk).map_or(Err(Stop::Caller(())), |()| read),
            };
            (read, sent)
        });
        let work = &work;
        for _ in 0..workers {
            let chunk_rx = Arc::clone(&chunk_rx);
            let out_tx = out_tx.clone();
            s.spawn(move || {
                loop {
                    let next = match chunk_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, rows)) = next else { return };
                    if out_tx.send((seq, work(rows))).is_err() {
                        return;
                    }
                }
            });
        }
        drop((chunk_rx, out_tx));

        let mut waiting: BTreeMap<usize, Result<T>> = BTreeMap::new();
        let mut added = 0;
        let mut failed = None;
        'outer: for (seq, out) in out_rx.iter() {
            waiting.insert(seq, out);
            while let Some(out) = waiting.remove(&added) {
                if let Err(e) = out.and_then(&mut *add) {
                    failed = Some(e);
                    break 'outer;
                }
                added += 1;
                let _ = ticket_tx.try_send(());
            }
        }
        // Stop the reader and the workers if they are still going.
        drop((out_rx, ticket_tx));
        let (read, sent) = reader.join().map_err(|_| stopped())?;
        if let Some(e) = failed {
            return Err(e);
        }
        match read {
            _ if added != sent => Err(stopped()),
            Ok(extent) => Ok(Ok(extent)),
            Err(Stop::File(p)) => Ok(Err(p)),
            Err(Stop::Caller(())) => Err(stopped()),
        }
    })
}

impl<'a> RowContext<'_, 'a> {
    /// Validates a chunk of rows into its batches and accounts.
    fn chunk(&self, rows: Vec<RawRow>) -> Result<ChunkOut<'a>> {
        let mut out = ChunkOut::default();
        let is_claims = self.status.is_some() || self.dict.dataset.counted_status.is_some();
        let mut clean = BatchBuilder::new(self.clean, rows.len());
        let mut answers = BatchBuilder::new(self.answers, if is_claims { 0 } else { rows.len() });
        let mut quarantine = BatchBuilder::new(self.quarantine, 0);
        for row in &rows {
            self.row(row, &mut out, &mut clean, &mut answers, &mut quarantine);
        }
        out.clean = clean.finish()?;
        out.answers = answers.finish()?;
        out.quarantine = quarantine.finish()?;
        Ok(out)
    }

    fn row(
        &self,
        row: &RawRow,
        out: &mut ChunkOut<'a>,
        clean: &mut BatchBuilder,
        answers: &mut BatchBuilder,
        quarantine: &mut BatchBuilder,
    ) {
        let (study, dict, validator) = (self.study, self.dict, self.validator);
        let rows = row.rows as usize;
        out.rows_read += rows;
        if row.is_blank() {
            out.rows_blank += rows;
            out.blanks.push((row.row, row.rows));
            return;
        }
        if row.lines > 1 {
            out.spanning.push((row.row, row.line, row.lines));
        }
        let (checked, mut findings) = validator.check(row);
        let misaligned = row.misaligned();
        if !misaligned {
            let key = validator.raw_at(row, validator.roles.key).unwrap_or("");
            if let Some(&n) = self.first.repeated_keys.get(&fingerprint(key)) {
                findings.push(Finding {
                    rule: "duplicate_key",
                    column: Some(dict.dataset.key.clone()),
                    message: format!(
                        "the same `{}` is on {n} rows of this file; none of them is used",
                        dict.dataset.key
                    ),
                });
            }
            if let Some(counted) = counted_milestone(dict, validator, row) {
                findings.extend(sequence_findings(dict, self.first, &counted));
            }
            findings.extend(milestone_cohort_finding(study, dict, validator, row));
        }
        // The row's lot: the file's, or for the claims the row's own when it is a lot code (a
        // misaligned row's is not trusted, and no free text is ever kept as a lot).
        let row_lot: &'a str = match self.lot {
            Some(l) => l,
            None if misaligned => "",
            None => validator
                .raw_at(row, validator.roles.lot)
                .and_then(|l| study.lots.iter().find(|x| x.code.eq_ignore_ascii_case(l)))
                .map_or("", |l| l.code.as_str()),
        };
        let pseudonym = if misaligned {
            None
        } else {
            pseudonym_of(validator, row, row_lot, self.key)
        };
        if findings.is_empty() {
            out.rows_clean += 1;
            let id = pseudonym.as_deref().unwrap_or("");
            self.write_clean(&checked, id, row_lot, row.row, out, clean, answers);
            return;
        }
        out.rows_quarantined += 1;
        let values = (!misaligned)
            .then(|| serde_json::to_string(&validator.safe_values(row)).unwrap_or_default());
        for f in &findings {
            quarantine.row(|r| {
                r.text(Some(&dict.dataset.name));
                r.text(Some(self.file));
                r.int(Some(row.row as i64));
                r.int(Some(row.line as i64));
                r.int(Some(row.lines as i64));
                r.text((!row_lot.is_empty()).then_some(row_lot));
                r.text(pseudonym.as_deref());
                r.text(Some(f.rule));
                r.text(f.column.as_deref());
                r.text(Some(&f.message));
                r.text(values.as_deref());
            });
        }
        out.quarantined.push(RowFindings {
            row: row.row,
            line: row.line,
            lines: row.lines,
            findings,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn write_clean(
        &self,
        row: &validate::CheckedRow,
        id: &str,
        lot: &'a str,
        source_row: u64,
        out: &mut ChunkOut<'a>,
        clean: &mut BatchBuilder,
        answers: &mut BatchBuilder,
    ) {
        let dict = self.dict;
        let mut counted = None;
        clean.row(|r| {
            for (spec, v) in dict.columns.iter().zip(&row.values) {
                match spec.identifier {
                    Some(IdentifierRule::Drop) => {}
                    Some(IdentifierRule::Pseudonymise) => r.text(Some(id)),
                    None => r.value(v),
                }
            }
            for v in &row.derived {
                r.value(v);
            }
            if let Some(status) = &dict.dataset.counted_status {
                counted = self.status.and_then(|i| match &row.values[i] {
                    Value::Text(s) => Some(status.holds(s)),
                    _ => None,
                });
                r.bool(Some(counted.unwrap_or(false)));
            }
            r.text(Some(self.file));
            r.int(Some(source_row as i64));
            r.int(Some(place(self.number, source_row)));
        });
        if dict.dataset.counted_status.is_some() {
            if counted == Some(true) {
                out.counted.push((lot, fingerprint(id)));
            }
            return;
        }
        out.clean_ids.push(fingerprint(id));
        // One row per question with any flag recorded (yes or no), listing the options ticked
        // yes: the flags come grouped by question, in the code list's order.
        let mut rest = &row.answers[..];
        while let Some(&(first, _)) = rest.first() {
            let (question, number) = (
                self.validator.answer(first).0,
                self.validator.question_of(first),
            );
            let n = rest
                .iter()
                .take_while(|&&(flag, _)| self.validator.question_of(flag) == number)
                .count();
            let (flags, tail) = rest.split_at(n);
            answers.row(|r| {
                r.text(Some(id));
                r.text(Some(lot));
                r.text(Some(question));
                r.codes(
                    flags
                        .iter()
                        .filter(|&&(_, yes)| yes)
                        .map(|&(flag, _)| self.validator.answer(flag).1),
                );
                r.text(Some(self.file));
                r.int(Some(source_row as i64));
                r.int(Some(place(self.number, source_row)));
            });
            rest = tail;
        }
    }
}

fn pseudonym_of(v: &Validator, row: &RawRow, lot: &str, key: &PseudonymKey) -> Option<String> {
    v.raw_at(row, v.roles.pseudonym)
        .filter(|r| !r.is_empty())
        .map(|r| key.pseudonym(lot, r))
}

/// A claim that counts (validated status, participant and milestone given): its participant's
/// two parts and its milestone, as written (they are compared in upper case).
struct Counted<'r> {
    who: [&'r str; 2],
    milestone: &'r str,
}

impl Counted<'_> {
    /// The fingerprint of this participant with `milestone`.
    fn key(&self, milestone: &str) -> Fingerprint {
        fingerprint_upper(&[self.who[0], self.who[1], milestone])
    }
}

/// For a claim that counts (validated status, participant and milestone given): who and which.
fn counted_milestone<'r>(dict: &Dictionary, v: &Validator, row: &'r RawRow) -> Option<Counted<'r>> {
    let status = dict.dataset.counted_status.as_ref()?;
    if !status.holds(v.raw_at(row, v.roles.status)?) {
        return None;
    }
    let [a, b] = v.roles.who?;
    let who = [
        v.raw_at(row, a).unwrap_or(""),
        v.raw_at(row, b).unwrap_or(""),
    ];
    let milestone = v.raw_at(row, v.roles.milestone)?;
    if who.iter().any(|p| p.is_empty()) || milestone.is_empty() {
        return None;
    }
    Some(Counted { who, milestone })
}

/// Whether `code` is `text` in upper case (ASCII), as the first pass keys milestones.
fn is_upper_of(code: &str, text: &str) -> bool {
    code.len() == text.len()
        && code
            .bytes()
            .zip(text.bytes())
            .all(|(c, t)| c == t.to_ascii_uppercase())
}

fn sequence_findings(dict: &Dictionary, first: &FirstPass, counted: &Counted) -> Vec<Finding> {
    let mut out = Vec::new();
    let column = dict.dataset.milestone_column.clone();
    // The claim's own milestone was counted: only the few repeated ones are looked up, not the
    // set of every participant and milestone (a cache miss per claim at 27M claims).
    if let Some(&n) = first
        .milestones
        .repeated
        .get(&counted.key(counted.milestone))
    {
        let milestone = counted.milestone.to_ascii_uppercase();
        out.push(Finding {
            rule: "duplicate_milestone",
            column: column.clone(),
            message: format!(
                "the participant has {n} validated `{milestone}` claims; at most one is allowed and none is used"
            ),
        });
    }
    // Milestones were counted in upper case: a prerequisite written otherwise was never seen.
    if let Some((_, before)) = dict
        .dataset
        .milestone_requires
        .iter()
        .find(|(m, _)| is_upper_of(m, counted.milestone))
        && (before.bytes().any(|b| b.is_ascii_lowercase())
            || !first.milestones.seen.contains(counted.key(before)))
    {
        let milestone = counted.milestone.to_ascii_uppercase();
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
    let milestone_col = dict.dataset.milestone_column.as_deref()?;
    let cohort = v.raw_at(row, v.roles.cohort)?;
    let code = v.raw_at(row, v.roles.milestone)?;
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
