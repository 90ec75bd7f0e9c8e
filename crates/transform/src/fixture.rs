//! A miniature run: the three ingest datasets for ten participants, small enough to check every
//! table by hand (feature `fixture`, and this crate's own tests).
//!
//! The columns follow ingest's output contract (the schema of `participants` is derived from the
//! MI dictionary the same way ingest derives it), so the queries meet here what they meet on the
//! twin. The rows are made so that each table has a case someone could get wrong:
//!
//! | id  | lot | cohort | MI outcomes            | counted claims               | other claims      |
//! |-----|-----|--------|------------------------|------------------------------|-------------------|
//! | p01 | L1  | HTH    | EMB JS S13             | REG EMB JS S13               |                   |
//! | p02 | L1  | HTH    | EMB                    | REG EMB JS S13 (not in MI)   |                   |
//! | p03 | L1  | HTH    | —                      | REG                          |                   |
//! | p04 | L2  | HTH    | EMB JS                 | REG                          | EMB queried, JS rejected |
//! | p05 | L1  | HTR    | EMB                    | REG EMB                      |                   |
//! | p06 | L2  | HTR    | EMB JS S13 S26         | REG EMB                      |                   |
//! | p07 | L1  | RP     | EMB JS                 | REG EMB JS S13 S26 S52       |                   |
//! | p08 | L2  | RP     | EMB                    | REG EMB                      |                   |
//! | p09 | L2  | RP     | JS PROG                | REG JS PROG (later date)     |                   |
//! | p10 | L1  | EMP    | EMB                    | REG EMB PROG                 |                   |
//! | p99 | L2  | HTR    | (not in the MI)        | REG                          |                   |
//!
//! Answers: `heard` for p01–p05 (p02 ticks two options of the same Table 4-1 group, p05 only
//! "no"s), `barrier` for p01, p02, p03, p06 (p06 only "no"s), `agreed_action` for p01, p02, p07,
//! and a `completed_action` for p01 that must not leak into agreed actions.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    ListBuilder, RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Date32Type, Field, Int64Type, Schema, SchemaRef};
use chrono::NaiveDate;
use evalpipe_study::{ColumnType, RunLayout, Study};

use crate::output::write_parquet;
use crate::{Error, Result};

/// A value in a fixture row.
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Text(&'static str),
    Date(&'static str),
    Int(i64),
    Num(f64),
    Flag(bool),
    /// Money in pence.
    Pence(i128),
}

/// Writes `participants`, `participant_answers` and `claims` into `layout`'s `ingest/` folder.
pub fn write(study: &Study, layout: &RunLayout) -> Result<()> {
    let participants = participants(study)?;
    let answers = answers(&participants)?;
    let claims = claims()?;
    for (name, batch) in [
        ("participants", participants),
        ("participant_answers", answers),
        ("claims", claims),
    ] {
        write_parquet(&layout.dataset(name), &batch.schema(), &[batch])?;
    }
    Ok(())
}

/// The second fixture, for the breakdown tables: sixteen participants (`q01`–`q16`) across three
/// lots with every characteristic the tables use, chosen to sit on band edges and code-list
/// gaps. Writes the same three datasets as [`write`].
///
/// | id  | lot | cohort | registered | sex | age | ethnicity | qualification | child/sole | adult | health | benefits | MI outcomes |
/// |-----|-----|--------|------------|-----|-----|-----------|---------------|------------|-------|--------|----------|-------------|
/// | q01 | L1  | HTH    | 2019-01-15 | F   | 16  | W1        | NONE          | Y / Y      | N     | Y      | Y        | EMB JS S13  |
/// | q02 | L1  | HTH    | 2019-02-10 | F   | 24  | A2        | ENTRY         | Y / N      | N     | N      | Y        | EMB (JS claim rejected) |
/// | q03 | L1  | HTH    | 2019-02-20 | M   | 25  | A1        | L1            | N          | N     | N      | Y        | EMB (JS from a validated claim) |
/// | q04 | L1  | HTR    | 2020-03-22 | M   | 34  | B1        | L2            | N          | Y     | X      | N        | EMB JS S13  |
/// | q05 | L1  | HTR    | 2020-03-23 | F   | 35  | X         | L3            | —          | —     | N      | N        | EMB         |
/// | q06 | L2  | HTR    | 2020-04-01 | X   | 44  | W2        | L4PLUS        | Y / —      | N     | Y      | —        | EMB JS      |
/// | q07 | L2  | RP     | 2020-05-05 | M   | 45  | M1        | OTHER         | N          | N     | N      | N        | EMB JS S13  |
/// | q08 | L2  | RP     | 2020-06-30 | F   | 49  | W1        | —             | Y / Y      | N     | N      | Y        | —           |
/// | q09 | L2  | RP     | 2021-01-05 | F   | 50  | O1        | NONE          | N          | N     | —      | Y        | EMB JS      |
/// | q10 | L3  | RP     | 2021-02-01 | M   | 54  | W1        | L2            | —          | N     | Y      | N        | EMB         |
/// | q11 | L3  | HTH    | 2021-03-01 | M   | 55  | W1        | L3            | Y / N      | N     | N      | N        | EMB JS S13  |
/// | q12 | L3  | HTH    | 2021-03-15 | F   | —   | A3        | —             | —          | —     | —      | —        | —           |
/// | q13 | L1  | EMP    | 2019-03-01 | F   | 30  | W1        | L3            | Y / Y      | N     | N      | N        | EMB PROG (same employer) |
/// | q14 | L2  | EMP    | 2019-04-01 | M   | 40  | A1        | L2            | N          | N     | N      | Y        | EMB PROG (different employer) |
/// | q15 | L3  | EMP    | 2020-07-01 | F   | 60  | W1        | L4PLUS        | N          | Y     | Y      | —        | EMB         |
/// | q16 | L3  | EMP    | 2021-06-01 | F   | 22  | B2        | —             | —          | —     | N      | Y        | PROG (different employer), never embedded |
///
/// Claims: q03's job start (validated), q02's (rejected), and q09's 13-week sustainment,
/// validated but submitted after its lot's claims cut-off.
///
/// The employed cohort's work: q13 15.5 hours, £99.99, permanent; q14 16 hours, £100.00, zero
/// hours; q15 35 hours, £350.00, permanent; q16 agency (no hours or pay).
pub fn write_profiles(study: &Study, layout: &RunLayout) -> Result<()> {
    write_profiles_edited(study, layout, |_| {})
}

/// A participant of the profiles fixture: column and value, absent columns null.
pub(crate) type ProfileRow = Vec<(&'static str, Cell)>;

/// [`write_profiles`] with `edit` applied to the participants first: for a test that needs a
/// case the fixture lacks without changing the counts every other test works from.
pub(crate) fn write_profiles_edited(
    study: &Study,
    layout: &RunLayout,
    edit: impl FnOnce(&mut Vec<ProfileRow>),
) -> Result<()> {
    write_profiles_claims(
        study,
        layout,
        edit,
        vec![
            ("q03", "L1", "HTH", "JS", "2019-05-01", 88900, "VALIDATED"),
            ("q02", "L1", "HTH", "JS", "2019-05-01", 88900, "REJECTED"),
            // Validated, but submitted after Binley and Willenhall's cut-off (31/10/2021).
            ("q09", "L2", "RP", "S13", "2021-11-15", 30000, "VALIDATED"),
        ],
        &[],
    )
}

/// The profiles fixture with these claims, and these claims' submission dates (participant,
/// milestone, date) later than their milestone dates: for the decisions that turn on them.
pub(crate) fn write_profiles_claims(
    study: &Study,
    layout: &RunLayout,
    edit: impl FnOnce(&mut Vec<ProfileRow>),
    claims: Vec<Claim>,
    submitted: &[(&str, &str, &'static str)],
) -> Result<()> {
    let mut rows = profiles();
    edit(&mut rows);
    let participants = participants_batch(study, rows)?;
    let answers = answers_batch(PROFILE_ANSWERS, &participants)?;
    let claims = claims_batch_submitted(claims, submitted)?;
    for (name, batch) in [
        ("participants", participants),
        ("participant_answers", answers),
        ("claims", claims),
    ] {
        write_parquet(&layout.dataset(name), &batch.schema(), &[batch])?;
    }
    Ok(())
}

fn profiles() -> Vec<ProfileRow> {
    use Cell::{Date, Flag, Int, Num, Pence, Text};
    let base = |id, lot, cohort, registered| {
        vec![
            ("participant_id", Text(id)),
            ("lot_code", Text(lot)),
            ("payment_group", Text(cohort)),
            ("registration_date", Date(registered)),
        ]
    };
    let with = |mut row: Vec<(&'static str, Cell)>, rest: Vec<(&'static str, Cell)>| {
        row.extend(rest);
        row
    };
    vec![
        with(
            base("q01", "L1", "HTH", "2019-01-15"),
            vec![
                ("gender", Text("F")),
                ("age_at_registration", Int(16)),
                ("ethnicity", Text("W1")),
                ("highest_qualification", Text("NONE")),
                ("caring_child_u16", Flag(true)),
                ("sole_carer", Flag(true)),
                ("caring_adult", Flag(false)),
                ("health_condition", Text("Y")),
                ("claiming_benefits", Flag(true)),
                ("embedded_date", Date("2019-02-01")),
                ("job_start_date", Date("2019-04-01")),
                ("sustained_13_date", Date("2019-07-01")),
            ],
        ),
        with(
            base("q02", "L1", "HTH", "2019-02-10"),
            vec![
                ("gender", Text("F")),
                ("age_at_registration", Int(24)),
                ("ethnicity", Text("A2")),
                ("highest_qualification", Text("ENTRY")),
                ("caring_child_u16", Flag(true)),
                ("sole_carer", Flag(false)),
                ("caring_adult", Flag(false)),
                ("health_condition", Text("N")),
                ("claiming_benefits", Flag(true)),
                ("embedded_date", Date("2019-03-01")),
            ],
        ),
        with(
            base("q03", "L1", "HTH", "2019-02-20"),
            vec![
                ("gender", Text("M")),
                ("age_at_registration", Int(25)),
                ("ethnicity", Text("A1")),
                ("highest_qualification", Text("L1")),
                ("caring_child_u16", Flag(false)),
                ("caring_adult", Flag(false)),
                ("health_condition", Text("N")),
                ("claiming_benefits", Flag(true)),
                ("embedded_date", Date("2019-03-10")),
            ],
        ),
        with(
            base("q04", "L1", "HTR", "2020-03-22"),
            vec![
                ("gender", Text("M")),
                ("age_at_registration", Int(34)),
                ("ethnicity", Text("B1")),
                ("highest_qualification", Text("L2")),
                ("caring_child_u16", Flag(false)),
                ("caring_adult", Flag(true)),
                ("health_condition", Text("X")),
                ("claiming_benefits", Flag(false)),
                ("embedded_date", Date("2020-04-01")),
                ("job_start_date", Date("2020-06-01")),
                ("sustained_13_date", Date("2020-09-01")),
            ],
        ),
        with(
            base("q05", "L1", "HTR", "2020-03-23"),
            vec![
                ("gender", Text("F")),
                ("age_at_registration", Int(35)),
                ("ethnicity", Text("X")),
                ("highest_qualification", Text("L3")),
                ("health_condition", Text("N")),
                ("claiming_benefits", Flag(false)),
                ("embedded_date", Date("2020-04-10")),
            ],
        ),
        with(
            base("q06", "L2", "HTR", "2020-04-01"),
            vec![
                ("gender", Text("X")),
                ("age_at_registration", Int(44)),
                ("ethnicity", Text("W2")),
                ("highest_qualification", Text("L4PLUS")),
                ("caring_child_u16", Flag(true)),
                ("caring_adult", Flag(false)),
                ("health_condition", Text("Y")),
                ("embedded_date", Date("2020-05-01")),
                ("job_start_date", Date("2020-08-01")),
            ],
        ),
        with(
            base("q07", "L2", "RP", "2020-05-05"),
            vec![
                ("gender", Text("M")),
                ("age_at_registration", Int(45)),
                ("ethnicity", Text("M1")),
                ("highest_qualification", Text("OTHER")),
                ("caring_child_u16", Flag(false)),
                ("caring_adult", Flag(false)),
                ("health_condition", Text("N")),
                ("claiming_benefits", Flag(false)),
                ("embedded_date", Date("2020-06-01")),
                ("job_start_date", Date("2020-07-01")),
                ("sustained_13_date", Date("2020-10-01")),
            ],
        ),
        with(
            base("q08", "L2", "RP", "2020-06-30"),
            vec![
                ("gender", Text("F")),
                ("age_at_registration", Int(49)),
                ("ethnicity", Text("W1")),
                ("caring_child_u16", Flag(true)),
                ("sole_carer", Flag(true)),
                ("caring_adult", Flag(false)),
                ("health_condition", Text("N")),
                ("claiming_benefits", Flag(true)),
            ],
        ),
        with(
            base("q09", "L2", "RP", "2021-01-05"),
            vec![
                ("gender", Text("F")),
                ("age_at_registration", Int(50)),
                ("ethnicity", Text("O1")),
                ("highest_qualification", Text("NONE")),
                ("caring_child_u16", Flag(false)),
                ("caring_adult", Flag(false)),
                ("claiming_benefits", Flag(true)),
                ("embedded_date", Date("2021-02-01")),
                ("job_start_date", Date("2021-03-01")),
            ],
        ),
        with(
            base("q10", "L3", "RP", "2021-02-01"),
            vec![
                ("gender", Text("M")),
                ("age_at_registration", Int(54)),
                ("ethnicity", Text("W1")),
                ("highest_qualification", Text("L2")),
                ("caring_adult", Flag(false)),
                ("health_condition", Text("Y")),
                ("claiming_benefits", Flag(false)),
                ("embedded_date", Date("2021-03-01")),
            ],
        ),
        with(
            base("q11", "L3", "HTH", "2021-03-01"),
            vec![
                ("gender", Text("M")),
                ("age_at_registration", Int(55)),
                ("ethnicity", Text("W1")),
                ("highest_qualification", Text("L3")),
                ("caring_child_u16", Flag(true)),
                ("sole_carer", Flag(false)),
                ("caring_adult", Flag(false)),
                ("health_condition", Text("N")),
                ("claiming_benefits", Flag(false)),
                ("embedded_date", Date("2021-04-01")),
                ("job_start_date", Date("2021-05-01")),
                ("sustained_13_date", Date("2021-08-01")),
            ],
        ),
        with(
            base("q12", "L3", "HTH", "2021-03-15"),
            vec![("gender", Text("F")), ("ethnicity", Text("A3"))],
        ),
        with(
            base("q13", "L1", "EMP", "2019-03-01"),
            vec![
                ("gender", Text("F")),
                ("age_at_registration", Int(30)),
                ("ethnicity", Text("W1")),
                ("highest_qualification", Text("L3")),
                ("caring_child_u16", Flag(true)),
                ("sole_carer", Flag(true)),
                ("caring_adult", Flag(false)),
                ("health_condition", Text("N")),
                ("claiming_benefits", Flag(false)),
                ("hours_per_week", Num(15.5)),
                ("weekly_earnings", Pence(9999)),
                ("contract_type", Text("PERM")),
                ("embedded_date", Date("2019-04-01")),
                ("progression_date", Date("2019-10-01")),
                ("progression_employer", Text("SAME")),
            ],
        ),
        with(
            base("q14", "L2", "EMP", "2019-04-01"),
            vec![
                ("gender", Text("M")),
                ("age_at_registration", Int(40)),
                ("ethnicity", Text("A1")),
                ("highest_qualification", Text("L2")),
                ("caring_child_u16", Flag(false)),
                ("caring_adult", Flag(false)),
                ("health_condition", Text("N")),
                ("claiming_benefits", Flag(true)),
                ("hours_per_week", Num(16.0)),
                ("weekly_earnings", Pence(10000)),
                ("contract_type", Text("ZERO")),
                ("embedded_date", Date("2019-05-01")),
                ("progression_date", Date("2019-11-01")),
                ("progression_employer", Text("DIFFERENT")),
            ],
        ),
        with(
            base("q15", "L3", "EMP", "2020-07-01"),
            vec![
                ("gender", Text("F")),
                ("age_at_registration", Int(60)),
                ("ethnicity", Text("W1")),
                ("highest_qualification", Text("L4PLUS")),
                ("caring_child_u16", Flag(false)),
                ("caring_adult", Flag(true)),
                ("health_condition", Text("Y")),
                ("hours_per_week", Num(35.0)),
                ("weekly_earnings", Pence(35000)),
                ("contract_type", Text("PERM")),
                ("embedded_date", Date("2020-08-01")),
            ],
        ),
        with(
            base("q16", "L3", "EMP", "2021-06-01"),
            vec![
                ("gender", Text("F")),
                ("age_at_registration", Int(22)),
                ("ethnicity", Text("B2")),
                ("health_condition", Text("N")),
                ("claiming_benefits", Flag(true)),
                ("contract_type", Text("AGENCY")),
                ("progression_date", Date("2021-12-01")),
                ("progression_employer", Text("DIFFERENT")),
            ],
        ),
    ]
}

/// The answers of the profiles fixture: `heard` (q02 ticks two options of one Table 4-1 group,
/// q07 and q13 options of two groups, q09 only a "no"), `barrier`, `agreed_action` and
/// `completed_action` (q05 and q10 only a "no", q05 with no agreed action: the two questions'
/// bases differ), and `health_type`.
const PROFILE_ANSWERS: &[Answer] = &[
    ("q01", "L1", "heard", "leaflet_event", true),
    ("q01", "L1", "heard", "jcp", false),
    ("q02", "L1", "heard", "social_media", true),
    ("q02", "L1", "heard", "outreach", true),
    ("q03", "L1", "heard", "jcp", true),
    ("q05", "L1", "heard", "friends_family", true),
    ("q07", "L2", "heard", "other_org", true),
    ("q07", "L2", "heard", "jcp", true),
    ("q09", "L2", "heard", "jcp", false),
    ("q13", "L1", "heard", "leaflet_event", true),
    ("q13", "L1", "heard", "friends_family", true),
    ("q15", "L3", "heard", "outreach", true),
    ("q01", "L1", "barrier", "employability", true),
    ("q01", "L1", "barrier", "confidence", true),
    ("q02", "L1", "barrier", "employability", true),
    ("q03", "L1", "barrier", "esol", true),
    ("q11", "L3", "barrier", "confidence", false),
    ("q14", "L2", "barrier", "debt", true),
    ("q01", "L1", "agreed_action", "cv", true),
    ("q01", "L1", "agreed_action", "apply_job", true),
    ("q02", "L1", "agreed_action", "cv", true),
    ("q07", "L2", "agreed_action", "cv", false),
    ("q07", "L2", "agreed_action", "interview", true),
    ("q13", "L1", "agreed_action", "current_work_support", true),
    ("q01", "L1", "completed_action", "cv", true),
    ("q02", "L1", "completed_action", "cv", false),
    ("q05", "L1", "completed_action", "cv", false),
    ("q07", "L2", "completed_action", "interview", true),
    ("q07", "L2", "completed_action", "match_skills", true),
    ("q10", "L3", "completed_action", "coaching", false),
    ("q01", "L1", "health_type", "anxiety", true),
    ("q01", "L1", "health_type", "depression", true),
    ("q06", "L2", "health_type", "physical", true),
    ("q10", "L3", "health_type", "anxiety", false),
    ("q10", "L3", "health_type", "learning", true),
];

/// The `participants` schema ingest writes: key and lot, every non-identifier column of the MI
/// dictionary in order, derived columns, then the source location.
pub fn participants_schema(study: &Study) -> SchemaRef {
    let mut fields = vec![
        Field::new("participant_id", DataType::Utf8, false),
        Field::new("lot_code", DataType::Utf8, false),
    ];
    for c in &study.mi.columns {
        if c.identifier.is_some() || c.name == "lot_code" {
            continue;
        }
        let kind = match c.kind {
            ColumnType::Text | ColumnType::Code => DataType::Utf8,
            ColumnType::Flag => DataType::Boolean,
            ColumnType::Date => DataType::Date32,
            ColumnType::Integer => DataType::Int64,
            ColumnType::Number => DataType::Float64,
            ColumnType::Money => DataType::Decimal128(12, 2),
        };
        fields.push(Field::new(&c.name, kind, true));
    }
    for d in &study.mi.derived {
        fields.push(Field::new(&d.name, DataType::Int64, true));
    }
    fields.push(Field::new("source_file", DataType::Utf8, false));
    fields.push(Field::new("source_row", DataType::Int64, false));
    fields.push(Field::new("place", DataType::Int64, false));
    Arc::new(Schema::new(fields))
}

fn participants(study: &Study) -> Result<RecordBatch> {
    use Cell::{Date, Int, Text};
    // (id, lot, cohort, registered, other columns)
    let rows: Vec<Vec<(&str, Cell)>> = vec![
        vec![
            ("participant_id", Text("p01")),
            ("lot_code", Text("L1")),
            ("payment_group", Text("HTH")),
            ("registration_date", Date("2019-01-10")),
            ("embedded_date", Date("2019-02-20")),
            ("job_start_date", Date("2019-04-01")),
            ("sustained_13_date", Date("2019-07-01")),
            ("gender", Text("F")),
            ("age_at_registration", Int(34)),
        ],
        vec![
            ("participant_id", Text("p02")),
            ("lot_code", Text("L1")),
            ("payment_group", Text("HTH")),
            ("registration_date", Date("2019-03-05")),
            ("embedded_date", Date("2019-04-15")),
            ("gender", Text("M")),
            ("age_at_registration", Int(51)),
        ],
        vec![
            ("participant_id", Text("p03")),
            ("lot_code", Text("L1")),
            ("payment_group", Text("HTH")),
            ("registration_date", Date("2020-05-01")),
        ],
        vec![
            ("participant_id", Text("p04")),
            ("lot_code", Text("L2")),
            ("payment_group", Text("HTH")),
            ("registration_date", Date("2020-06-10")),
            ("embedded_date", Date("2020-07-20")),
            ("job_start_date", Date("2020-09-01")),
        ],
        vec![
            ("participant_id", Text("p05")),
            ("lot_code", Text("L1")),
            ("payment_group", Text("HTR")),
            ("registration_date", Date("2019-05-01")),
            ("embedded_date", Date("2019-06-10")),
        ],
        vec![
            ("participant_id", Text("p06")),
            ("lot_code", Text("L2")),
            ("payment_group", Text("HTR")),
            ("registration_date", Date("2021-01-15")),
            ("embedded_date", Date("2021-02-20")),
            ("job_start_date", Date("2021-03-01")),
            ("sustained_13_date", Date("2021-06-01")),
            ("sustained_26_date", Date("2021-09-01")),
        ],
        vec![
            ("participant_id", Text("p07")),
            ("lot_code", Text("L1")),
            ("payment_group", Text("RP")),
            ("registration_date", Date("2019-02-01")),
            ("embedded_date", Date("2019-03-10")),
            ("job_start_date", Date("2019-03-20")),
        ],
        vec![
            ("participant_id", Text("p08")),
            ("lot_code", Text("L2")),
            ("payment_group", Text("RP")),
            ("registration_date", Date("2020-02-01")),
            ("embedded_date", Date("2020-03-01")),
        ],
        vec![
            ("participant_id", Text("p09")),
            ("lot_code", Text("L2")),
            ("payment_group", Text("RP")),
            ("registration_date", Date("2020-04-01")),
            ("job_start_date", Date("2020-05-01")),
            ("progression_date", Date("2020-10-01")),
        ],
        vec![
            ("participant_id", Text("p10")),
            ("lot_code", Text("L1")),
            ("payment_group", Text("EMP")),
            ("registration_date", Date("2019-06-01")),
            ("embedded_date", Date("2019-06-20")),
            ("hours_per_week", Cell::Int(12)),
        ],
    ];
    participants_batch(study, rows)
}

/// The fixture's files in ingest's reading order: `mi_fixture.csv`, then the claims.
const MI_FILE: u64 = 1;
const CLAIMS_FILE: u64 = 2;

fn participants_batch(study: &Study, rows: Vec<Vec<(&'static str, Cell)>>) -> Result<RecordBatch> {
    use Cell::{Int, Text};
    let rows: Vec<BTreeMap<&str, Cell>> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let mut map: BTreeMap<&str, Cell> = r.into_iter().collect();
            map.insert("source_file", Text("mi_fixture.csv"));
            map.insert("source_row", Int(i as i64 + 2));
            map.insert("place", Int(evalpipe_study::place(MI_FILE, i as u64 + 2)));
            map
        })
        .collect();
    let schema = participants_schema(study);
    let columns = schema
        .fields()
        .iter()
        .map(|f| column(f.name(), f.data_type(), &rows))
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(schema, columns).map_err(internal)
}

/// (participant, lot, question, option, answer)
type Answer = (&'static str, &'static str, &'static str, &'static str, bool);

fn answers(participants: &RecordBatch) -> Result<RecordBatch> {
    answers_batch(
        &[
            ("p01", "L1", "heard", "leaflet_event", true),
            ("p01", "L1", "heard", "jcp", false),
            ("p02", "L1", "heard", "social_media", true),
            ("p02", "L1", "heard", "outreach", true),
            ("p03", "L1", "heard", "other", true),
            ("p04", "L2", "heard", "jcp", true),
            ("p04", "L2", "heard", "friends_family", true),
            ("p05", "L1", "heard", "leaflet_event", false),
            ("p01", "L1", "barrier", "employability", true),
            ("p01", "L1", "barrier", "confidence", true),
            ("p01", "L1", "barrier", "esol", false),
            ("p02", "L1", "barrier", "employability", true),
            ("p02", "L1", "barrier", "debt", false),
            ("p03", "L1", "barrier", "employability", true),
            ("p03", "L1", "barrier", "confidence", true),
            ("p03", "L1", "barrier", "esol", true),
            ("p06", "L2", "barrier", "debt", false),
            ("p01", "L1", "agreed_action", "cv", true),
            ("p01", "L1", "agreed_action", "apply_job", true),
            ("p02", "L1", "agreed_action", "cv", true),
            ("p07", "L1", "agreed_action", "cv", false),
            ("p07", "L1", "agreed_action", "interview", true),
            ("p01", "L1", "completed_action", "interview", true),
            ("p01", "L1", "health_type", "anxiety", true),
        ],
        participants,
    )
}

/// The answers as ingest writes them: one row per participant and question with any flag
/// recorded, listing the options answered yes (in the order given here), in the participants'
/// (file, row) order as ingest's tables are.
fn answers_batch(rows: &[Answer], participants: &RecordBatch) -> Result<RecordBatch> {
    let wrong = |message: String| Error::Internal {
        context: "building the fixture".into(),
        message,
    };
    let column = |name: &str| {
        participants
            .column_by_name(name)
            .ok_or_else(|| wrong(format!("the participants fixture has no {name}")))
    };
    let (ids, lots, files, source_rows, places) = (
        column("participant_id")?.as_string::<i32>(),
        column("lot_code")?.as_string::<i32>(),
        column("source_file")?.as_string::<i32>(),
        column("source_row")?.as_primitive::<Int64Type>(),
        column("place")?.as_primitive::<Int64Type>(),
    );
    let place = |id: &str, lot: &str| {
        (0..participants.num_rows())
            .find(|&i| ids.value(i) == id && lots.value(i) == lot)
            .ok_or_else(|| {
                wrong(format!(
                    "an answer of {id} ({lot}), not a fixture participant"
                ))
            })
    };
    let mut keys: Vec<(usize, &'static str, &'static str, &'static str)> = Vec::new();
    for r in rows {
        let at = place(r.0, r.1)?;
        if !keys.iter().any(|k| (k.1, k.2, k.3) == (r.0, r.1, r.2)) {
            keys.push((at, r.0, r.1, r.2));
        }
    }
    keys.sort_by_key(|k| k.0);
    let mut ticked = ListBuilder::new(StringBuilder::new());
    for &(_, id, lot, question) in &keys {
        for r in rows {
            if (r.0, r.1, r.2) == (id, lot, question) && r.4 {
                ticked.values().append_value(r.3);
            }
        }
        ticked.append(true);
    }
    let text =
        |f: fn(&(usize, &'static str, &'static str, &'static str)) -> &'static str| -> ArrayRef {
            Arc::new(StringArray::from(keys.iter().map(f).collect::<Vec<_>>()))
        };
    RecordBatch::try_from_iter_with_nullable([
        ("participant_id", text(|k| k.1), false),
        ("lot_code", text(|k| k.2), false),
        ("question", text(|k| k.3), false),
        ("ticked", Arc::new(ticked.finish()) as ArrayRef, true),
        (
            "source_file",
            Arc::new(StringArray::from(
                keys.iter().map(|k| files.value(k.0)).collect::<Vec<_>>(),
            )) as ArrayRef,
            false,
        ),
        (
            "source_row",
            Arc::new(Int64Array::from(
                keys.iter()
                    .map(|k| source_rows.value(k.0))
                    .collect::<Vec<_>>(),
            )) as ArrayRef,
            false,
        ),
        (
            "place",
            Arc::new(Int64Array::from(
                keys.iter().map(|k| places.value(k.0)).collect::<Vec<_>>(),
            )) as ArrayRef,
            false,
        ),
    ])
    .map_err(internal)
}

/// (participant, lot, cohort, milestone, milestone date, amount in pence, status)
pub(crate) type Claim = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i128,
    &'static str,
);

fn claims() -> Result<RecordBatch> {
    claims_batch(vec![
        ("p01", "L1", "HTH", "REG", "2019-01-10", 10000, "VALIDATED"),
        ("p02", "L1", "HTH", "REG", "2019-03-05", 10000, "VALIDATED"),
        ("p03", "L1", "HTH", "REG", "2020-05-01", 10000, "VALIDATED"),
        ("p04", "L2", "HTH", "REG", "2020-06-10", 10000, "VALIDATED"),
        ("p05", "L1", "HTR", "REG", "2019-05-01", 10000, "VALIDATED"),
        ("p06", "L2", "HTR", "REG", "2021-01-15", 10000, "VALIDATED"),
        ("p07", "L1", "RP", "REG", "2019-02-01", 10000, "VALIDATED"),
        ("p08", "L2", "RP", "REG", "2020-02-01", 10000, "VALIDATED"),
        ("p09", "L2", "RP", "REG", "2020-04-01", 10000, "VALIDATED"),
        ("p10", "L1", "EMP", "REG", "2019-06-01", 10000, "VALIDATED"),
        ("p99", "L2", "HTR", "REG", "2021-03-01", 10000, "VALIDATED"),
        ("p01", "L1", "HTH", "EMB", "2019-02-20", 25000, "VALIDATED"),
        ("p02", "L1", "HTH", "EMB", "2019-04-15", 25000, "VALIDATED"),
        ("p04", "L2", "HTH", "EMB", "2020-07-20", 25000, "QUERIED"),
        ("p05", "L1", "HTR", "EMB", "2019-06-10", 25000, "VALIDATED"),
        ("p06", "L2", "HTR", "EMB", "2021-02-20", 25000, "VALIDATED"),
        ("p07", "L1", "RP", "EMB", "2019-03-10", 25000, "VALIDATED"),
        ("p08", "L2", "RP", "EMB", "2020-03-01", 25000, "VALIDATED"),
        ("p10", "L1", "EMP", "EMB", "2019-06-20", 25000, "VALIDATED"),
        ("p01", "L1", "HTH", "JS", "2019-04-01", 88900, "VALIDATED"),
        ("p02", "L1", "HTH", "JS", "2019-06-03", 88900, "VALIDATED"),
        ("p04", "L2", "HTH", "JS", "2020-09-01", 88900, "REJECTED"),
        ("p07", "L1", "RP", "JS", "2019-03-20", 40000, "VALIDATED"),
        ("p09", "L2", "RP", "JS", "2020-05-01", 40000, "VALIDATED"),
        ("p01", "L1", "HTH", "S13", "2019-07-01", 50000, "VALIDATED"),
        ("p02", "L1", "HTH", "S13", "2019-09-02", 50000, "VALIDATED"),
        ("p07", "L1", "RP", "S13", "2019-06-20", 30000, "VALIDATED"),
        ("p07", "L1", "RP", "S26", "2019-09-20", 30000, "VALIDATED"),
        ("p07", "L1", "RP", "S52", "2020-03-20", 30000, "VALIDATED"),
        ("p09", "L2", "RP", "PROG", "2020-10-05", 20000, "VALIDATED"),
        ("p10", "L1", "EMP", "PROG", "2019-12-01", 20000, "VALIDATED"),
    ])
}

fn claims_batch(rows: Vec<Claim>) -> Result<RecordBatch> {
    claims_batch_submitted(rows, &[])
}

/// Claims, submitted on their milestone date unless `submitted` gives (participant, milestone,
/// submission date).
fn claims_batch_submitted(
    mut rows: Vec<Claim>,
    submitted: &[(&str, &str, &'static str)],
) -> Result<RecordBatch> {
    // Claims arrive in claim_ref order, not grouped by milestone as written above.
    rows.sort_by(|a, b| (a.0, a.4).cmp(&(b.0, b.4)));
    let n = rows.len();
    let strings = |values: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(values)) };
    let dates = |f: &dyn Fn(usize) -> &'static str| -> Result<ArrayRef> {
        let days = (0..n).map(|i| day(f(i))).collect::<Result<Vec<i32>>>()?;
        Ok(Arc::new(Date32Array::from(days)))
    };
    let amounts = Decimal128Array::from(rows.iter().map(|r| r.5).collect::<Vec<_>>())
        .with_precision_and_scale(12, 2)
        .map_err(internal)?;
    let rows_ref = &rows;
    RecordBatch::try_from_iter_with_nullable([
        (
            "claim_ref",
            strings((1..=n).map(|i| format!("C{i:04}")).collect()),
            false,
        ),
        (
            "lot_code",
            strings(rows.iter().map(|r| r.1.to_string()).collect()),
            false,
        ),
        (
            "participant_id",
            strings(rows.iter().map(|r| r.0.to_string()).collect()),
            false,
        ),
        (
            "payment_group",
            strings(rows.iter().map(|r| r.2.to_string()).collect()),
            false,
        ),
        (
            "milestone",
            strings(rows.iter().map(|r| r.3.to_string()).collect()),
            false,
        ),
        ("milestone_date", dates(&|i| rows_ref[i].4)?, false),
        // Submitted on the milestone date (a valid one: not before it) unless given later.
        (
            "submitted_date",
            dates(&|i| {
                let r = &rows_ref[i];
                submitted
                    .iter()
                    .find(|(p, m, _)| *p == r.0 && *m == r.3)
                    .map_or(r.4, |s| s.2)
            })?,
            false,
        ),
        ("amount_gbp", Arc::new(amounts) as ArrayRef, false),
        (
            "status",
            strings(rows.iter().map(|r| r.6.to_string()).collect()),
            false,
        ),
        (
            "counted",
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.6 == "VALIDATED").collect::<Vec<_>>(),
            )) as ArrayRef,
            false,
        ),
        (
            "source_file",
            strings(vec!["claims_fixture.csv".to_string(); n]),
            false,
        ),
        (
            "source_row",
            Arc::new(Int64Array::from((2..n as i64 + 2).collect::<Vec<_>>())) as ArrayRef,
            false,
        ),
        (
            "place",
            Arc::new(Int64Array::from(
                (2..n as u64 + 2)
                    .map(|row| evalpipe_study::place(CLAIMS_FILE, row))
                    .collect::<Vec<_>>(),
            )) as ArrayRef,
            false,
        ),
    ])
    .map_err(internal)
}

/// One column of `participants` from the fixture rows; absent cells are nulls.
fn column(name: &str, kind: &DataType, rows: &[BTreeMap<&str, Cell>]) -> Result<ArrayRef> {
    let cells = rows.iter().map(|r| r.get(name));
    let mismatch = || Error::Internal {
        context: "building the fixture".into(),
        message: format!("column `{name}` ({kind}) given a value of another type"),
    };
    Ok(match kind {
        DataType::Utf8 => Arc::new(StringArray::from(
            cells
                .map(|c| match c {
                    None => Ok(None),
                    Some(Cell::Text(s)) => Ok(Some(*s)),
                    Some(_) => Err(mismatch()),
                })
                .collect::<Result<Vec<_>>>()?,
        )),
        DataType::Date32 => Arc::new(Date32Array::from(
            cells
                .map(|c| match c {
                    None => Ok(None),
                    Some(Cell::Date(s)) => day(s).map(Some),
                    Some(_) => Err(mismatch()),
                })
                .collect::<Result<Vec<_>>>()?,
        )),
        DataType::Int64 => Arc::new(Int64Array::from(
            cells
                .map(|c| match c {
                    None => Ok(None),
                    Some(Cell::Int(v)) => Ok(Some(*v)),
                    Some(_) => Err(mismatch()),
                })
                .collect::<Result<Vec<_>>>()?,
        )),
        DataType::Float64 => Arc::new(Float64Array::from(
            cells
                .map(|c| match c {
                    None => Ok(None),
                    Some(Cell::Int(v)) => Ok(Some(*v as f64)),
                    Some(Cell::Num(v)) => Ok(Some(*v)),
                    Some(_) => Err(mismatch()),
                })
                .collect::<Result<Vec<_>>>()?,
        )),
        DataType::Boolean => Arc::new(BooleanArray::from(
            cells
                .map(|c| match c {
                    None => Ok(None),
                    Some(Cell::Flag(v)) => Ok(Some(*v)),
                    Some(_) => Err(mismatch()),
                })
                .collect::<Result<Vec<_>>>()?,
        )),
        DataType::Decimal128(p, s) => Arc::new(
            Decimal128Array::from(
                cells
                    .map(|c| match c {
                        None => Ok(None),
                        Some(Cell::Pence(v)) => Ok(Some(*v)),
                        Some(_) => Err(mismatch()),
                    })
                    .collect::<Result<Vec<_>>>()?,
            )
            .with_precision_and_scale(*p, *s)
            .map_err(internal)?,
        ),
        other => {
            return Err(Error::Internal {
                context: "building the fixture".into(),
                message: format!("no fixture values for type {other}"),
            });
        }
    })
}

fn day(iso: &str) -> Result<i32> {
    NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(Date32Type::from_naive_date)
        .map_err(|e| Error::Internal {
            context: "building the fixture".into(),
            message: format!("`{iso}`: {e}"),
        })
}

fn internal(e: arrow::error::ArrowError) -> Error {
    Error::Internal {
        context: "building the fixture".into(),
        message: e.to_string(),
    }
}
