//! A run's table read whole: each cell as text (to select and key rows) and, for numeric
//! columns, as a number (to compare values).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use arrow::util::display::array_value_to_string;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::register::accepted;

/// A table of a run, each cell as text (for selecting rows) and as a number (for values).
pub(crate) struct Table {
    pub columns: Vec<String>,
    /// Whether each column is numeric (integers, floats, decimals).
    pub numeric: Vec<bool>,
    /// Whether each column is a flag (boolean).
    pub flag: Vec<bool>,
    pub text: Vec<Vec<Option<String>>>,
    pub numbers: Vec<Vec<Option<f64>>>,
}

impl Table {
    pub fn read(path: &Path) -> std::result::Result<Table, String> {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut table = Table {
            columns: Vec::new(),
            numeric: Vec::new(),
            flag: Vec::new(),
            text: Vec::new(),
            numbers: Vec::new(),
        };
        for batch in reader {
            let batch = batch.map_err(|e| format!("{}: {e}", path.display()))?;
            if table.columns.is_empty() {
                table.columns = batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                table.numeric = vec![false; table.columns.len()];
                table.flag = vec![false; table.columns.len()];
                table.text = vec![Vec::new(); table.columns.len()];
                table.numbers = vec![Vec::new(); table.columns.len()];
            }
            for (j, col) in batch.columns().iter().enumerate() {
                let numeric = matches!(
                    col.data_type(),
                    DataType::Int8
                        | DataType::Int16
                        | DataType::Int32
                        | DataType::Int64
                        | DataType::UInt8
                        | DataType::UInt16
                        | DataType::UInt32
                        | DataType::UInt64
                        | DataType::Float32
                        | DataType::Float64
                        | DataType::Decimal128(_, _)
                );
                table.numeric[j] = numeric;
                table.flag[j] = col.data_type() == &DataType::Boolean;
                let as_f64 = if numeric {
                    Some(cast(col, &DataType::Float64).map_err(|e| e.to_string())?)
                } else {
                    None
                };
                for r in 0..col.len() {
                    let text = if col.is_null(r) {
                        None
                    } else {
                        Some(array_value_to_string(col, r).map_err(|e| e.to_string())?)
                    };
                    table.text[j].push(text);
                    let number = as_f64.as_ref().and_then(|a| {
                        let a = a.as_primitive::<Float64Type>();
                        (!a.is_null(r)).then(|| a.value(r))
                    });
                    table.numbers[j].push(number);
                }
            }
        }
        Ok(table)
    }

    pub fn rows(&self) -> usize {
        self.text.first().map_or(0, Vec::len)
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Rows whose cells equal the selector's values (as text; a list accepts any of its
    /// values), in table order.
    pub fn select(
        &self,
        key: &BTreeMap<String, toml::Value>,
    ) -> std::result::Result<Vec<usize>, String> {
        let wanted = self.resolve(key)?;
        Ok((0..self.rows())
            .filter(|&r| self.matches(&wanted, r))
            .collect())
    }

    /// The selector's columns as indices, each with the texts it accepts.
    pub fn resolve(
        &self,
        key: &BTreeMap<String, toml::Value>,
    ) -> std::result::Result<Vec<(usize, Vec<String>)>, String> {
        key.iter()
            .map(|(column, value)| {
                self.column(column)
                    .map(|j| (j, accepted(value)))
                    .ok_or_else(|| format!("no column `{column}`"))
            })
            .collect()
    }

    /// Whether row `r` has, in every resolved column, one of its accepted texts.
    pub fn matches(&self, wanted: &[(usize, Vec<String>)], r: usize) -> bool {
        wanted.iter().all(|(j, values)| {
            self.text[*j][r]
                .as_deref()
                .is_some_and(|cell| values.iter().any(|v| v == cell))
        })
    }
}
