//! The dashboards' tables: `queries/dashboard/*.sql` run in memory over the refreshes' inputs,
//! and one disclosure decision over them and the latest run's published tables.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::RecordBatch;
use evalpipe_report::disclosure::{
    self, Cell, CellRef, Decision, KnownSum, Table, decide_with, table_from_batches,
};
use evalpipe_study::{RunLayout, Study};

use crate::config::DashboardConfig;
use crate::inputs::{self, Refresh};
use crate::{Error, Result};

/// The tables whose counts are of people, decided with the run's publication. The data-quality
/// tables count files and records, and are shown as they are.
pub(crate) const DECIDED: [&str; 3] = [
    "dashboard_headline",
    "dashboard_milestones_by_lot",
    "dashboard_groups",
];

/// Every dashboard table, with the decision on them.
pub(crate) struct Computed {
    /// Table name → its rows.
    pub tables: BTreeMap<String, Vec<RecordBatch>>,
    /// Suppressed cells of the [`DECIDED`] tables (and of the run's publication).
    pub decision: Decision,
}

/// Reads the refreshes, runs the dashboards' queries and decides disclosure.
pub(crate) fn compute(
    study: &Study,
    config: &DashboardConfig,
    refreshes: &[Refresh],
    queries: &Path,
) -> Result<Computed> {
    let inputs = inputs::read(study, config, refreshes)?;
    let views = inputs::views(refreshes)?;
    let queries = evalpipe_transform::read_queries(&queries.join(crate::QUERIES_SUBDIR))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("starting the query runtime: {e}")))?;
    let computed = runtime.block_on(async {
        let ctx = evalpipe_transform::session(&evalpipe_transform::SessionConfigSpec::default())
            .map_err(|e| Error::Internal(format!("query session: {e}")))?;
        for (name, batch) in &inputs {
            ctx.register_batch(name, batch.clone())
                .map_err(|e| Error::Internal(format!("registering {name}: {e}")))?;
        }
        for (name, sql) in &views {
            evalpipe_transform::register_view(&ctx, name, sql)
                .await
                .map_err(|e| Error::Internal(format!("registering the view {name}: {e}")))?;
        }
        let none = |_: &str, _: usize, _: usize| {};
        Ok::<_, Error>(evalpipe_transform::run_in_memory(&ctx, &queries, &none).await?)
    })?;
    let tables: BTreeMap<String, Vec<RecordBatch>> = computed
        .into_iter()
        .map(|(name, _, batches)| (name, batches))
        .collect();
    for name in DECIDED {
        if !tables.contains_key(name) {
            return Err(Error::Internal(format!(
                "no query writes `{name}` in queries/{}",
                crate::QUERIES_SUBDIR
            )));
        }
    }
    let decision = decide(study, refreshes, &tables)?;
    Ok(Computed { tables, decision })
}

/// One decision over the dashboards' tables of people and the latest run's publication.
fn decide(
    study: &Study,
    refreshes: &[Refresh],
    tables: &BTreeMap<String, Vec<RecordBatch>>,
) -> Result<Decision> {
    let min_count = study.disclosure.min_count;
    if min_count < 2 {
        return Ok(Decision::default());
    }
    let latest = refreshes
        .last()
        .ok_or_else(|| Error::Refreshes("no runs given".into()))?;
    let mut publication =
        disclosure::publication(&RunLayout::new(&latest.run)).map_err(|message| Error::Run {
            run: latest.run.clone(),
            message,
        })?;
    let ours: Vec<Table> = DECIDED
        .iter()
        .map(|name| table_from_batches(name, &tables[*name]).map_err(Error::Internal))
        .collect::<Result<_>>()?;
    let mut known = Vec::new();
    for t in &ours {
        known.extend(trend_sums(t));
    }
    if let [headline, by_lot, _] = &ours[..] {
        known.extend(lots_add_up(headline, by_lot));
    }
    publication.extend(ours);
    Ok(decide_with(&publication, min_count, &known))
}

fn column(t: &Table, name: &str) -> Option<usize> {
    t.columns.iter().position(|c| c == name)
}

fn text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(f) => f.to_string(),
        Cell::Null => String::new(),
    }
}

fn at(t: &Table, row: usize, column: &str) -> CellRef {
    CellRef {
        table: t.name.clone(),
        row,
        column: column.to_string(),
    }
}

/// A trend's sums: each refresh's `achieved` is the previous refresh's plus its `change`, per
/// series (the lot, if any, and the milestone).
fn trend_sums(t: &Table) -> Vec<KnownSum> {
    let (Some(order), Some(milestone), Some(_), Some(_)) = (
        column(t, "refresh_order"),
        column(t, "milestone_code"),
        column(t, "achieved"),
        column(t, "change"),
    ) else {
        return Vec::new();
    };
    let lot = column(t, "lot_code");
    let mut last: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut sums = Vec::new();
    let mut rows: Vec<usize> = (0..t.rows.len()).collect();
    rows.sort_by_key(|&r| match t.rows[r][order] {
        Cell::Int(i) => i,
        _ => i64::MAX,
    });
    for r in rows {
        let series = (
            lot.map(|j| text(&t.rows[r][j])).unwrap_or_default(),
            text(&t.rows[r][milestone]),
        );
        if let Some(&previous) = last.get(&series) {
            sums.push(KnownSum {
                total: at(t, r, "achieved"),
                parts: vec![at(t, previous, "achieved"), at(t, r, "change")],
            });
        }
        last.insert(series, r);
    }
    sums
}

/// The lots' counts of a refresh and milestone add up to the programme's, where they do (a
/// claim of a participant no lot's cut-off counts is in neither).
fn lots_add_up(headline: &Table, by_lot: &Table) -> Vec<KnownSum> {
    let key = |t: &Table, r: usize| -> Option<(String, String)> {
        Some((
            text(&t.rows[r][column(t, "refresh_order")?]),
            text(&t.rows[r][column(t, "milestone_code")?]),
        ))
    };
    let mut parts: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for r in 0..by_lot.rows.len() {
        if let Some(k) = key(by_lot, r) {
            parts.entry(k).or_default().push(r);
        }
    }
    let mut sums = Vec::new();
    for r in 0..headline.rows.len() {
        let Some(rows) = key(headline, r).and_then(|k| parts.get(&k)) else {
            continue;
        };
        for c in ["achieved", "change"] {
            sums.push(KnownSum {
                total: at(headline, r, c),
                parts: rows.iter().map(|&p| at(by_lot, p, c)).collect(),
            });
        }
    }
    sums
}
