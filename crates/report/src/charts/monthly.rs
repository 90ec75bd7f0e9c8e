//! Monthly column charts with the first national lockdown marked: Figures 4-1 (enrolments) and
//! 4-2 (each cohort's share of a month's enrolments, stacked).

use super::draw::{self, Align, Area, BLUE, BODY, GRID, INK, MUTED, SMALL, VERMILLION};
use super::{Cell, Drawing, Row, Rows, Source, count, pct};

const WIDTH: u32 = 760;
const LEFT: i32 = 70;
const RIGHT: i32 = 16;

/// The month axis: one slot per month, left to right.
struct Months {
    /// `(month ISO date, year, quarter)` per slot.
    slots: Vec<(String, String, String)>,
    x0: i32,
    x1: i32,
}

impl Months {
    fn slot(&self, i: usize) -> (i32, i32) {
        let n = self.slots.len().max(1) as f64;
        let w = f64::from(self.x1 - self.x0) / n;
        let a = self.x0 + (w * i as f64).round() as i32;
        let b = self.x0 + (w * (i + 1) as f64).round() as i32;
        (a, b)
    }

    /// A bar inside slot `i`: three quarters of it, centred.
    fn bar(&self, i: usize) -> (i32, i32) {
        let (a, b) = self.slot(i);
        let pad = ((b - a) as f64 * 0.125).round() as i32;
        (a + pad, b - pad)
    }

    /// Quarter labels under the slots that start one, the year under each first quarter.
    fn draw_axis(&self, area: &Area<'_>, baseline: i32) -> Result<(), String> {
        draw::line(area, &[(self.x0, baseline), (self.x1, baseline)], &INK, 1)?;
        let mut previous_quarter = String::new();
        let mut previous_year = String::new();
        for (i, (_, year, quarter)) in self.slots.iter().enumerate() {
            let (a, _) = self.slot(i);
            if *quarter != previous_quarter || *year != previous_year {
                draw::line(area, &[(a, baseline), (a, baseline + 5)], &INK, 1)?;
                draw::text(
                    area,
                    &format!("Q{quarter}"),
                    (a + 2, baseline + 12),
                    SMALL,
                    &MUTED,
                    Align::Left,
                    false,
                )?;
            }
            if *year != previous_year {
                draw::text(
                    area,
                    year,
                    (a + 2, baseline + 27),
                    SMALL,
                    &INK,
                    Align::Left,
                    true,
                )?;
            }
            previous_quarter = quarter.clone();
            previous_year = year.clone();
        }
        Ok(())
    }
}

impl Months {
    /// What both monthly charts draw around their bars: the month axis, the lockdown marker
    /// through slot `marker.0` (labelled `marker.1`), and the two axis titles. `(top,
    /// baseline, height)` are the plot's top and bottom and the chart's height.
    fn draw_frame(
        &self,
        area: &Area<'_>,
        (top, baseline, height): (i32, i32, u32),
        marker: Option<(usize, &str)>,
        y_label: &str,
    ) -> Result<(), String> {
        self.draw_axis(area, baseline)?;
        if let Some((i, label)) = marker {
            lockdown_marker(area, self, i, top, baseline, label)?;
        }
        draw::vertical_text(area, y_label, (20, (top + baseline) / 2), BODY, &MUTED)?;
        draw::text(
            area,
            "Month of registration",
            ((self.x0 + self.x1) / 2, height as i32 - 14),
            BODY,
            &MUTED,
            Align::Centre,
            false,
        )
    }
}

/// A whole-number column as text (a year, a quarter): no thousands separator.
fn plain(r: &Row<'_>, column: &str) -> Result<String, String> {
    let v = r.raw(column)?;
    i64::try_from(v.clone())
        .map(|i| i.to_string())
        .map_err(|_| format!("column `{column}`: `{v}` is not a whole number"))
}

fn month_name(iso: &str) -> String {
    crate::format::month(minijinja::Value::from(iso))
        .map_or_else(|_| iso.to_string(), |v| v.to_string())
}

/// The lockdown date from `reference/periods`, in words.
fn lockdown_date(source: &dyn Source) -> Result<String, String> {
    let rows = Rows::load(source, "reference/periods")?;
    let r = rows
        .iter()
        .next()
        .ok_or("table `reference/periods` is empty")?;
    let iso = r.text("first_lockdown")?;
    crate::format::date(minijinja::Value::from(iso.as_str()))
        .map(|v| v.to_string())
        .map_err(|e| e.to_string())
}

/// The dashed lockdown marker through slot `i`'s centre, labelled at the top.
fn lockdown_marker(
    area: &Area<'_>,
    months: &Months,
    i: usize,
    top: i32,
    baseline: i32,
    label: &str,
) -> Result<(), String> {
    let (a, b) = months.slot(i);
    let x = (a + b) / 2;
    draw::dashed(area, (x, top - 6), (x, baseline), &VERMILLION, 2)?;
    let w = draw::text_width(label, SMALL);
    // Label to the right of the line unless it would run off the chart.
    let (lx, align) = if x + 6 + w < WIDTH as i32 - RIGHT {
        (x + 6, Align::Left)
    } else {
        (x - 6, Align::Right)
    };
    draw::text(area, label, (lx, top - 6), SMALL, &VERMILLION, align, true)
}

/// Figure 4-1: participants registered each month.
pub(crate) fn enrolment_by_month(source: &dyn Source) -> Result<Drawing, String> {
    let rows = Rows::load(source, "enrolment_by_month")?;
    if rows.is_empty() {
        return Err("table `enrolment_by_month` has no months to chart".into());
    }
    let lockdown = lockdown_date(source)?;
    let mut slots = Vec::new();
    let mut values = Vec::new();
    let mut marker = None;
    for (i, r) in rows.iter().enumerate() {
        slots.push((r.text("month")?, plain(&r, "year")?, plain(&r, "quarter")?));
        values.push(r.cell("participants")?);
        if r.flag("lockdown_month")? {
            marker.get_or_insert(i);
        }
    }
    let max = values
        .iter()
        .filter_map(|c| match c {
            Cell::Value(v) => Some(*v),
            _ => None,
        })
        .fold(0.0, f64::max);
    let ticks = draw::ticks(max, 6);
    let axis_end = *ticks.last().unwrap_or(&1.0);
    let height: u32 = 400;
    let top = 40;
    let baseline = height as i32 - 78;
    let months = Months {
        slots,
        x0: LEFT,
        x1: WIDTH as i32 - RIGHT,
    };
    let y = |v: f64| baseline - ((v / axis_end) * f64::from(baseline - top)).round() as i32;
    let marker_label = format!("First national lockdown, {lockdown}");

    let svg = draw::canvas(WIDTH, height, |area: &Area<'_>| {
        for t in &ticks {
            let ty = y(*t);
            draw::line(area, &[(months.x0, ty), (months.x1, ty)], &GRID, 1)?;
            draw::text(
                area,
                &draw::tick_label(*t, false),
                (months.x0 - 6, ty),
                SMALL,
                &MUTED,
                Align::Right,
                false,
            )?;
        }
        for (i, v) in values.iter().enumerate() {
            let (a, b) = months.bar(i);
            match v {
                // A month with no enrolments has no column (a zero-height one would still be
                // an element).
                Cell::Value(v) if *v > 0.0 => draw::rect(area, (a, y(*v)), (b, baseline), &BLUE)?,
                Cell::Value(_) => {}
                Cell::Suppressed => draw::text(
                    area,
                    crate::disclosure::SUPPRESSED,
                    ((a + b) / 2, baseline - 8),
                    SMALL,
                    &INK,
                    Align::Centre,
                    false,
                )?,
                Cell::Missing => {}
            }
        }
        months.draw_frame(
            area,
            (top, baseline, height),
            marker.map(|i| (i, marker_label.as_str())),
            "Participants registered",
        )
    })?;

    let mut desc = vec![format!(
        "Column chart: participants registered each month, {} to {}.",
        month_name(&months.slots[0].0),
        month_name(&months.slots[months.slots.len() - 1].0)
    )];
    if let Some(i) = marker {
        desc.push(format!(
            "A dashed line marks the first national lockdown ({lockdown}) at {}.",
            month_name(&months.slots[i].0)
        ));
    }
    desc.push(
        months
            .slots
            .iter()
            .zip(&values)
            .map(|((m, _, _), v)| format!("{}: {}", month_name(m), count(*v)))
            .collect::<Vec<_>>()
            .join("; ")
            + ".",
    );
    Ok(Drawing {
        svg,
        desc: desc.join(" "),
        title: None,
    })
}

/// Figure 4-2: each cohort's share of the month's enrolments, stacked to 100 per cent. A month
/// with suppressed cells stacks the cohorts it can show and leaves the rest as a gap labelled
/// `[c]` at the top, so no hidden share can be read off the picture.
pub(crate) fn cohort_share_by_month(source: &dyn Source) -> Result<Drawing, String> {
    let rows = Rows::load(source, "cohort_share_by_month")?;
    if rows.is_empty() {
        return Err("table `cohort_share_by_month` has no months to chart".into());
    }
    let lockdown = lockdown_date(source)?;
    let lockdown_iso = {
        let periods = Rows::load(source, "reference/periods")?;
        let r = periods
            .iter()
            .next()
            .ok_or("table `reference/periods` is empty")?;
        r.text("first_lockdown")?
    };
    // The month the lockdown fell in: `YYYY-MM-01` of its date.
    let lockdown_month = format!("{}-01", &lockdown_iso[..lockdown_iso.len().min(7)]);
    let shares = CohortShares::read(&rows)?;
    let marker = shares.months.iter().position(|m| *m == lockdown_month);
    let marker_label = format!("First national lockdown, {lockdown}");
    let svg = shares.draw(marker.map(|i| (i, marker_label.as_str())))?;
    Ok(Drawing {
        svg,
        desc: shares.describe(marker.map(|i| (i, lockdown.as_str()))),
        title: None,
    })
}

/// The rows of `cohort_share_by_month`, month by month.
struct CohortShares {
    /// Cohort names, in the order they first appear.
    cohorts: Vec<String>,
    /// Months (`YYYY-MM-01`), in table order.
    months: Vec<String>,
    /// Each month's (cohort, share) cells.
    shares: Vec<Vec<(usize, Cell)>>,
    /// Each month's enrolments.
    totals: Vec<Cell>,
    /// All the months' enrolments.
    total_n: Cell,
}

impl CohortShares {
    fn read(rows: &Rows) -> Result<CohortShares, String> {
        let mut out = CohortShares {
            cohorts: Vec::new(),
            months: Vec::new(),
            shares: Vec::new(),
            totals: Vec::new(),
            total_n: Cell::Missing,
        };
        for r in rows.iter() {
            let month = r.text("month")?;
            let cohort = r.text("cohort_name")?;
            let c = match out.cohorts.iter().position(|k| *k == cohort) {
                Some(c) => c,
                None => {
                    out.cohorts.push(cohort);
                    out.cohorts.len() - 1
                }
            };
            if out.months.last() != Some(&month) {
                out.months.push(month);
                out.shares.push(Vec::new());
                out.totals.push(r.cell("n")?);
            }
            out.total_n = r.cell("total_n")?;
            if let Some(s) = out.shares.last_mut() {
                s.push((c, r.cell("pct")?));
            }
        }
        Ok(out)
    }

    /// The stacked columns, the legend and the axes, with the lockdown's month marked.
    fn draw(&self, marker: Option<(usize, &str)>) -> Result<String, String> {
        let slots = self
            .months
            .iter()
            .map(|m| {
                let year = m[..4].to_string();
                let month: u32 = m[5..7].parse().unwrap_or(1);
                (m.clone(), year, ((month - 1) / 3 + 1).to_string())
            })
            .collect();
        let height: u32 = 420;
        let legend_rows = 2;
        let top = 30 + legend_rows * 20;
        let baseline = height as i32 - 78;
        let axis = Months {
            slots,
            x0: LEFT,
            x1: WIDTH as i32 - RIGHT,
        };
        let y = |v: f64| baseline - (v * f64::from(baseline - top)).round() as i32;
        let colour = |c: usize| draw::SERIES[c % draw::SERIES.len()];
        draw::canvas(WIDTH, height, |area: &Area<'_>| {
            // Legend: two rows at most.
            let mut x = 16;
            let mut ly = 14;
            for (c, name) in self.cohorts.iter().enumerate() {
                let w = 18 + draw::text_width(name, BODY) + 18;
                if x + w > WIDTH as i32 - RIGHT {
                    x = 16;
                    ly += 20;
                }
                draw::rect(area, (x, ly - 6), (x + 12, ly + 6), &colour(c))?;
                draw::text(area, name, (x + 18, ly), BODY, &INK, Align::Left, false)?;
                x += w;
            }
            for t in draw::ticks(1.0, 5) {
                let ty = y(t);
                draw::line(area, &[(axis.x0, ty), (axis.x1, ty)], &GRID, 1)?;
                draw::text(
                    area,
                    &draw::tick_label(t, true),
                    (axis.x0 - 6, ty),
                    SMALL,
                    &MUTED,
                    Align::Right,
                    false,
                )?;
            }
            for (i, month) in self.shares.iter().enumerate() {
                let (a, b) = axis.bar(i);
                let mut base = 0.0;
                let mut hidden = false;
                for (c, cell) in month {
                    match cell {
                        Cell::Value(v) if *v > 0.0 => {
                            draw::rect(area, (a, y(base + v)), (b, y(base)), &colour(*c))?;
                            base += v;
                        }
                        Cell::Value(_) | Cell::Missing => {}
                        Cell::Suppressed => hidden = true,
                    }
                }
                if hidden {
                    // The gap is what is left of the month's 100 per cent.
                    let (gy0, gy1) = (y(1.0), y(base));
                    draw::outline(area, (a, gy0), (b, gy1), &MUTED, 1)?;
                    draw::text(
                        area,
                        crate::disclosure::SUPPRESSED,
                        ((a + b) / 2, (gy0 + gy1) / 2),
                        9,
                        &INK,
                        Align::Centre,
                        false,
                    )?;
                }
            }
            axis.draw_frame(
                area,
                (top, baseline, height),
                marker,
                "Per cent of the month's enrolments",
            )
        })
    }

    /// The chart in words: every month's shares, and what `[c]` means when it appears.
    fn describe(&self, lockdown: Option<(usize, &str)>) -> String {
        let months = &self.months;
        let mut desc = vec![format!(
            "Stacked column chart: each cohort's per cent of the participants registered each month, {} to {} (N = {}).",
            month_name(&months[0]),
            month_name(&months[months.len() - 1]),
            count(self.total_n)
        )];
        if let Some((i, lockdown)) = lockdown {
            desc.push(format!(
                "A dashed line marks the first national lockdown ({lockdown}) at {}.",
                month_name(&months[i])
            ));
        }
        let mut suppressed = false;
        desc.push(
            months
                .iter()
                .zip(&self.shares)
                .zip(&self.totals)
                .map(|((m, s), n)| {
                    let parts: Vec<String> = s
                        .iter()
                        .map(|(c, v)| {
                            suppressed |= *v == Cell::Suppressed;
                            format!("{} {}", self.cohorts[*c], pct(*v))
                        })
                        .collect();
                    format!(
                        "{} (N = {}): {}",
                        month_name(m),
                        count(*n),
                        parts.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
                + ".",
        );
        if suppressed {
            desc.push(format!(
                "{} marks shares suppressed for disclosure control, drawn together as a gap at the top of the month's column.",
                crate::disclosure::SUPPRESSED
            ));
        }
        desc.join(" ")
    }
}
