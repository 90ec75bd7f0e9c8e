//! The template lint: no number is typed into a template.
//!
//! Every number the report prints comes from a table through a filter; a digit typed into prose
//! is a number that no query produced and no run can change. The lint allows digits only where
//! they name something rather than measure it:
//!
//! - Markdown heading lines (`## 2.2 Programme engagement`);
//! - table, figure, annex, box, section and chapter ids (`Table 2-1`, `Figure 2-1`,
//!   `Table A-16`, `section 2.3`);
//! - template names (`notices.j2`), HTML heading tags (`<h2>`), everything inside the HTML
//!   `<head>` (charset, viewport, CSS lengths) and inside template comments `{# … #}`.
//!
//! Anything else, in prose or inside `{{ … }}` (where a literal would be arithmetic), is a finding.

use std::path::Path;

/// One digit where no number may be typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintFinding {
    /// Template name (path under the templates folder, `/`-separated).
    pub template: String,
    /// 1-based line.
    pub line: usize,
    /// The line, trimmed.
    pub text: String,
}

impl std::fmt::Display for LintFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: a number typed into the template (take it from a table through a filter): {}",
            self.template, self.line, self.text
        )
    }
}

/// Words after which digits are an id, not a quantity.
const ID_PREFIXES: [&str; 13] = [
    "Table ",
    "Table A-",
    "Figure ",
    "Figure A-",
    "Annex ",
    "Box ",
    "Section ",
    "section ",
    "Chapter ",
    "chapter ",
    "<h",
    "</h",
    ".j",
];

/// Lints every template under `dir`.
pub fn lint_templates(dir: &Path) -> crate::Result<Vec<LintFinding>> {
    let mut findings = Vec::new();
    for (name, source) in crate::load_templates(dir)? {
        findings.extend(lint_template(&name, &source));
    }
    Ok(findings)
}

/// Lints one template's source.
pub fn lint_template(name: &str, source: &str) -> Vec<LintFinding> {
    let visible = blank_out(&blank_out(source, "{#", "#}"), "<head", "</head>");
    let mut findings = Vec::new();
    for (i, line) in visible.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if has_typed_number(line) {
            let original = source.lines().nth(i).unwrap_or(line);
            findings.push(LintFinding {
                template: name.to_string(),
                line: i + 1,
                text: original.trim().to_string(),
            });
        }
    }
    findings
}

/// Replaces everything from `open` to `close` (inclusive) with spaces, keeping line breaks so
/// line numbers still point at the source.
fn blank_out(source: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find(open) {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find(close)
            .map_or(rest.len(), |e| start + e + close.len());
        out.extend(
            rest[start..end]
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' }),
        );
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn has_typed_number(line: &str) -> bool {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            if !ID_PREFIXES.iter().any(|p| line[..i].ends_with(p)) {
                return true;
            }
            // Skip the whole id: `2-1`, `2.2`, `A-16`.
            while i < bytes.len()
                && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b'-')
            {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(source: &str) -> Vec<usize> {
        lint_template("t.md.j2", source)
            .into_iter()
            .map(|f| f.line)
            .collect()
    }

    #[test]
    fn ids_headings_comments_and_css_pass() {
        let ok = "## 2.2 Programme engagement\n\
                  See Table 2-1, Figure 2-1, Table A-16 and section 2.3.\n\
                  {# 36 per cent in the published report #}\n\
                  <head><meta charset=\"utf-8\">\n\
                  <style>body { max-width: 40em }</style></head><h2>Heading</h2>\n\
                  {% include \"sections/a.md.j2\" %}\n\
                  {{ row.pct | pct }} per cent\n";
        assert_eq!(lines(ok), Vec::<usize>::new());
    }

    #[test]
    fn typed_numbers_are_found() {
        let bad = "made up 36 per cent\n\
                   ok line\n\
                   {{ (row.pct * 100) | round }}\n\
                   over 4,000 residents\n\
                   Table 2-1 has 4 rows\n";
        assert_eq!(lines(bad), vec![1, 3, 4, 5]);
    }
}
