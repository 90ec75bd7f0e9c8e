//! Numbered tables, figures and boxes, and the references to them, resolved at render time.
//!
//! The published report numbers its tables and figures per chapter ("Table 2-1", "Figure 4-1")
//! and its annex tables with fixed A-numbers ("Table A-16"), and it shipped with "Error!
//! Reference source not found." where a reference had lost its target. Here a template captions
//! a table with `{{ table_caption("lots", "Overview of the lots") }}` and refers to it anywhere,
//! before or after, with `{{ ref("lots") }}`; a reference to an id that no caption defines fails
//! the render, naming the template and line.
//!
//! | in a template                               | gives                                  |
//! |---------------------------------------------|----------------------------------------|
//! | `{{ table_caption("lots", "The lots") }}`   | `**Table 1-1 The lots**`               |
//! | `{{ figure_caption("claims_performance", "Progress") }}` | `**Figure 2-1 Progress**` |
//! | `{{ box_caption("partners", "Partners") }}` | `**Box 3-1 Partners**`                 |
//! | `{{ ref("lots") }}`                         | `Table 1-1`                            |
//!
//! **Numbering.** The chapter is the leading number of the nearest Markdown heading above the
//! caption (`## 2 Performance…`, `### 2.3.1 Which groups…` are both chapter 2); tables, figures
//! and boxes are counted separately within a chapter, in document order. Under the `## Annex`
//! heading a table keeps the A-number of the published table it reproduces: the catalogue
//! (`tables/catalog`, the `produces` of each query's header: "report Table A-16 (…)") for a
//! table captioned with its table name, and each model's `published_table` (`tables/models/<id>/
//! summary`) for a model captioned `models/<id>`; an annex table that reproduces none takes the
//! lowest A-number no published table has (the report's annex starts at A-3, so, …).
//!
//! **Two passes.** Numbers depend on where captions end up, so [`crate::render`] renders the
//! Markdown twice: the first pass ([`Xref::begin_collect`]) records each caption and prints a
//! marker in its place; [`Xref::number`] reads the markers and the headings of that draft and
//! fixes every label; the second pass ([`Xref::begin_resolve`]) prints captions and references
//! with their labels, and an unknown reference is an error there, where minijinja knows its line.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use minijinja::value::Value;
use minijinja::{Error, ErrorKind, State};

use evalpipe_study::RunLayout;

/// Marks a caption's place in the first pass's draft: open, the caption's index, close
/// (private-use characters, which no table or template text contains).
const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// What a caption numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Table,
    Figure,
    Box,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Table => "Table",
            Kind::Figure => "Figure",
            Kind::Box => "Box",
        }
    }
}

#[derive(Debug)]
struct Caption {
    id: String,
    kind: Kind,
    /// The template that captioned it (for errors found after the pass).
    template: String,
}

#[derive(Debug, Default)]
struct Passes {
    resolving: bool,
    /// First pass: every caption, in call order.
    captions: Vec<Caption>,
    /// Ids captioned so far in the current pass, with the template (a second caption is an error).
    seen: BTreeMap<String, String>,
    /// After [`Xref::number`]: id → label ("Table 2-1").
    labels: BTreeMap<String, String>,
}

/// The cross-reference registry of one render.
#[derive(Debug)]
pub(crate) struct Xref {
    /// Table name (or `models/<id>`) → the A-number it reproduces ("A-16").
    annex: BTreeMap<String, String>,
    passes: Mutex<Passes>,
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

impl Xref {
    /// A registry for a run: the annex numbers come from its catalogue and model summaries
    /// (either may be absent, as in a run of a few hand-made tables; then no table has one).
    pub(crate) fn new(layout: &RunLayout) -> Xref {
        Xref::with_annex(annex_numbers(layout))
    }

    pub(crate) fn with_annex(annex: BTreeMap<String, String>) -> Xref {
        Xref {
            annex,
            passes: Mutex::new(Passes::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Passes> {
        // A poisoned lock only means a template call panicked; the registry is still consistent.
        self.passes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the first pass: captions are recorded, references print a placeholder.
    pub(crate) fn begin_collect(&self) {
        let mut p = self.lock();
        *p = Passes::default();
    }

    /// Starts a resolving pass (after [`Xref::number`]); may be called for several renders.
    pub(crate) fn begin_resolve(&self) {
        let mut p = self.lock();
        p.resolving = true;
        p.seen.clear();
    }

    /// Numbers the captions of the first pass's `draft` from its headings and markers.
    /// Fails on a caption outside a numbered chapter or the annex, or two captions that would
    /// print the same label.
    pub(crate) fn number(&self, draft: &str) -> Result<(), String> {
        let mut p = self.lock();
        let mut chapter: Option<String> = None;
        let mut counters: BTreeMap<(String, Kind), usize> = BTreeMap::new();
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        let mut owner: BTreeMap<String, String> = BTreeMap::new();
        let reserved: BTreeSet<u32> = self.annex.values().filter_map(|a| a_number(a)).collect();
        let mut free_a = (1..).filter(move |n| !reserved.contains(n));
        for line in draft.lines() {
            if let Some((level, text)) = heading(line) {
                if let Some(n) = leading_number(text) {
                    chapter = Some(n);
                } else if text.starts_with("Annex") {
                    chapter = Some("A".to_string());
                } else if level <= 2 {
                    chapter = None;
                }
            }
            let mut rest = line;
            while let Some(start) = rest.find(MARK_OPEN) {
                let after = &rest[start + MARK_OPEN.len_utf8()..];
                let Some(end) = after.find(MARK_CLOSE) else {
                    break;
                };
                let index: usize = after[..end]
                    .parse()
                    .map_err(|_| "a caption marker was garbled (an evalpipe bug)".to_string())?;
                rest = &after[end + MARK_CLOSE.len_utf8()..];
                let Some(c) = p.captions.get(index) else {
                    return Err("a caption marker names no caption (an evalpipe bug)".into());
                };
                let label = match chapter.as_deref() {
                    None => {
                        return Err(format!(
                            "{}: {} caption `{}` is outside a numbered chapter (put it under a \
                             heading such as `## 2 …` or `## Annex`)",
                            c.template,
                            c.kind.word().to_lowercase(),
                            c.id
                        ));
                    }
                    Some("A") if c.kind == Kind::Table => match self.annex.get(&c.id) {
                        Some(a) => format!("Table {a}"),
                        None => format!("Table A-{}", free_a.next().unwrap_or_default()),
                    },
                    Some(ch) => {
                        let n = counters.entry((ch.to_string(), c.kind)).or_default();
                        *n += 1;
                        format!("{} {ch}-{n}", c.kind.word())
                    }
                };
                if let Some(other) = owner.insert(label.clone(), c.id.clone()) {
                    return Err(format!(
                        "{}: captions `{other}` and `{}` would both be {label}",
                        c.template, c.id
                    ));
                }
                labels.insert(c.id.clone(), label);
            }
        }
        p.labels = labels;
        Ok(())
    }

    fn caption(&self, state: &State, kind: Kind, id: &str, title: &str) -> Result<Value, Error> {
        if id.is_empty() {
            return Err(invalid("a caption needs an id".into()));
        }
        let mut p = self.lock();
        if let Some(first) = p.seen.insert(id.to_string(), state.name().to_string()) {
            return Err(invalid(format!(
                "caption id `{id}` is used twice (first in {first})"
            )));
        }
        if !p.resolving {
            let index = p.captions.len();
            p.captions.push(Caption {
                id: id.to_string(),
                kind,
                template: state.name().to_string(),
            });
            return Ok(Value::from_safe_string(format!(
                "{MARK_OPEN}{index}{MARK_CLOSE}"
            )));
        }
        let label = p.labels.get(id).ok_or_else(|| {
            invalid(format!(
                "caption `{id}` was not printed in the first pass, so it has no number"
            ))
        })?;
        if !label.starts_with(kind.word()) {
            return Err(invalid(format!(
                "caption `{id}` changed kind between passes (an evalpipe bug)"
            )));
        }
        Ok(Value::from_safe_string(format!(
            "**{label} {}**",
            crate::escape_markdown(title)
        )))
    }

    /// Function `ref(id)`: the label of the caption `id`, wherever it is.
    pub(crate) fn reference(&self, id: &str) -> Result<Value, Error> {
        let p = self.lock();
        if !p.resolving {
            // The target may come later in the document: numbered after this pass.
            return Ok(Value::from_safe_string("(reference)".into()));
        }
        match p.labels.get(id) {
            Some(label) => Ok(Value::from_safe_string(label.clone())),
            None => {
                let known: Vec<&str> = p.labels.keys().map(String::as_str).collect();
                let hint = near(id, &known)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                Err(invalid(format!(
                    "unresolved reference: no table, figure or box has the id `{id}`{hint}"
                )))
            }
        }
    }
}

/// Registers `table_caption`, `figure_caption`, `box_caption` and `ref`.
pub(crate) fn register(env: &mut minijinja::Environment<'static>, xref: &std::sync::Arc<Xref>) {
    for (name, kind) in [
        ("table_caption", Kind::Table),
        ("figure_caption", Kind::Figure),
        ("box_caption", Kind::Box),
    ] {
        let x = std::sync::Arc::clone(xref);
        env.add_function(name, move |state: &State, id: &str, title: &str| {
            x.caption(state, kind, id, title)
        });
    }
    let x = std::sync::Arc::clone(xref);
    env.add_function("ref", move |id: &str| x.reference(id));
}

/// `(level, text)` of an ATX heading line.
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    if (1..=6).contains(&level) && line[level..].starts_with(' ') {
        Some((level, line[level..].trim()))
    } else {
        None
    }
}

/// The chapter of a numbered heading: `2.3.1 Which groups` → `2`.
fn leading_number(text: &str) -> Option<String> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let next = text[digits.len()..].chars().next();
    (!digits.is_empty() && matches!(next, None | Some(' ') | Some('.'))).then_some(digits)
}

/// `A-16` → 16.
fn a_number(label: &str) -> Option<u32> {
    label.strip_prefix("A-")?.parse().ok()
}

/// The first `Table A-<n> (` in a catalogue `produces` line: the annex table a query reproduces
/// ("report section 2.3 and Table A-16 (job outcome rate …)"); a mention in passing ("with Table
/// A-4's N") is not one.
pub fn produced_annex_table(produces: &str) -> Option<String> {
    let mut rest = produces;
    while let Some(i) = rest.find("Table A-") {
        let after = &rest[i + "Table ".len()..];
        let digits: String = after["A-".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let tail = &after["A-".len() + digits.len()..];
        if !digits.is_empty() && tail.starts_with(" (") {
            return Some(format!("A-{digits}"));
        }
        rest = tail;
    }
    None
}

/// Table name → A-number, from the catalogue's output tables and the models' summaries.
fn annex_numbers(layout: &RunLayout) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let text = |r: &BTreeMap<String, Value>, k: &str| {
        r.get(k)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    if let Ok(rows) = crate::read_rows(&layout.table("catalog", "parquet")) {
        for r in rows.iter().filter(|r| text(r, "kind") == "output") {
            if let Some(a) = produced_annex_table(&text(r, "produces")) {
                out.insert(text(r, "table"), a);
            }
        }
    }
    let models = layout.tables_dir().join("models");
    if let Ok(entries) = std::fs::read_dir(&models) {
        let mut dirs: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            let (Some(id), Ok(rows)) = (
                dir.file_name().and_then(|f| f.to_str()).map(str::to_string),
                crate::read_rows(&dir.join("summary.parquet")),
            ) else {
                continue;
            };
            if let Some(a) = rows.first().map(|r| text(r, "published_table"))
                && a.starts_with("A-")
            {
                out.insert(format!("models/{id}"), a);
            }
        }
    }
    out
}

/// The known id closest to a misspelt one (a shared prefix of most of it), for the error.
fn near<'a>(id: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| {
            let common = k
                .chars()
                .zip(id.chars())
                .take_while(|(a, b)| a == b)
                .count();
            (common, *k)
        })
        .filter(|(common, _)| *common * 2 >= id.len().max(1))
        .max_by_key(|(common, _)| *common)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_numbers_are_read_from_what_a_query_produces() {
        assert_eq!(
            produced_annex_table("report section 2.3 and Table A-16 (job outcome rate)"),
            Some("A-16".into())
        );
        assert_eq!(
            produced_annex_table("report Table A-3 (participants by sex; section 2.2)"),
            Some("A-3".into())
        );
        assert_eq!(
            produced_annex_table("report section 2.2 (ages, with Table A-4's N)"),
            None
        );
        assert_eq!(produced_annex_table("report Table 2-1 (cohorts)"), None);
    }

    #[test]
    fn chapters_come_from_the_headings() {
        assert_eq!(heading("## 2 Performance"), Some((2, "2 Performance")));
        assert_eq!(heading("#nope"), None);
        assert_eq!(leading_number("2.3.1 Which groups"), Some("2".into()));
        assert_eq!(leading_number("12 Twelve"), Some("12".into()));
        assert_eq!(leading_number("2022 in review"), Some("2022".into()));
        assert_eq!(leading_number("Annex"), None);
        assert_eq!(leading_number("3D printing"), None);
    }
}
