//! The models' samples: one streaming pass over the run's three tables.
//!
//! `participant_outcomes`, `participant_categories` and `participant_actions` are all written
//! in the participants' order in the extracts (`place`, ingest's one number for the file and
//! row; see each query's `grain`). The pass reads the three Parquet files side by side in that
//! order, a batch at a time, and merges them by that position: each participant's categories
//! (one column per characteristic, only the columns the specs name) and list of completed
//! actions meet their outcomes row as they go by, so nothing is held per participant and no
//! table of every participant is built. The long `participant_characteristics` (16 rows per
//! participant) is not read: at 10M participants its 160M rows were most of the stage's time.
//! Text columns (and the lists of actions) are read as Parquet stores them, dictionary-coded,
//! and each batch's few distinct values are looked up once, so the pass never compares text per
//! participant. Each file is decoded on a thread of its own a few batches ahead ([`ReadAhead`]),
//! so decoding and counting share the machine's cores. An action a spec names (`completed_action.<option>`) is yes for a participant whose
//! list holds the option and no for one whose list does not: the transform keeps the list
//! rather than a row per participant × action, which at 10M participants was 150M rows.
//!
//! For each participant the pass marks every model's population and exclusion steps and counts
//! the participant into the model's cell: participants alike in every step, the outcome and
//! every covariate ([`Cells`]). The N after every step, the sample's categories and the complete
//! cases all come from those counts, and with categorical covariates the complete cells' counts
//! are sufficient statistics for the fit. The tables are read once for all the models.
//!
//! At 10M participants (three models) the pass took 4.6 s; keys packed into one `u128`
//! ([`CellCounts`]), per-batch lookups instead of text comparisons and the read-ahead threads
//! brought it to 1.9 s on 2 cores, with the same cells.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, Int64Array, RecordBatch, StringArray,
    UInt16Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, SchemaRef};
use evalpipe_study::RunLayout;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};

use crate::frame::{Factor, FrameSource};
use crate::spec::{ACTION_CATEGORIES, ACTION_QUESTION, Filter, ModelSpec};
use crate::{Error, Result};

/// The table of outcomes the models read (`<run>/tables/participant_outcomes.parquet`).
pub const OUTCOMES_TABLE: &str = "participant_outcomes";
/// Each participant's category of every characteristic, one column per characteristic
/// (`<run>/tables/participant_categories.parquet`).
pub const CATEGORIES_TABLE: &str = "participant_categories";
/// The reference table giving each characteristic's categories their order
/// (`<run>/tables/reference/characteristic_values.parquet`), written before any query runs.
const CATEGORY_ORDERS_TABLE: &str = "reference/characteristic_values";
/// Each participant's completed actions as one list (`<run>/tables/participant_actions.parquet`),
/// read as the yes/no characteristics `completed_action.<option>`.
pub const ACTIONS_TABLE: &str = "participant_actions";
/// The column of [`ACTIONS_TABLE`] listing a participant's completed actions.
const ACTIONS_COLUMN: &str = "completed";
/// The reference table of the study's analytic decisions (`pipeline/decisions.toml`), written
/// before any query runs; a study without decisions has no rows in it.
const DECISIONS_TABLE: &str = "reference/decisions";
/// The decision on what a participant with no completed action recorded (no row of
/// [`ACTIONS_TABLE`]) counts as: `missing` (no data for every action: not a complete case), as
/// when the study does not decide, or `no` (every action No).
pub const BLANK_ACTIONS_DECISION: &str = "blank_completed_action";
/// The transform's tables the models read, and all they read: once they are written the
/// models can run, whatever else the transform has left to do.
pub const INPUT_TABLES: [&str; 3] = [OUTCOMES_TABLE, CATEGORIES_TABLE, ACTIONS_TABLE];
/// Rows read from a table at a time, by default.
pub const SAMPLE_BATCH_ROWS: usize = 8192;

/// What a step of the N-per-step table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// A `[[population]]` step: participants kept.
    Population,
    /// An `[[exclude]]` step: participants dropped.
    Exclusion,
    /// Listwise deletion: cases with the outcome and every covariate recorded.
    CompleteCases,
}

impl StepKind {
    /// The word in the steps table.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Population => "population",
            StepKind::Exclusion => "exclusion",
            StepKind::CompleteCases => "complete cases",
        }
    }
}

/// The N after one step of a model's sample definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameStep {
    /// Population, exclusion or complete cases.
    pub kind: StepKind,
    /// The spec's label (or the listwise-deletion label).
    pub label: String,
    /// Participants left after the step.
    pub n: usize,
}

/// Every model's cells, and the categories each characteristic the specs name has anywhere in
/// the tables (in category order).
pub(crate) struct Sample {
    /// One per spec, in the specs' order.
    pub cells: Vec<Cells>,
    /// Characteristic → its categories; a characteristic without data has no entry.
    pub categories: HashMap<String, Vec<String>>,
}

/// The run's [`INPUT_TABLES`].
pub(crate) struct Tables {
    paths: [PathBuf; 3],
    orders: PathBuf,
    outcome_schema: SchemaRef,
    batch_rows: usize,
    /// [`BLANK_ACTIONS_DECISION`] is `no`.
    blank_actions_are_no: bool,
}

impl Tables {
    /// Finds the run's [`INPUT_TABLES`] and reads the outcomes' columns.
    pub(crate) fn open(layout: &RunLayout, batch_rows: usize) -> Result<Tables> {
        let paths = INPUT_TABLES.map(|name| layout.table(name, "parquet"));
        let orders = layout.table(CATEGORY_ORDERS_TABLE, "parquet");
        if let Some(path) = paths.iter().chain([&orders]).find(|p| !p.is_file()) {
            return Err(Error::MissingInput { path: path.clone() });
        }
        let outcome_schema = metadata(&paths[0])?.1.schema().clone();
        let decisions = layout.table(DECISIONS_TABLE, "parquet");
        let blank_actions_are_no = match decision(&decisions, BLANK_ACTIONS_DECISION)? {
            None => false,
            Some(choice) if choice == "missing" => false,
            Some(choice) if choice == "no" => true,
            Some(choice) => {
                return Err(Error::Input {
                    path: decisions,
                    message: format!(
                        "decision `{BLANK_ACTIONS_DECISION}` chooses `{choice}`; the models know \
                         `missing` and `no`"
                    ),
                });
            }
        };
        Ok(Tables {
            paths,
            orders,
            outcome_schema,
            batch_rows: batch_rows.max(1),
            blank_actions_are_no,
        })
    }

    /// The spec's outcome and flag steps must be true/false columns of `participant_outcomes`:
    /// a spec error (naming the file and field) otherwise.
    pub(crate) fn check_spec(&self, spec: &ModelSpec) -> Result<()> {
        let booleans: Vec<&str> = self
            .outcome_schema
            .fields()
            .iter()
            .filter(|f| f.data_type() == &DataType::Boolean)
            .map(|f| f.name().as_str())
            .collect();
        let check = |column: &str, field: String| {
            if booleans.contains(&column) {
                Ok(())
            } else {
                Err(Error::Spec {
                    path: spec.path.clone(),
                    field,
                    message: format!(
                        "`{column}` is not a true/false column of {OUTCOMES_TABLE} (it has: {})",
                        booleans.join(", ")
                    ),
                })
            }
        };
        check(&spec.outcome, "outcome".into())?;
        for (what, steps) in [
            ("population", &spec.population),
            ("exclude", &spec.exclusions),
        ] {
            for (i, step) in steps.iter().enumerate() {
                if let Filter::Flag { column, .. } = &step.filter {
                    check(column, format!("[[{what}]] #{} `flag`", i + 1))?;
                }
            }
        }
        Ok(())
    }

    /// Every model's cells and the characteristics' categories, in one pass over the tables.
    pub(crate) fn sample(&self, specs: &[ModelSpec]) -> Result<Sample> {
        let plan = Plan::new(specs);
        let mut traits: Vec<Interned> = plan.traits.iter().map(|_| Interned::default()).collect();
        let mut outcomes = Outcomes::open(&self.paths[0], &plan, self.batch_rows)?;
        let mut hits = CategoryHits::new(&plan);
        let mut characteristics = Wide::open(&self.paths[1], &self.orders, &plan, self.batch_rows)?;
        let mut actions = Actions::open(&self.paths[2], &plan, self.batch_rows)?;
        let mut counts: Vec<CellCounts> = plan
            .models
            .iter()
            .map(|m| CellCounts::new(m.steps.len(), m.covariate_traits.len()))
            .collect();
        // The participant at hand: each characteristic's category code (0: no data).
        let mut codes = vec![0u32; plan.traits.len()];
        let mut key = Vec::new();
        while outcomes.advance()? {
            let here = outcomes.position();
            codes.fill(0);
            // Rows before this participant belong to nobody in the outcomes; the left join
            // they replace dropped them too (their categories still count as known).
            while let Some(at) = characteristics.peek(&plan, &mut traits)? {
                match at.cmp(&here) {
                    Ordering::Less => characteristics.skip(),
                    Ordering::Equal => {
                        for (&t, &code) in
                            characteristics.columns.iter().zip(characteristics.codes())
                        {
                            if code != 0 {
                                keep(&mut codes, &traits, t, code);
                            }
                        }
                        characteristics.skip();
                    }
                    Ordering::Greater => break,
                }
            }
            let mut recorded = false;
            while let Some(at) = actions.peek(&plan, &mut traits)? {
                match at.cmp(&here) {
                    Ordering::Less => actions.skip(),
                    Ordering::Equal => {
                        for (&(t, _), &code) in plan.actions.iter().zip(actions.codes()) {
                            keep(&mut codes, &traits, t, code);
                        }
                        recorded = true;
                        actions.skip();
                    }
                    Ordering::Greater => break,
                }
            }
            if !recorded && self.blank_actions_are_no {
                for (i, &(t, _)) in plan.actions.iter().enumerate() {
                    codes[t] = actions.code(i, false, &plan, &mut traits);
                }
            }
            hits.refresh(&plan, &traits);
            for (m, model) in plan.models.iter().enumerate() {
                key.clear();
                for test in &model.steps {
                    key.push(u32::from(test.passes(&outcomes, &codes, &plan, &hits)));
                }
                key.push(match outcomes.flag(model.outcome) {
                    None => 0,
                    Some(yes) => 1 + u32::from(yes),
                });
                key.extend(model.covariate_traits.iter().map(|&t| codes[t]));
                counts[m].add(&key);
            }
        }
        // The rest of the tables: participants after the last outcomes row, whose
        // categories are known all the same.
        while characteristics.peek(&plan, &mut traits)?.is_some() {
            characteristics.skip();
        }
        while actions.peek(&plan, &mut traits)?.is_some() {
            actions.skip();
        }
        let cells = specs
            .iter()
            .zip(&plan.models)
            .zip(counts)
            .map(|((spec, model), counts)| model.cells(spec, counts.into_map(), &traits))
            .collect();
        let categories = plan
            .traits
            .iter()
            .zip(&traits)
            .filter(|(_, t)| !t.labels.is_empty())
            .map(|(name, t)| (name.to_string(), t.in_order()))
            .collect();
        Ok(Sample { cells, categories })
    }
}

/// A Parquet file opened, with its footer read (once: the reader below reuses it).
fn metadata(path: &Path) -> Result<(File, ArrowReaderMetadata)> {
    let input = |e: &dyn std::fmt::Display| Error::Input {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = File::open(path).map_err(|e| input(&e))?;
    let metadata =
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| input(&e))?;
    Ok((file, metadata))
}

/// A reader of `columns` of `path`, `batch_rows` at a time; text columns come dictionary-coded,
/// as Parquet stores them.
fn read(path: &Path, columns: &[&str], batch_rows: usize) -> Result<ParquetRecordBatchReader> {
    let input = |message: String| Error::Input {
        path: path.to_path_buf(),
        message,
    };
    let (file, metadata) = metadata(path)?;
    let schema = metadata.schema();
    let mut indices = Vec::new();
    for name in columns {
        indices.push(
            schema
                .index_of(name)
                .map_err(|_| input(format!("it has no column `{name}`")))?,
        );
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let coded = |f: &Field| {
                f.clone().with_data_type(DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(DataType::Utf8),
                ))
            };
            match f.data_type() {
                DataType::Utf8 => coded(f),
                DataType::List(item) if item.data_type() == &DataType::Utf8 => f
                    .as_ref()
                    .clone()
                    .with_data_type(DataType::List(Arc::new(coded(item)))),
                _ => f.as_ref().clone(),
            }
        })
        .collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
    let coded = ArrowReaderMetadata::try_new(metadata.metadata().clone(), options)
        .map_err(|e| input(e.to_string()))?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, coded);
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    builder
        .with_projection(mask)
        .with_batch_size(batch_rows)
        .build()
        .map_err(|e| input(e.to_string()))
}

/// A table's batches decoded on a thread of their own, a few batches ahead of the pass: Parquet
/// decoding (decompressing, unpacking definition levels and lists) is about a third of the
/// pass's work, and this way it runs on another core while the pass counts. The batches come in
/// the file's order, so the pass, and its results, are the same as reading in line.
struct ReadAhead {
    path: PathBuf,
    /// Each batch, then `None` at the end of the file, or the first error.
    batches: std::sync::mpsc::Receiver<Result<Option<RecordBatch>>>,
    /// The end of the file was received (asking again gives `None` again).
    ended: bool,
}

impl ReadAhead {
    /// Batches decoded ahead of their use.
    const AHEAD: usize = 2;

    /// The decoding thread stops after the end of the file or its first error, or when the
    /// pass drops this (a send fails).
    fn open(path: &Path, columns: &[&str], batch_rows: usize) -> Result<ReadAhead> {
        let mut reader = read(path, columns, batch_rows)?;
        let (send, batches) = std::sync::mpsc::sync_channel(Self::AHEAD);
        let file = path.to_path_buf();
        std::thread::Builder::new()
            .name("models-read".into())
            .spawn(move || {
                loop {
                    let next = next_batch(&mut reader, &file);
                    let more = matches!(next, Ok(Some(_)));
                    if send.send(next).is_err() || !more {
                        break;
                    }
                }
            })
            .map_err(|e| Error::Input {
                path: path.to_path_buf(),
                message: format!("cannot start a thread to read it: {e}"),
            })?;
        Ok(ReadAhead {
            path: path.to_path_buf(),
            batches,
            ended: false,
        })
    }

    /// The next batch; `None` at the end of the file.
    fn next(&mut self) -> Result<Option<RecordBatch>> {
        if self.ended {
            return Ok(None);
        }
        let next = self.batches.recv().unwrap_or_else(|_| {
            Err(Error::Internal(format!(
                "the thread reading {} stopped before the end of the file",
                self.path.display()
            )))
        });
        self.ended = matches!(next, Ok(None));
        next
    }
}

/// The next batch of a reader.
fn next_batch(reader: &mut ParquetRecordBatchReader, path: &Path) -> Result<Option<RecordBatch>> {
    reader.next().transpose().map_err(|e| Error::Input {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn column<'b>(batch: &'b RecordBatch, path: &Path, name: &str) -> Result<&'b ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| Error::Input {
        path: path.to_path_buf(),
        message: format!("it has no column `{name}`"),
    })
}

/// A text column as read: its codes and the strings they stand for.
fn coded<'b>(
    batch: &'b RecordBatch,
    path: &Path,
    name: &str,
) -> Result<(&'b DictionaryArray<Int32Type>, &'b StringArray)> {
    let wrong = || Error::Input {
        path: path.to_path_buf(),
        message: format!("column `{name}` is not text"),
    };
    let array = column(batch, path, name)?
        .as_dictionary_opt::<Int32Type>()
        .ok_or_else(wrong)?;
    let values = array.values().as_string_opt::<i32>().ok_or_else(wrong)?;
    Ok((array, values))
}

fn whole_numbers(batch: &RecordBatch, path: &Path, name: &str) -> Result<Int64Array> {
    let array =
        arrow::compute::cast(column(batch, path, name)?, &DataType::Int64).map_err(|e| {
            Error::Input {
                path: path.to_path_buf(),
                message: format!("column `{name}`: {e}"),
            }
        })?;
    Ok(array.as_primitive::<Int64Type>().clone())
}

/// A table's `place` column (a participant's place in the extracts), which no row may lack.
fn places(batch: &RecordBatch, path: &Path) -> Result<Int64Array> {
    let places = whole_numbers(batch, path, "place")?;
    if places.null_count() > 0 {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: "a row has no `place`".into(),
        });
    }
    Ok(places)
}

fn out_of_order(path: &Path, at: i64) -> Error {
    let (file, row) = evalpipe_study::place_parts(at);
    Error::Input {
        path: path.to_path_buf(),
        message: format!(
            "rows are not in extract order (`place`) at row {row} of the run's extract \
             number {file}, as the transform writes them; re-run the transform"
        ),
    }
}

/// `participant_outcomes`, a participant at a time.
struct Outcomes {
    path: PathBuf,
    reader: ReadAhead,
    lists: Vec<(ListColumn, Vec<String>)>,
    flags: Vec<String>,
    batch: Option<OutcomesBatch>,
    /// The row at hand in `batch` (advanced before use).
    at: usize,
    /// The previous participant's place, to check the order (one row a participant).
    last: Option<i64>,
}

struct OutcomesBatch {
    places: Int64Array,
    /// Per list test of the plan ([`Plan::lists`]): its column's codes in the batch, and
    /// whether each code's value is on the list (so a row is tested without comparing text).
    lists: Vec<(DictionaryArray<Int32Type>, Vec<bool>)>,
    flags: Vec<BooleanArray>,
}

impl Outcomes {
    fn open(path: &Path, plan: &Plan, batch_rows: usize) -> Result<Outcomes> {
        let mut columns = vec!["place", ListColumn::Lots.name(), ListColumn::Cohorts.name()];
        columns.extend(plan.flags.iter().map(String::as_str));
        Ok(Outcomes {
            path: path.to_path_buf(),
            reader: ReadAhead::open(path, &columns, batch_rows)?,
            lists: plan.lists.clone(),
            flags: plan.flags.clone(),
            batch: None,
            at: 0,
            last: None,
        })
    }

    /// Moves to the next participant, checking they come after the last; false at the end.
    fn advance(&mut self) -> Result<bool> {
        self.at += 1;
        while self
            .batch
            .as_ref()
            .is_none_or(|b| self.at >= b.places.len())
        {
            let Some(batch) = self.reader.next()? else {
                self.batch = None;
                return Ok(false);
            };
            let path = &self.path;
            let mut lists = Vec::new();
            for (column, list) in &self.lists {
                let (codes, values) = coded(&batch, path, column.name())?;
                let hits = (0..values.len())
                    .map(|i| values.is_valid(i) && list.iter().any(|l| l == values.value(i)))
                    .collect();
                lists.push((codes.clone(), hits));
            }
            let mut flags = Vec::new();
            for name in &self.flags {
                flags.push(
                    column(&batch, path, name)?
                        .as_boolean_opt()
                        .ok_or_else(|| Error::Input {
                            path: path.clone(),
                            message: format!("column `{name}` is not true/false"),
                        })?
                        .clone(),
                );
            }
            self.batch = Some(OutcomesBatch {
                places: places(&batch, path)?,
                lists,
                flags,
            });
            self.at = 0;
        }
        let here = self.position();
        if let Some(last) = self.last
            && last >= here
        {
            return Err(out_of_order(&self.path, here));
        }
        self.last = Some(here);
        Ok(true)
    }

    fn batch(&self) -> &OutcomesBatch {
        self.batch.as_ref().expect("advance() returned true")
    }

    fn position(&self) -> i64 {
        self.batch().places.value(self.at)
    }

    /// Whether the participant's value is on list test `i` of [`Plan::lists`] (no data is not).
    fn on_list(&self, i: usize) -> bool {
        let (codes, hits) = &self.batch().lists[i];
        codes.is_valid(self.at) && hits[codes.keys().value(self.at) as usize]
    }

    /// The `i`-th flag of [`Plan::flags`].
    fn flag(&self, i: usize) -> Option<bool> {
        let f = &self.batch().flags[i];
        (!f.is_null(self.at)).then(|| f.value(self.at))
    }
}

/// Row `row` of a dictionary-coded text column.
fn text(column: &(DictionaryArray<Int32Type>, StringArray), row: usize) -> Option<&str> {
    let (keys, values) = column;
    (!keys.is_null(row)).then(|| values.value(keys.keys().value(row) as usize))
}

/// A table the pass reads in `place` order, a batch at a time: the row at hand, and a check
/// that no row comes before the one read last. Each batch is decoded into a `B` as it is read.
struct Cursor<B> {
    path: PathBuf,
    reader: ReadAhead,
    /// The batch at hand: its places and what it was decoded into.
    batch: Option<(Int64Array, B)>,
    at: usize,
    /// The last row's place, to check the order.
    last: Option<i64>,
}

impl<B> Cursor<B> {
    fn open(path: &Path, columns: &[&str], batch_rows: usize) -> Result<Cursor<B>> {
        Ok(Cursor {
            path: path.to_path_buf(),
            reader: ReadAhead::open(path, columns, batch_rows)?,
            batch: None,
            at: 0,
            last: None,
        })
    }

    /// The place of the row at hand, reading the next batch (and decoding it with `decode`)
    /// when needed; `None` at the end.
    fn peek(
        &mut self,
        mut decode: impl FnMut(&RecordBatch, &Path) -> Result<B>,
    ) -> Result<Option<i64>> {
        while self
            .batch
            .as_ref()
            .is_none_or(|(places, _)| self.at >= places.len())
        {
            let Some(batch) = self.reader.next()? else {
                self.batch = None;
                return Ok(None);
            };
            let decoded = decode(&batch, &self.path)?;
            self.batch = Some((places(&batch, &self.path)?, decoded));
            self.at = 0;
        }
        let (places, _) = self.batch.as_ref().expect("read above");
        let here = places.value(self.at);
        if let Some(last) = self.last
            && last > here
        {
            return Err(out_of_order(&self.path, here));
        }
        self.last = Some(here);
        Ok(Some(here))
    }

    fn skip(&mut self) {
        self.at += 1;
    }

    /// The decoded batch at hand and the row at hand in it.
    fn here(&self) -> (&B, usize) {
        let (_, decoded) = self.batch.as_ref().expect("peek() returned a place");
        (decoded, self.at)
    }
}

/// `participant_categories`, a participant at a time: per batch, each row's category code of
/// each characteristic the specs name that is a column of the table ([`Wide::columns`]; 0: no
/// data), row after row.
struct Wide {
    cursor: Cursor<Vec<u32>>,
    /// The plan's characteristics that are columns of the table (indices into
    /// [`Plan::traits`]), in the order their codes come in a row.
    columns: Vec<usize>,
    /// Each category's order, by characteristic and category, from the reference table.
    orders: HashMap<(String, String), i64>,
}

impl Wide {
    fn open(path: &Path, orders_path: &Path, plan: &Plan, batch_rows: usize) -> Result<Wide> {
        let orders = category_orders(orders_path, batch_rows)?;
        let schema = metadata(path)?.1.schema().clone();
        let columns: Vec<usize> = (0..plan.traits.len())
            .filter(|&t| {
                let name = plan.traits[t].as_str();
                schema.index_of(name).is_ok() && orders.keys().any(|(c, _)| c == name)
            })
            .collect();
        let mut read = vec!["place"];
        read.extend(columns.iter().map(|&t| plan.traits[t].as_str()));
        Ok(Wide {
            cursor: Cursor::open(path, &read, batch_rows)?,
            columns,
            orders,
        })
    }

    /// The place of the row at hand, interning the categories of each batch as it is read;
    /// `None` at the end.
    fn peek(&mut self, plan: &Plan, traits: &mut [Interned]) -> Result<Option<i64>> {
        let (columns, orders) = (&self.columns, &self.orders);
        self.cursor
            .peek(|batch, path| decode_wide(batch, path, columns, orders, plan, traits))
    }

    fn skip(&mut self) {
        self.cursor.skip();
    }

    /// The row at hand's code of each of [`Wide::columns`].
    fn codes(&self) -> &[u32] {
        let (codes, at) = self.cursor.here();
        let width = self.columns.len();
        &codes[at * width..(at + 1) * width]
    }
}

/// Category order by (characteristic, category), from `reference/characteristic_values`.
fn category_orders(path: &Path, batch_rows: usize) -> Result<HashMap<(String, String), i64>> {
    let mut reader = read(
        path,
        &["characteristic", "category", "category_order"],
        batch_rows,
    )?;
    let mut orders = HashMap::new();
    while let Some(batch) = next_batch(&mut reader, path)? {
        let (names, name_values) = coded(&batch, path, "characteristic")?;
        let names = (names.clone(), name_values.clone());
        let (categories, category_values) = coded(&batch, path, "category")?;
        let categories = (categories.clone(), category_values.clone());
        let order = whole_numbers(&batch, path, "category_order")?;
        for row in 0..batch.num_rows() {
            if let (Some(name), Some(category), false) = (
                text(&names, row),
                text(&categories, row),
                order.is_null(row),
            ) {
                orders.insert((name.to_string(), category.to_string()), order.value(row));
            }
        }
    }
    Ok(orders)
}

fn decode_wide(
    batch: &RecordBatch,
    path: &Path,
    columns: &[usize],
    orders: &HashMap<(String, String), i64>,
    plan: &Plan,
    traits: &mut [Interned],
) -> Result<Vec<u32>> {
    let width = columns.len();
    let mut codes = vec![0u32; batch.num_rows() * width];
    for (j, &t) in columns.iter().enumerate() {
        let name = plan.traits[t].as_str();
        let (keys, values) = coded(batch, path, name)?;
        // Each of the batch's distinct categories interned once.
        let code_of: Vec<u32> = (0..values.len())
            .map(|i| {
                let label = values.value(i);
                let code = traits[t].intern(label);
                let order = orders.get(&(name.to_string(), label.to_string())).copied();
                traits[t].saw_order(code, order);
                code
            })
            .collect();
        for row in 0..batch.num_rows() {
            if !keys.is_null(row) {
                codes[row * width + j] = code_of[keys.keys().value(row) as usize];
            }
        }
    }
    Ok(codes)
}

/// Keeps `code` as characteristic `t`'s category for the participant at hand. One row per
/// characteristic is expected; were there two, the larger category (the SQL pivot's `max`) is
/// kept.
fn keep(codes: &mut [u32], traits: &[Interned], t: usize, code: u32) {
    let known = codes[t];
    if known == 0 || traits[t].label(code) > traits[t].label(known) {
        codes[t] = code;
    }
}

/// `participant_actions`, a participant's list of completed actions at a time, read as the
/// yes/no characteristics `completed_action.<option>` the specs name ([`Plan::actions`]): per
/// batch, each row's code of each of the plan's actions, row after row.
struct Actions {
    cursor: Cursor<Vec<u32>>,
    /// Per action of the plan, the codes of yes and no once met (one entry per action, so
    /// also the number of codes per row).
    interned: Vec<[Option<u32>; 2]>,
}

impl Actions {
    fn open(path: &Path, plan: &Plan, batch_rows: usize) -> Result<Actions> {
        Ok(Actions {
            cursor: Cursor::open(path, &["place", ACTIONS_COLUMN], batch_rows)?,
            interned: vec![[None; 2]; plan.actions.len()],
        })
    }

    /// The place of the row at hand, coding each batch's actions as it is read; `None` at the
    /// end.
    fn peek(&mut self, plan: &Plan, traits: &mut [Interned]) -> Result<Option<i64>> {
        let interned = &mut self.interned;
        self.cursor
            .peek(|batch, path| decode_actions(batch, path, plan, traits, interned))
    }

    fn skip(&mut self) {
        self.cursor.skip();
    }

    /// The code of action `i` of the plan (yes or no).
    fn code(&mut self, i: usize, yes: bool, plan: &Plan, traits: &mut [Interned]) -> u32 {
        action_code(&mut self.interned[i], plan.actions[i].0, yes, traits)
    }

    /// The row at hand's code of each of the plan's actions.
    fn codes(&self) -> &[u32] {
        let (codes, at) = self.cursor.here();
        let width = self.interned.len();
        &codes[at * width..(at + 1) * width]
    }
}

fn decode_actions(
    batch: &RecordBatch,
    path: &Path,
    plan: &Plan,
    traits: &mut [Interned],
    interned: &mut [[Option<u32>; 2]],
) -> Result<Vec<u32>> {
    let not = |what: &str| Error::Input {
        path: path.to_path_buf(),
        message: format!("column `{ACTIONS_COLUMN}` is not {what}"),
    };
    let lists = column(batch, path, ACTIONS_COLUMN)?
        .as_list_opt::<i32>()
        .ok_or_else(|| not("a list"))?;
    // The options come dictionary-coded (see `read`), their text in the dictionary.
    let options = lists
        .values()
        .as_dictionary_opt::<Int32Type>()
        .ok_or_else(|| not("a list of text"))?;
    let names = options
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| not("a list of text"))?;
    // Which of the plan's actions each of the batch's distinct options is, if any.
    let action_of: Vec<Option<usize>> = (0..names.len())
        .map(|i| {
            let name = names.is_valid(i).then(|| names.value(i))?;
            plan.actions.iter().position(|(_, option)| option == name)
        })
        .collect();
    let width = plan.actions.len();
    let mut yes = vec![false; width];
    let mut codes = Vec::with_capacity(batch.num_rows() * width);
    let offsets = lists.value_offsets();
    for row in 0..batch.num_rows() {
        yes.fill(false);
        // A null list is no action ticked yes, as an empty one.
        if lists.is_valid(row) {
            for j in offsets[row] as usize..offsets[row + 1] as usize {
                if options.is_valid(j)
                    && let Some(i) = action_of[options.keys().value(j) as usize]
                {
                    yes[i] = true;
                }
            }
        }
        for (i, (t, _)) in plan.actions.iter().enumerate() {
            codes.push(action_code(&mut interned[i], *t, yes[i], traits));
        }
    }
    Ok(codes)
}

/// Characteristic `t`'s code for yes or no (interned the first time it is met).
fn action_code(
    interned: &mut [Option<u32>; 2],
    t: usize,
    yes: bool,
    traits: &mut [Interned],
) -> u32 {
    let which = usize::from(!yes);
    *interned[which].get_or_insert_with(|| {
        let code = traits[t].intern(ACTION_CATEGORIES[which]);
        traits[t].saw_order(code, Some(which as i64 + 1));
        code
    })
}

/// The choice of decision `id` in the reference table at `path`; `None` when the study does
/// not make it (no such row, or no table: a run folder written before decisions existed).
fn decision(path: &Path, id: &str) -> Result<Option<String>> {
    if !path.is_file() {
        return Ok(None);
    }
    let mut reader = read(path, &["decision", "choice"], SAMPLE_BATCH_ROWS)?;
    while let Some(batch) = next_batch(&mut reader, path)? {
        let (ids, id_values) = coded(&batch, path, "decision")?;
        let ids = (ids.clone(), id_values.clone());
        let (choices, choice_values) = coded(&batch, path, "choice")?;
        let choices = (choices.clone(), choice_values.clone());
        for row in 0..batch.num_rows() {
            if text(&ids, row) == Some(id) {
                return Ok(text(&choices, row).map(str::to_string));
            }
        }
    }
    Ok(None)
}

/// The distinct categories of one characteristic as the pass meets them, each with a code
/// (from 1; 0 is no data) and its category order.
#[derive(Default)]
struct Interned {
    code: HashMap<String, u32>,
    labels: Vec<(Option<i64>, String)>,
}

impl Interned {
    fn intern(&mut self, label: &str) -> u32 {
        if let Some(&code) = self.code.get(label) {
            return code;
        }
        self.labels.push((None, label.to_string()));
        let code = self.labels.len() as u32;
        self.code.insert(label.to_string(), code);
        code
    }

    /// A category's order is the least of its rows' (rows without one do not count).
    fn saw_order(&mut self, code: u32, order: Option<i64>) {
        let known = &mut self.labels[code as usize - 1].0;
        *known = match (*known, order) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    fn label(&self, code: u32) -> &str {
        &self.labels[code as usize - 1].1
    }

    /// The categories by category order, then name (without an order last).
    fn in_order(&self) -> Vec<String> {
        let mut labels: Vec<&(Option<i64>, String)> = self.labels.iter().collect();
        labels.sort_by(|a, b| (a.0.is_none(), a.0, &a.1).cmp(&(b.0.is_none(), b.0, &b.1)));
        labels.into_iter().map(|(_, l)| l.clone()).collect()
    }
}

/// What the pass reads and tests, from the specs.
struct Plan {
    /// The characteristics any spec names (covariates and steps).
    traits: Vec<String>,
    /// The true/false columns of the outcomes any spec names (outcomes and flag steps).
    flags: Vec<String>,
    models: Vec<ModelColumns>,
    /// The characteristics that are completed actions (index into `traits`), with their
    /// option: those of the study's `completed_action` code list a spec names.
    actions: Vec<(usize, String)>,
    /// The lists of lots or cohorts the steps test against.
    lists: Vec<(ListColumn, Vec<String>)>,
    /// The characteristics (index into `traits`) and categories the steps test against.
    categories: Vec<(usize, Vec<String>)>,
}

/// A column of the outcomes a step can test against a list of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListColumn {
    Lots,
    Cohorts,
}

impl ListColumn {
    fn name(self) -> &'static str {
        match self {
            ListColumn::Lots => "lot_code",
            ListColumn::Cohorts => "payment_group",
        }
    }
}

/// One step's test of a participant.
enum Test {
    /// The participant's lot or cohort is on list `i` of [`Plan::lists`].
    List(usize),
    Flag {
        flag: usize,
        value: bool,
    },
    /// The participant's category of a characteristic is among those of test `i` of
    /// [`Plan::categories`].
    Category(usize),
}

/// Per category test of the plan ([`Plan::categories`]), whether each code of its
/// characteristic (`[code - 1]`) is among the test's categories: extended as the pass meets
/// new categories, so a participant is tested without comparing text.
struct CategoryHits(Vec<Vec<bool>>);

impl CategoryHits {
    fn new(plan: &Plan) -> CategoryHits {
        CategoryHits(vec![Vec::new(); plan.categories.len()])
    }

    /// Takes in the categories interned since the last call.
    fn refresh(&mut self, plan: &Plan, traits: &[Interned]) {
        for ((t, categories), hits) in plan.categories.iter().zip(&mut self.0) {
            let labels = &traits[*t].labels;
            for (_, label) in &labels[hits.len()..] {
                hits.push(categories.iter().any(|c| c == label));
            }
        }
    }
}

/// A step: its test, and whether passing means matching it (population) or not (exclusion).
struct StepTest {
    test: Test,
    exclusion: bool,
}

impl StepTest {
    /// Missing data matches no test: a population step drops the participant, an exclusion
    /// keeps them (listwise deletion decides later if the covariate is used).
    fn passes(&self, o: &Outcomes, codes: &[u32], plan: &Plan, hits: &CategoryHits) -> bool {
        let matched = match self.test {
            Test::List(i) => o.on_list(i),
            Test::Flag { flag, value } => o.flag(flag) == Some(value),
            Test::Category(i) => {
                let code = codes[plan.categories[i].0] as usize;
                code != 0 && hits.0[i][code - 1]
            }
        };
        matched != self.exclusion
    }
}

/// One model's steps, outcome and covariates in the pass.
struct ModelColumns {
    labels: Vec<(StepKind, String)>,
    steps: Vec<StepTest>,
    /// Index into [`Plan::flags`].
    outcome: usize,
    /// The characteristic (index into [`Plan::traits`]) of each covariate.
    covariate_traits: Vec<usize>,
}

impl Plan {
    fn new(specs: &[ModelSpec]) -> Plan {
        fn index(list: &mut Vec<String>, name: &str) -> usize {
            match list.iter().position(|t| t == name) {
                Some(i) => i,
                None => {
                    list.push(name.to_string());
                    list.len() - 1
                }
            }
        }
        let mut traits = Vec::new();
        let mut flags = Vec::new();
        let mut models = Vec::new();
        let mut lists = Vec::new();
        let mut categories_tested = Vec::new();
        for spec in specs {
            let outcome = index(&mut flags, &spec.outcome);
            let all = spec
                .population
                .iter()
                .map(|s| (StepKind::Population, s))
                .chain(spec.exclusions.iter().map(|s| (StepKind::Exclusion, s)));
            let mut labels = Vec::new();
            let mut steps = Vec::new();
            for (kind, step) in all {
                let test = match &step.filter {
                    Filter::Cohorts(codes) => {
                        lists.push((ListColumn::Cohorts, codes.clone()));
                        Test::List(lists.len() - 1)
                    }
                    Filter::Lots(codes) => {
                        lists.push((ListColumn::Lots, codes.clone()));
                        Test::List(lists.len() - 1)
                    }
                    Filter::Flag { column, value } => Test::Flag {
                        flag: index(&mut flags, column),
                        value: *value,
                    },
                    Filter::Characteristic {
                        characteristic,
                        categories,
                    } => {
                        let t = index(&mut traits, characteristic);
                        categories_tested.push((t, categories.clone()));
                        Test::Category(categories_tested.len() - 1)
                    }
                };
                labels.push((kind, step.label.clone()));
                steps.push(StepTest {
                    test,
                    exclusion: kind == StepKind::Exclusion,
                });
            }
            let covariate_traits = spec
                .covariates
                .iter()
                .map(|c| index(&mut traits, &c.characteristic))
                .collect();
            models.push(ModelColumns {
                labels,
                steps,
                outcome,
                covariate_traits,
            });
        }
        // An option outside the code list is no characteristic of the study: like any unknown
        // name it has no data, and the stage says so.
        let actions = traits
            .iter()
            .enumerate()
            .filter(|(_, name)| specs.iter().any(|s| s.categories.contains_key(*name)))
            .filter_map(|(t, name)| {
                let option = name.strip_prefix(ACTION_QUESTION)?.strip_prefix('.')?;
                Some((t, option.to_string()))
            })
            .collect();
        Plan {
            traits,
            flags,
            models,
            actions,
            lists,
            categories: categories_tested,
        }
    }
}

/// One model's count of participants per cell during the pass. A cell's key is, in order,
/// whether each step passed (0/1), the outcome (0 no data, 1 no, 2 yes) and each covariate's
/// code (0 no data). Counting is most of the pass's work (three lookups per participant), so a
/// key that fits is packed into one `u128` (a bit per step, two for the outcome, a byte per
/// covariate) and hashed by foldhash; a key that does not (a characteristic with more than 255
/// categories, or very many covariates) is counted under its whole list. A key always goes to
/// the same map, so the two never count one cell twice.
struct CellCounts {
    steps: usize,
    covariates: usize,
    /// Keys fit in a `u128` at all (given a code below 256 for every covariate).
    packs: bool,
    packed: HashMap<u128, usize, foldhash::fast::FixedState>,
    listed: HashMap<Vec<u32>, usize, foldhash::fast::FixedState>,
}

impl CellCounts {
    const COVARIATE_BITS: usize = 8;

    fn new(steps: usize, covariates: usize) -> CellCounts {
        CellCounts {
            steps,
            covariates,
            packs: steps + 2 + covariates * Self::COVARIATE_BITS <= 128,
            packed: HashMap::default(),
            listed: HashMap::default(),
        }
    }

    fn pack(&self, key: &[u32]) -> Option<u128> {
        if !self.packs {
            return None;
        }
        let (flags, covariates) = key.split_at(self.steps + 1);
        let mut packed = 0u128;
        for &code in covariates.iter().rev() {
            if code >> Self::COVARIATE_BITS != 0 {
                return None;
            }
            packed = packed << Self::COVARIATE_BITS | u128::from(code);
        }
        let (passes, outcome) = flags.split_at(self.steps);
        packed = packed << 2 | u128::from(outcome[0]);
        for &pass in passes.iter().rev() {
            packed = packed << 1 | u128::from(pass);
        }
        Some(packed)
    }

    fn unpack(&self, mut packed: u128) -> Vec<u32> {
        let mut key = Vec::with_capacity(self.steps + 1 + self.covariates);
        for _ in 0..self.steps {
            key.push((packed & 1) as u32);
            packed >>= 1;
        }
        key.push((packed & 3) as u32);
        packed >>= 2;
        let mask = (1u128 << Self::COVARIATE_BITS) - 1;
        for _ in 0..self.covariates {
            key.push((packed & mask) as u32);
            packed >>= Self::COVARIATE_BITS;
        }
        key
    }

    fn add(&mut self, key: &[u32]) {
        match self.pack(key) {
            Some(packed) => *self.packed.entry(packed).or_insert(0) += 1,
            None => match self.listed.get_mut(key) {
                Some(n) => *n += 1,
                None => {
                    self.listed.insert(key.to_vec(), 1);
                }
            },
        }
    }

    /// Every cell's count by its whole key.
    fn into_map(self) -> HashMap<Vec<u32>, usize> {
        let mut counts: HashMap<Vec<u32>, usize> = self
            .packed
            .iter()
            .map(|(&p, &n)| (self.unpack(p), n))
            .collect();
        counts.extend(self.listed);
        counts
    }
}

/// A covariate's category for sorting cells: by name, no data last.
fn no_data_last(v: &Option<(Option<i64>, String)>) -> (bool, &str) {
    v.as_ref()
        .map_or((true, ""), |(_, label)| (false, label.as_str()))
}

impl ModelColumns {
    /// The model's cells from the pass's counts, in a fixed order (so the fit's sums are the
    /// same to the last bit on every run): by step, outcome and covariates' categories, false
    /// before true and no data last.
    fn cells(
        &self,
        spec: &ModelSpec,
        counts: HashMap<Vec<u32>, usize>,
        traits: &[Interned],
    ) -> Cells {
        let steps = self.steps.len();
        let mut cells: Vec<Cell> = counts
            .into_iter()
            .map(|(key, n)| Cell {
                passes: key[..steps].iter().map(|&p| p == 1).collect(),
                outcome: match key[steps] {
                    0 => None,
                    code => Some(code == 2),
                },
                covariates: key[steps + 1..]
                    .iter()
                    .zip(&self.covariate_traits)
                    .map(|(&code, &t)| {
                        (code > 0).then(|| traits[t].labels[code as usize - 1].clone())
                    })
                    .collect(),
                n,
            })
            .collect();
        cells.sort_by(|a, b| {
            a.passes
                .cmp(&b.passes)
                .then_with(|| {
                    (a.outcome.is_none(), a.outcome).cmp(&(b.outcome.is_none(), b.outcome))
                })
                .then_with(|| {
                    a.covariates
                        .iter()
                        .map(no_data_last)
                        .cmp(b.covariates.iter().map(no_data_last))
                })
        });
        Cells {
            cells,
            steps: self.labels.clone(),
            covariates: spec.covariates.len(),
        }
    }
}

/// One cell of a model's participants: alike in every step, the outcome and every covariate.
#[derive(Debug, Clone)]
struct Cell {
    /// Passes each step (population, then exclusions).
    passes: Vec<bool>,
    /// The outcome, when recorded.
    outcome: Option<bool>,
    /// Each covariate's category with its order, when recorded.
    covariates: Vec<Option<(Option<i64>, String)>>,
    /// Participants in the cell.
    n: usize,
}

/// A model's participants as cells (see [`Tables::cells`]).
#[derive(Debug, Clone)]
pub(crate) struct Cells {
    cells: Vec<Cell>,
    steps: Vec<(StepKind, String)>,
    covariates: usize,
}

impl Cells {
    fn passes_all(cell: &Cell) -> bool {
        cell.passes.iter().all(|p| *p)
    }

    /// In the sample after listwise deletion.
    fn complete(cell: &Cell) -> bool {
        Self::passes_all(cell)
            && cell.outcome.is_some()
            && cell.covariates.iter().all(Option::is_some)
    }

    /// The N after each population and exclusion step and after listwise deletion, and the
    /// events among the complete cases.
    pub(crate) fn steps(&self) -> (Vec<FrameStep>, usize) {
        let mut steps = Vec::new();
        for (i, (kind, label)) in self.steps.iter().enumerate() {
            let n = self
                .cells
                .iter()
                .filter(|c| c.passes[..=i].iter().all(|p| *p))
                .map(|c| c.n)
                .sum();
            steps.push(FrameStep {
                kind: *kind,
                label: label.clone(),
                n,
            });
        }
        let complete = self.cells.iter().filter(|c| Self::complete(c));
        steps.push(FrameStep {
            kind: StepKind::CompleteCases,
            label: format!(
                "complete cases: the outcome and all {} covariates recorded (listwise deletion)",
                self.covariates
            ),
            n: complete.clone().map(|c| c.n).sum(),
        });
        let events = complete
            .filter(|c| c.outcome == Some(true))
            .map(|c| c.n)
            .sum();
        (steps, events)
    }

    /// Each covariate's categories among the participants who pass every population and
    /// exclusion step, in category order: the other cohorts and the excluded provider group are
    /// not levels of the model, while a level that listwise deletion empties still is.
    pub(crate) fn levels(&self) -> Vec<Vec<String>> {
        (0..self.covariates)
            .map(|j| {
                let mut found: Vec<(Option<i64>, String)> = self
                    .cells
                    .iter()
                    .filter(|c| Self::passes_all(c))
                    .filter_map(|c| c.covariates[j].clone())
                    .collect();
                found.sort();
                found.dedup_by(|a, b| a.1 == b.1);
                found.into_iter().map(|(_, label)| label).collect()
            })
            .collect()
    }

    /// The complete cells as a frame coded by `factors` (one per covariate, in the spec's
    /// order), each row weighted by its count.
    pub(crate) fn frame(&self, model: &str, factors: Vec<Factor>) -> Result<FrameSource> {
        let complete: Vec<&Cell> = self.cells.iter().filter(|c| Self::complete(c)).collect();
        let lookup: Vec<HashMap<&str, u16>> = factors
            .iter()
            .map(|f| {
                f.levels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (l.as_str(), i as u16))
                    .collect()
            })
            .collect();
        let mut columns: Vec<(String, Arc<dyn Array>, bool)> = vec![(
            "outcome".into(),
            Arc::new(BooleanArray::from(
                complete
                    .iter()
                    .map(|c| c.outcome == Some(true))
                    .collect::<Vec<_>>(),
            )),
            false,
        )];
        for (j, f) in factors.iter().enumerate() {
            let mut codes = Vec::with_capacity(complete.len());
            for c in &complete {
                let label = c.covariates[j].as_ref().map_or("", |(_, l)| l.as_str());
                codes.push(lookup[j].get(label).copied().ok_or_else(|| {
                    Error::Internal(format!(
                        "model `{model}`: category `{label}` of `{}` is not among its levels",
                        f.name
                    ))
                })?);
            }
            columns.push((
                format!("cov_{j}"),
                Arc::new(UInt16Array::from(codes)),
                false,
            ));
        }
        columns.push((
            "frequency".into(),
            Arc::new(Int64Array::from(
                complete.iter().map(|c| c.n as i64).collect::<Vec<_>>(),
            )),
            false,
        ));
        let batch = RecordBatch::try_from_iter_with_nullable(columns)
            .map_err(|e| Error::Internal(format!("frame batch: {e}")))?;
        FrameSource::new(factors, vec![batch])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(steps: usize, covariates: usize, keys: &[Vec<u32>]) -> HashMap<Vec<u32>, usize> {
        let mut counts = CellCounts::new(steps, covariates);
        for key in keys {
            counts.add(key);
        }
        counts.into_map()
    }

    #[test]
    fn packed_cells_count_as_their_whole_keys() {
        // Two steps, the outcome, three covariates; codes at the edges of a byte, and one
        // (256) that does not fit and is counted under its list.
        let a = vec![1, 0, 2, 255, 0, 7];
        let b = vec![0, 1, 1, 1, 254, 0];
        let wide = vec![1, 1, 2, 256, 3, 1];
        let keys = [
            a.clone(),
            b.clone(),
            a.clone(),
            wide.clone(),
            a.clone(),
            wide.clone(),
        ];
        let counts = counted(2, 3, &keys);
        assert_eq!(counts.len(), 3);
        assert_eq!(counts[&a], 3);
        assert_eq!(counts[&b], 1);
        assert_eq!(counts[&wide], 2);
    }

    #[test]
    fn keys_too_long_to_pack_are_counted_whole() {
        // 3 steps + outcome + 16 covariates of a byte each: 133 bits.
        let packing = CellCounts::new(3, 16);
        assert!(!packing.packs);
        let key: Vec<u32> = (0..20).map(|i| i % 3).collect();
        let other: Vec<u32> = (0..20).map(|i| (i + 1) % 3).collect();
        let counts = counted(3, 16, &[key.clone(), other.clone(), key.clone()]);
        assert_eq!((counts[&key], counts[&other]), (2, 1));
        // 15 covariates and 6 steps fill the 128 bits exactly (6 + 2 + 120); a 7th step does not fit.
        assert!(CellCounts::new(6, 15).packs);
        assert!(!CellCounts::new(7, 15).packs);
        let edge: Vec<u32> = [1, 0, 1, 1, 0, 1, 2]
            .into_iter()
            .chain((0..15).map(|i| 255 - i))
            .collect();
        assert_eq!(counted(6, 15, std::slice::from_ref(&edge))[&edge], 1);
    }
}
