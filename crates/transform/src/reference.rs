//! Reference tables: the study configuration as tables, so SQL joins to labels, orders and
//! targets instead of repeating them.
//!
//! Each is written to `<run>/tables/reference/<name>.parquet` (and `.csv`, to inspect) before any
//! query runs, then registered under `<name>`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::Date32Type;
use chrono::NaiveDate;
use evalpipe_study::Study;

use crate::{Error, Result};

/// Names of the reference tables, in the order they are built.
pub const REFERENCE_TABLES: [&str; 10] = [
    "lots",
    "cohorts",
    "milestones",
    "milestone_cohorts",
    "milestone_payments",
    "codes",
    "code_groups",
    "questions",
    "periods",
    "claims_cutoffs",
];

/// Builds every reference table from the study, as `(name, batch)` in [`REFERENCE_TABLES`] order.
pub fn reference_tables(study: &Study) -> Result<Vec<(&'static str, RecordBatch)>> {
    Ok(vec![
        ("lots", lots(study)?),
        ("cohorts", cohorts(study)?),
        ("milestones", milestones(study)?),
        ("milestone_cohorts", milestone_cohorts(study)?),
        ("milestone_payments", milestone_payments(study)?),
        ("codes", codes(study)?),
        ("code_groups", code_groups(study)?),
        ("questions", questions(study)?),
        ("periods", periods(study)?),
        ("claims_cutoffs", claims_cutoffs(study)?),
    ])
}

/// A column: name, values, whether it may hold nulls.
type Column = (&'static str, ArrayRef, bool);

fn batch(table: &str, columns: Vec<Column>) -> Result<RecordBatch> {
    RecordBatch::try_from_iter_with_nullable(columns).map_err(|e| Error::Internal {
        context: format!("building reference table `{table}`"),
        message: e.to_string(),
    })
}

fn text<S: AsRef<str>>(name: &'static str, values: impl IntoIterator<Item = S>) -> Column {
    let values: Vec<String> = values.into_iter().map(|s| s.as_ref().to_string()).collect();
    (name, Arc::new(StringArray::from(values)), false)
}

fn int(name: &'static str, values: impl IntoIterator<Item = i64>) -> Column {
    let values: Vec<i64> = values.into_iter().collect();
    (name, Arc::new(Int64Array::from(values)), false)
}

fn opt_int(name: &'static str, values: impl IntoIterator<Item = Option<i64>>) -> Column {
    let values: Vec<Option<i64>> = values.into_iter().collect();
    (name, Arc::new(Int64Array::from(values)), true)
}

fn flag(name: &'static str, values: impl IntoIterator<Item = bool>) -> Column {
    let values: Vec<bool> = values.into_iter().collect();
    (name, Arc::new(BooleanArray::from(values)), false)
}

fn date(name: &'static str, values: impl IntoIterator<Item = NaiveDate>) -> Column {
    let values: Vec<i32> = values
        .into_iter()
        .map(Date32Type::from_naive_date)
        .collect();
    (name, Arc::new(Date32Array::from(values)), false)
}

/// Whole pounds as the `Decimal128(12, 2)` ingest uses for money, so amounts compare and add
/// without casts.
fn pounds(
    table: &str,
    name: &'static str,
    values: impl IntoIterator<Item = u64>,
) -> Result<Column> {
    let values: Vec<i128> = values.into_iter().map(|v| i128::from(v) * 100).collect();
    let array = Decimal128Array::from(values)
        .with_precision_and_scale(12, 2)
        .map_err(|e| Error::Internal {
            context: format!("building reference table `{table}`"),
            message: e.to_string(),
        })?;
    Ok((name, Arc::new(array), false))
}

/// 1-based positions, the `*_order` columns SQL sorts by.
fn order(len: usize) -> impl Iterator<Item = i64> {
    (1..=len).map(|i| i as i64)
}

fn lots(study: &Study) -> Result<RecordBatch> {
    let l = &study.lots;
    batch(
        "lots",
        vec![
            int("lot_order", order(l.len())),
            text("lot_code", l.iter().map(|x| &x.code)),
            text("lot_name", l.iter().map(|x| &x.name)),
            text("local_authority", l.iter().map(|x| &x.local_authority)),
            text("provider_group", l.iter().map(|x| &x.provider_group)),
            text("group_description", l.iter().map(|x| &x.group_description)),
            text(
                "lead_organisation_type",
                l.iter().map(|x| &x.lead_organisation_type),
            ),
            pounds("lots", "lot_value_gbp", l.iter().map(|x| x.lot_value_gbp))?,
            flag("constituent_member", l.iter().map(|x| x.constituent_member)),
            opt_int(
                "report_lot_number",
                l.iter().map(|x| x.report_lot_number.map(i64::from)),
            ),
        ],
    )
}

fn cohorts(study: &Study) -> Result<RecordBatch> {
    let c = &study.cohorts;
    batch(
        "cohorts",
        vec![
            text("cohort_code", c.iter().map(|x| &x.code)),
            text("cohort_name", c.iter().map(|x| &x.name)),
            text("description", c.iter().map(|x| &x.description)),
            flag("out_of_work", c.iter().map(|x| x.out_of_work)),
            int("report_order", c.iter().map(|x| i64::from(x.report_order))),
        ],
    )
}

fn milestones(study: &Study) -> Result<RecordBatch> {
    let m = &study.milestones;
    let to_i64 = |v: u64| i64::try_from(v).ok();
    batch(
        "milestones",
        vec![
            text("milestone_code", m.iter().map(|x| &x.code)),
            text("milestone_name", m.iter().map(|x| &x.name)),
            int("milestone_order", order(m.len())),
            opt_int("target", m.iter().map(|x| x.target.and_then(to_i64))),
            opt_int(
                "published_pct_of_target",
                m.iter().map(|x| x.published_pct_of_target.map(i64::from)),
            ),
        ],
    )
}

fn milestone_cohorts(study: &Study) -> Result<RecordBatch> {
    let pairs: Vec<(&String, &String)> = study
        .milestones
        .iter()
        .flat_map(|m| m.cohorts.iter().map(move |c| (&m.code, c)))
        .collect();
    batch(
        "milestone_cohorts",
        vec![
            text("milestone_code", pairs.iter().map(|p| p.0)),
            text("cohort_code", pairs.iter().map(|p| p.1)),
        ],
    )
}

fn milestone_payments(study: &Study) -> Result<RecordBatch> {
    let rows: Vec<(&String, &String, u64)> = study
        .milestones
        .iter()
        .flat_map(|m| m.payment_gbp.iter().map(move |(c, v)| (&m.code, c, *v)))
        .collect();
    batch(
        "milestone_payments",
        vec![
            text("milestone_code", rows.iter().map(|r| r.0)),
            text("cohort_code", rows.iter().map(|r| r.1)),
            pounds(
                "milestone_payments",
                "payment_gbp",
                rows.iter().map(|r| r.2),
            )?,
        ],
    )
}

fn codes(study: &Study) -> Result<RecordBatch> {
    let rows: Vec<(&String, &String, &String, i64)> = study
        .codes
        .iter()
        .flat_map(|(list, codes)| {
            codes
                .iter()
                .zip(order(codes.len()))
                .map(move |(c, i)| (list, &c.code, &c.label, i))
        })
        .collect();
    batch(
        "codes",
        vec![
            text("code_list", rows.iter().map(|r| r.0)),
            text("code", rows.iter().map(|r| r.1)),
            text("label", rows.iter().map(|r| r.2)),
            int("code_order", rows.iter().map(|r| r.3)),
        ],
    )
}

fn code_groups(study: &Study) -> Result<RecordBatch> {
    // A group's order is where its label first appears in the code list: the lists are written
    // in the report's row order, so the groups come out in the report's order too.
    let mut rows: Vec<(&String, &String, &String, &String, i64)> = Vec::new();
    for (list, codes) in &study.codes {
        // Labels of each grouping of this list, in order of first appearance.
        let mut seen: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
        for c in codes {
            for (grouping, label) in &c.group {
                let labels = seen.entry(grouping).or_default();
                let position = match labels.iter().position(|l| *l == label) {
                    Some(p) => p,
                    None => {
                        labels.push(label);
                        labels.len() - 1
                    }
                };
                rows.push((list, &c.code, grouping, label, position as i64 + 1));
            }
        }
    }
    batch(
        "code_groups",
        vec![
            text("code_list", rows.iter().map(|r| r.0)),
            text("code", rows.iter().map(|r| r.1)),
            text("grouping", rows.iter().map(|r| r.2)),
            text("group_label", rows.iter().map(|r| r.3)),
            int("group_order", rows.iter().map(|r| r.4)),
        ],
    )
}

fn questions(study: &Study) -> Result<RecordBatch> {
    let q = &study.mi.questions;
    batch(
        "questions",
        vec![
            text("question", q.iter().map(|x| &x.id)),
            text("label", q.iter().map(|x| &x.label)),
            text("code_list", q.iter().map(|x| &x.options)),
            int("question_order", order(q.len())),
        ],
    )
}

fn periods(study: &Study) -> Result<RecordBatch> {
    let p = &study.periods;
    batch(
        "periods",
        vec![
            date("mi_start", [p.mi_start]),
            date("mi_end", [p.mi_end]),
            date("programme_start", [p.programme_start]),
            date("programme_end", [p.programme_end]),
            date("claims_validated_to", [p.claims_validated_to]),
            date("first_lockdown", [p.first_lockdown]),
        ],
    )
}

fn claims_cutoffs(study: &Study) -> Result<RecordBatch> {
    let l = &study.lots;
    batch(
        "claims_cutoffs",
        vec![
            text("lot_code", l.iter().map(|x| &x.code)),
            date(
                "validated_to",
                l.iter().map(|x| study.periods.claims_cutoff(&x.code)),
            ),
        ],
    )
}
