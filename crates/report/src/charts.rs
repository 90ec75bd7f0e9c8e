//! Charts: the report's figures as SVG, drawn with plotters from the run's tables.
//!
//! A chart draws table values and nothing else: bar lengths are the tables' counts, shares and
//! rates, labels are those values through the report's own [`format`](crate::format) filters,
//! and a cell that disclosure control suppressed ([`crate::disclosure`]) is drawn as a gap
//! labelled `[c]`, never as a bar. The charts read the tables through the same loader as the
//! templates, so they see exactly the suppressed cells the prose sees.
//!
//! Every chart is an `<svg role="img" aria-labelledby=…>` with a `<title>` (the figure's
//! caption) and a `<desc>` that states every value drawn, so a screen reader or a reviewer
//! reading the Markdown gets the numbers without the picture. Colours are the Okabe–Ito
//! palette, which stays distinguishable with the common colour-vision deficiencies; direction
//! and series are also said in words (legends, "Enables"/"Hinders"), never by colour alone.
//! Output is byte-deterministic: integer pixel geometry, no clock, no map order.
//!
//! # Chart ids
//!
//! Templates call `chart(id)` with one of these ids ([`CHARTS`]):
//!
//! | id | figure | tables |
//! |---|---|---|
//! | `claims_performance` | Figure 2-1, progress towards programme targets | `claims_performance` |
//! | `characteristics` | Figure 2.2, characteristics of participants | `characteristics_sex`, `_age`, `_ethnicity`, `_qualification`, `_health`, `_caring_child` |
//! | `job_outcomes_by_cohort` | Figure 2.3, job outcomes by cohort | `job_outcomes_by_cohort` |
//! | `job_outcome_by_characteristic` | Figure 2-4, job outcome rate by characteristic | `job_outcome_by_{health,caring_child,sex,ethnicity,benefits,age}` |
//! | `sustained_13_by_characteristic` | Figure 2.5, 13-week sustainment by characteristic | `sustained_13_by_…` (same six) |
//! | `progression_by_characteristic` | Figure 2-6, in-work progression by characteristic | `progression_by_…` (same six) |
//! | `enrolment_by_month` | Figure 4-1, monthly enrolment, the first lockdown marked | `enrolment_by_month`, `reference/periods` |
//! | `cohort_share_by_month` | Figure 4-2, cohort share of each month's enrolments | `cohort_share_by_month`, `reference/periods` |
//! | `how_heard_by_lockdown` | Figure 4-3, how participants heard, before and from the lockdown | `how_heard_by_lockdown` |
//! | `cmo_3_1`, `cmo_4_4`, `cmo_4_5`, `cmo_4_6` | Figures 3-1, 4-4, 4-5, 4-6, context–mechanism–outcome | `framework/framework_cmo` (rows of that figure) |
//!
//! Panel titles of the characteristic charts come from `reference/characteristic_values`.

mod bars;
mod cmo;
pub mod draw;
mod monthly;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use minijinja::value::Value;

pub use draw::PALETTE;

/// One chart the templates can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartSpec {
    /// The id templates pass to `chart(id)`, also the file name `report/figures/<id>.svg`.
    pub id: &'static str,
    /// The published figure it draws.
    pub figure: &'static str,
    /// The figure's caption: the SVG `<title>` and the Markdown image's alt text.
    pub title: &'static str,
}

/// Every chart, in report order. Templates call exactly these ids.
pub const CHARTS: [ChartSpec; 13] = [
    ChartSpec {
        id: "claims_performance",
        figure: "Figure 2-1",
        title: "Progress towards programme targets",
    },
    ChartSpec {
        id: "characteristics",
        figure: "Figure 2.2",
        title: "Demographic characteristics of programme participants",
    },
    ChartSpec {
        id: "job_outcomes_by_cohort",
        figure: "Figure 2.3",
        title: "Job outcomes by cohort",
    },
    ChartSpec {
        id: "job_outcome_by_characteristic",
        figure: "Figure 2-4",
        title: "Proportion of participants achieving a job outcome, by characteristics",
    },
    ChartSpec {
        id: "sustained_13_by_characteristic",
        figure: "Figure 2.5",
        title: "Proportion of participants with a job outcome sustaining at 13 weeks, by characteristics",
    },
    ChartSpec {
        id: "progression_by_characteristic",
        figure: "Figure 2-6",
        title: "Proportion of participants achieving in-work progression, by characteristics",
    },
    ChartSpec {
        id: "cmo_3_1",
        figure: "Figure 3-1",
        title: "How local partnership generated positive outcomes for participants",
    },
    ChartSpec {
        id: "enrolment_by_month",
        figure: "Figure 4-1",
        title: "Monthly enrolment (count)",
    },
    ChartSpec {
        id: "cohort_share_by_month",
        figure: "Figure 4-2",
        title: "Cohort, by month of enrolment (percentage)",
    },
    ChartSpec {
        id: "how_heard_by_lockdown",
        figure: "Figure 4-3",
        title: "How participants heard about Connecting Communities before and after the initial Covid-19 lockdown (percentages)",
    },
    ChartSpec {
        id: "cmo_4_4",
        figure: "Figure 4-4",
        title: "Contexts, mechanisms, and outcomes related to employment outcomes",
    },
    ChartSpec {
        id: "cmo_4_5",
        figure: "Figure 4-5",
        title: "Contexts, mechanisms, and outcomes related to employer engagement",
    },
    ChartSpec {
        id: "cmo_4_6",
        figure: "Figure 4-6",
        title: "Contexts, mechanisms, and outcomes related to in-work support provision",
    },
];

/// The spec of chart `id`, if there is one.
pub fn spec(id: &str) -> Option<&'static ChartSpec> {
    CHARTS.iter().find(|c| c.id == id)
}

/// Where the charts read their tables: the run's tables, disclosure control applied.
pub(crate) trait Source {
    /// The rows of table `name` as a list of maps (see [`crate::data`]).
    fn table(&self, name: &str) -> Result<Value, String>;
}

impl Source for crate::data::Tables {
    fn table(&self, name: &str) -> Result<Value, String> {
        self.get(name)
    }
}

/// A drawn chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// Its id ([`CHARTS`]).
    pub id: String,
    /// The caption (SVG `<title>`, Markdown alt text).
    pub title: String,
    /// Every value drawn, in words (SVG `<desc>`).
    pub desc: String,
    /// The SVG document.
    pub svg: String,
}

impl Chart {
    /// The Markdown that links the chart's file: `![title](figures/<id>.svg)`.
    pub fn markdown_link(&self) -> String {
        let mut alt = String::new();
        for c in self.title.chars() {
            if matches!(c, '[' | ']' | '\\') {
                alt.push('\\');
            }
            alt.push(c);
        }
        format!("![{alt}](figures/{}.svg)", self.id)
    }

    /// The chart inline in HTML: a `<figure>` block around the SVG, with no blank line in it,
    /// so that the Markdown converter passes it through as one HTML block.
    pub fn html_block(&self) -> String {
        format!(
            "<figure class=\"chart\" id=\"chart-{}\">\n{}</figure>\n",
            self.id, self.svg
        )
    }
}

/// Draws chart `id` from `source`.
pub(crate) fn draw(id: &str, source: &dyn Source) -> Result<Chart, String> {
    let spec = spec(id).ok_or_else(|| {
        format!(
            "`{id}` is not a chart; the charts are {}",
            CHARTS.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
        )
    })?;
    let drawing = match id {
        "claims_performance" => bars::claims_performance(source)?,
        "characteristics" => bars::characteristics(source)?,
        "job_outcomes_by_cohort" => bars::job_outcomes_by_cohort(source)?,
        "job_outcome_by_characteristic" => bars::outcome_by_characteristic(
            source,
            "job_outcome",
            "Per cent of embedded out-of-work participants who started a job",
        )?,
        "sustained_13_by_characteristic" => bars::outcome_by_characteristic(
            source,
            "sustained_13",
            "Per cent of out-of-work participants with a job start who sustained it 13 weeks",
        )?,
        "progression_by_characteristic" => bars::outcome_by_characteristic(
            source,
            "progression",
            "Per cent of embedded employed participants who progressed in work",
        )?,
        "enrolment_by_month" => monthly::enrolment_by_month(source)?,
        "cohort_share_by_month" => monthly::cohort_share_by_month(source)?,
        "how_heard_by_lockdown" => bars::how_heard_by_lockdown(source)?,
        cmo if cmo.starts_with("cmo_") => {
            cmo::diagram(source, &cmo["cmo_".len()..].replace('_', "-"))?
        }
        _ => {
            return Err(format!(
                "internal: chart `{id}` has no drawing (an evalpipe bug)"
            ));
        }
    };
    let title = drawing
        .title
        .clone()
        .unwrap_or_else(|| spec.title.to_string());
    let svg = draw::accessible(id, &title, &drawing.desc, &drawing.svg)?;
    Ok(Chart {
        id: id.to_string(),
        title,
        desc: drawing.desc,
        svg,
    })
}

/// Draws every chart of [`CHARTS`] from the tables of a run, disclosure control at
/// `min_count` applied as in a render: what the report stage draws once its templates place
/// them all (the benchmark times it).
pub fn draw_all(layout: &evalpipe_study::RunLayout, min_count: u64) -> crate::Result<Vec<Chart>> {
    let tables = crate::data::Tables::new(layout, min_count, None);
    CHARTS
        .iter()
        .map(|c| {
            draw(c.id, tables.as_ref()).map_err(|message| crate::Error::Render {
                template: format!("chart(\"{}\")", c.id),
                message,
            })
        })
        .collect()
}

/// What a drawing function returns: the plotters SVG and its description; the title when the
/// data names it (the CMO figures' titles are in the Framework table).
pub(crate) struct Drawing {
    pub(crate) svg: String,
    pub(crate) desc: String,
    pub(crate) title: Option<String>,
}

/// The charts of one render: drawn when a template first asks for one, kept so the Markdown and
/// the HTML show the same drawing, and written as `report/figures/<id>.svg` when first drawn.
#[derive(Debug)]
pub(crate) struct Charts {
    tables: Arc<crate::data::Tables>,
    figures: PathBuf,
    drawn: Mutex<BTreeMap<String, Arc<Chart>>>,
}

/// The folder of the chart files in the report folder.
pub const FIGURES_DIR: &str = "figures";

impl Charts {
    pub(crate) fn new(tables: Arc<crate::data::Tables>, report_dir: &Path) -> Arc<Charts> {
        Arc::new(Charts {
            tables,
            figures: report_dir.join(FIGURES_DIR),
            drawn: Mutex::new(BTreeMap::new()),
        })
    }

    /// Chart `id`, drawn and written once per render.
    pub(crate) fn get(&self, id: &str) -> Result<Arc<Chart>, String> {
        // A poisoned lock only means another template call panicked; the cache is still valid.
        let mut drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = drawn.get(id) {
            return Ok(Arc::clone(c));
        }
        let chart = Arc::new(draw(id, self.tables.as_ref())?);
        if drawn.is_empty() {
            // The first chart of this render: the folder holds this render's charts only.
            match std::fs::remove_dir_all(&self.figures) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot clear {}: {e}", self.figures.display())),
            }
            std::fs::create_dir_all(&self.figures)
                .map_err(|e| format!("cannot create {}: {e}", self.figures.display()))?;
        }
        let path = self.figures.join(format!("{id}.svg"));
        std::fs::write(&path, &chart.svg)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        drawn.insert(id.to_string(), Arc::clone(&chart));
        Ok(chart)
    }

    /// The template function `chart(id)`: in the Markdown report a link to
    /// `figures/<id>.svg`, in the HTML page (`html` is true in the context) the SVG inline.
    pub(crate) fn function(
        &self,
        state: &minijinja::State,
        id: &str,
    ) -> Result<Value, minijinja::Error> {
        let chart = self
            .get(id)
            .map_err(|m| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, m))?;
        let html = state.lookup("html").is_some_and(|v| v.is_true());
        Ok(Value::from_safe_string(if html {
            chart.html_block()
        } else {
            chart.markdown_link()
        }))
    }
}

/// A table cell as a chart sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell {
    /// A number.
    Value(f64),
    /// Suppressed by disclosure control: drawn as a gap labelled `[c]`.
    Suppressed,
    /// Null in the table: nothing drawn, labelled "no data".
    Missing,
}

/// Reading rows: typed access with errors that name the table and column.
pub(crate) struct Rows {
    table: String,
    rows: Vec<Value>,
}

impl Rows {
    pub(crate) fn load(source: &dyn Source, table: &str) -> Result<Rows, String> {
        let value = source.table(table)?;
        let rows = value
            .try_iter()
            .map_err(|e| format!("table `{table}`: {e}"))?
            .collect();
        Ok(Rows {
            table: table.to_string(),
            rows,
        })
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|r| Row {
            table: &self.table,
            row: r,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// One row of a table.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    table: &'a str,
    row: &'a Value,
}

impl Row<'_> {
    fn value(&self, column: &str) -> Result<Value, String> {
        let v = self
            .row
            .get_attr(column)
            .map_err(|e| format!("table `{}`, column `{column}`: {e}", self.table))?;
        if v.is_undefined() {
            return Err(format!(
                "table `{}` has no column `{column}` (a chart reads it)",
                self.table
            ));
        }
        Ok(v)
    }

    /// A text column.
    pub(crate) fn text(&self, column: &str) -> Result<String, String> {
        let v = self.value(column)?;
        v.as_str().map(str::to_string).ok_or_else(|| {
            format!(
                "table `{}`, column `{column}`: `{v}` is not text",
                self.table
            )
        })
    }

    /// A number column, as a chart draws it.
    pub(crate) fn cell(&self, column: &str) -> Result<Cell, String> {
        let v = self.value(column)?;
        if v.is_none() {
            return Ok(Cell::Missing);
        }
        if v.as_str() == Some(crate::disclosure::SUPPRESSED) {
            return Ok(Cell::Suppressed);
        }
        f64::try_from(v.clone()).map(Cell::Value).map_err(|_| {
            format!(
                "table `{}`, column `{column}`: `{v}` is not a number",
                self.table
            )
        })
    }

    /// A boolean column (false when null).
    pub(crate) fn flag(&self, column: &str) -> Result<bool, String> {
        Ok(self.value(column)?.is_true())
    }

    /// The raw value, for the format filters.
    pub(crate) fn raw(&self, column: &str) -> Result<Value, String> {
        self.value(column)
    }
}

/// A cell through a format filter (`count` or `pct`), `[c]` and `–` passed through.
pub(crate) fn formatted(
    cell: Cell,
    filter: fn(Value) -> Result<Value, minijinja::Error>,
) -> String {
    let v = match cell {
        Cell::Value(x) => Value::from(x),
        Cell::Suppressed => Value::from(crate::disclosure::SUPPRESSED),
        Cell::Missing => Value::from(()),
    };
    filter(v).map_or_else(|_| crate::format::MISSING.to_string(), |v| v.to_string())
}

/// A count with thousands separators, `[c]` or `–`.
pub(crate) fn count(cell: Cell) -> String {
    formatted(cell, crate::format::count)
}

/// A ratio as a whole per cent with the sign: `45%`, `<1%`, `[c]`, `–`.
pub(crate) fn pct(cell: Cell) -> String {
    match cell {
        Cell::Value(_) => format!("{}%", formatted(cell, crate::format::pct)),
        _ => formatted(cell, crate::format::pct),
    }
}

#[cfg(test)]
mod tests;
