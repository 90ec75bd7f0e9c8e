//! The MI dashboard packs over successive refreshes of the twin, end to end: runs of three
//! refreshes, then `evalpipe dashboard` over them. The packs' numbers are checked against the
//! runs' own tables and against counts made here from the runs' Parquet, independently of the
//! dashboards' SQL; the lot packs against the programme pack; the deck in a browser.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use arrow::array::AsArray;
use arrow::datatypes::Date32Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use support::{csv_records as csv_rows, evalpipe, repo};

/// The refreshes, oldest first: three consecutive bi-monthly extracts of the same people.
const REFRESHES: [&str; 3] = [
    "data/twin-series/20210930",
    "data/twin-series/20211130",
    "data/twin",
];

struct Series {
    _tmp: tempfile::TempDir,
    runs: Vec<PathBuf>,
    packs: PathBuf,
}

/// The three runs and the packs over them, made once; the runs are given newest first, so the
/// packs must put them in order themselves.
fn series() -> &'static Series {
    static SERIES: OnceLock<Series> = OnceLock::new();
    SERIES.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let runs: Vec<PathBuf> = REFRESHES
            .iter()
            .enumerate()
            .map(|(i, data)| {
                let out = tmp.path().join(format!("run{i}"));
                evalpipe(&[
                    "run",
                    "--quiet",
                    "--no-pdf",
                    "--accept-incomplete",
                    "--data",
                    data,
                    "--out",
                    out.to_str().unwrap(),
                ]);
                out
            })
            .collect();
        let packs = tmp.path().join("packs");
        let mut args: Vec<String> = vec!["dashboard".into(), "--quiet".into(), "--no-pdf".into()];
        args.extend(runs.iter().rev().map(|r| r.display().to_string()));
        args.extend(["--out".into(), packs.display().to_string()]);
        evalpipe(&args.iter().map(String::as_str).collect::<Vec<_>>());
        Series {
            _tmp: tmp,
            runs,
            packs,
        }
    })
}

type Rows = Vec<BTreeMap<String, String>>;

fn pack_table(pack: &str, table: &str) -> Rows {
    csv_rows(
        &series()
            .packs
            .join(pack)
            .join("tables")
            .join(format!("{table}.csv")),
    )
}

/// A whole number of a CSV cell; `None` when suppressed (`[c]`) or empty.
fn count(row: &BTreeMap<String, String>, column: &str) -> Option<i64> {
    let v = row
        .get(column)
        .unwrap_or_else(|| panic!("no column {column}"));
    if v == "[c]" || v.is_empty() {
        None
    } else {
        Some(v.parse().unwrap_or_else(|_| panic!("{column} = {v}")))
    }
}

/// Columns of the packs' tables that count people.
const COUNTS: [&str; 7] = [
    "achieved",
    "change",
    "participants",
    "embedded",
    "job_starts",
    "sustained_13",
    "progressed",
];

/// `(lot, milestone)` → claims of the run's `validated_claims`, counted here.
fn validated_claims(run: &Path) -> BTreeMap<(String, String), i64> {
    let file = std::fs::File::open(run.join("tables/validated_claims.parquet")).unwrap();
    let mut out = BTreeMap::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let batch = batch.unwrap();
        let lot = arrow::compute::cast(
            batch.column_by_name("lot_code").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let milestone = arrow::compute::cast(
            batch.column_by_name("milestone").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let (lot, milestone) = (lot.as_string::<i32>(), milestone.as_string::<i32>());
        for i in 0..batch.num_rows() {
            *out.entry((lot.value(i).to_string(), milestone.value(i).to_string()))
                .or_default() += 1;
        }
    }
    out
}

/// The run's clean participants: pseudonym → (lot, registration date as days since 1970).
fn participants(run: &Path) -> BTreeMap<String, (String, i32)> {
    let file = std::fs::File::open(run.join("ingest/participants.parquet")).unwrap();
    let mut out = BTreeMap::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let batch = batch.unwrap();
        let utf8 = |name: &str| {
            arrow::compute::cast(
                batch.column_by_name(name).unwrap(),
                &arrow::datatypes::DataType::Utf8,
            )
            .unwrap()
        };
        let (id, lot) = (utf8("participant_id"), utf8("lot_code"));
        let registered = batch.column_by_name("registration_date").unwrap();
        let registered = registered.as_primitive::<Date32Type>();
        for i in 0..batch.num_rows() {
            out.insert(
                id.as_string::<i32>().value(i).to_string(),
                (
                    lot.as_string::<i32>().value(i).to_string(),
                    registered.value(i),
                ),
            );
        }
    }
    out
}

/// The extract date of a refresh folder's files, days since 1970.
fn extract_day(data: &str) -> i32 {
    let name = std::fs::read_dir(repo().join(data))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("mi_"))
        .unwrap();
    let stem = name.rsplit_once('.').unwrap().0;
    let date = &stem[stem.len() - 8..];
    let d = chrono::NaiveDate::parse_from_str(date, "%Y%m%d").unwrap();
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

#[test]
fn the_trend_is_each_refreshs_own_tables_in_date_order() {
    let s = series();
    let headline = pack_table("programme", "dashboard_headline");
    let refreshes: BTreeSet<String> = headline.iter().map(|r| r["refresh"].clone()).collect();
    assert_eq!(refreshes.len(), REFRESHES.len());
    for (k, run) in s.runs.iter().enumerate() {
        let order = (k + 1).to_string();
        let performance = csv_rows(&run.join("tables/claims_performance.csv"));
        let rows: Vec<_> = headline
            .iter()
            .filter(|r| r["refresh_order"] == order)
            .collect();
        assert_eq!(rows.len(), performance.len(), "refresh {order}");
        for (mine, theirs) in rows.iter().zip(&performance) {
            assert_eq!(mine["milestone_code"], theirs["milestone_code"]);
            // The programme's milestones are never small: shown, and the run's.
            assert_eq!(mine["achieved"], theirs["achieved"], "refresh {order}");
            assert_eq!(mine["target"], theirs["target"]);
        }
    }
    // Oldest first, whatever order the runs were given in: every milestone grows.
    let by_milestone = |code: &str| -> Vec<i64> {
        headline
            .iter()
            .filter(|r| r["milestone_code"] == code)
            .map(|r| count(r, "achieved").unwrap())
            .collect()
    };
    for code in ["REG", "EMB", "JS"] {
        let v = by_milestone(code);
        assert!(v.windows(2).all(|w| w[0] <= w[1]), "{code}: {v:?}");
        assert!(v[0] < v[2], "{code}: {v:?}");
    }
    for r in &headline {
        if r["refresh_order"] == "1" {
            assert_eq!(r["change"], "", "no change on the first refresh");
        }
    }
}

#[test]
fn every_lots_milestones_are_its_validated_claims_and_changes_add_up() {
    let s = series();
    let by_lot = pack_table("programme", "dashboard_milestones_by_lot");
    let (mut shown, mut cells) = (0, 0);
    let mut previous: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (k, run) in s.runs.iter().enumerate() {
        let claims = validated_claims(run);
        let order = (k + 1).to_string();
        for r in by_lot.iter().filter(|r| r["refresh_order"] == order) {
            let key = (r["lot_code"].clone(), r["milestone_code"].clone());
            let truth = claims.get(&key).copied().unwrap_or(0);
            cells += 1;
            if let Some(achieved) = count(r, "achieved") {
                assert_eq!(achieved, truth, "refresh {order} {key:?}");
                shown += 1;
            }
            if let (Some(change), Some(before)) = (count(r, "change"), previous.get(&key)) {
                assert_eq!(change, truth - before, "refresh {order} {key:?}");
            }
            previous.insert(key, truth);
        }
    }
    // Small bi-monthly changes take cells of their trend with them; most lots' still show.
    assert!(shown * 2 > cells, "only {shown} of {cells} lot cells shown");
}

#[test]
fn no_count_of_one_to_nine_people_is_shown() {
    for pack in ["programme", "lot_L5"] {
        for table in [
            "dashboard_headline",
            "dashboard_milestones_by_lot",
            "dashboard_groups",
        ] {
            let rows = pack_table(pack, table);
            let mut hidden = 0;
            for r in &rows {
                for c in COUNTS.iter().filter(|c| r.contains_key(**c)) {
                    match count(r, c) {
                        Some(v) => {
                            assert!(!(1..=9).contains(&v), "{pack} {table} {c} = {v}: {r:?}")
                        }
                        None if r[*c] == "[c]" => hidden += 1,
                        None => {}
                    }
                }
            }
            if table == "dashboard_groups" {
                assert!(
                    hidden > 0,
                    "{pack}: small lot × category counts exist and are hidden"
                );
            }
        }
    }
}

#[test]
fn a_lots_pack_holds_that_lots_cells_as_the_programme_pack_shows_them() {
    let s = series();
    for table in [
        "dashboard_milestones_by_lot",
        "dashboard_groups",
        "dashboard_data_quality",
    ] {
        let programme = pack_table("programme", table);
        let lot = pack_table("lot_L4", table);
        assert!(!lot.is_empty());
        let area = |r: &BTreeMap<String, String>| {
            r.get("area_code")
                .or_else(|| r.get("lot_code"))
                .cloned()
                .unwrap()
        };
        let mine: Vec<_> = programme
            .iter()
            .filter(|r| {
                let a = area(r);
                a == "L4" || (a == "ALL" && table != "dashboard_milestones_by_lot")
            })
            .cloned()
            .collect();
        assert_eq!(
            lot, mine,
            "{table}: the lot pack is the programme pack's L4 and programme rows"
        );
    }
    // No other lot is named in the lot's deck.
    let deck = std::fs::read_to_string(s.packs.join("lot_L4/deck.html")).unwrap();
    let study = evalpipe_study::Study::load(&repo().join("pipeline")).unwrap();
    for l in study.lots.iter().filter(|l| l.code != "L4") {
        assert!(!deck.contains(&l.name), "the L4 pack names {}", l.name);
    }
    assert!(deck.contains("Washwood Heath"));
}

#[test]
fn late_entries_are_the_people_new_to_a_refresh_registered_before_the_previous_one() {
    let s = series();
    let quality = pack_table("programme", "dashboard_data_quality");
    for k in 1..s.runs.len() {
        let (before, now) = (participants(&s.runs[k - 1]), participants(&s.runs[k]));
        let cutoff = extract_day(REFRESHES[k - 1]);
        let mut late: BTreeMap<String, i64> = BTreeMap::new();
        for (id, (lot, registered)) in &now {
            if !before.contains_key(id) && *registered <= cutoff {
                *late.entry(lot.clone()).or_default() += 1;
            }
        }
        let order = (k + 1).to_string();
        let mut total = 0;
        for r in quality.iter().filter(|r| r["refresh_order"] == order) {
            let got = count(r, "entered_late").unwrap();
            if r["area_code"] == "ALL" {
                total = got;
            } else {
                assert_eq!(
                    got,
                    late.get(&r["area_code"]).copied().unwrap_or(0),
                    "{r:?}"
                );
            }
        }
        assert_eq!(total, late.values().sum::<i64>());
        assert!(total > 0, "refresh {order}: the series plants late entries");
    }
}

#[test]
fn the_packs_are_deterministic_synthetic_on_every_slide_and_pass_the_lint() {
    let s = series();
    let again = s.packs.with_file_name("packs-again");
    let mut args: Vec<String> = vec!["dashboard".into(), "--quiet".into(), "--no-pdf".into()];
    args.extend(s.runs.iter().map(|r| r.display().to_string()));
    args.extend(["--out".into(), again.display().to_string()]);
    evalpipe(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (a, b) = (support::files_under(&s.packs), support::files_under(&again));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.file_name(), y.file_name());
        if x.file_name().is_some_and(|n| n == "manifest.json") {
            continue; // names the runs' folders, which differ
        }
        assert!(
            std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
            "{} differs",
            x.display()
        );
    }
    for pack in ["programme", "lot_L1", "lot_L9"] {
        let deck = std::fs::read_to_string(s.packs.join(pack).join("deck.html")).unwrap();
        let slides = deck.matches("<section class=\"slide").count();
        assert!(slides >= 8, "{pack}: {slides} slides");
        assert_eq!(
            deck.matches("class=\"notice\"").count(),
            slides,
            "{pack}: a synthetic notice on every slide"
        );
    }
    let findings =
        evalpipe_report::lint_templates(&repo().join("report-templates/dashboard")).unwrap();
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn two_runs_of_one_refresh_and_a_folder_that_is_not_a_run_are_refused() {
    let s = series();
    let out = s.packs.with_file_name("refused");
    let fail = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_evalpipe"))
            .args(args)
            .current_dir(repo())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let run = s.runs[0].to_str().unwrap();
    let err = fail(&[
        "dashboard",
        "--no-pdf",
        run,
        run,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("given twice"), "{err}");
    let err = fail(&[
        "dashboard",
        "--no-pdf",
        "pipeline",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("not a run folder"), "{err}");
    // Writing the packs over a run is refused, and the run is left as it was.
    let err = fail(&["dashboard", "--no-pdf", run, "--out", run]);
    assert!(err.contains("--out"), "{err}");
    assert!(s.runs[0].join("manifest.json").is_file());
    assert!(!out.exists());
}

/// Appended to a copy of a deck: walks it with the keyboard and reports, as lines in
/// `<pre id="check-result">`, each slide shown and any problem.
const DECK_CHECKER: &str = r##"<script>
window.addEventListener("load", function () {
  const out = [];
  const problem = (t) => out.push("problem " + t);
  const slides = Array.from(document.querySelectorAll("section.slide"));
  const visible = () => slides.map((s, k) => [s, k]).filter(([s]) => getComputedStyle(s).display !== "none").map(([, k]) => k);
  const key = (k) => document.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
  for (let step = 0; step < slides.length + 2; step++) {
    const v = visible();
    if (v.length !== 1) { problem("slides visible at once: " + v.join(",")); break; }
    const s = slides[v[0]];
    out.push("shown " + v[0]);
    const box = s.getBoundingClientRect();
    if (Math.round(box.width * 720) !== Math.round(box.height * 1280)) problem("slide " + s.id + " is not 16:9: " + box.width + "x" + box.height);
    if (s.scrollHeight > s.clientHeight + 1) problem("slide " + s.id + " overflows: " + s.scrollHeight + " > " + s.clientHeight);
    for (const svg of s.querySelectorAll("figure.chart svg")) {
      const b = svg.getBoundingClientRect();
      if (b.width < 100 || b.height < 60) problem("chart not drawn on " + s.id);
      if (svg.getAttribute("role") !== "img") problem("chart not an image for assistive technology on " + s.id);
    }
    key("ArrowRight");
  }
  key("Home");
  out.push("home " + visible().join(","));
  key("End");
  out.push("end " + visible().join(","));
  key("ArrowLeft");
  out.push("back " + visible().join(","));
  for (const r of performance.getEntriesByType("resource")) problem("resource fetched: " + r.name);
  const pre = document.createElement("pre");
  pre.id = "check-result";
  pre.textContent = out.join("\n");
  document.body.appendChild(pre);
});
</script>
"##;

#[test]
fn the_deck_moves_by_keyboard_one_whole_slide_at_a_time_in_a_browser() {
    use evalpipe_report::pdf::{Scratch, file_url, find_chromium, run_chromium};
    let Some(chromium) = find_chromium() else {
        if std::env::var("EVALPIPE_BROWSER_TEST").as_deref() == Ok("skip") {
            eprintln!("SKIPPED: no Chromium on PATH and EVALPIPE_BROWSER_TEST=skip");
            return;
        }
        panic!("the browser test needs Chromium: apt-get install -y chromium (Debian)");
    };
    let s = series();
    for pack in ["programme", "lot_L2"] {
        let deck = s.packs.join(pack).join("deck.html");
        let html = std::fs::read_to_string(&deck).unwrap();
        let slides = html.matches("<section class=\"slide").count();
        let at = html.rfind("</body>").unwrap();
        let copy = s.packs.with_file_name(format!("check-{pack}.html"));
        std::fs::write(
            &copy,
            format!("{}{DECK_CHECKER}{}", &html[..at], &html[at..]),
        )
        .unwrap();
        let scratch = Scratch::new("deck-test").unwrap();
        let stderr = run_chromium(
            &chromium,
            &scratch,
            &[
                "--enable-logging=stderr".into(),
                "--v=0".into(),
                "--window-size=1280,720".into(),
                "--virtual-time-budget=5000".into(),
                "--dump-dom".into(),
                file_url(&copy),
            ],
            std::time::Duration::from_secs(120),
        )
        .unwrap();
        let dom = std::fs::read_to_string(scratch.path().join("stdout.txt")).unwrap();
        let start = dom
            .find("<pre id=\"check-result\">")
            .unwrap_or_else(|| panic!("the checker did not run on {pack}: {:.2000}", dom));
        let body = &dom[start + "<pre id=\"check-result\">".len()..];
        let text = body[..body.find("</pre>").unwrap()].replace("&gt;", ">");
        let lines: Vec<&str> = text.lines().collect();
        let problems: Vec<&&str> = lines.iter().filter(|l| l.starts_with("problem")).collect();
        assert!(problems.is_empty(), "{pack}: {problems:#?}");
        let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
        assert!(console.is_empty(), "{pack}: console messages {console:#?}");
        // Every slide in order, then the last stays.
        let shown: Vec<String> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("shown "))
            .map(str::to_string)
            .collect();
        let mut expected: Vec<String> = (0..slides).map(|k| k.to_string()).collect();
        expected.extend([(slides - 1).to_string(), (slides - 1).to_string()]);
        assert_eq!(shown, expected, "{pack}");
        assert!(lines.contains(&"home 0"), "{lines:?}");
        assert!(
            lines.contains(&format!("end {}", slides - 1).as_str()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&format!("back {}", slides - 2).as_str()),
            "{lines:?}"
        );
    }
}

/// What the series planted shows as data quality: the refresh of 30 November 2021 has L9's file
/// with a renamed column (rejected whole) and its other planted errors quarantined; the
/// corrections of that refresh's records are counted in the next.
#[test]
fn the_planted_bad_file_and_corrections_show_in_the_data_quality() {
    let quality = pack_table("programme", "dashboard_data_quality");
    let planted =
        std::fs::read_to_string(repo().join(REFRESHES[1]).join("SYNTHETIC.toml")).unwrap();
    let planted: toml::Table = toml::from_str(&planted).unwrap();
    let renamed = planted["planted"]["renamed_columns"].as_array().unwrap();
    let lot = renamed[0]["lot"].as_str().unwrap();
    let row = |order: &str, area: &str| {
        quality
            .iter()
            .find(|r| r["refresh_order"] == order && r["area_code"] == area)
            .unwrap()
            .clone()
    };
    assert_eq!(
        row("2", lot)["files_rejected"],
        "1",
        "{lot}'s renamed column"
    );
    assert_eq!(
        row("2", lot)["rows_read"],
        "0",
        "a rejected file has no rows read"
    );
    assert_eq!(row("2", "ALL")["files_rejected"], "1");
    // The refresh after it has the lot's file again, and nothing rejected.
    assert_eq!(row("3", lot)["files_rejected"], "0");
    assert_eq!(row("3", "ALL")["files_rejected"], "0");
    // A planted error validation accepts (another cohort, gender or date of birth) is a record
    // corrected in the next refresh; one it rejects is a row quarantined in its own.
    for (k, refresh) in REFRESHES.iter().take(2).enumerate() {
        let text = std::fs::read_to_string(repo().join(refresh).join("SYNTHETIC.toml")).unwrap();
        let planted: toml::Table = toml::from_str(&text).unwrap();
        let kinds = planted["planted"]["corrections"].as_table().unwrap();
        let n = |kind: &str| kinds[kind].as_integer().unwrap();
        let (this, next) = ((k + 1).to_string(), (k + 2).to_string());
        assert_eq!(
            count(&row(&next, "ALL"), "corrected").unwrap(),
            n("payment_group") + n("gender") + n("date_of_birth"),
            "records corrected by refresh {next}"
        );
        assert_eq!(
            count(&row(&this, "ALL"), "rows_quarantined").unwrap(),
            n("job_start_before_registration") + n("unknown_ethnicity"),
            "rows quarantined in refresh {this}"
        );
    }
}

/// The packs match people across refreshes by pseudonym, and print none: no pseudonym of any
/// refresh is in any file of any pack.
#[test]
fn no_pseudonym_reaches_a_pack() {
    let s = series();
    let pseudonyms: BTreeSet<String> = s
        .runs
        .iter()
        .flat_map(|r| participants(r).into_keys())
        .collect();
    assert!(pseudonyms.len() > 3000);
    for file in support::files_under(&s.packs) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        let words: BTreeSet<&str> = text
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-')
            .filter(|w| w.len() >= 8)
            .collect();
        let found: Vec<&&str> = words
            .iter()
            .filter(|w| pseudonyms.contains(**w))
            .take(3)
            .collect();
        assert!(
            found.is_empty(),
            "{} holds pseudonyms {found:?}",
            file.display()
        );
    }
}

/// Printed, every slide is one page: the PDF slides have as many pages as the deck has slides
/// (a slide that overflowed would spill onto a second page). `--lot` writes that lot's pack
/// beside the programme's, and no other.
#[test]
fn the_pdf_slides_are_one_page_per_slide() {
    if evalpipe_report::pdf::find_chromium().is_none() {
        assert_eq!(
            std::env::var("EVALPIPE_BROWSER_TEST").as_deref(),
            Ok("skip"),
            "the PDF slides need Chromium: apt-get install -y chromium (Debian)"
        );
        return;
    }
    let s = series();
    let out = s.packs.with_file_name("packs-pdf");
    let mut args: Vec<String> = vec![
        "dashboard".into(),
        "--quiet".into(),
        "--lot".into(),
        "L3".into(),
    ];
    args.extend(s.runs.iter().map(|r| r.display().to_string()));
    args.extend(["--out".into(), out.display().to_string()]);
    evalpipe(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let packs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(packs, ["lot_L3", "programme"]);
    for pack in &packs {
        let html = std::fs::read_to_string(out.join(pack).join("deck.html")).unwrap();
        let slides = html.matches("<section class=\"slide").count();
        let pdf = std::fs::read(out.join(pack).join("deck.pdf")).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        let pages = text
            .match_indices("/Type /Page")
            .filter(|(i, _)| !text[i + "/Type /Page".len()..].starts_with('s'))
            .count();
        assert_eq!(pages, slides, "{pack}: {pages} pages for {slides} slides");
    }
}
