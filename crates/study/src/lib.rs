//! The study: what evalpipe knows about an evaluation before it reads any data.
//!
//! An evaluation is described declaratively under `pipeline/`: `study.toml` names the lots
//! (neighbourhoods) and their providers, the cohorts (payment groups), the payment milestones with
//! their targets, and the data cut-offs; `dictionary/*.toml` encode the input contract of the
//! providers' data tool (MI) and of the claims extract, column by column. Every stage reads them
//! through this crate, so nothing downstream repeats a lot name, a code or a rule.
//!
//! The crate also fixes the *run layout*, the folder structure every stage reads and writes
//! ([`RunLayout`]), and the run's manifest ([`Manifest`]), so stages and the review agree on
//! paths and on what a run recorded without knowing each other.
//!
//! It never reads extracts and does no I/O beyond loading the configuration files and reading
//! and writing a run's manifest.
//!
//! Entry point: [`Study::load`].
//!
//! ```no_run
//! let study = evalpipe_study::Study::load(std::path::Path::new("pipeline")).unwrap();
//! assert_eq!(study.lots.len(), 9);
//! ```
#![warn(missing_docs)]

mod config;
mod decisions;
mod dictionary;
mod layout;
mod manifest;

pub use config::{
    Band, Characteristic, CharacteristicKind, Cohort, Disclosure, Lot, Milestone, Periods,
    StudyInfo, YearsOutOfWork,
};
pub use decisions::{DECISIONS_FILE, Decision, DecisionOption};
pub use dictionary::{
    AppliesWhen, Bound, Code, ColumnSpec, ColumnType, DatasetSpec, DerivedSpec, Dictionary,
    IdentifierRule, MinAge, MinWeeksAfter, QuestionSpec,
};
pub use layout::{
    FRAMEWORK_OUTPUT, MANIFEST_FILE, MODELS_OUTPUT, RUN_MARKER, RUN_MARKER_TEXT, RunLayout,
    SYNTHETIC_MARKER, place, place_parts,
};
pub use manifest::{
    Entry, FrameworkSummary, IngestSummary, MI_PREFIX, Manifest, ModelsSummary, ReportSummary,
    StageSummaries, TransformSummary, mi_file_date,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors loading the study configuration. All are the user's to fix in `pipeline/`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A run's file (its manifest) could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A configuration file is not valid TOML for its schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said, with line and column.
        message: String,
    },
    /// The configuration is well-formed but contradicts itself.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A loaded, cross-checked study configuration.
#[derive(Debug, Clone)]
pub struct Study {
    /// The `pipeline/` folder it was loaded from.
    pub root: PathBuf,
    /// Title and provenance.
    pub info: StudyInfo,
    /// Data periods and cut-offs.
    pub periods: Periods,
    /// The lots, in contract order.
    pub lots: Vec<Lot>,
    /// The cohorts (payment groups).
    pub cohorts: Vec<Cohort>,
    /// Payment milestones in programme order.
    pub milestones: Vec<Milestone>,
    /// Dictionary of the providers' MI extracts.
    pub mi: Dictionary,
    /// Dictionary of the claims extract.
    pub claims: Dictionary,
    /// Every code list of both dictionaries, by name.
    pub codes: BTreeMap<String, Vec<Code>>,
    /// Characteristics the tables break down by, in report order.
    pub characteristics: Vec<Characteristic>,
    /// Bands of numeric characteristics, each banding's bands in ascending order.
    pub bands: Vec<Band>,
    /// Disclosure control of published tables.
    pub disclosure: Disclosure,
    /// The analytic decisions (`decisions.toml`), each with its choice.
    pub decisions: Vec<Decision>,
}

impl Study {
    /// Loads `study.toml` and the dictionaries it names from `root` and checks that they agree:
    /// every code list referred to exists, every column a rule names exists, lots and cohorts
    /// match the dictionary's code lists.
    pub fn load(root: &Path) -> Result<Study> {
        let study_path = root.join("study.toml");
        let file: config::StudyFile = read_toml(&study_path)?;
        let mi_path = root.join(&file.study.mi_dictionary);
        let claims_path = root.join(&file.study.claims_dictionary);
        let mi: Dictionary = dictionary::load(&mi_path)?;
        let claims: Dictionary = dictionary::load(&claims_path)?;

        let mut codes = BTreeMap::new();
        for (dict, path) in [(&mi, &mi_path), (&claims, &claims_path)] {
            for (name, list) in &dict.codes {
                if codes.insert(name.clone(), list.clone()).is_some() {
                    return Err(Error::Invalid {
                        path: path.clone(),
                        message: format!(
                            "code list `{name}` is declared in more than one dictionary"
                        ),
                    });
                }
            }
        }
        for (dict, path) in [(&mi, &mi_path), (&claims, &claims_path)] {
            dictionary::check(dict, &codes).map_err(|message| Error::Invalid {
                path: path.clone(),
                message,
            })?;
        }
        let study = Study {
            root: root.to_path_buf(),
            info: file.study,
            periods: file.periods,
            lots: file.lot,
            cohorts: file.cohort,
            milestones: file.milestone,
            mi,
            claims,
            codes,
            characteristics: file.characteristic,
            bands: file.band,
            disclosure: file.disclosure,
            decisions: decisions::load(root)?,
        };
        config::check(&study).map_err(|message| Error::Invalid {
            path: study_path,
            message,
        })?;
        Ok(study)
    }

    /// The decision with this id.
    pub fn decision(&self, id: &str) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.id == id)
    }

    /// The first day of "from the first lockdown" in the before/after comparisons: the report's
    /// split (`[periods] after_lockdown_from`, all of March 2020 before), unless decision
    /// `lockdown_split` takes `lockdown_day`, the lockdown's own date (`first_lockdown`).
    pub fn lockdown_split(&self) -> chrono::NaiveDate {
        match self.decision("lockdown_split").map(|d| d.choice.as_str()) {
            Some("lockdown_day") => self.periods.first_lockdown,
            _ => self.periods.after_lockdown_from,
        }
    }

    /// The lot with this contract code.
    pub fn lot(&self, code: &str) -> Option<&Lot> {
        self.lots.iter().find(|l| l.code == code)
    }

    /// How a characteristic's categories arise from its MI column, checked against the
    /// dictionary: a grouping needs a code column whose list has that grouping, a banding a
    /// numeric column and declared bands; a flag or code column needs neither.
    pub fn characteristic_kind(&self, c: &Characteristic) -> Result<CharacteristicKind, String> {
        let at = |m: String| format!("characteristic `{}`: {m}", c.name);
        let column = self.mi.columns.iter().find(|x| x.name == c.column);
        let derived = self.mi.derived.iter().any(|d| d.name == c.column);
        let (kind, codes) = match (column, derived) {
            (Some(col), _) => (Some(col.kind), col.codes.as_deref()),
            (None, true) => (None, None),
            (None, false) => {
                return Err(at(format!("no MI column `{}`", c.column)));
            }
        };
        if column.is_some_and(|col| col.identifier.is_some()) {
            return Err(at(format!(
                "`{}` is an identifier and never leaves ingest",
                c.column
            )));
        }
        let numeric = derived
            || matches!(
                kind,
                Some(ColumnType::Integer | ColumnType::Number | ColumnType::Money)
            );
        match (&c.grouping, &c.banding) {
            (Some(_), Some(_)) => Err(at("give a grouping or a banding, not both".into())),
            (Some(grouping), None) => {
                let list = codes.ok_or_else(|| at(format!("`{}` has no code list", c.column)))?;
                if !self
                    .code_list(list)
                    .iter()
                    .any(|code| code.group.contains_key(grouping))
                {
                    return Err(at(format!(
                        "code list `{list}` has no grouping `{grouping}`"
                    )));
                }
                Ok(CharacteristicKind::Grouping)
            }
            (None, Some(banding)) => {
                if !numeric {
                    return Err(at(format!(
                        "`{}` is not numeric, it cannot be banded",
                        c.column
                    )));
                }
                if !self.bands.iter().any(|b| &b.banding == banding) {
                    return Err(at(format!("no `[[band]]` has banding `{banding}`")));
                }
                Ok(CharacteristicKind::Band)
            }
            (None, None) => match (kind, codes) {
                (Some(ColumnType::Flag), _) => Ok(CharacteristicKind::Flag),
                (_, Some(_)) => Ok(CharacteristicKind::Labels),
                _ => Err(at(format!(
                    "`{}` is neither a flag nor a code column: give a banding",
                    c.column
                ))),
            },
        }
    }

    /// A code list by name. Lists are checked at load time, so a name from the dictionary is
    /// always present.
    pub fn code_list(&self, name: &str) -> &[Code] {
        self.codes.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A text cell as a spreadsheet may open it safely. Excel, LibreOffice and Google Sheets run a
/// cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return before one) as a
/// formula, so text from an extract — a claim reference `=HYPERLINK(…)`, a quoted interview
/// `=cmd|…` — could run on the evaluator's machine when a CSV output is opened. Such a cell
/// gets a leading apostrophe, which spreadsheets show as text and never run (OWASP's advice
/// on CSV injection). Only text cells go through it: numbers keep their sign.
pub fn defuse_formula(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{text}")),
        _ => std::borrow::Cow::Borrowed(text),
    }
}

pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Converts a TOML date (`2020-03-23`) to a calendar date; time parts are not allowed.
pub(crate) fn toml_date(d: &toml::value::Datetime) -> Option<chrono::NaiveDate> {
    if d.time.is_some() || d.offset.is_some() {
        return None;
    }
    let date = d.date?;
    chrono::NaiveDate::from_ymd_opt(date.year as i32, date.month as u32, date.day as u32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_defused_and_other_text_is_left_alone() {
        use super::defuse_formula;
        for bad in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(defuse_formula(bad), format!("'{bad}"));
        }
        for good in ["", "Walsall", "L4", "O'Brien", "1 = 1", "(+)"] {
            assert_eq!(defuse_formula(good), good);
        }
    }

    use super::*;

    fn pipeline() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline")
    }

    #[test]
    fn loads_the_connecting_communities_study() {
        let study = Study::load(&pipeline()).unwrap();
        assert_eq!(study.lots.len(), 9);
        assert_eq!(study.cohorts.len(), 4);
        let lot5 = study.lot("L5").unwrap();
        assert_eq!(lot5.name, "Cannock North");
        assert_eq!(lot5.report_lot_number, Some(5));
        // Table 1-1: lot values run from £173,000 to £1,053,000.
        let values: Vec<u64> = study.lots.iter().map(|l| l.lot_value_gbp).collect();
        assert_eq!(values.iter().min(), Some(&173_000));
        assert_eq!(values.iter().max(), Some(&1_053_000));
        assert_eq!(
            study.periods.first_lockdown,
            chrono::NaiveDate::from_ymd_opt(2020, 3, 23).unwrap()
        );
        let js = study.milestones.iter().find(|m| m.code == "JS").unwrap();
        assert_eq!(js.payment_gbp.get("HTH"), Some(&889));
    }

    #[test]
    fn characteristics_are_checked_against_the_dictionary() {
        let mut study = Study::load(&pipeline()).unwrap();
        let kind = |study: &Study, name: &str| {
            let c = study
                .characteristics
                .iter()
                .find(|c| c.name == name)
                .unwrap();
            study.characteristic_kind(c)
        };
        assert_eq!(kind(&study, "sex"), Ok(CharacteristicKind::Grouping));
        assert_eq!(kind(&study, "age_band"), Ok(CharacteristicKind::Band));
        assert_eq!(kind(&study, "caring_child"), Ok(CharacteristicKind::Flag));
        assert_eq!(
            kind(&study, "contract_type"),
            Ok(CharacteristicKind::Labels)
        );
        let wrong = |column: &str, grouping: Option<&str>, banding: Option<&str>| Characteristic {
            name: "x".into(),
            title: "X".into(),
            column: column.into(),
            grouping: grouping.map(Into::into),
            banding: banding.map(Into::into),
        };
        study.characteristics = vec![wrong("gender", Some("nope"), None)];
        let err = study
            .characteristic_kind(&study.characteristics[0])
            .unwrap_err();
        assert!(err.contains("no grouping `nope`"), "{err}");
        let err = study
            .characteristic_kind(&wrong("gender", None, Some("age")))
            .unwrap_err();
        assert!(err.contains("not numeric"), "{err}");
        let err = study
            .characteristic_kind(&wrong("postcode", None, None))
            .unwrap_err();
        assert!(err.contains("identifier"), "{err}");
        let err = study
            .characteristic_kind(&wrong("shoe_size", None, None))
            .unwrap_err();
        assert!(err.contains("no MI column"), "{err}");
        let err = study
            .characteristic_kind(&wrong("age_at_registration", None, Some("nope")))
            .unwrap_err();
        assert!(err.contains("no `[[band]]`"), "{err}");
    }

    #[test]
    fn mi_header_expands_multi_select_questions() {
        let study = Study::load(&pipeline()).unwrap();
        let header = study.mi.expected_columns(&study.codes);
        assert!(header.contains(&"barrier_esol".to_string()));
        assert!(header.contains(&"agreed_match_skills".to_string()));
        assert!(header.contains(&"completed_employer_taster".to_string()));
        // Single columns + 7 heard + 8 health types + 14 barriers + 2 × 17 actions.
        assert_eq!(header.len(), study.mi.columns.len() + 7 + 8 + 14 + 34);
    }

    #[test]
    fn targets_round_to_the_published_percentages() {
        let study = Study::load(&pipeline()).unwrap();
        for m in &study.milestones {
            if let (Some(t), Some([lo, hi])) = (m.target, m.target_range) {
                assert!(
                    lo <= t && t <= hi,
                    "{}: target {t} outside {lo}..{hi}",
                    m.code
                );
            }
        }
    }
}
