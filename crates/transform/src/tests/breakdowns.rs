//! The breakdown tables (report 2.2, 2.3 and 4, Annex Tables) on the profiles
//! fixture, every expected value worked out by hand from the table in
//! [`crate::fixture::write_profiles`].

use super::{Run, run_profiles, run_profiles_edited, study, table_csv};

/// One row, found by its key cells, against hand-computed cells.
fn expect(run: &Run, table: &str, key: &[(&str, &str)], expected: &[(&str, &str)]) {
    let row = run.row_where(table, key);
    for (column, value) in expected {
        assert_eq!(
            row.get(*column).map(String::as_str),
            Some(*value),
            "{table} {key:?}.{column}"
        );
    }
}

/// A column of a table, top to bottom.
fn column(run: &Run, table: &str, name: &str) -> Vec<String> {
    run.rows(table).iter().map(|r| r[name].clone()).collect()
}

#[test]
fn characteristics_count_only_participants_with_data() {
    let run = run_profiles();
    // Sex: q06 said "prefer not to say", outside the `sex` grouping → N = 15 of 16.
    let t = "characteristics_sex";
    expect(
        &run,
        t,
        &[("category", "Female")],
        &[("participants", "9"), ("pct", "0.600000"), ("n", "15")],
    );
    expect(
        &run,
        t,
        &[("category", "Male")],
        &[("participants", "6"), ("n", "15")],
    );
    assert_eq!(column(&run, t, "category"), ["Female", "Male"]);

    // Ages sit on band edges: 24|25, 34|35, 44|45, 54|55 and 49|50; q12 has none.
    let t = "characteristics_age";
    for (band, count) in [
        ("16–24", "3"),
        ("25–34", "3"),
        ("35–44", "3"),
        ("45–54", "4"),
        ("55 or over", "2"),
    ] {
        expect(
            &run,
            t,
            &[("characteristic", "age_band"), ("category", band)],
            &[("participants", count), ("n", "15")],
        );
    }
    expect(
        &run,
        t,
        &[("category", "Under 50")],
        &[("participants", "11")],
    );
    expect(
        &run,
        t,
        &[("category", "50 or over")],
        &[("participants", "4"), ("pct", "0.266667")],
    );
    // The range of the same 15 (not q12): q01 is 16, on the lowest band's edge; the oldest is
    // q15 (60), of the employed cohort, not q11 (55); the median is the 8th of 15, q14's 40.
    let t = "characteristics_age_summary";
    assert_eq!(
        column(&run, t, "statistic"),
        ["Youngest", "Median", "Oldest"]
    );
    expect(
        &run,
        t,
        &[("statistic", "Youngest")],
        &[("age", "16.000000"), ("n", "15")],
    );
    expect(&run, t, &[("statistic", "Median")], &[("age", "40.000000")]);
    expect(
        &run,
        t,
        &[("statistic", "Oldest")],
        &[("age", "60.000000"), ("n", "15")],
    );

    // Ethnicity: q05's "prefer not to say" is no data; White counts W1 and W2.
    let t = "characteristics_ethnicity";
    expect(
        &run,
        t,
        &[("characteristic", "ethnicity"), ("category", "White")],
        &[("participants", "7"), ("n", "15")],
    );
    expect(
        &run,
        t,
        &[("category", "Minority ethnic")],
        &[("participants", "8")],
    );
    expect(&run, t, &[("category", "Asian")], &[("participants", "4")]);
    expect(&run, t, &[("category", "Mixed")], &[("participants", "1")]);

    // Qualification: "other, level unknown" (q07) has no report band → N = 12.
    let t = "characteristics_qualification";
    expect(
        &run,
        t,
        &[("category", "No qualification")],
        &[("participants", "2"), ("n", "12")],
    );
    expect(
        &run,
        t,
        &[("category", "Entry level or level 1")],
        &[("participants", "2")],
    );
    expect(
        &run,
        t,
        &[("category", "Level 2")],
        &[("participants", "3")],
    );
    expect(
        &run,
        t,
        &[("category", "Level 4 or higher")],
        &[("participants", "2"), ("pct", "0.166667")],
    );

    expect(
        &run,
        "characteristics_caring_child",
        &[("category", "Yes")],
        &[("participants", "6"), ("n", "12")],
    );
    // Sole carers: asked of carers of a child only; q06 cares but did not answer → N = 5.
    expect(
        &run,
        "characteristics_sole_carer",
        &[("category", "Yes")],
        &[("participants", "3"), ("pct", "0.600000"), ("n", "5")],
    );
    expect(
        &run,
        "characteristics_caring_adult",
        &[("category", "Yes")],
        &[("participants", "2"), ("n", "13")],
    );

    // A-11 keeps "prefer not to say" (q04) in its N; the outcome tables' `health` does not.
    let t = "characteristics_health";
    expect(
        &run,
        t,
        &[("category", "Has a health condition or disability")],
        &[("participants", "4"), ("n", "14")],
    );
    expect(
        &run,
        t,
        &[("category", "Prefer not to say")],
        &[("participants", "1")],
    );
}

#[test]
fn employed_work_is_banded_at_the_edges() {
    let run = run_profiles();
    // 15.5 hours is under 16, 16 is the next band, 35 is full time.
    let t = "employed_hours";
    expect(
        &run,
        t,
        &[("category", "Less than 16 hours")],
        &[("participants", "1"), ("n", "3")],
    );
    expect(
        &run,
        t,
        &[("category", "16 to 29 hours")],
        &[("participants", "1")],
    );
    expect(
        &run,
        t,
        &[("category", "30 to 34 hours")],
        &[("participants", "0"), ("pct", "0.000000")],
    );
    expect(
        &run,
        t,
        &[("category", "35 hours or more")],
        &[("participants", "1")],
    );
    // £99.99 is under £100; £100.00 is not.
    let t = "employed_earnings";
    expect(
        &run,
        t,
        &[("category", "Less than £100")],
        &[("participants", "1"), ("n", "3")],
    );
    expect(
        &run,
        t,
        &[("category", "£100 to £199")],
        &[("participants", "1")],
    );
    expect(
        &run,
        t,
        &[("category", "£300 or more")],
        &[("participants", "1")],
    );
    // Every contract type is listed, chosen or not; q16 has a contract but no hours or pay.
    let t = "employed_contract";
    assert_eq!(
        column(&run, t, "category"),
        [
            "Permanent",
            "Zero hours",
            "Fixed term",
            "Seasonal or other variable work",
            "Agency"
        ]
    );
    expect(
        &run,
        t,
        &[("category", "Permanent")],
        &[("participants", "2"), ("pct", "0.500000"), ("n", "4")],
    );
    expect(
        &run,
        t,
        &[("category", "Fixed term")],
        &[("participants", "0")],
    );
}

#[test]
fn every_configured_characteristic_finds_participants() {
    // A `[[characteristic]]` whose column the staging query does not read would count nobody;
    // the fixture has someone with data for each.
    let run = run_profiles();
    for c in &study().characteristics {
        let rows = run.rows("characteristic_counts");
        let n = rows
            .iter()
            .find(|r| r["characteristic"] == c.name)
            .map(|r| r["n"].clone());
        assert!(
            n.as_deref().is_some_and(|n| n != "0"),
            "characteristic `{}` has no participants (n = {n:?})",
            c.name
        );
    }
}

#[test]
fn engagement_by_lot_and_lockdown() {
    let run = run_profiles();
    let t = "participants_by_lot";
    expect(
        &run,
        t,
        &[("category", "Birchills Leamore")],
        &[("participants", "6"), ("pct", "0.375000"), ("n", "16")],
    );
    expect(
        &run,
        t,
        &[("category", "Washwood Heath")],
        &[("participants", "0")],
    );
    assert_eq!(run.rows(t).len(), 9, "every lot is listed");
    // q04 registered the day before the lockdown (23/03/2020), q05 on the day: both "before",
    // as the report counts March 2020 (`after_lockdown_from` = 01/04/2020, q06's day).
    let t = "enrolment_before_after_lockdown";
    expect(
        &run,
        t,
        &[("category", "Before the first lockdown")],
        &[("participants", "7"), ("n", "16")],
    );
    expect(
        &run,
        t,
        &[("category", "From the first lockdown")],
        &[("participants", "9"), ("pct", "0.562500")],
    );

    let t = "cohort_by_lot";
    expect(
        &run,
        t,
        &[("lot_code", "L1"), ("category", "Hardest to Help")],
        &[("participants", "3"), ("pct", "0.500000"), ("n", "6")],
    );
    expect(
        &run,
        t,
        &[("lot_code", "L1"), ("category", "Rapid Progression")],
        &[("participants", "0")],
    );
    expect(
        &run,
        t,
        &[("lot_code", "L3"), ("category", "Employed progression")],
        &[("participants", "2"), ("n", "5")],
    );
    expect(
        &run,
        t,
        &[("lot_code", "L4"), ("category", "Hardest to Help")],
        &[("participants", "0"), ("pct", ""), ("n", "0")],
    );

    // q05 (L1) has no ethnicity; q12 (L3) counts as minority ethnic.
    let t = "ethnicity_by_lot";
    expect(
        &run,
        t,
        &[
            ("lot_code", "L1"),
            ("characteristic", "ethnicity"),
            ("category", "White"),
        ],
        &[("participants", "2"), ("pct", "0.400000"), ("n", "5")],
    );
    expect(
        &run,
        t,
        &[("lot_code", "L3"), ("category", "Minority ethnic")],
        &[("participants", "2"), ("n", "5")],
    );
    expect(
        &run,
        t,
        &[("lot_code", "L2"), ("category", "Asian")],
        &[("participants", "1")],
    );
}

#[test]
fn enrolment_by_month_lists_every_month_of_the_figure() {
    let run = run_profiles();
    let t = "enrolment_by_month";
    // January 2019 (`monthly_from`) to June 2021, the last month anyone registered in (q16).
    assert_eq!(run.rows(t).len(), 30);
    expect(
        &run,
        t,
        &[("month", "2019-01-01")],
        &[("participants", "1"), ("cumulative", "1"), ("n", "16")],
    );
    expect(
        &run,
        t,
        &[("month", "2019-02-01")],
        &[("participants", "2"), ("cumulative", "3")],
    );
    expect(
        &run,
        t,
        &[("month", "2019-12-01")],
        &[
            ("year", "2019"),
            ("quarter", "4"),
            ("participants", "0"),
            ("cumulative", "5"),
        ],
    );
    // A year's months: 2019's twelve, q01–q03, q13 and q14 in January to April and none after,
    // so the range of its months is 0 to 2 (February: q02, q03).
    let year_2019: Vec<u32> = run
        .rows(t)
        .iter()
        .filter(|r| r["year"] == "2019")
        .map(|r| r["participants"].parse().unwrap())
        .collect();
    assert_eq!(year_2019, [1, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    // Q1 2020 is January to March: q04 and q05 registered in March, the lockdown's month.
    let q1_2020: Vec<(String, String)> = run
        .rows(t)
        .iter()
        .filter(|r| r["year"] == "2020" && r["quarter"] == "1")
        .map(|r| (r["month"].clone(), r["participants"].clone()))
        .collect();
    assert_eq!(
        q1_2020,
        [
            ("2020-01-01".to_string(), "0".to_string()),
            ("2020-02-01".to_string(), "0".to_string()),
            ("2020-03-01".to_string(), "2".to_string()),
        ]
    );
    expect(
        &run,
        t,
        &[("month", "2020-04-01")],
        &[("year", "2020"), ("quarter", "2")],
    );
    expect(
        &run,
        t,
        &[("month", "2020-02-01")],
        &[("lockdown_month", "false"), ("after_lockdown", "false")],
    );
    expect(
        &run,
        t,
        &[("month", "2020-03-01")],
        &[
            ("participants", "2"),
            ("lockdown_month", "true"),
            ("after_lockdown", "false"),
        ],
    );
    expect(
        &run,
        t,
        &[("month", "2020-04-01")],
        &[
            ("participants", "1"),
            ("lockdown_month", "false"),
            ("after_lockdown", "true"),
        ],
    );
    expect(
        &run,
        t,
        &[("month", "2021-06-01")],
        &[("cumulative", "16"), ("after_lockdown", "true")],
    );

    let t = "cohort_share_by_month";
    assert_eq!(run.rows(t).len(), 30 * 4);
    expect(
        &run,
        t,
        &[("month", "2019-02-01"), ("cohort_code", "HTH")],
        &[
            ("participants", "2"),
            ("pct", "1.000000"),
            ("n", "2"),
            ("total_n", "16"),
        ],
    );
    expect(
        &run,
        t,
        &[("month", "2019-02-01"), ("cohort_code", "RP")],
        &[("participants", "0"), ("pct", "0.000000")],
    );
    expect(
        &run,
        t,
        &[("month", "2021-03-01"), ("cohort_code", "HTH")],
        &[("participants", "2")],
    );
    expect(
        &run,
        t,
        &[("month", "2019-12-01"), ("cohort_code", "HTH")],
        &[("participants", "0"), ("pct", ""), ("n", "0")],
    );
}

#[test]
fn the_monthly_figures_keep_to_their_window() {
    // A study whose monthly figures run from February 2019 to 10 March 2021: q01 (15/01/2019),
    // q11 (01/03/2021, inside) and q12 (15/03/2021), q16 (01/06/2021) bound the window.
    let mut study = crate::tests::study();
    study.periods.monthly_from = chrono::NaiveDate::from_ymd_opt(2019, 2, 1).unwrap();
    study.periods.monthly_to = chrono::NaiveDate::from_ymd_opt(2021, 3, 10).unwrap();
    let run = crate::tests::run_profiles_with(study);
    let t = "enrolment_by_month";
    // February 2019 to March 2021: q01 is before it, q12 after its last day though in its last
    // month, q16 after it: 16 − 3 = 13.
    assert_eq!(run.rows(t).len(), 26);
    expect(
        &run,
        t,
        &[("month", "2019-02-01")],
        &[("cumulative", "2"), ("n", "13")],
    );
    expect(
        &run,
        t,
        &[("month", "2021-03-01")],
        &[("participants", "1"), ("cumulative", "13")],
    );
    let t = "cohort_share_by_month";
    expect(
        &run,
        t,
        &[("month", "2021-03-01"), ("cohort_code", "HTH")],
        &[("participants", "1"), ("n", "1"), ("total_n", "13")],
    );
    // The before/after share is of the same participants: before = q02–q05, q13, q14 = 6.
    let t = "enrolment_before_after_lockdown";
    expect(
        &run,
        t,
        &[("category", "Before the first lockdown")],
        &[("participants", "6"), ("n", "13")],
    );
}

#[test]
fn job_outcomes_are_of_embedded_out_of_work_participants() {
    let run = run_profiles();
    // Embedded out-of-work: q01–q07, q09–q11 (q08, q12 never embedded) = 10; job starts: q01,
    // q03 (validated claim; q02's claim was rejected), q04, q06, q07, q09, q11 = 7.
    let t = "job_outcome_by_lot";
    expect(
        &run,
        t,
        &[("category", "All participants")],
        &[
            ("participants", "10"),
            ("achieved", "7"),
            ("rate", "0.700000"),
            ("n", "10"),
        ],
    );
    expect(
        &run,
        t,
        &[("category", "Birchills Leamore")],
        &[
            ("participants", "5"),
            ("achieved", "3"),
            ("rate", "0.600000"),
        ],
    );
    expect(
        &run,
        t,
        &[("category", "Binley and Willenhall")],
        &[
            ("participants", "3"),
            ("achieved", "3"),
            ("rate", "1.000000"),
        ],
    );
    expect(
        &run,
        t,
        &[("category", "Batchley and Brockhill")],
        &[("participants", "2"), ("achieved", "1")],
    );
    // A lot with nobody in the population has no rate, not a zero one.
    expect(
        &run,
        t,
        &[("category", "Washwood Heath")],
        &[("participants", "0"), ("achieved", "0"), ("rate", "")],
    );

    // q06 ("prefer not to say") drops out of the sex table's N.
    let t = "job_outcome_by_sex";
    expect(
        &run,
        t,
        &[("category", "Female")],
        &[
            ("participants", "4"),
            ("achieved", "2"),
            ("rate", "0.500000"),
            ("n", "9"),
        ],
    );
    expect(
        &run,
        t,
        &[("category", "Male")],
        &[
            ("participants", "5"),
            ("achieved", "4"),
            ("rate", "0.800000"),
        ],
    );

    let t = "job_outcome_by_age";
    for (band, participants, achieved) in [
        ("16–24", "2", "1"),
        ("25–34", "2", "2"),
        ("35–44", "2", "1"),
        ("45–54", "3", "2"),
        ("55 or over", "1", "1"),
    ] {
        expect(
            &run,
            t,
            &[("category", band)],
            &[
                ("participants", participants),
                ("achieved", achieved),
                ("n", "10"),
            ],
        );
    }
    // Health: q04 "prefer not to say" and q09 blank are out; Y = q01, q06, q10.
    let t = "job_outcome_by_health";
    expect(
        &run,
        t,
        &[("category", "Health condition")],
        &[("participants", "3"), ("achieved", "2"), ("n", "8")],
    );
    expect(
        &run,
        t,
        &[("category", "No health condition")],
        &[
            ("participants", "5"),
            ("achieved", "3"),
            ("rate", "0.600000"),
        ],
    );
    let t = "job_outcome_by_benefits";
    expect(
        &run,
        t,
        &[("category", "Yes")],
        &[("participants", "4"), ("achieved", "3"), ("n", "9")],
    );
    // Caring for a child: q01, q02, q06, q11 (q05, q10 have no answer).
    let t = "job_outcome_by_caring_child";
    expect(
        &run,
        t,
        &[("category", "Yes")],
        &[("participants", "4"), ("achieved", "3"), ("n", "8")],
    );
    let t = "job_outcome_by_ethnicity";
    expect(
        &run,
        t,
        &[("category", "White")],
        &[
            ("participants", "4"),
            ("achieved", "3"),
            ("rate", "0.750000"),
            ("n", "9"),
        ],
    );
}

#[test]
fn sustainment_is_of_job_starters_and_progression_of_the_embedded_employed() {
    let run = run_profiles();
    // Job starters (q03's from its claim): 7; sustained 13 weeks: q01, q04, q07, q11 — not q09,
    // whose claim came after Binley and Willenhall's cut-off.
    let claims = run.rows("validated_claims");
    assert_eq!(claims.len(), 1, "only q03's job start counts");
    assert_eq!(claims[0]["participant_id"], "q03");
    let t = "sustained_13_by_lot";
    expect(
        &run,
        t,
        &[("category", "All participants")],
        &[
            ("participants", "7"),
            ("achieved", "4"),
            ("rate", "0.571429"),
        ],
    );
    expect(
        &run,
        t,
        &[("category", "Birchills Leamore")],
        &[("participants", "3"), ("achieved", "2")],
    );
    let t = "sustained_13_by_sex";
    expect(
        &run,
        t,
        &[("category", "Male")],
        &[("participants", "4"), ("achieved", "3"), ("n", "6")],
    );
    let t = "sustained_13_by_age";
    expect(
        &run,
        t,
        &[("category", "25–34")],
        &[
            ("participants", "2"),
            ("achieved", "1"),
            ("rate", "0.500000"),
        ],
    );

    // Embedded employed: q13, q14, q15 (q16 progressed but never embedded); progressed q13, q14.
    let t = "progression_by_lot";
    expect(
        &run,
        t,
        &[("category", "All participants")],
        &[
            ("participants", "3"),
            ("achieved", "2"),
            ("rate", "0.666667"),
        ],
    );
    expect(
        &run,
        t,
        &[("category", "Batchley and Brockhill")],
        &[
            ("participants", "1"),
            ("achieved", "0"),
            ("rate", "0.000000"),
        ],
    );
    let t = "progression_by_benefits";
    expect(
        &run,
        t,
        &[("category", "Yes")],
        &[("participants", "1"), ("achieved", "1"), ("n", "2")],
    );
    let t = "progression_employer";
    expect(
        &run,
        t,
        &[("category", "Same employer")],
        &[("participants", "1"), ("pct", "0.500000"), ("n", "2")],
    );
    expect(
        &run,
        t,
        &[("category", "Different employer")],
        &[("participants", "1"), ("n", "2")],
    );
}

#[test]
fn progressions_by_employer_type_count_the_lots_recording_only_one() {
    use crate::fixture::Cell::{Date, Text};
    let run = run_profiles();
    let t = "progression_employer_by_lot";
    // Embedded employed who progressed with the employer recorded: q13 (L1, same) and q14 (L2,
    // different). q16 (L3, different) never embedded: not counted, so L3 records nothing.
    let all = |item| [("characteristic", "all"), ("item", item)];
    expect(
        &run,
        t,
        &all("Same employer"),
        &[
            ("category", "All participants"),
            ("participants", "1"),
            ("pct", "0.500000"),
            ("n", "2"),
            ("lots_only_item", "1"),
        ],
    );
    expect(
        &run,
        t,
        &all("Different employer"),
        &[("participants", "1"), ("lots_only_item", "1")],
    );
    let lot = |lot, item| [("category", lot), ("item", item)];
    expect(
        &run,
        t,
        &lot("Birchills Leamore", "Same employer"),
        &[
            ("participants", "1"),
            ("pct", "1.000000"),
            ("n", "1"),
            ("lots_only_item", "1"),
        ],
    );
    expect(
        &run,
        t,
        &lot("Birchills Leamore", "Different employer"),
        &[
            ("participants", "0"),
            ("pct", "0.000000"),
            ("lots_only_item", "0"),
        ],
    );
    expect(
        &run,
        t,
        &lot("Binley and Willenhall", "Different employer"),
        &[("participants", "1"), ("lots_only_item", "1")],
    );
    expect(
        &run,
        t,
        &lot("Batchley and Brockhill", "Different employer"),
        &[
            ("participants", "0"),
            ("pct", ""),
            ("n", "0"),
            ("lots_only_item", "0"),
        ],
    );
    // All participants, then the nine lots, each with both types.
    assert_eq!(run.rows(t).len(), 20);

    // q15 (L3, embedded) progresses at the same employer and q16 embeds: L3 now records both
    // types, so it counts for neither, and the programme still has one lot of each.
    let run = run_profiles_edited(|rows| {
        for row in rows.iter_mut() {
            match row[0].1 {
                Text("q15") => row.extend([
                    ("progression_date", Date("2021-01-04")),
                    ("progression_employer", Text("SAME")),
                ]),
                Text("q16") => row.push(("embedded_date", Date("2021-07-01"))),
                _ => {}
            }
        }
    });
    for item in ["Same employer", "Different employer"] {
        expect(
            &run,
            t,
            &lot("Batchley and Brockhill", item),
            &[
                ("participants", "1"),
                ("pct", "0.500000"),
                ("n", "2"),
                ("lots_only_item", "0"),
            ],
        );
        expect(
            &run,
            t,
            &all(item),
            &[("participants", "2"), ("n", "4"), ("lots_only_item", "1")],
        );
    }
}

#[test]
fn the_cohort_funnel_converts_step_by_step() {
    let run = run_profiles();
    let t = "job_outcomes_by_cohort";
    // Hardest to Help: q01, q02, q03, q11, q12; embedded all but q12; job starts q01, q03, q11;
    // sustained 13 weeks q01, q11.
    let key = |m| [("cohort_code", "HTH"), ("milestone_code", m)];
    expect(
        &run,
        t,
        &key("REG"),
        &[
            ("participants", "5"),
            ("pct_of_registered", "1.000000"),
            ("pct_of_previous", ""),
            ("n", "5"),
        ],
    );
    expect(
        &run,
        t,
        &key("EMB"),
        &[
            ("participants", "4"),
            ("pct_of_registered", "0.800000"),
            ("pct_of_previous", "0.800000"),
        ],
    );
    expect(
        &run,
        t,
        &key("JS"),
        &[
            ("participants", "3"),
            ("pct_of_registered", "0.600000"),
            ("pct_of_previous", "0.750000"),
        ],
    );
    expect(
        &run,
        t,
        &key("S13"),
        &[("participants", "2"), ("pct_of_previous", "0.666667")],
    );
    expect(
        &run,
        t,
        &key("S26"),
        &[("participants", "0"), ("pct_of_previous", "0.000000")],
    );
    expect(
        &run,
        t,
        &key("S52"),
        &[("participants", "0"), ("pct_of_previous", "")],
    );
    expect(
        &run,
        t,
        &[("cohort_code", "HTR"), ("milestone_code", "JS")],
        &[("participants", "2"), ("pct_of_registered", "0.666667")],
    );
    // Only the out-of-work cohorts, six milestones each.
    assert_eq!(run.rows(t).len(), 18);
}

#[test]
fn multi_select_breakdowns_count_participants_once_per_item() {
    let run = run_profiles();
    // Heard: q01, q02, q03, q05, q07, q09 (only a "no"), q13, q15 → N = 8.
    let t = "how_heard_by_cohort";
    let hth = |item| [("category", "Hardest to Help"), ("item", item)];
    expect(
        &run,
        t,
        &hth("Other"),
        &[("participants", "1"), ("pct", "0.333333"), ("n", "3")],
    );
    expect(&run, t, &hth("Leaflets/ Event"), &[("participants", "1")]);
    expect(
        &run,
        t,
        &hth("Friends/Family"),
        &[("participants", "0"), ("pct", "0.000000")],
    );
    expect(
        &run,
        t,
        &[
            ("category", "Rapid Progression"),
            ("item", "Jobcentre Plus"),
        ],
        &[("participants", "1"), ("pct", "0.500000"), ("n", "2")],
    );
    let t = "how_heard_by_lockdown";
    expect(
        &run,
        t,
        &[
            ("category", "Before the first lockdown"),
            ("item", "Leaflets/ Event"),
        ],
        &[("participants", "2"), ("pct", "0.400000"), ("n", "5")],
    );
    // q05 registered on the lockdown's day, in March: before.
    expect(
        &run,
        t,
        &[
            ("category", "From the first lockdown"),
            ("item", "Other Organisation"),
        ],
        &[("participants", "1"), ("n", "3")],
    );
    let t = "how_heard_by_lot";
    expect(
        &run,
        t,
        &[
            ("category", "Birchills Leamore"),
            ("item", "Leaflets/ Event"),
        ],
        &[("participants", "2"), ("pct", "0.400000"), ("n", "5")],
    );
    expect(
        &run,
        t,
        &[("category", "Glascote"), ("item", "Other")],
        &[("participants", "0"), ("pct", ""), ("n", "0")],
    );

    let t = "barriers_by_cohort";
    let items = run
        .rows(t)
        .iter()
        .filter(|r| r["category"] == "Hardest to Help")
        .count();
    assert_eq!(
        items,
        study().code_list("barrier").len(),
        "every barrier listed"
    );
    expect(
        &run,
        t,
        &[
            ("category", "Hardest to Help"),
            ("item", "Employability support"),
        ],
        &[("participants", "2"), ("pct", "0.500000"), ("n", "4")],
    );
    expect(
        &run,
        t,
        &[("category", "Employed progression"), ("item", "Debt")],
        &[("participants", "1"), ("n", "1")],
    );
    expect(
        &run,
        t,
        &[("category", "Harder to Reach"), ("item", "Debt")],
        &[("participants", "0"), ("pct", ""), ("n", "0")],
    );

    let t = "agreed_actions_by_cohort";
    expect(
        &run,
        t,
        &[("category", "Hardest to Help"), ("item", "Create a CV")],
        &[("participants", "2"), ("pct", "1.000000"), ("n", "2")],
    );
    expect(
        &run,
        t,
        &[("category", "Rapid Progression"), ("item", "Create a CV")],
        &[("participants", "0"), ("n", "1")],
    );

    let t = "health_types";
    expect(
        &run,
        t,
        &[("item", "Anxiety")],
        &[("participants", "1"), ("pct", "0.333333"), ("n", "3")],
    );
    expect(
        &run,
        t,
        &[("item", "Dyslexia or other learning difficulty")],
        &[("participants", "1")],
    );

    // Agreed: q01, q02, q07, q13 (N = 4); completed: q01, q02, q05, q07, q10 (N = 5).
    let t = "actions_completed_vs_agreed";
    // The change is of shares, each of its own base: 20% completed against 50% agreed is 60%
    // fewer, though the counts (1 against 2) would say 50%.
    expect(
        &run,
        t,
        &[("item", "Create a CV")],
        &[
            ("agreed", "2"),
            ("agreed_pct", "0.500000"),
            ("agreed_n", "4"),
            ("completed", "1"),
            ("completed_pct", "0.200000"),
            ("completed_n", "5"),
            ("relative_change", "-0.600000"),
        ],
    );
    // One agreed and one completed the interview (q07), yet a smaller share of the larger base.
    expect(
        &run,
        t,
        &[("item", "Attend a job interview/ practice interview skills")],
        &[
            ("agreed", "1"),
            ("completed", "1"),
            ("relative_change", "-0.200000"),
        ],
    );
    // Agreed by q01, completed by nobody: all fewer.
    expect(
        &run,
        t,
        &[("item", "Apply to a job")],
        &[("completed", "0"), ("relative_change", "-1.000000")],
    );
    expect(
        &run,
        t,
        &[("item", "Attend coaching session(s)")],
        &[
            ("agreed", "0"),
            ("completed", "0"),
            ("completed_pct", "0.000000"),
            ("relative_change", ""),
        ],
    );
    expect(
        &run,
        t,
        &[("item", "Identify possible jobs that match their skills")],
        &[
            ("agreed", "0"),
            ("completed", "1"),
            ("completed_pct", "0.200000"),
            // Agreed by nobody: no change relative to nothing.
            ("relative_change", ""),
        ],
    );
}

#[test]
fn how_heard_also_gives_the_published_base_of_mentions() {
    let run = run_profiles();
    // Participants with heard data: 8. Mentions (participants summed over the groups): leaflets
    // 2, Jobcentre Plus 2, friends/family 2, other organisation 1, other 2 = 9.
    let t = "how_heard";
    expect(
        &run,
        t,
        &[("group_label", "Leaflets/ Event")],
        &[
            ("participants", "2"),
            ("pct", "0.250000"),
            ("n", "8"),
            ("pct_of_mentions", "0.222222"),
            ("mentions", "9"),
        ],
    );
    expect(
        &run,
        t,
        &[("group_label", "Other Organisation")],
        &[("pct", "0.125000"), ("pct_of_mentions", "0.111111")],
    );
}

#[test]
fn completed_actions_are_one_list_per_participant_for_the_models() {
    let run = run_profiles();
    // In a table of their own: the breakdowns never scan them.
    assert!(
        !run.rows("participant_characteristics")
            .iter()
            .any(|r| r["characteristic"].starts_with("completed_action.")),
        "completed actions in participant_characteristics"
    );
    // The actions name a participant by their place in the extracts, as the models merge them
    // and as `participant_characteristics` does (which has no pseudonym): the place of the
    // participant's row in ingest's `participants`, whose cohort is in the characteristics.
    let participants = table_csv(&run.layout.dataset("participants"));
    let place = |id: &str| -> String {
        let mut reader = csv::Reader::from_reader(participants.as_bytes());
        let header = reader.headers().expect("a header").clone();
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        let row = reader
            .records()
            .map(|r| r.expect("a CSV record"))
            .find(|r| &r[at("participant_id")] == id)
            .expect("the participant in ingest's participants");
        let place = row[at("place")].to_string();
        let cohort = run.row_where(
            "participant_characteristics",
            &[("place", &place), ("characteristic", "cohort")],
        );
        assert_eq!(cohort["cohort_code"], row[at("payment_group")].to_string());
        place
    };
    // One row per participant with any completed action recorded: the actions ticked yes, in
    // the code list's order. The models read an action in the list as Yes and one outside it as
    // No.
    let t = "participant_actions";
    let completed = |id: &str| -> Option<String> {
        let place = place(id);
        let found: Vec<String> = run
            .rows(t)
            .iter()
            .filter(|r| r["place"] == place)
            .map(|r| r["completed"].clone())
            .collect();
        assert!(found.len() <= 1, "{id} has {} rows", found.len());
        found.into_iter().next()
    };
    assert_eq!(
        completed("q07").as_deref(),
        Some("[interview, match_skills]")
    );
    assert_eq!(completed("q01").as_deref(), Some("[cv]"));
    // q02 and q10 recorded only a "no": data for every action, all No.
    assert_eq!(completed("q02").as_deref(), Some("[]"));
    assert_eq!(completed("q10").as_deref(), Some("[]"));
    // q03 recorded no completed action: no data, no row.
    assert_eq!(completed("q03"), None);
    assert_eq!(run.rows(t).len(), 5);
    // No pseudonym and no file name: the place is the participant.
    let columns: Vec<String> = run.rows(t)[0].keys().cloned().collect();
    assert_eq!(columns, ["completed", "place"]);
}

#[test]
fn every_outcome_breakdown_filters_its_own_population_and_characteristic() {
    let run = run_profiles();
    // Job starters: q01 q03 q04 q06 q07 q09 q11; sustained: q01 q04 q07 q11.
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // (table, category, participants, achieved, n)
        ("sustained_13_by_health", "Health condition", "2", "1", "5"),
        (
            "sustained_13_by_health",
            "No health condition",
            "3",
            "2",
            "5",
        ),
        ("sustained_13_by_caring_child", "Yes", "3", "2", "7"),
        (
            "sustained_13_by_ethnicity",
            "Minority ethnic",
            "4",
            "2",
            "7",
        ),
        ("sustained_13_by_benefits", "Yes", "3", "1", "6"),
        ("sustained_13_by_benefits", "No", "3", "3", "6"),
        // Embedded employed: q13 (progressed), q14 (progressed), q15.
        ("progression_by_health", "Health condition", "1", "0", "3"),
        ("progression_by_caring_child", "No", "2", "1", "3"),
        ("progression_by_sex", "Female", "2", "1", "3"),
        ("progression_by_ethnicity", "White", "2", "1", "3"),
        ("progression_by_age", "55 or over", "1", "0", "3"),
        ("progression_by_age", "16–24", "0", "0", "3"),
    ];
    for (table, category, participants, achieved, n) in cases {
        expect(
            &run,
            table,
            &[("category", category)],
            &[
                ("participants", participants),
                ("achieved", achieved),
                ("n", n),
            ],
        );
    }
    expect(
        &run,
        "progression_by_age",
        &[("category", "16–24")],
        &[("rate", "")],
    );

    let t = "barriers_by_lot";
    expect(
        &run,
        t,
        &[
            ("category", "Birchills Leamore"),
            ("item", "Employability support"),
        ],
        &[("participants", "2"), ("pct", "0.666667"), ("n", "3")],
    );
    // q11 answered only "no": in the base, never counted.
    expect(
        &run,
        t,
        &[
            ("category", "Batchley and Brockhill"),
            ("item", "Confidence and motivation for work"),
        ],
        &[("participants", "0"), ("pct", "0.000000"), ("n", "1")],
    );
}
