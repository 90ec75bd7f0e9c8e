//! `explain`: where a number comes from — for a register figure or an output table, the query
//! (or model spec) that made it, the tables and input files upstream of it with their hashes,
//! its population and N, and where the report uses it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use evalpipe_study::{Manifest, RunLayout};
use serde::Serialize;

use crate::check::{FigureCheck, check};
use crate::register::{Figure, Register};
use crate::table::Table;
use crate::{Error, Result};

/// The ingest datasets and the extracts each is built from (file-name prefixes).
const DATASET_SOURCES: [(&str, &str); 3] = [
    ("participants", "mi_"),
    ("participant_answers", "mi_"),
    ("claims", "claims_"),
];

/// An input file of the run, from its manifest.
#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    /// Path inside the data folder.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// A template line that reads the table.
#[derive(Debug, Clone, Serialize)]
pub struct ReportUse {
    /// Template file, relative to the template folder.
    pub template: String,
    /// 1-based line.
    pub line: usize,
    /// The line, trimmed.
    pub text: String,
}

/// Everything `explain` knows about one subject.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// What was asked about.
    pub subject: String,
    /// The register figure, when the subject is one.
    pub figure: Option<Figure>,
    /// The figure's check in this run.
    pub check: Option<FigureCheck>,
    /// The table that holds the number.
    pub table: String,
    /// The file that made the table: a query or a model spec.
    pub made_by: String,
    /// The table's header as the catalogue records it (produces, grain, base…).
    pub header: BTreeMap<String, String>,
    /// The N of the figure's row, when the table has an `n` column.
    pub n: Option<String>,
    /// Every table upstream, nearest first.
    pub upstream: Vec<String>,
    /// The input extracts those tables come from, with hashes.
    pub inputs: Vec<InputFile>,
    /// Where the report's templates read the table.
    pub report_uses: Vec<ReportUse>,
}

/// Explains `subject` (a register id, a table name or `models/<id>/<table>`) in `run`.
pub fn explain(
    run: &Path,
    register: Option<&Register>,
    templates: &Path,
    subject: &str,
) -> Result<Explanation> {
    let figure = register.and_then(|r| r.figures.iter().find(|f| f.id == subject));
    let table = match figure {
        Some(f) => match &f.reproduce {
            Some(r) => r.table.clone(),
            None => {
                let message = match (&f.config, &f.not_reproducible) {
                    (Some(c), _) => format!(
                        "register figure `{subject}` is a parameter of the study configuration, \
                         not a number of the data: `{}` in {} (`evalpipe check` compares them)",
                        c.key, c.file
                    ),
                    (None, why) => format!(
                        "register figure `{subject}` is not reproducible from the data: {}",
                        why.as_deref().unwrap_or("no reason given")
                    ),
                };
                return Err(Error::Run {
                    path: run.to_path_buf(),
                    message,
                });
            }
        },
        None => subject.to_string(),
    };
    let catalog = read_catalog(run)?;
    // A published table or figure ("Table A-16", "Figure 4-1"): the table whose header says it
    // reproduces it.
    let table = if figure.is_none() && !catalog.contains_key(&table) {
        published_in(&catalog, subject).unwrap_or(table)
    } else {
        table
    };
    let is_model = table.starts_with("models/");
    if !is_model && !catalog.contains_key(&table) {
        return Err(Error::Run {
            path: run.to_path_buf(),
            message: format!(
                "`{subject}` is neither a register id, a table of this run nor a published table \
                 or figure one reproduces (see tables/catalog.csv)"
            ),
        });
    }
    let (made_by, header, reads) = if let Some(model) = table.strip_prefix("models/") {
        let id = model.split('/').next().unwrap_or(model);
        // A model reads the transform's participant tables (see crates/models).
        let reads = vec![
            "participant_outcomes".to_string(),
            "participant_categories".to_string(),
            "participant_actions".to_string(),
        ];
        (format!("pipeline/models/{id}.toml"), BTreeMap::new(), reads)
    } else {
        let row = &catalog[&table];
        let reads = row
            .get("reads")
            .map(|r| r.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let dir = if row.get("kind").map(String::as_str) == Some("staging") {
            "queries/staging"
        } else {
            "queries"
        };
        (format!("{dir}/{table}.sql"), row.clone(), reads)
    };
    let upstream = lineage(&catalog, reads);
    let manifest = read_manifest(run);
    let mut prefixes = BTreeSet::new();
    for (dataset, prefix) in DATASET_SOURCES {
        if upstream.iter().any(|t| t == dataset) {
            prefixes.insert(prefix);
        }
    }
    let inputs = manifest
        .into_iter()
        .filter(|f| prefixes.iter().any(|p| f.path.starts_with(p)))
        .collect();
    let check = match (figure, register) {
        (Some(f), Some(r)) => check(run, r)?.figures.into_iter().find(|c| c.id == f.id),
        _ => None,
    };
    let n = figure.and_then(|f| figure_n(run, f));
    Ok(Explanation {
        subject: subject.to_string(),
        figure: figure.cloned(),
        check,
        report_uses: report_uses(templates, &table),
        table,
        made_by,
        header,
        n,
        upstream,
        inputs,
    })
}

type Catalog = BTreeMap<String, BTreeMap<String, String>>;

/// The output table whose `produces` names `subject` as a whole word ("Table A-1" is not
/// "Table A-16"). A table that *is* the subject (`produces: report Figure 4-1 (…)`) comes before
/// one that only mentions it ("…, N = 3,922: Figure 4-1's participants"); then by table name.
fn published_in(catalog: &Catalog, subject: &str) -> Option<String> {
    let wanted = subject.trim().to_lowercase();
    let mut found: Vec<(bool, &String, &String)> = catalog
        .iter()
        .filter(|(_, row)| row.get("kind").map(String::as_str) == Some("output"))
        .filter_map(|(t, row)| row.get("produces").map(|p| (t, p)))
        .filter_map(|(t, produces)| {
            let p = produces.to_lowercase();
            // Where `wanted` stands as a whole word.
            let at: Vec<usize> = p
                .match_indices(&wanted)
                .map(|(i, _)| i)
                .filter(|i| {
                    !p[i + wanted.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                })
                .collect();
            let opening = if p.starts_with("report ") {
                "report ".len()
            } else {
                0
            };
            let is_it = at.contains(&opening);
            (!at.is_empty()).then_some((!is_it, t, produces))
        })
        .collect();
    found.sort();
    found.first().map(|(_, t, _)| (*t).clone())
}

fn read_catalog(run: &Path) -> Result<Catalog> {
    let path = RunLayout::new(run).catalog();
    let t = Table::read(&path).map_err(|message| Error::Run {
        path: path.clone(),
        message,
    })?;
    let mut out = BTreeMap::new();
    let Some(name) = t.column("table") else {
        return Ok(out);
    };
    for r in 0..t.rows() {
        let row: BTreeMap<String, String> = t
            .columns
            .iter()
            .enumerate()
            .filter_map(|(j, c)| t.text[j][r].clone().map(|v| (c.clone(), v)))
            .collect();
        if let Some(n) = &t.text[name][r] {
            out.insert(n.clone(), row);
        }
    }
    Ok(out)
}

/// Every table upstream of `reads`, breadth first (nearest first), through the catalogue.
fn lineage(catalog: &Catalog, reads: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut queue: std::collections::VecDeque<String> = reads.into();
    while let Some(t) = queue.pop_front() {
        if !seen.insert(t.clone()) {
            continue;
        }
        if let Some(row) = catalog.get(&t) {
            queue.extend(
                row.get("reads")
                    .map(|r| r.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                    .unwrap_or_default(),
            );
        }
        out.push(t);
    }
    out
}

fn read_manifest(run: &Path) -> Vec<InputFile> {
    Manifest::read(&RunLayout::new(run).manifest())
        .map(|m| {
            m.inputs
                .into_iter()
                .map(|f| InputFile {
                    path: f.path,
                    sha256: f.sha256,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn figure_n(run: &Path, f: &Figure) -> Option<String> {
    let r = f.reproduce.as_ref()?;
    let t = Table::read(&RunLayout::new(run).table(&r.table, "parquet")).ok()?;
    let rows = t.select(r.row.as_ref()?).ok()?;
    let j = t.column(f.n_column.as_deref().unwrap_or("n"))?;
    t.text[j][*rows.first()?].clone()
}

/// Template lines naming the table in quotes (`table("x")`, `row("x", …)`).
fn report_uses(templates: &Path, table: &str) -> Vec<ReportUse> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![templates.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "j2") {
                files.push(p);
            }
        }
    }
    files.sort();
    let needle = format!("\"{table}\"");
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if line.contains(&needle) {
                out.push(ReportUse {
                    template: f
                        .strip_prefix(templates)
                        .unwrap_or(&f)
                        .display()
                        .to_string(),
                    line: i + 1,
                    text: line.trim().to_string(),
                });
            }
        }
    }
    out
}

/// An explanation as Markdown.
pub fn explain_text(e: &Explanation) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", e.subject);
    if let Some(f) = &e.figure {
        let _ = writeln!(
            out,
            "Published figure: {} — {} ({}{}).",
            f.location,
            f.measures,
            crate::render::published_value(f),
            f.n.map(|n| format!(", N = {n}")).unwrap_or_default()
        );
        if let Some(q) = &f.quote {
            let _ = writeln!(out, "> {q}");
        }
        if let Some(c) = &e.check {
            let _ = writeln!(
                out,
                "\nIn this run: {} ({}){}",
                c.reproduced.as_deref().unwrap_or("no value"),
                c.status.as_str(),
                c.detail
                    .as_deref()
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default()
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Table `{}`, made by `{}`.", e.table, e.made_by);
    for key in ["produces", "grain", "base"] {
        if let Some(v) = e.header.get(key) {
            let _ = writeln!(out, "- {key}: {v}");
        }
    }
    if let Some(n) = &e.n {
        let _ = writeln!(out, "- N of the figure's row: {n}");
    }
    let _ = writeln!(
        out,
        "\nUpstream tables (nearest first): {}",
        e.upstream.join(", ")
    );
    let _ = writeln!(out, "\nInput extracts:");
    for i in &e.inputs {
        let _ = writeln!(out, "- {} sha256:{}", i.path, i.sha256);
    }
    let _ = writeln!(out, "\nIn the report:");
    if e.report_uses.is_empty() {
        let _ = writeln!(out, "- not read by any template (annex workbook only)");
    }
    for u in &e.report_uses {
        let _ = writeln!(out, "- {}:{}: {}", u.template, u.line, u.text);
    }
    out
}
