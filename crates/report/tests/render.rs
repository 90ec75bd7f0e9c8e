//! The report on real tables: the transform fixture run through the real queries, the models
//! and the Framework stage (on the synthetic interviews), and the published Table 2-1 counts,
//! rendered with the real templates; and the template rules: numbering and cross-references,
//! the literal-number lint, errors that name their template and line.

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

/// A run folder with the fixture ingested and transformed, the models fitted (on ten
/// participants they cannot be: the report must say so) and the Framework stage run on the
/// synthetic interviews.
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
    evalpipe_models::run_blocking(&study, &layout, &evalpipe_models::ModelsOptions::default())
        .expect("the models stage runs, fitted or not");
    let codebook = evalpipe_framework::Codebook::load(
        &workspace()
            .join("pipeline")
            .join(evalpipe_framework::CODEBOOK_FILE),
    )
    .expect("the codebook loads");
    let opts = evalpipe_framework::FrameworkOptions::new(
        workspace().join("data/qualitative"),
        workspace().join("queries/framework"),
    );
    evalpipe_framework::run_blocking(&study, &codebook, &layout, &opts)
        .expect("the framework stage runs");
    (dir, layout)
}

/// The report's chapters (`## …` headings), by their heading text.
fn chapters(md: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in md.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            out.push((title.to_string(), String::new()));
        }
        if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

fn chapter(md: &str, starts: &str) -> String {
    chapters(md)
        .into_iter()
        .find(|(title, _)| title.starts_with(starts))
        .map(|(_, text)| text)
        .unwrap_or_else(|| panic!("no chapter `{starts}` in\n{md}"))
}

fn render_fixture(synthetic: bool) -> (String, String) {
    let (_dir, layout) = fixture_run();
    // Ten participants: every count is under the disclosure threshold. These tests are about
    // formatting, so disclosure control is off; `small_counts_are_suppressed_in_the_report`
    // turns it on.
    let mut study = study();
    study.disclosure.min_count = 0;
    let written = render(
        &study,
        &layout,
        &templates(),
        &RenderOptions {
            synthetic,
            ..Default::default()
        },
    )
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

/// Golden text of a few chapters on the fixture: a change of wording must be deliberate
/// (`INSTA_UPDATE=always`, then review the diff). The summary (numbers in prose), chapter 2
/// (tables, figures, unfitted models), chapter 3 (the interview evidence) and the annex's
/// methodology and model tables.
#[test]
fn golden_chapters_on_the_fixture() {
    let (md, _) = render_fixture(true);
    let annex = chapter(&md, "Annex");
    let annex_head: String = annex
        .split("**Table A-3 ")
        .next()
        .unwrap_or_default()
        .to_string();
    let models: Vec<&str> = annex
        .split("\n\n")
        .filter(|b| {
            b.contains("Logistic regression")
                || b.starts_with("Sample:")
                || b.starts_with("The model could not be fitted")
        })
        .collect();
    for (name, text) in [
        ("report__fixture_summary", chapter(&md, "Summary")),
        ("report__fixture_chapter_2", chapter(&md, "2 ")),
        ("report__fixture_chapter_3", chapter(&md, "3 ")),
        ("report__fixture_annex_methodology", annex_head),
        ("report__fixture_annex_models", models.join("\n\n")),
    ] {
        insta::with_settings!({
            snapshot_path => workspace().join("tests/snapshots"),
            prepend_module_to_snapshot => false,
            description => "a chapter of the report rendered from the transform fixture (synthetic)",
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

/// Every table and figure ends with its source line, on a paragraph of its own: a trimming tag
/// or comment next to it once ran the source into the following sentence ("…December
/// 2021Agreed actions differed…").
#[test]
fn every_source_line_stands_alone() {
    let (md, _) = render_fixture(true);
    let lines: Vec<&str> = md.lines().collect();
    let mut sources = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("Source: ") {
            sources += 1;
            // A sentence glued on: a lower-case letter, digit or bracket, then a capital.
            let chars: Vec<char> = line.chars().collect();
            assert!(
                !chars.windows(2).any(|w| (w[0].is_ascii_lowercase()
                    || w[0].is_ascii_digit()
                    || w[0] == ')')
                    && w[1].is_ascii_uppercase()),
                "line {}: a sentence runs into the source line: {line:?}",
                i + 1
            );
            assert!(
                lines.get(i + 1).is_none_or(|next| next.trim().is_empty()),
                "line {}: {line:?} runs into {:?}",
                i + 1,
                lines[i + 1]
            );
            assert!(
                i > 0 && lines[i - 1].trim().is_empty(),
                "line {}: {line:?} follows {:?} without a blank line",
                i + 1,
                lines[i - 1]
            );
        }
    }
    // The chapters' tables and figures (the annex tables name their source in the annex).
    assert!(sources >= 20, "{sources} source lines");
}

/// Tables, figures and boxes are numbered per chapter as the report numbers them, annex tables
/// keep their A-numbers, and references print the caption's number.
#[test]
fn numbering_is_the_reports() {
    let (md, _) = render_fixture(true);
    for caption in [
        "**Table 1-1 Overview of key features of the Connecting Communities lots**",
        "**Table 2-1 Total number of participants engaged, by cohort**",
        "**Figure 2-1 Progress towards programme targets**",
        "**Figure 2-2 Demographic characteristics of programme participants**",
        "**Figure 2-3 Job outcomes by cohort**",
        "**Figure 2-4 Proportion of participants achieving a job outcome, by characteristics**",
        "**Figure 2-6 Proportion of participants achieving in-work progression, by characteristics**",
        "**Box 3-1 ",
        "**Figure 3-1 How local partnership generated positive outcomes for participants**",
        "**Table 4-1 How participants heard about Connecting Communities**",
        "**Table 4-2 Most identified perceived barriers**",
        "**Table 4-3 Agreed actions**",
        "**Figure 4-1 Monthly enrolment between January 2019 and December 2021 (count)**",
        "**Figure 4-2 Cohort, by month of enrolment (percentage)**",
        "**Figure 4-3 How participants heard about Connecting Communities before and after",
        "**Figure 4-4 Contexts, mechanisms, and outcomes related to employment outcomes**",
        "**Figure 4-5 Contexts, mechanisms, and outcomes related to employer engagement**",
        "**Figure 4-6 Contexts, mechanisms, and outcomes related to in-work support provision**",
        "**Box 4-1 ",
        "**Box 4-5 ",
        "**Table A-1 Interviews by year and type of interviewee**",
        "**Table A-3 Participants by sex**",
        "**Table A-16 Job outcome rate of embedded out-of-work participants, by provider**",
        "**Table A-24 Logistic regression: achieving a job outcome**",
        "**Table A-31 Logistic regression:",
        "**Table A-39 Logistic regression: in-work progression**",
        "**Table A-46 Actions completed compared with actions agreed**",
    ] {
        assert!(md.contains(caption), "no `{caption}` in the report");
    }
    // References, before and after their captions.
    for reference in [
        "(Table A-16)",
        "(Table A-24)",
        "(Figure 2-1)",
        "(Table 2-1)",
        "Table 1-1 shows the lots",
        "see Figure 4-1)",
        "(Box 4-2)",
    ] {
        assert!(md.contains(reference), "no `{reference}` in the report");
    }
    // Nothing is left unnumbered or unresolved.
    assert!(
        !md.contains("(reference)") && !md.contains('\u{E000}'),
        "{md}"
    );
}

/// Every query whose header says it produces an annex table is printed in the annex.
#[test]
fn every_catalogued_annex_table_is_printed() {
    let (dir, layout) = fixture_run();
    let mut study = study();
    study.disclosure.min_count = 0;
    let written = render(
        &study,
        &layout,
        &templates(),
        &RenderOptions {
            synthetic: true,
            ..Default::default()
        },
    )
    .expect("the report renders");
    let md = std::fs::read_to_string(&written[0]).unwrap();
    let catalog = evalpipe_report::read_rows(&layout.table("catalog", "parquet")).unwrap();
    let mut expected = Vec::new();
    for row in &catalog {
        let text = |k: &str| row.get(k).and_then(|v| v.as_str().map(str::to_string));
        if text("kind").as_deref() != Some("output") {
            continue;
        }
        if let Some(a) =
            text("produces").and_then(|p| evalpipe_report::xref::produced_annex_table(&p))
        {
            expected.push(a);
        }
    }
    expected.extend(["A-24".to_string(), "A-31".to_string(), "A-39".to_string()]);
    assert!(expected.len() > 30, "{expected:?}");
    for a in expected {
        assert!(
            md.contains(&format!("**Table {a} ")),
            "annex table {a} is not printed"
        );
    }
    drop(dir);
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

/// The real section 2.2 template under a chapter heading, on its own.
fn section_2_2_templates() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sections")).unwrap();
    for name in [
        "sections/programme_engagement.md.j2",
        "sections/macros.md.j2",
        "notices.j2",
    ] {
        std::fs::copy(templates().join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(
        dir.path().join("report.md.j2"),
        "## 2 Performance against quantitative targets\n\n{% include \"sections/programme_engagement.md.j2\" %}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("report.html.j2"), "{{ body }}").unwrap();
    dir
}

#[test]
fn the_published_table_2_1_renders_as_published() {
    let (_dir, layout) = published_run();
    let templates = section_2_2_templates();
    let written = render(
        &study(),
        &layout,
        templates.path(),
        &RenderOptions {
            synthetic: false,
            ..Default::default()
        },
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

/// Renders templates given as (name, source) on the published tables.
fn render_templates(files: &[(&str, &str)]) -> Result<String, Error> {
    let (_dir, layout) = published_run();
    let templates = tempfile::tempdir().unwrap();
    std::fs::create_dir(templates.path().join("sections")).unwrap();
    std::fs::write(templates.path().join("report.html.j2"), "{{ body }}").unwrap();
    for (name, source) in files {
        std::fs::write(templates.path().join(name), source).unwrap();
    }
    let written = render(
        &study(),
        &layout,
        templates.path(),
        &RenderOptions::default(),
    )?;
    Ok(std::fs::read_to_string(&written[0]).unwrap())
}

fn render_with_template(markdown: &str) -> Error {
    render_templates(&[("report.md.j2", markdown)]).unwrap_err()
}

#[test]
fn a_reference_resolves_before_and_after_its_caption() {
    let md = render_templates(&[(
        "report.md.j2",
        "## 2 Performance\n\nAs {{ ref(\"cohorts\") }} shows.\n\n\
             {{ table_caption(\"cohorts\", \"Participants by cohort\") }}\n\n\
             {{ figure_caption(\"targets\", \"Progress\") }}\n\n\
             ## 4 Implementation\n\n{{ figure_caption(\"months\", \"Monthly enrolment\") }}\n\n\
             See {{ ref(\"targets\") }} and {{ ref(\"months\") }}.\n",
    )])
    .expect("the report renders");
    assert!(md.contains("As Table 2-1 shows."), "{md}");
    assert!(md.contains("**Table 2-1 Participants by cohort**"), "{md}");
    assert!(md.contains("**Figure 2-1 Progress**"), "{md}");
    assert!(md.contains("**Figure 4-1 Monthly enrolment**"), "{md}");
    assert!(md.contains("See Figure 2-1 and Figure 4-1."), "{md}");
}

#[test]
fn an_unknown_reference_fails_naming_its_template_and_line() {
    let e = render_templates(&[
        (
            "report.md.j2",
            "## 2 Performance\n\n{% include \"sections/second.md.j2\" %}\n",
        ),
        (
            "sections/second.md.j2",
            "{{ table_caption(\"cohorts\", \"Participants by cohort\") }}\n\n\
             As {{ ref(\"cohort\") }} shows.\n",
        ),
    ])
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("unresolved reference"), "{text}");
    assert!(text.contains("`cohort`"), "{text}");
    assert!(text.contains("sections/second.md.j2:3"), "{text}");
    assert!(text.contains("did you mean `cohorts`"), "{text}");
}

#[test]
fn a_caption_outside_a_chapter_or_twice_fails() {
    let e = render_templates(&[(
        "report.md.j2",
        "## Summary\n\n{{ table_caption(\"cohorts\", \"Participants\") }}\n",
    )])
    .unwrap_err();
    assert!(e.to_string().contains("outside a numbered chapter"), "{e}");
    let e = render_templates(&[(
        "report.md.j2",
        "## 2 X\n\n{{ table_caption(\"a\", \"A\") }}\n\n{{ figure_caption(\"a\", \"B\") }}\n",
    )])
    .unwrap_err();
    assert!(
        e.to_string().contains("caption id `a` is used twice"),
        "{e}"
    );
}

/// The lint refuses numbers typed into a template, in digits or in words, and comparative words
/// that only a number can decide; the render stops on them, naming template and line.
#[test]
fn a_template_with_a_typed_number_does_not_render() {
    let crafted = "## 2 Performance\n\n\
                   Over 4,000 residents were engaged.\n\
                   Two in every five enrolled after the lockdown.\n\
                   Males were more likely than females to find work.\n\
                   {{ row(\"participants_by_cohort\", is_total=true).participants | count }} in all.\n";
    let findings = evalpipe_report::lint_template("sections/crafted.md.j2", crafted);
    let at: Vec<(usize, String)> = findings
        .iter()
        .map(|f| (f.line, format!("{:?}", f.kind)))
        .collect();
    assert_eq!(
        at,
        vec![
            (3, "Digit".to_string()),
            (4, "NumberWord(\"Two\")".to_string()),
            (5, "Comparative(\"more likely\")".to_string()),
        ]
    );
    let e = render_templates(&[
        ("report.md.j2", "{% include \"sections/crafted.md.j2\" %}"),
        ("sections/crafted.md.j2", crafted),
    ])
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("sections/crafted.md.j2:3"), "{text}");
    assert!(text.contains("sections/crafted.md.j2:4"), "{text}");
    assert!(text.contains("sections/crafted.md.j2:5"), "{text}");
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
        &RenderOptions {
            synthetic: false,
            ..Default::default()
        },
    )
    .expect("the report renders with small counts suppressed");
    let md = std::fs::read_to_string(&written[0]).unwrap();
    let html = std::fs::read_to_string(&written[1]).unwrap();
    assert!(html.contains("<p>[c] marks a figure suppressed for disclosure control"));
    // Table 2-1 on the fixture: cohorts of 3, 2, 3 and 1 participants out of 9, all hidden.
    let table_2_1 = md
        .split("**Table 2-1 ")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").nth(1))
        .expect("Table 2-1 is printed");
    let table_rows: Vec<&str> = table_2_1
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
