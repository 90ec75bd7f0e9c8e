//! What the end-to-end test crates share: where the repository is, the files under a folder,
//! and a file's text as a reader or a program would see it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs the evalpipe binary in the repository and expects it to succeed, printing its output
/// when it does not.
pub fn evalpipe(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_evalpipe"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "evalpipe {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A CSV's rows as column → cell.
pub fn csv_records(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Every file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out.sort();
    out
}

/// Every text a person could read in a file: Parquet and xlsx decoded cell by cell (both are
/// compressed, so a value in them would not be found in their bytes), anything else as it is.
pub fn readable_text(path: &Path) -> String {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "parquet" => evalpipe_ingest::fuzz::readable(path).unwrap(),
        "xlsx" => {
            use calamine::Reader;
            let mut wb = calamine::open_workbook_auto(path).unwrap();
            let mut text = String::new();
            for name in wb.sheet_names() {
                let range = wb.worksheet_range(&name).unwrap();
                for row in range.rows() {
                    for cell in row {
                        text.push_str(&cell.to_string());
                        text.push('\n');
                    }
                }
            }
            text
        }
        _ => String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned(),
    }
}
