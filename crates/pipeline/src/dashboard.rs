//! The dashboard packs' folder, guarded as a run folder is: checked before anything is read,
//! locked while it is written, built beside the target and swapped in whole, listed in a
//! manifest (the runs it was made from, each by its manifest's hash, and every file written),
//! and never a folder evalpipe did not make.

use std::path::{Path, PathBuf};

use evalpipe_study::{Entry, Manifest, RunLayout, Study};

use crate::error::{Error, Result, io};
use crate::hashes::{hash_file, hash_tree};
use crate::outdir::{self, sibling};

/// What `evalpipe dashboard` asks for.
#[derive(Debug, Clone)]
pub struct DashboardRequest {
    /// Run folders, or folders of runs, of the refreshes.
    pub runs: Vec<PathBuf>,
    /// The packs' folder.
    pub out: PathBuf,
    /// Where the configuration, queries and templates are, the lots and whether to print PDFs.
    pub options: evalpipe_dashboard::Options,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct DashboardOutcome {
    /// The refreshes, oldest first.
    pub refreshes: Vec<evalpipe_dashboard::Refresh>,
    /// The packs' files, as written (paths in the published folder).
    pub written: evalpipe_dashboard::Written,
}

/// Writes the packs of `request` into its `out`.
pub fn write_dashboard(study: &Study, request: &DashboardRequest) -> Result<DashboardOutcome> {
    let fail = |e: evalpipe_dashboard::Error| Error::Stage {
        context: "dashboard".into(),
        source: Box::new(e),
    };
    let refreshes = evalpipe_dashboard::refreshes(&request.runs).map_err(fail)?;
    let out = outdir::resolve(&request.out)?;
    let inputs: Vec<(&str, &Path)> = refreshes
        .iter()
        .map(|r| ("run of a refresh", r.run.as_path()))
        .collect();
    outdir::check_not_an_input(&out, &inputs)?;
    let (_lock, _) = outdir::Lock::take(&out)?;
    outdir::inspect(&out, "--out")?;
    outdir::recover(&out)?;
    let staging = sibling(&out, "partial");
    if outdir::partial_is_ours(&staging)? {
        std::fs::remove_dir_all(&staging)
            .map_err(|e| io(format!("removing the unfinished {}", staging.display()), e))?;
    }
    std::fs::create_dir_all(&staging)
        .map_err(|e| io(format!("creating {}", staging.display()), e))?;
    outdir::mark(&staging)?;
    let mut written =
        evalpipe_dashboard::write(study, &refreshes, &staging, &request.options).map_err(fail)?;
    let mut runs = Vec::new();
    for r in &refreshes {
        let (sha256, bytes) = hash_file(&RunLayout::new(&r.run).manifest())?;
        runs.push(Entry {
            path: format!("{}/{}", r.name, evalpipe_study::MANIFEST_FILE),
            sha256,
            bytes,
        });
    }
    let manifest = Manifest {
        evalpipe_version: env!("CARGO_PKG_VERSION").to_string(),
        synthetic: refreshes.iter().any(|r| r.synthetic),
        inputs: runs,
        outputs: hash_tree(&staging)?,
        ..Manifest::default()
    };
    manifest
        .write(&RunLayout::new(&staging).manifest())
        .map_err(|e| Error::Stage {
            context: "writing the dashboard manifest".into(),
            source: Box::new(e),
        })?;
    outdir::publish(&staging, &out)?;
    let moved = |p: &PathBuf| out.join(p.strip_prefix(&staging).unwrap_or(p));
    written.files = written.files.iter().map(moved).collect();
    written.packs = written.packs.iter().map(moved).collect();
    Ok(DashboardOutcome { refreshes, written })
}
