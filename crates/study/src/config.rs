//! `study.toml`: lots, cohorts, milestones, periods.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

use crate::Study;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StudyFile {
    pub study: StudyInfo,
    pub periods: Periods,
    pub lot: Vec<Lot>,
    pub cohort: Vec<Cohort>,
    pub milestone: Vec<Milestone>,
}

/// Title and provenance of the study.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyInfo {
    /// Short stable identifier.
    pub id: String,
    /// Title of the report the pipeline regenerates.
    pub title: String,
    /// Who commissioned the programme.
    pub commissioner: String,
    /// Who evaluated it.
    pub evaluators: String,
    /// Path of the MI dictionary, relative to `pipeline/`.
    pub mi_dictionary: String,
    /// Path of the claims dictionary, relative to `pipeline/`.
    pub claims_dictionary: String,
}

/// Data periods and cut-offs (report 1.3, 4.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Periods {
    /// First month the MI covers.
    #[serde(deserialize_with = "date")]
    pub mi_start: NaiveDate,
    /// Last month the MI covers.
    #[serde(deserialize_with = "date")]
    pub mi_end: NaiveDate,
    /// First day registrations are accepted.
    #[serde(deserialize_with = "date")]
    pub programme_start: NaiveDate,
    /// Last day registrations are accepted.
    #[serde(deserialize_with = "date")]
    pub programme_end: NaiveDate,
    /// Validated claims run to this date…
    #[serde(deserialize_with = "date")]
    pub claims_validated_to: NaiveDate,
    /// …except for these lots (code → date).
    #[serde(default, deserialize_with = "date_map")]
    pub claims_validated_to_by_lot: BTreeMap<String, NaiveDate>,
    /// The first national lockdown, splitting before/after comparisons.
    #[serde(deserialize_with = "date")]
    pub first_lockdown: NaiveDate,
}

impl Periods {
    /// The claims cut-off for a lot.
    pub fn claims_cutoff(&self, lot: &str) -> NaiveDate {
        self.claims_validated_to_by_lot
            .get(lot)
            .copied()
            .unwrap_or(self.claims_validated_to)
    }
}

/// A lot: one neighbourhood and its provider (report Table 1-1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lot {
    /// Contract code, `L1`…`L9`; appears in file names and the `lot_code` column.
    pub code: String,
    /// Neighbourhood name.
    pub name: String,
    /// Local authority.
    pub local_authority: String,
    /// Provider group the report compares (the regression's "type of provider").
    pub provider_group: String,
    /// Description of the group in Table 1-1.
    pub group_description: String,
    /// Lead organisation type.
    pub lead_organisation_type: String,
    /// Contract value in pounds.
    pub lot_value_gbp: u64,
    /// Whether the local authority is a constituent member of the WMCA.
    pub constituent_member: bool,
    /// Lot number, only where the report itself numbers the lot.
    #[serde(default)]
    pub report_lot_number: Option<u32>,
}

/// A cohort (payment group).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cohort {
    /// Code in the `payment_group` column.
    pub code: String,
    /// Name the report uses.
    pub name: String,
    /// Definition in the report's words.
    pub description: String,
    /// Out of work at registration (job outcomes apply) or in work (progression applies).
    pub out_of_work: bool,
    /// Row order in report Table 2-1.
    pub report_order: u32,
}

/// A payment milestone and its programme target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Milestone {
    /// Code in the claims `milestone` column.
    pub code: String,
    /// Name the report uses.
    pub name: String,
    /// Cohorts that can be paid for it.
    pub cohorts: Vec<String>,
    /// Percentage of target the report publishes.
    #[serde(default)]
    pub published_pct_of_target: Option<u32>,
    /// Programme target (implied by the published percentage; see `study.toml`).
    #[serde(default)]
    pub target: Option<u64>,
    /// Every whole target that rounds to the published percentage.
    #[serde(default)]
    pub target_range: Option<[u64; 2]>,
    /// Payment per claim by cohort code, where published.
    #[serde(default)]
    pub payment_gbp: BTreeMap<String, u64>,
}

fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let value = toml::value::Datetime::deserialize(d)?;
    crate::toml_date(&value)
        .ok_or_else(|| serde::de::Error::custom(format!("`{value}` is not a calendar date")))
}

fn date_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, NaiveDate>, D::Error> {
    let raw = BTreeMap::<String, toml::value::Datetime>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            crate::toml_date(&v)
                .map(|date| (k, date))
                .ok_or_else(|| serde::de::Error::custom(format!("`{v}` is not a calendar date")))
        })
        .collect()
}

/// Cross-checks lots, cohorts and milestones against each other and the dictionaries.
pub(crate) fn check(study: &Study) -> Result<(), String> {
    let lot_codes: Vec<&str> = study
        .code_list("lot")
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    let configured: Vec<&str> = study.lots.iter().map(|l| l.code.as_str()).collect();
    if lot_codes != configured {
        return Err(format!(
            "the lots {configured:?} differ from the dictionary's lot codes {lot_codes:?}"
        ));
    }
    let groups: Vec<&str> = study
        .code_list("payment_group")
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    for cohort in &study.cohorts {
        if !groups.contains(&cohort.code.as_str()) {
            return Err(format!(
                "cohort `{}` is not a payment_group code",
                cohort.code
            ));
        }
    }
    let milestones: Vec<&str> = study
        .code_list("milestone")
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    for m in &study.milestones {
        if !milestones.contains(&m.code.as_str()) {
            return Err(format!(
                "milestone `{}` is not a claims milestone code",
                m.code
            ));
        }
        for c in m.cohorts.iter().chain(m.payment_gbp.keys()) {
            if !groups.contains(&c.as_str()) {
                return Err(format!("milestone `{}` names unknown cohort `{c}`", m.code));
            }
        }
    }
    for lot in study.periods.claims_validated_to_by_lot.keys() {
        if !lot_codes.contains(&lot.as_str()) {
            return Err(format!("claims cut-off given for unknown lot `{lot}`"));
        }
    }
    Ok(())
}
