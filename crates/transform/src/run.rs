//! Running a study's queries over a run folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionContext};
use datafusion::physical_plan::collect;
use datafusion::prelude::ParquetReadOptions;
use evalpipe_study::{RunLayout, Study};

use crate::header::QueryHeader;
use crate::output::{write_csv, write_parquet};
use crate::reference::reference_tables;
use crate::session::{SessionConfigSpec, session};
use crate::{Error, Result};

/// The ingest datasets the queries read, by the name they are registered under (also the file
/// stem in `<run>/ingest/`).
pub const INPUT_TABLES: [&str; 3] = ["participants", "participant_answers", "claims"];

/// Sub-folder of `queries/` whose files run first, each result readable by later queries.
pub const STAGING_DIR: &str = "staging";

/// Sub-folder of `<run>/tables/` holding the reference tables.
pub const REFERENCE_DIR: &str = "reference";

/// The catalogue of a run's query tables (`tables/catalog.parquet|csv`): each table's header
/// (what it produces, its grain and base) and row count, so later stages — the annex workbook,
/// `check`, `diff` — describe a table without parsing SQL.
pub const CATALOG_TABLE: &str = "catalog";

/// What a table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Built from the study configuration (lots, cohorts, code lists…).
    Reference,
    /// A `queries/staging/` result: an intermediate later queries read.
    Staging,
    /// A `queries/` result: a table the report and models use.
    Output,
}

/// One table the transform wrote.
#[derive(Debug, Clone)]
pub struct TableRun {
    /// Table name (registered name, file stem).
    pub table: String,
    /// Reference, staging or output.
    pub kind: TableKind,
    /// The query file, for staging and output tables.
    pub query: Option<PathBuf>,
    /// The query's header, for staging and output tables.
    pub header: Option<QueryHeader>,
    /// Rows written.
    pub rows: usize,
    /// The Parquet file.
    pub parquet: PathBuf,
    /// The CSV file.
    pub csv: PathBuf,
    /// Wall time to build and write the table (for progress and benchmarks; never written to
    /// an output, which must not depend on the clock).
    pub elapsed: std::time::Duration,
}

/// Options of a transform run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransformOptions {
    /// How the query session is configured (partitions, batch size).
    pub session: SessionConfigSpec,
}

/// [`run`] for callers without a tokio runtime: blocks on a single-threaded one of its own.
/// Do not call it from inside a runtime (tokio refuses nested runtimes); await [`run`] there.
pub fn run_blocking(
    study: &Study,
    layout: &RunLayout,
    queries_dir: &Path,
    opts: &TransformOptions,
) -> Result<Vec<TableRun>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal {
            context: "starting the query runtime".into(),
            message: e.to_string(),
        })?;
    runtime.block_on(run(study, layout, queries_dir, opts))
}

/// Runs the transform: registers the ingest datasets, builds and writes the reference tables,
/// then runs `queries_dir/staging/*.sql` and `queries_dir/*.sql` (staging first, each set by
/// file name, a query held back until the tables its header `reads` exist),
/// writing each result to `<run>/tables/<table>.parquet` and `.csv`. Returns every table
/// written, in the order written (reference tables first).
pub async fn run(
    study: &Study,
    layout: &RunLayout,
    queries_dir: &Path,
    opts: &TransformOptions,
) -> Result<Vec<TableRun>> {
    // Find every query before running any, so a misplaced file fails fast, not half-way.
    let queries = discover_queries(queries_dir)?;
    let ctx = session(&opts.session);
    let mut registered = BTreeSet::new();
    for name in INPUT_TABLES {
        let path = layout.dataset(name);
        if !path.is_file() {
            return Err(Error::MissingInput { path });
        }
        register(&ctx, name, &path).await?;
        registered.insert(name.to_string());
    }

    let mut runs = Vec::new();
    let reference_dir = layout.tables_dir().join(REFERENCE_DIR);
    for (name, batch) in reference_tables(study)? {
        let started = std::time::Instant::now();
        let parquet = reference_dir.join(format!("{name}.parquet"));
        let csv = reference_dir.join(format!("{name}.csv"));
        let schema = batch.schema();
        let batches = [batch];
        write_parquet(&parquet, &schema, &batches)?;
        write_csv(&csv, &schema, &batches)?;
        register(&ctx, name, &parquet).await?;
        registered.insert(name.to_string());
        runs.push(TableRun {
            table: name.to_string(),
            kind: TableKind::Reference,
            query: None,
            header: None,
            rows: batches[0].num_rows(),
            parquet,
            csv,
            elapsed: started.elapsed(),
        });
    }

    let mut pending = Vec::new();
    for (path, kind) in queries {
        let sql = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let header = QueryHeader::parse(&path, &sql)?;
        pending.push((path, kind, sql, header));
    }
    while !pending.is_empty() {
        let (path, kind, sql, header) = pending.remove(next_ready(&pending, &registered));
        let started = std::time::Instant::now();
        if registered.contains(&header.table) {
            return Err(Error::Header {
                query: path,
                message: format!(
                    "table `{}` already exists (an ingest dataset, a reference table or an \
                     earlier query); choose another name",
                    header.table
                ),
            });
        }
        check_reads(&ctx, &path, &header, &sql, &registered)?;
        let (schema, batches) = execute(&ctx, &sql)
            .await
            .map_err(|e| query_error(&path, &header.table, e))?;
        let parquet = layout.table(&header.table, "parquet");
        let csv = layout.table(&header.table, "csv");
        write_parquet(&parquet, &schema, &batches)?;
        write_csv(&csv, &schema, &batches)?;
        // Later queries read what was written, not what is in memory: the file is the table of
        // record, and a distributed engine can only read files.
        register(&ctx, &header.table, &parquet).await?;
        registered.insert(header.table.clone());
        runs.push(TableRun {
            table: header.table.clone(),
            kind,
            query: Some(path),
            header: Some(header),
            rows: batches.iter().map(RecordBatch::num_rows).sum(),
            parquet,
            csv,
            elapsed: started.elapsed(),
        });
    }
    write_catalog(layout, &runs)?;
    Ok(runs)
}

/// The first pending query (in discovery order: staging, then outputs, each by file name) whose
/// `reads` are all available, so a query may read any other query's table whatever their names.
/// When none is ready — a table no query makes, or a cycle — the first pending one runs and
/// [`check_reads`] names what it lacks.
fn next_ready(
    pending: &[(PathBuf, TableKind, String, QueryHeader)],
    registered: &BTreeSet<String>,
) -> usize {
    pending
        .iter()
        .position(|(_, _, _, h)| h.reads.iter().all(|t| registered.contains(t)))
        .unwrap_or(0)
}

fn write_catalog(layout: &RunLayout, runs: &[TableRun]) -> Result<()> {
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;
    let queried: Vec<(&TableRun, &QueryHeader)> = runs
        .iter()
        .filter_map(|r| r.header.as_ref().map(|h| (r, h)))
        .collect();
    let text = |f: &dyn Fn(&TableRun, &QueryHeader) -> String| -> ArrayRef {
        Arc::new(StringArray::from(
            queried.iter().map(|(r, h)| f(r, h)).collect::<Vec<_>>(),
        ))
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("table", text(&|_, h| h.table.clone())),
        ("kind", text(&|r, _| format!("{:?}", r.kind).to_lowercase())),
        ("produces", text(&|_, h| h.produces.clone())),
        ("grain", text(&|_, h| h.grain.clone())),
        ("base", text(&|_, h| h.base.clone())),
        ("reads", text(&|_, h| h.reads.join(" "))),
        (
            "rows",
            Arc::new(Int64Array::from(
                queried
                    .iter()
                    .map(|(r, _)| r.rows as i64)
                    .collect::<Vec<_>>(),
            )),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).map_err(|e| Error::Internal {
        context: "building the table catalogue".into(),
        message: e.to_string(),
    })?;
    let schema = batch.schema();
    let batches = [batch];
    write_parquet(&layout.table(CATALOG_TABLE, "parquet"), &schema, &batches)?;
    write_csv(&layout.table(CATALOG_TABLE, "csv"), &schema, &batches)
}

/// The query files in discovery order: `staging/*.sql`, then `*.sql`, each sorted by file name.
/// A query runs once the tables it reads exist, so the run order may differ.
pub fn discover_queries(queries_dir: &Path) -> Result<Vec<(PathBuf, TableKind)>> {
    let staging = queries_dir.join(STAGING_DIR);
    let mut out: Vec<(PathBuf, TableKind)> = Vec::new();
    if staging.is_dir() {
        out.extend(
            sql_files(&staging)?
                .into_iter()
                .map(|p| (p, TableKind::Staging)),
        );
    }
    out.extend(
        sql_files(queries_dir)?
            .into_iter()
            .map(|p| (p, TableKind::Output)),
    );
    Ok(out)
}

fn sql_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "sql") {
            files.push(path);
        }
    }
    // read_dir order is the file system's; sort so every machine runs the same sequence.
    files.sort();
    Ok(files)
}

async fn register(ctx: &SessionContext, name: &str, path: &Path) -> Result<()> {
    let location = path.to_str().ok_or_else(|| Error::Input {
        path: path.to_path_buf(),
        message: "the path is not valid UTF-8".into(),
    })?;
    ctx.register_parquet(name, location, ParquetReadOptions::default())
        .await
        .map_err(|e| Error::Input {
            path: path.to_path_buf(),
            message: e.strip_backtrace(),
        })
}

/// The header's `reads` must name exactly the tables the SQL reads (CTE names aside), and each
/// must exist by the time the query runs: the header is a contract, not a comment that drifts.
fn check_reads(
    ctx: &SessionContext,
    path: &Path,
    header: &QueryHeader,
    sql: &str,
    registered: &BTreeSet<String>,
) -> Result<()> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state
        .sql_to_statement(sql, &dialect)
        .map_err(|e| query_error(path, &header.table, e))?;
    let used: BTreeSet<String> = state
        .resolve_table_references(&statement)
        .map_err(|e| query_error(path, &header.table, e))?
        .iter()
        .map(|t| t.table().to_string())
        .collect();
    let declared: BTreeSet<String> = header.reads.iter().cloned().collect();
    let err = |message: String| Error::Header {
        query: path.to_path_buf(),
        message,
    };
    if let Some(t) = used.difference(&declared).next() {
        return Err(err(format!(
            "the query reads `{t}`, which `-- reads:` does not list"
        )));
    }
    if let Some(t) = declared.difference(&used).next() {
        return Err(err(format!(
            "`-- reads:` lists `{t}`, which the query does not read"
        )));
    }
    if let Some(t) = used.iter().find(|t| !registered.contains(*t)) {
        return Err(err(format!(
            "the query reads `{t}`, which is neither an ingest dataset, a reference table nor \
             the table of another query (or the queries that make it form a cycle)"
        )));
    }
    Ok(())
}

async fn execute(
    ctx: &SessionContext,
    sql: &str,
) -> std::result::Result<(arrow::datatypes::SchemaRef, Vec<RecordBatch>), DataFusionError> {
    // A query file computes a table; it may not create, insert or set anything.
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = ctx.sql_with_options(sql, options).await?;
    let plan = frame.create_physical_plan().await?;
    // The plan's schema, not the first batch's: a query with no rows still writes its columns.
    let schema = plan.schema();
    let batches = collect(plan, ctx.task_ctx()).await?;
    Ok((schema, batches))
}

/// Sorts a DataFusion error by blame: a broken invariant inside the engine is ours to fix,
/// anything else is the query's.
fn query_error(path: &Path, table: &str, e: DataFusionError) -> Error {
    let message = e.strip_backtrace();
    match e.find_root() {
        DataFusionError::Internal(_) => Error::Internal {
            context: format!("running {} (table `{table}`)", path.display()),
            message,
        },
        DataFusionError::Plan(_)
        | DataFusionError::SQL(..)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_) => Error::Plan {
            query: path.to_path_buf(),
            table: table.to_string(),
            message,
        },
        _ => Error::Execution {
            query: path.to_path_buf(),
            table: table.to_string(),
            message,
        },
    }
}
