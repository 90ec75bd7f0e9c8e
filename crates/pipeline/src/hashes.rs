//! The SHA-256 hashes of what a run read and wrote, for its manifest.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use evalpipe_study::{Entry, Study};
use sha2::{Digest, Sha256};

use crate::error::{Result, io};

/// Hashes one file, a piece at a time (an extract may be larger than memory).
pub fn hash_file(path: &Path) -> Result<(String, u64)> {
    let doing = || format!("reading {} to hash it", path.display());
    let mut file = std::fs::File::open(path).map_err(|e| io(doing(), e))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(|e| io(doing(), e))?;
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// What the manifest records of a file that cannot be read: the stage that needs it says why.
const UNREADABLE: &str = "unreadable";
/// What the manifest records of a file in the data folder that no stage reads (its name is
/// still listed: the ingest summary names it).
const NOT_READ: &str = "not read";

fn entry(dir: &Path, file: &Path, hash: bool) -> Entry {
    let rel = file.strip_prefix(dir).unwrap_or(file);
    let path = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    let (sha256, bytes) = if hash {
        hash_file(file).unwrap_or_else(|_| (UNREADABLE.to_string(), 0))
    } else {
        (NOT_READ.to_string(), 0)
    };
    Entry {
        path,
        sha256,
        bytes,
    }
}

/// Every file under `dir` (recursively), sorted, hashed, paths relative to `dir`. Symbolic
/// links are followed, but no folder is entered twice, so a link loop ends; what is not a
/// regular file (a pipe, a device) is listed and never opened; a file that cannot be read is
/// listed as such and left to the stage that reads it to report.
pub fn hash_tree(dir: &Path) -> Result<Vec<Entry>> {
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    collect(dir, &mut files, &mut seen)?;
    files.sort();
    Ok(files
        .into_iter()
        .map(|(f, regular)| entry(dir, &f, regular))
        .collect())
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, bool)>, seen: &mut BTreeSet<PathBuf>) -> Result<()> {
    let Ok(real) = dir.canonicalize() else {
        return Ok(());
    };
    if !real.is_dir() || !seen.insert(real) {
        return Ok(());
    }
    let listing = || format!("listing {}", dir.display());
    for entry in std::fs::read_dir(dir).map_err(|e| io(listing(), e))? {
        let path = entry.map_err(|e| io(listing(), e))?.path();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => collect(&path, out, seen)?,
            Ok(m) => out.push((path, m.is_file())),
            // A link to nothing.
            Err(_) => out.push((path, false)),
        }
    }
    Ok(())
}

/// The data folder as the manifest records it: the extracts ingest reads and the synthetic
/// marker, hashed; every other file in it by name only. Nothing else is opened, so a stray
/// unreadable file, a pipe or a link loop in the folder cannot stop or hang a run.
pub fn hash_inputs(study: &Study, data: &Path) -> Result<Vec<Entry>> {
    let found = evalpipe_ingest::discover(study, data).map_err(|e| {
        crate::error::stage(format!("listing the data folder {}", data.display()), e)
    })?;
    let read: BTreeSet<PathBuf> = found
        .mi
        .values()
        .chain(found.claims.as_ref())
        .filter(|f| f.unusable.is_none())
        .map(|f| f.path.clone())
        .chain(Some(data.join(evalpipe_study::SYNTHETIC_MARKER)).filter(|m| m.is_file()))
        .collect();
    let listing = || format!("listing {}", data.display());
    let mut entries = Vec::new();
    for e in std::fs::read_dir(data).map_err(|e| io(listing(), e))? {
        let e = e.map_err(|e| io(listing(), e))?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with("~$") || path.is_dir() {
            continue;
        }
        entries.push(entry(data, &path, read.contains(&path)));
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}
