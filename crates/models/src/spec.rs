//! Model specs: `pipeline/models/<id>.toml`, one file per model.
//!
//! A spec says what the report's regression is, in the report's terms: its outcome (a yes/no
//! column of `participant_outcomes`), the population (steps such as "the out-of-work cohorts",
//! "who started a job"), the exclusions (Lot 5 Cannock North, the Colleges provider group) and
//! the covariates, each a characteristic (a column of `participant_categories` or, for a completed
//! action, `participant_actions`) with the reference level the report compares against. Adding
//! a model is adding a file.
//!
//! ```toml
//! id = "job_outcome"                    # the file name without .toml
//! title = "Job outcome"
//! table = "A-24"                        # the published table it reproduces
//! outcome = "is_job_start"              # a true/false column of participant_outcomes
//!
//! [[population]]                        # kept, in order; N is recorded after each
//! label = "out-of-work cohorts"
//! cohorts = ["HTH", "HTR", "RP"]        # or: lots = [...], flag = "is_…", characteristic + categories
//!
//! [[exclude]]                           # dropped, in order; N is recorded after each
//! label = "Lot 5 Cannock North"
//! lots = ["L5"]
//!
//! [[covariate]]
//! name = "cohort"                       # term prefix: cohort[Rapid Progression]
//! characteristic = "cohort"
//! reference = "Hardest to Help"
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use evalpipe_study::Study;
use serde::Deserialize;

use crate::{Error, Result};

/// Folder of model specs inside the study configuration (`pipeline/models/`).
pub const MODELS_DIR: &str = "models";

/// One model, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The file it came from (for messages).
    pub path: PathBuf,
    /// Identifier, equal to the file name without `.toml`; names the output folder.
    pub id: String,
    /// What the model explains, in words.
    pub title: String,
    /// The published table it reproduces, e.g. `A-24`.
    pub table: String,
    /// Longer description (optional).
    pub description: String,
    /// The outcome: a true/false column of `participant_outcomes` (true = event).
    pub outcome: String,
    /// Steps that keep participants, in order.
    pub population: Vec<Step>,
    /// Steps that drop participants, after the population, in order.
    pub exclusions: Vec<Step>,
    /// Covariates in the order of the coefficients table.
    pub covariates: Vec<Covariate>,
    /// The categories the study configures for each characteristic the spec names (covariates
    /// and `characteristic` steps), in category order: what the tables can hold, whatever one
    /// extract holds. A characteristic the study does not configure has no entry. It tells a
    /// thin extract (a real category nobody in it has) from a spec naming one that cannot occur.
    pub categories: BTreeMap<String, Vec<String>>,
}

/// One population or exclusion step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// How the step reads in the N-per-step table ("excluding Lot 5 Cannock North").
    pub label: String,
    /// Which participants the step is about.
    pub filter: Filter,
}

/// Which participants a step keeps (population) or drops (exclusion).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Participants of these cohorts (payment-group codes, `participant_outcomes.payment_group`).
    Cohorts(Vec<String>),
    /// Participants of these lots (lot codes).
    Lots(Vec<String>),
    /// Participants whose true/false column of `participant_outcomes` has this value.
    Flag {
        /// The column, e.g. `is_job_start`.
        column: String,
        /// The value selected.
        value: bool,
    },
    /// Participants in one of these categories of a characteristic. A participant without data
    /// for the characteristic is in none of them: an exclusion keeps them, a population step
    /// drops them.
    Characteristic {
        /// Characteristic name (a column of `participant_categories`), or a completed action
        /// `completed_action.<option>` (from `participant_actions`' lists).
        characteristic: String,
        /// Category labels.
        categories: Vec<String>,
    },
}

/// A categorical covariate, dummy-coded against its reference level.
#[derive(Debug, Clone, PartialEq)]
pub struct Covariate {
    /// Term prefix in the coefficients table (`age_band` → `age_band[35–44]`).
    pub name: String,
    /// Heading for the report ("Age").
    pub label: String,
    /// Characteristic name (a column of `participant_categories`), or a completed action
    /// `completed_action.<option>` (from `participant_actions`' lists).
    pub characteristic: String,
    /// The category the others are compared with.
    pub reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    id: String,
    title: String,
    table: String,
    #[serde(default)]
    description: String,
    outcome: String,
    #[serde(default)]
    population: Vec<StepFile>,
    #[serde(default)]
    exclude: Vec<StepFile>,
    #[serde(default)]
    covariate: Vec<CovariateFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    label: String,
    cohorts: Option<Vec<String>>,
    lots: Option<Vec<String>>,
    flag: Option<String>,
    value: Option<bool>,
    characteristic: Option<String>,
    categories: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CovariateFile {
    name: Option<String>,
    label: Option<String>,
    characteristic: String,
    reference: String,
}

/// Loads every `*.toml` in `dir`, in file-name order, checking each against the study (cohort
/// and lot codes). A missing folder means the study has no models.
pub fn load_specs(dir: &Path, study: &Study) -> Result<Vec<ModelSpec>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    // read_dir order is the file system's: sort so every machine fits in the same order.
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            ModelSpec::parse(path, &text, study)
        })
        .collect()
}

impl ModelSpec {
    /// Parses and checks one spec; `path` names it in messages and its file stem must be the
    /// spec's `id`.
    pub fn parse(path: &Path, text: &str, study: &Study) -> Result<ModelSpec> {
        let file: SpecFile = toml::from_str(text).map_err(|e| Error::SpecSyntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let err = |field: String, message: String| Error::Spec {
            path: path.to_path_buf(),
            field,
            message,
        };

        check_identifier(&file.id).map_err(|m| err("id".into(), m))?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        if stem.as_deref() != Some(file.id.as_str()) {
            return Err(err(
                "id".into(),
                format!(
                    "`{}` must be the file name without .toml (`{}`), so that each model's \
                     outputs are found by its file",
                    file.id,
                    stem.unwrap_or_default()
                ),
            ));
        }
        for (field, value) in [("title", &file.title), ("table", &file.table)] {
            if value.trim().is_empty() {
                return Err(err(field.into(), "must not be empty".into()));
            }
        }
        check_identifier(&file.outcome).map_err(|m| err("outcome".into(), m))?;

        if file.population.is_empty() {
            return Err(err(
                "population".into(),
                "at least one [[population]] step is needed (e.g. the cohorts the model covers)"
                    .into(),
            ));
        }
        let mut population = Vec::new();
        for (i, s) in file.population.into_iter().enumerate() {
            population.push(step(s, &format!("[[population]] #{}", i + 1), study, &err)?);
        }
        let mut exclusions = Vec::new();
        for (i, s) in file.exclude.into_iter().enumerate() {
            exclusions.push(step(s, &format!("[[exclude]] #{}", i + 1), study, &err)?);
        }

        if file.covariate.is_empty() {
            return Err(err(
                "covariate".into(),
                "at least one [[covariate]] is needed".into(),
            ));
        }
        let mut covariates: Vec<Covariate> = Vec::new();
        for (i, c) in file.covariate.into_iter().enumerate() {
            let at = |f: &str| format!("[[covariate]] #{} `{f}`", i + 1);
            let name = c.name.unwrap_or_else(|| c.characteristic.clone());
            check_identifier(&name).map_err(|m| err(at("name"), m))?;
            if c.characteristic.trim().is_empty() {
                return Err(err(at("characteristic"), "must not be empty".into()));
            }
            if c.reference.trim().is_empty() {
                return Err(err(
                    at("reference"),
                    "must name the category the others are compared with".into(),
                ));
            }
            if let Some(other) = covariates.iter().find(|o| o.name == name) {
                return Err(err(
                    at("name"),
                    format!(
                        "`{name}` is already the name of the covariate on `{}`",
                        other.characteristic
                    ),
                ));
            }
            if covariates
                .iter()
                .any(|o| o.characteristic == c.characteristic)
            {
                return Err(err(
                    at("characteristic"),
                    format!(
                        "`{}` is already a covariate: the same characteristic twice is collinear",
                        c.characteristic
                    ),
                ));
            }
            covariates.push(Covariate {
                label: c.label.unwrap_or_else(|| name.clone()),
                name,
                characteristic: c.characteristic,
                reference: c.reference,
            });
        }

        let configured = study_categories(study)?;
        let named = covariates.iter().map(|c| &c.characteristic).chain(
            population
                .iter()
                .chain(&exclusions)
                .filter_map(|s| match &s.filter {
                    Filter::Characteristic { characteristic, .. } => Some(characteristic),
                    _ => None,
                }),
        );
        let categories = named
            .filter_map(|c| configured.get(c).map(|cats| (c.clone(), cats.clone())))
            .collect();

        Ok(ModelSpec {
            path: path.to_path_buf(),
            id: file.id,
            title: file.title,
            table: file.table,
            description: file.description,
            outcome: file.outcome,
            population,
            exclusions,
            covariates,
            categories,
        })
    }

    /// The spec's file name for messages (`job_outcome.toml`).
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.id.clone())
    }
}

/// Checks one step: a label and exactly one kind of filter.
fn step(
    s: StepFile,
    at: &str,
    study: &Study,
    err: &dyn Fn(String, String) -> Error,
) -> Result<Step> {
    let field = |f: &str| format!("{at} `{f}`");
    if s.label.trim().is_empty() {
        return Err(err(
            field("label"),
            "must say what the step does (it labels the step's N)".into(),
        ));
    }
    let given: Vec<&str> = [
        ("cohorts", s.cohorts.is_some()),
        ("lots", s.lots.is_some()),
        ("flag", s.flag.is_some()),
        ("characteristic", s.characteristic.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(n, _)| *n)
    .collect();
    if given.len() != 1 {
        return Err(err(
            at.to_string(),
            format!(
                "give exactly one of `cohorts`, `lots`, `flag` or `characteristic` (with \
                 `categories`); found {}",
                if given.is_empty() {
                    "none".to_string()
                } else {
                    given.join(", ")
                }
            ),
        ));
    }
    if s.value.is_some() && s.flag.is_none() {
        return Err(err(
            field("value"),
            "only a `flag` step takes a `value`".into(),
        ));
    }
    if s.categories.is_some() && s.characteristic.is_none() {
        return Err(err(
            field("categories"),
            "only a `characteristic` step takes `categories`".into(),
        ));
    }
    let codes =
        |list: Vec<String>, name: &str, known: &[&str], what: &str| -> Result<Vec<String>> {
            if list.is_empty() {
                return Err(err(field(name), "must not be empty".into()));
            }
            if let Some(bad) = list.iter().find(|c| !known.contains(&c.as_str())) {
                return Err(err(
                    field(name),
                    format!(
                        "`{bad}` is not a {what} code of the study (study.toml has: {})",
                        known.join(", ")
                    ),
                ));
            }
            Ok(list)
        };
    let filter = if let Some(list) = s.cohorts {
        let known: Vec<&str> = study.cohorts.iter().map(|c| c.code.as_str()).collect();
        Filter::Cohorts(codes(list, "cohorts", &known, "cohort")?)
    } else if let Some(list) = s.lots {
        let known: Vec<&str> = study.lots.iter().map(|l| l.code.as_str()).collect();
        Filter::Lots(codes(list, "lots", &known, "lot")?)
    } else if let Some(column) = s.flag {
        check_identifier(&column).map_err(|m| err(field("flag"), m))?;
        Filter::Flag {
            column,
            value: s.value.unwrap_or(true),
        }
    } else {
        let characteristic = s.characteristic.unwrap_or_default();
        if characteristic.trim().is_empty() {
            return Err(err(field("characteristic"), "must not be empty".into()));
        }
        let categories = s.categories.unwrap_or_default();
        if categories.is_empty() {
            return Err(err(
                field("categories"),
                "a `characteristic` step needs the `categories` it selects".into(),
            ));
        }
        let unique: BTreeSet<&String> = categories.iter().collect();
        if unique.len() != categories.len() {
            return Err(err(field("categories"), "lists a category twice".into()));
        }
        Filter::Characteristic {
            characteristic,
            categories,
        }
    };
    Ok(Step {
        label: s.label,
        filter,
    })
}

/// The question whose options the models take as one yes/no characteristic each,
/// `completed_action.<option>`, from the lists of `participant_actions`
/// (`queries/staging/participant_actions.sql`).
pub(crate) const ACTION_QUESTION: &str = "completed_action";
/// The categories of such a characteristic, in order: yes (the option is in the participant's
/// list), then no.
pub(crate) const ACTION_CATEGORIES: [&str; 2] = ["Yes", "No"];

/// Every characteristic the transform can write into `participant_categories` or
/// `participant_actions`, with its categories in order: the study's `characteristic_values`
/// (structural and configured ones, built by the transform's own function, so the two cannot
/// differ) and the completed actions.
fn study_categories(study: &Study) -> Result<BTreeMap<String, Vec<String>>> {
    use arrow::array::{Array, AsArray};
    let internal =
        |m: String| Error::Internal(format!("the study's characteristic categories: {m}"));
    let tables =
        evalpipe_transform::reference_tables(study).map_err(|e| internal(e.to_string()))?;
    let (_, values) = tables
        .iter()
        .find(|(name, _)| *name == "characteristic_values")
        .ok_or_else(|| internal("no `characteristic_values` reference table".into()))?;
    let column = |name: &str| -> Result<arrow::array::StringArray> {
        let c = values
            .column_by_name(name)
            .ok_or_else(|| internal(format!("no column `{name}`")))?;
        let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8)
            .map_err(|e| internal(e.to_string()))?;
        Ok(c.as_string::<i32>().clone())
    };
    let (names, labels) = (column("characteristic")?, column("category")?);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in 0..values.num_rows() {
        if names.is_null(row) || labels.is_null(row) {
            continue;
        }
        let categories = out.entry(names.value(row).to_string()).or_default();
        // A category of several codes has a row per code: listed once, in first-seen order
        // (the table is in category order).
        if !categories.iter().any(|c| c == labels.value(row)) {
            categories.push(labels.value(row).to_string());
        }
    }
    for question in study
        .mi
        .questions
        .iter()
        .filter(|q| q.id == ACTION_QUESTION)
    {
        for code in study.code_list(&question.options) {
            out.insert(
                format!("{}.{}", question.id, code.code),
                ACTION_CATEGORIES.map(String::from).to_vec(),
            );
        }
    }
    Ok(out)
}

/// Names that become column names or file names: lower-case letters, digits and `_`, starting
/// with a letter.
fn check_identifier(name: &str) -> std::result::Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` must be lower-case letters, digits and `_`, starting with a letter"
        ))
    }
}
