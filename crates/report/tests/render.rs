//! The report on real tables: the transform fixture run through the real queries, and the
//! published Table 2-1 counts, rendered with the real templates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use evalpipe_report::{Error, RenderOptions, lint_templates, render};
use evalpipe_study::{RunLayout, Study};
use evalpipe_transform::{TransformOptions, fixture};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn study() -> Study {
    Study::load(&workspace().join("pipeline")).expect("the study configuration loads")
}

fn templates() -> PathBuf {
    workspace().join("report-templates")
}

/// A run folder with the fixture ingested and transformed.
fn fixture_run() -> (tempfile::TempDir, RunLayout) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let layout = RunLayout::new(dir.path());
    let study = study();
    fixture::write(&study, &layout).expect("the fixture is written");
    evalpipe_transform::run_blocking(
        &study,
        &layout,
        &workspace().join("queries"),
        &TransformOptions::default(),
    )
    .expect("the queries run");
    (dir, layout)
}

fn render_fixture(synthetic: bool) -> (String, String) {
    let (_dir, layout) = fixture_run();
    // Ten participants: every count is under the disclosure threshold. These tests are about
    // formatting, so disclosure control is off; `small_counts_are_suppressed_in_the_report`
    // turns it on.
    let mut study = study();
    study.disclosure.min_count = 0;
    let written = render(&study, &layout, &templates(), &RenderOptions { synthetic })
        .expect("the report renders");
    assert_eq!(written.len(), 2);
    let md = std::fs::read_to_string(&written[0]).unwrap();
    let html = std::fs::read_to_string(&written[1]).unwrap();
    (md, html)
}

#[test]
fn fixture_numbers_appear_formatted_in_prose_and_table() {
    let (md, html) = render_fixture(true);
    // 11 registered (claims): "over 10"; 7 embedded of a target of 3,970 is under half a per
    // cent; 4 of 11 registrants (36%) did not embed.
    assert!(
        md.contains("Claims data shows that over 10 residents were engaged"),
        "{md}"
    );
    assert!(
        md.contains("Of these, 7 were embedded[^embedded] (<1% of the target)"),
        "{md}"
    );
    assert!(
        md.contains("36 per cent of registrants did not become embedded"),
        "{md}"
    );
    // HTH 4 of 10 is the largest group; the others follow by size.
    assert!(
        md.contains(
            "the Hardest to Help group, those out of work more than 2 years, was the largest, \
             making up 40 per cent of participants. The Rapid Progression group (out of work \
             less than one year) made up 30 per cent, the Harder to Reach group (out of work \
             1-2 years) 20 per cent and the Employed progression group (in work) 10 per cent \
             (Table 2-1)."
        ),
        "{md}"
    );
    // Table 2-1 in report order, with the total.
    let table = "| Harder to Reach (out of work 1-2 years) | 2 | 20 |\n\
                 | Hardest to Help (out of work more than 2 years) | 4 | 40 |\n\
                 | Rapid Progression (out of work less than one year) | 3 | 30 |\n\
                 | Employed progression (in work) | 1 | 10 |\n\
                 | **Total** | **10** | **100** |\n";
    assert!(md.contains(table), "{md}");
    assert!(
        md.contains("Management Information, June 2018 to January 2022"),
        "{md}"
    );
    // Figure 2-1: JS 4 of 1,060.
    assert!(md.contains("| Job start | 4 | 1,060 | <1 |"), "{md}");
    // The same numbers in the HTML table.
    assert!(
        html.contains(
            "<td style=\"text-align: left\">Hardest to Help (out of work more than 2 years)</td>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<td style=\"text-align: right\"><strong>10</strong></td>"),
        "{html}"
    );
}

#[test]
fn synthetic_notice_only_on_synthetic_data() {
    let notice = "Synthetic data — not the programme's real figures";
    let (md, html) = render_fixture(true);
    assert!(md.starts_with(&format!("> **{notice}")), "{md}");
    assert!(html.contains("class=\"synthetic-banner\""), "{html}");
    // Once in the HTML, as the banner, not again from the Markdown body.
    assert_eq!(html.matches("Synthetic data").count(), 1, "{html}");

    let (md, html) = render_fixture(false);
    assert!(!md.contains("Synthetic"), "{md}");
    assert!(!html.contains("Synthetic"), "{html}");
    assert!(!html.contains("synthetic-banner\""), "{html}");
}

#[test]
fn golden_markdown_on_the_fixture() {
    let (md, _) = render_fixture(true);
    insta::with_settings!({
        snapshot_path => workspace().join("tests/snapshots"),
        prepend_module_to_snapshot => false,
        description => "report section 2.2 rendered from the transform fixture (synthetic)",
        omit_expression => true,
    }, {
        insta::assert_snapshot!("report__fixture_report_md", md);
    });
}

#[test]
fn rendering_is_deterministic() {
    let a = render_fixture(true);
    let b = render_fixture(true);
    assert_eq!(a, b);
}

#[test]
fn templates_type_no_numbers() {
    let findings = lint_templates(&templates()).expect("templates are readable");
    let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert!(findings.is_empty(), "{}", text.join("\n"));
}

// ----- The published Table 2-1 ------------------------------------------------------------

fn write_table(layout: &RunLayout, name: &str, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let path = layout.table(name, "parquet");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn strings(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

fn ints(v: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

fn floats(v: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}

/// The tables transform would write for the published counts: Table 2-1 (557, 1,418, 1,372,
/// 619 of 3,966) and the engagement claims of 2.2 (3,255 embedded, 82% of target, 19% of
/// registrants not embedding — 4,019 registrations is a count consistent with both).
fn published_run() -> (tempfile::TempDir, RunLayout) {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path());
    let counts = [557_i64, 1418, 1372, 619, 3966];
    write_table(
        &layout,
        "participants_by_cohort",
        vec![
            (
                "row_order",
                ints(&[Some(1), Some(2), Some(3), Some(4), Some(5)]),
            ),
            (
                "is_total",
                Arc::new(BooleanArray::from(vec![false, false, false, false, true])) as ArrayRef,
            ),
            (
                "cohort_code",
                strings(&[Some("HTR"), Some("HTH"), Some("RP"), Some("EMP"), None]),
            ),
            (
                "cohort_name",
                strings(&[
                    Some("Harder to Reach"),
                    Some("Hardest to Help"),
                    Some("Rapid Progression"),
                    Some("Employed progression"),
                    None,
                ]),
            ),
            (
                "description",
                strings(&[
                    Some("out of work 1-2 years"),
                    Some("out of work more than 2 years"),
                    Some("out of work less than one year"),
                    Some("in work"),
                    None,
                ]),
            ),
            ("participants", ints(&counts.map(Some))),
            (
                "pct",
                floats(counts.iter().map(|c| Some(*c as f64 / 3966.0)).collect()),
            ),
            ("n", ints(&[Some(3966); 5])),
        ],
    );
    let (registered, embedded) = (4019_i64, 3255_i64);
    write_table(
        &layout,
        "claims_performance",
        vec![
            ("milestone_order", ints(&[Some(1), Some(2)])),
            ("milestone_code", strings(&[Some("REG"), Some("EMB")])),
            (
                "milestone_name",
                strings(&[Some("Registered"), Some("Embedded")]),
            ),
            ("achieved", ints(&[Some(registered), Some(embedded)])),
            ("target", ints(&[None, Some(3970)])),
            (
                "pct_of_target",
                floats(vec![None, Some(embedded as f64 / 3970.0)]),
            ),
            (
                "pct_of_registered",
                floats(vec![Some(1.0), Some(embedded as f64 / registered as f64)]),
            ),
            (
                "pct_of_registered_not_reached",
                floats(vec![
                    Some(0.0),
                    Some((registered - embedded) as f64 / registered as f64),
                ]),
            ),
            ("n", ints(&[Some(registered); 2])),
        ],
    );
    // 2018-06-01, 2022-01-31, 2021-11-30 as days since 1970-01-01.
    let day = |d: i32| Arc::new(Date32Array::from(vec![d])) as ArrayRef;
    write_table(
        &layout,
        "reference/periods",
        vec![
            ("mi_start", day(17683)),
            ("mi_end", day(19023)),
            ("claims_validated_to", day(18961)),
        ],
    );
    (dir, layout)
}

#[test]
fn the_published_table_2_1_renders_as_published() {
    let (_dir, layout) = published_run();
    let written = render(
        &study(),
        &layout,
        &templates(),
        &RenderOptions { synthetic: false },
    )
    .unwrap();
    let md = std::fs::read_to_string(&written[0]).unwrap();
    // Report Table 2-1, row by row: 14, 36, 35, 16 per cent; total 3,966.
    for line in [
        "| Harder to Reach (out of work 1-2 years) | 557 | 14 |",
        "| Hardest to Help (out of work more than 2 years) | 1,418 | 36 |",
        "| Rapid Progression (out of work less than one year) | 1,372 | 35 |",
        "| Employed progression (in work) | 619 | 16 |",
        "| **Total** | **3,966** | **100** |",
    ] {
        assert!(md.contains(line), "missing `{line}` in\n{md}");
    }
    // Report 2.2: "over 4,000 residents", "3,255 were embedded (82% of the target)", "19 per
    // cent of registrants not embedding", Hardest to Help "36 per cent of participants".
    assert!(md.contains("over 4,000 residents were engaged"), "{md}");
    assert!(
        md.contains("3,255 were embedded[^embedded] (82% of the target)"),
        "{md}"
    );
    assert!(md.contains("19 per cent of registrants"), "{md}");
    assert!(md.contains("the Hardest to Help group, those out of work more than 2 years, was the largest, making up 36 per cent"), "{md}");
    assert!(
        md.contains("Management Information, June 2018 to January 2022"),
        "{md}"
    );
    assert!(md.contains("| Embedded | 3,255 | 3,970 | 82 |"), "{md}");
}

// ----- Template errors ------------------------------------------------------------------------

fn render_with_template(markdown: &str) -> Error {
    let (_dir, layout) = published_run();
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(templates.path().join("report.md.j2"), markdown).unwrap();
    std::fs::write(templates.path().join("report.html.j2"), "{{ body }}").unwrap();
    render(
        &study(),
        &layout,
        templates.path(),
        &RenderOptions::default(),
    )
    .unwrap_err()
}

#[test]
fn a_number_without_a_filter_is_refused() {
    let e =
        render_with_template("{{ row(\"participants_by_cohort\", is_total=true).participants }}");
    assert!(e.to_string().contains("without a filter"), "{e}");
}

#[test]
fn a_missing_table_is_named() {
    let e = render_with_template("{{ table(\"no_such_table\") | length | count }}");
    assert!(
        e.to_string().contains("table `no_such_table` not found"),
        "{e}"
    );
}

#[test]
fn row_wants_exactly_one_match() {
    let e =
        render_with_template("{{ row(\"participants_by_cohort\", is_total=false).cohort_name }}");
    assert!(e.to_string().contains("4 rows where is_total"), "{e}");
}

#[test]
fn small_counts_are_suppressed_in_the_report() {
    let (_dir, layout) = fixture_run();
    let written = render(
        &study(),
        &layout,
        &templates(),
        &RenderOptions { synthetic: false },
    )
    .expect("the report renders with small counts suppressed");
    let md = std::fs::read_to_string(&written[0]).unwrap();
    let html = std::fs::read_to_string(&written[1]).unwrap();
    assert!(html.contains("<p>[c] marks a figure suppressed for disclosure control"));
    // Table 2-1 on the fixture: cohorts of 3, 2, 3 and 1 participants out of 9, all hidden.
    let table_rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| Hardest to Help") || l.starts_with("| Employed"))
        .collect();
    assert_eq!(table_rows.len(), 2, "{md}");
    assert!(
        table_rows.iter().all(|l| l.contains("[c]")),
        "{table_rows:?}"
    );
    assert!(
        md.trim_end().ends_with(
            "marks a figure suppressed for disclosure control: fewer than 10 participants, or a \
             cell from which such a count could be worked out."
        ),
        "the report ends with the disclosure footnote:\n{md}"
    );
}
