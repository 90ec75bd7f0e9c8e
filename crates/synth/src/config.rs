//! `pipeline/twin.toml`: every calibration number of the twin, read declaratively.
//!
//! The schema mirrors the file section by section; `check` then cross-checks it against the study
//! (lots, cohorts, code lists, dictionary columns) so that a typo fails at load time with the file
//! named, not halfway through a generation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Deserializer};

use crate::{Error, Result};

/// Relative weights (or odds ratios) by dimension, then by the dimension's value.
pub(crate) type Weights = BTreeMap<String, BTreeMap<String, f64>>;

/// The loaded `pipeline/twin.toml`. Opaque: the generator is its only reader.
#[derive(Debug, Clone)]
pub struct TwinConfig {
    pub(crate) path: PathBuf,
    pub(crate) file: TwinFile,
}

impl TwinConfig {
    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The extract date the generated files are stamped with (`mi_<LOT>_<YYYYMMDD>`).
    pub fn extract_date(&self) -> NaiveDate {
        self.file.twin.extract_date
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TwinFile {
    pub twin: TwinSection,
    pub lots: BTreeMap<String, LotCfg>,
    pub cohorts: CohortsCfg,
    pub cohort_share_by_lot: BTreeMap<String, BTreeMap<String, f64>>,
    pub registration: RegistrationCfg,
    pub age: AgeCfg,
    pub ethnicity: EthnicityCfg,
    #[serde(default)]
    pub categorical: BTreeMap<String, CategoricalCfg>,
    #[serde(default)]
    pub flag: BTreeMap<String, FlagCfg>,
    pub employment: EmploymentCfg,
    #[serde(default)]
    pub questions: BTreeMap<String, QuestionCfg>,
    pub complete_cases: CompleteCasesCfg,
    pub embedding: EmbeddingCfg,
    pub job_start: JobStartCfg,
    pub sustainment: SustainmentCfg,
    pub progression: ProgressionCfg,
    pub identity: IdentityCfg,
    pub claims: ClaimsCfg,
    pub interim: InterimCfg,
    pub series: SeriesCfg,
}

/// The interim extract: the same synthetic people as the provider tool held them at an earlier
/// date ([`crate::interim`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InterimCfg {
    /// The extract's date; nothing after it is known to the interim files.
    #[serde(deserialize_with = "date")]
    pub extract_date: NaiveDate,
    /// Participants in the interim MI, without a validation error, registered in the months of
    /// study.toml's monthly figures up to the extract date (Figure 4-2's N), exact.
    pub monthly_participants: usize,
    /// Records not yet entered at the interim date come from this many months before it…
    pub late_entry_months: u32,
    /// …the more recent the likelier: the chance halves every this many days back.
    pub late_entry_half_life_days: f64,
    /// Records whose interim version differs from the final one (a provider correction between
    /// the extracts), by kind, among records of the same recent months.
    pub corrections: BTreeMap<String, usize>,
    /// Validated claims submitted this many days or fewer before the interim date were still
    /// queried then.
    pub pending_days: i64,
}

/// The bi-monthly series of refreshes: the same synthetic people as the provider tool held them
/// on every refresh date ([`crate::series`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeriesCfg {
    /// Months between refreshes, counted back from the final extract date (month ends).
    pub every_months: u32,
    /// Records not yet entered on a refresh date come from this many months before it…
    pub late_entry_months: u32,
    /// …a record not entered by the last refresh is still not entered on this one with this
    /// chance if registered on the refresh date…
    pub late_entry_chance: f64,
    /// …halving every this many days back.
    pub late_entry_half_life_days: f64,
    /// Records of a refresh holding an error corrected by the next one, at most this many of
    /// each kind per refresh, among its newly entered records…
    pub corrections: BTreeMap<String, usize>,
    /// …and in all at most this share of them.
    pub max_corrected_share: f64,
    /// Validated claims submitted this many days or fewer before a refresh date were still
    /// queried then.
    pub pending_days: i64,
    /// Refreshes (the final one never) where one lot's MI file has a renamed column.
    pub renamed_column_files: usize,
    /// Refreshes (the final one never) where one lot's MI file is missing.
    pub missing_lot_files: usize,
    /// The renamed headers a provider may send: dictionary column → header written instead.
    pub renamed_headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TwinSection {
    #[serde(deserialize_with = "date")]
    pub extract_date: NaiveDate,
    pub xlsx_lots: Vec<String>,
    pub csv_bom_lots: Vec<String>,
    #[serde(deserialize_with = "datetime")]
    pub xlsx_created: NaiveDateTime,
    pub statement: String,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LotCfg {
    pub participants: usize,
    pub ref_prefix: String,
    pub outward_codes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CohortsCfg {
    pub participants: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistrationCfg {
    /// `"YYYY-MM"` → registrations that month; keys sort chronologically.
    pub monthly: BTreeMap<String, usize>,
    pub cohort_mix: CohortMixCfg,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CohortMixCfg {
    pub before_lockdown: BTreeMap<String, f64>,
    pub after_lockdown: BTreeMap<String, f64>,
    #[serde(default)]
    pub pinned: BTreeMap<String, BTreeMap<String, f64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgeCfg {
    pub recorded: usize,
    pub band: Vec<AgeBand>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgeBand {
    pub from: u32,
    pub to: u32,
    pub share: f64,
    #[serde(default)]
    pub weights: Weights,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EthnicityCfg {
    pub recorded: usize,
    pub prefer_not_to_say: usize,
    #[serde(default)]
    pub missing_weight: Weights,
    pub group_share_by_lot: BTreeMap<String, BTreeMap<String, f64>>,
    pub code_share_within_group: BTreeMap<String, BTreeMap<String, f64>>,
}

/// A single-valued code column: who has a value, and which.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoricalCfg {
    /// Participants with one of the `shares` codes (the report's N)…
    #[serde(default)]
    pub recorded: Option<usize>,
    /// …or that share of the eligible participants.
    #[serde(default)]
    pub recorded_share: Option<f64>,
    pub shares: BTreeMap<String, f64>,
    /// Codes outside the report's N, with exact counts.
    #[serde(default)]
    pub extra: BTreeMap<String, usize>,
    /// Allocation order; the last code takes whoever is left. Default: code-list order.
    #[serde(default)]
    pub order: Vec<String>,
    #[serde(default)]
    pub missing_weight: Weights,
    #[serde(default)]
    pub weights: BTreeMap<String, Weights>,
}

/// A Y/N flag column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlagCfg {
    #[serde(default)]
    pub recorded: Option<usize>,
    #[serde(default)]
    pub recorded_share: Option<f64>,
    pub yes_share: f64,
    #[serde(default)]
    pub missing_weight: Weights,
    #[serde(default)]
    pub yes_weights: Weights,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmploymentCfg {
    pub hours_recorded: usize,
    #[serde(default)]
    pub missing_weight: Weights,
    pub earnings_recorded: usize,
    pub earnings_with_hours_weight: f64,
    pub hourly_pay_gbp: [f64; 2],
    pub hours_band: Vec<HoursBand>,
    pub earnings_band: Vec<EarningsBand>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoursBand {
    pub label: String,
    pub share: f64,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EarningsBand {
    #[allow(dead_code)]
    pub label: String,
    pub share: f64,
    pub min: f64,
    pub max: f64,
}

/// A multi-select question.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuestionCfg {
    #[serde(default)]
    pub recorded: Option<usize>,
    #[serde(default)]
    pub counts: BTreeMap<String, usize>,
    #[serde(default)]
    pub shares: BTreeMap<String, f64>,
    #[serde(default)]
    pub group: Vec<OptionGroupCfg>,
    #[serde(default)]
    pub ensure_one: bool,
    #[serde(default)]
    pub missing_weight: Weights,
    #[serde(default)]
    pub weights: BTreeMap<String, Weights>,
    /// Another question this one tracks (completed → agreed): same participants, counts as a
    /// ratio of the followed counts.
    #[serde(default)]
    pub follows: Option<String>,
    #[serde(default)]
    pub default_ratio: Option<f64>,
    #[serde(default)]
    pub ratio: BTreeMap<String, f64>,
    #[serde(default)]
    pub followed_weight: Option<f64>,
    /// Lots whose files leave this question blank (the values still exist for the model).
    #[serde(default)]
    pub not_recorded_lots: Vec<String>,
    /// Published shares of an option by cohort, lot or period (option → dimension → value →
    /// whole per cent of the participants of that group with data): the option's count stays
    /// exact and every such share rounds as printed ([`crate::calibrate`]).
    #[serde(default)]
    pub rates: BTreeMap<String, Rates>,
}

/// Options counted together: exactly `participants` have at least one of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OptionGroupCfg {
    pub options: Vec<String>,
    pub participants: usize,
    pub second_option_share: f64,
    #[serde(default)]
    pub weights: Weights,
    /// Published shares of the group by cohort, lot or period, as an option's `rates`.
    #[serde(default)]
    pub rates: Rates,
}

/// Published outcome rates: a dimension (see `twin.toml`), then its recorded value, then the
/// rate in whole per cent as printed.
pub(crate) type Rates = BTreeMap<String, BTreeMap<String, Rate>>;

/// A published rate: a whole per cent, or a range `[lo, hi]` the rate must print within (the
/// groups inside a published range, e.g. "varied from 59 per cent to 21 per cent between
/// providers").
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub(crate) enum Rate {
    Exactly(f64),
    Within([f64; 2]),
}

/// The regression samples (report 2.3.1–2.3.3): who is excluded, and how many of the rest have
/// every covariate recorded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteCasesCfg {
    /// Columns (or questions) the models' covariates are read from.
    pub columns: Vec<String>,
    /// Lots excluded from every model.
    #[serde(default)]
    pub exclude_lots: Vec<String>,
    /// Provider groups excluded from every model.
    #[serde(default)]
    pub exclude_provider_groups: Vec<String>,
    /// Complete cases among the out-of-work cohorts left after the exclusions.
    pub out_of_work: usize,
    /// Complete cases among the in-work cohort left after the exclusions.
    pub in_work: usize,
    /// Relative chance that an incomplete participant's missing covariate is this column.
    pub incomplete_column_weights: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmbeddingCfg {
    /// Embedded MI participants per cohort, exact.
    pub participants: BTreeMap<String, usize>,
    /// Weeks from registration within which an out-of-work participant embeds (report 2.2,
    /// footnote 2: "over a 6-10 week period"), as the documents state it and the register checks.
    pub weeks_out_of_work: [i64; 2],
    /// The same for an in-work participant.
    pub weeks_in_work: [i64; 2],
    pub min_interventions_out_of_work: u32,
    pub min_interventions_in_work: u32,
    pub extra_interventions_mean: f64,
    pub interventions_missing_share: f64,
    /// Relative odds of embedding, out-of-work cohorts.
    #[serde(default)]
    pub weights: Weights,
    /// Relative odds of embedding, in-work cohort.
    #[serde(default)]
    pub weights_in_work: Weights,
}

impl EmbeddingCfg {
    /// The embedding window in days from registration, first to last.
    pub fn days(&self, out_of_work: bool) -> [i64; 2] {
        let weeks = if out_of_work {
            self.weeks_out_of_work
        } else {
            self.weeks_in_work
        };
        weeks.map(|w| w * 7)
    }
}

/// A published regression an outcome is chosen to refit to: its odds ratios by recorded
/// dimension and value, the outcomes in its complete-case sample, and how far each score
/// equation's count may be from its expected value ([`crate::calibrate::model_cells`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelTargetCfg {
    /// The published odds ratios: their equations hold within `tolerance`.
    pub odds_ratios: Weights,
    pub tolerance: usize,
    /// The model's other terms (the report names them not significant; synthetic values) and
    /// its intercept (`events`): within `other_tolerance`, which leaves the selection room.
    #[serde(default)]
    pub other_odds_ratios: Weights,
    pub events: usize,
    pub other_tolerance: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobStartCfg {
    /// Out-of-work participants with a job start, exact.
    pub participants: usize,
    /// Of those, how many are in the complete-case sample of the models.
    pub in_complete_sample: usize,
    /// Published job outcome rates of embedded out-of-work participants.
    pub rates: Rates,
    /// Table A-24, refitted on the twin.
    pub model: ModelTargetCfg,
    pub exposure_days: f64,
    pub delay_gamma: [f64; 2],
    pub odds_ratios: Weights,
    #[serde(default)]
    pub lockdown_deferral: Option<DeferralCfg>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeferralCfg {
    #[serde(deserialize_with = "date")]
    pub from: NaiveDate,
    #[serde(deserialize_with = "date")]
    pub to: NaiveDate,
    pub probability: f64,
    pub days: [i64; 2],
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SustainmentCfg {
    /// Published 13-week sustainment rates of out-of-work job starters.
    pub rates_13: Rates,
    /// Table A-31, refitted on the twin.
    pub model_13: ModelTargetCfg,
    pub share_26_of_13: f64,
    pub share_52_of_26: f64,
    pub jitter_days: [i64; 2],
    pub odds_ratios_13: Weights,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProgressionCfg {
    /// Embedded participants of the in-work cohort who progressed, exact.
    pub participants: usize,
    /// Published in-work progression rates of the embedded in-work cohort.
    pub rates: Rates,
    /// Table A-39, refitted on the twin.
    pub model: ModelTargetCfg,
    /// Progressions of the in-work cohort with the employer recorded, by code, exact.
    pub employer_in_work: BTreeMap<String, usize>,
    /// Lots whose providers record only this code (code → lots).
    #[serde(default)]
    pub employer_only_lots: BTreeMap<String, Vec<String>>,
    pub share_of_sustained_out_of_work: f64,
    pub days_after_embedding: [i64; 2],
    pub days_after_job_start: [i64; 2],
    pub employer_share: BTreeMap<String, f64>,
    pub odds_ratios: Weights,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityCfg {
    pub ni_number_share: f64,
    pub ni_prefix: String,
    pub postcode_blank_share: f64,
    pub first_ref: [u32; 2],
    pub ref_gap: [u32; 2],
    pub ref_digits: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimsCfg {
    pub validated: BTreeMap<String, usize>,
    /// Participants in the claims but not in the MI (the MI is a sample, report 1.3).
    pub claims_only_participants: usize,
    pub progression_out_of_work_share: f64,
    pub ref_prefix: String,
    pub ref_digits: usize,
    pub first_ref: u64,
    pub submission_lag_days: [i64; 2],
    pub not_validated_share: f64,
    pub queried_share: f64,
    pub synthetic_amount_gbp: BTreeMap<String, BTreeMap<String, f64>>,
}

fn date<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<NaiveDate, D::Error> {
    let v = toml::value::Datetime::deserialize(d)?;
    match (v.date, v.time, v.offset) {
        (Some(day), None, None) => {
            NaiveDate::from_ymd_opt(day.year as i32, day.month as u32, day.day as u32)
                .ok_or_else(|| serde::de::Error::custom(format!("`{v}` is not a calendar date")))
        }
        _ => Err(serde::de::Error::custom(format!(
            "`{v}` must be a date (YYYY-MM-DD)"
        ))),
    }
}

fn datetime<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<NaiveDateTime, D::Error> {
    let v = toml::value::Datetime::deserialize(d)?;
    let bad = || serde::de::Error::custom(format!("`{v}` must be a local date-time"));
    match (v.date, v.time, v.offset) {
        (Some(day), Some(t), None) => {
            NaiveDate::from_ymd_opt(day.year as i32, day.month as u32, day.day as u32)
                .and_then(|d| {
                    d.and_hms_opt(t.hour as u32, t.minute as u32, t.second.unwrap_or(0) as u32)
                })
                .ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

/// Reads and parses `pipeline/twin.toml`. Only the schema is checked here; [`crate::generate`]
/// cross-checks the calibration against the study before generating anything.
pub fn load_twin_config(path: &Path) -> Result<TwinConfig> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: TwinFile = toml::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(TwinConfig {
        path: path.to_path_buf(),
        file,
    })
}
