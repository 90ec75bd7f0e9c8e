//! The data tool against the validator it must never contradict: a generated workbook filled
//! with the twin's rows ingests with no finding, a value its drop-down refuses is quarantined by
//! ingest's rule for it, and the drop-downs offer exactly the dictionary's codes.

use std::io::Read;
use std::path::{Path, PathBuf};

use calamine::{Reader, Xlsx};
use evalpipe_datatool::{LISTS_SHEET, Value, write_workbook, write_workbooks};
use evalpipe_ingest::{FileStatus, IngestOptions, PseudonymKey, ingest};
use evalpipe_study::{ColumnType, RunLayout, Study};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn study() -> Study {
    Study::load(&repo().join("pipeline")).expect("the study loads")
}

/// The twin's rows of one lot's CSV extract, as a provider would type them into the tool.
fn twin_rows(study: &Study, lot: &str) -> Vec<Vec<Option<Value>>> {
    let path = repo().join(format!("data/twin/mi_{lot}_20220131.csv"));
    let mut reader = csv::Reader::from_path(&path).expect("the twin's extract");
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    assert_eq!(header, study.mi.expected_columns(&study.codes));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(name, text)| {
                    if text.trim().is_empty() {
                        return None;
                    }
                    let kind = study.mi.column(name).map_or(ColumnType::Flag, |c| c.kind);
                    Some(match kind {
                        ColumnType::Date => Value::Date(
                            chrono::NaiveDate::parse_from_str(text, &study.mi.dataset.date_format)
                                .unwrap(),
                        ),
                        ColumnType::Integer | ColumnType::Number | ColumnType::Money => {
                            Value::Number(text.parse().unwrap())
                        }
                        _ => Value::Text(text.to_string()),
                    })
                })
                .collect()
        })
        .collect()
}

/// Ingests `dir` (one lot's workbook, no claims) into a temporary run folder.
fn ingest_dir(study: &Study, dir: &Path) -> evalpipe_ingest::IngestSummary {
    let run = tempfile::tempdir().unwrap();
    let opts = IngestOptions {
        key: PseudonymKey::synthetic(),
        synthetic: true,
    };
    ingest(study, dir, &RunLayout::new(run.path()), &opts).expect("ingest runs")
}

#[test]
fn a_workbook_filled_with_the_twins_rows_ingests_with_no_finding() {
    let study = study();
    let lot = study.lots.iter().find(|l| l.code == "L1").unwrap();
    let rows = twin_rows(&study, "L1");
    assert!(rows.len() > 100, "{} rows", rows.len());
    let dir = tempfile::tempdir().unwrap();
    write_workbook(&study, lot, &rows, &dir.path().join("mi_L1_20220131.xlsx")).unwrap();
    let summary = ingest_dir(&study, dir.path());
    let file = summary
        .files
        .iter()
        .find(|f| f.file == "mi_L1_20220131.xlsx")
        .expect("the workbook was read");
    assert_eq!(file.status, FileStatus::Used, "{:?}", file.notes);
    assert!(file.findings.is_empty(), "{:?}", file.findings);
    assert!(file.notes.is_empty(), "{:?}", file.notes);
    assert_eq!(file.rows_quarantined, 0, "{:?}", file.rows);
    assert_eq!(file.rows_clean, rows.len());
    assert_eq!(summary.participants, rows.len());
}

#[test]
fn a_value_the_drop_down_refuses_is_quarantined_by_ingests_rule() {
    let study = study();
    let lot = study.lots.iter().find(|l| l.code == "L1").unwrap();
    let mut rows = twin_rows(&study, "L1");
    rows.truncate(3);
    let header = study.mi.expected_columns(&study.codes);
    let gender = header.iter().position(|h| h == "gender").unwrap();
    rows[1][gender] = Some(Value::Text("Q".into()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mi_L1_20220131.xlsx");
    write_workbook(&study, lot, &rows, &path).unwrap();

    // The drop-down offers exactly the dictionary's codes, which `Q` is not.
    let gender_list = study.mi.column("gender").unwrap().codes.clone().unwrap();
    let offered = drop_down(&path, "gender");
    let codes: Vec<String> = study
        .code_list(&gender_list)
        .iter()
        .map(|c| c.code.clone())
        .collect();
    assert_eq!(offered, codes);
    assert!(!codes.iter().any(|c| c.eq_ignore_ascii_case("Q")));

    let summary = ingest_dir(&study, dir.path());
    let file = &summary
        .files
        .iter()
        .find(|f| f.file == "mi_L1_20220131.xlsx")
        .unwrap();
    assert_eq!(file.rows_quarantined, 1);
    assert_eq!(file.rows[0].row, 3, "row 3 as Excel shows it");
    let rules: Vec<(&str, Option<&str>)> = file.rows[0]
        .findings
        .iter()
        .map(|f| (f.rule, f.column.as_deref()))
        .collect();
    assert_eq!(rules, [("unknown_code", Some("gender"))]);
}

/// The codes a column's drop-down offers: its list formula's range on the Lists sheet, read.
fn drop_down(path: &Path, column: &str) -> Vec<String> {
    let study = study();
    let header = study.mi.expected_columns(&study.codes);
    let c = header.iter().position(|h| h == column).unwrap();
    let letters = |c: usize| rust_xlsxwriter::column_number_to_name(c as u16);
    let mut xml = String::new();
    zip::ZipArchive::new(std::fs::File::open(path).unwrap())
        .unwrap()
        .by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    let cell = format!("sqref=\"{}2:{}", letters(c), letters(c));
    let at = xml.find(&cell).expect("the column has a validation");
    let formula = &xml[at..];
    let formula = &formula[formula.find("<formula1>").unwrap() + 10..];
    let formula = &formula[..formula.find("</formula1>").unwrap()];
    // `Lists!$B$2:$B$5`
    let (sheet, range) = formula.split_once('!').unwrap();
    assert_eq!(sheet, LISTS_SHEET);
    let (from, to) = range.split_once(':').unwrap();
    let row = |a: &str| a.rsplit('$').next().unwrap().parse::<u32>().unwrap();
    let col = from.split('$').nth(1).unwrap().to_string();
    let mut book: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let lists = book.worksheet_range(LISTS_SHEET).unwrap();
    let col_index = (0..64).find(|i| letters(*i) == col).unwrap();
    (row(from)..=row(to))
        .map(|r| {
            lists
                .get_value((r - 1, col_index as u32))
                .map(|v| v.to_string())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn every_lot_gets_a_workbook_and_the_same_dictionary_gives_the_same_bytes() {
    let study = study();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let written = write_workbooks(&study, a.path()).unwrap();
    write_workbooks(&study, b.path()).unwrap();
    assert_eq!(written.len(), study.lots.len());
    for path in &written {
        let name = path.file_name().unwrap();
        assert_eq!(
            std::fs::read(path).unwrap(),
            std::fs::read(b.path().join(name)).unwrap(),
            "{name:?}"
        );
        let book: Xlsx<_> = calamine::open_workbook(path).unwrap();
        assert_eq!(book.sheet_names(), ["Participants", "Notes", LISTS_SHEET]);
    }
}

/// The dictionary document lists every column of both extracts with its rules and the
/// report's tables that use it, and every code list with its labels.
#[test]
fn the_data_dictionary_names_every_column_its_codes_and_the_tables_using_it() {
    let study = study();
    let md = evalpipe_datatool::dictionary_markdown(&study, &repo().join("queries")).unwrap();
    for dict in [&study.mi, &study.claims] {
        for c in &dict.columns {
            assert!(md.contains(&format!("| `{}` |", c.name)), "{}", c.name);
        }
    }
    let row = |column: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| `{column}` |")))
            .unwrap()
            .to_string()
    };
    // Gender is read through the `sex` characteristic: its table uses it, a claims table not.
    let gender = row("gender");
    assert!(gender.contains("Choose from the list"), "{gender}");
    assert!(gender.contains("characteristics_sex"), "{gender}");
    assert!(!gender.contains("claims_performance"), "{gender}");
    // An identifier no table uses says so.
    assert!(
        row("first_name").ends_with("| — |"),
        "{}",
        row("first_name")
    );
    let code = study.code_list("gender")[0].clone();
    assert!(
        md.contains(&format!("| `{}` | {} |", code.code, code.label)),
        "{code:?}"
    );
}

/// The dictionary prints to PDF as the report does, the same bytes twice (Chromium is needed:
/// `.ci/run` installs it; without it the test says so and checks only that none is claimed).
#[test]
fn the_data_dictionary_prints_to_the_same_pdf_twice() {
    let study = study();
    let tmp = tempfile::tempdir().unwrap();
    let mut pdfs = Vec::new();
    for name in ["a", "b"] {
        let out = tmp.path().join(name);
        std::fs::create_dir_all(&out).unwrap();
        evalpipe_datatool::write_dictionary(&study, &repo().join("queries"), &out).unwrap();
        match evalpipe_datatool::print_dictionary(&out).unwrap() {
            Some(pdf) => pdfs.push(std::fs::read(pdf).unwrap()),
            None => {
                assert!(evalpipe_report::pdf::find_chromium().is_none());
                eprintln!("SKIPPED: no Chromium, no PDF");
                return;
            }
        }
    }
    assert!(pdfs[0].starts_with(b"%PDF-") && pdfs[0].len() > 10_000);
    assert!(
        pdfs[0] == pdfs[1],
        "the dictionary PDF differs between two prints"
    );
}
