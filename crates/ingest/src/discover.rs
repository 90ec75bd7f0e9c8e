//! Finding the extracts of a refresh in a data folder.
//!
//! Each refresh is a full cumulative extract, so only the latest file of each lot is used; older
//! ones are reported as superseded. Files that do not follow the naming contract are reported as
//! ignored, never opened nor guessed at. Only the folder itself is listed, never its sub-folders,
//! so no link loop can hold a run up; an extract that is a symbolic link is read through it and
//! the account says so; one that is not a regular file (a pipe, a device, a link to nothing) is
//! rejected by name, never opened: opening a pipe would wait for ever.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use evalpipe_study::{Dictionary, SYNTHETIC_MARKER, Study};

use crate::validation_report::{FileAccount, FileStatus};
use crate::{Error, Result};

/// One extract file and what its name says.
#[derive(Debug, Clone)]
pub struct ExtractFile {
    /// Full path.
    pub path: PathBuf,
    /// File name.
    pub name: String,
    /// Lot code, for per-lot extracts.
    pub lot: Option<String>,
    /// Extract date from the name.
    pub date: NaiveDate,
    /// Why the file cannot be opened, found before it is (not a regular file).
    pub unusable: Option<String>,
    /// The name is a symbolic link, read through.
    pub link: bool,
}

/// The extracts to ingest and the files left aside.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// Latest MI extract per lot code.
    pub mi: BTreeMap<String, ExtractFile>,
    /// Latest claims extract.
    pub claims: Option<ExtractFile>,
    /// Superseded, ambiguous and unrecognised files, with the reason.
    pub skipped: Vec<FileAccount>,
}

/// Lists `data_dir` and picks the latest extract of each kind.
pub fn discover(study: &Study, data_dir: &Path) -> Result<Discovery> {
    let entries = std::fs::read_dir(data_dir).map_err(|source| Error::DataDir {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<(String, PathBuf, Kind)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        let kind = if kind.is_symlink() {
            // `metadata` follows the link (and fails on a loop or a link to nothing).
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => continue,
                Ok(m) if m.is_file() => Kind::Link,
                Ok(_) => Kind::Unusable("a symbolic link to something that is not a regular file"),
                Err(_) => Kind::Unusable("a symbolic link that leads nowhere (or round in a loop)"),
            }
        } else if kind.is_dir() {
            continue;
        } else if kind.is_file() {
            Kind::File
        } else {
            Kind::Unusable("not a regular file (a pipe, socket or device)")
        };
        names.push((entry.file_name().to_string_lossy().into_owned(), path, kind));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));

    let mut found = Discovery::default();
    let mut mi: BTreeMap<String, Vec<ExtractFile>> = BTreeMap::new();
    let mut claims: Vec<ExtractFile> = Vec::new();
    for (name, path, kind) in names {
        if name == SYNTHETIC_MARKER || name.starts_with('.') || name.starts_with("~$") {
            continue;
        }
        match parse_name(study, &study.mi, &name).or_else(|| parse_name(study, &study.claims, &name)) {
            Some((dataset, lot, date)) => {
                let file = ExtractFile {
                    path,
                    name,
                    lot: lot.clone(),
                    date,
                    unusable: match kind {
                        Kind::Unusable(why) => Some(why.to_string()),
                        _ => None,
                    },
                    link: kind == Kind::Link,
                };
                if dataset == study.mi.dataset.name {
                    mi.entry(lot.unwrap_or_default()).or_default().push(file);
                } else {
                    claims.push(file);
                }
            }
            None => found.skipped.push(FileAccount::skipped(
                &name,
                FileStatus::Ignored,
                format!(
                    "not an extract name this study expects (`{}_<LOT>_<YYYYMMDD>.csv|xlsx` or `{}_<YYYYMMDD>.csv`)",
                    study.mi.dataset.file_prefix, study.claims.dataset.file_prefix
                ),
            )),
        }
    }
    for (lot, files) in mi {
        if let Some(file) = latest(files, &mut found.skipped) {
            found.mi.insert(lot, file);
        }
    }
    found.claims = latest(claims, &mut found.skipped);
    Ok(found)
}

/// What a folder entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Link,
    Unusable(&'static str),
}

/// Picks the latest file; two files of the same latest date are ambiguous and neither is used.
fn latest(mut files: Vec<ExtractFile>, skipped: &mut Vec<FileAccount>) -> Option<ExtractFile> {
    files.sort_by(|a, b| a.date.cmp(&b.date).then(a.name.cmp(&b.name)));
    let newest = files.last()?.date;
    let (current, older): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f.date == newest);
    for f in older {
        skipped.push(FileAccount::skipped(
            &f.name,
            FileStatus::Superseded,
            format!("superseded by an extract dated {newest}"),
        ));
    }
    if current.len() > 1 {
        let names: Vec<&str> = current.iter().map(|f| f.name.as_str()).collect();
        for f in &current {
            skipped.push(FileAccount::skipped(
                &f.name,
                FileStatus::Rejected,
                format!(
                    "ambiguous: {} are extracts of the same date; send one",
                    names.join(" and ")
                ),
            ));
        }
        return None;
    }
    current.into_iter().next()
}

/// `<prefix>_<LOT>_<YYYYMMDD>.<ext>` or `<prefix>_<YYYYMMDD>.<ext>` → (dataset, lot, date).
fn parse_name(
    study: &Study,
    dict: &Dictionary,
    name: &str,
) -> Option<(String, Option<String>, NaiveDate)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    let workbook_ok = dict.dataset.workbook_sheet.is_some();
    if !(ext == "csv" || (workbook_ok && ext == "xlsx")) {
        return None;
    }
    let rest = stem
        .strip_prefix(&dict.dataset.file_prefix)?
        .strip_prefix('_')?;
    let (lot, date) = if dict.dataset.per_lot {
        let (lot, date) = rest.split_once('_')?;
        let lot = study
            .lots
            .iter()
            .find(|l| l.code.eq_ignore_ascii_case(lot))?
            .code
            .clone();
        (Some(lot), date)
    } else {
        (None, rest)
    };
    if date.len() != 8 {
        return None;
    }
    let date = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
    Some((dict.dataset.name.clone(), lot, date))
}
