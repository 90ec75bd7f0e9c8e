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
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use evalpipe_study::{ColumnType, RunLayout, Study};

use crate::output::write_parquet;
use crate::{Error, Result};

/// A value in a fixture row.
#[derive(Debug, Clone)]
enum Cell {
    Text(&'static str),
    Date(&'static str),
    Int(i64),
}

/// Writes `participants`, `participant_answers` and `claims` into `layout`'s `ingest/` folder.
pub fn write(study: &Study, layout: &RunLayout) -> Result<()> {
    let participants = participants(study)?;
    let answers = answers()?;
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
    let rows: Vec<BTreeMap<&str, Cell>> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let mut map: BTreeMap<&str, Cell> = r.into_iter().collect();
            map.insert("source_file", Text("mi_fixture.csv"));
            map.insert("source_row", Int(i as i64 + 2));
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

fn answers() -> Result<RecordBatch> {
    let rows: &[Answer] = &[
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
    ];
    let text = |f: fn(&Answer) -> &'static str| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    RecordBatch::try_from_iter_with_nullable([
        ("participant_id", text(|r| r.0), false),
        ("lot_code", text(|r| r.1), false),
        ("question", text(|r| r.2), false),
        ("option", text(|r| r.3), false),
        (
            "answer",
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            )) as ArrayRef,
            false,
        ),
    ])
    .map_err(internal)
}

fn claims() -> Result<RecordBatch> {
    // (participant, lot, cohort, milestone, milestone date, amount in pence, status)
    let mut rows: Vec<(&str, &str, &str, &str, &str, i128, &str)> = vec![
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
    ];
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
        // No query reads the submission date; the milestone date is a valid one (not before it).
        ("submitted_date", dates(&|i| rows_ref[i].4)?, false),
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
                    Some(_) => Err(mismatch()),
                })
                .collect::<Result<Vec<_>>>()?,
        )),
        DataType::Boolean => Arc::new(BooleanArray::from(vec![None::<bool>; rows.len()])),
        DataType::Decimal128(p, s) => Arc::new(
            Decimal128Array::from(vec![None::<i128>; rows.len()])
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
