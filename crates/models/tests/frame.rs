//! Model frames from hand-built run tables: the N after each step, dummy coding against the
//! reference level, and the failures a model's outputs must report instead of numbers. Every
//! expected number here is worked out by hand from the rows below.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use evalpipe_models::{
    Error, ModelRun, ModelSpec, ModelsOptions, NOT_FITTED, RowKind, StepKind, output_dir, run,
};
use evalpipe_study::{RunLayout, Study};
use parquet::arrow::ArrowWriter;

fn study() -> Study {
    Study::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline")).unwrap()
}

/// One participant of the hand-built run: lot, cohort code, outcome and characteristics.
#[derive(Clone)]
struct P {
    lot: &'static str,
    cohort: &'static str,
    job: bool,
    traits: Vec<(&'static str, i64, &'static str)>,
}

fn cohort_name(code: &str) -> (i64, &'static str) {
    match code {
        "HTH" => (1, "Hardest to Help"),
        "RP" => (2, "Rapid Progression"),
        "EMP" => (3, "Employed progression"),
        other => panic!("{other}"),
    }
}

/// `count` participants alike; `age` is (category_order, label), `provider` a label; `None`
/// leaves the characteristic out (missing data). Cohort is recorded for everyone.
fn people(
    count: usize,
    events: usize,
    lot: &'static str,
    cohort: &'static str,
    provider: Option<&'static str>,
    age: Option<(i64, &'static str)>,
) -> Vec<P> {
    (0..count)
        .map(|i| {
            let (order, name) = cohort_name(cohort);
            let mut traits = vec![("cohort", order, name)];
            if let Some(p) = provider {
                let order = match p {
                    "Colleges" => 1,
                    "Partnership" => 2,
                    _ => 3,
                };
                traits.push(("provider_group", order, p));
            }
            if let Some((order, label)) = age {
                traits.push(("age_band", order, label));
            }
            P {
                lot,
                cohort,
                job: i < events,
                traits,
            }
        })
        .collect()
}

// Age labels whose alphabetical order (middle, older, young) is not the category order.
const YOUNG: (i64, &str) = (1, "young");
const MIDDLE: (i64, &str) = (2, "middle");
const OLDER: (i64, &str) = (3, "older");

/// The worked example:
///
/// | who                                              |  n | kept after            |
/// |--------------------------------------------------|---:|-----------------------|
/// | Employed progression (L1)                        |  7 | — (not in population) |
/// | Rapid Progression in Lot 5                       |  6 | step 1                |
/// | Hardest to Help, Colleges (L2), age "oldest"     |  5 | steps 1–2             |
/// | Rapid Progression, no age recorded               |  4 | steps 1–3             |
/// | young: 6 jobs of 10                              | 10 | complete              |
/// | middle: 5 jobs of 15 (3 without a provider row)  | 15 | complete              |
/// | older: 8 jobs of 12                              | 12 | complete              |
///
/// Population (HTH, RP) 52 → without Lot 5 46 → without Colleges 41 → complete cases 37, of
/// whom 6 + 5 + 8 = 19 found a job. The 3 without a provider row are not Colleges: an exclusion
/// keeps missing data.
fn worked_example() -> Vec<P> {
    let mut rows = Vec::new();
    rows.extend(people(7, 3, "L1", "EMP", Some("Partnership"), Some(MIDDLE)));
    rows.extend(people(6, 3, "L5", "RP", Some("Small"), Some(YOUNG)));
    rows.extend(people(
        5,
        2,
        "L2",
        "HTH",
        Some("Colleges"),
        Some((4, "oldest")),
    ));
    rows.extend(people(4, 2, "L1", "RP", Some("Partnership"), None));
    // young: 6 of 10 (odds 1.5), HTH and RP both present.
    rows.extend(people(4, 3, "L1", "HTH", Some("Partnership"), Some(YOUNG)));
    rows.extend(people(6, 3, "L2", "RP", Some("Small"), Some(YOUNG)));
    // middle (reference): 5 of 15 (odds 0.5).
    rows.extend(people(3, 1, "L1", "HTH", None, Some(MIDDLE)));
    rows.extend(people(7, 2, "L1", "HTH", Some("Partnership"), Some(MIDDLE)));
    rows.extend(people(5, 2, "L2", "RP", Some("Small"), Some(MIDDLE)));
    // older: 8 of 12 (odds 2).
    rows.extend(people(5, 4, "L1", "RP", Some("Partnership"), Some(OLDER)));
    rows.extend(people(7, 4, "L2", "HTH", Some("Small"), Some(OLDER)));
    rows
}

/// Writes `participant_outcomes`, `participant_categories`, `participant_actions` and the
/// reference table of category orders for `rows` into a run folder.
fn write_run(dir: &Path, rows: &[P]) -> RunLayout {
    write_run_with(dir, rows, &[])
}

/// A participant's place in the extracts, as the transform records it: the first half of the
/// rows from one lot's file and the rest from another's, each numbered from its row 2, so the
/// order is by file name before row.
fn position(i: usize, n: usize) -> (String, i64) {
    if i < n / 2 {
        ("mi_L1_20220131.csv".into(), i as i64 + 2)
    } else {
        ("mi_L2_20220131.csv".into(), (i - n / 2) as i64 + 2)
    }
}

/// The `place` the transform writes for a row of one of the files above (numbered in name
/// order, as ingest reads them).
fn place(file: &str, row: i64) -> i64 {
    let files = [
        "mi_L0_20220131.csv",
        "mi_L1_20220131.csv",
        "mi_L2_20220131.csv",
        "mi_L9_20220131.csv",
    ];
    let number = files.iter().position(|f| *f == file).expect("a known file") as u64 + 1;
    evalpipe_study::place(number, row as u64)
}

/// [`write_run`], with `orphans` in the characteristics and actions only (participants nobody
/// in `participant_outcomes` is), before, between and after the participants' files.
fn write_run_with(dir: &Path, rows: &[P], orphans: &[P]) -> RunLayout {
    let layout = RunLayout::new(dir);
    let n = rows.len();
    let ids: Vec<String> = (0..n).map(|i| format!("P{i:04}")).collect();
    let text = |v: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let numbers = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
    let outcomes = RecordBatch::try_from_iter(vec![
        ("participant_id", text(ids.clone())),
        (
            "place",
            numbers(
                (0..n)
                    .map(|i| {
                        let (file, row) = position(i, n);
                        place(&file, row)
                    })
                    .collect(),
            ),
        ),
        (
            "lot_code",
            text(rows.iter().map(|r| r.lot.to_string()).collect()),
        ),
        (
            "payment_group",
            text(rows.iter().map(|r| r.cohort.to_string()).collect()),
        ),
        (
            "is_out_of_work",
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.cohort != "EMP").collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "is_job_start",
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.job).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "job_start_date",
            text(rows.iter().map(|_| "x".into()).collect()),
        ),
    ])
    .unwrap();
    // Every participant with their place, orphans included, in extract order (the order the
    // transform writes its participant tables in).
    let mut everyone: Vec<((String, i64), String, &P)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (position(i, n), ids[i].clone(), r))
        .collect();
    let files = [
        "mi_L0_20220131.csv",
        "mi_L1_20220131.csv",
        "mi_L9_20220131.csv",
    ];
    for (i, r) in orphans.iter().enumerate() {
        let place = (files[i % 3].to_string(), 1_000 + i as i64);
        everyone.push((place, format!("X{i:04}"), r));
    }
    everyone.sort_by(|a, b| a.0.cmp(&b.0));
    // The characteristics one column each, in the order first met, null where a participant
    // has none; the completed actions as one list per participant with any recorded
    // (`completed_action.<option>` = Yes is in it, = No is not), as the transform writes them.
    let mut names: Vec<&str> = Vec::new();
    let mut orders: Vec<(&str, &str, i64)> = Vec::new();
    for (_, _, r) in &everyone {
        for &(name, order, category) in &r.traits {
            if name.starts_with("completed_action.") {
                continue;
            }
            if !names.contains(&name) {
                names.push(name);
            }
            if !orders.contains(&(name, category, order)) {
                orders.push((name, category, order));
            }
        }
    }
    let mut columns = vec![
        (
            "lot_code",
            text(everyone.iter().map(|e| e.2.lot.to_string()).collect()),
        ),
        (
            "cohort_code",
            text(everyone.iter().map(|e| e.2.cohort.to_string()).collect()),
        ),
        (
            "place",
            numbers(everyone.iter().map(|e| place(&e.0.0, e.0.1)).collect()),
        ),
    ];
    for name in &names {
        let categories: Vec<Option<&str>> = everyone
            .iter()
            .map(|e| e.2.traits.iter().find(|t| t.0 == *name).map(|t| t.2))
            .collect();
        columns.push((name, Arc::new(StringArray::from(categories)) as ArrayRef));
    }
    let categories = RecordBatch::try_from_iter(columns).unwrap();
    let values = RecordBatch::try_from_iter(vec![
        (
            "characteristic",
            text(orders.iter().map(|o| o.0.to_string()).collect()),
        ),
        (
            "category",
            text(orders.iter().map(|o| o.1.to_string()).collect()),
        ),
        (
            "category_order",
            numbers(orders.iter().map(|o| o.2).collect()),
        ),
    ])
    .unwrap();
    let mut action_places = Vec::new();
    let mut completed = arrow::array::ListBuilder::new(arrow::array::StringBuilder::new());
    for (at, _, r) in &everyone {
        let actions: Vec<&(&str, i64, &str)> = r
            .traits
            .iter()
            .filter(|t| t.0.starts_with("completed_action."))
            .collect();
        if actions.is_empty() {
            continue;
        }
        action_places.push(place(&at.0, at.1));
        for (name, _, category) in actions {
            if *category == "Yes" {
                completed
                    .values()
                    .append_value(name.trim_start_matches("completed_action."));
            }
        }
        completed.append(true);
    }
    let actions = RecordBatch::try_from_iter(vec![
        ("place", numbers(action_places)),
        ("completed", Arc::new(completed.finish()) as ArrayRef),
    ])
    .unwrap();
    for (name, batch) in [
        ("participant_outcomes", outcomes),
        ("participant_categories", categories),
        ("participant_actions", actions),
        ("reference/characteristic_values", values),
    ] {
        write_table(&layout, name, &batch);
    }
    layout
}

fn write_table(layout: &RunLayout, name: &str, batch: &RecordBatch) {
    let path = layout.table(name, "parquet");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

const POPULATION: &str = r#"
id = "job"
title = "Job outcome"
table = "A-99"
outcome = "is_job_start"

[[population]]
label = "out-of-work cohorts"
cohorts = ["HTH", "RP"]

[[exclude]]
label = "excluding Lot 5"
lots = ["L5"]

[[exclude]]
label = "excluding Colleges"
characteristic = "provider_group"
categories = ["Colleges"]
"#;

fn spec(covariates: &str) -> ModelSpec {
    let text = format!("{POPULATION}\n{covariates}");
    ModelSpec::parse(Path::new("models/job.toml"), &text, &study()).unwrap()
}

const AGE: &str = r#"
[[covariate]]
name = "age"
label = "Age"
characteristic = "age_band"
reference = "middle"
"#;

const COHORT_AND_AGE: &str = r#"
[[covariate]]
name = "cohort"
characteristic = "cohort"
reference = "Hardest to Help"

[[covariate]]
name = "age"
label = "Age"
characteristic = "age_band"
reference = "middle"
"#;

fn run_models(rows: &[P], specs: &[ModelSpec]) -> (tempfile::TempDir, RunLayout, Vec<ModelRun>) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = write_run(&tmp.path().join("run"), rows);
    let runs = run(&layout, specs, &ModelsOptions::default()).unwrap();
    (tmp, layout, runs)
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn n_after_each_step_and_the_dummies_by_hand() {
    let (_tmp, layout, runs) = run_models(&worked_example(), &[spec(COHORT_AND_AGE)]);
    let m = &runs[0];
    let steps: Vec<(StepKind, usize)> = m.steps.iter().map(|s| (s.kind, s.n)).collect();
    assert_eq!(
        steps,
        [
            (StepKind::Population, 52),
            (StepKind::Exclusion, 46),
            (StepKind::Exclusion, 41),
            (StepKind::CompleteCases, 37),
        ]
    );
    assert_eq!(m.events, 19);
    let fitted = m.result.as_ref().unwrap();
    assert_eq!((fitted.fit.n, fitted.fit.events), (37, 19));
    // Dummies in category order, the reference left out; Employed progression (not in the
    // population) and "oldest" (only among the excluded Colleges) are not levels.
    let names: Vec<&str> = fitted
        .fit
        .coefficients
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "const",
            "cohort[Rapid Progression]",
            "age[young]",
            "age[older]"
        ]
    );
    assert_eq!(fitted.factors[1].levels, ["young", "middle", "older"]);
    assert_eq!(fitted.factors[1].reference_level(), "middle");

    let steps_csv = read(output_dir(&layout).join("job/steps.csv"));
    assert_eq!(
        steps_csv,
        "model_id,step,kind,label,n,removed\n\
         job,1,population,out-of-work cohorts,52,\n\
         job,2,exclusion,excluding Lot 5,46,6\n\
         job,3,exclusion,excluding Colleges,41,5\n\
         job,4,complete cases,complete cases: the outcome and all 2 covariates recorded \
         (listwise deletion),37,4\n"
    );
    let coefficients = read(output_dir(&layout).join("job/coefficients.csv"));
    let kinds: Vec<&str> = coefficients
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    // The binary cohort needs no joint test; age (two dummies) gets one before its levels.
    assert_eq!(kinds, ["constant", "level", "factor", "level", "level"]);
}

/// With one factor the model is saturated: each level's fitted odds are its observed odds, so
/// B = log(odds ratio against the reference) and SE² = the sum of 1/count of the two levels'
/// four cells.
#[test]
fn one_factor_model_reproduces_the_observed_odds_ratios() {
    let (_tmp, _layout, runs) = run_models(&worked_example(), &[spec(AGE)]);
    let fitted = runs[0].result.as_ref().unwrap();
    let c = &fitted.fit.coefficients;
    let close = |got: f64, want: f64| assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    // Reference "middle": 5 jobs, 10 without.
    close(c[0].b, (5.0_f64 / 10.0).ln());
    close(c[0].se, (1.0 / 5.0 + 1.0 / 10.0_f64).sqrt());
    // young 6 / 4: odds 1.5, ratio 3.
    assert_eq!(c[1].name, "age[young]");
    close(c[1].odds_ratio, 3.0);
    close(
        c[1].se,
        (1.0 / 6.0 + 1.0 / 4.0 + 1.0 / 5.0 + 1.0 / 10.0_f64).sqrt(),
    );
    // older 8 / 4: odds 2, ratio 4.
    assert_eq!(c[2].name, "age[older]");
    close(c[2].odds_ratio, 4.0);
    close(
        c[2].se,
        (1.0 / 8.0 + 1.0 / 4.0 + 1.0 / 5.0 + 1.0 / 10.0_f64).sqrt(),
    );

    let rows = fitted.rows();
    let age = rows.iter().find(|r| r.kind == RowKind::Factor).unwrap();
    assert_eq!((age.term.as_str(), age.df), ("age", 2));
    assert_eq!(age.reference_level.as_deref(), Some("middle"));
    // Saturated: the LR test and the joint Wald test test the same hypothesis.
    assert!(
        (age.wald - fitted.fit.lr_chi2).abs() < 1.0,
        "{} vs {}",
        age.wald,
        fitted.fit.lr_chi2
    );
}

#[test]
fn the_reference_level_changes_the_coding_not_the_fit() {
    let older = AGE.replace("reference = \"middle\"", "reference = \"older\"");
    let (_tmp, _layout, runs) = run_models(&worked_example(), &[spec(AGE), spec(&older)]);
    let a = runs[0].result.as_ref().unwrap();
    let b = runs[1].result.as_ref().unwrap();
    let names: Vec<&str> = b.fit.coefficients.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["const", "age[young]", "age[middle]"]);
    // middle vs older is the inverse of older vs middle.
    assert!((b.fit.coefficients[2].odds_ratio - 0.25).abs() < 1e-9);
    assert!((a.fit.log_likelihood - b.fit.log_likelihood).abs() < 1e-9);
}

#[test]
fn a_missing_reference_level_is_reported_with_the_levels() {
    let bad = AGE.replace("reference = \"middle\"", "reference = \"25-34\"");
    let (_tmp, layout, runs) = run_models(&worked_example(), &[spec(&bad)]);
    let err = runs[0].result.as_ref().unwrap_err();
    assert!(matches!(err, Error::MissingReference { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("`25-34`") && text.contains("`young`, `middle`, `older`"),
        "{text}"
    );
    // The steps are still known and written; the summary carries the message, no numbers.
    assert_eq!(runs[0].n(), 37);
    let summary = read(output_dir(&layout).join("job/summary.csv"));
    assert!(
        summary.contains(NOT_FITTED) && summary.contains("25-34"),
        "{summary}"
    );
}

/// A level present in the population that listwise deletion empties: two "veteran"
/// participants without a cohort row.
#[test]
fn a_level_emptied_by_listwise_deletion_is_reported() {
    let mut rows = worked_example();
    let mut veterans = people(2, 1, "L1", "HTH", Some("Partnership"), Some((4, "veteran")));
    for v in &mut veterans {
        v.traits.retain(|t| t.0 != "cohort");
    }
    rows.extend(veterans);
    let (_tmp, layout, runs) = run_models(&rows, &[spec(COHORT_AND_AGE)]);
    let err = runs[0].result.as_ref().unwrap_err();
    assert!(
        matches!(err, Error::EmptyLevel { covariate, level, reference: false }
            if covariate == "age" && level == "veteran"),
        "{err:?}"
    );
    assert_eq!(runs[0].steps[2].n, 43);
    assert_eq!(runs[0].n(), 37);
    // No coefficients: the table has its header only.
    let coefficients = read(output_dir(&layout).join("job/coefficients.csv"));
    assert_eq!(coefficients.lines().count(), 1, "{coefficients}");
    let summary = read(output_dir(&layout).join("job/summary.csv"));
    assert!(summary.contains("veteran"), "{summary}");
    assert!(
        summary.trim_end().ends_with(",37,19,,,,,,,,,,,false"),
        "{summary}"
    );
}

/// Every "older" participant found a job: their odds are infinite, which must be reported as
/// separation naming the dummy, never as a huge odds ratio.
#[test]
fn separation_is_reported_naming_the_level() {
    let mut rows = worked_example();
    for r in rows.iter_mut() {
        if r.traits.iter().any(|t| t.2 == "older") {
            r.job = true;
        }
    }
    let (_tmp, layout, runs) = run_models(&rows, &[spec(COHORT_AND_AGE)]);
    let err = runs[0].result.as_ref().unwrap_err();
    assert!(
        matches!(err, Error::Separation { column, .. } if column == "age[older]"),
        "{err:?}"
    );
    let summary = read(output_dir(&layout).join("job/summary.csv"));
    assert!(
        summary.contains("separation") && summary.contains("age[older]"),
        "{summary}"
    );
}

/// A second characteristic that is the cohort under another name: the information matrix is
/// singular, and the message names both.
#[test]
fn collinear_covariates_are_reported_as_singular() {
    let mut rows = worked_example();
    for r in rows.iter_mut() {
        let team = if r.cohort == "RP" {
            (2, "Team B")
        } else {
            (1, "Team A")
        };
        r.traits.push(("team", team.0, team.1));
    }
    let team = r#"
[[covariate]]
name = "team"
characteristic = "team"
reference = "Team A"
"#;
    let (_tmp, _layout, runs) = run_models(&rows, &[spec(&format!("{COHORT_AND_AGE}{team}"))]);
    let err = runs[0].result.as_ref().unwrap_err();
    match err {
        Error::Singular {
            column,
            collinear_with,
        } => {
            assert_eq!(column, "team[Team B]");
            assert_eq!(collinear_with, &["cohort[Rapid Progression]".to_string()]);
        }
        other => panic!("expected Singular, got {other:?}"),
    }
}

/// A spec whose outcome is not a true/false column stops the stage, naming file and field.
#[test]
fn an_outcome_that_is_not_a_flag_is_a_spec_error() {
    let mut s = spec(AGE);
    s.outcome = "job_start_date".into();
    let tmp = tempfile::tempdir().unwrap();
    let layout = write_run(&tmp.path().join("run"), &worked_example());
    let err = run(&layout, &[s], &ModelsOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("models/job.toml: outcome:") && text.contains("`job_start_date`"),
        "{text}"
    );
}

#[test]
fn a_run_without_the_characteristics_table_says_so() {
    for table in ["participant_categories", "reference/characteristic_values"] {
        let tmp = tempfile::tempdir().unwrap();
        let layout = write_run(&tmp.path().join("run"), &worked_example());
        std::fs::remove_file(layout.table(table, "parquet")).unwrap();
        let err = run(&layout, &[spec(AGE)], &ModelsOptions::default()).unwrap_err();
        match err {
            Error::MissingInput { path } => assert!(path.ends_with(format!("{table}.parquet"))),
            other => panic!("{table}: {other:?}"),
        }
    }
}

#[test]
fn outputs_are_byte_identical_across_runs() {
    let specs = [spec(COHORT_AND_AGE)];
    let (_a, first, _) = run_models(&worked_example(), &specs);
    let (_b, second, _) = run_models(&worked_example(), &specs);
    for name in ["coefficients", "summary", "steps"] {
        for ext in ["parquet", "csv"] {
            let file = format!("job/{name}.{ext}");
            assert_eq!(
                std::fs::read(output_dir(&first).join(&file)).unwrap(),
                std::fs::read(output_dir(&second).join(&file)).unwrap(),
                "{file}"
            );
        }
    }
}

/// The model's output files.
fn outputs(layout: &RunLayout) -> Vec<(String, Vec<u8>)> {
    ["coefficients", "summary", "steps"]
        .iter()
        .flat_map(|name| ["parquet", "csv"].map(|ext| format!("job/{name}.{ext}")))
        .map(|file| {
            let bytes = std::fs::read(output_dir(layout).join(&file)).unwrap();
            (file, bytes)
        })
        .collect()
}

/// The pass merges three tables read a batch at a time: where a batch ends (mid-participant,
/// mid-file) must not change a count.
#[test]
fn the_sample_does_not_depend_on_where_batches_end() {
    let specs = [spec(COHORT_AND_AGE)];
    let (_tmp, layout, whole) = run_models(&worked_example(), &specs);
    let expected = outputs(&layout);
    for batch_rows in [1, 2, 3, 7] {
        let options = ModelsOptions {
            batch_rows,
            ..Default::default()
        };
        let runs = run(&layout, &specs, &options).unwrap();
        assert_eq!(runs[0].steps, whole[0].steps, "batches of {batch_rows}");
        assert!(outputs(&layout) == expected, "batches of {batch_rows}");
    }
}

/// Characteristic rows of nobody in `participant_outcomes` (before, between and after the
/// participants' files) count towards no model: the N and the fit are the worked example's.
#[test]
fn characteristics_of_nobody_in_the_outcomes_are_not_counted() {
    let specs = [spec(COHORT_AND_AGE)];
    let (_a, plain, plain_runs) = run_models(&worked_example(), &specs);
    let orphans = people(9, 9, "L1", "HTH", Some("Partnership"), Some(OLDER));
    let tmp = tempfile::tempdir().unwrap();
    let layout = write_run_with(&tmp.path().join("run"), &worked_example(), &orphans);
    let runs = run(&layout, &specs, &ModelsOptions::default()).unwrap();
    assert_eq!(runs[0].steps, plain_runs[0].steps);
    assert!(outputs(&layout) == outputs(&plain));
}

/// The pass relies on the transform's order; tables in another order (written by hand, or by
/// an older transform) are refused by name rather than counted wrong.
#[test]
fn tables_out_of_extract_order_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = write_run(&tmp.path().join("run"), &worked_example());
    let path = layout.table("participant_categories", "parquet");
    let file = std::fs::File::open(&path).unwrap();
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let reversed = arrow::compute::take_record_batch(
        &batch,
        &arrow::array::UInt32Array::from_iter_values((0..batch.num_rows() as u32).rev()),
    )
    .unwrap();
    write_table(&layout, "participant_categories", &reversed);
    let err = run(&layout, &[spec(AGE)], &ModelsOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("participant_categories.parquet") && text.contains("extract order"),
        "{text}"
    );
}

// Thin extracts against bad specs: a model the extract's data cannot support says so, and does
// not send the analyst to the spec; a spec naming something the study cannot hold still does.

fn summary_of(layout: &RunLayout) -> String {
    read(output_dir(layout).join("job/summary.csv"))
}

/// The worked example without anybody at the reference level: "Hardest to Help" is a cohort of
/// the study, so the extract is thin, not the spec wrong; a misspelt reference is the spec's.
#[test]
fn a_reference_level_this_extract_lacks_is_thin_data_but_a_misspelt_one_is_the_spec() {
    let rows: Vec<P> = worked_example()
        .into_iter()
        .filter(|p| p.cohort != "HTH")
        .collect();
    let (_tmp, layout, runs) = run_models(&rows, &[spec(COHORT_AND_AGE)]);
    let err = runs[0].result.as_ref().unwrap_err();
    assert!(
        matches!(err, Error::AbsentReference { reference, present, .. }
            if reference == "Hardest to Help" && present == &["Rapid Progression".to_string()]),
        "{err:?}"
    );
    assert!(err.is_data_problem());
    let text = err.to_string();
    assert!(text.contains("in this extract"), "{text}");
    assert!(
        !text.contains("spec"),
        "thin data blamed on the spec: {text}"
    );
    let summary = summary_of(&layout);
    assert!(summary.contains(",data,"), "{summary}");

    let typo = COHORT_AND_AGE.replace("\"Hardest to Help\"", "\"Hardest to Hlep\"");
    let (_tmp, layout, runs) = run_models(&worked_example(), &[spec(&typo)]);
    let err = runs[0].result.as_ref().unwrap_err();
    assert!(matches!(err, Error::MissingReference { .. }), "{err:?}");
    assert!(!err.is_data_problem());
    let text = err.to_string();
    assert!(
        text.contains("`Hardest to Hlep`")
            && text.contains("`Hardest to Help`, `Rapid Progression`")
            && text.contains("correct `reference` in the spec"),
        "{text}"
    );
    assert!(summary_of(&layout).contains(",specification,"));
}

/// Three complete cases for four parameters (the constant, Rapid Progression, young, older):
/// said with both numbers, before any level is found empty.
#[test]
fn too_few_complete_cases_for_the_parameters_is_said_with_both_numbers() {
    let mut rows = people(1, 1, "L1", "HTH", Some("Partnership"), Some(YOUNG));
    rows.extend(people(1, 0, "L1", "RP", Some("Partnership"), Some(MIDDLE)));
    rows.extend(people(1, 1, "L2", "HTH", Some("Small"), Some(OLDER)));
    let (_tmp, layout, runs) = run_models(&rows, &[spec(COHORT_AND_AGE)]);
    let err = runs[0].result.as_ref().unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooFewCases {
                n: 3,
                parameters: 4
            }
        ),
        "{err:?}"
    );
    assert!(err.is_data_problem());
    let text = err.to_string();
    assert!(
        text.contains("only 3 complete cases for 4 parameters in this extract"),
        "{text}"
    );
    assert!(!text.contains("spec"), "{text}");
    // The report's words carry no count: the summary's n does, under disclosure control.
    let reason = err.reason(&|name| name.to_string()).unwrap();
    assert!(!reason.chars().any(|c| c.is_ascii_digit()), "{reason}");
    let summary = summary_of(&layout);
    assert!(summary.contains("too few participants"), "{summary}");
}

/// Nobody found a job: no events, said as such.
#[test]
fn no_events_is_said_as_thin_data() {
    let mut rows = worked_example();
    for r in &mut rows {
        r.job = false;
    }
    let (_tmp, _layout, runs) = run_models(&rows, &[spec(COHORT_AND_AGE)]);
    let err = runs[0].result.as_ref().unwrap_err();
    assert!(
        matches!(err, Error::OneOutcomeOnly { events: 0, n: 37 }),
        "{err:?}"
    );
    assert!(err.is_data_problem());
    assert!(
        err.to_string()
            .contains("none of the 37 complete cases in this data has the outcome (no events)"),
        "{err}"
    );
}

/// Everyone in Lot 5: the exclusion empties the sample, and the message names that step
/// instead of a reference level missing from every covariate.
#[test]
fn an_extract_the_steps_leave_nobody_of_names_the_step() {
    let rows = people(12, 5, "L5", "RP", Some("Small"), Some(YOUNG));
    let (_tmp, _layout, runs) = run_models(&rows, &[spec(COHORT_AND_AGE)]);
    let err = runs[0].result.as_ref().unwrap_err();
    assert!(
        matches!(err, Error::EmptySample { step } if step == "excluding Lot 5"),
        "{err:?}"
    );
    assert!(err.is_data_problem() && !err.to_string().contains("spec"));
    assert_eq!(runs[0].steps[1].n, 0);
}

/// `health` is a characteristic of the study that nobody in this extract has recorded: thin
/// data. `healthh` is none of the study's: the spec's mistake.
#[test]
fn a_covariate_nobody_has_recorded_is_thin_data_but_an_unknown_one_is_the_spec() {
    let health = r#"
[[covariate]]
name = "health"
characteristic = "health"
reference = "Health condition"
"#;
    let (_tmp, _layout, runs) = run_models(
        &worked_example(),
        &[spec(&format!("{COHORT_AND_AGE}{health}"))],
    );
    let err = runs[0].result.as_ref().unwrap_err();
    assert!(matches!(err, Error::NoData { .. }), "{err:?}");
    assert!(err.is_data_problem());
    assert!(
        err.to_string()
            .contains("no participant in this extract has `health` recorded"),
        "{err}"
    );

    let typo = health.replace(
        "characteristic = \"health\"",
        "characteristic = \"healthh\"",
    );
    let (_tmp, _layout, runs) = run_models(
        &worked_example(),
        &[spec(&format!("{COHORT_AND_AGE}{typo}"))],
    );
    let err = runs[0].result.as_ref().unwrap_err();
    assert!(matches!(err, Error::NoCategories { .. }), "{err:?}");
    assert!(!err.is_data_problem());
    assert!(
        err.to_string().contains("check the name in the spec"),
        "{err}"
    );
}

/// An exclusion of the study's Colleges group in an extract without Colleges participants is a
/// note about the extract; a category the study does not have is a note about the spec.
#[test]
fn a_step_selecting_nobody_is_noted_as_the_extract_or_the_spec() {
    let rows: Vec<P> = worked_example()
        .into_iter()
        .filter(|p| !p.traits.iter().any(|t| t.2 == "Colleges"))
        .collect();
    let (_tmp, _layout, runs) = run_models(&rows, &[spec(AGE)]);
    assert_eq!(
        runs[0].notes,
        [
            "step `excluding Colleges`: no participant in this extract has `Colleges` for \
          `provider_group`, so the step selects nobody by it"
        ]
    );
    assert!(runs[0].result.is_ok());

    let typo = spec(AGE);
    let text = format!("{POPULATION}\n{AGE}").replace("[\"Colleges\"]", "[\"Colleeges\"]");
    let typo = ModelSpec::parse(&typo.path, &text, &study()).unwrap();
    let (_tmp, _layout, runs) = run_models(&worked_example(), &[typo]);
    assert_eq!(runs[0].notes.len(), 1);
    assert!(
        runs[0].notes[0].contains("`Colleeges` is not a category")
            && runs[0].notes[0].contains("correct `categories` in the spec"),
        "{:?}",
        runs[0].notes
    );
}

/// The completed actions come as one list per participant: `completed_action.coaching` is Yes
/// for a participant whose list holds `coaching`, No for one whose list does not (an empty list
/// too: they recorded only noes), and no data for one without a list. With one factor the model
/// is saturated, so the odds ratio is the observed one.
/// Coached or not, with 5 participants who have no completed action recorded (no list).
fn coaching_rows() -> Vec<P> {
    let with = |rows: Vec<P>, actions: &[(&'static str, &'static str)]| -> Vec<P> {
        rows.into_iter()
            .map(|mut p| {
                for &(action, category) in actions {
                    let order = if category == "Yes" { 1 } else { 2 };
                    p.traits.push((action, order, category));
                }
                p
            })
            .collect()
    };
    let (coaching, cv) = ("completed_action.coaching", "completed_action.cv");
    let mut rows = Vec::new();
    // Coached: 6 jobs of 8 (odds 3), with another action in the list.
    rows.extend(with(
        people(8, 6, "L1", "HTH", Some("Partnership"), Some(MIDDLE)),
        &[(coaching, "Yes"), (cv, "Yes")],
    ));
    // Not coached: 4 jobs of 12 (odds 0.5); 7 with another action, 5 with an empty list.
    rows.extend(with(
        people(7, 2, "L1", "RP", Some("Partnership"), Some(OLDER)),
        &[(coaching, "No"), (cv, "Yes")],
    ));
    rows.extend(with(
        people(5, 2, "L2", "HTH", Some("Small"), Some(YOUNG)),
        &[(coaching, "No")],
    ));
    // No completed action recorded: no list. All 5 found a job.
    rows.extend(people(5, 5, "L2", "RP", Some("Small"), Some(YOUNG)));
    rows
}

const COACHING: &str = r#"
[[covariate]]
name = "coaching"
characteristic = "completed_action.coaching"
reference = "No"
"#;

/// Writes the reference table of decisions with `blank_completed_action` chosen as `choice`.
fn decide_blank_actions(layout: &RunLayout, choice: &str) {
    let decisions = RecordBatch::try_from_iter(vec![
        (
            "decision",
            Arc::new(StringArray::from(vec![
                "claims_date",
                "blank_completed_action",
            ])) as ArrayRef,
        ),
        (
            "choice",
            Arc::new(StringArray::from(vec!["submitted", choice])) as ArrayRef,
        ),
    ])
    .unwrap();
    write_table(layout, "reference/decisions", &decisions);
}

#[test]
fn an_action_is_yes_in_the_participants_list_no_outside_it_and_missing_without_one() {
    // Decision `blank_completed_action` = `missing` (the study's choice, and what a study
    // without the decision gets): the 5 without a list have no data and leave the sample.
    assert_eq!(
        study().decision("blank_completed_action").unwrap().choice,
        "missing"
    );
    let tmp = tempfile::tempdir().unwrap();
    let layout = write_run(&tmp.path().join("run"), &coaching_rows());
    for decided in [false, true] {
        if decided {
            decide_blank_actions(&layout, "missing");
        }
        let runs = run(&layout, &[spec(COACHING)], &ModelsOptions::default()).unwrap();
        let m = &runs[0];
        let steps: Vec<usize> = m.steps.iter().map(|s| s.n).collect();
        assert_eq!(steps, [25, 25, 25, 20]);
        assert_eq!(m.events, 10);
        let fitted = m.result.as_ref().unwrap();
        assert_eq!(fitted.factors[0].levels, ["Yes", "No"]);
        let c = &fitted.fit.coefficients;
        assert_eq!(c[1].name, "coaching[Yes]");
        // Odds 3 against 0.5.
        assert!((c[1].odds_ratio - 6.0).abs() < 1e-9, "{}", c[1].odds_ratio);
        assert!((c[0].b - 0.5_f64.ln()).abs() < 1e-9, "{}", c[0].b);
    }
}

#[test]
fn with_the_decision_no_a_blank_completed_action_is_no_to_every_action() {
    // `no`: the 5 without a list are not coached, so all 25 are complete cases; the not
    // coached found 4 + 5 = 9 jobs of 17 (odds 9/8) and the coached 6 of 8 (odds 3): the odds
    // ratio is 3 / (9/8) = 8/3.
    let tmp = tempfile::tempdir().unwrap();
    let layout = write_run(&tmp.path().join("run"), &coaching_rows());
    decide_blank_actions(&layout, "no");
    let runs = run(&layout, &[spec(COACHING)], &ModelsOptions::default()).unwrap();
    let m = &runs[0];
    let steps: Vec<usize> = m.steps.iter().map(|s| s.n).collect();
    assert_eq!(steps, [25, 25, 25, 25]);
    assert_eq!(m.events, 15);
    let c = &m.result.as_ref().unwrap().fit.coefficients;
    assert!(
        (c[1].odds_ratio - 8.0 / 3.0).abs() < 1e-9,
        "{}",
        c[1].odds_ratio
    );
    assert!((c[0].b - (9.0_f64 / 8.0).ln()).abs() < 1e-9, "{}", c[0].b);

    // A choice the models do not know is an error naming the table and the decision.
    decide_blank_actions(&layout, "unknown");
    let e = run(&layout, &[spec(COACHING)], &ModelsOptions::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("decisions.parquet") && text.contains("blank_completed_action"),
        "{text}"
    );
}
