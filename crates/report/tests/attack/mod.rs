//! The attacker: everything a reader can work out by subtraction from the published tables of a
//! run, checked against the run's unsuppressed tables.
//!
//! It is written apart from the rule it attacks (`evalpipe_report::disclosure`): it reads what
//! was published (the annex workbook's sheets, the tables the report reads after suppression),
//! takes the true values from the run's Parquet tables, and finds the relations a reader would
//! know from the tables' documentation by brute force on the true values — every grouping of
//! rows by any subset of their label columns, every subset of a row's counts — keeping only the
//! relations that hold. Then it subtracts, repeatedly (a cell it recovers is known to the next
//! round):
//! - each published N minus each published count of the same population (`n − participants`,
//!   `participants − achieved`, `base − cases`): the rest of the population;
//! - a total minus the shown cells of a group that adds up to it: a group's N, or a published
//!   cell elsewhere that is the group's sum (a total row, the same breakdown over all lots);
//! - consecutive cells of a running total (`cumulative`, a model's N at each step), and a row's
//!   total minus its parts (`cases` − `facilitator` − `barrier` − `mixed` − `neutral`);
//! - a suppressed cell against every shown cell that is the same quantity (the same value in a
//!   row with the same labels, or in another table on a row agreeing with it on every label
//!   column the two share, when those name a row of one table and the number is theirs in the
//!   other).
//!
//! A leak is (a) a derived value that is a suppressed cell's true value, or (b) a derived count
//! of 1 to `min_count` − 1 people, which no rule publishes (a sum of hidden cells, the rest of a
//! population).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A published cell as the reader sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// A count (any integer) as printed.
    Count(i64),
    /// `[c]`.
    Hidden,
    /// A percentage, rate or other number that is not an integer column.
    Value(f64),
    /// A label.
    Text(String),
    /// Nothing printed.
    Empty,
}

/// One published table: what was shown, and the true integers of the run (`None` where the
/// column is not an integer column).
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub shown: Vec<Vec<Shown>>,
    pub truth: Vec<Vec<Option<i64>>>,
}

/// What the attacker found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Leak {
    /// `recovered` (a suppressed cell's true value) or `small count`.
    pub kind: &'static str,
    /// The derived value.
    pub value: i64,
    /// Which cell it gives away, or which cells' sum, and how it was derived.
    pub what: String,
}

impl std::fmt::Display for Leak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.kind, self.value, self.what)
    }
}

/// Integer columns that count people (or interviews, claims): not sort keys, calendar labels,
/// model sizes, contract targets or counts of lots and waves.
fn counts_people(name: &str) -> bool {
    !(name.ends_with("_order")
        || name.starts_with("lots_")
        || name.ends_with("_lots")
        || matches!(
            name,
            "rank"
                | "df"
                | "iterations"
                | "step"
                | "year"
                | "quarter"
                | "target"
                | "parameters"
                | "supporting_waves"
        ))
}

fn is_base_name(name: &str) -> bool {
    name == "n" || name == "base" || name.ends_with("_n")
}

/// Columns whose values name a breakdown (`sex`, `lot`): rows of two breakdowns with the same
/// category are about the same people, so these are left out when labels are compared.
fn names_a_breakdown(name: &str) -> bool {
    name == "characteristic" || name == "breakdown"
}

const VALENCES: [&str; 4] = ["facilitator", "barrier", "mixed", "neutral"];

type CellRef = (usize, usize, usize);

/// A term of a relation: a published cell, or the unpublished rest of a population.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Term {
    Cell(CellRef),
    Rest(i64),
}

/// `total = Σ parts`, true on the run's values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Relation {
    total: CellRef,
    parts: Vec<Term>,
    how: &'static str,
}

struct Shape {
    counts: Vec<usize>,
    labels: Vec<usize>,
    /// Interned label values per row and label column (index into `labels`).
    keys: Vec<Vec<u32>>,
    /// Label texts of each row, breakdown names left out.
    label_sets: Vec<BTreeSet<String>>,
}

fn shape(t: &Table) -> Shape {
    let counts: Vec<usize> = (0..t.columns.len())
        .filter(|&j| counts_people(&t.columns[j]) && t.truth.iter().any(|r| r[j].is_some()))
        .collect();
    let labels: Vec<usize> = (0..t.columns.len())
        .filter(|&j| {
            !counts.contains(&j)
                && !t.columns[j].ends_with("_order")
                && t.columns[j] != "rank"
                && t.shown
                    .iter()
                    .all(|r| matches!(r[j], Shown::Text(_) | Shown::Count(_) | Shown::Empty))
        })
        .collect();
    let text = |s: &Shown| match s {
        Shown::Text(s) => Some(s.clone()),
        Shown::Count(v) => Some(v.to_string()),
        _ => None,
    };
    let mut interned: BTreeMap<Option<String>, u32> = BTreeMap::new();
    let mut keys = Vec::new();
    let mut label_sets = Vec::new();
    for row in &t.shown {
        let mut key = Vec::new();
        let mut set = BTreeSet::new();
        for &j in &labels {
            let v = text(&row[j]);
            let next = interned.len() as u32;
            key.push(*interned.entry(v.clone()).or_insert(next));
            if let Some(v) = v
                && !names_a_breakdown(&t.columns[j])
            {
                set.insert(v);
            }
        }
        keys.push(key);
        label_sets.push(set);
    }
    Shape {
        counts,
        labels,
        keys,
        label_sets,
    }
}

/// The bases a count is a share of, in its own row: `n`, its `<column>_n`, `base`; `participants`
/// for `achieved`; `cases` for the Framework's valences.
fn bases_of(t: &Table, shape: &Shape, j: usize) -> Vec<usize> {
    let name = t.columns[j].as_str();
    let col = |c: &str| {
        t.columns
            .iter()
            .position(|x| x == c)
            .filter(|x| shape.counts.contains(x))
    };
    if is_base_name(name) {
        return Vec::new();
    }
    if let Some(own) = col(&format!("{name}_n")) {
        return vec![own];
    }
    let mut out: Vec<usize> = ["n", "base"].iter().filter_map(|c| col(c)).collect();
    if name == "achieved" {
        out.extend(col("participants"));
    }
    if VALENCES.contains(&name) {
        out.extend(col("cases"));
        out.extend(col("valenced").filter(|_| name != "neutral"));
    }
    out
}

/// Groups of rows (by row index), and the masks of label columns that group rows so.
type Partition = (Vec<Vec<usize>>, Vec<u32>);

/// Every relation the true values support, found by brute force.
fn relations(tables: &[Table], shapes: &[Shape], min_count: i64) -> Vec<Relation> {
    let mut out = BTreeSet::new();
    // Cells by (column name, true value), for totals published elsewhere.
    let mut by_value: BTreeMap<(&str, i64), Vec<CellRef>> = BTreeMap::new();
    for (ti, t) in tables.iter().enumerate() {
        for &j in &shapes[ti].counts {
            for (r, row) in t.truth.iter().enumerate() {
                if let Some(v) = row[j] {
                    by_value
                        .entry((t.columns[j].as_str(), v))
                        .or_default()
                        .push((ti, r, j));
                }
            }
        }
    }
    for (ti, t) in tables.iter().enumerate() {
        let s = &shapes[ti];
        let truth = |r: usize, j: usize| t.truth[r][j];
        // The rest of a population: N − count.
        for r in 0..t.truth.len() {
            for &j in &s.counts {
                for b in bases_of(t, s, j) {
                    if let (Some(v), Some(n)) = (truth(r, j), truth(r, b))
                        && v <= n
                    {
                        out.insert(Relation {
                            total: (ti, r, b),
                            parts: vec![Term::Cell((ti, r, j)), Term::Rest(n - v)],
                            how: "N minus a count",
                        });
                    }
                }
            }
        }
        // Groups of rows by every subset of the label columns. Label columns that name the
        // same thing (a code and its label) group alike: each partition of the rows is
        // counted once, with every subset that makes it (a lot's code or its name may be
        // what a total elsewhere is labelled with).
        let k = if s.counts.is_empty() {
            0
        } else {
            s.labels.len().min(12)
        };
        // Each subset's grouping refines the one without its last column; rows are numbered
        // by group in order of first appearance, so one partition has one numbering.
        let rows_n = t.truth.len();
        let mut group_of: Vec<Vec<u32>> = Vec::with_capacity(1 << k);
        // Per partition: its groups of rows, and the subsets of label columns that make it.
        let mut partitions: BTreeMap<Vec<u32>, Partition> = BTreeMap::new();
        for mask in 0u32..(1 << k) {
            let numbering = if mask == 0 {
                vec![0; rows_n]
            } else {
                let last = 31 - mask.leading_zeros() as usize;
                let coarser = &group_of[(mask & !(1 << last)) as usize];
                let mut ids: std::collections::HashMap<(u32, u32), u32> =
                    std::collections::HashMap::new();
                (0..rows_n)
                    .map(|r| {
                        let next = ids.len() as u32;
                        *ids.entry((coarser[r], s.keys[r][last])).or_insert(next)
                    })
                    .collect()
            };
            let entry = partitions.entry(numbering.clone()).or_insert_with(|| {
                let count = numbering.iter().max().map_or(0, |&m| m as usize + 1);
                let mut groups = vec![Vec::new(); count];
                for (r, &g) in numbering.iter().enumerate() {
                    groups[g as usize].push(r);
                }
                (groups, Vec::new())
            });
            entry.1.push(mask);
            group_of.push(numbering);
        }
        for (groups, masks) in partitions.values() {
            for rows in groups.iter().filter(|g| g.len() >= 2) {
                // The group's labels under each subset that makes it, breakdown names left out.
                let mut contexts: Option<Vec<BTreeSet<String>>> = None;
                let make_contexts = || -> Vec<BTreeSet<String>> {
                    masks
                        .iter()
                        .map(|&mask| {
                            (0..k)
                                .filter(|i| mask & (1 << i) != 0)
                                .filter(|&i| !names_a_breakdown(&t.columns[s.labels[i]]))
                                .filter_map(|i| match &t.shown[rows[0]][s.labels[i]] {
                                    Shown::Text(x) => Some(x.clone()),
                                    Shown::Count(v) => Some(v.to_string()),
                                    _ => None,
                                })
                                .collect()
                        })
                        .collect()
                };
                for &j in &s.counts {
                    // A base summed over rows that repeat it matches nothing; over rows that
                    // each have their own (a cohort's months) it may be the group's total.
                    let parts: Vec<CellRef> = rows
                        .iter()
                        .filter(|&&r| truth(r, j).is_some())
                        .map(|&r| (ti, r, j))
                        .collect();
                    if parts.len() < 2 {
                        continue;
                    }
                    // A sum under `min_count` gives nothing away first: its total and every
                    // non-zero part are small, so suppressed, and are recovered (and reported)
                    // before the sum can be used.
                    let sum: i64 = parts.iter().map(|&(_, r, _)| truth(r, j).unwrap()).sum();
                    if sum < min_count {
                        continue;
                    }
                    // To a base constant over the group.
                    for &b in s
                        .counts
                        .iter()
                        .filter(|&&b| b != j && is_base_name(&t.columns[b]))
                    {
                        let first = truth(rows[0], b);
                        if first == Some(sum) && rows.iter().all(|&r| truth(r, b) == first) {
                            out.insert(Relation {
                                total: (ti, rows[0], b),
                                parts: parts.iter().map(|&c| Term::Cell(c)).collect(),
                                how: "a group adding up to its N",
                            });
                        }
                    }
                    // To the same column elsewhere, on a row with the group's labels.
                    if let Some(targets) = by_value.get(&(t.columns[j].as_str(), sum)) {
                        for &(tt, tr, tj) in targets {
                            if parts.contains(&(tt, tr, tj))
                                || !contexts
                                    .get_or_insert_with(make_contexts)
                                    .iter()
                                    .any(|c| c.is_subset(&shapes[tt].label_sets[tr]))
                            {
                                continue;
                            }
                            out.insert(Relation {
                                total: (tt, tr, tj),
                                parts: parts.iter().map(|&c| Term::Cell(c)).collect(),
                                how: "a group adding up to a total published elsewhere",
                            });
                        }
                    }
                }
            }
        }
        // Running totals, forwards (`cumulative`) and backwards (a model's N at each step).
        if t.truth.len() >= 3 {
            for &kc in &s.counts {
                for &pc in s.counts.iter().filter(|&&p| p != kc) {
                    for forwards in [true, false] {
                        let step = |r: usize| {
                            let (now, before, part) =
                                (truth(r, kc), truth(r - 1, kc), truth(r, pc));
                            match (now, before, part) {
                                (Some(a), Some(b), Some(p)) => {
                                    if forwards {
                                        a == b + p
                                    } else {
                                        b == a + p
                                    }
                                }
                                _ => false,
                            }
                        };
                        if (1..t.truth.len()).all(step) {
                            for r in 1..t.truth.len() {
                                let (total, other) = if forwards { (r, r - 1) } else { (r - 1, r) };
                                out.insert(Relation {
                                    total: (ti, total, kc),
                                    parts: vec![
                                        Term::Cell((ti, other, kc)),
                                        Term::Cell((ti, r, pc)),
                                    ],
                                    how: "a running total",
                                });
                            }
                        }
                    }
                }
            }
        }
        // A row's total and its parts.
        if t.truth.len() >= 2 && s.counts.len() <= 12 {
            for &tc in &s.counts {
                let others: Vec<usize> = s.counts.iter().copied().filter(|&c| c != tc).collect();
                for mask in 1u32..(1 << others.len()) {
                    let cols: Vec<usize> = (0..others.len())
                        .filter(|i| mask & (1 << i) != 0)
                        .map(|i| others[i])
                        .collect();
                    if cols.len() < 2
                        || !cols
                            .iter()
                            .all(|&c| (0..t.truth.len()).any(|r| truth(r, c).unwrap_or(0) != 0))
                    {
                        continue;
                    }
                    let holds = (0..t.truth.len()).all(|r| {
                        let parts: Option<i64> = cols.iter().map(|&c| truth(r, c)).sum();
                        parts.is_some() && parts == truth(r, tc)
                    });
                    if holds {
                        for r in 0..t.truth.len() {
                            out.insert(Relation {
                                total: (ti, r, tc),
                                parts: cols.iter().map(|&c| Term::Cell((ti, r, c))).collect(),
                                how: "a row's total and its parts",
                            });
                        }
                    }
                }
            }
        }
    }
    // The same quantity in two places: the same value, in rows with the same labels (one
    // row's labels among the other's), or in two tables agreeing on every label column they
    // share, where those name a row of one and the number is theirs in the other (a month's
    // count in one figure, its N in another).
    let mut shared: BTreeMap<(usize, usize), SharedLabels> = BTreeMap::new();
    for cells in by_value_all(tables, shapes).values() {
        for (a, &(ta, ra, ja)) in cells.iter().enumerate() {
            for &(tb, rb, jb) in &cells[a + 1..] {
                let (la, lb) = (&shapes[ta].label_sets[ra], &shapes[tb].label_sets[rb]);
                let nested =
                    !la.is_empty() && !lb.is_empty() && (la.is_subset(lb) || lb.is_subset(la));
                let same_labels = ta != tb && {
                    let (pairs, a_row, b_row) = shared
                        .entry((ta, tb))
                        .or_insert_with(|| shared_labels(tables, shapes, ta, tb));
                    let (xs, ys): (Vec<usize>, Vec<usize>) = pairs.iter().copied().unzip();
                    !pairs.is_empty()
                        && pairs
                            .iter()
                            .all(|&(ja, jb)| tables[ta].shown[ra][ja] == tables[tb].shown[rb][jb])
                        && ((*a_row && one_value(&tables[tb], &ys, jb, rb))
                            || (*b_row && one_value(&tables[ta], &xs, ja, ra)))
                };
                if nested || same_labels {
                    out.insert(Relation {
                        total: (ta, ra, ja),
                        parts: vec![Term::Cell((tb, rb, jb))],
                        how: "the same quantity",
                    });
                }
            }
        }
    }
    out.into_iter().collect()
}

/// Count cells by true value, for values of 10 or more (smaller ones are suppressed anyway).
fn by_value_all(tables: &[Table], shapes: &[Shape]) -> BTreeMap<i64, Vec<CellRef>> {
    let mut out: BTreeMap<i64, Vec<CellRef>> = BTreeMap::new();
    for (ti, t) in tables.iter().enumerate() {
        for &j in &shapes[ti].counts {
            for (r, row) in t.truth.iter().enumerate() {
                if let Some(v) = row[j].filter(|&v| v >= 10) {
                    out.entry(v).or_default().push((ti, r, j));
                }
            }
        }
    }
    out
}

/// The label columns two tables share (by name), and whether they name a row of the first
/// and of the second.
type SharedLabels = (Vec<(usize, usize)>, bool, bool);

/// The label columns two tables share (by name), and whether they name a row of the first
/// and of the second (a month does; a report section, shared by many rows of both, does not).
fn shared_labels(tables: &[Table], shapes: &[Shape], ta: usize, tb: usize) -> SharedLabels {
    let pairs: Vec<(usize, usize)> = shapes[ta]
        .labels
        .iter()
        .filter_map(|&ja| {
            shapes[tb]
                .labels
                .iter()
                .find(|&&jb| tables[tb].columns[jb] == tables[ta].columns[ja])
                .map(|&jb| (ja, jb))
        })
        .collect();
    let names_a_row = |t: usize, cols: &[usize]| {
        let keys: BTreeSet<Vec<String>> = tables[t]
            .shown
            .iter()
            .map(|row| cols.iter().map(|&j| format!("{:?}", row[j])).collect())
            .collect();
        keys.len() == tables[t].shown.len()
    };
    let (xs, ys): (Vec<usize>, Vec<usize>) = pairs.iter().copied().unzip();
    let (a, b) = (names_a_row(ta, &xs), names_a_row(tb, &ys));
    (pairs, a, b)
}

/// Whether column `j` of table `t` has one true value on all rows whose `cols` agree with row
/// `r`'s (a figure's N for one month, repeated on each cohort's row).
fn one_value(t: &Table, cols: &[usize], j: usize, r: usize) -> bool {
    t.shown
        .iter()
        .zip(&t.truth)
        .filter(|(row, _)| cols.iter().all(|&c| row[c] == t.shown[r][c]))
        .all(|(_, truth)| truth[j] == t.truth[r][j])
}

/// Runs the attack: every leak, sorted.
pub fn attack(tables: &[Table], min_count: i64) -> Vec<Leak> {
    let shapes: Vec<Shape> = tables.iter().map(shape).collect();
    let relations = relations(tables, &shapes, min_count);
    let small = |v: i64| v > 0 && v < min_count;
    let truth = |(t, r, j): CellRef| tables[t].truth[r][j].unwrap_or(0);
    let name = |(t, r, j): CellRef| {
        format!(
            "{} row {} `{}`",
            tables[t].name,
            r + 1,
            tables[t].columns[j]
        )
    };
    // What the reader knows: shown counts, then what they work out.
    let mut known: BTreeMap<CellRef, i64> = BTreeMap::new();
    let mut hidden: BTreeSet<CellRef> = BTreeSet::new();
    for (ti, t) in tables.iter().enumerate() {
        for &j in &shapes[ti].counts {
            for (r, row) in t.shown.iter().enumerate() {
                match row[j] {
                    Shown::Count(v) => {
                        known.insert((ti, r, j), v);
                    }
                    Shown::Hidden if t.truth[r][j].is_some() => {
                        hidden.insert((ti, r, j));
                    }
                    _ => {}
                }
            }
        }
    }
    // The linked sets: the suppressed categories of the groups adding up to each N (by its
    // value), and the cells that are a category of such a group.
    const GROUP: &str = "a group adding up to its N";
    let mut linked: BTreeMap<i64, BTreeSet<CellRef>> = BTreeMap::new();
    let mut categories: BTreeSet<CellRef> = BTreeSet::new();
    for rel in relations.iter().filter(|r| r.how == GROUP) {
        for p in &rel.parts {
            if let Term::Cell(c) = p {
                categories.insert(*c);
                if hidden.contains(c) {
                    linked.entry(truth(rel.total)).or_default().insert(*c);
                }
            }
        }
    }
    let mut leaks = BTreeSet::new();
    loop {
        let mut recovered = Vec::new();
        for rel in &relations {
            let Some(&total) = known.get(&rel.total) else {
                // An unknown total from known parts.
                if hidden.contains(&rel.total)
                    && rel.parts.iter().all(|p| match p {
                        Term::Cell(c) => known.contains_key(c),
                        Term::Rest(_) => false,
                    })
                {
                    let v: i64 = rel
                        .parts
                        .iter()
                        .map(|p| match p {
                            Term::Cell(c) => known[c],
                            Term::Rest(_) => 0,
                        })
                        .sum();
                    recovered.push((rel.total, v, rel.how));
                }
                continue;
            };
            let mut rest = total;
            let mut unknown = Vec::new();
            let mut rest_term = None;
            for p in &rel.parts {
                match p {
                    Term::Cell(c) => match known.get(c) {
                        Some(v) => rest -= v,
                        None => unknown.push(*c),
                    },
                    Term::Rest(v) => rest_term = Some(*v),
                }
            }
            match (unknown.len(), rest_term) {
                (0, Some(_)) => {
                    // The rest of the population, worked out.
                    if small(rest) {
                        leaks.insert(Leak {
                            kind: "small count",
                            value: rest,
                            what: format!(
                                "{} minus {}: {}",
                                name(rel.total),
                                rel.parts
                                    .iter()
                                    .filter_map(|p| match p {
                                        Term::Cell(c) => Some(name(*c)),
                                        _ => None,
                                    })
                                    .collect::<Vec<_>>()
                                    .join(" + "),
                                rel.how
                            ),
                        });
                    }
                    let category = rel
                        .parts
                        .iter()
                        .any(|p| matches!(p, Term::Cell(c) if categories.contains(c)));
                    if let Some(c) = linked
                        .get(&total)
                        .into_iter()
                        .flatten()
                        .find(|&&c| category && !known.contains_key(&c) && truth(c) == rest)
                    {
                        leaks.insert(Leak {
                            kind: "recovered",
                            value: rest,
                            what: format!(
                                "{} as {} minus the published count ({})",
                                name(*c),
                                name(rel.total),
                                rel.how
                            ),
                        });
                    }
                }
                (1, None) => recovered.push((unknown[0], rest, rel.how)),
                (n, _) if n >= 1 => {
                    // Several unknowns: their sum (with the unpublished rest, if any) is known.
                    if rest_term.is_some() {
                        continue;
                    }
                    if small(rest) {
                        leaks.insert(Leak {
                            kind: "small count",
                            value: rest,
                            what: format!(
                                "sum of {} ({} minus the shown cells: {})",
                                unknown
                                    .iter()
                                    .map(|&c| name(c))
                                    .collect::<Vec<_>>()
                                    .join(" + "),
                                name(rel.total),
                                rel.how
                            ),
                        });
                    }
                    if let Some(c) = linked.get(&total).into_iter().flatten().find(|c| {
                        rel.how == GROUP
                            && !unknown.contains(c)
                            && !known.contains_key(c)
                            && truth(**c) == rest
                    }) {
                        leaks.insert(Leak {
                            kind: "recovered",
                            value: rest,
                            what: format!(
                                "{} as the sum of {} ({} minus the shown cells: {})",
                                name(*c),
                                unknown
                                    .iter()
                                    .map(|&c| name(c))
                                    .collect::<Vec<_>>()
                                    .join(" + "),
                                name(rel.total),
                                rel.how
                            ),
                        });
                    }
                }
                _ => {}
            }
        }
        let mut new = false;
        for (c, v, how) in recovered {
            if known.contains_key(&c) {
                continue;
            }
            assert_eq!(
                v,
                truth(c),
                "the attacker's relation ({how}) does not hold at {}",
                name(c)
            );
            leaks.insert(Leak {
                kind: "recovered",
                value: v,
                what: format!("{} ({how})", name(c)),
            });
            known.insert(c, v);
            new = true;
        }
        if !new {
            break;
        }
    }
    leaks.into_iter().collect()
}

/// The run's true integers of one table, by row and column (`None` for other columns), read
/// from its Parquet file.
pub fn truth(path: &Path) -> (Vec<String>, Vec<Vec<Option<i64>>>) {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int64Type};
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut columns = Vec::new();
    let mut rows: Vec<Vec<Option<i64>>> = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        columns = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let ints: Vec<Option<arrow::array::ArrayRef>> = batch
            .columns()
            .iter()
            .map(|c| {
                c.data_type()
                    .is_integer()
                    .then(|| arrow::compute::cast(c, &DataType::Int64).unwrap())
            })
            .collect();
        for r in 0..batch.num_rows() {
            rows.push(
                ints.iter()
                    .map(|c| {
                        c.as_ref()
                            .filter(|c| !c.is_null(r))
                            .map(|c| c.as_primitive::<Int64Type>().value(r))
                    })
                    .collect(),
            );
        }
    }
    (columns, rows)
}

/// The tables of an annex workbook, each with its true values from the run's `tables/`.
pub fn from_annex(workbook: &Path, tables_dir: &Path) -> Vec<Table> {
    use calamine::{Data, Reader};
    let mut wb = calamine::open_workbook_auto(workbook).unwrap();
    let mut out = Vec::new();
    for sheet in wb.sheet_names() {
        if sheet == "Contents" {
            continue;
        }
        let range = wb.worksheet_range(&sheet).unwrap();
        let cell = |r: usize, c: usize| range.get((r, c)).cloned().unwrap_or(Data::Empty);
        let height = range.height();
        let width = range.width();
        let Some(base) =
            (0..height).find(|&r| matches!(cell(r, 0), Data::String(s) if s.starts_with("Base:")))
        else {
            panic!("sheet {sheet} has no base line");
        };
        let source = (0..height)
            .find_map(|r| match cell(r, 0) {
                Data::String(s) if s.starts_with("Source: evalpipe, table ") => Some(s),
                _ => None,
            })
            .unwrap_or_else(|| panic!("sheet {sheet} has no source line"));
        let stem = source
            .trim_start_matches("Source: evalpipe, table ")
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        let name = match sheet.strip_prefix("model_") {
            Some(id) if stem == "coefficients" => format!("models/{id}/coefficients"),
            _ => stem,
        };
        let (columns, truth) = truth(&tables_dir.join(format!("{name}.parquet")));
        let header = base + 2;
        let published: Vec<String> = (0..columns.len())
            .map(|c| cell(header, c).to_string())
            .collect();
        assert_eq!(
            published, columns,
            "sheet {sheet}: the header is the table's columns"
        );
        let mut shown = Vec::new();
        let mut r = header + 1;
        while r < height && (0..width).any(|c| cell(r, c) != Data::Empty) {
            let i = shown.len();
            shown.push(
                (0..columns.len())
                    .map(|c| match cell(r, c) {
                        Data::String(s) if s == "[c]" => Shown::Hidden,
                        Data::String(s) => Shown::Text(s),
                        Data::Bool(b) => Shown::Text(b.to_string()),
                        Data::Float(f) if truth[i][c].is_some() => Shown::Count(f as i64),
                        Data::Float(f) => Shown::Value(f),
                        Data::Int(v) => Shown::Count(v),
                        Data::Empty => Shown::Empty,
                        other => Shown::Text(other.to_string()),
                    })
                    .collect(),
            );
            r += 1;
        }
        assert_eq!(
            shown.len(),
            truth.len(),
            "sheet {sheet}: one row per table row"
        );
        out.push(Table {
            name,
            columns,
            shown,
            truth,
        });
    }
    out
}

/// A table as the decision publishes it: its cells, `[c]` where the decision hides them.
pub fn from_decision(
    table: &evalpipe_report::disclosure::Table,
    hidden: &BTreeSet<(usize, usize)>,
) -> Table {
    use evalpipe_report::disclosure::Cell;
    let integer: Vec<bool> = (0..table.columns.len())
        .map(|j| {
            table.rows.iter().any(|r| matches!(r[j], Cell::Int(_)))
                && table
                    .rows
                    .iter()
                    .all(|r| matches!(r[j], Cell::Int(_) | Cell::Null))
        })
        .collect();
    let shown = table
        .rows
        .iter()
        .enumerate()
        .map(|(r, row)| {
            row.iter()
                .enumerate()
                .map(|(j, c)| match c {
                    _ if hidden.contains(&(r, j)) => Shown::Hidden,
                    Cell::Int(v) => Shown::Count(*v),
                    Cell::Float(v) => Shown::Value(*v),
                    Cell::Text(s) => Shown::Text(s.clone()),
                    Cell::Null => Shown::Empty,
                })
                .collect()
        })
        .collect();
    let truth = table
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(j, c)| match c {
                    Cell::Int(v) if integer[j] => Some(*v),
                    _ => None,
                })
                .collect()
        })
        .collect();
    Table {
        name: table.name.clone(),
        columns: table.columns.clone(),
        shown,
        truth,
    }
}
