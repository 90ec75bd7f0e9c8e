//! `manifest.json`: what a run was made from and what it made, with SHA-256 hashes, and what
//! each stage counted.
//!
//! The run stage writes it ([`Manifest::write`]); the next run reads it to tell which stages
//! are stale, the run folder's guard to tell a run of evalpipe's from a user's folder, and
//! `check`, `explain` and `diff` to find the run's extracts. All of them read it through this
//! one type. No clock and no absolute paths: two runs on the same inputs write the same bytes.
//! Every field but the version and the outputs may be missing, so an older run's manifest
//! still reads (it is then stale, not an error).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The manifest of a run. Fields are written in this order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// evalpipe version that made the run.
    pub evalpipe_version: String,
    /// Shape of ingest's tables (`evalpipe_ingest::TABLES_FORMAT`); `None` in runs from
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_format: Option<u32>,
    /// Whether the inputs are the synthetic twin.
    #[serde(default)]
    pub synthetic: bool,
    /// Changes with the pseudonymisation key and reveals nothing about it (a pseudonym of a
    /// fixed probe), so a later run can tell the key changed.
    #[serde(default)]
    pub key_check: String,
    /// Extracts read (the data folder).
    #[serde(default)]
    pub inputs: Vec<Entry>,
    /// Study configuration (`pipeline/`).
    #[serde(default)]
    pub config: Vec<Entry>,
    /// SQL files (`queries/`).
    #[serde(default)]
    pub queries: Vec<Entry>,
    /// Report templates (`report-templates/`).
    #[serde(default)]
    pub templates: Vec<Entry>,
    /// Charted interviews (the qualitative data folder); empty when the run has none.
    #[serde(default)]
    pub qualitative: Vec<Entry>,
    /// Everything the run wrote except this manifest.
    pub outputs: Vec<Entry>,
    /// What each stage counted.
    #[serde(default)]
    pub stages: StageSummaries,
}

/// One hashed file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Path relative to its folder, `/`-separated.
    pub path: String,
    /// SHA-256, hex; `unreadable` for a file that could not be read, `not read` for a file of
    /// the data folder that no stage reads.
    #[serde(default)]
    pub sha256: String,
    /// Size in bytes.
    #[serde(default)]
    pub bytes: u64,
}

/// What each stage counted, by stage (fields in the alphabetical order the manifest has always
/// had). A stage reused from the last run keeps that run's summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageSummaries {
    /// The Framework stage.
    pub framework: Option<FrameworkSummary>,
    /// Ingest.
    pub ingest: Option<IngestSummary>,
    /// The models.
    pub models: Option<ModelsSummary>,
    /// The report.
    pub report: Option<ReportSummary>,
    /// The transform.
    pub transform: Option<TransformSummary>,
}

/// Ingest's counts, and the input problems that make the run's exit status 3.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestSummary {
    /// Clean claims.
    pub claims: u64,
    /// One line per file rejected or read with a file-level finding, per lot without data, and
    /// for a refresh without a usable claims extract.
    pub incomplete: Vec<String>,
    /// Lots with no data in this refresh.
    pub lots_without_data: Vec<String>,
    /// Clean MI participants.
    pub participants: u64,
    /// Findings recorded against quarantined rows.
    pub quarantine_records: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// Clean claims whose participant is in no clean MI row.
    pub unmatched_claims: u64,
}

/// The transform's count of tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransformSummary {
    /// Tables written (reused ones included).
    pub tables: u64,
}

/// The models fitted of those specified.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelsSummary {
    /// Models fitted.
    pub fitted: u64,
    /// Models specified.
    pub models: u64,
}

/// The Framework stage: skipped, or its counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FrameworkSummary {
    /// Not run, and why (no interviews, no codebook).
    Skipped {
        /// Why.
        skipped: String,
    },
    /// Charted.
    Charted {
        /// Interviews.
        cases: u64,
        /// Charted cells.
        cells: u64,
        /// Context–mechanism–outcome links.
        cmo_links: u64,
        /// Validation findings.
        findings: u64,
        /// Whether the interviews are the synthetic qualitative twin.
        synthetic: bool,
    },
}

/// The report's files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportSummary {
    /// Files written (sections, annex, PDF).
    pub files: u64,
    /// Whether report.pdf was printed.
    pub pdf: bool,
}

/// The prefix of the MI extracts' file names (the MI dictionary's `file_prefix`).
pub const MI_PREFIX: &str = "mi";

/// The date in an MI extract's file name, `mi_<LOT>_<YYYYMMDD>.csv|xlsx`; `None` for any other
/// file (the naming rule of ingest's discovery).
pub fn mi_file_date(name: &str) -> Option<chrono::NaiveDate> {
    let (stem, ext) = name.rsplit_once('.')?;
    if !(ext.eq_ignore_ascii_case("csv") || ext.eq_ignore_ascii_case("xlsx")) {
        return None;
    }
    let (lot, date) = stem
        .strip_prefix(MI_PREFIX)?
        .strip_prefix('_')?
        .split_once('_')?;
    if lot.is_empty() || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    chrono::NaiveDate::parse_from_str(date, "%Y%m%d").ok()
}

impl Manifest {
    /// The latest-dated MI input file of the run and its date: the refresh the run is of.
    pub fn mi_extract(&self) -> Option<(chrono::NaiveDate, String)> {
        self.inputs
            .iter()
            .filter_map(|i| {
                let name = i.path.rsplit('/').next().unwrap_or(&i.path);
                mi_file_date(name).map(|date| (date, name.to_string()))
            })
            .max()
    }

    /// Reads the manifest at `path`.
    pub fn read(path: &Path) -> Result<Manifest, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Writes the manifest as pretty JSON with a trailing newline.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        text.push('\n');
        std::fs::write(path, text).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The input problems the run's ingest recorded (reused or not).
    pub fn incomplete(&self) -> &[String] {
        self.stages
            .ingest
            .as_ref()
            .map_or(&[], |i| i.incomplete.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The manifest's bytes are part of the run's golden output: the typed form must write
    /// what the untyped one did, keys in the same order.
    #[test]
    fn a_manifest_reads_back_and_writes_its_keys_in_the_recorded_order() {
        let m = Manifest {
            evalpipe_version: "0.1.0".into(),
            ingest_format: Some(3),
            synthetic: true,
            key_check: "Pabc".into(),
            outputs: vec![Entry {
                path: "tables/a.csv".into(),
                sha256: "00".into(),
                bytes: 1,
            }],
            stages: StageSummaries {
                framework: Some(FrameworkSummary::Skipped {
                    skipped: "no codebook".into(),
                }),
                models: Some(ModelsSummary {
                    fitted: 2,
                    models: 3,
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(
            text.starts_with(
                r#"{"evalpipe_version":"0.1.0","ingest_format":3,"synthetic":true,"key_check":"Pabc","inputs":[]"#
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                r#""stages":{"framework":{"skipped":"no codebook"},"ingest":null,"models":{"fitted":2,"models":3},"report":null,"transform":null}}"#
            ),
            "{text}"
        );
        let back: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m);
        // An older run's manifest, with only what the guard of the run folder needs.
        let old: Manifest =
            serde_json::from_str(r#"{"evalpipe_version":"0.0.9","outputs":[{"path":"x"}]}"#)
                .unwrap();
        assert_eq!(old.ingest_format, None);
        assert_eq!(old.outputs[0].path, "x");
        assert!(old.incomplete().is_empty());
        assert!(serde_json::from_str::<Manifest>("{}").is_err());
    }
}
