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
use datafusion::physical_plan::{ExecutionPlan, displayable};
use datafusion::prelude::ParquetReadOptions;

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

/// `participant_answers` is the largest table of an extract (a row per participant × question).
/// At 10M participants `participant_actions` held a participant × action grid built from it
/// and overflowed Arrow's 2 GiB string offsets, and `answer_shares` held its distinct answers:
/// no staging query may hold them per participant.
#[test]
fn no_staging_query_holds_the_answers_in_a_join() {
    let run = &twin_run().dir;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx =
            evalpipe_transform::session(&evalpipe_transform::SessionConfigSpec::default()).unwrap();
        let register = |dir: &Path| {
            std::fs::read_dir(dir)
                .unwrap()
                .map(|f| f.unwrap().path())
                .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
                .collect::<Vec<_>>()
        };
        let mut files = register(&run.join("ingest"));
        files.extend(register(&run.join("tables")));
        files.extend(register(&run.join("tables/reference")));
        for f in files {
            let name = f.file_stem().unwrap().to_str().unwrap().to_string();
            ctx.register_parquet(&name, f.to_str().unwrap(), ParquetReadOptions::default())
                .await
                .unwrap();
        }
        let mut checked = 0;
        for f in std::fs::read_dir(repo().join("queries/staging")).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_none_or(|e| e != "sql") {
                continue;
            }
            // A template's SQL as it ran, which the run writes beside its table.
            let rendered = run.join("tables").join(f.file_name().unwrap());
            let sql =
                std::fs::read_to_string(if rendered.is_file() { &rendered } else { &f }).unwrap();
            let plan = ctx
                .sql(&sql)
                .await
                .unwrap()
                .create_physical_plan()
                .await
                .unwrap();
            let mut held = Vec::new();
            answers_held(&plan, &mut held);
            assert!(
                held.is_empty(),
                "{} holds rows per participant from the answers in a join:\n{}",
                f.display(),
                held.join("\n")
            );
            checked += 1;
        }
        assert!(checked >= 9, "{checked} staging queries checked");
    });
}
