//! Context–mechanism–outcome diagrams (Figures 3-1, 4-4, 4-5, 4-6): one row per link of the
//! Framework stage's `framework/framework_cmo` table, context → mechanism → outcome, each row
//! marked as enabling or hindering in words and colour, with the number of supporting cases.

use super::draw::{self, Align, Area, BODY, GREEN, HEADING, INK, MUTED, PAPER, SMALL, VERMILLION};
use super::{Cell, Drawing, Rows, Source, count};

const WIDTH: u32 = 900;
const MARGIN: i32 = 16;
const STRIP: i32 = 86;
const BOX: i32 = 236;
const ARROW: i32 = 34;
const PAD: i32 = 8;
const LINE: i32 = 15;
const ROW_GAP: i32 = 12;

struct Link {
    enables: bool,
    context: Vec<String>,
    mechanism: Vec<String>,
    outcome: Vec<String>,
    cases: Cell,
    text: (String, String, String),
}

impl Link {
    fn height(&self) -> i32 {
        let lines = self
            .context
            .len()
            .max(self.mechanism.len())
            .max(self.outcome.len() + 1) as i32;
        lines * LINE + 2 * PAD
    }
}

fn column_x(i: i32) -> i32 {
    MARGIN + STRIP + i * (BOX + ARROW)
}

/// The diagram of figure `figure` (`3-1`, `4-4`, …).
pub(crate) fn diagram(source: &dyn Source, figure: &str) -> Result<Drawing, String> {
    let rows = Rows::load(source, "framework/framework_cmo")?;
    let mut title = None;
    let mut links = Vec::new();
    let wrap = |s: &str| draw::wrap(s, BODY, BOX - 2 * PAD);
    for r in rows.iter() {
        if r.text("figure")? != figure {
            continue;
        }
        title.get_or_insert(r.text("figure_title")?);
        let direction = r.text("direction")?;
        let (context, mechanism, outcome) =
            (r.text("context")?, r.text("mechanism")?, r.text("outcome")?);
        links.push(Link {
            enables: direction == "enables",
            context: wrap(&context),
            mechanism: wrap(&mechanism),
            outcome: wrap(&outcome),
            cases: r.cell("supporting_cases")?,
            text: (context, mechanism, outcome),
        });
    }
    if links.is_empty() {
        return Err(format!(
            "table `framework/framework_cmo` has no links of Figure {figure}"
        ));
    }
    let header = 34;
    let height = header + links.iter().map(|l| l.height() + ROW_GAP).sum::<i32>() + 24;
    let height = u32::try_from(height).unwrap_or(600);

    let svg = draw::canvas(WIDTH, height, |area: &Area<'_>| {
        for (i, name) in ["Context", "Mechanism", "Outcome"].iter().enumerate() {
            draw::text(
                area,
                name,
                (column_x(i as i32) + BOX / 2, 16),
                HEADING,
                &INK,
                Align::Centre,
                true,
            )?;
        }
        let mut y = header;
        for l in &links {
            let h = l.height();
            let colour = if l.enables { GREEN } else { VERMILLION };
            // The direction in words and a sign, not only in colour.
            draw::rect(area, (MARGIN, y), (MARGIN + 6, y + h), &colour)?;
            draw::text(
                area,
                if l.enables {
                    "+ Enables"
                } else {
                    "− Hinders"
                },
                (MARGIN + 12, y + h / 2),
                SMALL,
                &INK,
                Align::Left,
                true,
            )?;
            for (i, lines) in [&l.context, &l.mechanism, &l.outcome].iter().enumerate() {
                let x = column_x(i as i32);
                draw::rect(area, (x, y), (x + BOX, y + h), &PAPER)?;
                draw::outline(area, (x, y), (x + BOX, y + h), &colour, 2)?;
                for (k, line) in lines.iter().enumerate() {
                    draw::text(
                        area,
                        line,
                        (x + PAD, y + PAD + LINE / 2 + k as i32 * LINE),
                        BODY,
                        &INK,
                        Align::Left,
                        false,
                    )?;
                }
                if i < 2 {
                    let (ax0, ax1, ay) = (x + BOX + 4, x + BOX + ARROW - 4, y + h / 2);
                    draw::line(area, &[(ax0, ay), (ax1 - 6, ay)], &INK, 2)?;
                    draw::polygon(
                        area,
                        &[(ax1, ay), (ax1 - 8, ay - 5), (ax1 - 8, ay + 5)],
                        &INK,
                    )?;
                }
            }
            let x = column_x(2);
            draw::text(
                area,
                &format!("Supporting cases: {}", count(l.cases)),
                (x + PAD, y + h - PAD - LINE / 2 + 2),
                SMALL,
                &MUTED,
                Align::Left,
                false,
            )?;
            y += h + ROW_GAP;
        }
        draw::text(
            area,
            "Each row: a context, the mechanism it triggers and the outcome; supporting cases are interviews evidencing the link",
            (MARGIN, y + 6),
            SMALL,
            &MUTED,
            Align::Left,
            false,
        )
    })?;

    let mut desc = vec![
        "Context–mechanism–outcome diagram, one link per row, each enabling or hindering the outcome.".to_string(),
    ];
    let mut suppressed = false;
    for l in &links {
        suppressed |= l.cases == Cell::Suppressed;
        desc.push(format!(
            "{}: {} → {} → {} (supporting cases: {}).",
            if l.enables { "Enables" } else { "Hinders" },
            l.text.0,
            l.text.1,
            l.text.2,
            count(l.cases)
        ));
    }
    if suppressed {
        desc.push(format!(
            "{} marks a count suppressed for disclosure control.",
            crate::disclosure::SUPPRESSED
        ));
    }
    Ok(Drawing {
        svg,
        desc: desc.join(" "),
        title,
    })
}
