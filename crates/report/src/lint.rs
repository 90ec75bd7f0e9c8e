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
//! - digits inside a name: a table, chart or variable name (`sustained_13_by_age`, `cmo_3_1`)
//!   or a code (`S13`), where the digit follows a letter or `_`;
//! - a keyword argument's string value, written without spaces around `=`
//!   (`row("job_outcome_by_age", category="16–24")`): a key naming a row, which can reach the
//!   prose only through the row it selects.
//!
//! Anything else, in prose or inside `{{ … }}` (where a literal would be arithmetic), is a finding.
//!
//! Numbers in words are numbers too: "two in every five", "nine lots", "a quarter", "twice as
//! likely" must come from a table through `words`, `share_words` or the like (crate
//! [`crate::wording`]), anywhere in a template but its comments. So must the comparative phrases
//! that only a number can decide ("more likely", "below target", "exceeded"), in the template's
//! prose; inside a tag they are the words a function chooses between. "one" is not checked: in
//! this report it is a pronoun or an article ("one provider"), and the fractions it could start
//! ("one in ten", "one third") are caught by their other word.
//!
//! Arithmetic is computing: inside a tag, an arithmetic operator outside a string (`+`, `*`,
//! `/`, `%`, a ` - ` between spaces) or one of minijinja's numeric filters (`sum`, `round`,
//! `abs`, `int`, `float`) is a finding. A template counts nothing but the rows of a table
//! (`| length`, for the lots of the study configuration).
//!
//! **Documented exceptions.** A fact from the programme's documents or the fieldwork that no
//! table holds ("three providers withdrew in 2019" — the contract history) may be written in
//! words on a line that says so in a comment, `{# fixed: <where the fact comes from> #}`. The
//! exception covers number words and comparatives on that line, never digits.

use std::path::Path;

/// One number (or number word, or comparative) where no number may be typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintFinding {
    /// Template name (path under the templates folder, `/`-separated).
    pub template: String,
    /// 1-based line.
    pub line: usize,
    /// The line, trimmed.
    pub text: String,
    /// What was found.
    pub kind: LintKind,
}

/// What a [`LintFinding`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LintKind {
    /// A digit that is not an id.
    Digit,
    /// A number written in words (`"nine"`, `"quarter"`, `"twice"`).
    NumberWord(String),
    /// A comparative phrase that only a number can decide (`"more likely"`).
    Comparative(String),
    /// Arithmetic inside a tag (`a - b`, `| sum`).
    Arithmetic(String),
}

impl std::fmt::Display for LintFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.kind {
            LintKind::Digit => {
                "a number typed into the template (take it from a table through a filter)"
                    .to_string()
            }
            LintKind::NumberWord(w) => format!(
                "the number word `{w}` typed into the template (take it from a table through \
                 `words` or `share_words`, or mark a documented fact with `{{# fixed: source #}}`)"
            ),
            LintKind::Arithmetic(w) => format!(
                "arithmetic (`{w}`) in a template: the report formats numbers, it never \
                 computes them (compute it in a query)"
            ),
            LintKind::Comparative(w) => format!(
                "`{w}` typed into the template (let a function such as `compare_pct`, \
                 `likelihood` or `target_status` choose it from the table, or mark a documented \
                 fact with `{{# fixed: source #}}`)"
            ),
        };
        write!(f, "{}:{}: {what}: {}", self.template, self.line, self.text)
    }
}

/// Number words beyond those [`crate::wording`] spells (two to ninety), lower case: sizes,
/// fractions and multiples.
const OTHER_NUMBER_WORDS: [&str; 19] = [
    "hundred",
    "hundreds",
    "thousand",
    "thousands",
    "million",
    "half",
    "halves",
    "third",
    "thirds",
    "quarter",
    "quarters",
    "fifth",
    "fifths",
    "tenth",
    "tenths",
    "twice",
    "double",
    "treble",
    "dozen",
];

/// Whether `word` (lower case) is a number word. "zero" and "one" are not (see the module
/// documentation for why "one" is not one); the rest of the units and tens are the words
/// `words` spells, so the lint and the filter cannot drift apart.
fn is_number_word(word: &str) -> bool {
    crate::wording::UNITS[2..].contains(&word)
        || crate::wording::TENS[2..].contains(&word)
        || OTHER_NUMBER_WORDS.contains(&word)
}

/// Comparative phrases a number decides, lower case.
const COMPARATIVES: [&str; 12] = [
    "more likely",
    "less likely",
    "as likely",
    "likelier",
    "below target",
    "above target",
    "on target",
    "below the target",
    "above the target",
    "exceeded",
    "surpassed",
    "the largest",
];

/// Words after which digits are an id, not a quantity.
const ID_PREFIXES: [&str; 14] = [
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
    // The pandemic's name.
    "Covid-",
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
    // The template's own prose: its text outside every tag.
    let prose = blank_out(&blank_out(&visible, "{{", "}}"), "{%", "%}");
    let originals: Vec<&str> = source.lines().collect();
    let mut findings = Vec::new();
    for (i, (line, prose_line)) in visible.lines().zip(prose.lines()).enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let original = originals.get(i).copied().unwrap_or(line);
        let mut found = |kind| {
            findings.push(LintFinding {
                template: name.to_string(),
                line: i + 1,
                text: original.trim().to_string(),
                kind,
            })
        };
        if has_typed_number(&blank_out_keys(line)) {
            found(LintKind::Digit);
        }
        if let Some(op) = arithmetic(line) {
            found(LintKind::Arithmetic(op));
        }
        if documented(original) {
            continue;
        }
        if let Some(w) = number_word(line) {
            found(LintKind::NumberWord(w));
        }
        let lower = prose_line.to_lowercase();
        if let Some(c) = COMPARATIVES
            .iter()
            .find(|c| contains_comparative(&lower, c))
        {
            found(LintKind::Comparative(c.to_string()));
        }
    }
    findings
}

/// The first arithmetic operator or numeric filter inside a tag of the line.
fn arithmetic(line: &str) -> Option<String> {
    const FILTERS: [&str; 5] = ["sum", "round", "abs", "int", "float"];
    let mut rest = line;
    while let Some(start) = rest.find("{{").or_else(|| rest.find("{%")).map(|a| {
        // The earlier of the two openers.
        match (rest.find("{{"), rest.find("{%")) {
            (Some(x), Some(y)) => x.min(y),
            _ => a,
        }
    }) {
        let close = if rest[start..].starts_with("{{") {
            "}}"
        } else {
            "%}"
        };
        let inner_start = start + 2;
        let end = rest[inner_start..]
            .find(close)
            .map_or(rest.len(), |e| inner_start + e);
        let inner = &rest[inner_start..end];
        // Code outside string literals.
        let mut code = String::with_capacity(inner.len());
        let mut quote: Option<char> = None;
        for c in inner.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => code.push(' '),
                None if c == '"' || c == '\'' => {
                    quote = Some(c);
                    code.push(' ');
                }
                None => code.push(c),
            }
        }
        // `{%-`/`-%}` and `{{-`/`-}}` trim markers are not minus signs, nor are the `{%+`/`+%}`
        // markers that keep the line break after a tag ending a line of prose plus signs.
        let code = code
            .trim_start_matches(['-', '+'])
            .trim_end_matches(['-', '+']);
        if let Some(op) = ["+", "*", "/", "%", " - "]
            .iter()
            .find(|op| code.contains(*op))
        {
            return Some(op.trim().to_string());
        }
        for part in code.split('|').skip(1) {
            let name: String = part
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if FILTERS.contains(&name.as_str()) {
                return Some(format!("| {name}"));
            }
        }
        rest = &rest[(end + close.len()).min(rest.len())..];
    }
    None
}

/// Whether a source line carries a documented exception, `{# fixed: <source> #}`.
fn documented(line: &str) -> bool {
    line.find("{# fixed:").is_some_and(|i| {
        let rest = &line[i + "{# fixed:".len()..];
        rest.find("#}")
            .is_some_and(|end| !rest[..end].trim().is_empty())
    })
}

/// The first number word of a line, as written.
fn number_word(line: &str) -> Option<String> {
    line.split(|c: char| !c.is_alphabetic())
        .find(|w| is_number_word(&w.to_lowercase()))
        .map(str::to_string)
}

/// Whether `phrase` occurs in `text` as whole words, other than after "times" ("{{ or | odds }}
/// times as likely": the ratio printed before it says how much, and which way).
fn contains_comparative(text: &str, phrase: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text[from..].find(phrase) {
        let start = from + i;
        let end = start + phrase.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let ratio = text[..start].trim_end().ends_with("times");
        if !ratio
            && !before.is_some_and(char::is_alphanumeric)
            && !after.is_some_and(char::is_alphanumeric)
        {
            return true;
        }
        from = start + phrase.len().max(1);
    }
    false
}

/// Blanks the string values of keyword arguments (`category="16–24"`: an identifier, `=` and a
/// quoted string, no spaces): keys naming a row, not quantities.
fn blank_out_keys(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let is_key = (c == '"' || c == '\'')
            && i >= 2
            && chars[i - 1] == '='
            && (chars[i - 2].is_alphanumeric() || chars[i - 2] == '_');
        if is_key && let Some(len) = chars[i + 1..].iter().position(|&q| q == c) {
            out.push(c);
            out.extend(std::iter::repeat_n(' ', len));
            out.push(c);
            i += len + 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
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
            // A digit inside a name (`sustained_13_by_age`, `cmo_3_1`, a code such as `S13`)
            // names something; so does an id after one of the prefixes.
            let in_name = i > 0 && (bytes[i - 1].is_ascii_alphabetic() || bytes[i - 1] == b'_');
            if !in_name && !ID_PREFIXES.iter().any(|p| line[..i].ends_with(p)) {
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
        let mut lines: Vec<usize> = lint_template("t.md.j2", source)
            .into_iter()
            .map(|f| f.line)
            .collect();
        lines.dedup();
        lines
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

    fn kinds(source: &str) -> Vec<(usize, LintKind)> {
        lint_template("t.md.j2", source)
            .into_iter()
            .map(|f| (f.line, f.kind))
            .collect()
    }

    #[test]
    fn number_words_and_comparatives_are_found() {
        let bad = "Two in every five participants enrolled later.\n\
                   Participants were more likely to find work.\n\
                   {{ compare_pct(a, b, \"more likely\", \"less likely\", \"as likely\") }}\n\
                   a quarter of them\n\
                   {{ table_caption(\"lots\", \"The nine lots\") }}\n\
                   {# fixed: contract history #}Three providers withdrew.\n\
                   {# fixed: #}Three providers withdrew.\n\
                   One provider said so; someone, once, on behalf of the quarterly forum.\n\
                   {{ x.odds_ratio | odds }} times as likely during Covid-19\n";
        assert_eq!(
            kinds(bad),
            vec![
                (1, LintKind::NumberWord("Two".into())),
                (2, LintKind::Comparative("more likely".into())),
                (4, LintKind::NumberWord("quarter".into())),
                (5, LintKind::NumberWord("nine".into())),
                (7, LintKind::NumberWord("Three".into())),
            ]
        );
    }

    #[test]
    fn arithmetic_in_tags_is_found() {
        let source = "{{ (a.rate - b.rate) | pct }}\n\
                      {{ rows | map(attribute=\"participants\") | sum | count }}\n\
                      {{ row(\"models/job_outcome/coefficients\", factor=\"age\").p | pvalue }}\n\
                      {%- if x -%} a - b {%- endif %}\n\
                      {{ x.rate | round }} and {{ table(\"sustained_13_by_age\") | length | count }}\n\
                      {% if x +%} kept {%+ endif +%}\n\
                      {{ a + b }} and {% if x %}{{ a }}{% endif +%}\n";
        assert_eq!(
            kinds(source),
            vec![
                (1, LintKind::Arithmetic("-".into())),
                (2, LintKind::Arithmetic("| sum".into())),
                (5, LintKind::Arithmetic("| round".into())),
                (7, LintKind::Arithmetic("+".into())),
            ]
        );
    }

    #[test]
    fn row_keys_may_have_digits_but_other_strings_may_not() {
        let source = "{{ row(\"job_outcome_by_age\", category=\"16–24\").rate | pct }}\n\
                      {{ \"36\" }} per cent\n\
                      {% set x = \"36\" %}\n\
                      {# fixed: a document #}Table 2-1 has 4 rows\n";
        assert_eq!(
            kinds(source),
            vec![
                (2, LintKind::Digit),
                (3, LintKind::Digit),
                (4, LintKind::Digit)
            ]
        );
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
