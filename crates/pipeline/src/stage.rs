//! The stage table: every stage of a run, what it reads, what it writes, when it may begin and
//! how it is begun. Staleness ([`crate::stale`]), the reuse of an unchanged stage's outputs,
//! which stages overlap, the order they finish and are summarised in, and the manifest's stage
//! summaries all follow from it: adding a stage is one entry here (with the function that
//! begins it) plus the stage's own crate and its summary in the manifest.

use std::fmt;

use evalpipe_study::StageSummaries;

use crate::run::{self, Begin};

/// A stage of a run, in the order the run reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Provider MI and claims into validated, pseudonymised Parquet.
    Ingest,
    /// The SQL of `queries/` into tables.
    Transform,
    /// The logistic regressions of `pipeline/models/`.
    Models,
    /// The interviews' Framework matrices, counted and triangulated with the tables.
    Framework,
    /// The report's sections, annex workbook and PDF.
    Report,
}

/// What a stage reads from outside the run folder: when any of it changed since the last run
/// in the folder, the stage is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// evalpipe's version, the shape of ingest's tables and the pseudonymisation key.
    Build,
    /// The extracts in the data folder.
    Extracts,
    /// The study configuration (`pipeline/`) under this folder; `""`: every file of it that no
    /// other stage claims and no run reads ([`NOT_READ_BY_A_RUN`]).
    Config(&'static str),
    /// The SQL files (`queries/`) under this folder; `""`: those no other stage claims.
    Queries(&'static str),
    /// The charted interviews.
    Qualitative,
    /// The report templates.
    Templates,
    /// Whether report.pdf is printed (Chromium installed, no `--no-pdf`).
    Pdf,
}

/// When a stage may begin: the run overlaps stages only where the table says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// When the stages it reads from are done.
    AfterInputs,
    /// As soon as these tables of the stages it reads from are written, beside the rest of
    /// those stages.
    WhenWritten(&'static [&'static str]),
    /// Its preparation, which reads nothing of the run, at once, beside every stage before it;
    /// the rest when the stages it reads from are done.
    PreparedAtOnce,
}

/// One stage's entry in the table.
#[derive(Debug)]
pub struct StageDef {
    /// The stage.
    pub stage: Stage,
    /// Its name in messages, the manifest and `--timings`.
    pub name: &'static str,
    /// The stages whose outputs it reads: it runs again whenever one of them does.
    pub after: &'static [Stage],
    /// What it reads from outside the run folder.
    pub reads: &'static [Source],
    /// Its folders in the run folder, `/`-separated; a folder inside another stage's is that
    /// stage's alone (`tables/models` is the models', not the transform's).
    pub writes: &'static [&'static str],
    /// When it may begin.
    pub start: Start,
    /// Begins it: what it can do in the background starts, and finishing it is returned.
    pub(crate) begin: Begin,
    /// Keeps the last run's summary of it, when it is reused.
    pub(crate) keep: fn(&StageSummaries, &mut StageSummaries),
}

/// Files of the study configuration that `check`, `synth` and `dashboard` read and no run does:
/// editing the published-figures register, the twin's calibration or the dashboards' settings
/// leaves a run fresh.
pub const NOT_READ_BY_A_RUN: [&str; 3] = ["published/", "twin.toml", "dashboard.toml"];

/// Query folders no run reads: the dashboards' SQL runs over finished runs, so editing it
/// leaves a run fresh.
pub const QUERIES_NOT_READ_BY_A_RUN: [&str; 1] = ["dashboard/"];

/// Every stage, in order.
pub const STAGES: [StageDef; 5] = [
    StageDef {
        stage: Stage::Ingest,
        name: "ingest",
        after: &[],
        reads: &[Source::Build, Source::Extracts, Source::Config("")],
        writes: &["ingest"],
        start: Start::AfterInputs,
        begin: run::begin_ingest,
        keep: |last, now| now.ingest = last.ingest.clone(),
    },
    StageDef {
        stage: Stage::Transform,
        name: "transform",
        after: &[Stage::Ingest],
        // The analytic decisions' choices are reference tables its SQL reads.
        reads: &[Source::Queries(""), Source::Config("decisions.toml")],
        writes: &["tables"],
        start: Start::AfterInputs,
        begin: run::begin_transform,
        keep: |last, now| now.transform = last.transform.clone(),
    },
    StageDef {
        stage: Stage::Models,
        name: "models",
        after: &[Stage::Transform],
        reads: &[Source::Config("models/")],
        writes: &["tables/models"],
        // The two staging tables the models' one pass reads.
        start: Start::WhenWritten(&evalpipe_models::INPUT_TABLES),
        begin: run::begin_models,
        keep: |last, now| now.models = last.models.clone(),
    },
    StageDef {
        stage: Stage::Framework,
        name: "framework",
        // Its triangulation hooks read the transform's and the models' tables.
        after: &[Stage::Transform, Stage::Models],
        reads: &[
            Source::Config("framework/"),
            Source::Queries("framework/"),
            Source::Qualitative,
        ],
        writes: &["framework", "tables/framework"],
        // Reading and counting the interviews needs no table of the run; the hooks do.
        start: Start::PreparedAtOnce,
        begin: run::begin_framework,
        keep: |last, now| now.framework = last.framework.clone(),
    },
    StageDef {
        stage: Stage::Report,
        name: "report",
        after: &[Stage::Transform, Stage::Models, Stage::Framework],
        reads: &[Source::Templates, Source::Pdf],
        writes: &["report"],
        start: Start::AfterInputs,
        begin: run::begin_report,
        keep: |last, now| now.report = last.report.clone(),
    },
];

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 5] = [
        Stage::Ingest,
        Stage::Transform,
        Stage::Models,
        Stage::Framework,
        Stage::Report,
    ];

    /// The stage's entry in [`STAGES`].
    pub fn def(self) -> &'static StageDef {
        &STAGES[self as usize]
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// Whether it reads, directly or through another stage, what `other` writes.
    pub fn reads_from(self, other: Stage) -> bool {
        self.def()
            .after
            .iter()
            .any(|&s| s == other || s.reads_from(other))
    }

    /// The folders of the run it writes, with the folders other stages write inside them,
    /// which are theirs.
    pub fn folders(self) -> Vec<(&'static str, Vec<&'static str>)> {
        self.def()
            .writes
            .iter()
            .map(|&mine| {
                let theirs = STAGES
                    .iter()
                    .filter(|d| d.stage != self)
                    .flat_map(|d| d.writes.iter().copied())
                    .filter(|w| {
                        w.strip_prefix(mine)
                            .is_some_and(|rest| rest.starts_with('/'))
                    })
                    .collect();
                (mine, theirs)
            })
            .collect()
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The stage that reads `path` of a tree split by prefix among the stages (`pipeline/`,
/// `queries/`): the longest prefix claimed, else the stage claiming `""`; `None` for the files
/// of `unread` (a file name, or a folder ending in `/`), which no run reads.
pub(crate) fn owner(
    path: &str,
    claims: impl Fn(&Source) -> Option<&'static str>,
    unread: &[&str],
) -> Option<Stage> {
    if unread
        .iter()
        .any(|n| path == *n || (n.ends_with('/') && path.starts_with(n)))
    {
        return None;
    }
    let mut best: Option<(usize, Stage)> = None;
    for def in &STAGES {
        for source in def.reads {
            if let Some(prefix) = claims(source)
                && path.starts_with(prefix)
                && best.is_none_or(|(len, _)| prefix.len() > len)
            {
                best = Some((prefix.len(), def.stage));
            }
        }
    }
    best.map(|(_, stage)| stage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_stage_order_and_every_stage_reads_only_earlier_ones() {
        for (i, def) in STAGES.iter().enumerate() {
            assert_eq!(def.stage as usize, i, "{}", def.name);
            assert_eq!(Stage::ALL[i], def.stage);
            assert!(def.after.iter().all(|a| *a < def.stage), "{}", def.name);
        }
        assert!(Stage::Report.reads_from(Stage::Ingest));
        assert!(!Stage::Models.reads_from(Stage::Framework));
        // A stage that begins before the stages it reads from are done reads only tables they
        // write, and only a stage that reads from another begins early.
        for def in &STAGES {
            if let Start::WhenWritten(tables) = def.start {
                assert!(!tables.is_empty() && !def.after.is_empty(), "{}", def.name);
            }
        }
        assert_eq!(
            Stage::Models.def().start,
            Start::WhenWritten(&[
                "participant_outcomes",
                "participant_categories",
                "participant_actions"
            ])
        );
    }

    #[test]
    fn a_stage_owns_its_folders_but_not_those_of_others_inside_them() {
        assert_eq!(
            Stage::Transform.folders(),
            [("tables", vec!["tables/models", "tables/framework"])]
        );
        assert_eq!(Stage::Models.folders(), [("tables/models", vec![])]);
        assert_eq!(
            Stage::Framework.folders(),
            [("framework", vec![]), ("tables/framework", vec![])]
        );
    }

    #[test]
    fn configuration_and_queries_go_to_the_stage_that_reads_them() {
        let config = |p: &str| {
            owner(
                p,
                |s| match s {
                    Source::Config(prefix) => Some(prefix),
                    _ => None,
                },
                &NOT_READ_BY_A_RUN,
            )
        };
        assert_eq!(config("study.toml"), Some(Stage::Ingest));
        assert_eq!(config("dictionary/mi.toml"), Some(Stage::Ingest));
        assert_eq!(config("models/job_outcome.toml"), Some(Stage::Models));
        assert_eq!(config("framework/codebook.toml"), Some(Stage::Framework));
        assert_eq!(config("published/figures.toml"), None);
        assert_eq!(config("twin.toml"), None);
        assert_eq!(config("dashboard.toml"), None);
        assert_eq!(config("decisions.toml"), Some(Stage::Transform));
        let queries = |p: &str| {
            owner(
                p,
                |s| match s {
                    Source::Queries(prefix) => Some(prefix),
                    _ => None,
                },
                &QUERIES_NOT_READ_BY_A_RUN,
            )
        };
        assert_eq!(queries("dashboard/dashboard_headline.sql"), None);
        assert_eq!(queries("staging/outcome_rates.sql"), Some(Stage::Transform));
        assert_eq!(
            queries("framework/framework_cmo.sql"),
            Some(Stage::Framework)
        );
    }
}
