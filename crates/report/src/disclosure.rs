//! Statistical disclosure control of everything a run publishes: which cells to suppress.
//!
//! A run publishes many tables over the same people — the annex workbook's sheets, and the
//! report's prose, tables and charts, which read the same tables. A count hidden in one of
//! them can be worked out from another by subtraction (Table A-6 hid Cannock North's 4
//! minority-ethnic participants, but its finer ethnic groups showed White = 187 of N = 191).
//! So suppression is decided once per run over all of them together ([`publication`]: the
//! output tables, the models' tables and the Framework's; [`decide`]), and the annex
//! ([`crate::write_annex`]) and every report format (the tables the templates and charts
//! read) print that one decision.
//!
//! **Counts** are the integer columns other than sort keys (`*_order`, `rank`), calendar and
//! fieldwork labels (`year`, `quarter`, `wave`), a model's size, a contract `target` and counts
//! of lots or waves. **Primary suppression:** a count of 1 to `min_count` − 1 (zero is shown:
//! a category nobody is in discloses nobody).
//!
//! **What a reader can subtract.** The rule finds the relations a reader knows from the
//! tables' documentation, each a total and its parts (`total = Σ parts`), and keeps those that
//! hold on the true values, so a relation found by coincidence can only add suppression:
//! - *groups*: rows that differ only in one breakdown or several (a lot's categories, a
//!   month's cohorts, every month × cohort of a figure) whose counts add up to their N;
//! - *margins*: such a group adding up to a cell published elsewhere — a total row (all
//!   lots), or the same category in a table without the breakdown (the lots' White counts add
//!   up to Table A-5's);
//! - *the rest of a population*: a count and its base (`participants` of `n`, `achieved` of
//!   `participants`, found from the base's name or from the percentage or rate that divides
//!   them) leave an unpublished rest, `n − participants`, itself a count of people;
//! - *a row's parts*: count columns that add up to another in every row (the Framework's
//!   helping, barrier, mixed and neutral cases add up to its cases);
//! - *running totals*: `cumulative` and each month's count; a model's N at each step and the
//!   participants each step removes;
//! - *the same quantity* printed twice: the same number (from `min_count` up) in rows whose
//!   labels, breakdown names left out, are one within the other (White in the two-way and the
//!   fine ethnic split of one lot; a lot's job starts in Table A-16 and its participants in
//!   A-17), or in two tables on rows that agree on every label column the tables share, where
//!   those columns name a row of one table and the number is theirs in the other (a month's
//!   count in Figure 4-1 and its N, the same on each of its rows, in Figure 4-2). A quantity
//!   hidden in one place is hidden in all.
//!
//! The categories of every group adding up to an N of the same value form one **linked set**,
//! whatever table they are in.
//!
//! **Secondary suppression.** The reader is simulated: they know every shown count, and every
//! count a relation gives them as its only unknown — repeatedly, so a count worked out in one
//! table is used in the next. More cells are suppressed, greedily, until none of these is
//! possible:
//! - a suppressed count is worked out;
//! - the rest of a population is worked out and is 1 to `min_count` − 1 ("all but 4"), or, for
//!   a category of a group, is a suppressed category of the same linked set;
//! - the sum of a relation's unknown parts (a group's N minus its shown cells) is 1 to
//!   `min_count` − 1, or, for a group, equals a suppressed category of the same linked set
//!   (the classic gap: two hidden cells whose sum is another breakdown's hidden cell).
//!
//! Each step hides one more of the offending relation's shown cells: non-zero before zero, a
//! category before an N (an N is the base of every count of its population), one that no
//! other relation would give straight back before one that would, then the smallest, then the
//! first — the fewest and smallest extra cells, deterministically, though not always the
//! fewest possible. A relation that offends only through a count another relation gives away
//! is left to that relation.
//!
//! **Guarantee:** on what the rule recognises, no subtraction — one, or a chain through
//! several tables — gives back a suppressed count or a count of 1 to `min_count` − 1, and no
//! group's hidden cells add up to one. Outside it: a reader who solves all relations at once
//! as a system of equations or bounds cells by their signs, and the same quantity printed
//! under labels the rule cannot match (a model's "excluding Lot 5" step and Lot 5's row).
//!
//! Finally every fractional number of a row — percentage, rate, share, money (claims ×
//! tariff) — goes with any of the row's suppressed counts, since with the row's base it gives
//! the count back; and a `pct_of_previous` goes with a suppressed count in the row before it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use evalpipe_study::RunLayout;

/// What the published table shows instead of a suppressed cell (the ONS convention).
pub const SUPPRESSED: &str = "[c]";

/// The note under a table with suppressed cells.
pub fn note(min_count: u64) -> String {
    format!(
        "{SUPPRESSED} marks a figure suppressed for disclosure control: fewer than {min_count} \
         participants, or a cell from which such a count could be worked out."
    )
}

/// One cell of a published table as the rule sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// An integer: a count, or an integer label (a year).
    Int(i64),
    /// Any other number: a percentage, a rate, money, an estimate.
    Float(f64),
    /// A label (text, a date, a yes/no).
    Text(String),
}

/// A published table: its name (`ethnicity_by_lot`, `framework/framework_theme_cases`,
/// `models/job_outcome/steps`), columns and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The table's name, as the templates ask for it.
    pub name: String,
    /// Column names.
    pub columns: Vec<String>,
    /// `rows[r][j]`: row `r`, column `j`.
    pub rows: Vec<Vec<Cell>>,
}

/// The suppressed cells of every table of a publication, decided together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    tables: BTreeMap<String, Suppressed>,
    primary: usize,
    secondary: usize,
    unresolved: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Suppressed {
    columns: Vec<String>,
    cells: BTreeSet<(usize, usize)>,
}

impl Decision {
    /// Whether the decision was made with table `name` in the publication.
    pub fn covers(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// The suppressed cells of `table`, as (row, column index).
    pub fn hidden(&self, table: &str) -> BTreeSet<(usize, usize)> {
        self.tables
            .get(table)
            .map(|s| s.cells.clone())
            .unwrap_or_default()
    }

    /// The suppressed cells of `table`, as (row, column name).
    pub fn hidden_cells(&self, table: &str) -> Vec<(usize, &str)> {
        self.tables
            .get(table)
            .map(|s| {
                s.cells
                    .iter()
                    .map(|&(r, j)| (r, s.columns[j].as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the cell of `table`, row `row`, column `column` is suppressed.
    pub fn is_hidden(&self, table: &str, row: usize, column: &str) -> bool {
        self.tables.get(table).is_some_and(|s| {
            s.columns
                .iter()
                .position(|c| c == column)
                .is_some_and(|j| s.cells.contains(&(row, j)))
        })
    }

    /// Counts suppressed because they are small (each place a count is printed).
    pub fn primary(&self) -> usize {
        self.primary
    }

    /// Counts suppressed because they would give a small or suppressed count away (each
    /// place printed).
    pub fn secondary(&self) -> usize {
        self.secondary
    }

    /// Offending relations the greedy found no shown cell to hide in (zero unless the
    /// publication contradicts itself).
    pub fn unresolved(&self) -> usize {
        self.unresolved
    }
}

/// Integer columns that are not counts of people: sort keys, calendar labels, a model's size
/// and iterations, a contract target or profile, a lot's too (configuration, not counts of people),
/// and counts of lots or waves.
fn is_count(name: &str) -> bool {
    !(is_sort_key(name)
        || name.ends_with("_target")
        || name.ends_with("_profile")
        || name.starts_with("lots_")
        || name.ends_with("_lots")
        || matches!(
            name,
            "df" | "iterations"
                | "step"
                | "wave"
                | "year"
                | "quarter"
                | "target"
                | "profile"
                | "parameters"
                | "supporting_waves"
        ))
}

/// Columns that order rows: never a label of their own (the label they order is one).
fn is_sort_key(name: &str) -> bool {
    name.ends_with("_order") || name == "rank"
}

/// A population's N: the base of the counts beside it.
fn is_base(name: &str) -> bool {
    name == "n" || name == "base" || name.ends_with("_n")
}

/// Columns whose values name a breakdown (`ethnicity`, `lot`): the same category under two
/// breakdowns is the same people, so these are left out when rows' labels are compared.
fn names_a_breakdown(name: &str) -> bool {
    name == "characteristic" || name == "breakdown"
}

/// How the rule sees one table's columns.
struct Shape {
    counts: Vec<usize>,
    labels: Vec<usize>,
    /// Non-integer numbers: they go with the row's suppressed counts.
    numbers: Vec<usize>,
    /// `key[r][i]`: the interned value of label column `labels[i]` in row `r`.
    key: Vec<Vec<u32>>,
    /// Each row's label values (interned, sorted), breakdown names left out.
    label_set: Vec<Vec<u32>>,
    /// Non-constant label columns (indices into `labels`) grouped into breakdowns: columns
    /// that determine each other (`lot_code`, `lot_name`) vary together.
    dims: Vec<Vec<usize>>,
}

fn label_text(c: &Cell) -> Option<String> {
    match c {
        Cell::Text(s) => Some(s.clone()),
        Cell::Int(v) => Some(v.to_string()),
        Cell::Float(v) => Some(v.to_string()),
        Cell::Null => None,
    }
}

/// Label texts as numbers, shared by all tables of a publication.
type Interner = BTreeMap<String, u32>;

fn intern(interner: &mut Interner, text: Option<String>) -> u32 {
    match text {
        None => u32::MAX,
        Some(text) => {
            let next = u32::try_from(interner.len()).unwrap_or(u32::MAX - 1);
            *interner.entry(text).or_insert(next)
        }
    }
}

/// Whether sorted `a` is a subset of sorted `b`.
fn subset(a: &[u32], b: &[u32]) -> bool {
    let mut b = b.iter();
    a.iter().all(|x| b.by_ref().any(|y| y == x))
}

fn shape(t: &Table, interner: &mut Interner) -> Shape {
    let column = |j: usize| t.rows.iter().map(move |r| &r[j]);
    let (mut counts, mut labels, mut numbers) = (Vec::new(), Vec::new(), Vec::new());
    for (j, name) in t.columns.iter().enumerate() {
        if column(j).any(|c| matches!(c, Cell::Float(_))) {
            numbers.push(j);
        } else if is_count(name)
            && column(j).any(|c| matches!(c, Cell::Int(_)))
            && column(j).all(|c| matches!(c, Cell::Int(_) | Cell::Null))
        {
            counts.push(j);
        } else if !is_sort_key(name) {
            labels.push(j);
        }
    }
    let mut key = Vec::with_capacity(t.rows.len());
    let mut label_set = Vec::with_capacity(t.rows.len());
    for row in &t.rows {
        let mut k = Vec::with_capacity(labels.len());
        let mut set = Vec::new();
        for &j in &labels {
            let id = intern(interner, label_text(&row[j]));
            k.push(id);
            if id != u32::MAX && !names_a_breakdown(&t.columns[j]) {
                set.push(id);
            }
        }
        set.sort_unstable();
        set.dedup();
        key.push(k);
        label_set.push(set);
    }
    // Breakdowns: non-constant label columns, two in one breakdown when each determines the
    // other over the table's rows.
    let varying: Vec<usize> = (0..labels.len())
        .filter(|&i| key.iter().any(|k| k[i] != key[0][i]))
        .collect();
    let determines = |a: usize, b: usize| {
        let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
        key.iter()
            .all(|k| *seen.entry(k[a]).or_insert(k[b]) == k[b])
    };
    let mut dims: Vec<Vec<usize>> = Vec::new();
    for &i in &varying {
        match dims
            .iter_mut()
            .find(|d| determines(d[0], i) && determines(i, d[0]))
        {
            Some(d) => d.push(i),
            None => dims.push(vec![i]),
        }
    }
    Shape {
        counts,
        labels,
        numbers,
        key,
        label_set,
        dims,
    }
}

/// The rows of a table grouped by their labels outside some breakdowns: for every set of
/// breakdowns (one, two, … all of them: the whole table), the groups of two rows or more that
/// differ only in those. A table without counts has none.
fn groups(s: &Shape) -> Vec<Group> {
    let mut out = Vec::new();
    if s.counts.is_empty() {
        return out;
    }
    // A table with very many breakdowns is grouped by each one alone and by all at once.
    let sets: Vec<Vec<usize>> = if s.dims.len() <= 8 {
        (1u32..(1 << s.dims.len()))
            .map(|mask| {
                (0..s.dims.len())
                    .filter(|d| mask & (1 << d) != 0)
                    .flat_map(|d| s.dims[d].iter().copied())
                    .collect()
            })
            .collect()
    } else {
        let mut sets: Vec<Vec<usize>> = s.dims.clone();
        sets.push(s.dims.iter().flatten().copied().collect());
        sets
    };
    for varying in sets {
        let fixed: Vec<usize> = (0..s.labels.len())
            .filter(|i| !varying.contains(i))
            .collect();
        let mut by_context: BTreeMap<Vec<u32>, Vec<usize>> = BTreeMap::new();
        for (r, k) in s.key.iter().enumerate() {
            let context: Vec<u32> = fixed.iter().map(|&i| k[i]).collect();
            by_context.entry(context).or_default().push(r);
        }
        for rows in by_context.into_values().filter(|rows| rows.len() >= 2) {
            out.push(Group {
                rows,
                fixed: fixed.clone(),
            });
        }
    }
    out
}

/// The label values a group's rows share (interned, sorted), breakdown names left out.
fn shared_labels(t: &Table, s: &Shape, g: &Group) -> Vec<u32> {
    let mut out: Vec<u32> = g
        .fixed
        .iter()
        .filter(|&&i| !names_a_breakdown(&t.columns[s.labels[i]]))
        .map(|&i| s.key[g.rows[0]][i])
        .filter(|&id| id != u32::MAX)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Rows that differ only in some breakdowns.
struct Group {
    rows: Vec<usize>,
    /// The label columns (indices into the shape's labels) they agree on.
    fixed: Vec<usize>,
}

/// Union–find over the count cells: the cells that are one quantity.
struct Same {
    parent: Vec<usize>,
}

impl Same {
    fn find(&mut self, mut a: usize) -> usize {
        while self.parent[a] != a {
            self.parent[a] = self.parent[self.parent[a]];
            a = self.parent[a];
        }
        a
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        // The smaller id is the root, so roots do not depend on the order of unions.
        if a < b {
            self.parent[b] = a;
        } else if b < a {
            self.parent[a] = b;
        }
    }
}

/// The count cells of a publication.
struct Cells {
    /// `id[t][r][j]`: the cell's id, for count cells with a value.
    id: Vec<Vec<Vec<Option<usize>>>>,
    /// (table, row, column, value) per id.
    at: Vec<(usize, usize, usize, i64)>,
}

fn cells(tables: &[Table], shapes: &[Shape]) -> Cells {
    let mut id = Vec::with_capacity(tables.len());
    let mut at = Vec::new();
    for (ti, t) in tables.iter().enumerate() {
        let mut rows = Vec::with_capacity(t.rows.len());
        for (r, row) in t.rows.iter().enumerate() {
            let mut ids = vec![None; t.columns.len()];
            for &j in &shapes[ti].counts {
                if let Cell::Int(v) = row[j] {
                    ids[j] = Some(at.len());
                    at.push((ti, r, j, v));
                }
            }
            rows.push(ids);
        }
        id.push(rows);
    }
    Cells { id, at }
}

/// `total = Σ parts`, over quantities.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Relation {
    total: usize,
    parts: Vec<usize>,
    /// The parts are a group's categories and the total its N: a partition of a population.
    partition: bool,
}

/// The quantities and relations of a publication.
struct Problem {
    value: Vec<i64>,
    /// Whether a quantity is a population's N (hiding it hides the base of every count of it).
    base: Vec<bool>,
    /// Whether a quantity is printed somewhere (the rest of a population is not).
    published: Vec<bool>,
    relations: Vec<Relation>,
    /// The distinct quantities of each relation, total and parts.
    terms: Vec<Vec<usize>>,
    /// The relations each quantity is a term of.
    of: Vec<Vec<usize>>,
}

/// Cells that are the same quantity: a group's N on each of its rows, and the same number in
/// two places that are about the same people.
fn same_quantities(
    tables: &[Table],
    shapes: &[Shape],
    groups: &[Vec<Group>],
    cells: &Cells,
    min: i64,
) -> Same {
    let mut same = Same {
        parent: (0..cells.at.len()).collect(),
    };
    for (ti, t) in tables.iter().enumerate() {
        let s = &shapes[ti];
        for Group { rows, .. } in &groups[ti] {
            for &b in s.counts.iter().filter(|&&b| is_base(&t.columns[b])) {
                let ids: Vec<Option<usize>> = rows.iter().map(|&r| cells.id[ti][r][b]).collect();
                let first = ids[0].map(|i| cells.at[i].3);
                if ids
                    .iter()
                    .all(|i| i.is_some() && i.map(|i| cells.at[i].3) == first)
                {
                    for i in ids.iter().flatten() {
                        same.union(ids[0].unwrap_or(*i), *i);
                    }
                }
            }
        }
    }
    // The same number in two places about the same people. Small numbers are suppressed
    // wherever they are, so only counts from `min` up need to be matched.
    let mut by_value: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, &(_, _, _, v)) in cells.at.iter().enumerate() {
        if v >= min.max(1) {
            by_value.entry(v).or_default().push(i);
        }
    }
    // Per pair of tables: the label columns they share (by name) and whether those name a
    // row of each (a month names a row of Figure 4-1's table; a report section names none).
    let mut shared: BTreeMap<(usize, usize), SharedLabels> = BTreeMap::new();
    // Per table, column and the label columns shared with another table: whether the column
    // has one value for each value of those labels (Figure 4-2's N does, for a month).
    let mut constant: BTreeMap<(usize, usize, usize), BTreeMap<RowKey, bool>> = BTreeMap::new();
    for ids in by_value.values() {
        for (k, &a) in ids.iter().enumerate() {
            for &b in &ids[k + 1..] {
                if same.find(a) == same.find(b) {
                    continue;
                }
                let (ta, ra, ja, _) = cells.at[a];
                let (tb, rb, jb, _) = cells.at[b];
                let (la, lb) = (&shapes[ta].label_set[ra], &shapes[tb].label_set[rb]);
                let nested = !la.is_empty() && !lb.is_empty() && (subset(la, lb) || subset(lb, la));
                let same_row = !nested && ta != tb && {
                    let s = shared
                        .entry((ta, tb))
                        .or_insert_with(|| SharedLabels::of(tables, shapes, ta, tb));
                    let agree = !s.pairs.is_empty()
                        && s.pairs
                            .iter()
                            .all(|&(x, y)| tables[ta].rows[ra][x] == tables[tb].rows[rb][y]);
                    let (xs, ys): (Vec<usize>, Vec<usize>) = s.pairs.iter().copied().unzip();
                    let mut one_value =
                        |t: usize, other: usize, cols: &[usize], j: usize, r: usize| {
                            let by_key = constant
                                .entry((t, other, j))
                                .or_insert_with(|| one_value_per_key(&tables[t], cols, j));
                            by_key.get(&row_key(&tables[t].rows[r], cols)) == Some(&true)
                        };
                    agree
                        && ((s.names_a_row.0 && one_value(tb, ta, &ys, jb, rb))
                            || (s.names_a_row.1 && one_value(ta, tb, &xs, ja, ra)))
                };
                if nested || same_row {
                    same.union(a, b);
                }
            }
        }
    }
    same
}

/// The label columns two tables share, by name, and whether they name a row of the first and
/// of the second table.
struct SharedLabels {
    pairs: Vec<(usize, usize)>,
    names_a_row: (bool, bool),
}

impl SharedLabels {
    fn of(tables: &[Table], shapes: &[Shape], ta: usize, tb: usize) -> SharedLabels {
        let pairs: Vec<(usize, usize)> = shapes[ta]
            .labels
            .iter()
            .filter_map(|&x| {
                shapes[tb]
                    .labels
                    .iter()
                    .find(|&&y| tables[tb].columns[y] == tables[ta].columns[x])
                    .map(|&y| (x, y))
            })
            .collect();
        let (xs, ys): (Vec<usize>, Vec<usize>) = pairs.iter().copied().unzip();
        let names = |t: &Table, cols: &[usize]| {
            let keys: BTreeSet<RowKey> = t.rows.iter().map(|row| row_key(row, cols)).collect();
            keys.len() == t.rows.len()
        };
        SharedLabels {
            names_a_row: (names(&tables[ta], &xs), names(&tables[tb], &ys)),
            pairs,
        }
    }
}

/// The values of some label columns of a row.
type RowKey = Vec<Option<String>>;

fn row_key(row: &[Cell], cols: &[usize]) -> RowKey {
    cols.iter().map(|&j| label_text(&row[j])).collect()
}

/// For each value of the label columns `cols`: whether column `j` has one value on its rows.
fn one_value_per_key(t: &Table, cols: &[usize], j: usize) -> BTreeMap<RowKey, bool> {
    let mut first: BTreeMap<RowKey, (&Cell, bool)> = BTreeMap::new();
    for row in &t.rows {
        let entry = first.entry(row_key(row, cols)).or_insert((&row[j], true));
        if entry.0 != &row[j] {
            entry.1 = false;
        }
    }
    first.into_iter().map(|(k, (_, one))| (k, one)).collect()
}

/// Builds the quantities and the relations between them.
fn problem(
    tables: &[Table],
    shapes: &[Shape],
    cells: &Cells,
    min: i64,
    known: &[KnownSum],
) -> (Problem, Vec<usize>) {
    let groups: Vec<Vec<Group>> = shapes.iter().map(groups).collect();
    let same = same_quantities(tables, shapes, &groups, cells, min);
    let mut building = Building::new(tables, shapes, cells, min, same);
    // Cells by (column, value): where a group's sum may be published.
    let mut by_column_value: BTreeMap<(&str, i64), Vec<usize>> = BTreeMap::new();
    for (i, &(t, _, j, v)) in cells.at.iter().enumerate() {
        by_column_value
            .entry((tables[t].columns[j].as_str(), v))
            .or_default()
            .push(i);
    }
    for (ti, table_groups) in groups.iter().enumerate() {
        building.groups_and_margins(ti, table_groups, &by_column_value);
        building.rests_of_populations(ti);
        building.parts_of_rows(ti);
        building.running_totals(ti);
    }
    building.known_sums(known);
    building.finish()
}

/// A [`Problem`] while its relations are found, table by table.
struct Building<'a> {
    tables: &'a [Table],
    shapes: &'a [Shape],
    cells: &'a Cells,
    min: i64,
    /// Each cell's quantity id, in cell order.
    quantity: Vec<usize>,
    value: Vec<i64>,
    published: Vec<bool>,
    base: Vec<bool>,
    relations: BTreeSet<Relation>,
    /// The rest of a population `(base, count)` → its quantity, so each is added once.
    rests: BTreeMap<(usize, usize), usize>,
}

impl<'a> Building<'a> {
    /// One quantity per set of cells that are the same, numbered in cell order.
    fn new(
        tables: &'a [Table],
        shapes: &'a [Shape],
        cells: &'a Cells,
        min: i64,
        mut same: Same,
    ) -> Building<'a> {
        let mut quantity_of_root: BTreeMap<usize, usize> = BTreeMap::new();
        let mut quantity = Vec::with_capacity(cells.at.len());
        let mut value = Vec::new();
        for i in 0..cells.at.len() {
            let root = same.find(i);
            let next = quantity_of_root.len();
            let q = *quantity_of_root.entry(root).or_insert(next);
            if q == value.len() {
                value.push(cells.at[i].3);
            }
            quantity.push(q);
        }
        let published = vec![true; value.len()];
        let mut base = vec![false; value.len()];
        for (i, &(t, _, j, _)) in cells.at.iter().enumerate() {
            if is_base(&tables[t].columns[j]) {
                base[quantity[i]] = true;
            }
        }
        Building {
            tables,
            shapes,
            cells,
            min,
            quantity,
            value,
            published,
            base,
            relations: BTreeSet::new(),
            rests: BTreeMap::new(),
        }
    }

    /// The quantity of table `t`'s cell at row `r`, column `j`, if it is a count with a value.
    fn q(&self, t: usize, r: usize, j: usize) -> Option<usize> {
        self.cells.id[t][r][j].map(|i| self.quantity[i])
    }

    /// `total` = the sum of `parts`, unless it says nothing (one part, or the total among
    /// its own parts).
    fn add(&mut self, total: usize, mut parts: Vec<usize>, partition: bool) {
        parts.sort_unstable();
        if parts.len() >= 2 && !parts.contains(&total) {
            self.relations.insert(Relation {
                total,
                parts,
                partition,
            });
        }
    }

    /// A group's counts add up to its N (a partition of its population) and to any count of
    /// the same column and value printed about the same people elsewhere (a margin).
    fn groups_and_margins(
        &mut self,
        ti: usize,
        groups: &[Group],
        by_column_value: &BTreeMap<(&str, i64), Vec<usize>>,
    ) {
        let (tables, shapes) = (self.tables, self.shapes);
        let (t, s) = (&tables[ti], &shapes[ti]);
        for g in groups {
            let rows = &g.rows;
            let mut shared = None;
            for &j in &s.counts {
                let mut parts: Vec<usize> = rows.iter().filter_map(|&r| self.q(ti, r, j)).collect();
                if is_base(&t.columns[j]) {
                    // A base repeats on each row of its own group: each population once.
                    parts.sort_unstable();
                    parts.dedup();
                }
                let sum: i64 = parts.iter().map(|&p| self.value[p]).sum();
                // A group of small counts is hidden whole, and its total with it.
                if parts.len() < 2 || sum < self.min {
                    continue;
                }
                for &b in s
                    .counts
                    .iter()
                    .filter(|&&b| b != j && is_base(&t.columns[b]))
                {
                    let first = self.q(ti, rows[0], b);
                    if first.is_some_and(|f| self.value[f] == sum)
                        && rows.iter().all(|&r| self.q(ti, r, b) == first)
                    {
                        self.add(first.unwrap_or_default(), parts.clone(), true);
                    }
                }
                let targets = by_column_value
                    .get(&(t.columns[j].as_str(), sum))
                    .into_iter()
                    .flatten();
                for &i in targets {
                    let (tt, tr, _, _) = self.cells.at[i];
                    let shared = shared.get_or_insert_with(|| shared_labels(t, s, g));
                    if subset(shared, &shapes[tt].label_set[tr]) {
                        self.add(self.quantity[i], parts.clone(), false);
                    }
                }
            }
        }
    }

    /// The rest of a population (its base less a count) is a quantity nobody prints but a
    /// reader can work out: one per row for each count and its base.
    fn rests_of_populations(&mut self, ti: usize) {
        let (tables, shapes) = (self.tables, self.shapes);
        let t = &tables[ti];
        let pairs = counts_and_bases(t, &shapes[ti]);
        for r in 0..t.rows.len() {
            for &(a, b) in &pairs {
                let (Some(qa), Some(qb)) = (self.q(ti, r, a), self.q(ti, r, b)) else {
                    continue;
                };
                if qa == qb || self.rests.contains_key(&(qb, qa)) {
                    continue;
                }
                let rest = self.value.len();
                self.value.push(self.value[qb] - self.value[qa]);
                self.published.push(false);
                self.base.push(false);
                self.rests.insert((qb, qa), rest);
                self.add(qb, vec![qa, rest], false);
            }
        }
    }

    /// A row's parts: count columns adding up to another in every row.
    fn parts_of_rows(&mut self, ti: usize) {
        let (tables, shapes) = (self.tables, self.shapes);
        let (t, s) = (&tables[ti], &shapes[ti]);
        // Every subset of the other columns is tried: only for tables with few.
        if t.rows.len() < 2 || s.counts.len() > 10 {
            return;
        }
        for &total in &s.counts {
            let others: Vec<usize> = s.counts.iter().copied().filter(|&c| c != total).collect();
            for mask in 1u32..(1 << others.len()) {
                let cols: Vec<usize> = (0..others.len())
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| others[i])
                    .collect();
                let nonzero = |c: usize| {
                    t.rows
                        .iter()
                        .any(|row| !matches!(row[c], Cell::Int(0) | Cell::Null))
                };
                if cols.len() < 2 || !cols.iter().all(|&c| nonzero(c)) {
                    continue;
                }
                let holds = t.rows.iter().all(|row| {
                    let parts: Option<i64> = cols
                        .iter()
                        .map(|&c| match row[c] {
                            Cell::Int(v) => Some(v),
                            _ => None,
                        })
                        .sum();
                    matches!((parts, &row[total]), (Some(p), Cell::Int(v)) if p == *v)
                });
                if holds {
                    for r in 0..t.rows.len() {
                        let parts: Option<Vec<usize>> =
                            cols.iter().map(|&c| self.q(ti, r, c)).collect();
                        if let (Some(tq), Some(parts)) = (self.q(ti, r, total), parts) {
                            self.add(tq, parts, false);
                        }
                    }
                }
            }
        }
    }

    /// The sums the publisher declares, where they hold on the true values: a total that is
    /// not the sum of its parts is no relation a reader could use.
    fn known_sums(&mut self, known: &[KnownSum]) {
        let index: BTreeMap<&str, usize> = self
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        let cell = |c: &CellRef| -> Option<(usize, i64)> {
            let &t = index.get(c.table.as_str())?;
            let j = self.tables[t].columns.iter().position(|n| *n == c.column)?;
            let i = (*self.cells.id.get(t)?.get(c.row)?.get(j)?)?;
            Some((self.quantity[i], self.cells.at[i].3))
        };
        let mut holding = Vec::new();
        for sum in known {
            let Some((total, value)) = cell(&sum.total) else {
                continue;
            };
            let Some(parts) = sum.parts.iter().map(cell).collect::<Option<Vec<_>>>() else {
                continue;
            };
            if parts.iter().map(|p| p.1).sum::<i64>() == value {
                holding.push((total, parts.into_iter().map(|p| p.0).collect()));
            }
        }
        for (total, parts) in holding {
            self.add(total, parts, false);
        }
    }

    /// Running totals: forwards (`cumulative`) and backwards (a model's N at each step).
    fn running_totals(&mut self, ti: usize) {
        let (tables, shapes) = (self.tables, self.shapes);
        let (t, s) = (&tables[ti], &shapes[ti]);
        if t.rows.len() < 3 {
            return;
        }
        for &k in &s.counts {
            for &p in s.counts.iter().filter(|&&p| p != k) {
                for forwards in [true, false] {
                    let holds = (1..t.rows.len()).all(|r| {
                        match (&t.rows[r][k], &t.rows[r - 1][k], &t.rows[r][p]) {
                            (Cell::Int(now), Cell::Int(before), Cell::Int(part)) => {
                                if forwards {
                                    *now == before + part
                                } else {
                                    *before == now + part
                                }
                            }
                            _ => false,
                        }
                    });
                    if !holds {
                        continue;
                    }
                    for r in 1..t.rows.len() {
                        let (total, other) = if forwards { (r, r - 1) } else { (r - 1, r) };
                        if let (Some(tq), Some(oq), Some(pq)) =
                            (self.q(ti, total, k), self.q(ti, other, k), self.q(ti, r, p))
                        {
                            self.add(tq, vec![oq, pq], false);
                        }
                    }
                }
            }
        }
    }

    /// The problem, with each relation's terms and each quantity's relations indexed for
    /// the reader's peeling; and each cell's quantity.
    fn finish(self) -> (Problem, Vec<usize>) {
        let relations: Vec<Relation> = self.relations.into_iter().collect();
        let terms: Vec<Vec<usize>> = relations
            .iter()
            .map(|rel| {
                let mut t = rel.parts.clone();
                t.push(rel.total);
                t.sort_unstable();
                t.dedup();
                t
            })
            .collect();
        let mut of = vec![Vec::new(); self.value.len()];
        for (i, t) in terms.iter().enumerate() {
            for &q in t {
                of[q].push(i);
            }
        }
        (
            Problem {
                value: self.value,
                base: self.base,
                published: self.published,
                relations,
                terms,
                of,
            },
            self.quantity,
        )
    }
}

/// The count columns `(a, b)` of a table where `a` is part of the population `b`: `b` is a
/// base column, or a fraction column is `a / b` in every row. Only where `a ≤ b` in every row.
fn counts_and_bases(t: &Table, s: &Shape) -> BTreeSet<(usize, usize)> {
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for &a in &s.counts {
        for &b in s.counts.iter().filter(|&&b| b != a) {
            let within = t.rows.iter().all(|row| match (&row[a], &row[b]) {
                (Cell::Int(x), Cell::Int(y)) => x <= y,
                _ => true,
            });
            if !within {
                continue;
            }
            let by_name = is_base(&t.columns[b]) && !is_base(&t.columns[a]);
            let by_fraction = s.numbers.iter().any(|&f| {
                let mut seen = false;
                let all = t.rows.iter().all(|row| match (&row[f], &row[a], &row[b]) {
                    (Cell::Float(p), Cell::Int(x), Cell::Int(y)) if *y > 0 => {
                        seen = true;
                        (p * *y as f64 - *x as f64).abs() < 1e-6 * (*y as f64).max(1.0)
                    }
                    _ => true,
                });
                all && seen
            });
            if by_name || by_fraction {
                pairs.insert((a, b));
            }
        }
    }
    pairs
}

/// What the simulated reader knows, and through which relation they worked each out.
fn peel(p: &Problem, hidden: &[bool]) -> (Vec<bool>, Vec<Option<usize>>) {
    let mut known: Vec<bool> = (0..p.value.len())
        .map(|q| p.published[q] && !hidden[q])
        .collect();
    let mut by = vec![None; p.value.len()];
    let mut unknown: Vec<usize> = p
        .terms
        .iter()
        .map(|t| t.iter().filter(|&&q| !known[q]).count())
        .collect();
    let mut todo: Vec<usize> = (0..p.relations.len())
        .rev()
        .filter(|&i| unknown[i] == 1)
        .collect();
    while let Some(i) = todo.pop() {
        if unknown[i] != 1 {
            continue;
        }
        let Some(&q) = p.terms[i].iter().find(|&&q| !known[q]) else {
            continue;
        };
        known[q] = true;
        by[q] = Some(i);
        for &j in p.of[q].iter().rev() {
            unknown[j] -= 1;
            if unknown[j] == 1 {
                todo.push(j);
            }
        }
    }
    (known, by)
}

/// The relations through which the simulated reader learns something they should not, each
/// with the suppressed count it gives away, if it gives one away.
fn offending(
    p: &Problem,
    hidden: &[bool],
    known: &[bool],
    by: &[Option<usize>],
    min: i64,
) -> BTreeMap<usize, Option<usize>> {
    let small = |v: i64| v > 0 && v < min;
    // The linked sets: the suppressed categories of the partitions of each N (by its value).
    let mut linked: BTreeMap<i64, BTreeSet<usize>> = BTreeMap::new();
    let mut partitioned = vec![false; p.value.len()];
    for rel in p.relations.iter().filter(|r| r.partition) {
        for &q in &rel.parts {
            partitioned[q] = true;
            if hidden[q] {
                linked.entry(p.value[rel.total]).or_default().insert(q);
            }
        }
    }
    let equals_hidden = |total: usize, v: i64, except: &[usize]| {
        linked
            .get(&p.value[total])
            .is_some_and(|hs| hs.iter().any(|&h| p.value[h] == v && !except.contains(&h)))
    };
    let mut out = BTreeMap::new();
    for q in 0..p.value.len() {
        let Some(i) = by[q] else { continue };
        let rel = &p.relations[i];
        if p.published[q] {
            // A suppressed count worked out.
            if hidden[q] {
                out.insert(i, Some(q));
            }
        } else if small(p.value[q])
            || (rel.parts.iter().any(|&a| a != q && partitioned[a])
                && equals_hidden(rel.total, p.value[q], &[]))
        {
            // The rest of a population: small, or (for a category of a partition) the
            // suppressed category of another partition of the same N.
            out.entry(i).or_insert(None);
        }
    }
    for (i, rel) in p.relations.iter().enumerate() {
        if !known[rel.total] {
            continue;
        }
        let mut unknown: Vec<usize> = rel.parts.iter().copied().filter(|&q| !known[q]).collect();
        let sum: i64 = unknown.iter().map(|&q| p.value[q]).sum();
        unknown.dedup();
        if unknown.len() >= 2
            && (small(sum) || (rel.partition && equals_hidden(rel.total, sum, &unknown)))
        {
            out.entry(i).or_insert(None);
        }
    }
    out
}

/// The quantities to suppress: the small ones, then greedily more until the simulated reader
/// works out nothing they should not. Returns (hidden, relations left offending).
fn protect(p: &Problem, min: i64) -> (Vec<bool>, usize) {
    let mut hidden: Vec<bool> = (0..p.value.len())
        .map(|q| p.published[q] && p.value[q] > 0 && p.value[q] < min)
        .collect();
    loop {
        let (known, by) = peel(p, &hidden);
        let offending = offending(p, &hidden, &known, &by, min);
        if offending.is_empty() {
            return (hidden, 0);
        }
        // Per relation, how many of its terms are not shown (hidden, or never published).
        let unshown: Vec<usize> = p
            .terms
            .iter()
            .map(|t| t.iter().filter(|&&q| !p.published[q] || hidden[q]).count())
            .collect();
        let mut touched = BTreeSet::new();
        let mut changed = false;
        for (&i, &leaked) in &offending {
            let terms = &p.terms[i];
            if terms.iter().any(|q| touched.contains(q)) {
                continue;
            }
            // A suppressed count that another relation gives away is that relation's to
            // fix (it offends too): fixing this one as well would hide cells for nothing.
            if terms
                .iter()
                .any(|&q| Some(q) != leaked && p.published[q] && hidden[q] && known[q])
            {
                continue;
            }
            // How many other relations would give a cell straight back once it is hidden:
            // those whose every other term is shown.
            let exposed = |q: usize| {
                p.of[q]
                    .iter()
                    .filter(|&&j| j != i && unshown[j] == 0)
                    .count()
            };
            // Of the relation's shown cells: non-zero, a category before an N (an N is the
            // base of every count of its population) and, of Ns, a part before the total,
            // not given straight back elsewhere, smallest.
            let partner = terms
                .iter()
                .copied()
                .filter(|&q| p.published[q] && !hidden[q])
                .min_by_key(|&q| {
                    let base = p.base[q];
                    let total = base && q == p.relations[i].total;
                    (p.value[q] == 0, base, total, exposed(q), p.value[q], q)
                });
            if let Some(q) = partner {
                hidden[q] = true;
                touched.insert(q);
                changed = true;
            }
        }
        if !changed {
            return (hidden, offending.len());
        }
    }
}

/// A cell of a publication's table: the table's name, a row and a column name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellRef {
    /// The table's name.
    pub table: String,
    /// Row index.
    pub row: usize,
    /// Column name.
    pub column: String,
}

/// A total its publisher knows to be the sum of other cells — a refresh's count and the one
/// before it plus the change between them — which the rule cannot find from the tables'
/// shapes alone. Kept only where it holds on the values; integer count cells only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSum {
    /// The total.
    pub total: CellRef,
    /// Its parts.
    pub parts: Vec<CellRef>,
}

/// Decides the suppressed cells of every table of a publication together, at `min_count`.
pub fn decide(tables: &[Table], min_count: u64) -> Decision {
    decide_with(tables, min_count, &[])
}

/// [`decide`], with the sums the publisher knows besides those the rule finds.
pub fn decide_with(tables: &[Table], min_count: u64, known: &[KnownSum]) -> Decision {
    let min = i64::try_from(min_count).unwrap_or(i64::MAX);
    let mut interner = Interner::new();
    let shapes: Vec<Shape> = tables.iter().map(|t| shape(t, &mut interner)).collect();
    let mut decision = Decision::default();
    let cells = cells(tables, &shapes);
    let (hidden_q, quantity) = if min > 1 {
        let (problem, quantity) = problem(tables, &shapes, &cells, min, known);
        let (hidden, unresolved) = protect(&problem, min);
        decision.unresolved = unresolved;
        (hidden, quantity)
    } else {
        (Vec::new(), vec![0; cells.at.len()])
    };
    for (ti, t) in tables.iter().enumerate() {
        let s = &shapes[ti];
        let mut hidden = BTreeSet::new();
        for r in 0..t.rows.len() {
            for &j in &s.counts {
                if let Some(i) = cells.id[ti][r][j]
                    && hidden_q.get(quantity[i]).copied().unwrap_or(false)
                {
                    hidden.insert((r, j));
                    if cells.at[i].3 < min {
                        decision.primary += 1;
                    } else {
                        decision.secondary += 1;
                    }
                }
            }
        }
        // A row's fractional numbers go with its suppressed counts; a share of the previous
        // row's count with that count.
        let rows_hit: BTreeSet<usize> = hidden.iter().map(|&(r, _)| r).collect();
        for &r in &rows_hit {
            for &j in &s.numbers {
                if t.rows[r][j] != Cell::Null {
                    hidden.insert((r, j));
                }
            }
            for (j, name) in t.columns.iter().enumerate() {
                if name.ends_with("_of_previous")
                    && r + 1 < t.rows.len()
                    && t.rows[r + 1][j] != Cell::Null
                {
                    hidden.insert((r + 1, j));
                }
            }
        }
        decision.tables.insert(
            t.name.clone(),
            Suppressed {
                columns: t.columns.clone(),
                cells: hidden,
            },
        );
    }
    decision
}

/// Reads one table of a run (`<run>/tables/<name>.parquet`) as the rule sees it.
pub fn read_table(path: &Path, name: &str) -> Result<Table, String> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| format!("{} is not a readable Parquet table: {e}", path.display()))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    table_from_batches(name, &batches).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// A table a caller computed in memory, as the rule sees it.
pub fn table_from_batches(
    name: &str,
    batches: &[arrow::array::RecordBatch],
) -> Result<Table, String> {
    use arrow::array::{Array, AsArray};
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, Float64Type, Int64Type};
    let mut table = Table {
        name: name.to_string(),
        columns: Vec::new(),
        rows: Vec::new(),
    };
    for batch in batches {
        table.columns = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut columns: Vec<Vec<Cell>> = Vec::new();
        for array in batch.columns() {
            let err = |e: arrow::error::ArrowError| e.to_string();
            let n = array.len();
            let valid = |i: usize| !array.is_null(i);
            let column: Vec<Cell> = match array.data_type() {
                t if t.is_integer() => {
                    let c = cast(array, &DataType::Int64).map_err(err)?;
                    let a = c.as_primitive::<Int64Type>();
                    (0..n)
                        .map(|i| {
                            if valid(i) {
                                Cell::Int(a.value(i))
                            } else {
                                Cell::Null
                            }
                        })
                        .collect()
                }
                t if t.is_floating() || matches!(t, DataType::Decimal128(..)) => {
                    let c = cast(array, &DataType::Float64).map_err(err)?;
                    let a = c.as_primitive::<Float64Type>();
                    (0..n)
                        .map(|i| {
                            if valid(i) {
                                Cell::Float(a.value(i))
                            } else {
                                Cell::Null
                            }
                        })
                        .collect()
                }
                _ => {
                    let c = cast(array, &DataType::Utf8).map_err(err)?;
                    let a = c.as_string::<i32>();
                    (0..n)
                        .map(|i| {
                            if valid(i) {
                                Cell::Text(a.value(i).to_string())
                            } else {
                                Cell::Null
                            }
                        })
                        .collect()
                }
            };
            columns.push(column);
        }
        for r in 0..batch.num_rows() {
            table
                .rows
                .push(columns.iter().map(|c| c[r].clone()).collect());
        }
    }
    Ok(table)
}

/// The run's one decision: every published table of `layout` read and decided together (no
/// decision to make below a threshold of 2). The annex and the report each need it; a caller
/// making both makes it once and hands it to each ([`crate::write_annex_with`],
/// [`crate::RenderOptions::disclosure`]).
pub fn decide_run(layout: &RunLayout, min_count: u64) -> Result<Decision, String> {
    if min_count < 2 {
        return Ok(Decision::default());
    }
    publication(layout).map(|tables| decide(&tables, min_count))
}

/// Every table a run publishes, as the rule reads them: the output tables (the annex's sheets,
/// in the catalogue's order; every top-level table when a run has no catalogue), each model's
/// coefficients, summary and steps, and the Framework stage's tables — all the report's
/// templates and charts can read except the study's reference tables.
pub fn publication(layout: &RunLayout) -> Result<Vec<Table>, String> {
    let dir = layout.tables_dir();
    let mut names = Vec::new();
    let catalog = layout.catalog();
    if catalog.is_file() {
        let t = read_table(&catalog, "catalog")?;
        let col = |name: &str| {
            t.columns
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| format!("{}: no column `{name}`", catalog.display()))
        };
        let (table, kind) = (col("table")?, col("kind")?);
        for row in &t.rows {
            if let (Cell::Text(table), Cell::Text(kind)) = (&row[table], &row[kind])
                && kind == "output"
            {
                names.push(table.clone());
            }
        }
    } else {
        names.extend(parquet_stems(&dir)?);
    }
    for id in subfolders(&layout.models_dir())? {
        for part in ["coefficients", "summary", "steps"] {
            if layout
                .models_dir()
                .join(&id)
                .join(format!("{part}.parquet"))
                .is_file()
            {
                names.push(format!("models/{id}/{part}"));
            }
        }
    }
    names.extend(
        parquet_stems(&layout.framework_tables_dir())?
            .into_iter()
            .map(|s| format!("framework/{s}")),
    );
    names
        .iter()
        .map(|name| read_table(&dir.join(format!("{name}.parquet")), name))
        .collect()
}

/// The stems of the `.parquet` files in `dir`, sorted (none if it does not exist).
fn parquet_stems(dir: &Path) -> Result<Vec<String>, String> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<String> = Vec::new();
    for e in read {
        let path = e
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .path();
        if path.is_file() && path.extension().is_some_and(|x| x == "parquet") {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if stem != "catalog" {
                out.push(stem);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn subfolders(dir: &Path) -> Result<Vec<String>, String> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in read {
        let path = e
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .path();
        if path.is_dir() {
            out.push(
                path.file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Cell {
        Cell::Text(v.to_string())
    }
    fn i(v: i64) -> Cell {
        Cell::Int(v)
    }
    fn table(name: &str, columns: &[&str], rows: Vec<Vec<Cell>>) -> Table {
        Table {
            name: name.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        }
    }
    /// `characteristic, category, participants, pct, n` with pct = participants / n.
    fn characteristics(name: &str, rows: &[(&str, &str, i64, i64)]) -> Table {
        table(
            name,
            &["characteristic", "category", "participants", "pct", "n"],
            rows.iter()
                .map(|&(c, cat, p, n)| {
                    vec![s(c), s(cat), i(p), Cell::Float(p as f64 / n as f64), i(n)]
                })
                .collect(),
        )
    }
    /// The categories (by row) whose `participants` the decision hides.
    fn hidden_rows(d: &Decision, t: &Table) -> Vec<usize> {
        let j = t.columns.iter().position(|c| c == "participants").unwrap();
        (0..t.rows.len())
            .filter(|&r| d.is_hidden(&t.name, r, &t.columns[j]))
            .collect()
    }

    /// Two refreshes of one trend: 100 achieved, then 103, a change of 3. The rule cannot see
    /// from two rows that 103 = 100 + 3; declared, the sum hides one more cell, so the small
    /// change cannot be subtracted back; a declared sum that does not hold adds nothing.
    #[test]
    fn a_declared_sum_protects_a_small_change_between_two_refreshes() {
        let t = table(
            "trend",
            &["refresh_order", "milestone_code", "achieved", "change"],
            vec![
                vec![i(1), s("JS"), i(100), Cell::Null],
                vec![i(2), s("JS"), i(103), i(3)],
            ],
        );
        let at = |row: usize, column: &str| CellRef {
            table: "trend".into(),
            row,
            column: column.into(),
        };
        let sum = KnownSum {
            total: at(1, "achieved"),
            parts: vec![at(0, "achieved"), at(1, "change")],
        };
        fn hidden(d: &Decision) -> Vec<(usize, String)> {
            d.hidden_cells("trend")
                .into_iter()
                .map(|(r, c)| (r, c.to_string()))
                .collect()
        }
        let change = (1, "change".to_string());
        let alone = decide(std::slice::from_ref(&t), 10);
        assert_eq!(
            hidden(&alone),
            vec![change.clone()],
            "the rule alone sees no relation"
        );
        let declared = decide_with(std::slice::from_ref(&t), 10, std::slice::from_ref(&sum));
        let cells = hidden(&declared);
        assert!(cells.contains(&change), "{cells:?}");
        assert_eq!(
            cells.len(),
            2,
            "one of the achieved counts goes too: {cells:?}"
        );
        // A sum that does not hold on the values (103 ≠ 100 + 4) is no relation.
        let mut wrong = t.clone();
        wrong.rows[1][3] = i(4);
        let ignored = decide_with(std::slice::from_ref(&wrong), 10, &[sum]);
        assert_eq!(hidden(&ignored), vec![change]);
    }

    #[test]
    fn a_lone_small_cell_takes_the_next_smallest_of_its_group_with_it() {
        let t = characteristics(
            "t",
            &[
                ("sex", "Female", 120, 127),
                ("sex", "Male", 7, 127),
                ("age", "16–24", 50, 130),
                ("age", "25–34", 40, 130),
                ("age", "55 or over", 0, 130),
                ("age", "35–44", 40, 130),
            ],
        );
        let d = decide(std::slice::from_ref(&t), 10);
        // Male 7 is small; Female 120 would give it back (127 − 120): both go, with their pct.
        assert_eq!(hidden_rows(&d, &t), vec![0, 1]);
        assert!(d.is_hidden("t", 0, "pct") && d.is_hidden("t", 1, "pct"));
        assert!(!d.is_hidden("t", 0, "n"), "the N stays");
        assert_eq!((d.primary(), d.secondary(), d.unresolved()), (1, 1, 0));
    }

    #[test]
    fn calendar_years_and_quarters_are_labels_not_counts() {
        let t = table(
            "months",
            &["month", "year", "quarter", "participants", "n"],
            vec![
                vec![s("2020-03-01"), i(2020), i(1), i(168), i(3922)],
                vec![s("2020-04-01"), i(2020), i(2), i(3754), i(3922)],
            ],
        );
        assert!(decide(&[t], 10).hidden("months").is_empty());
    }

    #[test]
    fn two_small_cells_whose_sum_is_small_take_a_third_with_them() {
        // 100 − 93 = 7: the two hidden lots' sum is itself a small count.
        let t = characteristics(
            "t",
            &[
                ("lot", "A", 3, 100),
                ("lot", "B", 4, 100),
                ("lot", "C", 93, 100),
            ],
        );
        let d = decide(std::slice::from_ref(&t), 10);
        assert_eq!(hidden_rows(&d, &t), vec![0, 1, 2]);
        // With a sum of 12 the two protect each other.
        let t = characteristics(
            "t",
            &[
                ("lot", "A", 3, 100),
                ("lot", "B", 9, 100),
                ("lot", "C", 88, 100),
            ],
        );
        let d = decide(std::slice::from_ref(&t), 10);
        assert_eq!(hidden_rows(&d, &t), vec![0, 1]);
    }

    #[test]
    fn a_count_whose_rest_is_small_is_hidden_even_where_categories_overlap() {
        // Multi-select options: no partition, but 20 − 18 = 2 people did not choose y.
        let t = characteristics(
            "options",
            &[
                ("option", "x", 5, 20),
                ("option", "y", 18, 20),
                ("option", "w", 10, 20),
            ],
        );
        let d = decide(std::slice::from_ref(&t), 10);
        assert_eq!(hidden_rows(&d, &t), vec![0, 1]);
        // Of 200, 18 leaves 182: nothing to hide beyond the small option.
        let t = characteristics(
            "options",
            &[
                ("option", "x", 5, 200),
                ("option", "y", 18, 200),
                ("option", "w", 190, 200),
            ],
        );
        let d = decide(std::slice::from_ref(&t), 10);
        assert_eq!(hidden_rows(&d, &t), vec![0]);
    }

    #[test]
    fn cannock_north_hides_white_in_both_splits_of_its_191() {
        // The defect's shape: L5's two-way and fine ethnic split over the same N, with another
        // lot beside it.
        let columns = [
            "lot_code",
            "characteristic",
            "category",
            "participants",
            "pct",
            "n",
        ];
        let rows = [
            ("L1", "ethnicity", "White", 158, 366),
            ("L1", "ethnicity", "Minority ethnic", 208, 366),
            ("L1", "ethnic_group", "White", 158, 366),
            ("L1", "ethnic_group", "Mixed", 18, 366),
            ("L1", "ethnic_group", "Asian", 150, 366),
            ("L1", "ethnic_group", "Black", 29, 366),
            ("L1", "ethnic_group", "Other", 11, 366),
            ("L5", "ethnicity", "White", 187, 191),
            ("L5", "ethnicity", "Minority ethnic", 4, 191),
            ("L5", "ethnic_group", "White", 187, 191),
            ("L5", "ethnic_group", "Mixed", 2, 191),
            ("L5", "ethnic_group", "Asian", 2, 191),
            ("L5", "ethnic_group", "Black", 0, 191),
            ("L5", "ethnic_group", "Other", 0, 191),
        ];
        let t = table(
            "ethnicity_by_lot",
            &columns,
            rows.iter()
                .map(|&(l, c, cat, p, n)| {
                    vec![
                        s(l),
                        s(c),
                        s(cat),
                        i(p),
                        Cell::Float(p as f64 / n as f64),
                        i(n),
                    ]
                })
                .collect(),
        );
        let d = decide(std::slice::from_ref(&t), 10);
        // Minority 4 is small; 191 − 187 gives it back from either White, so both go; Mixed
        // and Asian are small; Black and Other (0) and L1 stay.
        assert_eq!(hidden_rows(&d, &t), vec![7, 8, 9, 10, 11]);
        assert!(d.is_hidden("ethnicity_by_lot", 9, "pct"));
        assert!(!d.is_hidden("ethnicity_by_lot", 7, "n"));
    }

    #[test]
    fn a_suppressed_count_is_suppressed_wherever_it_is_published() {
        // Job starts by lot (Table A-16) are the participants of 13-week sustainment by lot
        // . B's 4 job starts are small; the partner within A-16's lots (the smallest,
        // C's 30) must not be printed in A-17 either.
        let outcome = |name: &str, rows: &[(&str, &str, i64, i64, i64)]| {
            table(
                name,
                &[
                    "characteristic",
                    "category",
                    "participants",
                    "achieved",
                    "rate",
                    "n",
                ],
                rows.iter()
                    .map(|&(c, cat, p, a, n)| {
                        vec![
                            s(c),
                            s(cat),
                            i(p),
                            i(a),
                            Cell::Float(a as f64 / p as f64),
                            i(n),
                        ]
                    })
                    .collect(),
            )
        };
        let jobs = outcome(
            "job_outcome_by_lot",
            &[
                ("all", "All participants", 400, 134, 400),
                ("lot", "A", 200, 100, 400),
                ("lot", "B", 100, 4, 400),
                ("lot", "C", 100, 30, 400),
            ],
        );
        let sustained = outcome(
            "sustained_13_by_lot",
            &[
                ("all", "All participants", 134, 100, 134),
                ("lot", "A", 100, 80, 134),
                ("lot", "C", 30, 20, 134),
            ],
        );
        let d = decide(&[jobs.clone(), sustained.clone()], 10);
        let achieved = |r| d.is_hidden("job_outcome_by_lot", r, "achieved");
        assert!(achieved(2) && achieved(3), "B's 4 and its partner C's 30");
        assert!(!achieved(0) && !achieved(1));
        assert!(d.is_hidden("sustained_13_by_lot", 2, "participants"));
        assert!(d.is_hidden("sustained_13_by_lot", 2, "rate"));
        // Decided apart, A-17 prints C's 30.
        let apart = decide(std::slice::from_ref(&sustained), 10);
        assert!(!apart.is_hidden("sustained_13_by_lot", 2, "participants"));
    }

    #[test]
    fn a_running_total_is_hidden_where_it_would_give_a_month_back() {
        let rows = [
            ("2021-09-01", 40, 3880),
            ("2021-10-01", 28, 3908),
            ("2021-11-01", 8, 3916),
            ("2021-12-01", 6, 3922),
        ];
        let t = table(
            "enrolment_by_month",
            &["month", "participants", "cumulative", "n"],
            rows.iter()
                .map(|&(m, p, c)| vec![s(m), i(p), i(c), i(3922)])
                .collect(),
        );
        let d = decide(std::slice::from_ref(&t), 10);
        let hidden = |r: usize, c: &str| d.is_hidden("enrolment_by_month", r, c);
        assert!(hidden(2, "participants") && hidden(3, "participants"));
        // 3916 − 3908 = 8 and 3922 − 3916 = 6: November's running total goes; October's and
        // December's (the N) stay.
        assert!(hidden(2, "cumulative"));
        assert!(!hidden(1, "cumulative") && !hidden(3, "cumulative") && !hidden(3, "n"));
        assert!(!hidden(0, "participants") && !hidden(1, "participants"));
    }

    #[test]
    fn a_rows_parts_protect_each_other_as_a_groups_do() {
        // Charted in 19 interviews: 0 helping, 17 as a barrier, 2 as both, 0 neutral.
        let columns = [
            "code",
            "cases",
            "facilitator",
            "barrier",
            "mixed",
            "neutral",
            "base",
        ];
        let t = table(
            "framework/framework_theme_cases",
            &columns,
            vec![
                vec![s("COM.TIME"), i(19), i(0), i(17), i(2), i(0), i(154)],
                vec![s("COM.MIX"), i(40), i(14), i(13), i(13), i(0), i(154)],
            ],
        );
        let d = decide(std::slice::from_ref(&t), 10);
        let name = "framework/framework_theme_cases";
        assert!(d.is_hidden(name, 0, "mixed") && d.is_hidden(name, 0, "barrier"));
        assert!(!d.is_hidden(name, 0, "cases") && !d.is_hidden(name, 0, "facilitator"));
        assert!(d.hidden(name).iter().all(|&(r, _)| r == 0));
    }

    #[test]
    fn fractions_money_and_the_next_rows_share_of_the_previous_go_with_a_count() {
        let t = table(
            "claims",
            &["milestone", "claims", "amount_gbp", "pct_of_previous", "n"],
            vec![
                vec![s("REG"), i(500), Cell::Float(50000.0), Cell::Null, i(1000)],
                vec![
                    s("JS"),
                    i(7),
                    Cell::Float(4550.0),
                    Cell::Float(0.014),
                    i(1000),
                ],
                vec![
                    s("S13"),
                    i(21),
                    Cell::Float(8400.0),
                    Cell::Float(3.0),
                    i(1000),
                ],
            ],
        );
        let d = decide(std::slice::from_ref(&t), 10);
        let hidden = |r: usize, c: &str| d.is_hidden("claims", r, c);
        assert!(
            hidden(1, "claims") && hidden(1, "amount_gbp"),
            "£ = claims × tariff"
        );
        assert!(hidden(1, "pct_of_previous"));
        // S13's 21 is shown, but 21 / 3.0 would give JS's 7 back.
        assert!(!hidden(2, "claims") && !hidden(2, "amount_gbp"));
        assert!(hidden(2, "pct_of_previous"));
        assert!(!hidden(0, "claims") && !hidden(0, "amount_gbp"));
    }

    #[test]
    fn the_sum_of_a_groups_hidden_cells_may_not_be_another_breakdowns_hidden_cell() {
        // Quantities: 0 = N 200; two-way 1 White 178, 2 Minority 22; fine 3 White 178 (not
        // recognised as the same), 4 Mixed 3, 5 Asian 9, 6 Black 10.
        let p = Problem {
            value: vec![200, 178, 22, 178, 3, 9, 10],
            base: vec![true, false, false, false, false, false, false],
            published: vec![true; 7],
            relations: vec![
                Relation {
                    total: 0,
                    parts: vec![1, 2],
                    partition: true,
                },
                Relation {
                    total: 0,
                    parts: vec![3, 4, 5, 6],
                    partition: true,
                },
            ],
            terms: vec![vec![0, 1, 2], vec![0, 3, 4, 5, 6]],
            of: vec![
                vec![0, 1],
                vec![0],
                vec![0],
                vec![1],
                vec![1],
                vec![1],
                vec![1],
            ],
        };
        // Minority (and its partner) suppressed, and Mixed, Asian and Black: 200 − 178 = 22.
        let hidden = vec![false, true, true, false, true, true, true];
        let (known, by) = peel(&p, &hidden);
        assert!(!known[2]);
        let found = offending(&p, &hidden, &known, &by, 10);
        assert_eq!(found.keys().copied().collect::<Vec<_>>(), vec![1]);
        // With Black shown, the hidden fine groups sum to 12: nothing given away.
        let hidden = vec![false, true, true, false, true, true, false];
        let (known, by) = peel(&p, &hidden);
        assert!(offending(&p, &hidden, &known, &by, 10).is_empty());
    }

    #[test]
    fn the_same_tables_give_the_same_decision_and_no_threshold_hides_nothing() {
        let t = characteristics(
            "t",
            &[
                ("lot", "A", 3, 100),
                ("lot", "B", 4, 100),
                ("lot", "C", 93, 100),
            ],
        );
        let tables = vec![t.clone(), t.clone()];
        assert_eq!(decide(&tables, 10), decide(&tables, 10));
        for min in [0, 1] {
            let d = decide(&tables, min);
            assert!(d.covers("t") && d.hidden("t").is_empty());
        }
    }
}
