//! A model's frame from the run's tables, in SQL generated from its spec.
//!
//! `participant_characteristics` is long (one row per participant × characteristic); the frame
//! query pivots the characteristics a model uses into columns, joins them to
//! `participant_outcomes`, marks each population and exclusion step, and keeps the complete
//! cases. One query counts the N after every step; another streams the complete cases, ordered
//! by participant, as record batches that become a [`FrameSource`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, UInt16Array};
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::ParquetReadOptions;
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
/// The transform's tables the models read, and all they read: once both are written the
/// models can run, whatever else the transform has left to do.
pub const INPUT_TABLES: [&str; 2] = [OUTCOMES_TABLE, CHARACTERISTICS_TABLE];

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
    /// Registers `participant_outcomes` and `participant_characteristics` of the run.
    pub(crate) async fn open(layout: &RunLayout, config: &SessionConfigSpec) -> Result<Tables> {
        let ctx = session(config);
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

    /// The categories of each characteristic, in category order: over the whole table, or
    /// (`within_population`) only those of participants who pass every population and
    /// exclusion step, so that the other cohorts and the excluded provider group are not levels
    /// of the model, while a level that listwise deletion empties still is.
    pub(crate) async fn categories(
        &self,
        spec: &ModelSpec,
        characteristics: &[&str],
        within_population: bool,
    ) -> Result<HashMap<String, Vec<String>>> {
        let q = FrameSql::new(spec);
        let (ctes, join) = if within_population {
            (
                format!(
                    "{}, passing as (\n    select participant_id, lot_code from frame where {}\n)\n",
                    q.ctes.trim_end(),
                    q.steps_up_to(q.steps.len())
                ),
                "inner join passing as p\n    on p.participant_id = c.participant_id and \
                 p.lot_code = c.lot_code\n",
            )
        } else {
            (String::new(), "")
        };
        let sql = format!(
            "{ctes}select c.characteristic, min(cast(c.category_order as bigint)) as \
             category_order, c.category\n\
             from {CHARACTERISTICS_TABLE} as c\n\
             {join}\
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

    /// The N after each population and exclusion step and after listwise deletion, and the
    /// events among the complete cases.
    pub(crate) async fn steps(&self, spec: &ModelSpec) -> Result<(Vec<FrameStep>, usize)> {
        let q = FrameSql::new(spec);
        let mut counts = Vec::new();
        for i in 0..q.steps.len() {
            counts.push(format!(
                "count(case when {} then 1 end) as n_{i}",
                q.steps_up_to(i + 1)
            ));
        }
        counts.push(format!(
            "count(case when {} then 1 end) as n_complete",
            q.kept()
        ));
        counts.push(format!(
            "count(case when {} and outcome then 1 end) as events",
            q.kept()
        ));
        let sql = format!("{}select {}\nfrom frame", q.ctes, counts.join(",\n    "));
        let batches = self.collect(spec, &sql).await?;
        let batch = batches
            .iter()
            .find(|b| b.num_rows() == 1)
            .ok_or_else(|| Error::Internal("the step counts query gave no row".into()))?;
        let value = |j: usize| -> Result<usize> {
            let column = arrow::compute::cast(batch.column(j), &DataType::Int64)
                .map_err(|e| Error::Internal(format!("step count: {e}")))?;
            Ok(column.as_primitive::<Int64Type>().value(0).max(0) as usize)
        };
        let mut steps = Vec::new();
        for (i, (kind, step)) in q.steps.iter().enumerate() {
            steps.push(FrameStep {
                kind: *kind,
                label: step.label.clone(),
                n: value(i)?,
            });
        }
        steps.push(FrameStep {
            kind: StepKind::CompleteCases,
            label: format!(
                "complete cases: the outcome and all {} covariates recorded (listwise deletion)",
                spec.covariates.len()
            ),
            n: value(q.steps.len())?,
        });
        let events = value(q.steps.len() + 1)?;
        Ok((steps, events))
    }

    /// Streams the complete cases, ordered by participant, into a frame coded by `factors`
    /// (one per covariate, in the spec's order).
    pub(crate) async fn frame(
        &self,
        spec: &ModelSpec,
        factors: Vec<Factor>,
    ) -> Result<FrameSource> {
        let q = FrameSql::new(spec);
        let columns: Vec<String> = (0..spec.covariates.len())
            .map(|i| format!("cov_{i}"))
            .collect();
        let sql = format!(
            "{}select outcome, {}\nfrom frame\nwhere {}\norder by participant_id, lot_code",
            q.ctes,
            columns.join(", "),
            q.kept()
        );
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
        let query_err = |e: DataFusionError| Error::Query {
            model: spec.id.clone(),
            message: e.strip_backtrace(),
        };
        let mut stream = self
            .ctx
            .sql(&sql)
            .await
            .map_err(query_err)?
            .execute_stream()
            .await
            .map_err(query_err)?;
        let mut batches = Vec::new();
        // One batch of category labels at a time becomes level indices: the labels are never
        // all in memory.
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(query_err)?;
            if batch.num_rows() == 0 {
                continue;
            }
            let outcome: BooleanArray = batch.column(0).as_boolean().clone();
            let mut coded: Vec<(String, Arc<dyn Array>, bool)> =
                vec![("outcome".into(), Arc::new(outcome), false)];
            for (j, f) in factors.iter().enumerate() {
                let labels = utf8(&batch, j + 1)?;
                let mut codes = Vec::with_capacity(labels.len());
                for row in 0..labels.len() {
                    let label = labels.value(row);
                    let code = lookup[j].get(label).copied().ok_or_else(|| {
                        Error::Internal(format!(
                            "model `{}`: category `{label}` of `{}` is not among its levels",
                            spec.id, f.name
                        ))
                    })?;
                    codes.push(code);
                }
                coded.push((
                    columns[j].clone(),
                    Arc::new(UInt16Array::from(codes)),
                    false,
                ));
            }
            batches.push(
                RecordBatch::try_from_iter_with_nullable(coded)
                    .map_err(|e| Error::Internal(format!("frame batch: {e}")))?,
            );
        }
        FrameSource::new(factors, batches)
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
                    "max(case when characteristic = {} then category end) as t_{i}",
                    literal(c)
                )
            })
            .collect();
        let covariate_columns: Vec<String> = covariate_traits
            .iter()
            .enumerate()
            .map(|(i, t)| format!("t.t_{t} as cov_{i}"))
            .collect();
        let ctes = format!(
            "with\n\
             outcomes as (\n    select * from {OUTCOMES_TABLE}\n),\n\
             traits as (\n    select participant_id, lot_code,\n        {}\n    \
             from {CHARACTERISTICS_TABLE}\n    where characteristic in ({})\n    \
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

    /// Passing the first `n` steps.
    fn steps_up_to(&self, n: usize) -> String {
        if n == 0 {
            return "true".into();
        }
        (0..n)
            .map(|i| format!("step_{i}"))
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// Passing every step with the outcome and every covariate recorded.
    fn kept(&self) -> String {
        let mut parts = vec![self.steps_up_to(self.steps.len())];
        parts.push("outcome is not null".into());
        parts.extend((0..self.covariates).map(|i| format!("cov_{i} is not null")));
        parts.join(" and ")
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
