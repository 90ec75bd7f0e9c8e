//! Drawing primitives over plotters' SVG backend, in pixels: the palette, text (with a width
//! estimate for wrapping), rectangles, lines, ticks, and the accessible `<svg>` wrapper.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A drawing surface: plotters' SVG backend writing into a string.
pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// The Okabe–Ito palette (Okabe and Ito, 2008), by name, in its usual order. Yellow is never
/// used for a bar: it is too light on white.
pub const PALETTE: [(&str, (u8, u8, u8)); 8] = [
    ("black", (0x00, 0x00, 0x00)),
    ("orange", (0xE6, 0x9F, 0x00)),
    ("sky blue", (0x56, 0xB4, 0xE9)),
    ("bluish green", (0x00, 0x9E, 0x73)),
    ("yellow", (0xF0, 0xE4, 0x42)),
    ("blue", (0x00, 0x72, 0xB2)),
    ("vermillion", (0xD5, 0x5E, 0x00)),
    ("reddish purple", (0xCC, 0x79, 0xA7)),
];

const fn okabe_ito(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i].1;
    RGBColor(r, g, b)
}

/// The single-series colour.
pub const BLUE: RGBColor = okabe_ito(5);
/// Series colours by name.
pub const ORANGE: RGBColor = okabe_ito(1);
/// Bluish green.
pub const GREEN: RGBColor = okabe_ito(3);
/// Vermillion.
pub const VERMILLION: RGBColor = okabe_ito(6);
/// Reddish purple.
pub const PURPLE: RGBColor = okabe_ito(7);
/// Series colours in order (cohorts, periods): distinguishable, none too light for a bar.
pub const SERIES: [RGBColor; 5] = [ORANGE, BLUE, GREEN, PURPLE, VERMILLION];
/// Text.
pub const INK: RGBColor = RGBColor(0x1D, 0x1D, 0x1D);
/// Secondary text (axis titles, notes), still 7:1 on white.
pub const MUTED: RGBColor = RGBColor(0x4D, 0x4D, 0x4D);
/// Grid lines.
pub const GRID: RGBColor = RGBColor(0xD9, 0xD9, 0xD9);
/// Box fills of the CMO diagrams.
pub const PAPER: RGBColor = RGBColor(0xF7, 0xF7, 0xF7);

/// Font sizes whose plotters size (`px × 1.24`, which its SVG backend divides again) prints as a
/// whole number.
pub const SMALL: u32 = 11;
/// Body text.
pub const BODY: u32 = 12;
/// Headings.
pub const HEADING: u32 = 14;

fn err(e: impl std::fmt::Display) -> String {
    format!("drawing a chart: {e}")
}

/// Draws into a fresh `width × height` SVG and returns its text.
pub fn canvas(
    width: u32,
    height: u32,
    paint: impl FnOnce(&Area<'_>) -> Result<(), String>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        paint(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Horizontal anchor of a text.
#[derive(Clone, Copy)]
pub enum Align {
    /// Text starts at x.
    Left,
    /// Text is centred on x.
    Centre,
    /// Text ends at x.
    Right,
}

/// Text at `(x, y)`: `y` is its vertical centre.
pub fn text(
    area: &Area<'_>,
    s: &str,
    (x, y): (i32, i32),
    px: u32,
    colour: &RGBColor,
    align: Align,
    bold: bool,
) -> Result<(), String> {
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    let h = match align {
        Align::Left => HPos::Left,
        Align::Centre => HPos::Center,
        Align::Right => HPos::Right,
    };
    let font = FontDesc::new(FontFamily::SansSerif, f64::from(px) * 1.24, style)
        .color(colour)
        .pos(Pos::new(h, VPos::Center));
    area.draw(&Text::new(s.to_string(), (x, y), font))
        .map_err(err)
}

/// Text turned a quarter anticlockwise, centred on `(x, y)` (a vertical axis title).
pub fn vertical_text(
    area: &Area<'_>,
    s: &str,
    (x, y): (i32, i32),
    px: u32,
    colour: &RGBColor,
) -> Result<(), String> {
    let font = FontDesc::new(
        FontFamily::SansSerif,
        f64::from(px) * 1.24,
        FontStyle::Normal,
    )
    .transform(FontTransform::Rotate270)
    .color(colour)
    .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(s.to_string(), (x, y), font))
        .map_err(err)
}

/// A filled rectangle from `(x0, y0)` to `(x1, y1)`.
pub fn rect(
    area: &Area<'_>,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
    colour: &RGBColor,
) -> Result<(), String> {
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], colour.filled()))
        .map_err(err)
}

/// A rectangle's outline.
pub fn outline(
    area: &Area<'_>,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
    colour: &RGBColor,
    width: u32,
) -> Result<(), String> {
    area.draw(&Rectangle::new(
        [(x0, y0), (x1, y1)],
        colour.stroke_width(width),
    ))
    .map_err(err)
}

/// A polyline.
pub fn line(
    area: &Area<'_>,
    points: &[(i32, i32)],
    colour: &RGBColor,
    width: u32,
) -> Result<(), String> {
    area.draw(&PathElement::new(
        points.to_vec(),
        colour.stroke_width(width),
    ))
    .map_err(err)
}

/// A dashed straight line.
pub fn dashed(
    area: &Area<'_>,
    from: (i32, i32),
    to: (i32, i32),
    colour: &RGBColor,
    width: u32,
) -> Result<(), String> {
    area.draw(&plotters::element::DashedPathElement::new(
        vec![from, to],
        5,
        4,
        colour.stroke_width(width),
    ))
    .map_err(err)
}

/// A filled polygon (arrowheads).
pub fn polygon(area: &Area<'_>, points: &[(i32, i32)], colour: &RGBColor) -> Result<(), String> {
    area.draw(&Polygon::new(points.to_vec(), colour.filled()))
        .map_err(err)
}

/// The width a text takes in a sans-serif font at `px`, estimated (SVG text is laid out by the
/// viewer; an average glyph is a little over half the font size).
pub fn text_width(s: &str, px: u32) -> i32 {
    let em = f64::from(px);
    let w: f64 = s
        .chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | 'I' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 0.28,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '[' | ']' | '/' | '-' => 0.36,
            'm' | 'w' | 'M' | 'W' => 0.85,
            c if c.is_ascii_uppercase() => 0.68,
            c if c.is_ascii_digit() => 0.56,
            '%' | '–' | '—' => 0.85,
            _ => 0.54,
        })
        .sum();
    (w * em).ceil() as i32
}

/// `s` broken into lines no wider than `max` pixels at `px` (a word longer than a line stands
/// alone on its line).
pub fn wrap(s: &str, px: u32, max: i32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in s.split_whitespace() {
        let candidate = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        if text_width(&candidate, px) > max && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
            current = word.to_string();
        } else {
            current = candidate;
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Axis ticks for values from zero to at least `max`: a 1–2–5 step giving at most `most`
/// intervals. Returns the ticks (the last is the axis end).
pub fn ticks(max: f64, most: u32) -> Vec<f64> {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / f64::from(most.max(1));
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let n = (max / step - 1e-9).ceil().max(1.0) as u32;
    (0..=n).map(|i| f64::from(i) * step).collect()
}

/// A tick label: whole numbers with thousands separators, per cent when `percent`.
pub fn tick_label(v: f64, percent: bool) -> String {
    if percent {
        format!("{}%", (v * 100.0).round() as i64)
    } else {
        crate::format::thousands(v.round() as i64)
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Makes plotters' SVG an accessible image: `role="img"`, a `<title>` and a `<desc>` it is
/// labelled by (ids prefixed with the chart id, unique in the report page).
pub fn accessible(id: &str, title: &str, desc: &str, svg: &str) -> Result<String, String> {
    let start = svg
        .find("<svg ")
        .ok_or_else(|| format!("internal: chart `{id}`: no <svg> element (an evalpipe bug)"))?;
    let end = svg[start..]
        .find('>')
        .map(|e| start + e)
        .ok_or_else(|| format!("internal: chart `{id}`: unterminated <svg> (an evalpipe bug)"))?;
    let attributes = &svg[start + "<svg ".len()..end];
    // One line each, no blank line anywhere: the HTML body is Markdown, where a blank line
    // would end the raw HTML block.
    let flat = |s: &str| escape(&s.split_whitespace().collect::<Vec<_>>().join(" "));
    let mut out = String::with_capacity(svg.len() + title.len() + desc.len() + 200);
    out.push_str(&format!(
        "<svg {attributes} role=\"img\" aria-labelledby=\"chart-{id}-title chart-{id}-desc\" \
         font-family=\"Arial, Helvetica, sans-serif\">\n\
         <title id=\"chart-{id}-title\">{}</title>\n\
         <desc id=\"chart-{id}-desc\">{}</desc>\n",
        flat(title),
        flat(desc)
    ));
    for line in svg[end + 1..].lines() {
        if !line.trim().is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        let labels = |max: f64, most: u32, percent: bool| {
            ticks(max, most)
                .into_iter()
                .map(|t| tick_label(t, percent))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            labels(1.0, 5, true),
            ["0%", "20%", "40%", "60%", "80%", "100%"]
        );
        assert_eq!(
            labels(263.0, 6, false),
            ["0", "50", "100", "150", "200", "250", "300"]
        );
        // Figure 2-1: job starts at 106% of target; the axis goes on to 120%.
        assert_eq!(
            labels(1.06, 6, true).last().map(String::as_str),
            Some("120%")
        );
        assert_eq!(
            labels(1418.0, 6, false).last().map(String::as_str),
            Some("1,500")
        );
    }

    #[test]
    fn wrapping_keeps_words_whole() {
        let lines = wrap("Trust with partners has to be rebuilt", BODY, 120);
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), "Trust with partners has to be rebuilt");
    }
}
