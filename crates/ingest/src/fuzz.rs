//! Ingest's promises as checks a fuzzer can call with any bytes.
//!
//! The property tests (`tests/fuzz.rs`), the long campaign (`examples/fuzz_campaign.rs`) and
//! the cargo-fuzz targets (`fuzz/`) all end here: read the bytes as an extract the way ingest
//! does, and report the first promise broken:
//! - no panic (the caller sees it) and no hang (the caller times it);
//! - every physical line is the header's or a row's, and rows are numbered as Excel shows them;
//! - no *canary* — an identifier value the generator planted in an identifier column, which
//!   misalignment may have carried anywhere — in a file-level message, a finding, or the values
//!   kept with a quarantined row.
//!
//! [`check_ingest`] runs the whole of ingest on a data folder and looks for the canaries in
//! every file it wrote, Parquet decoded.

use std::path::Path;

use evalpipe_study::Study;

use crate::source::{self, Stop};
use crate::validate::{Validator, match_header};
use crate::{IngestOptions, PseudonymKey};

/// What reading one extract came to, when no promise was broken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The file was rejected as a whole (it may be: the point is how).
    pub rejected: bool,
    /// Rows read after the header.
    pub rows: u64,
    /// Rows whose fields may not line up with the header.
    pub misaligned: u64,
    /// Physical lines (CSV) or used sheet rows (workbook).
    pub lines: u64,
}

/// Reads `bytes` as the MI extract `name` (`mi_L4_20220131.csv` or `.xlsx`), written into
/// `scratch`, and checks every promise above; `Err` says which broke.
pub fn check_extract(
    study: &Study,
    scratch: &Path,
    name: &str,
    bytes: &[u8],
    canaries: &[String],
) -> Result<Outcome, String> {
    let path = scratch.join(name);
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let dict = &study.mi;
    let leak = |text: &str, what: &str| -> Result<(), String> {
        match canaries.iter().find(|c| text.contains(c.as_str())) {
            Some(c) => Err(format!("{what} quotes the identifier {c:?}: {text}")),
            None => Ok(()),
        }
    };
    let extract = match source::open(
        &path,
        dict.dataset.workbook_sheet.as_deref(),
        &dict.dataset.workbook_expected_sheets,
        &dict.dataset.date_format,
    ) {
        Ok(e) => e,
        Err(p) => {
            leak(&p.message, "a file problem")?;
            return Ok(Outcome {
                rejected: true,
                ..Outcome::default()
            });
        }
    };
    for n in &extract.notes {
        leak(n, "a file note")?;
    }
    let header = match match_header(dict, &study.codes, &extract.header) {
        Ok(h) => h,
        Err(p) => {
            leak(&p.message(), "a header problem")?;
            return Ok(Outcome {
                rejected: true,
                ..Outcome::default()
            });
        }
    };
    leak(
        &crate::validate::header_names(&header.extra, &header.contract),
        "the unknown columns' note",
    )?;
    let validator = Validator::new(dict, &study.codes, header, Some("L4".to_string()));
    let mut outcome = Outcome::default();
    let mut next_row: Option<u64> = None;
    let mut last_line_end: Option<u64> = None;
    let read = extract.rows(|row| -> Result<(), String> {
        outcome.rows += row.rows;
        if let Some(expected) = next_row
            && row.row != expected
        {
            return Err(format!("row {} where row {expected} was due", row.row));
        }
        next_row = Some(row.row + row.rows);
        if row.lines == 0 || row.rows == 0 {
            return Err(format!("row {} spans no line", row.row));
        }
        if let Some(end) = last_line_end
            && row.line <= end
        {
            return Err(format!(
                "row {} starts on line {} inside the last",
                row.row, row.line
            ));
        }
        last_line_end = Some(row.line + row.lines - 1);
        if row.is_blank() {
            return Ok(());
        }
        let (_, findings) = validator.check(&row);
        if row.misaligned() {
            outcome.misaligned += 1;
            if findings.is_empty() {
                return Err(format!("misaligned row {} has no finding", row.row));
            }
            if !validator.safe_values(&row).is_empty() {
                return Err(format!("misaligned row {} keeps values", row.row));
            }
        }
        for f in &findings {
            leak(&f.message, "a finding")?;
            leak(f.column.as_deref().unwrap_or(""), "a finding's column")?;
        }
        for (column, value) in validator.safe_values(&row) {
            leak(&value, &format!("the kept value of `{column}`"))?;
        }
        Ok(())
    });
    match read {
        Ok(extent) => {
            outcome.lines = extent.lines;
            if !extent.balances() {
                return Err(format!("lines unaccounted for: {extent:?}"));
            }
        }
        Err(Stop::File(p)) => {
            leak(&p.message, "a file problem")?;
            outcome.rejected = true;
        }
        Err(Stop::Caller(e)) => return Err(e),
    }
    Ok(outcome)
}

/// Runs the whole of ingest on `data` into `run` and looks for every canary in every file it
/// wrote (Parquet decoded); also checks that every file's accounts balance.
pub fn check_ingest(
    study: &Study,
    data: &Path,
    run: &Path,
    canaries: &[String],
) -> Result<(), String> {
    let layout = evalpipe_study::RunLayout::new(run);
    let opts = IngestOptions {
        key: PseudonymKey::new(b"fuzzing key, long enough to be a key".to_vec())
            .ok_or("the fuzzing key is too short")?,
        synthetic: false,
    };
    let summary = crate::ingest(study, data, &layout, &opts).map_err(|e| e.to_string())?;
    for a in &summary.files {
        if !a.balances() {
            return Err(format!("{} does not balance: {a:?}", a.file));
        }
    }
    for path in &summary.outputs {
        let text = readable(path)?;
        if let Some(c) = canaries.iter().find(|c| text.contains(c.as_str())) {
            return Err(format!("{} holds the identifier {c:?}", path.display()));
        }
    }
    Ok(())
}

/// The canaries a generated case planted, found in its bytes by their shapes: references
/// `CNY-` and six digits, NI numbers `QZ`, six digits and `D`, first names `Zq` and surnames
/// `Xv` followed by lower-case letters, dates of birth in the last century. A coverage-guided
/// fuzzer (`fuzz/`) mutates such cases byte by byte, so it cannot carry a list along: whatever
/// of these shapes is still whole in its input must not reach an output.
pub fn planted(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = std::collections::BTreeSet::new();
    let chars: Vec<char> = text.chars().collect();
    let word_end = |from: usize, ok: &dyn Fn(char) -> bool| {
        let mut j = from;
        while j < chars.len() && ok(chars[j]) {
            j += 1;
        }
        j
    };
    let mut i = 0;
    while i + 1 < chars.len() {
        let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
        let end = if rest.starts_with("CNY") || rest.starts_with("QZ") {
            word_end(i, &|c| c.is_ascii_alphanumeric() || c == '-')
        } else if rest.starts_with("Zq") || rest.starts_with("Xv") {
            word_end(i + 2, &|c| c.is_ascii_lowercase())
        } else {
            i
        };
        if end > i + 6 {
            out.insert(chars[i..end].iter().collect::<String>());
            i = end;
        } else {
            i += 1;
        }
    }
    for w in text.split(|c: char| !(c.is_ascii_digit() || c == '/')) {
        if w.len() == 10 && w[6..].starts_with("19") && w.as_bytes()[2] == b'/' {
            out.insert(w.to_string());
        }
    }
    out.into_iter().collect()
}

/// A file as text; Parquet decoded cell by cell (its pages are compressed, so a value in it
/// would not be found in its bytes). The tests' scans for identifiers read files with it.
pub fn readable(path: &Path) -> Result<String, String> {
    if path.extension().is_none_or(|e| e != "parquet") {
        return std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| e.to_string());
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let mut text = String::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        for col in batch.columns() {
            for i in 0..col.len() {
                let v = arrow::util::display::array_value_to_string(col, i)
                    .map_err(|e| e.to_string())?;
                text.push_str(&v);
                text.push('\n');
            }
        }
    }
    Ok(text)
}
