//! What the query engine holds in memory, on the twin's plans.
//!
//! A hash join or a cross join holds one side whole (its build side) and cannot spill it. The
//! engine picks that side by its estimate of the inputs' sizes, so the plans here are the plans
//! at every scale: a scaled extract is copies of the twin, every participant table grows by the
//! same factor, and only the small reference tables do not.

use std::path::Path;
use std::sync::Arc;

use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::joins::{CrossJoinExec, HashJoinExec};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{ExecutionPlan, displayable};
use datafusion::prelude::{ParquetReadOptions, col};

use crate::support::repo;
use crate::twin_run;

/// Whether a plan's output has rows per participant read from the answers: a grouping that is
/// not by participant (counts per question, per category) makes it small again.
fn per_participant_answers(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let line = displayable(plan.as_ref()).one_line().to_string();
    if plan.is::<AggregateExec>() && !line.contains("participant_id") {
        return false;
    }
    line.contains("participant_answers.parquet")
        || plan.children().into_iter().any(per_participant_answers)
}

/// The held sides of a plan's joins that hold rows per participant from the answers.
fn answers_held(plan: &Arc<dyn ExecutionPlan>, out: &mut Vec<String>) {
    let held = if let Some(j) = plan.downcast_ref::<HashJoinExec>() {
        Some(j.left())
    } else {
        plan.downcast_ref::<CrossJoinExec>().map(|j| j.left())
    };
    if let Some(side) = held
        && per_participant_answers(side)
    {
        out.push(displayable(side.as_ref()).indent(true).to_string());
    }
    for child in plan.children() {
        answers_held(child, out);
    }
}

/// The twin run's tables registered as the transform registers them: a table with a `place`
/// column is in `place` order (ingest writes its datasets in extract order, and every staging
/// table with a `place` is written in it).
async fn run_session(run: &Path) -> datafusion::prelude::SessionContext {
    let ctx =
        evalpipe_transform::session(&evalpipe_transform::SessionConfigSpec::default()).unwrap();
    for dir in ["ingest", "tables", "tables/reference"] {
        for f in std::fs::read_dir(run.join(dir)).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_none_or(|e| e != "parquet") {
                continue;
            }
            let name = f.file_stem().unwrap().to_str().unwrap().to_string();
            let file = std::fs::File::open(&f).unwrap();
            let builder =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap();
            let ordered = builder.schema().field_with_name("place").is_ok();
            let options = ParquetReadOptions {
                file_sort_order: if ordered {
                    vec![vec![col("place").sort(true, false)]]
                } else {
                    vec![]
                },
                ..Default::default()
            };
            ctx.register_parquet(&name, f.to_str().unwrap(), options)
                .await
                .unwrap();
        }
    }
    // The run's views (no file), from the SQL it wrote beside its tables.
    for f in std::fs::read_dir(repo().join("queries/staging")).unwrap() {
        let f = f.unwrap().path();
        let rendered = run.join("tables").join(f.file_name().unwrap());
        let Ok(sql) = std::fs::read_to_string(&rendered) else {
            continue;
        };
        let header = evalpipe_transform::QueryHeader::parse(&f, &sql).unwrap();
        if header.materialized == evalpipe_transform::Materialized::View {
            evalpipe_transform::register_view(&ctx, &header.table, &sql)
                .await
                .unwrap();
        }
    }
    ctx
}

/// Each staging query's file name and physical plan, planned as the run plans it (a template
/// as it rendered, with the join sides its header asks for).
fn staging_plans() -> Vec<(String, String, Arc<dyn ExecutionPlan>)> {
    let run = &twin_run().dir;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = run_session(run).await;
        let mut plans = Vec::new();
        for f in std::fs::read_dir(repo().join("queries/staging")).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_none_or(|e| e != "sql") {
                continue;
            }
            // A template's SQL as it ran, which the run writes beside its table.
            let rendered = run.join("tables").join(f.file_name().unwrap());
            let sql =
                std::fs::read_to_string(if rendered.is_file() { &rendered } else { &f }).unwrap();
            let header = evalpipe_transform::QueryHeader::parse(&f, &sql).unwrap();
            let plan = evalpipe_transform::plan_query(&ctx, &sql, header.joins)
                .await
                .unwrap();
            let name = f.file_name().unwrap().to_str().unwrap().to_string();
            plans.push((name, sql, plan));
        }
        plans.sort_by(|a, b| a.0.cmp(&b.0));
        plans
    })
}

/// `participant_answers` is the largest table of an extract (a row per participant × question).
/// At 10M participants `participant_actions` held a participant × action grid built from it
/// and overflowed Arrow's 2 GiB string offsets, and `answer_shares` held its distinct answers:
/// no staging query may hold them per participant.
#[test]
fn no_staging_query_holds_the_answers_in_a_join() {
    let plans = staging_plans();
    for (name, _, plan) in &plans {
        let mut held = Vec::new();
        answers_held(plan, &mut held);
        assert!(
            held.is_empty(),
            "{name} holds rows per participant from the answers in a join:\n{}",
            held.join("\n")
        );
    }
    assert!(plans.len() >= 9, "{} staging queries checked", plans.len());
}

/// The sorts of a plan, one line each.
fn sorts(plan: &Arc<dyn ExecutionPlan>, out: &mut Vec<String>) {
    if plan.is::<SortExec>() {
        out.push(displayable(plan.as_ref()).one_line().to_string());
    }
    for child in plan.children() {
        sorts(child, out);
    }
}

/// A staging table of a row per participant or claim is written in the extracts' order
/// (`order by place`), which every input already has: its plan must not sort. A sort there
/// holds the whole table: `validated_claims` held every claim (3.4 GB at 10M participants) once
/// a decision was joined to the claims rather than to the cut-offs, and `participant_outcomes`
/// every participant (3.7 GB) while the engine chose to hold the participants in its join with
/// the claim dates.
#[test]
fn no_staging_table_in_extract_order_is_sorted() {
    let mut checked = Vec::new();
    for (name, sql, plan) in staging_plans() {
        let tail: Vec<&str> = sql.split_whitespace().rev().take(3).collect();
        let in_place_order =
            tail.len() == 3 && tail[1] == "by" && tail[2] == "order" && tail[0].ends_with("place");
        if !in_place_order {
            continue;
        }
        let mut found = Vec::new();
        sorts(&plan, &mut found);
        assert!(
            found.is_empty(),
            "{name} is written in `place` order but its plan sorts:\n{}\n\n{}",
            found.join("\n"),
            displayable(plan.as_ref()).indent(true)
        );
        checked.push(name);
    }
    // Outcomes, categories, the long characteristics, actions and validated claims.
    assert_eq!(checked.len(), 4, "{checked:?}");
}
