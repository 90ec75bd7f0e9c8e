//! The models' samples from the run's tables, in one streaming pass generated from the specs.
//!
//! `participant_outcomes`, `participant_characteristics` and `participant_actions` are all in the
//! participants' order in the extracts (`source_file`, `source_row`; see each query's `grain`).
//! One query reads the three as one stream in that order (the characteristics the specs name, the
//! outcomes and flags they use) and folds each participant's rows into one row as they go by: a
//! grouping the engine does in order, holding one participant at a time, with no join and no
//! table of every participant ([`SampleSql`]). Each row marks every model's population and
//! exclusion steps. Rust then counts the rows into each model's cells, participants alike in
//! every step, the outcome and every covariate ([`Cells`]): the N after every step, the sample's
//! categories and the complete cases all come from those counts, and with categorical covariates
//! the complete cells' counts are sufficient statistics for the fit. So the long tables are read
//! once for all the models, and memory does not grow with the extract.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, Int64Array, RecordBatch, UInt16Array};
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::{ParquetReadOptions, col};
use evalpipe_study::RunLayout;
use evalpipe_transform::{SessionConfigSpec, session};
use futures::StreamExt;

use crate::frame::{Factor, FrameSource};
use crate::spec::{Filter, ModelSpec, Step};
use crate::{Error, Result};

/// The table of outcomes the models read (`<run>/tables/participant_outcomes.parquet`).
pub const OUTCOMES_TABLE: &str = "participant_outcomes";
/// The long table of characteristics (`<run>/tables/participant_characteristics.parquet`).
pub const CHARACTERISTICS_TABLE: &str = "participant_characteristics";
/// The completed actions as yes/no characteristics, in the same columns
/// (`<run>/tables/participant_actions.parquet`).
pub const ACTIONS_TABLE: &str = "participant_actions";
/// The transform's tables the models read, and all they read: once they are written the
/// models can run, whatever else the transform has left to do.
pub const INPUT_TABLES: [&str; 3] = [OUTCOMES_TABLE, CHARACTERISTICS_TABLE, ACTIONS_TABLE];
/// The order the transform writes all three [`INPUT_TABLES`] in: a participant's place in the
/// extracts. The sample's grouping relies on it, and [`Tables::sample`] checks that it held.
const EXTRACT_ORDER: [&str; 2] = ["source_file", "source_row"];

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

/// The query session over a run's tables.
pub(crate) struct Tables {
    ctx: SessionContext,
    outcome_schema: SchemaRef,
}

/// Every model's cells, and the categories each characteristic the specs name has among all
/// participants (in category order).
pub(crate) struct Sample {
    /// One per spec, in the specs' order.
    pub cells: Vec<Cells>,
    /// Characteristic → its categories anywhere in the extract.
    pub categories: HashMap<String, Vec<String>>,
}

impl Tables {
    /// Registers the run's [`INPUT_TABLES`], each as ordered by [`EXTRACT_ORDER`].
    pub(crate) async fn open(layout: &RunLayout, config: &SessionConfigSpec) -> Result<Tables> {
        let ctx = session(config)
            .map_err(|e| Error::Internal(format!("starting the query session: {e}")))?;
        for name in INPUT_TABLES {
            let path = layout.table(name, "parquet");
            if !path.is_file() {
                return Err(Error::MissingInput { path });
            }
            register(&ctx, name, &path).await?;
        }
        let outcome_schema = ctx
            .table(OUTCOMES_TABLE)
            .await
            .map_err(|e| Error::Internal(format!("reading {OUTCOMES_TABLE}: {e}")))?
            .schema()
            .inner()
            .clone();
        Ok(Tables {
            ctx,
            outcome_schema,
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
    pub(crate) async fn sample(&self, specs: &[ModelSpec]) -> Result<Sample> {
        let q = SampleSql::new(specs);
        let ids = specs
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let query_err = |e: DataFusionError| Error::Query {
            model: ids.clone(),
            message: e.strip_backtrace(),
        };
        let mut stream = self
            .ctx
            .sql(&q.sql)
            .await
            .map_err(query_err)?
            .execute_stream()
            .await
            .map_err(query_err)?;
        let mut traits: Vec<Interned> = q.traits.iter().map(|_| Interned::default()).collect();
        let mut counts: Vec<HashMap<Vec<u32>, usize>> =
            specs.iter().map(|_| HashMap::new()).collect();
        let mut last: Option<(String, i64)> = None;
        let mut key = Vec::new();
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(query_err)?;
            let files = utf8(&batch, 0)?;
            let rows = int64(&batch, 1)?;
            let rows = rows.as_primitive::<Int64Type>();
            // Each participant once, in extract order: a table not in the order it was
            // registered with would have split participants into several rows.
            for row in 0..batch.num_rows() {
                let here = (files.value(row), rows.value(row));
                if let Some((file, line)) = &last
                    && (file.as_str(), *line) >= here
                {
                    return Err(Error::Internal(format!(
                        "the models' input tables are not in extract order at {} row {}",
                        here.0, here.1
                    )));
                }
                last = Some((here.0.to_string(), here.1));
            }
            let mut codes = Vec::with_capacity(traits.len());
            for (t, interned) in traits.iter_mut().enumerate() {
                let labels = utf8(&batch, 2 + 2 * t)?;
                let orders = int64(&batch, 3 + 2 * t)?;
                codes.push(interned.codes(&labels, orders.as_primitive::<Int64Type>()));
            }
            for (m, model) in q.models.iter().enumerate() {
                let steps: Vec<&BooleanArray> = model
                    .step_columns
                    .iter()
                    .map(|&c| batch.column(c).as_boolean())
                    .collect();
                let outcome = batch.column(model.outcome_column).as_boolean();
                for row in 0..batch.num_rows() {
                    key.clear();
                    // A step column is never null (`coalesce` in the query).
                    key.extend(steps.iter().map(|s| u32::from(s.value(row))));
                    key.push(if outcome.is_null(row) {
                        0
                    } else {
                        1 + u32::from(outcome.value(row))
                    });
                    key.extend(model.covariate_traits.iter().map(|&t| codes[t][row]));
                    match counts[m].get_mut(key.as_slice()) {
                        Some(n) => *n += 1,
                        None => {
                            counts[m].insert(key.clone(), 1);
                        }
                    }
                }
            }
        }
        let cells = specs
            .iter()
            .zip(&q.models)
            .zip(counts)
            .map(|((spec, model), counts)| model.cells(spec, counts, &traits))
            .collect();
        let categories = q
            .traits
            .iter()
            .zip(&traits)
            .filter(|(_, t)| !t.labels.is_empty())
            .map(|(name, t)| (name.to_string(), t.in_order()))
            .collect();
        Ok(Sample { cells, categories })
    }
}

/// The distinct categories of one characteristic as the pass meets them, each with a code
/// (from 1; 0 is no data) and its category order.
#[derive(Default)]
struct Interned {
    code: HashMap<String, u32>,
    labels: Vec<(Option<i64>, String)>,
}

impl Interned {
    /// The codes of a batch's column of categories.
    fn codes(&mut self, labels: &arrow::array::StringArray, orders: &Int64Array) -> Vec<u32> {
        (0..labels.len())
            .map(|row| {
                if labels.is_null(row) {
                    return 0;
                }
                let label = labels.value(row);
                let order = (!orders.is_null(row)).then(|| orders.value(row));
                let code = match self.code.get(label) {
                    Some(&code) => code,
                    None => {
                        self.labels.push((order, label.to_string()));
                        let code = self.labels.len() as u32;
                        self.code.insert(label.to_string(), code);
                        code
                    }
                };
                // A category's order is its least (`min` ignores rows without one).
                let known = &mut self.labels[code as usize - 1].0;
                *known = match (*known, order) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                code
            })
            .collect()
    }

    /// The categories by category order, then name (without an order last).
    fn in_order(&self) -> Vec<String> {
        let mut labels: Vec<&(Option<i64>, String)> = self.labels.iter().collect();
        labels.sort_by(|a, b| (a.0.is_none(), a.0, &a.1).cmp(&(b.0.is_none(), b.0, &b.1)));
        labels.into_iter().map(|(_, l)| l.clone()).collect()
    }
}

/// The one query of [`Tables::sample`]: a row per participant of `participant_outcomes`, in
/// extract order, with `source_file`, `source_row`, then `t_<j>` and `o_<j>` (category and its
/// order, null without data) per characteristic any spec names, then per model its steps
/// (true when the participant passes, never null) and its outcome.
struct SampleSql {
    sql: String,
    /// The characteristics pivoted, `t_<j>` for the j-th.
    traits: Vec<String>,
    models: Vec<ModelColumns>,
}

/// Where a model's columns are in [`SampleSql`]'s rows.
struct ModelColumns {
    steps: Vec<(StepKind, String)>,
    step_columns: Vec<usize>,
    outcome_column: usize,
    /// The characteristic (index into `traits`) of each covariate.
    covariate_traits: Vec<usize>,
}

impl SampleSql {
    fn new(specs: &[ModelSpec]) -> Self {
        let mut traits: Vec<String> = Vec::new();
        let mut flags: Vec<String> = Vec::new();
        fn index(list: &mut Vec<String>, name: &str) -> usize {
            match list.iter().position(|t| t == name) {
                Some(i) => i,
                None => {
                    list.push(name.to_string());
                    list.len() - 1
                }
            }
        }
        // Steps first, so that a model's step columns can name their characteristic.
        let mut step_sql: Vec<Vec<(StepKind, &Step, String)>> = Vec::new();
        let mut covariate_traits = Vec::new();
        for spec in specs {
            index(&mut flags, &spec.outcome);
            let mut steps = Vec::new();
            let all = spec
                .population
                .iter()
                .map(|s| (StepKind::Population, s))
                .chain(spec.exclusions.iter().map(|s| (StepKind::Exclusion, s)));
            for (kind, step) in all {
                let condition = match &step.filter {
                    Filter::Cohorts(codes) => format!("payment_group in ({})", list(codes)),
                    Filter::Lots(codes) => format!("lot_code in ({})", list(codes)),
                    Filter::Flag { column, value } => {
                        index(&mut flags, column);
                        format!("\"{column}\" = {value}")
                    }
                    Filter::Characteristic {
                        characteristic,
                        categories,
                    } => format!(
                        "t_{} in ({})",
                        index(&mut traits, characteristic),
                        list(categories)
                    ),
                };
                // Missing data matches no filter: a population step drops the participant,
                // an exclusion keeps them (listwise deletion decides later if the covariate
                // is used).
                let sql = match kind {
                    StepKind::Exclusion => format!("not coalesce({condition}, false)"),
                    _ => format!("coalesce({condition}, false)"),
                };
                steps.push((kind, step, sql));
            }
            step_sql.push(steps);
            covariate_traits.push(
                spec.covariates
                    .iter()
                    .map(|c| index(&mut traits, &c.characteristic))
                    .collect::<Vec<_>>(),
            );
        }

        // The long stream: characteristic rows, then the outcomes' row, of every participant.
        let flag_nulls: String = flags
            .iter()
            .map(|f| format!(", cast(null as boolean) as \"{f}\""))
            .collect();
        let mut branches = Vec::new();
        if !traits.is_empty() {
            for table in [CHARACTERISTICS_TABLE, ACTIONS_TABLE] {
                branches.push(format!(
                    "    select source_file, source_row, characteristic, category,\n        \
                     cast(category_order as bigint) as category_order,\n        \
                     cast(null as varchar) as lot_code, cast(null as varchar) as \
                     payment_group{flag_nulls},\n        cast(null as bigint) as in_outcomes\n    \
                     from {table}\n    where characteristic in ({})",
                    list(&traits)
                ));
            }
        }
        branches.push(format!(
            "    select source_file, source_row, cast(null as varchar) as characteristic,\n        \
             cast(null as varchar) as category, cast(null as bigint) as category_order,\n        \
             lot_code, payment_group{},\n        1 as in_outcomes\n    from {OUTCOMES_TABLE}",
            flags
                .iter()
                .map(|f| format!(", \"{f}\""))
                .collect::<String>()
        ));
        let mut folded = vec![
            "max(lot_code) as lot_code".to_string(),
            "max(payment_group) as payment_group".to_string(),
        ];
        folded.extend(flags.iter().map(|f| format!("bool_or(\"{f}\") as \"{f}\"")));
        for (j, t) in traits.iter().enumerate() {
            let t = literal(t);
            folded.push(format!(
                "max(case when characteristic = {t} then category end) as t_{j}"
            ));
            folded.push(format!(
                "max(case when characteristic = {t} then category_order end) as o_{j}"
            ));
        }

        let mut columns = vec!["source_file".to_string(), "source_row".to_string()];
        for j in 0..traits.len() {
            columns.push(format!("t_{j}"));
            columns.push(format!("o_{j}"));
        }
        let mut models = Vec::new();
        for (m, (spec, steps)) in specs.iter().zip(&step_sql).enumerate() {
            let mut step_columns = Vec::new();
            for (i, (_, _, sql)) in steps.iter().enumerate() {
                step_columns.push(columns.len());
                columns.push(format!("{sql} as m{m}_step_{i}"));
            }
            let outcome_column = columns.len();
            columns.push(format!("\"{}\" as m{m}_outcome", spec.outcome));
            models.push(ModelColumns {
                steps: steps
                    .iter()
                    .map(|(k, s, _)| (*k, s.label.clone()))
                    .collect(),
                step_columns,
                outcome_column,
                covariate_traits: covariate_traits[m].clone(),
            });
        }

        let sql = format!(
            "with\n\
             long as (\n{}\n),\n\
             participants as (\n    select source_file, source_row,\n        {}\n    \
             from long\n    group by source_file, source_row\n    \
             having max(in_outcomes) = 1\n)\n\
             select\n    {}\nfrom participants\norder by source_file, source_row",
            branches.join("\n    union all\n"),
            folded.join(",\n        "),
            columns.join(",\n    "),
        );
        SampleSql {
            sql,
            traits,
            models,
        }
    }
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
            let sort_key = |c: &Cell| {
                (
                    c.passes.clone(),
                    (c.outcome.is_none(), c.outcome),
                    c.covariates
                        .iter()
                        .map(|v| (v.is_none(), v.as_ref().map(|(_, l)| l.clone())))
                        .collect::<Vec<_>>(),
                )
            };
            sort_key(a).cmp(&sort_key(b))
        });
        Cells {
            cells,
            steps: self.steps.clone(),
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

async fn register(ctx: &SessionContext, name: &str, path: &Path) -> Result<()> {
    let input = |message: String| Error::Input {
        path: path.to_path_buf(),
        message,
    };
    let location = path
        .to_str()
        .ok_or_else(|| input("the path is not valid UTF-8".into()))?;
    let options = ParquetReadOptions {
        file_sort_order: vec![
            EXTRACT_ORDER
                .iter()
                .map(|c| col(*c).sort(true, false))
                .collect(),
        ],
        ..Default::default()
    };
    ctx.register_parquet(name, location, options)
        .await
        .map_err(|e| input(e.strip_backtrace()))
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A comma-separated list of SQL string literals.
fn list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    items
        .into_iter()
        .map(|s| literal(s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Column `j` of a batch as plain `Utf8`, whatever string type the engine produced.
fn utf8(batch: &RecordBatch, j: usize) -> Result<arrow::array::StringArray> {
    let column = arrow::compute::cast(batch.column(j), &DataType::Utf8)
        .map_err(|e| Error::Internal(format!("reading a text column: {e}")))?;
    Ok(column.as_string::<i32>().clone())
}

/// Column `j` of a batch as `Int64`, whatever integer type the engine produced.
fn int64(batch: &RecordBatch, j: usize) -> Result<arrow::array::ArrayRef> {
    arrow::compute::cast(batch.column(j), &DataType::Int64)
        .map_err(|e| Error::Internal(format!("reading a number column: {e}")))
}
