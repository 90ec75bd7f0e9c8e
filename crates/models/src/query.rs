//! A model's frame from the run's tables, in SQL generated from its spec.
//!
//! `participant_characteristics` and `participant_actions` are long (one row per participant ×
//! characteristic) and read as one ([`TRAITS_VIEW`]); the frame query pivots the characteristics a model uses into columns, joins them to
//! `participant_outcomes` and marks each population and exclusion step. One query then groups
//! the participants into cells alike in every step, the outcome and every covariate, with their
//! count ([`Cells`]): the N after every step, the sample's categories and the complete cases all
//! come from those cells, and with categorical covariates only the complete cells' counts are
//! sufficient statistics for the fit, so the participants are pivoted once per model and never
//! reach Rust one by one.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, Int64Array, RecordBatch, UInt16Array};
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::ParquetReadOptions;
use evalpipe_study::RunLayout;
use evalpipe_transform::{SessionConfigSpec, session};

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
/// Every characteristic a covariate or a step can name: the two long tables as one. The
/// transform writes them apart so that the tables' breakdowns never scan the actions, which
/// are half the rows and only the models read.
const TRAITS_VIEW: &str = "characteristics_and_actions";

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

impl Tables {
    /// Registers the run's [`INPUT_TABLES`], and [`TRAITS_VIEW`] over the long two.
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
        let columns = "participant_id, lot_code, characteristic, \
                       cast(category_order as bigint) as category_order, category";
        ctx.sql(&format!(
            "create view {TRAITS_VIEW} as\n\
             select {columns} from {CHARACTERISTICS_TABLE}\n\
             union all\n\
             select {columns} from {ACTIONS_TABLE}"
        ))
        .await
        .map_err(|e| Error::Internal(format!("the view {TRAITS_VIEW}: {e}")))?;
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

    /// The categories of each characteristic over the whole table, in category order.
    pub(crate) async fn categories(
        &self,
        spec: &ModelSpec,
        characteristics: &[&str],
    ) -> Result<HashMap<String, Vec<String>>> {
        let sql = format!(
            "select c.characteristic, min(cast(c.category_order as bigint)) as \
             category_order, c.category\n\
             from {TRAITS_VIEW} as c\n\
             where c.characteristic in ({})\n\
             group by c.characteristic, c.category\n\
             order by c.characteristic, category_order, c.category",
            list(characteristics.iter().copied())
        );
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for batch in self.collect(spec, &sql).await? {
            let names = utf8(&batch, 0)?;
            let cats = utf8(&batch, 2)?;
            for row in 0..batch.num_rows() {
                if names.is_null(row) || cats.is_null(row) {
                    continue;
                }
                out.entry(names.value(row).to_string())
                    .or_default()
                    .push(cats.value(row).to_string());
            }
        }
        Ok(out)
    }

    /// The model's cells: the participants of `participant_outcomes` grouped by whether they
    /// pass each step, their outcome and each covariate's category, with their count, in a
    /// fixed order (so the fit's sums are the same to the last bit on every run).
    pub(crate) async fn cells(&self, spec: &ModelSpec) -> Result<Cells> {
        let q = FrameSql::new(spec);
        let mut columns: Vec<String> = (0..q.steps.len()).map(|i| format!("step_{i}")).collect();
        columns.push("outcome".into());
        for i in 0..q.covariates {
            columns.push(format!("cov_{i}"));
            columns.push(format!("cov_order_{i}"));
        }
        let sql = format!(
            "{}select {cols}, count(*) as n\nfrom frame\ngroup by {cols}\norder by {cols}",
            q.ctes,
            cols = columns.join(", ")
        );
        let mut cells = Vec::new();
        for batch in self.collect(spec, &sql).await? {
            let passes: Vec<&BooleanArray> = (0..q.steps.len())
                .map(|i| batch.column(i).as_boolean())
                .collect();
            let outcome = batch.column(q.steps.len()).as_boolean();
            let mut labels = Vec::new();
            let mut orders = Vec::new();
            for i in 0..q.covariates {
                let j = q.steps.len() + 1 + 2 * i;
                labels.push(utf8(&batch, j)?);
                orders.push(
                    arrow::compute::cast(batch.column(j + 1), &DataType::Int64)
                        .map_err(|e| Error::Internal(format!("category order: {e}")))?,
                );
            }
            let count =
                arrow::compute::cast(batch.column(batch.num_columns() - 1), &DataType::Int64)
                    .map_err(|e| Error::Internal(format!("cell count: {e}")))?;
            let count = count.as_primitive::<Int64Type>();
            for row in 0..batch.num_rows() {
                cells.push(Cell {
                    // A step column is never null (`coalesce` in the frame).
                    passes: passes.iter().map(|p| p.value(row)).collect(),
                    outcome: (!outcome.is_null(row)).then(|| outcome.value(row)),
                    covariates: labels
                        .iter()
                        .zip(&orders)
                        .map(|(l, o)| {
                            (!l.is_null(row)).then(|| {
                                let order = o.as_primitive::<Int64Type>();
                                let order = (!order.is_null(row)).then(|| order.value(row));
                                (order, l.value(row).to_string())
                            })
                        })
                        .collect(),
                    n: count.value(row).max(0) as usize,
                });
            }
        }
        Ok(Cells {
            cells,
            steps: q.steps.iter().map(|(k, s)| (*k, s.label.clone())).collect(),
            covariates: spec.covariates.len(),
        })
    }

    async fn collect(&self, spec: &ModelSpec, sql: &str) -> Result<Vec<RecordBatch>> {
        let query_err = |e: DataFusionError| Error::Query {
            model: spec.id.clone(),
            message: e.strip_backtrace(),
        };
        self.ctx
            .sql(sql)
            .await
            .map_err(query_err)?
            .collect()
            .await
            .map_err(query_err)
    }
}

/// The common table expressions of a model's frame, ending in `frame`: one row per
/// participant of `participant_outcomes` with `outcome`, `cov_<i>` per covariate (its category,
/// null without data) and `step_<i>` per step (true when the participant passes it, never null).
struct FrameSql<'a> {
    ctes: String,
    steps: Vec<(StepKind, &'a Step)>,
    covariates: usize,
}

impl<'a> FrameSql<'a> {
    fn new(spec: &'a ModelSpec) -> Self {
        // Characteristics the model reads, each pivoted once into `t_<i>`.
        let mut traits: Vec<&str> = Vec::new();
        let mut trait_of = |c: &'a str| -> usize {
            match traits.iter().position(|t| *t == c) {
                Some(i) => i,
                None => {
                    traits.push(c);
                    traits.len() - 1
                }
            }
        };
        let covariate_traits: Vec<usize> = spec
            .covariates
            .iter()
            .map(|c| trait_of(&c.characteristic))
            .collect();
        let steps: Vec<(StepKind, &Step)> = spec
            .population
            .iter()
            .map(|s| (StepKind::Population, s))
            .chain(spec.exclusions.iter().map(|s| (StepKind::Exclusion, s)))
            .collect();
        let mut step_columns = Vec::new();
        for (i, (kind, step)) in steps.iter().enumerate() {
            let condition = match &step.filter {
                Filter::Cohorts(codes) => format!("o.payment_group in ({})", list(codes)),
                Filter::Lots(codes) => format!("o.lot_code in ({})", list(codes)),
                Filter::Flag { column, value } => format!("o.\"{column}\" = {value}"),
                Filter::Characteristic {
                    characteristic,
                    categories,
                } => format!("t.t_{} in ({})", trait_of(characteristic), list(categories)),
            };
            // Missing data matches no filter: a population step drops the participant, an
            // exclusion keeps them (listwise deletion decides later if the covariate is used).
            let column = match kind {
                StepKind::Exclusion => format!("not coalesce({condition}, false) as step_{i}"),
                _ => format!("coalesce({condition}, false) as step_{i}"),
            };
            step_columns.push(column);
        }
        let pivots: Vec<String> = traits
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "max(case when characteristic = {c} then category end) as t_{i},\n        \
                     max(case when characteristic = {c} then cast(category_order as bigint) end) \
                     as o_{i}",
                    c = literal(c)
                )
            })
            .collect();
        let covariate_columns: Vec<String> = covariate_traits
            .iter()
            .enumerate()
            .map(|(i, t)| format!("t.t_{t} as cov_{i}, t.o_{t} as cov_order_{i}"))
            .collect();
        let ctes = format!(
            "with\n\
             outcomes as (\n    select * from {OUTCOMES_TABLE}\n),\n\
             traits as (\n    select participant_id, lot_code,\n        {}\n    \
             from {TRAITS_VIEW}\n    where characteristic in ({})\n    \
             group by participant_id, lot_code\n),\n\
             frame as (\n    select o.participant_id, o.lot_code, o.\"{}\" as outcome,\n        \
             {}{}\n    from outcomes as o\n    left join traits as t\n        \
             on t.participant_id = o.participant_id and t.lot_code = o.lot_code\n)\n",
            pivots.join(",\n        "),
            list(traits.iter().copied()),
            spec.outcome,
            covariate_columns.join(", "),
            step_columns
                .iter()
                .map(|c| format!(",\n        {c}"))
                .collect::<String>(),
        );
        FrameSql {
            ctes,
            steps,
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
    ctx.register_parquet(name, location, ParquetReadOptions::default())
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
