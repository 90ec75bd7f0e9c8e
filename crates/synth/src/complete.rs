//! Who has every model covariate recorded (report 2.3.1–2.3.3: "3,347 … In the remaining sample,
//! 2,550 participants had complete data"; 619 → 491 for the in-work cohort).
//!
//! Before any characteristic is generated, the participants of the models' samples (not in an
//! excluded lot or provider group) are split, exactly, into complete cases and incomplete ones.
//! Complete cases must get a substantive value in every model column (never blank, never
//! "prefer not to say" or "level unknown"); each incomplete one is given one model column that
//! stays blank. Every other blank of those columns falls on participants outside the samples
//! (the Colleges group, with "a large proportion of data missing", report 2.3.1) or on the
//! incomplete ones. Column counts stay exactly as published; only *who* is blank is planned.

use rand_chacha::ChaCha8Rng;

use crate::Result;
use crate::alloc::{weighted_index, weighted_pick};
use crate::person::{Ctx, Person};

/// Marks `must_record` and `force_blank` on every participant.
pub(crate) fn plan(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.complete_cases;
    let what = "[complete_cases]";
    let columns: Vec<(&String, f64)> = cfg
        .incomplete_column_weights
        .iter()
        .map(|(c, w)| (c, *w))
        .collect();
    for (c, _) in &columns {
        if !ctx.is_model_column(c) {
            return Err(ctx.config_err(format!(
                "{what} incomplete_column_weights: `{c}` is not in `columns`"
            )));
        }
    }
    let weights: Vec<f64> = columns.iter().map(|c| c.1).collect();
    for (out_of_work, complete) in [(true, cfg.out_of_work), (false, cfg.in_work)] {
        let sample: Vec<usize> = (0..persons.len())
            .filter(|i| {
                let p = &persons[*i];
                ctx.out_of_work(p) == out_of_work && ctx.in_model_sample(p)
            })
            .collect();
        let n_incomplete = sample.len().checked_sub(complete).ok_or_else(|| {
            ctx.infeasible(what,
                format!(
                    "{complete} complete cases asked for but only {} participants are in the sample",
                    sample.len()
                ),
            )
        })?;
        let incomplete = weighted_pick(rng, &sample, n_incomplete, |_| 1.0).ok_or_else(|| {
            ctx.infeasible(what, "cannot choose the incomplete cases".to_string())
        })?;
        let set: std::collections::BTreeSet<usize> = incomplete.iter().copied().collect();
        for &i in &sample {
            if set.contains(&i) {
                let k = weighted_index(rng, &weights).ok_or_else(|| {
                    ctx.config_err(format!("{what} incomplete_column_weights is empty"))
                })?;
                persons[i].force_blank = Some(columns[k].0.clone());
            } else {
                persons[i].must_record = true;
            }
        }
    }
    Ok(())
}

/// For a model column, whether the participant must be blank (`Some(true)`), must be recorded
/// with a substantive value (`Some(false)`), or may be either (`None`).
pub(crate) fn blank_rule(ctx: &Ctx, p: &Person, column: &str) -> Option<bool> {
    if !ctx.is_model_column(column) {
        return None;
    }
    if p.force_blank.as_deref() == Some(column) {
        Some(true)
    } else if p.must_record {
        Some(false)
    } else {
        None
    }
}
