//! The run layout: where each stage reads and writes inside a run folder.
//!
//! ```text
//! <run>/
//!   .evalpipe-run                 marks the folder as evalpipe's (see RUN_MARKER)
//!   manifest.json                 inputs, config, queries, templates and outputs with hashes
//!   ingest/participants.parquet   one row per clean MI participant (pseudonymised)
//!   ingest/participant_answers.parquet   multi-select answers, a row per question
//!   ingest/claims.parquet         one row per clean claim (pseudonymised)
//!   ingest/quarantine.parquet     one row per (rejected row, rule broken)
//!   ingest/validation/            per-lot validation reports (CSV + Markdown) and accounting
//!   tables/<table>.parquet|.csv   one per query in queries/
//!   report/                       rendered sections (Markdown, HTML)
//! ```

use std::path::{Path, PathBuf};

/// File whose presence marks a data folder as the synthetic twin. It holds the generator's
/// seed and version; every output built from such data says it is synthetic.
pub const SYNTHETIC_MARKER: &str = "SYNTHETIC.toml";

/// File whose presence, with evalpipe's identity line in it, marks a folder as a run folder
/// evalpipe made: the only kind of folder it ever replaces or deletes.
pub const RUN_MARKER: &str = ".evalpipe-run";

/// The first line of [`RUN_MARKER`].
pub const RUN_MARKER_TEXT: &str = "evalpipe run folder: made and replaced by `evalpipe run`; files added here are refused, not deleted\n";

/// Paths inside one run folder.
#[derive(Debug, Clone)]
pub struct RunLayout {
    /// The run folder.
    pub root: PathBuf,
}

impl RunLayout {
    /// Layout rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunLayout { root: root.into() }
    }
    /// Folder of ingest outputs.
    pub fn ingest_dir(&self) -> PathBuf {
        self.root.join("ingest")
    }
    /// A clean or quarantine dataset written by ingest.
    pub fn dataset(&self, name: &str) -> PathBuf {
        self.ingest_dir().join(format!("{name}.parquet"))
    }
    /// Folder of validation reports.
    pub fn validation_dir(&self) -> PathBuf {
        self.ingest_dir().join("validation")
    }
    /// Folder of transform outputs.
    pub fn tables_dir(&self) -> PathBuf {
        self.root.join("tables")
    }
    /// One output table, with extension `parquet` or `csv`.
    pub fn table(&self, name: &str, ext: &str) -> PathBuf {
        self.tables_dir().join(format!("{name}.{ext}"))
    }
    /// Folder of the rendered report.
    pub fn report_dir(&self) -> PathBuf {
        self.root.join("report")
    }
    /// The marker that says the folder is a run folder of evalpipe's.
    pub fn marker(&self) -> PathBuf {
        self.root.join(RUN_MARKER)
    }
    /// The run manifest.
    pub fn manifest(&self) -> PathBuf {
        self.root.join("manifest.json")
    }
    /// Relative path of a file inside the run, with `/` separators (for manifests and messages).
    pub fn relative(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }
}
