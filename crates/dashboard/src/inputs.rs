//! The refreshes: finding the runs, ordering them by extract date, and reading what the
//! dashboards' queries read from them, each run's rows marked with its `refresh_order`.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatchReader;
use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use evalpipe_study::{Manifest, RunLayout, Study};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::config::DashboardConfig;
use crate::{Error, Result};

/// One refresh: a finished run and the date of the MI extract it was run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresh {
    /// The run folder.
    pub run: PathBuf,
    /// The run folder's name, as the packs name the run.
    pub name: String,
    /// The extract date: the latest MI file's (`mi_<LOT>_<YYYYMMDD>`).
    pub date: NaiveDate,
    /// Whether the run was made from synthetic data.
    pub synthetic: bool,
}

/// The refreshes of `args`, oldest first: each argument is a run folder (it has a
/// `manifest.json`) or a folder of runs (its sub-folders that are runs). Two runs of one extract
/// date, or one run given twice, are refused: a series has one run per refresh.
pub fn refreshes(args: &[PathBuf]) -> Result<Vec<Refresh>> {
    let mut runs: Vec<PathBuf> = Vec::new();
    for arg in args {
        if RunLayout::new(arg).manifest().is_file() {
            runs.push(arg.clone());
            continue;
        }
        if !arg.is_dir() {
            return Err(Error::Refreshes(format!(
                "{} is neither a run folder (no manifest.json) nor a folder of runs",
                arg.display()
            )));
        }
        let mut inside: Vec<PathBuf> = std::fs::read_dir(arg)
            .map_err(|e| Error::Refreshes(format!("cannot list {}: {e}", arg.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && RunLayout::new(p).manifest().is_file())
            .collect();
        if inside.is_empty() {
            return Err(Error::Refreshes(format!(
                "{} is not a run folder and holds no run folder (a folder with manifest.json)",
                arg.display()
            )));
        }
        inside.sort();
        runs.extend(inside);
    }
    if runs.is_empty() {
        return Err(Error::Refreshes("no runs given".into()));
    }
    let mut out: Vec<Refresh> = Vec::new();
    for run in runs {
        let manifest =
            Manifest::read(&RunLayout::new(&run).manifest()).map_err(|e| Error::Run {
                run: run.clone(),
                message: format!("its manifest.json cannot be read ({e})"),
            })?;
        let Some((date, _)) = manifest.mi_extract() else {
            return Err(Error::Run {
                run,
                message: "its manifest lists no MI extract (`mi_<LOT>_<YYYYMMDD>.csv|xlsx`), so \
                          its refresh date is unknown"
                    .into(),
            });
        };
        let name = run
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| run.display().to_string());
        out.push(Refresh {
            run,
            name,
            date,
            synthetic: manifest.synthetic,
        });
    }
    out.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.run.cmp(&b.run)));
    for pair in out.windows(2) {
        if pair[0].date == pair[1].date {
            let same = std::fs::canonicalize(&pair[0].run).ok()
                == std::fs::canonicalize(&pair[1].run).ok();
            return Err(Error::Refreshes(if same {
                format!("run {} is given twice", pair[0].run.display())
            } else {
                format!(
                    "runs {} and {} are both of the extract dated {}: give one run per refresh",
                    pair[0].run.display(),
                    pair[1].run.display(),
                    pair[0].date
                )
            }));
        }
    }
    Ok(out)
}

/// The tables the dashboards' queries read, by name.
pub(crate) fn read(
    study: &Study,
    config: &DashboardConfig,
    refreshes: &[Refresh],
) -> Result<Vec<(String, RecordBatch)>> {
    let latest = refreshes
        .last()
        .ok_or_else(|| Error::Refreshes("no runs given".into()))?;
    let mut tables = vec![
        ("refreshes".to_string(), refresh_table(config, refreshes)?),
        ("areas".to_string(), areas(study, config)?),
        ("dashboard_breakdowns".to_string(), breakdowns(config)?),
    ];
    let each = |name: &str, file: &dyn Fn(&RunLayout) -> PathBuf, columns: Option<&[&str]>| {
        let mut batches = Vec::new();
        for (i, r) in refreshes.iter().enumerate() {
            let path = file(&RunLayout::new(&r.run));
            let batch = parquet(&r.run, &path, columns)?;
            batches.push(with_refresh(&r.run, batch, i + 1)?);
        }
        concat(name, refreshes, &batches)
    };
    tables.push((
        "refresh_claims_performance".into(),
        each(
            "claims_performance",
            &|l| l.table("claims_performance", "parquet"),
            None,
        )?,
    ));
    tables.push((
        "refresh_validated_claims".into(),
        each(
            "validated_claims",
            &|l| l.table("validated_claims", "parquet"),
            Some(&["lot_code", "milestone"]),
        )?,
    ));
    tables.push((
        "refresh_participants".into(),
        each(
            "participants",
            &|l| l.ingest_dir().join("participants.parquet"),
            Some(&[
                "participant_id",
                "lot_code",
                "registration_date",
                "payment_group",
                "gender",
                "ethnicity",
                "age_at_registration",
            ]),
        )?,
    ));
    let files: Vec<RecordBatch> = refreshes
        .iter()
        .enumerate()
        .map(|(i, r)| accounting(&r.run, i + 1))
        .collect::<Result<_>>()?;
    tables.push((
        "refresh_files".into(),
        concat("accounting", refreshes, &files)?,
    ));

    let layout = RunLayout::new(&latest.run);
    let latest_table = |name: &str, columns: Option<&[&str]>| {
        parquet(&latest.run, &layout.table(name, "parquet"), columns)
    };
    tables.push((
        "latest_participant_outcomes".into(),
        latest_table(
            "participant_outcomes",
            Some(&[
                "place",
                "is_embedded",
                "is_job_start",
                "is_sustained_13",
                "is_progressed",
            ]),
        )?,
    ));
    // What the view `latest_participant_characteristics` ([`views`]) reshapes.
    tables.push((
        "participant_categories".into(),
        latest_table("participant_categories", None)?,
    ));
    tables.push(("latest_findings".into(), findings(study, &latest.run)?));
    for name in ["lots", "milestones", "characteristic_values"] {
        tables.push((
            name.to_string(),
            latest_table(&format!("reference/{name}"), None)?,
        ));
    }
    Ok(tables)
}

/// Views over the tables of [`read`], each as (name, SQL): `latest_participant_characteristics`
/// is the latest run's `participant_characteristics`, a view in the run (no file; see its query),
/// computed by the SQL the run saved beside its tables over its `participant_categories`.
pub(crate) fn views(refreshes: &[Refresh]) -> Result<Vec<(String, String)>> {
    let latest = refreshes
        .last()
        .ok_or_else(|| Error::Refreshes("no runs given".into()))?;
    let path = RunLayout::new(&latest.run).table("participant_characteristics", "sql");
    let sql = std::fs::read_to_string(&path).map_err(|e| Error::Run {
        run: latest.run.clone(),
        message: format!(
            "cannot read {} ({e}); re-run `evalpipe run` on it with this version",
            path.strip_prefix(&latest.run).unwrap_or(&path).display()
        ),
    })?;
    Ok(vec![("latest_participant_characteristics".into(), sql)])
}

/// `refreshes`: one row per refresh, oldest first.
fn refresh_table(config: &DashboardConfig, refreshes: &[Refresh]) -> Result<RecordBatch> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    let orders: Vec<i32> = (1..=refreshes.len() as i32).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("refresh_order", Arc::new(Int32Array::from(orders))),
        (
            "refresh",
            Arc::new(StringArray::from_iter_values(
                refreshes
                    .iter()
                    .map(|r| r.date.format("%Y-%m-%d").to_string()),
            )),
        ),
        (
            "run",
            Arc::new(StringArray::from_iter_values(
                refreshes.iter().map(|r| r.name.clone()),
            )),
        ),
        (
            "extract_date",
            Arc::new(Date32Array::from_iter_values(
                refreshes.iter().map(|r| (r.date - epoch).num_days() as i32),
            )),
        ),
        (
            "profile_share",
            Arc::new(Float64Array::from_iter_values(
                refreshes.iter().map(|r| config.profile_share(r.date)),
            )),
        ),
        (
            "is_latest",
            Arc::new(BooleanArray::from_iter(
                (0..refreshes.len()).map(|i| Some(i + 1 == refreshes.len())),
            )),
        ),
    ];
    batch(columns)
}

/// `areas`: the programme (no lot), then the lots in contract order.
fn areas(study: &Study, config: &DashboardConfig) -> Result<RecordBatch> {
    const PROGRAMME: &str = "ALL";
    let mut order = vec![0];
    let mut code = vec![PROGRAMME.to_string()];
    let mut name = vec![config.areas.programme.clone()];
    let mut lot: Vec<Option<String>> = vec![None];
    for (i, l) in study.lots.iter().enumerate() {
        if l.code == PROGRAMME {
            return Err(Error::Internal(format!(
                "a lot is coded `{PROGRAMME}`, the programme row's code"
            )));
        }
        order.push(i as i32 + 1);
        code.push(l.code.clone());
        name.push(l.name.clone());
        lot.push(Some(l.code.clone()));
    }
    batch(vec![
        ("area_order", Arc::new(Int32Array::from(order))),
        ("area_code", Arc::new(StringArray::from(code))),
        ("area_name", Arc::new(StringArray::from(name))),
        ("lot_code", Arc::new(StringArray::from(lot))),
    ])
}

/// `dashboard_breakdowns`: the configured characteristics in order.
fn breakdowns(config: &DashboardConfig) -> Result<RecordBatch> {
    batch(vec![
        (
            "characteristic",
            Arc::new(StringArray::from_iter_values(
                config.breakdowns.iter().map(|b| b.characteristic.clone()),
            )),
        ),
        (
            "breakdown_order",
            Arc::new(Int32Array::from_iter_values(
                1..=config.breakdowns.len() as i32,
            )),
        ),
    ])
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let schema = Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .map_err(|e| Error::Internal(format!("building an input table: {e}")))
}

/// A run's Parquet table, whole or some columns, as one batch.
fn parquet(run: &Path, path: &Path, columns: Option<&[&str]>) -> Result<RecordBatch> {
    let fail = |message: String| Error::Run {
        run: run.to_path_buf(),
        message,
    };
    let shown = path.strip_prefix(run).unwrap_or(path).display().to_string();
    let file = File::open(path).map_err(|e| {
        fail(format!(
            "cannot open {shown} ({e}); was the run finished? re-run `evalpipe run` on it"
        ))
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| fail(format!("{shown} is not a readable Parquet table: {e}")))?;
    let builder = match columns {
        None => builder,
        Some(names) => {
            let schema = builder.schema().clone();
            for name in names {
                if schema.field_with_name(name).is_err() {
                    return Err(fail(format!(
                        "{shown} has no column `{name}`; re-run `evalpipe run` on it with this \
                         version"
                    )));
                }
            }
            let mask = ProjectionMask::columns(builder.parquet_schema(), names.iter().copied());
            builder.with_projection(mask)
        }
    };
    let reader = builder
        .build()
        .map_err(|e| fail(format!("reading {shown}: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("reading {shown}: {e}")))?;
    concat_batches(&schema, &batches).map_err(|e| fail(format!("reading {shown}: {e}")))
}

/// `batch` with a first column `refresh_order` = `order`.
fn with_refresh(run: &Path, batch: RecordBatch, order: usize) -> Result<RecordBatch> {
    let mut fields = vec![Arc::new(Field::new(
        "refresh_order",
        DataType::Int32,
        false,
    ))];
    fields.extend(batch.schema().fields().iter().cloned());
    let mut columns: Vec<ArrayRef> = vec![Arc::new(Int32Array::from(vec![
        order as i32;
        batch.num_rows()
    ]))];
    columns.extend(batch.columns().iter().cloned());
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| Error::Run {
        run: run.to_path_buf(),
        message: format!("marking its rows with the refresh: {e}"),
    })
}

/// The runs' batches of one table as one, refusing runs whose columns differ (made by another
/// version of evalpipe).
fn concat(name: &str, refreshes: &[Refresh], batches: &[RecordBatch]) -> Result<RecordBatch> {
    let first = &batches[0];
    for (r, b) in refreshes.iter().zip(batches) {
        let types = |b: &RecordBatch| -> Vec<(String, DataType)> {
            b.schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect()
        };
        if types(b) != types(first) {
            return Err(Error::Run {
                run: r.run.clone(),
                message: format!(
                    "its `{name}` has other columns than run {}'s: runs of one series must be \
                     made by one version of evalpipe (re-run it)",
                    refreshes[0].run.display()
                ),
            });
        }
    }
    let schema = Arc::new(Schema::new(
        first
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));
    let relabelled: Vec<RecordBatch> = batches
        .iter()
        .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Internal(format!("joining the runs' `{name}`: {e}")))?;
    concat_batches(&schema, &relabelled)
        .map_err(|e| Error::Internal(format!("joining the runs' `{name}`: {e}")))
}

/// A run's `ingest/validation/accounting.csv`: per file, its dataset, lot, status and rows.
fn accounting(run: &Path, order: usize) -> Result<RecordBatch> {
    let layout = RunLayout::new(run);
    let path = layout.validation_dir().join("accounting.csv");
    let rows = csv_rows(run, &path)?;
    let get = |row: &BTreeMap<String, String>, column: &str| -> Result<String> {
        row.get(column).cloned().ok_or_else(|| Error::Run {
            run: run.to_path_buf(),
            message: format!("{} has no column `{column}`", path.display()),
        })
    };
    let number = |row: &BTreeMap<String, String>, column: &str| -> Result<i64> {
        let text = get(row, column)?;
        text.parse().map_err(|_| Error::Run {
            run: run.to_path_buf(),
            message: format!(
                "{}: `{column}` is `{text}`, not a whole number",
                path.display()
            ),
        })
    };
    let (mut dataset, mut lot, mut status, mut read, mut quarantined) =
        (vec![], vec![], vec![], vec![], vec![]);
    for row in &rows {
        dataset.push(get(row, "dataset")?);
        let l = get(row, "lot")?;
        lot.push((!l.is_empty()).then_some(l));
        status.push(get(row, "status")?);
        read.push(number(row, "rows_read")?);
        quarantined.push(number(row, "rows_quarantined")?);
    }
    batch(vec![
        (
            "refresh_order",
            Arc::new(Int32Array::from(vec![order as i32; rows.len()])),
        ),
        ("dataset", Arc::new(StringArray::from(dataset))),
        ("lot", Arc::new(StringArray::from(lot))),
        ("status", Arc::new(StringArray::from(status))),
        ("rows_read", Arc::new(Int64Array::from(read))),
        ("rows_quarantined", Arc::new(Int64Array::from(quarantined))),
    ])
}

/// The latest run's findings per lot (`ingest/validation/<LOT>.csv`): lot, rule and column of
/// each, never a value or a message.
fn findings(study: &Study, run: &Path) -> Result<RecordBatch> {
    let dir = RunLayout::new(run).validation_dir();
    let (mut lot, mut rule, mut column) = (vec![], vec![], vec![]);
    for l in &study.lots {
        let path = dir.join(format!("{}.csv", l.code));
        if !path.is_file() {
            // A lot without a file in this refresh has no findings of its own.
            continue;
        }
        for row in csv_rows(run, &path)? {
            let Some(r) = row.get("rule").filter(|r| !r.is_empty()) else {
                continue;
            };
            lot.push(l.code.clone());
            rule.push(r.clone());
            column.push(row.get("column").filter(|c| !c.is_empty()).cloned());
        }
    }
    batch(vec![
        ("lot_code", Arc::new(StringArray::from(lot))),
        ("rule", Arc::new(StringArray::from(rule))),
        ("column_name", Arc::new(StringArray::from(column))),
    ])
}

/// A CSV file of the run's as rows of column → text.
fn csv_rows(run: &Path, path: &Path) -> Result<Vec<BTreeMap<String, String>>> {
    let fail = |message: String| Error::Run {
        run: run.to_path_buf(),
        message,
    };
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| fail(format!("{}: {e}", path.display())))?
        .clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| fail(format!("{}: {e}", path.display())))?;
        rows.push(
            headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect(),
        );
    }
    Ok(rows)
}
