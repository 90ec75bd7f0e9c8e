//! The queries on the fixture: golden text of every table, and hand-computed values.
//!
//! The snapshots (`tests/snapshots/transform__*.snap` at the workspace root) catch any change;
//! the asserts below say what is right, computed by hand from the rows in [`crate::fixture`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use evalpipe_study::{RunLayout, Study};

use crate::{
    Error, SessionConfigSpec, TableKind, TableRun, TransformOptions, fixture, run_blocking,
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn study() -> Study {
    Study::load(&workspace().join("pipeline")).expect("the study configuration loads")
}

/// A run folder with the fixture ingested and every query run.
struct Run {
    _dir: tempfile::TempDir,
    layout: RunLayout,
    tables: Vec<TableRun>,
}

fn run_fixture_with(spec: &SessionConfigSpec) -> Run {
    run_fixture_opts(TransformOptions {
        session: spec.clone(),
        ..TransformOptions::default()
    })
}

fn run_fixture_opts(opts: TransformOptions) -> Run {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let layout = RunLayout::new(dir.path());
    let study = study();
    fixture::write(&study, &layout).expect("the fixture is written");
    let tables =
        run_blocking(&study, &layout, &workspace().join("queries"), &opts).expect("queries run");
    Run {
        _dir: dir,
        layout,
        tables,
    }
}

fn run_fixture() -> Run {
    run_fixture_with(&SessionConfigSpec::default())
}

/// A run folder with the profiles fixture ([`fixture::write_profiles`]) and every query run.
fn run_profiles() -> Run {
    run_profiles_with(study())
}

/// The same with another study configuration (e.g. other periods).
fn run_profiles_with(study: Study) -> Run {
    run_profiles_from(study, |_| {})
}

/// The profiles fixture with its participants edited (a case it lacks), every query run.
fn run_profiles_edited(edit: impl FnOnce(&mut Vec<fixture::ProfileRow>)) -> Run {
    run_profiles_from(study(), edit)
}

fn run_profiles_from(study: Study, edit: impl FnOnce(&mut Vec<fixture::ProfileRow>)) -> Run {
    run_written(study, |study, layout| {
        fixture::write_profiles_edited(study, layout, edit)
    })
}

/// A run folder that `write` fills with ingest's datasets, every query run over it.
fn run_written(study: Study, write: impl FnOnce(&Study, &RunLayout) -> crate::Result<()>) -> Run {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let layout = RunLayout::new(dir.path());
    write(&study, &layout).expect("the fixture is written");
    let tables = run_blocking(
        &study,
        &layout,
        &workspace().join("queries"),
        &TransformOptions::default(),
    )
    .expect("queries run");
    Run {
        _dir: dir,
        layout,
        tables,
    }
}

mod breakdowns;
mod decisions;

impl Run {
    /// A table as CSV text: its CSV file, or for a staging table (Parquet only) the same
    /// formatting of its Parquet file. A view (no file) is computed by the SQL the run saved
    /// beside the tables, over the tables it reads, in the order of its first columns.
    fn csv(&self, table: &str) -> String {
        let run = self.tables.iter().find(|t| t.table == table);
        match run.and_then(|t| t.header.as_ref().map(|h| (t.materialized(), h))) {
            Some((crate::Materialized::View, header)) => view_csv(&self.layout, header),
            _ => table_csv(&self.layout.table(table, "parquet")),
        }
    }

    /// Rows as column → cell text, in file order.
    fn rows(&self, table: &str) -> Vec<BTreeMap<String, String>> {
        let text = self.csv(table);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().expect("a header").clone();
        reader
            .records()
            .map(|r| {
                let r = r.expect("a CSV record");
                header
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }

    /// The one row whose columns have these values.
    fn row_where(&self, table: &str, key: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut found: Vec<_> = self
            .rows(table)
            .into_iter()
            .filter(|r| {
                key.iter()
                    .all(|(c, v)| r.get(*c).map(String::as_str) == Some(*v))
            })
            .collect();
        assert_eq!(found.len(), 1, "{table}: rows with {key:?}");
        found.remove(0)
    }

    /// The one row whose `column` is `value`.
    fn row(&self, table: &str, column: &str, value: &str) -> BTreeMap<String, String> {
        let mut found: Vec<_> = self
            .rows(table)
            .into_iter()
            .filter(|r| r.get(column).map(String::as_str) == Some(value))
            .collect();
        assert_eq!(found.len(), 1, "{table}: rows with {column} = {value}");
        found.remove(0)
    }
}

/// `check(table, expected)`: one table's cell, by row key, against a hand-computed value.
fn check(run: &Run, table: &str, key: (&str, &str), expected: &[(&str, &str)]) {
    let row = run.row(table, key.0, key.1);
    for (column, value) in expected {
        assert_eq!(
            row.get(*column).map(String::as_str),
            Some(*value),
            "{table} [{} = {}].{column}",
            key.0,
            key.1
        );
    }
}

/// The CSV as an aligned text table, for snapshots people review.
fn aligned(csv_text: &str) -> String {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv_text.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            r.expect("a CSV record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect();
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        out.push_str(cells.join(" | ").trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn golden_tables() {
    let run = run_fixture();
    let snapshots = workspace().join("tests/snapshots");
    for t in run.tables.iter().filter(|t| t.kind != TableKind::Reference) {
        insta::with_settings!({
            snapshot_path => &snapshots,
            prepend_module_to_snapshot => false,
            description => t.header.as_ref().map(|h| h.produces.clone()).unwrap_or_default(),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(format!("transform__{}", t.table), aligned(&run.csv(&t.table)));
        });
    }
}

#[test]
fn runs_each_query_after_the_tables_it_reads() {
    let run = run_fixture();
    let staging: Vec<&str> = run
        .tables
        .iter()
        .filter(|t| t.kind == TableKind::Staging)
        .map(|t| t.table.as_str())
        .collect();
    // In waves: everything whose tables exist runs together (file-name order within a wave),
    // so a query waits for what it reads — `answer_counts` for `answer_shares`,
    // `participant_characteristics` for `participant_categories`, `participant_outcomes` for
    // `validated_claims`, `lot_profiles` and `outcome_rates` for the second wave's, and
    // `characteristic_counts` (the lots' counts added up) for the third's.
    assert_eq!(
        staging,
        [
            "answer_shares",
            "participant_actions",
            "participant_categories",
            "validated_claims",
            "answer_counts",
            "participant_characteristics",
            "participant_outcomes",
            "lot_profiles",
            "outcome_rates",
            "characteristic_counts",
        ]
    );
    let kinds: Vec<TableKind> = run
        .tables
        .iter()
        .filter(|t| t.kind != TableKind::Reference)
        .map(|t| t.kind)
        .collect();
    assert!(
        kinds.is_sorted_by_key(|k| *k == TableKind::Output),
        "staging tables come before output tables"
    );
    // Output queries read only staging and reference tables, so they run in file-name order.
    let outputs: Vec<&str> = run
        .tables
        .iter()
        .filter(|t| t.kind == TableKind::Output)
        .map(|t| t.table.as_str())
        .collect();
    assert!(outputs.is_sorted(), "{outputs:?}");
    let mut written = std::collections::BTreeSet::new();
    for t in &run.tables {
        for read in t.header.iter().flat_map(|h| &h.reads) {
            assert!(
                written.contains(read) || crate::INPUT_TABLES.contains(&read.as_str()),
                "`{}` ran before `{read}`, which it reads",
                t.table
            );
        }
        written.insert(t.table.clone());
    }
    // Reference tables are written where people can open them.
    assert!(
        run.layout
            .tables_dir()
            .join("reference/code_groups.csv")
            .is_file()
    );
}

#[test]
fn participants_by_cohort_is_of_all_mi_participants() {
    let run = run_fixture();
    // 10 MI participants: HTH 4, HTR 2, RP 3, EMP 1. The claims-only p99 is not in the MI.
    let t = "participants_by_cohort";
    check(
        &run,
        t,
        ("cohort_code", "HTR"),
        &[("participants", "2"), ("pct", "0.200000"), ("n", "10")],
    );
    check(
        &run,
        t,
        ("cohort_code", "HTH"),
        &[("participants", "4"), ("pct", "0.400000")],
    );
    check(
        &run,
        t,
        ("cohort_code", "RP"),
        &[("participants", "3"), ("pct", "0.300000")],
    );
    check(
        &run,
        t,
        ("cohort_code", "EMP"),
        &[("participants", "1"), ("pct", "0.100000")],
    );
    check(
        &run,
        t,
        ("is_total", "true"),
        &[("participants", "10"), ("pct", "1.000000")],
    );
    // Report Table 2-1 order: HTR, HTH, RP, EMP, then the total.
    let codes: Vec<String> = run
        .rows(t)
        .iter()
        .map(|r| r["cohort_code"].clone())
        .collect();
    assert_eq!(codes, ["HTR", "HTH", "RP", "EMP", ""]);
}

#[test]
fn outcomes_are_completed_from_counted_claims_only() {
    let run = run_fixture();
    let t = "participant_outcomes";
    // p02: no job start in the MI, a validated JS claim: the claim completes it.
    check(
        &run,
        t,
        ("participant_id", "p02"),
        &[
            ("is_job_start", "true"),
            ("job_start_date", "2019-06-03"),
            ("mi_job_start_date", ""),
            ("is_sustained_13", "true"),
        ],
    );
    // p04: the JS claim was rejected and the EMB claim queried: MI dates stand, no claim dates.
    check(
        &run,
        t,
        ("participant_id", "p04"),
        &[
            ("is_job_start", "true"),
            ("job_start_date", "2020-09-01"),
            ("claim_job_start_date", ""),
            ("claim_embedded_date", ""),
            ("is_claims_matched", "true"),
        ],
    );
    // p09: both have a progression; the audited claim's date wins.
    check(
        &run,
        t,
        ("participant_id", "p09"),
        &[
            ("progression_date", "2020-10-05"),
            ("mi_progression_date", "2020-10-01"),
            ("is_embedded", "false"),
        ],
    );
    // p07: sustained 52 weeks only in the claims.
    check(
        &run,
        t,
        ("participant_id", "p07"),
        &[("is_sustained_52", "true"), ("is_out_of_work", "true")],
    );
    let rows = run.rows(t);
    assert_eq!(
        rows.len(),
        10,
        "one row per MI participant; claims-only p99 left out"
    );
    let count = |col: &str| rows.iter().filter(|r| r[col] == "true").count();
    assert_eq!(count("is_job_start"), 6); // p01 p02 p04 p06 p07 p09
    assert_eq!(count("is_sustained_13"), 4); // p01 p02 p06 p07
    assert_eq!(count("is_embedded"), 8); // all but p03 and p09
}

#[test]
fn claims_performance_counts_distinct_participants_with_counted_claims() {
    let run = run_fixture();
    let t = "claims_performance";
    // 11 registered (incl. p99, claims only); 7 counted EMB claims (p04's was queried).
    check(
        &run,
        t,
        ("milestone_code", "REG"),
        &[
            ("achieved", "11"),
            ("target", ""),
            ("pct_of_target", ""),
            ("n", "11"),
        ],
    );
    check(
        &run,
        t,
        ("milestone_code", "EMB"),
        &[
            ("achieved", "7"),
            ("target", "3970"),
            // 4 of 11 registrants did not embed.
            ("pct_of_registered_not_reached", "0.363636"),
        ],
    );
    // JS: p01 p02 p07 p09 (p04 rejected) → 4 of a target of 1,060.
    let js = run.row(t, "milestone_code", "JS");
    assert_eq!(js["achieved"], "4");
    assert_eq!(js["pct_of_target"], crate::float(4.0 / 1060.0));
    check(&run, t, ("milestone_code", "S52"), &[("achieved", "1")]);
    // A milestone as a share of the one before, where both are paid for the same cohorts: 7 of
    // 11 registered embedded, 3 of 4 job starters (p01 p02 p07) sustained 13 weeks, 1 of 3 (p07)
    // 26 weeks and 1 of 1 52 weeks. Registration has no previous milestone. The job start is
    // not a share of the embedded: 4 of 7 would count p10, employed, who cannot claim one. Nor
    // is in-work progression (p09, p10) one of 52-week sustainment: 2 / 1 must not appear.
    for (milestone, pct) in [
        ("REG", ""),
        ("EMB", "0.636364"),
        ("JS", ""),
        ("S13", "0.750000"),
        ("S26", "0.333333"),
        ("S52", "1.000000"),
        ("PROG", ""),
    ] {
        check(
            &run,
            t,
            ("milestone_code", milestone),
            &[("pct_of_previous", pct)],
        );
    }
    let order: Vec<String> = run
        .rows(t)
        .iter()
        .map(|r| r["milestone_code"].clone())
        .collect();
    assert_eq!(order, ["REG", "EMB", "JS", "S13", "S26", "S52", "PROG"]);
}

#[test]
fn progression_claims_split_by_status_at_start() {
    let run = run_fixture();
    let t = "progression_claims_by_start_status";
    // p09 (RP, out of work at the start) and p10 (EMP, in work): one each of two.
    check(
        &run,
        t,
        ("group_label", "Out of work"),
        &[("claims", "1"), ("pct", "0.500000"), ("n", "2")],
    );
    check(
        &run,
        t,
        ("group_label", "In work"),
        &[("claims", "1"), ("pct", "0.500000")],
    );
}

#[test]
fn payments_sum_counted_claims_only() {
    let run = run_fixture();
    let rows = run.rows("claims_payments_by_cohort");
    let cell = |cohort: &str, milestone: &str| {
        rows.iter()
            .find(|r| r["cohort_code"] == cohort && r["milestone_code"] == milestone)
            .cloned()
            .expect("a grid row")
    };
    // HTH job starts: p01 and p02 at £889 each; p04's rejected claim is not paid.
    assert_eq!(cell("HTH", "JS")["claims"], "2");
    assert_eq!(cell("HTH", "JS")["amount_gbp"], "1778.00");
    assert_eq!(cell("EMP", "JS")["is_eligible"], "false");
    assert_eq!(cell("EMP", "JS")["claims"], "0");
    // 31 claims in the fixture, 2 not validated.
    assert_eq!(cell("HTR", "REG")["n"], "29");
    assert_eq!(rows.len(), 4 * 7);
}

#[test]
fn how_heard_counts_a_participant_once_per_group() {
    let run = run_fixture();
    let t = "how_heard";
    // Heard data for p01–p05 (p05 only a "no") → N = 5. p02 ticked social media and outreach,
    // both "Other": one participant, not two.
    check(
        &run,
        t,
        ("group_label", "Other"),
        &[("participants", "2"), ("pct", "0.400000"), ("n", "5")],
    );
    check(
        &run,
        t,
        ("group_label", "Leaflets/ Event"),
        &[("participants", "1"), ("pct", "0.200000")],
    );
    check(
        &run,
        t,
        ("group_label", "Other Organisation"),
        &[("participants", "0"), ("pct", "0.000000")],
    );
    let groups: Vec<String> = run
        .rows(t)
        .iter()
        .map(|r| r["group_label"].clone())
        .collect();
    assert_eq!(
        groups,
        [
            "Leaflets/ Event",
            "Jobcentre Plus",
            "Friends/Family",
            "Other Organisation",
            "Other"
        ]
    );
}

#[test]
fn barriers_are_ranked_with_n_of_participants_with_barrier_data() {
    let run = run_fixture();
    let t = "barriers";
    // Barrier data for p01 p02 p03 p06 (p06 only "no"s) → N = 4.
    check(
        &run,
        t,
        ("option", "employability"),
        &[
            ("participants", "3"),
            ("pct", "0.750000"),
            ("rank", "1"),
            ("n", "4"),
        ],
    );
    check(
        &run,
        t,
        ("option", "confidence"),
        &[("participants", "2"), ("pct", "0.500000"), ("rank", "2")],
    );
    check(
        &run,
        t,
        ("option", "esol"),
        &[("participants", "1"), ("pct", "0.250000"), ("rank", "3")],
    );
    // A "no" is data, not a yes.
    check(
        &run,
        t,
        ("option", "debt"),
        &[("participants", "0"), ("rank", "4")],
    );
    assert_eq!(run.rows(t).len(), 14, "every barrier of the code list");
}

#[test]
fn agreed_actions_ignore_completed_actions() {
    let run = run_fixture();
    let t = "agreed_actions";
    // Agreed-action data for p01 p02 p07 → N = 3; cv yes for p01 p02 (p07 said no).
    check(
        &run,
        t,
        ("option", "cv"),
        &[("participants", "2"), ("pct", "0.666667"), ("n", "3")],
    );
    // p01 *completed* an interview; only p07 agreed one.
    check(
        &run,
        t,
        ("option", "interview"),
        &[("participants", "1"), ("rank", "2")],
    );
    check(
        &run,
        t,
        ("option", "apply_job"),
        &[("participants", "1"), ("rank", "2")],
    );
    // Ties keep code-list order: apply_job (2nd in the list) before interview (5th).
    let options: Vec<String> = run
        .rows(t)
        .iter()
        .take(3)
        .map(|r| r["option"].clone())
        .collect();
    assert_eq!(options, ["cv", "apply_job", "interview"]);
}

#[test]
fn percentages_are_exact_floats_in_parquet() {
    let run = run_fixture();
    let file = std::fs::File::open(run.layout.table("agreed_actions", "parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
    let pct = batches[0]
        .column_by_name("pct")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::Float64Array>()
        .unwrap();
    assert_eq!(pct.value(0), 2.0 / 3.0);
}

#[test]
fn outputs_are_byte_identical_across_runs_partitions_and_memory() {
    let a = run_fixture();
    let b = run_fixture();
    let c = run_fixture_with(&SessionConfigSpec {
        target_partitions: 4,
        batch_size: 3,
        ..Default::default()
    });
    // A memory limit of 8 MiB, a small part of any machine's: whatever the engine spills under
    // it, the tables must not change. One query at a time: with two at once, a sort was
    // sometimes left less of the 8 MiB than it needs to spill at all, beside the other query's
    // reservations (a reader of the view `participant_characteristics` aggregates each
    // characteristic's branch apart), and the run failed naming the query: not what this tests.
    let spilled = run_fixture_opts(TransformOptions {
        session: SessionConfigSpec {
            memory_limit: 8 << 20,
            ..Default::default()
        },
        queries_at_once: Some(1),
        ..TransformOptions::default()
    });
    for t in &a.tables {
        // A view has no file; its rows are its readers'.
        let Some(parquet) = &t.parquet else {
            assert_eq!(t.materialized(), crate::Materialized::View, "{}", t.table);
            continue;
        };
        let name = parquet.file_name().unwrap();
        let file = |run: &Run| {
            let other = run.tables.iter().find(|x| x.table == t.table).unwrap();
            other.parquet.clone().expect("a table in every run")
        };
        assert_eq!(
            std::fs::read(parquet).unwrap(),
            std::fs::read(file(&b)).unwrap(),
            "{name:?} differs between two runs"
        );
        let other = b.tables.iter().find(|x| x.table == t.table).unwrap();
        assert_eq!(t.csv.is_some(), t.kind != TableKind::Staging, "{name:?}");
        if let (Some(csv), Some(other)) = (&t.csv, &other.csv) {
            assert_eq!(std::fs::read(csv).unwrap(), std::fs::read(other).unwrap());
        }
        assert_eq!(
            std::fs::read(parquet).unwrap(),
            std::fs::read(file(&spilled)).unwrap(),
            "{name:?} differs when the engine spills"
        );
        assert_eq!(
            table_csv(parquet),
            table_csv(&file(&c)),
            "{} depends on the partitioning",
            t.table
        );
    }
}

/// A view's rows in the transform's CSV format, ordered by every column: its SQL as the run
/// saved it, over the Parquet tables it reads.
fn view_csv(layout: &RunLayout, header: &crate::QueryHeader) -> String {
    let sql = std::fs::read_to_string(layout.table(&header.table, "sql")).expect("the view's SQL");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = crate::session(&SessionConfigSpec::default()).unwrap();
        for read in &header.reads {
            let path = layout.table(read, "parquet");
            ctx.register_parquet(read, path.to_str().unwrap(), Default::default())
                .await
                .unwrap();
        }
        let frame = ctx.sql(&sql).await.unwrap();
        let columns: Vec<_> = frame
            .schema()
            .fields()
            .iter()
            .map(|f| datafusion::prelude::col(format!("\"{}\"", f.name())).sort(true, true))
            .collect();
        let frame = frame.sort(columns).unwrap();
        let schema = std::sync::Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.unwrap();
        crate::csv_text(&schema, &batches).expect("CSV text")
    })
}

/// A Parquet table in the transform's CSV format.
fn table_csv(parquet: &Path) -> String {
    let file = std::fs::File::open(parquet).expect("the table's Parquet");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file")
        .build()
        .expect("a reader");
    let schema = arrow::record_batch::RecordBatchReader::schema(&reader);
    let batches: Vec<_> = reader.map(|b| b.expect("a batch")).collect();
    crate::csv_text(&schema, &batches).expect("CSV text")
}

/// A scratch queries folder with one file, run over the fixture.
fn run_one(file: &str, sql: &str) -> crate::Result<Vec<TableRun>> {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let queries = dir.path().join("queries");
    std::fs::create_dir_all(&queries).unwrap();
    std::fs::write(queries.join(file), sql).unwrap();
    let study = study();
    fixture::write(&study, &layout).unwrap();
    run_blocking(&study, &layout, &queries, &TransformOptions::default())
}

const HEADER: &str = "-- table: t\n-- produces: test\n-- grain: one row\n\
                      -- reads: participants\n-- base (N): all\n-- checks: none\n";

#[test]
fn an_invalid_query_is_a_plan_error_naming_file_and_table() {
    let e = run_one(
        "t.sql",
        &format!("{HEADER}select no_such_column from participants"),
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Plan { table, .. } if table == "t"),
        "{e:?}"
    );
    assert!(e.to_string().contains("t.sql"), "{e}");
}

#[test]
fn reads_must_match_the_sql() {
    let e = run_one("t.sql", &format!("{HEADER}select * from claims")).unwrap_err();
    assert!(e.to_string().contains("reads `claims`"), "{e}");
}

#[test]
fn a_query_may_not_write() {
    let e = run_one(
        "t.sql",
        &format!("{HEADER}insert into participants select * from participants"),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Plan { .. }), "{e:?}");
}

#[test]
fn missing_ingest_output_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path());
    let e = run_blocking(
        &study(),
        &layout,
        &workspace().join("queries"),
        &TransformOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::MissingInput { .. }), "{e:?}");
}

#[test]
fn a_rerun_copies_every_table_whose_sql_and_inputs_did_not_change() {
    let study = study();
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, queries: &Path, reuse: Option<PathBuf>| {
        let layout = RunLayout::new(dir.path().join(name));
        fixture::write_profiles(&study, &layout).unwrap();
        let opts = TransformOptions {
            reuse_from: reuse,
            ..TransformOptions::default()
        };
        let tables = run_blocking(&study, &layout, queries, &opts).unwrap();
        (layout, tables)
    };
    let (first, _) = run("first", &workspace().join("queries"), None);

    // A copy of the queries with one output query and one staging query edited (a comment).
    let queries = dir.path().join("queries");
    for entry in ["", "staging"] {
        let from = workspace().join("queries").join(entry);
        std::fs::create_dir_all(queries.join(entry)).unwrap();
        for f in std::fs::read_dir(&from).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "sql") {
                std::fs::copy(&p, queries.join(entry).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    for file in ["how_heard.sql", "staging/answer_counts.sql"] {
        let path = queries.join(file);
        let sql = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{sql}\n-- edited\n")).unwrap();
    }
    let (second, tables) = run("second", &queries, Some(first.tables_dir()));
    let reused = |t: &str| tables.iter().find(|r| r.table == t).unwrap().reused;
    // Edited: run. Reading an edited table: run. Everything else: copied.
    assert!(!reused("how_heard"));
    assert!(!reused("answer_counts"));
    assert!(
        !reused("barriers") && !reused("agreed_actions"),
        "they read answer_counts"
    );
    assert!(reused("outcome_rates") && reused("answer_shares"));
    assert!(reused("how_heard_by_cohort") && reused("characteristics_sex"));
    let ran = tables
        .iter()
        .filter(|t| t.kind != TableKind::Reference && !t.reused)
        .filter(|t| t.materialized() == crate::Materialized::Table)
        .count();
    assert_eq!(ran, 4);

    // The same bytes as a run that computed everything.
    let (fresh, _) = run("fresh", &queries, None);
    for t in ["characteristics_sex", "how_heard", "barriers", "catalog"] {
        for ext in ["parquet", "csv"] {
            assert_eq!(
                std::fs::read(second.table(t, ext)).unwrap(),
                std::fs::read(fresh.table(t, ext)).unwrap(),
                "{t}.{ext}"
            );
        }
    }
}

#[test]
fn progress_reports_each_table_once_its_files_are_complete() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let layout = RunLayout::new(dir.path());
    let study = study();
    fixture::write(&study, &layout).expect("the fixture is written");
    let events = std::sync::Mutex::new(Vec::new());
    let progress = |p: crate::Progress| {
        let crate::Progress::Table {
            table,
            kind,
            materialized,
            ..
        } = &p;
        // The contract a caller may rely on: the table can be read when it is reported (a
        // view, by the queries of the run).
        let exts: &[&str] = match (kind, materialized) {
            (_, crate::Materialized::View) => &[],
            (TableKind::Staging, _) => &["parquet"],
            _ => &["parquet", "csv"],
        };
        for ext in exts {
            assert!(
                layout.table(table, ext).is_file(),
                "{table}.{ext} not written"
            );
        }
        events.lock().unwrap().push(p);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tables = runtime
        .block_on(crate::run_with_progress(
            &study,
            &layout,
            &workspace().join("queries"),
            &TransformOptions::default(),
            &progress,
        ))
        .expect("queries run");
    let queried: Vec<&TableRun> = tables
        .iter()
        .filter(|t| t.kind != TableKind::Reference)
        .collect();
    let events = events.into_inner().unwrap();
    assert_eq!(events.len(), queried.len());
    // Events come as tables finish (in any order); each table once, counted in order.
    let mut reported = std::collections::BTreeSet::new();
    for (i, e) in events.iter().enumerate() {
        let crate::Progress::Table {
            table,
            kind,
            done,
            total,
            rows,
            reused,
            ..
        } = e;
        let t = queried.iter().find(|t| &t.table == table).expect("a table");
        assert!(reported.insert(table.clone()), "{table} reported twice");
        assert_eq!(
            (*kind, *done, *total, *rows, *reused),
            (t.kind, i + 1, queried.len(), t.rows, false),
            "{table}"
        );
    }
}

/// The runner the Framework stage counts with: the transform's rules (a query after the tables
/// it reads, whatever the file order; the header's `reads` exactly what the SQL reads), in
/// memory.
#[test]
fn the_in_memory_runner_orders_by_reads_and_holds_headers_to_their_sql() {
    use arrow::array::{Int64Array, RecordBatch};
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, reads: &str, sql: &str| {
        std::fs::write(
            dir.path().join(format!("{name}.sql")),
            format!(
                "-- table:    {name}\n-- produces: a test table\n-- grain:    one row\n\
                 -- reads:    {reads}\n-- base (N): n/a\n-- checks:   none\n{sql}\n"
            ),
        )
        .unwrap();
    };
    // `a_total` reads `b_doubled`, made by a later file.
    write(
        "a_total",
        "b_doubled",
        "select sum(x) as total from b_doubled",
    );
    write("b_doubled", "numbers", "select x * 2 as x from numbers");
    let run = |queries: &[crate::QueryFile]| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let ctx = datafusion::prelude::SessionContext::new();
            let numbers = RecordBatch::try_from_iter([(
                "x",
                std::sync::Arc::new(Int64Array::from(vec![1, 2, 3])) as _,
            )])
            .unwrap();
            ctx.register_batch("numbers", numbers).unwrap();
            let seen = std::sync::Mutex::new(Vec::new());
            let tables = crate::run_in_memory(&ctx, queries, &|t, done, total| {
                seen.lock().unwrap().push(format!("{t} {done}/{total}"))
            })
            .await?;
            Ok::<_, crate::Error>((tables, seen.into_inner().unwrap()))
        })
    };
    let queries = crate::read_queries(dir.path()).unwrap();
    let (tables, seen) = run(&queries).unwrap();
    assert_eq!(seen, ["b_doubled 1/2", "a_total 2/2"]);
    let names: Vec<&str> = tables.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["a_total", "b_doubled"], "listed in file order");
    let total = tables[0].2[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(total, 12);

    // A header that hides a table its SQL reads is refused, naming the query.
    write(
        "b_doubled",
        "numbers",
        "select x * 2 as x from numbers, a_total",
    );
    let e = run(&crate::read_queries(dir.path()).unwrap()).unwrap_err();
    assert!(e.to_string().contains("b_doubled.sql"), "{e}");
    // A table nothing makes.
    write("b_doubled", "nowhere", "select x from nowhere");
    let e = run(&crate::read_queries(dir.path()).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("b_doubled.sql") && e.contains("names nowhere, which is neither"),
        "{e}"
    );
}

/// The characteristics are template columns: a `[[characteristic]]` added to the study (here a
/// second grouping of gender and a second banding of age) becomes a column of
/// `participant_categories` and rows of `participant_characteristics` with no SQL edited, each
/// participant in the same category as under the original; the SQL that ran is written beside
/// the table, and a plain query's is not.
#[test]
fn a_characteristic_added_to_the_study_is_a_column_with_no_sql_edited() {
    let mut study = study();
    let copy_of = |name: &str, new: &str| {
        let mut c = study
            .characteristics
            .iter()
            .find(|c| c.name == name)
            .expect("configured")
            .clone();
        c.name = new.into();
        c
    };
    let added = [
        copy_of("sex", "sex_again"),
        copy_of("age_band", "age_again"),
    ];
    study.characteristics.extend(added);
    let run = run_profiles_with(study);
    let wide = run.rows("participant_categories");
    assert!(wide.len() > 10, "{} participants", wide.len());
    for (original, again) in [("sex", "sex_again"), ("age_band", "age_again")] {
        assert!(wide.iter().all(|r| r[original] == r[again]), "{again}");
        assert!(
            wide.iter().any(|r| !r[again].is_empty()),
            "{again} has data"
        );
        let long = run.rows("participant_characteristics");
        let of = |name: &str| -> Vec<(String, String, String)> {
            long.iter()
                .filter(|r| r["characteristic"] == name)
                .map(|r| {
                    let place = r["place"].clone();
                    (place, r["category_order"].clone(), r["category"].clone())
                })
                .collect()
        };
        assert_eq!(of(original), of(again), "{again}");
    }
    let rendered =
        std::fs::read_to_string(run.layout.table("participant_categories", "sql")).unwrap();
    assert!(rendered.contains("end as \"sex_again\""), "{rendered}");
    assert!(!rendered.contains("{%") && !rendered.contains("{{"));
    assert!(!run.layout.table("participants_by_cohort", "sql").exists());
}

/// A template that does not render stops the run naming the file, before any query runs.
#[test]
fn a_template_that_does_not_render_names_the_file() {
    let sql = format!("{HEADER}select {{{{ characteristics[0].nme }}}} from participants\n");
    let e = run_one("t.sql", &sql).unwrap_err().to_string();
    assert!(
        e.contains("t.sql: the query is a template that does not render"),
        "{e}"
    );
}

/// `materialized: view`: a staging query with no file, whose readers compute its rows; its
/// readers' tables are the same as reading the rows it would have written, and the catalogue
/// says view with no row count. A query people read may not be one.
#[test]
fn a_view_has_no_file_and_its_readers_compute_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let queries = dir.path().join("queries");
    std::fs::create_dir_all(queries.join("staging")).unwrap();
    let header = |table: &str, reads: &str, extra: &str| {
        format!(
            "-- table: {table}\n-- produces: test\n-- grain: one row\n-- reads: {reads}\n\
             -- base (N): all\n-- checks: none\n{extra}"
        )
    };
    let lots = "select lot_code, place from participants where lot_code is not null";
    let count = |from: &str| {
        format!("select lot_code, count(*) as n from {from} group by lot_code order by lot_code\n")
    };
    for (file, sql) in [
        (
            "staging/lot_places.sql",
            format!(
                "{}{lots}\n",
                header("lot_places", "participants", "-- materialized: view\n")
            ),
        ),
        (
            "staging/lot_places_written.sql",
            format!(
                "{}{lots}\norder by place\n",
                header("lot_places_written", "participants", "")
            ),
        ),
        (
            "from_view.sql",
            format!(
                "{}{}",
                header("from_view", "lot_places", ""),
                count("lot_places")
            ),
        ),
        (
            "from_table.sql",
            format!(
                "{}{}",
                header("from_table", "lot_places_written", ""),
                count("lot_places_written")
            ),
        ),
    ] {
        std::fs::write(queries.join(file), sql).unwrap();
    }
    let study = study();
    fixture::write(&study, &layout).unwrap();
    let tables = run_blocking(&study, &layout, &queries, &TransformOptions::default()).unwrap();
    let view = tables.iter().find(|t| t.table == "lot_places").unwrap();
    assert_eq!(view.materialized(), crate::Materialized::View);
    assert!(view.parquet.is_none() && view.csv.is_none());
    assert!(!layout.table("lot_places", "parquet").exists());
    let (from_view, from_table) = (
        std::fs::read_to_string(layout.table("from_view", "csv")).unwrap(),
        std::fs::read_to_string(layout.table("from_table", "csv")).unwrap(),
    );
    assert_eq!(from_view, from_table);
    assert!(from_view.lines().count() > 2, "{from_view}");
    let catalog = std::fs::read_to_string(layout.table("catalog", "csv")).unwrap();
    let row = catalog
        .lines()
        .find(|l| l.starts_with("lot_places,"))
        .unwrap();
    assert!(
        row.starts_with("lot_places,staging,view,") && row.ends_with(','),
        "{row}"
    );

    // A table people read is written, never a view.
    let e = run_one(
        "t.sql",
        &format!("{HEADER}-- materialized: view\nselect 1 as one\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("t.sql") && e.contains("is for a staging table"),
        "{e}"
    );
}
