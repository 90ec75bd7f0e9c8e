//! `diff` on two hand-made runs with planted changes: one cell changed, one row added, one
//! removed, an N moved, one odds ratio crossing p = 0.05, and changes below the thresholds.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use evalpipe_review::{DiffOptions, DiffStyle, diff, diff_html, diff_json, diff_text};
use parquet::arrow::ArrowWriter;

fn write_table(run: &Path, name: &str, columns: Vec<(&str, ArrayRef)>) {
    let path = run.join("tables").join(format!("{name}.parquet"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn text(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

fn ints(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

fn floats(v: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

/// A run: the catalogue, one output table, one staging table (never compared) and a model.
fn run(dir: &Path, lots: &[(&str, i64, f64)], n: i64, p_rp: f64, staging_rows: i64) {
    write_table(
        dir,
        "catalog",
        vec![
            (
                "table",
                text(&["participant_characteristics", "participants_by_lot"]),
            ),
            ("kind", text(&["staging", "output"])),
        ],
    );
    write_table(
        dir,
        "participant_characteristics",
        vec![("rows", ints(&[staging_rows]))],
    );
    write_table(
        dir,
        "participants_by_lot",
        vec![
            (
                "category",
                text(&lots.iter().map(|l| l.0).collect::<Vec<_>>()),
            ),
            (
                "participants",
                ints(&lots.iter().map(|l| l.1).collect::<Vec<_>>()),
            ),
            ("pct", floats(&lots.iter().map(|l| l.2).collect::<Vec<_>>())),
            ("n", ints(&vec![n; lots.len()])),
            (
                "is_large",
                Arc::new(BooleanArray::from(
                    lots.iter().map(|l| l.1 > 100).collect::<Vec<_>>(),
                )),
            ),
        ],
    );
    write_table(
        dir,
        "models/job_outcome/coefficients",
        vec![
            ("model_id", text(&["job_outcome", "job_outcome"])),
            ("factor", text(&["cohort", "health"])),
            ("level", text(&["Rapid Progression", "No health condition"])),
            ("odds_ratio", floats(&[1.8, 1.4])),
            ("p", floats(&[p_rp, 0.01])),
        ],
    );
}

fn runs() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // B: Shard End 933 → 950, Glascote added, Camp Hill removed, Washwood Heath's pct moves by
    // a hair, N 2213 → 2230, the Rapid Progression odds ratio loses significance.
    run(
        &a,
        &[
            ("Washwood Heath", 1050, 0.474469),
            ("Shard End", 933, 0.421600),
            ("Camp Hill", 230, 0.103931),
        ],
        2213,
        0.001,
        10,
    );
    run(
        &b,
        &[
            ("Washwood Heath", 1050, 0.474470),
            ("Shard End", 950, 0.425996),
            ("Glascote", 230, 0.103139),
        ],
        2230,
        0.20,
        99,
    );
    (dir, a, b)
}

#[test]
fn planted_changes_are_all_reported_by_key() {
    let (_dir, a, b) = runs();
    let d = diff(&a, &b, None, &DiffOptions::default()).unwrap();
    assert!(d.any());
    // The staging table changed too, but only output and model tables are compared.
    assert_eq!(d.tables_compared, 2);
    let lots = d
        .tables
        .iter()
        .find(|t| t.table == "participants_by_lot")
        .unwrap();
    assert_eq!(
        lots.key_columns,
        ["category"],
        "numbers and flags are values, not keys"
    );
    assert_eq!(lots.added, ["category = Glascote"]);
    assert_eq!(lots.removed, ["category = Camp Hill"]);
    let cell = |key: &str, column: &str| {
        lots.changed
            .iter()
            .find(|c| c.key == key && c.column == column)
            .unwrap_or_else(|| panic!("no change of {key}.{column}: {:?}", lots.changed))
    };
    let shard = cell("category = Shard End", "participants");
    assert_eq!(
        (shard.old.as_deref(), shard.new.as_deref()),
        (Some("933"), Some("950"))
    );
    assert_eq!(shard.abs, Some(17.0));
    assert!((shard.rel.unwrap() - 17.0 / 933.0).abs() < 1e-12);
    assert!(cell("category = Washwood Heath", "pct").abs.unwrap() > 0.0);
    // N changed on both common rows.
    assert_eq!(d.n_changes.len(), 2);
    assert_eq!(d.n_changes[0].1.old.as_deref(), Some("2213"));

    assert_eq!(d.significance_flips.len(), 1);
    let flip = &d.significance_flips[0];
    assert_eq!(flip.model, "job_outcome");
    assert!(
        flip.term.contains("level = Rapid Progression"),
        "{}",
        flip.term
    );
    assert_eq!(flip.p, (Some(0.001), Some(0.20)));

    let md = diff_text(&d, DiffStyle::Markdown);
    assert!(md.contains("## Summary"));
    assert!(md.contains("- + row category = Glascote"), "{md}");
    assert!(
        md.contains("| category = Shard End | participants | 933 → 950 (+17, +1.8%) |"),
        "{md}"
    );
    assert!(md.contains("significant → not significant"), "{md}");
    let plain = diff_text(&d, DiffStyle::Text { color: false });
    assert!(!plain.contains('\x1b'));
    let colored = diff_text(&d, DiffStyle::Text { color: true });
    assert!(colored.contains("\x1b[32m950\x1b[0m"));
    assert!(diff_html(&d).contains("<table>"));
    let json: serde_json::Value = serde_json::from_str(&diff_json(&d)).unwrap();
    assert_eq!(json["significance_flips"][0]["model"], "job_outcome");
}

#[test]
fn thresholds_hide_small_changes_but_never_rows_or_flips() {
    let (_dir, a, b) = runs();
    // Washwood Heath's pct moved by 1e-6; everything else by far more.
    let d = diff(
        &a,
        &b,
        None,
        &DiffOptions {
            min_abs: 0.0001,
            min_rel: 0.0,
        },
    )
    .unwrap();
    let lots = d
        .tables
        .iter()
        .find(|t| t.table == "participants_by_lot")
        .unwrap();
    assert!(
        lots.changed
            .iter()
            .all(|c| !(c.key.contains("Washwood") && c.column == "pct"))
    );
    assert_eq!(lots.hidden, 1);
    // A 2% relative threshold also hides Shard End's 1.8% rise, not the rows or the flip.
    let d = diff(
        &a,
        &b,
        None,
        &DiffOptions {
            min_abs: 0.0,
            min_rel: 0.02,
        },
    )
    .unwrap();
    let lots = d
        .tables
        .iter()
        .find(|t| t.table == "participants_by_lot")
        .unwrap();
    assert!(
        lots.changed
            .iter()
            .all(|c| !(c.key.contains("Shard") && c.column == "participants"))
    );
    assert_eq!(lots.added.len(), 1);
    assert_eq!(d.significance_flips.len(), 1);
    assert!(d.any());
}

#[test]
fn a_run_compared_with_itself_has_no_change() {
    let (_dir, a, _) = runs();
    let d = diff(&a, &a, None, &DiffOptions::default()).unwrap();
    assert!(!d.any());
    assert!(d.tables.is_empty());
    assert!(
        diff_text(&d, DiffStyle::Markdown).contains("No change beyond the thresholds in 2 tables.")
    );
}
