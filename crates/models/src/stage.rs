//! The models stage: every spec of `pipeline/models/`, fitted on the run's tables.

use std::collections::HashMap;
use std::path::PathBuf;

use evalpipe_study::{RunLayout, Study};

use crate::fit::{FitOptions, fit_source};
use crate::frame::{CONSTANT, Factor};
use crate::model::{FittedModel, ModelRun};
use crate::output::write_model;
use crate::sample::{Cells, FrameStep, SAMPLE_BATCH_ROWS, StepKind, Tables};
use crate::spec::{Filter, MODELS_DIR, ModelSpec, load_specs};
use crate::wald::joint_wald;
use crate::{Error, Result};

/// Sub-folder of `<run>/tables/` holding one folder of outputs per model (the run layout's).
pub const OUTPUT_DIR: &str = evalpipe_study::MODELS_OUTPUT;

/// `<run>/tables/models/`.
pub fn output_dir(layout: &RunLayout) -> PathBuf {
    layout.models_dir()
}

/// Options of the models stage.
#[derive(Debug, Clone)]
pub struct ModelsOptions {
    /// Iteration cap and convergence criteria.
    pub fit: FitOptions,
    /// Rows read from a table at a time ([`SAMPLE_BATCH_ROWS`]). The samples do not depend on
    /// it; memory does.
    pub batch_rows: usize,
}

impl Default for ModelsOptions {
    fn default() -> Self {
        ModelsOptions {
            fit: FitOptions::default(),
            batch_rows: SAMPLE_BATCH_ROWS,
        }
    }
}

/// [`run`] on the specs in `<study>/models/`.
pub fn run_blocking(
    study: &Study,
    layout: &RunLayout,
    opts: &ModelsOptions,
) -> Result<Vec<ModelRun>> {
    let specs = load_specs(&study.root.join(MODELS_DIR), study)?;
    run(layout, &specs, opts)
}

/// What the models stage reports while it works, for a progress display. Nothing of it is
/// written to the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A model's sample is being drawn and the model fitted.
    Model {
        /// Model id (`job_outcome`).
        id: String,
        /// The report table it reproduces (`A-24`).
        table: String,
        /// Its place among the specs, from 1.
        index: usize,
        /// Specs in all.
        models: usize,
    },
}

/// Fits every model of `specs` on the run's tables and writes each one's coefficients, summary
/// and steps into `<run>/tables/models/<id>/`. A model that cannot be fitted (separation, a
/// singular information matrix, non-convergence, an empty level) is written with its message
/// and the others go on; a bad spec or a missing table stops the stage. The models read only
/// the transform's [`INPUT_TABLES`](crate::INPUT_TABLES).
pub fn run(layout: &RunLayout, specs: &[ModelSpec], opts: &ModelsOptions) -> Result<Vec<ModelRun>> {
    run_with_progress(layout, specs, opts, &|_| {})
}

/// [`run`], reporting to `progress` each model as it starts.
pub fn run_with_progress(
    layout: &RunLayout,
    specs: &[ModelSpec],
    opts: &ModelsOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<ModelRun>> {
    let out = output_dir(layout);
    if out.exists() {
        // Outputs of an earlier run into the same folder would otherwise outlive their spec.
        std::fs::remove_dir_all(&out).map_err(|source| Error::Io {
            path: out.clone(),
            source,
        })?;
    }
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let tables = Tables::open(layout, opts.batch_rows)?;
    // Every spec is checked against the tables before any model runs: a typo fails fast.
    for spec in specs {
        tables.check_spec(spec)?;
    }
    let announce = |i: usize| {
        progress(Progress::Model {
            id: specs[i].id.clone(),
            table: specs[i].table.clone(),
            index: i + 1,
            models: specs.len(),
        })
    };
    // One pass over the tables draws every model's sample; most of the stage's time is there.
    announce(0);
    let sample = tables.sample(specs)?;
    let mut runs = Vec::new();
    for (i, (spec, cells)) in specs.iter().zip(&sample.cells).enumerate() {
        if i > 0 {
            announce(i);
        }
        let (steps, events) = cells.steps();
        let mut notes = Vec::new();
        let result = match fit_model(&sample.categories, cells, spec, opts, &steps, &mut notes) {
            Ok(m) => Ok(m),
            Err(e) if e.is_model_problem() => Err(e),
            Err(e) => return Err(e),
        };
        let mut run = ModelRun {
            spec: spec.clone(),
            steps,
            events,
            result,
            notes,
            files: Vec::new(),
        };
        run.files = write_model(&out.join(&spec.id), &run)?;
        runs.push(run);
    }
    Ok(runs)
}

fn steps_n(steps: &[FrameStep]) -> usize {
    steps.last().map_or(0, |s| s.n)
}

fn fit_model(
    everywhere: &HashMap<String, Vec<String>>,
    cells: &Cells,
    spec: &ModelSpec,
    opts: &ModelsOptions,
    steps: &[FrameStep],
    notes: &mut Vec<String>,
) -> Result<FittedModel> {
    note_steps_selecting_nobody(everywhere, spec, notes);
    let factors = factors(everywhere, cells, spec, steps)?;
    let frame = cells.frame(&spec.id, factors)?;
    let complete_cases = steps_n(steps);
    if frame.rows() != complete_cases {
        return Err(Error::Internal(format!(
            "model `{}`: the frame has {} cases but the step counts {complete_cases}",
            spec.id,
            frame.rows()
        )));
    }
    if frame.rows() == 0 {
        return Err(Error::NoCompleteCases {
            population: steps
                .iter()
                .rev()
                .find(|s| s.kind != StepKind::CompleteCases)
                .map_or(0, |s| s.n),
        });
    }
    // The intercept and a dummy per non-reference level present in the sample.
    let parameters = crate::RowSource::names(&frame).len();
    if frame.rows() <= parameters {
        return Err(Error::TooFewCases {
            n: frame.rows(),
            parameters,
        });
    }
    frame.check_levels()?;
    let fit = fit_source(&frame, &opts.fit)?;
    debug_assert_eq!(fit.coefficients[0].name, CONSTANT);
    let factor_columns: Vec<Vec<usize>> = (0..frame.factors().len())
        .map(|j| frame.factor_columns(j))
        .collect();
    let factor_tests = factor_columns
        .iter()
        .map(|cols| {
            if cols.len() > 1 {
                joint_wald(&fit, cols).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(FittedModel {
        fit,
        factors: frame.factors().to_vec(),
        factor_columns,
        factor_tests,
    })
}

/// Whether a category can occur at all: the study configures it, or this extract has it.
fn is_known(
    everywhere: &HashMap<String, Vec<String>>,
    spec: &ModelSpec,
    characteristic: &str,
    category: &str,
) -> bool {
    spec.categories
        .get(characteristic)
        .or_else(|| everywhere.get(characteristic))
        .is_some_and(|cats| cats.iter().any(|c| c == category))
}

/// A category a step names that no participant has is a typo when the study does not know it
/// either; otherwise only this extract lacks it, and the step's N (nobody removed) says so.
fn note_steps_selecting_nobody(
    everywhere: &HashMap<String, Vec<String>>,
    spec: &ModelSpec,
    notes: &mut Vec<String>,
) {
    for step in spec.population.iter().chain(&spec.exclusions) {
        if let Filter::Characteristic {
            characteristic,
            categories: wanted,
        } = &step.filter
        {
            let present = everywhere
                .get(characteristic)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for c in wanted.iter().filter(|c| !present.contains(c)) {
                notes.push(if is_known(everywhere, spec, characteristic, c) {
                    format!(
                        "step `{}`: no participant in this extract has `{c}` for \
                         `{characteristic}`, so the step selects nobody by it",
                        step.label
                    )
                } else {
                    format!(
                        "{}: step `{}`: `{c}` is not a category of characteristic \
                         `{characteristic}` in the study or the tables, so the step selects \
                         nobody by it; correct `categories` in the spec",
                        spec.file_name(),
                        step.label
                    )
                });
            }
        }
    }
}

/// The model's factors: each covariate's levels in the population and its reference, or why
/// the spec or this extract cannot give them.
fn factors(
    everywhere: &HashMap<String, Vec<String>>,
    cells: &Cells,
    spec: &ModelSpec,
    steps: &[FrameStep],
) -> Result<Vec<Factor>> {
    let in_population = cells.levels();
    // A characteristic neither the study nor the tables know is the spec's mistake, whatever
    // the extract holds.
    let absent = |c: &&crate::Covariate| !everywhere.contains_key(&c.characteristic);
    if let Some(c) = spec
        .covariates
        .iter()
        .filter(absent)
        .find(|c| !spec.categories.contains_key(&c.characteristic))
    {
        return Err(Error::NoCategories {
            covariate: c.name.clone(),
            characteristic: c.characteristic.clone(),
        });
    }
    // Nobody left after the steps: said once, by the step that emptied the sample, rather than
    // as a reference level missing from every covariate.
    if let Some(emptied) = steps
        .iter()
        .find(|s| s.kind != StepKind::CompleteCases && s.n == 0)
    {
        return Err(Error::EmptySample {
            step: emptied.label.clone(),
        });
    }
    if let Some(c) = spec.covariates.iter().find(absent) {
        return Err(Error::NoData {
            covariate: c.name.clone(),
            characteristic: c.characteristic.clone(),
        });
    }
    let mut factors = Vec::new();
    for (c, levels) in spec.covariates.iter().zip(in_population) {
        // A category nobody in the population has is not a level of this model (the other
        // cohorts, the excluded provider group); one that listwise deletion empties is.
        let Some(reference) = levels.iter().position(|l| *l == c.reference) else {
            return Err(
                if is_known(everywhere, spec, &c.characteristic, &c.reference) {
                    Error::AbsentReference {
                        covariate: c.name.clone(),
                        characteristic: c.characteristic.clone(),
                        reference: c.reference.clone(),
                        present: levels,
                    }
                } else {
                    Error::MissingReference {
                        covariate: c.name.clone(),
                        characteristic: c.characteristic.clone(),
                        reference: c.reference.clone(),
                        // The sample's levels, the choices that would fit; else all there are.
                        levels: if levels.is_empty() {
                            spec.categories
                                .get(&c.characteristic)
                                .or_else(|| everywhere.get(&c.characteristic))
                                .cloned()
                                .unwrap_or_default()
                        } else {
                            levels
                        },
                    }
                },
            );
        };
        factors.push(Factor {
            name: c.name.clone(),
            label: c.label.clone(),
            characteristic: c.characteristic.clone(),
            levels,
            reference,
        });
    }
    Ok(factors)
}
