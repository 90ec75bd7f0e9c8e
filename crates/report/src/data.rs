//! Tables as template values: `<run>/tables/<name>.parquet` read into a list of rows, each row a
//! map from column name to value.
//!
//! Values keep their kind so filters can format them: integers stay integers, floats floats
//! (money too, for `count`-style formatting of pounds), booleans booleans; dates become ISO
//! `YYYY-MM-DD` strings (the `month` and `date` filters read them); nulls become none.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use minijinja::Value;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use evalpipe_study::RunLayout;

use crate::disclosure::{Decision, SUPPRESSED, decide, decide_run, read_table};

/// Reads one table file into rows.
pub fn read_rows(path: &Path) -> Result<Vec<BTreeMap<String, Value>>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| format!("{} is not a readable Parquet table: {e}", path.display()))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    rows_from_batches(&batches).map_err(|e| format!("{}, {e}", path.display()))
}

/// Record batches (a table a caller computed in memory) as rows, valued as [`read_rows`] does.
pub fn rows_from_batches(
    batches: &[arrow::array::RecordBatch],
) -> Result<Vec<BTreeMap<String, Value>>, String> {
    let mut rows = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let columns: Vec<(String, Vec<Value>)> = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, a)| {
                values(a)
                    .map(|v| (f.name().clone(), v))
                    .map_err(|e| format!("column `{}`: {e}", f.name()))
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
    layout: RunLayout,
    /// Disclosure control threshold (0: none).
    min_count: u64,
    /// Whether any table read so far had a cell suppressed (the report then says so).
    suppressed_any: std::sync::atomic::AtomicBool,
    /// The run's one disclosure decision over everything it publishes, made when the first
    /// table is read: the annex workbook makes the same one.
    decision: OnceLock<Result<Decision, String>>,
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

    /// The tables of the run in `layout`; `decision` is the run's disclosure decision when the
    /// caller has made it already (else it is made when the first table is read).
    pub(crate) fn new(
        layout: &RunLayout,
        min_count: u64,
        decision: Option<Decision>,
    ) -> Arc<Tables> {
        let given = OnceLock::new();
        if let Some(d) = decision {
            let _ = given.set(Ok(d));
        }
        Arc::new(Tables {
            layout: layout.clone(),
            min_count,
            suppressed_any: std::sync::atomic::AtomicBool::new(false),
            decision: given,
            loaded: Mutex::new(BTreeMap::new()),
        })
    }

    /// The run's disclosure decision, made on first use unless it was given.
    fn decision(&self) -> Result<&Decision, String> {
        self.decision
            .get_or_init(|| decide_run(&self.layout, self.min_count))
            .as_ref()
            .map_err(Clone::clone)
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
        let path = self.layout.tables_dir().join(format!("{name}.parquet"));
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
        if !reference {
            let decision = self.decision()?;
            // A table outside the publication (a staging table) is protected on its own.
            let alone;
            let decision = if decision.covers(name) || self.min_count < 2 {
                decision
            } else {
                alone = decide(&[read_table(&path, name)?], self.min_count);
                &alone
            };
            if protect(&mut rows, &decision.hidden_cells(name)) {
                self.suppressed_any
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let value: Value = rows.into_iter().map(Value::from).collect();
        loaded.insert(name.to_string(), value.clone());
        Ok(value)
    }
}

/// Replaces the cells the run's disclosure decision suppresses with
/// [`crate::disclosure::SUPPRESSED`], so no template can print them (the format filters pass
/// the marker through). Returns whether it suppressed anything.
pub fn protect(rows: &mut [BTreeMap<String, Value>], hidden: &[(usize, &str)]) -> bool {
    for &(r, column) in hidden {
        if let Some(row) = rows.get_mut(r) {
            row.insert(column.to_string(), Value::from(SUPPRESSED));
        }
    }
    !hidden.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::SUPPRESSED;
    use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};

    fn write(layout: &RunLayout, name: &str, rows: &[(&str, &str, i64, i64)], n: i64) {
        let strings = |v: Vec<&str>| Arc::new(StringArray::from(v)) as ArrayRef;
        let ints = |v: Vec<i64>| Arc::new(Int64Array::from(v)) as ArrayRef;
        let batch = RecordBatch::try_from_iter([
            (
                "characteristic",
                strings(rows.iter().map(|r| r.0).collect()),
            ),
            ("category", strings(rows.iter().map(|r| r.1).collect())),
            ("participants", ints(rows.iter().map(|r| r.2).collect())),
            ("achieved", ints(rows.iter().map(|r| r.3).collect())),
            (
                "rate",
                Arc::new(Float64Array::from(
                    rows.iter()
                        .map(|r| r.3 as f64 / r.2 as f64)
                        .collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            ("n", ints(vec![n; rows.len()])),
        ])
        .unwrap();
        let file = File::create(layout.table(name, "parquet")).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn the_report_prints_the_runs_one_decision_not_each_tables_own() {
        // Lot B's 4 job starts are small and C's 30 their partner in A-16; A-17 prints C's 30
        // again. On its own A-17 would show it, and A-16's total minus A and C gives B's 4.
        let dir = tempfile::tempdir().unwrap();
        let layout = RunLayout::new(dir.path());
        std::fs::create_dir_all(layout.tables_dir()).unwrap();
        write(
            &layout,
            "job_outcome_by_lot",
            &[
                ("all", "All participants", 400, 134),
                ("lot", "A", 200, 100),
                ("lot", "B", 100, 4),
                ("lot", "C", 100, 30),
            ],
            400,
        );
        write(
            &layout,
            "sustained_13_by_lot",
            &[
                ("all", "All participants", 134, 100),
                ("lot", "A", 100, 80),
                ("lot", "C", 30, 20),
            ],
            134,
        );
        let tables = Tables::new(&layout, 10, None);
        let sustained = tables.get("sustained_13_by_lot").unwrap();
        let c = sustained.get_item(&Value::from(2)).unwrap();
        assert_eq!(
            c.get_attr("participants").unwrap().as_str(),
            Some(SUPPRESSED)
        );
        assert_eq!(c.get_attr("rate").unwrap().as_str(), Some(SUPPRESSED));
        assert_eq!(
            c.get_attr("achieved").unwrap(),
            Value::from(20),
            "C's 20 sustained of 30 leave 10: shown"
        );
        assert!(!tables.disclosure_note().is_empty());
        // The threshold of the run, not a default: none, nothing hidden.
        let none = Tables::new(&layout, 0, None);
        let c = none
            .get("sustained_13_by_lot")
            .unwrap()
            .get_item(&Value::from(2))
            .unwrap();
        assert_eq!(c.get_attr("participants").unwrap(), Value::from(30));
    }
}
