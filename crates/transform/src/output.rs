//! Writing tables: Parquet for the next stage, CSV for people, both byte-deterministic.
//!
//! Parquet keeps full precision. CSV is for reading and diffing, so every float is printed with
//! [`FLOAT_DECIMALS`] decimals (Rust's correctly rounded formatting, the same on every machine),
//! dates as ISO `YYYY-MM-DD`, decimals with their scale, nulls as empty fields, and text that a
//! spreadsheet would run as a formula defused ([`evalpipe_study::defuse_formula`]): the CSVs
//! are what people open.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type, Float64Type, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::{Error, Result};

/// Decimals of every float in CSV output (and the golden text of tests).
pub const FLOAT_DECIMALS: usize = 6;

/// A table being written a batch at a time: Parquet for the next stage and, when a person reads
/// the table, CSV beside it. Nothing of the table is held but the Parquet row group being
/// filled, so a query's result is never materialised whole to be written.
pub struct TableWriter {
    parquet_path: std::path::PathBuf,
    parquet: ArrowWriter<File>,
    csv: Option<(std::path::PathBuf, csv::Writer<BufWriter<File>>)>,
    rows: usize,
}

impl TableWriter {
    /// Creates the Parquet file and, with `csv`, the CSV file with its header row. The Parquet
    /// writer records no time or host, so the same rows give the same bytes.
    pub fn create(parquet: &Path, csv: Option<&Path>, schema: &SchemaRef) -> Result<TableWriter> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer = ArrowWriter::try_new(create(parquet)?, Arc::clone(schema), Some(props))
            .map_err(|e| write_error(parquet, e))?;
        let csv = match csv {
            Some(path) => {
                let mut w = csv_writer(BufWriter::with_capacity(1 << 20, create(path)?));
                w.write_record(schema.fields().iter().map(|f| f.name()))
                    .map_err(|e| write_error(path, e))?;
                Some((path.to_path_buf(), w))
            }
            None => None,
        };
        Ok(TableWriter {
            parquet_path: parquet.to_path_buf(),
            parquet: writer,
            csv,
            rows: 0,
        })
    }

    /// Appends a batch to both files.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.parquet
            .write(batch)
            .map_err(|e| write_error(&self.parquet_path, e))?;
        if let Some((path, w)) = &mut self.csv {
            write_rows(w, batch).map_err(|e| write_error(path, e))?;
        }
        self.rows += batch.num_rows();
        Ok(())
    }

    /// Closes both files (the CSV synced to disk); returns the rows written.
    pub fn finish(self) -> Result<usize> {
        self.parquet
            .close()
            .map_err(|e| write_error(&self.parquet_path, e))?;
        if let Some((path, w)) = self.csv {
            let file = w
                .into_inner()
                .map_err(|e| write_error(&path, e))?
                .into_inner()
                .map_err(|e| write_error(&path, e))?;
            file.sync_all()
                .map_err(|source| Error::Io { path, source })?;
        }
        Ok(self.rows)
    }
}

/// Writes `batches` (all of `schema`) to a Parquet file.
pub fn write_parquet(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let mut w = TableWriter::create(path, None, schema)?;
    for batch in batches {
        w.write(batch)?;
    }
    w.finish().map(|_| ())
}

/// Writes `batches` as CSV with a header row, in the fixed formats of this module.
pub fn write_csv(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let text = csv_text(schema, batches).map_err(|message| Error::Write {
        path: path.to_path_buf(),
        message,
    })?;
    let mut file = create(path)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn create(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    File::create(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn csv_writer<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(w)
}

/// Appends a batch's rows in the fixed formats.
fn write_rows<W: Write>(
    out: &mut csv::Writer<W>,
    batch: &RecordBatch,
) -> std::result::Result<(), String> {
    let cells: Vec<CellFormatter> = batch
        .columns()
        .iter()
        .map(|a| CellFormatter::new(a.as_ref()))
        .collect::<std::result::Result<_, _>>()?;
    for row in 0..batch.num_rows() {
        out.write_record(cells.iter().map(|c| c.cell(row)))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The CSV text of a table: header, then one line per row, `\n` line ends.
pub fn csv_text(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> std::result::Result<String, String> {
    let mut out = csv_writer(Vec::new());
    out.write_record(schema.fields().iter().map(|f| f.name()))
        .map_err(|e| e.to_string())?;
    for batch in batches {
        write_rows(&mut out, batch)?;
    }
    let bytes = out.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// Formats the cells of one column.
struct CellFormatter<'a> {
    array: &'a dyn Array,
    display: ArrayFormatter<'a>,
}

impl<'a> CellFormatter<'a> {
    fn new(array: &'a dyn Array) -> std::result::Result<Self, String> {
        // Arrow's display gives ISO dates, decimals at their scale and `true`/`false`; only
        // floats need our fixed format (arrow prints the shortest round-trip form).
        let display = ArrayFormatter::try_new(array, &FormatOptions::new().with_null(""))
            .map_err(|e| e.to_string())?;
        Ok(CellFormatter { array, display })
    }

    fn cell(&self, row: usize) -> String {
        if self.array.is_null(row) {
            return String::new();
        }
        match self.array.data_type() {
            DataType::Float64 => float(self.array.as_primitive::<Float64Type>().value(row)),
            DataType::Float32 => float(f64::from(
                self.array.as_primitive::<Float32Type>().value(row),
            )),
            // Text may come from an extract or an interview: a spreadsheet must not run it.
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                evalpipe_study::defuse_formula(&self.display.value(row).to_string()).into_owned()
            }
            _ => self.display.value(row).to_string(),
        }
    }
}

/// A float with [`FLOAT_DECIMALS`] decimals; never `-0.000000`, so a tiny negative rounding
/// error cannot change a file.
pub fn float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    let s = format!("{v:.FLOAT_DECIMALS$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cells_that_a_spreadsheet_would_run_are_defused_and_numbers_keep_their_sign() {
        use arrow::array::{Float64Array, Int64Array, StringArray};
        use arrow::datatypes::{Field, Schema};
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("claim_ref", DataType::Utf8, true),
            Field::new("b", DataType::Float64, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![
                    "=HYPERLINK(\"http://x\",\"y\")",
                    "@SUM(A1)",
                    "C-001",
                ])),
                Arc::new(Float64Array::from(vec![-0.5, 1.0, -2.25])),
                Arc::new(Int64Array::from(vec![-3, 4, 5])),
            ],
        )
        .unwrap();
        assert_eq!(
            csv_text(&schema, &[batch]).unwrap(),
            "claim_ref,b,n\n\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",-0.500000,-3\n'@SUM(A1),1.000000,4\nC-001,-2.250000,5\n"
        );
    }

    #[test]
    fn floats_have_a_fixed_number_of_decimals() {
        assert_eq!(float(0.6), "0.600000");
        assert_eq!(float(2.0 / 3.0), "0.666667");
        assert_eq!(float(-1e-12), "0.000000");
        assert_eq!(float(1.0), "1.000000");
    }
}
