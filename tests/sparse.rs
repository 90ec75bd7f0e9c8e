//! The pipeline on sparse extracts (evalpipe issue 14): every template renders, with honest
//! wording, for any valid extract, and a model the extract cannot support is said to be the
//! data's fault, not the spec's.
//!
//! Each extract is cut from the committed twin in a temporary folder (rows of one lot, one
//! participant, one cohort; no claims file; claims without usable MI), keeping its
//! `SYNTHETIC.toml` so the run uses the public synthetic key and the synthetic interviews. Each
//! test runs `evalpipe run --no-pdf` on one of them, as a user would, and checks what the
//! published report says: the values it must state, and what no report may print (an undefined
//! value, NaN, a rate of nobody, a table row of nothing).

use std::path::{Path, PathBuf};
use std::process::Output;

use super::{copy_dir, evalpipe, repo};

/// The twin's extract date, in every file name.
const DATE: &str = "20220131";

/// A CSV file of the twin: its header and rows.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn twin(file: &str) -> Csv {
        let mut reader = csv::Reader::from_path(repo().join("data/twin").join(file)).unwrap();
        let header = reader.headers().unwrap().iter().map(String::from).collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        Csv { header, rows }
    }

    fn column(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap()
    }

    fn keep(&self, wanted: impl Fn(&[String]) -> bool) -> Csv {
        Csv {
            header: self.header.clone(),
            rows: self.rows.iter().filter(|r| wanted(r)).cloned().collect(),
        }
    }

    fn first(&self, n: usize) -> Csv {
        Csv {
            header: self.header.clone(),
            rows: self.rows.iter().take(n).cloned().collect(),
        }
    }

    fn write(&self, path: &Path) {
        let mut w = csv::Writer::from_path(path).unwrap();
        w.write_record(&self.header).unwrap();
        for r in &self.rows {
            w.write_record(r).unwrap();
        }
        w.flush().unwrap();
    }
}

/// A data folder cut from the twin, and the run made from it.
struct Sparse {
    tmp: tempfile::TempDir,
}

impl Sparse {
    /// The twin's marker and the MI of `lots` (lot code and its rows); no claims yet.
    fn new(lots: &[(&str, &Csv)]) -> Sparse {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("data")).unwrap();
        std::fs::copy(
            repo().join("data/twin/SYNTHETIC.toml"),
            tmp.path().join("data/SYNTHETIC.toml"),
        )
        .unwrap();
        let s = Sparse { tmp };
        for (lot, rows) in lots {
            rows.write(&s.data().join(format!("mi_{lot}_{DATE}.csv")));
        }
        s
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn out(&self) -> PathBuf {
        self.tmp.path().join("run")
    }

    /// The twin's claims that `wanted` keeps.
    fn claims(self, wanted: impl Fn(&[String]) -> bool) -> Sparse {
        Csv::twin(&format!("claims_{DATE}.csv"))
            .keep(wanted)
            .write(&self.data().join(format!("claims_{DATE}.csv")));
        self
    }

    /// The twin's claims of the participants of the extract's MI (by provider reference).
    fn claims_of(self, mi: &[&Csv]) -> Sparse {
        let refs: Vec<String> = mi
            .iter()
            .flat_map(|m| {
                let i = m.column("provider_ref");
                m.rows.iter().map(move |r| r[i].clone())
            })
            .collect();
        self.claims(move |c| refs.contains(&c[2]))
    }

    /// `evalpipe run --no-pdf` on the folder (it must succeed), with `extra` options. The run
    /// keeps the temporary folder alive. A sparse extract leaves lots (or the claims) without
    /// data, which makes a run exit 3 unless it is accepted as incomplete.
    fn run(self, extra: &[&str]) -> Run {
        let (data, out) = (self.data(), self.out());
        let mut args = vec![
            "run",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-pdf",
            "--accept-incomplete",
        ];
        args.extend_from_slice(extra);
        let output = evalpipe(&args);
        Run::read(self, output)
    }
}

/// What a run published, and what it said.
struct Run {
    _sparse: Sparse,
    dir: PathBuf,
    md: String,
    stderr: String,
}

impl Run {
    fn read(sparse: Sparse, output: Output) -> Run {
        let dir = sparse.out();
        let report = dir.join("report");
        for file in ["report.md", "report.html", "annex.xlsx"] {
            assert!(report.join(file).is_file(), "{file} not published");
        }
        let md = std::fs::read_to_string(report.join("report.md")).unwrap();
        let html = std::fs::read_to_string(report.join("report.html")).unwrap();
        assert_honest(&md, &html);
        // The annex workbook opens and has its sheets.
        use calamine::Reader;
        let workbook = calamine::open_workbook_auto(report.join("annex.xlsx")).unwrap();
        assert!(workbook.sheet_names().len() > 10);
        Run {
            _sparse: sparse,
            dir,
            md,
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn says(&self, text: &str) {
        assert!(self.md.contains(text), "the report does not say: {text}");
    }

    fn never_says(&self, text: &str) {
        assert!(!self.md.contains(text), "the report says: {text}");
    }

    /// The lines `warning: model …` of the run.
    fn model_warnings(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("warning: model"))
            .collect()
    }

    /// The summary row of a model, by column.
    fn model_summary(&self, id: &str, column: &str) -> String {
        let path = self.dir.join(format!("tables/models/{id}/summary.csv"));
        let mut reader = csv::Reader::from_path(path).unwrap();
        let i = reader.headers().unwrap().iter().position(|h| h == column);
        let row = reader.records().next().unwrap().unwrap();
        row[i.unwrap()].to_string()
    }
}

/// What no published report may print: an undefined value, a NaN or infinity, template syntax,
/// the missing mark where a number should be ("–%", "N = –"), or a table row with no figure.
fn assert_honest(md: &str, html: &str) {
    for text in [md, html] {
        for bad in ["undefined", "NaN", "{{", "{%"] {
            assert!(!text.contains(bad), "`{bad}` printed");
        }
    }
    let words: Vec<&str> = md.split(|c: char| !c.is_alphanumeric()).collect();
    assert!(!words.contains(&"inf"), "`inf` printed");
    for (i, line) in md.lines().enumerate() {
        let at = format!("report.md line {}: {line}", i + 1);
        if line.starts_with('|') {
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            let rule = cells
                .iter()
                .all(|c| c.trim_matches(':').chars().all(|x| x == '-'));
            // A characteristic's heading row, "*Sex (N = 3,957)*", has no figures by design.
            if rule || cells[0].contains("(N = ") {
                continue;
            }
            let data: Vec<String> = cells[1..].iter().map(|c| c.replace('*', "")).collect();
            let empty = data.iter().all(|c| ["", "–", "0"].contains(&c.as_str()))
                && data.iter().any(|c| c.is_empty() || c == "–");
            assert!(!empty, "a table row with no figure: {at}");
        } else {
            for bad in ["–%", "– per cent", "N = –", "(–)", "from – ", "– to "] {
                assert!(!line.contains(bad), "`{bad}` printed: {at}");
            }
        }
    }
}

fn mi(lot: &str) -> Csv {
    Csv::twin(&format!("mi_{lot}_{DATE}.csv"))
}

/// The defect as reported: seven rows of one lot gave "undefined value (in
/// sections/promotion.md.j2:37)", exit 2, and nothing was published. Under disclosure control
/// (counts under 10 suppressed) the report states the N as `[c]`, never as seven.
#[test]
fn seven_rows_of_one_lot_publish_a_report() {
    let seven = mi("L1").first(7);
    let run = Sparse::new(&[("L1", &seven)]).claims_of(&[&seven]).run(&[]);
    run.says("(N = [c])");
    run.never_says("N = 7");
    // Lot L1 is in the Colleges provider group, which every model excludes.
    run.says(
        "The model could not be fitted on this extract's data: no participant of this extract \
         is left in the model's sample after the step ‘excluding the Colleges provider group \
         (much missing data)’.",
    );
    run.says("The regression of who found work could not be fitted on this extract (Table A-24).");
    run.never_says("no factor was significantly associated");
    let warnings = run.model_warnings();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    for w in warnings {
        assert!(w.contains("this extract") && !w.contains("spec"), "{w}");
    }
}

/// The same seven rows with disclosure control off (`min_count = 0` in a copy of the study)
/// show their small numbers: the report states N = 7. A misspelt covariate in the copy is the
/// spec's fault, and the warning and the report say so, while the other models' warnings still
/// blame the thin extract.
#[test]
fn seven_rows_without_disclosure_control_state_n_7_and_a_bad_spec_is_blamed_on_the_spec() {
    let seven = mi("L1").first(7);
    let sparse = Sparse::new(&[("L1", &seven)]).claims_of(&[&seven]);
    let pipeline = sparse.tmp.path().join("pipeline");
    copy_dir(&repo().join("pipeline"), &pipeline);
    let edit = |file: &str, from: &str, to: &str| {
        let path = pipeline.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    };
    edit("study.toml", "min_count = 10", "min_count = 0");
    edit(
        "models/progression.toml",
        "characteristic = \"benefits\"",
        "characteristic = \"benefitz\"",
    );
    let run = sparse.run(&["--pipeline", pipeline.to_str().unwrap()]);

    run.says("Claims data shows that 7 residents were engaged on the programme.");
    run.says("(N = 7) (Table A-3)");
    run.says("| **Total** | **7** | **100** |");
    run.says("In the MI, there were 7 participants of the out-of-work cohorts");
    // One job start, one participant: the singular, and no "0 participants".
    run.says("Claims data shows there was 1 **job start**");
    run.says("left out no participants");
    run.never_says("left out 0 participants");

    let warnings = run.model_warnings();
    let progression: Vec<&&str> = warnings
        .iter()
        .filter(|w| w.contains("model progression"))
        .collect();
    assert_eq!(progression.len(), 1, "{warnings:?}");
    assert!(
        progression[0].contains("characteristic `benefitz` has no data")
            && progression[0].contains("check the name in the spec"),
        "{}",
        progression[0]
    );
    for w in warnings.iter().filter(|w| !w.contains("model progression")) {
        assert!(w.contains("this extract") && !w.contains("spec"), "{w}");
    }
    assert_eq!(run.model_summary("progression", "cause"), "specification");
    assert_eq!(run.model_summary("job_outcome", "cause"), "data");
    run.says(
        "The model could not be fitted: its specification does not match this run's tables \
         (the run's model summary says what to correct).",
    );
}

/// One lot whole (Binley and Willenhall, L2, the Coventry provider group): the models' reference
/// provider group is absent from this extract, which is said to be the extract's, not the
/// spec's; the other lots are named as absent, not given rows of zeros and dashes.
#[test]
fn one_lot_whole_is_reported_as_one_lot() {
    let lot = mi("L2");
    let run = Sparse::new(&[("L2", &lot)])
        .claims(|c| c[1] == "L2")
        .run(&[]);
    let warnings = run.model_warnings();
    let not_fitted: Vec<&&str> = warnings
        .iter()
        .filter(|w| w.contains("not fitted"))
        .collect();
    assert_eq!(not_fitted.len(), 3, "{warnings:?}");
    for w in &warnings {
        assert!(!w.contains("spec"), "thin data blamed on the spec: {w}");
    }
    for w in not_fitted {
        assert!(
            w.contains(
                "no participant of the model's sample in this extract is at the reference level \
                 `East Birmingham and Solihull urban partnership` of `provider_group` (levels \
                 present: `Coventry`)"
            ),
            "{w}"
        );
    }
    assert_eq!(run.model_summary("job_outcome", "cause"), "data");
    run.says(
        "The model could not be fitted on this extract's data: no participant of the model's \
         sample in this extract is in the group ‘East Birmingham and Solihull urban partnership’ \
         of type of provider, which the other groups are compared with.",
    );
    run.says(
        "Every participant in this extract was engaged at Binley and Willenhall (Table A-40).",
    );
    // One lot: no range "between lots", no lot "compared with" itself.
    run.never_says("per cent between lots");
    run.never_says("Job outcome rates varied between providers");
    run.never_says("Sustainment also varied between providers");
    run.never_says("Engagement by cohort varied between lots");
    run.says("Using management information, 47 per cent of embedded out-of-work participants found work (Table A-16).");
    run.says(
        "No participant of this population in this extract: Birchills Leamore, Batchley and \
         Brockhill, Washwood Heath, Cannock North, Shard End, Chelmsley Wood, Camp Hill and \
         Glascote.",
    );
}

/// One participant: every count is under the disclosure threshold and printed `[c]`, and the
/// youngest and oldest ages (the participant's own) are not printed either.
#[test]
fn a_single_participant_has_every_count_suppressed() {
    let one = mi("L4").first(1);
    let run = Sparse::new(&[("L4", &one)]).claims_of(&[&one]).run(&[]);
    run.says("| **Total** | **[c]** | **[c]** |");
    run.says("(N = [c]) (Table A-3)");
    run.never_says("N = 1)");
    run.never_says("ages ranged from");
    run.says(
        "The youngest and oldest ages of so few participants are not shown (disclosure control)",
    );
    run.says("Every participant in this extract was in the Hardest to Help group");
    // A hidden target share is not given a word ("The programme [c] its target").
    run.never_says("programme [c]");
    run.says(
        "The job starts claimed are too few to be set against their target (disclosure control).",
    );
    for w in run.model_warnings() {
        assert!(w.contains("this extract") && !w.contains("spec"), "{w}");
    }
}

/// No claims file: everything from the claims says there are none, and the MI analyses, the
/// models included, still run.
#[test]
fn no_claims_file_says_there_are_no_validated_claims() {
    let lot = mi("L4");
    let run = Sparse::new(&[("L4", &lot)]).run(&[]);
    assert!(
        run.stderr.contains("no usable claims extract"),
        "{}",
        run.stderr
    );
    run.says(
        "This extract has no validated claims, so the numbers engaged and embedded are not \
         reported from it.",
    );
    run.says("- This extract has no validated claims, so the programme's performance against its targets is not reported from it.");
    run.says("This extract has no validated claims, so there is no progress towards the targets to show.");
    run.never_says("% of the target");
    assert!(
        !run.dir
            .join("report/figures/claims_performance.svg")
            .exists()
    );
    // The MI of one lot is enough for the job outcome model.
    assert_eq!(run.model_summary("job_outcome", "status"), "fitted");
    run.says("Regression analysis of who found work showed that, after controlling for the other factors");
    run.says("| **Total** | **1,050** | **100** |");
}

/// Claims, but no usable MI: the one MI file is rejected as a whole and the other lots sent
/// nothing. The claims' figures are reported; everything from the MI says there is none.
#[test]
fn claims_without_usable_mi_report_the_claims_and_no_participants() {
    let sparse = Sparse::new(&[]).claims(|_| true);
    std::fs::write(
        sparse.data().join(format!("mi_L2_{DATE}.csv")),
        "not,the,header\r\na,b,c\r\n",
    )
    .unwrap();
    let run = sparse.run(&[]);
    assert!(
        run.stderr.contains("mi_L2_20220131.csv rejected"),
        "{}",
        run.stderr
    );
    run.says("Claims data shows that over 4,000 residents were engaged on the programme.");
    run.says("This extract has no participant records (MI), so the cohorts cannot be described (Table 2-1).");
    run.says("No participant records (MI) in this extract, so the table has no rows.");
    run.says("No participant in this extract had sex recorded, so the table has no rows.");
    run.says("In the MI of this extract, there were no participants of the out-of-work cohorts");
    let warnings = run.model_warnings();
    assert!(!warnings.is_empty());
    for w in warnings {
        assert!(w.contains("this extract") && !w.contains("spec"), "{w}");
    }
}

/// One lot whose participants are all in one cohort: no comparison between cohorts is made.
#[test]
fn one_cohort_is_not_compared_with_cohorts_that_are_absent() {
    let lot = mi("L4");
    let cohort = lot.column("payment_group");
    let hth = lot.keep(|r| r[cohort] == "HTH");
    let run = Sparse::new(&[("L4", &hth)]).claims_of(&[&hth]).run(&[]);
    run.says(
        "Every participant in this extract was in the Hardest to Help group, those out of work \
         more than 2 years (Table 2-1).",
    );
    run.says("no other out-of-work cohort has a rate in this extract");
    run.never_says("The out-of-work cohorts differed");
    run.never_says("moved sharply");
    run.never_says("Agreed actions differed between cohorts");
    run.says(
        "At Washwood Heath, 100% of participants were in the Hardest to Help cohort (Table A-41).",
    );
}
