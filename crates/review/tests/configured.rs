//! Statements the configuration determines (periods, cut-offs, band edges, contract values),
//! checked against `pipeline/`: the committed configuration holds every one as printed, and a
//! planted change of a parameter is a `config mismatch` that fails the check — an erratum
//! excuses it only when another document prints the configured value.

use std::path::{Path, PathBuf};

use evalpipe_review::{Register, Status, check};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of the committed `pipeline/` (register and configuration) and an empty run folder:
/// only configured figures have a verdict there.
fn copy() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("pipeline");
    copy_tree(&repo().join("pipeline"), &pipeline);
    let run = dir.path().join("run");
    std::fs::create_dir_all(run.join("tables")).unwrap();
    (dir, pipeline, run)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` once in {}",
        path.display()
    );
    std::fs::write(path, text.replace(from, to)).unwrap();
}

fn statuses(pipeline: &Path, run: &Path) -> (evalpipe_review::CheckReport, Register) {
    let register = Register::load(pipeline).unwrap();
    (check(run, &register).unwrap(), register)
}

#[test]
fn the_committed_configuration_holds_every_configured_statement_as_printed() {
    let (_dir, pipeline, run) = copy();
    let (report, register) = statuses(&pipeline, &run);
    let configured: Vec<_> = register
        .figures
        .iter()
        .filter(|f| f.config.is_some())
        .collect();
    assert!(
        configured.len() >= 30,
        "{} configured figures",
        configured.len()
    );
    for f in &configured {
        let c = report.figures.iter().find(|c| c.id == f.id).unwrap();
        let excused = c.status == Status::Erratum;
        assert!(
            c.status == Status::ConfigMatch || excused,
            "{}: {:?} {:?}",
            f.id,
            c.status,
            c.detail
        );
    }
    // The periods and cut-offs the issue names are among them.
    for id in [
        "1.3.mi.from",
        "1.3.mi.to",
        "1.3.claims.to",
        "1.3.claims.to.lot2",
        "4.2.1.lockdown",
        "f4-1.months.from",
        "f4-2.months.to",
        "f4-3.after.from",
        "2.2.earnings.band2.to",
        "1.1.2.lot-value.min",
        "1.1.2.lot-value.max",
        "summary.sustainment.weeks-13",
        "summary.sustainment.weeks-26",
        "summary.sustainment.weeks-52",
    ] {
        let c = report.figures.iter().find(|c| c.id == id).unwrap();
        assert_eq!(c.status, Status::ConfigMatch, "{id}: {:?}", c.detail);
    }
    // The case summary's £173,300 is not the configured £173,000, which the final report prints:
    // an erratum, naming the value.
    let c = report
        .figures
        .iter()
        .find(|c| c.id == "004.contract-value.min")
        .unwrap();
    assert_eq!(c.status, Status::Erratum);
    assert!(
        c.detail.as_deref().unwrap().contains("173000"),
        "{:?}",
        c.detail
    );
}

#[test]
fn a_planted_change_of_a_cut_off_is_a_config_mismatch_that_fails_the_check() {
    let (_dir, pipeline, run) = copy();
    edit(
        &pipeline.join("study.toml"),
        "claims_validated_to = 2021-11-30",
        "claims_validated_to = 2021-12-31",
    );
    let (report, _) = statuses(&pipeline, &run);
    let c = report
        .figures
        .iter()
        .find(|c| c.id == "1.3.claims.to")
        .unwrap();
    assert_eq!(c.status, Status::ConfigMismatch);
    let detail = c.detail.as_deref().unwrap();
    assert!(
        detail.contains("published 2021-11, configured 2021-12")
            && detail.contains("periods.claims_validated_to"),
        "{detail}"
    );
    // The run folder here is empty, so only configured figures can fail; the one that does is
    // the changed cut-off (the whole check's exit status is tests/end_to_end.rs's).
    assert!(Status::ConfigMismatch.fails());
    assert_eq!(report.summary["total"].config_mismatched, 1);
    // Lot 2's own cut-off is another parameter: still as printed.
    let lot2 = report
        .figures
        .iter()
        .find(|c| c.id == "1.3.claims.to.lot2")
        .unwrap();
    assert_eq!(lot2.status, Status::ConfigMatch);
}

#[test]
fn an_erratum_excuses_only_a_value_another_document_prints() {
    let (_dir, pipeline, run) = copy();
    // Batchley and Brockhill's contract at £170,000: neither the final report's £173,000 nor
    // the case summary's £173,300.
    edit(
        &pipeline.join("study.toml"),
        "lot_value_gbp = 173000",
        "lot_value_gbp = 170000",
    );
    let (report, _) = statuses(&pipeline, &run);
    for id in [
        "004.contract-value.min",
        "1.1.2.lot-value.min",
        "t1-1.batchley-brockhill.value",
    ] {
        let c = report.figures.iter().find(|c| c.id == id).unwrap();
        assert_eq!(c.status, Status::ConfigMismatch, "{id}: {:?}", c.detail);
        assert!(
            c.detail.as_deref().unwrap().contains("170000"),
            "{:?}",
            c.detail
        );
    }
    assert!(report.failed());
}

#[test]
fn a_band_edge_printed_as_the_last_whole_pound_follows_the_band() {
    let (_dir, pipeline, run) = copy();
    edit(
        &pipeline.join("study.toml"),
        "label = \"£100 to £199\"\nfrom = 100\nbelow = 200",
        "label = \"£100 to £199\"\nfrom = 100\nbelow = 250",
    );
    let (report, _) = statuses(&pipeline, &run);
    let c = report
        .figures
        .iter()
        .find(|c| c.id == "2.2.earnings.band2.to")
        .unwrap();
    assert_eq!(c.status, Status::ConfigMismatch);
    assert_eq!(c.reproduced.as_deref(), Some("249"));
}

#[test]
fn a_malformed_configured_figure_names_the_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let published = dir.path().join("published");
    std::fs::create_dir_all(&published).unwrap();
    let write = |body: &str| {
        std::fs::write(
            published.join("001_x.toml"),
            format!("[document]\nid = \"x\"\nfile = \"x.txt\"\ntitle = \"X\"\n{body}"),
        )
        .unwrap();
        Register::load(dir.path())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let figure =
        "[[figure]]\nid = \"a\"\nwhere = \"w\"\nmeasures = \"m\"\nsource = \"documents\"\n";
    let err = write(&format!(
        "{figure}value = 9\nunit = \"count\"\nconfig = {{ file = \"study.toml\", key = \"lot[*].code\" }}\n"
    ));
    assert!(
        err.contains("figure `a`") && err.contains("`reduce`"),
        "{err}"
    );
    let err = write(&format!(
        "{figure}value = \"2021-11\"\nunit = \"month\"\nnot_reproducible = \"x\"\n"
    ));
    assert!(err.contains("a `month` is a configured figure"), "{err}");
    let err = write(&format!(
        "{figure}value = 9\nunit = \"count\"\nnot_reproducible = \"x\"\nconfig = {{ file = \"study.toml\", key = \"a\" }}\n"
    ));
    assert!(
        err.contains("one of `reproduce`, `config` or `not_reproducible`"),
        "{err}"
    );
    let err = write(&format!(
        "{figure}value = 9\nunit = \"count\"\nnot_reproducible = \"x\"\n[[erratum]]\nid = \"e\"\nkind = \"other\"\nfigures = [\"a\"]\nwhere = \"w\"\ndescription = \"d\"\narithmetic = \"a\"\naccept = {{ b = [1] }}\n"
    ));
    assert!(err.contains("`accept` names `b`"), "{err}");
}

#[test]
fn a_model_excluding_another_lot_than_the_report_says_is_a_config_mismatch() {
    let (_dir, pipeline, run) = copy();
    let (report, _) = statuses(&pipeline, &run);
    let status = |r: &evalpipe_review::CheckReport, id: &str| {
        r.figures.iter().find(|c| c.id == id).unwrap().clone()
    };
    assert_eq!(
        status(&report, "2.3.1.model.excluded-lot").status,
        Status::ConfigMatch
    );
    edit(
        &pipeline.join("models/job_outcome.toml"),
        "lots = [\"L5\"]",
        "lots = [\"L3\"]",
    );
    let (report, _) = statuses(&pipeline, &run);
    let c = status(&report, "2.3.1.model.excluded-lot");
    assert_eq!(c.status, Status::ConfigMismatch);
    assert!(
        c.detail
            .as_deref()
            .unwrap()
            .contains("published L5, configured L3"),
        "{:?}",
        c.detail
    );
    // The other two models still exclude Lot 5.
    assert_eq!(
        status(&report, "2.3.2.model.excluded-lot").status,
        Status::ConfigMatch
    );
    assert_eq!(
        status(&report, "2.3.3.model.excluded-lot").status,
        Status::ConfigMatch
    );
}

#[test]
fn a_sustainment_point_the_dictionary_moves_is_a_config_mismatch() {
    let (_dir, pipeline, run) = copy();
    edit(
        &pipeline.join("dictionary/mi.toml"),
        "min_weeks_after = { column = \"job_start_date\", weeks = 26 }",
        "min_weeks_after = { column = \"job_start_date\", weeks = 24 }",
    );
    let (report, _) = statuses(&pipeline, &run);
    let c = report
        .figures
        .iter()
        .find(|c| c.id == "summary.sustainment.weeks-26")
        .unwrap();
    assert_eq!(c.status, Status::ConfigMismatch);
    assert_eq!(c.reproduced.as_deref(), Some("24"));
    assert_eq!(report.summary["total"].config_mismatched, 1);
}
