//! Streaming Parquet writers for the clean and quarantine tables.
//!
//! Rows are buffered a batch at a time and flushed, so memory stays bounded whatever the size of
//! an extract.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use evalpipe_study::ColumnType;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::validate::Value;
use crate::{Error, Result};

/// Rows per record batch and row group.
const BATCH_ROWS: usize = 8192;

/// Precision and scale of money columns (pounds and pence).
pub const MONEY_PRECISION: u8 = 12;
/// Two decimals: pence.
pub const MONEY_SCALE: i8 = 2;

/// Arrow type of a dictionary column type.
pub fn arrow_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::Text | ColumnType::Code => DataType::Utf8,
        ColumnType::Flag => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Number => DataType::Float64,
        ColumnType::Money => DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE),
    }
}

/// A Parquet file being written batch by batch.
pub struct TableWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    rows: Vec<Vec<Value>>,
    written: usize,
}

impl TableWriter {
    /// Creates `path` with these (name, type) columns, all nullable.
    pub fn create(path: &Path, columns: &[(String, DataType)]) -> Result<Self> {
        let schema: SchemaRef = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(n, t)| Field::new(n, t.clone(), true))
                .collect::<Vec<_>>(),
        ));
        let file = File::create(path).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(BATCH_ROWS * 8))
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| Error::parquet(path, e))?;
        Ok(TableWriter {
            path: path.to_path_buf(),
            schema,
            writer,
            rows: Vec::new(),
            written: 0,
        })
    }

    /// Adds one row (values in column order).
    pub fn push(&mut self, row: Vec<Value>) -> Result<()> {
        debug_assert_eq!(row.len(), self.schema.fields().len());
        self.rows.push(row);
        if self.rows.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let arrays: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| build_array(f.data_type(), rows.iter().map(|r| &r[i])))
            .collect();
        let batch =
            RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| Error::Internal {
                message: format!("building a batch for {}: {e}", self.path.display()),
            })?;
        self.written += batch.num_rows();
        self.writer
            .write(&batch)
            .map_err(|e| Error::parquet(&self.path, e))
    }

    /// Flushes and closes the file; returns the number of rows written.
    pub fn finish(mut self) -> Result<usize> {
        self.flush()?;
        self.writer
            .close()
            .map_err(|e| Error::parquet(&self.path, e))?;
        Ok(self.written)
    }
}

fn days(d: NaiveDate) -> i32 {
    // Arrow Date32 counts days since 1970-01-01.
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d - epoch).num_days() as i32
}

fn build_array<'a>(kind: &DataType, values: impl Iterator<Item = &'a Value>) -> ArrayRef {
    match kind {
        DataType::Boolean => {
            let mut b = BooleanBuilder::new();
            values.for_each(|v| {
                b.append_option(if let Value::Bool(x) = v {
                    Some(*x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Date32 => {
            let mut b = Date32Builder::new();
            values.for_each(|v| {
                b.append_option(if let Value::Date(d) = v {
                    Some(days(*d))
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Int64 => {
            let mut b = Int64Builder::new();
            values.for_each(|v| {
                b.append_option(if let Value::Int(x) = v {
                    Some(*x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::new();
            values.for_each(|v| {
                b.append_option(if let Value::Float(x) = v {
                    Some(*x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Decimal128(p, s) => {
            let mut b = Decimal128Builder::new();
            values.for_each(|v| {
                b.append_option(if let Value::Money(x) = v {
                    Some(*x)
                } else {
                    None
                })
            });
            Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .unwrap_or_else(|_| {
                        // Precision and scale are our constants and valid.
                        Decimal128Builder::new().finish()
                    }),
            )
        }
        _ => {
            let mut b = StringBuilder::new();
            values.for_each(|v| {
                b.append_option(if let Value::Text(x) = v {
                    Some(x.as_str())
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
    }
}
