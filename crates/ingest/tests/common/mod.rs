//! What the ingest tests share: the study, a key, a valid MI row, files written as the data
//! tool writes them, and an ingest whose accounts must balance.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use evalpipe_ingest::{FileAccount, IngestOptions, IngestSummary, PseudonymKey, ingest};
use evalpipe_study::{RunLayout, Study};

pub fn study() -> Study {
    Study::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline")).unwrap()
}

pub fn key() -> PseudonymKey {
    PseudonymKey::new(b"test key for the ingest rule tests".to_vec()).unwrap()
}

/// A valid MI row of an out-of-work participant in lot L4.
pub fn row(reference: &str) -> BTreeMap<String, String> {
    let mut r: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in [
        ("provider_ref", reference),
        ("first_name", "Amira"),
        ("surname", "Testperson"),
        ("date_of_birth", "14/07/1990"),
        ("postcode", "B8 1AA"),
        ("lot_code", "L4"),
        ("registration_date", "10/09/2019"),
        ("payment_group", "HTH"),
        ("meaningful_interventions", "4"),
        ("embedded_date", "01/11/2019"),
        ("gender", "F"),
        ("ethnicity", "A2"),
        ("highest_qualification", "L2"),
        ("caring_child_u16", "Y"),
        ("sole_carer", "N"),
        ("health_condition", "N"),
        ("claiming_benefits", "Y"),
        ("benefit_type", "UC"),
        ("job_start_date", "06/01/2020"),
        ("sustained_13_date", "06/04/2020"),
        ("heard_leaflet_event", "Y"),
        ("heard_jcp", "N"),
        ("barrier_esol", "Y"),
        ("agreed_cv", "Y"),
    ] {
        r.insert(k.to_string(), v.to_string());
    }
    r
}

pub fn csv_text(study: &Study, rows: &[BTreeMap<String, String>]) -> String {
    let header = study.mi.expected_columns(&study.codes);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for r in rows {
        w.write_record(header.iter().map(|h| r.get(h).cloned().unwrap_or_default()))
            .unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

pub struct Case {
    pub _dir: tempfile::TempDir,
    pub data: PathBuf,
    pub run: PathBuf,
}

pub fn case() -> Case {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = dir.path().join("run");
    std::fs::create_dir_all(&data).unwrap();
    Case {
        _dir: dir,
        data,
        run,
    }
}

pub fn run(c: &Case) -> IngestSummary {
    let opts = IngestOptions {
        key: key(),
        synthetic: false,
    };
    let summary = ingest(&study(), &c.data, &RunLayout::new(&c.run), &opts).unwrap();
    for a in &summary.files {
        assert!(
            a.balances(),
            "{}: read {} != clean {} + quarantined {} + blank {}",
            a.file,
            a.rows_read,
            a.rows_clean,
            a.rows_quarantined,
            a.rows_blank
        );
    }
    summary
}

pub fn account<'a>(s: &'a IngestSummary, file: &str) -> &'a FileAccount {
    s.files
        .iter()
        .find(|a| a.file == file)
        .unwrap_or_else(|| panic!("no account for {file}: {:?}", s.files))
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
