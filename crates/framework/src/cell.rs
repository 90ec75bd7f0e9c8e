//! The charting convention of a matrix cell.
//!
//! A cell is the researcher's summary of what one interview said on one sub-theme. Two marks,
//! both optional, are typed into it as evaluators do in Excel or NVivo framework matrices:
//!
//! - **valence** at the very start: `(+)` the interviewee describes it as a facilitator, `(-)`
//!   as a barrier, `(+/-)` both (also `(±)`); no mark: descriptive;
//! - **quote references** anywhere: `[Q-PT-014]`, a bracketed id beginning with `Q` and without
//!   spaces, naming a row of the workbook's `quotes` sheet. Other brackets (`[inaudible]`) stay
//!   text.

/// How an interviewee framed what the cell charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Valence {
    /// Helped (`(+)`).
    Facilitator,
    /// Hindered (`(-)`).
    Barrier,
    /// Both (`(+/-)`).
    Mixed,
    /// Descriptive, no mark.
    Neutral,
}

impl Valence {
    /// Name in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Valence::Facilitator => "facilitator",
            Valence::Barrier => "barrier",
            Valence::Mixed => "mixed",
            Valence::Neutral => "neutral",
        }
    }

    /// The mark a researcher types.
    pub fn mark(self) -> &'static str {
        match self {
            Valence::Facilitator => "(+)",
            Valence::Barrier => "(-)",
            Valence::Mixed => "(+/-)",
            Valence::Neutral => "",
        }
    }
}

/// A cell split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCell {
    /// Valence mark.
    pub valence: Valence,
    /// The summary without the marks, whitespace collapsed.
    pub summary: String,
    /// Quote ids referred to, in order.
    pub quotes: Vec<String>,
}

/// Splits a cell's text into valence, summary and quote references.
pub fn parse(text: &str) -> ParsedCell {
    let trimmed = text.trim();
    let marks = [
        ("(+/-)", Valence::Mixed),
        ("(+/–)", Valence::Mixed),
        ("(±)", Valence::Mixed),
        ("(+)", Valence::Facilitator),
        ("(-)", Valence::Barrier),
        ("(–)", Valence::Barrier),
    ];
    let (valence, rest) = marks
        .iter()
        .find_map(|(m, v)| trimmed.strip_prefix(m).map(|r| (*v, r)))
        .unwrap_or((Valence::Neutral, trimmed));
    let mut summary = String::new();
    let mut quotes = Vec::new();
    let mut rest = rest;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        let inner = &rest[open + 1..close];
        summary.push_str(&rest[..open]);
        if is_quote_id(inner) {
            quotes.push(inner.to_string());
        } else {
            summary.push_str(&rest[open..=close]);
        }
        rest = &rest[close + 1..];
    }
    summary.push_str(rest);
    let summary = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    ParsedCell {
        valence,
        summary,
        quotes,
    }
}

/// Whether bracketed text is a quote reference: `Q` then letters, digits, `-`, `_` or `.`.
pub fn is_quote_id(s: &str) -> bool {
    s.len() > 1
        && s.starts_with('Q')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A cell's text from its parts (the twin generator writes cells with it).
pub fn compose(valence: Valence, summary: &str, quotes: &[String]) -> String {
    let mut out = String::new();
    if valence != Valence::Neutral {
        out.push_str(valence.mark());
        out.push(' ');
    }
    out.push_str(summary);
    for q in quotes {
        out.push_str(&format!(" [{q}]"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_read_and_stripped() {
        let c = parse("(+) Advisor rang weekly [Q-PT-001] and [inaudible] helped [Q-PT-002]");
        assert_eq!(c.valence, Valence::Facilitator);
        assert_eq!(c.quotes, ["Q-PT-001", "Q-PT-002"]);
        assert_eq!(c.summary, "Advisor rang weekly and [inaudible] helped");
        assert_eq!(parse("(+/-) mixed").valence, Valence::Mixed);
        assert_eq!(parse("(-) none").valence, Valence::Barrier);
        assert_eq!(parse("plain (+) later").valence, Valence::Neutral);
        let round = compose(Valence::Barrier, "x y", &["Q1".into()]);
        assert_eq!(parse(&round).quotes, ["Q1"]);
        assert_eq!(parse(&round).valence, Valence::Barrier);
    }
}
