//! `manifest.json`: what a run was made from and what it made, with SHA-256 hashes.
//!
//! No clock and no absolute paths: two runs on the same inputs write the same manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One hashed file.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// Path relative to its folder, `/`-separated.
    pub path: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// The manifest of a run.
#[derive(Debug, Serialize)]
pub struct Manifest {
    /// evalpipe version that made the run.
    pub evalpipe_version: &'static str,
    /// Shape of ingest's tables ([`evalpipe_ingest::TABLES_FORMAT`]).
    pub ingest_format: u32,
    /// Whether the inputs are the synthetic twin.
    pub synthetic: bool,
    /// Changes with the pseudonymisation key and reveals nothing about it (a pseudonym of a
    /// fixed probe), so a later run can tell the key changed.
    pub key_check: String,
    /// Extracts read (the data folder).
    pub inputs: Vec<Entry>,
    /// Study configuration (`pipeline/`).
    pub config: Vec<Entry>,
    /// SQL files (`queries/`).
    pub queries: Vec<Entry>,
    /// Report templates (`report-templates/`).
    pub templates: Vec<Entry>,
    /// Charted interviews (the qualitative data folder); empty when the run has none.
    pub qualitative: Vec<Entry>,
    /// Everything the run wrote except this manifest.
    pub outputs: Vec<Entry>,
    /// Stage summaries (counts), by stage.
    pub stages: BTreeMap<String, serde_json::Value>,
}

/// Hashes one file, a piece at a time (an extract may be larger than memory).
pub fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut file = std::fs::File::open(path)
        .with_context(|| format!("reading {} to hash it", path.display()))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("reading {} to hash it", path.display()))?;
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
    let mut seen = std::collections::BTreeSet::new();
    collect(dir, &mut files, &mut seen)?;
    files.sort();
    Ok(files
        .into_iter()
        .map(|(f, regular)| entry(dir, &f, regular))
        .collect())
}

fn collect(
    dir: &Path,
    out: &mut Vec<(PathBuf, bool)>,
    seen: &mut std::collections::BTreeSet<PathBuf>,
) -> Result<()> {
    let Ok(real) = dir.canonicalize() else {
        return Ok(());
    };
    if !real.is_dir() || !seen.insert(real) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
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
pub fn hash_inputs(study: &evalpipe_study::Study, data: &Path) -> Result<Vec<Entry>> {
    let found = evalpipe_ingest::discover(study, data)
        .with_context(|| format!("listing the data folder {}", data.display()))?;
    let read: std::collections::BTreeSet<PathBuf> = found
        .mi
        .values()
        .chain(found.claims.as_ref())
        .filter(|f| f.unusable.is_none())
        .map(|f| f.path.clone())
        .chain(Some(data.join(evalpipe_study::SYNTHETIC_MARKER)).filter(|m| m.is_file()))
        .collect();
    let mut entries = Vec::new();
    for e in std::fs::read_dir(data).with_context(|| format!("listing {}", data.display()))? {
        let e = e.with_context(|| format!("listing {}", data.display()))?;
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

/// Writes the manifest as pretty JSON with a trailing newline.
pub fn write(manifest: &Manifest, path: &Path) -> Result<()> {
    let mut text = serde_json::to_string_pretty(manifest)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
