//! End-to-end: the `evalpipe` binary on the embedded synthetic twin.
//!
//! One pipeline run is shared by the tests (it is the slow part); each test then checks one
//! promise: Table 2-1's counts, no identifier in any output, deterministic outputs, and a twin
//! that regenerates byte for byte from its committed seed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

// Sparse extracts cut from the twin (issue 14): their own file, beside this one.
mod plans;
mod scale;
mod sparse;
mod support;
use support::{csv_records, evalpipe, files_under, readable_text, repo};

struct Run {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

/// The twin run, made once.
fn twin_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("twin");
        evalpipe(&["run", "--quiet", "--out", dir.to_str().unwrap()]);
        Run { _tmp: tmp, dir }
    })
}

#[test]
fn table_2_1_participants_by_cohort() {
    let run = twin_run();
    let mut reader =
        csv::Reader::from_path(run.dir.join("tables/participants_by_cohort.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let code = headers.iter().position(|h| h == "cohort_code").unwrap();
    let n = headers.iter().position(|h| h == "participants").unwrap();
    let rows: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[code].to_string(), r[n].to_string())
        })
        .collect();
    let expect = [
        ("HTR", "557"),
        ("HTH", "1418"),
        ("RP", "1372"),
        ("EMP", "619"),
    ];
    for (c, count) in expect {
        assert!(
            rows.contains(&(c.to_string(), count.to_string())),
            "{c} {count} not in {rows:?}"
        );
    }
    assert!(
        rows.iter().any(|(_, count)| count == "3966"),
        "total 3966 not in {rows:?}"
    );

    let md = std::fs::read_to_string(run.dir.join("report/report.md")).unwrap();
    assert!(
        md.contains("1,418") && md.contains("3,966"),
        "report lacks Table 2-1's counts"
    );
    let html = std::fs::read_to_string(run.dir.join("report/report.html")).unwrap();
    assert!(
        html.to_lowercase().contains("synthetic"),
        "HTML report does not say it is synthetic"
    );
    assert!(
        md.to_lowercase().contains("synthetic"),
        "Markdown report does not say it is synthetic"
    );
}

#[test]
fn every_twin_row_is_accounted_for() {
    let run = twin_run();
    let text = std::fs::read_to_string(run.dir.join("ingest/validation/accounting.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut files = 0;
    for r in reader.records() {
        let r = r.unwrap();
        assert_eq!(&r[at("status")], "used", "{:?}", r);
        assert_eq!(&r[at("balances")], "true", "{:?}", r);
        assert_eq!(&r[at("file_findings")], "", "{:?}", r);
        // The twin has no blank line and no quoted line break: one line per row, plus the header.
        let lines: usize = r[at("lines")].parse().unwrap();
        let read: usize = r[at("rows_read")].parse().unwrap();
        assert_eq!(lines, read + 1, "{:?}", r);
        files += 1;
    }
    assert_eq!(files, 10, "nine MI extracts and one claims extract");
}

/// Raw identifiers of the input: provider references, postcodes and NI numbers.
fn raw_identifiers() -> BTreeSet<String> {
    let data = repo().join("data/twin");
    let mut ids = BTreeSet::new();
    let wanted = ["provider_ref", "postcode", "ni_number"];
    for f in files_under(&data) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let mut rows: Vec<Vec<String>> = Vec::new();
        if name.ends_with(".csv") {
            let bytes = std::fs::read(&f).unwrap();
            let text = String::from_utf8_lossy(&bytes)
                .trim_start_matches('\u{feff}')
                .to_string();
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            rows = r
                .records()
                .map(|x| x.unwrap().iter().map(str::to_string).collect())
                .collect();
        } else if name.ends_with(".xlsx") {
            use calamine::Reader;
            let mut wb = calamine::open_workbook_auto(&f).unwrap();
            let range = wb.worksheet_range("Participants").unwrap();
            rows = range
                .rows()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect();
        }
        let Some(header) = rows.first().cloned() else {
            continue;
        };
        for (i, h) in header.iter().enumerate() {
            if wanted.contains(&h.as_str()) {
                ids.extend(
                    rows.iter()
                        .skip(1)
                        .filter_map(|r| r.get(i))
                        .filter(|v| !v.is_empty())
                        .cloned(),
                );
            }
        }
    }
    ids
}

/// Every identifier-shaped token of a text: words of letters, digits and hyphens, alone and
/// in adjacent pairs (postcodes have a space in the middle).
fn tokens(text: &str) -> Vec<String> {
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    let mut out: Vec<String> = words
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| w.to_string())
        .collect();
    out.extend(
        words
            .windows(2)
            .filter(|p| !p[0].is_empty() && !p[1].is_empty())
            .map(|p| format!("{} {}", p[0], p[1])),
    );
    out
}

#[test]
fn no_raw_identifier_reaches_any_output() {
    let run = twin_run();
    let ids = raw_identifiers();
    assert!(
        ids.len() > 3966,
        "expected provider refs, postcodes and NI numbers, got {}",
        ids.len()
    );
    assert!(
        ids.iter().all(|id| tokens(id).contains(id)),
        "an identifier would not be found as a token"
    );
    for f in files_under(&run.dir) {
        for token in tokens(&readable_text(&f)) {
            assert!(
                !ids.contains(&token),
                "{} contains the raw identifier {token}",
                f.display()
            );
        }
    }
}
#[test]
fn two_runs_on_the_same_inputs_are_byte_identical() {
    let first = twin_run();
    let tmp = tempfile::tempdir().unwrap();
    let second = tmp.path().join("twin");
    // The second with the query engine held to 40 MiB: what it spills changes no byte. At 20
    // MiB `answer_shares`' final aggregation, which cannot spill, once found too little of the
    // pool left beside the query running with it (CI, c9d3e91). Spilling under a far tighter
    // limit, one query at a time, is the transform's 8 MiB byte-identity test.
    evalpipe(&[
        "run",
        "--quiet",
        "--memory-limit",
        "0.04",
        "--out",
        second.to_str().unwrap(),
    ]);
    let a = files_under(&first.dir);
    let b = files_under(&second);
    let rel = |fs: &[PathBuf], root: &Path| {
        fs.iter()
            .map(|f| f.strip_prefix(root).unwrap().to_path_buf())
            .collect::<Vec<_>>()
    };
    assert_eq!(rel(&a, &first.dir), rel(&b, &second));
    for (x, y) in a.iter().zip(&b) {
        assert!(
            std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
            "{} differs between runs",
            x.display()
        );
    }
}

#[test]
fn the_committed_twin_regenerates_byte_for_byte() {
    let seed = std::fs::read_to_string(repo().join("data/twin/SYNTHETIC.toml")).unwrap();
    let seed = seed
        .lines()
        .find_map(|l| l.strip_prefix("seed = "))
        .map(|s| s.trim().to_string())
        .expect("SYNTHETIC.toml records the seed");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("twin");
    evalpipe(&[
        "synth",
        "--quiet",
        "--seed",
        &seed,
        "--out",
        out.to_str().unwrap(),
    ]);
    // Both extracts: the final one and, beside it, the interim one.
    for (committed, fresh) in [("data/twin", "twin"), ("data/twin-interim", "twin-interim")] {
        let committed = files_under(&repo().join(committed));
        let fresh = files_under(&tmp.path().join(fresh));
        assert_eq!(committed.len(), fresh.len());
        for (c, f) in committed.iter().zip(&fresh) {
            assert_eq!(c.file_name(), f.file_name());
            assert!(
                std::fs::read(c).unwrap() == std::fs::read(f).unwrap(),
                "{} does not regenerate identically",
                c.display()
            );
        }
    }
}

/// The committed refreshes of `data/twin-series/` are the last two before the final one of what
/// `evalpipe synth --series` writes for the seed their `SYNTHETIC.toml` records, and the final
/// one it writes is `data/twin`.
#[test]
fn the_committed_series_refreshes_regenerate_byte_for_byte() {
    let committed = repo().join("data/twin-series");
    let mut folders: Vec<String> = std::fs::read_dir(&committed)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders, ["20210930", "20211130"]);
    let seed = std::fs::read_to_string(committed.join("20211130/SYNTHETIC.toml")).unwrap();
    let seed = seed
        .lines()
        .find_map(|l| l.strip_prefix("seed = "))
        .map(|s| s.trim().to_string())
        .expect("SYNTHETIC.toml records the seed");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("series");
    evalpipe(&[
        "synth",
        "--quiet",
        "--seed",
        &seed,
        "--series",
        out.to_str().unwrap(),
    ]);
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written[written.len() - 3..],
        ["20210930", "20211130", "20220131"]
    );
    for (committed, fresh) in [
        (committed.join("20210930"), out.join("20210930")),
        (committed.join("20211130"), out.join("20211130")),
        (repo().join("data/twin"), out.join("20220131")),
    ] {
        let committed = files_under(&committed);
        let fresh = files_under(&fresh);
        assert_eq!(committed.len(), fresh.len());
        for (c, f) in committed.iter().zip(&fresh) {
            assert_eq!(c.file_name(), f.file_name());
            assert!(
                std::fs::read(c).unwrap() == std::fs::read(f).unwrap(),
                "{} does not regenerate identically",
                c.display()
            );
        }
    }
}

/// Golden outputs of the twin run: every output table and the rendered report, as text.
/// A change here is reviewed like code (`cargo insta review`); correctness is asserted above
/// and in the stage crates against numbers we did not compute.
#[test]
fn golden_twin_outputs() {
    let run = twin_run();
    let snapshots = repo().join("tests/snapshots");
    let mut tables: Vec<PathBuf> = std::fs::read_dir(run.dir.join("tables"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        // Staging tables are one row per participant: checked through the tables built on them.
        .filter(|p| {
            !repo()
                .join("queries/staging")
                .join(p.with_extension("sql").file_name().unwrap())
                .exists()
        })
        .collect();
    tables.sort();
    assert!(tables.len() >= 7, "{tables:?}");
    insta::with_settings!({ snapshot_path => &snapshots, prepend_module_to_snapshot => false }, {
        for t in &tables {
            let name = format!("twin__{}", t.file_stem().unwrap().to_string_lossy());
            insta::assert_snapshot!(name, std::fs::read_to_string(t).unwrap());
        }
        let md = std::fs::read_to_string(run.dir.join("report/report.md")).unwrap();
        insta::assert_snapshot!("twin__report_md", md);
    });
}

fn table_column(run: &Run, table: &str, key: &str, value: &str) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(run.dir.join(format!("tables/{table}.csv"))).unwrap();
    let h = reader.headers().unwrap().clone();
    let (k, v) = (
        h.iter().position(|c| c == key).unwrap(),
        h.iter().position(|c| c == value).unwrap(),
    );
    reader
        .records()
        .map(|r| r.unwrap())
        .map(|r| (r[k].to_string(), r[v].to_string()))
        .collect()
}

/// The twin is calibrated to the published counts of Tables 4-2 and 4-3 and Figure 2-1: the
/// pipeline must get them back through ingest and SQL (report sections 4.2.4, 4.3, 2.2–2.3).
#[test]
fn published_counts_reproduce_on_the_twin() {
    let run = twin_run();
    let barriers = table_column(run, "barriers", "option", "participants");
    let published_4_2 = [
        ("employability", "3548"),
        ("confidence", "2070"),
        ("qualifications", "1597"),
        ("work_experience", "1398"),
        ("debt", "1175"),
        ("health", "749"),
        ("local_jobs", "568"),
        ("esol", "555"),
        ("childcare", "483"),
        ("transport", "369"),
    ];
    for (option, n) in published_4_2 {
        assert!(
            barriers.contains(&(option.into(), n.into())),
            "Table 4-2 {option} {n}: {barriers:?}"
        );
    }
    assert!(
        table_column(run, "barriers", "option", "n")
            .iter()
            .all(|(_, n)| n == "3882")
    );

    let actions = table_column(run, "agreed_actions", "option", "participants");
    for (option, n) in [
        ("cv", "3203"),
        ("apply_job", "2750"),
        ("match_skills", "2652"),
        ("coaching", "1169"),
        ("employer_taster", "8"),
    ] {
        assert!(
            actions.contains(&(option.into(), n.into())),
            "Table 4-3 {option} {n}: {actions:?}"
        );
    }
    assert!(
        table_column(run, "agreed_actions", "option", "n")
            .iter()
            .all(|(_, n)| n == "3594")
    );

    let claims = table_column(run, "claims_performance", "milestone_code", "achieved");
    for (m, n) in [
        ("EMB", "3255"),
        ("JS", "1123"),
        ("S13", "768"),
        ("S26", "602"),
        ("S52", "349"),
        ("PROG", "458"),
    ] {
        assert!(
            claims.contains(&(m.into(), n.into())),
            "Figure 2-1 {m} {n}: {claims:?}"
        );
    }
    // Published percentages of target: 82, 106, 89, 85, 66, 46 (whole per cent).
    let pct = table_column(run, "claims_performance", "milestone_code", "pct_of_target");
    for (m, p) in [
        ("EMB", 82.0),
        ("JS", 106.0),
        ("S13", 89.0),
        ("S26", 85.0),
        ("S52", 66.0),
        ("PROG", 46.0),
    ] {
        let got: f64 = pct.iter().find(|(c, _)| c == m).unwrap().1.parse().unwrap();
        assert_eq!((got * 100.0).round(), p, "{m} % of target");
    }
}

#[test]
fn annex_workbook_has_a_sheet_per_table_with_title_n_and_cells() {
    use calamine::{Data, Reader};
    let run = twin_run();
    let mut wb = calamine::open_workbook_auto(run.dir.join("report/annex.xlsx")).unwrap();
    let names = wb.sheet_names();
    for expected in [
        "Contents",
        "participants_by_cohort",
        "barriers",
        "agreed_actions",
        "claims_performance",
        "how_heard",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "no sheet {expected} in {names:?}"
        );
    }
    assert!(
        !names.contains(&"participant_outcomes".to_string()),
        "staging tables are not annex tables"
    );
    let sheet = wb.worksheet_range("participants_by_cohort").unwrap();
    let cell = |r: u32, c: u32| sheet.get_value((r, c)).cloned().unwrap_or(Data::Empty);
    assert_eq!(
        cell(0, 0),
        Data::String("report Table 2-1 (total number of participants engaged, by cohort)".into())
    );
    assert_eq!(
        cell(1, 0),
        Data::String("Synthetic data — not the programme's real figures.".into())
    );
    assert!(
        matches!(cell(2, 0), Data::String(s) if s.ends_with("(N = 3966)")),
        "{:?}",
        cell(2, 0)
    );
    let header: Vec<String> = (0..8).map(|c| cell(4, c).to_string()).collect();
    let code = header.iter().position(|h| h == "cohort_code").unwrap() as u32;
    let count = header.iter().position(|h| h == "participants").unwrap() as u32;
    let hth = (5..10)
        .find(|&r| cell(r, code) == Data::String("HTH".into()))
        .expect("an HTH row");
    assert_eq!(cell(hth, count), Data::Float(1418.0));

    // Every output table has its sheet: Contents plus one per `output` row of the catalogue.
    let catalog = std::fs::read_to_string(run.dir.join("tables/catalog.csv")).unwrap();
    let outputs = csv::Reader::from_reader(catalog.as_bytes())
        .records()
        .filter(|r| r.as_ref().unwrap().get(1) == Some("output"))
        .count();
    // Disclosure control: Cannock North's 4 minority-ethnic participants are suppressed with
    // their percentage, and so is its White count, which would give them back (191 − 187);
    // so is the White count of the finer ethnic groups, the same 187 over the same 191.
    let lots = wb.worksheet_range("ethnicity_by_lot").unwrap();
    let header: Vec<String> = (0..9)
        .map(|c| {
            lots.get_value((4, c))
                .map(|v| v.to_string())
                .unwrap_or_default()
        })
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap() as u32;
    let find = |characteristic: &str, category: &str| {
        (5..100)
            .find(|&r| {
                lots.get_value((r, col("lot_code"))) == Some(&Data::String("L5".into()))
                    && lots.get_value((r, col("characteristic")))
                        == Some(&Data::String(characteristic.into()))
                    && lots.get_value((r, col("category"))) == Some(&Data::String(category.into()))
            })
            .unwrap_or_else(|| panic!("no L5 {characteristic} {category} row"))
    };
    let hidden = Data::String("[c]".into());
    let minority = find("ethnicity", "Minority ethnic");
    assert_eq!(
        lots.get_value((minority, col("participants"))),
        Some(&hidden)
    );
    assert_eq!(lots.get_value((minority, col("pct"))), Some(&hidden));
    assert_eq!(
        lots.get_value((find("ethnicity", "White"), col("participants"))),
        Some(&hidden)
    );
    assert_eq!(
        lots.get_value((find("ethnic_group", "Asian"), col("participants"))),
        Some(&hidden)
    );
    assert_eq!(
        lots.get_value((find("ethnic_group", "White"), col("participants"))),
        Some(&hidden)
    );
    assert!(
        (0..200).any(|r| matches!(lots.get_value((r, 0)), Some(Data::String(s)) if s.starts_with("[c] marks a figure suppressed for disclosure control"))),
        "no disclosure note"
    );

    // …and one per model after them.
    assert_eq!(names.len(), outputs + 1 + 3);
    let model = wb.worksheet_range("model_job_outcome").unwrap();
    assert!(
        matches!(model.get_value((0, 0)), Some(Data::String(s)) if s.starts_with("report Table A-24 (Achieving a job outcome)")),
        "{:?}",
        model.get_value((0, 0))
    );
    assert!(
        matches!(model.get_value((2, 0)), Some(Data::String(s)) if s.contains("N at each step: 3347 → ")),
        "{:?}",
        model.get_value((2, 0))
    );

    // A characteristic table states its single N (report 2.2: N = 3,957 for sex), a breakdown
    // by cohort points at its per-group column instead of one misleading N.
    let sex = wb.worksheet_range("characteristics_sex").unwrap();
    assert!(
        matches!(sex.get_value((2, 0)), Some(Data::String(s)) if s.ends_with("(N = 3957)")),
        "{:?}",
        sex.get_value((2, 0))
    );
    let female = (5..8)
        .find(|&r| sex.get_value((r, 2)) == Some(&Data::String("Female".into())))
        .expect("a Female row");
    assert_eq!(sex.get_value((female, 3)), Some(&Data::Float(2097.0)));
    let by_cohort = wb.worksheet_range("how_heard_by_cohort").unwrap();
    assert!(
        matches!(by_cohort.get_value((2, 0)), Some(Data::String(s)) if s.ends_with("(N for each group in column n)")),
        "{:?}",
        by_cohort.get_value((2, 0))
    );
}

/// `evalpipe check RUN --format json`, whatever its exit status: (status, report).
fn check_json(run: &Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_evalpipe"))
        .args(["check", run.to_str().unwrap(), "--format", "json"])
        .current_dir(repo())
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), report)
}

#[test]
fn every_register_cell_resolves_in_the_twin_run() {
    // Whatever the twin's values, every figure the register maps to a table must find its
    // table, row and column: a renamed column or category fails here, not silently later.
    let run = twin_run();
    let (_, report) = check_json(&run.dir);
    let missing: Vec<String> = report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "missing")
        .map(|f| format!("{}: {}", f["id"], f["detail"]))
        .collect();
    assert!(
        missing.is_empty(),
        "unresolved register cells:\n{}",
        missing.join("\n")
    );
    assert_eq!(report["synthetic"], true, "a twin run says it is synthetic");
}

/// The figures of `report` with this status, as "id: detail" lines.
fn with_status(report: &serde_json::Value, status: &str) -> Vec<String> {
    report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == status)
        .map(|f| {
            format!(
                "{}: published {} reproduced {} ({})",
                f["id"], f["published"], f["reproduced"], f["detail"]
            )
        })
        .collect()
}

#[test]
fn the_final_twin_reproduces_every_published_figure() {
    // Issue 5: the calibrated twin reproduces every reproducible MI, claims and model figure of
    // the register: counts exactly, percentages at whole per cent, odds ratios at one decimal.
    let run = twin_run();
    let (code, report) = check_json(&run.dir);
    let mismatched = with_status(&report, "mismatch");
    assert!(
        mismatched.is_empty(),
        "{} published figures do not reproduce on the final twin:\n{}",
        mismatched.len(),
        mismatched.join("\n")
    );
    assert_eq!(code, Some(0), "check exits 0 when everything reproduces");
    assert_eq!(report["extract"]["id"], "final");
    let total = &report["summary"]["total"];
    // Every figure mapped to a cell is compared: none left missing, and the interim figures
    // (Figure 4-2) are the only ones of another extract.
    assert_eq!(total["missing"], 0);
    assert_eq!(total["other_extract"], 5);
    assert!(total["matched"].as_u64().unwrap() >= 250, "{total}");
    // The statements the configuration determines hold too.
    assert_eq!(total["config_mismatched"], 0, "{total}");
    assert!(total["config_matched"].as_u64().unwrap() >= 30, "{total}");
}

#[test]
fn a_cut_off_changed_without_the_documents_fails_check() {
    // Issue 18: the claims cut-off the report states (November 2021) is a parameter of
    // pipeline/study.toml; changed there, check on the same run exits 1 naming it.
    let run = twin_run();
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = tmp.path().join("pipeline");
    copy_folder(&repo().join("pipeline"), &pipeline);
    // Replaces `from` (which must be there) by `to` in a file of the copied configuration,
    // then checks the twin's run against it: exit status and Markdown.
    let plant_and_check = |file: &str, from: &str, to: &str| {
        let path = pipeline.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_evalpipe"))
            .args(["check", run.dir.to_str().unwrap(), "--pipeline"])
            .arg(&pipeline)
            .current_dir(repo())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, md) = plant_and_check(
        "study.toml",
        "claims_validated_to = 2021-11-30",
        "claims_validated_to = 2021-10-31",
    );
    assert_eq!(code, Some(1));
    assert!(
        md.contains("**config mismatch** `1.3.claims.to`")
            && md.contains("published 2021-11, configured 2021-10"),
        "{md}"
    );
    // So is the embedding window footnote 2 states ("over a 6-10 week period"), which the
    // twin is generated with: a range against the configured pair.
    let (code, md) = plant_and_check(
        "twin.toml",
        "weeks_out_of_work = [6, 10]",
        "weeks_out_of_work = [6, 12]",
    );
    assert_eq!(code, Some(1));
    assert!(
        md.contains("**config mismatch** `fn2.embedded.out-of-work.weeks`")
            && md.contains("published 6–10, configured 6–12"),
        "{md}"
    );
}

/// Issue 18's example: the report prints 40% and 41% for the Hardest to Help cohort hearing
/// of the programme another way (the erratum), and the twin gives 45%, which the erratum
/// accepts only because the other published figures force at least 41%. A run giving 30%
/// — outside every value the erratum accepts — fails check, naming the erratum.
#[test]
fn a_value_outside_every_erratum_value_fails_check() {
    use arrow::array::{Array, AsArray, Float64Array, RecordBatch};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let run = twin_run();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("run");
    copy_folder(&run.dir, &copy);
    let path = copy.join("tables/how_heard_by_cohort.parquet");
    let batches: Vec<RecordBatch> =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let mut planted = 0;
    let changed: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let text = |name: &str| {
                arrow::compute::cast(
                    b.column_by_name(name).unwrap(),
                    &arrow::datatypes::DataType::Utf8,
                )
                .unwrap()
            };
            let (category, item) = (text("category"), text("item"));
            let pct = b
                .column_by_name("pct")
                .unwrap()
                .as_primitive::<arrow::datatypes::Float64Type>();
            let values: Float64Array = (0..b.num_rows())
                .map(|r| {
                    let hth = category.as_string::<i32>().value(r) == "Hardest to Help"
                        && item.as_string::<i32>().value(r) == "Other";
                    if hth {
                        planted += 1;
                        Some(0.30)
                    } else {
                        (!pct.is_null(r)).then(|| pct.value(r))
                    }
                })
                .collect();
            let j = b.schema().index_of("pct").unwrap();
            let mut columns = b.columns().to_vec();
            columns[j] = std::sync::Arc::new(values);
            RecordBatch::try_new(b.schema(), columns).unwrap()
        })
        .collect();
    assert_eq!(planted, 1);
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        changed[0].schema(),
        None,
    )
    .unwrap();
    for b in &changed {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    let (code, report) = check_json(&copy);
    assert_eq!(code, Some(1));
    for id in ["4.1.how-heard.hth.other", "4.2.2.how-heard.hth.other"] {
        let f = report["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap();
        assert_eq!(f["status"], "mismatch", "{f}");
        assert_eq!(f["reproduced"], "30");
        let detail = f["detail"].as_str().unwrap();
        assert!(
            detail.contains("erratum hth.how-heard.other accepts"),
            "{detail}"
        );
    }
    // The twin itself: an erratum, on the accepted range.
    let (_, twin) = check_json(&run.dir);
    let f = twin["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "4.1.how-heard.hth.other")
        .unwrap();
    assert_eq!(f["status"], "erratum");
    assert!(f["detail"].as_str().unwrap().contains("41–100"), "{f}");
}

/// Issue 18: `evalpipe sensitivity` on the twin runs every alternative of every decision of
/// pipeline/decisions.toml, each from a copy of the study's run, and its JSON lists them all.
#[test]
fn a_sensitivity_run_on_the_twin_lists_every_decision() {
    let run = twin_run();
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    copy_folder(&run.dir, &base);
    let work = tmp.path().join("alternatives");
    let out = evalpipe(&[
        "sensitivity",
        "--quiet",
        "--run",
        base.to_str().unwrap(),
        "--work",
        work.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let study = evalpipe_study::Study::load(&repo().join("pipeline")).unwrap();
    let expected: Vec<(String, String)> = study
        .decisions
        .iter()
        .flat_map(|d| {
            d.options
                .iter()
                .filter(|o| o.id != d.choice)
                .map(|o| (d.id.clone(), o.id.clone()))
        })
        .collect();
    let listed: Vec<(String, String)> = report["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["decision"].as_str().unwrap().to_string(),
                a["option"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(expected.len() >= 2);
    assert_eq!(listed, expected);
    assert_eq!(report["synthetic"], true);
    // Each alternative's run took its option: the reference table it wrote says so, while the
    // study's run keeps the study's choices.
    for (decision, option) in &expected {
        let folder = work.join(format!("{decision}-{option}"));
        let rows = std::fs::read_to_string(folder.join("tables/reference/decisions.csv")).unwrap();
        let line = rows
            .lines()
            .find(|l| l.contains(&format!(",{decision},")))
            .unwrap();
        assert!(line.contains(&format!(",{option},")), "{line}");
        let base_rows =
            std::fs::read_to_string(base.join("tables/reference/decisions.csv")).unwrap();
        let line = base_rows
            .lines()
            .find(|l| l.contains(&format!(",{decision},")))
            .unwrap();
        assert!(!line.contains(&format!(",{option},")), "{line}");
    }
    // The models read their decision too: with a blank completed action as No, the job-outcome
    // model keeps the participants of lots other than Lot 5 with no action recorded, whom the
    // study's choice (missing) leaves out of the report's 2,550 complete cases.
    let complete_cases = |run: &Path| -> usize {
        let steps = csv_records(&run.join("tables/models/job_outcome/steps.csv"));
        steps.last().unwrap()["n"].parse().unwrap()
    };
    assert_eq!(complete_cases(&base), 2550);
    let no = complete_cases(&work.join("blank_completed_action-no"));
    assert!(no > 2550, "{no}");
}

/// Copies a folder tree (a run, the study configuration) for a test to edit.
fn copy_folder(from: &Path, to: &Path) {
    evalpipe_pipeline::outdir::copy_tree(from, to, &[]).unwrap();
}

#[test]
fn the_interim_twin_reproduces_figure_4_2() {
    // Figure 4-2 was drawn from the interim extract (MI to June 2021, N = 3,507): a run on the
    // interim twin is checked on those figures and reports the rest as of another extract.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("interim");
    evalpipe(&[
        "run",
        "--quiet",
        "--data",
        "data/twin-interim",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let (code, report) = check_json(&dir);
    assert_eq!(report["extract"]["id"], "interim", "{}", report["extract"]);
    assert!(
        with_status(&report, "mismatch").is_empty(),
        "{:?}",
        with_status(&report, "mismatch")
    );
    assert!(with_status(&report, "missing").is_empty());
    let matched = with_status(&report, "match");
    for id in [
        "f4-2.n",
        "f4-2.hth.2020-03",
        "f4-2.hth.2020-05",
        "f4-2.rp.2020-03",
        "f4-2.rp.2020-06",
    ] {
        assert!(
            matched.iter().any(|m| m.starts_with(&format!("\"{id}\""))),
            "{id} does not match on the interim twin: {matched:?}"
        );
    }
    assert_eq!(code, Some(0));
}

#[test]
fn the_twin_models_are_significant_exactly_where_the_report_says() {
    // Issue 5: the terms whose odds ratios the report prints as significant (Tables A-24, A-31,
    // A-39 as cited in 2.3) have p < 0.05 on the twin, and no other term does.
    let register = evalpipe_review::Register::load(&repo().join("pipeline")).unwrap();
    let mut named: BTreeSet<(String, String, String)> = BTreeSet::new();
    for f in &register.figures {
        let Some(r) = &f.reproduce else { continue };
        let Some(model) = r
            .table
            .strip_prefix("models/")
            .and_then(|t| t.strip_suffix("/coefficients"))
        else {
            continue;
        };
        if r.column != "odds_ratio" {
            continue;
        }
        let row = r.row.as_ref().unwrap();
        let text = |k: &str| evalpipe_review::register::key_text(&row[k]);
        named.insert((model.to_string(), text("factor"), text("level")));
    }
    assert!(named.len() >= 14, "{named:?}");
    let run = twin_run();
    let mut wrong = Vec::new();
    for model in ["job_outcome", "sustained_13", "progression"] {
        let path = run
            .dir
            .join(format!("tables/models/{model}/coefficients.csv"));
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let header = reader.headers().unwrap().clone();
        let col = |n: &str| header.iter().position(|h| h == n).unwrap();
        let (kind, factor, level, p) = (col("kind"), col("factor"), col("level"), col("p"));
        for r in reader.records() {
            let r = r.unwrap();
            if &r[kind] != "level" {
                continue;
            }
            let key = (
                model.to_string(),
                r[factor].to_string(),
                r[level].to_string(),
            );
            let p: f64 = r[p].parse().unwrap();
            let significant = p < 0.05;
            if significant != named.contains(&key) {
                wrong.push(format!("{key:?}: p = {p:.4}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "significance differs from the report's:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn check_names_a_planted_mismatch() {
    use arrow::array::{AsArray, Int64Array, RecordBatch};
    use arrow::datatypes::Int64Type;
    use std::sync::Arc;

    // A copy of the twin run with one count moved by one.
    let source = &twin_run().dir;
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("twin");
    for file in files_under(source) {
        let to = copy.join(file.strip_prefix(source).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&file, &to).unwrap();
    }
    let (_, before) = check_json(&copy);
    let register = evalpipe_review::Register::load(&repo().join("pipeline")).unwrap();
    // A count of Table 2-1 that the run reproduces today.
    let target = register
        .figures
        .iter()
        .find(|f| {
            f.reproduce
                .as_ref()
                .is_some_and(|r| r.table == "participants_by_cohort" && r.column == "participants")
                && before["figures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["id"] == f.id.as_str() && c["status"] == "match")
        })
        .expect("a matching Table 2-1 count in the register");
    let path = copy.join("tables/participants_by_cohort.parquet");
    let batches: Vec<RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let schema = batches[0].schema();
    let j = schema.index_of("participants").unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        schema.clone(),
        None,
    )
    .unwrap();
    for b in &batches {
        let mut columns = b.columns().to_vec();
        let old = b.column(j).as_primitive::<Int64Type>();
        let new: Int64Array = (0..old.len()).map(|i| Some(old.value(i) + 1)).collect();
        columns[j] = Arc::new(new);
        w.write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
            .unwrap();
    }
    w.close().unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_evalpipe"))
        .args(["check", copy.to_str().unwrap()])
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a mismatch fails the check");
    let md = String::from_utf8(out.stdout).unwrap();
    let line = md
        .lines()
        .find(|l| l.starts_with("- **mismatch**") && l.contains(&format!("`{}`", target.id)))
        .unwrap_or_else(|| panic!("no mismatch line for {}:\n{md}", target.id));
    assert!(
        line.contains("queries/participants_by_cohort.sql")
            && line.contains("column `participants`"),
        "{line}"
    );
}

#[test]
fn explain_traces_a_table_to_its_query_inputs_and_report_lines() {
    let run = twin_run();
    let out = evalpipe(&[
        "explain",
        "participants_by_cohort",
        "--run",
        run.dir.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("made by `queries/participants_by_cohort.sql`"),
        "{text}"
    );
    assert!(
        text.contains("- base: MI participants with a cohort"),
        "{text}"
    );
    // Through participant_outcomes it reads the claims as well as the MI.
    for upstream in [
        "participant_outcomes",
        "validated_claims",
        "participants",
        "claims",
    ] {
        assert!(text.contains(upstream), "{upstream} upstream:\n{text}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.dir.join("manifest.json")).unwrap())
            .unwrap();
    let claims = manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().starts_with("claims_"))
        .unwrap();
    assert!(
        text.contains(&format!("sha256:{}", claims["sha256"].as_str().unwrap())),
        "{text}"
    );
    // Where it appears: the caption of Table 2-1 in its section, with the template line.
    assert!(
        text.lines()
            .any(|l| l.starts_with("- sections/programme_engagement.md.j2:")
                && l.contains(r#"table_caption("participants_by_cohort""#)),
        "{text}"
    );

    // A published table by its number: the table whose header says it reproduces it.
    let out = evalpipe(&["explain", "Table A-16", "--run", run.dir.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("made by `queries/job_outcome_by_lot.sql`"),
        "{text}"
    );
    // A figure: the table that is it, not an earlier-named one that only cites its N.
    let out = evalpipe(&["explain", "Figure 4-1", "--run", run.dir.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("made by `queries/enrolment_by_month.sql`"),
        "{text}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_evalpipe"))
        .args([
            "explain",
            "no_such_thing",
            "--run",
            run.dir.to_str().unwrap(),
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither a register id, a table"));
}

/// Whether `dir` is a complete run: a manifest whose every output exists with its hash.
fn is_complete_run(dir: &Path) -> bool {
    use sha2::{Digest, Sha256};
    let Ok(text) = std::fs::read_to_string(dir.join("manifest.json")) else {
        return false;
    };
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let outputs = manifest["outputs"].as_array().unwrap();
    !outputs.is_empty()
        && outputs.iter().all(|o| {
            std::fs::read(dir.join(o["path"].as_str().unwrap())).is_ok_and(|bytes| {
                hex::encode(Sha256::digest(&bytes)) == o["sha256"].as_str().unwrap()
            })
        })
}

#[test]
fn a_run_killed_at_any_moment_leaves_the_previous_run_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("twin");
    let out_arg = out.to_str().unwrap();
    evalpipe(&["run", "--quiet", "--out", out_arg]);
    assert!(is_complete_run(&out));
    let first = std::fs::read(out.join("manifest.json")).unwrap();
    // Kill during ingest, transform, models and report, and (likely) while publishing.
    for delay_ms in [30, 400, 1500, 3000, 5000, 8000] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_evalpipe"))
            .args(["run", "--quiet", "--force", "--out", out_arg])
            .current_dir(repo())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Either the previous run, whole, or (killed mid-publish) set aside whole beside it;
        // never a folder that looks finished and is not.
        let aside = tmp.path().join(".twin.old");
        if out.exists() {
            assert!(
                is_complete_run(&out),
                "killed after {delay_ms} ms: {out:?} is not whole"
            );
        } else {
            assert!(
                is_complete_run(&aside),
                "killed after {delay_ms} ms: no whole run left"
            );
        }
    }
    // The next run completes, restores nothing it should not and leaves no debris.
    evalpipe(&["run", "--quiet", "--force", "--out", out_arg]);
    assert!(is_complete_run(&out));
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), first);
    let mut names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["twin"]);

    // Killed between publishing's two renames: the run is only at `.twin.old`. The next run
    // puts it back before building, so nothing is left behind.
    std::fs::rename(&out, tmp.path().join(".twin.old")).unwrap();
    evalpipe(&["run", "--quiet", "--out", out_arg]);
    let mut names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["twin"]);
    assert!(is_complete_run(&out));
}

/// `evalpipe ARGS` (must succeed): its stderr and stdout.
fn evalpipe_err(args: &[&str]) -> (String, String) {
    let out = evalpipe(args);
    (
        String::from_utf8(out.stderr).unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    for f in files_under(from) {
        let target = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&f, &target).unwrap();
    }
}

#[test]
fn unchanged_inputs_do_no_work_and_an_edited_template_rerenders_only_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("twin");
    let out_arg = out.to_str().unwrap();
    let (first, _) = evalpipe_err(&["run", "--out", out_arg]);
    assert!(first.contains("ingest: 3966 participants"), "{first}");
    // Stderr is not a terminal here: no progress bar, no escape code, only the one-line stage
    // summaries, in stage order although some stages run at the same time.
    assert!(!first.contains('\x1b'), "{first:?}");
    let prefixes: Vec<&str> = first
        .lines()
        .filter(|l| !l.starts_with("report: no PDF"))
        .map(|l| l.split(':').next().unwrap_or(""))
        .filter(|p| *p != "warning")
        .collect();
    assert_eq!(
        prefixes,
        [
            "note",
            "ingest",
            "transform",
            "models",
            "framework",
            "report"
        ],
        "{first}"
    );

    // Nothing changed: nothing is done, nothing is written.
    let manifest = out.join("manifest.json");
    let before = std::fs::metadata(&manifest).unwrap().modified().unwrap();
    let (again, _) = evalpipe_err(&["run", "--out", out_arg]);
    assert!(again.contains("up to date: nothing to do"), "{again}");
    assert_eq!(
        std::fs::metadata(&manifest).unwrap().modified().unwrap(),
        before
    );

    // report.pdf is printed when Chromium is installed (CI installs it) unless --no-pdf; asking
    // for none makes only the report stale, and the PDF goes.
    let pdf = out.join("report/report.pdf");
    let (_, status) = evalpipe_err(&["status", "--out", out_arg, "--no-pdf"]);
    if evalpipe_report::pdf::find_chromium().is_some() {
        let bytes = std::fs::read(&pdf).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "report.pdf is not a PDF");
        assert!(status.contains("models     up to date"), "{status}");
        assert!(
            status.contains("report     stale: the last run has report.pdf"),
            "{status}"
        );
        let (without, _) = evalpipe_err(&["run", "--out", out_arg, "--no-pdf"]);
        assert!(
            without.contains("framework: unchanged since the last run, reused"),
            "{without}"
        );
        assert!(!pdf.exists(), "--no-pdf left report.pdf");
        let (with, _) = evalpipe_err(&["run", "--out", out_arg]);
        assert!(
            with.contains("framework: unchanged since the last run, reused"),
            "{with}"
        );
        assert_eq!(
            std::fs::read(&pdf).unwrap(),
            bytes,
            "report.pdf printed differently"
        );
    } else {
        assert!(
            first.contains("report: no PDF: Chromium is not installed"),
            "{first}"
        );
        assert!(!pdf.exists());
        assert!(status.contains("report     up to date"), "{status}");
    }

    // One template edited: only the report is stale, and only it runs.
    let templates = tmp.path().join("templates");
    copy_dir(&repo().join("report-templates"), &templates);
    let section = templates.join("sections/programme_engagement.md.j2");
    let mut text = std::fs::read_to_string(&section).unwrap();
    text.push_str("\nA sentence added by the test.\n");
    std::fs::write(&section, text).unwrap();
    let tpl = templates.to_str().unwrap();
    let (_, status) = evalpipe_err(&["status", "--out", out_arg, "--templates", tpl]);
    assert!(status.contains("ingest     up to date"), "{status}");
    assert!(status.contains("models     up to date"), "{status}");
    assert!(
        status.contains("report     stale: templates: sections/programme_engagement.md.j2 changed"),
        "{status}"
    );
    let tables_before = std::fs::read(out.join("tables/how_heard.parquet")).unwrap();
    let (partial, _) = evalpipe_err(&["run", "--out", out_arg, "--templates", tpl]);
    for stage in ["ingest", "transform", "models"] {
        assert!(
            partial.contains(&format!("{stage}: unchanged since the last run, reused")),
            "{partial}"
        );
    }
    let report = std::fs::read_to_string(out.join("report/report.md")).unwrap();
    assert!(report.contains("A sentence added by the test."));
    assert_eq!(
        std::fs::read(out.join("tables/how_heard.parquet")).unwrap(),
        tables_before
    );

    // What was reused is what a full run makes: byte for byte.
    let incremental = std::fs::read(&manifest).unwrap();
    evalpipe_err(&["run", "--force", "--out", out_arg, "--templates", tpl]);
    assert_eq!(std::fs::read(&manifest).unwrap(), incremental);

    // An edited query: transform and everything after it are stale, ingest is not.
    let queries = tmp.path().join("queries");
    copy_dir(&repo().join("queries"), &queries);
    let query = queries.join("how_heard.sql");
    let sql = std::fs::read_to_string(&query).unwrap();
    let edited = sql.replace("order by group_order", "order by group_order asc");
    assert_ne!(edited, sql, "the edit changes how_heard.sql");
    std::fs::write(&query, edited).unwrap();
    let q = queries.to_str().unwrap();
    let (_, status) = evalpipe_err(&[
        "status",
        "--out",
        out_arg,
        "--templates",
        tpl,
        "--queries",
        q,
    ]);
    assert!(status.contains("ingest     up to date"), "{status}");
    assert!(
        status.contains("transform  stale: queries: how_heard.sql changed"),
        "{status}"
    );
    assert!(
        status.contains("report     stale: transform runs again"),
        "{status}"
    );
    // …and within the transform only the edited query runs: nothing reads how_heard.
    let (rerun, _) = evalpipe_err(&["run", "--out", out_arg, "--templates", tpl, "--queries", q]);
    assert!(
        rerun.contains("ingest: unchanged since the last run, reused"),
        "{rerun}"
    );
    // Every other query of queries/ and queries/staging/ is copied from the last run.
    let queries_total = ["", "staging"]
        .iter()
        .flat_map(|d| std::fs::read_dir(repo().join("queries").join(d)).unwrap())
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    assert!(
        rerun.contains(&format!(
            "({} unchanged since the last run, reused)",
            queries_total - 1
        )),
        "{rerun}"
    );
    let incremental = std::fs::read(&manifest).unwrap();
    evalpipe_err(&[
        "run",
        "--force",
        "--out",
        out_arg,
        "--templates",
        tpl,
        "--queries",
        q,
    ]);
    assert_eq!(std::fs::read(&manifest).unwrap(), incremental);
}

#[path = "../crates/report/tests/attack/mod.rs"]
mod attack;

/// Disclosure control across linked tables (issue 14): an attacker who reads everything the
/// twin run publishes — the annex workbook's sheets, and the tables the report reads beyond
/// them (the Framework's, the models' summaries and steps) as its loader suppresses them —
/// and tries every subtraction across them finds no suppressed count and no count under the
/// threshold. On the annex workbook of a twin run made before the decision was made once per
/// run, it found 30 ways, among them Cannock North's 4 minority-ethnic participants as
/// 191 − 187.
#[test]
fn no_subtraction_across_everything_published_gives_a_small_or_hidden_count_away() {
    let run = twin_run();
    let min_count = evalpipe_study::Study::load(&repo().join("pipeline"))
        .unwrap()
        .disclosure
        .min_count;
    let mut published =
        attack::from_annex(&run.dir.join("report/annex.xlsx"), &run.dir.join("tables"));
    let layout = evalpipe_study::RunLayout::new(&run.dir);
    let tables = evalpipe_report::disclosure::publication(&layout).unwrap();
    let decision = evalpipe_report::disclosure::decide(&tables, min_count);
    assert_eq!(decision.unresolved(), 0);
    for t in &tables {
        let hidden = decision.hidden(&t.name);
        match published.iter().find(|p| p.name == t.name) {
            // The annex prints the run's one decision, cell for cell.
            Some(sheet) => {
                let shown_hidden: BTreeSet<(usize, usize)> = (0..sheet.shown.len())
                    .flat_map(|r| (0..sheet.columns.len()).map(move |j| (r, j)))
                    .filter(|&(r, j)| sheet.shown[r][j] == attack::Shown::Hidden)
                    .collect();
                assert_eq!(shown_hidden, hidden, "annex sheet of {}", t.name);
            }
            None => published.push(attack::from_decision(t, &hidden)),
        }
    }
    assert!(
        published
            .iter()
            .any(|t| t.name == "framework/framework_theme_cases")
            && published
                .iter()
                .any(|t| t.name == "models/job_outcome/steps"),
        "the report's own tables are attacked too"
    );
    let leaks = attack::attack(&published, i64::try_from(min_count).unwrap());
    assert!(
        leaks.is_empty(),
        "{} ways to work a suppressed or small count out:\n{}",
        leaks.len(),
        leaks
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The report prints the same decision: Table A-6 shows no White share for Cannock North.
    let md = std::fs::read_to_string(run.dir.join("report/report.md")).unwrap();
    let row = md
        .lines()
        .find(|l| l.starts_with("| Cannock North |") && l.contains("| 191 |"))
        .expect("Table A-6's Cannock North row");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert!(
        !cells.contains(&"98") && !cells.contains(&"2"),
        "187 and 4 of 191 as shares: {row}"
    );
}
