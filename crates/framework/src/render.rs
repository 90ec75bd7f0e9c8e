//! The matrices for people: one self-contained HTML page and one workbook, a section or sheet
//! per interview type, plus the validation findings in Markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use evalpipe_study::Study;
use rust_xlsxwriter::{
    Color, DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError,
};

use crate::cell::{self, Valence};
use crate::codebook::{Codebook, Subtheme, Theme};
use crate::input::{Case, CodedCell, Input};
use crate::{Error, Result};

/// The notice every output built from the synthetic twin carries.
pub const SYNTHETIC_NOTICE: &str = "Synthetic data: these matrices are the evalpipe synthetic \
qualitative twin, written to be consistent with the published findings. No row is a real interview.";

/// Writes `matrices.html`, `matrices.xlsx` and `validation.md` into `dir`.
pub(crate) fn write_all(
    dir: &Path,
    codebook: &Codebook,
    study: &Study,
    input: &Input,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let matrices = matrices(codebook, input);
    let html = dir.join("matrices.html");
    write_text(&html, &html_page(codebook, study, input, &matrices))?;
    let xlsx = dir.join("matrices.xlsx");
    write_xlsx(&xlsx, codebook, study, input, &matrices)?;
    let md = dir.join("validation.md");
    write_text(&md, &validation_md(input))?;
    Ok(vec![html, xlsx, md])
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// One interview type's matrix: its columns and its rows.
struct Matrix<'a> {
    code: &'a str,
    label: &'a str,
    columns: Vec<(&'a Theme, &'a Subtheme)>,
    rows: Vec<(&'a Case, BTreeMap<&'a str, &'a CodedCell>)>,
}

fn matrices<'a>(codebook: &'a Codebook, input: &'a Input) -> Vec<Matrix<'a>> {
    codebook
        .interview_types
        .iter()
        .map(|t| {
            let cells: Vec<&CodedCell> = input
                .cells
                .iter()
                .filter(|c| c.interview_type == t.code)
                .collect();
            // The type's columns, and any other sub-theme its researchers charted.
            let columns = codebook
                .themes
                .iter()
                .flat_map(|th| th.subthemes.iter().map(move |s| (th, s)))
                .filter(|(_, s)| {
                    s.types.contains(&t.code) || cells.iter().any(|c| c.code == s.code)
                })
                .collect();
            let rows = input
                .cases
                .iter()
                .filter(|c| c.interview_type == t.code)
                .map(|case| {
                    let by_code = cells
                        .iter()
                        .filter(|c| c.case_id == case.id)
                        .map(|c| (c.code.as_str(), *c))
                        .collect();
                    (case, by_code)
                })
                .collect();
            Matrix {
                code: &t.code,
                label: &t.label,
                columns,
                rows,
            }
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn lot_name<'a>(study: &'a Study, code: Option<&'a str>) -> &'a str {
    match code {
        None => "programme",
        Some(c) => study
            .lots
            .iter()
            .find(|l| l.code == c)
            .map(|l| l.name.as_str())
            .unwrap_or(c),
    }
}

fn attributes(case: &Case) -> String {
    [
        case.role.as_deref(),
        case.cohort.as_deref(),
        case.age_band.as_deref(),
        case.gender.as_deref(),
    ]
    .iter()
    .flatten()
    .copied()
    .collect::<Vec<_>>()
    .join(", ")
}

fn html_page(codebook: &Codebook, study: &Study, input: &Input, matrices: &[Matrix]) -> String {
    let mut h = String::new();
    let title = "Framework matrices";
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\n\
body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}}\n\
.notice{{border:2px solid #b00;background:#fee;padding:.6rem;font-weight:bold}}\n\
table{{border-collapse:collapse;font-size:.8rem;margin-bottom:1rem}}\n\
th,td{{border:1px solid #bbb;padding:.3rem;vertical-align:top;text-align:left}}\n\
thead th{{background:#eef;position:sticky;top:0}}\n\
td.facilitator{{border-left:4px solid #2a7}}\n\
td.barrier{{border-left:4px solid #c33}}\n\
td.mixed{{border-left:4px solid #c90}}\n\
td.case{{white-space:nowrap;font-weight:bold}}\n\
td{{min-width:12rem}}\n\
sup a{{text-decoration:none}}\n\
</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    if input.synthetic {
        let _ = writeln!(h, "<p class=\"notice\">{}</p>", esc(SYNTHETIC_NOTICE));
    }
    let _ = writeln!(
        h,
        "<p>{} cases, {} charted cells. One matrix per interview type: a row per case (interview), a \
         column per sub-theme. Marks: (+) facilitator, (-) barrier, (+/-) both; \
         <sup>Q…</sup> an illustrative quote, listed under the matrix. Codebook: <code>{}</code>.</p>",
        input.cases.len(),
        input.cells.len(),
        esc(&study_relative(&codebook.path))
    );
    h.push_str("<ul>\n");
    for m in matrices {
        let _ = writeln!(
            h,
            "<li><a href=\"#{}\">{}</a> ({} cases)</li>",
            m.code,
            esc(m.label),
            m.rows.len()
        );
    }
    h.push_str("</ul>\n");
    for m in matrices {
        html_matrix(&mut h, m, study, input);
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// One interview type's matrix as a section: its table, then the quotes its cells cite, so a
/// quote's link stays on the page.
fn html_matrix(h: &mut String, m: &Matrix, study: &Study, input: &Input) {
    let _ = writeln!(h, "<h2 id=\"{}\">{}</h2>", m.code, esc(m.label));
    if m.rows.is_empty() {
        h.push_str("<p>No charted case.</p>\n");
        return;
    }
    html_matrix_head(h, m);
    let mut quoted: Vec<&str> = Vec::new();
    for (case, cells) in &m.rows {
        let _ = write!(
            h,
            "<tr><td class=\"case\">{}</td><td>{}</td><td>{}</td><td>{}</td>",
            esc(&case.id),
            case.wave,
            esc(lot_name(study, case.lot.as_deref())),
            esc(&attributes(case))
        );
        for (_, s) in &m.columns {
            match cells.get(s.code.as_str()) {
                None => h.push_str("<td></td>"),
                Some(c) => {
                    let _ = write!(h, "<td class=\"{}\">", c.valence.as_str());
                    if c.valence != Valence::Neutral {
                        let _ = write!(h, "{} ", c.valence.mark());
                    }
                    h.push_str(&esc(&c.summary));
                    for q in &c.quotes {
                        let _ = write!(h, " <sup><a href=\"#{0}\">{0}</a></sup>", esc(q));
                        quoted.push(q);
                    }
                    h.push_str("</td>");
                }
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
    if !quoted.is_empty() {
        h.push_str("<dl>\n");
        for q in quoted {
            if let Some(quote) = input.quotes.get(q) {
                let _ = writeln!(
                    h,
                    "<dt id=\"{}\">{} ({})</dt><dd>‘{}’</dd>",
                    esc(q),
                    esc(q),
                    esc(&quote.case_id),
                    esc(&quote.text)
                );
            }
        }
        h.push_str("</dl>\n");
    }
}

/// The matrix's two header rows: each theme spanning its sub-themes' columns, so the theme a
/// column charts is read from the top as in the researchers' workbook.
fn html_matrix_head(h: &mut String, m: &Matrix) {
    h.push_str("<table>\n<thead>\n<tr><th rowspan=\"2\">Case</th><th rowspan=\"2\">Wave</th><th rowspan=\"2\">Lot</th><th rowspan=\"2\">Attributes</th>");
    let mut spans: Vec<(&Theme, usize)> = Vec::new();
    for (t, _) in &m.columns {
        match spans.last_mut() {
            Some((last, n)) if last.code == t.code => *n += 1,
            _ => spans.push((t, 1)),
        }
    }
    for (t, n) in &spans {
        let _ = write!(
            h,
            "<th colspan=\"{n}\" title=\"{}\">{} {}</th>",
            esc(&t.definition),
            esc(&t.code),
            esc(&t.label)
        );
    }
    h.push_str("</tr>\n<tr>");
    for (_, s) in &m.columns {
        let _ = write!(
            h,
            "<th title=\"{}\">{}<br>{}</th>",
            esc(&s.definition),
            esc(&s.code),
            esc(&s.label)
        );
    }
    h.push_str("</tr>\n</thead>\n<tbody>\n");
}

fn write_xlsx(
    path: &Path,
    codebook: &Codebook,
    study: &Study,
    input: &Input,
    matrices: &[Matrix],
) -> Result<()> {
    let err = |e: XlsxError| Error::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut wb = Workbook::new();
    wb.set_properties(&properties(input).map_err(err)?);
    let formats = Formats::new();
    readme_sheet(&mut wb, input, &formats).map_err(err)?;
    for m in matrices {
        matrix_sheet(&mut wb, m, study, &formats).map_err(err)?;
    }
    themes_sheet(&mut wb, codebook, &formats).map_err(err)?;
    quotes_sheet(&mut wb, input, &formats).map_err(err)?;
    wb.save(path).map_err(err)
}

/// The workbook's properties. No clock: a fixed creation date, so the same matrices give the
/// same bytes.
fn properties(input: &Input) -> std::result::Result<DocProperties, XlsxError> {
    let fixed = ExcelDateTime::from_ymd(2000, 1, 1)?;
    let mut props = DocProperties::new()
        .set_creation_datetime(&fixed)
        .set_title("Framework matrices");
    if input.synthetic {
        props = props.set_comment(SYNTHETIC_NOTICE);
    }
    Ok(props)
}

/// The formats the sheets share; a charted cell is shaded by its valence, as the HTML page
/// marks it.
struct Formats {
    bold: Format,
    head: Format,
    wrap: Format,
    facilitator: Format,
    barrier: Format,
    mixed: Format,
}

impl Formats {
    fn new() -> Self {
        let shade = |c: u32| {
            Format::new()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_background_color(Color::RGB(c))
        };
        Formats {
            bold: Format::new().set_bold(),
            head: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_background_color(Color::RGB(0xEEEEFF))
                .set_align(FormatAlign::Top),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            facilitator: shade(0xE6F4EA),
            barrier: shade(0xFCE8E6),
            mixed: shade(0xFFF4DB),
        }
    }

    fn valence(&self, v: Valence) -> &Format {
        match v {
            Valence::Facilitator => &self.facilitator,
            Valence::Barrier => &self.barrier,
            Valence::Mixed => &self.mixed,
            Valence::Neutral => &self.wrap,
        }
    }
}

/// Row `row` of `ws` as a header naming the columns.
fn header_row(
    ws: &mut Worksheet,
    row: u32,
    names: &[&str],
    head: &Format,
) -> std::result::Result<(), XlsxError> {
    for (j, h) in names.iter().enumerate() {
        ws.write_string_with_format(row, j as u16, *h, head)?;
    }
    Ok(())
}

/// The first sheet, so a reader opening the workbook learns what the sheets and marks mean (and
/// that the twin is synthetic) before any matrix.
fn readme_sheet(
    wb: &mut Workbook,
    input: &Input,
    f: &Formats,
) -> std::result::Result<(), XlsxError> {
    let readme = wb.add_worksheet().set_name("Read me")?;
    readme.set_column_width(0, 110)?;
    let mut r = 0;
    readme.write_string_with_format(r, 0, "Framework matrices", &f.bold)?;
    r += 1;
    if input.synthetic {
        readme.write_string_with_format(r, 0, SYNTHETIC_NOTICE, &f.bold)?;
        r += 1;
    }
    for line in [
        format!(
            "{} cases, {} charted cells; one sheet per interview type, a row per case, a column per sub-theme.",
            input.cases.len(),
            input.cells.len()
        ),
        "Marks at the start of a cell: (+) facilitator, (-) barrier, (+/-) both. [Q…] names an illustrative quote (sheet Quotes).".into(),
        "Sheet Themes lists the codebook: each sub-theme's definition, Theory of Change stage and report section.".into(),
    ] {
        readme.write_string(r, 0, &line)?;
        r += 1;
    }
    Ok(())
}

/// One interview type's matrix as a sheet: a row per case, a column per sub-theme, the case and
/// header frozen so they stay in view while reading across or down.
fn matrix_sheet(
    wb: &mut Workbook,
    m: &Matrix,
    study: &Study,
    f: &Formats,
) -> std::result::Result<(), XlsxError> {
    let ws = wb.add_worksheet().set_name(m.code)?;
    ws.write_string_with_format(0, 0, m.label, &f.bold)?;
    let fixed_cols = ["case_id", "wave", "lot", "attributes"];
    header_row(ws, 1, &fixed_cols, &f.head)?;
    ws.set_column_width(0, 14)?;
    ws.set_column_width(2, 16)?;
    ws.set_column_width(3, 22)?;
    for (j, (_, s)) in m.columns.iter().enumerate() {
        let col = (fixed_cols.len() + j) as u16;
        ws.write_string_with_format(1, col, format!("{} {}", s.code, s.label), &f.head)?;
        ws.set_column_width(col, 40)?;
    }
    for (i, (case, cells)) in m.rows.iter().enumerate() {
        let row = (i + 2) as u32;
        ws.write_string(row, 0, &case.id)?;
        ws.write_number(row, 1, case.wave as f64)?;
        ws.write_string(row, 2, lot_name(study, case.lot.as_deref()))?;
        ws.write_string_with_format(row, 3, attributes(case), &f.wrap)?;
        for (j, (_, s)) in m.columns.iter().enumerate() {
            let col = (fixed_cols.len() + j) as u16;
            if let Some(c) = cells.get(s.code.as_str()) {
                ws.write_string_with_format(
                    row,
                    col,
                    cell::compose(c.valence, &c.summary, &c.quotes),
                    f.valence(c.valence),
                )?;
            }
        }
    }
    ws.set_freeze_panes(2, 1)?;
    Ok(())
}

/// The codebook, so a reader of a matrix can look up what a sub-theme's column charts.
fn themes_sheet(
    wb: &mut Workbook,
    codebook: &Codebook,
    f: &Formats,
) -> std::result::Result<(), XlsxError> {
    let themes = wb.add_worksheet().set_name("Themes")?;
    let names = ["code", "level", "label", "definition", "stage", "section"];
    header_row(themes, 0, &names, &f.head)?;
    themes.set_column_width(2, 36)?;
    themes.set_column_width(3, 90)?;
    for (i, c) in codebook.codes().iter().enumerate() {
        let row = (i + 1) as u32;
        for (j, v) in [c.code, c.level, c.label, c.definition, c.stage, c.section]
            .iter()
            .enumerate()
        {
            themes.write_string_with_format(row, j as u16, *v, &f.wrap)?;
        }
    }
    Ok(())
}

/// The quotes the cells cite by id.
fn quotes_sheet(
    wb: &mut Workbook,
    input: &Input,
    f: &Formats,
) -> std::result::Result<(), XlsxError> {
    let quotes = wb.add_worksheet().set_name("Quotes")?;
    header_row(
        quotes,
        0,
        &["quote_id", "case_id", "theme", "quote"],
        &f.head,
    )?;
    quotes.set_column_width(3, 100)?;
    for (i, q) in input.quotes.values().enumerate() {
        let row = (i + 1) as u32;
        quotes.write_string(row, 0, &q.id)?;
        quotes.write_string(row, 1, &q.case_id)?;
        quotes.write_string(row, 2, q.theme.as_deref().unwrap_or(""))?;
        quotes.write_string_with_format(row, 3, &q.text, &f.wrap)?;
    }
    Ok(())
}

fn validation_md(input: &Input) -> String {
    let mut s = String::from("# Framework: validation of the charted interviews\n\n");
    if input.synthetic {
        let _ = writeln!(s, "**{SYNTHETIC_NOTICE}**\n");
    }
    let errors = input
        .findings
        .iter()
        .filter(|f| f.rule.severity() == "error")
        .count();
    let _ = writeln!(
        s,
        "{} cases, {} charted cells, {} quotes and {} context–mechanism–outcome links read from `{}`.\n",
        input.cases.len(),
        input.cells.len(),
        input.quotes.len(),
        input.cmo.len(),
        input
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    if input.findings.is_empty() {
        s.push_str("No findings: every row and cell was counted.\n");
        return s;
    }
    let _ = writeln!(
        s,
        "{} findings ({errors} errors: what they name was left out of the counts; the rest are warnings).\n",
        input.findings.len()
    );
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &input.findings {
        *by_rule.entry(f.rule.code()).or_default() += 1;
    }
    s.push_str("| rule | findings |\n| --- | ---: |\n");
    for (rule, n) in by_rule {
        let _ = writeln!(s, "| {rule} | {n} |");
    }
    s.push_str("\n| file | sheet | cell | rule | message |\n| --- | --- | --- | --- | --- |\n");
    for f in &input.findings {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            f.file,
            f.sheet.as_deref().unwrap_or(""),
            f.cell.as_deref().unwrap_or(""),
            f.rule.code(),
            f.message.replace('|', "\\|")
        );
    }
    s
}

/// The codebook as the study configuration names it (`framework/codebook.toml`): the page must
/// not depend on where the configuration folder is, or two runs of the same inputs would differ.
fn study_relative(path: &std::path::Path) -> String {
    let parts: Vec<String> = path
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}
