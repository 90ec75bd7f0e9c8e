//! The packs: each a folder with its slide deck (`deck.html`, and `deck.pdf` when Chromium is
//! installed) and the tables its slides print (`tables/<table>.csv`, after disclosure control).
//! The programme pack is `programme/`; a lot's is `lot_<LOT>/`, holding that lot's rows and the
//! programme's, nobody else's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use evalpipe_report::disclosure::{self, SUPPRESSED};
use evalpipe_report::pdf::{Printing, find_chromium, print_html};
use evalpipe_study::Study;
use minijinja::{Environment, Value, context};

use crate::charts::{self, Series, number};
use crate::config::DashboardConfig;
use crate::inputs::Refresh;
use crate::tables::{self, Computed};
use crate::{Error, Options, Result};

/// The deck template, under the templates folder.
const DECK_TEMPLATE: &str = "dashboard/deck.html.j2";
/// The report's shared wording (the synthetic-data notice).
const NOTICES_TEMPLATE: &str = "notices.j2";
/// The programme row's `area_code` (see `inputs::areas`).
const PROGRAMME: &str = "ALL";
/// The milestone the lot bars compare.
const BARS_MILESTONE: &str = "JS";

/// A table's rows as the templates see them.
type Row = BTreeMap<String, Value>;

/// What [`write`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Every file written, pack by pack.
    pub files: Vec<PathBuf>,
    /// The packs' folders, the programme's first.
    pub packs: Vec<PathBuf>,
    /// Why no PDF was printed, when none was.
    pub no_pdf: Option<String>,
    /// Cells suppressed across the dashboards' tables.
    pub suppressed: usize,
}

/// Writes the programme pack and the lot packs for `refreshes` (oldest first) into `out`.
pub fn write(study: &Study, refreshes: &[Refresh], out: &Path, opts: &Options) -> Result<Written> {
    let names: Vec<String> = evalpipe_transform::STRUCTURAL_CHARACTERISTICS
        .iter()
        .map(|c| c.to_string())
        .chain(study.characteristics.iter().map(|c| c.name.clone()))
        .collect();
    let config = DashboardConfig::load(&opts.pipeline, &names)?;
    let lots = chosen_lots(study, &opts.lots)?;
    let computed = tables::compute(study, &config, refreshes, &opts.queries)?;
    let all = protected(&computed)?;
    let columns: BTreeMap<String, Vec<String>> = computed
        .tables
        .iter()
        .map(|(name, batches)| {
            let names = batches
                .first()
                .map(|b| {
                    b.schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect()
                })
                .unwrap_or_default();
            (name.clone(), names)
        })
        .collect();
    let env = environment(&opts.templates)?;
    let synthetic = refreshes.iter().any(|r| r.synthetic);

    let mut written = Written {
        files: Vec::new(),
        packs: Vec::new(),
        no_pdf: None,
        suppressed: computed
            .tables
            .keys()
            .map(|t| computed.decision.hidden(t).len())
            .sum(),
    };
    let mut areas: Vec<(String, String)> = vec![(PROGRAMME.into(), config.areas.programme.clone())];
    areas.extend(lots.iter().map(|l| (l.code.clone(), l.name.clone())));
    let chromium = if opts.pdf { find_chromium() } else { None };
    if opts.pdf && chromium.is_none() {
        written.no_pdf = Some(
            "no PDF slides: Chromium is not installed (on Debian: apt-get install chromium)".into(),
        );
    }
    for (code, name) in &areas {
        let folder = out.join(if code == PROGRAMME {
            "programme".to_string()
        } else {
            format!("lot_{code}")
        });
        let rows = pack_rows(&all, code);
        write_tables(&folder, &rows, &columns, &mut written.files)?;
        let ctx = pack_context(study, &config, refreshes, &rows, code, name, synthetic)?;
        let html = folder.join("deck.html");
        let text = env
            .get_template(DECK_TEMPLATE)
            .and_then(|t| t.render(ctx))
            .map_err(|e| Error::Render {
                template: DECK_TEMPLATE.into(),
                message: describe(&e),
            })?;
        write_file(&html, text.as_bytes())?;
        written.files.push(html.clone());
        if let Some(chromium) = &chromium {
            let pdf = folder.join("deck.pdf");
            print_html(chromium, &html, &pdf).map_err(|(path, why)| match why {
                Printing::Failed(message) => Error::Pdf { path, message },
                Printing::Write(source) => Error::Write { path, source },
            })?;
            written.files.push(pdf);
        }
        written.packs.push(folder);
    }
    Ok(written)
}

/// The lots asked for, in contract order; every lot when none is.
fn chosen_lots<'s>(study: &'s Study, asked: &[String]) -> Result<Vec<&'s evalpipe_study::Lot>> {
    for code in asked {
        if !study.lots.iter().any(|l| &l.code == code) {
            return Err(Error::Refreshes(format!(
                "--lot {code}: not a lot of the study (one of {})",
                study
                    .lots
                    .iter()
                    .map(|l| l.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(study
        .lots
        .iter()
        .filter(|l| asked.is_empty() || asked.contains(&l.code))
        .collect())
}

/// Every dashboard table's rows with the decision's suppressed cells replaced by the marker,
/// before any pack picks its rows (the decision's row numbers are the whole table's).
fn protected(computed: &Computed) -> Result<BTreeMap<String, Vec<Row>>> {
    let mut out = BTreeMap::new();
    for (name, batches) in &computed.tables {
        let mut rows = evalpipe_report::rows_from_batches(batches)
            .map_err(|e| Error::Internal(format!("reading `{name}`: {e}")))?;
        evalpipe_report::protect(&mut rows, &computed.decision.hidden_cells(name));
        out.insert(name.clone(), rows);
    }
    Ok(out)
}

/// A pack's rows of every table: every row for the programme's pack; for a lot's, the lot's
/// and the programme's (its findings only its own); tables without an area (the programme's
/// milestones) whole.
fn pack_rows(all: &BTreeMap<String, Vec<Row>>, area: &str) -> BTreeMap<String, Vec<Row>> {
    all.iter()
        .map(|(name, rows)| {
            let keep = |row: &&Row| {
                if area == PROGRAMME {
                    return true;
                }
                let of = row
                    .get("area_code")
                    .or_else(|| row.get("lot_code"))
                    .and_then(|v| v.as_str().map(str::to_string));
                match of {
                    None => true,
                    Some(a) => a == area || (a == PROGRAMME && name != "dashboard_findings"),
                }
            };
            (name.clone(), rows.iter().filter(keep).cloned().collect())
        })
        .collect()
}

fn is_code(row: &Row, column: &str, code: &str) -> bool {
    row.get(column).and_then(|v| v.as_str()) == Some(code)
}

fn order(row: &Row, column: &str) -> i64 {
    row.get(column)
        .and_then(|v| i64::try_from(v.clone()).ok())
        .unwrap_or_default()
}

/// Everything the deck template reads for one pack.
fn pack_context(
    study: &Study,
    config: &DashboardConfig,
    refreshes: &[Refresh],
    rows: &BTreeMap<String, Vec<Row>>,
    code: &str,
    name: &str,
    synthetic: bool,
) -> Result<Value> {
    let get = |t: &str| rows.get(t).cloned().unwrap_or_default();
    let latest = refreshes.len() as i64;
    let headline = get("dashboard_headline");
    let by_lot = get("dashboard_milestones_by_lot");
    let is_programme = code == PROGRAMME;
    // The area's milestones across the refreshes: the programme's, or the lot's.
    let trend: Vec<Row> = if is_programme {
        headline.clone()
    } else {
        by_lot
            .iter()
            .filter(|r| is_code(r, "lot_code", code))
            .cloned()
            .collect()
    };
    let at_latest = |rows: &[Row]| -> Vec<Row> {
        rows.iter()
            .filter(|r| order(r, "refresh_order") == latest)
            .cloned()
            .collect()
    };
    let (trend_chart, target_chart) = trend_charts(refreshes, &trend, code)?;
    let bars_chart = lot_bars(
        study,
        &by_lot,
        &headline,
        latest,
        code,
        &config.areas.programme,
    )?;

    let groups = get("dashboard_groups");
    let breakdowns = breakdowns(config, &groups, code);

    let quality = get("dashboard_data_quality");
    let findings = get("dashboard_findings");
    let any_suppressed = [&headline, &by_lot, &groups]
        .iter()
        .flat_map(|t| t.iter())
        .any(|r| r.values().any(|v| v.as_str() == Some(SUPPRESSED)));
    let (profile_from, profile_to) = config.profile_period().map_err(Error::Internal)?;
    let lots_latest: Vec<Value> = study
        .lots
        .iter()
        .map(|l| {
            context! {
                code => l.code.clone(),
                name => l.name.clone(),
                milestones => at_latest(&by_lot).into_iter().filter(|r| is_code(r, "lot_code", &l.code)).collect::<Vec<_>>(),
            }
        })
        .filter(|_| is_programme)
        .collect();
    Ok(context! {
        synthetic => synthetic,
        study => context! { title => study.info.title.clone(), commissioner => study.info.commissioner.clone() },
        pack => context! { code => code, name => name, programme => is_programme },
        programme_name => config.areas.programme.clone(),
        refreshes => refreshes.iter().map(|r| context! { date => r.date.format("%Y-%m-%d").to_string(), run => r.name.clone() }).collect::<Vec<_>>(),
        latest => refreshes.last().map(|r| r.date.format("%Y-%m-%d").to_string()),
        previous => (refreshes.len() > 1).then(|| refreshes[refreshes.len() - 2].date.format("%Y-%m-%d").to_string()),
        headline => at_latest(&trend),
        programme_headline => at_latest(&headline),
        trend => trend,
        lots => lots_latest,
        breakdowns => breakdowns,
        quality_latest => at_latest(&quality),
        quality_trend => quality.iter().filter(|r| is_code(r, "area_code", code)).cloned().collect::<Vec<_>>(),
        findings => findings,
        charts => context! {
            trend => Value::from_safe_string(trend_chart),
            target => Value::from_safe_string(target_chart),
            bars => bars_chart.map(Value::from_safe_string),
        },
        disclosure_note => any_suppressed.then(|| disclosure::note(study.disclosure.min_count)),
        profile => context! { from => profile_from.format("%Y-%m-%d").to_string(), to => profile_to.format("%Y-%m-%d").to_string() },
    })
}

/// The area's trend charts: milestones achieved, and as a share of target, at each refresh.
fn trend_charts(refreshes: &[Refresh], trend: &[Row], code: &str) -> Result<(String, String)> {
    let latest = refreshes.len() as i64;
    let labels: Vec<String> = refreshes
        .iter()
        .map(|r| r.date.format("%b %Y").to_string())
        .collect();
    let milestones: Vec<(String, String)> = {
        let mut m: Vec<(i64, String, String)> = trend
            .iter()
            .map(|r| {
                (
                    order(r, "milestone_order"),
                    text(r, "milestone_code"),
                    text(r, "milestone_name"),
                )
            })
            .collect();
        m.sort();
        m.dedup();
        m.into_iter().map(|(_, c, n)| (c, n)).collect()
    };
    let series_of = |column: &str| -> Vec<Series> {
        milestones
            .iter()
            .map(|(c, n)| Series {
                name: n.clone(),
                values: (1..=latest)
                    .map(|k| {
                        trend
                            .iter()
                            .find(|r| {
                                order(r, "refresh_order") == k && is_code(r, "milestone_code", c)
                            })
                            .and_then(|r| r.get(column))
                            .and_then(number)
                    })
                    .collect(),
            })
            .collect()
    };
    let trend_chart = charts::trend(
        &format!("trend-{}", code.to_lowercase()),
        "Milestones achieved at each refresh",
        &labels,
        &series_of("achieved"),
        false,
    )
    .map_err(Error::Internal)?;
    let target_chart = charts::trend(
        &format!("target-{}", code.to_lowercase()),
        "Milestones as a share of target at each refresh",
        &labels,
        &series_of("pct_of_target"),
        true,
    )
    .map_err(Error::Internal)?;
    Ok((trend_chart, target_chart))
}

/// The breakdowns at the latest refresh: the area's rows, and the programme's beside a lot's.
fn breakdowns(config: &DashboardConfig, groups: &[Row], code: &str) -> Vec<Value> {
    let is_programme = code == PROGRAMME;
    let mut breakdowns: Vec<Value> = Vec::new();
    for b in &config.breakdowns {
        let of = |area: &str| -> Vec<Row> {
            groups
                .iter()
                .filter(|r| {
                    is_code(r, "area_code", area) && is_code(r, "characteristic", &b.characteristic)
                })
                .cloned()
                .collect()
        };
        let area_rows = of(code);
        let title = area_rows
            .first()
            .map(|r| text(r, "title"))
            .unwrap_or_else(|| b.characteristic.clone());
        breakdowns.push(context! {
            characteristic => b.characteristic.clone(),
            title => title,
            rows => area_rows,
            programme => if is_programme { Vec::new() } else { of(PROGRAMME) },
        });
    }

    breakdowns
}

fn text(row: &Row, column: &str) -> String {
    row.get(column)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The bars of the latest refresh: in the programme pack each lot's job starts as a share of
/// its target; in a lot's, each milestone's share of target, the lot's beside the programme's.
fn lot_bars(
    study: &Study,
    by_lot: &[Row],
    headline: &[Row],
    latest: i64,
    code: &str,
    programme_name: &str,
) -> Result<Option<String>> {
    let latest_rows = |rows: &[Row]| -> Vec<Row> {
        rows.iter()
            .filter(|r| order(r, "refresh_order") == latest)
            .cloned()
            .collect()
    };
    let svg = if code == PROGRAMME {
        let rows: Vec<Row> = latest_rows(by_lot)
            .into_iter()
            .filter(|r| is_code(r, "milestone_code", BARS_MILESTONE))
            .collect();
        if rows.is_empty() {
            return Ok(None);
        }
        let milestone = text(&rows[0], "milestone_name");
        let categories: Vec<String> = study.lots.iter().map(|l| l.name.clone()).collect();
        let values = study
            .lots
            .iter()
            .map(|l| {
                rows.iter()
                    .find(|r| is_code(r, "lot_code", &l.code))
                    .and_then(|r| r.get("pct_of_target"))
                    .and_then(number)
            })
            .collect();
        charts::bars(
            "lots",
            &format!("{milestone}: each lot's share of its target"),
            &categories,
            &[Series {
                name: format!("{milestone}, share of target"),
                values,
            }],
        )
    } else {
        let lot = latest_rows(by_lot);
        let programme = latest_rows(headline);
        let names: Vec<(String, String)> = programme
            .iter()
            .filter(|r| number(r.get("target").unwrap_or(&Value::from(()))).is_some())
            .map(|r| (text(r, "milestone_code"), text(r, "milestone_name")))
            .collect();
        let pick = |rows: &[Row], c: &str| {
            rows.iter()
                .find(|r| is_code(r, "milestone_code", c))
                .and_then(|r| r.get("pct_of_target"))
                .and_then(number)
        };
        let lot_name = study
            .lots
            .iter()
            .find(|l| l.code == code)
            .map(|l| l.name.clone())
            .unwrap_or_default();
        charts::bars(
            &format!("bars-{}", code.to_lowercase()),
            "Share of target: the lot and the programme",
            &names.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
            &[
                Series {
                    name: lot_name,
                    values: names.iter().map(|(c, _)| pick(&lot, c)).collect(),
                },
                Series {
                    name: programme_name.to_string(),
                    values: names.iter().map(|(c, _)| pick(&programme, c)).collect(),
                },
            ],
        )
    }
    .map_err(Error::Internal)?;
    Ok(Some(svg))
}

/// The templates: the deck and the report's notices, with the report's formatting rules.
fn environment(dir: &Path) -> Result<Environment<'static>> {
    let mut env = evalpipe_report::formatting_environment().map_err(|e| Error::Render {
        template: DECK_TEMPLATE.into(),
        message: e.to_string(),
    })?;
    for name in [NOTICES_TEMPLATE, DECK_TEMPLATE] {
        let path = dir.join(name);
        let source = std::fs::read_to_string(&path).map_err(|e| Error::Render {
            template: path.display().to_string(),
            message: format!("cannot read: {e}"),
        })?;
        env.add_template_owned(name.to_string(), source)
            .map_err(|e| Error::Render {
                template: name.into(),
                message: describe(&e),
            })?;
    }
    Ok(env)
}

/// A template error with its cause chain and line.
fn describe(e: &minijinja::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

/// The pack's tables as CSV, as its slides print them (suppressed cells marked).
fn write_tables(
    folder: &Path,
    rows: &BTreeMap<String, Vec<Row>>,
    columns: &BTreeMap<String, Vec<String>>,
    files: &mut Vec<PathBuf>,
) -> Result<()> {
    let dir = folder.join("tables");
    std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    for (name, table) in rows {
        let path = dir.join(format!("{name}.csv"));
        let columns = columns.get(name).cloned().unwrap_or_default();
        let mut out = csv::Writer::from_writer(Vec::new());
        let fail = |e: csv::Error| Error::Internal(format!("writing {name}.csv: {e}"));
        out.write_record(&columns).map_err(fail)?;
        for row in table {
            out.write_record(columns.iter().map(|c| cell(row.get(c))))
                .map_err(fail)?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| Error::Internal(format!("writing {name}.csv: {e}")))?;
        write_file(&path, &bytes)?;
        files.push(path);
    }
    Ok(())
}

/// A cell as CSV text: floats at the transform's fixed precision, so the file is the same on
/// every machine; a text a spreadsheet would run as a formula gets a leading apostrophe.
fn cell(v: Option<&Value>) -> String {
    let Some(v) = v else {
        return String::new();
    };
    if v.is_none() || v.is_undefined() {
        return String::new();
    }
    if let Some(s) = v.as_str() {
        return if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_string()
        };
    }
    if let Ok(i) = i64::try_from(v.clone()) {
        return i.to_string();
    }
    match f64::try_from(v.clone()) {
        Ok(f) => evalpipe_transform::float(f),
        Err(_) => v.to_string(),
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}
