//! The report's three models on the embedded synthetic twin: ingest and transform `data/twin`
//! into a temporary run folder, then fit every spec of `pipeline/models/`.
//!
//! The twin is generated from the odds ratios the report publishes (pipeline/twin.toml,
//! `[job_start.odds_ratios]` …), so a fitted model must recover them roughly: that is what can
//! fail here, beyond "it ran".

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use evalpipe_models::{FITTED, ModelRun, ModelsOptions, RowKind, StepKind, run_blocking};
use evalpipe_study::{RunLayout, Study};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

struct TwinRun {
    _tmp: tempfile::TempDir,
    layout: RunLayout,
    models: Vec<ModelRun>,
}

fn twin() -> &'static TwinRun {
    static RUN: OnceLock<TwinRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = repo();
        let study = Study::load(&root.join("pipeline")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let layout = RunLayout::new(tmp.path().join("twin"));
        let opts = evalpipe_ingest::IngestOptions {
            key: evalpipe_ingest::PseudonymKey::synthetic(),
            synthetic: true,
        };
        evalpipe_ingest::ingest(&study, &root.join("data/twin"), &layout, &opts).unwrap();
        evalpipe_transform::run_blocking(
            &study,
            &layout,
            &root.join("queries"),
            &evalpipe_transform::TransformOptions::default(),
        )
        .unwrap();
        let models = run_blocking(&study, &layout, &ModelsOptions::default()).unwrap();
        TwinRun {
            _tmp: tmp,
            layout,
            models,
        }
    })
}

fn model(id: &str) -> &'static ModelRun {
    twin()
        .models
        .iter()
        .find(|m| m.spec.id == id)
        .unwrap_or_else(|| panic!("no model `{id}`"))
}

/// The odds ratio of `term` in a fitted model.
fn odds_ratio(m: &ModelRun, term: &str) -> f64 {
    let fitted = m.result.as_ref().expect("fitted");
    fitted
        .rows()
        .iter()
        .find(|r| r.term == term)
        .and_then(|r| r.odds_ratio)
        .unwrap_or_else(|| panic!("{}: no term `{term}`", m.spec.id))
}

#[test]
fn the_three_models_fit_on_the_twin() {
    let run = twin();
    let ids: Vec<&str> = run.models.iter().map(|m| m.spec.id.as_str()).collect();
    assert_eq!(ids, ["job_outcome", "progression", "sustained_13"]);
    for m in &run.models {
        let fitted = m
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", m.spec.id));
        assert!(fitted.fit.converged);
        assert_eq!(fitted.fit.n, m.n());
        assert_eq!(fitted.fit.events, m.events);
        assert!(m.notes.is_empty(), "{:?}", m.notes);
        for name in ["coefficients", "summary", "steps"] {
            for ext in ["parquet", "csv"] {
                let f = run
                    .layout
                    .tables_dir()
                    .join(format!("models/{}/{name}.{ext}", m.spec.id));
                assert!(f.is_file(), "{}", f.display());
            }
        }
        let summary = std::fs::read_to_string(
            run.layout
                .tables_dir()
                .join(format!("models/{}/summary.csv", m.spec.id)),
        )
        .unwrap();
        assert!(summary.contains(&format!(",{FITTED},")), "{summary}");
    }
}

/// The N per step: the twin has the report's 3,347 out-of-work and 619 employed participants;
/// each exclusion and listwise deletion can only remove.
#[test]
fn n_at_each_step_on_the_twin() {
    let job = model("job_outcome");
    let kinds: Vec<StepKind> = job.steps.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            StepKind::Population,
            StepKind::Exclusion,
            StepKind::Exclusion,
            StepKind::CompleteCases
        ]
    );
    assert_eq!(job.steps[0].n, 3347);
    assert_eq!(model("progression").steps[0].n, 619);
    for m in &twin().models {
        for pair in m.steps.windows(2) {
            assert!(
                pair[1].n < pair[0].n,
                "{}: step `{}` removed nobody",
                m.spec.id,
                pair[1].label
            );
        }
        eprintln!(
            "{}: {}",
            m.spec.id,
            m.steps
                .iter()
                .map(|s| s.n.to_string())
                .collect::<Vec<_>>()
                .join(" → ")
        );
    }
    // Sustainment's population is the job outcome model's job starters.
    let sustained = model("sustained_13");
    assert!(sustained.steps[1].n < sustained.steps[0].n);
    assert_eq!(sustained.steps[0].n, 3347);
}

/// The twin draws job outcomes from the published odds ratios (twin.toml): the fit must find
/// the strong ones in the right direction and roughly the right size.
#[test]
fn job_outcome_recovers_the_published_odds_ratios_roughly() {
    let job = model("job_outcome");
    let within = |term: &str, published: f64| {
        let or = odds_ratio(job, term);
        eprintln!("job_outcome {term}: OR {or:.2} (published {published})");
        assert!(
            (or.ln() - published.ln()).abs() < 0.6,
            "{term}: OR {or:.3}, published {published}"
        );
    };
    within("qualification[Levels 1 and 2]", 2.9);
    within("qualification[Level 3]", 3.9);
    within("cohort[Rapid Progression]", 1.8);
    within("match_skills[Yes]", 2.2);
    within("coaching[No]", 1.6);
    within("health[No health condition]", 1.4);
    within("provider_group[Small and medium organisations]", 2.0);
    // Multi-level factors carry their joint test before their levels.
    let rows = job.result.as_ref().unwrap().rows();
    let q = rows
        .iter()
        .position(|r| r.kind == RowKind::Factor && r.term == "qualification")
        .unwrap();
    assert_eq!(rows[q].df, 3);
    assert!(rows[q].p < 1e-6, "qualification p = {}", rows[q].p);
    assert_eq!(rows[q + 1].term, "qualification[Levels 1 and 2]");
    assert_eq!(rows[q + 1].reference_level.as_deref(), Some("None"));
}

#[test]
fn sustainment_and_progression_recover_their_strongest_effects() {
    let s = model("sustained_13");
    assert!(
        odds_ratio(s, "age[45–54]") > 1.2,
        "{}",
        odds_ratio(s, "age[45–54]")
    );
    assert!(odds_ratio(s, "match_skills[Yes]") > 1.2);
    let p = model("progression");
    assert!(
        odds_ratio(p, "benefits[No]") > 1.2,
        "{}",
        odds_ratio(p, "benefits[No]")
    );
}
