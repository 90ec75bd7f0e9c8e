//! Hostile extracts, generated: valid rows of the data tool whose identifiers are canaries, then
//! the damage real exports and careless or hostile senders do — stray quotes and commas, line
//! breaks of every kind, deleted and flipped bytes, huge fields, encodings, truncation, columns
//! swapped, identifiers typed into other columns, far and impossible workbook cells.
//!
//! Shared by the property tests (`tests/fuzz.rs`) and the long campaign
//! (`examples/fuzz_campaign.rs`): one seed gives one case, so a failure is replayed by its seed.

use std::io::{Read, Write};

use evalpipe_study::Study;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One generated extract.
pub struct Case {
    /// File name (`mi_L4_20220131.csv` or `.xlsx`).
    pub name: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The identifier values planted in it, which no output may hold.
    pub canaries: Vec<String>,
    /// What was done to it, for a failure's message.
    pub damage: Vec<&'static str>,
}

/// The case of a seed: about one in twenty a workbook, the rest CSV.
pub fn case(study: &Study, seed: u64) -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows = valid_rows(study, &mut rng);
    if rng.random_ratio(1, 20) {
        workbook_case(study, &mut rng, rows)
    } else {
        csv_case(study, &mut rng, rows)
    }
}

/// A valid L4 row, as text by column, with canary identifiers: each unique to its row and of the
/// shape real ones have (a reference, two names, a date of birth, a postcode, an NI number).
fn valid_row(i: usize, rng: &mut ChaCha8Rng) -> Vec<(&'static str, String)> {
    let letters = |rng: &mut ChaCha8Rng, n: usize| -> String {
        (0..n)
            .map(|_| (b'a' + rng.random_range(0..26u8)) as char)
            .collect()
    };
    let first = format!("Zq{}", letters(rng, 6));
    let surname = format!("Xv{}", letters(rng, 7));
    let n: u32 = rng.random_range(100_000..999_999);
    let cohort = ["HTH", "HTR", "RP", "EMP"][i % 4];
    let mut row = vec![
        ("provider_ref", format!("CNY-{n:06}")),
        ("first_name", first),
        ("surname", surname),
        (
            "date_of_birth",
            format!("{:02}/{:02}/19{}", 1 + i % 28, 1 + i % 12, 50 + i % 49),
        ),
        ("postcode", format!("ZX{} {}QJ", 1 + i % 9, i % 10)),
        ("ni_number", format!("QZ{n:06}D")),
        ("lot_code", "L4".into()),
        ("registration_date", format!("{:02}/09/2019", 1 + i % 28)),
        ("payment_group", cohort.into()),
        ("meaningful_interventions", (i % 9).to_string()),
        ("gender", ["F", "M", "O", "X"][i % 4].into()),
        ("ethnicity", ["W1", "A2", "B1", "M3"][i % 4].into()),
        ("highest_qualification", "L2".into()),
        ("health_condition", "N".into()),
        ("claiming_benefits", "N".into()),
        ("heard_jcp", "Y".into()),
    ];
    if cohort == "EMP" {
        row.push(("hours_per_week", "16".into()));
        row.push(("weekly_earnings", "210.50".into()));
        row.push(("contract_type", "ZERO".into()));
    }
    row
}

fn valid_rows(study: &Study, rng: &mut ChaCha8Rng) -> Vec<Vec<String>> {
    let header = study.mi.expected_columns(&study.codes);
    let n = rng.random_range(0..24);
    (0..n)
        .map(|i| {
            let row = valid_row(i, rng);
            header
                .iter()
                .map(|h| {
                    row.iter()
                        .find(|(k, _)| k == h)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

fn canaries_of(study: &Study, rows: &[Vec<String>]) -> Vec<String> {
    let header = study.mi.expected_columns(&study.codes);
    let identifier: Vec<bool> = header
        .iter()
        .map(|h| study.mi.column(h).is_some_and(|c| c.identifier.is_some()))
        .collect();
    rows.iter()
        .flat_map(|r| {
            r.iter()
                .zip(&identifier)
                .filter(|(v, id)| **id && !v.is_empty())
                .map(|(v, _)| v.clone())
        })
        .collect()
}

fn csv_case(study: &Study, rng: &mut ChaCha8Rng, mut rows: Vec<Vec<String>>) -> Case {
    let canaries = canaries_of(study, &rows);
    let mut header = study.mi.expected_columns(&study.codes);
    let mut damage = Vec::new();
    // Damage that keeps rows aligned: identifiers typed into other columns, columns swapped.
    for row in rows.iter_mut() {
        if rng.random_ratio(1, 4) && !canaries.is_empty() {
            let c = rng.random_range(0..row.len());
            row[c] = canaries[rng.random_range(0..canaries.len())].clone();
            damage.push("identifier in another column");
        }
        if rng.random_ratio(1, 8) {
            let (a, b) = (
                rng.random_range(0..row.len()),
                rng.random_range(0..row.len()),
            );
            row.swap(a, b);
            damage.push("two fields swapped");
        }
    }
    if rng.random_ratio(1, 30) {
        let a = rng.random_range(0..header.len());
        header[a] = format!("{}_renamed", header[a]);
        damage.push("a column renamed");
    }
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    let mut bytes = w.into_inner().unwrap();
    // Byte-level damage, up to six blows, most of them to the rows: a header hit rejects the
    // file before any row is read, and that path needs fewer cases.
    let header_end = bytes.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
    for _ in 0..rng.random_range(0..7) {
        let from = if rng.random_ratio(4, 5) {
            header_end
        } else {
            0
        };
        damage.push(blow(rng, &mut bytes, from));
    }
    Case {
        name: "mi_L4_20220131.csv",
        bytes,
        canaries,
        damage,
    }
}

/// One random piece of damage to a file's bytes, at or after byte `from`.
fn blow(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>, from: usize) -> &'static str {
    let from = from.min(bytes.len());
    let at = rng.random_range(from..=bytes.len());
    match rng.random_range(0..14) {
        0 => {
            bytes.insert(at, b'"');
            "a stray quote"
        }
        1 => {
            bytes.insert(at, b',');
            "an unquoted comma"
        }
        2 => {
            let ending: &[u8] = [&b"\n"[..], b"\r", b"\r\n", b"\n\n"][rng.random_range(0..4)];
            bytes.splice(at..at, ending.iter().copied());
            "a line break"
        }
        3 => {
            if at < bytes.len() {
                bytes.remove(at);
            }
            "a deleted byte"
        }
        4 => {
            if at < bytes.len() {
                bytes[at] = rng.random();
            }
            "a flipped byte"
        }
        5 => {
            let n = rng.random_range(1_000..150_000);
            let fill = [b'x', b'"', b',', b'\n'][rng.random_range(0..4)];
            bytes.splice(at..at, std::iter::repeat_n(fill, n));
            "a huge run of one byte"
        }
        6 => {
            let bad: &[u8] = [&b"\xff\xfe"[..], b"\xe9", b"\x00", b"\xc3"][rng.random_range(0..4)];
            bytes.splice(at..at, bad.iter().copied());
            "bytes that are not UTF-8"
        }
        7 => {
            bytes.truncate(at);
            "truncated"
        }
        8 => {
            let mark: &[u8] = [&b"\xef\xbb\xbf"[..], b"\xff\xfe"][rng.random_range(0..2)];
            bytes.splice(0..0, mark.iter().copied());
            "a byte-order mark"
        }
        9 => {
            let ending: &[u8] = [&b"\r"[..], b"\r\n"][rng.random_range(0..2)];
            let text = std::mem::take(bytes);
            for b in text {
                if b == b'\n' {
                    bytes.extend_from_slice(ending);
                } else {
                    bytes.push(b);
                }
            }
            "every line ending changed"
        }
        10 => {
            // A line repeated: a duplicate reference.
            let start = bytes[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            let end = bytes[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |p| at + p + 1);
            let line = bytes[start..end].to_vec();
            bytes.splice(end..end, line);
            "a line repeated"
        }
        11 => {
            let n = rng.random_range(1..400);
            bytes.splice(at..at, std::iter::repeat_n(b',', n));
            "a run of commas"
        }
        12 => {
            bytes.splice(at..at, b"\"\"\"".iter().copied());
            "three quotes"
        }
        _ => {
            bytes.splice(at..at, b"=HYPERLINK(\"x\")".iter().copied());
            "a formula"
        }
    }
}

fn workbook_case(study: &Study, rng: &mut ChaCha8Rng, rows: Vec<Vec<String>>) -> Case {
    let canaries = canaries_of(study, &rows);
    let header = study.mi.expected_columns(&study.codes);
    let mut damage = Vec::new();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb
        .add_worksheet()
        .set_name(if rng.random_ratio(1, 20) {
            damage.push("the data sheet misnamed");
            "Sheet1"
        } else {
            "Participants"
        })
        .unwrap();
    for (j, h) in header.iter().enumerate() {
        sheet.write_string(0, j as u16, h).unwrap();
    }
    let mut r = 1u32;
    for row in &rows {
        if rng.random_ratio(1, 6) {
            r += rng.random_range(1..50);
            damage.push("blank rows");
        }
        for (j, v) in row.iter().enumerate() {
            if !v.is_empty() {
                sheet.write_string(r, j as u16, v).unwrap();
            }
        }
        r += 1;
    }
    if rng.random_ratio(1, 3) {
        let (fr, fc) = (
            rng.random_range(r..1_048_576),
            rng.random_range(0..16_384u16),
        );
        sheet.write_string(fr, fc, "far").unwrap();
        damage.push("a far cell");
    }
    if rng.random_ratio(1, 8) {
        sheet
            .write_string(1, 3, "y".repeat(rng.random_range(1_000..32_000)))
            .unwrap();
        damage.push("a huge cell");
    }
    wb.add_worksheet().set_name("Notes").unwrap();
    let mut bytes = wb.save_to_buffer().unwrap();
    if rng.random_ratio(1, 3) {
        let edit = rng.random_range(0..5);
        bytes = edit_sheet(&bytes, |xml| match edit {
            0 => xml.replacen("r=\"A1\"", "r=\"ZZZZZZ99999999\"", 1),
            1 => xml.replacen("r=\"B2\"", "r=\"A0\"", 1),
            2 => xml.replacen("<row r=\"2\"", "<row r=\"9999999\"", 1),
            3 => xml[..xml.len() / 2].to_string(),
            _ => xml.replacen("<dimension ref=\"", "<dimension ref=\"XFD1048576:", 1),
        });
        damage.push("the sheet's XML edited");
    }
    for _ in 0..rng.random_range(0..3) {
        if rng.random_ratio(1, 4) {
            damage.push(blow(rng, &mut bytes, 0));
        }
    }
    Case {
        name: "mi_L4_20220131.xlsx",
        bytes,
        canaries,
        damage,
    }
}

/// The workbook with `edit` applied to its first sheet's XML.
pub fn edit_sheet(bytes: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    edit_part(bytes, "xl/worksheets/sheet1.xml", edit)
}

/// The workbook with `edit` applied to one of its parts (`xl/sharedStrings.xml`, …).
pub fn edit_part(bytes: &[u8], part_name: &str, edit: impl Fn(&str) -> String) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).unwrap();
        let name = part.name().unwrap().into_owned();
        let mut content = Vec::new();
        part.read_to_end(&mut content).unwrap();
        if name == part_name {
            content = edit(&String::from_utf8_lossy(&content)).into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&content).unwrap();
    }
    out.finish().unwrap().into_inner()
}
