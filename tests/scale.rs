//! A scaled run (issue 15): 25 whole copies of the twin (99,150 participants, about 100k), run
//! by the binary as users run it, against the twin run and against the same data processed in
//! one batch.
//!
//! Whole copies make the expected answer exact without computing it again: every count is 25
//! times the twin's, every rate and odds ratio the twin's. And the transform's queries and the
//! models, run again over the same ingest with batches larger than any table, must give the same
//! rows, and the published CSVs the same bytes: the streaming paths (batch-at-a-time writing,
//! cells accumulated batch by batch) change nothing but memory.

use std::collections::BTreeMap;
use std::path::Path;

use evalpipe_study::{RunLayout, Study};

use crate::support::{csv_records as records, files_under, repo};
use crate::{evalpipe, twin_run};

/// Copies of the twin in the scaled extract.
const COPIES: usize = 25;
const TWIN_PARTICIPANTS: usize = 3966;

#[test]
fn a_scaled_run_is_the_twin_times_25_and_one_batch_gives_the_same_tables() {
    let twin = twin_run();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scaled");
    let run = tmp.path().join("run");
    let timings = tmp.path().join("timings.json");
    let participants = (COPIES * TWIN_PARTICIPANTS).to_string();
    evalpipe(&[
        "synth",
        "--quiet",
        "--participants",
        &participants,
        "--out",
        data.to_str().unwrap(),
    ]);
    evalpipe(&[
        "run",
        "--quiet",
        "--no-pdf",
        "--data",
        data.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--timings",
        timings.to_str().unwrap(),
    ]);
    check_timings(&timings, &run);

    // Every output table: the same rows and labels as the twin's, each number either the
    // twin's (a rate, a share, a label such as a month) or 25 times it (a count, a sum of money).
    let mut multiplied = 0;
    let mut tables = 0;
    for twin_csv in std::fs::read_dir(twin.dir.join("tables")).unwrap() {
        let twin_csv = twin_csv.unwrap().path();
        if twin_csv.extension().is_none_or(|e| e != "csv") {
            continue;
        }
        let name = twin_csv.file_name().unwrap().to_string_lossy().into_owned();
        if name == "catalog.csv" {
            continue;
        }
        let expected = records(&twin_csv);
        let got = records(&run.join("tables").join(&name));
        assert_eq!(got.len(), expected.len(), "{name}: rows");
        tables += 1;
        for (row, (g, e)) in got.iter().zip(&expected).enumerate() {
            for ((column, g), (_, e)) in g.iter().zip(e) {
                let at = format!("{name} row {} `{column}`", row + 1);
                match (g.parse::<f64>(), e.parse::<f64>()) {
                    (Ok(g), Ok(e)) => {
                        let same = (g - e).abs() <= 1e-6 * e.abs().max(1.0);
                        // The twin's figure is rounded to 6 decimals, so 25 times it to 25 times that.
                        let times = (g - e * COPIES as f64).abs()
                            <= COPIES as f64 * 1e-6 * e.abs().max(1.0);
                        assert!(same || times, "{at}: {g}, the twin's {e}");
                        if times && !same {
                            multiplied += 1;
                        }
                    }
                    _ => assert_eq!(g, e, "{at}"),
                }
            }
        }
    }
    assert!(tables > 50, "{tables} tables compared");
    assert!(
        multiplied > 1000,
        "only {multiplied} counts were multiplied"
    );
    let cohorts = records(&run.join("tables/participants_by_cohort.csv"));
    let by_cohort: usize = cohorts
        .iter()
        .filter(|r| r["is_total"] == "false")
        .map(|r| r["participants"].parse::<usize>().unwrap())
        .sum();
    assert_eq!(by_cohort, COPIES * TWIN_PARTICIPANTS);
    assert!(cohorts.iter().all(|r| r["n"] == by_cohort.to_string()));

    // The models: 25 copies of every case leave the estimate where it was and divide each
    // standard error by 5.
    for model in ["job_outcome", "sustained_13", "progression"] {
        let path = |dir: &Path| dir.join(format!("tables/models/{model}/coefficients.csv"));
        let twin_rows = records(&path(&twin.dir));
        let rows = records(&path(&run));
        assert_eq!(rows.len(), twin_rows.len(), "{model}");
        for (r, t) in rows.iter().zip(&twin_rows) {
            let value = |row: &BTreeMap<String, String>, c: &str| -> f64 {
                row[c]
                    .parse()
                    .unwrap_or_else(|_| panic!("{model} {c}: {}", row[c]))
            };
            assert_eq!(r["term"], t["term"]);
            if t["b"].is_empty() {
                // A factor's joint test: no coefficient of its own.
                assert_eq!(r["b"], "", "{model} {}", r["term"]);
                continue;
            }
            let (b, tb) = (value(r, "b"), value(t, "b"));
            assert!(
                (b - tb).abs() < 1e-5,
                "{model} {}: b {b} vs {tb}",
                r["term"]
            );
            let (se, tse) = (value(r, "se"), value(t, "se"));
            let five = (COPIES as f64).sqrt();
            assert!(
                (se * five - tse).abs() < 1e-5,
                "{model} {}: se {se} × 5 vs {tse}",
                r["term"]
            );
        }
    }

    // One batch: the same ingest through the transform and the models with batches larger than
    // any table, written beside; every table file must be byte-identical.
    let whole = tmp.path().join("one-batch");
    std::fs::create_dir_all(whole.join("ingest")).unwrap();
    for f in std::fs::read_dir(run.join("ingest")).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "parquet") {
            std::fs::copy(&f, whole.join("ingest").join(f.file_name().unwrap())).unwrap();
        }
    }
    let study = Study::load(&repo().join("pipeline")).unwrap();
    let layout = RunLayout::new(&whole);
    let session = evalpipe_transform::SessionConfigSpec {
        target_partitions: 1,
        // More rows than participant_characteristics has (about 30 a participant).
        batch_size: 1 << 22,
        ..Default::default()
    };
    evalpipe_transform::run_blocking(
        &study,
        &layout,
        &repo().join("queries"),
        &evalpipe_transform::TransformOptions {
            session: session.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    evalpipe_models::run_blocking(
        &study,
        &layout,
        &evalpipe_models::ModelsOptions {
            batch_rows: 1 << 22,
            ..Default::default()
        },
    )
    .unwrap();
    // The published CSVs byte for byte; every Parquet table row for row. A staging table whose
    // `order by` leaves ties (a participant's several completed actions) may list tied rows in
    // another order when the engine's batches differ, which no published table shows.
    let streamed = run.join("tables");
    let mut compared = 0;
    for f in files_under(&whole.join("tables")) {
        let relative = f.strip_prefix(whole.join("tables")).unwrap();
        let other = streamed.join(relative);
        if f.extension().is_some_and(|e| e == "parquet") {
            assert!(
                sorted_rows(&f) == sorted_rows(&other),
                "{} has other rows in one batch",
                relative.display()
            );
        } else {
            assert!(
                std::fs::read(&f).unwrap() == std::fs::read(&other).unwrap(),
                "{} differs between the run and one batch",
                relative.display()
            );
        }
        compared += 1;
    }
    assert!(compared > 100, "{compared} files compared");
}

/// `--timings`: a span per stage, ingest's rows, and every query's table with its rows, slowest
/// first, each within the transform's span.
fn check_timings(path: &Path, run: &Path) {
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let stage = |name: &str| {
        t["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap_or_else(|| panic!("no `{name}` stage in {t}"))
            .clone()
    };
    for name in ["ingest", "transform", "models", "framework", "report"] {
        assert!(stage(name)["seconds"].as_f64().unwrap() > 0.0, "{name}");
    }
    let participants = parquet_rows(&run.join("ingest/participants.parquet"));
    let claims = parquet_rows(&run.join("ingest/claims.parquet"));
    let quarantined = stage("ingest")["rows"].as_u64().unwrap();
    assert!(
        quarantined >= participants + claims,
        "ingest read {quarantined} rows"
    );
    let transform = stage("transform");
    let (from, seconds) = (
        transform["start_seconds"].as_f64().unwrap(),
        transform["seconds"].as_f64().unwrap(),
    );
    let tables = t["tables"].as_array().unwrap();
    let catalog = records(&run.join("tables/catalog.csv"));
    assert_eq!(tables.len(), catalog.len(), "a timing per query");
    for w in tables.windows(2) {
        assert!(
            w[0]["seconds"].as_f64() >= w[1]["seconds"].as_f64(),
            "slowest first"
        );
    }
    for table in tables {
        let name = table["table"].as_str().unwrap();
        let row = catalog
            .iter()
            .find(|r| r["table"] == name)
            .unwrap_or_else(|| panic!("{name} not in the catalog"));
        // A view writes no rows: no count in either.
        let rows = table["rows"].as_u64().map(|r| r.to_string());
        assert_eq!(rows.unwrap_or_default(), row["rows"], "{name}: rows");
        let start = table["start_seconds"].as_f64().unwrap();
        let took = table["seconds"].as_f64().unwrap();
        assert!(
            start >= from - 1e-3 && start + took <= from + seconds + 1e-3,
            "{name} ran {start}+{took} s, outside the transform's {from}+{seconds} s"
        );
    }
}

fn parquet_rows(path: &Path) -> u64 {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    reader.metadata().file_metadata().num_rows() as u64
}

/// A Parquet table's rows as CSV lines, sorted.
fn sorted_rows(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let schema = arrow::record_batch::RecordBatchReader::schema(&reader);
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let text = evalpipe_transform::csv_text(&schema, &batches).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}
