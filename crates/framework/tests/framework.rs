//! The framework stage on a hand-written three-case fixture (known counts), on crafted bad
//! workbooks (one per validation rule), and on the committed synthetic qualitative twin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use evalpipe_framework::{Codebook, FrameworkOptions, FrameworkRun, Rule, run_blocking};
use evalpipe_study::{RunLayout, Study};
use evalpipe_synth::qualitative::{self, SheetRows};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn study() -> Study {
    Study::load(&repo().join("pipeline")).unwrap()
}

fn codebook() -> Codebook {
    Codebook::load_from_pipeline(&repo().join("pipeline")).unwrap()
}

/// The codebook with other thresholds, written beside the fixture.
fn codebook_with(dir: &Path, min_lots: i64, min_cases: i64) -> Codebook {
    let text = std::fs::read_to_string(repo().join("pipeline/framework/codebook.toml")).unwrap();
    let text = text
        .replace(
            "cross_cutting_min_lots = 6",
            &format!("cross_cutting_min_lots = {min_lots}"),
        )
        .replace(
            "divergence_min_cases = 3",
            &format!("divergence_min_cases = {min_cases}"),
        );
    let path = dir.join("codebook.toml");
    std::fs::write(&path, text).unwrap();
    Codebook::load(&path).unwrap()
}

fn rows(r: &[&[&str]]) -> Vec<Vec<String>> {
    r.iter()
        .map(|row| row.iter().map(|c| c.to_string()).collect())
        .collect()
}

fn sheet(name: &str, r: &[&[&str]]) -> SheetRows {
    (name.to_string(), rows(r))
}

/// Three cases: two participants (waves 1 and 2, lots L1 and L4) and one provider (wave 1, L1).
///
/// | case | type | wave | lot | charted |
/// | P1 | participant | 1 | L1 | SUP.REL (+), BEH.CONF (+) |
/// | P2 | participant | 2 | L4 | SUP.REL (-), SUP.REMOTE (+/-) |
/// | V1 | provider | 1 | L1 | SUP.IND (+), EMP.FIT (+) |
fn write_fixture(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    qualitative::write_workbook(
        &dir.join("cases.xlsx"),
        &[sheet(
            "cases",
            &[
                &[
                    "case_id",
                    "interview_type",
                    "wave",
                    "lot",
                    "role",
                    "cohort",
                    "age_band",
                    "gender",
                ],
                &["P1", "participant", "1", "L1", "", "HTH", "25–34", "Female"],
                &["P2", "participant", "2", "L4", "", "RP", "45–54", "Male"],
                &[
                    "V1",
                    "provider",
                    "1",
                    "L1",
                    "employment advisor",
                    "",
                    "",
                    "",
                ],
            ],
        )],
        None,
    )
    .unwrap();
    write_participant_matrix(
        dir,
        &[
            &[
                "case_id",
                "SUP.REL Relationship",
                "BEH.CONF",
                "SUP.REMOTE",
                "notes",
            ],
            &[
                "P1",
                "(+) Trusts the advisor [Q-1]",
                "(+) More confident",
                "",
                "memo",
            ],
            &[
                "P2",
                "(-) Three advisors in a year",
                "",
                "(+/-) Phone is handy but lonely",
                "",
            ],
        ],
        &[
            &["quote_id", "case_id", "theme", "quote"],
            &["Q-1", "P1", "SUP.REL", "She always rings back."],
        ],
    );
    qualitative::write_workbook(
        &dir.join("matrix_provider.xlsx"),
        &[sheet(
            "matrix",
            &[
                &["case_id", "SUP.IND", "EMP.FIT"],
                &[
                    "V1",
                    "(+) Small caseloads",
                    "(+) Sells candidates to employers",
                ],
            ],
        )],
        None,
    )
    .unwrap();
    qualitative::write_workbook(
        &dir.join("cmo.xlsx"),
        &[sheet(
            "cmo",
            &[
                &[
                    "figure",
                    "direction",
                    "context",
                    "mechanism",
                    "outcome",
                    "cases",
                ],
                &[
                    "4-4",
                    "enables",
                    "Trusted advisor",
                    "Openness",
                    "Self-efficacy",
                    "P1, V1",
                ],
                &[
                    "4-4",
                    "hinders",
                    "Changes of advisor",
                    "Irregular contact",
                    "Disengagement",
                    "P2",
                ],
            ],
        )],
        None,
    )
    .unwrap();
}

fn write_participant_matrix(dir: &Path, matrix: &[&[&str]], quotes: &[&[&str]]) {
    qualitative::write_workbook(
        &dir.join("matrix_participant.xlsx"),
        &[sheet("matrix", matrix), sheet("quotes", quotes)],
        None,
    )
    .unwrap();
}

/// Runs the stage on `input` into a run folder under `tmp`.
fn run_stage(tmp: &Path, input: &Path, codebook: &Codebook) -> (FrameworkRun, PathBuf) {
    let run = tmp.join("run");
    let layout = RunLayout::new(&run);
    let opts = FrameworkOptions::new(input, repo().join("queries/framework"));
    let done = run_blocking(&study(), codebook, &layout, &opts).unwrap();
    (done, run)
}

/// A table's rows, from its CSV.
fn table(run: &Path, name: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(run.join(format!("tables/framework/{name}.csv"))).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .zip(rec.unwrap().iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The one row matching every `key = value`.
fn row<'a>(
    rows: &'a [BTreeMap<String, String>],
    conditions: &[(&str, &str)],
) -> &'a BTreeMap<String, String> {
    let found: Vec<_> = rows
        .iter()
        .filter(|r| conditions.iter().all(|(k, v)| r[*k] == *v))
        .collect();
    assert_eq!(found.len(), 1, "rows matching {conditions:?}: {found:?}");
    found[0]
}

fn check(
    rows: &[BTreeMap<String, String>],
    conditions: &[(&str, &str)],
    expected: &[(&str, &str)],
) {
    let r = row(rows, conditions);
    for (k, v) in expected {
        assert_eq!(r[*k], *v, "{k} of {conditions:?}");
    }
}

#[test]
fn three_case_fixture_has_known_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("qualitative");
    write_fixture(&input);
    let codebook = codebook_with(tmp.path(), 2, 1);
    let (done, run) = run_stage(tmp.path(), &input, &codebook);
    assert_eq!(done.cases, 3);
    assert_eq!(done.cells, 6);
    assert_eq!(done.cmo_links, 2);
    assert!(!done.synthetic);
    // Only warnings: the three empty matrices (no workbook for stakeholders, partners, employers).
    assert!(
        done.findings.iter().all(|f| f.rule == Rule::EmptyMatrix),
        "{:#?}",
        done.findings
    );
    assert_eq!(done.findings.len(), 3);
    assert_eq!(
        done.waves,
        vec![(1, 2, Some(51)), (2, 1, Some(63)), (3, 0, Some(40))]
    );

    let t = table(&run, "framework_theme_cases");
    // Theme SUP: P1 (+ via REL), P2 (REL − and REMOTE ± → mixed), V1 (+ via IND).
    check(
        &t,
        &[("code", "SUP"), ("breakdown", "all")],
        &[
            ("cases", "3"),
            ("facilitator", "2"),
            ("barrier", "0"),
            ("mixed", "1"),
            ("base", "3"),
            ("share", "1.000000"),
        ],
    );
    check(
        &t,
        &[
            ("code", "SUP.REL"),
            ("breakdown", "interview_type"),
            ("group_code", "participant"),
        ],
        &[
            ("cases", "2"),
            ("facilitator", "1"),
            ("barrier", "1"),
            ("base", "2"),
        ],
    );
    check(
        &t,
        &[
            ("code", "SUP.REL"),
            ("breakdown", "interview_type"),
            ("group_code", "provider"),
        ],
        &[("cases", "0"), ("base", "1"), ("share", "0.000000")],
    );
    check(
        &t,
        &[("code", "SUP"), ("breakdown", "lot"), ("group_code", "L1")],
        &[("cases", "2"), ("group_label", "Birchills Leamore")],
    );
    // Every configured group has its row, even with nobody in it.
    check(
        &t,
        &[("code", "SUP"), ("breakdown", "lot"), ("group_code", "L9")],
        &[("cases", "0"), ("base", "0"), ("share", "")],
    );
    check(
        &t,
        &[
            ("code", "BEH.CONF"),
            ("breakdown", "wave"),
            ("group_code", "1"),
        ],
        &[("cases", "1"), ("facilitator", "1"), ("base", "2")],
    );
    check(
        &t,
        &[("code", "EMP"), ("breakdown", "all")],
        &[("cases", "1"), ("facilitator", "1")],
    );

    let i = table(&run, "framework_interviews");
    check(
        &i,
        &[("wave", "1"), ("interview_type", "all")],
        &[("interviews", "2"), ("published_interviews", "51")],
    );
    check(
        &i,
        &[("wave", "1"), ("interview_type", "provider")],
        &[("interviews", "1"), ("published_interviews", "")],
    );
    check(
        &i,
        &[("wave", "all"), ("interview_type", "participant")],
        &[("interviews", "2")],
    );
    check(
        &i,
        &[("wave", "all"), ("interview_type", "all")],
        &[("interviews", "3"), ("published_interviews", "154")],
    );

    // k = 2: SUP is charted in L1 and L4, EMP only in L1.
    let x = table(&run, "framework_cross_cutting");
    check(
        &x,
        &[("code", "SUP")],
        &[
            ("lots_present", "2"),
            ("min_lots", "2"),
            ("is_cross_cutting", "true"),
            ("lots_list", "Birchills Leamore; Washwood Heath"),
        ],
    );
    check(
        &x,
        &[("code", "EMP")],
        &[("lots_present", "1"), ("is_cross_cutting", "false")],
    );
    check(
        &x,
        &[("code", "GOV")],
        &[("lots_present", "0"), ("is_cross_cutting", "false")],
    );

    // One case per group is enough here: wave 1 leans facilitator on SUP.REL, wave 2 barrier.
    let d = table(&run, "framework_divergence");
    check(
        &d,
        &[
            ("code", "SUP.REL"),
            ("breakdown", "wave"),
            ("group_code", "1"),
        ],
        &[("lean", "facilitator"), ("divergent", "true")],
    );
    check(
        &d,
        &[
            ("code", "SUP.REL"),
            ("breakdown", "wave"),
            ("group_code", "2"),
        ],
        &[("lean", "barrier"), ("net_valence", "-1.000000")],
    );
    check(
        &d,
        &[
            ("code", "SUP.REL"),
            ("breakdown", "cohort"),
            ("group_code", "HTH"),
        ],
        &[("lean", "facilitator"), ("divergent", "true")],
    );
    check(
        &d,
        &[
            ("code", "BEH.CONF"),
            ("breakdown", "wave"),
            ("group_code", "2"),
        ],
        &[("lean", "too few"), ("divergent", "false")],
    );
    check(
        &d,
        &[
            ("code", "SUP"),
            ("breakdown", "interview_type"),
            ("group_code", "participant"),
        ],
        &[
            ("facilitator", "1"),
            ("barrier", "0"),
            ("mixed", "1"),
            ("lean", "balanced"),
            ("divergent", "false"),
        ],
    );

    let c = table(&run, "framework_cmo");
    assert_eq!(c.len(), 2);
    check(
        &c,
        &[("link_order", "1")],
        &[
            ("figure", "4-4"),
            ("supporting_cases", "2"),
            ("supporting_types", "provider 1, participant 1"),
            ("supporting_case_ids", "P1, V1"),
            ("supporting_waves", "1"),
        ],
    );
    check(
        &c,
        &[("link_order", "2")],
        &[("direction", "hinders"), ("supporting_cases", "1")],
    );

    let cells = table(&run, "framework_cells");
    check(
        &cells,
        &[("case_id", "P1"), ("code", "SUP.REL")],
        &[
            ("valence", "facilitator"),
            ("quotes", "Q-1"),
            ("summary", "Trusts the advisor"),
            ("source", "matrix_participant.xlsx!matrix!B2"),
        ],
    );

    // No run tables here: the hooks say so instead of failing.
    let tri = table(&run, "framework_triangulation");
    check(
        &tri,
        &[
            ("code", "EMP.FIT"),
            ("source_table", "models/job_outcome/coefficients"),
        ],
        &[
            ("source_row", "factor = match_skills, level = Yes"),
            (
                "status",
                "no table models/job_outcome/coefficients.parquet in this run",
            ),
            ("value", ""),
        ],
    );

    let html = std::fs::read_to_string(run.join("framework/matrices.html")).unwrap();
    assert!(
        html.contains("Trusts the advisor"),
        "the matrix shows the summary"
    );
    assert!(html.contains("She always rings back."), "…and the quote");
    assert!(!html.to_lowercase().contains("synthetic"));
    assert!(run.join("framework/matrices.xlsx").is_file());
}

#[test]
fn triangulation_reads_the_named_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("qualitative");
    write_fixture(&input);
    // A hand-made coefficients table where the hook should find 2.2.
    let models = tmp.path().join("run/tables/models/job_outcome");
    std::fs::create_dir_all(&models).unwrap();
    {
        use std::sync::Arc;
        let batch = arrow::array::RecordBatch::try_from_iter(vec![
            (
                "factor",
                Arc::new(arrow::array::StringArray::from(vec![
                    "match_skills",
                    "health",
                ])) as arrow::array::ArrayRef,
            ),
            (
                "level",
                Arc::new(arrow::array::StringArray::from(vec![
                    "Yes",
                    "No health condition",
                ])),
            ),
            (
                "odds_ratio",
                Arc::new(arrow::array::Float64Array::from(vec![2.2, 1.4])),
            ),
        ])
        .unwrap();
        evalpipe_transform::write_parquet(
            &models.join("coefficients.parquet"),
            &batch.schema(),
            &[batch],
        )
        .unwrap();
    }
    let (_, run) = run_stage(tmp.path(), &input, &codebook());
    let tri = table(&run, "framework_triangulation");
    check(
        &tri,
        &[
            ("code", "EMP.FIT"),
            ("source_table", "models/job_outcome/coefficients"),
        ],
        &[("value", "2.200000"), ("status", "found")],
    );
    check(
        &tri,
        &[("code", "BAR.CIRC")],
        &[("value", "1.400000"), ("status", "found")],
    );
    check(
        &tri,
        &[("code", "COM.MIX")],
        &[("value", ""), ("status", "no row matches")],
    );
}

/// Runs the stage on the fixture after `edit` and returns its findings of `rule`.
fn findings_after(
    edit: impl Fn(&Path),
    rule: Rule,
) -> (Vec<evalpipe_framework::Finding>, FrameworkRun) {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("qualitative");
    write_fixture(&input);
    edit(&input);
    let (done, _) = run_stage(tmp.path(), &input, &codebook());
    let found = done
        .findings
        .iter()
        .filter(|f| f.rule == rule)
        .cloned()
        .collect();
    (found, done)
}

#[test]
fn an_unknown_theme_code_is_named_with_its_column() {
    let (found, done) = findings_after(
        |dir| {
            write_participant_matrix(
                dir,
                &[
                    &["case_id", "SUP.REL", "SUP.RELATE Typo", "SUP"],
                    &["P1", "(+) Trusts", "(+) x", "(+) y"],
                    &["P2", "(-) Changes", "(-) z", ""],
                ],
                &[&["quote_id", "case_id", "theme", "quote"]],
            )
        },
        Rule::UnknownTheme,
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].file, "matrix_participant.xlsx");
    assert_eq!(found[0].sheet.as_deref(), Some("matrix"));
    assert_eq!(found[0].cell.as_deref(), Some("C1"));
    assert!(
        found[0].message.contains("unknown theme code `SUP.RELATE`"),
        "{}",
        found[0].message
    );
    assert!(found[0].message.contains("2 cells are not counted"));
    assert_eq!(found[1].cell.as_deref(), Some("D1"));
    assert!(
        found[1].message.contains("is a theme, not a sub-theme"),
        "{}",
        found[1].message
    );
    // The known column still counts: 2 participant cells + 2 provider cells.
    assert_eq!(done.cells, 4);
}

#[test]
fn a_case_without_attributes_is_left_out() {
    let (found, done) = findings_after(
        |dir| {
            write_participant_matrix(
                dir,
                &[
                    &["case_id", "SUP.REL"],
                    &["P1", "(+) Trusts"],
                    &["P2", "(-) Changes"],
                    &["P9", "(+) Not on the case sheet"],
                ],
                &[&["quote_id", "case_id", "theme", "quote"]],
            )
        },
        Rule::CaseWithoutAttributes,
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].cell.as_deref(), Some("A4"));
    assert!(
        found[0]
            .message
            .contains("case P9 is not on the case sheet")
    );
    assert_eq!(done.cells, 4);
}

#[test]
fn a_duplicate_case_is_reported_on_the_case_sheet_and_in_a_matrix() {
    let (found, done) = findings_after(
        |dir| {
            qualitative::write_workbook(
                &dir.join("cases.xlsx"),
                &[sheet(
                    "cases",
                    &[
                        &["case_id", "interview_type", "wave", "lot"],
                        &["P1", "participant", "1", "L1"],
                        &["P2", "participant", "2", "L4"],
                        &["V1", "provider", "1", "L1"],
                        &["P1", "participant", "3", "L2"],
                    ],
                )],
                None,
            )
            .unwrap();
            write_participant_matrix(
                dir,
                &[
                    &["case_id", "SUP.REL"],
                    &["P1", "(+) Trusts"],
                    &["P2", "(-) Changes"],
                    &["P2", "(+) Charted twice"],
                ],
                &[&["quote_id", "case_id", "theme", "quote"]],
            )
        },
        Rule::DuplicateCase,
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].file, "cases.xlsx");
    assert_eq!(found[0].cell.as_deref(), Some("row 5"));
    assert!(
        found[0]
            .message
            .contains("case P1 is listed again (first on row 2)")
    );
    assert_eq!(found[1].file, "matrix_participant.xlsx");
    assert_eq!(found[1].cell.as_deref(), Some("row 4"));
    assert_eq!(done.cases, 3, "the second listing is left out");
    assert_eq!(done.cells, 4);
}

#[test]
fn a_case_in_two_types_is_counted_once() {
    let (found, done) = findings_after(
        |dir| {
            qualitative::write_workbook(
                &dir.join("matrix_provider.xlsx"),
                &[sheet(
                    "matrix",
                    &[
                        &["case_id", "SUP.IND"],
                        &["V1", "(+) Small caseloads"],
                        &["P1", "(+) Charted as a provider too"],
                    ],
                )],
                None,
            )
            .unwrap();
        },
        Rule::CaseInTwoTypes,
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].file, "matrix_provider.xlsx");
    assert_eq!(found[0].cell.as_deref(), Some("A3"));
    assert!(
        found[0]
            .message
            .contains("case P1 is a participant interview on the case sheet but is charted in the provider matrix"),
        "{}",
        found[0].message
    );
    assert_eq!(done.cells, 5);
}

#[test]
fn an_empty_matrix_is_reported() {
    let (found, done) = findings_after(
        |dir| {
            write_participant_matrix(
                dir,
                &[&["case_id", "SUP.REL"]],
                &[&["quote_id", "case_id", "theme", "quote"]],
            )
        },
        Rule::EmptyMatrix,
    );
    let participant: Vec<_> = found
        .iter()
        .filter(|f| f.file == "matrix_participant.xlsx")
        .collect();
    assert_eq!(participant.len(), 1, "{found:#?}");
    assert_eq!(
        participant[0].message,
        "the participant matrix has no charted case"
    );
    // The two participants are still interviews, with nothing charted.
    assert_eq!(done.cases, 3);
    assert_eq!(done.cells, 2);
    assert_eq!(
        done.findings
            .iter()
            .filter(|f| f.rule == Rule::UncodedCase)
            .count(),
        2
    );
}

#[test]
fn a_cell_citing_a_missing_quote_keeps_its_summary() {
    let (found, done) = findings_after(
        |dir| {
            write_participant_matrix(
                dir,
                &[
                    &["case_id", "SUP.REL", "BEH.CONF"],
                    &[
                        "P1",
                        "(+) Trusts the advisor [Q-1]",
                        "(+) Confident [Q-404]",
                    ],
                    &["P2", "(-) Changes", ""],
                ],
                &[
                    &["quote_id", "case_id", "theme", "quote"],
                    &["Q-1", "P1", "SUP.REL", "She always rings back."],
                ],
            )
        },
        Rule::MissingQuote,
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].cell.as_deref(), Some("C2"));
    assert!(
        found[0]
            .message
            .contains("quote [Q-404] is on no quotes sheet")
    );
    assert_eq!(done.cells, 5);
}

#[test]
fn bad_attributes_and_cmo_rows_are_findings_not_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("qualitative");
    write_fixture(&input);
    qualitative::write_workbook(
        &input.join("cases.xlsx"),
        &[sheet(
            "cases",
            &[
                &["case_id", "interview_type", "wave", "lot", "cohort"],
                &["P1", "participant", "1", "L1", "HTH"],
                &["P2", "resident", "2", "L4", "RP"],
                &["V1", "provider", "7", "Nowhere", ""],
            ],
        )],
        None,
    )
    .unwrap();
    qualitative::write_workbook(
        &input.join("cmo.xlsx"),
        &[sheet(
            "cmo",
            &[
                &[
                    "figure",
                    "direction",
                    "context",
                    "mechanism",
                    "outcome",
                    "cases",
                ],
                &["9-9", "enables", "c", "m", "o", "P1"],
                &["4-4", "enables", "c", "m", "o", "P1; P2, ZZ"],
            ],
        )],
        None,
    )
    .unwrap();
    let (done, run) = run_stage(tmp.path(), &input, &codebook());
    let text: Vec<String> = done.findings.iter().map(|f| f.to_string()).collect();
    let has = |s: &str| text.iter().any(|t| t.contains(s));
    assert!(
        has(
            "cases.xlsx, sheet cases, B3: case P2: interview type `resident` is not one of the codebook's"
        ),
        "{text:#?}"
    );
    assert!(
        has("cases.xlsx, sheet cases, C4: case V1: wave `7` is not a wave of the codebook"),
        "{text:#?}"
    );
    assert!(
        has("cases.xlsx, sheet cases, D4: case V1: lot `Nowhere` is not a lot of the study"),
        "{text:#?}"
    );
    assert!(has("cmo.xlsx, sheet cmo, A2: figure `9-9`"), "{text:#?}");
    assert!(
        has("supporting case `ZZ` is not a valid case of the case sheet"),
        "{text:#?}"
    );
    assert_eq!(done.cases, 1);
    let md = std::fs::read_to_string(run.join("framework/validation.md")).unwrap();
    assert!(md.contains("| bad-attribute | 3 |"), "{md}");
    let findings = table(&run, "framework_findings");
    assert_eq!(findings.len(), done.findings.len());
}

#[test]
fn a_missing_case_sheet_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(tmp.path().join("run"));
    let opts = FrameworkOptions::new(tmp.path().join("nothing"), repo().join("queries/framework"));
    let err = run_blocking(&study(), &codebook(), &layout, &opts).unwrap_err();
    assert!(err.to_string().contains("cases.xlsx is missing"), "{err}");
}

#[test]
fn the_twin_has_51_63_40_interviews_and_no_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (done, run) = run_stage(tmp.path(), &repo().join("data/qualitative"), &codebook());
    assert!(done.synthetic);
    assert_eq!(done.cases, 154);
    assert_eq!(
        done.waves,
        vec![(1, 51, Some(51)), (2, 63, Some(63)), (3, 40, Some(40))]
    );
    assert!(done.findings.is_empty(), "{:#?}", done.findings);
    let i = table(&run, "framework_interviews");
    for (wave, n) in [("1", "51"), ("2", "63"), ("3", "40"), ("all", "154")] {
        check(
            &i,
            &[("wave", wave), ("interview_type", "all")],
            &[("interviews", n)],
        );
    }
    // Employers in year 2 only, stakeholders not in year 3 (case summary 004).
    check(
        &i,
        &[("wave", "1"), ("interview_type", "employer")],
        &[("interviews", "0")],
    );
    check(
        &i,
        &[("wave", "3"), ("interview_type", "stakeholder")],
        &[("interviews", "0")],
    );
    // Every interview of a lot-level type has a lot; all nine lots are in the sample.
    let cases = table(&run, "framework_cases");
    for c in &cases {
        if c["interview_type"] != "stakeholder" {
            assert!(!c["lot"].is_empty(), "{c:?}");
        }
    }
    // Every figure is drawn, and every link has at least two supporting cases.
    let cmo = table(&run, "framework_cmo");
    for f in ["3-1", "4-4", "4-5", "4-6"] {
        assert!(cmo.iter().any(|r| r["figure"] == f), "figure {f}");
    }
    for r in &cmo {
        let n: i64 = r["supporting_cases"].parse().unwrap();
        assert!(n >= 2, "too little support for {r:?}");
    }
    // The findings the report draws from interviews show up as cross-cutting and divergent.
    let x = table(&run, "framework_cross_cutting");
    check(
        &x,
        &[("code", "SUP")],
        &[("is_cross_cutting", "true"), ("lots_present", "9")],
    );
    let d = table(&run, "framework_divergence");
    let divergent = |code: &str, by: &str| {
        d.iter()
            .any(|r| r["code"] == code && r["breakdown"] == by && r["divergent"] == "true")
    };
    assert!(
        divergent("PART.COLOC", "wave"),
        "co-location: an asset before the pandemic, lost in it"
    );
    assert!(
        divergent("PART.TRUST", "wave"),
        "partners' trust grew after year 1"
    );
    // Every output says it is synthetic.
    for f in ["framework/matrices.html", "framework/validation.md"] {
        let text = std::fs::read_to_string(run.join(f)).unwrap();
        assert!(text.contains("Synthetic data"), "{f}");
    }
}

#[test]
fn twin_workbooks_match_their_source_and_are_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = repo().join("data/qualitative");
    let source = folder.join(qualitative::SOURCE_FILE);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let summary = qualitative::generate(&source, &codebook(), &study(), &a).unwrap();
    qualitative::generate(&source, &codebook(), &study(), &b).unwrap();
    assert_eq!(
        summary.cases_by_wave,
        BTreeMap::from([(1, 51), (2, 63), (3, 40)])
    );
    for f in &summary.files {
        let name = f.file_name().unwrap();
        let bytes = std::fs::read(f).unwrap();
        assert_eq!(
            bytes,
            std::fs::read(b.join(name)).unwrap(),
            "{name:?} differs between two runs"
        );
        assert!(
            std::fs::read(folder.join(name)).is_ok_and(|c| c == bytes),
            "data/qualitative/{} is not what its source generates: run \
             `cargo run -p evalpipe-synth --example qualitative_twin` and commit the result",
            name.to_string_lossy()
        );
    }
}

#[test]
fn the_stage_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let input = repo().join("data/qualitative");
    let (first, run) = run_stage(&tmp.path().join("a"), &input, &codebook());
    let (second, run2) = run_stage(&tmp.path().join("b"), &input, &codebook());
    assert_eq!(first.files, second.files);
    for f in &first.files {
        assert_eq!(
            std::fs::read(run.join(f)).unwrap(),
            std::fs::read(run2.join(f)).unwrap(),
            "{f} differs between two runs"
        );
    }
}
