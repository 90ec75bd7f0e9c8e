//! What each alternative of the analytic decisions changes: per decision and option, the
//! published figures whose check status moves, the table cells that move most and the model
//! terms that cross p = 0.05 — read from the diff of the study's run against the same run
//! under that option (`evalpipe sensitivity`, which makes the runs).

use std::fmt::Write as _;

use serde::Serialize;

use crate::diff::{RunDiff, SignificanceFlip, StatusChange};

/// Cells listed per alternative, largest relative change first.
pub const TOP_CELLS: usize = 10;

/// The sensitivity of a run to every alternative of its decisions.
#[derive(Debug, Clone, Serialize)]
pub struct Sensitivity {
    /// The run made with the study's choices.
    pub base: std::path::PathBuf,
    /// Whether it was built from the synthetic twin.
    pub synthetic: bool,
    /// One per decision and option other than its choice, in `decisions.toml` order.
    pub alternatives: Vec<Alternative>,
}

/// One decision taken another way.
#[derive(Debug, Clone, Serialize)]
pub struct Alternative {
    /// The decision's id.
    pub decision: String,
    /// What it decides.
    pub title: String,
    /// The study's choice, in words.
    pub chosen: String,
    /// The option taken here: id and words.
    pub option: (String, String),
    /// The run made with it.
    pub run: std::path::PathBuf,
    /// Tables with a change.
    pub tables_changed: usize,
    /// Published figures whose check status changed.
    pub status_changes: Vec<StatusChange>,
    /// The cells that moved most: (table, row key, column, old, new, relative change).
    pub top_cells: Vec<MovedCell>,
    /// Model terms crossing p = 0.05.
    pub significance_flips: Vec<SignificanceFlip>,
}

/// A cell that moved.
#[derive(Debug, Clone, Serialize)]
pub struct MovedCell {
    /// Table.
    pub table: String,
    /// Row key.
    pub key: String,
    /// Column.
    pub column: String,
    /// Old and new values, as the tables hold them.
    pub values: (Option<String>, Option<String>),
    /// (new − old) / |old|; `None` where old is zero or not a number.
    pub rel: Option<f64>,
    /// new − old.
    pub abs: Option<f64>,
}

impl Alternative {
    /// The summary of `diff` (the study's run → the run under this option).
    pub fn from_diff(
        decision: &evalpipe_study::Decision,
        option: &evalpipe_study::DecisionOption,
        diff: &RunDiff,
    ) -> Alternative {
        let mut cells: Vec<MovedCell> = diff
            .tables
            .iter()
            .flat_map(|t| {
                t.changed.iter().map(|c| MovedCell {
                    table: t.table.clone(),
                    key: c.key.clone(),
                    column: c.column.clone(),
                    values: (c.old.clone(), c.new.clone()),
                    rel: c.rel,
                    abs: c.abs,
                })
            })
            .filter(|c| c.abs.is_some())
            .collect();
        // Largest relative change first (a change from zero counts as the largest), then the
        // largest absolute one; ties in table, key and column order so the list is stable.
        let size = |c: &MovedCell| c.rel.map_or(f64::INFINITY, f64::abs);
        cells.sort_by(|x, y| {
            size(y)
                .total_cmp(&size(x))
                .then(
                    y.abs
                        .unwrap_or(0.0)
                        .abs()
                        .total_cmp(&x.abs.unwrap_or(0.0).abs()),
                )
                .then_with(|| (&x.table, &x.key, &x.column).cmp(&(&y.table, &y.key, &y.column)))
        });
        cells.truncate(TOP_CELLS);
        Alternative {
            decision: decision.id.clone(),
            title: decision.title.clone(),
            chosen: decision.chosen().label.clone(),
            option: (option.id.clone(), option.label.clone()),
            run: diff.b.clone(),
            tables_changed: diff.tables.len(),
            status_changes: diff.status_changes.clone(),
            top_cells: cells,
            significance_flips: diff.significance_flips.clone(),
        }
    }
}

fn value(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(none)")
}

fn p(v: Option<f64>) -> String {
    v.map_or("–".into(), |p| format!("{p:.3}"))
}

/// The sensitivity as Markdown (also readable as text).
pub fn sensitivity_markdown(s: &Sensitivity) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Sensitivity to the analytic decisions\n");
    if s.synthetic {
        let _ = writeln!(
            out,
            "> **Synthetic data** — the run is of the generated twin, not the programme's \
             figures.\n"
        );
    }
    let _ = writeln!(
        out,
        "Each decision of `pipeline/decisions.toml` taken another way, against the run with \
         the study's choices ({}).\n",
        s.base.display()
    );
    let _ = writeln!(
        out,
        "| decision | alternative | tables changed | figures changing status | model terms crossing p = 0.05 |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: |");
    for a in &s.alternatives {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            a.decision,
            a.option.1,
            a.tables_changed,
            a.status_changes.len(),
            a.significance_flips.len()
        );
    }
    for a in &s.alternatives {
        let _ = writeln!(out, "\n## `{}`: {} — {}\n", a.decision, a.title, a.option.1);
        let _ = writeln!(
            out,
            "The study's choice: {}. Run: {}.\n",
            a.chosen,
            a.run.display()
        );
        let _ = writeln!(
            out,
            "**Published figures changing status ({})**\n",
            a.status_changes.len()
        );
        for c in &a.status_changes {
            let _ = writeln!(
                out,
                "- `{}`: {} ({}) → {} ({})",
                c.id,
                c.status.0.as_str(),
                value(&c.reproduced.0),
                c.status.1.as_str(),
                value(&c.reproduced.1)
            );
        }
        let _ = writeln!(out, "\n**Cells that move most**\n");
        if a.top_cells.is_empty() {
            let _ = writeln!(out, "None.");
        } else {
            let _ = writeln!(out, "| table | row | column | from | to | change |");
            let _ = writeln!(out, "| --- | --- | --- | ---: | ---: | ---: |");
            for c in &a.top_cells {
                let change = match c.rel {
                    Some(r) => format!("{:+.1}%", r * 100.0),
                    None => "from 0".into(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | `{}` | {} | {} | {change} |",
                    c.table,
                    c.key.replace('|', "\\|"),
                    c.column,
                    value(&c.values.0),
                    value(&c.values.1)
                );
            }
        }
        let _ = writeln!(
            out,
            "\n**Model terms crossing p = 0.05 ({})**\n",
            a.significance_flips.len()
        );
        for f in &a.significance_flips {
            let _ = writeln!(
                out,
                "- {} `{}`: p {} → {}",
                f.model,
                f.term,
                p(f.p.0),
                p(f.p.1)
            );
        }
    }
    out
}

/// The sensitivity as JSON.
pub fn sensitivity_json(s: &Sensitivity) -> String {
    let mut text =
        serde_json::to_string_pretty(s).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// The sensitivity as one self-contained HTML page (its Markdown, converted).
pub fn sensitivity_html(s: &Sensitivity) -> String {
    let md = sensitivity_markdown(s);
    let mut body = String::new();
    pulldown_cmark::html::push_html(
        &mut body,
        pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::ENABLE_TABLES),
    );
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Sensitivity \
         to the analytic decisions</title>\n<style>body{{font-family:sans-serif;max-width:70rem;\
         margin:2rem auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;\
         padding:.2rem .5rem}}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
}
