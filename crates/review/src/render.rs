//! A check as Markdown (for people and pull requests) or JSON (for tools).

use std::fmt::Write;

use crate::check::{CheckReport, Status};

/// Escapes a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
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
    let _ = writeln!(out, "## Summary by data source\n");
    let _ = writeln!(
        out,
        "| source | figures | match | mismatch | missing | erratum | not reproducible |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut sources: Vec<_> = report
        .summary
        .iter()
        .filter(|(s, _)| s.as_str() != "total")
        .collect();
    sources.extend(report.summary.get_key_value("total"));
    for (source, t) in sources {
        let _ = writeln!(
            out,
            "| {source} | {} | {} | {} | {} | {} | {} |",
            t.figures, t.matched, t.mismatched, t.missing, t.errata, t.not_reproducible
        );
    }
    let failures: Vec<_> = report.figures.iter().filter(|f| f.status.fails()).collect();
    let _ = writeln!(out, "\n## Failures ({})\n", failures.len());
    if failures.is_empty() {
        let _ = writeln!(out, "None: every reproducible figure matches.");
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
    let _ = writeln!(out, "\n## Every figure\n");
    let _ = writeln!(
        out,
        "| id | where | measures | published | reproduced | status |"
    );
    let _ = writeln!(out, "| --- | --- | --- | ---: | ---: | --- |");
    for f in &report.figures {
        let status = match (f.status, &f.detail) {
            (Status::Match, _) | (_, None) => f.status.as_str().to_string(),
            (s, Some(d)) if s == Status::NotReproducible || s == Status::Erratum => {
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
    out
}

/// The check as pretty JSON.
pub fn to_json(report: &CheckReport) -> String {
    // A report is plain data: serialising it cannot fail.
    serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
}
