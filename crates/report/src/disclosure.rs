//! Statistical disclosure control of a published table: which cells to suppress.
//!
//! Primary suppression: a count of 1 to `min_count` − 1 participants (zero is shown: a
//! category nobody is in discloses nobody). Its row's percentages and rates go with it, since
//! a percentage and a published N give the count back. Secondary suppression: where a group of
//! rows adds up to its published N (a characteristic's categories, a lot's cohorts), one
//! suppressed cell could be recovered by subtraction, so the group's smallest other non-zero
//! count is suppressed as well. Groups that do not add up (multi-select options, milestones of
//! a funnel) need no second cell.

use std::collections::{BTreeMap, BTreeSet};

/// What the published table shows instead of a suppressed cell (the ONS convention).
pub const SUPPRESSED: &str = "[c]";

/// The note under a table with suppressed cells.
pub fn note(min_count: u64) -> String {
    format!(
        "{SUPPRESSED} marks a figure suppressed for disclosure control: fewer than {min_count} \
         participants, or a cell from which such a count could be worked out."
    )
}

/// A table as the suppression rule sees it: per column its name and, per row, the count
/// (integers) or nothing.
pub struct Grid<'a> {
    /// Column names.
    pub columns: &'a [String],
    /// `counts[j][r]`: the integer in column `j`, row `r`, if it is one.
    pub counts: Vec<Vec<Option<i64>>>,
    /// `text[j][r]`: the cell as text (to group rows by their label columns).
    pub text: Vec<Vec<Option<String>>>,
}

/// Integer columns that are not counts of people (a calendar year or quarter is a label: a
/// month of Q1 would otherwise be "small" and suppressed).
fn is_count(name: &str) -> bool {
    !(name.ends_with("_order")
        || matches!(
            name,
            "rank" | "df" | "iterations" | "step" | "year" | "quarter"
        ))
}

/// Fraction columns: percentages and rates, suppressed with their row's counts.
pub fn is_fraction(name: &str) -> bool {
    name == "pct" || name == "rate" || name.starts_with("pct_") || name.ends_with("_pct")
}

/// Columns that place a row in a group whose counts add up to its N.
const GROUP_COLUMNS: [&str; 5] = [
    "characteristic",
    "lot_code",
    "month",
    "model_id",
    "question",
];

/// The cells (row, column) to suppress.
pub fn suppressed(grid: &Grid<'_>, min_count: u64) -> BTreeSet<(usize, usize)> {
    let min = i64::try_from(min_count).unwrap_or(i64::MAX);
    let rows = grid.counts.first().map_or(0, Vec::len);
    let count_columns: Vec<usize> = (0..grid.columns.len())
        .filter(|&j| is_count(&grid.columns[j]) && grid.counts[j].iter().any(Option::is_some))
        .collect();
    let small = |v: Option<i64>| v.is_some_and(|v| v > 0 && v < min);
    let mut out = BTreeSet::new();
    for &j in &count_columns {
        for r in 0..rows {
            if small(grid.counts[j][r]) {
                out.insert((r, j));
            }
        }
    }

    // Secondary: per additive column, per group adding up to its `n`.
    let n_col = grid.columns.iter().position(|c| c == "n");
    let group_cols: Vec<usize> = (0..grid.columns.len())
        .filter(|&j| GROUP_COLUMNS.contains(&grid.columns[j].as_str()))
        .collect();
    if let Some(n_col) = n_col {
        let mut groups: BTreeMap<Vec<Option<String>>, Vec<usize>> = BTreeMap::new();
        for r in 0..rows {
            let mut key: Vec<Option<String>> = group_cols
                .iter()
                .map(|&j| grid.text[j][r].clone())
                .collect();
            key.push(grid.counts[n_col][r].map(|n| n.to_string()));
            groups.entry(key).or_default().push(r);
        }
        for &j in count_columns.iter().filter(|&&j| j != n_col) {
            for members in groups.values() {
                let Some(n) = grid.counts[n_col][members[0]] else {
                    continue;
                };
                let total: i64 = members.iter().filter_map(|&r| grid.counts[j][r]).sum();
                if total != n {
                    continue;
                }
                let hidden = members.iter().filter(|&&r| out.contains(&(r, j))).count();
                if hidden != 1 {
                    continue;
                }
                let next = members
                    .iter()
                    .filter(|&&r| !out.contains(&(r, j)))
                    .filter_map(|&r| grid.counts[j][r].filter(|&v| v > 0).map(|v| (v, r)))
                    .min();
                if let Some((_, r)) = next {
                    out.insert((r, j));
                }
            }
        }
    }

    // A row's fractions go with any of its suppressed counts.
    let rows_hit: BTreeSet<usize> = out.iter().map(|&(r, _)| r).collect();
    for r in rows_hit {
        for (j, name) in grid.columns.iter().enumerate() {
            if is_fraction(name) {
                out.insert((r, j));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid<'a>(columns: &'a [String], rows: &[(&str, &str, i64, i64)]) -> Grid<'a> {
        // (characteristic, category, participants, n); pct is column 3 (no integer).
        let mut counts = vec![Vec::new(); 5];
        let mut text = vec![Vec::new(); 5];
        for (c, cat, p, n) in rows {
            counts[0].push(None);
            counts[1].push(None);
            counts[2].push(Some(*p));
            counts[3].push(None);
            counts[4].push(Some(*n));
            text[0].push(Some(c.to_string()));
            text[1].push(Some(cat.to_string()));
            text[2].push(Some(p.to_string()));
            text[3].push(Some("0.5".into()));
            text[4].push(Some(n.to_string()));
        }
        Grid {
            columns,
            counts,
            text,
        }
    }

    fn columns() -> Vec<String> {
        ["characteristic", "category", "participants", "pct", "n"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn a_lone_small_cell_takes_the_next_smallest_of_its_group_with_it() {
        let columns = columns();
        let g = grid(
            &columns,
            &[
                ("sex", "Female", 120, 127),
                ("sex", "Male", 7, 127),
                ("age", "16–24", 50, 130),
                ("age", "25–34", 40, 130),
                ("age", "55 or over", 0, 130),
                ("age", "35–44", 40, 130),
            ],
        );
        let s = suppressed(&g, 10);
        // Male 7 is small; Female 120 would give it back (127 − 120): both go, with their pct.
        assert!(s.contains(&(1, 2)) && s.contains(&(0, 2)));
        assert!(s.contains(&(0, 3)) && s.contains(&(1, 3)));
        // Ages: nothing small (0 is shown), nothing suppressed.
        assert!(!(2..6).any(|r| s.contains(&(r, 2))));
    }

    #[test]
    fn calendar_years_and_quarters_are_labels_not_counts() {
        let columns: Vec<String> = ["month", "year", "quarter", "participants", "n"]
            .map(String::from)
            .to_vec();
        let g = Grid {
            columns: &columns,
            counts: vec![
                vec![None],
                vec![Some(2020)],
                vec![Some(1)],
                vec![Some(168)],
                vec![Some(3922)],
            ],
            text: vec![
                vec![Some("2020-03-01".into())],
                vec![Some("2020".into())],
                vec![Some("1".into())],
                vec![Some("168".into())],
                vec![Some("3922".into())],
            ],
        };
        assert!(suppressed(&g, 10).is_empty());
    }

    #[test]
    fn two_small_cells_protect_each_other_and_non_additive_groups_need_no_partner() {
        let columns = columns();
        let g = grid(
            &columns,
            &[
                ("lot", "A", 3, 100),
                ("lot", "B", 4, 100),
                ("lot", "C", 93, 100),
                // Multi-select: options sum to more than N, so no partner is needed.
                ("option", "x", 5, 20),
                ("option", "y", 18, 20),
                ("option", "z", 19, 20),
            ],
        );
        let s = suppressed(&g, 10);
        assert!(s.contains(&(0, 2)) && s.contains(&(1, 2)));
        assert!(
            !s.contains(&(2, 2)),
            "two hidden cells: the third gives neither away"
        );
        assert!(s.contains(&(3, 2)));
        assert!(!s.contains(&(4, 2)) && !s.contains(&(5, 2)));
    }
}
