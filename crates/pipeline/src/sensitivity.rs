//! `evalpipe sensitivity`: the study's run, then the same run once per alternative of each
//! analytic decision (`pipeline/decisions.toml`), each diffed against it.
//!
//! An alternative's run starts as a copy of the study's run, made with a copy of the study
//! configuration in which only that decision's choice differs: the stages that do not read the
//! decision (ingest, the Framework) are reused, the rest run again — the incremental machinery
//! of every run. The alternatives' runs stay in the work folder, to open or diff.

use std::path::{Path, PathBuf};

use evalpipe_review::{Alternative, DiffOptions, Register, Sensitivity, diff};
use evalpipe_study::{DECISIONS_FILE, Decision, Study};

use crate::error::{Error, Result, io};
use crate::outdir;
use crate::run::{Events, Request, plan, run};

/// What `evalpipe sensitivity` asks for.
#[derive(Debug, Clone)]
pub struct SensitivityRequest {
    /// The study's run: its data, run folder and configuration, as `evalpipe run` takes them.
    pub base: Request,
    /// The folder the alternatives' runs go in, one `<decision>-<option>` folder each.
    pub work: PathBuf,
}

/// Runs the study's run and every alternative, and compares them.
pub fn sensitivity(request: &SensitivityRequest, events: Events) -> Result<Sensitivity> {
    let base_plan = plan(&request.base)?;
    let base_out = base_plan.out.clone();
    let pipeline = base_plan.pipeline.clone();
    let study = base_plan.study.clone();
    let synthetic = base_plan.synthetic;
    run(base_plan, events.clone())?;
    let register = pipeline
        .join(evalpipe_review::register::REGISTER_DIR)
        .is_dir()
        .then(|| Register::load(&pipeline))
        .transpose()
        .map_err(|e| stage("loading the published-figures register", e))?;
    std::fs::create_dir_all(&request.work)
        .map_err(|e| io(format!("creating {}", request.work.display()), e))?;
    let mut alternatives = Vec::new();
    for decision in &study.decisions {
        for option in decision.options.iter().filter(|o| o.id != decision.choice) {
            let out = request.work.join(format!("{}-{}", decision.id, option.id));
            let scratch = evalpipe_report::pdf::Scratch::new("sensitivity")
                .map_err(|e| io("a temporary folder".into(), e))?;
            let config = scratch.path().join("pipeline");
            outdir::copy_tree(&pipeline, &config, &[])?;
            choose(&config, decision, &option.id)?;
            if !out.exists() {
                // Start from the study's run, so only the stages the decision reaches rerun.
                outdir::copy_tree(&base_out, &out, &[])?;
            }
            let alternative = Request {
                out: Some(out.clone()),
                pipeline: Some(config),
                pdf: false,
                force: false,
                ..request.base.clone()
            };
            run(plan(&alternative)?, events.clone())?;
            let d = diff(&base_out, &out, register.as_ref(), &DiffOptions::default())
                .map_err(|e| stage("comparing the runs", e))?;
            alternatives.push(Alternative::from_diff(decision, option, &d));
        }
    }
    Ok(Sensitivity {
        base: base_out,
        synthetic,
        alternatives,
    })
}

/// Sets `decision`'s choice to `option` in the configuration copy at `config`.
fn choose(config: &Path, decision: &Decision, option: &str) -> Result<()> {
    let path = config.join(DECISIONS_FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|e| io(format!("reading {}", path.display()), e))?;
    let mut doc: toml::Table =
        toml::from_str(&text).map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
    let found = doc
        .get_mut("decision")
        .and_then(|d| d.as_array_mut())
        .and_then(|list| {
            list.iter_mut()
                .find(|d| d.get("id").and_then(|i| i.as_str()) == Some(decision.id.as_str()))
        })
        .and_then(|d| d.as_table_mut())
        .ok_or_else(|| Error::Internal(format!("no decision `{}` in the copy", decision.id)))?;
    found.insert("choice".into(), toml::Value::String(option.to_string()));
    let text = toml::to_string(&doc).map_err(|e| Error::Internal(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| io(format!("writing {}", path.display()), e))?;
    // The copy must load with the new choice.
    let study =
        Study::load(config).map_err(|e| stage("loading the alternative configuration", e))?;
    if study.decision(&decision.id).map(|d| d.choice.as_str()) != Some(option) {
        return Err(Error::Internal(format!(
            "the copy of {} does not take `{option}` for `{}`",
            DECISIONS_FILE, decision.id
        )));
    }
    Ok(())
}

fn stage(context: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Stage {
        context: context.into(),
        source: Box::new(e),
    }
}
