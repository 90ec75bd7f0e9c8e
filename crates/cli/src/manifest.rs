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

/// Hashes one file.
pub fn hash_file(path: &Path) -> Result<(String, u64)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading {} to hash it", path.display()))?;
    Ok((hex::encode(Sha256::digest(&bytes)), bytes.len() as u64))
}

/// Every file under `dir` (recursively), sorted, hashed, paths relative to `dir`.
pub fn hash_tree(dir: &Path) -> Result<Vec<Entry>> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let (sha256, bytes) = hash_file(&f)?;
            let rel = f.strip_prefix(dir).unwrap_or(&f);
            let path = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            Ok(Entry {
                path,
                sha256,
                bytes,
            })
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Writes the manifest as pretty JSON with a trailing newline.
pub fn write(manifest: &Manifest, path: &Path) -> Result<()> {
    let mut text = serde_json::to_string_pretty(manifest)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
