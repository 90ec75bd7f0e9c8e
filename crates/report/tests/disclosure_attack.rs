//! Disclosure control across linked tables, attacked: the attacker of `attack/` (every
//! subtraction a reader can make across the published tables, checked against the true
//! values) against crafted publications decided by `evalpipe_report::disclosure`. It must find
//! the leaks of tables decided one at a time, and nothing once they are decided together. The
//! same attacker runs on a whole twin run in `tests/end_to_end.rs`.

mod attack;

use attack::{Leak, Shown, attack};
use evalpipe_report::disclosure::{Cell, Table, decide};

fn s(v: &str) -> Cell {
    Cell::Text(v.to_string())
}

fn i(v: i64) -> Cell {
    Cell::Int(v)
}

fn pct(part: i64, of: i64) -> Cell {
    Cell::Float(part as f64 / of as f64)
}

/// The tables as published: decided together, as a run decides them.
fn together(tables: &[Table]) -> Vec<attack::Table> {
    let d = decide(tables, 10);
    tables
        .iter()
        .map(|t| attack::from_decision(t, &d.hidden(&t.name)))
        .collect()
}

/// The tables as published when each is decided on its own (the rule's scope before linking).
fn apart(tables: &[Table]) -> Vec<attack::Table> {
    tables
        .iter()
        .map(|t| attack::from_decision(t, &decide(std::slice::from_ref(t), 10).hidden(&t.name)))
        .collect()
}

fn recovered(leaks: &[Leak], value: i64, what: &str) -> bool {
    leaks
        .iter()
        .any(|l| l.kind == "recovered" && l.value == value && l.what.contains(what))
}

/// Table A-6's shape (`lot_code, characteristic, category, participants, pct, n`): per lot
/// the two-way and the fine ethnic split over the lot's N. L5 is Cannock North's.
fn ethnicity_by_lot() -> Table {
    let lots: [(&str, [i64; 5]); 3] = [
        ("L1", [158, 18, 150, 29, 11]),
        ("L2", [300, 20, 31, 12, 14]),
        ("L5", [187, 2, 2, 0, 0]),
    ];
    let mut rows = Vec::new();
    for (lot, [white, mixed, asian, black, other]) in lots {
        let n = white + mixed + asian + black + other;
        let minority = n - white;
        for (c, cat, p) in [
            ("ethnicity", "White", white),
            ("ethnicity", "Minority ethnic", minority),
            ("ethnic_group", "White", white),
            ("ethnic_group", "Mixed", mixed),
            ("ethnic_group", "Asian", asian),
            ("ethnic_group", "Black", black),
            ("ethnic_group", "Other", other),
        ] {
            rows.push(vec![s(lot), s(c), s(cat), i(p), pct(p, n), i(n)]);
        }
    }
    Table {
        name: "ethnicity_by_lot".into(),
        columns: [
            "lot_code",
            "characteristic",
            "category",
            "participants",
            "pct",
            "n",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

/// Table A-5's shape: the same splits over all lots.
fn characteristics_ethnicity(by_lot: &Table) -> Table {
    let mut totals: Vec<(String, String, i64)> = Vec::new();
    for row in &by_lot.rows {
        let (Cell::Text(c), Cell::Text(cat), Cell::Int(p)) = (&row[1], &row[2], &row[3]) else {
            unreachable!()
        };
        match totals.iter_mut().find(|(x, y, _)| x == c && y == cat) {
            Some(t) => t.2 += p,
            None => totals.push((c.clone(), cat.clone(), *p)),
        }
    }
    let n: i64 = totals
        .iter()
        .filter(|(c, _, _)| c == "ethnicity")
        .map(|t| t.2)
        .sum();
    Table {
        name: "characteristics_ethnicity".into(),
        columns: ["characteristic", "category", "participants", "pct", "n"]
            .map(String::from)
            .to_vec(),
        rows: totals
            .into_iter()
            .map(|(c, cat, p)| vec![s(&c), s(&cat), i(p), pct(p, n), i(n)])
            .collect(),
    }
}

#[test]
fn the_attacker_finds_what_a_single_table_gives_away() {
    // Sex of 127: Male [c], Female 120 shown. And lots of 100: A and B hidden, C 93 shown.
    let t = attack::Table {
        name: "t".into(),
        columns: ["characteristic", "category", "participants", "n"]
            .map(String::from)
            .to_vec(),
        shown: vec![
            vec![
                Shown::Text("sex".into()),
                Shown::Text("Female".into()),
                Shown::Count(120),
                Shown::Count(127),
            ],
            vec![
                Shown::Text("sex".into()),
                Shown::Text("Male".into()),
                Shown::Hidden,
                Shown::Count(127),
            ],
            vec![
                Shown::Text("lot".into()),
                Shown::Text("A".into()),
                Shown::Hidden,
                Shown::Count(100),
            ],
            vec![
                Shown::Text("lot".into()),
                Shown::Text("B".into()),
                Shown::Hidden,
                Shown::Count(100),
            ],
            vec![
                Shown::Text("lot".into()),
                Shown::Text("C".into()),
                Shown::Count(93),
                Shown::Count(100),
            ],
        ],
        truth: vec![
            vec![None, None, Some(120), Some(127)],
            vec![None, None, Some(7), Some(127)],
            vec![None, None, Some(3), Some(100)],
            vec![None, None, Some(4), Some(100)],
            vec![None, None, Some(93), Some(100)],
        ],
    };
    let leaks = attack(&[t], 10);
    assert!(recovered(&leaks, 7, "t row 2 `participants`"), "{leaks:#?}");
    assert!(
        leaks
            .iter()
            .any(|l| l.kind == "small count" && l.value == 7 && l.what.contains("row 3")),
        "the hidden lots' sum, 100 − 93: {leaks:#?}"
    );
}

#[test]
fn cannock_north_leaks_through_the_all_lots_table_unless_decided_together() {
    let by_lot = ethnicity_by_lot();
    let tables = vec![by_lot.clone(), characteristics_ethnicity(&by_lot)];
    // Apart: within its lot L5 is safe (both Whites go with Minority's 4), but the all-lots
    // Minority total minus the other lots' minorities gives the 4 back.
    let leaks = attack(&apart(&tables), 10);
    assert!(
        recovered(&leaks, 4, "ethnicity_by_lot row 16 `participants`"),
        "{leaks:#?}"
    );
    // Together: nothing.
    let leaks = attack(&together(&tables), 10);
    assert!(leaks.is_empty(), "{leaks:#?}");
    // The price: the same five cells of one other lot (rows 0–6 are L1, 7–13 L2, 14–20 L5):
    // its minority for the Minority total, its White for its own N, its Mixed and Asian for
    // the fine totals (each needs a second hidden lot).
    let d = decide(&tables, 10);
    let hidden: Vec<usize> = (0..21)
        .filter(|&r| d.is_hidden("ethnicity_by_lot", r, "participants"))
        .collect();
    let five = |lot: usize| (0..5).map(move |k| lot * 7 + k);
    assert!(
        hidden == five(0).chain(five(2)).collect::<Vec<_>>()
            || hidden == five(1).chain(five(2)).collect::<Vec<_>>(),
        "{hidden:?}"
    );
    assert!(d.hidden("characteristics_ethnicity").is_empty());
}

#[test]
fn cannock_north_in_one_table_loses_its_white_count_in_both_splits() {
    let by_lot = ethnicity_by_lot();
    let published = together(std::slice::from_ref(&by_lot));
    let l5: Vec<&Vec<Shown>> = published[0].shown[14..].iter().collect();
    // White (two-way), Minority, White (fine), Mixed, Asian: [c]; Black, Other: 0; N shown.
    let participants: Vec<&Shown> = l5.iter().map(|r| &r[3]).collect();
    assert_eq!(
        participants,
        [
            &Shown::Hidden,
            &Shown::Hidden,
            &Shown::Hidden,
            &Shown::Hidden,
            &Shown::Hidden,
            &Shown::Count(0),
            &Shown::Count(0),
        ]
    );
    assert!(l5.iter().all(|r| r[5] == Shown::Count(191)));
    assert!(attack(&published, 10).is_empty());
}

#[test]
fn a_job_start_hidden_in_one_table_is_hidden_where_it_is_printed_again() {
    // Job starts by lot (Table A-16): B's 4 are small, C's 30 its partner. The participants
    // of 13-week sustainment by lot are those job starts again, printed here for the lots
    // already due their 13 weeks (B's are not).
    let outcome = |name: &str, n: i64, rows: &[(&str, &str, i64, i64)]| Table {
        name: name.into(),
        columns: [
            "characteristic",
            "category",
            "participants",
            "achieved",
            "rate",
            "n",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|&(c, cat, p, a)| vec![s(c), s(cat), i(p), i(a), pct(a, p), i(n)])
            .collect(),
    };
    let tables = vec![
        outcome(
            "job_outcome_by_lot",
            400,
            &[
                ("all", "All participants", 400, 134),
                ("lot", "A", 200, 100),
                ("lot", "B", 100, 4),
                ("lot", "C", 100, 30),
            ],
        ),
        outcome(
            "sustained_13_by_lot",
            134,
            &[
                ("all", "All participants", 134, 100),
                ("lot", "A", 100, 80),
                ("lot", "C", 30, 20),
            ],
        ),
    ];
    let leaks = attack(&apart(&tables), 10);
    assert!(
        recovered(&leaks, 30, "job_outcome_by_lot row 4 `achieved`"),
        "C's 30 job starts, printed in A-17: {leaks:#?}"
    );
    assert!(
        recovered(&leaks, 4, "job_outcome_by_lot row 3 `achieved`"),
        "{leaks:#?}"
    );
    let leaks = attack(&together(&tables), 10);
    assert!(leaks.is_empty(), "{leaks:#?}");
    let d = decide(&tables, 10);
    assert!(d.is_hidden("job_outcome_by_lot", 3, "achieved"));
    assert!(d.is_hidden("sustained_13_by_lot", 2, "participants"));
}

#[test]
fn the_last_months_of_a_running_total_stay_hidden() {
    let rows = [
        ("2021-09-01", 40, 3880),
        ("2021-10-01", 28, 3908),
        ("2021-11-01", 8, 3916),
        ("2021-12-01", 6, 3922),
    ];
    let t = Table {
        name: "enrolment_by_month".into(),
        columns: ["month", "participants", "cumulative", "n"]
            .map(String::from)
            .to_vec(),
        rows: rows
            .iter()
            .map(|&(m, p, c)| vec![s(m), i(p), i(c), i(3922)])
            .collect(),
    };
    // The rule of one table: 3916 − 3908 = 8, 3922 − 3916 = 6, unless November's total goes.
    let mut naive = attack::from_decision(&t, &Default::default());
    for r in [2, 3] {
        naive.shown[r][1] = Shown::Hidden;
    }
    let leaks = attack(&[naive], 10);
    assert!(recovered(&leaks, 8, "row 3 `participants`"), "{leaks:#?}");
    assert!(recovered(&leaks, 6, "row 4 `participants`"), "{leaks:#?}");
    let leaks = attack(&together(std::slice::from_ref(&t)), 10);
    assert!(leaks.is_empty(), "{leaks:#?}");
}
