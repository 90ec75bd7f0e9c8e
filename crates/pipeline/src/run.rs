//! A run: its options resolved into a [`Plan`], then every stale stage of the stage table run
//! into a folder built beside the target and swapped in whole.
//!
//! The stages overlap where the stage table's [`Start`] says, and nowhere else: the Framework
//! stage's preparation reads only the interviews, the codebook and the study, so it runs from
//! the start, beside ingest, transform and models; the models read two staging tables of the
//! transform ([`evalpipe_models::INPUT_TABLES`]), so they start as soon as those are written,
//! beside its other queries; the Framework's triangulation hooks wait for the models' tables,
//! and the report for all. Every stage writes only its own folders, and the
//! summaries are said in stage order, so the run folder and the messages are those of running
//! the stages one after the other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use evalpipe_ingest::{IngestOptions, KEY_ENV, PseudonymKey};
use evalpipe_study::{
    FrameworkSummary, IngestSummary, Manifest, ModelsSummary, ReportSummary, RunLayout,
    SYNTHETIC_MARKER, StageSummaries, Study, TransformSummary,
};

use crate::error::{Error, Result, io, stage};
use crate::hashes::{hash_inputs, hash_tree};
use crate::outdir::{self, sibling};
use crate::stage::{STAGES, Stage, StageDef, Start};
use crate::stale::{self, Current, StageState};

/// What a run is asked to do; a path not given is the project's default under `root`.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The project folder (the defaults below are inside it).
    pub root: PathBuf,
    /// Folder of extracts [default: `data/twin`].
    pub data: Option<PathBuf>,
    /// Run folder [default: `runs/<data folder name>`].
    pub out: Option<PathBuf>,
    /// Study configuration [default: `pipeline`].
    pub pipeline: Option<PathBuf>,
    /// SQL folder [default: `queries`].
    pub queries: Option<PathBuf>,
    /// Report templates [default: `report-templates`].
    pub templates: Option<PathBuf>,
    /// Charted interviews [default: `data/qualitative` with the twin, else
    /// `<data>/qualitative` if it exists].
    pub qualitative: Option<PathBuf>,
    /// File holding the pseudonymisation key (else [`KEY_ENV`]).
    pub key_file: Option<PathBuf>,
    /// Run every stage even if nothing it reads changed.
    pub force: bool,
    /// Print report.pdf when Chromium is installed.
    pub pdf: bool,
    /// Memory the query engine may hold before spilling, in bytes [default: half the
    /// machine's].
    pub memory_limit: Option<usize>,
}

/// Where a run reads and writes, checked: the run folder is safe to build and replace, and
/// neither is, holds nor sits inside anything the run reads.
pub struct Plan {
    /// Study configuration folder.
    pub pipeline: PathBuf,
    /// Folder of extracts.
    pub data: PathBuf,
    /// SQL folder.
    pub queries: PathBuf,
    /// Report templates.
    pub templates: PathBuf,
    /// The charted interviews, if the run has any.
    pub qualitative: Option<PathBuf>,
    /// The run folder, resolved.
    pub out: PathBuf,
    /// The study.
    pub study: Study,
    /// Whether the extracts are the synthetic twin.
    pub synthetic: bool,
    key: PseudonymKey,
    force: bool,
    pdf: bool,
    memory_limit: Option<usize>,
}

/// Something a run says while it works, for the caller to show: the stage libraries' progress,
/// and the lines (summaries, warnings, notes) a person reads.
#[derive(Debug, Clone)]
pub enum Event {
    /// A line for the user: a stage's summary, a warning or a note.
    Said(String),
    /// A stage begins.
    Began(Stage),
    /// What a stage is doing now.
    Step(Stage, String),
    /// Ingest's progress.
    Ingest(evalpipe_ingest::Progress),
    /// The transform's progress.
    Transform(evalpipe_transform::Progress),
    /// The models' progress.
    Models(evalpipe_models::Progress),
    /// The Framework stage's progress.
    Framework(evalpipe_framework::Progress),
    /// Rows a stage read.
    Rows(Stage, u64),
    /// A stage's own work is over; its summary is said when the run joins it.
    WorkDone(Stage),
    /// A stage is over.
    Ended(Stage),
}

/// Where a run's events go; called from the threads the stages run on.
pub type Events = Arc<dyn Fn(Event) + Send + Sync>;

/// How a finished run went.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// The report, in the published run folder.
    pub report: PathBuf,
    /// The problems with its input that its exit status shows: one line per file rejected or
    /// read with a file-level finding, and per lot without data.
    pub incomplete: Vec<String>,
    /// Nothing was stale: the run already in the folder was left as it was.
    pub up_to_date: bool,
}

fn load_study(pipeline: &Path) -> Result<Study> {
    Study::load(pipeline).map_err(|source| Error::Study {
        pipeline: pipeline.to_path_buf(),
        source,
    })
}

fn resolve_key(key_file: &Option<PathBuf>, synthetic: bool, data: &Path) -> Result<PseudonymKey> {
    let bytes = match key_file {
        Some(f) => Some(
            std::fs::read(f).map_err(|e| io(format!("reading the key file {}", f.display()), e))?,
        ),
        None => std::env::var_os(KEY_ENV).map(|v| v.to_string_lossy().as_bytes().to_vec()),
    };
    match bytes {
        Some(b) => PseudonymKey::new(b).ok_or_else(|| {
            Error::Refused("the pseudonymisation key must be at least 16 characters".into())
        }),
        None if synthetic => Ok(PseudonymKey::synthetic()),
        None => Err(Error::Refused(format!(
            "{} is not the synthetic twin (no {SYNTHETIC_MARKER}), so a pseudonymisation key is needed: \
             set {KEY_ENV} or pass --key-file FILE",
            data.display()
        ))),
    }
}

/// Resolves and checks a run's paths, before anything is read or written.
pub fn plan(request: &Request) -> Result<Plan> {
    let root = &request.root;
    let or_default = |given: &Option<PathBuf>, default: &str| {
        given.clone().unwrap_or_else(|| root.join(default))
    };
    let pipeline = or_default(&request.pipeline, "pipeline");
    let data = or_default(&request.data, "data/twin");
    let queries = or_default(&request.queries, "queries");
    let templates = or_default(&request.templates, "report-templates");
    let out = request.out.clone().unwrap_or_else(|| {
        let name = data
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        root.join("runs").join(name)
    });
    if !data.is_dir() {
        return Err(Error::Refused(format!(
            "the data folder {} does not exist (use --data DIR)",
            data.display()
        )));
    }
    // --out is checked before anything is read or written: a run never writes over, into or
    // around what it reads.
    let out = outdir::resolve(&out)?;
    let study = load_study(&pipeline)?;
    let synthetic = data.join(SYNTHETIC_MARKER).is_file();
    let key = resolve_key(&request.key_file, synthetic, &data)?;
    // The synthetic interviews go with the synthetic twin only: real extracts never pick them up
    // by default.
    let qualitative = match &request.qualitative {
        Some(q) => Some(q.clone()),
        None if synthetic => Some(root.join("data/qualitative")),
        None => Some(data.join("qualitative")),
    }
    .filter(|q| q.is_dir() || request.qualitative.is_some());
    let mut inputs = vec![
        ("data folder", data.as_path()),
        ("study configuration", pipeline.as_path()),
        ("query folder", queries.as_path()),
        ("template folder", templates.as_path()),
    ];
    if let Some(q) = &qualitative {
        inputs.push(("qualitative data folder", q.as_path()));
    }
    if let Some(k) = &request.key_file {
        inputs.push(("key file", k.as_path()));
    }
    outdir::check_not_an_input(&out, &inputs)?;
    Ok(Plan {
        pipeline,
        data,
        queries,
        templates,
        qualitative,
        out,
        study,
        synthetic,
        key,
        force: request.force,
        pdf: request.pdf,
        memory_limit: request.memory_limit,
    })
}

/// The fixed reference whose pseudonym is the manifest's `key_check`.
const KEY_CHECK_PROBE: &str = "evalpipe manifest key check";

/// What a run would read now; the extracts' hashes only when `inputs` (else empty, for the
/// caller to fill in).
fn current(plan: &Plan, inputs: bool) -> Result<Current> {
    Ok(Current {
        version: env!("CARGO_PKG_VERSION").to_string(),
        ingest_format: evalpipe_ingest::TABLES_FORMAT,
        key_check: plan.key.pseudonym("", KEY_CHECK_PROBE),
        inputs: if inputs {
            hash_inputs(&plan.study, &plan.data)?
        } else {
            Vec::new()
        },
        config: hash_tree(&plan.pipeline)?,
        queries: hash_tree(&plan.queries)?,
        templates: hash_tree(&plan.templates)?,
        qualitative: match &plan.qualitative {
            Some(q) => hash_tree(q)?,
            None => Vec::new(),
        },
        pdf: plan.pdf && evalpipe_report::pdf::find_chromium().is_some(),
    })
}

/// The manifest of the run in `out`, if there is one evalpipe can read.
fn read_manifest(out: &Path) -> Option<Manifest> {
    Manifest::read(&RunLayout::new(out).manifest()).ok()
}

/// Which stages a run would redo, and why.
pub fn status(plan: &Plan) -> Result<Vec<StageState>> {
    let current = current(plan, true)?;
    Ok(stale::staleness(
        &plan.out,
        read_manifest(&plan.out).as_ref(),
        &current,
    ))
}

/// Runs every stale stage into `plan.out`, saying what it does through `events`.
pub fn run(plan: Plan, events: Events) -> Result<RunOutcome> {
    let say = |text: String| events(Event::Said(text));
    // One run at a time writes a run folder; the lock lasts until this function returns.
    let (_lock, stale_lock) = outdir::Lock::take(&plan.out)?;
    if let Some(pid) = stale_lock {
        say(format!(
            "note: an earlier run on {} (process {pid}) did not finish; its lock was taken over",
            plan.out.display()
        ));
    }
    outdir::inspect(&plan.out, "--out")?;
    outdir::recover(&plan.out)?;
    let previous = read_manifest(&plan.out);
    // The extracts' hashes decide what runs only against an earlier run, without --force;
    // otherwise they are only written into the manifest, and are computed beside the stages.
    // At 10M participants, hashing the 4.3 GB took 14 s on one core before ingest could start.
    let decided_by_inputs = previous.is_some() && !plan.force;
    let mut current = current(&plan, decided_by_inputs)?;
    let hashing = (!decided_by_inputs).then(|| {
        let (study, data) = (plan.study.clone(), plan.data.clone());
        std::thread::spawn(move || hash_inputs(&study, &data))
    });
    let states = stale::staleness(&plan.out, previous.as_ref(), &current);
    let report = RunLayout::new(&plan.out).report_html();
    let stale: BTreeSet<Stage> = if plan.force {
        Stage::ALL.into_iter().collect()
    } else {
        states.iter().filter(|s| s.stale).map(|s| s.stage).collect()
    };
    if stale.is_empty() {
        say(format!(
            "up to date: nothing to do — the data, configuration, queries, templates, key and \
             evalpipe version are those of the run in {} (--force runs it again)",
            plan.out.display()
        ));
        return Ok(RunOutcome {
            report,
            incomplete: previous
                .map(|m| m.incomplete().to_vec())
                .unwrap_or_default(),
            up_to_date: true,
        });
    }
    let previous = previous.unwrap_or_default();

    // Build beside the target and swap in at the end, so a failed run never leaves a folder
    // that looks like a finished one.
    let staging = sibling(&plan.out, "partial");
    if outdir::partial_is_ours(&staging)? {
        std::fs::remove_dir_all(&staging).map_err(|e| {
            io(
                format!("removing the unfinished run {}", staging.display()),
                e,
            )
        })?;
    }
    std::fs::create_dir_all(&staging)
        .map_err(|e| io(format!("creating {}", staging.display()), e))?;
    outdir::mark(&staging)?;
    let run = Run {
        plan: &plan,
        layout: RunLayout::new(&staging),
        previous: &previous,
        stale: &stale,
        events: &events,
        begun: Mutex::default(),
    };
    let stages = run.stages().map_err(|e| Error::NotPublished {
        out: plan.out.clone(),
        staging: staging.clone(),
        source: Box::new(e),
    })?;
    if let Some(hashing) = hashing {
        current.inputs = hashing
            .join()
            .map_err(|_| Error::Internal("hashing the extracts stopped".into()))??;
    }
    let incomplete = stages
        .ingest
        .as_ref()
        .map(|i| i.incomplete.clone())
        .unwrap_or_default();
    let manifest = Manifest {
        evalpipe_version: env!("CARGO_PKG_VERSION").to_string(),
        ingest_format: Some(evalpipe_ingest::TABLES_FORMAT),
        synthetic: plan.synthetic,
        key_check: current.key_check,
        inputs: current.inputs,
        config: current.config,
        queries: current.queries,
        templates: current.templates,
        qualitative: current.qualitative,
        outputs: hash_tree(&staging)?,
        stages,
    };
    manifest
        .write(&run.layout.manifest())
        .map_err(|e| stage("writing the run manifest", e))?;
    outdir::publish(&staging, &plan.out)?;
    Ok(RunOutcome {
        report,
        incomplete,
        up_to_date: false,
    })
}

/// A run being built in its staging folder.
pub(crate) struct Run<'a> {
    plan: &'a Plan,
    /// The staging folder's layout.
    layout: RunLayout,
    /// The manifest of the run already in the folder (empty without one).
    previous: &'a Manifest,
    stale: &'a BTreeSet<Stage>,
    events: &'a Events,
    /// The stages begun ahead of their turn ([`Start`]), and what finishing each takes.
    begun: Mutex<BTreeMap<Stage, Finish>>,
}

/// What finishing a begun stage takes: waiting for its work, saying how it went and recording
/// its summary.
pub(crate) type Finish =
    Box<dyn FnOnce(&Run<'_>, &Runtime, &mut StageSummaries) -> Result<()> + Send>;

/// Begins a stage: starts what it can do in the background, and says what finishing it takes.
pub(crate) type Begin = fn(&Run<'_>, &Runtime) -> Finish;

/// [`Begin`] for ingest, which runs in its turn.
pub(crate) fn begin_ingest(_: &Run<'_>, _: &Runtime) -> Finish {
    Box::new(|run, _, summaries| {
        summaries.ingest = Some(run.ingest()?);
        Ok(())
    })
}

/// [`Begin`] for the transform, which runs in its turn and begins the stages waiting for its
/// tables.
pub(crate) fn begin_transform(_: &Run<'_>, _: &Runtime) -> Finish {
    Box::new(|run, runtime, summaries| {
        summaries.transform = Some(run.transform(runtime)?);
        Ok(())
    })
}

/// [`Begin`] for the models, fitted on a blocking thread of the runtime from now.
pub(crate) fn begin_models(run: &Run<'_>, runtime: &Runtime) -> Finish {
    let job = run.start_models(runtime);
    Box::new(move |run, runtime, summaries| {
        summaries.models = Some(run.finish_models(runtime, job)?);
        Ok(())
    })
}

/// [`Begin`] for the Framework stage: its preparation from now, its hooks when finished.
pub(crate) fn begin_framework(run: &Run<'_>, runtime: &Runtime) -> Finish {
    let job = run.start_framework(runtime);
    Box::new(move |run, runtime, summaries| {
        summaries.framework = Some(run.finish_framework(runtime, job)?);
        Ok(())
    })
}

/// [`Begin`] for the report, which runs in its turn.
pub(crate) fn begin_report(_: &Run<'_>, _: &Runtime) -> Finish {
    Box::new(|run, _, summaries| {
        summaries.report = Some(run.report()?);
        Ok(())
    })
}

impl Run<'_> {
    fn say(&self, text: impl Into<String>) {
        (self.events)(Event::Said(text.into()))
    }

    fn is_stale(&self, stage: Stage) -> bool {
        self.stale.contains(&stage)
    }

    /// Copies a fresh stage's folders from the last run, leaving out the folders of other
    /// stages inside them: their outputs are byte-identical to what running it would write.
    fn reuse(&self, stage: Stage) -> Result<()> {
        for (folder, theirs) in stage.folders() {
            let from = self.plan.out.join(folder);
            if from.is_dir() {
                let skip: Vec<PathBuf> = theirs.iter().map(|t| self.plan.out.join(t)).collect();
                outdir::copy_tree(&from, &self.layout.root.join(folder), &skip)?;
            }
        }
        self.say(format!("{stage}: unchanged since the last run, reused"));
        Ok(())
    }

    /// Every stage, stale ones run and fresh ones reused; their summaries for the manifest.
    fn stages(&self) -> Result<StageSummaries> {
        if self.plan.synthetic {
            self.say(format!(
                "note: {} is the synthetic twin; every output is marked synthetic",
                self.plan.data.display()
            ));
        }
        // One runtime for the run: the transform's queries run on its two workers; the models
        // and the Framework's preparation, which need no worker of their own, on its blocking
        // threads.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| io("starting the query runtime".into(), e))?;
        for def in &STAGES {
            if def.start == Start::PreparedAtOnce && self.is_stale(def.stage) {
                self.begin(def, &runtime);
            }
        }
        let mut summaries = StageSummaries::default();
        // In the table's order, so summaries are said as a sequential run would say them.
        for def in &STAGES {
            if !self.is_stale(def.stage) {
                self.reuse(def.stage)?;
                (def.keep)(&self.previous.stages, &mut summaries);
                continue;
            }
            let begun = lock(&self.begun).remove(&def.stage);
            let finish = begun.unwrap_or_else(|| (def.begin)(self, &runtime));
            finish(self, &runtime, &mut summaries)?;
        }
        Ok(summaries)
    }

    /// Begins `def`'s stage now, ahead of its turn, unless it has begun.
    fn begin(&self, def: &StageDef, runtime: &Runtime) {
        if !lock(&self.begun).contains_key(&def.stage) {
            let finish = (def.begin)(self, runtime);
            lock(&self.begun).insert(def.stage, finish);
        }
    }

    /// Begins every stale stage waiting for tables that are all in `written`.
    fn begin_when_written(&self, written: &BTreeSet<String>, runtime: &Runtime) {
        for def in &STAGES {
            if let Start::WhenWritten(tables) = def.start
                && self.is_stale(def.stage)
                && tables.iter().all(|t| written.contains(*t))
            {
                self.begin(def, runtime);
            }
        }
    }

    fn ingest(&self) -> Result<IngestSummary> {
        let (plan, events) = (self.plan, self.events);
        events(Event::Began(Stage::Ingest));
        let opts = IngestOptions {
            key: plan.key.clone(),
            synthetic: plan.synthetic,
        };
        let ingested = evalpipe_ingest::ingest_with_progress(
            &plan.study,
            &plan.data,
            &self.layout,
            &opts,
            &|p| events(Event::Ingest(p)),
        )
        .map_err(|e| stage("ingest stage", e))?;
        events(Event::Rows(
            Stage::Ingest,
            ingested.files.iter().map(|f| f.rows_read as u64).sum(),
        ));
        events(Event::Ended(Stage::Ingest));
        let quarantined: usize = ingested.files.iter().map(|f| f.rows_quarantined).sum();
        let used = ingested
            .files
            .iter()
            .filter(|f| f.status == evalpipe_ingest::FileStatus::Used)
            .count();
        self.say(format!(
            "ingest: {} participants and {} claims from {used} files; {quarantined} rows quarantined ({} findings); see {}",
            ingested.participants,
            ingested.claims,
            ingested.quarantine_records,
            RunLayout::new(&plan.out).validation_summary().display()
        ));
        let mut incomplete = Vec::new();
        for f in &ingested.files {
            if let Some(why) = f.rejection() {
                incomplete.push(format!("{} rejected: {why}", f.file));
            }
            for finding in &f.findings {
                incomplete.push(format!(
                    "{} ({}): {}",
                    f.file, finding.rule, finding.message
                ));
            }
        }
        let claims_used = ingested.files.iter().any(|f| {
            f.dataset == plan.study.claims.dataset.name
                && f.status == evalpipe_ingest::FileStatus::Used
        });
        if !claims_used {
            incomplete
                .push("no usable claims extract in this refresh: claims tables are empty".into());
        }
        if !ingested.lots_without_data.is_empty() {
            incomplete.push(format!(
                "lots without data in this refresh: {}",
                ingested.lots_without_data.join(", ")
            ));
        }
        Ok(IngestSummary {
            claims: ingested.claims as u64,
            incomplete,
            lots_without_data: ingested.lots_without_data,
            participants: ingested.participants as u64,
            quarantine_records: ingested.quarantine_records as u64,
            rows_quarantined: quarantined as u64,
            unmatched_claims: ingested.unmatched_claims as u64,
        })
    }

    /// Runs the queries, beginning the stages that wait for some of its tables as soon as
    /// those are written.
    fn transform(&self, runtime: &Runtime) -> Result<TransformSummary> {
        let (plan, events) = (self.plan, self.events);
        // With the ingest unchanged, a query whose SQL and inputs are unchanged is copied from
        // the last run: an edited query reruns itself and what reads it, nothing else.
        let reuse = (!self.is_stale(Stage::Ingest)).then(|| RunLayout::new(&plan.out).tables_dir());
        events(Event::Began(Stage::Transform));
        // One engine memory limit for the transform and the models, which overlap.
        let session = evalpipe_transform::SessionConfigSpec {
            memory_limit: plan
                .memory_limit
                .unwrap_or_else(evalpipe_transform::default_memory_limit),
            ..Default::default()
        };
        let written: Mutex<BTreeSet<String>> = Mutex::default();
        let on_table = |p: evalpipe_transform::Progress| {
            events(Event::Transform(p.clone()));
            let evalpipe_transform::Progress::Table { table, .. } = p;
            let mut written = lock(&written);
            written.insert(table);
            self.begin_when_written(&written, runtime);
        };
        let ran = runtime
            .block_on(evalpipe_transform::run_with_progress(
                &plan.study,
                &self.layout,
                &plan.queries,
                &evalpipe_transform::TransformOptions {
                    reuse_from: reuse,
                    session,
                    wanted_first: evalpipe_models::INPUT_TABLES.map(String::from).to_vec(),
                    ..Default::default()
                },
                &on_table,
            ))
            .map_err(|e| stage("transform stage", e))?;
        events(Event::Ended(Stage::Transform));
        // A stage whose tables the queries did not make begins in its turn, and says so.
        let (tables, reused) = (ran.len(), ran.iter().filter(|t| t.reused).count());
        self.say(format!(
            "transform: {} tables from {}{}",
            tables,
            plan.queries.display(),
            if reused > 0 {
                format!(" ({reused} unchanged since the last run, reused)")
            } else {
                String::new()
            }
        ));
        Ok(TransformSummary {
            tables: tables as u64,
        })
    }

    /// Starts fitting the models of `pipeline/models/` on a blocking thread of the runtime.
    fn start_models(&self, runtime: &tokio::runtime::Runtime) -> ModelsJob {
        (self.events)(Event::Began(Stage::Models));
        let (study, layout, events) = (
            self.plan.study.clone(),
            self.layout.clone(),
            Arc::clone(self.events),
        );
        let options = evalpipe_models::ModelsOptions::default();
        runtime.spawn_blocking(move || {
            let specs =
                evalpipe_models::load_specs(&study.root.join(evalpipe_models::MODELS_DIR), &study)?;
            let fitted = evalpipe_models::run_with_progress(&layout, &specs, &options, &|p| {
                events(Event::Models(p))
            });
            events(Event::WorkDone(Stage::Models));
            fitted
        })
    }

    /// Waits for the models and says how they went.
    fn finish_models(
        &self,
        runtime: &tokio::runtime::Runtime,
        job: ModelsJob,
    ) -> Result<ModelsSummary> {
        let models = join(runtime, job)?.map_err(|e| stage("models stage", e))?;
        (self.events)(Event::Ended(Stage::Models));
        let fitted = models.iter().filter(|m| m.result.is_ok()).count();
        self.say(format!(
            "models: {fitted} of {} fitted from {}; see {}",
            models.len(),
            self.plan
                .pipeline
                .join(evalpipe_models::MODELS_DIR)
                .display(),
            RunLayout::new(&self.plan.out).models_dir().display()
        ));
        for m in &models {
            for note in &m.notes {
                self.say(format!("warning: model {}: {note}", m.spec.id));
            }
            if let Err(e) = &m.result {
                self.say(format!(
                    "warning: model {} (Table {}) not fitted: {e}",
                    m.spec.id, m.spec.table
                ));
            }
        }
        Ok(ModelsSummary {
            fitted: fitted as u64,
            models: models.len() as u64,
        })
    }

    /// Starts the Framework stage's preparation ([`evalpipe_framework::prepare`]: all of it but
    /// the triangulation hooks), when the study has a codebook and the run has interviews.
    fn start_framework(&self, runtime: &tokio::runtime::Runtime) -> FrameworkJob {
        let plan = self.plan;
        let codebook_path = plan.pipeline.join(evalpipe_framework::CODEBOOK_FILE);
        let Some(input) = plan.qualitative.as_deref() else {
            return FrameworkJob::Skipped(
                "no qualitative data folder (use --qualitative DIR)".into(),
            );
        };
        if !codebook_path.is_file() {
            return FrameworkJob::Skipped(format!("no codebook {}", codebook_path.display()));
        }
        let codebook = match evalpipe_framework::Codebook::load(&codebook_path) {
            Ok(c) => c,
            Err(e) => return FrameworkJob::Failed(stage("framework stage: the codebook", e)),
        };
        (self.events)(Event::Began(Stage::Framework));
        let opts = evalpipe_framework::FrameworkOptions::new(input, plan.queries.join("framework"));
        let (study, layout, shared, events) = (
            plan.study.clone(),
            self.layout.clone(),
            codebook.clone(),
            Arc::clone(self.events),
        );
        let handle = runtime.handle().clone();
        let job = runtime.spawn_blocking(move || {
            let prepared = handle.block_on(evalpipe_framework::prepare(
                &study,
                &shared,
                &layout,
                &opts,
                &|p| events(Event::Framework(p)),
            ));
            events(Event::Step(
                Stage::Framework,
                "waiting for the models' tables".into(),
            ));
            prepared
        });
        FrameworkJob::Preparing {
            job,
            codebook: Box::new(codebook),
            input: input.to_path_buf(),
        }
    }

    /// Finishes the Framework stage (its triangulation hooks read the finished tables) and says
    /// how it went.
    fn finish_framework(
        &self,
        runtime: &tokio::runtime::Runtime,
        job: FrameworkJob,
    ) -> Result<FrameworkSummary> {
        let (job, codebook, input) = match job {
            FrameworkJob::Skipped(why) => {
                self.say(format!("framework: skipped: {why}"));
                return Ok(FrameworkSummary::Skipped { skipped: why });
            }
            FrameworkJob::Failed(e) => return Err(e),
            FrameworkJob::Preparing {
                job,
                codebook,
                input,
            } => (job, codebook, input),
        };
        let events = self.events;
        let prepared = join(runtime, job)?.map_err(|e| stage("framework stage", e))?;
        let done = runtime
            .block_on(prepared.finish(&codebook, &self.layout, &|p| events(Event::Framework(p))))
            .map_err(|e| stage("framework stage", e))?;
        events(Event::Ended(Stage::Framework));
        if done.synthetic && !self.plan.synthetic {
            self.say(format!(
                "warning: {} is the synthetic qualitative twin, but the extracts are real",
                input.display()
            ));
        }
        let errors = done
            .findings
            .iter()
            .filter(|f| f.rule.severity() == "error")
            .count();
        self.say(format!(
            "framework: {} interviews, {} charted cells, {} CMO links from {}; {} findings ({errors} left data out); see {}",
            done.cases,
            done.cells,
            done.cmo_links,
            input.display(),
            done.findings.len(),
            RunLayout::new(&self.plan.out)
                .framework_dir()
                .join("validation.md")
                .display()
        ));
        for (wave, n, published) in &done.waves {
            if let Some(p) = published
                && p != n
            {
                self.say(format!(
                    "warning: framework: wave {wave} has {n} interviews; the report published {p}"
                ));
            }
        }
        Ok(FrameworkSummary::Charted {
            cases: done.cases as u64,
            cells: done.cells as u64,
            cmo_links: done.cmo_links as u64,
            findings: done.findings.len() as u64,
            synthetic: done.synthetic,
        })
    }

    /// The report's two halves read the tables and write files of their own; both print the
    /// run's one disclosure decision, made once here. The PDF prints the finished HTML page, so
    /// it comes last; without Chromium the run says why and goes on.
    fn report(&self) -> Result<ReportSummary> {
        let (plan, layout, events) = (self.plan, &self.layout, self.events);
        let step = |s: &str| events(Event::Step(Stage::Report, s.into()));
        events(Event::Began(Stage::Report));
        step("deciding disclosure control over everything published");
        let decision =
            evalpipe_report::disclosure::decide_run(layout, plan.study.disclosure.min_count)
                .map_err(|e| stage("report stage: disclosure control", e))?;
        step("rendering the sections and the annex workbook");
        let (rendered, annex) = std::thread::scope(|scope| {
            let annex = scope.spawn(|| {
                evalpipe_report::write_annex_with(&plan.study, layout, plan.synthetic, &decision)
            });
            let rendered = evalpipe_report::render(
                &plan.study,
                layout,
                &plan.templates,
                &evalpipe_report::RenderOptions {
                    synthetic: plan.synthetic,
                    disclosure: Some(decision.clone()),
                },
            );
            (rendered, annex.join())
        });
        let rendered = rendered.map_err(|e| stage("report stage", e))?;
        annex
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            .map_err(|e| stage("report stage: the annex workbook", e))?;
        let pdf = plan.pdf && {
            step("printing report.pdf with headless Chromium");
            match evalpipe_report::write_pdf(layout)
                .map_err(|e| stage("report stage: report.pdf", e))?
            {
                evalpipe_report::Pdf::Written(_) => true,
                evalpipe_report::Pdf::Unavailable(why) => {
                    self.say(format!("report: {why}"));
                    false
                }
            }
        };
        events(Event::Ended(Stage::Report));
        Ok(ReportSummary {
            files: (rendered.len() + 1 + usize::from(pdf)) as u64,
            pdf,
        })
    }
}

/// The models being fitted.
type ModelsJob = tokio::task::JoinHandle<evalpipe_models::Result<Vec<evalpipe_models::ModelRun>>>;

/// The Framework stage, started before the others.
enum FrameworkJob {
    /// Not run, and why (no interviews, no codebook).
    Skipped(String),
    /// The codebook could not be loaded: reported in the Framework's turn, as a run one stage
    /// after the other would.
    Failed(Error),
    /// Preparing on a blocking thread of the runtime.
    Preparing {
        job: tokio::task::JoinHandle<evalpipe_framework::Result<evalpipe_framework::Prepared>>,
        codebook: Box<evalpipe_framework::Codebook>,
        input: PathBuf,
    },
}

/// The run's tokio runtime.
type Runtime = tokio::runtime::Runtime;

/// A lock whose holder panicked still guards sound data here (sets and maps of stages and
/// tables), so it is taken anyway.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits for a stage running on the runtime's blocking threads.
fn join<T>(runtime: &tokio::runtime::Runtime, job: tokio::task::JoinHandle<T>) -> Result<T> {
    runtime.block_on(job).map_err(|e| {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic())
        }
        Error::Internal(format!("a stage was cancelled: {e}"))
    })
}
