//! Report: the evaluation report's sections, rewritten from the run's tables.
//!
//! The published report states what the programme achieved — residents engaged, participants
//! embedded against target, the make-up of the cohorts. This stage writes those sections again
//! from this run's numbers, with the same structure and wording, so a new extract gives a new
//! report and every figure in it can be traced to a table.
//!
//! **Reads** `<run>/tables/*.parquet` (and `tables/reference/*.parquet`) written by transform,
//! and the templates in `report-templates/`:
//! - `report.md.j2`: the report in Markdown; it includes the sections (`sections/*.md.j2`);
//! - `report.html.j2`: the HTML page (inline CSS, print stylesheet, running footer) around that
//!   Markdown turned into HTML ([`html`]: heading ids and the table of contents);
//! - `notices.j2`: wording shared by both, such as the synthetic-data notice.
//!
//! **Writes** `<run>/report/report.md` and `<run>/report/report.html`, the same text twice:
//! the HTML body is the Markdown converted by pulldown-cmark, so the two cannot drift apart and
//! the prose lives in one template; and `<run>/report/figures/<id>.svg`, each chart the templates
//! place. Output depends only on the tables and templates (no clock). [`write_pdf`] then prints
//! the HTML to `<run>/report/report.pdf` with headless Chromium when it is installed ([`pdf`]:
//! the one output whose bytes also depend on the Chromium build and fonts).
//!
//! **Never** computes a number: templates get table rows and format them with filters ([`format`]:
//! `count`, `pct`, `over`, `month`, `date`) and the `compare` function; a number printed without
//! a filter is a render error, and [`lint_templates`] fails any template with a typed-in number.
//! Output built from the synthetic twin carries a visible notice ([`RenderOptions::synthetic`]).
//!
//! Template functions: `table(name)` gives a table's rows (`table("participants_by_cohort")`,
//! `table("reference/periods")`); `row(table_or_rows, column=value, …)` gives the one row that
//! matches; `has_table(name)` says whether the run has the table (the Framework stage's tables
//! exist only when the run had interviews). Words that depend on numbers ("more likely", "below
//! target", "two in five") come from [`wording`], and so do the tests that let a template say
//! what a sparse extract lacks (`is nobody`, `is several`, `plural`); numbered captions and cross-references
//! (`table_caption`, `figure_caption`, `box_caption`, `ref`) from [`xref`], resolved in two
//! passes so that a reference may come before its caption and an unknown one fails the render.
//!
//! `chart(id)` draws a figure from the run's tables ([`charts`]; the ids are [`charts::CHARTS`]:
//! `claims_performance`, `characteristics`, `job_outcomes_by_cohort`,
//! `job_outcome_by_characteristic`, `sustained_13_by_characteristic`,
//! `progression_by_characteristic`, `cmo_3_1`, `enrolment_by_month`, `cohort_share_by_month`,
//! `how_heard_by_lockdown`, `cmo_4_4`, `cmo_4_5`, `cmo_4_6`). Call it on a line of its own:
//! `{{ chart("enrolment_by_month") }}`. In `report.md` it is a link to the chart's file,
//! `![caption](figures/enrolment_by_month.svg)`; in the HTML page (`html` true in the context)
//! the SVG inline, in a `<figure class="chart" id="chart-<id>">`. Every chart a template drew is
//! also written as `<run>/report/figures/<id>.svg`.
//!
//! **Entry point**: [`render`].
//!
//! ```no_run
//! use evalpipe_report::{render, RenderOptions};
//! use evalpipe_study::{RunLayout, Study};
//! use std::path::Path;
//! let study = Study::load(Path::new("pipeline")).unwrap();
//! // A run folder where ingest and transform have run on the embedded twin.
//! let layout = RunLayout::new("runs/twin");
//! let written = render(&study, &layout, Path::new("report-templates"),
//!                      &RenderOptions { synthetic: true, ..Default::default() }).unwrap();
//! assert!(written[0].ends_with("report/report.md"));
//! ```
#![warn(missing_docs)]

mod annex;
pub mod charts;
mod data;
pub mod disclosure;
pub mod format;
pub mod html;
mod lint;
pub mod pdf;
pub mod wording;
pub mod xref;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use evalpipe_study::{RunLayout, Study};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, context, escape_formatter};

pub use annex::{ANNEX_FILE, write_annex, write_annex_with};
pub use data::{protect, read_rows, rows_from_batches};
pub use lint::{LintFinding, lint_template, lint_templates};
pub use pdf::{PDF_FILE, Pdf, write_pdf};

/// The Markdown report template, the entry point of the prose.
pub const MARKDOWN_TEMPLATE: &str = "report.md.j2";
/// The HTML page template, which wraps the converted Markdown.
pub const HTML_TEMPLATE: &str = "report.html.j2";

/// What stops a render. `Template` and `Render` are the template author's to fix (or, for a
/// missing table, transform's to run); `Internal` is an evalpipe bug.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The templates folder or a template file cannot be read.
    #[error("cannot read templates at {path}: {source}")]
    Templates {
        /// The folder or file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A template does not parse.
    #[error("template {template}: {message}")]
    Template {
        /// Template name.
        template: String,
        /// The parser's message, with line.
        message: String,
    },
    /// Rendering failed: a missing table or row, a number without a filter, an unknown name.
    #[error("rendering {template}: {message}")]
    Render {
        /// The template being rendered.
        template: String,
        /// What failed, with the template and line it failed in.
        message: String,
    },
    /// The annex workbook cannot be built.
    #[error("annex workbook {path}: {message}")]
    Annex {
        /// The workbook.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// Chromium could not print the PDF (it is installed, but failed).
    #[error("PDF {path}: {message}")]
    Pdf {
        /// The PDF.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// An output cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to render.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderOptions {
    /// The data is the synthetic twin (the CLI decides from the data folder's marker file):
    /// every output then opens with a notice that its figures are not the programme's.
    pub synthetic: bool,
    /// The run's disclosure decision ([`disclosure::decide_run`]) when the caller has made it
    /// for the annex too; `None`: the render makes it.
    pub disclosure: Option<disclosure::Decision>,
}

/// Renders the report from the run's tables: writes `<run>/report/report.md` and
/// `<run>/report/report.html` and returns their paths in that order.
pub fn render(
    study: &Study,
    layout: &RunLayout,
    templates_dir: &Path,
    opts: &RenderOptions,
) -> Result<Vec<PathBuf>> {
    let templates = load_templates(templates_dir)?;
    // A number typed into a template is a number no query produced: refused before rendering.
    let findings: Vec<String> = templates
        .iter()
        .flat_map(|(name, source)| lint_template(name, source))
        .map(|f| f.to_string())
        .collect();
    if let Some(first) = findings.first() {
        return Err(Error::Template {
            template: first.split(':').next().unwrap_or_default().to_string(),
            message: findings.join("\n"),
        });
    }
    let (env, xref) = environment(
        templates,
        layout,
        study.disclosure.min_count,
        opts.disclosure.clone(),
    )?;
    let study_value = context! {
        title => study.info.title.as_str(),
        commissioner => study.info.commissioner.as_str(),
        evaluators => study.info.evaluators.as_str(),
    };

    // First pass: where every caption lands, so tables and figures can be numbered by chapter
    // and a reference may come before its caption (`xref`).
    xref.begin_collect();
    let draft = render_template(
        &env,
        MARKDOWN_TEMPLATE,
        context! { study => study_value.clone(), synthetic => opts.synthetic, html => false },
    )?;
    xref.number(&draft).map_err(|message| Error::Render {
        template: MARKDOWN_TEMPLATE.to_string(),
        message,
    })?;
    xref.begin_resolve();
    let markdown = tidy_blank_lines(&render_template(
        &env,
        MARKDOWN_TEMPLATE,
        context! { study => study_value.clone(), synthetic => opts.synthetic, html => false },
    )?);
    // The HTML page shows the notice as a styled banner of its own, so the Markdown it converts
    // is rendered without it (`html`), otherwise the notice would appear twice.
    xref.begin_resolve();
    let body_markdown = render_template(
        &env,
        MARKDOWN_TEMPLATE,
        context! { study => study_value.clone(), synthetic => opts.synthetic, html => true },
    )?;
    // The page: title first, then the contents built from the headings, then the chapters.
    let page = html::page(&body_markdown);
    let toc: Vec<Value> = page
        .toc
        .iter()
        .map(|t| context! { level => t.level, id => t.id.as_str(), text => t.text.as_str() })
        .collect();
    let html = render_template(
        &env,
        HTML_TEMPLATE,
        context! {
            study => study_value,
            synthetic => opts.synthetic,
            body => Value::from_safe_string(format!("{}{}", page.front, page.chapters)),
            front => Value::from_safe_string(page.front),
            chapters => Value::from_safe_string(page.chapters),
            toc => toc,
        },
    )?;

    let dir = layout.report_dir();
    std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, text) in [("report.md", markdown), ("report.html", html)] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Collapses runs of blank lines to one: templates separate blocks generously (a macro's table,
/// a blank line, the next paragraph), and Markdown means the same by one blank line as by several.
fn tidy_blank_lines(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut blank = 0;
    for line in markdown.split_inclusive('\n') {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
    }
    out
}

/// Markdown to an HTML fragment: GitHub-style tables and footnotes, as the templates use.
pub fn markdown_to_html(markdown: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES);
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

/// Every `*.j2` file under `dir`, named by its `/`-separated path below it, sorted by name.
pub(crate) fn load_templates(dir: &Path) -> Result<Vec<(String, String)>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) -> Result<()> {
        let io = |source| Error::Templates {
            path: dir.to_path_buf(),
            source,
        };
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            let name = format!("{prefix}{file}");
            if path.is_dir() {
                walk(&path, &format!("{name}/"), out)?;
            } else if file.ends_with(".j2") {
                let source = std::fs::read_to_string(&path).map_err(|source| Error::Templates {
                    path: path.clone(),
                    source,
                })?;
                out.push((name, source));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    // Directory order is the file system's; sorted, every machine loads the same set the same way.
    out.sort();
    Ok(out)
}

/// Escaping for Markdown templates (`*.md.j2`): table values are text, never markup.
const MARKDOWN: &str = "markdown";

/// A template environment with the report's conventions, for any document evalpipe renders
/// from tables (the report, the dashboard decks): whitespace as written, strict undefined
/// names, Markdown or HTML escaping by template name, every number refused unless a filter
/// formats it, and the formatting filters (`count`, `pct`, `over`, `month`, `sentence`,
/// `date`) and wording filters, functions and tests that need no run.
pub fn formatting_environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    // Whitespace as written: block tags on their own line leave no blank line behind.
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| Error::Template {
            template: "(syntax)".into(),
            message: e.to_string(),
        })?;
    env.set_syntax(syntax);
    // A misspelt column is an error, not an empty cell in a published table.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        let name = name.strip_suffix(".j2").unwrap_or(name);
        if name.ends_with(".md") {
            AutoEscape::Custom(MARKDOWN.into())
        } else if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        // The report formats every number: a bare `{{ row.participants }}` would print however
        // the table stored it (`0.3575`, `557`), so it is refused.
        match value.kind() {
            ValueKind::Number => {
                return Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "the number `{value}` is printed without a filter; use `count`, `pct` \
                         or `over`"
                    ),
                ));
            }
            ValueKind::None => {
                return Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    "a missing (null) value is printed; test for it or pass it through a filter",
                ));
            }
            _ => {}
        }
        match state.auto_escape() {
            AutoEscape::Custom(name) if name == MARKDOWN => if value.is_safe() {
                out.write_str(&value.to_string())
            } else {
                out.write_str(&escape_markdown(&value.to_string()))
            }
            .map_err(|e| minijinja::Error::new(ErrorKind::WriteFailure, e.to_string())),
            _ => escape_formatter(out, state, value),
        }
    });

    env.add_filter("count", format::count);
    env.add_filter("pct", format::pct);
    env.add_filter("over", format::over);
    env.add_filter("month", format::month);
    env.add_filter("sentence", format::sentence);
    env.add_filter("date", format::date);
    env.add_function("compare", format::compare);
    env.add_function("compare_pct", wording::compare_pct);
    env.add_function("likelihood", wording::likelihood);
    env.add_function("sign", wording::sign);
    env.add_function("plural", wording::plural);
    env.add_filter("target_status", wording::target_status);
    env.add_filter("odds", wording::odds);
    env.add_filter("coef", wording::coef);
    env.add_filter("pvalue", wording::pvalue);
    env.add_filter("pct_size", wording::pct_size);
    env.add_filter("words", wording::words);
    env.add_filter("share_words", wording::share_words);
    env.add_filter("year", wording::year);
    env.add_test("significant", wording::significant);
    env.add_test("shown", wording::shown);
    env.add_test("nobody", wording::nobody);
    env.add_test("several", wording::several);
    Ok(env)
}

fn environment(
    templates: Vec<(String, String)>,
    layout: &RunLayout,
    min_count: u64,
    decision: Option<disclosure::Decision>,
) -> Result<(Environment<'static>, Arc<xref::Xref>)> {
    let mut env = formatting_environment()?;
    let tables = data::Tables::new(layout, min_count, decision);
    let charts = charts::Charts::new(Arc::clone(&tables), &layout.report_dir());
    let for_chart = Arc::clone(&charts);
    env.add_function("chart", move |state: &minijinja::State, id: &str| {
        for_chart.function(state, id)
    });
    let for_table = Arc::clone(&tables);
    env.add_function("table", move |name: &str| {
        for_table
            .get(name)
            .map_err(|m| minijinja::Error::new(ErrorKind::InvalidOperation, m))
    });
    let for_row = Arc::clone(&tables);
    env.add_function("row", move |source: Value, filters: Kwargs| {
        row(&for_row, source, filters)
    });
    let for_note = Arc::clone(&tables);
    // Called at the end of the report, after every section has read its tables.
    env.add_function("disclosure_note", move || for_note.disclosure_note());

    let tables_dir = layout.tables_dir();
    env.add_function("has_table", move |name: &str| {
        tables_dir.join(format!("{name}.parquet")).is_file()
    });
    // The level the report reads its regressions at, for the annex's methodology.
    env.add_global("significance_level", wording::ALPHA);
    let xref = Arc::new(xref::Xref::new(layout));
    xref::register(&mut env, &xref);

    for (name, source) in templates {
        env.add_template_owned(name.clone(), source)
            .map_err(|e| Error::Template {
                template: name,
                message: describe(&e),
            })?;
    }
    Ok((env, xref))
}

/// `row(source, column=value, …)`: the single row of `source` (a table name or a list of rows)
/// whose columns equal the given values. None or several is an error: a report sentence is about
/// one row, and silently picking the first would hide a duplicated key.
fn row(tables: &data::Tables, source: Value, filters: Kwargs) -> Result<Value, minijinja::Error> {
    let (label, rows) = match source.as_str() {
        Some(name) => (
            format!("table `{name}`"),
            tables
                .get(name)
                .map_err(|m| minijinja::Error::new(ErrorKind::InvalidOperation, m))?,
        ),
        None => ("the rows given".to_string(), source),
    };
    let keys: Vec<String> = filters.args().map(str::to_string).collect();
    let mut wanted = Vec::new();
    for k in &keys {
        wanted.push((k.clone(), filters.get::<Value>(k)?));
    }
    let mut found = Vec::new();
    for r in rows.try_iter()? {
        let mut all = true;
        for (k, v) in &wanted {
            if r.get_attr(k)? != *v {
                all = false;
                break;
            }
        }
        if all {
            found.push(r);
        }
    }
    let condition = wanted
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("{label}: {n} rows where {condition}, expected exactly one"),
        )),
    }
}

fn render_template(env: &Environment<'static>, name: &str, ctx: Value) -> Result<String> {
    let template = env.get_template(name).map_err(|e| Error::Render {
        template: name.to_string(),
        message: describe(&e),
    })?;
    template.render(ctx).map_err(|e| Error::Render {
        template: name.to_string(),
        message: describe(&e),
    })
}

/// A minijinja error with where it happened and its causes, on one line.
fn describe(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Backslash-escapes the characters that would turn text into Markdown markup (emphasis, table
/// cells, links, inline HTML, code).
pub(crate) fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '|' | '[' | ']' | '<' | '>' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
