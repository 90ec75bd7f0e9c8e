//! Words that depend on numbers: the template filters, functions and tests that let prose say
//! "more likely", "below target", "two in five" or "nine" only when the table says so.
//!
//! Every comparative word and spelled-out number in the report comes from here, chosen from
//! the table cells it describes, so the prose cannot contradict the tables beside it. Like the
//! format filters ([`crate::format`]) these never compute a new quantity: they compare two
//! cells, or a cell with the report's fixed reference points (one for an odds ratio, zero for
//! a change, 100 per cent for a target), at the precision the report prints them.
//!
//! | in a template | gives |
//! |---|---|
//! | `{{ compare_pct(a.rate, b.rate, "more likely", "less likely", "as likely") }}` | the word for a > b, a < b, or within [`SAME_WITHIN_POINTS`] |
//! | `{{ likelihood(row.odds_ratio, "more", "less", "as") }}` | the word for an odds ratio above, below or at 1.0 |
//! | `{{ sign(row.relative_change, "more", "fewer", "as many") }}` | the word for a change above, below or at zero |
//! | `{{ row.pct_of_target \| target_status }}` | `exceeded`, `met` or `below` (at whole per cent) |
//! | `{{ row.odds_ratio \| odds }}` | `1.8` (one decimal, as the report prints odds ratios) |
//! | `{{ row.b \| coef }}`, `{{ row.p \| pvalue }}` | `0.587`; `0.012` or `<0.001` |
//! | `{{ row.relative_change \| pct_size }}` | `17` for −0.17: the size of a change, its direction said by `sign` |
//! | `{{ 9 \| words }}` | `nine` (0–99 in words, larger numbers in figures) |
//! | `{{ 0.40 \| share_words }}` | `two in five`, `just over a quarter`, … (nearest simple fraction) |
//! | `{{ 0.40 \| share_words("participants") }}` | `two in five participants`, `a quarter of participants` |
//! | `{{ "2018-06-01" \| year }}` | `2018` |
//! | `selectattr("p", "significant")` | terms with p below [`ALPHA`] |
//! | `selectattr("rate", "shown")` | cells with a number (not suppressed, not missing) |
//! | `{% if row.n is nobody %}` | a count of no one: zero, or missing (a count over no rows) |
//! | `{% if lots is several %}` | a list of more than one item: something to compare or range over |
//! | `{{ plural(n, "job start", "job starts") }}` | the singular for exactly one, else the plural |
//!
//! A suppressed cell ([`crate::disclosure::SUPPRESSED`]) gives the marker, never a word: which
//! of two numbers is larger says something about a hidden one. A missing one (a rate of nobody)
//! gives the missing mark, `–`, as the format filters print it.

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};

use crate::format::{is_missing, is_suppressed, number, suppressed};

/// The significance level the report reads its regressions at ("significantly affected").
pub const ALPHA: f64 = 0.05;

/// Two percentages whose whole-per-cent values differ by at most this many points read as the
/// same ("as likely as": 41% and 40%, 48% and 49%, "about as likely": 63% and 65% in report
/// 2.3): a difference the report does not call a difference.
pub const SAME_WITHIN_POINTS: i64 = 2;

/// What a comparison with a missing (null) value prints: the filters' mark for "not available".
fn missing() -> Value {
    Value::from(crate::format::MISSING)
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// Rounds half away from zero after snapping to a millionth, so a stored 0.14499999… is 0.145.
fn round_to(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    let snapped = (x * scale * 1e6).round() / 1e6;
    snapped.round() / scale
}

fn per_cent(v: &Value, what: &str) -> Result<i64, Error> {
    Ok(round_to(number(v, what)? * 100.0, 0) as i64)
}

/// Function `compare_pct(a, b, above, below, same)`: how ratio `a` stands to ratio `b` as the
/// report prints them, whole per cent, a gap of at most [`SAME_WITHIN_POINTS`] reading as `same`.
pub fn compare_pct(
    a: Value,
    b: Value,
    above: Value,
    below: Value,
    same: Value,
) -> Result<Value, Error> {
    if is_suppressed(&a) || is_suppressed(&b) {
        return Ok(suppressed());
    }
    if is_missing(&a) || is_missing(&b) {
        return Ok(missing());
    }
    let (x, y) = (per_cent(&a, "compare_pct")?, per_cent(&b, "compare_pct")?);
    Ok(if (x - y).abs() <= SAME_WITHIN_POINTS {
        same
    } else if x > y {
        above
    } else {
        below
    })
}

/// Function `likelihood(odds_ratio, more, less, same)`: the word for an odds ratio above,
/// below or at 1.0 at the report's one decimal.
pub fn likelihood(or: Value, more: Value, less: Value, same: Value) -> Result<Value, Error> {
    if is_suppressed(&or) {
        return Ok(suppressed());
    }
    if is_missing(&or) {
        return Ok(missing());
    }
    let x = round_to(number(&or, "likelihood")?, 1);
    Ok(if x > 1.0 {
        more
    } else if x < 1.0 {
        less
    } else {
        same
    })
}

/// Function `sign(change, positive, negative, zero)`: the direction of a relative change at
/// whole per cent.
pub fn sign(change: Value, positive: Value, negative: Value, zero: Value) -> Result<Value, Error> {
    if is_suppressed(&change) {
        return Ok(suppressed());
    }
    if is_missing(&change) {
        return Ok(missing());
    }
    let x = per_cent(&change, "sign")?;
    Ok(match x.cmp(&0) {
        std::cmp::Ordering::Greater => positive,
        std::cmp::Ordering::Less => negative,
        std::cmp::Ordering::Equal => zero,
    })
}

/// Filter `target_status`: a share of target as `exceeded`, `met` or `below`, at whole per
/// cent (99.6% prints 100 and reads as met).
pub fn target_status(v: Value) -> Result<Value, Error> {
    if is_suppressed(&v) {
        return Ok(suppressed());
    }
    if is_missing(&v) {
        return Err(invalid(
            "`target_status` of a milestone without a target".into(),
        ));
    }
    let p = per_cent(&v, "target_status")?;
    Ok(Value::from(match p.cmp(&100) {
        std::cmp::Ordering::Greater => "exceeded",
        std::cmp::Ordering::Equal => "met",
        std::cmp::Ordering::Less => "below",
    }))
}

fn decimals(v: Value, places: usize, filter: &str) -> Result<Value, Error> {
    if is_missing(&v) {
        return Ok(Value::from(crate::format::MISSING));
    }
    if is_suppressed(&v) {
        return Ok(suppressed());
    }
    let x = round_to(number(&v, filter)?, places as i32);
    // No "-0.0": a value that rounds to zero has no sign.
    let x = if x == 0.0 { 0.0 } else { x };
    Ok(Value::from_safe_string(format!("{x:.places$}")))
}

/// Filter `odds`: an odds ratio at one decimal (`1.8`), as the report prints them.
pub fn odds(v: Value) -> Result<Value, Error> {
    decimals(v, 1, "odds")
}

/// Filter `coef`: a coefficient, standard error or Wald statistic at three decimals.
pub fn coef(v: Value) -> Result<Value, Error> {
    decimals(v, 3, "coef")
}

/// Filter `pvalue`: a p-value at three decimals, `<0.001` below that.
pub fn pvalue(v: Value) -> Result<Value, Error> {
    if !is_missing(&v) && !is_suppressed(&v) && number(&v, "pvalue")? < 0.0005 {
        return Ok(Value::from_safe_string("<0.001".into()));
    }
    decimals(v, 3, "pvalue")
}

/// Filter `pct_size`: the size of a relative change as a whole per cent (`17` for −0.17).
pub fn pct_size(v: Value) -> Result<Value, Error> {
    if is_missing(&v) || is_suppressed(&v) {
        return crate::format::pct(v);
    }
    crate::format::pct(Value::from(number(&v, "pct_size")?.abs()))
}

pub(crate) const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
pub(crate) const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// A whole number in words: 0–99 spelled out (`forty-two`), larger ones with separators.
pub fn number_words(n: i64) -> String {
    match n {
        0..=19 => UNITS[n as usize].to_string(),
        20..=99 => {
            let (t, u) = ((n / 10) as usize, (n % 10) as usize);
            if u == 0 {
                TENS[t].to_string()
            } else {
                format!("{}-{}", TENS[t], UNITS[u])
            }
        }
        _ => crate::format::thousands(n),
    }
}

/// Filter `words`: a count in words (`nine`), as prose writes small numbers.
pub fn words(v: Value) -> Result<Value, Error> {
    if is_missing(&v) {
        return Ok(Value::from(crate::format::MISSING));
    }
    if is_suppressed(&v) {
        return Ok(suppressed());
    }
    let x = number(&v, "words")?;
    if x.fract() != 0.0 {
        return Err(invalid(format!("`words` spells whole numbers, not `{v}`")));
    }
    Ok(Value::from(number_words(x as i64)))
}

/// The simple fractions prose uses, with their words.
const FRACTIONS: [(f64, &str); 13] = [
    (0.1, "one in ten"),
    (0.2, "one in five"),
    (0.25, "a quarter"),
    (1.0 / 3.0, "a third"),
    (0.4, "two in five"),
    (0.5, "half"),
    (0.6, "three in five"),
    (2.0 / 3.0, "two-thirds"),
    (0.75, "three-quarters"),
    (0.8, "four in five"),
    (0.9, "nine in ten"),
    (0.0, "none"),
    (1.0, "all"),
];

/// How close a share must be to a fraction to be called it without "just over" or "just under".
const FRACTION_EXACT: f64 = 0.015;

/// Filter `share_words`: a share as the nearest simple fraction, as prose puts it: `two in
/// five` (0.40), `just over a fifth`… (0.23 → `just over one in five`), `just under half`
/// (0.47). Shares below 5% say `fewer than one in twenty`; none and all are said only when exact.
///
/// With a noun, the share *of* it, in the grammar each fraction takes: `share_words("participants")`
/// gives "two in five participants" but "a quarter of participants", and "two in five of the
/// Hardest to Help group" for a noun with a determiner.
pub fn share_words(v: Value, noun: Option<String>) -> Result<Value, Error> {
    let words = share_words_alone(v)?;
    let Some(noun) = noun else {
        return Ok(words);
    };
    let marks = [crate::format::MISSING, crate::disclosure::SUPPRESSED];
    let Some(w) = words.as_str().filter(|w| !marks.contains(w)) else {
        // The suppressed or missing mark stands for the whole phrase's number.
        return Ok(Value::from_safe_string(format!("{words} of {noun}")));
    };
    let determiner = ["the ", "this ", "these ", "those ", "their ", "its "]
        .iter()
        .any(|d| noun.starts_with(d));
    // "two in five participants", "nearly all participants", but "a quarter of participants".
    let counts_people = w.contains(" in ") || w.ends_with("all");
    Ok(Value::from(if w == "none" && !determiner {
        format!("no {noun}")
    } else if counts_people && !determiner {
        format!("{w} {noun}")
    } else {
        format!("{w} of {noun}")
    }))
}

fn share_words_alone(v: Value) -> Result<Value, Error> {
    if is_missing(&v) {
        return Ok(Value::from(crate::format::MISSING));
    }
    if is_suppressed(&v) {
        return Ok(suppressed());
    }
    let x = number(&v, "share_words")?;
    if !(0.0..=1.0).contains(&x) {
        return Err(invalid(format!(
            "`share_words` describes a share between 0 and 1, not `{v}`"
        )));
    }
    if x == 0.0 {
        return Ok(Value::from("none"));
    }
    if x == 1.0 {
        return Ok(Value::from("all"));
    }
    if x < 0.05 {
        return Ok(Value::from("fewer than one in twenty"));
    }
    if x > 0.95 {
        return Ok(Value::from("nearly all"));
    }
    let (f, w) = FRACTIONS[..11]
        .iter()
        .copied()
        .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
        .unwrap_or((0.5, "half"));
    let d = x - f;
    Ok(Value::from(if d.abs() <= FRACTION_EXACT {
        format!("around {w}")
    } else if d < 0.0 {
        format!("just under {w}")
    } else {
        format!("just over {w}")
    }))
}

/// Filter `year`: `2018-06-01` → `2018`.
pub fn year(v: Value) -> Result<Value, Error> {
    if is_missing(&v) {
        return Ok(Value::from(crate::format::MISSING));
    }
    let s = v
        .as_str()
        .ok_or_else(|| invalid(format!("`year` reads an ISO date, not `{v}`")))?;
    match s.get(..4) {
        Some(y) if y.chars().all(|c| c.is_ascii_digit()) && s.len() == 10 => {
            Ok(Value::from(y.to_string()))
        }
        _ => Err(invalid(format!("`year`: `{s}` is not a YYYY-MM-DD date"))),
    }
}

/// Test `significant`: a p-value below [`ALPHA`] (a suppressed or missing one is not).
pub fn significant(v: Value) -> Result<bool, Error> {
    if is_missing(&v) || is_suppressed(&v) {
        return Ok(false);
    }
    Ok(number(&v, "significant")? < ALPHA)
}

/// Test `shown`: a cell with a number to print (not suppressed, not missing), so a template can
/// rank or range over the cells it can say something about.
pub fn shown(v: Value) -> bool {
    !is_missing(&v) && !is_suppressed(&v) && f64::try_from(v).is_ok()
}

/// Function `plural(count, one, many)`: the noun (or verb) for a count, `one` for exactly one and
/// `many` otherwise ("1 job start", "0 job starts", "[c] job starts": a hidden count may be one,
/// and the plural does not say it is).
pub fn plural(count: Value, one: Value, many: Value) -> Result<Value, Error> {
    if is_suppressed(&count) || is_missing(&count) {
        return Ok(many);
    }
    Ok(if number(&count, "plural")? == 1.0 {
        one
    } else {
        many
    })
}

/// Test `nobody`: a count of no one, zero or missing (a count over no rows is null), so a
/// template says "no participant in this extract …" instead of printing a rate of nobody. A
/// suppressed count is somebody: one to nine participants, never none.
pub fn nobody(v: Value) -> Result<bool, Error> {
    if is_suppressed(&v) {
        return Ok(false);
    }
    if is_missing(&v) {
        return Ok(true);
    }
    Ok(number(&v, "nobody")? == 0.0)
}

/// Test `several`: a list of more than one item, so prose says "ranged from … to …", "varied"
/// or "compared with" only when there is more than one lot, cohort or group to compare.
pub fn several(v: Value) -> Result<bool, Error> {
    v.len().map(|n| n > 1).ok_or_else(|| {
        invalid(format!(
            "`several` counts the items of a list, not {} `{v}` (add `| list`)",
            v.kind()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Result<Value, Error>) -> String {
        v.unwrap().to_string()
    }
    fn w(a: f64, b: f64) -> String {
        s(compare_pct(
            Value::from(a),
            Value::from(b),
            Value::from("more"),
            Value::from("less"),
            Value::from("as"),
        ))
    }

    #[test]
    fn percentages_compare_as_printed() {
        // Report 2.3.1: males 44% against females 39%; white 41% against minority 40%.
        assert_eq!(w(0.44, 0.39), "more");
        assert_eq!(w(0.41, 0.40), "as");
        assert_eq!(w(0.63, 0.65), "as");
        assert_eq!(w(0.65, 0.69), "less");
        assert_eq!(
            s(compare_pct(
                Value::from("[c]"),
                Value::from(0.5),
                Value::from("a"),
                Value::from("b"),
                Value::from("c")
            )),
            "[c]"
        );
    }

    #[test]
    fn odds_ratios_and_targets_read_at_printed_precision() {
        let l = |x: f64| {
            s(likelihood(
                Value::from(x),
                Value::from("more"),
                Value::from("less"),
                Value::from("as"),
            ))
        };
        assert_eq!(l(1.8), "more");
        assert_eq!(l(0.6), "less");
        assert_eq!(l(1.04), "as");
        assert_eq!(s(target_status(Value::from(1.06))), "exceeded");
        assert_eq!(s(target_status(Value::from(0.998))), "met");
        assert_eq!(s(target_status(Value::from(0.89))), "below");
        assert_eq!(s(odds(Value::from(1.7984))), "1.8");
        assert_eq!(s(odds(Value::from(2.002))), "2.0");
        assert_eq!(s(coef(Value::from(-0.0001))), "0.000");
        assert_eq!(s(pvalue(Value::from(0.0001))), "<0.001");
        assert_eq!(s(pvalue(Value::from(0.01223))), "0.012");
        assert_eq!(s(pct_size(Value::from(-0.17))), "17");
        assert!(significant(Value::from(0.049)).unwrap());
        assert!(!significant(Value::from(0.05)).unwrap());
    }

    #[test]
    fn numbers_and_shares_in_words() {
        assert_eq!(number_words(9), "nine");
        assert_eq!(number_words(42), "forty-two");
        assert_eq!(number_words(70), "seventy");
        assert_eq!(number_words(1022), "1,022");
        assert_eq!(
            s(share_words_alone(Value::from(0.40))),
            "around two in five"
        );
        assert_eq!(
            s(share_words_alone(Value::from(0.29))),
            "just over a quarter"
        );
        assert_eq!(
            s(share_words_alone(Value::from(0.31))),
            "just under a third"
        );
        assert_eq!(
            s(share_words_alone(Value::from(0.23))),
            "just under a quarter"
        );
        assert_eq!(
            s(share_words_alone(Value::from(0.218))),
            "just over one in five"
        );
        assert_eq!(s(share_words_alone(Value::from(0.5))), "around half");
        assert_eq!(s(share_words_alone(Value::from(0.0))), "none");
        let of = |x: f64, noun: &str| s(share_words(Value::from(x), Some(noun.into())));
        assert_eq!(of(0.40, "participants"), "around two in five participants");
        assert_eq!(of(0.25, "participants"), "around a quarter of participants");
        assert_eq!(of(0.97, "participants"), "nearly all participants");
        assert_eq!(
            of(0.45, "the Hardest to Help group"),
            "just over two in five of the Hardest to Help group"
        );
        assert_eq!(of(0.0, "participants"), "no participants");
        // The suppressed mark stands for the phrase's number, printed as the report's own
        // notation (not escaped as Markdown), with the noun after it.
        let hidden = share_words(Value::from("[c]"), Some("participants".into())).unwrap();
        assert_eq!(hidden.to_string(), "[c] of participants");
        assert!(hidden.is_safe());
        assert_eq!(s(year(Value::from("2018-06-01"))), "2018");
    }

    #[test]
    fn nobody_is_zero_or_missing_but_never_a_suppressed_count() {
        assert!(nobody(Value::from(0)).unwrap());
        assert!(nobody(Value::from(0.0)).unwrap());
        assert!(nobody(Value::from(())).unwrap());
        assert!(!nobody(Value::from(1)).unwrap());
        assert!(!nobody(Value::from(3966)).unwrap());
        // "[c]" hides one to nine participants.
        assert!(!nobody(Value::from("[c]")).unwrap());
        assert!(nobody(Value::from("Hardest to Help")).is_err());
    }

    #[test]
    fn plural_is_singular_for_exactly_one() {
        let p = |v: Value| {
            s(plural(
                v,
                Value::from("job start"),
                Value::from("job starts"),
            ))
        };
        assert_eq!(p(Value::from(1)), "job start");
        assert_eq!(p(Value::from(0)), "job starts");
        assert_eq!(p(Value::from(1123)), "job starts");
        assert_eq!(p(Value::from("[c]")), "job starts");
    }

    #[test]
    fn several_means_more_than_one() {
        let list = |n: usize| Value::from((0..n).map(Value::from).collect::<Vec<_>>());
        assert!(!several(list(0)).unwrap());
        assert!(!several(list(1)).unwrap());
        assert!(several(list(2)).unwrap());
        assert!(several(Value::from(2)).is_err());
    }
}
