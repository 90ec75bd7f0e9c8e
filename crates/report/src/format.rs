//! How the report writes numbers and dates: the template filters and functions.
//!
//! The report formats, it never computes: every percentage arrives as an exact ratio from a table
//! and is rounded here, once, the way the published report rounds.
//!
//! | in a template                        | gives                                   |
//! |--------------------------------------|-----------------------------------------|
//! | `{{ 3966 \| count }}`                  | `3,966`                                 |
//! | `{{ 0.3575 \| pct }}`                  | `36` (whole per cent, half away from 0) |
//! | `{{ 0.004 \| pct }}`                   | `<1` (some, but under half a per cent)  |
//! | `{{ 4123 \| over }}`                   | `over 4,000` (the report's "over" idiom)|
//! | `{{ "2018-06-01" \| month }}`          | `June 2018`                             |
//! | `{{ "2020-03-23" \| date }}`           | `23 March 2020`                         |
//! | `{{ compare(a, b, "more", "fewer", "as many") }}` | the word for a > b, a < b, a = b |
//!
//! A missing value (null in the table) prints as `–`, the usual mark for "not available".

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};

/// What a missing number prints as.
pub const MISSING: &str = "–";

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

pub(crate) fn is_missing(v: &Value) -> bool {
    v.is_none() || v.is_undefined()
}

pub(crate) fn number(v: &Value, filter: &str) -> Result<f64, Error> {
    f64::try_from(v.clone()).map_err(|_| {
        invalid(format!(
            "`{filter}` formats numbers, not {} `{v}`",
            v.kind()
        ))
    })
}

fn whole(v: &Value, filter: &str) -> Result<i64, Error> {
    if let Ok(i) = i64::try_from(v.clone()) {
        return Ok(i);
    }
    let f = number(v, filter)?;
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Ok(f as i64)
    } else {
        Err(invalid(format!(
            "`{filter}` formats whole numbers; `{v}` has a fraction (a ratio wants `pct`)"
        )))
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A cell disclosure control hid: printed as it is by every format filter.
pub(crate) fn is_suppressed(v: &Value) -> bool {
    v.as_str() == Some(crate::disclosure::SUPPRESSED)
}

/// The marker, as printed text (not escaped as Markdown: it is the report's own notation).
pub(crate) fn suppressed() -> Value {
    Value::from_safe_string(crate::disclosure::SUPPRESSED.to_string())
}

/// Filter `count`: a whole number with thousands separators.
pub fn count(v: Value) -> Result<Value, Error> {
    if is_missing(&v) {
        return Ok(Value::from(MISSING));
    }
    if is_suppressed(&v) {
        return Ok(suppressed());
    }
    Ok(Value::from_safe_string(thousands(whole(&v, "count")?)))
}

/// Filter `pct`: a ratio as a whole per cent. Halves round away from zero, as the report's
/// tables do; a ratio that is above zero but rounds to zero prints `<1`, as in Table 4-3.
pub fn pct(v: Value) -> Result<Value, Error> {
    if is_missing(&v) {
        return Ok(Value::from(MISSING));
    }
    if is_suppressed(&v) {
        return Ok(suppressed());
    }
    let ratio = number(&v, "pct")?;
    if !ratio.is_finite() {
        return Err(invalid(format!("`pct` of a non-finite ratio `{v}`")));
    }
    // Snap to a millionth of a per cent first, so 0.145 (stored as 0.14499999…) rounds to 15.
    let per_cent = ((ratio * 100.0) * 1e6).round() / 1e6;
    let rounded = per_cent.round();
    if rounded == 0.0 && per_cent > 0.0 {
        return Ok(Value::from_safe_string("<1".into()));
    }
    Ok(Value::from_safe_string(thousands(rounded as i64)))
}

/// Filter `over`: a count rounded down to its leading digit, as the report writes "over 4,000"
/// for 4,123. Below ten, or when nothing is rounded off, the exact count.
pub fn over(v: Value) -> Result<Value, Error> {
    if is_missing(&v) {
        return Ok(Value::from(MISSING));
    }
    if is_suppressed(&v) {
        return Ok(suppressed());
    }
    let n = whole(&v, "over")?;
    if n < 10 {
        return Ok(Value::from_safe_string(thousands(n)));
    }
    let step = 10_i64.pow(n.ilog10());
    let floor = n / step * step;
    let text = if floor == n {
        thousands(n)
    } else {
        format!("over {}", thousands(floor))
    };
    Ok(Value::from_safe_string(text))
}

fn ymd(v: &Value, filter: &str) -> Result<(i32, usize, u32), Error> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid(format!("`{filter}` formats an ISO date, not `{v}`")))?;
    let parts: Vec<&str> = s.split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            match (y.parse::<i32>(), m.parse::<usize>(), d.parse::<u32>()) {
                (Ok(y), Ok(m), Ok(d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => {
                    Some((y, m, d))
                }
                _ => None,
            }
        }
        _ => None,
    };
    parsed.ok_or_else(|| invalid(format!("`{filter}`: `{s}` is not a YYYY-MM-DD date")))
}

/// Filter `sentence`: the first letter upper case, the rest as written. minijinja's
/// `capitalize` lowers the rest, which turns "two in five of the Hardest to Help group" into
/// "…the hardest to help group".
pub fn sentence(v: Value) -> Value {
    let Some(text) = v.as_str() else {
        return v;
    };
    let mut chars = text.chars();
    let out = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => String::new(),
    };
    if v.is_safe() {
        Value::from_safe_string(out)
    } else {
        Value::from(out)
    }
}

/// Filter `month`: `2018-06-01` → `June 2018`.
pub fn month(v: Value) -> Result<Value, Error> {
    if is_missing(&v) {
        return Ok(Value::from(MISSING));
    }
    let (y, m, _) = ymd(&v, "month")?;
    Ok(Value::from(format!("{} {y}", MONTHS[m - 1])))
}

/// Filter `date`: `2020-03-23` → `23 March 2020`.
pub fn date(v: Value) -> Result<Value, Error> {
    if is_missing(&v) {
        return Ok(Value::from(MISSING));
    }
    let (y, m, d) = ymd(&v, "date")?;
    Ok(Value::from(format!("{d} {} {y}", MONTHS[m - 1])))
}

/// Function `compare(a, b, above, below, same)`: the word for how `a` stands to `b`, so prose
/// like "more than" / "fewer than" follows the data.
pub fn compare(
    a: Value,
    b: Value,
    above: Value,
    below: Value,
    same: Value,
) -> Result<Value, Error> {
    // Which of two numbers is larger says something about a hidden one: suppressed too.
    if is_suppressed(&a) || is_suppressed(&b) {
        return Ok(suppressed());
    }
    let (x, y) = (number(&a, "compare")?, number(&b, "compare")?);
    Ok(if x > y {
        above
    } else if x < y {
        below
    } else {
        same
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Result<Value, Error>) -> String {
        v.unwrap().to_string()
    }

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(s(count(Value::from(3966))), "3,966");
        assert_eq!(s(count(Value::from(1_234_567))), "1,234,567");
        assert_eq!(s(count(Value::from(619))), "619");
        assert_eq!(s(count(Value::from(0))), "0");
        assert_eq!(s(count(Value::from(()))), MISSING);
        assert!(count(Value::from(0.5)).is_err());
    }

    #[test]
    fn percentages_round_like_the_report() {
        // Table 2-1: 557 / 3,966 = 14.04% → 14; 1,418 / 3,966 = 35.75% → 36.
        assert_eq!(s(pct(Value::from(557.0 / 3966.0))), "14");
        assert_eq!(s(pct(Value::from(1418.0 / 3966.0))), "36");
        // A half rounds up, even when the float sits just below it.
        assert_eq!(s(pct(Value::from(0.145))), "15");
        assert_eq!(s(pct(Value::from(0.125))), "13");
        // Table 4-3: 17 of 3,594 is under half a per cent but not none.
        assert_eq!(s(pct(Value::from(17.0 / 3594.0))), "<1");
        assert_eq!(s(pct(Value::from(0.0))), "0");
        assert_eq!(s(pct(Value::from(1.06))), "106");
    }

    #[test]
    fn over_rounds_down_to_the_leading_digit() {
        assert_eq!(s(over(Value::from(4123))), "over 4,000");
        assert_eq!(s(over(Value::from(4000))), "4,000");
        assert_eq!(s(over(Value::from(11))), "over 10");
        assert_eq!(s(over(Value::from(7))), "7");
    }

    #[test]
    fn sentence_raises_only_the_first_letter() {
        assert_eq!(
            s(Ok(sentence(Value::from(
                "two in five of the Hardest to Help group"
            )))),
            "Two in five of the Hardest to Help group"
        );
        assert_eq!(s(Ok(sentence(Value::from("")))), "");
    }

    #[test]
    fn dates_read_as_words() {
        assert_eq!(s(month(Value::from("2018-06-01"))), "June 2018");
        assert_eq!(s(date(Value::from("2020-03-23"))), "23 March 2020");
        assert!(month(Value::from("23/03/2020")).is_err());
    }

    #[test]
    fn compare_picks_the_word() {
        let w = |a: i64, b: i64| {
            s(compare(
                Value::from(a),
                Value::from(b),
                Value::from("more"),
                Value::from("fewer"),
                Value::from("as many"),
            ))
        };
        assert_eq!(w(3, 2), "more");
        assert_eq!(w(2, 3), "fewer");
        assert_eq!(w(2, 2), "as many");
    }
}
