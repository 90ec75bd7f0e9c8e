//! The twin against its contract: determinism, exact published counts, and every dictionary rule.
//! The files are read back as a provider's extract would be (CSV with or without BOM, workbook),
//! and checked with rule code written here, independently of the generator.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{Row, date};
use evalpipe_synth::{DEFAULT_SEED, SynthOptions, generate};

/// The default twin, generated once for all tests of this binary.
fn default_twin() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("synth-default-twin");
        let _ = std::fs::remove_dir_all(&dir);
        let summary = generate(
            &common::study(),
            &common::twin(),
            &SynthOptions {
                seed: DEFAULT_SEED,
                out: dir.clone(),
                interim_out: Some(dir.with_file_name("synth-default-twin-interim")),
            },
        )
        .expect("twin generates");
        assert_eq!(summary.participants, 3966);
        dir
    })
}

fn mi_rows() -> Vec<(String, Row)> {
    common::read_mi(default_twin())
        .into_iter()
        .flat_map(|(lot, _, _, rows)| rows.into_iter().map(move |r| (lot.clone(), r)))
        .collect()
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let study = common::study();
    let twin = common::twin();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    // 99 and 1 meet every published cell in their first round (a seed that does not draws
    // again, which takes a minute or two in a debug build: seeds 5, 6 and 8 need a second or
    // third round).
    for (dir, seed) in [(&a, 99), (&b, 99), (&c, 1)] {
        generate(
            &study,
            &twin,
            &SynthOptions {
                seed,
                out: dir.path().to_path_buf(),
                interim_out: None,
            },
        )
        .unwrap();
    }
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    assert_eq!(fa.len(), 11, "9 MI files, claims, marker: {:?}", fa.keys());
    for (name, bytes) in &fa {
        assert!(
            bytes == &fb[name],
            "{name} differs between two runs with the same seed"
        );
    }
    assert!(fa.keys().any(|n| n.ends_with(".xlsx")));
    for (name, bytes) in &fa {
        assert!(bytes != &fc[name], "{name} is the same with another seed");
    }
}

#[test]
fn files_are_in_the_contract_format() {
    let dir = default_twin();
    let study = common::study();
    let names: BTreeSet<String> = files(dir).into_keys().collect();
    let expected: BTreeSet<String> = [
        "mi_L1_20220131.csv",
        "mi_L2_20220131.csv",
        "mi_L3_20220131.xlsx",
        "mi_L4_20220131.csv",
        "mi_L5_20220131.csv",
        "mi_L6_20220131.csv",
        "mi_L7_20220131.csv",
        "mi_L8_20220131.xlsx",
        "mi_L9_20220131.csv",
        "claims_20220131.csv",
        evalpipe_study::SYNTHETIC_MARKER,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(names, expected);
    let header = study.mi.expected_columns(&study.codes);
    for (lot, name, h, _) in common::read_mi(dir) {
        assert_eq!(h, header, "{name}: header");
        if name.ends_with(".csv") {
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            let bom = bytes.starts_with("\u{feff}".as_bytes());
            assert_eq!(bom, lot == "L7", "{name}: byte-order mark");
        }
    }
    for lot in ["L3", "L8"] {
        let (_, rows, sheets) =
            common::read_xlsx(&dir.join(format!("mi_{lot}_20220131.xlsx")), "Participants");
        assert_eq!(
            sheets,
            vec!["Participants".to_string(), "Notes".to_string()]
        );
        // Dates come back as date cells (the reader renders them DD/MM/YYYY), numbers as numbers.
        for r in &rows {
            assert!(date(&r["registration_date"]).is_some(), "{r:?}");
            assert!(
                !r.values()
                    .any(|v| v.starts_with("UNEXPECTED") || v == "BADDATE")
            );
        }
        assert!(rows.iter().any(|r| !r["date_of_birth"].is_empty()));
    }
    let (h, _) = common::read_csv(&common::claims_file(dir));
    assert_eq!(h, study.claims.expected_columns(&study.codes));
    let marker: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.join("SYNTHETIC.toml")).unwrap()).unwrap();
    assert_eq!(marker["synthetic"].as_bool(), Some(true));
    assert_eq!(marker["seed"].as_integer(), Some(DEFAULT_SEED as i64));
    assert!(marker["statement"].as_str().unwrap().contains("synthetic"));
}

#[test]
fn cohorts_and_lots_are_exact() {
    let rows = mi_rows();
    assert_eq!(rows.len(), 3966);
    let mut cohort: BTreeMap<String, usize> = BTreeMap::new();
    let mut lot: BTreeMap<String, usize> = BTreeMap::new();
    for (_, r) in &rows {
        *cohort.entry(r["payment_group"].clone()).or_default() += 1;
        *lot.entry(r["lot_code"].clone()).or_default() += 1;
    }
    let want: BTreeMap<String, usize> = [("HTR", 557), ("HTH", 1418), ("RP", 1372), ("EMP", 619)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(cohort, want);
    assert_eq!(lot.values().sum::<usize>(), 3966);
    // Report 4.2.1: half of participants at Shard End and Washwood Heath.
    assert_eq!(2 * (lot["L4"] + lot["L6"]), 3966);
    // Table A-41: Binley and Willenhall 56% Rapid Progression; Shard End 20% Employed.
    let share = |l: &str, g: &str| {
        let n = rows
            .iter()
            .filter(|(_, r)| r["lot_code"] == l && r["payment_group"] == g)
            .count();
        (100.0 * n as f64 / lot[l] as f64).round()
    };
    assert_eq!(share("L2", "RP"), 56.0);
    assert_eq!(share("L6", "EMP"), 20.0);
    assert_eq!(share("L8", "HTH"), 40.0);
}

#[test]
fn every_mi_row_passes_the_dictionary() {
    let study = common::study();
    let rows = mi_rows();
    let mut refs = BTreeSet::new();
    for (lot, r) in &rows {
        let f = common::row_findings(&study, &study.mi, r, Some(lot));
        assert!(f.is_empty(), "{}: {f:?}", r["provider_ref"]);
        assert!(
            refs.insert((lot.clone(), r["provider_ref"].clone())),
            "duplicate ref"
        );
        // The cross-field rules, spelled out.
        let emp = r["payment_group"] == "EMP";
        if emp {
            assert!(r["job_start_date"].is_empty());
        } else {
            for c in ["hours_per_week", "weekly_earnings", "contract_type"] {
                assert!(r[c].is_empty(), "{c} on an out-of-work row");
            }
        }
        if r["caring_child_u16"] != "Y" {
            assert!(r["sole_carer"].is_empty());
        }
        let reg = date(&r["registration_date"]).unwrap();
        if let Some(dob) = date(&r["date_of_birth"]) {
            let age = common::age_in_years(dob, reg);
            assert!((16..=75).contains(&age), "age {age}");
        }
        let js = date(&r["job_start_date"]);
        for (col, weeks, prev) in [
            ("sustained_13_date", 13, "job_start_date"),
            ("sustained_26_date", 26, "sustained_13_date"),
            ("sustained_52_date", 52, "sustained_26_date"),
        ] {
            if let Some(d) = date(&r[col]) {
                assert!(!r[prev].is_empty());
                assert!((d - js.unwrap()).num_days() >= 7 * weeks);
            }
        }
        let extract = chrono::NaiveDate::from_ymd_opt(2022, 1, 31).unwrap();
        for c in ["embedded_date", "job_start_date", "progression_date"] {
            if let Some(d) = date(&r[c]) {
                assert!(d >= reg && d <= extract, "{c}");
            }
        }
        if r["health_condition"] != "Y" {
            assert!(r["health_anxiety"].is_empty());
        }
        if let Some(ni) = r.get("ni_number").filter(|n| !n.is_empty()) {
            assert!(ni.starts_with("QQ") && ni.len() == 9, "{ni}");
        }
    }
}

#[test]
fn published_counts_are_reproduced() {
    let study = common::study();
    let all = mi_rows();
    let rows: Vec<&Row> = all.iter().map(|(_, r)| r).collect();
    let n = |f: &dyn Fn(&Row) -> bool| rows.iter().filter(|r| f(r)).count();
    // Report 2.2, Tables: the number of participants with data.
    assert_eq!(n(&|r| r["gender"] == "F" || r["gender"] == "M"), 3957);
    assert_eq!(n(&|r| r["gender"] == "F"), 2097); // 53%
    assert_eq!(n(&|r| !r["date_of_birth"].is_empty()), 3864);
    assert_eq!(
        n(&|r| !r["ethnicity"].is_empty() && r["ethnicity"] != "X"),
        3831
    );
    assert_eq!(
        n(&|r| !r["highest_qualification"].is_empty() && r["highest_qualification"] != "OTHER"),
        3187
    );
    assert_eq!(n(&|r| !r["caring_child_u16"].is_empty()), 2676);
    assert_eq!(n(&|r| !r["caring_adult"].is_empty()), 2663);
    assert_eq!(n(&|r| !r["health_condition"].is_empty()), 3812);
    assert_eq!(n(&|r| !r["hours_per_week"].is_empty()), 371);
    assert_eq!(n(&|r| !r["weekly_earnings"].is_empty()), 328);
    assert_eq!(n(&|r| !r["contract_type"].is_empty()), 365);
    // Table 4-1.
    let (heard, c) = common::question_counts(&study, &rows, "heard");
    assert_eq!(heard, 3676);
    assert_eq!(
        [
            c["leaflet_event"],
            c["jcp"],
            c["friends_family"],
            c["other_org"]
        ],
        [1629, 565, 699, 370]
    );
    let other = n(&|r| {
        ["heard_social_media", "heard_outreach", "heard_other"]
            .iter()
            .any(|k| r[*k] == "Y")
    });
    assert_eq!(other, 1203);
    // Table 4-2.
    let (barrier, c) = common::question_counts(&study, &rows, "barrier");
    assert_eq!(barrier, 3882);
    let published = [
        ("employability", 3548),
        ("confidence", 2070),
        ("qualifications", 1597),
        ("work_experience", 1398),
        ("debt", 1175),
        ("health", 749),
        ("local_jobs", 568),
        ("esol", 555),
        ("childcare", 483),
        ("transport", 369),
    ];
    for (o, k) in published {
        assert_eq!(c[o], k, "barrier {o}");
    }
    // Table 4-3.
    let (agreed, c) = common::question_counts(&study, &rows, "agreed_action");
    assert_eq!(agreed, 3594);
    assert_eq!(
        [c["cv"], c["apply_job"], c["coaching"], c["employer_taster"]],
        [3203, 2750, 1169, 8]
    );
    // Cannock North sent no completed actions (report 2.3.1); everyone else with agreed actions did.
    let (completed, _) = common::question_counts(&study, &rows, "completed_action");
    let l5 = rows
        .iter()
        .filter(|r| r["lot_code"] == "L5" && !r["agreed_cv"].is_empty())
        .count();
    assert_eq!(completed, agreed - l5);
    assert!(
        rows.iter()
            .filter(|r| r["lot_code"] == "L5")
            .all(|r| r["completed_cv"].is_empty())
    );
    // Report 2.3: about 41% of embedded out-of-work participants started a job.
    let emb_oow = n(&|r| !r["embedded_date"].is_empty() && r["payment_group"] != "EMP");
    let js = n(&|r| !r["job_start_date"].is_empty());
    let rate = js as f64 / emb_oow as f64;
    assert!((0.40..0.42).contains(&rate), "job start rate {rate}");
}

#[test]
fn claims_hit_the_validated_counts_and_rules() {
    let study = common::study();
    let dir = default_twin();
    let (_, claims) = common::read_csv(&common::claims_file(dir));
    let f = common::claims_findings(&study, &claims);
    assert!(f.is_empty(), "{f:?}");
    let mut validated: BTreeMap<String, usize> = BTreeMap::new();
    for c in claims.iter().filter(|c| c["status"] == "VALIDATED") {
        *validated.entry(c["milestone"].clone()).or_default() += 1;
        let cutoff = study.periods.claims_cutoff(&c["lot_code"]);
        assert!(date(&c["submitted_date"]).unwrap() <= cutoff, "{c:?}");
    }
    let want: BTreeMap<String, usize> = [
        ("REG", 4019),
        ("EMB", 3255),
        ("JS", 1123),
        ("S13", 768),
        ("S26", 602),
        ("S52", 349),
        ("PROG", 458),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(validated, want);
    assert!(claims.iter().any(|c| c["status"] == "REJECTED"));
    assert!(claims.iter().any(|c| c["status"] == "QUERIED"));
    // 44% of progression claims from out-of-work cohorts (report 2.3).
    let prog_oow = claims
        .iter()
        .filter(|c| c["status"] == "VALIDATED" && c["milestone"] == "PROG")
        .filter(|c| c["payment_group"] != "EMP")
        .count();
    assert_eq!(prog_oow, 202);
    // Published payments (study.toml): a job start is £889 for Hardest to Help, £400 for Rapid
    // Progression.
    for c in claims.iter().filter(|c| c["milestone"] == "JS") {
        match c["payment_group"].as_str() {
            "HTH" => assert_eq!(c["amount_gbp"], "889.00"),
            "RP" => assert_eq!(c["amount_gbp"], "400.00"),
            _ => {}
        }
    }
    // Claims-only participants (the MI is a sample) have references in no MI file.
    let mi: BTreeSet<(String, String)> = mi_rows()
        .into_iter()
        .map(|(l, r)| (l, r["provider_ref"].clone()))
        .collect();
    let reg_not_in_mi = claims
        .iter()
        .filter(|c| c["status"] == "VALIDATED" && c["milestone"] == "REG")
        .filter(|c| !mi.contains(&(c["lot_code"].clone(), c["provider_ref"].clone())))
        .count();
    // Exactly the configured claims-only participants (`[claims] claims_only_participants`):
    // they make up what the MI sample lacks of the validated counts.
    assert_eq!(reg_not_in_mi, 800);
    // A validated claim never gives an MI participant an outcome the MI does not record: the
    // pipeline completes the MI with claims, so a claim on a blank MI milestone would move the
    // calibrated rates.
    let mi_column = |m: &str| match m {
        "EMB" => Some("embedded_date"),
        "JS" => Some("job_start_date"),
        "S13" => Some("sustained_13_date"),
        "S26" => Some("sustained_26_date"),
        "S52" => Some("sustained_52_date"),
        "PROG" => Some("progression_date"),
        _ => None,
    };
    let mi_by_ref: BTreeMap<(String, String), Row> = mi_rows()
        .into_iter()
        .map(|(l, r)| ((l, r["provider_ref"].clone()), r))
        .collect();
    let added = claims
        .iter()
        .filter(|c| c["status"] == "VALIDATED")
        .filter(|c| {
            let (Some(col), Some(row)) = (
                mi_column(&c["milestone"]),
                mi_by_ref.get(&(c["lot_code"].clone(), c["provider_ref"].clone())),
            ) else {
                return false;
            };
            row[col].is_empty()
        })
        .count();
    assert_eq!(
        added, 0,
        "validated claims on milestones the MI leaves blank"
    );
    // Most job-start claims of MI participants carry the MI's job start date.
    let by_ref: BTreeMap<(String, String), Row> = mi_rows()
        .into_iter()
        .map(|(l, r)| ((l, r["provider_ref"].clone()), r))
        .collect();
    let js: Vec<&Row> = claims
        .iter()
        .filter(|c| c["status"] == "VALIDATED" && c["milestone"] == "JS")
        .filter(|c| by_ref.contains_key(&(c["lot_code"].clone(), c["provider_ref"].clone())))
        .collect();
    let same = js
        .iter()
        .filter(|c| {
            by_ref
                .get(&(c["lot_code"].clone(), c["provider_ref"].clone()))
                .is_some_and(|r| r["job_start_date"] == c["milestone_date"])
        })
        .count();
    assert!(same * 10 >= js.len() * 9, "{same} of {}", js.len());
}

#[test]
fn a_calibration_naming_an_unknown_lot_is_a_config_error() {
    let text = std::fs::read_to_string(common::pipeline().join("twin.toml")).unwrap();
    let broken = text.replace("[lots.L9]", "[lots.L10]");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twin.toml");
    std::fs::write(&path, broken).unwrap();
    let twin = evalpipe_synth::load_twin_config(&path).unwrap();
    let err = generate(
        &common::study(),
        &twin,
        &SynthOptions {
            seed: 1,
            out: dir.path().join("out"),
            interim_out: None,
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, evalpipe_synth::Error::Config { .. }), "{msg}");
    assert!(msg.contains("twin.toml") && msg.contains("L10"), "{msg}");
}

fn interim_rows() -> Vec<(String, Row)> {
    let dir = default_twin().with_file_name("synth-default-twin-interim");
    common::read_mi(&dir)
        .into_iter()
        .flat_map(|(lot, _, _, rows)| rows.into_iter().map(move |r| (lot.clone(), r)))
        .collect()
}

#[test]
fn the_interim_extract_is_an_earlier_refresh_of_the_same_people() {
    // Written beside the final extract, as the providers' tool held the records on 30/06/2021.
    let interim_dir = default_twin().with_file_name("synth-default-twin-interim");
    assert!(interim_dir.join("mi_L1_20210630.csv").is_file());
    assert!(interim_dir.join("claims_20210630.csv").is_file());
    let cut = date("30/06/2021").unwrap();
    let key = |(l, r): &(String, Row)| (l.clone(), r["provider_ref"].clone());
    let fin: BTreeMap<(String, String), Row> =
        mi_rows().into_iter().map(|x| (key(&x), x.1)).collect();
    let interim: Vec<(String, Row)> = interim_rows();

    // Figure 4-2's N: 3,507 registered January 2019 – June 2021 in the interim MI, once the rows
    // the validation rejects are left out (recognised here by their planted errors).
    let in_window = |r: &Row| {
        let d = date(&r["registration_date"]).unwrap();
        d >= date("01/01/2019").unwrap() && d <= cut
    };
    let rejected = |r: &Row| {
        r["ethnicity"] == "W9"
            || date(&r["job_start_date"])
                .is_some_and(|j| j < date(&r["registration_date"]).unwrap())
    };
    assert_eq!(interim.iter().filter(|(_, r)| rejected(r)).count(), 4);
    assert_eq!(
        interim
            .iter()
            .filter(|(_, r)| in_window(r) && !rejected(r))
            .count(),
        3507
    );

    // Everyone in the interim is in the final extract, registered the same day; everyone in the
    // final registered by the interim date is in it except the late entries, all recent.
    let mut changed: BTreeMap<&str, usize> = BTreeMap::new();
    for (lot, r) in &interim {
        let f = fin
            .get(&(lot.clone(), r["provider_ref"].clone()))
            .unwrap_or_else(|| {
                panic!("{} of {lot} is not in the final extract", r["provider_ref"])
            });
        assert_eq!(r["registration_date"], f["registration_date"]);
        for (column, value) in r {
            if value == &f[column] {
                continue;
            }
            let dated_later = date(&f[column]).is_some_and(|d| d > cut) && value.is_empty();
            match column.as_str() {
                // Nothing after the interim date is known yet.
                c if c.ends_with("_date") && dated_later => {}
                "progression_employer" if value.is_empty() && !f["progression_date"].is_empty() => {
                }
                // Short of the embedding rule while not yet embedded.
                "meaningful_interventions" if r["embedded_date"].is_empty() => {}
                // The provider corrections.
                "payment_group" | "date_of_birth" | "gender" | "ethnicity" | "job_start_date" => {
                    *changed.entry(column.as_str()).or_default() += 1;
                }
                other => panic!("{other} differs: {value:?} → {:?} ({r:?})", f[other]),
            }
        }
        for (column, value) in r {
            if let Some(d) = date(value)
                && column != "date_of_birth"
            {
                assert!(d <= cut, "{column} {value} is after the interim date");
            }
        }
    }
    assert_eq!(
        changed,
        BTreeMap::from([
            ("date_of_birth", 4),
            ("ethnicity", 2),
            ("gender", 6),
            ("job_start_date", 2),
            ("payment_group", 5),
        ])
    );
    let registered_by_cut = fin
        .values()
        .filter(|r| date(&r["registration_date"]).unwrap() <= cut)
        .count();
    let late = registered_by_cut - interim.len();
    assert!(late > 200, "{late} late entries");
    let interim_keys: BTreeSet<(String, String)> = interim.iter().map(key).collect();
    for (k, r) in &fin {
        let reg = date(&r["registration_date"]).unwrap();
        if reg <= cut && !interim_keys.contains(k) {
            assert!(
                reg > date("30/06/2020").unwrap(),
                "{k:?} late but registered {reg}"
            );
        }
    }

    // Claims: the final extract's, up to the interim date; the same claim keeps its reference,
    // and only the last month's validated claims were still queried.
    let (_, final_claims) = common::read_csv(&common::claims_file(default_twin()));
    let (_, interim_claims) = common::read_csv(&common::claims_file(&interim_dir));
    let by_ref: BTreeMap<&str, &Row> = final_claims
        .iter()
        .map(|c| (c["claim_ref"].as_str(), c))
        .collect();
    let mut pending = 0;
    for c in &interim_claims {
        let f = by_ref[c["claim_ref"].as_str()];
        let submitted = date(&c["submitted_date"]).unwrap();
        assert!(submitted <= cut);
        if c["status"] != f["status"] {
            assert_eq!(
                (c["status"].as_str(), f["status"].as_str()),
                ("QUERIED", "VALIDATED")
            );
            assert!(submitted > date("31/05/2021").unwrap());
            pending += 1;
        }
    }
    assert!(pending > 0);
    let submitted_by_cut = final_claims
        .iter()
        .filter(|c| date(&c["submitted_date"]).unwrap() <= cut)
        .count();
    assert_eq!(interim_claims.len(), submitted_by_cut);
}

/// `evalpipe synth --participants`: whole copies of the twin's people with new references, then
/// a seeded part of it, the claims-only participants and the claims in proportion.
#[test]
fn a_scaled_extract_is_copies_of_the_twin_with_new_references() {
    let twin_dir = default_twin();
    let out = tempfile::tempdir().unwrap();
    let n = 2 * 3966 + 500;
    let summary = evalpipe_synth::generate_scaled(
        &common::study(),
        &common::twin(),
        &evalpipe_synth::ScaledOptions {
            seed: DEFAULT_SEED,
            out: out.path().to_path_buf(),
            participants: n,
        },
    )
    .expect("scaled extract");
    assert_eq!(summary.participants, n);
    let twin = common::read_mi(twin_dir);
    let scaled = common::read_mi(out.path());
    assert_eq!(scaled.len(), 9, "one file per lot");
    let mut total = 0;
    let mut partial = 0;
    for ((lot, _, _, twin_rows), (scaled_lot, file, _, rows)) in twin.iter().zip(&scaled) {
        assert_eq!(lot, scaled_lot);
        assert!(file.ends_with(".csv"), "every lot as CSV: {file}");
        total += rows.len();
        let refs: BTreeSet<&String> = rows.iter().map(|r| &r["provider_ref"]).collect();
        assert_eq!(refs.len(), rows.len(), "{lot}: provider_ref unique");
        // The copy a row belongs to is its reference number over 10^6 (ref_digits = 6).
        let copy = |r: &Row| {
            let number: u64 = r["provider_ref"]
                .rsplit('-')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            number / 1_000_000
        };
        let of_copy = |k| rows.iter().filter(|r| copy(r) == k).count();
        assert_eq!(of_copy(0), twin_rows.len(), "{lot}: copy 0 whole");
        assert_eq!(of_copy(1), twin_rows.len(), "{lot}: copy 1 whole");
        partial += of_copy(2);
        // Everything but the reference is the twin person's: copy 1 of a lot the twin sends as
        // CSV is the twin's lot file, row for row, once the references are set aside (a
        // workbook's cells read back typed, so those lots are compared by count only).
        if !["L3", "L8"].contains(&lot.as_str()) {
            let strip = |r: &Row| {
                let mut r = r.clone();
                r.remove("provider_ref");
                format!("{r:?}")
            };
            let mut expected: Vec<String> = twin_rows.iter().map(strip).collect();
            let mut got: Vec<String> = rows.iter().filter(|r| copy(r) == 1).map(strip).collect();
            expected.sort();
            got.sort();
            assert_eq!(got, expected, "{lot}: copy 1 is the twin");
        }
    }
    assert_eq!(total, n);
    assert_eq!(partial, 500);
    // Claims: twice the twin's, and a part; every claim's reference unique.
    let (_, twin_claims) = common::read_csv(&common::claims_file(twin_dir));
    let (_, claims) = common::read_csv(&common::claims_file(out.path()));
    assert_eq!(claims.len(), summary.claims);
    assert!(claims.len() > 2 * twin_claims.len(), "{}", claims.len());
    assert!(claims.len() < 3 * twin_claims.len(), "{}", claims.len());
    let claim_refs: BTreeSet<&String> = claims.iter().map(|c| &c["claim_ref"]).collect();
    assert_eq!(claim_refs.len(), claims.len());
    // Same options, same bytes.
    let again = tempfile::tempdir().unwrap();
    evalpipe_synth::generate_scaled(
        &common::study(),
        &common::twin(),
        &evalpipe_synth::ScaledOptions {
            seed: DEFAULT_SEED,
            out: again.path().to_path_buf(),
            participants: n,
        },
    )
    .unwrap();
    assert_eq!(files(out.path()), files(again.path()));
}
