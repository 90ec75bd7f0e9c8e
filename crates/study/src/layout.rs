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
//!   tables/models/                the models' coefficients, fit statistics and samples
//!   tables/framework/             the Framework stage's counting tables
//!   framework/                    the Framework matrices (workbook, HTML) and their validation
//!   report/                       rendered sections (Markdown, HTML), annex workbook, PDF
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

/// The run manifest's file name, at the top of a run folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Folder of the models' tables, under `tables/`.
pub const MODELS_OUTPUT: &str = "models";

/// Folder of the Framework stage's outputs, at the top of the run and under `tables/`.
pub const FRAMEWORK_OUTPUT: &str = "framework";

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
    /// The catalog of every table of the run (`tables/catalog.parquet`).
    pub fn catalog(&self) -> PathBuf {
        self.table("catalog", "parquet")
    }
    /// Folder of the models' tables.
    pub fn models_dir(&self) -> PathBuf {
        self.tables_dir().join(MODELS_OUTPUT)
    }
    /// Folder of the Framework stage's outputs (matrices, their validation).
    pub fn framework_dir(&self) -> PathBuf {
        self.root.join(FRAMEWORK_OUTPUT)
    }
    /// Folder of the Framework stage's counting tables.
    pub fn framework_tables_dir(&self) -> PathBuf {
        self.tables_dir().join(FRAMEWORK_OUTPUT)
    }
    /// Folder of the rendered report.
    pub fn report_dir(&self) -> PathBuf {
        self.root.join("report")
    }
    /// The report as one HTML page, what a run hands its user.
    pub fn report_html(&self) -> PathBuf {
        self.report_dir().join("report.html")
    }
    /// Ingest's summary of every file and rule, what a run points its user to.
    pub fn validation_summary(&self) -> PathBuf {
        self.validation_dir().join("summary.md")
    }
    /// The marker that says the folder is a run folder of evalpipe's.
    pub fn marker(&self) -> PathBuf {
        self.root.join(RUN_MARKER)
    }
    /// The run manifest.
    pub fn manifest(&self) -> PathBuf {
        self.root.join(MANIFEST_FILE)
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

/// Bits of a [`place`] that hold the row: a file of more rows than 2⁴⁰ (a trillion) is beyond
/// any extract, and 2²³ files beyond any refresh.
const PLACE_ROW_BITS: u32 = 40;

/// A row's place in ingest's reading order as one number (the `place` column of every table
/// ingest writes): the file's number in that order (files by name from 1, the claims last)
/// above the row as Excel shows it. Ingest writes its tables in this order, and the transform
/// and the models order and join a participant's rows by it: one integer compares and hashes
/// far faster than the file name and row (`source_file`, `source_row`, which say the same for
/// people), and at 10M participants the staging tables merge 160M rows by it.
pub fn place(file_number: u64, row: u64) -> i64 {
    ((file_number << PLACE_ROW_BITS) | (row & ((1 << PLACE_ROW_BITS) - 1))) as i64
}

/// The (file number, row) a [`place`] was made of.
pub fn place_parts(place: i64) -> (u64, u64) {
    let place = place as u64;
    (place >> PLACE_ROW_BITS, place & ((1 << PLACE_ROW_BITS) - 1))
}
