//! Running a study's queries over a run folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionContext};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::SortExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, execute_stream};
use datafusion::prelude::{ParquetReadOptions, col};
use evalpipe_study::{RunLayout, Study};
use futures::StreamExt;

use crate::header::{JoinSides, Materialized, QueryHeader};
use crate::output::{TableWriter, write_csv, write_parquet};
use crate::reference::{characteristic_rows, reference_tables};
use crate::session::{SessionConfigSpec, session};
use crate::template::{TemplateContext, render};
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
    /// Rows written (0 for a view, which writes none).
    pub rows: usize,
    /// The Parquet file; `None` for a view ([`Materialized::View`]), which has no file.
    pub parquet: Option<PathBuf>,
    /// The CSV file: for reference and output tables, which people read; a staging table is
    /// Parquet only (at national scale its CSV would be most of the run folder, read by nobody).
    pub csv: Option<PathBuf>,
    /// Wall time to build and write the table (for progress and benchmarks; never written to
    /// an output, which must not depend on the clock).
    pub elapsed: std::time::Duration,
    /// SHA-256 of what the table is made from: the file's bytes for ingest and reference
    /// tables; for a query, its SQL and the fingerprints of the tables it reads.
    pub fingerprint: String,
    /// Copied from [`TransformOptions::reuse_from`] instead of computed.
    pub reused: bool,
}

impl TableRun {
    /// Written to a file, or a view its readers compute (a reference table is written).
    pub fn materialized(&self) -> Materialized {
        self.header
            .as_ref()
            .map_or(Materialized::Table, |h| h.materialized)
    }
}

/// Options of a transform run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransformOptions {
    /// How the query session is configured (partitions, batch size).
    pub session: SessionConfigSpec,
    /// The `tables/` folder of an earlier run: a query whose fingerprint (its SQL and the
    /// fingerprints of everything it reads) is the same as there is not run again, its table
    /// is copied from there.
    pub reuse_from: Option<PathBuf>,
    /// Queries run at once; by default one per core.
    pub queries_at_once: Option<usize>,
    /// Tables a later stage waits for (the models' inputs): among the queries ready, theirs
    /// start first.
    pub wanted_first: Vec<String>,
}

/// What the transform reports while it works, for a progress display (and for a caller that
/// starts work on a table as soon as it exists). Nothing of it is written to the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A query's table was written: its Parquet and CSV files are complete and may be read.
    Table {
        /// Table name.
        table: String,
        /// Staging or output.
        kind: TableKind,
        /// A table (its files are complete) or a view (registered for the queries that read
        /// it; it has no file).
        materialized: Materialized,
        /// Queries done so far, this one included.
        done: usize,
        /// Queries in all.
        total: usize,
        /// Rows written (0 for a view, which writes none).
        rows: usize,
        /// Copied from an earlier run instead of computed.
        reused: bool,
        /// From the query's start to its table's last byte (queries run at once share the
        /// cores, so this is wall time, not the query's own CPU time).
        elapsed: std::time::Duration,
    },
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
    run_with_progress(study, layout, queries_dir, opts, &|_| {}).await
}

/// [`run`], reporting each query's table to `progress` as soon as it is written.
pub async fn run_with_progress(
    study: &Study,
    layout: &RunLayout,
    queries_dir: &Path,
    opts: &TransformOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<TableRun>> {
    // Find every query before running any, so a misplaced file fails fast, not half-way.
    let queries = discover_queries(queries_dir)?;
    let ctx = session(&opts.session).map_err(|e| Error::Internal {
        context: "starting the query session".into(),
        message: e.to_string(),
    })?;
    let mut known = Known::default();
    register_ingest_tables(&ctx, layout, &mut known).await?;
    let mut runs = write_reference_tables(&ctx, study, layout, &mut known).await?;
    let context = template_context(&ctx, study).await?;
    let mut pending = Vec::new();
    for (path, kind) in queries {
        let QueryFile { path, header, sql } = QueryFile::read(&path)?;
        let rendered = render(&path, &sql, &context)?;
        pending.push(Pending {
            path,
            kind,
            generated: rendered != sql,
            sql: rendered,
            header,
        });
    }
    let order = plan_order(&pending, &known.registered);
    let mut finished =
        run_queries(&ctx, layout, opts, &pending, &order, &mut known, progress).await?;
    // Listed (returned, catalogued) in plan order, whatever finished first.
    for i in order {
        let Pending {
            path, kind, header, ..
        } = &pending[i];
        let Some((fingerprint, done)) = finished[i].take() else {
            return Err(Error::Internal {
                context: format!("running {}", path.display()),
                message: "the query never finished".into(),
            });
        };
        runs.push(TableRun {
            table: header.table.clone(),
            kind: *kind,
            query: Some(path.clone()),
            header: Some(header.clone()),
            rows: done.rows,
            parquet: done.parquet,
            csv: done.csv,
            elapsed: done.elapsed,
            fingerprint,
            reused: done.reused,
        });
    }
    write_catalog(layout, &runs)?;
    Ok(runs)
}

/// What the query templates see: the characteristics, with the types of their columns in
/// `participants` as ingest wrote them.
async fn template_context(ctx: &SessionContext, study: &Study) -> Result<TemplateContext> {
    let participants = ctx
        .table_provider(INPUT_TABLES[0])
        .await
        .map_err(|e| Error::Internal {
            context: "reading the schema of `participants`".into(),
            message: e.strip_backtrace(),
        })?
        .schema();
    Ok(TemplateContext::new(
        &characteristic_rows(study)?,
        &participants,
    ))
}

/// The tables that exist so far in a transform, with their fingerprints (what a rerun compares
/// to copy a table whose SQL and inputs did not change).
#[derive(Default)]
struct Known {
    registered: BTreeSet<String>,
    fingerprints: BTreeMap<String, String>,
}

impl Known {
    fn add(&mut self, table: &str, fingerprint: String) {
        self.registered.insert(table.to_string());
        self.fingerprints.insert(table.to_string(), fingerprint);
    }
}

/// Registers ingest's datasets, which every query reads in ingest's order.
async fn register_ingest_tables(
    ctx: &SessionContext,
    layout: &RunLayout,
    known: &mut Known,
) -> Result<()> {
    for name in INPUT_TABLES {
        let path = layout.dataset(name);
        if !path.is_file() {
            return Err(Error::MissingInput { path });
        }
        let order = INGEST_ORDER.iter().map(|c| col(*c).sort(true, false));
        register(ctx, name, &path, order.collect()).await?;
        known.add(name, file_fingerprint(&path)?);
    }
    Ok(())
}

/// Builds the reference tables from the study, writes them where people can open them and
/// registers them for the queries.
async fn write_reference_tables(
    ctx: &SessionContext,
    study: &Study,
    layout: &RunLayout,
    known: &mut Known,
) -> Result<Vec<TableRun>> {
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
        register(ctx, name, &parquet, vec![]).await?;
        let fingerprint = file_fingerprint(&parquet)?;
        known.add(name, fingerprint.clone());
        runs.push(TableRun {
            table: name.to_string(),
            kind: TableKind::Reference,
            query: None,
            header: None,
            rows: batches[0].num_rows(),
            parquet: Some(parquet),
            csv: Some(csv),
            elapsed: started.elapsed(),
            fingerprint,
            reused: false,
        });
    }
    Ok(runs)
}

/// Each pending query's fingerprint and output, once it finished.
type Finished = Vec<Option<(String, QueryOutput)>>;

/// Runs (or copies) every pending query. Each starts as soon as the tables it reads are
/// written, on its own task (so a multi-threaded runtime spreads them over the cores), at most
/// as many at once as there are cores: more would only hold more tables in memory at once, at
/// national scale the difference between fitting and not. No query waits for an unrelated
/// slower one.
async fn run_queries(
    ctx: &SessionContext,
    layout: &RunLayout,
    opts: &TransformOptions,
    pending: &[Pending],
    order: &[usize],
    known: &mut Known,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Finished> {
    let earlier = match &opts.reuse_from {
        Some(dir) => earlier_tables(dir),
        None => BTreeMap::new(),
    };
    let at_once = opts
        .queries_at_once
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let priority = start_priority(pending, order, &opts.wanted_first);
    let mut started = vec![false; pending.len()];
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    let mut finished: Finished = pending.iter().map(|_| None).collect();
    let mut running = tokio::task::JoinSet::new();
    let mut failure: Option<(usize, Error)> = None;
    loop {
        if failure.is_none() {
            let ready = |i: usize| {
                pending[i]
                    .header
                    .reads
                    .iter()
                    .all(|t| known.registered.contains(t))
            };
            let mut starting: Vec<usize> = priority
                .iter()
                .copied()
                .filter(|i| !started[*i] && ready(*i))
                .take(at_once.saturating_sub(running.len()))
                .collect();
            if running.is_empty() && starting.is_empty() {
                match order.iter().find(|i| !started[**i]) {
                    None => break,
                    // Nothing can start: the first query left names the table it lacks (or,
                    // when it only declares it, runs and fails as the engine says).
                    Some(&i) => starting.push(i),
                }
            }
            for i in starting {
                started[i] = true;
                let (fingerprint, work) = start_query(
                    ctx,
                    layout,
                    opts,
                    &earlier,
                    &pending[i],
                    &known.registered,
                    &mut claimed,
                    &known.fingerprints,
                )?;
                running.spawn(async move { (i, work.await, fingerprint) });
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, result, fingerprint) = joined.map_err(|e| Error::Internal {
            context: "running the queries".into(),
            message: e.to_string(),
        })?;
        let Pending { kind, header, .. } = &pending[i];
        match result {
            Ok(done) => {
                // Later queries read what was written, not what is in memory: the file is the
                // table of record, and a distributed engine can only read files. Its order is
                // the plan's, so a later query merges rather than sorts it again. A view
                // registered itself: its readers plan its query into theirs.
                if let Some(parquet) = &done.parquet {
                    register(ctx, &header.table, parquet, done.order.clone()).await?;
                }
                known.add(&header.table, fingerprint.clone());
                progress(Progress::Table {
                    table: header.table.clone(),
                    kind: *kind,
                    materialized: header.materialized,
                    done: finished.iter().flatten().count() + 1,
                    total: pending.len(),
                    rows: done.rows,
                    reused: done.reused,
                    elapsed: done.elapsed,
                });
                finished[i] = Some((fingerprint, done));
            }
            // The queries already running finish; of the failures, the first in plan order is
            // reported, so the error does not depend on which query finished first.
            Err(e) => {
                let at = order.iter().position(|o| *o == i).unwrap_or(usize::MAX);
                if failure.as_ref().is_none_or(|(f, _)| at < *f) {
                    failure = Some((at, e));
                }
            }
        }
    }
    match failure {
        Some((_, e)) => Err(e),
        None => Ok(finished),
    }
}

/// A query file read and its header parsed, waiting to run.
struct Pending {
    path: PathBuf,
    kind: TableKind,
    /// The SQL to run: the file's, rendered when it is a template.
    sql: String,
    /// The file is a template: the SQL that ran is written beside the table.
    generated: bool,
    header: QueryHeader,
}

/// A query file, read and its header parsed.
#[derive(Debug, Clone)]
pub struct QueryFile {
    /// The file.
    pub path: PathBuf,
    /// Its header.
    pub header: QueryHeader,
    /// Its SQL.
    pub sql: String,
}

impl QueryFile {
    /// Reads `path` and parses its header.
    pub fn read(path: &Path) -> Result<QueryFile> {
        let sql = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let header = QueryHeader::parse(path, &sql)?;
        Ok(QueryFile {
            path: path.to_path_buf(),
            header,
            sql,
        })
    }
}

/// The query files of `dir` (not of its sub-folders), sorted by name, read and their headers
/// parsed.
pub fn read_queries(dir: &Path) -> Result<Vec<QueryFile>> {
    sql_files(dir)?.iter().map(|p| QueryFile::read(p)).collect()
}

/// A query's table, held in memory.
pub type QueryTable = (String, SchemaRef, Vec<RecordBatch>);

/// Runs `queries` in memory over the tables registered in `ctx`, by the same rules as the
/// transform's own: read-only SQL, a header whose `reads` are exactly the tables the SQL reads,
/// each query once all of them exist, in rounds of what the tables so far let run (each round
/// in the given order). Each result is registered under its table name for later queries,
/// and `done(table, done, total)` told. Returns the tables in the given order. For small
/// tables a stage computes from its own inputs (the Framework's counts); the transform's
/// tables of record stream to Parquet instead ([`run_with_progress`]).
pub async fn run_in_memory(
    ctx: &SessionContext,
    queries: &[QueryFile],
    done: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<Vec<QueryTable>> {
    // What the caller registered, and each result as it is registered.
    let mut registered: BTreeSet<String> = queries
        .iter()
        .flat_map(|q| &q.header.reads)
        .filter(|r| ctx.table_exist(r.as_str()).unwrap_or(false))
        .cloned()
        .collect();
    let mut results: BTreeMap<usize, QueryTable> = BTreeMap::new();
    let mut left: Vec<usize> = (0..queries.len()).collect();
    while !left.is_empty() {
        let (ready, waiting): (Vec<usize>, Vec<usize>) = left.iter().partition(|&&i| {
            queries[i]
                .header
                .reads
                .iter()
                .all(|r| registered.contains(r))
        });
        let Some(&first) = waiting.first().filter(|_| ready.is_empty()) else {
            for i in ready {
                let q = &queries[i];
                let table = &q.header.table;
                if registered.contains(table) {
                    return Err(Error::Header {
                        query: q.path.clone(),
                        message: format!(
                            "table `{table}` already exists (an input or an earlier query); \
                             choose another name"
                        ),
                    });
                }
                check_reads(ctx, &q.path, &q.header, &q.sql, &registered)?;
                let fail = |e| query_error(&q.path, table, e);
                let plan = plan_query(ctx, &q.sql, q.header.joins)
                    .await
                    .map_err(fail)?;
                let stream = execute_stream(plan, ctx.task_ctx()).map_err(fail)?;
                let schema = stream.schema();
                let batches: Vec<RecordBatch> = stream
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .collect::<std::result::Result<_, _>>()
                    .map_err(fail)?;
                let merged = arrow::compute::concat_batches(&schema, &batches)
                    .map_err(|e| fail(e.into()))?;
                ctx.register_batch(table, merged).map_err(fail)?;
                registered.insert(table.clone());
                results.insert(i, (table.clone(), schema, batches));
                done(table, results.len(), queries.len());
            }
            left = waiting;
            continue;
        };
        // Blame a query that reads a table nothing makes, not one waiting for it.
        let made: BTreeSet<&String> = queries.iter().map(|q| &q.header.table).collect();
        fn missing<'q>(q: &'q QueryFile, registered: &BTreeSet<String>) -> Vec<&'q str> {
            q.header
                .reads
                .iter()
                .filter(|r| !registered.contains(*r))
                .map(String::as_str)
                .collect()
        }
        let q = waiting
            .iter()
            .map(|&i| &queries[i])
            .find(|q| {
                missing(q, &registered)
                    .iter()
                    .any(|r| !made.contains(&r.to_string()))
            })
            .unwrap_or(&queries[first]);
        let missing = missing(q, &registered);
        return Err(Error::Header {
            query: q.path.clone(),
            message: format!(
                "`-- reads:` names {}, which is neither an input table nor made by another \
                 query (or the queries form a cycle)",
                missing.join(", ")
            ),
        });
    }
    Ok(results.into_values().collect())
}

/// The order queries are listed and, among those ready, started in: staging before outputs,
/// then by rounds of what the tables so far let run, each round in file-name order.
fn plan_order(pending: &[Pending], registered: &BTreeSet<String>) -> Vec<usize> {
    let mut known = registered.clone();
    let mut left: Vec<usize> = (0..pending.len()).collect();
    let mut order = Vec::with_capacity(pending.len());
    while !left.is_empty() {
        let staging_left = left.iter().any(|i| pending[*i].kind == TableKind::Staging);
        let mut round: Vec<usize> = left
            .iter()
            .copied()
            .filter(|i| {
                let q = &pending[*i];
                (!staging_left || q.kind == TableKind::Staging)
                    && q.header.reads.iter().all(|t| known.contains(t))
            })
            .collect();
        if round.is_empty() {
            // A table nobody makes: the first such query fails when it is started.
            round.push(left[0]);
        }
        left.retain(|i| !round.contains(i));
        known.extend(round.iter().map(|i| pending[*i].header.table.clone()));
        order.extend(round);
    }
    order
}

/// The order ready queries start in: the tables another stage waits for (`wanted`) first, then
/// those with the longest chain of queries waiting on them, otherwise in plan order. With two
/// running at once, the models' inputs and a long staging chain (`participant_categories`,
/// then `participant_characteristics`, then the tables by characteristic) start before a table
/// nothing waits for, so the models start and the stage ends sooner.
fn start_priority(pending: &[Pending], order: &[usize], wanted: &[String]) -> Vec<usize> {
    // The queries reading each query's table.
    let readers: Vec<Vec<usize>> = pending
        .iter()
        .map(|q| {
            (0..pending.len())
                .filter(|&j| pending[j].header.reads.contains(&q.header.table))
                .collect()
        })
        .collect();
    fn chain(i: usize, readers: &[Vec<usize>], memo: &mut [Option<usize>], depth: usize) -> usize {
        if let Some(n) = memo[i] {
            return n;
        }
        // A cycle (reported when its queries start) ends the chain.
        if depth > readers.len() {
            return 0;
        }
        let n = readers[i]
            .iter()
            .map(|&j| 1 + chain(j, readers, memo, depth + 1))
            .max()
            .unwrap_or(0);
        memo[i] = Some(n);
        n
    }
    let mut memo = vec![None; pending.len()];
    let mut priority = order.to_vec();
    // A stable sort: equal chains keep plan order.
    priority.sort_by_key(|&i| {
        std::cmp::Reverse((
            wanted.contains(&pending[i].header.table),
            chain(i, &readers, &mut memo, 0),
        ))
    });
    priority
}

/// The work of computing (or copying) one query's table.
type QueryWork = std::pin::Pin<Box<dyn std::future::Future<Output = Result<QueryOutput>> + Send>>;

/// A query ready to start: its fingerprint and its work.
type Started = (String, QueryWork);

/// Checks a query against what exists and starts it: copied from the earlier run when its
/// fingerprint is the same there, run otherwise.
#[allow(clippy::too_many_arguments)]
fn start_query(
    ctx: &SessionContext,
    layout: &RunLayout,
    opts: &TransformOptions,
    earlier: &BTreeMap<String, (String, usize)>,
    query: &Pending,
    registered: &BTreeSet<String>,
    claimed: &mut BTreeSet<String>,
    fingerprints: &BTreeMap<String, String>,
) -> Result<Started> {
    let Pending {
        path,
        kind,
        sql,
        generated,
        header,
    } = query;
    if registered.contains(&header.table) || !claimed.insert(header.table.clone()) {
        return Err(Error::Header {
            query: path.clone(),
            message: format!(
                "table `{}` already exists (an ingest dataset, a reference table or an \
                 earlier query); choose another name",
                header.table
            ),
        });
    }
    if header.materialized == Materialized::View && *kind != TableKind::Staging {
        return Err(Error::Header {
            query: path.clone(),
            message: "`-- materialized: view` is for a staging table: a table the report or \
                      people read is written to a file"
                .into(),
        });
    }
    check_reads(ctx, path, header, sql, registered)?;
    let fingerprint = query_fingerprint(sql, &header.reads, fingerprints);
    let csv = *kind != TableKind::Staging;
    let reusable = earlier.get(&header.table).and_then(|(fp, rows)| {
        let dir = opts.reuse_from.as_ref()?;
        let present = dir.join(format!("{}.parquet", header.table)).is_file()
            && (!csv || dir.join(format!("{}.csv", header.table)).is_file());
        (*fp == fingerprint && present).then(|| (dir.clone(), *rows))
    });
    let query = RunnableQuery {
        ctx: ctx.clone(),
        layout: layout.clone(),
        path: path.clone(),
        table: header.table.clone(),
        sql: sql.clone(),
        joins: header.joins,
        with_csv: csv,
        generated: *generated,
    };
    // A view has nothing to copy: it is registered again, and is reused when its SQL and
    // inputs are unchanged, as a table would be.
    let same_view = earlier
        .get(&header.table)
        .is_some_and(|(fp, _)| *fp == fingerprint);
    let task: QueryWork = match (header.materialized, reusable) {
        (Materialized::View, _) => Box::pin(create_view(query, same_view)),
        (Materialized::Table, Some((dir, rows))) => Box::pin(copy_table(dir, query, rows)),
        (Materialized::Table, None) => Box::pin(run_query(query)),
    };
    Ok((fingerprint, task))
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
        (
            "materialized",
            text(&|_, h| format!("{:?}", h.materialized).to_lowercase()),
        ),
        ("produces", text(&|_, h| h.produces.clone())),
        ("grain", text(&|_, h| h.grain.clone())),
        ("base", text(&|_, h| h.base.clone())),
        ("reads", text(&|_, h| h.reads.join(" "))),
        ("fingerprint", text(&|r, _| r.fingerprint.clone())),
        (
            "rows",
            Arc::new(Int64Array::from(
                queried
                    .iter()
                    .map(|(r, h)| (h.materialized == Materialized::Table).then_some(r.rows as i64))
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

/// The order ingest writes every table in: its files in name order, each file's rows in order,
/// as one number (`place`, see [`evalpipe_study::place`]). Told to the engine, it lets a query
/// ordered by a participant's place in the extracts merge already ordered streams instead of
/// sorting a table of many rows per participant.
const INGEST_ORDER: &[&str] = &[PLACE];

/// A participant's place in the extracts (ingest's one number for file and row).
const PLACE: &str = "place";

/// Registers a Parquet table, ordered by `sort` when that is how it was written.
async fn register(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    sort: Vec<SortExpr>,
) -> Result<()> {
    let location = path.to_str().ok_or_else(|| Error::Input {
        path: path.to_path_buf(),
        message: "the path is not valid UTF-8".into(),
    })?;
    let options = ParquetReadOptions {
        file_sort_order: if sort.is_empty() { vec![] } else { vec![sort] },
        ..Default::default()
    };
    ctx.register_parquet(name, location, options)
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

/// What one query wrote.
struct QueryOutput {
    /// `None` for a view.
    parquet: Option<PathBuf>,
    csv: Option<PathBuf>,
    rows: usize,
    elapsed: std::time::Duration,
    reused: bool,
    /// The order its rows were written in (empty: none known).
    order: Vec<SortExpr>,
}

/// SHA-256 of a file's bytes.
fn file_fingerprint(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// SHA-256 of a query's SQL and of the fingerprints of what it reads: equal fingerprints mean
/// an equal table, since every query is deterministic.
fn query_fingerprint(sql: &str, reads: &[String], known: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(sql.as_bytes());
    let mut reads: Vec<&String> = reads.iter().collect();
    reads.sort();
    for r in reads {
        h.update([0]);
        h.update(r.as_bytes());
        h.update([b'=']);
        h.update(known.get(r).map_or("", String::as_str).as_bytes());
    }
    hex::encode(h.finalize())
}

/// Table → (fingerprint, rows) from an earlier run's catalogue; empty when there is none (or
/// it predates fingerprints), so everything runs.
fn earlier_tables(dir: &Path) -> BTreeMap<String, (String, usize)> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    let mut out = BTreeMap::new();
    let Ok(file) = std::fs::File::open(dir.join(format!("{CATALOG_TABLE}.parquet"))) else {
        return out;
    };
    let Ok(reader) = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
    else {
        return out;
    };
    for batch in reader.flatten() {
        let column = |name: &str| batch.column_by_name(name).cloned();
        let (Some(t), Some(f), Some(r)) = (column("table"), column("fingerprint"), column("rows"))
        else {
            return out;
        };
        let (t, f) = (t.as_string::<i32>(), f.as_string::<i32>());
        let r = r.as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            if t.is_valid(i) && f.is_valid(i) {
                out.insert(
                    t.value(i).to_string(),
                    (
                        f.value(i).to_string(),
                        usize::try_from(r.value(i)).unwrap_or(0),
                    ),
                );
            }
        }
    }
    out
}

/// Copies a table an earlier run computed from the same SQL and inputs.
async fn copy_table(from: PathBuf, q: RunnableQuery, rows: usize) -> Result<QueryOutput> {
    let started = std::time::Instant::now();
    let (parquet, csv, rendered) = q.files();
    let mut copies = vec![("parquet", &parquet)];
    copies.extend(csv.as_ref().map(|c| ("csv", c)));
    copies.extend(rendered.as_ref().map(|c| ("sql", c)));
    // The copy is in the order the same plan gives; planning it again tells which.
    let order = written_order(&q.plan().await?);
    for (ext, to) in copies {
        let source = from.join(format!("{}.{ext}", q.table));
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                path: dir.to_path_buf(),
                source: e,
            })?;
        }
        std::fs::copy(&source, to).map_err(|e| Error::Io {
            path: source.clone(),
            source: e,
        })?;
    }
    Ok(QueryOutput {
        parquet: Some(parquet),
        csv,
        rows,
        elapsed: started.elapsed(),
        reused: true,
        order,
    })
}

/// A query to run (or copy from an earlier run) and where its table goes.
struct RunnableQuery {
    ctx: SessionContext,
    layout: RunLayout,
    path: PathBuf,
    table: String,
    sql: String,
    joins: JoinSides,
    with_csv: bool,
    /// The SQL was rendered from a template: it is written beside the table, as it ran.
    generated: bool,
}

impl RunnableQuery {
    /// The table's Parquet file, its CSV (a table people read) and its SQL as it ran (a
    /// template's).
    fn files(&self) -> (PathBuf, Option<PathBuf>, Option<PathBuf>) {
        let file = |ext: &str| self.layout.table(&self.table, ext);
        (
            file("parquet"),
            self.with_csv.then(|| file("csv")),
            self.generated.then(|| file("sql")),
        )
    }

    fn error(&self, e: DataFusionError) -> Error {
        query_error(&self.path, &self.table, e)
    }

    /// Writes a template's SQL as it ran beside the table.
    fn write_rendered(&self) -> Result<()> {
        let (_, _, rendered) = self.files();
        match rendered {
            Some(path) => {
                std::fs::write(&path, &self.sql).map_err(|source| Error::Io { path, source })
            }
            None => Ok(()),
        }
    }

    async fn plan(&self) -> Result<Arc<dyn ExecutionPlan>> {
        plan_query(&self.ctx, &self.sql, self.joins)
            .await
            .map_err(|e| self.error(e))
    }
}

/// Executes one query and streams its table into Parquet and, for a table people read (not a
/// staging table), CSV: a batch is written as soon as the engine yields it.
async fn run_query(q: RunnableQuery) -> Result<QueryOutput> {
    let started = std::time::Instant::now();
    let (parquet, csv, _) = q.files();
    q.write_rendered()?;
    let fail = |e| q.error(e);
    let plan = q.plan().await?;
    let order = written_order(&plan);
    let mut stream = execute_stream(plan, q.ctx.task_ctx()).map_err(fail)?;
    let mut out = TableWriter::create(&parquet, csv.as_deref(), &stream.schema())?;
    while let Some(batch) = stream.next().await {
        out.write(&batch.map_err(fail)?)?;
    }
    let rows = out.finish()?;
    Ok(QueryOutput {
        parquet: Some(parquet),
        csv,
        rows,
        elapsed: started.elapsed(),
        reused: false,
        order,
    })
}

/// Registers a view ([`Materialized::View`]): the query's plan under the table's name, which
/// each reader plans into its own query. Nothing is computed or written but the SQL as it ran
/// (a template's), so a reviewer still reads what the readers computed.
async fn create_view(q: RunnableQuery, reused: bool) -> Result<QueryOutput> {
    let started = std::time::Instant::now();
    q.write_rendered()?;
    // Planned now, so an error in the view's SQL names this file, not a reader's.
    register_view(&q.ctx, &q.table, &q.sql)
        .await
        .map_err(|e| q.error(e))?;
    Ok(QueryOutput {
        parquet: None,
        csv: None,
        rows: 0,
        elapsed: started.elapsed(),
        reused,
        order: Vec::new(),
    })
}

/// The order a plan writes its rows in when it is the participants' order in the extracts
/// (`place` first, ascending), as sort expressions on its output columns; empty otherwise.
///
/// Only a table of one or many rows per participant is big enough for a later sort to cost
/// (160M rows at 10M participants), and only `place` is declared: DataFusion 55's projection
/// pushdown fails an internal assertion on a small table declared sorted by a column a later
/// query does not select (`characteristic_counts` by `characteristic_order`).
fn written_order(plan: &Arc<dyn ExecutionPlan>) -> Vec<SortExpr> {
    if plan.output_partitioning().partition_count() != 1 {
        return vec![];
    }
    let Some(first) = plan.output_ordering().map(|o| o.first()) else {
        return vec![];
    };
    match first.expr.downcast_ref::<Column>() {
        Some(column) if column.name() == PLACE && !first.options.descending => {
            vec![col(PLACE).sort(true, first.options.nulls_first)]
        }
        _ => vec![],
    }
}

/// The physical plan a query file runs as: SQL only (no DDL, DML or `SET`), with the join
/// sides its header asks for.
pub async fn plan_query(
    ctx: &SessionContext,
    sql: &str,
    joins: JoinSides,
) -> std::result::Result<Arc<dyn ExecutionPlan>, DataFusionError> {
    let options = query_file_options();
    let frame = match joins {
        JoinSides::BySize => ctx.sql_with_options(sql, options).await?,
        // The same session (tables, memory pool) with the join sides left as written.
        JoinSides::AsWritten => {
            let state = ctx.state();
            let mut config = state.config().clone();
            config.options_mut().optimizer.join_reordering = false;
            // The session's catalog, not a new empty one.
            config
                .options_mut()
                .catalog
                .create_default_catalog_and_schema = false;
            let state = SessionStateBuilder::new_from_existing(state)
                .with_config(config)
                .build();
            SessionContext::new_with_state(state)
                .sql_with_options(sql, options)
                .await?
        }
    };
    // The stream executed from it carries the plan's schema, not the first batch's: a query
    // with no rows still writes its columns.
    frame.create_physical_plan().await
}

/// A query file computes a table; it may not create, insert or set anything.
fn query_file_options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Registers `sql` (a query file's SQL: no DDL, DML or `SET`) as the view `name`, which the
/// queries planned after it read as a table ([`Materialized::View`]). The dashboards and the
/// plan tests register a run's views from the SQL it wrote beside its tables.
pub async fn register_view(
    ctx: &SessionContext,
    name: &str,
    sql: &str,
) -> std::result::Result<(), DataFusionError> {
    let plan = ctx
        .sql_with_options(sql, query_file_options())
        .await?
        .into_unoptimized_plan();
    let view = datafusion::datasource::ViewTable::new(plan, Some(sql.to_string()));
    ctx.register_table(name, Arc::new(view))?;
    Ok(())
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
