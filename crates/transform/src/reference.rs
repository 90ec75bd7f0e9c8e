//! Reference tables: the study configuration as tables, so SQL joins to labels, orders and
//! targets instead of repeating them.
//!
//! Each is written to `<run>/tables/reference/<name>.parquet` (and `.csv`, to inspect) before any
//! query runs, then registered under `<name>`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow::datatypes::Date32Type;
use chrono::NaiveDate;
use evalpipe_study::{CharacteristicKind, Study};

use crate::{Error, Result};

/// Names of the reference tables, in the order they are built.
pub const REFERENCE_TABLES: [&str; 12] = [
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
    "characteristic_values",
    "decisions",
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
        ("characteristic_values", characteristic_values(study)?),
        ("decisions", decisions(study)?),
    ])
}

/// `decisions`: one row per analytic decision (`decisions.toml`), in file order, with the
/// option chosen and the others; the SQL reads `choice`, the methodology annex the words.
fn decisions(study: &Study) -> Result<RecordBatch> {
    let d = &study.decisions;
    batch(
        "decisions",
        vec![
            int("decision_order", 1..=d.len() as i64),
            text("decision", d.iter().map(|x| &x.id)),
            text("title", d.iter().map(|x| &x.title)),
            text("passage", d.iter().map(|x| &x.passage)),
            text("why", d.iter().map(|x| &x.why)),
            text("changes", d.iter().map(|x| &x.changes)),
            text("choice", d.iter().map(|x| &x.choice)),
            text("choice_label", d.iter().map(|x| &x.chosen().label)),
            text(
                "alternatives",
                d.iter().map(|x| {
                    x.options
                        .iter()
                        .filter(|o| o.id != x.choice)
                        .map(|o| o.label.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                }),
            ),
        ],
    )
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

fn opt_text(name: &'static str, values: impl IntoIterator<Item = Option<String>>) -> Column {
    let values: Vec<Option<String>> = values.into_iter().collect();
    (name, Arc::new(StringArray::from(values)), true)
}

fn opt_float(name: &'static str, values: impl IntoIterator<Item = Option<f64>>) -> Column {
    let values: Vec<Option<f64>> = values.into_iter().collect();
    (name, Arc::new(Float64Array::from(values)), true)
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
            // The before/after split the analysis uses (decision `lockdown_split`).
            date("after_lockdown_from", [study.lockdown_split()]),
            date("monthly_from", [p.monthly_from]),
            date("monthly_to", [p.monthly_to]),
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

/// Category labels of a flag characteristic, for `true` and `false`.
pub const FLAG_LABELS: [&str; 2] = ["Yes", "No"];

/// Category labels of `enrolment_period`, before and from the first national lockdown (split at
/// `after_lockdown_from`: the report counts March 2020 as before).
pub const ENROLMENT_PERIOD_LABELS: [&str; 2] =
    ["Before the first lockdown", "From the first lockdown"];

/// One row of `characteristic_values`: a value of an MI column and the category it falls in.
pub(crate) struct CategoryValue {
    pub(crate) characteristic: String,
    pub(crate) title: String,
    pub(crate) column: String,
    pub(crate) kind: &'static str,
    pub(crate) category_order: i64,
    pub(crate) category: String,
    /// The column's value as text (a code; `true`/`false` for a flag)…
    pub(crate) code: Option<String>,
    /// …or, for a band, its bounds (dates as days since 1970-01-01).
    pub(crate) lower: Option<f64>,
    pub(crate) upper: Option<f64>,
}

/// The rows of `characteristic_values`: the structural characteristics, then the study's
/// `[[characteristic]]`s, each characteristic's rows together and in category order.
pub(crate) fn characteristic_rows(study: &Study) -> Result<Vec<CategoryValue>> {
    let mut rows = structural_values(study);
    rows.extend(configured_values(study)?);
    Ok(rows)
}

/// Every characteristic the tables break down by, as the mapping from a participant's column
/// value to a category: the structural ones (all participants, cohort, lot, provider group,
/// enrolment before or from the first lockdown) then the study's `[[characteristic]]`s. A
/// category may have several rows (a group of codes); its order and label are the same on each.
fn characteristic_values(study: &Study) -> Result<RecordBatch> {
    let rows = characteristic_rows(study)?;
    let mut order: BTreeMap<&str, i64> = BTreeMap::new();
    for r in &rows {
        let next = order.len() as i64 + 1;
        order.entry(&r.characteristic).or_insert(next);
    }
    batch(
        "characteristic_values",
        vec![
            text("characteristic", rows.iter().map(|r| &r.characteristic)),
            int(
                "characteristic_order",
                rows.iter().map(|r| order[r.characteristic.as_str()]),
            ),
            text("title", rows.iter().map(|r| &r.title)),
            text("column_name", rows.iter().map(|r| &r.column)),
            text("kind", rows.iter().map(|r| r.kind)),
            int("category_order", rows.iter().map(|r| r.category_order)),
            text("category", rows.iter().map(|r| &r.category)),
            opt_text("code", rows.iter().map(|r| r.code.clone())),
            opt_float("lower", rows.iter().map(|r| r.lower)),
            opt_float("upper", rows.iter().map(|r| r.upper)),
        ],
    )
}

/// A band's lower (inclusive) and upper (exclusive) bounds, either open.
type Bounds = (Option<f64>, Option<f64>);

/// A maker of one characteristic's rows: its category's order, label, code or band bounds.
fn category_of(
    name: &str,
    title: &str,
    column: &str,
    kind: &'static str,
) -> impl Fn(usize, &str, Option<&str>, Bounds) -> CategoryValue {
    let (name, title, column) = (name.to_string(), title.to_string(), column.to_string());
    move |order: usize, category: &str, code: Option<&str>, bounds: Bounds| CategoryValue {
        characteristic: name.clone(),
        title: title.clone(),
        column: column.clone(),
        kind,
        category_order: order as i64,
        category: category.to_string(),
        code: code.map(str::to_string),
        lower: bounds.0,
        upper: bounds.1,
    }
}

/// The breakdowns every study has, beside its `[[characteristic]]`s: all participants, cohort,
/// lot, provider group, and enrolment before or from the first lockdown.
pub const STRUCTURAL_CHARACTERISTICS: [&str; 5] =
    ["all", "cohort", "lot", "provider_group", "enrolment_period"];

/// The values of the [`STRUCTURAL_CHARACTERISTICS`].
fn structural_values(study: &Study) -> Vec<CategoryValue> {
    let mut rows = Vec::new();
    let all = category_of("all", "All participants", "lot_code", "labels");
    for lot in &study.lots {
        rows.push(all(1, "All participants", Some(&lot.code), (None, None)));
    }
    let cohort = category_of("cohort", "Cohort", "payment_group", "labels");
    let mut cohorts: Vec<_> = study.cohorts.iter().collect();
    cohorts.sort_by_key(|c| c.report_order);
    for (i, c) in cohorts.iter().enumerate() {
        rows.push(cohort(i + 1, &c.name, Some(&c.code), (None, None)));
    }
    let lot = category_of("lot", "Lot", "lot_code", "labels");
    for (i, l) in study.lots.iter().enumerate() {
        rows.push(lot(i + 1, &l.name, Some(&l.code), (None, None)));
    }
    // Provider groups in order of their first lot, so the table follows Table 1-1.
    let group = category_of("provider_group", "Provider group", "lot_code", "grouping");
    let mut groups: Vec<&str> = Vec::new();
    for l in &study.lots {
        let position = match groups.iter().position(|g| *g == l.provider_group) {
            Some(p) => p,
            None => {
                groups.push(&l.provider_group);
                groups.len() - 1
            }
        };
        rows.push(group(
            position + 1,
            &l.provider_group,
            Some(&l.code),
            (None, None),
        ));
    }
    let period = category_of(
        "enrolment_period",
        "Enrolled before or from the first lockdown",
        "registration_date",
        "band",
    );
    // The report's split, not the lockdown's day, unless decision `lockdown_split` says
    // otherwise: March 2020 counts as before.
    let lockdown = f64::from(Date32Type::from_naive_date(study.lockdown_split()));
    rows.push(period(
        1,
        ENROLMENT_PERIOD_LABELS[0],
        None,
        (None, Some(lockdown)),
    ));
    rows.push(period(
        2,
        ENROLMENT_PERIOD_LABELS[1],
        None,
        (Some(lockdown), None),
    ));
    rows
}

/// The study's `[[characteristic]]`s: a code list's groups or labels, a flag, or bands.
fn configured_values(study: &Study) -> Result<Vec<CategoryValue>> {
    let mut rows = Vec::new();
    for c in &study.characteristics {
        let kind = study
            .characteristic_kind(c)
            .map_err(|message| Error::Internal {
                context: "building reference table `characteristic_values`".into(),
                message,
            })?;
        let row = category_of(&c.name, &c.title, &c.column, kind.as_str());
        let code_list = study
            .mi
            .columns
            .iter()
            .find(|x| x.name == c.column)
            .and_then(|x| x.codes.as_deref())
            .map(|list| study.code_list(list))
            .unwrap_or(&[]);
        match kind {
            CharacteristicKind::Grouping => {
                let grouping = c.grouping.as_deref().unwrap_or_default();
                let mut labels: Vec<&str> = Vec::new();
                for code in code_list {
                    let Some(label) = code.group.get(grouping) else {
                        continue;
                    };
                    let position = match labels.iter().position(|l| l == label) {
                        Some(p) => p,
                        None => {
                            labels.push(label);
                            labels.len() - 1
                        }
                    };
                    rows.push(row(position + 1, label, Some(&code.code), (None, None)));
                }
            }
            CharacteristicKind::Labels => {
                for (i, code) in code_list.iter().enumerate() {
                    rows.push(row(i + 1, &code.label, Some(&code.code), (None, None)));
                }
            }
            CharacteristicKind::Flag => {
                rows.push(row(1, FLAG_LABELS[0], Some("true"), (None, None)));
                rows.push(row(2, FLAG_LABELS[1], Some("false"), (None, None)));
            }
            CharacteristicKind::Band => {
                let banding = c.banding.as_deref().unwrap_or_default();
                let bands = study.bands.iter().filter(|b| b.banding == banding);
                for (i, b) in bands.enumerate() {
                    rows.push(row(i + 1, &b.label, None, (b.from, b.below)));
                }
            }
        }
    }
    Ok(rows)
}
