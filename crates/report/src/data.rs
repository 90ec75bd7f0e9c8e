//! Tables as template values: `<run>/tables/<name>.parquet` read into a list of rows, each row a
//! map from column name to value.
//!
//! Values keep their kind so filters can format them: integers stay integers, floats floats
//! (money too, for `count`-style formatting of pounds), booleans booleans; dates become ISO
//! `YYYY-MM-DD` strings (the `month` and `date` filters read them); nulls become none.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use minijinja::Value;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use evalpipe_study::RunLayout;

/// Reads one table file into rows.
pub fn read_rows(path: &Path) -> Result<Vec<BTreeMap<String, Value>>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| format!("{} is not a readable Parquet table: {e}", path.display()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format!("reading {}: {e}", path.display()))?;
        let schema = batch.schema();
        let columns: Vec<(String, Vec<Value>)> = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, a)| {
                values(a)
                    .map(|v| (f.name().clone(), v))
                    .map_err(|e| format!("{}, column `{}`: {e}", path.display(), f.name()))
            })
            .collect::<Result<_, _>>()?;
        for i in 0..batch.num_rows() {
            rows.push(
                columns
                    .iter()
                    .map(|(name, vals)| (name.clone(), vals[i].clone()))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// One column as template values.
fn values(array: &ArrayRef) -> Result<Vec<Value>, String> {
    let to = |t: &DataType| cast(array, t).map_err(|e| e.to_string());
    let n = array.len();
    let out: Vec<Value> = match array.data_type() {
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..n)
                .map(|i| opt(a.is_valid(i), || Value::from(a.value(i))))
                .collect()
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => {
            let c = to(&DataType::Int64)?;
            let a = c.as_primitive::<Int64Type>();
            (0..n)
                .map(|i| opt(a.is_valid(i), || Value::from(a.value(i))))
                .collect()
        }
        // Money (Decimal128) is formatted, never summed, here: a float is exact enough to print.
        DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => {
            let c = to(&DataType::Float64)?;
            let a = c.as_primitive::<Float64Type>();
            (0..n)
                .map(|i| opt(a.is_valid(i), || Value::from(a.value(i))))
                .collect()
        }
        // Strings as they are; dates cast to ISO text; anything else as arrow prints it.
        _ => {
            let c = to(&DataType::Utf8)?;
            let a = c.as_string::<i32>();
            (0..n)
                .map(|i| opt(a.is_valid(i), || Value::from(a.value(i).to_string())))
                .collect()
        }
    };
    Ok(out)
}

fn opt(valid: bool, value: impl FnOnce() -> Value) -> Value {
    if valid { value() } else { Value::from(()) }
}

/// The run's tables, loaded when a template first asks for one and kept for the render.
#[derive(Debug)]
pub(crate) struct Tables {
    dir: PathBuf,
    /// Disclosure control threshold (0: none).
    min_count: u64,
    /// Whether any table read so far had a cell suppressed (the report then says so).
    suppressed_any: std::sync::atomic::AtomicBool,
    loaded: Mutex<BTreeMap<String, Value>>,
}

impl Tables {
    /// The disclosure-control footnote if any table the templates read had a cell suppressed.
    pub(crate) fn disclosure_note(&self) -> String {
        if self
            .suppressed_any
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            crate::disclosure::note(self.min_count)
        } else {
            String::new()
        }
    }

    pub(crate) fn new(layout: &RunLayout, min_count: u64) -> Arc<Tables> {
        Arc::new(Tables {
            dir: layout.tables_dir(),
            min_count,
            suppressed_any: std::sync::atomic::AtomicBool::new(false),
            loaded: Mutex::new(BTreeMap::new()),
        })
    }

    /// The rows of table `name` (`participants_by_cohort`, or `reference/periods` for a
    /// reference table), as a list of maps.
    pub(crate) fn get(&self, name: &str) -> Result<Value, String> {
        let valid = !name.is_empty()
            && !name.starts_with('/')
            && !name.split('/').any(|part| part.is_empty() || part == "..")
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '/');
        if !valid {
            return Err(format!(
                "`{name}` is not a table name (lower-case letters, digits, `_`, and `/` for \
                 `reference/…`)"
            ));
        }
        // A poisoned lock only means another template call panicked; the cache is still valid.
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = loaded.get(name) {
            return Ok(v.clone());
        }
        let path = self.dir.join(format!("{name}.parquet"));
        if !path.is_file() {
            return Err(format!(
                "table `{name}` not found: {} does not exist (is there a query `queries/{name}.sql`, \
                 and has transform run?)",
                path.display()
            ));
        }
        let mut rows = read_rows(&path)?;
        // Reference tables are the study's configuration, not counts of people: the study's
        // (`reference/…`) and the Framework codebook's (`framework/reference/…`).
        let reference = name.starts_with("reference/") || name.contains("/reference/");
        if !reference && protect(&mut rows, self.min_count) {
            self.suppressed_any
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let value: Value = rows.into_iter().map(Value::from).collect();
        loaded.insert(name.to_string(), value.clone());
        Ok(value)
    }
}

/// Replaces the cells disclosure control suppresses with [`crate::disclosure::SUPPRESSED`], so
/// no template can print them (the format filters pass the marker through).
/// Returns whether it suppressed anything.
fn protect(rows: &mut [BTreeMap<String, Value>], min_count: u64) -> bool {
    use crate::disclosure::{Grid, SUPPRESSED, suppressed};
    let Some(first) = rows.first() else {
        return false;
    };
    let columns: Vec<String> = first.keys().cloned().collect();
    let counts = columns
        .iter()
        .map(|c| {
            rows.iter()
                .map(|r| {
                    r.get(c)
                        .filter(|v| {
                            v.kind() == minijinja::value::ValueKind::Number && v.is_integer()
                        })
                        .and_then(|v| i64::try_from(v.clone()).ok())
                })
                .collect()
        })
        .collect();
    let text = columns
        .iter()
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).filter(|v| !v.is_none()).map(|v| v.to_string()))
                .collect()
        })
        .collect();
    let grid = Grid {
        columns: &columns,
        counts,
        text,
    };
    let hidden = suppressed(&grid, min_count);
    for &(r, j) in &hidden {
        rows[r].insert(columns[j].clone(), Value::from(SUPPRESSED));
    }
    !hidden.is_empty()
}
