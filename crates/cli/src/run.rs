//! The `run` and `synth` commands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use evalpipe_ingest::{IngestOptions, KEY_ENV, PseudonymKey};
use evalpipe_study::{RunLayout, SYNTHETIC_MARKER, Study};

use crate::manifest::{self, Manifest};
use crate::outdir::{self, Folder, sibling};
use crate::paths::{or_default, project_root};
use crate::progress::{Display, StageBar};
use crate::stale;
use crate::timings::{self, Timings};

/// Options of `evalpipe run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Folder of extracts (mi_<LOT>_<YYYYMMDD>.csv|xlsx, claims_<YYYYMMDD>.csv) [default: data/twin].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Run folder to write; replaced if it holds an earlier run [default: runs/<data folder name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Study configuration folder [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// SQL folder [default: queries].
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Report template folder [default: report-templates].
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Charted interviews (cases.xlsx, matrix_<type>.xlsx, cmo.xlsx) [default: data/qualitative
    /// with the twin, else <data>/qualitative if it exists].
    #[arg(long, value_name = "DIR")]
    pub qualitative: Option<PathBuf>,
    /// File holding the pseudonymisation key (else the EVALPIPE_PSEUDONYM_KEY variable).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Run every stage even if nothing it reads changed since the last run in --out.
    #[arg(long)]
    pub force: bool,
    /// Do not print report/report.pdf; otherwise it is printed with headless Chromium when
    /// Chromium is installed.
    #[arg(long)]
    pub no_pdf: bool,
    /// Exit 0 even when an extract was rejected, rows swallowed lines, a lot has no data or the
    /// claims extract is missing in this refresh (the run is written either way; without this
    /// option the exit status is 3).
    #[arg(long)]
    pub accept_incomplete: bool,
    /// Write each stage's wall time and peak memory to FILE as JSON (for benchmarks; outside
    /// the run folder, whose outputs never depend on the machine).
    #[arg(long, value_name = "FILE")]
    pub timings: Option<PathBuf>,
    /// Memory the query engine may hold, in GiB, before its sorts and aggregations spill to
    /// the temporary folder [default: half the machine's]. A lower limit keeps a national
    /// extract's run within a smaller machine at the cost of more disk; a join too large for it
    /// fails its query by name. Results never depend on it.
    #[arg(long, value_name = "GiB", value_parser = gibibytes)]
    pub memory_limit: Option<usize>,
}

/// `--memory-limit`: GiB as a number (fractions allowed), in bytes.
fn gibibytes(text: &str) -> Result<usize, String> {
    match text.trim().parse::<f64>() {
        Ok(g) if (1.0 / 1024.0..=1_048_576.0).contains(&g) => {
            Ok((g * (1u64 << 30) as f64) as usize)
        }
        _ => Err(format!(
            "`{text}` is not a memory limit in GiB (e.g. 3 or 2.5; at least 1 MiB)"
        )),
    }
}

/// How a finished run went: the problems with its input that its exit status shows.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// One line per file rejected or read with a file-level finding, and per lot without data.
    pub incomplete: Vec<String>,
}

/// Options of `evalpipe synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Seed of the generator; the same seed writes byte-identical files.
    #[arg(long, default_value_t = evalpipe_synth::DEFAULT_SEED)]
    pub seed: u64,
    /// Folder to write the final extract to [default: data/twin].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Folder to write the interim extract to [default: beside --out, its name + `-interim`,
    /// e.g. data/twin-interim].
    #[arg(long, value_name = "DIR")]
    pub interim_out: Option<PathBuf>,
    /// Study configuration folder [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// Write a scaled extract of N MI participants instead (e.g. 100k, 1M, 10M): copies of the
    /// twin's people with new references, every lot as CSV, streamed in bounded memory; no
    /// interim extract. Needs --out, so the embedded twin is never overwritten by accident.
    #[arg(long, value_name = "N", value_parser = participants, requires = "out",
          conflicts_with = "interim_out")]
    pub participants: Option<usize>,
}

/// `--participants`: a count, with an optional k (thousand) or M (million) suffix.
fn participants(text: &str) -> Result<usize, String> {
    let clean = text.trim().replace('_', "");
    let (digits, unit) = match clean.char_indices().last() {
        Some((i, 'k' | 'K')) => (&clean[..i], 1_000),
        Some((i, 'm' | 'M')) => (&clean[..i], 1_000_000),
        _ => (&clean[..], 1),
    };
    match digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
    {
        Some(0) => Err("at least one participant is needed".into()),
        Some(n) => Ok(n),
        None => Err(format!(
            "`{text}` is not a number of participants (e.g. 4000, 100k, 10M)"
        )),
    }
}

pub fn synth(args: &SynthArgs, quiet: bool) -> Result<()> {
    let say = Display::new(quiet);
    let root = project_root();
    let pipeline = or_default(&args.pipeline, &root, "pipeline");
    let out = or_default(&args.out, &root, "data/twin");
    let study = load_study(&pipeline)?;
    let twin_path = pipeline.join("twin.toml");
    let twin = evalpipe_synth::load_twin_config(&twin_path)
        .with_context(|| format!("loading the twin calibration {}", twin_path.display()))?;
    if let Some(participants) = args.participants {
        let opts = evalpipe_synth::ScaledOptions {
            seed: args.seed,
            out: out.clone(),
            participants,
        };
        let summary = evalpipe_synth::generate_scaled(&study, &twin, &opts)
            .context("synth: writing the scaled extract")?;
        say.line(format!(
            "synth: scaled extract {} participants and {} claims; {} files (seed {})",
            summary.participants,
            summary.claims,
            summary.files.len(),
            args.seed
        ));
        println!("{}", out.display());
        return Ok(());
    }
    let interim_out = args.interim_out.clone().unwrap_or_else(|| {
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "twin".to_string());
        out.with_file_name(format!("{name}-interim"))
    });
    let opts = evalpipe_synth::SynthOptions {
        seed: args.seed,
        out: out.clone(),
        interim_out: Some(interim_out.clone()),
    };
    let summary =
        evalpipe_synth::generate(&study, &twin, &opts).context("synth: generating the twin")?;
    say.line(format!(
        "synth: final extract {} participants and {} claims, interim extract {} and {}; {} files (seed {}{})",
        summary.participants,
        summary.claims,
        summary.interim.map_or(0, |x| x.0),
        summary.interim.map_or(0, |x| x.1),
        summary.files.len(),
        args.seed,
        if summary.round > 0 {
            format!(
                ", round {}: the earlier draws could not meet every published cell",
                summary.round
            )
        } else {
            String::new()
        }
    ));
    println!("{}", out.display());
    println!("{}", interim_out.display());
    Ok(())
}

fn load_study(pipeline: &Path) -> Result<Study> {
    Study::load(pipeline).with_context(|| {
        format!(
            "loading the study configuration from {} (use --pipeline DIR to point elsewhere)",
            pipeline.display()
        )
    })
}

fn resolve_key(key_file: &Option<PathBuf>, synthetic: bool, data: &Path) -> Result<PseudonymKey> {
    let bytes = match key_file {
        Some(f) => Some(
            std::fs::read(f).with_context(|| format!("reading the key file {}", f.display()))?,
        ),
        None => std::env::var_os(KEY_ENV).map(|v| v.to_string_lossy().as_bytes().to_vec()),
    };
    match bytes {
        Some(b) => {
            PseudonymKey::new(b).context("the pseudonymisation key must be at least 16 characters")
        }
        None if synthetic => Ok(PseudonymKey::synthetic()),
        None => bail!(
            "{} is not the synthetic twin (no {SYNTHETIC_MARKER}), so a pseudonymisation key is needed: \
             set {KEY_ENV} or pass --key-file FILE",
            data.display()
        ),
    }
}

/// Where a run reads and writes, resolved from its arguments.
struct Plan {
    pipeline: PathBuf,
    data: PathBuf,
    queries: PathBuf,
    templates: PathBuf,
    /// The charted interviews, if the run has any.
    qualitative: Option<PathBuf>,
    out: PathBuf,
    study: Study,
    synthetic: bool,
    key: PseudonymKey,
    /// Whether report.pdf is asked for (no --no-pdf); printed when Chromium is installed.
    pdf: bool,
}

fn plan(args: &RunArgs) -> Result<Plan> {
    let root = project_root();
    let pipeline = or_default(&args.pipeline, &root, "pipeline");
    let data = or_default(&args.data, &root, "data/twin");
    let queries = or_default(&args.queries, &root, "queries");
    let templates = or_default(&args.templates, &root, "report-templates");
    let out = match &args.out {
        Some(o) => o.clone(),
        None => {
            let name = data
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into());
            root.join("runs").join(name)
        }
    };
    if !data.is_dir() {
        bail!(
            "the data folder {} does not exist (use --data DIR)",
            data.display()
        );
    }
    // --out is checked before anything is read or written: a run never writes over, into or
    // around what it reads.
    let out = outdir::resolve(&out)?;
    let study = load_study(&pipeline)?;
    let synthetic = data.join(SYNTHETIC_MARKER).is_file();
    let key = resolve_key(&args.key_file, synthetic, &data)?;
    // The synthetic interviews go with the synthetic twin only: real extracts never pick them up
    // by default.
    let qualitative = match &args.qualitative {
        Some(q) => Some(q.clone()),
        None if synthetic => Some(root.join("data/qualitative")),
        None => Some(data.join("qualitative")),
    }
    .filter(|q| q.is_dir() || args.qualitative.is_some());
    let mut inputs = vec![
        ("data folder", data.as_path()),
        ("study configuration", pipeline.as_path()),
        ("query folder", queries.as_path()),
        ("template folder", templates.as_path()),
    ];
    if let Some(q) = &qualitative {
        inputs.push(("qualitative data folder", q.as_path()));
    }
    if let Some(k) = &args.key_file {
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
        pdf: !args.no_pdf,
    })
}

/// What a run would read now; the extracts' hashes only when `inputs` (else empty, for the
/// caller to fill in).
fn current(plan: &Plan, inputs: bool) -> Result<stale::Current> {
    Ok(stale::Current {
        version: env!("CARGO_PKG_VERSION").to_string(),
        ingest_format: evalpipe_ingest::TABLES_FORMAT,
        key_check: plan.key.pseudonym("", KEY_CHECK_PROBE),
        inputs: if inputs {
            manifest::hash_inputs(&plan.study, &plan.data)?
        } else {
            Vec::new()
        },
        config: manifest::hash_tree(&plan.pipeline)?,
        queries: manifest::hash_tree(&plan.queries)?,
        templates: manifest::hash_tree(&plan.templates)?,
        qualitative: match &plan.qualitative {
            Some(q) => manifest::hash_tree(q)?,
            None => Vec::new(),
        },
        pdf: plan.pdf && evalpipe_report::pdf::find_chromium().is_some(),
    })
}

/// `evalpipe status`: which stages a run would redo, and why.
pub fn status(args: &RunArgs) -> Result<bool> {
    let plan = plan(args)?;
    let current = current(&plan, true)?;
    let previous = read_manifest(&plan.out);
    let states = stale::staleness(&plan.out, previous.as_ref(), &current);
    println!("{}", plan.out.display());
    for s in &states {
        if s.stale {
            println!("  {:<10} stale: {}", s.stage, s.reasons.join("; "));
        } else {
            println!("  {:<10} up to date", s.stage);
        }
    }
    Ok(true)
}

pub fn run(args: &RunArgs, quiet: bool) -> Result<RunOutcome> {
    let say = Display::new(quiet).timed(Timings::new(args.timings.is_some()));
    let plan = plan(args)?;
    let timings = args
        .timings
        .as_deref()
        .map(|t| timings::check_path(t, &plan.out))
        .transpose()?;
    // One run at a time writes a run folder; the lock lasts until this function returns.
    let (_lock, stale_lock) = outdir::Lock::take(&plan.out)?;
    if let Some(pid) = stale_lock {
        say.line(format!(
            "note: an earlier run on {} (process {pid}) did not finish; its lock was taken over",
            plan.out.display()
        ));
    }
    outdir::inspect(&plan.out, "--out")?;
    recover(&plan.out)?;
    let previous = read_manifest(&plan.out);
    // The extracts' hashes decide what runs only against an earlier run, without --force;
    // otherwise they are only written into the manifest, and are computed beside the stages.
    // At 10M participants, hashing the 4.3 GB took 14 s on one core before ingest could start.
    let decided_by_inputs = previous.is_some() && !args.force;
    let mut current = current(&plan, decided_by_inputs)?;
    let hashing = (!decided_by_inputs).then(|| {
        let (study, data) = (plan.study.clone(), plan.data.clone());
        std::thread::spawn(move || manifest::hash_inputs(&study, &data))
    });
    let Plan {
        pipeline,
        data,
        queries,
        templates,
        qualitative,
        out,
        study,
        synthetic,
        key,
        pdf,
    } = plan;
    let states = stale::staleness(&out, previous.as_ref(), &current);
    let first_stale = match states.iter().position(|s| s.stale) {
        Some(i) if !args.force => i,
        Some(_) | None if args.force => 0,
        _ => {
            say.line(format!(
                "up to date: nothing to do — the data, configuration, queries, templates, key and \
                 evalpipe version are those of the run in {} (--force runs it again)",
                out.display()
            ));
            println!("{}", out.join("report/report.html").display());
            let outcome = RunOutcome {
                incomplete: incomplete_of(&previous.unwrap_or_default()),
            };
            say_incomplete(&outcome);
            return Ok(outcome);
        }
    };
    let previous = previous.unwrap_or_default();

    // Build beside the target and swap in at the end, so a failed run never leaves a folder
    // that looks like a finished one.
    let staging = sibling(&out, "partial");
    if partial_is_ours(&staging)? {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing the unfinished run {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    outdir::mark(&staging)?;
    let layout = RunLayout::new(&staging);
    // Every stage, as one fallible block, so that a failure anywhere in it can say where this
    // attempt's outputs are (its validation reports among them). Issue 16 moves the stages into
    // an orchestration library with a stage table, where this becomes a plain function.
    let built = (|| -> Result<RunOutcome> {
        if synthetic {
            say.line(format!(
                "note: {} is the synthetic twin; every output is marked synthetic",
                data.display()
            ));
        }

        // One runtime for the run: the transform's queries run on its two workers; the models and
        // the framework's preparation, which need no worker of their own, on its blocking threads.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the query runtime")?;
        // The stages overlap where one does not read another's output, and nowhere else: the
        // framework's preparation reads only the interviews, the codebook and the study, so it runs
        // from the start, beside ingest, transform and models; the models read two staging tables
        // of the transform, so they start as soon as those are written, beside its other queries;
        // the framework's triangulation hooks wait for the models' tables, and the report for all.
        // Every stage writes only its own files, and the summaries are printed in stage order, so
        // the run folder and stderr are those of running the stages one after the other.
        let framework_stale = first_stale <= 3;
        let framework = if framework_stale {
            Some(start_framework(
                &runtime,
                &study,
                &layout,
                &pipeline,
                &queries,
                qualitative.as_deref(),
                &say,
            ))
        } else {
            None
        };

        let mut stages = BTreeMap::new();
        // Stages before the first stale one are the last run's, copied, not recomputed: their
        // inputs are byte-identical, so would their outputs be.
        let reused = Reused {
            from: &out,
            to: &staging,
            previous: &previous,
            say: &say,
        };
        if first_stale > 0 {
            reused.stage("ingest", &["ingest"], &[], &mut stages)?;
        } else {
            let opts = IngestOptions { key, synthetic };
            let bar = say.stage("ingest");
            let ingested =
                evalpipe_ingest::ingest_with_progress(&study, &data, &layout, &opts, &|p| {
                    bar.ingest(p)
                })
                .context("ingest stage")?;
            bar.rows(ingested.files.iter().map(|f| f.rows_read as u64).sum());
            bar.done();
            let quarantined: usize = ingested.files.iter().map(|f| f.rows_quarantined).sum();
            let used = ingested
                .files
                .iter()
                .filter(|f| f.status == evalpipe_ingest::FileStatus::Used)
                .count();
            say.line(format!(
            "ingest: {} participants and {} claims from {used} files; {quarantined} rows quarantined ({} findings); see {}",
            ingested.participants,
            ingested.claims,
            ingested.quarantine_records,
            out.join("ingest/validation/summary.md").display()
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
                f.dataset == study.claims.dataset.name
                    && f.status == evalpipe_ingest::FileStatus::Used
            });
            if !claims_used {
                incomplete.push(
                    "no usable claims extract in this refresh: claims tables are empty".to_string(),
                );
            }
            if !ingested.lots_without_data.is_empty() {
                incomplete.push(format!(
                    "lots without data in this refresh: {}",
                    ingested.lots_without_data.join(", ")
                ));
            }
            stages.insert(
                "ingest".to_string(),
                serde_json::json!({
                    "participants": ingested.participants,
                    "claims": ingested.claims,
                    "unmatched_claims": ingested.unmatched_claims,
                    "rows_quarantined": quarantined,
                    "quarantine_records": ingested.quarantine_records,
                    "lots_without_data": ingested.lots_without_data,
                    "incomplete": incomplete,
                }),
            );
        }

        let models_stale = first_stale <= 2;
        // One engine memory limit for the transform and the models, which overlap.
        let session = evalpipe_transform::SessionConfigSpec {
            memory_limit: args
                .memory_limit
                .unwrap_or_else(evalpipe_transform::default_memory_limit),
            ..Default::default()
        };
        let start_models = || start_models(&runtime, &study, &layout, say.stage("models"));
        let mut models = None;
        if first_stale > 1 {
            // The tables with the models' and the framework's, but for those being made again (the
            // framework's beside this copy).
            let skip: Vec<&str> = [
                (models_stale, evalpipe_models::OUTPUT_DIR),
                (framework_stale, evalpipe_framework::OUTPUT_DIR),
            ]
            .iter()
            .filter_map(|(stale, dir)| stale.then_some(*dir))
            .collect();
            reused.stage("transform", &["tables"], &skip, &mut stages)?;
            if models_stale {
                models = Some(start_models());
            }
        } else {
            // With the ingest unchanged, a query whose SQL and inputs are unchanged is copied from
            // the last run: an edited query reruns itself and what reads it, nothing else.
            let reuse = (first_stale == 1).then(|| out.join("tables"));
            let bar = say.stage("transform");
            // The models start once the transform has written the tables they read.
            let early = std::sync::Mutex::new((BTreeSet::new(), None));
            let on_table = |p: evalpipe_transform::Progress| {
                bar.transform(&p);
                let evalpipe_transform::Progress::Table { table, .. } = p;
                let mut early = early.lock().unwrap_or_else(|e| e.into_inner());
                let (written, started) = &mut *early;
                if evalpipe_models::INPUT_TABLES.contains(&table.as_str()) {
                    written.insert(table);
                }
                if started.is_none() && written.len() == evalpipe_models::INPUT_TABLES.len() {
                    *started = Some(start_models());
                }
            };
            let ran = runtime
                .block_on(evalpipe_transform::run_with_progress(
                    &study,
                    &layout,
                    &queries,
                    &evalpipe_transform::TransformOptions {
                        reuse_from: reuse,
                        session: session.clone(),
                        ..Default::default()
                    },
                    &on_table,
                ))
                .context("transform stage")?;
            bar.done();
            let (tables, reused) = (ran.len(), ran.iter().filter(|t| t.reused).count());
            // Not started when the queries made no such tables: the models then say so.
            models = early.into_inner().unwrap_or_else(|e| e.into_inner()).1;
            if models_stale && models.is_none() {
                models = Some(start_models());
            }
            say.line(format!(
                "transform: {} tables from {}{}",
                tables,
                queries.display(),
                if reused > 0 {
                    format!(" ({reused} unchanged since the last run, reused)")
                } else {
                    String::new()
                }
            ));
            stages.insert(
                "transform".to_string(),
                serde_json::json!({ "tables": tables }),
            );
        }

        match models {
            None => {
                say.line("models: unchanged since the last run, reused");
                stages.insert("models".to_string(), previous["stages"]["models"].clone());
            }
            Some((job, bar)) => {
                let models = join(&runtime, job)?.context("models stage")?;
                bar.done();
                say_models(&models, &pipeline, &out, &say, &mut stages);
            }
        }

        match framework {
            None => reused.stage(
                "framework",
                &[evalpipe_framework::OUTPUT_DIR],
                &[],
                &mut stages,
            )?,
            Some(job) => {
                finish_framework(&runtime, job, &layout, synthetic, &out, &say, &mut stages)?
            }
        }

        // The report's two halves read the tables and write files of their own; both print the
        // run's one disclosure decision, made once here.
        let bar = say.stage("report");
        bar.step("deciding disclosure control over everything published");
        let decision = evalpipe_report::disclosure::decide_run(&layout, study.disclosure.min_count)
            .map_err(anyhow::Error::msg)
            .context("report stage: disclosure control")?;
        bar.step("rendering the sections and the annex workbook");
        let (rendered, annex) = std::thread::scope(|scope| {
            let annex = scope
                .spawn(|| evalpipe_report::write_annex_with(&study, &layout, synthetic, &decision));
            let rendered = evalpipe_report::render(
                &study,
                &layout,
                &templates,
                &evalpipe_report::RenderOptions {
                    synthetic,
                    disclosure: Some(decision.clone()),
                },
            );
            (rendered, annex.join())
        });
        let rendered = rendered.context("report stage")?;
        annex
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            .context("report stage: the annex workbook")?;
        // The PDF prints the finished HTML page, so it comes last; without Chromium the run says
        // why and goes on.
        let pdf = pdf && {
            bar.step("printing report.pdf with headless Chromium");
            match evalpipe_report::write_pdf(&layout).context("report stage: report.pdf")? {
                evalpipe_report::Pdf::Written(_) => true,
                evalpipe_report::Pdf::Unavailable(why) => {
                    say.line(format!("report: {why}"));
                    false
                }
            }
        };
        bar.done();
        stages.insert(
            "report".to_string(),
            serde_json::json!({ "files": rendered.len() + 1 + usize::from(pdf), "pdf": pdf }),
        );

        if let Some(hashing) = hashing {
            current.inputs = hashing
                .join()
                .map_err(|_| anyhow::anyhow!("hashing the extracts stopped"))??;
        }
        let manifest = Manifest {
            evalpipe_version: env!("CARGO_PKG_VERSION"),
            ingest_format: evalpipe_ingest::TABLES_FORMAT,
            synthetic,
            key_check: current.key_check,
            inputs: current.inputs,
            config: current.config,
            queries: current.queries,
            templates: current.templates,
            qualitative: current.qualitative,
            outputs: manifest::hash_tree(&staging)?,
            stages,
        };
        manifest::write(&manifest, &layout.manifest())?;
        Ok(RunOutcome {
            incomplete: incomplete_of(&serde_json::json!({ "stages": manifest.stages })),
        })
    })();
    let outcome = built.with_context(|| {
        format!(
            "nothing was published to {}; what this run wrote before it stopped, \
             ingest/validation/summary.md among it, is in {} until the next run there",
            out.display(),
            staging.display()
        )
    })?;
    publish(&staging, &out)?;
    if let Some(path) = &timings {
        say.timings().write(path)?;
    }

    let report = out.join("report/report.html");
    say.line("report:");
    println!("{}", report.display());
    say_incomplete(&outcome);
    Ok(outcome)
}

/// The input problems a run's manifest recorded (its ingest stage's, reused or not).
fn incomplete_of(manifest: &serde_json::Value) -> Vec<String> {
    manifest["stages"]["ingest"]["incomplete"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Says what the exit status will show. Printed even with --quiet: it is why the run "failed".
fn say_incomplete(outcome: &RunOutcome) {
    for line in &outcome.incomplete {
        eprintln!("warning: {line}");
    }
}

/// Whether `.<out>.partial` is an unfinished run of evalpipe's, to be cleared; an error when
/// something else is there.
fn partial_is_ours(staging: &Path) -> Result<bool> {
    match staging.symlink_metadata() {
        Err(_) => Ok(false),
        Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {
            let marked = std::fs::read_to_string(staging.join(evalpipe_study::RUN_MARKER))
                .is_ok_and(|t| t.starts_with(evalpipe_study::RUN_MARKER_TEXT.trim_end()));
            let empty = std::fs::read_dir(staging)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if marked || empty {
                Ok(true)
            } else {
                bail!(
                    "{} exists and was not made by evalpipe; evalpipe builds runs there and never \
                     deletes what it did not make: move it away, or choose another --out",
                    staging.display()
                )
            }
        }
        Ok(_) => bail!(
            "{} exists and is not a folder of evalpipe's; move it away, or choose another --out",
            staging.display()
        ),
    }
}

/// Waits for a stage running on the runtime's blocking threads.
fn join<T>(runtime: &tokio::runtime::Runtime, job: tokio::task::JoinHandle<T>) -> Result<T> {
    runtime.block_on(job).map_err(|e| {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic())
        }
        anyhow::anyhow!(
            "internal error (an evalpipe bug, please report it): a stage was cancelled: {e}"
        )
    })
}

/// The models being fitted, and their bar.
type ModelsJob = (
    tokio::task::JoinHandle<evalpipe_models::Result<Vec<evalpipe_models::ModelRun>>>,
    StageBar,
);

/// Starts fitting the models of `pipeline/models/` on a blocking thread of the runtime.
fn start_models(
    runtime: &tokio::runtime::Runtime,
    study: &Study,
    layout: &RunLayout,
    bar: StageBar,
) -> ModelsJob {
    let (study, layout, progress) = (study.clone(), layout.clone(), bar.clone());
    let options = evalpipe_models::ModelsOptions::default();
    let job = runtime.spawn_blocking(move || {
        let specs =
            evalpipe_models::load_specs(&study.root.join(evalpipe_models::MODELS_DIR), &study)?;
        let fitted =
            evalpipe_models::run_with_progress(&layout, &specs, &options, &|p| progress.models(p));
        progress.work_done();
        fitted
    });
    (job, bar)
}

/// Says how the models went.
fn say_models(
    models: &[evalpipe_models::ModelRun],
    pipeline: &Path,
    out: &Path,
    say: &Display,
    stages: &mut BTreeMap<String, serde_json::Value>,
) {
    let fitted = models.iter().filter(|m| m.result.is_ok()).count();
    say.line(format!(
        "models: {fitted} of {} fitted from {}; see {}",
        models.len(),
        pipeline.join(evalpipe_models::MODELS_DIR).display(),
        out.join("tables")
            .join(evalpipe_models::OUTPUT_DIR)
            .display()
    ));
    for m in models {
        for note in &m.notes {
            say.line(format!("warning: model {}: {note}", m.spec.id));
        }
        if let Err(e) = &m.result {
            say.line(format!(
                "warning: model {} (Table {}) not fitted: {e}",
                m.spec.id, m.spec.table
            ));
        }
    }
    stages.insert(
        "models".to_string(),
        serde_json::json!({ "models": models.len(), "fitted": fitted }),
    );
}

/// The framework stage, started before the others.
enum FrameworkJob {
    /// Not run, and why (no interviews, no codebook).
    Skipped(String),
    /// The codebook could not be loaded: reported in the framework's turn, as a run one stage
    /// after the other would.
    Failed(anyhow::Error),
    /// Preparing on a blocking thread of the runtime.
    Preparing {
        job: tokio::task::JoinHandle<evalpipe_framework::Result<evalpipe_framework::Prepared>>,
        codebook: Box<evalpipe_framework::Codebook>,
        input: PathBuf,
        bar: StageBar,
    },
}

/// Starts the framework stage's preparation ([`evalpipe_framework::prepare`]: all of it but
/// the triangulation hooks), when the study has a codebook and the run has interviews.
fn start_framework(
    runtime: &tokio::runtime::Runtime,
    study: &Study,
    layout: &RunLayout,
    pipeline: &Path,
    queries: &Path,
    qualitative: Option<&Path>,
    say: &Display,
) -> FrameworkJob {
    let codebook_path = pipeline.join(evalpipe_framework::CODEBOOK_FILE);
    let Some(input) = qualitative else {
        return FrameworkJob::Skipped("no qualitative data folder (use --qualitative DIR)".into());
    };
    if !codebook_path.is_file() {
        return FrameworkJob::Skipped(format!("no codebook {}", codebook_path.display()));
    }
    let codebook = match evalpipe_framework::Codebook::load(&codebook_path)
        .context("framework stage: the codebook")
    {
        Ok(c) => c,
        Err(e) => return FrameworkJob::Failed(e),
    };
    let bar = say.stage("framework");
    let opts = evalpipe_framework::FrameworkOptions::new(input, queries.join("framework"));
    let (study, layout, shared, progress) =
        (study.clone(), layout.clone(), codebook.clone(), bar.clone());
    let handle = runtime.handle().clone();
    let job = runtime.spawn_blocking(move || {
        let prepared = handle.block_on(evalpipe_framework::prepare(
            &study,
            &shared,
            &layout,
            &opts,
            &|p| progress.framework(p),
        ));
        progress.step("waiting for the models' tables");
        prepared
    });
    FrameworkJob::Preparing {
        job,
        codebook: Box::new(codebook),
        input: input.to_path_buf(),
        bar,
    }
}

/// Finishes the framework stage (its triangulation hooks read the finished tables) and says
/// how it went.
fn finish_framework(
    runtime: &tokio::runtime::Runtime,
    job: FrameworkJob,
    layout: &RunLayout,
    synthetic: bool,
    out: &Path,
    say: &Display,
    stages: &mut BTreeMap<String, serde_json::Value>,
) -> Result<()> {
    let (job, codebook, input, bar) = match job {
        FrameworkJob::Skipped(why) => {
            say.line(format!("framework: skipped: {why}"));
            stages.insert(
                "framework".to_string(),
                serde_json::json!({ "skipped": why }),
            );
            return Ok(());
        }
        FrameworkJob::Failed(e) => return Err(e),
        FrameworkJob::Preparing {
            job,
            codebook,
            input,
            bar,
        } => (job, codebook, input, bar),
    };
    let prepared = join(runtime, job)?.context("framework stage")?;
    let done = runtime
        .block_on(prepared.finish(&codebook, layout, &|p| bar.framework(p)))
        .context("framework stage")?;
    bar.done();
    if done.synthetic && !synthetic {
        say.line(format!(
            "warning: {} is the synthetic qualitative twin, but the extracts are real",
            input.display()
        ));
    }
    let errors = done
        .findings
        .iter()
        .filter(|f| f.rule.severity() == "error")
        .count();
    say.line(format!(
        "framework: {} interviews, {} charted cells, {} CMO links from {}; {} findings ({errors} left data out); see {}",
        done.cases,
        done.cells,
        done.cmo_links,
        input.display(),
        done.findings.len(),
        out.join(evalpipe_framework::OUTPUT_DIR)
            .join("validation.md")
            .display()
    ));
    for (wave, n, published) in &done.waves {
        if let Some(p) = published
            && p != n
        {
            say.line(format!(
                "warning: framework: wave {wave} has {n} interviews; the report published {p}"
            ));
        }
    }
    stages.insert(
        "framework".to_string(),
        serde_json::json!({
            "cases": done.cases,
            "cells": done.cells,
            "cmo_links": done.cmo_links,
            "findings": done.findings.len(),
            "synthetic": done.synthetic,
        }),
    );
    Ok(())
}

/// Copies stages' outputs from the last run into the one being built.
struct Reused<'a> {
    from: &'a Path,
    to: &'a Path,
    previous: &'a serde_json::Value,
    say: &'a Display,
}

impl Reused<'_> {
    /// Copies `dirs` of the last run, except their sub-folders named in `skip`.
    fn stage(
        &self,
        stage: &str,
        dirs: &[&str],
        skip: &[&str],
        stages: &mut BTreeMap<String, serde_json::Value>,
    ) -> Result<()> {
        for d in dirs {
            copy_tree(&self.from.join(d), &self.to.join(d), skip)?;
        }
        self.say
            .line(format!("{stage}: unchanged since the last run, reused"));
        stages.insert(stage.to_string(), self.previous["stages"][stage].clone());
        Ok(())
    }
}

/// Copies every file under `from` to the same place under `to`, but for the folders of `from`
/// named in `skip`.
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let path = entry?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| skip.iter().any(|s| n == *s))
            {
                continue;
            }
            copy_tree(&path, &target, &[])?;
        } else {
            std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
            std::fs::copy(&path, &target)
                .with_context(|| format!("copying {} to {}", path.display(), target.display()))?;
        }
    }
    Ok(())
}

/// The manifest of the run in `out`, if there is one.
fn read_manifest(out: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("manifest.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The fixed reference whose pseudonym is the manifest's `key_check`.
const KEY_CHECK_PROBE: &str = "evalpipe manifest key check";

/// Undoes what a run killed while publishing left behind. Publishing is two renames (the
/// previous run aside to `.<out>.old`, the new one in): killed between them, `out` is missing
/// and the previous run is whole at `.old`, so it goes back; killed after both, `.old` is only
/// the previous run waiting to be deleted.
fn recover(out: &Path) -> Result<()> {
    let old = sibling(out, "old");
    if outdir::inspect(&old, "the run set aside")? != Folder::Run {
        return Ok(());
    }
    if out.exists() {
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))
    } else {
        std::fs::rename(&old, out)
            .with_context(|| format!("restoring the previous run from {}", old.display()))
    }
}

/// Replaces `out` with the finished `staging` folder. `out` is only moved aside and removed if
/// it is an earlier run of evalpipe's holding nothing else (checked again here: the run took
/// a while), an empty folder is replaced, anything else is refused.
fn publish(staging: &Path, out: &Path) -> Result<()> {
    let existing = outdir::inspect(out, "--out")?;
    if existing == Folder::Empty {
        std::fs::remove_dir(out).with_context(|| format!("replacing {}", out.display()))?;
    }
    if existing == Folder::Run {
        let old = sibling(out, "old");
        if outdir::inspect(&old, "the run set aside")? == Folder::Run {
            std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
        }
        std::fs::rename(out, &old)
            .with_context(|| format!("moving the previous run {} aside", out.display()))?;
        std::fs::rename(staging, out)
            .with_context(|| format!("publishing the run to {}", out.display()))?;
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("removing the previous run {}", old.display()))?;
    } else {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::rename(staging, out)
            .with_context(|| format!("publishing the run to {}", out.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{gibibytes, participants};

    #[test]
    fn a_memory_limit_is_gibibytes_in_bytes() {
        assert_eq!(gibibytes("3"), Ok(3 << 30));
        assert_eq!(gibibytes("2.5"), Ok(5 << 29));
        assert_eq!(gibibytes("0.02"), Ok(21_474_836));
        assert!(gibibytes("0").is_err());
        assert!(gibibytes("-1").is_err());
        assert!(gibibytes("NaN").is_err());
        assert!(gibibytes("3G").is_err());
    }

    #[test]
    fn participants_take_thousands_and_millions() {
        assert_eq!(participants("3966"), Ok(3966));
        assert_eq!(participants("100k"), Ok(100_000));
        assert_eq!(participants("10M"), Ok(10_000_000));
        assert_eq!(participants("1_000_000"), Ok(1_000_000));
        assert_eq!(participants("2m"), Ok(2_000_000));
        assert!(participants("0").is_err());
        assert!(participants("1.5M").is_err());
        assert!(participants("M").is_err());
        assert!(participants("99999999999999999999M").is_err());
    }
}
