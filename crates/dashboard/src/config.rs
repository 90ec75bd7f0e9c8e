//! `pipeline/dashboard.toml`: the profile the milestones are measured against, the programme
//! row's name and the breakdowns of the "different groups" slides.

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::{Error, Result};

/// The dashboards' configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// The straight-line profile's period.
    pub profile: Profile,
    /// Names of the rows that are not a lot.
    pub areas: Areas,
    /// The breakdowns, in order.
    #[serde(rename = "breakdown")]
    pub breakdowns: Vec<Breakdown>,
}

/// A milestone's profile at a date is its target × the share of this period elapsed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Start of the period (share 0).
    pub from: toml::value::Datetime,
    /// End of the period (share 1).
    pub to: toml::value::Datetime,
}

/// The programme row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Areas {
    /// Its name ("All lots").
    pub programme: String,
}

/// One breakdown: a characteristic of `study.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breakdown {
    /// The characteristic's name.
    pub characteristic: String,
}

impl DashboardConfig {
    /// Reads `<pipeline>/dashboard.toml`, checking the profile's dates and that each breakdown
    /// is a characteristic of the study.
    pub fn load(pipeline: &Path, characteristics: &[String]) -> Result<DashboardConfig> {
        let path = pipeline.join(crate::CONFIG_FILE);
        let fail = |message: String| Error::Config {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let config: DashboardConfig = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let (from, to) = config.profile_period().map_err(fail)?;
        if from >= to {
            return Err(fail(format!(
                "[profile] from ({from}) must be before to ({to})"
            )));
        }
        if config.breakdowns.is_empty() {
            return Err(fail(
                "no [[breakdown]]: list at least one characteristic".into(),
            ));
        }
        for b in &config.breakdowns {
            if !characteristics.contains(&b.characteristic) {
                return Err(fail(format!(
                    "[[breakdown]] characteristic `{}` is not a characteristic of the study \
                     (one of {})",
                    b.characteristic,
                    characteristics.join(", ")
                )));
            }
        }
        Ok(config)
    }

    /// The profile's period as dates.
    pub fn profile_period(&self) -> std::result::Result<(NaiveDate, NaiveDate), String> {
        let date = |d: &toml::value::Datetime, what: &str| {
            d.date
                .filter(|_| d.time.is_none())
                .and_then(|d| NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into()))
                .ok_or_else(|| format!("[profile] {what} must be a date (YYYY-MM-DD), not `{d}`"))
        };
        Ok((
            date(&self.profile.from, "from")?,
            date(&self.profile.to, "to")?,
        ))
    }

    /// The share of the profile's period elapsed at `date`, between 0 and 1.
    pub fn profile_share(&self, date: NaiveDate) -> f64 {
        let Ok((from, to)) = self.profile_period() else {
            return 0.0;
        };
        let whole = (to - from).num_days() as f64;
        let done = (date - from).num_days() as f64;
        (done / whole).clamp(0.0, 1.0)
    }
}
