//! The analytic decisions of `pipeline/decisions.toml`, each run both ways on the profiles
//! fixture with values worked out by hand from its rows.

use super::*;

/// The profiles fixture run under `study`, with q09's 13-week sustainment claimed for a
/// milestone of 20/10/2021 (before Binley and Willenhall's cut-off, 31/10/2021) but submitted
/// on 15/11/2021 (after it).
fn run_late_submission(study: Study) -> Run {
    run_written(study, |study, layout| {
        fixture::write_profiles_claims(
            study,
            layout,
            |_| {},
            vec![
                ("q03", "L1", "HTH", "JS", "2019-05-01", 88900, "VALIDATED"),
                ("q02", "L1", "HTH", "JS", "2019-05-01", 88900, "REJECTED"),
                ("q09", "L2", "RP", "S13", "2021-10-20", 30000, "VALIDATED"),
            ],
            &[("q09", "S13", "2021-11-15")],
        )
    })
}

/// The study with decision `id` taking `option`.
fn deciding(id: &str, option: &str) -> Study {
    let mut study = study();
    let d = study
        .decisions
        .iter_mut()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("decisions.toml has no `{id}`"));
    assert!(
        d.options.iter().any(|o| o.id == option),
        "{id}: no option {option}"
    );
    d.choice = option.to_string();
    study
}

fn outcome(run: &Run, participant: &str, flag: &str) -> String {
    run.row("participant_outcomes", "participant_id", participant)[flag].clone()
}

#[test]
fn the_claims_date_decides_whether_a_claim_submitted_after_the_cut_off_counts() {
    // Default, `submitted`: q09's claim arrived after the cut-off, so only q03's job start
    // (q02's is rejected) is a counted claim, and q09 has no 13-week sustainment (its MI has
    // none either).
    let submitted = run_late_submission(study());
    assert_eq!(study().decision("claims_date").unwrap().choice, "submitted");
    let claims: Vec<(String, String)> = submitted
        .rows("validated_claims")
        .into_iter()
        .map(|r| (r["participant_id"].clone(), r["milestone"].clone()))
        .collect();
    assert_eq!(claims, [("q03".to_string(), "JS".to_string())]);
    assert_eq!(outcome(&submitted, "q09", "is_sustained_13"), "false");
    let s13 =
        |run: &Run| run.row("claims_performance", "milestone_code", "S13")["achieved"].clone();
    assert_eq!(s13(&submitted), "0");

    // `milestone`: the milestone (20/10/2021) is before the cut-off, so the claim counts: two
    // counted claims, q09 sustained 13 weeks, one 13-week sustainment achieved.
    let milestone = run_late_submission(deciding("claims_date", "milestone"));
    let claims: Vec<(String, String)> = milestone
        .rows("validated_claims")
        .into_iter()
        .map(|r| (r["participant_id"].clone(), r["milestone"].clone()))
        .collect();
    assert_eq!(
        claims,
        [
            ("q03".to_string(), "JS".to_string()),
            ("q09".to_string(), "S13".to_string())
        ]
    );
    assert_eq!(outcome(&milestone, "q09", "is_sustained_13"), "true");
    assert_eq!(s13(&milestone), "1");
}

#[test]
fn the_outcomes_source_decides_whether_a_validated_claim_completes_the_mi() {
    // q03's MI records the embedding only; a validated claim gives the job start. With the
    // claims (default) q03 started a job; with the MI alone it did not, and no one is matched.
    assert_eq!(
        study().decision("outcomes_source").unwrap().choice,
        "mi_and_claims"
    );
    let both = run_profiles_with(study());
    assert_eq!(outcome(&both, "q03", "is_job_start"), "true");
    assert_eq!(outcome(&both, "q03", "is_claims_matched"), "true");
    let mi_only = run_profiles_with(deciding("outcomes_source", "mi_only"));
    assert_eq!(outcome(&mi_only, "q03", "is_job_start"), "false");
    assert!(
        mi_only
            .rows("participant_outcomes")
            .iter()
            .all(|r| r["is_claims_matched"] == "false")
    );
    // Participants whose MI records the job start keep it either way (q01, q04).
    for q in ["q01", "q04"] {
        assert_eq!(outcome(&mi_only, q, "is_job_start"), "true", "{q}");
    }
    // The job starts by cohort lose q03's: Hardest to Help's count falls by one.
    let hth_js = |run: &Run| {
        run.row_where(
            "job_outcomes_by_cohort",
            &[("cohort_code", "HTH"), ("milestone_code", "JS")],
        )["participants"]
            .clone()
    };
    let (a, b) = (hth_js(&both), hth_js(&mi_only));
    assert_eq!(
        a.parse::<i64>().unwrap() - b.parse::<i64>().unwrap(),
        1,
        "{a} → {b}"
    );
}

#[test]
fn every_decision_has_its_choice_in_the_reference_table() {
    let run = run_fixture();
    let rows = run.rows("reference/decisions");
    let study = study();
    assert_eq!(rows.len(), study.decisions.len());
    assert!(rows.len() >= 2);
    for (r, d) in rows.iter().zip(&study.decisions) {
        assert_eq!(r["decision"], d.id);
        assert_eq!(r["choice"], d.choice);
        assert!(!r["alternatives"].is_empty() && !r["passage"].is_empty());
    }
}

#[test]
fn the_lockdown_split_decides_which_side_the_lockdown_day_falls() {
    // q04 registered on 22/03/2020, q05 on 23/03/2020 (the lockdown), q06 on 01/04/2020. The
    // report's split (`april`, the default) puts all of March before: 7 before, 9 from.
    let t = "enrolment_before_after_lockdown";
    let count =
        |run: &Run, category: &str| run.row(t, "category", category)["participants"].clone();
    let april = run_profiles_with(study());
    assert_eq!(study().decision("lockdown_split").unwrap().choice, "april");
    assert_eq!(count(&april, "Before the first lockdown"), "7");
    assert_eq!(count(&april, "From the first lockdown"), "9");
    // From the lockdown's own day: q05 moves to "from" (q04, the day before, stays).
    let day = run_profiles_with(deciding("lockdown_split", "lockdown_day"));
    assert_eq!(count(&day, "Before the first lockdown"), "6");
    assert_eq!(count(&day, "From the first lockdown"), "10");
    assert_eq!(
        day.row("reference/periods", "first_lockdown", "2020-03-23")["after_lockdown_from"],
        "2020-03-23"
    );
}

#[test]
fn the_sex_base_decides_whether_participants_recorded_as_other_count_in_table_a3() {
    // q01 (female in the fixture) recorded as Other; q06 preferred not to say. By default the
    // base is the 8 women and 6 men; `with_other` adds q01 (15), never q06, and the two shares
    // no longer add up to 1.
    fn q01_as_other(rows: &mut Vec<fixture::ProfileRow>) {
        let row = rows
            .iter_mut()
            .find(|r| {
                r.iter()
                    .any(|(k, v)| *k == "participant_id" && matches!(v, fixture::Cell::Text("q01")))
            })
            .expect("q01 in the fixture");
        for (k, v) in row.iter_mut() {
            if *k == "gender" {
                *v = fixture::Cell::Text("O");
            }
        }
    }
    assert_eq!(
        study().decision("sex_base").unwrap().choice,
        "female_or_male"
    );
    let sex = |run: &Run, category: &str| {
        let r = run.row_where("characteristics_sex", &[("category", category)]);
        (r["participants"].clone(), r["pct"].clone(), r["n"].clone())
    };
    let female_or_male = run_profiles_from(study(), q01_as_other);
    assert_eq!(
        sex(&female_or_male, "Female"),
        ("8".into(), "0.571429".into(), "14".into())
    );
    assert_eq!(
        sex(&female_or_male, "Male"),
        ("6".into(), "0.428571".into(), "14".into())
    );
    let with_other = run_profiles_from(deciding("sex_base", "with_other"), q01_as_other);
    assert_eq!(
        sex(&with_other, "Female"),
        ("8".into(), "0.533333".into(), "15".into())
    );
    assert_eq!(
        sex(&with_other, "Male"),
        ("6".into(), "0.400000".into(), "15".into())
    );
    // Nothing else moves: the other characteristics keep their N.
    let age_n = |run: &Run| run.rows("characteristics_age")[0]["n"].clone();
    assert_eq!(age_n(&with_other), age_n(&female_or_male));
}
