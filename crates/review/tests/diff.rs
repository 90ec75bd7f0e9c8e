//! `diff` on two hand-made runs with planted changes: one cell changed, one row added, one
//! removed, an N moved, one odds ratio crossing p = 0.05, and changes below the thresholds; and
//! in the Framework tables, interviews added and removed, a theme charted by more cases, themes
//! becoming and ceasing to be cross-cutting or divergent.

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

fn flags(v: &[bool]) -> ArrayRef {
    Arc::new(BooleanArray::from(v.to_vec()))
}

/// One version of the Framework stage's tables, as the stage writes them under
/// `tables/framework/` (only the columns the diff reads, and a value or two besides).
struct Framework<'a> {
    /// (case id, wave, lot).
    cases: &'a [(&'a str, i64, &'a str)],
    /// (code, level, breakdown, group, cases).
    theme_cases: &'a [(&'a str, &'a str, &'a str, &'a str, i64)],
    /// (code, lots present, cross-cutting, lots list).
    cross_cutting: &'a [(&'a str, i64, bool, &'a str)],
    /// (code, breakdown, group label, lean, divergent).
    divergence: &'a [(&'a str, &'a str, &'a str, &'a str, bool)],
    /// (wave, interviews).
    interviews: &'a [(&'a str, i64)],
    /// Rows of the staging table `framework_case_codes`, which is never compared.
    case_codes: i64,
}

fn label(code: &str) -> &'static str {
    match code {
        "COM" => "Commissioning and contract management",
        "COM.TIME" => "Commissioning timescale and co-design",
        "ENG" => "Engagement and outreach",
        _ => "Employer engagement",
    }
}

fn framework_run(dir: &Path, f: &Framework) {
    let t = |name: &str| format!("framework/{name}");
    let col = |v: Vec<&str>| text(&v);
    write_table(
        dir,
        &t("framework_cases"),
        vec![
            ("case_id", col(f.cases.iter().map(|c| c.0).collect())),
            (
                "wave",
                ints(&f.cases.iter().map(|c| c.1).collect::<Vec<_>>()),
            ),
            ("lot", col(f.cases.iter().map(|c| c.2).collect())),
        ],
    );
    let th = f.theme_cases;
    write_table(
        dir,
        &t("framework_theme_cases"),
        vec![
            ("code", col(th.iter().map(|r| r.0).collect())),
            ("level", col(th.iter().map(|r| r.1).collect())),
            ("label", col(th.iter().map(|r| label(r.0)).collect())),
            ("breakdown", col(th.iter().map(|r| r.2).collect())),
            ("group_code", col(th.iter().map(|r| r.3).collect())),
            ("cases", ints(&th.iter().map(|r| r.4).collect::<Vec<_>>())),
            ("base", ints(&vec![40; th.len()])),
        ],
    );
    let cc = f.cross_cutting;
    write_table(
        dir,
        &t("framework_cross_cutting"),
        vec![
            ("code", col(cc.iter().map(|r| r.0).collect())),
            ("label", col(cc.iter().map(|r| label(r.0)).collect())),
            (
                "lots_present",
                ints(&cc.iter().map(|r| r.1).collect::<Vec<_>>()),
            ),
            ("lots_total", ints(&vec![9; cc.len()])),
            ("min_lots", ints(&vec![6; cc.len()])),
            (
                "is_cross_cutting",
                flags(&cc.iter().map(|r| r.2).collect::<Vec<_>>()),
            ),
            ("lots_list", col(cc.iter().map(|r| r.3).collect())),
        ],
    );
    let dv = f.divergence;
    write_table(
        dir,
        &t("framework_divergence"),
        vec![
            ("code", col(dv.iter().map(|r| r.0).collect())),
            ("label", col(dv.iter().map(|r| label(r.0)).collect())),
            ("breakdown", col(dv.iter().map(|r| r.1).collect())),
            ("group_label", col(dv.iter().map(|r| r.2).collect())),
            ("lean", col(dv.iter().map(|r| r.3).collect())),
            (
                "divergent",
                flags(&dv.iter().map(|r| r.4).collect::<Vec<_>>()),
            ),
        ],
    );
    write_table(
        dir,
        &t("framework_interviews"),
        vec![
            ("wave", col(f.interviews.iter().map(|r| r.0).collect())),
            ("interview_type", col(vec!["all"; f.interviews.len()])),
            (
                "interviews",
                ints(&f.interviews.iter().map(|r| r.1).collect::<Vec<_>>()),
            ),
        ],
    );
    write_table(
        dir,
        &t("framework_case_codes"),
        vec![("rows", ints(&[f.case_codes]))],
    );
}

/// Two runs whose interviews changed: W2-PT01 dropped, W3-PT01 and W3-PT02 added, W1-PR01's lot
/// corrected; COM charted by one more case (3 → 4) and now cross-cutting, COM.TIME no longer
/// cross-cutting, EMP a new theme; COM divergent by interview type, no longer by wave.
fn framework_runs() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let (dir, a, b) = runs();
    framework_run(
        &a,
        &Framework {
            cases: &[
                ("W1-PR01", 1, "L1"),
                ("W1-PT01", 1, "L2"),
                ("W2-PR01", 2, "L3"),
                ("W2-PT01", 2, "L3"),
            ],
            theme_cases: &[
                ("COM", "theme", "all", "all", 3),
                ("COM", "theme", "interview_type", "provider", 2),
                ("COM.TIME", "subtheme", "all", "all", 2),
                ("COM.TIME", "subtheme", "interview_type", "provider", 1),
                ("ENG", "theme", "all", "all", 4),
            ],
            cross_cutting: &[
                ("COM", 5, false, "L1; L2; L3; L4; L5"),
                ("COM.TIME", 6, true, "L1; L2; L3; L4; L5; L6"),
                ("ENG", 7, true, "L1; L2; L3; L4; L5; L6; L7"),
            ],
            divergence: &[
                ("COM", "interview_type", "Providers", "facilitator", false),
                (
                    "COM",
                    "interview_type",
                    "Participants",
                    "facilitator",
                    false,
                ),
                ("COM", "wave", "Year 1", "barrier", true),
                ("COM", "wave", "Year 2", "facilitator", true),
            ],
            interviews: &[("1", 2), ("2", 2)],
            case_codes: 10,
        },
    );
    framework_run(
        &b,
        &Framework {
            cases: &[
                ("W1-PR01", 1, "L2"),
                ("W1-PT01", 1, "L2"),
                ("W2-PR01", 2, "L3"),
                ("W3-PT01", 3, "L6"),
                ("W3-PT02", 3, "L7"),
            ],
            theme_cases: &[
                ("COM", "theme", "all", "all", 4),
                ("COM", "theme", "interview_type", "provider", 3),
                ("COM.TIME", "subtheme", "all", "all", 2),
                // A change by interview type only: not a change in the theme's cases.
                ("COM.TIME", "subtheme", "interview_type", "provider", 2),
                ("ENG", "theme", "all", "all", 4),
                ("EMP", "theme", "all", "all", 1),
            ],
            cross_cutting: &[
                ("COM", 6, true, "L1; L2; L3; L4; L5; L6"),
                ("COM.TIME", 5, false, "L1; L2; L3; L4; L5"),
                ("ENG", 7, true, "L1; L2; L3; L4; L5; L6; L7"),
            ],
            divergence: &[
                ("COM", "interview_type", "Providers", "facilitator", true),
                ("COM", "interview_type", "Participants", "barrier", true),
                ("COM", "wave", "Year 1", "barrier", false),
                ("COM", "wave", "Year 2", "too few", false),
            ],
            interviews: &[("1", 2), ("2", 1), ("3", 2)],
            case_codes: 99,
        },
    );
    (dir, a, b)
}

/// A value in run A and in run B.
type Pair = (Option<f64>, Option<f64>);

#[test]
fn framework_coverage_changes_are_reported_exactly() {
    let (_dir, a, b) = framework_runs();
    let d = diff(&a, &b, None, &DiffOptions::default()).unwrap();
    // The two tables above and the five Framework tables; not the staging framework_case_codes.
    assert_eq!(d.tables_compared, 2 + 5);
    assert!(
        d.tables
            .iter()
            .all(|t| t.table != "framework/framework_case_codes")
    );
    let table = |name: &str| d.tables.iter().find(|t| t.table == name).unwrap();

    // Interviews are keyed by case id alone: a corrected lot is a changed cell, not a new row.
    let cases = table("framework/framework_cases");
    assert_eq!(cases.key_columns, ["case_id"]);
    assert_eq!(cases.added, ["case_id = W3-PT01", "case_id = W3-PT02"]);
    assert_eq!(cases.removed, ["case_id = W2-PT01"]);
    assert_eq!(cases.changed.len(), 1);
    let lot = &cases.changed[0];
    assert_eq!(
        (
            lot.key.as_str(),
            lot.column.as_str(),
            lot.old.as_deref(),
            lot.new.as_deref()
        ),
        ("case_id = W1-PR01", "lot", Some("L1"), Some("L2"))
    );
    // A theme's list of lots and a group's lean are values, not labels.
    let cross = table("framework/framework_cross_cutting");
    assert_eq!(cross.key_columns, ["code", "label"]);
    assert!(cross.added.is_empty() && cross.removed.is_empty());
    assert_eq!(
        cross
            .changed
            .iter()
            .filter(|c| c.column == "lots_list")
            .count(),
        2
    );
    let divergence = table("framework/framework_divergence");
    assert_eq!(
        divergence.key_columns,
        ["code", "label", "breakdown", "group_label"]
    );
    assert!(divergence.added.is_empty() && divergence.removed.is_empty());
    let interviews = table("framework/framework_interviews");
    assert_eq!(interviews.added, ["wave = 3, interview_type = all"]);

    let f = d
        .framework
        .as_ref()
        .expect("both runs have the Framework tables");
    assert_eq!(f.interviews, (4, 5));
    assert_eq!(f.interviews_added, ["W3-PT01", "W3-PT02"]);
    assert_eq!(f.interviews_removed, ["W2-PT01"]);
    let themes: Vec<(&str, Pair)> = f
        .theme_cases
        .iter()
        .map(|t| (t.code.as_str(), t.cases))
        .collect();
    assert_eq!(
        themes,
        [("COM", (Some(3.0), Some(4.0))), ("EMP", (None, Some(1.0)))]
    );
    let cross: Vec<(&str, bool, Pair)> = f
        .cross_cutting
        .iter()
        .map(|c| (c.code.as_str(), c.became, c.lots_present))
        .collect();
    assert_eq!(
        cross,
        [
            ("COM", true, (Some(5.0), Some(6.0))),
            ("COM.TIME", false, (Some(6.0), Some(5.0)))
        ]
    );
    let divergent: Vec<(&str, &str, bool, Vec<String>)> = f
        .divergent
        .iter()
        .map(|c| {
            (
                c.code.as_str(),
                c.breakdown.as_str(),
                c.became,
                c.leans.clone(),
            )
        })
        .collect();
    assert_eq!(
        divergent,
        [
            (
                "COM",
                "interview_type",
                true,
                vec![
                    "Providers: facilitator".to_string(),
                    "Participants: barrier".to_string()
                ]
            ),
            ("COM", "wave", false, vec!["Year 1: barrier".to_string()]),
        ]
    );

    let md = diff_text(&d, DiffStyle::Markdown);
    assert!(
        md.contains(
            "- Framework coverage: 4 → 5 interviews (2 added, 1 removed); cases changed for 2 \
             themes and sub-themes; 1 became and 1 stopped being cross-cutting; 1 became and 1 \
             stopped being divergent.\n"
        ),
        "{md}"
    );
    assert!(md.contains("### Framework coverage"), "{md}");
    assert!(
        md.contains("- interviews added: W3-PT01, W3-PT02\n"),
        "{md}"
    );
    assert!(md.contains("- interviews removed: W2-PT01\n"), "{md}");
    assert!(
        md.contains(
            "- cases of COM (theme, Commissioning and contract management): 3 → 4 (+1, +33.3%)\n"
        ),
        "{md}"
    );
    assert!(
        md.contains("- cases of EMP (theme, Employer engagement): ∅ → 1\n"),
        "{md}"
    );
    assert!(
        md.contains(
            "- COM.TIME (Commissioning timescale and co-design) stopped being cross-cutting: \
             lots 6 → 5 (cross-cutting from 6)\n"
        ),
        "{md}"
    );
    assert!(
        md.contains(
            "- COM (Commissioning and contract management) became divergent by interview_type: \
             Providers: facilitator; Participants: barrier\n"
        ),
        "{md}"
    );
    let json: serde_json::Value = serde_json::from_str(&diff_json(&d)).unwrap();
    assert_eq!(json["framework"]["interviews_added"][1], "W3-PT02");

    let same = diff(&a, &a, None, &DiffOptions::default()).unwrap();
    assert!(!same.framework.as_ref().unwrap().any());
    assert!(
        diff_text(&same, DiffStyle::Markdown)
            .contains("- Framework coverage: no change (4 interviews).\n")
    );
}

#[test]
fn framework_thresholds_hide_small_case_changes_never_flips_or_interviews() {
    let (_dir, a, b) = framework_runs();
    // COM's 3 → 4 is a 33% rise: hidden at 50%; EMP is new, so it has no relative change.
    let opts = DiffOptions {
        min_abs: 0.0,
        min_rel: 0.5,
    };
    let d = diff(&a, &b, None, &opts).unwrap();
    let f = d.framework.as_ref().unwrap();
    let themes: Vec<&str> = f.theme_cases.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(themes, ["EMP"]);
    assert_eq!(f.interviews_added.len(), 2);
    assert_eq!(f.cross_cutting.len(), 2);
    assert_eq!(f.divergent.len(), 2);
}

#[test]
fn framework_coverage_needs_the_framework_tables_in_both_runs() {
    let (_dir, a, b) = runs();
    let d = diff(&a, &b, None, &DiffOptions::default()).unwrap();
    assert!(d.framework.is_none());
    assert!(!diff_text(&d, DiffStyle::Markdown).contains("Framework coverage"));
    // A run with the stage beside one without: its tables are only in that run.
    framework_run(
        &b,
        &Framework {
            cases: &[("W1-PR01", 1, "L1")],
            theme_cases: &[("COM", "theme", "all", "all", 1)],
            cross_cutting: &[("COM", 1, false, "L1")],
            divergence: &[("COM", "wave", "Year 1", "too few", false)],
            interviews: &[("1", 1)],
            case_codes: 1,
        },
    );
    let d = diff(&a, &b, None, &DiffOptions::default()).unwrap();
    assert!(d.framework.is_none());
    let only_b: Vec<&str> = d
        .tables
        .iter()
        .filter(|t| t.only_in.as_deref() == Some("b"))
        .map(|t| t.table.as_str())
        .collect();
    assert_eq!(
        only_b,
        [
            "framework/framework_cases",
            "framework/framework_cross_cutting",
            "framework/framework_divergence",
            "framework/framework_interviews",
            "framework/framework_theme_cases"
        ]
    );
}
