//! Reading the generated twin back (CSV and workbook) and checking it against the dictionaries,
//! independently of the generator's own code.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use calamine::{Data, DataType, Reader};
use chrono::{Datelike, NaiveDate};
use evalpipe_study::{Bound, ColumnType, Dictionary, Study};

/// One row: column → text as a provider's CSV would show it (dates DD/MM/YYYY, blank = "").
pub type Row = BTreeMap<String, String>;

pub fn pipeline() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline")
}

pub fn study() -> Study {
    Study::load(&pipeline()).expect("study loads")
}

pub fn twin() -> evalpipe_synth::TwinConfig {
    evalpipe_synth::load_twin_config(&pipeline().join("twin.toml")).expect("twin.toml loads")
}

/// Reads a CSV (BOM tolerated) into a header and rows.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Row>) {
    let bytes = std::fs::read(path).expect("read csv");
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut r = csv::Reader::from_reader(bytes);
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.expect("record");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

/// Reads the data sheet of a workbook; dates back to DD/MM/YYYY, numbers as text.
pub fn read_xlsx(path: &Path, sheet: &str) -> (Vec<String>, Vec<Row>, Vec<String>) {
    let mut wb = calamine::open_workbook_auto(path).expect("open workbook");
    let sheets = wb.sheet_names().to_vec();
    let range = wb.worksheet_range(sheet).expect("data sheet");
    let mut it = range.rows();
    let header: Vec<String> = it
        .next()
        .expect("header row")
        .iter()
        .map(|c| c.to_string())
        .collect();
    let rows = it
        .map(|r| {
            header
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let v = match r.get(i) {
                        None | Some(Data::Empty) => String::new(),
                        Some(Data::String(s)) => s.clone(),
                        Some(Data::Float(f)) => f.to_string(),
                        Some(Data::Int(i)) => i.to_string(),
                        Some(d @ Data::DateTime(_)) => d
                            .as_date()
                            .map(|d| d.format("%d/%m/%Y").to_string())
                            .unwrap_or_else(|| "BADDATE".into()),
                        Some(other) => format!("UNEXPECTED:{other:?}"),
                    };
                    (h.clone(), v)
                })
                .collect()
        })
        .collect();
    (header, rows, sheets)
}

/// Every MI file of a folder: (lot, file name, header, rows).
pub fn read_mi(dir: &Path) -> Vec<(String, String, Vec<String>, Vec<Row>)> {
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("mi_") else {
            continue;
        };
        let lot = rest.split('_').next().unwrap().to_string();
        let (header, rows) = if name.ends_with(".xlsx") {
            let (h, r, _) = read_xlsx(&path, "Participants");
            (h, r)
        } else {
            read_csv(&path)
        };
        out.push((lot, name, header, rows));
    }
    out
}

pub fn claims_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("claims_")
        })
        .expect("claims file")
}

pub fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%d/%m/%Y").ok()
}

pub fn age_in_years(birth: NaiveDate, at: NaiveDate) -> i64 {
    let mut y = i64::from(at.year() - birth.year());
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        y -= 1;
    }
    y
}

/// Every rule of a dictionary a row breaks (empty: the row would pass ingest).
pub fn row_findings(
    study: &Study,
    dict: &Dictionary,
    row: &Row,
    file_lot: Option<&str>,
) -> Vec<String> {
    let mut f = Vec::new();
    let get = |c: &str| row.get(c).map(String::as_str).unwrap_or("");
    for c in &dict.columns {
        let v = get(&c.name).trim();
        let n = &c.name;
        if v.is_empty() {
            if c.required {
                f.push(format!("{n}: required"));
            }
            continue;
        }
        match c.kind {
            ColumnType::Date => {
                let Some(d) = date(v) else {
                    f.push(format!("{n}: bad date {v}"));
                    continue;
                };
                for (b, is_min) in [(c.min, true), (c.max, false)] {
                    if let Some(Bound::Date(x)) = b
                        && ((is_min && d < x) || (!is_min && d > x))
                    {
                        f.push(format!("{n}: out of bounds"));
                    }
                }
                if let Some(o) = &c.not_before
                    && let Some(od) = date(get(o))
                    && d < od
                {
                    f.push(format!("{n}: before {o}"));
                }
                if let Some(m) = &c.min_weeks_after
                    && let Some(od) = date(get(&m.column))
                    && (d - od).num_days() < 7 * i64::from(m.weeks)
                {
                    f.push(format!("{n}: too soon after {}", m.column));
                }
                if let Some(m) = &c.min_age
                    && let Some(at) = date(get(&m.at))
                    && (at < d || age_in_years(d, at) < i64::from(m.years))
                {
                    f.push(format!("{n}: under age"));
                }
            }
            ColumnType::Flag => {
                if !(v.eq_ignore_ascii_case("y") || v.eq_ignore_ascii_case("n")) {
                    f.push(format!("{n}: bad flag {v}"));
                }
            }
            ColumnType::Code => {
                let list = study.code_list(c.codes.as_deref().unwrap());
                if !list.iter().any(|x| x.code.eq_ignore_ascii_case(v)) {
                    f.push(format!("{n}: unknown code {v}"));
                }
            }
            ColumnType::Integer | ColumnType::Number | ColumnType::Money => {
                let ok = match c.kind {
                    ColumnType::Integer => v.parse::<i64>().is_ok(),
                    ColumnType::Money => {
                        v.parse::<f64>().is_ok()
                            && v.split_once('.').is_none_or(|(_, d)| d.len() <= 2)
                    }
                    _ => v.parse::<f64>().is_ok(),
                };
                if !ok {
                    f.push(format!("{n}: not a number {v}"));
                    continue;
                }
                let x: f64 = v.parse().unwrap();
                if let Some(Bound::Number(lo)) = c.min
                    && x < lo
                {
                    f.push(format!("{n}: below min"));
                }
                if let Some(Bound::Number(hi)) = c.max
                    && x > hi
                {
                    f.push(format!("{n}: above max"));
                }
            }
            ColumnType::Text => {}
        }
        if let Some(w) = &c.applies_when
            && !w.holds(get(&w.column))
        {
            f.push(format!(
                "{n}: filled but {} is `{}`",
                w.column,
                get(&w.column)
            ));
        }
        if let Some(r) = &c.requires
            && get(r).trim().is_empty()
        {
            f.push(format!("{n}: needs {r}"));
        }
        if c.matches_file_lot && file_lot.is_some_and(|l| l != v) {
            f.push(format!("{n}: wrong lot {v}"));
        }
    }
    for q in &dict.questions {
        let opts = study.code_list(&q.options);
        let vals: Vec<&str> = opts
            .iter()
            .map(|o| get(&format!("{}{}", q.column_prefix, o.code)))
            .collect();
        for v in &vals {
            if !v.is_empty() && *v != "Y" && *v != "N" {
                f.push(format!("{}: bad flag {v}", q.id));
            }
        }
        let filled = vals.iter().filter(|v| !v.is_empty()).count();
        if filled > 0 {
            if filled != vals.len() {
                f.push(format!("{}: partly answered", q.id));
            }
            if let Some(w) = &q.applies_when
                && !w.holds(get(&w.column))
            {
                f.push(format!(
                    "{}: answered but {} is `{}`",
                    q.id,
                    w.column,
                    get(&w.column)
                ));
            }
        }
    }
    f
}

/// Participants "with data" for a question and Y counts per option.
pub fn question_counts(study: &Study, rows: &[&Row], id: &str) -> (usize, BTreeMap<String, usize>) {
    let q = study.mi.questions.iter().find(|q| q.id == id).unwrap();
    let opts = study.code_list(&q.options);
    let mut n = 0;
    let mut counts = BTreeMap::new();
    for r in rows {
        let vals: Vec<&str> = opts
            .iter()
            .map(|o| r[&format!("{}{}", q.column_prefix, o.code)].as_str())
            .collect();
        if vals.iter().any(|v| !v.is_empty()) {
            n += 1;
        }
        for (o, v) in opts.iter().zip(vals) {
            if v == "Y" {
                *counts.entry(o.code.clone()).or_insert(0) += 1;
            }
        }
    }
    (n, counts)
}

/// Claims findings: rules per row and the counted-claims sequence and uniqueness rules.
pub fn claims_findings(study: &Study, rows: &[Row]) -> Vec<String> {
    let mut f = Vec::new();
    let mut refs = BTreeSet::new();
    let mut counted: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        for x in row_findings(study, &study.claims, r, None) {
            f.push(format!("{}: {x}", r["claim_ref"]));
        }
        if !refs.insert(r["claim_ref"].clone()) {
            f.push(format!("{}: duplicate claim_ref", r["claim_ref"]));
        }
        if r["status"] == "VALIDATED" {
            let key = (r["lot_code"].clone(), r["provider_ref"].clone());
            if !counted
                .entry(key)
                .or_default()
                .insert(r["milestone"].clone())
            {
                f.push(format!(
                    "{}: second validated {}",
                    r["claim_ref"], r["milestone"]
                ));
            }
        }
    }
    for ((lot, p), ms) in &counted {
        for (m, need) in &study.claims.dataset.milestone_requires {
            if ms.contains(m) && !ms.contains(need) {
                f.push(format!("{lot} {p}: validated {m} without {need}"));
            }
        }
    }
    f
}
