//! Figures the configuration determines: a period, a cut-off, a band edge, a contract value the
//! documents state and `pipeline/` holds as a parameter. `check` compares the two, so a
//! parameter changed without the documents (or a statement misread) is a `config mismatch`.
//!
//! A figure names its parameter with `config = { file = "study.toml", key = "…" }`. The key is
//! a path into that TOML file: names separated by `.`; `name[k=v,…]` picks the one table of the
//! array `name` whose fields equal those values (text compared as written); `name[*]` takes
//! every table of it, and then `reduce = "min"`, `"max"` or `"count"` makes one number of them. `offset`
//! is added to a number before comparing (a band up to but not including £200 is printed
//! "£100-199": `offset = -1`). Dates compare as the unit prints them: `month` as `YYYY-MM`,
//! `date` as `YYYY-MM-DD`; numbers as printed; under `other`, text as written (a list of one
//! value is that value).

use std::path::Path;

use crate::register::{
    ConfigRef, Figure, Published, Reduce, key_text, number, printed, printed_range,
};

/// The configured value as the figure's unit prints it, or why there is none.
pub(crate) fn configured(pipeline: &Path, f: &Figure, c: &ConfigRef) -> Result<String, String> {
    let path = pipeline.join(&c.file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let doc: toml::Value = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let found = lookup(&doc, &c.key).map_err(|e| format!("{}, key `{}`: {e}", c.file, c.key))?;
    let one = match (found.as_slice(), c.reduce) {
        ([one], None) => (*one).clone(),
        (_, None) => {
            return Err(format!(
                "{}, key `{}` selects {} values: give `reduce`",
                c.file,
                c.key,
                found.len()
            ));
        }
        (many, Some(Reduce::Count)) => toml::Value::Integer(many.len() as i64),
        ([], Some(_)) => return Err(format!("{}, key `{}` selects nothing", c.file, c.key)),
        (many, Some(r)) => {
            let numbers: Vec<f64> = many
                .iter()
                .map(|v| number(v).ok_or_else(|| format!("`{v}` is not a number")))
                .collect::<Result<_, _>>()?;
            let pick = match r {
                Reduce::Min => numbers.iter().copied().fold(f64::INFINITY, f64::min),
                Reduce::Max => numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                Reduce::Count => numbers.len() as f64,
            };
            toml::Value::Float(pick)
        }
    };
    let offset = c.offset.unwrap_or(0.0);
    match (&f.value, &one) {
        // A published range against a configured pair: `[6, 10]` prints as the figure's does.
        (Published::Range(_), toml::Value::Array(pair)) if pair.len() == 2 => {
            printed_range(&pair[0], &pair[1], f.unit, offset)
        }
        (Published::Range(_), other) => {
            return Err(format!(
                "{}, key `{}` is `{other}`, not a pair [first, last] for a range",
                c.file, c.key
            ));
        }
        _ => printed(&one, f.unit, offset),
    }
    .map_err(|e| format!("{}, key `{}`: {e}", c.file, c.key))
}

/// The values at `key` in `doc` (one, unless a `[*]` selects several).
fn lookup<'v>(doc: &'v toml::Value, key: &str) -> Result<Vec<&'v toml::Value>, String> {
    let mut here: Vec<&toml::Value> = vec![doc];
    for segment in split(key)? {
        let (name, filter) = match segment.split_once('[') {
            Some((name, rest)) => (
                name,
                Some(
                    rest.strip_suffix(']')
                        .ok_or_else(|| format!("`{segment}`: `[` without `]`"))?,
                ),
            ),
            None => (segment, None),
        };
        let mut next = Vec::new();
        for v in here {
            let child = v
                .get(name)
                .ok_or_else(|| format!("no `{name}` (in `{segment}`)"))?;
            match filter {
                None => next.push(child),
                Some(f) => {
                    let tables = child
                        .as_array()
                        .ok_or_else(|| format!("`{name}` is not an array of tables"))?;
                    if f == "*" {
                        next.extend(tables.iter());
                        continue;
                    }
                    let wanted: Vec<(&str, &str)> = f
                        .split(',')
                        .map(|kv| {
                            kv.split_once('=')
                                .map(|(k, v)| (k.trim(), v.trim()))
                                .ok_or_else(|| format!("`{kv}` is not `field=value`"))
                        })
                        .collect::<Result<_, _>>()?;
                    let matching: Vec<&toml::Value> = tables
                        .iter()
                        .filter(|t| {
                            wanted
                                .iter()
                                .all(|(k, v)| t.get(*k).is_some_and(|x| key_text(x) == *v))
                        })
                        .collect();
                    match matching.as_slice() {
                        [one] => next.push(one),
                        [] => return Err(format!("no `{name}` has {f}")),
                        more => return Err(format!("{} `{name}` have {f}", more.len())),
                    }
                }
            }
        }
        here = next;
    }
    Ok(here)
}

/// `a.b[k=v.w].c` → `a`, `b[k=v.w]`, `c`: dots inside brackets belong to the filter.
fn split(key: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in key.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => {
                out.push(&key[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(format!("`{key}`: `]` without `[`"));
        }
    }
    out.push(&key[start..]);
    if out.iter().any(|s| s.is_empty()) {
        return Err(format!("`{key}` has an empty name"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::Unit;

    #[test]
    fn a_key_finds_tables_by_their_fields_and_reduces_a_star() {
        let doc: toml::Value = toml::from_str(
            r#"
            [periods]
            cut = 2021-11-30
            [periods.by_lot]
            L2 = 2021-10-31
            [[band]]
            banding = "earnings"
            label = "£100 to £199"
            from = 100
            below = 200
            [[band]]
            banding = "hours"
            label = "35 hours or more"
            from = 35
            [[lot]]
            value = 173000
            [[lot]]
            value = 1053000
            "#,
        )
        .unwrap();
        let one = |k: &str| lookup(&doc, k).unwrap()[0].clone();
        assert_eq!(
            printed(&one("periods.cut"), Unit::Month, 0.0).unwrap(),
            "2021-11"
        );
        assert_eq!(
            printed(&one("periods.by_lot.L2"), Unit::Date, 0.0).unwrap(),
            "2021-10-31"
        );
        let edge = one("band[banding=earnings,label=£100 to £199].below");
        assert_eq!(printed(&edge, Unit::Gbp, -1.0).unwrap(), "199");
        assert_eq!(lookup(&doc, "lot[*].value").unwrap().len(), 2);
        assert!(
            lookup(&doc, "band[banding=age].from")
                .unwrap_err()
                .contains("no `band`")
        );
        assert!(
            lookup(&doc, "periods.nothing")
                .unwrap_err()
                .contains("no `nothing`")
        );
        assert!(
            lookup(&doc, "band[banding].from")
                .unwrap_err()
                .contains("field=value")
        );
    }
}
