//! `check` on a hand-made run: two small tables written here, a register written here, every
//! status and tolerance exercised.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use evalpipe_review::{Register, Status, check, to_json, to_markdown};
use parquet::arrow::ArrowWriter;

fn write_table(run: &Path, name: &str, columns: Vec<(&str, ArrayRef)>) {
    let path = run.join("tables").join(format!("{name}.parquet"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn text(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

const REGISTER: &str = r#"
[document]
id = "final_report"
file = "001.txt"
title = "Final report"

[[figure]]
id = "sex.female"
where = "2.2 (Table A-3)"
measures = "share female"
value = 53
unit = "percent"
n = 3957
source = "mi"
reproduce = { table = "characteristics_sex", row = { category = "Female" }, column = "pct" }
n_column = "n"

[[figure]]
id = "sex.male"
where = "2.2 (Table A-3)"
measures = "share male"
value = 48
unit = "percent"
source = "mi"
reproduce = { table = "characteristics_sex", row = { category = "Male" }, column = "pct" }

[[figure]]
id = "sex.female.count"
where = "2.2"
measures = "female participants"
value = 2097
unit = "count"
source = "mi"
reproduce = { table = "characteristics_sex", row = { category = "Female" }, column = "participants" }

[[figure]]
id = "lots.range"
where = "2.3 (Table A-16)"
measures = "job outcome rate across providers"
value = [21, 59]
unit = "percent_range"
source = "mi"
reproduce = { table = "job_outcome_by_lot", rows = { characteristic = "lot" }, column = "rate" }

[[figure]]
id = "or.rp"
where = "2.3.1 (Table A-24)"
measures = "odds ratio, Rapid Progression vs Hardest to Help"
value = 1.8
unit = "odds_ratio"
source = "model"
reproduce = { table = "models/job_outcome/coefficients", row = { factor = "cohort", level = "Rapid Progression" }, column = "odds_ratio" }

[[figure]]
id = "or.smo"
where = "2.3.1 (Table A-24)"
measures = "odds ratio, small and medium organisations"
value = 2
unit = "odds_ratio"
source = "model"
reproduce = { table = "models/job_outcome/coefficients", row = { factor = "provider_group", level = "Small" }, column = "odds_ratio" }

[[figure]]
id = "sole.n"
where = "2.2 (Table A-9)"
measures = "sole carers"
value = 21
unit = "percent"
n = 1732
source = "mi"
reproduce = { table = "characteristics_sole_carer", row = { category = "Yes" }, column = "pct" }
n_column = "n"

[[figure]]
id = "ons.rate"
where = "2.3.1"
measures = "national disability employment rate"
value = 53
unit = "percent"
source = "external"
not_reproducible = "external: ONS labour market statistics"

[[figure]]
id = "missing.table"
where = "4.2"
measures = "a table the run lacks"
value = 3
unit = "count"
source = "mi"
reproduce = { table = "no_such_table", row = { a = "b" }, column = "c" }

[[erratum]]
id = "sole-carer-base"
kind = "base"
figures = ["sole.n"]
where = "Table A-9"
description = "N of sole carers exceeds the carers of children."
arithmetic = "1,732 > 910"
"#;

fn fixture() -> (tempfile::TempDir, Register) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    write_table(
        &run,
        "characteristics_sex",
        vec![
            ("category", text(&["Female", "Male"])),
            ("participants", Arc::new(Int64Array::from(vec![2097, 1860]))),
            // 0.529947 → 53%; 0.470053 → 47%, not the 48 registered.
            (
                "pct",
                Arc::new(Float64Array::from(vec![0.529947, 0.470053])),
            ),
            ("n", Arc::new(Int64Array::from(vec![3957, 3957]))),
        ],
    );
    write_table(
        &run,
        "characteristics_sole_carer",
        vec![
            ("category", text(&["Yes", "No"])),
            ("pct", Arc::new(Float64Array::from(vec![0.2104, 0.7896]))),
            ("n", Arc::new(Int64Array::from(vec![865, 865]))),
        ],
    );
    write_table(
        &run,
        "job_outcome_by_lot",
        vec![
            ("characteristic", text(&["all", "lot", "lot", "lot"])),
            // The overall rate is outside the providers' range and must not widen it.
            (
                "rate",
                Arc::new(Float64Array::from(vec![
                    Some(0.99),
                    Some(0.2149),
                    Some(0.5872),
                    None,
                ])),
            ),
        ],
    );
    write_table(
        &run,
        "models/job_outcome/coefficients",
        vec![
            ("factor", text(&["cohort", "provider_group"])),
            ("level", text(&["Rapid Progression", "Small"])),
            // 1.84 → 1.8 at one decimal; 2.04 → 2.0 (a printed "two times" is 2.0).
            ("odds_ratio", Arc::new(Float64Array::from(vec![1.84, 2.04]))),
        ],
    );
    let pipeline = dir.path().join("pipeline");
    std::fs::create_dir_all(pipeline.join("published")).unwrap();
    std::fs::write(pipeline.join("published/001_final_report.toml"), REGISTER).unwrap();
    let register = Register::load(&pipeline).unwrap();
    (dir, register)
}

#[test]
fn each_figure_gets_the_status_its_cell_earns() {
    let (dir, register) = fixture();
    let report = check(&dir.path().join("run"), &register).unwrap();
    let status = |id: &str| {
        report
            .figures
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("no figure {id}"))
    };
    assert_eq!(status("sex.female").status, Status::Match);
    assert_eq!(status("sex.female").reproduced.as_deref(), Some("53"));
    assert_eq!(status("sex.female.count").status, Status::Match);
    let male = status("sex.male");
    assert_eq!(male.status, Status::Mismatch);
    let detail = male.detail.as_deref().unwrap();
    assert!(
        detail.contains("published 48, reproduced 47")
            && detail.contains("queries/characteristics_sex.sql")
            && detail.contains("category = Male")
            && detail.contains("column `pct`"),
        "{detail}"
    );
    let range = status("lots.range");
    assert_eq!(range.status, Status::Match, "{:?}", range.detail);
    assert_eq!(range.reproduced.as_deref(), Some("21–59"));
    assert_eq!(status("or.rp").status, Status::Match);
    assert_eq!(status("or.smo").reproduced.as_deref(), Some("2.0"));
    assert_eq!(status("or.smo").status, Status::Match);
    let sole = status("sole.n");
    assert_eq!(sole.status, Status::Erratum);
    assert!(sole.detail.as_deref().unwrap().contains("sole-carer-base"));
    assert_eq!(status("ons.rate").status, Status::NotReproducible);
    let missing = status("missing.table");
    assert_eq!(missing.status, Status::Missing);
    assert!(
        missing
            .detail
            .as_deref()
            .unwrap()
            .contains("queries/no_such_table.sql")
    );

    assert!(report.failed());
    let total = &report.summary["total"];
    assert_eq!(
        (
            total.figures,
            total.matched,
            total.mismatched,
            total.missing,
            total.errata,
            total.not_reproducible
        ),
        (9, 5, 1, 1, 1, 1)
    );
    assert_eq!(report.summary["model"].matched, 2);

    let md = to_markdown(&report);
    assert!(md.contains("| mi | 6 | 3 | 1 | 1 | 1 | 0 |"), "{md}");
    assert!(md.contains("- **mismatch** `sex.male`"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
    assert_eq!(json["figures"][1]["status"], "mismatch");
}

#[test]
fn a_stated_n_that_differs_is_a_mismatch() {
    let (dir, _) = fixture();
    let pipeline = dir.path().join("pipeline");
    let text = REGISTER.replace("n = 3957", "n = 3958");
    std::fs::write(pipeline.join("published/001_final_report.toml"), text).unwrap();
    let register = Register::load(&pipeline).unwrap();
    let report = check(&dir.path().join("run"), &register).unwrap();
    let female = report
        .figures
        .iter()
        .find(|f| f.id == "sex.female")
        .unwrap();
    assert_eq!(female.status, Status::Mismatch);
    assert!(
        female
            .detail
            .as_deref()
            .unwrap()
            .contains("stated N 3958 but column `n` holds 3957")
    );
}

#[test]
fn a_malformed_register_names_the_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let published = dir.path().join("published");
    std::fs::create_dir_all(&published).unwrap();
    let write = |body: &str| {
        std::fs::write(
            published.join("001_x.toml"),
            format!("[document]\nid = \"x\"\nfile = \"x.txt\"\ntitle = \"X\"\n{body}"),
        )
        .unwrap();
        Register::load(dir.path()).unwrap_err().to_string()
    };
    let figure = "[[figure]]\nid = \"a\"\nwhere = \"w\"\nmeasures = \"m\"\nsource = \"mi\"\n";
    let err = write(&format!("{figure}value = 1\nunit = \"count\"\n"));
    assert!(
        err.contains("001_x.toml")
            && err.contains("figure `a`")
            && err.contains("`reproduce` or `not_reproducible`"),
        "{err}"
    );
    let err = write(&format!(
        "{figure}value = 1\nunit = \"percent_range\"\nnot_reproducible = \"x\"\n"
    ));
    assert!(err.contains("needs a [lo, hi] value"), "{err}");
    let err = write(&format!(
        "{figure}value = 1\nunit = \"count\"\nreproduce = {{ table = \"t\", rows = {{ a = \"b\" }}, column = \"c\" }}\n"
    ));
    assert!(err.contains("needs `row`"), "{err}");
    let err = write(&format!(
        "{figure}value = 1\nunit = \"count\"\nnot_reproducible = \"x\"\n{figure}value = 2\nunit = \"count\"\nnot_reproducible = \"y\"\n"
    ));
    assert!(err.contains("`a` is used twice"), "{err}");
    let err = write(&format!(
        "{figure}value = 1\nunit = \"count\"\nnot_reproducible = \"x\"\n[[erratum]]\nid = \"e\"\nkind = \"total\"\nfigures = [\"zz\"]\nwhere = \"w\"\ndescription = \"d\"\narithmetic = \"a\"\n"
    ));
    assert!(
        err.contains("erratum `e` names unknown figure `zz`"),
        "{err}"
    );
    let err = write(&format!(
        "{figure}value = 1\nunit = \"furlongs\"\nnot_reproducible = \"x\"\n"
    ));
    assert!(err.contains("furlongs"), "{err}");
}
