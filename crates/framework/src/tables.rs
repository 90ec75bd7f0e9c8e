//! The framework's tables: the validated input and the codebook as Arrow record batches, and
//! the counting SQL of `queries/framework/` run over them by the transform's query runner.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::SchemaRef;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::ParquetReadOptions;
use evalpipe_study::Study;

use crate::codebook::Codebook;
use crate::input::{Case, CmoLink, CodedCell, Finding, Input, Quote};
use crate::{Error, Result};

/// A named table.
pub(crate) struct Table {
    pub name: String,
    pub batch: RecordBatch,
}

pub(crate) fn text<S: AsRef<str>>(values: impl IntoIterator<Item = Option<S>>) -> ArrayRef {
    Arc::new(StringArray::from(
        values
            .into_iter()
            .map(|v| v.map(|s| s.as_ref().to_string()))
            .collect::<Vec<_>>(),
    ))
}

pub(crate) fn int(values: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from(values.into_iter().collect::<Vec<_>>()))
}

pub(crate) fn float(values: impl IntoIterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(values.into_iter().collect::<Vec<_>>()))
}

/// Nullability declared, not inferred, so a table's schema does not depend on its rows.
pub(crate) fn batch(name: &str, columns: Vec<(&str, ArrayRef, bool)>) -> Result<Table> {
    let batch = RecordBatch::try_from_iter_with_nullable(columns)
        .map_err(|e| Error::Internal(format!("building table {name}: {e}")))?;
    Ok(Table {
        name: name.to_string(),
        batch,
    })
}

/// The validated input as tables.
pub(crate) fn input_tables(input: &Input) -> Result<Vec<Table>> {
    Ok(vec![
        case_table(&input.cases)?,
        cell_table(&input.cells)?,
        quote_table(&input.quotes)?,
        cmo_link_table(&input.cmo)?,
        cmo_support_table(&input.cmo)?,
        finding_table(&input.findings)?,
    ])
}

/// The cases (interviews) with their attributes, one row each.
fn case_table(cases: &[Case]) -> Result<Table> {
    batch(
        "framework_cases",
        vec![
            ("case_id", text(cases.iter().map(|c| Some(&c.id))), false),
            (
                "interview_type",
                text(cases.iter().map(|c| Some(&c.interview_type))),
                false,
            ),
            ("wave", int(cases.iter().map(|c| Some(c.wave))), false),
            ("lot", text(cases.iter().map(|c| c.lot.as_ref())), true),
            ("role", text(cases.iter().map(|c| c.role.as_ref())), true),
            (
                "cohort",
                text(cases.iter().map(|c| c.cohort.as_ref())),
                true,
            ),
            (
                "age_band",
                text(cases.iter().map(|c| c.age_band.as_ref())),
                true,
            ),
            (
                "gender",
                text(cases.iter().map(|c| c.gender.as_ref())),
                true,
            ),
        ],
    )
}

/// The charted cells; `theme` is the sub-theme's theme, so SQL can count cases per theme.
fn cell_table(cells: &[CodedCell]) -> Result<Table> {
    batch(
        "framework_cells",
        vec![
            (
                "case_id",
                text(cells.iter().map(|c| Some(&c.case_id))),
                false,
            ),
            (
                "interview_type",
                text(cells.iter().map(|c| Some(&c.interview_type))),
                false,
            ),
            ("code", text(cells.iter().map(|c| Some(&c.code))), false),
            (
                "theme",
                text(
                    cells
                        .iter()
                        .map(|c| Some(c.code.split('.').next().unwrap_or(&c.code))),
                ),
                false,
            ),
            (
                "valence",
                text(cells.iter().map(|c| Some(c.valence.as_str()))),
                false,
            ),
            (
                "quotes",
                text(cells.iter().map(|c| Some(c.quotes.join(", ")))),
                false,
            ),
            (
                "summary",
                text(cells.iter().map(|c| Some(&c.summary))),
                false,
            ),
            ("source", text(cells.iter().map(|c| Some(&c.source))), false),
        ],
    )
}

/// The illustrative quotes.
fn quote_table(quotes: &BTreeMap<String, Quote>) -> Result<Table> {
    batch(
        "framework_quotes",
        vec![
            (
                "quote_id",
                text(quotes.values().map(|q| Some(&q.id))),
                false,
            ),
            (
                "case_id",
                text(quotes.values().map(|q| Some(&q.case_id))),
                false,
            ),
            (
                "code",
                text(quotes.values().map(|q| q.theme.as_ref())),
                true,
            ),
            ("quote", text(quotes.values().map(|q| Some(&q.text))), false),
        ],
    )
}

/// The CMO links, in sheet order.
fn cmo_link_table(cmo: &[CmoLink]) -> Result<Table> {
    batch(
        "framework_cmo_links",
        vec![
            ("link_order", int(cmo.iter().map(|l| Some(l.order))), false),
            ("figure", text(cmo.iter().map(|l| Some(&l.figure))), false),
            (
                "direction",
                text(cmo.iter().map(|l| Some(&l.direction))),
                false,
            ),
            ("context", text(cmo.iter().map(|l| Some(&l.context))), false),
            (
                "mechanism",
                text(cmo.iter().map(|l| Some(&l.mechanism))),
                false,
            ),
            ("outcome", text(cmo.iter().map(|l| Some(&l.outcome))), false),
        ],
    )
}

/// Each CMO link's supporting cases, a row per link and case, so SQL can join and count them.
fn cmo_support_table(cmo: &[CmoLink]) -> Result<Table> {
    let support: Vec<(i64, &String)> = cmo
        .iter()
        .flat_map(|l| l.cases.iter().map(move |c| (l.order, c)))
        .collect();
    batch(
        "framework_cmo_support",
        vec![
            (
                "link_order",
                int(support.iter().map(|(o, _)| Some(*o))),
                false,
            ),
            (
                "case_id",
                text(support.iter().map(|(_, c)| Some(*c))),
                false,
            ),
        ],
    )
}

/// The validation findings.
fn finding_table(f: &[Finding]) -> Result<Table> {
    batch(
        "framework_findings",
        vec![
            ("file", text(f.iter().map(|x| Some(&x.file))), false),
            ("sheet", text(f.iter().map(|x| x.sheet.as_ref())), true),
            ("cell", text(f.iter().map(|x| x.cell.as_ref())), true),
            ("rule", text(f.iter().map(|x| Some(x.rule.code()))), false),
            (
                "severity",
                text(f.iter().map(|x| Some(x.rule.severity()))),
                false,
            ),
            ("message", text(f.iter().map(|x| Some(&x.message))), false),
        ],
    )
}

/// The codebook (and the study's lots and cohorts) as reference tables.
pub(crate) fn reference_tables(
    codebook: &Codebook,
    study: &Study,
    input: &Input,
) -> Result<Vec<Table>> {
    Ok(vec![
        code_table(codebook)?,
        group_table(&groups(codebook, study, input))?,
        interview_type_table(codebook)?,
        wave_table(codebook)?,
        figure_table(codebook)?,
        divergence_by_table(codebook)?,
        settings_table(codebook, study)?,
    ])
}

/// The breakdowns, in the order the tables list them.
const BREAKDOWNS: [&str; 8] = [
    "all",
    "interview_type",
    "wave",
    "lot",
    "cohort",
    "age_band",
    "role",
    "gender",
];

fn breakdown_order(b: &str) -> Option<i64> {
    BREAKDOWNS
        .iter()
        .position(|x| *x == b)
        .map(|p| p as i64 + 1)
}

/// The themes and sub-themes as one list of codes, each with its Theory of Change stage.
fn code_table(codebook: &Codebook) -> Result<Table> {
    let codes = codebook.codes();
    let stage_label = |s: &str| {
        codebook
            .stages
            .iter()
            .find(|x| x.code == s)
            .map(|x| x.label.clone())
    };
    batch(
        "framework_codes",
        vec![
            ("code", text(codes.iter().map(|c| Some(c.code))), false),
            ("theme", text(codes.iter().map(|c| Some(c.theme))), false),
            ("level", text(codes.iter().map(|c| Some(c.level))), false),
            ("label", text(codes.iter().map(|c| Some(c.label))), false),
            (
                "definition",
                text(codes.iter().map(|c| Some(c.definition))),
                false,
            ),
            ("stage", text(codes.iter().map(|c| Some(c.stage))), false),
            (
                "stage_label",
                text(codes.iter().map(|c| stage_label(c.stage))),
                true,
            ),
            (
                "section",
                text(codes.iter().map(|c| Some(c.section))),
                false,
            ),
            (
                "code_order",
                int(codes.iter().map(|c| Some(c.order))),
                false,
            ),
        ],
    )
}

/// Each group as (breakdown, group code, group label).
fn groups(codebook: &Codebook, study: &Study, input: &Input) -> Vec<(String, String, String)> {
    // Every category of every breakdown, so an empty one still has its row.
    let mut groups: Vec<(String, String, String)> =
        vec![("all".into(), "all".into(), "All".into())];
    for t in &codebook.interview_types {
        groups.push(("interview_type".into(), t.code.clone(), t.label.clone()));
    }
    for w in &codebook.waves {
        groups.push(("wave".into(), w.wave.to_string(), w.label.clone()));
    }
    for l in &study.lots {
        groups.push(("lot".into(), l.code.clone(), l.name.clone()));
    }
    for c in &study.cohorts {
        groups.push(("cohort".into(), c.code.clone(), c.name.clone()));
    }
    for a in &codebook.settings.age_bands {
        groups.push(("age_band".into(), a.clone(), a.clone()));
    }
    // Roles and genders are free text on the case sheet: their groups are those observed.
    let observed = |f: &dyn Fn(&Case) -> Option<&String>| {
        input
            .cases
            .iter()
            .filter_map(f)
            .cloned()
            .collect::<BTreeSet<String>>()
    };
    for r in observed(&|c| c.role.as_ref()) {
        groups.push(("role".into(), r.clone(), r));
    }
    for g in observed(&|c| c.gender.as_ref()) {
        groups.push(("gender".into(), g.clone(), g));
    }
    groups
}

/// The groups, numbered within their breakdown so tables can list them in codebook order.
fn group_table(groups: &[(String, String, String)]) -> Result<Table> {
    let mut order_in: BTreeMap<String, i64> = BTreeMap::new();
    let group_order: Vec<i64> = groups
        .iter()
        .map(|(b, _, _)| {
            let o = order_in.entry(b.clone()).or_insert(0);
            *o += 1;
            *o
        })
        .collect();
    batch(
        "framework_groups",
        vec![
            ("breakdown", text(groups.iter().map(|g| Some(&g.0))), false),
            (
                "breakdown_order",
                int(groups.iter().map(|g| breakdown_order(&g.0))),
                false,
            ),
            ("group_code", text(groups.iter().map(|g| Some(&g.1))), false),
            (
                "group_label",
                text(groups.iter().map(|g| Some(&g.2))),
                false,
            ),
            (
                "group_order",
                int(group_order.iter().map(|o| Some(*o))),
                false,
            ),
        ],
    )
}

/// The interview types, one matrix each.
fn interview_type_table(codebook: &Codebook) -> Result<Table> {
    let types = &codebook.interview_types;
    batch(
        "framework_interview_types",
        vec![
            (
                "interview_type",
                text(types.iter().map(|t| Some(&t.code))),
                false,
            ),
            ("label", text(types.iter().map(|t| Some(&t.label))), false),
            ("type_order", int((1..=types.len() as i64).map(Some)), false),
        ],
    )
}

/// The waves, with the number of interviews the published report gives, to check against.
fn wave_table(codebook: &Codebook) -> Result<Table> {
    let waves = &codebook.waves;
    batch(
        "framework_waves",
        vec![
            ("wave", int(waves.iter().map(|w| Some(w.wave))), false),
            ("label", text(waves.iter().map(|w| Some(&w.label))), false),
            (
                "published_interviews",
                int(waves.iter().map(|w| w.published_interviews)),
                true,
            ),
        ],
    )
}

/// The CMO figures of the report.
fn figure_table(codebook: &Codebook) -> Result<Table> {
    let figures = &codebook.figures;
    batch(
        "framework_figures",
        vec![
            ("figure", text(figures.iter().map(|f| Some(&f.id))), false),
            ("title", text(figures.iter().map(|f| Some(&f.title))), false),
            (
                "section",
                text(figures.iter().map(|f| Some(&f.section))),
                false,
            ),
            (
                "figure_order",
                int((1..=figures.len() as i64).map(Some)),
                false,
            ),
        ],
    )
}

/// The breakdowns in which the codebook looks for divergent perspectives.
fn divergence_by_table(codebook: &Codebook) -> Result<Table> {
    let by = &codebook.settings.divergence_by;
    batch(
        "framework_divergence_by",
        vec![
            ("breakdown", text(by.iter().map(Some)), false),
            (
                "breakdown_order",
                int(by.iter().map(|b| breakdown_order(b))),
                false,
            ),
        ],
    )
}

/// The thresholds, as a one-row table the SQL can join.
fn settings_table(codebook: &Codebook, study: &Study) -> Result<Table> {
    batch(
        "framework_settings",
        vec![
            (
                "cross_cutting_min_lots",
                int([Some(codebook.settings.cross_cutting_min_lots)]),
                false,
            ),
            (
                "divergence_min_cases",
                int([Some(codebook.settings.divergence_min_cases)]),
                false,
            ),
            ("lots", int([Some(study.lots.len() as i64)]), false),
        ],
    )
}

/// Registers `tables` and runs every query of `dir` with the transform's runner, each once all
/// the tables its header `reads` exist (so file names need not encode the order); returns the
/// query tables in file-name order.
pub(crate) async fn count(
    ctx: &SessionContext,
    tables: &[Table],
    dir: &Path,
    progress: &(dyn Fn(crate::Progress) + Sync),
) -> Result<Vec<evalpipe_transform::QueryTable>> {
    for t in tables {
        ctx.register_batch(&t.name, t.batch.clone())
            .map_err(|e| Error::Internal(format!("registering {}: {e}", t.name)))?;
    }
    let queries = evalpipe_transform::read_queries(dir)?;
    let done = |table: &str, done: usize, total: usize| {
        progress(crate::Progress::Query {
            table: table.to_string(),
            done,
            total,
        })
    };
    Ok(evalpipe_transform::run_in_memory(ctx, &queries, &done).await?)
}

/// Each `explains` hook of the codebook, looked up in the run's tables.
pub(crate) async fn triangulation(
    ctx: &SessionContext,
    codebook: &Codebook,
    tables_dir: &Path,
) -> Result<Table> {
    let mut rows: Vec<[Option<String>; 7]> = Vec::new();
    let mut values: Vec<Option<f64>> = Vec::new();
    let mut registered: BTreeMap<String, String> = BTreeMap::new();
    for c in codebook.codes() {
        for e in c.explains {
            let condition = e
                .row
                .iter()
                .map(|(k, v)| format!("{k} = {}", toml_text(v)))
                .collect::<Vec<_>>()
                .join(", ");
            let path = tables_dir.join(format!("{}.parquet", e.table));
            let (value, status) = if !path.is_file() {
                (None, format!("no table {}.parquet in this run", e.table))
            } else {
                let name = match registered.get(&e.table) {
                    Some(n) => n.clone(),
                    None => {
                        let n = format!("triangulation_{}", registered.len() + 1);
                        let location = path.to_string_lossy().into_owned();
                        ctx.register_parquet(&n, &location, ParquetReadOptions::default())
                            .await
                            .map_err(|err| Error::Input {
                                path: path.clone(),
                                message: err.strip_backtrace(),
                            })?;
                        registered.insert(e.table.clone(), n.clone());
                        n
                    }
                };
                lookup(ctx, &name, e).await
            };
            rows.push([
                Some(c.code.to_string()),
                Some(c.level.to_string()),
                Some(e.finding.clone()),
                Some(e.table.clone()),
                Some(condition),
                Some(e.column.clone()),
                Some(status),
            ]);
            values.push(value);
        }
    }
    let col = |i: usize| text(rows.iter().map(|r| r[i].clone()));
    batch(
        "framework_triangulation",
        vec![
            ("code", col(0), false),
            ("level", col(1), false),
            ("finding", col(2), false),
            ("source_table", col(3), false),
            ("source_row", col(4), false),
            ("source_column", col(5), false),
            ("value", float(values), true),
            ("status", col(6), false),
        ],
    )
}

fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn sql_literal(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The value of one hook, or why there is none.
async fn lookup(
    ctx: &SessionContext,
    table: &str,
    e: &crate::codebook::Explains,
) -> (Option<f64>, String) {
    let filter = e
        .row
        .iter()
        .map(|(k, v)| format!("{} = {}", ident(k), sql_literal(v)))
        .collect::<Vec<_>>()
        .join(" and ");
    let sql = format!(
        "select cast({} as double) as value from {table} where {filter}",
        ident(&e.column)
    );
    let result = async {
        let batches = ctx.sql(&sql).await?.collect().await?;
        Ok::<_, datafusion::error::DataFusionError>(batches)
    }
    .await;
    let batches = match result {
        Ok(b) => b,
        Err(err) => {
            return (
                None,
                format!("cannot look it up: {}", err.strip_backtrace()),
            );
        }
    };
    let values: Vec<Option<f64>> = batches
        .iter()
        .flat_map(|b| {
            let a = b.column(0).as_any().downcast_ref::<Float64Array>().cloned();
            (0..b.num_rows()).map(move |i| {
                a.as_ref()
                    .and_then(|a| (!arrow::array::Array::is_null(a, i)).then(|| a.value(i)))
            })
        })
        .collect();
    match values.as_slice() {
        [] => (None, "no row matches".into()),
        [Some(v)] => (Some(*v), "found".into()),
        [None] => (None, "the cell is empty".into()),
        _ => (
            None,
            format!("{} rows match: make the row condition unique", values.len()),
        ),
    }
}

/// Writes a table as Parquet and CSV under `dir`; returns the two paths.
pub(crate) fn write(
    dir: &Path,
    name: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<Vec<PathBuf>> {
    let parquet = dir.join(format!("{name}.parquet"));
    let csv = dir.join(format!("{name}.csv"));
    let werr = |path: &Path, e: evalpipe_transform::Error| Error::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    evalpipe_transform::write_parquet(&parquet, schema, batches).map_err(|e| werr(&parquet, e))?;
    evalpipe_transform::write_csv(&csv, schema, batches).map_err(|e| werr(&csv, e))?;
    Ok(vec![parquet, csv])
}

/// The same for a [`Table`].
pub(crate) fn write_table(dir: &Path, t: &Table) -> Result<Vec<PathBuf>> {
    write(
        dir,
        &t.name,
        &t.batch.schema(),
        std::slice::from_ref(&t.batch),
    )
}
