//! Streaming Parquet writers for the clean and quarantine tables.
//!
//! Rows are appended to Arrow column builders ([`BatchBuilder`]) a chunk at a time, by whichever
//! thread validates the chunk; the [`TableWriter`] takes the chunks' batches in file order and
//! writes them in batches of exactly [`BATCH_ROWS`] rows, so the Parquet file is the same bytes
//! whatever the chunk size or the number of threads. Memory stays bounded whatever the size of
//! an extract.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    ListBuilder, StringBuilder,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use evalpipe_study::ColumnType;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

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
    /// Rows given and not yet written (fewer than [`BATCH_ROWS`] between two calls).
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    written: usize,
}

impl TableWriter {
    /// Creates `path` with these (name, type) columns, all nullable. `distinct` columns hold a
    /// different value on (nearly) every row, pseudonyms and places: they are written without
    /// a dictionary, which would only be built to be given up (a tenth of writing's time).
    pub fn create(path: &Path, columns: &[(String, DataType)], distinct: &[&str]) -> Result<Self> {
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
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(BATCH_ROWS * 8));
        for name in distinct {
            props = props.set_column_dictionary_enabled(ColumnPath::from(*name), false);
        }
        let props = props.build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| Error::parquet(path, e))?;
        Ok(TableWriter {
            path: path.to_path_buf(),
            schema,
            writer,
            pending: Vec::new(),
            pending_rows: 0,
            written: 0,
        })
    }

    /// The table's schema, for a [`BatchBuilder`].
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Adds rows (a batch of this table's schema, any number of rows), after those given
    /// before.
    pub fn push_batch(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        while self.pending_rows >= BATCH_ROWS {
            let all = self.take_pending()?;
            self.write(all.slice(0, BATCH_ROWS))?;
            let rest = all.num_rows() - BATCH_ROWS;
            if rest > 0 {
                self.pending.push(all.slice(BATCH_ROWS, rest));
                self.pending_rows = rest;
            }
        }
        Ok(())
    }

    /// The pending rows as one batch.
    fn take_pending(&mut self) -> Result<RecordBatch> {
        let pending = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        if pending.len() == 1 {
            return Ok(pending.into_iter().next().unwrap_or_else(|| {
                // One element was just checked to be there.
                RecordBatch::new_empty(self.schema.clone())
            }));
        }
        concat_batches(&self.schema, &pending).map_err(|e| Error::Internal {
            message: format!("joining batches for {}: {e}", self.path.display()),
        })
    }

    fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.written += batch.num_rows();
        self.writer
            .write(&batch)
            .map_err(|e| Error::parquet(&self.path, e))
    }

    /// Flushes and closes the file; returns the number of rows written.
    pub fn finish(mut self) -> Result<usize> {
        if self.pending_rows > 0 {
            let rest = self.take_pending()?;
            self.write(rest)?;
        }
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

/// One column being built.
enum Column {
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Int(Int64Builder),
    Float(Float64Builder),
    Money(Decimal128Builder, u8, i8),
    Text(StringBuilder),
    /// A list of codes (the options a participant ticked).
    Codes(ListBuilder<StringBuilder>),
}

/// The type of a list-of-codes column ([`RowAppender::codes`]).
pub fn codes_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// Rows of one table, appended value by value straight into Arrow column builders (no row is
/// ever a `Vec` of values, no text cell a `String` of its own).
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
}

impl BatchBuilder {
    /// An empty builder for `schema`, sized for about `rows` rows.
    pub fn new(schema: &SchemaRef, rows: usize) -> Self {
        let columns = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Boolean => Column::Bool(BooleanBuilder::with_capacity(rows)),
                DataType::Date32 => Column::Date(Date32Builder::with_capacity(rows)),
                DataType::Int64 => Column::Int(Int64Builder::with_capacity(rows)),
                DataType::Float64 => Column::Float(Float64Builder::with_capacity(rows)),
                DataType::Decimal128(p, s) => {
                    Column::Money(Decimal128Builder::with_capacity(rows), *p, *s)
                }
                DataType::List(_) => Column::Codes(ListBuilder::with_capacity(
                    StringBuilder::with_capacity(rows, rows * 8),
                    rows,
                )),
                _ => Column::Text(StringBuilder::with_capacity(rows, rows * 8)),
            })
            .collect();
        BatchBuilder {
            schema: schema.clone(),
            columns,
            rows: 0,
        }
    }

    /// Appends one row: `fill` gives its values in column order.
    pub fn row(&mut self, fill: impl FnOnce(&mut RowAppender<'_>)) {
        let mut r = RowAppender {
            columns: &mut self.columns,
            next: 0,
        };
        fill(&mut r);
        debug_assert_eq!(r.next, self.columns.len(), "a row fills every column");
        self.rows += 1;
    }

    /// The rows as a batch (none when there are none).
    pub fn finish(self) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = self
            .columns
            .into_iter()
            .map(|c| -> ArrayRef {
                match c {
                    Column::Bool(mut b) => Arc::new(b.finish()),
                    Column::Date(mut b) => Arc::new(b.finish()),
                    Column::Int(mut b) => Arc::new(b.finish()),
                    Column::Float(mut b) => Arc::new(b.finish()),
                    Column::Money(mut b, p, s) => Arc::new(
                        b.finish()
                            .with_precision_and_scale(p, s)
                            .unwrap_or_else(|_| {
                                // Precision and scale are our constants and valid.
                                Decimal128Builder::new().finish()
                            }),
                    ),
                    Column::Text(mut b) => Arc::new(b.finish()),
                    Column::Codes(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        RecordBatch::try_new(self.schema, arrays)
            .map(Some)
            .map_err(|e| Error::Internal {
                message: format!("building a batch: {e}"),
            })
    }
}

/// Appends one row's values, column after column.
pub struct RowAppender<'a> {
    columns: &'a mut [Column],
    next: usize,
}

impl RowAppender<'_> {
    fn column(&mut self) -> &mut Column {
        let i = self.next;
        self.next += 1;
        &mut self.columns[i]
    }

    /// A parsed value; a value of another kind than the column's is null.
    pub fn value(&mut self, v: &Value) {
        match (self.column(), v) {
            (Column::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Column::Bool(b), _) => b.append_null(),
            (Column::Date(b), Value::Date(d)) => b.append_value(days(*d)),
            (Column::Date(b), _) => b.append_null(),
            (Column::Int(b), Value::Int(x)) => b.append_value(*x),
            (Column::Int(b), _) => b.append_null(),
            (Column::Float(b), Value::Float(x)) => b.append_value(*x),
            (Column::Float(b), _) => b.append_null(),
            (Column::Money(b, ..), Value::Money(x)) => b.append_value(*x),
            (Column::Money(b, ..), _) => b.append_null(),
            (Column::Text(b), Value::Text(x)) => b.append_value(x),
            (Column::Text(b), _) => b.append_null(),
            (c @ Column::Codes(_), _) => append_null(c),
        }
    }

    /// A list of codes (a list column), possibly empty.
    pub fn codes<'s>(&mut self, codes: impl IntoIterator<Item = &'s str>) {
        match self.column() {
            Column::Codes(b) => {
                for c in codes {
                    b.values().append_value(c);
                }
                b.append(true);
            }
            other => append_null(other),
        }
    }

    /// Text (a text column), or null.
    pub fn text(&mut self, v: Option<&str>) {
        match self.column() {
            Column::Text(b) => b.append_option(v),
            other => append_null(other),
        }
    }

    /// A whole number (an integer column), or null.
    pub fn int(&mut self, v: Option<i64>) {
        match self.column() {
            Column::Int(b) => b.append_option(v),
            other => append_null(other),
        }
    }

    /// A flag (a boolean column), or null.
    pub fn bool(&mut self, v: Option<bool>) {
        match self.column() {
            Column::Bool(b) => b.append_option(v),
            other => append_null(other),
        }
    }
}

fn append_null(c: &mut Column) {
    match c {
        Column::Bool(b) => b.append_null(),
        Column::Date(b) => b.append_null(),
        Column::Int(b) => b.append_null(),
        Column::Float(b) => b.append_null(),
        Column::Money(b, ..) => b.append_null(),
        Column::Text(b) => b.append_null(),
        Column::Codes(b) => b.append_null(),
    }
}
