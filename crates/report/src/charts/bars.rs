//! Horizontal bar charts: one or more panels of categories, one bar per series, the value
//! written at the bar's end. Figures 2-1, 2.2, 2.3, 2-4 to 2-6 and 4-3.

use std::collections::BTreeMap;

use plotters::style::RGBColor;

use super::draw::{self, Align, Area, BLUE, BODY, GRID, HEADING, INK, MUTED, SMALL};
use super::{Cell, Drawing, Rows, Source, count, pct};

/// One bar: the value drawn and the text at its end.
pub(crate) struct Bar {
    pub(crate) value: Cell,
    pub(crate) label: String,
}

/// A category (a row of the chart): its label and one bar per series.
pub(crate) struct Category {
    pub(crate) label: String,
    pub(crate) bars: Vec<Bar>,
}

/// A panel: a titled group of categories sharing the value axis.
pub(crate) struct Panel {
    pub(crate) title: String,
    pub(crate) categories: Vec<Category>,
}

/// A horizontal bar chart.
pub(crate) struct HBars {
    /// Series names and colours (a legend is drawn when there are two or more).
    pub(crate) series: Vec<(String, RGBColor)>,
    pub(crate) panels: Vec<Panel>,
    /// A line under the legend saying what the bars and labels are.
    pub(crate) note: Option<String>,
    /// The value axis's title.
    pub(crate) axis: String,
    /// Values are ratios shown as per cent.
    pub(crate) percent: bool,
    /// A reference line (value, label), such as the target.
    pub(crate) reference: Option<(f64, String)>,
}

const WIDTH: u32 = 760;
const MARGIN: i32 = 16;
const LABEL_WIDTH: i32 = 230;
const BAR: i32 = 16;
const BAR_GAP: i32 = 3;
const CATEGORY_GAP: i32 = 9;
const LINE: i32 = 15;

impl HBars {
    fn max(&self) -> f64 {
        let mut max: f64 = if self.percent { 1.0 } else { 0.0 };
        for p in &self.panels {
            for c in &p.categories {
                for b in &c.bars {
                    if let Cell::Value(v) = b.value {
                        max = max.max(v);
                    }
                }
            }
        }
        if let Some((v, _)) = self.reference {
            max = max.max(v);
        }
        max
    }

    fn category_height(&self, c: &Category) -> i32 {
        let lines = draw::wrap(&c.label, BODY, LABEL_WIDTH).len().max(1) as i32;
        let bars = c.bars.len().max(1) as i32;
        (lines * LINE).max(bars * BAR + (bars - 1) * BAR_GAP)
    }

    /// The chart as SVG, and its description.
    pub(crate) fn draw(&self, what: &str) -> Result<Drawing, String> {
        let frame = self.frame();
        let mut desc = vec![what.to_string()];
        let svg = draw::canvas(WIDTH, frame.height, |area: &Area<'_>| {
            self.draw_legend(area, &frame.legend)?;
            let mut y = frame.top;
            for p in &self.panels {
                let (said, below) = self.draw_panel(area, &frame, p, y)?;
                desc.push(said);
                y = below;
            }
            draw::text(
                area,
                &self.axis,
                (frame.x0 + (frame.x1 - frame.x0) / 2, y),
                BODY,
                &MUTED,
                Align::Centre,
                false,
            )?;
            Ok(())
        })?;
        if let Some((_, label)) = &self.reference {
            desc.push(format!("A dashed line marks the {}.", label.to_lowercase()));
        }
        if self.panels.iter().any(|p| {
            p.categories
                .iter()
                .any(|c| c.bars.iter().any(|b| b.value == Cell::Suppressed))
        }) {
            desc.push(format!(
                "{} marks a figure suppressed for disclosure control, drawn as a gap.",
                crate::disclosure::SUPPRESSED
            ));
        }
        Ok(Drawing {
            svg,
            desc: desc.join(" "),
            title: None,
        })
    }

    /// Where everything goes, worked out before drawing because the canvas's height must be
    /// known first: the value axis, the legend rows, the top of the first panel.
    fn frame(&self) -> Frame {
        let ticks = draw::ticks(self.max(), 6);
        let axis_end = *ticks.last().unwrap_or(&1.0);
        // The value labels are written past the bars' ends: the longest must fit.
        let widest_label = self
            .panels
            .iter()
            .flat_map(|p| &p.categories)
            .flat_map(|c| &c.bars)
            .map(|b| draw::text_width(&b.label, SMALL))
            .max()
            .unwrap_or(0);
        let legend = self.legend_rows();
        let mut y = 12 + legend.len() as i32 * 20;
        if self.note.is_some() {
            y += 18;
        }
        // Room above the bars for the reference line's label.
        if self.reference.is_some() {
            y += 14;
        }
        let top = y;
        let mut height = top;
        for p in &self.panels {
            if !p.title.is_empty() {
                height += 26;
            }
            for c in &p.categories {
                height += self.category_height(c) + CATEGORY_GAP;
            }
            height += 30; // tick labels
        }
        height += 26; // axis title
        Frame {
            ticks,
            axis_end,
            x0: MARGIN + LABEL_WIDTH + 10,
            x1: WIDTH as i32 - MARGIN - widest_label - 8,
            legend,
            top,
            height: u32::try_from(height).unwrap_or(600),
        }
    }

    /// The series' keys as rows that fit the width: `(series, x)` for each.
    fn legend_rows(&self) -> Vec<Vec<(usize, i32)>> {
        let mut legend: Vec<Vec<(usize, i32)>> = Vec::new();
        // One series needs no key: the axis title names it.
        if self.series.len() > 1 {
            let mut x = MARGIN;
            let mut row = Vec::new();
            for (i, (name, _)) in self.series.iter().enumerate() {
                let w = 18 + draw::text_width(name, BODY) + 18;
                if x + w > WIDTH as i32 - MARGIN && !row.is_empty() {
                    legend.push(std::mem::take(&mut row));
                    x = MARGIN;
                }
                row.push((i, x));
                x += w;
            }
            legend.push(row);
        }
        legend
    }

    /// The legend and the note under it.
    fn draw_legend(&self, area: &Area<'_>, legend: &[Vec<(usize, i32)>]) -> Result<(), String> {
        for (r, row) in legend.iter().enumerate() {
            let ly = 16 + r as i32 * 20;
            for &(i, x) in row {
                let (name, colour) = &self.series[i];
                draw::rect(area, (x, ly - 6), (x + 12, ly + 6), colour)?;
                draw::text(area, name, (x + 18, ly), BODY, &INK, Align::Left, false)?;
            }
        }
        if let Some(note) = &self.note {
            draw::text(
                area,
                note,
                (MARGIN, legend.len() as i32 * 20 + 16),
                SMALL,
                &MUTED,
                Align::Left,
                false,
            )?;
        }
        Ok(())
    }

    /// A panel from `y` down: its title, grid, reference line, categories and baseline. Gives
    /// the panel's sentence of the description and the `y` below its tick labels.
    fn draw_panel(
        &self,
        area: &Area<'_>,
        frame: &Frame,
        p: &Panel,
        mut y: i32,
    ) -> Result<(String, i32), String> {
        if !p.title.is_empty() {
            draw::text(
                area,
                &p.title,
                (MARGIN, y + 12),
                HEADING,
                &INK,
                Align::Left,
                true,
            )?;
            y += 26;
        }
        let panel_top = y;
        let panel_height: i32 = p
            .categories
            .iter()
            .map(|c| self.category_height(c) + CATEGORY_GAP)
            .sum();
        let panel_bottom = panel_top + panel_height;
        self.draw_grid(area, frame, panel_top, panel_bottom)?;
        let mut said = Vec::new();
        for c in &p.categories {
            said.push(self.draw_category(area, frame, c, y)?);
            y += self.category_height(c) + CATEGORY_GAP;
        }
        // The baseline, over the grid.
        draw::line(
            area,
            &[(frame.x0, panel_top), (frame.x0, panel_bottom)],
            &INK,
            1,
        )?;
        let heading = if p.title.is_empty() {
            String::new()
        } else {
            format!("{}: ", p.title)
        };
        Ok((format!("{heading}{}.", said.join("; ")), panel_bottom + 30))
    }

    /// A panel's ticks with their labels, and the reference line.
    fn draw_grid(
        &self,
        area: &Area<'_>,
        frame: &Frame,
        panel_top: i32,
        panel_bottom: i32,
    ) -> Result<(), String> {
        for t in &frame.ticks {
            let x = frame.scale(*t);
            draw::line(area, &[(x, panel_top), (x, panel_bottom)], &GRID, 1)?;
            draw::text(
                area,
                &draw::tick_label(*t, self.percent),
                (x, panel_bottom + 10),
                SMALL,
                &MUTED,
                Align::Centre,
                false,
            )?;
        }
        // The reference line before the bars: value labels are drawn over it on a white ground.
        if let Some((v, label)) = &self.reference {
            let x = frame.scale(*v);
            draw::dashed(area, (x, panel_top - 14), (x, panel_bottom), &INK, 2)?;
            draw::text(
                area,
                label,
                (x + 4, panel_top - 9),
                SMALL,
                &INK,
                Align::Left,
                true,
            )?;
        }
        Ok(())
    }

    /// A category at `y`: its label, wrapped, and its bars; gives what it shows in words.
    fn draw_category(
        &self,
        area: &Area<'_>,
        frame: &Frame,
        c: &Category,
        y: i32,
    ) -> Result<String, String> {
        let h = self.category_height(c);
        let label_lines = draw::wrap(&c.label, BODY, LABEL_WIDTH);
        let first = y + h / 2 - (label_lines.len() as i32 - 1) * LINE / 2;
        for (k, l) in label_lines.iter().enumerate() {
            draw::text(
                area,
                l,
                (MARGIN + LABEL_WIDTH, first + k as i32 * LINE),
                BODY,
                &INK,
                Align::Right,
                false,
            )?;
        }
        let bars = c.bars.len() as i32;
        let stack = bars * BAR + (bars - 1) * BAR_GAP;
        let mut by = y + (h - stack) / 2;
        let mut parts = Vec::new();
        for (s, b) in c.bars.iter().enumerate() {
            self.draw_bar(area, frame, s, b, by)?;
            let series = if self.series.len() > 1 {
                format!("{} ", self.series[s].0)
            } else {
                String::new()
            };
            parts.push(format!("{series}{}", b.label));
            by += BAR + BAR_GAP;
        }
        Ok(format!("{}: {}", c.label, parts.join(", ")))
    }

    /// Series `s`'s bar with its top at `by`, and its value label.
    fn draw_bar(
        &self,
        area: &Area<'_>,
        frame: &Frame,
        s: usize,
        b: &Bar,
        by: i32,
    ) -> Result<(), String> {
        let x0 = frame.x0;
        let colour = self.series.get(s).map_or(BLUE, |(_, c)| *c);
        let mid = by + BAR / 2;
        match b.value {
            Cell::Value(v) => {
                let end = frame.scale(v.max(0.0)).max(x0 + 1);
                draw::rect(area, (x0, by), (end, by + BAR), &colour)?;
                if self.reference.is_some() {
                    let w = draw::text_width(&b.label, SMALL);
                    draw::rect(
                        area,
                        (end + 2, by + 1),
                        (end + 8 + w, by + BAR - 1),
                        &plotters::style::WHITE,
                    )?;
                }
                draw::text(
                    area,
                    &b.label,
                    (end + 5, mid),
                    SMALL,
                    &INK,
                    Align::Left,
                    false,
                )
            }
            // A gap where the bar would be, and the marker.
            Cell::Suppressed | Cell::Missing => draw::text(
                area,
                &b.label,
                (x0 + 5, mid),
                SMALL,
                &INK,
                Align::Left,
                false,
            ),
        }
    }
}

/// Where a bar chart's parts go, shared by the steps that draw them.
struct Frame {
    ticks: Vec<f64>,
    /// The value at the axis's right end (its last tick).
    axis_end: f64,
    /// The value axis's zero, and its end.
    x0: i32,
    x1: i32,
    /// The legend's rows: `(series, x)`.
    legend: Vec<Vec<(usize, i32)>>,
    /// The top of the first panel.
    top: i32,
    height: u32,
}

impl Frame {
    /// The x of `v` on the value axis.
    fn scale(&self, v: f64) -> i32 {
        self.x0 + ((v / self.axis_end) * f64::from(self.x1 - self.x0)).round() as i32
    }
}

/// The value label of a per cent bar.
fn pct_label(cell: Cell) -> String {
    match cell {
        Cell::Missing => "no data".to_string(),
        c => pct(c),
    }
}

/// The characteristic titles of `reference/characteristic_values`, by code.
fn titles(source: &dyn Source) -> Result<BTreeMap<String, String>, String> {
    let rows = Rows::load(source, "reference/characteristic_values")?;
    let mut out = BTreeMap::new();
    for r in rows.iter() {
        out.entry(r.text("characteristic")?)
            .or_insert(r.text("title")?);
    }
    Ok(out)
}

/// `Title (N = 3,957)` for a panel from its rows' `n`.
fn panel_title(title: &str, n: Option<Cell>) -> String {
    match n {
        Some(n) => format!("{title} (N = {})", count(n)),
        None => title.to_string(),
    }
}

/// Figure 2-1: each milestone's validated claims as a per cent of its target.
pub(crate) fn claims_performance(source: &dyn Source) -> Result<Drawing, String> {
    let rows = Rows::load(source, "claims_performance")?;
    let mut categories = Vec::new();
    for r in rows.iter() {
        let target = r.cell("target")?;
        if target == Cell::Missing {
            continue;
        }
        let share = r.cell("pct_of_target")?;
        let label = format!(
            "{} of {} ({})",
            count(r.cell("achieved")?),
            count(target),
            pct_label(share)
        );
        categories.push(Category {
            label: r.text("milestone_name")?,
            bars: vec![Bar {
                value: share,
                label,
            }],
        });
    }
    HBars {
        series: vec![("Per cent of target".into(), BLUE)],
        panels: vec![Panel {
            title: String::new(),
            categories,
        }],
        note: Some("Participants with a validated claim, of the milestone's target".into()),
        axis: "Per cent of target".into(),
        percent: true,
        reference: Some((1.0, "Target".into())),
    }
    .draw("Horizontal bar chart: validated claims at each payment milestone as a per cent of its target.")
}

/// Panels of `(table, characteristic)` drawing `column` as per cent.
fn share_panels(
    source: &dyn Source,
    panels: &[(String, Option<&str>)],
    column: &str,
) -> Result<Vec<Panel>, String> {
    let titles = titles(source)?;
    let mut out = Vec::new();
    for (table, only) in panels {
        let rows = Rows::load(source, table)?;
        let mut characteristic = None;
        let mut n = None;
        let mut categories = Vec::new();
        for r in rows.iter() {
            let code = r.text("characteristic")?;
            if only.is_some_and(|o| o != code) {
                continue;
            }
            if n.is_none() {
                n = Some(r.cell("n")?);
            }
            let value = r.cell(column)?;
            categories.push(Category {
                label: r.text("category")?,
                bars: vec![Bar {
                    value,
                    label: pct_label(value),
                }],
            });
            characteristic.get_or_insert(code);
        }
        let code = characteristic.ok_or_else(|| format!("table `{table}` has no rows to chart"))?;
        let title = titles.get(&code).cloned().unwrap_or(code);
        out.push(Panel {
            title: panel_title(&title, n),
            categories,
        });
    }
    Ok(out)
}

/// Figure 2.2: the make-up of participants, one panel per characteristic.
pub(crate) fn characteristics(source: &dyn Source) -> Result<Drawing, String> {
    let panels: Vec<(String, Option<&str>)> = vec![
        ("characteristics_sex".into(), None),
        ("characteristics_age".into(), Some("age_band")),
        ("characteristics_ethnicity".into(), Some("ethnic_group")),
        ("characteristics_qualification".into(), None),
        ("characteristics_health".into(), None),
        ("characteristics_caring_child".into(), None),
    ];
    HBars {
        series: vec![("Per cent of participants".into(), BLUE)],
        panels: share_panels(source, &panels, "pct")?,
        note: Some("Per cent of participants with data for the characteristic".into()),
        axis: "Per cent of participants".into(),
        percent: true,
        reference: None,
    }
    .draw("Horizontal bar charts: participants by characteristic, as per cent of those with data.")
}

/// The characteristics of Figures 2-4 to 2-6, in the report's order (the `<prefix>_by_<suffix>`
/// tables).
pub(crate) const OUTCOME_CHARACTERISTICS: [&str; 6] = [
    "health",
    "caring_child",
    "sex",
    "ethnicity",
    "benefits",
    "age",
];

/// Figures 2-4, 2.5 and 2-6: an outcome's rate by characteristic.
pub(crate) fn outcome_by_characteristic(
    source: &dyn Source,
    prefix: &str,
    axis: &str,
) -> Result<Drawing, String> {
    let panels: Vec<(String, Option<&str>)> = OUTCOME_CHARACTERISTICS
        .iter()
        .map(|s| (format!("{prefix}_by_{s}"), None))
        .collect();
    HBars {
        series: vec![("Rate".into(), BLUE)],
        panels: share_panels(source, &panels, "rate")?,
        note: None,
        axis: axis.into(),
        percent: true,
        reference: None,
    }
    .draw(&format!(
        "Horizontal bar charts: {}, by characteristic.",
        axis.to_lowercase()
    ))
}

/// Figure 2.3: each out-of-work cohort's participants at every milestone, with the conversion
/// from the previous one.
pub(crate) fn job_outcomes_by_cohort(source: &dyn Source) -> Result<Drawing, String> {
    let rows = Rows::load(source, "job_outcomes_by_cohort")?;
    let mut panels: Vec<Panel> = Vec::new();
    let mut current = None;
    for r in rows.iter() {
        let cohort = r.text("cohort_name")?;
        if current.as_ref() != Some(&cohort) {
            panels.push(Panel {
                title: panel_title(&cohort, Some(r.cell("n")?)),
                categories: Vec::new(),
            });
            current = Some(cohort);
        }
        let value = r.cell("participants")?;
        let previous = r.cell("pct_of_previous")?;
        let label = match previous {
            Cell::Missing => count(value),
            p => format!("{} ({})", count(value), pct(p)),
        };
        if let Some(p) = panels.last_mut() {
            p.categories.push(Category {
                label: r.text("milestone_name")?,
                bars: vec![Bar { value, label }],
            });
        }
    }
    HBars {
        series: vec![("Participants".into(), BLUE)],
        panels,
        note: Some(
            "Participants reaching each milestone (management information); in brackets, the per cent of those at the previous milestone".into(),
        ),
        axis: "Participants".into(),
        percent: false,
        reference: None,
    }
    .draw("Horizontal bar charts: participants of each out-of-work cohort reaching each milestone, with the per cent of the previous milestone.")
}

/// Figure 4-3: how participants heard, per item, before and from the first lockdown.
pub(crate) fn how_heard_by_lockdown(source: &dyn Source) -> Result<Drawing, String> {
    let rows = Rows::load(source, "how_heard_by_lockdown")?;
    let mut periods: Vec<(String, Cell)> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    let mut cells: BTreeMap<(String, String), Cell> = BTreeMap::new();
    for r in rows.iter() {
        let period = r.text("category")?;
        if !periods.iter().any(|(p, _)| *p == period) {
            periods.push((period.clone(), r.cell("n")?));
        }
        let item = r.text("item")?;
        if !items.contains(&item) {
            items.push(item.clone());
        }
        cells.insert((item, period), r.cell("pct")?);
    }
    let series = periods
        .iter()
        .enumerate()
        .map(|(i, (p, n))| {
            (
                format!("{p} (N = {})", count(*n)),
                draw::SERIES[(i + 1) % draw::SERIES.len()],
            )
        })
        .collect();
    let categories = items
        .iter()
        .map(|item| Category {
            label: item.clone(),
            bars: periods
                .iter()
                .map(|(p, _)| {
                    let value = cells
                        .get(&(item.clone(), p.clone()))
                        .copied()
                        .unwrap_or(Cell::Missing);
                    Bar {
                        value,
                        label: pct_label(value),
                    }
                })
                .collect(),
        })
        .collect();
    HBars {
        series,
        panels: vec![Panel {
            title: String::new(),
            categories,
        }],
        note: Some(
            "Per cent of participants with an answer recorded; more than one answer could be recorded".into(),
        ),
        axis: "Per cent of participants".into(),
        percent: true,
        reference: None,
    }
    .draw("Grouped horizontal bar chart: how participants heard about the programme, enrolled before and from the first national lockdown.")
}
