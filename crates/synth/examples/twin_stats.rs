//! Measures a generated twin against the report's published figures:
//! `cargo run -p evalpipe-synth --example twin_stats -- <twin folder>`.
//!
//! Reads the files back (CSV and workbook) exactly as a provider's extract, so what it prints is
//! what the pipeline will see. Used to calibrate pipeline/twin.toml.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Row, date};

fn pct(a: usize, b: usize) -> String {
    if b == 0 {
        return "-".into();
    }
    format!("{:.1}%", 100.0 * a as f64 / b as f64)
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data/twin".into());
    let dir = Path::new(&dir);
    let study = common::study();
    let files = common::read_mi(dir);
    let mut all: Vec<Row> = Vec::new();
    let mut findings = 0;
    for (lot, name, header, rows) in &files {
        let size = std::fs::metadata(dir.join(name))
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "{name}: {} rows, {} columns, {size} bytes",
            rows.len(),
            header.len()
        );
        for r in rows {
            let f = common::row_findings(&study, &study.mi, r, Some(lot));
            if !f.is_empty() && findings < 10 {
                println!("  FINDING {}: {f:?}", r["provider_ref"]);
            }
            findings += usize::from(!f.is_empty());
        }
        all.extend(rows.iter().cloned());
    }
    println!("MI rows {} with findings {findings}", all.len());
    let rows: Vec<&Row> = all.iter().collect();
    let count = |f: &dyn Fn(&Row) -> bool| rows.iter().filter(|r| f(r)).count();
    let by = |col: &str| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for r in &rows {
            *m.entry(r[col].clone()).or_insert(0) += 1;
        }
        m
    };
    println!("cohorts {:?}", by("payment_group"));
    let lots = by("lot_code");
    println!(
        "lots {lots:?}  L4+L6 {}",
        pct(lots["L4"] + lots["L6"], rows.len())
    );
    for (lot, n) in &lots {
        let c = |g: &str| count(&|r| &r["lot_code"] == lot && r["payment_group"] == g);
        println!(
            "  {lot}: HTH {} HTR {} RP {} EMP {}",
            pct(c("HTH"), *n),
            pct(c("HTR"), *n),
            pct(c("RP"), *n),
            pct(c("EMP"), *n)
        );
    }
    // Registration.
    let reg = |r: &Row| date(&r["registration_date"]).unwrap();
    let lo = chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
    let hi = chrono::NaiveDate::from_ymd_opt(2021, 12, 31).unwrap();
    let apr20 = chrono::NaiveDate::from_ymd_opt(2020, 4, 1).unwrap();
    let window = count(&|r| reg(r) >= lo && reg(r) <= hi);
    println!(
        "registered 2019–2021 {window}; after March 2020 {}",
        pct(count(&|r| reg(r) >= apr20 && reg(r) <= hi), window)
    );
    for m in ["2020-03", "2020-04", "2020-05", "2020-06"] {
        let inm = |r: &Row| reg(r).format("%Y-%m").to_string() == m;
        let n = count(&inm);
        let c = |g: &str| count(&|r| inm(r) && r["payment_group"] == g);
        println!("  {m}: {n} HTH {} RP {}", pct(c("HTH"), n), pct(c("RP"), n));
    }
    // Characteristics.
    let filled = |col: &str| count(&|r| !r[col].is_empty());
    let n_sex = count(&|r| r["gender"] == "F" || r["gender"] == "M");
    println!(
        "sex N {n_sex} F {}",
        pct(count(&|r| r["gender"] == "F"), n_sex)
    );
    let ages: Vec<i64> = rows
        .iter()
        .filter_map(|r| date(&r["date_of_birth"]).map(|d| common::age_in_years(d, reg(r))))
        .collect();
    println!(
        "age N {} min {:?} max {:?} 16-24 {} 50+ {}",
        ages.len(),
        ages.iter().min(),
        ages.iter().max(),
        pct(ages.iter().filter(|a| **a <= 24).count(), ages.len()),
        pct(ages.iter().filter(|a| **a >= 50).count(), ages.len())
    );
    let eth_list = study.code_list("ethnicity");
    let group = |code: &str, g: &str| {
        eth_list
            .iter()
            .find(|c| c.code == code)
            .and_then(|c| c.group.get(g).cloned())
    };
    let eth_n = count(&|r| group(&r["ethnicity"], "ethnic_group").is_some());
    println!(
        "ethnicity N {eth_n} minority {} Asian {}",
        pct(
            count(&|r| group(&r["ethnicity"], "white_or_minority").as_deref()
                == Some("Minority ethnic")),
            eth_n
        ),
        pct(
            count(&|r| group(&r["ethnicity"], "ethnic_group").as_deref() == Some("Asian")),
            eth_n
        )
    );
    for lot in lots.keys() {
        let n =
            count(&|r| &r["lot_code"] == lot && group(&r["ethnicity"], "ethnic_group").is_some());
        let w = count(&|r| {
            &r["lot_code"] == lot
                && group(&r["ethnicity"], "ethnic_group").as_deref() == Some("White")
        });
        print!("{lot} white {}  ", pct(w, n));
    }
    println!();
    let qual = study.code_list("qualification");
    let band = |code: &str| {
        qual.iter()
            .find(|c| c.code == code)
            .and_then(|c| c.group.get("report_band").cloned())
    };
    let qn = count(&|r| band(&r["highest_qualification"]).is_some());
    let mut bands: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        if let Some(b) = band(&r["highest_qualification"]) {
            *bands.entry(b).or_insert(0) += 1;
        }
    }
    println!(
        "qualification N {qn}: {:?}",
        bands
            .iter()
            .map(|(b, n)| format!("{b} {}", pct(*n, qn)))
            .collect::<Vec<_>>()
    );
    for col in [
        "caring_child_u16",
        "sole_carer",
        "caring_adult",
        "claiming_benefits",
    ] {
        let n = filled(col);
        println!("{col} N {n} Y {}", pct(count(&|r| r[col] == "Y"), n));
    }
    let hn = filled("health_condition");
    println!(
        "health N {hn} Y {} X {}",
        pct(count(&|r| r["health_condition"] == "Y"), hn),
        pct(count(&|r| r["health_condition"] == "X"), hn)
    );
    let (n, c) = common::question_counts(&study, &rows, "health_type");
    println!(
        "health types N {n}: {:?}",
        c.iter()
            .map(|(o, k)| format!("{o} {}", pct(*k, n)))
            .collect::<Vec<_>>()
    );
    let num = |r: &Row, c: &str| r[c].parse::<f64>().ok();
    let hours: Vec<f64> = rows
        .iter()
        .filter_map(|r| num(r, "hours_per_week"))
        .collect();
    println!(
        "hours N {} <16 {} 35+ {}",
        hours.len(),
        pct(hours.iter().filter(|h| **h < 16.0).count(), hours.len()),
        pct(hours.iter().filter(|h| **h >= 35.0).count(), hours.len())
    );
    let pay: Vec<f64> = rows
        .iter()
        .filter_map(|r| num(r, "weekly_earnings"))
        .collect();
    println!(
        "earnings N {} <100 {} 100-199 {}",
        pay.len(),
        pct(pay.iter().filter(|h| **h < 100.0).count(), pay.len()),
        pct(
            pay.iter().filter(|h| **h >= 100.0 && **h < 200.0).count(),
            pay.len()
        )
    );
    let cn = filled("contract_type");
    println!(
        "contract N {cn} {:?}",
        by("contract_type")
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, n)| format!("{k} {}", pct(*n, cn)))
            .collect::<Vec<_>>()
    );
    // Questions.
    for q in ["heard", "barrier", "agreed_action", "completed_action"] {
        let (n, c) = common::question_counts(&study, &rows, q);
        println!("{q} N {n}: {c:?}");
    }
    let other = |r: &Row| {
        ["heard_social_media", "heard_outreach", "heard_other"]
            .iter()
            .any(|c| r[*c] == "Y")
    };
    let has_heard = |r: &Row| !r["heard_jcp"].is_empty();
    println!("heard Other group {}", count(&|r| other(r)));
    let lock = study.periods.after_lockdown_from;
    for (label, before) in [("before", true), ("after", false)] {
        let sel = |r: &Row| has_heard(r) && (reg(r) < lock) == before;
        let n = count(&sel);
        println!(
            "  heard {label} N {n}: friends {} leaflets {} social {}",
            pct(count(&|r| sel(r) && r["heard_friends_family"] == "Y"), n),
            pct(count(&|r| sel(r) && r["heard_leaflet_event"] == "Y"), n),
            pct(count(&|r| sel(r) && r["heard_social_media"] == "Y"), n)
        );
    }
    for g in ["HTH", "HTR", "RP", "EMP"] {
        let sel = |r: &Row| has_heard(r) && r["payment_group"] == g;
        print!(
            "{g} Other {}  ",
            pct(count(&|r| sel(r) && other(r)), count(&sel))
        );
    }
    println!();
    for lot in lots.keys() {
        let sel = |r: &Row| has_heard(r) && &r["lot_code"] == lot;
        print!(
            "{lot} jcp {}  ",
            pct(count(&|r| sel(r) && r["heard_jcp"] == "Y"), count(&sel))
        );
    }
    println!();
    let share = |sel: &dyn Fn(&Row) -> bool, col: &str| {
        pct(count(&|r| sel(r) && r[col] == "Y"), count(&|r| sel(r)))
    };
    let hb = |r: &Row| !r["barrier_esol"].is_empty();
    let hth = |r: &Row| hb(r) && r["payment_group"] == "HTH";
    println!(
        "HTH barriers: qualifications {} work_experience {} confidence {} esol {}",
        share(&hth, "barrier_qualifications"),
        share(&hth, "barrier_work_experience"),
        share(&hth, "barrier_confidence"),
        share(&hth, "barrier_esol")
    );
    let lotb = |l: &'static str| move |r: &Row| hb(r) && r["lot_code"] == l;
    println!(
        "L9 transport {}; L8 qualifications {} local_jobs {} flexible {}; L4 esol {} debt {}; L6 childcare {}; EMP debt {}",
        share(&lotb("L9"), "barrier_transport"),
        share(&lotb("L8"), "barrier_qualifications"),
        share(&lotb("L8"), "barrier_local_jobs"),
        share(&lotb("L8"), "barrier_flexible_work"),
        share(&lotb("L4"), "barrier_esol"),
        share(&lotb("L4"), "barrier_debt"),
        share(&lotb("L6"), "barrier_childcare"),
        share(
            &|r: &Row| hb(r) && r["payment_group"] == "EMP",
            "barrier_debt"
        ),
    );
    let ha = |g: &'static str| move |r: &Row| !r["agreed_cv"].is_empty() && r["payment_group"] == g;
    println!(
        "HTH agreed: training {} coaching {} financial {} volunteering {}; EMP: current_work {} pre_employment {} travel {}",
        share(&ha("HTH"), "agreed_training"),
        share(&ha("HTH"), "agreed_coaching"),
        share(&ha("HTH"), "agreed_financial_digital"),
        share(&ha("HTH"), "agreed_volunteering"),
        share(&ha("EMP"), "agreed_current_work_support"),
        share(&ha("EMP"), "agreed_pre_employment_training"),
        share(&ha("EMP"), "agreed_travel_support"),
    );
    let non5: Vec<&Row> = rows
        .iter()
        .copied()
        .filter(|r| r["lot_code"] != "L5")
        .collect();
    let (_, ag) = common::question_counts(&study, &non5, "agreed_action");
    let (_, co) = common::question_counts(&study, &non5, "completed_action");
    println!(
        "completed/agreed (excl. L5): {:?}",
        ag.iter()
            .map(|(o, a)| format!("{o} {:.2}", *co.get(o).unwrap_or(&0) as f64 / *a as f64))
            .collect::<Vec<_>>()
    );
    // Outcomes.
    let oow = |r: &Row| r["payment_group"] != "EMP";
    let emb = |r: &Row| !r["embedded_date"].is_empty();
    let js = |r: &Row| !r["job_start_date"].is_empty();
    println!(
        "embedded {} ({})",
        count(&emb),
        pct(count(&emb), rows.len())
    );
    let eo = count(&|r| emb(r) && oow(r));
    println!(
        "job starts {} = {} of embedded out-of-work {eo}; any {}",
        count(&|r| emb(r) && js(r)),
        pct(count(&|r| emb(r) && js(r)), eo),
        count(&js)
    );
    for g in ["HTH", "HTR", "RP"] {
        let sel = |r: &Row| emb(r) && r["payment_group"] == g;
        print!("{g} {}  ", pct(count(&|r| sel(r) && js(r)), count(&sel)));
    }
    println!();
    for lot in lots.keys() {
        let sel = |r: &Row| emb(r) && oow(r) && &r["lot_code"] == lot;
        print!("{lot} {}  ", pct(count(&|r| sel(r) && js(r)), count(&sel)));
    }
    println!();
    for (label, col) in [
        ("health N", "health_condition"),
        ("benefits", "claiming_benefits"),
    ] {
        for v in ["Y", "N"] {
            let sel = |r: &Row| emb(r) && oow(r) && r[col] == v;
            print!(
                "{label}={v} {}  ",
                pct(count(&|r| sel(r) && js(r)), count(&sel))
            );
        }
    }
    println!();
    let s = |k: &str| count(&|r| !r[k].is_empty());
    println!(
        "S13 {} ({} of JS) S26 {} ({} of S13) S52 {} ({} of S26)",
        s("sustained_13_date"),
        pct(s("sustained_13_date"), count(&js)),
        s("sustained_26_date"),
        pct(s("sustained_26_date"), s("sustained_13_date")),
        s("sustained_52_date"),
        pct(s("sustained_52_date"), s("sustained_26_date"))
    );
    let prog = |r: &Row| !r["progression_date"].is_empty();
    let ee = count(&|r| emb(r) && !oow(r));
    println!(
        "progression EMP {} ({} of embedded EMP), out of work {}",
        count(&|r| prog(r) && !oow(r)),
        pct(count(&|r| prog(r) && !oow(r)), ee),
        count(&|r| prog(r) && oow(r))
    );
    fit_job_model(&rows);
    // Claims.
    let (_, claims) = common::read_csv(&common::claims_file(dir));
    let cf = common::claims_findings(&study, &claims);
    println!(
        "claims rows {} findings {} {:?}",
        claims.len(),
        cf.len(),
        cf.iter().take(5).collect::<Vec<_>>()
    );
    let mut val: BTreeMap<String, usize> = BTreeMap::new();
    let mut status: BTreeMap<String, usize> = BTreeMap::new();
    for c in &claims {
        *status.entry(c["status"].clone()).or_insert(0) += 1;
        if c["status"] == "VALIDATED" {
            *val.entry(c["milestone"].clone()).or_insert(0) += 1;
        }
    }
    println!("validated {val:?} statuses {status:?}");
    let mi: BTreeMap<(String, String), &Row> = rows
        .iter()
        .map(|r| ((r["lot_code"].clone(), r["provider_ref"].clone()), *r))
        .collect();
    let vc = |m: &'static str| {
        claims
            .iter()
            .filter(move |c| c["status"] == "VALIDATED" && c["milestone"] == m)
    };
    for (m, col) in [
        ("EMB", "embedded_date"),
        ("JS", "job_start_date"),
        ("S13", "sustained_13_date"),
        ("S26", "sustained_26_date"),
        ("S52", "sustained_52_date"),
        ("PROG", "progression_date"),
    ] {
        let total = vc(m).count();
        let in_mi = vc(m)
            .filter(|c| mi.contains_key(&(c["lot_code"].clone(), c["provider_ref"].clone())))
            .count();
        let same = vc(m)
            .filter(|c| {
                mi.get(&(c["lot_code"].clone(), c["provider_ref"].clone()))
                    .is_some_and(|r| r[col] == c["milestone_date"])
            })
            .count();
        println!("{m}: {total} validated, {in_mi} in MI, {same} with the MI's date");
    }
    let prog_oow = vc("PROG").filter(|c| c["payment_group"] != "EMP").count();
    println!(
        "PROG from out of work {prog_oow} ({})",
        pct(prog_oow, vc("PROG").count())
    );
    let last = |l: &str| {
        vc("REG")
            .chain(vc("JS"))
            .filter(|c| c["lot_code"] == l)
            .filter_map(|c| date(&c["submitted_date"]))
            .max()
    };
    println!(
        "last validated submission L1 {:?} L2 {:?}",
        last("L1"),
        last("L2")
    );
    let not_in_mi = claims
        .iter()
        .filter(|c| !mi.contains_key(&(c["lot_code"].clone(), c["provider_ref"].clone())))
        .map(|c| (c["lot_code"].clone(), c["provider_ref"].clone()))
        .collect::<std::collections::BTreeSet<_>>();
    println!("claims-only participants {}", not_in_mi.len());
}

/// Logistic regression of job start on the model covariates (Table A-24 sample rules: embedded
/// out-of-work, not Cannock North, not the Colleges group, complete data).
fn fit_job_model(rows: &[&Row]) {
    let study = common::study();
    let group = |lot: &str| {
        study
            .lot(lot)
            .map(|l| l.provider_group.clone())
            .unwrap_or_default()
    };
    let qual = study.code_list("qualification");
    let band = |code: &str| {
        qual.iter()
            .find(|c| c.code == code)
            .and_then(|c| c.group.get("model_band").cloned())
    };
    let names = [
        "const",
        "HTR",
        "RP",
        "no health",
        "qual L1/2",
        "qual L3",
        "qual L4+",
        "16-24",
        "35-44",
        "45-54",
        "55+",
        "not claiming",
        "no coaching",
        "match_skills",
        "small/medium",
        "Coventry",
    ];
    let mut x: Vec<Vec<f64>> = Vec::new();
    let mut y: Vec<f64> = Vec::new();
    for r in rows {
        if r["payment_group"] == "EMP" || r["embedded_date"].is_empty() || r["lot_code"] == "L5" {
            continue;
        }
        let g = group(&r["lot_code"]);
        if g == "Colleges" {
            continue;
        }
        let (Some(b), Some(dob)) = (band(&r["highest_qualification"]), date(&r["date_of_birth"]))
        else {
            continue;
        };
        if !matches!(r["health_condition"].as_str(), "Y" | "N")
            || r["claiming_benefits"].is_empty()
            || r["completed_coaching"].is_empty()
        {
            continue;
        }
        let age = common::age_in_years(dob, date(&r["registration_date"]).unwrap());
        let f = |b: bool| if b { 1.0 } else { 0.0 };
        x.push(vec![
            1.0,
            f(r["payment_group"] == "HTR"),
            f(r["payment_group"] == "RP"),
            f(r["health_condition"] == "N"),
            f(b == "Levels 1 and 2"),
            f(b == "Level 3"),
            f(b == "Level 4 or higher"),
            f(age <= 24),
            f((35..=44).contains(&age)),
            f((45..=54).contains(&age)),
            f(age >= 55),
            f(r["claiming_benefits"] == "N"),
            f(r["completed_coaching"] == "N"),
            f(r["completed_match_skills"] == "Y"),
            f(g == "Small and medium organisations"),
            f(g == "Coventry"),
        ]);
        y.push(f(!r["job_start_date"].is_empty()));
    }
    let k = names.len();
    let mut beta = vec![0.0; k];
    for _ in 0..25 {
        let mut h = vec![vec![0.0; k]; k];
        let mut g = vec![0.0; k];
        for (xi, yi) in x.iter().zip(&y) {
            let eta: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-eta).exp());
            for a in 0..k {
                g[a] += (yi - p) * xi[a];
                for b in 0..k {
                    h[a][b] += p * (1.0 - p) * xi[a] * xi[b];
                }
            }
        }
        // Solve h · step = g (Gaussian elimination with partial pivoting).
        let mut m: Vec<Vec<f64>> = h
            .iter()
            .zip(&g)
            .map(|(r, gi)| {
                let mut r = r.clone();
                r.push(*gi);
                r
            })
            .collect();
        for c in 0..k {
            let piv = (c..k)
                .max_by(|a, b| m[*a][c].abs().total_cmp(&m[*b][c].abs()))
                .unwrap();
            m.swap(c, piv);
            if m[c][c].abs() < 1e-12 {
                continue;
            }
            for r in 0..k {
                if r != c {
                    let f = m[r][c] / m[c][c];
                    let pivot_row = m[c].clone();
                    for (x, p) in m[r].iter_mut().zip(&pivot_row).skip(c) {
                        *x -= f * p;
                    }
                }
            }
        }
        for a in 0..k {
            if m[a][a].abs() > 1e-12 {
                beta[a] += m[a][k] / m[a][a];
            }
        }
    }
    println!(
        "job model (n = {}, {} job starts): {}",
        y.len(),
        y.iter().sum::<f64>(),
        names
            .iter()
            .zip(&beta)
            .skip(1)
            .map(|(n, b)| format!("{n} {:.2}", b.exp()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
