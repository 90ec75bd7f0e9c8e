//! What the end-to-end test crates share: where the repository is, the files under a folder,
//! and a file's text as a reader or a program would see it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
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
