//! `check` on a hand-made run: two small tables written here, a register written here, every
//! status and tolerance exercised.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use evalpipe_review::{
    CheckOptions, ExtractChoice, FigureCheck, Register, Status, check, check_with, to_json,
    to_markdown,
};
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
accept_n = { "sole.n" = [[1, 923]] }
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
    // The printed 21% on the run's N of 865, which the erratum accepts (at most the 923 carers).
    let sole = status("sole.n");
    assert_eq!(sole.status, Status::Erratum, "{:?}", sole.detail);
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
    assert!(md.contains("| mi | 6 | 3 | 1 | 1 | 1 | 0 | 0 |"), "{md}");
    // Without extracts.toml there is one extract and nothing to say about it.
    assert!(report.extract.is_none() && !md.contains("Extract:"), "{md}");
    assert!(md.contains("- **mismatch** `sex.male`"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
    assert_eq!(json["figures"][1]["status"], "mismatch");
}

/// The fixture's register with one more erratum, on `sex.male` (printed 48; the run gives 47).
fn with_erratum(erratum: &str) -> (tempfile::TempDir, evalpipe_review::CheckReport) {
    let (dir, _) = fixture();
    let pipeline = dir.path().join("pipeline");
    let register = format!(
        "{REGISTER}\n[[erratum]]\nid = \"male\"\nkind = \"inconsistent\"\nfigures = [\"sex.male\"]\n\
         where = \"w\"\ndescription = \"d\"\narithmetic = \"a\"\n{erratum}"
    );
    std::fs::write(pipeline.join("published/001_final_report.toml"), register).unwrap();
    let register = Register::load(&pipeline).unwrap();
    let report = check(&dir.path().join("run"), &register).unwrap();
    (dir, report)
}

/// Issue 18: an erratum names the values the documents allow; a run outside all of them is a
/// mismatch naming the erratum, never hidden by it.
#[test]
fn an_erratum_does_not_hide_a_value_outside_every_value_it_accepts() {
    let male = |report: &evalpipe_review::CheckReport| {
        report
            .figures
            .iter()
            .find(|f| f.id == "sex.male")
            .unwrap()
            .clone()
    };
    let (_d, report) = with_erratum("");
    let m = male(&report);
    assert_eq!(m.status, Status::Mismatch);
    assert!(
        m.detail
            .as_deref()
            .unwrap()
            .contains("erratum male accepts no other value"),
        "{:?}",
        m.detail
    );
    assert!(report.failed());
    let (_d, report) = with_erratum("accept = { \"sex.male\" = [47] }\n");
    let m = male(&report);
    assert_eq!(m.status, Status::Erratum, "{:?}", m.detail);
    assert!(
        m.detail.as_deref().unwrap().contains("reproduces 47"),
        "{:?}",
        m.detail
    );
    // A derived range the run is outside of.
    let (_d, report) = with_erratum("accept = { \"sex.male\" = [49, [40, 46]] }\n");
    let m = male(&report);
    assert_eq!(m.status, Status::Mismatch);
    assert!(
        m.detail
            .as_deref()
            .unwrap()
            .contains("accepts 49, 40–46 besides"),
        "{:?}",
        m.detail
    );
    let (_d, report) = with_erratum("accept = { \"sex.male\" = [[45, 50]] }\n");
    assert_eq!(male(&report).status, Status::Erratum);
    // The contradicting figure reproduced as printed: the run follows it.
    let (_d, report) = with_erratum("instead = { \"sex.male\" = [\"sex.female\"] }\n");
    let m = male(&report);
    assert_eq!(m.status, Status::Erratum, "{:?}", m.detail);
    assert!(
        m.detail
            .as_deref()
            .unwrap()
            .contains("reproduces sex.female"),
        "{:?}",
        m.detail
    );
    // Not reproduced (the run lacks its table): no excuse.
    let (_d, report) =
        with_erratum("instead = { \"sex.male\" = [\"sex.female\", \"missing.table\"] }\n");
    let m = male(&report);
    assert_eq!(m.status, Status::Mismatch);
    assert!(
        m.detail
            .as_deref()
            .unwrap()
            .contains("only if the run reproduces sex.female, missing.table"),
        "{:?}",
        m.detail
    );
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
            && err.contains("`reproduce`, `config` or `not_reproducible`"),
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

/// Figures over a lot × cohort table and a by-lot share table, for the selectors that
/// exclude rows (`except`), accept any of a list, and add rows up (`sum`).
const SELECTORS: &str = r#"
[document]
id = "final_report"
file = "001.txt"
title = "Final report"

[[figure]]
id = "rp.others"
where = "4.2.1"
quote = "compared with 30 to 46 per cent of participants in other lots"
measures = "Rapid Progression share, the lots other than Binley"
value = [30, 46]
unit = "percent_range"
source = "mi"
reproduce = { table = "cohort_by_lot", rows = { category = "Rapid Progression" }, except = { lot_name = "Binley" }, column = "pct" }

[[figure]]
id = "rp.all"
where = "4.2.1"
measures = "Rapid Progression share, every lot (Binley's 56% widens it)"
value = [30, 56]
unit = "percent_range"
source = "mi"
reproduce = { table = "cohort_by_lot", rows = { category = "Rapid Progression" }, column = "pct" }

[[figure]]
id = "hth.others"
where = "4.2.1"
measures = "Hardest to Help share, the lots other than two"
value = [24, 24]
unit = "percent_range"
source = "mi"
reproduce = { table = "cohort_by_lot", rows = { category = "Hardest to Help" }, except = { lot_name = ["Binley", "Camp Hill"] }, column = "pct" }

[[figure]]
id = "rp.two"
where = "4.2.1"
measures = "Rapid Progression share in two named lots"
value = [30, 46]
unit = "percent_range"
source = "mi"
reproduce = { table = "cohort_by_lot", rows = { category = "Rapid Progression", lot_name = ["Camp Hill", "Glascote"] }, column = "pct" }

[[figure]]
id = "rp.misspelt"
where = "4.2.1"
measures = "a lot the table does not have, left out"
value = [30, 46]
unit = "percent_range"
source = "mi"
reproduce = { table = "cohort_by_lot", rows = { category = "Rapid Progression" }, except = { lot_name = "Binley & Willenhall" }, column = "pct" }

[[figure]]
id = "rp.misspelt.list"
where = "4.2.1"
measures = "a lot the table does not have, in a list"
value = [30, 46]
unit = "percent_range"
source = "mi"
reproduce = { table = "cohort_by_lot", rows = { category = "Rapid Progression", lot_name = ["Camp Hill", "Glasscote"] }, column = "pct" }

[[figure]]
id = "two.sites"
where = "4.2.1"
quote = "Half of participants (50%) were engaged through two sites"
measures = "share of participants in two lots together"
value = 50
unit = "percent"
n = 3966
source = "mi"
reproduce = { table = "participants_by_lot", rows = { category = ["Shard End", "Washwood Heath"] }, sum = true, column = "pct" }
n_column = "n"

[[figure]]
id = "two.sites.count"
where = "4.2.1"
measures = "participants in two lots together"
value = 1983
unit = "count"
source = "mi"
reproduce = { table = "participants_by_lot", rows = { category = ["Shard End", "Washwood Heath"] }, sum = true, column = "participants" }

[[figure]]
id = "all.but.one"
where = "4.2.1"
measures = "share of participants outside Shard End"
value = 76
unit = "percent"
source = "mi"
reproduce = { table = "participants_by_lot", rows = {}, except = { category = "Shard End" }, sum = true, column = "pct" }
"#;

fn selector_fixture(register: &str) -> (tempfile::TempDir, Register) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    write_table(
        &run,
        "cohort_by_lot",
        vec![
            (
                "lot_name",
                text(&[
                    "Binley",
                    "Binley",
                    "Camp Hill",
                    "Camp Hill",
                    "Glascote",
                    "Glascote",
                ]),
            ),
            (
                "category",
                text(&[
                    "Rapid Progression",
                    "Hardest to Help",
                    "Rapid Progression",
                    "Hardest to Help",
                    "Rapid Progression",
                    "Hardest to Help",
                ]),
            ),
            // Binley's 56% and Camp Hill's 40% lie outside the others' ranges.
            (
                "pct",
                Arc::new(Float64Array::from(vec![0.56, 0.20, 0.30, 0.40, 0.46, 0.24])),
            ),
        ],
    );
    write_table(
        &run,
        "participants_by_lot",
        vec![
            (
                "category",
                text(&["Shard End", "Washwood Heath", "Glascote"]),
            ),
            (
                "participants",
                Arc::new(Int64Array::from(vec![933, 1050, 1983])),
            ),
            // 0.235250 + 0.264750 = 0.5: 50% together, though each rounds down.
            (
                "pct",
                Arc::new(Float64Array::from(vec![0.235250, 0.264750, 0.5])),
            ),
            ("n", Arc::new(Int64Array::from(vec![3966, 3966, 3966]))),
        ],
    );
    let pipeline = dir.path().join("pipeline");
    std::fs::create_dir_all(pipeline.join("published")).unwrap();
    std::fs::write(pipeline.join("published/001_final_report.toml"), register).unwrap();
    let register = Register::load(&pipeline).unwrap();
    (dir, register)
}

#[test]
fn except_leaves_the_named_rows_out_of_a_range() {
    let (dir, register) = selector_fixture(SELECTORS);
    let report = check(&dir.path().join("run"), &register).unwrap();
    // Binley's 56% would make the range 30–56; left out, it is the other lots' 30–46.
    let others = figure(&report, "rp.others");
    assert_eq!(others.status, Status::Match, "{:?}", others.detail);
    assert_eq!(others.reproduced.as_deref(), Some("30–46"));
    assert_eq!(
        figure(&report, "rp.all").reproduced.as_deref(),
        Some("30–56")
    );
    // Two lots left out: only Glascote's 24% remains (not Binley's 20% nor Camp Hill's 40%).
    let hth = figure(&report, "hth.others");
    assert_eq!(hth.status, Status::Match, "{:?}", hth.detail);
    assert_eq!(hth.raw.as_deref(), Some(&[0.24, 0.24][..]));
    // A list in `rows` selects any of its values.
    assert_eq!(figure(&report, "rp.two").status, Status::Match);
    assert_eq!(
        figure(&report, "rp.two").reproduced.as_deref(),
        Some("30–46")
    );

    // A misspelt lot would leave nothing out: the figure is missing, not a silent match.
    let misspelt = figure(&report, "rp.misspelt");
    assert_eq!(misspelt.status, Status::Missing);
    let detail = misspelt.detail.as_deref().unwrap();
    assert!(
        detail.contains("in `except`: no selected row has `lot_name` = `Binley & Willenhall`")
            && detail.contains("except lot_name = Binley & Willenhall"),
        "{detail}"
    );
    let misspelt = figure(&report, "rp.misspelt.list");
    assert_eq!(misspelt.status, Status::Missing);
    assert!(
        misspelt
            .detail
            .as_deref()
            .unwrap()
            .contains("no selected row has `lot_name` = `Glasscote`"),
        "{:?}",
        misspelt.detail
    );
}

#[test]
fn sum_adds_up_the_selected_rows() {
    let (dir, register) = selector_fixture(SELECTORS);
    let report = check(&dir.path().join("run"), &register).unwrap();
    // 23.5% + 26.5% = 50%, as printed; each alone rounds to 24 and 26.
    let sites = figure(&report, "two.sites");
    assert_eq!(sites.status, Status::Match, "{:?}", sites.detail);
    assert_eq!(sites.reproduced.as_deref(), Some("50"));
    assert_eq!(sites.raw.as_deref(), Some(&[0.5][..]));
    assert_eq!(figure(&report, "two.sites.count").status, Status::Match);
    // Every row but Shard End's: 0.264750 + 0.5 = 0.76475 → 76.
    let rest = figure(&report, "all.but.one");
    assert_eq!(rest.status, Status::Match, "{:?}", rest.detail);
    assert_eq!(rest.reproduced.as_deref(), Some("76"));

    // Summed shares of different bases are no share: every summed row's N is compared.
    let (dir, register) = selector_fixture(SELECTORS);
    write_table(
        &dir.path().join("run"),
        "participants_by_lot",
        vec![
            ("category", text(&["Shard End", "Washwood Heath"])),
            ("participants", Arc::new(Int64Array::from(vec![933, 1050]))),
            (
                "pct",
                Arc::new(Float64Array::from(vec![0.235250, 0.264750])),
            ),
            ("n", Arc::new(Int64Array::from(vec![3966, 3970]))),
        ],
    );
    let report = check(&dir.path().join("run"), &register).unwrap();
    let sites = figure(&report, "two.sites");
    assert_eq!(sites.status, Status::Mismatch);
    assert!(
        sites
            .detail
            .as_deref()
            .unwrap()
            .contains("stated N 3966 but column `n` of the summed rows holds 3966, 3970"),
        "{:?}",
        sites.detail
    );
}

#[test]
fn an_invalid_selector_is_a_register_error_naming_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let published = dir.path().join("published");
    std::fs::create_dir_all(&published).unwrap();
    let write = |unit: &str, value: &str, reproduce: &str| {
        std::fs::write(
            published.join("001_x.toml"),
            format!(
                "[document]\nid = \"x\"\nfile = \"x.txt\"\ntitle = \"X\"\n[[figure]]\nid = \"a.others\"\nwhere = \"w\"\nmeasures = \"m\"\nsource = \"mi\"\nunit = \"{unit}\"\nvalue = {value}\nreproduce = {{ table = \"t\", {reproduce}, column = \"pct\" }}\n"
            ),
        )
        .unwrap();
        Register::load(dir.path()).unwrap_err().to_string()
    };
    let range = |reproduce: &str| write("percent_range", "[1, 2]", reproduce);
    let cases = [
        (
            range(r#"rows = { category = "RP" }, except = {}"#),
            "`except` is empty",
        ),
        (
            write(
                "percent",
                "1",
                r#"row = { category = "RP" }, except = { lot = "B" }"#,
            ),
            "`except` leaves rows out of `rows`",
        ),
        (
            range(r#"rows = { category = "RP" }, except = { category = ["RP", "HTH"] }"#),
            "`except` leaves out every row `rows` selects",
        ),
        (
            range(r#"rows = { category = "RP" }, except = { lot = [] }"#),
            "`except.lot` is an empty list",
        ),
        (
            range(r#"rows = { category = "RP" }, except = { lot = [["B"]] }"#),
            "`except.lot` lists `[\"B\"]`",
        ),
        (
            range(r#"rows = { category = { code = "RP" } }"#),
            "`rows.category` is `{ code = \"RP\" }`",
        ),
        (
            write("percent", "1", r#"row = { category = ["RP", "HTH"] }"#),
            "`row.category` is a list, but `row` picks one row",
        ),
        (
            range(r#"rows = { category = "RP" }, sum = true"#),
            "`sum` gives one number, a `percent_range` needs two",
        ),
        (
            write("percent", "1", r#"row = { category = "RP" }, sum = true"#),
            "`sum` adds up `rows`",
        ),
        (
            write("percent", "1", r#"rows = { category = "RP" }"#),
            "or `sum = true` to add them up",
        ),
    ];
    for (err, wanted) in cases {
        assert!(
            err.contains("001_x.toml") && err.contains("figure `a.others`") && err.contains(wanted),
            "wanted {wanted:?} in: {err}"
        );
    }
}

const EXTRACTS: &str = r#"
[[extract]]
id = "final"
mi_to = "2022-01"
default = true
description = "MI to January 2022"

[[extract]]
id = "interim"
mi_to = "2021-06"
description = "MI to June 2021"
"#;

/// Figures of both extracts over the `characteristics_sex` table of [`fixture`].
const BY_EXTRACT: &str = r#"
[document]
id = "final_report"
file = "001.txt"
title = "Final report"

[[figure]]
id = "female.final"
where = "2.2"
measures = "share female"
value = 53
unit = "percent"
source = "mi"
reproduce = { table = "characteristics_sex", row = { category = "Female" }, column = "pct" }

[[figure]]
id = "male.interim"
where = "Figure 4-2"
measures = "share male, interim extract"
value = 48
unit = "percent"
source = "mi"
reproduce = { table = "characteristics_sex", row = { category = "Male" }, column = "pct" }
extract = "interim"

[[figure]]
id = "other.interim"
where = "Figure 4-2"
measures = "a category only the interim run has"
value = 1
unit = "percent"
source = "mi"
reproduce = { table = "characteristics_sex", row = { category = "Other" }, column = "pct" }
extract = "interim"
"#;

/// The run of [`fixture`] with `inputs` as its manifest's input files (no manifest for
/// `None`), checked against [`BY_EXTRACT`] (plus `more`) and [`EXTRACTS`].
fn extract_fixture(inputs: Option<&[&str]>, more: &str) -> (tempfile::TempDir, Register) {
    let (dir, _) = fixture();
    let published = dir.path().join("pipeline/published");
    std::fs::write(
        published.join("001_final_report.toml"),
        format!("{BY_EXTRACT}{more}"),
    )
    .unwrap();
    std::fs::write(published.join("extracts.toml"), EXTRACTS).unwrap();
    if let Some(inputs) = inputs {
        let inputs = inputs
            .iter()
            .map(|p| evalpipe_study::Entry {
                path: p.to_string(),
                sha256: "00".into(),
                bytes: 1,
            })
            .collect();
        evalpipe_study::Manifest {
            evalpipe_version: "0.1.0".into(),
            synthetic: true,
            inputs,
            ..Default::default()
        }
        .write(&dir.path().join("run/manifest.json"))
        .unwrap();
    }
    let register = Register::load(&dir.path().join("pipeline")).unwrap();
    (dir, register)
}

const FINAL_INPUTS: &[&str] = &[
    "SYNTHETIC.toml",
    "claims_20220131.csv",
    "mi_L1_20220131.csv",
    "mi_L3_20220131.xlsx",
];

fn figure<'a>(report: &'a evalpipe_review::CheckReport, id: &str) -> &'a FigureCheck {
    report
        .figures
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no figure {id}"))
}

#[test]
fn a_figure_of_another_extract_is_reported_not_judged() {
    let (dir, register) = extract_fixture(Some(FINAL_INPUTS), "");
    let report = check(&dir.path().join("run"), &register).unwrap();
    let x = report.extract.as_ref().unwrap();
    assert_eq!(
        (x.id.as_str(), x.chosen_by),
        ("final", ExtractChoice::Manifest)
    );

    assert_eq!(figure(&report, "female.final").status, Status::Match);
    // 47% in the run, 48 published: a mismatch were it of this extract.
    let male = figure(&report, "male.interim");
    assert_eq!(male.status, Status::OtherExtract);
    assert_eq!(male.published, "48");
    assert_eq!(male.reproduced.as_deref(), Some("47"));
    assert_eq!(male.extract.as_deref(), Some("interim"));
    assert_eq!(
        male.detail.as_deref(),
        Some(
            "published from the interim extract (MI to 2021-06); this run is the final extract (MI to 2022-01)"
        )
    );
    // A row only the other extract's run has is not missing here.
    let other = figure(&report, "other.interim");
    assert_eq!(other.status, Status::OtherExtract, "{:?}", other.detail);
    assert!(
        other
            .detail
            .as_deref()
            .unwrap()
            .contains("not in this run (no row matches)")
    );
    assert!(!report.failed());
    let total = &report.summary["total"];
    assert_eq!(
        (
            total.figures,
            total.matched,
            total.mismatched,
            total.other_extract
        ),
        (3, 1, 0, 2)
    );

    let md = to_markdown(&report);
    assert!(
        md.contains(
            "Extract: **final** (MI to 2022-01), from its MI files (latest `mi_L3_20220131.xlsx`)."
        ),
        "{md}"
    );
    assert!(
        md.contains("| other extract |") && md.contains("| total | 3 | 1 | 0 | 0 | 0 | 0 | 2 |"),
        "{md}"
    );
    assert!(
        md.contains("| 48 | 47 | other extract: published from the interim extract"),
        "{md}"
    );
    let json: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
    assert_eq!(json["figures"][1]["status"], "other_extract");
    assert_eq!(json["summary"]["total"]["other_extract"], 2);
    assert_eq!(json["extract"]["id"], "final");
    assert_eq!(json["extract"]["chosen_by"], "manifest");
    assert_eq!(json["extract"]["run_mi_to"], "2022-01");

    // A table or column the run lacks is the register's fault whatever the extract.
    let (dir, register) = extract_fixture(
        Some(FINAL_INPUTS),
        r#"
[[figure]]
id = "gone.interim"
where = "Figure 4-2"
measures = "a column no run has"
value = 3507
unit = "count"
source = "mi"
reproduce = { table = "characteristics_sex", row = { category = "Male" }, column = "total_n" }
extract = "interim"

[[erratum]]
id = "other.twice"
kind = "inconsistent"
figures = ["other.interim"]
where = "Figure 4-2"
description = "d"
arithmetic = "a"
"#,
    );
    let report = check(&dir.path().join("run"), &register).unwrap();
    assert_eq!(figure(&report, "gone.interim").status, Status::Missing);
    assert!(report.failed());
    // An erratum stays an erratum, whichever extract the run is.
    let other = figure(&report, "other.interim");
    assert_eq!(other.status, Status::Erratum);
    assert_eq!(
        other.detail.as_deref(),
        Some("erratum other.twice (of another extract; not in this run: no row matches)")
    );
}

#[test]
fn the_runs_extract_is_read_from_its_manifest() {
    // The latest date in the MI file names decides; claims and other files do not count.
    let (dir, register) = extract_fixture(
        Some(&[
            "SYNTHETIC.toml",
            "claims_20220131.csv",
            "mi_L1_20210630.csv",
            "old/mi_L2_20201231.csv",
            "mi_L3_20210630.XLSX",
            "mi_notes_2022.csv",
            "mi_L4_2022013.csv",
        ]),
        "",
    );
    let report = check(&dir.path().join("run"), &register).unwrap();
    let x = report.extract.as_ref().unwrap();
    assert_eq!(
        (
            x.id.as_str(),
            x.chosen_by,
            x.run_mi_to.as_deref(),
            x.run_mi_file.as_deref()
        ),
        (
            "interim",
            ExtractChoice::Manifest,
            Some("2021-06"),
            Some("mi_L3_20210630.XLSX")
        )
    );
    assert!(x.note.is_none());
    // Now the interim figures are judged and the final one is not.
    assert_eq!(figure(&report, "male.interim").status, Status::Mismatch);
    assert_eq!(figure(&report, "other.interim").status, Status::Missing);
    let female = figure(&report, "female.final");
    assert_eq!(female.status, Status::OtherExtract);
    assert!(female.detail.as_deref().unwrap().starts_with(
        "published from the final extract (MI to 2022-01); this run is the interim extract"
    ));
    assert!(report.failed());

    // A refresh beside an older one: the newest file of the folder decides.
    let (dir, register) = extract_fixture(Some(&["mi_L1_20210630.csv", "mi_L1_20220131.csv"]), "");
    let report = check(&dir.path().join("run"), &register).unwrap();
    assert_eq!(report.extract.as_ref().unwrap().id, "final");
}

#[test]
fn the_extract_option_switches_which_figures_are_checked() {
    let (dir, register) = extract_fixture(Some(FINAL_INPUTS), "");
    let run = dir.path().join("run");
    let options = CheckOptions {
        extract: Some("interim".into()),
    };
    let report = check_with(&run, &register, &options).unwrap();
    let x = report.extract.as_ref().unwrap();
    assert_eq!(
        (x.id.as_str(), x.chosen_by),
        ("interim", ExtractChoice::Option)
    );
    let note = x.note.as_deref().unwrap();
    assert!(
        note.contains("as asked") && note.contains("dated 2022-01, the `final` extract"),
        "{note}"
    );
    assert_eq!(figure(&report, "male.interim").status, Status::Mismatch);
    assert_eq!(figure(&report, "female.final").status, Status::OtherExtract);
    assert!(
        to_markdown(&report)
            .contains("> **Extract chosen by hand.** Checked as extract `interim` as asked")
    );

    // Asking for the extract the files say changes nothing and needs no note.
    let options = CheckOptions {
        extract: Some("final".into()),
    };
    let report = check_with(&run, &register, &options).unwrap();
    assert!(report.extract.as_ref().unwrap().note.is_none());
    assert_eq!(figure(&report, "male.interim").status, Status::OtherExtract);

    let options = CheckOptions {
        extract: Some("draft".into()),
    };
    let err = check_with(&run, &register, &options)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "no extract `draft` in the register (declared: final, interim)"
    );
}

#[test]
fn a_run_of_an_undeclared_month_is_checked_as_the_default_and_says_so() {
    let (dir, register) = extract_fixture(Some(&["mi_L1_20210930.csv", "claims_20210930.csv"]), "");
    let report = check(&dir.path().join("run"), &register).unwrap();
    let x = report.extract.as_ref().unwrap();
    assert_eq!(
        (x.id.as_str(), x.chosen_by, x.run_mi_to.as_deref()),
        ("final", ExtractChoice::Default, Some("2021-09"))
    );
    let note = x.note.as_deref().unwrap();
    assert!(
        note.contains("dated 2021-09 (latest `mi_L1_20210930.csv`), which matches no extract")
            && note.contains("final to 2022-01, interim to 2021-06")
            && note.contains("checked as the default extract `final`")
            && note.contains("--extract"),
        "{note}"
    );
    assert_eq!(figure(&report, "female.final").status, Status::Match);
    assert_eq!(figure(&report, "male.interim").status, Status::OtherExtract);
    let md = to_markdown(&report);
    assert!(
        md.contains("Extract: **final** (MI to 2022-01), the default."),
        "{md}"
    );
    assert!(
        md.contains("> **Extract not recognised.** The run's MI files are dated 2021-09"),
        "{md}"
    );
    let json: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
    assert_eq!(json["extract"]["chosen_by"], "default");
    assert_eq!(json["extract"]["note"], note);

    // No manifest at all: the same fallback, saying why.
    let (dir, register) = extract_fixture(None, "");
    let report = check(&dir.path().join("run"), &register).unwrap();
    let x = report.extract.as_ref().unwrap();
    assert_eq!(
        (x.id.as_str(), x.chosen_by),
        ("final", ExtractChoice::Default)
    );
    assert!(
        x.note
            .as_deref()
            .unwrap()
            .starts_with("the run has no manifest.json, so its extract is unknown"),
        "{:?}",
        x.note
    );
}

#[test]
fn extract_errors_in_the_register_name_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let published = dir.path().join("published");
    std::fs::create_dir_all(&published).unwrap();
    let figure = "[document]\nid = \"x\"\nfile = \"x.txt\"\ntitle = \"X\"\n[[figure]]\nid = \"a\"\nwhere = \"w\"\nmeasures = \"m\"\nsource = \"mi\"\nvalue = 1\nunit = \"count\"\nnot_reproducible = \"x\"\n";
    std::fs::write(
        published.join("001_x.toml"),
        format!("{figure}extract = \"zz\"\n"),
    )
    .unwrap();
    let load = || Register::load(dir.path()).unwrap_err().to_string();
    // Without extracts.toml, a figure can name no extract.
    let err = load();
    assert!(
        err.contains("001_x.toml")
            && err.contains(
                "figure `a` names unknown extract `zz` (published/extracts.toml declares none)"
            ),
        "{err}"
    );
    let extracts = |body: &str| {
        std::fs::write(published.join("extracts.toml"), body).unwrap();
        load()
    };
    let err = extracts(EXTRACTS);
    assert!(err.contains("001_x.toml") && err.contains("figure `a` names unknown extract `zz` (published/extracts.toml declares final, interim)"), "{err}");

    std::fs::write(published.join("001_x.toml"), figure).unwrap();
    let err = extracts(&EXTRACTS.replace(
        "description = \"MI to June 2021\"",
        "description = \"d\"\ndefault = true",
    ));
    assert!(
        err.contains("extracts.toml")
            && err.contains("extracts `final` and `interim` are each marked default"),
        "{err}"
    );
    let err = extracts(&EXTRACTS.replace("default = true\n", ""));
    assert!(
        err.contains("extracts.toml") && err.contains("no extract is the default"),
        "{err}"
    );
    let err = extracts(&EXTRACTS.replace("id = \"interim\"", "id = \"final\""));
    assert!(err.contains("extract id `final` is used twice"), "{err}");
    let err = extracts(&EXTRACTS.replace("mi_to = \"2021-06\"", "mi_to = \"2022-01\""));
    assert!(
        err.contains("extracts `final` and `interim` both run to 2022-01"),
        "{err}"
    );
    let err = extracts(&EXTRACTS.replace("mi_to = \"2021-06\"", "mi_to = \"June 2021\""));
    assert!(
        err.contains("extract `interim`: mi_to `June 2021` is not a year and month (YYYY-MM)"),
        "{err}"
    );
    let err = extracts(&EXTRACTS.replace(
        "description = \"MI to June 2021\"",
        "description = \"d\"\nmonth = 6",
    ));
    assert!(
        err.contains("extracts.toml") && err.contains("month"),
        "{err}"
    );

    // A valid extracts.toml is not read as a document.
    std::fs::write(published.join("extracts.toml"), EXTRACTS).unwrap();
    let register = Register::load(dir.path()).unwrap();
    assert_eq!(register.documents.len(), 1);
    assert_eq!(register.default_extract().unwrap().id, "final");
}

#[test]
fn the_committed_register_declares_figure_4_2_interim_and_figure_4_3_an_erratum() {
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline");
    let register = Register::load(&pipeline).unwrap();
    assert_eq!(register.default_extract().unwrap().id, "final");
    let interim: Vec<&str> = register
        .figures
        .iter()
        .filter(|f| register.extract_of(f).unwrap().id == "interim")
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(
        interim,
        [
            "f4-2.hth.2020-03",
            "f4-2.hth.2020-05",
            "f4-2.rp.2020-03",
            "f4-2.rp.2020-06",
            "f4-2.n"
        ]
    );
    let erratum = register
        .errata
        .iter()
        .find(|e| e.id == "f4-3.pct-vs-t4-1")
        .unwrap();
    let mut percentages: Vec<&str> = register
        .figures
        .iter()
        .filter(|f| f.id.starts_with("f4-3.") && f.unit == evalpipe_review::Unit::Percent)
        .map(|f| f.id.as_str())
        .collect();
    percentages.sort();
    let mut named: Vec<&str> = erratum.figures.iter().map(String::as_str).collect();
    named.sort();
    assert_eq!(named, percentages);
    assert_eq!(named.len(), 10);
}
