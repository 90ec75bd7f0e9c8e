//! The decks' charts as accessible SVG, drawn with the report's primitives from rows after
//! disclosure control: a suppressed value is a gap in a line and a missing bar, never a
//! point someone could read off.

use evalpipe_report::charts::draw::{
    self, Align, Area, BODY, GRID, INK, MUTED, PALETTE, SMALL, canvas, line, rect, text,
    tick_label, ticks,
};
use plotters::style::RGBColor;

/// Series colours: the Okabe–Ito palette without its yellow (too light for a line on white),
/// enough for every payment milestone to have its own.
const SERIES: [RGBColor; 7] = [
    colour(1),
    colour(5),
    colour(3),
    colour(6),
    colour(7),
    colour(2),
    colour(0),
];

const fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i].1;
    RGBColor(r, g, b)
}
use minijinja::Value;

/// Width and height of a chart on a slide, in pixels.
const WIDTH: u32 = 1000;
const HEIGHT: u32 = 430;
/// Left margin for axis labels, right margin for the legend.
const LEFT: i32 = 70;
const LEGEND: i32 = 210;
const TOP: i32 = 20;
const BOTTOM: i32 = 50;

/// A number of a row, `None` when it is missing or suppressed.
pub(crate) fn number(v: &Value) -> Option<f64> {
    if v.as_str().is_some() || v.is_none() || v.is_undefined() {
        return None;
    }
    f64::try_from(v.clone()).ok()
}

/// One line of a trend chart: its name and a value per refresh (`None`: no point).
pub(crate) struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// Lines across the refreshes (x labels `refreshes`), one per series, with a legend.
pub(crate) fn trend(
    id: &str,
    title: &str,
    refreshes: &[String],
    series: &[Series],
    percent: bool,
) -> Result<String, String> {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |m, v| m.max(*v));
    let ticks = ticks(max, 5);
    let top = *ticks.last().unwrap_or(&1.0);
    let (x0, x1) = (LEFT, WIDTH as i32 - LEGEND);
    let (y0, y1) = (TOP, HEIGHT as i32 - BOTTOM);
    let n = refreshes.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            (x0 + x1) / 2
        } else {
            x0 + ((x1 - x0) as f64 * i as f64 / (n - 1) as f64).round() as i32
        }
    };
    let y = |v: f64| y1 - ((y1 - y0) as f64 * v / top).round() as i32;
    let svg = canvas(WIDTH, HEIGHT, |area: &Area<'_>| {
        for t in &ticks {
            line(area, &[(x0, y(*t)), (x1, y(*t))], &GRID, 1)?;
            text(
                area,
                &tick_label(*t, percent),
                (x0 - 8, y(*t)),
                SMALL,
                &MUTED,
                Align::Right,
                false,
            )?;
        }
        // Every label when they fit, else every other one, the last always.
        let step = if n > 12 { n.div_ceil(12) } else { 1 };
        for (i, label) in refreshes.iter().enumerate() {
            if i % step == 0 || i + 1 == n {
                text(
                    area,
                    label,
                    (x(i), y1 + 18),
                    SMALL,
                    &MUTED,
                    Align::Centre,
                    false,
                )?;
            }
        }
        for (k, s) in series.iter().enumerate() {
            let colour = SERIES[k % SERIES.len()];
            // A gap where a value is suppressed: each run of points is its own line.
            let mut run: Vec<(i32, i32)> = Vec::new();
            for (i, v) in s.values.iter().enumerate() {
                match v {
                    Some(v) => run.push((x(i), y(*v))),
                    None => {
                        draw_run(area, &run, &colour)?;
                        run.clear();
                    }
                }
            }
            draw_run(area, &run, &colour)?;
            let ly = y0 + 10 + 24 * k as i32;
            line(area, &[(x1 + 20, ly), (x1 + 44, ly)], &colour, 3)?;
            text(area, &s.name, (x1 + 52, ly), BODY, &INK, Align::Left, false)?;
        }
        Ok(())
    })?;
    let desc = describe(refreshes, series, percent);
    draw::accessible(id, title, &desc, &svg)
}

fn draw_run(area: &Area<'_>, run: &[(i32, i32)], colour: &RGBColor) -> Result<(), String> {
    match run {
        [] => Ok(()),
        [only] => rect(
            area,
            (only.0 - 3, only.1 - 3),
            (only.0 + 3, only.1 + 3),
            colour,
        ),
        points => line(area, points, colour, 3),
    }
}

/// Horizontal bars, one group per category, a bar per series (values are ratios, printed as
/// per cent at the bar's end); a missing value has no bar and says so.
pub(crate) fn bars(
    id: &str,
    title: &str,
    categories: &[String],
    series: &[Series],
) -> Result<String, String> {
    let per = series.len().max(1) as i32;
    let bar = 14;
    let group = bar * per + 10;
    let height = (TOP + BOTTOM) as u32 + (group * categories.len() as i32) as u32;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |m, v| m.max(*v));
    let ticks = ticks(max, 5);
    let top = *ticks.last().unwrap_or(&1.0);
    let (x0, x1) = (230, WIDTH as i32 - LEGEND);
    let x = |v: f64| x0 + ((x1 - x0) as f64 * v / top).round() as i32;
    let bottom = TOP + group * categories.len() as i32;
    let svg = canvas(WIDTH, height, |area: &Area<'_>| {
        for t in &ticks {
            line(area, &[(x(*t), TOP), (x(*t), bottom)], &GRID, 1)?;
            text(
                area,
                &tick_label(*t, true),
                (x(*t), bottom + 14),
                SMALL,
                &MUTED,
                Align::Centre,
                false,
            )?;
        }
        for (c, name) in categories.iter().enumerate() {
            let gy = TOP + group * c as i32;
            text(
                area,
                name,
                (x0 - 8, gy + group / 2 - 5),
                BODY,
                &INK,
                Align::Right,
                false,
            )?;
            for (k, s) in series.iter().enumerate() {
                let colour = SERIES[k % SERIES.len()];
                let by = gy + bar * k as i32;
                match s.values.get(c).copied().flatten() {
                    Some(v) => {
                        rect(area, (x0, by), (x(v).max(x0 + 1), by + bar - 2), &colour)?;
                        text(
                            area,
                            &tick_label(v, true),
                            (x(v) + 4, by + bar / 2 - 1),
                            SMALL,
                            &INK,
                            Align::Left,
                            false,
                        )?;
                    }
                    None => {
                        text(
                            area,
                            "not shown",
                            (x0 + 4, by + bar / 2 - 1),
                            SMALL,
                            &MUTED,
                            Align::Left,
                            false,
                        )?;
                    }
                }
            }
        }
        for (k, s) in series.iter().enumerate() {
            let ly = TOP + 10 + 24 * k as i32;
            rect(
                area,
                (x1 + 20, ly - 6),
                (x1 + 34, ly + 6),
                &SERIES[k % SERIES.len()],
            )?;
            text(area, &s.name, (x1 + 42, ly), BODY, &INK, Align::Left, false)?;
        }
        Ok(())
    })?;
    draw::accessible(id, title, &describe(categories, series, true), &svg)
}

/// The chart's data in words, for a screen reader: each series' values in order.
fn describe(labels: &[String], series: &[Series], percent: bool) -> String {
    series
        .iter()
        .map(|s| {
            let values: Vec<String> = labels
                .iter()
                .zip(&s.values)
                .map(|(l, v)| match v {
                    Some(v) => format!("{l} {}", tick_label(*v, percent)),
                    None => format!("{l} not shown"),
                })
                .collect();
            format!("{}: {}.", s.name, values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(" ")
}
