//! Which stages of a run are stale, and why: what a run would read now against the manifest of
//! the run already in the folder, stage by stage as the stage table says what each reads.
//!
//! A stage is stale when anything it reads ([`StageDef::reads`](crate::StageDef)) changed, or a
//! stage whose outputs it reads runs again. The register (`pipeline/published/`) and the
//! twin's calibration (`pipeline/twin.toml`) are read by `check` and `synth`, not by a run, so
//! editing them leaves a run fresh.

use std::collections::BTreeMap;
use std::path::Path;

use evalpipe_study::{Entry, Manifest};

use crate::hashes::hash_file;
use crate::stage::{NOT_READ_BY_A_RUN, QUERIES_NOT_READ_BY_A_RUN, STAGES, Source, Stage, owner};

/// What a run would read now.
#[derive(Debug, Clone)]
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
    /// The stage.
    pub stage: Stage,
    /// Whether it must run.
    pub stale: bool,
    /// Why (empty when fresh).
    pub reasons: Vec<String>,
}

/// `what: a, b changed; c added; d removed` for two hashed file lists, or nothing.
fn changes<'a>(
    what: &str,
    old: impl Iterator<Item = &'a Entry>,
    new: impl Iterator<Item = &'a Entry>,
) -> Option<String> {
    let old: BTreeMap<&str, &str> = old.map(|e| (e.path.as_str(), e.sha256.as_str())).collect();
    let new: BTreeMap<&str, &str> = new.map(|e| (e.path.as_str(), e.sha256.as_str())).collect();
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
    let parts: Vec<String> = [(changed, "changed"), (added, "added"), (removed, "removed")]
        .into_iter()
        .filter(|(list, _)| !list.is_empty())
        .map(|(list, verb)| format!("{} {verb}", list.join(", ")))
        .collect();
    (!parts.is_empty()).then(|| format!("{what}: {}", parts.join("; ")))
}

/// Whether every output the manifest lists is in `run` with its hash (nobody edited the run).
pub fn outputs_intact(run: &Path, manifest: &Manifest) -> bool {
    !manifest.outputs.is_empty()
        && manifest
            .outputs
            .iter()
            .all(|e| hash_file(&run.join(&e.path)).is_ok_and(|(h, _)| h == e.sha256))
}

/// Why `source`, as `stage` reads it, makes the stage stale.
fn reasons_of(
    stage: Stage,
    source: Source,
    out: &Path,
    m: &Manifest,
    current: &Current,
) -> Vec<String> {
    // The files of a tree split among the stages that are this stage's.
    let split = |what: &str, old: &[Entry], new: &[Entry], config: bool| {
        let claims = |s: &Source| match (s, config) {
            (Source::Config(prefix), true) | (Source::Queries(prefix), false) => Some(*prefix),
            _ => None,
        };
        let unread: &[&str] = if config {
            &NOT_READ_BY_A_RUN
        } else {
            &QUERIES_NOT_READ_BY_A_RUN
        };
        let mine = |e: &&Entry| owner(&e.path, claims, unread) == Some(stage);
        changes(what, old.iter().filter(mine), new.iter().filter(mine))
    };
    let found = match source {
        Source::Build => {
            let mut found = Vec::new();
            if m.evalpipe_version != current.version {
                found.push(format!(
                    "evalpipe {} made the last run, this is {}",
                    m.evalpipe_version, current.version
                ));
            }
            if m.ingest_format != Some(current.ingest_format) {
                found.push(format!(
                    "the last run's ingest tables have another shape (format {}, this build \
                     writes {})",
                    m.ingest_format
                        .map_or("unrecorded".to_string(), |f| f.to_string()),
                    current.ingest_format
                ));
            }
            if m.key_check != current.key_check {
                found.push("the pseudonymisation key changed".into());
            }
            return found;
        }
        Source::Extracts => changes("data", m.inputs.iter(), current.inputs.iter()),
        Source::Config(_) => split("pipeline", &m.config, &current.config, true),
        Source::Queries(_) => split("queries", &m.queries, &current.queries, false),
        Source::Qualitative => changes(
            "qualitative",
            m.qualitative.iter(),
            current.qualitative.iter(),
        ),
        Source::Templates => changes("templates", m.templates.iter(), current.templates.iter()),
        // Whether there is a PDF follows from Chromium and --no-pdf, not from a file: a report
        // made without one is stale once one can be printed, and the other way.
        Source::Pdf => {
            let had_pdf = evalpipe_study::RunLayout::new(out)
                .report_dir()
                .join(evalpipe_report::PDF_FILE)
                .is_file();
            (had_pdf != current.pdf).then(|| {
                if current.pdf {
                    "the last run has no report.pdf, this one prints it".into()
                } else {
                    "the last run has report.pdf, this one prints none (--no-pdf or no Chromium)"
                        .into()
                }
            })
        }
    };
    found.into_iter().collect()
}

/// The state of each stage of the run in `out` (whose manifest is `previous`, if any).
pub fn staleness(out: &Path, previous: Option<&Manifest>, current: &Current) -> Vec<StageState> {
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); STAGES.len()];
    match previous {
        None => reasons[0].push("no earlier run in this folder".into()),
        Some(m) => {
            for def in &STAGES {
                for &source in def.reads {
                    reasons[def.stage as usize]
                        .extend(reasons_of(def.stage, source, out, m, current));
                }
            }
            if !outputs_intact(out, m) {
                reasons[0].push("the run folder's files differ from its manifest".into());
            }
        }
    }
    let mut states: Vec<StageState> = Vec::new();
    for def in &STAGES {
        let mut why = std::mem::take(&mut reasons[def.stage as usize]);
        // Named by the first stage that runs again among those it reads from (stale for a
        // reason of its own: nothing before it is stale).
        if let Some(up) = states
            .iter()
            .find(|s| s.stale && def.stage.reads_from(s.stage))
        {
            why.push(format!("{} runs again", up.stage));
        }
        states.push(StageState {
            stage: def.stage,
            stale: !why.is_empty(),
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

    fn manifest() -> Manifest {
        Manifest {
            evalpipe_version: "0.1.0".into(),
            ingest_format: Some(2),
            key_check: "k".into(),
            ..Default::default()
        }
    }

    fn entry(path: &str, sha256: &str) -> Entry {
        Entry {
            path: path.into(),
            sha256: sha256.into(),
            bytes: 1,
        }
    }

    /// A build whose ingest writes other tables than the last run's (same version number) must
    /// not reuse them: the transform would read tables without the columns it needs.
    #[test]
    fn ingest_tables_of_another_shape_make_ingest_stale() {
        let dir = tempfile::tempdir().unwrap();
        let shape = |format: Option<u32>| {
            let m = Manifest {
                ingest_format: format,
                ..manifest()
            };
            staleness(dir.path(), Some(&m), &current())[0]
                .reasons
                .iter()
                .filter(|r| r.contains("shape"))
                .cloned()
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

    /// Each edit makes stale the stage that reads it and those reading from that stage,
    /// and no stage before it.
    #[test]
    fn an_edit_makes_its_stage_and_the_later_ones_stale_and_no_earlier_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "a").unwrap();
        let (sha, _) = hash_file(&dir.path().join("a")).unwrap();
        let m = Manifest {
            outputs: vec![entry("a", &sha)],
            config: vec![
                entry("study.toml", "1"),
                entry("models/m.toml", "1"),
                entry("published/f.toml", "1"),
            ],
            queries: vec![entry("x.sql", "1"), entry("framework/f.sql", "1")],
            templates: vec![entry("t.md", "1")],
            ..manifest()
        };
        let fresh = Current {
            config: m.config.clone(),
            queries: m.queries.clone(),
            templates: m.templates.clone(),
            ..current()
        };
        let stale = |edit: &dyn Fn(&mut Current)| {
            let mut now = fresh.clone();
            edit(&mut now);
            staleness(dir.path(), Some(&m), &now)
                .iter()
                .map(|s| (s.stage.name(), s.stale, s.reasons.join(" | ")))
                .filter(|(_, stale, _)| *stale)
                .map(|(n, _, why)| format!("{n}: {why}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(stale(&|_| {}), Vec::<String>::new());
        assert_eq!(
            stale(&|c| c.config[2].sha256 = "2".into()),
            Vec::<String>::new()
        );
        assert_eq!(
            stale(&|c| c.config[1].sha256 = "2".into()),
            [
                "models: pipeline: models/m.toml changed",
                "framework: models runs again",
                "report: models runs again"
            ]
        );
        assert_eq!(
            stale(&|c| c.queries[1].sha256 = "2".into()),
            [
                "framework: queries: framework/f.sql changed",
                "report: framework runs again"
            ]
        );
        assert_eq!(
            stale(&|c| c.templates.push(entry("u.md", "1"))),
            ["report: templates: u.md added"]
        );
        assert_eq!(
            stale(&|c| c.key_check = "other".into()),
            [
                "ingest: the pseudonymisation key changed",
                "transform: ingest runs again",
                "models: ingest runs again",
                "framework: ingest runs again",
                "report: ingest runs again"
            ]
        );
    }
}
