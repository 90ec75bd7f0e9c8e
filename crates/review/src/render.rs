//! A check as Markdown (for people and pull requests) or JSON (for tools).

use std::fmt::Write;

use crate::check::{CheckReport, ExtractChoice, RunExtract, Status};

/// Escapes a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `text` with its first letter in upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// The check as Markdown: summary by source, failures with their query and cell, the errata,
/// then every figure.
pub fn to_markdown(report: &CheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Published figures check\n");
    let _ = writeln!(out, "Run: `{}`\n", report.run.display());
    if report.synthetic {
        let _ = writeln!(
            out,
            "> **Synthetic data.** This run was built from the synthetic twin, not the \
             programme's real MI and claims.\n"
        );
    }
    if let Some(x) = &report.extract {
        extract_checked_as(&mut out, report, x);
    }
    let _ = writeln!(out, "## Summary by data source\n");
    let _ = writeln!(
        out,
        "| source | figures | match | mismatch | missing | erratum | not reproducible | other extract | config match | config mismatch |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let mut sources: Vec<_> = report
        .summary
        .iter()
        .filter(|(s, _)| s.as_str() != "total")
        .collect();
    sources.extend(report.summary.get_key_value("total"));
    for (source, t) in sources {
        let _ = writeln!(
            out,
            "| {source} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            t.figures,
            t.matched,
            t.mismatched,
            t.missing,
            t.errata,
            t.not_reproducible,
            t.other_extract,
            t.config_matched,
            t.config_mismatched
        );
    }
    let failures: Vec<_> = report.figures.iter().filter(|f| f.status.fails()).collect();
    let _ = writeln!(out, "\n## Failures ({})\n", failures.len());
    if failures.is_empty() {
        let _ = writeln!(
            out,
            "None: every reproducible figure matches, and the configuration holds every \
             parameter as printed."
        );
    }
    for f in failures {
        let _ = writeln!(
            out,
            "- **{}** `{}` ({}): {}",
            f.status.as_str(),
            f.id,
            f.location,
            f.detail.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        out,
        "\n## Errata in the published documents ({})\n",
        report.errata.len()
    );
    for e in &report.errata {
        let _ = writeln!(
            out,
            "- `{}` ({:?}, {}): {} {}",
            e.id, e.kind, e.location, e.description, e.arithmetic
        );
    }
    every_figure(&mut out, report);
    out
}

/// Which extract the run was checked as and how that was decided, so a reader can tell a
/// figure not judged from one that passed.
fn extract_checked_as(out: &mut String, report: &CheckReport, x: &RunExtract) {
    let how = match x.chosen_by {
        ExtractChoice::Manifest => format!(
            "from its MI files (latest `{}`)",
            x.run_mi_file.as_deref().unwrap_or("")
        ),
        ExtractChoice::Option => "as asked (`--extract`)".to_string(),
        ExtractChoice::Default => "the default".to_string(),
    };
    let _ = writeln!(out, "Extract: **{}** (MI to {}), {how}.\n", x.id, x.mi_to);
    if let Some(note) = &x.note {
        let heading = match x.chosen_by {
            ExtractChoice::Default => "Extract not recognised.",
            _ => "Extract chosen by hand.",
        };
        let _ = writeln!(out, "> **{heading}** {}.\n", capitalised(note));
    }
    let others = report.summary.get("total").map_or(0, |t| t.other_extract);
    if others > 0 {
        let _ = writeln!(
            out,
            "{others} figures were published from another extract: their run values are \
             shown, not judged (status `other extract`).\n"
        );
    }
}

/// Every figure as a table row; the detail is shown only for a status that is not a verdict
/// (a failure's detail is already under Failures).
fn every_figure(out: &mut String, report: &CheckReport) {
    let _ = writeln!(out, "\n## Every figure\n");
    let _ = writeln!(
        out,
        "| id | where | measures | published | reproduced | status |"
    );
    let _ = writeln!(out, "| --- | --- | --- | ---: | ---: | --- |");
    for f in &report.figures {
        let status = match (f.status, &f.detail) {
            (Status::Match, _) | (_, None) => f.status.as_str().to_string(),
            (s, Some(d))
                if matches!(
                    s,
                    Status::NotReproducible | Status::Erratum | Status::OtherExtract
                ) =>
            {
                format!("{}: {d}", s.as_str())
            }
            (s, Some(_)) => s.as_str().to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            f.id,
            cell(&f.location),
            cell(&f.measures),
            cell(&f.published),
            cell(f.reproduced.as_deref().unwrap_or("")),
            cell(&status)
        );
    }
}

/// The check as pretty JSON.
pub fn to_json(report: &CheckReport) -> String {
    // A report is plain data: serialising it cannot fail.
    serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
}

/// How a diff is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffStyle {
    /// Plain text for a terminal, with ANSI colours when `color` is set.
    Text {
        /// Colour old values red and new ones green.
        color: bool,
    },
    /// Markdown, to paste into a pull request.
    Markdown,
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// ` (+3, +2.1%)` for a numeric change, empty otherwise.
fn delta_text(c: &crate::diff::CellChange) -> String {
    let Some(d) = c.abs else {
        return String::new();
    };
    let sign = if d >= 0.0 { "+" } else { "" };
    match c.rel {
        Some(r) => format!(" ({sign}{}, {:+.1}%)", number(d), r * 100.0),
        None => format!(" ({sign}{})", number(d)),
    }
}

fn change_text(c: &crate::diff::CellChange) -> String {
    format!(
        "{} → {}{}",
        c.old.as_deref().unwrap_or("∅"),
        c.new.as_deref().unwrap_or("∅"),
        delta_text(c)
    )
}

/// What every part of a printed diff shares: the style's marks and the text so far.
struct DiffWriter {
    md: bool,
    color: bool,
    bullet: &'static str,
    out: String,
}

impl DiffWriter {
    fn new(style: DiffStyle) -> DiffWriter {
        let md = style == DiffStyle::Markdown;
        DiffWriter {
            md,
            color: matches!(style, DiffStyle::Text { color: true }),
            bullet: if md { "- " } else { "  " },
            out: String::new(),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn heading(&mut self, level: usize, s: &str) {
        let heading = if self.md {
            format!("{} {s}\n\n", "#".repeat(level))
        } else {
            format!(
                "{}\n{}\n",
                self.paint("1", s),
                "=".repeat(s.chars().count())
            )
        };
        self.out.push_str(&heading);
    }

    /// Which two runs, and what the reader is not shown.
    fn runs_compared(&mut self, d: &crate::diff::RunDiff) {
        let bullet = self.bullet;
        self.heading(1, "What changed between two runs");
        let _ = writeln!(
            self.out,
            "{bullet}A: `{}`\n{bullet}B: `{}`",
            d.a.display(),
            d.b.display()
        );
        if d.synthetic {
            let _ = writeln!(
                self.out,
                "{bullet}Synthetic data: built from the synthetic twin, not the real MI and claims."
            );
        }
        if d.min_abs > 0.0 || d.min_rel > 0.0 {
            let _ = writeln!(
                self.out,
                "{bullet}Hidden: numeric changes below {} absolute or {}% relative.",
                number(d.min_abs),
                number(d.min_rel * 100.0)
            );
        }
        self.out.push('\n');
    }

    /// How much changed, in counts, before any detail.
    fn summary(&mut self, d: &crate::diff::RunDiff, changed: &[&crate::diff::TableDiff]) {
        let bullet = self.bullet;
        self.heading(2, "Summary");
        if !d.any() {
            let _ = writeln!(
                self.out,
                "No change beyond the thresholds in {} tables.\n",
                d.tables_compared
            );
        }
        let cells: usize = changed.iter().map(|t| t.changed.len()).sum();
        let added: usize = changed.iter().map(|t| t.added.len()).sum();
        let removed: usize = changed.iter().map(|t| t.removed.len()).sum();
        let hidden: usize = d.tables.iter().map(|t| t.hidden).sum();
        let _ = writeln!(
            self.out,
            "{bullet}{} of {} tables changed: {cells} cells, {added} rows added, {removed} rows removed ({hidden} smaller changes hidden).",
            changed.len(),
            d.tables_compared
        );
        let _ = writeln!(
            self.out,
            "{bullet}{} changes in N; {} model terms changed significance; {} published figures changed check status.",
            d.n_changes.len(),
            d.significance_flips.len(),
            d.status_changes.len()
        );
        match d.framework.as_ref() {
            Some(f) if !f.any() => {
                let _ = writeln!(
                    self.out,
                    "{bullet}Framework coverage: no change ({} interviews).",
                    f.interviews.1
                );
            }
            Some(f) => self.framework_summary(f),
            None => {}
        }
        self.out.push('\n');
    }

    /// The Framework's changes in one line: interviews, theme cases and the themes that
    /// became or stopped being cross-cutting or divergent.
    fn framework_summary(&mut self, f: &crate::diff::FrameworkCoverage) {
        let flips = |list: &mut dyn Iterator<Item = bool>| {
            let (mut became, mut stopped) = (0, 0);
            for b in list {
                if b { became += 1 } else { stopped += 1 }
            }
            (became, stopped)
        };
        let cross = flips(&mut f.cross_cutting.iter().map(|c| c.became));
        let divergent = flips(&mut f.divergent.iter().map(|c| c.became));
        let _ = writeln!(
            self.out,
            "{}Framework coverage: {} → {} interviews ({} added, {} removed); cases changed for {} themes and sub-themes; {} became and {} stopped being cross-cutting; {} became and {} stopped being divergent.",
            self.bullet,
            f.interviews.0,
            f.interviews.1,
            f.interviews_added.len(),
            f.interviews_removed.len(),
            f.theme_cases.len(),
            cross.0,
            cross.1,
            divergent.0,
            divergent.1
        );
    }

    /// Model terms whose significance changed: the first thing an evaluator rereads.
    fn significance_flips(&mut self, d: &crate::diff::RunDiff) {
        if d.significance_flips.is_empty() {
            return;
        }
        self.heading(3, "Significance flips (p = 0.05)");
        for f in &d.significance_flips {
            let side = |p: Option<f64>| match p {
                Some(p) if p < crate::diff::ALPHA => "significant",
                Some(_) => "not significant",
                None => "no p",
            };
            let _ = writeln!(
                self.out,
                "{}{} {}: {} → {} (p {} → {}, odds ratio {} → {})",
                self.bullet,
                f.model,
                f.term,
                side(f.p.0),
                self.paint("1", side(f.p.1)),
                f.p.0.map_or("∅".into(), |p| format!("{p:.4}")),
                f.p.1.map_or("∅".into(), |p| format!("{p:.4}")),
                f.odds_ratio.0.map_or("∅".into(), |x| format!("{x:.2}")),
                f.odds_ratio.1.map_or("∅".into(), |x| format!("{x:.2}")),
            );
        }
        self.out.push('\n');
    }

    /// Published figures that now check differently.
    fn status_changes(&mut self, d: &crate::diff::RunDiff) {
        if d.status_changes.is_empty() {
            return;
        }
        self.heading(3, "Published figures whose check status changed");
        for s in &d.status_changes {
            let _ = writeln!(
                self.out,
                "{}`{}`: {} → {} (reproduced {} → {})",
                self.bullet,
                s.id,
                s.status.0.as_str(),
                self.paint("1", s.status.1.as_str()),
                s.reproduced.0.as_deref().unwrap_or("∅"),
                s.reproduced.1.as_deref().unwrap_or("∅")
            );
        }
        self.out.push('\n');
    }

    fn n_changes(&mut self, d: &crate::diff::RunDiff) {
        if d.n_changes.is_empty() {
            return;
        }
        self.heading(3, "Changes in N");
        for (table, c) in &d.n_changes {
            let _ = writeln!(
                self.out,
                "{}{table} [{}]: {}",
                self.bullet,
                c.key,
                change_text(c)
            );
        }
        self.out.push('\n');
    }

    /// The Framework's changes one by one: interviews, each theme's cases, and each theme
    /// that became or stopped being cross-cutting or divergent.
    fn framework_coverage(&mut self, f: &crate::diff::FrameworkCoverage) {
        let bullet = self.bullet;
        self.heading(3, "Framework coverage");
        for (what, ids) in [
            ("added", &f.interviews_added),
            ("removed", &f.interviews_removed),
        ] {
            if !ids.is_empty() {
                let _ = writeln!(self.out, "{bullet}interviews {what}: {}", ids.join(", "));
            }
        }
        for t in &f.theme_cases {
            let (old, new) = t.cases;
            // Printed as a cell change so a theme's cases read like any other changed count.
            let change = crate::diff::CellChange {
                key: t.code.clone(),
                column: "cases".into(),
                old: old.map(number),
                new: new.map(number),
                abs: old.zip(new).map(|(x, y)| y - x),
                rel: old
                    .zip(new)
                    .and_then(|(x, y)| (x != 0.0).then(|| (y - x) / x.abs())),
            };
            let _ = writeln!(
                self.out,
                "{bullet}cases of {} ({}, {}): {}",
                t.code,
                t.level,
                t.label,
                change_text(&change)
            );
        }
        let side = |became: bool| if became { "became" } else { "stopped being" };
        let count = |x: Option<f64>| x.map_or("∅".to_string(), number);
        for c in &f.cross_cutting {
            let _ = writeln!(
                self.out,
                "{bullet}{} ({}) {} cross-cutting: lots {} → {} (cross-cutting from {})",
                c.code,
                c.label,
                self.paint("1", side(c.became)),
                count(c.lots_present.0),
                count(c.lots_present.1),
                count(c.min_lots)
            );
        }
        for c in &f.divergent {
            let leans = if c.leans.is_empty() {
                String::new()
            } else {
                format!(": {}", c.leans.join("; "))
            };
            let _ = writeln!(
                self.out,
                "{bullet}{} ({}) {} divergent by {}{leans}",
                c.code,
                c.label,
                self.paint("1", side(c.became)),
                c.breakdown
            );
        }
        self.out.push('\n');
    }

    /// One changed table: rows only one run has, then each changed cell (a Markdown table
    /// for a pull request, coloured lines for a terminal).
    fn table_detail(&mut self, t: &crate::diff::TableDiff) {
        let bullet = self.bullet;
        self.heading(3, &t.table);
        if let Some(side) = &t.only_in {
            let _ = writeln!(self.out, "{bullet}only in run {}", side.to_uppercase());
        }
        if let Some(c) = &t.columns_changed {
            let _ = writeln!(self.out, "{bullet}columns {c}");
        }
        for k in &t.added {
            let _ = writeln!(self.out, "{bullet}{} {k}", self.paint("32", "+ row"));
        }
        for k in &t.removed {
            let _ = writeln!(self.out, "{bullet}{} {k}", self.paint("31", "- row"));
        }
        if self.md && !t.changed.is_empty() {
            let _ = writeln!(
                self.out,
                "\n| row | column | old → new |\n| --- | --- | --- |"
            );
            for c in &t.changed {
                let _ = writeln!(
                    self.out,
                    "| {} | {} | {} |",
                    cell(&c.key),
                    c.column,
                    cell(&change_text(c))
                );
            }
        } else {
            for c in &t.changed {
                let old = self.paint("31", c.old.as_deref().unwrap_or("∅"));
                let new = self.paint("32", c.new.as_deref().unwrap_or("∅"));
                let _ = writeln!(
                    self.out,
                    "{bullet}[{}] {}: {old} → {new}{}",
                    c.key,
                    c.column,
                    delta_text(c)
                );
            }
        }
        if t.hidden > 0 {
            let _ = writeln!(self.out, "{bullet}({} smaller changes hidden)", t.hidden);
        }
        self.out.push('\n');
    }
}

/// A diff as text or Markdown: the summary (what changed, where, how much), then detail.
pub fn diff_text(d: &crate::diff::RunDiff, style: DiffStyle) -> String {
    let mut w = DiffWriter::new(style);
    w.runs_compared(d);
    let changed: Vec<_> = d.tables.iter().filter(|t| t.any()).collect();
    w.summary(d, &changed);
    // What most often changes a conclusion comes first, cell-by-cell detail last.
    w.significance_flips(d);
    w.status_changes(d);
    w.n_changes(d);
    if let Some(f) = d.framework.as_ref().filter(|f| f.any()) {
        w.framework_coverage(f);
    }
    if !changed.is_empty() {
        w.heading(2, "Detail");
    }
    for t in changed {
        w.table_detail(t);
    }
    w.out
}

/// A diff as one self-contained HTML page.
pub fn diff_html(d: &crate::diff::RunDiff) -> String {
    let markdown = diff_text(d, DiffStyle::Markdown);
    let mut body = String::new();
    pulldown_cmark::html::push_html(
        &mut body,
        pulldown_cmark::Parser::new_ext(&markdown, pulldown_cmark::Options::ENABLE_TABLES),
    );
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>evalpipe diff</title>\n<style>\nbody {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 1.4; }}\ntable {{ border-collapse: collapse; }}\ntd, th {{ border: 1px solid #999; padding: 0.2rem 0.5rem; text-align: left; }}\ncode {{ background: #f2f2f2; }}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
}

/// A diff as pretty JSON.
pub fn diff_json(d: &crate::diff::RunDiff) -> String {
    // Plain data: serialising it cannot fail.
    serde_json::to_string_pretty(d).unwrap_or_default() + "\n"
}

/// A figure's printed value (`53`, `21–59`).
pub(crate) fn published_value(f: &crate::register::Figure) -> String {
    use crate::register::{Published, key_text};
    match &f.value {
        Published::One(v) => key_text(v),
        Published::Range([lo, hi]) => format!("{}–{}", key_text(lo), key_text(hi)),
    }
}
