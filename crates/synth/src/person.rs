//! One synthetic participant, and the "dimensions" the calibration weights refer to.
//!
//! Every characteristic has a *recorded* value (what the provider's file shows, possibly blank)
//! and, where a model needs it, a *latent* value (what is true of the synthetic person, filled in
//! for blanks from a donor of the same cohort). Outcome models read latent values, so missing data
//! in the files is missing at random given cohort and lot, as in real MI.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use evalpipe_study::{AppliesWhen, Study};

use crate::config::{TwinFile, Weights};
use crate::{Error, Result};

/// Age bands of the report's models (Tables ).
pub(crate) const MODEL_AGE_BANDS: [(u32, u32, &str); 5] = [
    (16, 24, "16-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, u32::MAX, "55+"),
];

/// A synthetic participant (MI row, or claims-only).
#[derive(Debug, Clone, Default)]
pub(crate) struct Person {
    pub lot: usize,
    pub cohort: usize,
    pub reg: NaiveDate,
    /// In the claims only: the MI is a sample (report 1.3).
    pub claims_only: bool,
    pub ref_num: u32,
    /// Whole years at registration (latent: set for everyone).
    pub age: Option<u32>,
    pub dob: Option<NaiveDate>,
    /// Latent ethnic group label (dictionary `ethnic_group` grouping).
    pub ethnic_group: Option<String>,
    /// Latent ethnicity code, for names.
    pub ethnicity_latent: Option<String>,
    /// Recorded single-valued code and flag columns, by column name.
    pub values: BTreeMap<String, String>,
    /// Latent values of those columns.
    pub latent: BTreeMap<String, String>,
    /// Multi-select answers, by question id, one flag per option, for participants with data.
    pub answers: BTreeMap<String, Vec<bool>>,
    pub hours: Option<f64>,
    pub hours_band: Option<usize>,
    pub hours_latent: Option<f64>,
    pub earnings: Option<f64>,
    pub interventions: Option<u32>,
    pub embedded: Option<NaiveDate>,
    pub job_start: Option<NaiveDate>,
    pub sustained: [Option<NaiveDate>; 3],
    pub progression: Option<NaiveDate>,
    pub progression_employer: Option<String>,
    /// In a model's sample (report 2.3.1–2.3.3) with every covariate recorded: no model column
    /// may be blank or hold a value outside the models' categories ([`crate::complete`]).
    pub must_record: bool,
    /// In a model's sample but incomplete: this model column is left blank.
    pub force_blank: Option<String>,
    pub first_name: String,
    pub surname: String,
    pub postcode: Option<String>,
    pub ni_number: Option<String>,
}

/// What the generator knows besides the participants: the study, the calibration and what has
/// been generated so far (weights may only refer to that).
pub(crate) struct Ctx<'a> {
    pub study: &'a Study,
    pub cfg: &'a TwinFile,
    pub cfg_path: &'a std::path::Path,
    pub cohort_codes: Vec<String>,
    pub lot_codes: Vec<String>,
    /// Last date any MI value may take (the extract date).
    pub latest: NaiveDate,
    /// Columns and questions generated so far.
    pub generated: BTreeSet<String>,
    /// Qualification code → model band label.
    pub qual_band: BTreeMap<String, String>,
    /// Question id → (column prefix, option codes).
    pub questions: BTreeMap<String, (String, Vec<String>)>,
    /// Hours band labels.
    pub hours_bands: Vec<String>,
}

impl<'a> Ctx<'a> {
    pub fn new(study: &'a Study, cfg: &'a TwinFile, cfg_path: &'a std::path::Path) -> Self {
        let qual_band = study
            .mi
            .column("highest_qualification")
            .and_then(|c| c.codes.as_deref())
            .map(|list| {
                study
                    .code_list(list)
                    .iter()
                    .filter_map(|c| {
                        c.group
                            .get("model_band")
                            .map(|b| (c.code.clone(), b.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let questions = study
            .mi
            .questions
            .iter()
            .map(|q| {
                let opts = study
                    .code_list(&q.options)
                    .iter()
                    .map(|c| c.code.clone())
                    .collect();
                (q.id.clone(), (q.column_prefix.clone(), opts))
            })
            .collect();
        Ctx {
            study,
            cfg,
            cfg_path,
            cohort_codes: study.cohorts.iter().map(|c| c.code.clone()).collect(),
            lot_codes: study.lots.iter().map(|l| l.code.clone()).collect(),
            latest: cfg.twin.extract_date.min(study.periods.mi_end),
            generated: BTreeSet::new(),
            qual_band,
            questions,
            hours_bands: cfg
                .employment
                .hours_band
                .iter()
                .map(|b| b.label.clone())
                .collect(),
        }
    }

    /// A configuration error in `twin.toml`.
    pub fn config_err(&self, message: impl Into<String>) -> Error {
        Error::Config {
            path: self.cfg_path.to_path_buf(),
            message: message.into(),
        }
    }

    /// A calibration in `twin.toml` (its section `what`) the synthetic population cannot meet.
    pub fn infeasible(&self, what: &str, message: String) -> Error {
        Error::Infeasible {
            path: self.cfg_path.to_path_buf(),
            what: what.to_string(),
            message,
        }
    }

    /// Whether the cohort is out of work at registration.
    pub fn out_of_work(&self, p: &Person) -> bool {
        self.study.cohorts[p.cohort].out_of_work
    }

    /// The question whose flag column this is, and the option's index.
    pub fn flag_column(&self, name: &str) -> Option<(&str, usize)> {
        self.questions.iter().find_map(|(id, (prefix, opts))| {
            let option = name.strip_prefix(prefix.as_str())?;
            let i = opts.iter().position(|o| o == option)?;
            Some((id.as_str(), i))
        })
    }

    /// Whether weights may refer to this dimension now (known, and generated already).
    pub fn dim_available(&self, name: &str) -> bool {
        match name {
            "cohort" | "lot" | "provider_group" | "period" => true,
            "age_band" => self.generated.contains("date_of_birth"),
            "ethnic_group" => self.generated.contains("ethnicity"),
            "qualification_band" => self.generated.contains("highest_qualification"),
            "hours_band" => self.generated.contains("hours_per_week"),
            _ => {
                if let Some(x) = name.strip_prefix("has_")
                    && self.generated.contains(x)
                {
                    return true;
                }
                if let Some((q, _)) = self.flag_column(name) {
                    return self.generated.contains(q);
                }
                self.generated.contains(name)
            }
        }
    }

    /// Checks that every dimension of `w` can be used now; `what` names the config entry.
    pub fn check_weights(&self, what: &str, w: &Weights) -> Result<()> {
        for dim in w.keys() {
            if !self.dim_available(dim) {
                return Err(self.config_err(format!(
                    "{what}: weights refer to `{dim}`, which is unknown or generated later \
                     (see the dimensions listed at the top of twin.toml)"
                )));
            }
        }
        Ok(())
    }

    /// The participant's value of a dimension (`None`: not applicable, weight 1).
    pub fn dim(&self, p: &Person, name: &str) -> Option<String> {
        match name {
            "cohort" => Some(self.cohort_codes[p.cohort].clone()),
            "lot" => Some(self.lot_codes[p.lot].clone()),
            "provider_group" => Some(self.study.lots[p.lot].provider_group.clone()),
            "period" => Some(
                if self.study.periods.after_lockdown(p.reg) {
                    "after_lockdown"
                } else {
                    "before_lockdown"
                }
                .to_string(),
            ),
            "age_band" => p.age.map(|a| model_age_band(a).to_string()),
            "ethnic_group" => p.ethnic_group.clone(),
            "qualification_band" => p
                .latent
                .get("highest_qualification")
                .and_then(|q| self.qual_band.get(q).cloned()),
            "hours_band" => p.hours_band.map(|i| self.hours_bands[i].clone()),
            _ => {
                if let Some(x) = name.strip_prefix("has_") {
                    if self.questions.contains_key(x) {
                        return Some(yn(p.answers.contains_key(x)));
                    }
                    if self.generated.contains(x) {
                        return Some(yn(self.recorded(p, x).is_some()));
                    }
                }
                if let Some((q, i)) = self.flag_column(name) {
                    return p.answers.get(q).map(|a| yn(a[i]));
                }
                p.latent.get(name).or_else(|| p.values.get(name)).cloned()
            }
        }
    }

    /// Product of the weights that apply to the participant.
    pub fn weight(&self, p: &Person, w: &Weights) -> f64 {
        w.iter()
            .map(|(dim, by_value)| {
                self.dim(p, dim)
                    .and_then(|v| by_value.get(&v).copied())
                    .unwrap_or(1.0)
            })
            .product()
    }

    /// Sum of log odds ratios (a logistic model's linear predictor without intercept).
    pub fn log_odds(&self, p: &Person, odds: &Weights) -> f64 {
        self.weight(p, odds).ln()
    }

    /// The recorded (file) value of a single column, as text; `None` when blank.
    pub fn recorded(&self, p: &Person, column: &str) -> Option<String> {
        match column {
            "payment_group" => Some(self.cohort_codes[p.cohort].clone()),
            "lot_code" => Some(self.lot_codes[p.lot].clone()),
            "hours_per_week" => p.hours.map(|h| h.to_string()),
            "weekly_earnings" => p.earnings.map(|e| e.to_string()),
            "date_of_birth" => p.dob.map(|d| d.to_string()),
            _ => p.values.get(column).cloned(),
        }
    }

    /// Whether the participant is in the models' samples (not in an excluded lot or provider
    /// group, `[complete_cases]`).
    pub fn in_model_sample(&self, p: &Person) -> bool {
        let cc = &self.cfg.complete_cases;
        !cc.exclude_lots.contains(&self.lot_codes[p.lot])
            && !cc
                .exclude_provider_groups
                .contains(&self.study.lots[p.lot].provider_group)
    }

    /// Whether `column` (or question) is one the models' covariates are read from.
    pub fn is_model_column(&self, column: &str) -> bool {
        self.cfg.complete_cases.columns.iter().any(|c| c == column)
    }

    /// The participant's *recorded* value of a dimension, as the pipeline's outcome tables see
    /// it (`None`: not in the table's base). Dimensions: `cohort`, `lot`, `provider_group`,
    /// `period` (before or after the report's lockdown split),
    /// `age_band` (from the recorded date of birth), `complete_sample` (Y when in a model's
    /// complete-case sample), `<column>` (the recorded code or flag) and `<column>:<grouping>`
    /// (the recorded code's report grouping in the dictionary; codes without one are outside),
    /// and a multi-select flag column (`completed_coaching`: Y / N where the question is recorded).
    pub fn recorded_dim(&self, p: &Person, name: &str) -> Option<String> {
        match name {
            "cohort" | "lot" | "provider_group" | "period" => self.dim(p, name),
            "age_band" => p.dob.and(p.age).map(|a| model_age_band(a).to_string()),
            "complete_sample" => Some(yn(p.must_record)),
            _ => {
                if let Some((q, o)) = self.flag_column(name) {
                    let hidden = self
                        .cfg
                        .questions
                        .get(q)
                        .is_some_and(|c| c.not_recorded_lots.contains(&self.lot_codes[p.lot]));
                    return if hidden {
                        None
                    } else {
                        p.answers.get(q).map(|a| yn(a[o]))
                    };
                }
                if let Some((column, grouping)) = name.split_once(':') {
                    let code = p.values.get(column)?;
                    let list = self.study.mi.column(column)?.codes.as_deref()?;
                    return self
                        .study
                        .code_list(list)
                        .iter()
                        .find(|c| &c.code == code)
                        .and_then(|c| c.group.get(grouping).cloned());
                }
                p.values.get(name).cloned()
            }
        }
    }

    /// Whether an `applies_when` rule lets the participant have a value.
    pub fn applies(&self, p: &Person, rule: Option<&AppliesWhen>) -> bool {
        match rule {
            None => true,
            Some(r) => self.recorded(p, &r.column).is_some_and(|v| r.holds(&v)),
        }
    }
}

fn yn(b: bool) -> String {
    if b { "Y" } else { "N" }.to_string()
}

/// The model age band of an age.
pub(crate) fn model_age_band(age: u32) -> &'static str {
    MODEL_AGE_BANDS
        .iter()
        .find(|(lo, hi, _)| (*lo..=*hi).contains(&age))
        .map(|b| b.2)
        .unwrap_or("16-24")
}

/// Whole years from `birth` to `at` (the contract's age at registration).
pub(crate) fn age_in_years(birth: NaiveDate, at: NaiveDate) -> Option<i64> {
    if at < birth {
        return None;
    }
    let mut years = i64::from(at.year() - birth.year());
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    Some(years)
}
