//! One crafted bad file per validation rule: the finding's rule and message, and the accounting
//! (rows read = clean + quarantined + blank) for every file.

use std::collections::BTreeMap;

use evalpipe_ingest::FileStatus;

mod common;
use common::{account, case, csv_text, row, run, study};

/// Ingests one L4 file with a good row and a bad one; returns the bad row's (rule, column, message).
fn one_bad(edit: impl FnOnce(&mut BTreeMap<String, String>)) -> Vec<(String, String, String)> {
    let c = case();
    let study = study();
    let mut bad = row("WWH-2");
    edit(&mut bad);
    std::fs::write(
        c.data.join("mi_L4_20220131.csv"),
        csv_text(&study, &[row("WWH-1"), bad]),
    )
    .unwrap();
    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.csv");
    assert_eq!(
        (a.rows_read, a.rows_clean, a.rows_quarantined),
        (2, 1, 1),
        "{:?}",
        a.rows
    );
    assert_eq!(a.rows[0].row, 3, "the bad row is the file's third line");
    a.rows[0]
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.to_string(),
                f.column.clone().unwrap_or_default(),
                f.message.clone(),
            )
        })
        .collect()
}

fn assert_finding(found: &[(String, String, String)], rule: &str, column: &str, message: &str) {
    assert!(
        found
            .iter()
            .any(|(r, c, m)| r == rule && c == column && m == message),
        "expected {rule} on {column}: {message:?}\nfound {found:#?}"
    );
}

#[test]
fn a_clean_file_is_used_whole() {
    let c = case();
    let study = study();
    std::fs::write(
        c.data.join("mi_L4_20220131.csv"),
        csv_text(&study, &[row("A"), row("B"), row("C")]),
    )
    .unwrap();
    let s = run(&c);
    assert_eq!(s.participants, 3);
    assert_eq!(s.quarantine_records, 0);
    assert_eq!(account(&s, "mi_L4_20220131.csv").status, FileStatus::Used);
    // Every other lot is reported as without data.
    assert_eq!(s.lots_without_data.len(), 8);
}

#[test]
fn wrong_type() {
    let f = one_bad(|r| {
        r.insert("meaningful_interventions".into(), "3.5".into());
    });
    assert_finding(
        &f,
        "invalid_integer",
        "meaningful_interventions",
        "`meaningful_interventions` is `3.5`, not a whole number",
    );
}

#[test]
fn a_value_that_may_be_personal_data_is_never_quoted() {
    // Aligned rows whose provider typed personal data into the wrong column: a word where a
    // number goes, a name or an NI number where a code goes, a date of birth where a flag
    // goes, the row's own postcode in another column.
    let f = one_bad(|r| {
        r.insert("meaningful_interventions".into(), "Robinson".into());
        r.insert("gender".into(), "Testperson".into());
        r.insert("ethnicity".into(), "QQ437920A".into());
        r.insert("caring_adult".into(), "14/07/1990".into());
        r.insert("highest_qualification".into(), "B8 1AA".into());
    });
    let withheld = "(value withheld: it may be personal data)";
    for (rule, column, message) in [
        (
            "invalid_integer",
            "meaningful_interventions",
            format!("`meaningful_interventions` is {withheld}, not a whole number"),
        ),
        (
            "unknown_code",
            "gender",
            format!("`gender` is {withheld}, not one of F, M, O, X"),
        ),
        (
            "invalid_flag",
            "caring_adult",
            format!("`caring_adult` is {withheld}; a flag must be Y, N or blank"),
        ),
    ] {
        assert_finding(&f, rule, column, &message);
    }
    let text = format!("{f:?}");
    for secret in [
        "Robinson",
        "Testperson",
        "QQ437920A",
        "14/07/1990",
        "B8 1AA",
        "Amira",
    ] {
        assert!(!text.contains(secret), "{secret} quoted in {text}");
    }
}

#[test]
fn a_date_of_birth_typed_into_a_date_column_is_not_quoted() {
    // Found by the fuzzer: a date of birth in `progression_date` was quoted by the date-order
    // rule. A date older than any of the programme's may be one, and is withheld.
    let f = one_bad(|r| {
        r.insert("payment_group".into(), "EMP".into());
        r.remove("job_start_date");
        r.remove("sustained_13_date");
        r.insert("hours_per_week".into(), "16".into());
        r.insert("progression_date".into(), "14/02/1963".into());
        r.insert("progression_employer".into(), "SAME".into());
    });
    assert_finding(
        &f,
        "date_order",
        "progression_date",
        "`progression_date` (date withheld: it may be personal data) is before `registration_date` 10/09/2019",
    );
    assert!(!format!("{f:?}").contains("1963"), "{f:?}");
}

#[test]
fn unknown_code() {
    let f = one_bad(|r| {
        r.insert("payment_group".into(), "LTU".into());
    });
    assert_finding(
        &f,
        "unknown_code",
        "payment_group",
        "`payment_group` is `LTU`, not one of HTH, HTR, RP, EMP",
    );
}

#[test]
fn codes_and_flags_ignore_case_but_not_spelling() {
    let c = case();
    let study = study();
    let mut lower = row("A");
    lower.insert("payment_group".into(), "hth".into());
    lower.insert("heard_jcp".into(), "y".into());
    let mut yes = row("B");
    yes.insert("caring_adult".into(), "yes".into());
    std::fs::write(
        c.data.join("mi_L4_20220131.csv"),
        csv_text(&study, &[lower, yes]),
    )
    .unwrap();
    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.csv");
    assert_eq!(a.rows_clean, 1);
    assert_eq!(
        a.rows[0].findings[0].message,
        "`caring_adult` is `yes`; a flag must be Y, N or blank"
    );
}

#[test]
fn impossible_date() {
    let f = one_bad(|r| {
        r.insert("embedded_date".into(), "31/02/2020".into());
    });
    assert_finding(
        &f,
        "invalid_date",
        "embedded_date",
        "`embedded_date` is `31/02/2020`, not a real date in DD/MM/YYYY",
    );
}

#[test]
fn outcome_before_enrolment() {
    let f = one_bad(|r| {
        r.insert("job_start_date".into(), "01/08/2019".into());
        r.remove("sustained_13_date");
    });
    assert_finding(
        &f,
        "date_order",
        "job_start_date",
        "`job_start_date` 01/08/2019 is before `registration_date` 10/09/2019",
    );
}

#[test]
fn sustainment_too_soon_and_without_its_milestone() {
    let f = one_bad(|r| {
        r.insert("sustained_13_date".into(), "20/01/2020".into());
        r.insert("sustained_52_date".into(), "20/01/2021".into());
    });
    assert_finding(
        &f,
        "too_soon",
        "sustained_13_date",
        "`sustained_13_date` 20/01/2020 is less than 13 weeks after `job_start_date` 06/01/2020",
    );
    assert_finding(
        &f,
        "missing_prerequisite",
        "sustained_52_date",
        "`sustained_52_date` is filled but `sustained_26_date` is blank",
    );
}

#[test]
fn missing_required_field() {
    let f = one_bad(|r| {
        r.insert("registration_date".into(), "  ".into());
    });
    assert_finding(
        &f,
        "required",
        "registration_date",
        "`registration_date` is required but blank",
    );
}

#[test]
fn progression_employer_without_a_progression() {
    let f = one_bad(|r| {
        r.insert("progression_employer".into(), "same".into());
    });
    assert_finding(
        &f,
        "missing_prerequisite",
        "progression_employer",
        "`progression_employer` is filled but `progression_date` is blank",
    );
}

#[test]
fn registration_outside_the_programme() {
    let f = one_bad(|r| {
        r.insert("registration_date".into(), "01/01/2018".into());
        r.remove("embedded_date");
        r.remove("job_start_date");
        r.remove("sustained_13_date");
    });
    assert_finding(
        &f,
        "out_of_range",
        "registration_date",
        "`registration_date` is `01/01/2018`, before/below the limit 01/06/2018",
    );
}

#[test]
fn field_that_does_not_apply() {
    let f = one_bad(|r| {
        r.insert("caring_child_u16".into(), "N".into());
        r.insert("sole_carer".into(), "Y".into());
        r.insert("hours_per_week".into(), "16".into());
        r.insert("health_anxiety".into(), "Y".into());
    });
    assert_finding(
        &f,
        "not_applicable",
        "sole_carer",
        "`sole_carer` is filled but applies only when `caring_child_u16` is Y (it is `N`)",
    );
    assert_finding(
        &f,
        "not_applicable",
        "hours_per_week",
        "`hours_per_week` is filled but applies only when `payment_group` is EMP (it is `HTH`)",
    );
    assert_finding(
        &f,
        "not_applicable",
        "health_anxiety",
        "`health_anxiety` is filled but applies only when `health_condition` is Y",
    );
}

#[test]
fn job_start_on_an_employed_row() {
    let f = one_bad(|r| {
        r.insert("payment_group".into(), "EMP".into());
    });
    assert_finding(
        &f,
        "not_applicable",
        "job_start_date",
        "`job_start_date` is filled but applies only when `payment_group` is HTH or HTR or RP (it is `EMP`)",
    );
}

#[test]
fn under_sixteen_without_quoting_the_date_of_birth() {
    let f = one_bad(|r| {
        r.insert("date_of_birth".into(), "11/09/2003".into());
    });
    assert_finding(
        &f,
        "under_age",
        "date_of_birth",
        "age at `registration_date` is under 16 (from `date_of_birth`)",
    );
    assert!(f.iter().all(|(_, _, m)| !m.contains("2003")));
}

#[test]
fn lot_code_of_another_lot() {
    let f = one_bad(|r| {
        r.insert("lot_code".into(), "L6".into());
    });
    assert_finding(
        &f,
        "wrong_lot",
        "lot_code",
        "`lot_code` is `L6` but the file is the extract of lot L4",
    );
}

#[test]
fn duplicate_participant_ids_are_all_quarantined() {
    let c = case();
    let study = study();
    std::fs::write(
        c.data.join("mi_L4_20220131.csv"),
        csv_text(&study, &[row("A"), row("DUP"), row("DUP")]),
    )
    .unwrap();
    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.csv");
    assert_eq!((a.rows_clean, a.rows_quarantined), (1, 2));
    for r in &a.rows {
        assert_eq!(r.findings[0].rule, "duplicate_key");
        assert_eq!(
            r.findings[0].message,
            "the same `provider_ref` is on 2 rows of this file; none of them is used"
        );
    }
}

#[test]
fn missing_and_renamed_columns_reject_the_file() {
    let c = case();
    let study = study();
    let text = csv_text(&study, &[row("A")]).replacen("gender", "sex", 1);
    std::fs::write(c.data.join("mi_L4_20220131.csv"), text).unwrap();
    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.csv");
    assert_eq!(a.status, FileStatus::Rejected);
    assert_eq!(a.rows_rejected, Some(1));
    assert_eq!(
        a.notes[0],
        "file rejected: header does not match the data tool: missing column(s) `gender`; unexpected column(s) `sex` (renamed?)"
    );
    assert!(s.lots_without_data.contains(&"L4".to_string()));
    assert_eq!(s.participants, 0);
}

#[test]
fn an_extra_column_is_ignored_and_reported() {
    let c = case();
    let study = study();
    let text = csv_text(&study, &[row("A")])
        .replacen("provider_ref", "advisor_note,provider_ref", 1)
        .replacen("\nA,", "\nsee file,A,", 1);
    std::fs::write(c.data.join("mi_L4_20220131.csv"), text).unwrap();
    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.csv");
    assert_eq!(a.rows_clean, 1);
    assert!(
        a.notes
            .contains(&"unknown column(s) `advisor_note` ignored".to_string()),
        "{:?}",
        a.notes
    );
}

#[test]
fn empty_and_header_only_files_are_rejected() {
    let c = case();
    let study = study();
    std::fs::write(c.data.join("mi_L4_20220131.csv"), "").unwrap();
    std::fs::write(c.data.join("mi_L6_20220131.csv"), csv_text(&study, &[])).unwrap();
    let s = run(&c);
    assert_eq!(
        account(&s, "mi_L4_20220131.csv").notes,
        vec!["file rejected: the file is empty (0 bytes)".to_string()]
    );
    assert_eq!(
        account(&s, "mi_L6_20220131.csv").notes,
        vec!["file rejected: the file has a header but no data rows".to_string()]
    );
}

#[test]
fn byte_order_mark_is_removed() {
    let c = case();
    let study = study();
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(csv_text(&study, &[row("A")]).into_bytes());
    std::fs::write(c.data.join("mi_L4_20220131.csv"), bytes).unwrap();
    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.csv");
    assert_eq!(a.rows_clean, 1);
    assert_eq!(
        a.notes,
        vec!["starts with a UTF-8 byte-order mark (removed before reading)".to_string()]
    );
}

#[test]
fn windows_1252_is_read_and_reported() {
    let c = case();
    let study = study();
    let mut r = row("A");
    r.insert("gender".into(), "Fé".into());
    let text = csv_text(&study, &[row("B"), r]);
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    std::fs::write(c.data.join("mi_L4_20220131.csv"), bytes).unwrap();
    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.csv");
    assert_eq!(a.notes, vec!["is not valid UTF-8 (first at line 3); read as Windows-1252 — please export as CSV UTF-8".to_string()]);
    assert_eq!(
        a.rows[0].findings[0].message,
        "`gender` is `Fé`, not one of F, M, O, X"
    );
}

#[test]
fn ragged_row() {
    let c = case();
    let study = study();
    let text = csv_text(&study, &[row("A")]) + "B,Only,Three\n";
    std::fs::write(c.data.join("mi_L4_20220131.csv"), text).unwrap();
    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.csv");
    let n = study.mi.expected_columns(&study.codes).len();
    assert_eq!(
        a.rows[0].findings[0].message,
        format!(
            "the row has 3 fields but the header has {n}, so its values may be under the wrong \
             columns (an unquoted comma, or a stray quote?); none of them is shown or used"
        )
    );
}

#[test]
fn workbook_with_extra_sheet_and_blank_rows() {
    let c = case();
    let study = study();
    let header = study.mi.expected_columns(&study.codes);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet().set_name("Participants").unwrap();
    for (j, h) in header.iter().enumerate() {
        sheet.write_string(0, j as u16, h).unwrap();
    }
    let rows = [Some(row("A")), None, Some(row("B")), None];
    for (i, r) in rows.iter().enumerate() {
        let Some(r) = r else { continue };
        for (j, h) in header.iter().enumerate() {
            if let Some(v) = r.get(h) {
                sheet.write_string(i as u32 + 1, j as u16, v).unwrap();
            }
        }
    }
    // A date cell, as Excel stores dates, must read like the text date.
    let reg = header
        .iter()
        .position(|h| h == "registration_date")
        .unwrap();
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2019, 9, 10).unwrap();
    let fmt = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    sheet
        .write_datetime_with_format(3, reg as u16, &date, &fmt)
        .unwrap();
    // A row whose only cell is a space is blank too.
    sheet.write_string(4, 0, " ").unwrap();
    wb.add_worksheet().set_name("Notes").unwrap();
    wb.add_worksheet().set_name("Pivot").unwrap();
    wb.save(c.data.join("mi_L4_20220131.xlsx")).unwrap();

    let s = run(&c);
    let a = account(&s, "mi_L4_20220131.xlsx");
    assert_eq!(
        a.notes,
        vec!["has an extra sheet `Pivot`, which was not read".to_string()]
    );
    assert_eq!((a.rows_clean, a.rows_quarantined), (2, 0), "{:?}", a.rows);
    assert_eq!(a.blank_rows, vec![(3, 3), (5, 5)]);
    assert_eq!(a.rows_read, 4);
}

#[test]
fn latest_extract_wins_and_a_rejected_latest_does_not_fall_back() {
    let c = case();
    let study = study();
    std::fs::write(
        c.data.join("mi_L4_20211130.csv"),
        csv_text(&study, &[row("A")]),
    )
    .unwrap();
    std::fs::write(c.data.join("mi_L4_20220131.csv"), "provider_ref\n").unwrap();
    std::fs::write(c.data.join("notes.txt"), "hello").unwrap();
    let s = run(&c);
    assert_eq!(
        account(&s, "mi_L4_20211130.csv").status,
        FileStatus::Superseded
    );
    assert_eq!(
        account(&s, "mi_L4_20220131.csv").status,
        FileStatus::Rejected
    );
    assert_eq!(account(&s, "notes.txt").status, FileStatus::Ignored);
    assert!(s.lots_without_data.contains(&"L4".to_string()));
    assert_eq!(s.participants, 0);
}

#[test]
fn claims_rules() {
    let c = case();
    let study = study();
    std::fs::write(
        c.data.join("mi_L4_20220131.csv"),
        csv_text(&study, &[row("A")]),
    )
    .unwrap();
    let text = "\
claim_ref,lot_code,provider_ref,payment_group,milestone,milestone_date,submitted_date,amount_gbp,status
C1,L4,A,HTH,JS,06/01/2020,20/01/2020,889.00,VALIDATED
C2,L4,A,HTH,S13,06/04/2020,20/04/2020,300,VALIDATED
C3,L6,Z9,RP,JS,06/01/2020,20/01/2020,400,VALIDATED
C4,L6,Z9,RP,S26,06/07/2020,20/07/2020,100,VALIDATED
C5,L4,B,HTH,REG,06/01/2020,20/01/2020,0,VALIDATED
C5,L4,B,HTH,EMB,06/01/2020,20/01/2020,0,VALIDATED
C7,L7,Q,RP,JS,06/01/2020,20/01/2020,400,VALIDATED
C8,L7,Q,RP,JS,06/02/2020,20/02/2020,400,VALIDATED
C9,L7,Q,RP,JS,06/02/2020,20/02/2020,400,REJECTED
C10,L7,Q,RP,JS,06/02/2020,20/01/2020,£400,PAID
C11,L7,E,EMP,JS,06/02/2020,20/02/2020,400,QUERIED
";
    // Line 4 (C3) is for a participant not in the MI: valid, reported as unmatched. Line 5: an
    // S26 without a validated S13. Lines 6-7: one claim reference twice. Lines 8-9: two
    // validated job starts for one participant (the rejected C9 does not count). Line 11: the
    // Employed cohort has no job start milestone.
    std::fs::write(c.data.join("claims_20220131.csv"), text).unwrap();
    let s = run(&c);
    let a = account(&s, "claims_20220131.csv");
    assert_eq!((a.rows_read, a.rows_clean, a.rows_quarantined), (11, 4, 7));
    let rules: Vec<(u64, Vec<&str>)> = a
        .rows
        .iter()
        .map(|r| {
            let mut v: Vec<&str> = r.findings.iter().map(|f| f.rule).collect();
            v.sort();
            (r.row, v)
        })
        .collect();
    let expected: Vec<(u64, Vec<&str>)> = vec![
        (5, vec!["milestone_sequence"]),
        (6, vec!["duplicate_key"]),
        (7, vec!["duplicate_key"]),
        (8, vec!["duplicate_milestone"]),
        (9, vec!["duplicate_milestone"]),
        (11, vec!["date_order", "invalid_money", "unknown_code"]),
        (12, vec!["milestone_not_for_cohort"]),
    ];
    assert_eq!(rules, expected);
    let seq = &a.rows[0].findings[0].message;
    assert_eq!(
        seq,
        "a validated `S26` claim needs a validated `S13` claim for the participant"
    );
    assert_eq!(s.claims, 4);
    assert_eq!(
        s.unmatched_claims, 1,
        "C3 is for a participant not in the MI"
    );
}
