//! Model specs: the committed ones say what the report says, and a bad spec is refused with the
//! file and the field named.

use std::path::Path;

use evalpipe_models::{Error, Filter, ModelSpec, load_specs};
use evalpipe_study::Study;

fn pipeline() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline")
}

fn study() -> Study {
    Study::load(&pipeline()).unwrap()
}

const GOOD: &str = r#"
id = "job"
title = "Job outcome"
table = "A-24"
outcome = "is_job_start"

[[population]]
label = "out-of-work cohorts"
cohorts = ["HTH", "HTR", "RP"]

[[exclude]]
label = "excluding Lot 5"
lots = ["L5"]

[[exclude]]
label = "excluding Colleges"
characteristic = "provider_group"
categories = ["Colleges"]

[[covariate]]
name = "age"
characteristic = "age_band"
reference = "25–34"
"#;

fn parse(text: &str) -> Result<ModelSpec, Error> {
    ModelSpec::parse(Path::new("pipeline/models/job.toml"), text, &study())
}

/// The error for `text`, checked to name the file; returns (field, message) for a field error
/// or ("", message) for a syntax error.
fn error(text: &str) -> (String, String) {
    let err = parse(text).unwrap_err();
    assert!(
        err.to_string().starts_with("pipeline/models/job.toml: "),
        "{err}"
    );
    match err {
        Error::Spec { field, message, .. } => (field, message),
        Error::SpecSyntax { message, .. } => (String::new(), message),
        other => panic!("expected a spec error, got {other:?}"),
    }
}

#[test]
fn a_good_spec_parses() {
    let s = parse(GOOD).unwrap();
    assert_eq!(s.id, "job");
    assert_eq!(s.population.len(), 1);
    assert_eq!(
        s.exclusions[1].filter,
        Filter::Characteristic {
            characteristic: "provider_group".into(),
            categories: vec!["Colleges".into()],
        }
    );
    // label defaults to the name.
    assert_eq!(s.covariates[0].label, "age");
}

#[test]
fn the_committed_specs_follow_the_report() {
    let specs = load_specs(&pipeline().join("models"), &study()).unwrap();
    let ids: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["job_outcome", "progression", "sustained_13"]);
    let tables: Vec<&str> = specs.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(tables, ["A-24", "A-39", "A-31"]);
    let reference = |s: &ModelSpec, characteristic: &str| -> String {
        s.covariates
            .iter()
            .find(|c| c.characteristic == characteristic)
            .map(|c| c.reference.clone())
            .unwrap_or_else(|| panic!("{}: no covariate on {characteristic}", s.id))
    };
    for s in &specs {
        // Every model drops Lot 5 Cannock North and the Colleges group (report 2.3).
        assert_eq!(s.exclusions[0].filter, Filter::Lots(vec!["L5".into()]));
        assert_eq!(
            s.exclusions[1].filter,
            Filter::Characteristic {
                characteristic: "provider_group".into(),
                categories: vec!["Colleges".into()],
            }
        );
        assert_eq!(
            reference(s, "provider_group"),
            "East Birmingham and Solihull urban partnership"
        );
        assert_eq!(reference(s, "qualification_model"), "None");
        assert_eq!(reference(s, "health"), "Health condition");
        assert_eq!(reference(s, "benefits"), "Yes");
        assert_eq!(reference(s, "completed_action.coaching"), "Yes");
        assert_eq!(reference(s, "completed_action.match_skills"), "No");
    }
    let job = &specs[0];
    assert_eq!(
        job.population[0].filter,
        Filter::Cohorts(vec!["HTH".into(), "HTR".into(), "RP".into()])
    );
    assert_eq!(reference(job, "cohort"), "Hardest to Help");
    assert_eq!(reference(job, "age_band"), "25–34");
    let sustained = &specs[2];
    assert_eq!(reference(sustained, "age_band"), "16–24");
    assert_eq!(
        sustained.population[1].filter,
        Filter::Flag {
            column: "is_job_start".into(),
            value: true
        }
    );
    let progression = &specs[1];
    assert_eq!(
        progression.population[0].filter,
        Filter::Cohorts(vec!["EMP".into()])
    );
}

#[test]
fn an_unknown_field_is_named() {
    let (_, message) = error(&GOOD.replace("reference = ", "refrence = "));
    assert!(message.contains("unknown field `refrence`"), "{message}");
}

#[test]
fn a_missing_field_is_named() {
    let (_, message) = error(&GOOD.replace("reference = \"25–34\"", ""));
    assert!(message.contains("missing field `reference`"), "{message}");
}

#[test]
fn an_unknown_cohort_is_named_with_the_known_ones() {
    let (field, message) = error(&GOOD.replace("\"HTR\"", "\"HTX\""));
    assert_eq!(field, "[[population]] #1 `cohorts`");
    assert!(
        message.contains("`HTX`") && message.contains("HTR, HTH, RP, EMP"),
        "{message}"
    );
}

#[test]
fn an_unknown_lot_is_named() {
    let (field, message) = error(&GOOD.replace("[\"L5\"]", "[\"L10\"]"));
    assert_eq!(field, "[[exclude]] #1 `lots`");
    assert!(message.contains("`L10`"), "{message}");
}

#[test]
fn a_step_must_have_exactly_one_filter() {
    let (field, message) =
        error(&GOOD.replace("lots = [\"L5\"]", "lots = [\"L5\"]\ncohorts = [\"RP\"]"));
    assert_eq!(field, "[[exclude]] #1");
    assert!(message.contains("found cohorts, lots"), "{message}");
    let (field, message) = error(&GOOD.replace("lots = [\"L5\"]\n", ""));
    assert_eq!(field, "[[exclude]] #1");
    assert!(message.contains("found none"), "{message}");
    let (field, _) = error(&GOOD.replace("categories = [\"Colleges\"]", ""));
    assert_eq!(field, "[[exclude]] #2 `categories`");
}

#[test]
fn the_id_must_be_the_file_name() {
    let (field, message) = error(&GOOD.replace("id = \"job\"", "id = \"jobs\""));
    assert_eq!(field, "id");
    assert!(
        message.contains("`jobs`") && message.contains("`job`"),
        "{message}"
    );
    let (field, _) = error(&GOOD.replace("id = \"job\"", "id = \"Job Outcome\""));
    assert_eq!(field, "id");
}

#[test]
fn a_characteristic_twice_is_refused() {
    let twice = format!(
        "{GOOD}\n[[covariate]]\nname = \"age_again\"\ncharacteristic = \"age_band\"\nreference = \"16–24\"\n"
    );
    let (field, message) = error(&twice);
    assert_eq!(field, "[[covariate]] #2 `characteristic`");
    assert!(message.contains("collinear"), "{message}");
}

#[test]
fn a_model_needs_a_population_and_covariates() {
    let no_population = GOOD.replace(
        "[[population]]\nlabel = \"out-of-work cohorts\"\ncohorts = [\"HTH\", \"HTR\", \"RP\"]\n",
        "",
    );
    assert_eq!(error(&no_population).0, "population");
    let cut = GOOD.find("[[covariate]]").unwrap();
    assert_eq!(error(&GOOD[..cut]).0, "covariate");
}

#[test]
fn a_missing_spec_folder_means_no_models() {
    let tmp = tempfile::tempdir().unwrap();
    let specs = load_specs(&tmp.path().join("models"), &study()).unwrap();
    assert!(specs.is_empty());
}
