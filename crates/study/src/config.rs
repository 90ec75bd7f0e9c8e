//! `study.toml`: lots, cohorts, milestones, periods.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
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
    #[serde(default)]
    pub characteristic: Vec<Characteristic>,
    #[serde(default)]
    pub band: Vec<Band>,
    #[serde(default)]
    pub disclosure: Disclosure,
}

/// Statistical disclosure control of published tables (the annex workbook and the report).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// Counts from 1 to `min_count` − 1 are suppressed, with their percentages.
    pub min_count: u64,
}

impl Default for Disclosure {
    fn default() -> Self {
        Disclosure { min_count: 10 }
    }
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
    /// The first national lockdown (marked in the monthly enrolment figure).
    #[serde(deserialize_with = "date")]
    pub first_lockdown: NaiveDate,
    /// First day of the "after" side of the report's before/after lockdown comparisons: the
    /// report counts the lockdown month with the months before it.
    #[serde(deserialize_with = "date")]
    pub after_lockdown_from: NaiveDate,
    /// First month of the monthly enrolment figures (Figures 4-1 and 4-2)…
    #[serde(deserialize_with = "date")]
    pub monthly_from: NaiveDate,
    /// …and their last day; a figure also ends with the last month anyone registered in.
    #[serde(deserialize_with = "date")]
    pub monthly_to: NaiveDate,
}

impl Periods {
    /// Whether a registration falls on the "after" side of the before/after lockdown split.
    pub fn after_lockdown(&self, registration: NaiveDate) -> bool {
        registration >= self.after_lockdown_from
    }

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
    /// The time out of work that defines an out-of-work cohort, in whole years, as the report
    /// states it ("out of work between one and two years"); none for the in-work cohort. Nothing
    /// in the pipeline derives a cohort from it (the providers record the cohort): it is the
    /// definition, which the published-figures register checks against the documents.
    #[serde(default)]
    pub out_of_work_years: Option<YearsOutOfWork>,
}

/// From and to, in years; an open end is absent ("two years or more" has no `to`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearsOutOfWork {
    /// At least this many years.
    #[serde(default)]
    pub from: Option<u32>,
    /// Less than (or up to) this many years.
    #[serde(default)]
    pub to: Option<u32>,
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

/// A participant characteristic the tables break down by (report 2.2 and the "by
/// characteristic" Annex tables), read from one MI column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Characteristic {
    /// Name the output tables use in their `characteristic` column.
    pub name: String,
    /// Heading in the report's words.
    pub title: String,
    /// The MI column (or derived column) it is read from.
    pub column: String,
    /// For a code column: the grouping of its code list whose labels are the categories. Codes
    /// outside the grouping (e.g. "prefer not to say") count as no data.
    #[serde(default)]
    pub grouping: Option<String>,
    /// For a numeric column: the banding (`[[band]]`) whose labels are the categories.
    #[serde(default)]
    pub banding: Option<String>,
}

/// How a [`Characteristic`]'s categories arise from its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharacteristicKind {
    /// Labels of a grouping of the column's code list.
    Grouping,
    /// The column's code list's own labels, every code a category.
    Labels,
    /// A yes/no flag.
    Flag,
    /// Bands of a numeric column.
    Band,
}

impl CharacteristicKind {
    /// The name SQL sees in the `characteristics` reference table.
    pub fn as_str(self) -> &'static str {
        match self {
            CharacteristicKind::Grouping => "grouping",
            CharacteristicKind::Labels => "labels",
            CharacteristicKind::Flag => "flag",
            CharacteristicKind::Band => "band",
        }
    }
}

/// One band of a numeric characteristic: `from` inclusive, `below` exclusive, either open.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// The banding it belongs to (e.g. `age`).
    pub banding: String,
    /// Label the tables show.
    pub label: String,
    /// Lowest value in the band; absent for the first band of an open-ended banding.
    #[serde(default)]
    pub from: Option<f64>,
    /// First value above the band; absent for the last band.
    #[serde(default)]
    pub below: Option<f64>,
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
    let p = &study.periods;
    if p.monthly_from > p.monthly_to || p.monthly_from.day() != 1 {
        return Err(format!(
            "[periods] monthly_from ({}) must be the first day of a month on or before monthly_to ({})",
            p.monthly_from, p.monthly_to
        ));
    }
    if p.after_lockdown_from < p.first_lockdown {
        return Err(format!(
            "[periods] after_lockdown_from ({}) is before first_lockdown ({})",
            p.after_lockdown_from, p.first_lockdown
        ));
    }
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
    check_bands(&study.bands)?;
    let mut names = std::collections::BTreeSet::new();
    for c in &study.characteristics {
        if !names.insert(c.name.as_str()) {
            return Err(format!("characteristic `{}` is declared twice", c.name));
        }
        study.characteristic_kind(c)?;
    }
    Ok(())
}

/// A banding's bands must run upwards without gaps or overlaps, so every value falls in at
/// most one band and the only values without a band are below the first or above the last.
fn check_bands(bands: &[Band]) -> Result<(), String> {
    let mut by_banding: BTreeMap<&str, Vec<&Band>> = BTreeMap::new();
    for b in bands {
        by_banding.entry(&b.banding).or_default().push(b);
    }
    for (banding, list) in by_banding {
        for (i, b) in list.iter().enumerate() {
            let first = i == 0;
            let last = i + 1 == list.len();
            if b.from.is_none() && !first || b.below.is_none() && !last {
                return Err(format!(
                    "band `{}` of banding `{banding}`: only the first band may omit `from` and \
                     only the last may omit `below`",
                    b.label
                ));
            }
            if let (Some(from), Some(below)) = (b.from, b.below)
                && from >= below
            {
                return Err(format!(
                    "band `{}` of banding `{banding}`: `from` ({from}) must be below \
                         `below` ({below})",
                    b.label
                ));
            }
            if let Some(next) = list.get(i + 1)
                && b.below != next.from
            {
                return Err(format!(
                    "bands `{}` and `{}` of banding `{banding}` must meet: `below` of one \
                         is the `from` of the next",
                    b.label, next.label
                ));
            }
            if list[..i].iter().any(|o| o.label == b.label) {
                return Err(format!(
                    "banding `{banding}` has two bands labelled `{}`",
                    b.label
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(label: &str, from: Option<f64>, below: Option<f64>) -> Band {
        Band {
            banding: "age".into(),
            label: label.into(),
            from,
            below,
        }
    }

    #[test]
    fn bands_must_meet_without_gaps_or_overlaps() {
        let ok = [
            band("a", Some(16.0), Some(25.0)),
            band("b", Some(25.0), None),
        ];
        assert!(check_bands(&ok).is_ok());
        let gap = [
            band("a", Some(16.0), Some(24.0)),
            band("b", Some(25.0), None),
        ];
        let err = check_bands(&gap).unwrap_err();
        assert!(
            err.contains("`a` and `b`") && err.contains("must meet"),
            "{err}"
        );
        let open_middle = [band("a", None, None), band("b", Some(25.0), None)];
        assert!(
            check_bands(&open_middle)
                .unwrap_err()
                .contains("only the first")
        );
        let empty = [band("a", Some(30.0), Some(25.0))];
        assert!(check_bands(&empty).unwrap_err().contains("must be below"));
        let twice = [band("a", Some(1.0), Some(2.0)), band("a", Some(2.0), None)];
        assert!(
            check_bands(&twice)
                .unwrap_err()
                .contains("two bands labelled `a`")
        );
    }
}
