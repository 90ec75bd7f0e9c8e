//! Ingest against extracts as real data and careless or hostile senders make them: misaligned
//! rows, stray quotes, odd line endings, files that are not what their name says, far cells,
//! and a data folder full of links and pipes. Each test reproduces a defect found on real-shaped
//! input; none may panic, abort, hang, lose a line or let an identifier through.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use evalpipe_ingest::{FileStatus, IngestSummary};

mod common;
#[path = "fuzz/generate.rs"]
#[allow(dead_code)]
mod generate;
use common::{Case, account, case, csv_text, files_under, row, run, study};

/// A valid L4 row whose identifiers are unique tokens, so that finding one in an output can
/// only mean it leaked.
fn person(i: usize) -> BTreeMap<String, String> {
    let mut r = row(&format!("WWH-{i:05}"));
    for (k, v) in [
        ("first_name", format!("Zorvath{i}")),
        ("surname", format!("Quillonby{i}")),
        ("date_of_birth", format!("{:02}/03/1971", 1 + i % 28)),
        ("postcode", format!("B{} {}QX", 10 + i % 80, i % 10)),
        ("ni_number", format!("QQ{:06}C", 437_000 + i)),
    ] {
        r.insert(k.to_string(), v);
    }
    r
}

/// Every identifier value of the rows.
fn identifiers(rows: &[BTreeMap<String, String>]) -> Vec<String> {
    let columns = [
        "provider_ref",
        "first_name",
        "surname",
        "date_of_birth",
        "postcode",
        "ni_number",
    ];
    rows.iter()
        .flat_map(|r| columns.iter().filter_map(|c| r.get(*c).cloned()))
        .collect()
}

/// Every file ingest wrote, as text: Parquet decoded cell by cell (its pages are compressed).
fn outputs(dir: &Path) -> Vec<(PathBuf, String)> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let text = evalpipe_ingest::fuzz::readable(&p).unwrap();
            (p, text)
        })
        .collect()
}

fn assert_no_identifier(dir: &Path, ids: &[String]) {
    let files = outputs(dir);
    assert!(files.len() >= 10, "expected ingest's outputs in {dir:?}");
    for (path, text) in files {
        for id in ids {
            assert!(
                !text.contains(id.as_str()),
                "{} contains the identifier {id}",
                path.display()
            );
        }
    }
}

/// The quarantine table's rows as maps of column → text (null as "").
fn quarantine(c: &Case) -> Vec<BTreeMap<String, String>> {
    let file = std::fs::File::open(c.run.join("ingest/quarantine.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        for i in 0..batch.num_rows() {
            let mut row = BTreeMap::new();
            for (f, col) in batch.schema().fields().iter().zip(batch.columns()) {
                let v = if col.is_null(i) {
                    String::new()
                } else {
                    arrow::util::display::array_value_to_string(col, i).unwrap()
                };
                row.insert(f.name().clone(), v);
            }
            rows.push(row);
        }
    }
    rows
}

#[test]
fn misaligned_rows_show_no_value_in_any_output_and_every_line_is_accounted_for() {
    let c = case();
    let study = study();
    let people: Vec<_> = (0..12).map(person).collect();
    let text = csv_text(&study, &people);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header: Vec<String> = lines[0].split(',').map(str::to_string).collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    // Line 3: an unquoted comma in a surname shifts every later field, the NI number under
    // lot_code among them.
    let mut f: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    f[at("surname")] = format!("{}, Jr", f[at("surname")]);
    lines[2] = f.join(",");
    // Line 6: a stray quote in front of `gender` opens a field no later quote closes until the
    // one planted on line 9: lines 6 to 9 become one row.
    let mut f: Vec<String> = lines[5].split(',').map(str::to_string).collect();
    f[at("gender")] = format!("\"{}", f[at("gender")]);
    lines[5] = f.join(",");
    let mut f: Vec<String> = lines[8].split(',').map(str::to_string).collect();
    f[at("ethnicity")] = format!("{}\"", f[at("ethnicity")]);
    lines[8] = f.join(",");
    std::fs::write(c.data.join("mi_L4_20220131.csv"), lines.join("\n") + "\n").unwrap();

    // Claims: an unquoted comma in the claim reference puts the provider reference under
    // payment_group and the participant's lot code where the reference goes.
    let claims = "claim_ref,lot_code,provider_ref,payment_group,milestone,milestone_date,submitted_date,amount_gbp,status\n\
        C1,L4,WWH-00000,HTH,JS,06/01/2020,20/01/2020,889.00,VALIDATED\n\
        C2,x,L4,WWH-00001,HTH,JS,06/01/2020,20/01/2020,889.00,VALIDATED\n\
        QQ437011C,WWH-00011,HTH,JS,06/01/2020,20/01/2020,889.00,VALIDATED\n";
    std::fs::write(c.data.join("claims_20220131.csv"), claims).unwrap();

    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.csv");
    // 12 data lines: 7 sound rows, the comma row, and lines 6–9 as one row.
    assert_eq!((a.rows_read, a.rows_clean, a.rows_quarantined), (9, 7, 2));
    let extent = a.lines.unwrap();
    assert_eq!(
        (extent.lines, extent.header_lines, extent.row_lines),
        (13, 1, 12)
    );
    let places: Vec<String> = a.rows.iter().map(|r| r.place()).collect();
    assert_eq!(places, ["3", "6 (lines 6–9)"]);
    assert_eq!(
        a.findings.iter().map(|f| f.rule).collect::<Vec<_>>(),
        ["records_short_of_lines"]
    );
    assert!(a.has_problem());
    assert_eq!(s.participants, 7);

    let q = quarantine(&c);
    let misaligned: Vec<&BTreeMap<String, String>> = q
        .iter()
        .filter(|r| ["field_count", "line_break", "long_field"].contains(&r["rule"].as_str()))
        .collect();
    assert!(misaligned.len() >= 4, "{q:#?}");
    for r in &misaligned {
        assert_eq!(
            r["values_json"], "",
            "a misaligned row keeps no value: {r:?}"
        );
        assert_eq!(
            r["participant_id"], "",
            "nor a pseudonym of a shifted field: {r:?}"
        );
    }
    let claim = q
        .iter()
        .find(|r| r["dataset"] == "claims" && r["source_row"] == "3")
        .unwrap();
    assert_eq!(
        claim["lot_code"], "",
        "a shifted field is never taken for a lot"
    );
    let mut ids = identifiers(&people);
    ids.push("QQ437011C".into());
    assert_no_identifier(&c.run, &ids);
}

#[test]
fn rows_are_reported_as_excel_numbers_them_with_their_physical_line() {
    let study = study();
    for ending in ["\n", "\r\n", "\r"] {
        let c = case();
        let mut bad = row("B");
        bad.insert("gender".into(), "Q".into());
        let mut quoted = row("C");
        quoted.insert("surname".into(), "Two\nLines".into());
        let text = csv_text(&study, &[row("A"), quoted, bad]);
        // A blank line before the bad row: Excel shows it as a row of its own.
        let text = text.replacen("\nB,", "\n\nB,", 1).replace('\n', ending);
        // The quoted line break keeps its own ending, as the provider's tool wrote it.
        std::fs::write(c.data.join("mi_L4_20220131.csv"), text).unwrap();
        let s = run(&c);
        let a = account(&s, "mi_L4_20220131.csv");
        let places: Vec<(String, Vec<&str>)> = a
            .rows
            .iter()
            .map(|r| (r.place(), r.findings.iter().map(|f| f.rule).collect()))
            .collect();
        // Row 3 is the two-line record (lines 3–4), row 4 the blank line 5, row 5 the bad
        // record on line 6.
        assert_eq!(
            places,
            [
                ("3 (lines 3–4)".to_string(), vec!["line_break"]),
                ("5 (line 6)".to_string(), vec!["unknown_code"]),
            ],
            "{ending:?}"
        );
        assert_eq!(a.blank_rows, [(4, 4)], "{ending:?}");
        assert_eq!(a.lines.unwrap().lines, 6, "{ending:?}");
        let csv = std::fs::read_to_string(c.run.join("ingest/validation/L4.csv")).unwrap();
        assert!(
            csv.contains("\nmi_L4_20220131.csv,5,6,1,gender,unknown_code,"),
            "{csv}"
        );
    }
}

#[test]
fn a_file_rejected_whole_counts_the_rows_it_held() {
    let c = case();
    let study = study();
    // UTF-16, as Excel's "Unicode text" saves: rejected, its three data lines counted.
    let text = csv_text(&study, &[row("A"), row("B"), row("C")]);
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(c.data.join("mi_L1_20220131.csv"), utf16).unwrap();
    // Not a workbook at all: rejected, its rows unknown.
    std::fs::write(c.data.join("mi_L2_20220131.xlsx"), b"PK\x03\x04 not really").unwrap();
    // A workbook whose data sheet is misnamed: its first sheet's rows are counted.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet().set_name("Sheet1").unwrap();
    for r in 0..5u32 {
        sheet.write_string(r, 0, "x").unwrap();
    }
    wb.save(c.data.join("mi_L3_20220131.xlsx")).unwrap();
    let s = run(&c);
    let utf = account(&s, "mi_L1_20220131.csv");
    assert_eq!(
        (utf.status, utf.rejected_rule.as_deref(), utf.rows_rejected),
        (FileStatus::Rejected, Some("unsupported_encoding"), Some(3))
    );
    let junk = account(&s, "mi_L2_20220131.xlsx");
    assert_eq!(
        (junk.status, junk.rows_rejected),
        (FileStatus::Rejected, None)
    );
    let sheet = account(&s, "mi_L3_20220131.xlsx");
    assert_eq!(
        (sheet.rejected_rule.as_deref(), sheet.rows_rejected),
        (Some("missing_sheet"), Some(4))
    );
    let summary = std::fs::read_to_string(c.run.join("ingest/validation/summary.md")).unwrap();
    assert!(
        summary.contains("## Files that need attention"),
        "{summary}"
    );
    let md = std::fs::read_to_string(c.run.join("ingest/validation/L2.md")).unwrap();
    assert!(
        md.contains("rows not used because the file was rejected: unknown"),
        "{md}"
    );
}

#[test]
fn a_header_of_ten_thousand_columns_is_refused_and_unknown_names_are_listed_briefly() {
    let c = case();
    let study = study();
    let names: Vec<String> = (0..10_000).map(|i| format!("col{i}")).collect();
    std::fs::write(
        c.data.join("mi_L1_20220131.csv"),
        names.join(",") + "\n" + &vec!["1"; 10_000].join(",") + "\n",
    )
    .unwrap();
    let mut text = csv_text(&study, &[row("A")]);
    // 150 extra columns named in the contract's words (a provider's own additions), and one
    // that is no column name at all.
    let contract = study.mi.expected_columns(&study.codes);
    let words: std::collections::BTreeSet<&str> =
        contract.iter().flat_map(|c| c.split('_')).collect();
    let words: Vec<&str> = words
        .into_iter()
        .filter(|w| w.len() >= 2 && w.chars().all(|c| c.is_ascii_lowercase()))
        .collect();
    let mut extra: Vec<String> = words
        .iter()
        .flat_map(|a| words.iter().map(move |b| format!("{a}_{b}_{a}")))
        .filter(|n| !contract.contains(n))
        .take(150)
        .collect();
    extra.push("Robinson Jr".to_string());
    text = text.replacen('\n', &format!(",{}\n", extra.join(",")), 1);
    let text: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 1 {
                format!("{l}{}\n", ",".repeat(extra.len()))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(c.data.join("mi_L4_20220131.csv"), text).unwrap();
    let s = run(&c);
    let wide = account(&s, "mi_L1_20220131.csv");
    assert_eq!(wide.rejected_rule.as_deref(), Some("too_wide"));
    let note = account(&s, "mi_L4_20220131.csv")
        .notes
        .iter()
        .find(|n| n.starts_with("unknown column"))
        .unwrap()
        .clone();
    assert!(
        note.contains(&format!(
            "`{}`, and 130 more, 1 name(s) not shown (they are not column names of the data \
             tool, and may be data) ignored",
            extra[19]
        )),
        "{note}"
    );
    assert!(
        !note.contains(&extra[20]) && !note.contains("Robinson"),
        "{note}"
    );
}

#[test]
fn a_file_without_its_header_names_none_of_its_cells() {
    let c = case();
    let study = study();
    let text = csv_text(&study, &[person(1), person(2)]);
    // The header line left out: the first row is a participant's.
    let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(c.data.join("mi_L4_20220131.csv"), body).unwrap();
    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.csv");
    assert_eq!(a.rejected_rule.as_deref(), Some("header"));
    assert!(
        a.notes[0].contains("is the header row missing?"),
        "{:?}",
        a.notes
    );
    assert_no_identifier(&c.run, &identifiers(&[person(1), person(2)]));
}

/// An xlsx file with `edit` applied to its first worksheet's XML.
fn edit_workbook(path: &Path, edit: impl Fn(&str) -> String) {
    let edited = generate::edit_sheet(&std::fs::read(path).unwrap(), edit);
    std::fs::write(path, edited).unwrap();
}

fn workbook(rows: &[BTreeMap<String, String>]) -> rust_xlsxwriter::Workbook {
    let study = study();
    let header = study.mi.expected_columns(&study.codes);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet().set_name("Participants").unwrap();
    for (j, h) in header.iter().enumerate() {
        sheet.write_string(0, j as u16, h).unwrap();
    }
    for (i, r) in rows.iter().enumerate() {
        for (j, h) in header.iter().enumerate() {
            if let Some(v) = r.get(h) {
                sheet.write_string(i as u32 + 1, j as u16, v).unwrap();
            }
        }
    }
    wb
}

#[test]
fn a_far_cell_is_a_ragged_row_and_a_cell_beyond_excel_rejects_the_workbook() {
    let c = case();
    // A cell at XFD1048576, Excel's last: the row it is on is ragged, the rows between are
    // blank, and nothing is allocated for the columns and rows in between.
    let path = c.data.join("mi_L4_20220131.xlsx");
    let mut wb = workbook(&[row("A")]);
    wb.worksheet_from_index(0)
        .unwrap()
        .write_string(1_048_575, 16_383, "far")
        .unwrap();
    wb.save(&path).unwrap();
    // The same far cell, its reference rewritten beyond any sheet (ZZZZZZ99999999).
    let beyond = c.data.join("mi_L3_20220131.xlsx");
    let mut wb = workbook(&[row("B")]);
    wb.worksheet_from_index(0)
        .unwrap()
        .write_string(1_048_575, 16_383, "far")
        .unwrap();
    wb.save(&beyond).unwrap();
    edit_workbook(&beyond, |xml| {
        assert!(xml.contains("XFD1048576"));
        xml.replace("XFD1048576", "ZZZZZZ99999999")
    });
    let started = std::time::Instant::now();
    let s = run(&c);
    let far = account(&s, "mi_L4_20220131.xlsx");
    assert_eq!(far.status, FileStatus::Used);
    assert_eq!((far.rows_clean, far.rows_quarantined), (1, 1));
    assert_eq!(far.blank_rows, [(3, 1_048_575)]);
    assert_eq!(far.rows[0].row, 1_048_576);
    assert_eq!(far.rows[0].findings[0].rule, "field_count");
    let beyond = account(&s, "mi_L3_20220131.xlsx");
    assert_eq!(beyond.rejected_rule.as_deref(), Some("beyond_excel"));
    assert!(
        beyond.notes[0].contains("beyond Excel's last cell XFD1048576"),
        "{:?}",
        beyond.notes
    );
    // A million blank rows are counted, not stored: seconds, not minutes.
    assert!(started.elapsed().as_secs() < 120, "{:?}", started.elapsed());
}

#[test]
fn a_damaged_workbook_is_rejected_in_words_that_quote_none_of_its_xml() {
    // Found by the long fuzzing campaign: calamine's message for ill-formed XML quoted what it
    // choked on, which was a participant's reference from the shared strings.
    let c = case();
    let path = c.data.join("mi_L4_20220131.xlsx");
    let people = [person(7)];
    workbook(&people).save(&path).unwrap();
    let reference = people[0]["provider_ref"].clone();
    let damaged = generate::edit_part(
        &std::fs::read(&path).unwrap(),
        "xl/sharedStrings.xml",
        |xml| {
            assert!(xml.contains(&reference));
            // A close tag that closes nothing, named after the reference.
            xml.replacen("<si>", &format!("</x></si{reference}><si>"), 1)
        },
    );
    std::fs::write(&path, damaged).unwrap();
    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.xlsx");
    assert_eq!(a.rejected_rule.as_deref(), Some("unreadable"));
    assert_eq!(
        a.notes,
        [
            "file rejected: the workbook cannot be opened: its XML is damaged; open and save it in Excel"
        ]
    );
    assert_no_identifier(&c.run, &identifiers(&people));
}

#[cfg(unix)]
#[test]
fn the_data_folder_is_walked_without_hanging_and_links_are_followed_or_reported() {
    use std::os::unix::fs::symlink;
    let c = case();
    let study = study();
    // Two folder link loops, and a link to itself.
    std::fs::create_dir(c.data.join("a")).unwrap();
    std::fs::create_dir(c.data.join("b")).unwrap();
    symlink(c.data.join("b"), c.data.join("a/to_b")).unwrap();
    symlink(c.data.join("a"), c.data.join("b/to_a")).unwrap();
    symlink(c.data.join("loop"), c.data.join("loop")).unwrap();
    // A pipe no extract name matches, and one named as an extract: opening either would wait
    // for ever.
    for name in ["notes.fifo", "mi_L1_20220131.csv"] {
        let status = std::process::Command::new("mkfifo")
            .arg(c.data.join(name))
            .status()
            .unwrap();
        assert!(status.success());
    }
    // A link to nothing named as an extract, and an extract that is a link to a real file.
    symlink(c.data.join("gone.csv"), c.data.join("mi_L2_20220131.csv")).unwrap();
    let elsewhere = c._dir.path().join("elsewhere.csv");
    std::fs::write(&elsewhere, csv_text(&study, &[row("A")])).unwrap();
    symlink(&elsewhere, c.data.join("mi_L4_20220131.csv")).unwrap();
    let s: IngestSummary = run(&c);
    let linked = account(&s, "mi_L4_20220131.csv");
    assert_eq!((linked.status, linked.rows_clean), (FileStatus::Used, 1));
    assert!(linked.notes.iter().any(|n| n.contains("symbolic link")));
    let pipe = account(&s, "mi_L1_20220131.csv");
    assert_eq!(pipe.status, FileStatus::Rejected);
    assert!(
        pipe.notes[0].contains("not a regular file"),
        "{:?}",
        pipe.notes
    );
    let dangling = account(&s, "mi_L2_20220131.csv");
    assert_eq!(dangling.status, FileStatus::Rejected);
    assert!(
        dangling.notes[0].contains("leads nowhere"),
        "{:?}",
        dangling.notes
    );
    assert_eq!(account(&s, "notes.fifo").status, FileStatus::Ignored);
}

#[test]
fn names_and_cells_a_spreadsheet_would_run_are_defused_and_names_cannot_break_the_summary() {
    let c = case();
    let study = study();
    std::fs::write(
        c.data.join("mi_L4_20220131.csv"),
        csv_text(&study, &[row("A")]),
    )
    .unwrap();
    for name in ["=HYPERLINK(1).csv", "a|b`<i>c.csv"] {
        std::fs::write(c.data.join(name), "x").unwrap();
    }
    run(&c);
    let summary = std::fs::read_to_string(c.run.join("ingest/validation/summary.md")).unwrap();
    assert!(summary.contains("| `a?b?<i>c.csv` |"), "{summary}");
    let accounting =
        std::fs::read_to_string(c.run.join("ingest/validation/accounting.csv")).unwrap();
    assert!(accounting.contains("\n'=HYPERLINK(1).csv,"), "{accounting}");
    for line in accounting.lines() {
        assert!(!line.starts_with(['=', '+', '-', '@']), "{line}");
    }
}

#[test]
fn a_header_glued_to_a_row_names_none_of_the_rows_cells() {
    // Found by the fuzzer: a header whose line break was lost, or that a stray quote joined to
    // the next lines, listed the row's cells among the "unexpected columns".
    let study = study();
    let people = [person(1), person(2)];
    let text = csv_text(&study, &people);
    let glued = text.replacen('\n', ",", 1);
    let quoted = text.replacen(",gender,", ",\"gender,", 1);
    for (what, bytes) in [("glued", glued), ("quoted", quoted)] {
        let c = case();
        std::fs::write(c.data.join("mi_L4_20220131.csv"), bytes).unwrap();
        let s = run(&c);
        let a = account(&s, "mi_L4_20220131.csv");
        assert_eq!(a.status, FileStatus::Rejected, "{what}");
        let note = &a.notes[0];
        assert!(
            note.contains("name(s) not shown") || note.contains("header row runs over"),
            "{what}: {note}"
        );
        assert_no_identifier(&c.run, &identifiers(&people));
    }
}
