//! Which stages of a run are stale, and why: the current inputs, configuration, queries,
//! templates, key and evalpipe version against the manifest of the run already in the folder.
//!
//! A stage is stale when anything it reads changed or a stage before it is stale:
//! - ingest: the extracts, the study configuration (except the parts below), the key, the
//!   version, the shape of ingest's tables;
//! - transform: the queries;
//! - models: `pipeline/models/`;
//! - framework: `pipeline/framework/`, `queries/framework/`, the qualitative data folder;
//! - report: the templates, and whether report.pdf is printed (Chromium, `--no-pdf`).
//!
//! The register (`pipeline/published/`) and the twin's calibration (`pipeline/twin.toml`) are
//! read by `check` and `synth`, not by a run, so editing them leaves a run fresh.

use std::collections::BTreeMap;
use std::path::Path;

use crate::manifest::Entry;

/// The stages of a run, in order.
pub const STAGES: [&str; 5] = ["ingest", "transform", "models", "framework", "report"];

/// What a run would read now.
pub struct Current {
    /// evalpipe version.
    pub version: String,
    /// Shape of ingest's tables ([`evalpipe_ingest::TABLES_FORMAT`]).
    pub ingest_format: u32,
    /// A value that changes with the pseudonymisation key and reveals nothing about it.
    pub key_check: String,
    /// The data folder's files.
    pub inputs: Vec<Entry>,
    /// `pipeline/`.
    pub config: Vec<Entry>,
    /// `queries/`.
    pub queries: Vec<Entry>,
    /// `report-templates/`.
    pub templates: Vec<Entry>,
    /// The qualitative data folder (empty without one).
    pub qualitative: Vec<Entry>,
    /// Whether this run prints report.pdf (Chromium installed, no --no-pdf).
    pub pdf: bool,
}

/// One stage's state.
#[derive(Debug, Clone)]
pub struct StageState {
    /// Stage name.
    pub stage: &'static str,
    /// Whether it must run.
    pub stale: bool,
    /// Why (empty when fresh).
    pub reasons: Vec<String>,
}

/// Which stage a configuration file belongs to; `None`: no stage of a run reads it.
fn config_stage(path: &str) -> Option<usize> {
    if path.starts_with("published/") || path == "twin.toml" {
        None
    } else if path.starts_with("models/") {
        Some(2)
    } else if path.starts_with("framework/") {
        Some(3)
    } else {
        Some(0)
    }
}

/// `what: a, b changed; c added; d removed` for two hashed file lists, or nothing.
fn changes(what: &str, old: &[(String, String)], new: &[Entry]) -> Option<String> {
    let old: BTreeMap<&str, &str> = old.iter().map(|(p, h)| (p.as_str(), h.as_str())).collect();
    let new: BTreeMap<&str, &str> = new
        .iter()
        .map(|e| (e.path.as_str(), e.sha256.as_str()))
        .collect();
    let mut parts = Vec::new();
    let changed: Vec<&str> = new
        .iter()
        .filter(|(p, h)| old.get(*p).is_some_and(|o| o != *h))
        .map(|(p, _)| *p)
        .collect();
    let added: Vec<&str> = new
        .keys()
        .filter(|p| !old.contains_key(*p))
        .copied()
        .collect();
    let removed: Vec<&str> = old
        .keys()
        .filter(|p| !new.contains_key(*p))
        .copied()
        .collect();
    for (list, verb) in [(changed, "changed"), (added, "added"), (removed, "removed")] {
        if !list.is_empty() {
            parts.push(format!("{} {verb}", list.join(", ")));
        }
    }
    (!parts.is_empty()).then(|| format!("{what}: {}", parts.join("; ")))
}

fn entries(manifest: &serde_json::Value, key: &str) -> Vec<(String, String)> {
    manifest[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| Some((e["path"].as_str()?.into(), e["sha256"].as_str()?.into())))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether every output the manifest lists is in `run` with its hash (nobody edited the run).
pub fn outputs_intact(run: &Path, manifest: &serde_json::Value) -> bool {
    let outputs = entries(manifest, "outputs");
    !outputs.is_empty()
        && outputs.iter().all(|(path, sha)| {
            crate::manifest::hash_file(&run.join(path)).is_ok_and(|(h, _)| &h == sha)
        })
}

/// The state of each stage of the run in `out` (whose manifest is `previous`, if any).
pub fn staleness(
    out: &Path,
    previous: Option<&serde_json::Value>,
    current: &Current,
) -> Vec<StageState> {
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); STAGES.len()];
    match previous {
        None => reasons[0].push("no earlier run in this folder".into()),
        Some(m) => {
            if m["evalpipe_version"].as_str() != Some(current.version.as_str()) {
                reasons[0].push(format!(
                    "evalpipe {} made the last run, this is {}",
                    m["evalpipe_version"].as_str().unwrap_or("?"),
                    current.version
                ));
            }
            let format = m["ingest_format"].as_u64();
            if format != Some(u64::from(current.ingest_format)) {
                reasons[0].push(format!(
                    "the last run's ingest tables have another shape (format {}, this build \
                     writes {})",
                    format.map_or("unrecorded".to_string(), |f| f.to_string()),
                    current.ingest_format
                ));
            }
            if m["key_check"].as_str() != Some(current.key_check.as_str()) {
                reasons[0].push("the pseudonymisation key changed".into());
            }
            if let Some(r) = changes("data", &entries(m, "inputs"), &current.inputs) {
                reasons[0].push(r);
            }
            let old_config = entries(m, "config");
            for stage in [0, 2, 3] {
                let keep = |p: &str| config_stage(p) == Some(stage);
                let old: Vec<(String, String)> = old_config
                    .iter()
                    .filter(|(p, _)| keep(p))
                    .cloned()
                    .collect();
                let new: Vec<Entry> = current
                    .config
                    .iter()
                    .filter(|e| keep(&e.path))
                    .map(|e| Entry {
                        path: e.path.clone(),
                        sha256: e.sha256.clone(),
                        bytes: e.bytes,
                    })
                    .collect();
                if let Some(r) = changes("pipeline", &old, &new) {
                    reasons[stage].push(r);
                }
            }
            // The framework's counting SQL is the framework's, not the transform's.
            let framework_sql = |p: &str| p.starts_with("framework/");
            for (stage, mine) in [(1, false), (3, true)] {
                let old: Vec<(String, String)> = entries(m, "queries")
                    .into_iter()
                    .filter(|(p, _)| framework_sql(p) == mine)
                    .collect();
                let new: Vec<Entry> = current
                    .queries
                    .iter()
                    .filter(|e| framework_sql(&e.path) == mine)
                    .map(|e| Entry {
                        path: e.path.clone(),
                        sha256: e.sha256.clone(),
                        bytes: e.bytes,
                    })
                    .collect();
                if let Some(r) = changes("queries", &old, &new) {
                    reasons[stage].push(r);
                }
            }
            if let Some(r) = changes(
                "qualitative",
                &entries(m, "qualitative"),
                &current.qualitative,
            ) {
                reasons[3].push(r);
            }
            if let Some(r) = changes("templates", &entries(m, "templates"), &current.templates) {
                reasons[4].push(r);
            }
            // Whether there is a PDF follows from Chromium and --no-pdf, not from a file: a
            // report made without one is stale once one can be printed, and the other way.
            let had_pdf = out.join("report").join(evalpipe_report::PDF_FILE).is_file();
            if had_pdf != current.pdf {
                reasons[4].push(if current.pdf {
                    "the last run has no report.pdf, this one prints it".into()
                } else {
                    "the last run has report.pdf, this one prints none (--no-pdf or no Chromium)"
                        .into()
                });
            }
            if !outputs_intact(out, m) {
                reasons[0].push("the run folder's files differ from its manifest".into());
            }
        }
    }
    let mut states = Vec::new();
    let mut upstream_stale: Option<&str> = None;
    for (i, stage) in STAGES.iter().enumerate() {
        let mut why = reasons[i].clone();
        if let Some(up) = upstream_stale {
            why.push(format!("{up} runs again"));
        }
        let stale = !why.is_empty();
        if stale && upstream_stale.is_none() {
            upstream_stale = Some(stage);
        }
        states.push(StageState {
            stage,
            stale,
            reasons: why,
        });
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> Current {
        Current {
            version: "0.1.0".into(),
            ingest_format: 2,
            key_check: "k".into(),
            inputs: Vec::new(),
            config: Vec::new(),
            queries: Vec::new(),
            templates: Vec::new(),
            qualitative: Vec::new(),
            pdf: false,
        }
    }

    fn ingest_reasons(manifest: serde_json::Value) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let states = staleness(dir.path(), Some(&manifest), &current());
        states[0].reasons.clone()
    }

    /// A build whose ingest writes other tables than the last run's (same version number) must
    /// not reuse them: the transform would read tables without the columns it needs.
    #[test]
    fn ingest_tables_of_another_shape_make_ingest_stale() {
        let shape = |format: Option<u32>| {
            let mut m = serde_json::json!({
                "evalpipe_version": "0.1.0",
                "key_check": "k",
            });
            if let Some(f) = format {
                m["ingest_format"] = f.into();
            }
            ingest_reasons(m)
                .into_iter()
                .filter(|r| r.contains("shape"))
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(Some(2)), Vec::<String>::new());
        assert_eq!(
            shape(Some(1)),
            ["the last run's ingest tables have another shape (format 1, this build writes 2)"]
        );
        assert_eq!(
            shape(None),
            [
                "the last run's ingest tables have another shape (format unrecorded, this build \
                 writes 2)"
            ]
        );
    }
}
