//! `pipeline/decisions.toml`: the analytic decisions the report leaves open, each with the
//! choice this study makes and the alternatives, so that a choice is configuration a reader can
//! see and a test can switch, not a line of SQL.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::{Error, Result};

/// The file, in the study configuration folder.
pub const DECISIONS_FILE: &str = "decisions.toml";

/// One analytic decision.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Stable id, as the SQL and `evalpipe sensitivity` name it.
    pub id: String,
    /// What is decided, in a sentence.
    pub title: String,
    /// The passage of the report that leaves it open, quoted with its section.
    pub passage: String,
    /// Why the default is chosen.
    pub why: String,
    /// What it changes: the tables and figures that depend on it.
    pub changes: String,
    /// The option this study takes (an `option` id).
    pub choice: String,
    /// The options, the default among them.
    #[serde(rename = "option")]
    pub options: Vec<DecisionOption>,
}

/// One way to decide.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionOption {
    /// Stable id.
    pub id: String,
    /// What it means, in words.
    pub label: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionsFile {
    #[serde(default, rename = "decision")]
    decisions: Vec<Decision>,
}

impl Decision {
    /// The option this study takes.
    pub fn chosen(&self) -> &DecisionOption {
        self.options
            .iter()
            .find(|o| o.id == self.choice)
            .expect("checked on loading")
    }
}

/// Reads `<root>/decisions.toml` (none: no decisions), checking ids are unique, every decision
/// has at least two options and its choice is one of them.
pub(crate) fn load(root: &Path) -> Result<Vec<Decision>> {
    let path = root.join(DECISIONS_FILE);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let file: DecisionsFile = crate::read_toml(&path)?;
    let invalid = |message: String| Error::Invalid {
        path: path.clone(),
        message,
    };
    let mut ids = BTreeSet::new();
    for d in &file.decisions {
        if !ids.insert(d.id.as_str()) {
            return Err(invalid(format!("decision `{}` is declared twice", d.id)));
        }
        let options: BTreeSet<&str> = d.options.iter().map(|o| o.id.as_str()).collect();
        if options.len() < 2 || options.len() != d.options.len() {
            return Err(invalid(format!(
                "decision `{}`: give at least two options, each id once",
                d.id
            )));
        }
        if !options.contains(d.choice.as_str()) {
            return Err(invalid(format!(
                "decision `{}`: choice `{}` is not one of its options ({})",
                d.id,
                d.choice,
                options.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(file.decisions)
}
