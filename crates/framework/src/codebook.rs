//! The codebook: `pipeline/framework/codebook.toml`.
//!
//! Themes and their sub-themes with definitions, each on a Theory of Change stage and feeding a
//! report section; the interview types (one matrix each), the interview waves, the figures the
//! context–mechanism–outcome links draw, and the thresholds of the cross-cutting and divergence
//! tables. A sub-theme is what a matrix column charts; a theme is counted as present for a case
//! when any of its sub-themes is charted. A theme or sub-theme may name the quantitative finding
//! it explains (`explains`), so the report can set the two side by side.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// Where the codebook lives inside `pipeline/`.
pub const CODEBOOK_FILE: &str = "framework/codebook.toml";

/// The loaded, cross-checked codebook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Codebook {
    /// The file it was read from (set by [`Codebook::load`]).
    #[serde(skip)]
    pub path: PathBuf,
    /// Thresholds and the attributes compared.
    pub settings: Settings,
    /// Theory of Change stages, in order.
    #[serde(rename = "stage")]
    pub stages: Vec<Stage>,
    /// Interview types, in report order; one matrix workbook each.
    #[serde(rename = "interview_type")]
    pub interview_types: Vec<InterviewType>,
    /// Interview waves (evaluation years).
    #[serde(rename = "wave")]
    pub waves: Vec<Wave>,
    /// Figures drawn from the context–mechanism–outcome links.
    #[serde(rename = "figure")]
    pub figures: Vec<Figure>,
    /// Themes, in report order.
    #[serde(rename = "theme")]
    pub themes: Vec<Theme>,
}

/// Thresholds of the derived tables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A theme is cross-cutting when cases from at least this many lots chart it (k).
    pub cross_cutting_min_lots: i64,
    /// A group leans one way on a theme only with at least this many cases charting it with a
    /// valence; fewer is "too few to say".
    pub divergence_min_cases: i64,
    /// Case attributes whose groups are compared for divergent perspectives, e.g.
    /// `["interview_type", "wave", "cohort"]`.
    pub divergence_by: Vec<String>,
    /// Age bands of the case sheet, in order (participants' demographics band).
    pub age_bands: Vec<String>,
}

/// A Theory of Change stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Code, e.g. `engagement`.
    pub code: String,
    /// Label as the report names it.
    pub label: String,
}

/// An interview type: whose views a matrix holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterviewType {
    /// Code used in the case sheet, e.g. `participant`.
    pub code: String,
    /// Label.
    pub label: String,
    /// Who was interviewed.
    pub description: String,
    /// Its matrix workbook in the qualitative data folder.
    pub workbook: String,
}

/// An interview wave.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wave {
    /// Number in the case sheet (1, 2, 3).
    pub wave: i64,
    /// Label, e.g. `Year 1 (2019)`.
    pub label: String,
    /// Interviews the report says were held in the wave; the run warns when the sample differs.
    pub published_interviews: Option<i64>,
}

/// A context–mechanism–outcome figure of the report.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// Report number, e.g. `4-4`.
    pub id: String,
    /// Caption.
    pub title: String,
    /// Report section.
    pub section: String,
}

/// A theme (a group of matrix columns).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    /// Code, e.g. `SUP`.
    pub code: String,
    /// Label.
    pub label: String,
    /// What is charted under it.
    pub definition: String,
    /// Theory of Change stage.
    pub stage: String,
    /// Report section it informs, e.g. `4.3`.
    pub section: String,
    /// Quantitative findings it explains.
    #[serde(default)]
    pub explains: Vec<Explains>,
    /// Sub-themes: the matrix columns.
    #[serde(rename = "subtheme")]
    pub subthemes: Vec<Subtheme>,
}

/// A sub-theme: one matrix column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subtheme {
    /// Code, `<theme>.<NAME>`, e.g. `SUP.REL`; the matrix column header starts with it.
    pub code: String,
    /// Label.
    pub label: String,
    /// What is charted in it.
    pub definition: String,
    /// Interview types whose matrices chart it (their blank matrices have the column).
    pub types: Vec<String>,
    /// Report section, when not the theme's.
    pub section: Option<String>,
    /// Quantitative findings it explains.
    #[serde(default)]
    pub explains: Vec<Explains>,
}

/// The triangulation hook: a cell of a run table that a theme helps explain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explains {
    /// The finding in words, e.g. "matching jobs to skills doubles the odds of a job outcome".
    pub finding: String,
    /// Table path under `<run>/tables/` without extension: `how_heard` or
    /// `models/job_outcome/coefficients`.
    pub table: String,
    /// Column = value conditions that pick one row.
    pub row: toml::Table,
    /// The column holding the number.
    pub column: String,
}

/// One codebook entry at either level, flattened for tables and lookups.
#[derive(Debug, Clone)]
pub struct Code<'a> {
    /// The code.
    pub code: &'a str,
    /// Its theme's code (itself for a theme).
    pub theme: &'a str,
    /// `theme` or `subtheme`.
    pub level: &'static str,
    /// Label.
    pub label: &'a str,
    /// Definition.
    pub definition: &'a str,
    /// Theory of Change stage.
    pub stage: &'a str,
    /// Report section.
    pub section: &'a str,
    /// Report order (themes and their sub-themes interleaved).
    pub order: i64,
    /// Findings explained.
    pub explains: &'a [Explains],
}

impl Codebook {
    /// Reads and checks the codebook at `path`.
    pub fn load(path: &Path) -> Result<Codebook> {
        let err = |message: String| Error::Codebook {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut book: Codebook = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        book.path = path.to_path_buf();
        book.check().map_err(err)?;
        Ok(book)
    }

    /// The codebook of a `pipeline/` folder.
    pub fn load_from_pipeline(pipeline: &Path) -> Result<Codebook> {
        Codebook::load(&pipeline.join(CODEBOOK_FILE))
    }

    fn check(&self) -> std::result::Result<(), String> {
        let stages: BTreeSet<&str> = self.stages.iter().map(|s| s.code.as_str()).collect();
        let types: BTreeSet<&str> = self
            .interview_types
            .iter()
            .map(|t| t.code.as_str())
            .collect();
        if types.len() != self.interview_types.len() {
            return Err("an interview type code is listed twice".into());
        }
        if self.waves.is_empty() {
            return Err("no [[wave]]".into());
        }
        let mut seen = BTreeSet::new();
        for c in self.codes() {
            if !seen.insert(c.code) {
                return Err(format!("theme code `{}` is listed twice", c.code));
            }
            if c.code.is_empty() || c.code.chars().any(char::is_whitespace) {
                return Err(format!(
                    "theme code `{}` must be one word (matrix headers start with it)",
                    c.code
                ));
            }
            if !stages.contains(c.stage) {
                return Err(format!(
                    "theme `{}`: stage `{}` is not a [[stage]] code",
                    c.code, c.stage
                ));
            }
            for e in c.explains {
                if e.row.is_empty() || e.table.is_empty() || e.column.is_empty() {
                    return Err(format!(
                        "theme `{}`: `explains` needs a table, a row condition and a column",
                        c.code
                    ));
                }
            }
        }
        for t in &self.themes {
            if t.subthemes.is_empty() {
                return Err(format!("theme `{}` has no [[theme.subtheme]]", t.code));
            }
            for s in &t.subthemes {
                if !s.code.starts_with(&format!("{}.", t.code)) {
                    return Err(format!(
                        "sub-theme `{}` must start with its theme's code `{}.`",
                        s.code, t.code
                    ));
                }
                if let Some(bad) = s.types.iter().find(|x| !types.contains(x.as_str())) {
                    return Err(format!(
                        "sub-theme `{}`: `{bad}` is not an [[interview_type]] code",
                        s.code
                    ));
                }
            }
        }
        let known_attributes = [
            "interview_type",
            "wave",
            "lot",
            "role",
            "cohort",
            "age_band",
            "gender",
        ];
        if let Some(bad) = self
            .settings
            .divergence_by
            .iter()
            .find(|a| !known_attributes.contains(&a.as_str()))
        {
            return Err(format!(
                "settings.divergence_by: `{bad}` is not a case attribute ({})",
                known_attributes.join(", ")
            ));
        }
        if self.settings.cross_cutting_min_lots < 1 {
            return Err("settings.cross_cutting_min_lots must be at least 1".into());
        }
        Ok(())
    }

    /// Every theme and sub-theme, in report order.
    pub fn codes(&self) -> Vec<Code<'_>> {
        let mut out = Vec::new();
        let mut order = 0;
        for t in &self.themes {
            order += 1;
            out.push(Code {
                code: &t.code,
                theme: &t.code,
                level: "theme",
                label: &t.label,
                definition: &t.definition,
                stage: &t.stage,
                section: &t.section,
                order,
                explains: &t.explains,
            });
            for s in &t.subthemes {
                order += 1;
                out.push(Code {
                    code: &s.code,
                    theme: &t.code,
                    level: "subtheme",
                    label: &s.label,
                    definition: &s.definition,
                    stage: &t.stage,
                    section: s.section.as_deref().unwrap_or(&t.section),
                    order,
                    explains: &s.explains,
                });
            }
        }
        out
    }

    /// The sub-theme with this code.
    pub fn subtheme(&self, code: &str) -> Option<(&Theme, &Subtheme)> {
        self.themes
            .iter()
            .find_map(|t| t.subthemes.iter().find(|s| s.code == code).map(|s| (t, s)))
    }

    /// The interview type with this code.
    pub fn interview_type(&self, code: &str) -> Option<&InterviewType> {
        self.interview_types.iter().find(|t| t.code == code)
    }

    /// Sub-themes a type's matrix charts, in order.
    pub fn subthemes_for(&self, interview_type: &str) -> Vec<(&Theme, &Subtheme)> {
        self.themes
            .iter()
            .flat_map(|t| t.subthemes.iter().map(move |s| (t, s)))
            .filter(|(_, s)| s.types.iter().any(|x| x == interview_type))
            .collect()
    }
}
