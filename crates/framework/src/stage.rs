//! The stage: read and validate, write the input as tables, count with SQL, look up the
//! triangulation hooks, render the matrices.

use std::path::PathBuf;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use evalpipe_study::{RunLayout, Study};
use evalpipe_transform::SessionConfigSpec;

use crate::codebook::Codebook;
use crate::input::{self, Finding};
use crate::{Error, Result, render, tables};

/// Folder of the stage's documents inside a run, and of its tables inside `tables/`.
pub const OUTPUT_DIR: &str = evalpipe_study::FRAMEWORK_OUTPUT;

/// Where the stage reads from.
#[derive(Debug, Clone)]
pub struct FrameworkOptions {
    /// The qualitative data folder (`data/qualitative`).
    pub input: PathBuf,
    /// The counting SQL (`queries/framework`).
    pub queries: PathBuf,
    /// The query session's settings (the transform's defaults).
    pub session: SessionConfigSpec,
}

impl FrameworkOptions {
    /// Options with the default session.
    pub fn new(input: impl Into<PathBuf>, queries: impl Into<PathBuf>) -> Self {
        FrameworkOptions {
            input: input.into(),
            queries: queries.into(),
            session: SessionConfigSpec::default(),
        }
    }
}

/// What the stage did.
#[derive(Debug, Clone)]
pub struct FrameworkRun {
    /// Valid cases (interviews).
    pub cases: usize,
    /// Charted cells counted.
    pub cells: usize,
    /// CMO links.
    pub cmo_links: usize,
    /// Whether the input is the synthetic twin.
    pub synthetic: bool,
    /// Validation findings.
    pub findings: Vec<Finding>,
    /// Interviews per wave: (wave, counted, published).
    pub waves: Vec<(i64, i64, Option<i64>)>,
    /// Files written, relative to the run folder, sorted.
    pub files: Vec<String>,
}

/// What the stage reports while it works, for a progress display. Nothing of it is written to
/// the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A step begins (`reading the workbooks`, `counting`, `rendering the matrices`,
    /// `triangulating`).
    Step {
        /// What the stage is doing.
        step: &'static str,
    },
    /// A counting query's table was made.
    Query {
        /// Table name.
        table: String,
        /// Queries done so far, this one included.
        done: usize,
        /// Queries in all.
        total: usize,
    },
}

/// The stage up to its triangulation hooks: the workbooks read and validated, the input and
/// the codebook written as tables, the counting SQL run and written, the matrices rendered.
/// None of it reads the run's tables, so it can be made while the transform and the models
/// run; [`Prepared::finish`] then looks the hooks up in their finished tables.
pub struct Prepared {
    ctx: datafusion::execution::context::SessionContext,
    cases: usize,
    cells: usize,
    cmo_links: usize,
    synthetic: bool,
    findings: Vec<Finding>,
    waves: Vec<(i64, i64, Option<i64>)>,
    files: Vec<PathBuf>,
}

/// Runs the stage on a run folder (inside a Tokio runtime): [`prepare`], then
/// [`Prepared::finish`].
pub async fn run(
    study: &Study,
    codebook: &Codebook,
    layout: &RunLayout,
    opts: &FrameworkOptions,
) -> Result<FrameworkRun> {
    let no_progress = |_: Progress| {};
    prepare(study, codebook, layout, opts, &no_progress)
        .await?
        .finish(codebook, layout, &no_progress)
        .await
}

/// Everything of the stage that does not read the run's tables (see [`Prepared`]). Clears the
/// stage's folders of the run first, and writes only there.
pub async fn prepare(
    study: &Study,
    codebook: &Codebook,
    layout: &RunLayout,
    opts: &FrameworkOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Prepared> {
    progress(Progress::Step {
        step: "reading the workbooks",
    });
    let input = input::read(&opts.input, codebook, study)?;
    let out_dir = layout.framework_dir();
    // Tables apart from the transform's (`tables/framework/`), as the models' are: a rerun
    // replaces all of them, and nothing else.
    let tables_dir = layout.framework_tables_dir();
    for dir in [&out_dir, &tables_dir] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
    }
    let reference_dir = tables_dir.join("reference");
    let mut files: Vec<PathBuf> = Vec::new();

    let inputs = tables::input_tables(&input)?;
    let references = tables::reference_tables(codebook, study, &input)?;
    for t in &inputs {
        files.extend(tables::write_table(&tables_dir, t)?);
    }
    for t in &references {
        files.extend(tables::write_table(&reference_dir, t)?);
    }

    progress(Progress::Step { step: "counting" });
    let ctx = evalpipe_transform::session(&opts.session)
        .map_err(|e| Error::Internal(format!("starting the query session: {e}")))?;
    let all: Vec<tables::Table> = inputs.into_iter().chain(references).collect();
    let counted = tables::count(&ctx, &all, &opts.queries, progress).await?;
    let mut waves = Vec::new();
    for (name, schema, batches) in &counted {
        files.extend(tables::write(&tables_dir, name, schema, batches)?);
        if name == "framework_interviews" {
            waves = wave_counts(batches);
        }
    }

    progress(Progress::Step {
        step: "rendering the matrices",
    });
    files.extend(render::write_all(&out_dir, codebook, study, &input)?);
    Ok(Prepared {
        ctx,
        cases: input.cases.len(),
        cells: input.cells.len(),
        cmo_links: input.cmo.len(),
        synthetic: input.synthetic,
        findings: input.findings,
        waves,
        files,
    })
}

impl Prepared {
    /// Looks each triangulation hook up in the run's tables — which must be finished: the
    /// transform's and the models' — and writes `framework_triangulation`.
    pub async fn finish(
        self,
        codebook: &Codebook,
        layout: &RunLayout,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<FrameworkRun> {
        progress(Progress::Step {
            step: "triangulating",
        });
        let mut files = self.files;
        let tables_dir = layout.framework_tables_dir();
        let triangulation =
            tables::triangulation(&self.ctx, codebook, &layout.tables_dir()).await?;
        files.extend(tables::write_table(&tables_dir, &triangulation)?);

        let mut files: Vec<String> = files.iter().map(|f| layout.relative(f)).collect();
        files.sort();
        Ok(FrameworkRun {
            cases: self.cases,
            cells: self.cells,
            cmo_links: self.cmo_links,
            synthetic: self.synthetic,
            findings: self.findings,
            waves: self.waves,
            files,
        })
    }
}

/// Runs the stage on its own single-threaded runtime (outside async code).
pub fn run_blocking(
    study: &Study,
    codebook: &Codebook,
    layout: &RunLayout,
    opts: &FrameworkOptions,
) -> Result<FrameworkRun> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("starting the query runtime: {e}")))?;
    runtime.block_on(run(study, codebook, layout, opts))
}

/// (wave, interviews, published) from `framework_interviews`' all-types rows.
fn wave_counts(batches: &[arrow::array::RecordBatch]) -> Vec<(i64, i64, Option<i64>)> {
    let mut out = Vec::new();
    for b in batches {
        let (Some(wave), Some(ty), Some(n), Some(p)) = (
            b.column_by_name("wave"),
            b.column_by_name("interview_type"),
            b.column_by_name("interviews"),
            b.column_by_name("published_interviews"),
        ) else {
            continue;
        };
        let (Some(wave), Some(ty), Some(n), Some(p)) = (
            wave.as_string_opt::<i32>(),
            ty.as_string_opt::<i32>(),
            n.as_primitive_opt::<Int64Type>(),
            p.as_primitive_opt::<Int64Type>(),
        ) else {
            continue;
        };
        for i in 0..b.num_rows() {
            if ty.value(i) != "all" {
                continue;
            }
            if let Ok(w) = wave.value(i).parse::<i64>() {
                out.push((w, n.value(i), (!p.is_null(i)).then(|| p.value(i))));
            }
        }
    }
    out
}
