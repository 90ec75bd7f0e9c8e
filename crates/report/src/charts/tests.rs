//! Chart tests on small hand-made tables: what is drawn, where, and that it is drawn the same way
//! every time.

use std::collections::BTreeMap;

use minijinja::Value;

use super::*;

/// Tables given as rows of `(column, value)`.
#[derive(Default)]
struct Fake(BTreeMap<String, Value>);

impl Fake {
    fn with(mut self, name: &str, rows: Vec<Vec<(&str, Value)>>) -> Fake {
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                Value::from(
                    r.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<BTreeMap<String, Value>>(),
                )
            })
            .collect();
        self.0.insert(name.to_string(), Value::from(rows));
        self
    }
}

impl Source for Fake {
    fn table(&self, name: &str) -> Result<Value, String> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| format!("table `{name}` not found"))
    }
}

#[test]
fn every_id_is_listed_once() {
    let mut ids: Vec<&str> = CHARTS.iter().map(|c| c.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), CHARTS.len());
    assert!(draw("no_such_chart", &Fake::default()).is_err());
}

fn int(v: i64) -> Value {
    Value::from(v)
}
fn num(v: f64) -> Value {
    Value::from(v)
}
fn s(v: &str) -> Value {
    Value::from(v)
}
fn c() -> Value {
    Value::from(crate::disclosure::SUPPRESSED)
}

/// One SVG element as plotters writes it: a line per element, the text on the line after.
#[derive(Debug)]
struct Element {
    tag: String,
    attributes: BTreeMap<String, String>,
    text: Option<String>,
}

impl Element {
    fn get(&self, name: &str) -> &str {
        self.attributes.get(name).map_or("", String::as_str)
    }
    fn num(&self, name: &str) -> i32 {
        self.get(name)
            .parse()
            .unwrap_or_else(|_| panic!("{name} of {self:?}"))
    }
}

fn elements(svg: &str) -> Vec<Element> {
    let lines: Vec<&str> = svg.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix('<') else {
            continue;
        };
        if rest.starts_with('/') {
            continue;
        }
        let tag: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let mut attributes = BTreeMap::new();
        let mut body = &rest[tag.len()..];
        while let Some(eq) = body.find("=\"") {
            let name = body[..eq].trim().to_string();
            let value_start = eq + 2;
            let value_end = value_start + body[value_start..].find('"').unwrap();
            attributes.insert(name, body[value_start..value_end].to_string());
            body = &body[value_end + 1..];
        }
        let text = (tag == "text").then(|| lines[i + 1].to_string());
        out.push(Element {
            tag,
            attributes,
            text,
        });
    }
    out
}

const BLUE: &str = "#0072B2";
const GREEN: &str = "#009E73";

fn rects<'a>(es: &'a [Element], fill: &str) -> Vec<&'a Element> {
    es.iter()
        .filter(|e| e.tag == "rect" && e.get("fill") == fill)
        .collect()
}

fn texts(es: &[Element]) -> Vec<&str> {
    es.iter().filter_map(|e| e.text.as_deref()).collect()
}

fn text<'a>(es: &'a [Element], t: &str) -> &'a Element {
    es.iter()
        .find(|e| e.text.as_deref() == Some(t))
        .unwrap_or_else(|| panic!("no text `{t}` in {:?}", texts(es)))
}

fn claims() -> Fake {
    let m = |order: i64, code: &str, name: &str, achieved: i64, target: Option<i64>| {
        let share = target.map_or(Value::from(()), |t| num(achieved as f64 / t as f64));
        vec![
            ("milestone_order", int(order)),
            ("milestone_code", s(code)),
            ("milestone_name", s(name)),
            ("achieved", int(achieved)),
            ("target", target.map_or(Value::from(()), int)),
            ("pct_of_target", share),
        ]
    };
    Fake::default().with(
        "claims_performance",
        vec![
            m(1, "REG", "Registered", 4019, None),
            m(2, "EMB", "Embedded", 3255, Some(3970)),
            m(3, "JS", "Job start", 1123, Some(1060)),
        ],
    )
}

#[test]
fn progress_against_targets_draws_a_bar_per_milestone_with_a_target_and_labels_it() {
    let chart = draw("claims_performance", &claims()).unwrap();
    let es = elements(&chart.svg);
    // Registration has no target: two bars, not three.
    let bars = rects(&es, BLUE);
    assert_eq!(bars.len(), 2, "{:?}", bars);
    let t = texts(&es);
    assert!(t.contains(&"Embedded") && t.contains(&"Job start"));
    assert!(!t.contains(&"Registered"));
    assert!(t.contains(&"3,255 of 3,970 (82%)"), "{t:?}");
    assert!(t.contains(&"1,123 of 1,060 (106%)"), "{t:?}");
    // Job start's bar (106%) passes the target line, Embedded's (82%) stops short of it.
    let target_x = text(&es, "Target").num("x") - 4;
    let end = |b: &Element| b.num("x") + b.num("width");
    assert!(end(bars[0]) < target_x && end(bars[1]) > target_x);
    assert!(
        chart.desc.contains("Embedded: 3,255 of 3,970 (82%)"),
        "{}",
        chart.desc
    );
}

fn months(participants: &[Value], lockdown: usize) -> Fake {
    let rows = participants
        .iter()
        .enumerate()
        .map(|(i, p)| {
            vec![
                ("month", s(&format!("2020-{:02}-01", i + 1))),
                ("year", int(2020)),
                ("quarter", int(i as i64 / 3 + 1)),
                ("participants", p.clone()),
                ("lockdown_month", Value::from(i == lockdown)),
            ]
        })
        .collect();
    Fake::default().with("enrolment_by_month", rows).with(
        "reference/periods",
        vec![vec![("first_lockdown", s("2020-03-23"))]],
    )
}

#[test]
fn monthly_enrolment_marks_the_lockdown_at_its_month_and_suppressed_months_as_gaps() {
    let source = months(&[int(12), int(15), int(30), int(20), c(), int(0)], 2);
    let chart = draw("enrolment_by_month", &source).unwrap();
    let es = elements(&chart.svg);
    // Six months: four columns; May is suppressed and June had nobody.
    let bars = rects(&es, BLUE);
    assert_eq!(bars.len(), 4);
    let span = |b: &Element| (b.num("x"), b.num("x") + b.num("width"));
    // The marker: vermillion dashes, all at one x, inside March's column (the third).
    let xs: Vec<i32> = es
        .iter()
        .filter(|e| e.tag == "polyline" && e.get("stroke") == "#D55E00")
        .flat_map(|e| {
            e.get("points")
                .split_whitespace()
                .map(|p| p.split(',').next().unwrap().parse::<i32>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(xs.len() > 10, "a dashed line of many dashes: {xs:?}");
    let x = xs[0];
    assert!(xs.iter().all(|&d| d == x));
    let (a, b) = span(bars[2]);
    assert!(a < x && x < b, "marker at {x}, March's column {a}..{b}");
    assert!(x < span(bars[3]).0);
    assert!(texts(&es).contains(&"First national lockdown, 23 March 2020"));
    // May: no column, a [c] where it would stand, after April's column.
    let marker = text(&es, "[c]");
    assert!(marker.num("x") > span(bars[3]).1);
    assert!(
        chart.desc.contains("at March 2020")
            && chart.desc.contains("May 2020: [c]")
            && chart.desc.contains("June 2020: 0"),
        "{}",
        chart.desc
    );
}

fn heard(cells: &[(&str, &str, Value, Value)]) -> Fake {
    let rows = cells
        .iter()
        .map(|(period, item, participants, share)| {
            vec![
                ("characteristic", s("enrolment_period")),
                ("category", s(period)),
                ("item", s(item)),
                ("participants", participants.clone()),
                ("pct", share.clone()),
                ("n", int(if period.starts_with('B') { 200 } else { 100 })),
            ]
        })
        .collect();
    Fake::default().with("how_heard_by_lockdown", rows)
}

#[test]
fn a_suppressed_cell_is_a_gap_labelled_c_not_a_bar() {
    let source = heard(&[
        ("Before", "Leaflets", int(100), num(0.5)),
        ("Before", "Jobcentre", int(60), num(0.3)),
        ("From", "Leaflets", int(34), num(0.34)),
        ("From", "Jobcentre", c(), c()),
    ]);
    let chart = draw("how_heard_by_lockdown", &source).unwrap();
    let es = elements(&chart.svg);
    // Bars are 16 pixels high, legend keys 12.
    let bars = |fill| {
        rects(&es, fill)
            .into_iter()
            .filter(|r| r.num("height") == 16)
            .count()
    };
    assert_eq!((bars(BLUE), bars(GREEN)), (2, 1));
    let t = texts(&es);
    assert!(t.contains(&"Before (N = 200)") && t.contains(&"From (N = 100)"));
    assert!(t.contains(&"50%") && t.contains(&"34%"));
    // The gap sits on the Jobcentre row, below the Leaflets row's bars.
    let gap = text(&es, "[c]");
    let jobcentre = text(&es, "Jobcentre");
    assert!((gap.num("y") - jobcentre.num("y")).abs() <= 16);
    assert!(
        chart
            .desc
            .contains("Jobcentre: Before (N = 200) 30%, From (N = 100) [c]")
    );
    assert!(chart.desc.contains("[c] marks a figure suppressed"));
}

#[test]
fn disclosure_control_of_the_real_loader_reaches_the_chart() {
    use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    let dir = tempfile::tempdir().unwrap();
    let layout = evalpipe_study::RunLayout::new(dir.path());
    std::fs::create_dir_all(layout.tables_dir()).unwrap();
    let strings = |v: &[&str]| std::sync::Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let batch = RecordBatch::try_from_iter([
        ("characteristic", strings(&["enrolment_period"; 4])),
        ("category", strings(&["Before", "Before", "From", "From"])),
        (
            "item",
            strings(&["Leaflets", "Jobcentre", "Leaflets", "Jobcentre"]),
        ),
        (
            "participants",
            std::sync::Arc::new(Int64Array::from(vec![100, 60, 34, 3])) as ArrayRef,
        ),
        (
            "pct",
            std::sync::Arc::new(Float64Array::from(vec![0.5, 0.3, 0.34, 0.03])) as ArrayRef,
        ),
        (
            "n",
            std::sync::Arc::new(Int64Array::from(vec![200, 200, 100, 100])) as ArrayRef,
        ),
    ])
    .unwrap();
    let file = std::fs::File::create(layout.table("how_heard_by_lockdown", "parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let tables = crate::data::Tables::new(&layout, 10, None);
    let chart = draw("how_heard_by_lockdown", tables.as_ref()).unwrap();
    // Three participants: neither the count nor its 3% is drawn.
    assert!(chart.desc.contains("From (N = 100) [c]"), "{}", chart.desc);
    assert!(!chart.desc.contains("3%"));
    let es = elements(&chart.svg);
    assert_eq!(
        rects(&es, GREEN)
            .into_iter()
            .filter(|r| r.num("height") == 16)
            .count(),
        1
    );
}

fn cmo() -> Fake {
    let link = |figure: &str, order: i64, direction: &str, context: &str, cases: Value| {
        vec![
            ("figure", s(figure)),
            ("figure_title", s(&format!("Title of {figure}"))),
            ("link_order", int(order)),
            ("direction", s(direction)),
            ("context", s(context)),
            ("mechanism", s("a mechanism")),
            ("outcome", s("an outcome")),
            ("supporting_cases", cases),
        ]
    };
    Fake::default().with(
        "framework/framework_cmo",
        vec![
            link("3-1", 1, "enables", "Venues lent", int(25)),
            link("3-1", 2, "hinders", "Contractor withdrawn", c()),
            link("4-4", 3, "enables", "Caseloads small", int(12)),
        ],
    )
}

#[test]
fn a_cmo_diagram_draws_its_figures_links_only_with_direction_in_words() {
    let chart = draw("cmo_3_1", &cmo()).unwrap();
    assert_eq!(chart.title, "Title of 3-1");
    let es = elements(&chart.svg);
    let t = texts(&es);
    assert!(t.contains(&"Venues lent") && t.contains(&"Contractor withdrawn"));
    assert!(!t.contains(&"Caseloads small"));
    assert!(t.contains(&"+ Enables") && t.contains(&"− Hinders"));
    assert!(t.contains(&"Supporting cases: 25") && t.contains(&"Supporting cases: [c]"));
    // Three boxes per link.
    assert_eq!(rects(&es, "#F7F7F7").len(), 6);
    assert!(draw("cmo_4_6", &cmo()).is_err());
}

#[test]
fn charts_are_accessible_images() {
    let chart = draw("claims_performance", &claims()).unwrap();
    let svg = &chart.svg;
    assert!(svg.starts_with("<svg "));
    assert!(svg.contains(
        "role=\"img\" aria-labelledby=\"chart-claims_performance-title chart-claims_performance-desc\""
    ));
    assert!(svg.contains(
        "<title id=\"chart-claims_performance-title\">Progress towards programme targets</title>"
    ));
    assert!(svg.contains("<desc id=\"chart-claims_performance-desc\">Horizontal bar chart"));
    // The HTML block survives Markdown: no blank line inside it.
    assert!(!chart.html_block().contains("\n\n"));
    assert_eq!(
        chart.markdown_link(),
        "![Progress towards programme targets](figures/claims_performance.svg)"
    );
}

#[test]
fn the_same_tables_draw_the_same_bytes() {
    let source = months(&[int(12), int(15), int(30), int(20), c(), int(0)], 2);
    assert_eq!(
        draw("enrolment_by_month", &source).unwrap(),
        draw("enrolment_by_month", &source).unwrap()
    );
    assert_eq!(
        draw("claims_performance", &claims()).unwrap().svg,
        draw("claims_performance", &claims()).unwrap().svg
    );
    assert_eq!(
        draw("cmo_3_1", &cmo()).unwrap(),
        draw("cmo_3_1", &cmo()).unwrap()
    );
}
