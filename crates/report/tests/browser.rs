//! The report in a browser: headless Chromium opens the HTML page rendered from a finished run
//! of the embedded twin, and the test fails on a console error, a chart that is not drawn, an
//! image that does not load, a resource fetched from outside the page, or an internal link
//! without its target. It also takes a screenshot (printed path) for a person to look at.
//!
//! How it watches the browser: Chromium's own switches, no DevTools client. `--enable-logging=
//! stderr` writes every console message of the page (script errors, SVG attribute errors, CSP
//! violations) to stderr as a `CONSOLE` line; the report has no script, so any such line is a
//! failure. A short checker script, appended to a copy of the page, inspects the laid-out DOM
//! (each chart's size, every image, every link, resource timing) and writes its findings into
//! the DOM, which `--dump-dom` prints. A canary page with a known console error first proves
//! that this Chromium reports console messages at all, so the check cannot pass by going blind.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it). Without it the test fails and says how
//! to install it, unless `EVALPIPE_BROWSER_TEST=skip` is set.

use std::path::{Path, PathBuf};
use std::time::Duration;

use evalpipe_report::pdf::{Scratch, file_url, find_chromium, run_chromium};
use evalpipe_report::{RenderOptions, charts::CHARTS, render, write_pdf};
use evalpipe_study::{RunLayout, Study};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const TIMEOUT: Duration = Duration::from_secs(120);

/// The checker appended to the page copy: findings as lines of text in `<pre id=check-result>`.
const CHECKER: &str = r##"<script>
(function () {
  const out = [];
  const problem = (text) => out.push("problem " + text);
  for (const f of document.querySelectorAll("figure.chart")) {
    out.push("chart " + f.id);
    const svg = f.querySelector("svg");
    if (!svg) { problem("chart without an svg: " + f.id); continue; }
    const box = svg.getBoundingClientRect();
    if (box.width < 100 || box.height < 60) problem("chart not drawn: " + f.id + " is " + box.width + "x" + box.height);
    const drawn = svg.querySelectorAll("rect, polyline, polygon, text").length;
    if (drawn < 5) problem("chart empty: " + f.id + " has " + drawn + " elements");
    if (svg.getAttribute("role") !== "img") problem("chart not an image for assistive technology: " + f.id);
    const labels = (svg.getAttribute("aria-labelledby") || "").split(" ").filter((s) => s);
    if (labels.length === 0) problem("chart without a label: " + f.id);
    for (const id of labels) {
      const el = document.getElementById(id);
      if (!el || !el.textContent.trim()) problem("chart label missing: " + id);
    }
  }
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) problem("image not loaded: " + img.getAttribute("src"));
  }
  for (const a of document.querySelectorAll("a[href]")) {
    const href = a.getAttribute("href");
    if (href.startsWith("#")) {
      if (!document.getElementById(decodeURIComponent(href.slice(1)))) problem("broken internal link: " + href);
    } else if (!/^(https?:|mailto:)/.test(href)) {
      problem("link to a file beside the page: " + href);
    }
  }
  const ids = new Set();
  for (const el of document.querySelectorAll("[id]")) {
    if (ids.has(el.id)) problem("duplicate id: " + el.id);
    ids.add(el.id);
  }
  for (const r of performance.getEntriesByType("resource")) problem("resource fetched: " + r.name);
  const pre = document.createElement("pre");
  pre.id = "check-result";
  pre.textContent = out.join("\n");
  document.body.appendChild(pre);
})();
</script>
"##;

/// What the browser said about a page.
struct Seen {
    charts: Vec<String>,
    problems: Vec<String>,
    console: Vec<String>,
}

fn chromium() -> Option<PathBuf> {
    let found = find_chromium();
    if found.is_none() {
        if std::env::var("EVALPIPE_BROWSER_TEST").as_deref() == Ok("skip") {
            eprintln!("SKIPPED: no Chromium on PATH and EVALPIPE_BROWSER_TEST=skip");
            return None;
        }
        panic!(
            "the browser test needs Chromium: apt-get install -y chromium (Debian), or set \
             EVALPIPE_BROWSER_TEST=skip to skip it"
        );
    }
    found
}

/// Opens `page` (with the checker appended, as a copy beside it) and reports what it saw.
fn open(chromium: &Path, page: &Path) -> Seen {
    let html = std::fs::read_to_string(page).unwrap();
    let at = html.rfind("</body>").expect("the page has a body");
    let copy = page.with_file_name("browser-check.html");
    std::fs::write(&copy, format!("{}{CHECKER}{}", &html[..at], &html[at..])).unwrap();
    let scratch = Scratch::new("browser-test").unwrap();
    let url = file_url(&std::path::absolute(&copy).unwrap());
    let stderr = run_chromium(
        chromium,
        &scratch,
        &[
            "--enable-logging=stderr".into(),
            "--v=0".into(),
            "--window-size=1280,1600".into(),
            "--dump-dom".into(),
            url.clone(),
        ],
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("Chromium could not open {url}: {e}"));
    let dom = std::fs::read_to_string(scratch.path().join("stdout.txt")).unwrap();
    std::fs::remove_file(&copy).unwrap();
    let start = dom
        .find("<pre id=\"check-result\">")
        .unwrap_or_else(|| panic!("the checker did not run on {url}: {dom:.2000}"));
    let body = &dom[start + "<pre id=\"check-result\">".len()..];
    let body = &body[..body.find("</pre>").expect("the result closes")];
    let text = body
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let mut seen = Seen {
        charts: Vec::new(),
        problems: Vec::new(),
        console: Vec::new(),
    };
    for line in text.lines() {
        if let Some(id) = line.strip_prefix("chart ") {
            seen.charts.push(id.to_string());
        } else if let Some(p) = line.strip_prefix("problem ") {
            seen.problems.push(p.to_string());
        }
    }
    seen.console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    seen
}

/// A finished run of the embedded twin: ingest, transform, models, Framework.
fn twin_run() -> (tempfile::TempDir, Study, RunLayout) {
    let root = workspace();
    let study = Study::load(&root.join("pipeline")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("twin"));
    let opts = evalpipe_ingest::IngestOptions {
        key: evalpipe_ingest::PseudonymKey::synthetic(),
        synthetic: true,
    };
    evalpipe_ingest::ingest(&study, &root.join("data/twin"), &layout, &opts).unwrap();
    evalpipe_transform::run_blocking(
        &study,
        &layout,
        &root.join("queries"),
        &evalpipe_transform::TransformOptions::default(),
    )
    .unwrap();
    evalpipe_models::run_blocking(&study, &layout, &evalpipe_models::ModelsOptions::default())
        .unwrap();
    let codebook = evalpipe_framework::Codebook::load(
        &root
            .join("pipeline")
            .join(evalpipe_framework::CODEBOOK_FILE),
    )
    .unwrap();
    let fw = evalpipe_framework::FrameworkOptions::new(
        root.join("data/qualitative"),
        root.join("queries/framework"),
    );
    evalpipe_framework::run_blocking(&study, &codebook, &layout, &fw).unwrap();
    (dir, study, layout)
}

/// The real HTML shell around a body that places every chart, so each is seen in the browser
/// whether or not the report's sections place it yet.
fn gallery_templates(dir: &Path) -> PathBuf {
    let templates = dir.join("gallery-templates");
    std::fs::create_dir_all(&templates).unwrap();
    for shared in ["report.html.j2", "notices.j2"] {
        std::fs::copy(
            workspace().join("report-templates").join(shared),
            templates.join(shared),
        )
        .unwrap();
    }
    let mut md = String::from("# Every chart\n\n");
    for c in &CHARTS {
        md.push_str(&format!(
            "## {}\n\n{{{{ chart(\"{}\") }}}}\n\n",
            c.title, c.id
        ));
    }
    std::fs::write(templates.join("report.md.j2"), md).unwrap();
    templates
}

fn assert_clean(what: &str, seen: &Seen) {
    assert!(
        seen.console.is_empty(),
        "{what}: console messages:\n{}",
        seen.console.join("\n")
    );
    assert!(
        seen.problems.is_empty(),
        "{what}:\n{}",
        seen.problems.join("\n")
    );
}

#[test]
fn the_report_opens_in_a_browser_without_errors_and_every_chart_drawn() {
    let Some(chromium) = chromium() else {
        return;
    };

    // The canary: a console error must be seen, or the checks below would prove nothing.
    let canary_dir = tempfile::tempdir().unwrap();
    let canary = canary_dir.path().join("canary.html");
    std::fs::write(
        &canary,
        "<!DOCTYPE html><html><body><a href=\"#nowhere\">x</a>\
         <svg width=\"10\" height=\"10\"><rect width=\"-1\" height=\"1\"/></svg></body></html>",
    )
    .unwrap();
    let seen = open(&chromium, &canary);
    assert!(
        seen.console.iter().any(|l| l.contains("negative value")),
        "this Chromium does not report console errors on stderr; the check is blind: {:?}",
        seen.console
    );
    assert!(seen.problems.iter().any(|p| p.contains("#nowhere")));

    let (dir, study, layout) = twin_run();

    // Every chart, in the real page shell.
    let templates = gallery_templates(dir.path());
    render(
        &study,
        &layout,
        &templates,
        &RenderOptions {
            synthetic: true,
            ..Default::default()
        },
    )
    .unwrap();
    let page = layout.report_dir().join("report.html");
    let seen = open(&chromium, &page);
    assert_clean("every chart", &seen);
    let ids: Vec<String> = CHARTS.iter().map(|c| format!("chart-{}", c.id)).collect();
    assert_eq!(seen.charts, ids, "the charts the browser found");

    // The report itself, from the real templates.
    render(
        &study,
        &layout,
        &workspace().join("report-templates"),
        &RenderOptions {
            synthetic: true,
            ..Default::default()
        },
    )
    .unwrap();
    let page = layout.report_dir().join("report.html");
    let seen = open(&chromium, &page);
    assert_clean("the report", &seen);
    // Every printed page's footer says the figures are synthetic (the print stylesheet's
    // running footer; the PDF below is printed from it).
    let html = std::fs::read_to_string(&page).unwrap();
    let footer = html.find("@bottom-left").expect("a running footer");
    assert!(html[footer..].starts_with("@bottom-left {\n      content: \"Synthetic twin data"));
    let missing: Vec<&str> = CHARTS
        .iter()
        .filter(|c| !seen.charts.contains(&format!("chart-{}", c.id)))
        .map(|c| c.id)
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "note: the report's sections do not place these charts yet: {}",
            missing.join(", ")
        );
    }
    // Each chart the report places has its file beside it, for the Markdown's links.
    for id in &seen.charts {
        let file = layout
            .report_dir()
            .join("figures")
            .join(format!("{}.svg", id.trim_start_matches("chart-")));
        assert!(file.is_file(), "{} is missing", file.display());
    }

    // A screenshot, for a person to look at.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("report.png");
    let _ = std::fs::remove_file(&png);
    let scratch = Scratch::new("browser-shot").unwrap();
    run_chromium(
        &chromium,
        &scratch,
        &[
            "--hide-scrollbars".into(),
            "--window-size=1280,2400".into(),
            format!("--screenshot={}", png.display()),
            file_url(&std::path::absolute(&page).unwrap()),
        ],
        TIMEOUT,
    )
    .unwrap();
    let bytes = std::fs::read(&png).expect("Chromium wrote the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{} bytes",
        bytes.len()
    );
    eprintln!("screenshot: {}", png.display());

    // The PDF: printed, with the notice and a page number in the running footer, and the
    // same bytes when printed again.
    let first = match write_pdf(&layout).unwrap() {
        evalpipe_report::Pdf::Written(p) => std::fs::read(p).unwrap(),
        evalpipe_report::Pdf::Unavailable(why) => panic!("{why}"),
    };
    assert!(first.starts_with(b"%PDF-"));
    let second = match write_pdf(&layout).unwrap() {
        evalpipe_report::Pdf::Written(p) => std::fs::read(p).unwrap(),
        evalpipe_report::Pdf::Unavailable(why) => panic!("{why}"),
    };
    assert!(first == second, "two prints of one page differ");
}
